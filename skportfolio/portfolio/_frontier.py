"""The efficient frontier, traced by a parametric quadratic programme.

The mean-variance portfolios

    w(t) = argmin 1/2 w'Σw - t μ'w   under linear constraints,   t = 1/risk_aversion,

form a piecewise-affine path in ``t`` (Markowitz's critical line): between two
breakpoints the set of active constraints is fixed, and the weights and the
Lagrange multipliers are affine in ``t``. The path is traced from the
minimum-variance portfolio (``t = 0``) by solving one KKT system per piece and
moving to the next breakpoint, where a free weight reaches a bound, an
inequality becomes active, or a multiplier reaches zero and its constraint is
released. The expected return ``μ'w(t)`` grows along the path, so the
portfolio with any target return is read off its piece exactly.
"""

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from scipy.linalg import (
    LinAlgError,
    cho_factor,
    cho_solve,
    cholesky,
    qr,
    qr_delete,
    qr_insert,
    solve_triangular,
)
from sklearn.utils.validation import check_array, validate_data

from skportfolio._constraints import independent_equalities
from skportfolio._qp import RCOND_MIN, _rcond
from skportfolio.exceptions import InfeasibleConstraintsError, SolverError
from skportfolio.portfolio._base import _checked_covariance
from skportfolio.portfolio._mean_variance import (
    MeanVariance,
    max_expected_return,
    minimum_variance_for_return,
)
from skportfolio.portfolio._solve import solve_portfolio_qp

# Rates of change below this fraction of the largest one are round-off: a
# constraint whose rate is exactly zero (it depends on the active ones) must
# not trigger a breakpoint.
RATE_TOL = 1e-12
# Relative tolerance of the KKT check every point of the path must pass;
# a point that fails is solved directly instead.
KKT_TOL = 1e-9
# A final piece whose return still grows faster than this fraction of the
# fastest growth on the path is taken as unbounded (and checked by an LP).
UNBOUNDED_RATE_TOL = 1e-10


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
    estimator._validate_params()
    if X is not None:
        if mean is not None or covariance is not None:
            raise ValueError("Give either X or mean and covariance, not both.")
        X = validate_data(estimator, X, ensure_min_samples=2, dtype=np.float64)
        y = estimator._check_benchmark(X, y)
        return estimator._moments_and_constraints(X, y)
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
    constraints, _ = independent_equalities(constraints)
    start = solve_portfolio_qp(covariance, np.zeros(mean.shape[0]), constraints)
    path = _ParametricPath(covariance, mean, constraints)
    segments = path.trace(start)
    highest = None
    if segments is not None:
        last = segments[-1]
        highest = path.certified_point(last, last.t_start)
    if highest is None:
        # The path's end fixes every target: without it, use the LP's.
        return _direct_frontier(covariance, mean, constraints, start, n_points)
    targets = _targets(segments[0].returns(0.0), mean @ highest[0], n_points)
    weights = np.empty((n_points, mean.shape[0]))
    tradeoffs = np.empty(n_points)
    weights[-1], tradeoffs[-1] = highest
    for k, target in enumerate(targets[:-1]):
        point = path.certified_point(*_locate(segments, target))
        if point is None:
            point = _direct_point(covariance, mean, constraints, target, False)
        weights[k], tradeoffs[k] = point
    return weights, tradeoffs


def _targets(low, high, n_points):
    return np.linspace(low, max(high, low), n_points)


def _locate(segments, target):
    """The piece of the path whose returns include ``target``, and the ``t`` there."""
    for segment in segments[:-1]:
        if segment.returns(segment.t_end) >= target:
            return segment, segment.t_for(target)
    last = segments[-1]
    return last, last.t_start


def _direct_frontier(covariance, mean, constraints, start, n_points):
    """The frontier by one quadratic programme per point (when the path fails)."""
    high = max_expected_return(mean, constraints)
    if not np.isfinite(high):
        raise ValueError(
            "The expected return is unbounded under these constraints (e.g. short "
            "sales without bounds), so the efficient frontier has no "
            "maximum-return end; bound the weights with min_weights/max_weights."
        )
    targets = _targets(mean @ start.x, high, n_points)
    weights = np.empty((n_points, mean.shape[0]))
    tradeoffs = np.empty(n_points)
    weights[0], tradeoffs[0] = start.x, 0.0
    for k in range(1, n_points):
        weights[k], tradeoffs[k] = _direct_point(
            covariance, mean, constraints, targets[k], k == n_points - 1
        )
    return weights, tradeoffs


def _direct_point(covariance, mean, constraints, target, is_highest):
    """``(weights, t)`` of the least-variance portfolio with return >= ``target``.

    The highest target comes from a linear programme solved to its own
    tolerance and may exceed the attainable return by round-off; it is
    lowered by that much before giving up.
    """
    relaxations = [0.0, 1e-12, 1e-10, 1e-8] if is_highest else [0.0]
    for relax in relaxations:
        try:
            result = minimum_variance_for_return(
                covariance, mean, constraints, target - relax * max(1.0, abs(target))
            )
        except (InfeasibleConstraintsError, SolverError):
            if relax == relaxations[-1]:
                raise
            continue
        return result.x, result.ineq[-1]


@dataclass(frozen=True)
class _Segment:
    """One piece of the path: every quantity is ``u + t v`` for ``t_start <= t <= t_end``.

    Each array has two rows, ``u`` and ``v``.
    """

    t_start: float
    t_end: float
    weights: np.ndarray
    eq: np.ndarray
    ineq: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    mean: np.ndarray

    def at(self, values, t):
        return values[0] + t * values[1]

    def returns(self, t):
        return float(self.mean @ self.at(self.weights, t))

    @property
    def return_rate(self):
        return float(self.mean @ self.weights[1])

    def t_for(self, target):
        rate = self.return_rate
        if rate <= 0:
            return self.t_start
        t = (target - self.mean @ self.weights[0]) / rate
        return float(np.clip(t, self.t_start, self.t_end))


class _ParametricPath:
    """Solutions of ``min 1/2 w'Σw - t μ'w`` under ``constraints`` for all ``t >= 0``."""

    def __init__(self, covariance, mean, constraints):
        self.P = covariance
        self.mean = mean
        self.constraints = constraints
        c = constraints
        self.n_eq = c.A_eq.shape[0]
        self.max_steps = 10 * (c.n_vars + c.A_ub.shape[0]) + 10
        self.factor_of_P = _well_conditioned_cholesky(covariance)

    def trace(self, start):
        """The pieces of the path from the quadprog solution at ``t = 0``.

        Returns None when the path cannot be followed (a singular KKT system,
        or no end within ``max_steps`` breakpoints), or when the return looks
        unbounded; the caller then solves each point directly.
        """
        at_lower = start.lower > 0
        at_upper = start.upper > 0
        active = start.ineq > 0
        factor = None
        if self.factor_of_P is not None:
            factor = _FreeSetFactor(self.factor_of_P, ~(at_lower | at_upper))
        t, segments = 0.0, []
        rate_scales = self._baseline_rate_scales()
        for _ in range(self.max_steps):
            pieces = self._solve_piece(at_lower, at_upper, active, factor)
            if pieces is None:
                return None
            rate_scales = np.maximum(rate_scales, _rate_sizes(pieces))
            event_t, event = self._next_event(
                pieces, t, at_lower, at_upper, active, rate_scales
            )
            segments.append(_Segment(t, event_t, *pieces, self.mean))
            if event is None:
                return segments if self._bounded(segments) else None
            kind, i = event
            if kind == "hit_lower":
                at_lower[i] = True
            elif kind == "hit_upper":
                at_upper[i] = True
            elif kind == "hit_row":
                active[i] = True
            elif kind == "release_row":
                active[i] = False
            else:  # "release_bound"
                at_lower[i] = at_upper[i] = False
            if factor is not None:
                factor.update(~(at_lower | at_upper))
            t = event_t
        return None

    def _baseline_rate_scales(self):
        """Sizes of the rates of weights and multipliers for one asset alone.

        The weight of an asset alone moves at ``μ_i / Σ_ii`` and the
        multipliers at ``μ``; rates of round-off size relative to these are
        zero even on a first piece where every weight is pinned.
        """
        top_mean = np.max(np.abs(self.mean), initial=0.0)
        top_variance = np.max(np.diag(self.P), initial=0.0)
        weight_scale = top_mean / top_variance if top_variance > 0 else 0.0
        return np.array([weight_scale, top_mean])

    def _bounded(self, segments):
        weight_scale, top_mean = self._baseline_rate_scales()
        fastest = max(weight_scale * top_mean, *(s.return_rate for s in segments))
        return segments[-1].return_rate <= UNBOUNDED_RATE_TOL * fastest

    def _solve_piece(self, at_lower, at_upper, active, factor):
        """``u`` and ``v`` of weights and multipliers for one active set."""
        c, P = self.constraints, self.P
        n = c.n_vars
        fixed = at_lower | at_upper
        free = np.flatnonzero(~fixed) if factor is None else factor.order
        w_fixed = np.where(at_lower, c.lb, np.where(at_upper, c.ub, 0.0))
        C = np.vstack([c.A_eq, c.A_ub[active]])
        d = np.concatenate([c.b_eq, c.b_ub[active]])
        rhs = np.column_stack([-P[free] @ w_fixed, self.mean[free]])
        rhs_rows = np.column_stack([d - C @ w_fixed, np.zeros(C.shape[0])])
        solved = None
        if factor is not None:
            solved = _schur_solve(factor, C[:, free], rhs, rhs_rows)
        if solved is None:
            solved = _kkt_solve(P[np.ix_(free, free)], C[:, free], rhs, rhs_rows)
        if solved is None:
            return None
        free_weights, multipliers = solved
        weights = np.zeros((2, n))
        weights[0] = w_fixed
        weights[:, free] = free_weights.T
        multipliers = multipliers.T
        eq = multipliers[:, : self.n_eq]
        ineq = np.zeros((2, c.A_ub.shape[0]))
        ineq[:, active] = multipliers[:, self.n_eq :]
        # Multipliers of the fixed weights from stationarity:
        # P w - t μ + C' mult = lower - upper on the fixed coordinates.
        gradient = weights @ P[:, fixed] + multipliers @ C[:, fixed]
        gradient[1] -= self.mean[fixed]
        lower = np.zeros((2, n))
        upper = np.zeros((2, n))
        lower[:, fixed] = np.where(at_lower[fixed], gradient, 0.0)
        upper[:, fixed] = np.where(at_upper[fixed], -gradient, 0.0)
        return weights, eq, ineq, lower, upper

    def _next_event(self, pieces, t, at_lower, at_upper, active, rate_scales):
        """The first breakpoint after ``t``: ``(t_event, (kind, index))`` or ``(inf, None)``.

        ``rate_scales`` holds the largest rates of the weights and of the
        multipliers seen so far on the path: a rate far below them is
        round-off (a weight or row pinned by the active constraints), even
        when every rate of the current piece is.
        """
        weights, _, ineq, lower, upper = pieces
        c = self.constraints
        free = ~(at_lower | at_upper)
        candidates = []
        rate = weights[1]
        rate_tol = RATE_TOL * rate_scales[0]
        candidates += _crossings(
            c.lb - weights[0],
            rate,
            free & np.isfinite(c.lb) & (rate < -rate_tol),
            "hit_lower",
        )
        candidates += _crossings(
            c.ub - weights[0],
            rate,
            free & np.isfinite(c.ub) & (rate > rate_tol),
            "hit_upper",
        )
        if c.A_ub.shape[0]:
            row_rate = c.A_ub @ rate
            row_tol = rate_tol * np.abs(c.A_ub).sum(axis=1)
            candidates += _crossings(
                c.b_ub - c.A_ub @ weights[0],
                row_rate,
                ~active & (row_rate > row_tol),
                "hit_row",
            )
        mult_tol = RATE_TOL * rate_scales[1]
        candidates += _crossings(
            -ineq[0], ineq[1], active & (ineq[1] < -mult_tol), "release_row"
        )
        candidates += _crossings(
            -lower[0], lower[1], at_lower & (lower[1] < -mult_tol), "release_bound"
        )
        candidates += _crossings(
            -upper[0], upper[1], at_upper & (upper[1] < -mult_tol), "release_bound"
        )
        if not candidates:
            return np.inf, None
        event_t, kind, i = min(candidates, key=lambda item: item[0])
        return max(event_t, t), (kind, i)

    def certified_point(self, segment, t):
        """``(weights, t)`` at ``t`` on ``segment`` if it passes the KKT check, else None."""
        c = self.constraints
        ineq = segment.at(segment.ineq, t)
        try:
            weights = c.clean(segment.at(segment.weights, t), ineq)
            c.verify(weights)
        except SolverError:
            return None
        eq = segment.at(segment.eq, t)
        lower = segment.at(segment.lower, t)
        upper = segment.at(segment.upper, t)
        residual = (
            self.P @ weights
            - t * self.mean
            + c.A_eq.T @ eq
            + c.A_ub.T @ ineq
            - lower
            + upper
        )
        # The size of the terms before cancellation sets the round-off level.
        scale = np.max(
            np.abs(self.P) @ np.abs(weights)
            + t * np.abs(self.mean)
            + np.abs(c.A_eq.T) @ np.abs(eq)
            + np.abs(c.A_ub.T) @ np.abs(ineq)
            + np.abs(lower)
            + np.abs(upper),
            initial=0.0,
        )
        tol = KKT_TOL * max(scale, np.finfo(float).tiny)
        stationary = np.max(np.abs(residual), initial=0.0) <= tol
        dual_feasible = (
            min(np.min(m, initial=0.0) for m in (ineq, lower, upper)) >= -tol
        )
        return (weights, t) if stationary and dual_feasible else None


def _rate_sizes(pieces):
    """Largest rate of change of the weights and of the multipliers on a piece."""
    weights, eq, ineq, lower, upper = pieces
    multiplier_rates = np.concatenate([eq[1], ineq[1], lower[1], upper[1]])
    return np.array(
        [
            np.max(np.abs(weights[1]), initial=0.0),
            np.max(np.abs(multiplier_rates), initial=0.0),
        ]
    )


def _crossings(gap, rate, mask, kind):
    """``(t, kind, i)`` where ``gap_i - t rate_i`` reaches zero, for the masked ``i``."""
    indices = np.flatnonzero(mask)
    return [(float(gap[i] / rate[i]), kind, int(i)) for i in indices]


def _well_conditioned_cholesky(P):
    """Upper-triangular ``R`` with ``P = R'R``, or None if P is (nearly) singular."""
    try:
        R = cholesky(P, lower=False, check_finite=False)
    except LinAlgError:
        return None
    return R if _rcond(R) >= RCOND_MIN else None


class _FreeSetFactor:
    """Triangular ``U`` with ``P[F][:, F] = U'U`` for the free weights ``F``.

    ``U`` is the triangular factor of the QR decomposition of ``R[:, F]``
    (``P = R'R``), which a breakpoint changes by one column: the update
    costs O(n^2) instead of a new O(n^3) factorisation.
    """

    def __init__(self, R, free):
        self.R = R
        self.order = np.flatnonzero(free)
        self.Q, self.U = qr(R[:, self.order])

    def update(self, free):
        current = np.zeros(free.shape[0], dtype=bool)
        current[self.order] = True
        for j in np.flatnonzero(current & ~free):
            k = int(np.flatnonzero(self.order == j)[0])
            self.Q, self.U = qr_delete(self.Q, self.U, k, which="col")
            self.order = np.delete(self.order, k)
        for j in np.flatnonzero(free & ~current):
            self.Q, self.U = qr_insert(
                self.Q, self.U, self.R[:, j], self.order.shape[0], which="col"
            )
            self.order = np.append(self.order, j)

    def solve(self, b):
        """``P[F][:, F]^{-1} b``."""
        nf = self.order.shape[0]
        U = self.U[:nf, :nf]
        return solve_triangular(U, solve_triangular(U, b, trans="T"))


def _schur_solve(factor, C, rhs, rhs_rows):
    """The KKT system through the factor of ``P[F][:, F]`` and the Schur complement.

    Solves ``[[P_FF, C'], [C, 0]] [x; y] = [rhs; rhs_rows]``; None if the
    Schur complement ``C P_FF^{-1} C'`` is not numerically positive definite.
    """
    x = factor.solve(rhs)
    if not C.shape[0]:
        return x, np.zeros((0, rhs.shape[1]))
    Y = factor.solve(C.T)
    try:
        S = cho_factor(C @ Y, check_finite=False)
    except LinAlgError:
        return None
    y = cho_solve(S, C @ x - rhs_rows, check_finite=False)
    return x - Y @ y, y


def _kkt_solve(P_free, C, rhs, rhs_rows):
    """The KKT system by a dense factorisation; None if it is singular.

    For a semi-definite ``P`` the system is uniquely solvable only if ``C``
    has full row rank and ``P`` is positive definite on the null space of
    ``C``; both are checked first (to the tolerance the QP layer uses).
    """
    nf, m = P_free.shape[0], C.shape[0]
    if not _unique_kkt_solution(P_free, C):
        return None
    K = np.zeros((nf + m, nf + m))
    K[:nf, :nf] = P_free
    K[:nf, nf:] = C.T
    K[nf:, :nf] = C
    try:
        solution = np.linalg.solve(K, np.vstack([rhs, rhs_rows]))
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(solution)):
        return None
    return solution[:nf], solution[nf:]


def _unique_kkt_solution(P_free, C):
    nf, m = P_free.shape[0], C.shape[0]
    if m > nf:
        return False
    _, singular_values, Vt = np.linalg.svd(C, full_matrices=True)
    tol = nf * np.finfo(float).eps * (singular_values[0] if m else 0.0)
    if m and singular_values[-1] <= tol:
        return False
    Z = Vt[m:].T
    if not Z.shape[1]:
        return True
    return _well_conditioned_cholesky(Z.T @ P_free @ Z) is not None
