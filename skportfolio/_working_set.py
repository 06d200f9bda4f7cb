"""The working-set method for convex QPs whose optimum has a small support.

Solves::

    minimise    1/2 x'Px + q'x
    subject to  A_eq x = b_eq,  A_ub x <= b_ub,  lb <= x <= ub

when most variables end at a finite lower bound: a long-only portfolio holds
few assets, a non-negative regression keeps few regressors. quadprog on the
full problem costs O(n³) to factorise P plus O(n²) per bound that becomes
active; the method here optimises over a *working set* ``S`` only, with every
other variable fixed at its lower bound, and then checks the optimality
conditions of the full problem. With ``g = Px + q`` and the multipliers
``ν`` (equalities) and ``μ`` (inequalities) of the restricted problem, an
excluded variable at its lower bound is optimal if and only if its *reduced
cost*::

    r_j = g_j + A_eq[:, j]'ν + A_ub[:, j]'μ

is non-negative: ``r_j`` is then the multiplier of its lower bound and the
KKT conditions of the full problem hold. Variables with ``r_j < 0`` join
``S`` (most negative first) and the restricted problem is solved again.

The first working set holds the ``2 sqrt(n)`` variables with the best reduced
cost per unit of curvature at the point weighted by ``1 / diag(P)`` (one
product with P; for a covariance, the inverse-variance portfolio). After each
restricted solve, working variables that ended at their bound leave the set
and up to ``|S|`` of the worst violators join it, so the restricted problems
stay the size of the support.

The Hessian is used only through ``diag()``, ``matvec(x)`` and
``block_matvec(rows, columns, v)`` (the methods of a covariance operator,
:mod:`skportfolio.covariance._operator`); each caller subclasses
:class:`WorkingSet` to say how a restricted problem is set up
(:meth:`WorkingSet._restricted_program`) and how the full problem is solved
when the working set does not pay (:meth:`WorkingSet._solve_full`).

*Exactness*: at termination the restricted KKT conditions and ``r >= 0``
together are the KKT conditions of the full problem, which for a convex
problem certify a global minimiser; the final point is checked against them
(relative to the size of the gradient's terms) before it is returned.

*Provisional restricted solves*: a subclass may solve a restricted problem
with a factor that is cheap but not accurate in every direction (the
Cholesky factor of an ill-conditioned Gram block of a regression). Such a
solution steers the working set as well as an exact one, but the
first-order certificate cannot tell its digits from exact ones. When a
provisional solution passes the certificate, the variables at their bound
leave the set and the restricted problem is solved again, from then on only
with accurate factors, and certified again: only an accurate solution is
returned.

*Termination*: the next working set contains the current solution and a
variable with a negative reduced cost, so (with unique multipliers) its
optimum is strictly lower and no working set can repeat. Should the
objective fail to decrease (degenerate multipliers, round-off), variables
stop leaving the set; from then on it grows at every iteration, and ``S`` =
all variables is the full problem. A guard solves the full problem directly
when ``S`` exceeds half the variables or after ``MAX_OUTER_ITER`` iterations.
In practice two to five iterations suffice, each costing one O(n |support|)
product for ``g`` and a QP of the size of ``S``.

References
----------
.. [1] J. Nocedal and S. J. Wright, "Numerical Optimization", 2nd ed.,
   Springer, 2006, chapter 16 (active-set methods for quadratic
   programmes).
"""

import numpy as np

from skportfolio._qp import QPResult
from skportfolio.exceptions import InfeasibleConstraintsError

# Size of the first working set, relative to sqrt(n), and its floor.
INITIAL_SIZE_PER_SQRT_N = 2.0
MIN_INITIAL_SIZE = 16
# Violators added per outer iteration: at least this many, and at least the
# given fraction of the current working set (geometric growth bounds the
# number of iterations by O(log n)).
MIN_BATCH = 8
BATCH_FRACTION = 1.0
# Once the working set exceeds this fraction of the variables, restricting
# saves little: solve the full problem.
MAX_WORKING_FRACTION = 0.5
# Reduced costs above -REDUCED_COST_RTOL * scale count as non-negative. A
# reduced cost of -ε costs at most O(ε²) in the objective, so this is far
# below what the 1e-12 objective accuracy needs.
REDUCED_COST_RTOL = 1e-10
# Stationarity residual (relative to the gradient) the final point must meet.
KKT_RTOL = 1e-7
# Outer iterations before giving up on the working set (never reached in
# practice: the working set at least doubles or the objective drops).
MAX_OUTER_ITER = 100
_TINY = np.finfo(float).tiny


def worth_a_working_set(constraints, min_vars):
    """Whether ``constraints`` leave enough variables movable at a finite lower
    bound for a working set, on a problem of at least ``min_vars`` variables."""
    n_movable = int(np.count_nonzero(_movable_at_lower_bound(constraints)))
    return (
        constraints.n_vars >= min_vars
        and n_movable > (1 - MAX_WORKING_FRACTION) * constraints.n_vars
    )


def _movable_at_lower_bound(constraints):
    """Variables that can be fixed at a finite lower bound and later freed."""
    return np.isfinite(constraints.lb) & (constraints.lb < constraints.ub)


class WorkingSet:
    """The working-set outer loop for one problem (see the module docs).

    Subclasses implement :meth:`_restricted_program` and :meth:`_solve_full`.

    Parameters
    ----------
    hessian : covariance operator
        ``P``, through its ``diag``, ``matvec`` and ``block_matvec`` methods.
    q : ndarray of shape (n,)
    constraints : LinearConstraints
    """

    def __init__(self, hessian, q, constraints):
        self.hessian, self.q, self.constraints = hessian, q, constraints
        self.n = constraints.n_vars
        lb = constraints.lb
        self.movable = _movable_at_lower_bound(constraints)
        # Excluded variables sit at their lower bound; variables without a
        # finite one are always in the working set.
        self.fixed_value = np.where(np.isfinite(lb), lb, 0.0)
        self.has_nonzero_fixed_values = np.count_nonzero(self.fixed_value) > 0
        self.always_in = ~np.isfinite(lb)
        self.score = _attractiveness(hessian, q)
        self.max_curvature = np.max(hessian.diag(), initial=0.0)
        self.q_scale = _largest_magnitude(q)
        self.dropping = True
        self.accurate_only = False
        self.best_objective = np.inf
        self.n_iter = 0
        self.n_proximal = 0

    # ------------------------------------------------------------ subclass hooks
    def _restricted_program(self, keep, constraints, accurate):
        """The QP over ``x[keep]``: ``(QuadraticProgram, is_accurate)``.

        ``constraints`` are the restricted constraints. With ``accurate``
        False the program may be provisional (see the module docs).
        """
        raise NotImplementedError

    def _solve_full(self):
        """The :class:`~skportfolio._qp.QPResult` of the full problem."""
        raise NotImplementedError

    # ---------------------------------------------------------------- outer loop
    def solve(self):
        """The solution of the full problem, with all its multipliers."""
        in_set = self._make_rows_reachable(self._initial_set())
        for _ in range(MAX_OUTER_ITER):
            if np.count_nonzero(in_set) > MAX_WORKING_FRACTION * self.n:
                break
            try:
                restricted, accurate = self._solve_restricted(in_set)
            except InfeasibleConstraintsError:
                # An obvious conflict of the full problem is reported in its
                # own terms; otherwise several rows conflict on this working
                # set: double it.
                self.constraints.check_obvious_conflicts()
                grown = self._grow(
                    in_set, self._by_score(~in_set), np.count_nonzero(in_set)
                )
                if np.array_equal(grown, in_set):
                    break
                in_set = self._make_rows_reachable(grown)
                continue
            x = self.fixed_value.copy()
            x[in_set] = restricted.x
            Px = self.hessian.matvec(x)
            reduced = self._reduced_costs(Px, restricted)
            violators = self._violators(in_set, x, Px, reduced)
            if violators.size == 0 and accurate:
                return self._full_result(in_set, x, Px, restricted, reduced)
            # The next working set holds the support of x, a feasible point,
            # so its rows stay reachable.
            if violators.size == 0:
                # A provisional solution passed: solve its support again with
                # accurate factors only.
                self.accurate_only = True
                in_set = self._off_bound(in_set, x)
                continue
            if self.dropping:
                in_set = self._drop_at_bound(in_set, x, Px)
            batch = max(MIN_BATCH, int(BATCH_FRACTION * np.count_nonzero(in_set)))
            in_set = self._grow(in_set, violators, batch)
        return self._solve_full()

    def _initial_set(self):
        size = max(MIN_INITIAL_SIZE, int(INITIAL_SIZE_PER_SQRT_N * np.sqrt(self.n)))
        in_set = self.always_in.copy()
        in_set[self._by_score(self.movable)[:size]] = True
        return in_set

    def _by_score(self, mask):
        """Movable indices of ``mask``, most attractive first."""
        candidates = np.flatnonzero(mask & self.movable)
        return candidates[np.argsort(self.score[candidates], kind="stable")]

    @staticmethod
    def _grow(in_set, ordered_candidates, count):
        grown = in_set.copy()
        grown[ordered_candidates[:count]] = True
        return grown

    def _drop_at_bound(self, in_set, x, Px):
        """Remove working variables that ended at their lower bound.

        Stops for good once the objective fails to decrease, after which the
        working set only grows (see *Termination* in the module docs).
        """
        objective = 0.5 * (x @ Px) + self.q @ x
        if objective >= self.best_objective:
            self.dropping = False
            return in_set
        self.best_objective = objective
        return self._off_bound(in_set, x)

    def _off_bound(self, in_set, x):
        """The working variables not at their lower bound (and the unbounded)."""
        return in_set & ~(self.movable & (x == self.fixed_value))

    # --------------------------------------------------------------- feasibility
    def _make_rows_reachable(self, in_set):
        """Add variables until every constraint row can be met within the box.

        A working set that is too small can make the restricted problem
        infeasible: ten assets capped at 10 % are needed for a budget of 1, a
        group with a minimum weight needs a member. For each row whose range
        over the box of ``S`` misses its right-hand side, the most attractive
        excluded variables that move the row the right way join ``S`` until
        their capacity covers the gap. Conflicts between several rows are left
        to the restricted solve.
        """
        c = self.constraints
        for A, b, is_equality in ((c.A_eq, c.b_eq, True), (c.A_ub, c.b_ub, False)):
            if not A.shape[0]:
                continue
            lo, hi = self._row_ranges(A, in_set)
            if is_equality:
                for i in np.flatnonzero(b > hi):
                    in_set = self._add_capacity(in_set, A[i], b[i] - hi[i])
            for i in np.flatnonzero(b < lo):
                in_set = self._add_capacity(in_set, -A[i], lo[i] - b[i])
        return in_set

    def _row_ranges(self, A, in_set):
        """Smallest and largest ``A @ x`` with ``x[S]`` in its box, the rest fixed."""
        c = self.constraints
        A_in = A[:, in_set]
        fixed = A[:, ~in_set] @ self.fixed_value[~in_set]
        lb, ub = c.lb[in_set], c.ub[in_set]
        # The bound each coefficient pushes towards; 0 for a zero coefficient,
        # so that an infinite bound it does not touch never meets it.
        low_end = np.where(A_in > 0, lb, np.where(A_in < 0, ub, 0.0))
        high_end = np.where(A_in > 0, ub, np.where(A_in < 0, lb, 0.0))
        return fixed + (A_in * low_end).sum(axis=1), fixed + (A_in * high_end).sum(
            axis=1
        )

    def _add_capacity(self, in_set, a, gap):
        """Add excluded variables that can raise ``a @ x`` by ``gap`` together."""
        c = self.constraints
        candidates = self._by_score(~in_set & (a > 0))
        capacity = a[candidates] * (c.ub[candidates] - c.lb[candidates])
        needed = int(np.searchsorted(np.cumsum(capacity), gap)) + 1
        return self._grow(in_set, candidates, needed)

    # ----------------------------------------------------------- restricted QP
    def _solve_restricted(self, in_set):
        """Solve over the working set; ``(QPResult, is_accurate)``."""
        keep = np.flatnonzero(in_set)
        q = self.q[keep]
        if self.has_nonzero_fixed_values:
            shifted = np.flatnonzero(~in_set & (self.fixed_value != 0))
            q = q + self.hessian.block_matvec(keep, shifted, self.fixed_value[shifted])
        constraints = self.constraints.restricted(keep, self.fixed_value)
        program, accurate = self._restricted_program(
            keep, constraints, self.accurate_only
        )
        result = program.solve(q)
        self.n_iter += result.n_iter
        self.n_proximal += result.n_proximal
        return result, accurate

    def _reduced_costs(self, Px, restricted):
        c = self.constraints
        return Px + self.q + restricted.eq @ c.A_eq + restricted.ineq @ c.A_ub

    def _violators(self, in_set, x, Px, reduced):
        """Excluded movable variables with a negative reduced cost, worst first."""
        tolerance = REDUCED_COST_RTOL * self._gradient_scale(x, Px)
        candidates = np.flatnonzero(~in_set & self.movable & (reduced < -tolerance))
        return candidates[np.argsort(reduced[candidates], kind="stable")]

    def _gradient_scale(self, x, Px):
        """Size of the terms of the gradient, for relative tolerances.

        ``max diag P · max |x|`` bounds ``|Px|`` term by term, and stays
        meaningful when the gradient itself vanishes (a riskless asset).
        """
        return max(
            _largest_magnitude(Px),
            self.max_curvature * _largest_magnitude(x),
            self.q_scale,
            _TINY,
        )

    # ---------------------------------------------------------------- the answer
    def _full_result(self, in_set, x, Px, restricted, reduced):
        out = ~in_set
        lower = np.zeros(self.n)
        upper = np.zeros(self.n)
        lower[in_set], upper[in_set] = restricted.lower, restricted.upper
        lower[out] = np.maximum(reduced[out], 0.0)
        # A variable with lb == ub is never freed; its bound absorbs either sign.
        pinned = out & ~self.movable
        upper[pinned] = np.maximum(-reduced[pinned], 0.0)
        self.constraints.verify(x)
        result = QPResult(
            x=x,
            objective=float(0.5 * (x @ Px) + self.q @ x),
            eq=restricted.eq,
            ineq=restricted.ineq,
            lower=lower,
            upper=upper,
            n_iter=self.n_iter,
            n_proximal=self.n_proximal,
        )
        if not self._satisfies_kkt(result, Px):
            return self._solve_full()
        return result

    def _satisfies_kkt(self, result, Px):
        """Stationarity of the full problem, relative to the gradient's size."""
        c = self.constraints
        residual = (
            Px
            + self.q
            + result.eq @ c.A_eq
            + result.ineq @ c.A_ub
            - result.lower
            + result.upper
        )
        return _largest_magnitude(residual) <= KKT_RTOL * self._gradient_scale(
            result.x, Px
        )


def _largest_magnitude(v):
    """``max |v|`` (0 for an empty ``v``), by the ufunc reduction itself:
    ``np.max``'s wrapper costs more than the reduction on the vectors of a
    working set, which this runs on at every iteration."""
    return float(np.maximum.reduce(np.abs(v), initial=0.0))


def _attractiveness(hessian, q):
    """Rank of each variable for the first working set (lower is better).

    The reduced cost of each variable at the point ``v`` weighted by
    ``1 / diag(P)`` (for a covariance, the inverse-variance portfolio),
    ``(Pv + q)_i - v'(Pv + q)``, divided by ``sqrt(P_ii)``: the first-order
    gain of moving weight into it, per unit of the curvature (the risk) it
    adds. One product with P; it accounts for correlations, which the
    diagonal alone misses (a low-volatility asset that moves with the market
    is a poor pick).
    """
    variances = hessian.diag()
    largest = np.max(variances, initial=0.0)
    if largest > 0:
        # Relative variances, floored so that a riskless asset gets a finite
        # (dominant) inverse-variance weight.
        relative = np.maximum(variances / largest, np.finfo(float).eps)
    else:
        relative = np.ones_like(variances)
    v = 1.0 / relative
    v /= v.sum()
    gradient = hessian.matvec(v) + q
    return (gradient - v @ gradient) / np.sqrt(relative)
