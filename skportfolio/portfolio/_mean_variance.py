"""Mean-variance (Markowitz) portfolios."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval

from skportfolio.portfolio._base import BasePortfolio, ConstraintsMixin, MomentsMixin
from skportfolio.portfolio._critical_line import minimum_variance_for_return
from skportfolio.portfolio._minimum_variance import (
    minimise_quadratic,
    takes_cholesky_closed_form,
)

# The risk aversion used when none of risk_aversion, target_return and
# risk_tolerance is set.
DEFAULT_RISK_AVERSION = 1.0
_OBJECTIVE_PARAMETERS = ("risk_aversion", "target_return", "risk_tolerance")


class MeanVariance(ConstraintsMixin, MomentsMixin, BasePortfolio):
    """Mean-variance (Markowitz) portfolio.

    Trades expected return against variance in one of three equivalent
    parameterisations; set at most one of ``risk_aversion``,
    ``target_return`` and ``risk_tolerance``.

    Parameters
    ----------
    risk_aversion : float > 0, default=None
        :math:`\\lambda` in :math:`\\max_w \\mu^\\top w - \\frac{\\lambda}{2}
        w^\\top\\Sigma w`. Larger is more cautious. None means 1.0 unless
        ``target_return`` or ``risk_tolerance`` is set. The natural
        parameter to grid-search, on a log scale.
    target_return : float, default=None
        If set, the portfolio of least variance whose expected return
        :math:`\\mu^\\top w` is at least this (per period, in the units of
        ``X``). A target above the largest return the constraints allow
        raises an :class:`~skportfolio.InfeasibleConstraintsError` that
        states that largest return; a target below the minimum-variance
        portfolio's return gives that portfolio.
    risk_tolerance : float >= 0, default=None
        :math:`q` in :math:`\\min_w w^\\top\\Sigma w - q\\,\\mu^\\top w`,
        the same portfolio as ``risk_aversion = 2 / q``; ``0`` gives the
        minimum-variance portfolio, so a grid over ``q`` includes it.
    mean_estimator : estimator, default=None
        Any object with ``fit(X)`` and a ``location_`` attribute (e.g.
        :class:`sklearn.covariance.EmpiricalCovariance`, or an estimator of
        :mod:`skportfolio.moments`); cloned before use. None means the
        sample mean.
    covariance_estimator : estimator, default=None
        Any object with ``fit(X)`` and a ``covariance_`` attribute, e.g.
        :class:`sklearn.covariance.LedoitWolf`; cloned before use. None
        means the sample covariance (``ddof=1``). An estimator with a
        ``factor_structure_``, such as
        :class:`~skportfolio.covariance.FactorModelCovariance`, is used in
        factored form (see Notes).
    min_weights : float, array-like or dict, default=0.0
        Lower bound per asset (dict keyed by asset name); None allows any
        short position.
    max_weights : float, array-like or dict, default=1.0
        Upper bound per asset; None for no bound.
    budget : float or None, default=1.0
        Sum of the weights; None drops the constraint.
    groups : array-like of shape (n_assets,) or dict, default=None
        Group label of each asset (or ``{asset: label}``), e.g. sectors.
    group_bounds : dict, default=None
        ``{label: (lower, upper)}`` limits on each group's total weight;
        either side may be None.
    A_eq, b_eq : array-like, default=None
        General equality constraints ``A_eq @ w = b_eq``.
    A_ub, b_ub : array-like, default=None
        General inequality constraints ``A_ub @ w <= b_ub``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_assets,)
    weights_series_ : pandas.Series
        The weights indexed by asset name.
    mean_ : ndarray of shape (n_assets,)
        The expected returns used (of the active returns ``X - y`` when a
        benchmark ``y`` is given).
    covariance_ : ndarray of shape (n_assets, n_assets)
        The covariance used (of the active returns with a benchmark); with a
        factor model, built from ``covariance_structure_`` when first read.
    covariance_structure_ : FactorCovariance
        The factor model used, when the covariance estimator has one.
    expected_return_ : float
        In-sample expected return of the portfolio per period,
        ``mean_ @ weights_``.
    volatility_ : float
        In-sample volatility of the portfolio per period,
        ``sqrt(weights_ @ covariance_ @ weights_)``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    MinimumVariance : The portfolio of least variance.
    efficient_frontier : Portfolios for a whole range of target returns.

    Notes
    -----
    With :math:`t = 1/\\lambda` (or :math:`t = q/2`) the weights solve

    .. math:: \\min_w \\; \\tfrac12 w^\\top \\Sigma w - t\\,\\mu^\\top w
        \\quad \\text{s.t. constraints,}

    and with ``target_return`` :math:`r` they solve
    :math:`\\min_w \\frac12 w^\\top\\Sigma w` subject to
    :math:`\\mu^\\top w \\ge r` and the constraints. Every solution lies on
    the efficient frontier; see :func:`efficient_frontier`.

    The risk aversion does not depend on the return frequency: expressing
    the returns per year instead of per month multiplies :math:`\\mu` and
    :math:`\\Sigma` by the same factor, which leaves the weights unchanged.
    It does depend on the unit: scaling the returns by :math:`c` (percent
    instead of decimals, :math:`c = 100`) gives the same weights with
    :math:`\\lambda / c`, or :math:`q\\,c`, or target :math:`c\\,r`.

    With benchmark returns ``y`` passed to ``fit``, the mean and covariance
    are those of the active returns ``X - y[:, None]`` (``target_return`` is
    then an active return). With the budget 1 this maximises
    :math:`\\mathbb E[Xw - y] - \\frac\\lambda2 \\mathrm{Var}(Xw - y)`.

    A constant asset (zero variance, like cash) is allowed and acts as the
    risk-free asset. With the budget as the only constraint the closed form
    is used; otherwise the quadratic programme is solved exactly.

    A factor model (a covariance estimator with a ``factor_structure_``) is
    used as in :class:`MinimumVariance`, without forming the
    :math:`N \\times N` matrix.

    References
    ----------
    .. [1] H. Markowitz, "Portfolio selection", Journal of Finance 7(1),
       1952.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio import MeanVariance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(0.01, 0.05, size=(120, 3)) + [0.0, 0.005, 0.01]
    >>> mv = MeanVariance(risk_aversion=10.0).fit(X)
    >>> mv.weights_.round(3)
    array([0.031, 0.294, 0.675])
    >>> round(mv.expected_return_, 4), round(mv.volatility_, 4)
    (0.0177, 0.0344)
    >>> MeanVariance(target_return=0.015).fit(X).weights_.round(3)
    array([0.214, 0.333, 0.453])
    """

    _parameter_constraints = {
        "risk_aversion": [Interval(Real, 0, None, closed="neither"), None],
        "target_return": [Real, None],
        "risk_tolerance": [Interval(Real, 0, None, closed="left"), None],
        "mean_estimator": [HasMethods(["fit"]), None],
        **MomentsMixin._moment_parameter_constraints,
        **ConstraintsMixin._constraint_parameter_constraints,
    }

    def __init__(
        self,
        *,
        risk_aversion=None,
        target_return=None,
        risk_tolerance=None,
        mean_estimator=None,
        covariance_estimator=None,
        min_weights=0.0,
        max_weights=1.0,
        budget=1.0,
        groups=None,
        group_bounds=None,
        A_eq=None,
        b_eq=None,
        A_ub=None,
        b_ub=None,
    ):
        self.risk_aversion = risk_aversion
        self.target_return = target_return
        self.risk_tolerance = risk_tolerance
        self.mean_estimator = mean_estimator
        self.covariance_estimator = covariance_estimator
        self.min_weights = min_weights
        self.max_weights = max_weights
        self.budget = budget
        self.groups = groups
        self.group_bounds = group_bounds
        self.A_eq = A_eq
        self.b_eq = b_eq
        self.A_ub = A_ub
        self.b_ub = b_ub

    def _fit_weights(self, X, y):
        return_tradeoff = self._return_tradeoff()
        mean, covariance, constraints = self._moments_and_constraints(X, y)
        if self.target_return is not None:
            weights, _ = minimum_variance_for_return(
                covariance, mean, constraints, self.target_return
            )
        else:
            weights = minimise_quadratic(
                covariance, return_tradeoff * mean, constraints, self.budget
            )
        self.expected_return_ = float(mean @ weights)
        self.volatility_ = float(np.sqrt(max(covariance.quad_form(weights), 0.0)))
        return weights

    def _moments_and_constraints(self, X, y):
        """Mean and covariance of the (active) returns, and the constraints."""
        active = X if y is None else X - y[:, None]
        constraints = self._build_constraints(X.shape[1])
        closed_form = self.target_return is None and takes_cholesky_closed_form(
            constraints, self.budget, active
        )
        covariance, _ = self._estimate_covariance(active, gram=closed_form)
        mean = self._estimate_mean(active, getattr(covariance, "sample_mean", None))
        return mean, covariance, constraints

    def _return_tradeoff(self):
        """``t = 1/risk_aversion`` of the objective ``1/2 w'Σw - t μ'w``.

        None when ``target_return`` is set. Raises if more than one of the
        three objective parameters is set.
        """
        given = {
            name: getattr(self, name)
            for name in _OBJECTIVE_PARAMETERS
            if getattr(self, name) is not None
        }
        if len(given) > 1:
            settings = ", ".join(f"{name}={value!r}" for name, value in given.items())
            raise ValueError(
                "Set at most one of risk_aversion, target_return and "
                f"risk_tolerance; got {settings}."
            )
        if self.target_return is not None:
            if not np.isfinite(self.target_return):
                raise ValueError(
                    f"target_return must be finite; got {self.target_return!r}."
                )
            return None
        if self.risk_tolerance is not None:
            tradeoff = self.risk_tolerance / 2.0
        else:
            risk_aversion = self.risk_aversion
            if risk_aversion is None:
                risk_aversion = DEFAULT_RISK_AVERSION
            tradeoff = 1.0 / risk_aversion
        if not np.isfinite(tradeoff):
            name, value = next(iter(given.items()))
            raise ValueError(
                f"{name}={value!r} is too extreme: 1/risk_aversion is not finite."
            )
        return tradeoff
