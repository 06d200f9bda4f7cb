"""Minimum-variance and minimum tracking-error portfolios."""

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky

from skportfolio._constraints import FEASIBILITY_TOL
from skportfolio._qp import RCOND_MIN, _rcond
from skportfolio.covariance._operator import (
    DenseCovariance,
    SampleCovariance,
    as_covariance_operator,
    lower_cholesky_solve,
)
from skportfolio.portfolio._base import BasePortfolio, ConstraintsMixin, MomentsMixin
from skportfolio.portfolio._solve import solve_portfolio_qp


def budget_minimum_variance(covariance, budget=1.0, cross_covariance=None):
    """Minimum-variance weights under the budget constraint alone.

    Solves ``min 1/2 w'Σw - c'w`` subject to ``1'w = budget`` in closed form
    through one Cholesky factorisation (never an explicit inverse)::

        w = Σ⁻¹c + Σ⁻¹1 (budget - 1'Σ⁻¹c) / (1'Σ⁻¹1)

    which for ``c = 0`` is the global minimum-variance portfolio
    ``budget Σ⁻¹1 / 1'Σ⁻¹1``.

    Parameters
    ----------
    covariance : ndarray of shape (n, n) or DenseCovariance
        Positive definite covariance, as a matrix or a dense covariance
        operator; a :class:`~skportfolio.covariance.SampleCovariance` is
        factorised from its returns or its kept Gram matrix without forming
        the matrix.
    budget : float, default=1.0
    cross_covariance : ndarray of shape (n,), default=None
        Covariance of the assets with a benchmark (``c``); None for 0.

    Returns
    -------
    ndarray of shape (n,) or None
        None when ``covariance`` is not numerically positive definite
        (condition number above ``1e14``, the QP layer's threshold).

    Notes
    -----
    With the factor ``Σ = s LL'``, ``u = (LL')⁻¹1`` and
    ``v = (LL')⁻¹c / s`` the weights are ``v + u (budget - 1'v) / 1'u``: the
    scale of Σ cancels from the budget term.

    Examples
    --------
    >>> import numpy as np
    >>> budget_minimum_variance(np.diag([1.0, 4.0]))
    array([0.8, 0.2])
    """
    try:
        factor, scale = as_covariance_operator(covariance).scaled_cholesky()
    except LinAlgError:
        return None
    # A nearly singular Σ (e.g. a constant asset) factorises, but Σ⁻¹c then
    # cancels catastrophically: leave it to the QP, as the QP layer would.
    if _rcond(factor, lower=True) < RCOND_MIN:
        return None
    inv_ones = lower_cholesky_solve(factor, np.ones(factor.shape[0]))
    total = inv_ones.sum()
    if not np.isfinite(total) or total <= 0:
        return None
    if cross_covariance is None:
        return inv_ones * (budget / total)
    inv_c = lower_cholesky_solve(factor, cross_covariance / scale)
    return inv_c + inv_ones * (budget - inv_c.sum()) / total


def zero_variance_weights(centred, budget=1.0):
    """The minimum-norm weights of zero sample variance with ``1'w = budget``.

    With fewer periods than assets the sample covariance
    ``Σ = Xc'Xc / (T-1)`` is singular, and every ``w`` with ``Xc w = 0`` and
    ``1'w = budget`` is a minimum-variance portfolio. Of those the one of
    least norm (the limit of the ridge solutions ``(Σ + εI)⁻¹1`` as
    ``ε → 0``) is ``w = M'u``, where ``M = [Xc; 1']`` and
    ``(M M') u = (0, budget)``. The ``(T+1) x (T+1)`` matrix ``M M'``
    costs ``O(T² N)``, against ``O(T N²)`` for Σ itself; it is singular
    because centring makes ``e = (1_T, 0)`` a null vector of ``M'``, which
    is removed by adding ``e e'`` (scaled), leaving ``M'u`` unchanged.

    Parameters
    ----------
    centred : ndarray of shape (T, N)
        Centred returns, ``T <= N``.
    budget : float, default=1.0

    Returns
    -------
    ndarray of shape (N,) or None
        None when no such portfolio exists or it is not determined to
        machine precision: the sum-of-weights direction lies (numerically)
        in the span of the returns, or the returns have further linear
        dependencies (repeated periods). The caller then solves the
        quadratic programme.

    Examples
    --------
    Two periods of three assets: the zero-variance portfolio of least norm.

    >>> import numpy as np
    >>> X = np.array([[0.01, 0.02, 0.04], [0.03, -0.02, 0.01]])
    >>> w = zero_variance_weights(X - X.mean(axis=0))
    >>> w.round(4)
    array([0.629 , 0.1452, 0.2258])
    >>> float(abs((X - X.mean(axis=0)) @ w).max()) < 1e-15
    True
    """
    T, N = centred.shape
    gram = np.empty((T + 1, T + 1))
    gram[:T, :T] = centred @ centred.T
    gram[:T, T] = gram[T, :T] = centred.sum(axis=1)
    gram[T, T] = N
    gram[:T, :T] += np.mean(np.diag(gram)[:T]) / T
    try:
        factor = cholesky(gram, lower=False, check_finite=False)
    except LinAlgError:
        return None
    if _rcond(factor) < RCOND_MIN:
        return None
    rhs = np.zeros(T + 1)
    rhs[T] = budget
    u = cho_solve((factor, False), rhs, check_finite=False)
    weights = centred.T @ u[:T] + u[T]
    # One step of iterative refinement removes the error of the squared system.
    residual = rhs - np.append(centred @ weights, weights.sum())
    u = cho_solve((factor, False), residual, check_finite=False)
    weights += centred.T @ u[:T] + u[T]
    scale = np.abs(centred) @ np.abs(weights)
    if np.any(np.abs(centred @ weights) > 64 * np.finfo(float).eps * scale) or abs(
        weights.sum() - budget
    ) > FEASIBILITY_TOL * max(1.0, abs(budget)):
        return None
    return weights


def _budget_only_weights(covariance, budget, linear):
    """Closed-form weights under the budget alone, or None (see the callers)."""
    if (
        isinstance(covariance, SampleCovariance)
        and covariance.centred is not None
        and covariance.n_samples <= covariance.n_assets
        and not np.any(linear)
    ):
        weights = zero_variance_weights(covariance.centred, budget)
        if weights is not None:
            return weights
    return budget_minimum_variance(covariance, budget, linear)


def is_budget_only(constraints, budget):
    """Whether the budget ``1'w = budget`` is the only constraint."""
    return (
        budget is not None
        and not constraints.has_inequalities
        and constraints.A_eq.shape[0] == 1
    )


def takes_cholesky_closed_form(constraints, budget, X):
    """Whether :func:`minimise_quadratic` will factorise Σ of the returns ``X``.

    It does under the budget alone with more periods than assets (with
    fewer, the sample covariance is singular and the closed form works from
    the returns): the estimators then ask the sample covariance for its Gram
    matrix rather than its centred returns.
    """
    return is_budget_only(constraints, budget) and X.shape[0] > X.shape[1]


def minimise_quadratic(covariance, linear, constraints, budget):
    """Weights minimising ``1/2 w'Σw - linear'w`` under ``constraints``.

    ``covariance`` is a matrix or a covariance operator. For a dense matrix
    with the budget ``1'w = budget`` as the only constraint the closed form
    of :func:`budget_minimum_variance` is used (if ``covariance`` is positive
    definite); otherwise the quadratic programme is solved. A factor model
    gets the same closed form from the QP solver, which solves problems
    with equality constraints alone through Woodbury solves.
    """
    covariance = as_covariance_operator(covariance)
    if is_budget_only(constraints, budget) and isinstance(covariance, DenseCovariance):
        weights = _budget_only_weights(covariance, budget, linear)
        if weights is not None:
            return weights
    return solve_portfolio_qp(covariance, -linear, constraints).x


class MinimumVariance(ConstraintsMixin, MomentsMixin, BasePortfolio):
    """Minimum-variance portfolio, or minimum tracking-error variance against a benchmark.

    Parameters
    ----------
    covariance_estimator : estimator, default=None
        Any object with ``fit(X)`` and a ``covariance_`` attribute, e.g.
        :class:`sklearn.covariance.LedoitWolf`; cloned before use. None
        means the sample covariance. An estimator with a
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
    covariance_ : ndarray of shape (n_assets, n_assets)
        The covariance used; with a factor model, built from
        ``covariance_structure_`` when first read.
    covariance_structure_ : FactorCovariance
        The factor model used, when the covariance estimator has one.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    MeanVariance : Trades expected return against variance.
    ConstrainedLinearRegression : Tracking portfolios as regressions.

    Notes
    -----
    Without a benchmark the weights solve

    .. math:: \\min_w \\; w^\\top \\Sigma w \\quad \\text{s.t. constraints.}

    With benchmark returns ``y`` passed to ``fit`` they minimise the
    tracking-error variance :math:`\\mathrm{Var}(Xw - y) = w^\\top\\Sigma w
    - 2 c^\\top w + \\mathrm{Var}(y)`, with ``c`` the covariance of the
    assets with ``y`` (estimated jointly by the covariance estimator).

    With the budget as the only constraint the closed form
    :math:`w = \\Sigma^{-1}\\mathbf 1 / \\mathbf 1^\\top\\Sigma^{-1}\\mathbf 1`
    is computed with a Cholesky solve; otherwise the quadratic programme goes
    to quadprog. A singular covariance (more assets than periods, duplicated
    assets) is handled by the QP layer's proximal refinement and gives an
    optimal portfolio; an indefinite one is replaced by the nearest positive
    semi-definite matrix.

    A factor model :math:`\\Sigma = BFB^\\top + D` (a covariance estimator
    with a ``factor_structure_``) is never formed as an :math:`N \\times N`
    matrix: the budget-only closed form uses Woodbury solves
    (:math:`O(NK^2)`), and problems with bounds or inequalities are solved
    by Newton's method on their dual, which has only :math:`K` plus the
    number of constraint rows variables (:math:`O(NK^2)` per iteration,
    however many assets the portfolio holds). With a benchmark the model is
    fitted to the assets and the benchmark together, and ``c`` is its
    benchmark column.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio import MinimumVariance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(250, 3)) * [0.01, 0.02, 0.03]
    >>> MinimumVariance().fit(X).weights_.round(3)
    array([0.726, 0.173, 0.1  ])
    """

    _parameter_constraints = {
        **MomentsMixin._moment_parameter_constraints,
        **ConstraintsMixin._constraint_parameter_constraints,
    }

    def __init__(
        self,
        *,
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
        constraints = self._build_constraints(X.shape[1])
        covariance, cross = self._estimate_covariance(
            X,
            y,
            gram=takes_cholesky_closed_form(constraints, self.budget, X),
        )
        linear = np.zeros(X.shape[1]) if cross is None else cross
        return minimise_quadratic(covariance, linear, constraints, self.budget)
