"""The critical line: mean-variance portfolios for every risk aversion at once.

The mean-variance portfolios

    w(t) = argmin 1/2 w'Σw - t μ'w   under linear constraints,   t = 1/risk_aversion,

form a piecewise-affine path in ``t`` (Markowitz's critical line): between two
breakpoints the set of active constraints is fixed, and the weights and the
Lagrange multipliers are affine in ``t``. The path is traced from the
minimum-variance portfolio (``t = 0``) by solving one KKT system per piece and
moving to the next breakpoint, where a free weight reaches a bound, an
inequality becomes active, or a multiplier reaches zero and its constraint is
released. The expected return ``μ'w(t)`` grows along the path, so the
portfolio with any target return is read off its piece exactly, and the path
ends at the least risky portfolio of highest return.

When ``Σ`` is well conditioned, the triangular factor of ``Σ`` restricted to
the free weights is updated at each breakpoint (one QR column insertion or
deletion, O(n²)) and the KKT system is solved through its Schur complement;
otherwise the system is factorised anew. Every point read off the path is
checked against the KKT conditions before it is used.
"""

from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, qr, qr_delete, qr_insert
from scipy.linalg.lapack import dtrtrs
from scipy.optimize import linprog

from skportfolio._constraints import LinearConstraints, independent_equalities
from skportfolio._qp import RCOND_MIN, _rcond
from skportfolio.exceptions import InfeasibleConstraintsError, SolverError
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


# A target return within this fraction of the largest |mean| above the
# largest attainable return is that return up to the LP's round-off.
TARGET_RTOL = 1e-9


def max_expected_return(mean, constraints):
    """The largest expected return ``mean @ w`` the constraints allow.

    Solves the linear programme ``max mean'w`` under ``constraints`` with
    HiGHS.

    Parameters
    ----------
    mean : ndarray of shape (n_assets,)
    constraints : LinearConstraints

    Returns
    -------
    float
        ``inf`` when the return is unbounded (e.g. unlimited short sales).

    Raises
    ------
    InfeasibleConstraintsError
        If no portfolio satisfies the constraints.
    """
    c = constraints
    result = linprog(
        -np.asarray(mean, dtype=float),
        A_ub=c.A_ub if c.A_ub.shape[0] else None,
        b_ub=c.b_ub if c.A_ub.shape[0] else None,
        A_eq=c.A_eq if c.A_eq.shape[0] else None,
        b_eq=c.b_eq if c.A_eq.shape[0] else None,
        bounds=np.column_stack([c.lb, c.ub]),
        method="highs",
    )
    if result.status == 2:
        c.prove_infeasible()
        raise InfeasibleConstraintsError("No portfolio satisfies the constraints.")
    if result.status == 3:
        return np.inf
    if result.status != 0:
        raise SolverError(
            f"HiGHS failed on the maximum-return programme: {result.message}"
        )
    return float(-result.fun)


def with_target_return(constraints, mean, target):
    """``constraints`` plus the row ``mean @ w >= target``."""
    row = LinearConstraints.from_arrays(
        constraints.n_vars,
        A_ub=-np.asarray(mean, dtype=float)[None, :],
        b_ub=[-target],
        ub_names=[f"the expected return (at least target_return={target:.6g})"],
        var_names=constraints.var_names,
    )
    return constraints.stacked(row)


def minimum_variance_for_return(covariance, mean, constraints, target):
    """``(weights, t)`` of the least-variance portfolio with return at least ``target``.

    Solves ``min 1/2 w'Σw`` under ``constraints`` and ``mean @ w >= target``.
    ``t``, the multiplier of the return row, is the ``1/risk_aversion`` that
    gives the same portfolio in the risk-aversion parameterisation.

    The feasible set of a target equal to the largest attainable return is
    a face of the constraints, which the QP cannot always handle: a target
    within round-off of it (``TARGET_RTOL``) gives the end of the critical
    line, the least risky portfolio of largest return (or, if the path
    cannot be traced, the QP for the target lowered by at most that
    round-off).

    Raises
    ------
    InfeasibleConstraintsError
        If ``constraints`` cannot hold, or ``target`` exceeds the largest
        expected return they allow (which the message states).
    """
    try:
        return _minimum_variance_qp(covariance, mean, constraints, target)
    except (InfeasibleConstraintsError, SolverError) as error:
        failure = error
    best = max_expected_return(mean, constraints)
    slack = TARGET_RTOL * max(np.max(np.abs(mean)), np.finfo(float).tiny)
    if target > best + slack:
        raise InfeasibleConstraintsError(
            f"target_return={target:.6g} is not attainable: the largest expected "
            f"return the constraints allow is {best:.6g} (per period)."
        ) from None
    if target < best - slack:
        raise failure
    highest = CriticalLine(covariance, mean, constraints).highest()
    if highest is not None:
        return highest
    for relative in (1e-6, 1e-3):
        try:
            return _minimum_variance_qp(
                covariance, mean, constraints, best - relative * slack
            )
        except (InfeasibleConstraintsError, SolverError):
            continue
    return _minimum_variance_qp(covariance, mean, constraints, best - slack)


def _minimum_variance_qp(covariance, mean, constraints, target):
    result = solve_portfolio_qp(
        covariance,
        np.zeros(mean.shape[0]),
        with_target_return(constraints, mean, target),
    )
    return result.x, float(result.ineq[-1])


class CriticalLine:
    """The traced path of ``min 1/2 w'Σw - t μ'w`` under ``constraints``, ``t >= 0``.

    ``covariance`` is a matrix or a covariance operator with a ``dense()``
    method.

    Attributes
    ----------
    constraints : LinearConstraints
        The constraints with redundant equalities removed.
    start : QPResult
        The minimum-variance portfolio (``t = 0``).
    segments : list or None
        The pieces of the path, or None when it could not be traced (then
        every point must be solved directly).
    """

    def __init__(self, covariance, mean, constraints):
        # The path needs the matrix itself, also from a covariance operator.
        dense = getattr(covariance, "dense", None)
        covariance = dense() if callable(dense) else np.asarray(covariance)
        self.constraints, _ = independent_equalities(constraints)
        self.start = solve_portfolio_qp(
            covariance, np.zeros(mean.shape[0]), self.constraints
        )
        self._path = _ParametricPath(covariance, mean, self.constraints)
        self.segments = self._path.trace(self.start)
        self._checked = {}
        if self.segments is not None:
            self._end_returns = np.array(
                [s.returns(s.t_end) for s in self.segments[:-1]]
            )

    def highest(self):
        """``(weights, t)`` at the end of the path, or None if it is not certified."""
        if self.segments is None:
            return None
        last = len(self.segments) - 1
        return self._point(last, self.segments[last].t_start)

    def lowest_return(self):
        return self.segments[0].returns(0.0)

    def for_return(self, target):
        """``(weights, t)`` of the path's portfolio with return ``target``, or None."""
        i = int(np.searchsorted(self._end_returns, target, side="left"))
        segment = self.segments[i]
        last = i == len(self.segments) - 1
        return self._point(i, segment.t_start if last else segment.t_for(target))

    def _point(self, i, t):
        if not self._piece_is_optimal(i):
            return None
        weights = self._path.feasible_weights(self.segments[i], t)
        return None if weights is None else (weights, t)

    def _piece_is_optimal(self, i):
        """Whether the KKT conditions hold at both ends of piece ``i``.

        They are affine in ``t`` along a piece, so they then hold at every
        point of it: one check per piece instead of one per point.
        """
        if i not in self._checked:
            segment = self.segments[i]
            ends = {segment.t_start}
            if np.isfinite(segment.t_end):
                ends.add(segment.t_end)
            self._checked[i] = all(self._path.satisfies_kkt(segment, t) for t in ends)
        return self._checked[i]


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
        return float(min(max(t, self.t_start), self.t_end))


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
        event_t, kind, i = min(candidates, key=lambda item: item[0])
        if kind is None or not np.isfinite(event_t):
            return np.inf, None
        return max(event_t, t), (kind, i)

    def feasible_weights(self, segment, t):
        """The weights at ``t`` on ``segment``, cleaned of round-off; None if
        they violate a constraint beyond it.

        ``u + t v`` loses digits when ``|t v|`` is much larger than the
        weights (an ill-conditioned covariance): clipping to the bounds and,
        if needed, the constraints' own round-off cleaning restore feasibility.
        """
        c = self.constraints
        weights = np.clip(segment.at(segment.weights, t), c.lb, c.ub)
        if not _is_feasible(c, weights):
            weights = c.clean(weights, segment.at(segment.ineq, t))
        return weights if _is_feasible(c, weights) else None

    def satisfies_kkt(self, segment, t):
        """Whether the point at ``t`` on ``segment`` passes the KKT check."""
        c = self.constraints
        weights = self.feasible_weights(segment, t)
        if weights is None:
            return False
        eq = segment.at(segment.eq, t)
        ineq = segment.at(segment.ineq, t)
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
        return bool(stationary and dual_feasible)


def _is_feasible(constraints, x):
    try:
        constraints.verify(x)
    except SolverError:
        return False
    return True


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
    """The first ``(t, kind, i)`` where ``gap_i - t rate_i`` reaches zero, over the
    masked ``i``, in a one-element list; ``(inf, None, -1)`` if none is masked."""
    indices = np.flatnonzero(mask)
    if not indices.size:
        return [(np.inf, None, -1)]
    times = gap[indices] / rate[indices]
    first = int(np.argmin(times))
    return [(float(times[first]), kind, int(indices[first]))]


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
        """``P[F][:, F]^{-1} b`` for a matrix ``b``."""
        nf = self.order.shape[0]
        U = self.U[:nf, :nf]
        # LAPACK directly: this runs once per breakpoint, where the wrappers'
        # input checks would cost more than the O(n²) solves.
        y, _ = dtrtrs(U, b, lower=0, trans=1)
        x, _ = dtrtrs(U, y, lower=0, trans=0)
        return x


def _schur_solve(factor, C, rhs, rhs_rows):
    """The KKT system through the factor of ``P[F][:, F]`` and the Schur complement.

    Solves ``[[P_FF, C'], [C, 0]] [x; y] = [rhs; rhs_rows]``; None if the
    Schur complement ``C P_FF^{-1} C'`` is not numerically positive definite.
    """
    k = rhs.shape[1]
    solved = factor.solve(np.column_stack([rhs, C.T]))
    x, Y = solved[:, :k], solved[:, k:]
    if not C.shape[0]:
        return x, np.zeros((0, k))
    R = _well_conditioned_cholesky(C @ Y)
    if R is None:
        return None
    y = cho_solve((R, False), C @ x - rhs_rows, check_finite=False)
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
