"""The efficient frontier: portfolios for equally spaced target returns."""

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array

from skportfolio._validation import validate_matrix, validate_params
from skportfolio.portfolio._base import _checked_covariance
from skportfolio.portfolio._critical_line import (
    CriticalLine,
    max_expected_return,
    minimum_variance_for_return,
)
from skportfolio.portfolio._mean_variance import MeanVariance


@dataclass(frozen=True)
class Frontier:
    """Portfolios on the efficient frontier, from least variance to highest return.

    Attributes
    ----------
    weights : ndarray of shape (n_points, n_assets)
        One portfolio per row.
    returns : ndarray of shape (n_points,)
        Expected return of each portfolio per period, ``weights @ mean``;
        equally spaced from the minimum-variance portfolio's return to the
        largest return the constraints allow.
    volatilities : ndarray of shape (n_points,)
        Standard deviation of each portfolio's return per period.
    risk_aversions : ndarray of shape (n_points,)
        A risk aversion with which :class:`MeanVariance` gives the same
        portfolio: ``inf`` for the minimum-variance portfolio, and for the
        maximum-return portfolio the largest risk aversion that reaches it.
    asset_names : tuple of str or None
        Names of the assets, when known.
    """

    weights: np.ndarray
    returns: np.ndarray
    volatilities: np.ndarray
    risk_aversions: np.ndarray
    asset_names: tuple | None = None

    def to_frame(self):
        """The points as a DataFrame: return, volatility, risk aversion, then weights.

        Returns
        -------
        pandas.DataFrame of shape (n_points, 3 + n_assets)
        """
        names = self.asset_names or [f"w{i}" for i in range(self.weights.shape[1])]
        frame = pd.DataFrame(self.weights, columns=list(names))
        frame.insert(0, "risk_aversion", self.risk_aversions)
        frame.insert(0, "volatility", self.volatilities)
        frame.insert(0, "return", self.returns)
        return frame


def efficient_frontier(
    X=None,
    y=None,
    *,
    mean=None,
    covariance=None,
    n_points=20,
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
    """Efficient portfolios for equally spaced target returns.

    Parameters
    ----------
    X : array-like of shape (n_periods, n_assets), default=None
        Asset returns; the moments are then estimated as
        :class:`MeanVariance` would (``mean_estimator``,
        ``covariance_estimator``). Give either ``X`` or both ``mean`` and
        ``covariance``.
    y : array-like of shape (n_periods,), default=None
        Benchmark returns; with it the frontier is that of the active
        returns ``X - y[:, None]``.
    mean : array-like of shape (n_assets,), default=None
        Expected returns; a :class:`pandas.Series` names the assets.
    covariance : array-like of shape (n_assets, n_assets), default=None
        Positive semi-definite covariance of the returns.
    n_points : int, default=20
        Number of portfolios; at least 1.
    mean_estimator, covariance_estimator : estimator, default=None
        As in :class:`MeanVariance`; used only with ``X``.
    min_weights, max_weights, budget, groups, group_bounds, A_eq, b_eq, A_ub, b_ub
        The constraints, as in :class:`MeanVariance` (long-only and fully
        invested by default).

    Returns
    -------
    Frontier
        ``weights``, ``returns``, ``volatilities`` and ``risk_aversions`` of
        the ``n_points`` portfolios.

    Raises
    ------
    InfeasibleConstraintsError
        If no portfolio satisfies the constraints.
    ValueError
        If the constraints allow an unbounded expected return (e.g. short
        sales without bounds): the frontier has no maximum-return end.

    See Also
    --------
    MeanVariance : One portfolio of the frontier.

    Notes
    -----
    The ``k``-th portfolio (``k = 0, ..., n_points - 1``) minimises the
    variance :math:`w^\\top\\Sigma w` subject to the constraints and
    :math:`\\mu^\\top w \\ge r_k` with

    .. math:: r_k = r_{\\min} + \\frac{k}{n_{points} - 1}(r_{\\max} - r_{\\min}),

    where :math:`r_{\\min}` is the expected return of the minimum-variance
    portfolio and :math:`r_{\\max}` the largest one the constraints allow.
    The first point is the minimum-variance portfolio and the last the
    least risky portfolio of highest return.

    The portfolios are computed along the whole path of
    :math:`\\min \\frac12 w^\\top\\Sigma w - t\\,\\mu^\\top w` over
    :math:`t = 1/\\lambda \\ge 0` (parametric quadratic programming, the
    critical line algorithm of Markowitz): one quadratic programme for the
    minimum-variance portfolio, then one small linear system per breakpoint
    of the path, where the set of binding constraints changes. Between
    breakpoints the weights are affine in :math:`t`, so each point is exact,
    and the cost does not grow with ``n_points``. Every point is checked
    against the optimality (KKT) conditions; a point that fails, which
    only a degenerate or singular problem can cause, is solved directly as
    a quadratic programme, as is every point when the path cannot be traced.

    References
    ----------
    .. [1] H. Markowitz, "The optimization of a quadratic function subject
       to linear constraints", Naval Research Logistics Quarterly 3, 1956.
    .. [2] M. J. Best, "An algorithm for the solution of the parametric
       quadratic programming problem", in Applied Mathematics and Parallel
       Computing, Physica, 1996.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.portfolio import efficient_frontier
    >>> mean = np.array([0.05, 0.10])
    >>> covariance = np.diag([0.01, 0.04])
    >>> frontier = efficient_frontier(mean=mean, covariance=covariance, n_points=3)
    >>> frontier.weights
    array([[0.8, 0.2],
           [0.4, 0.6],
           [0. , 1. ]])
    >>> frontier.returns
    array([0.06, 0.08, 0.1 ])
    >>> frontier.risk_aversions  # weights (0.8 - 1/λ, 0.2 + 1/λ) until a bound binds
    array([ inf, 2.5 , 1.25])
    """
    if not isinstance(n_points, Integral) or isinstance(n_points, bool) or n_points < 1:
        raise ValueError(f"n_points must be a positive integer; got {n_points!r}.")
    estimator = MeanVariance(
        mean_estimator=mean_estimator,
        covariance_estimator=covariance_estimator,
        min_weights=min_weights,
        max_weights=max_weights,
        budget=budget,
        groups=groups,
        group_bounds=group_bounds,
        A_eq=A_eq,
        b_eq=b_eq,
        A_ub=A_ub,
        b_ub=b_ub,
    )
    mean, covariance, constraints = _frontier_problem(estimator, X, y, mean, covariance)
    names = estimator._asset_names()
    weights, tradeoffs = _frontier_weights(mean, covariance, constraints, n_points)
    variances = np.einsum("ki,ij,kj->k", weights, covariance, weights)
    with np.errstate(divide="ignore"):
        risk_aversions = 1.0 / tradeoffs
    return Frontier(
        weights=weights,
        returns=weights @ mean,
        volatilities=np.sqrt(np.maximum(variances, 0.0)),
        risk_aversions=risk_aversions,
        asset_names=None if names is None else tuple(names),
    )


def _frontier_problem(estimator, X, y, mean, covariance):
    """Validated ``(mean, covariance, constraints)`` from returns or from moments."""
    validate_params(estimator)
    if X is not None:
        if mean is not None or covariance is not None:
            raise ValueError("Give either X or mean and covariance, not both.")
        X = validate_matrix(estimator, X, ensure_min_samples=2)
        y = estimator._check_benchmark(X, y)
        mean, covariance, constraints = estimator._moments_and_constraints(X, y)
        # The critical line works on the dense matrix, also for a factor model.
        return mean, covariance.dense(), constraints
    if mean is None or covariance is None:
        raise ValueError("Give the returns X, or both mean and covariance.")
    if y is not None:
        raise ValueError("A benchmark y needs the returns X.")
    if isinstance(mean, pd.Series):
        estimator.feature_names_in_ = np.asarray(mean.index.astype(str), dtype=object)
    mean = check_array(mean, ensure_2d=False, dtype=np.float64, input_name="mean")
    if mean.ndim != 1:
        raise ValueError(f"mean must be 1-dimensional; got shape {mean.shape}.")
    covariance = check_array(covariance, dtype=np.float64, input_name="covariance")
    covariance = _checked_covariance(covariance, mean.shape[0])
    return mean, covariance, estimator._build_constraints(mean.shape[0])


def _frontier_weights(mean, covariance, constraints, n_points):
    """Weights ``(n_points, n)`` and their ``t = 1/risk_aversion``."""
    line = CriticalLine(covariance, mean, constraints)
    highest = line.highest()
    if highest is None:
        # The path's end fixes every target: without it, use the LP's.
        return _direct_frontier(covariance, mean, line, n_points)
    targets = _targets(line.lowest_return(), mean @ highest[0], n_points)
    weights = np.empty((n_points, mean.shape[0]))
    tradeoffs = np.empty(n_points)
    for k, target in enumerate(targets):
        is_last = n_points > 1 and k == n_points - 1
        point = highest if is_last else line.for_return(target)
        if point is None:
            point = minimum_variance_for_return(
                covariance, mean, line.constraints, target
            )
        weights[k], tradeoffs[k] = point
    return weights, tradeoffs


def _targets(low, high, n_points):
    return np.linspace(low, max(high, low), n_points)


def _direct_frontier(covariance, mean, line, n_points):
    """The frontier by one quadratic programme per point (when the path fails)."""
    high = max_expected_return(mean, line.constraints)
    if not np.isfinite(high):
        raise ValueError(
            "The expected return is unbounded under these constraints (e.g. short "
            "sales without bounds), so the efficient frontier has no "
            "maximum-return end; bound the weights with min_weights/max_weights."
        )
    targets = _targets(mean @ line.start.x, high, n_points)
    weights = np.empty((n_points, mean.shape[0]))
    tradeoffs = np.empty(n_points)
    weights[0], tradeoffs[0] = line.start.x, 0.0
    for k in range(1, n_points):
        weights[k], tradeoffs[k] = minimum_variance_for_return(
            covariance, mean, line.constraints, targets[k]
        )
    return weights, tradeoffs
