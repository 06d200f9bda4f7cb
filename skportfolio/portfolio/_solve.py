"""The quadratic-programme solve shared by the optimising portfolio estimators.

Every optimising estimator reduces to::

    minimise    1/2 w'Σw + q'w
    subject to  A_eq w = b_eq,  A_ub w <= b_ub,  lb <= w <= ub

which :func:`solve_portfolio_qp` solves exactly.

Working-set method
------------------
quadprog on the full problem costs O(n³) to factorise Σ plus O(n²) per
bound that becomes active, so seconds at a thousand assets. But a long-only
optimum holds few assets: most weights sit at their lower bound. When the
variables have finite lower bounds, the solver optimises over a *working
set* ``S`` only, with every other weight fixed at its lower bound, and then
checks the optimality conditions of the full problem. With ``g = Σw + q``
and the multipliers ``ν`` (equalities) and ``μ`` (inequalities) of the
restricted problem, an excluded weight at its lower bound is optimal if and
only if its *reduced cost*::

    r_j = g_j + A_eq[:, j]'ν + A_ub[:, j]'μ

is non-negative: ``r_j`` is then the multiplier of its lower bound and the
KKT conditions of the full problem hold. Weights with ``r_j < 0`` join ``S``
(most negative first) and the restricted problem is solved again.

The first working set holds the ``2 sqrt(n)`` assets with the best reduced
cost per unit of volatility at the inverse-variance portfolio (one product
with Σ). After each restricted solve, working weights that ended at their
bound leave the set and up to ``|S|`` of the worst violators join it, so the
restricted problems stay the size of the support.

*Exactness*: at termination the restricted KKT conditions and ``r >= 0``
together are the KKT conditions of the full problem, which for a convex
problem certify a global minimiser; the final point is checked against them
(relative to the size of the gradient's terms) before it is returned.

*Factor models*: a covariance ``Σ = D + UU'`` held as a
:class:`~skportfolio.covariance.FactorCovariance` is never formed as an
``n x n`` matrix. Without inequalities the KKT system is solved through
Woodbury solves (``O(nK²)``); with bounds or inequalities, Newton's method
on the dual, which has only ``K`` plus the number of constraint rows
variables (:mod:`skportfolio.portfolio._factor_qp`, ``O(nK²)`` per
iteration whatever the size of the optimum's support, where the working
set's restricted problems grow with it). Should that iteration give up (tiny
idiosyncratic variances), the working set takes over: it uses Σ only
through the methods of a covariance operator
(:class:`~skportfolio.covariance.DenseCovariance`), which a factor model has
too, with ``O(nK)`` products and ``O(|S|²K)`` restricted blocks. The dense
matrix of a factor model is formed only up to ``MAX_DENSE_FALLBACK_ASSETS``
assets, for problems neither method solves.

*Termination*: the next working set contains the current solution and a
variable with a negative reduced cost, so (with unique multipliers) its
optimum is strictly lower and no working set can repeat. Should the
objective fail to decrease (degenerate multipliers, round-off), variables
stop leaving the set; from then on it grows at every iteration, and ``S`` =
all variables is the full problem. A guard solves the full problem directly
when ``S`` exceeds half the variables or after ``MAX_OUTER_ITER`` iterations.
In practice two to five iterations suffice, each costing one O(n |support|)
product for ``g`` and a QP of the size of ``S``.
"""

import numpy as np

from skportfolio._constraints import independent_equalities
from skportfolio._qp import QPResult, QuadraticProgram
from skportfolio.covariance._operator import (
    DenseCovariance,
    as_covariance_operator,
    nearest_psd,
)
from skportfolio.exceptions import (
    InfeasibleConstraintsError,
    NotPositiveSemidefiniteError,
    SolverError,
)
from skportfolio.portfolio._factor_qp import (
    FactorQPError,
    equality_minimiser,
    solve_factor_qp,
)

# Below this many variables quadprog on the full problem is about as fast as
# the round trips of the working set.
MIN_WORKING_SET_VARS = 64
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
# Largest factor-model covariance densified for quadprog when neither the
# dual Newton method nor the working set solves the problem: its matrix
# takes 32 MB and its factorisation a second at this size, and grow as n²
# and n³.
MAX_DENSE_FALLBACK_ASSETS = 2000
_TINY = np.finfo(float).tiny


def solve_portfolio_qp(covariance, q, constraints, *, known_psd=False):
    """Minimise ``1/2 w'Σw + q'w`` under ``constraints``; returns a ``QPResult``.

    Long-only problems (finite lower bounds) are solved by the working-set
    method of the module documentation; others by quadprog on the full
    problem. Both are exact.

    An indefinite ``covariance`` (smallest eigenvalue below ``-1e-6`` times
    its largest diagonal entry, the QP layer's criterion) is replaced by the
    nearest positive semi-definite matrix (its negative eigenvalues set to
    zero).

    A factor model (a :class:`~skportfolio.covariance.FactorCovariance`) is
    never formed as an ``n x n`` matrix: problems without inequalities are
    solved through Woodbury solves, the others by Newton's method on their
    dual (see the module documentation).

    Parameters
    ----------
    covariance : ndarray of shape (n, n) or covariance operator
        Symmetric matrix Σ, or an object with its methods
        (:class:`~skportfolio.covariance.DenseCovariance`,
        :class:`~skportfolio.covariance.FactorCovariance`).
    q : ndarray of shape (n,)
    constraints : LinearConstraints
    known_psd : bool, default=False
        True when the caller knows ``covariance`` is positive semi-definite
        by construction (e.g. a sample covariance). This skips the O(n³)
        Cholesky test the working-set method otherwise needs, because a
        principal submatrix can be definite while the whole matrix is not.
        Not used for a factor model, positive definite by construction.

    Returns
    -------
    QPResult
        The solution of the full problem with the multipliers of all its
        constraints.

    References
    ----------
    .. [1] J. Nocedal and S. J. Wright, "Numerical Optimization", 2nd ed.,
       Springer, 2006, chapter 16 (active-set methods for quadratic
       programmes).

    Examples
    --------
    Minimise ``1/2 ||w||² - μ'w`` on the simplex of 100 assets, three of
    which have a positive ``μ``: the optimum holds those three.

    >>> import numpy as np
    >>> from skportfolio._constraints import LinearConstraints
    >>> n = 100
    >>> mu = np.zeros(n)
    >>> mu[:3] = [1.0, 0.8, 0.5]
    >>> simplex = LinearConstraints.from_arrays(
    ...     n, A_eq=np.ones((1, n)), b_eq=[1.0], lb=0.0, ub=1.0
    ... )
    >>> result = solve_portfolio_qp(np.eye(n), -mu, simplex)
    >>> result.x[:4].round(4)
    array([0.5667, 0.3667, 0.0667, 0.    ])
    >>> round(float(result.eq[0]), 4), round(float(result.lower[50]), 4)
    (0.4333, 0.4333)
    """
    covariance = as_covariance_operator(covariance)
    q = np.asarray(q, dtype=float)
    if not isinstance(covariance, DenseCovariance):
        return _solve_structured(covariance, q, constraints)
    if not _worth_a_working_set(constraints):
        return _solve_full(covariance, q, constraints)
    if not known_psd and not covariance.is_numerically_psd():
        covariance = covariance.nearest_psd()
    try:
        return _WorkingSet(covariance, q, constraints).solve()
    except NotPositiveSemidefiniteError:
        # A restricted block failed the QP layer's test: known_psd was claimed
        # wrongly, or Σ is indefinite at the very edge of the tolerance.
        return _WorkingSet(covariance.nearest_psd(), q, constraints).solve()


def _solve_full(covariance, q, constraints):
    """quadprog on the whole problem; the factorisation doubles as the PSD test.

    A factor model is densified only up to ``MAX_DENSE_FALLBACK_ASSETS``.
    """
    if (
        not isinstance(covariance, DenseCovariance)
        and covariance.n_assets > MAX_DENSE_FALLBACK_ASSETS
    ):
        constraints.prove_infeasible()
        raise SolverError(
            f"The factor-model QP of {covariance.n_assets} assets could not be "
            "solved without its dense covariance matrix, which is formed only "
            f"up to {MAX_DENSE_FALLBACK_ASSETS} assets; please report this "
            "problem."
        )
    matrix = covariance.dense()
    try:
        return QuadraticProgram(constraints, P=matrix).solve(q)
    except NotPositiveSemidefiniteError:
        return QuadraticProgram(constraints, P=nearest_psd(matrix)).solve(q)


def _solve_structured(covariance, q, constraints):
    """A factor model: the KKT system without inequalities, else the dual.

    Newton's method on the dual needs many iterations when the idiosyncratic
    variances are tiny next to the factor risk (its pieces are then very
    narrow) and may give up; the constraints are then first checked for
    feasibility (the dual of an infeasible problem is unbounded), and the
    working set (for finite lower bounds) or quadprog on the dense matrix
    takes over.
    """
    if not constraints.has_inequalities:
        return _solve_equalities(covariance, q, constraints)
    try:
        return solve_factor_qp(covariance, q, constraints)
    except FactorQPError:
        constraints.prove_infeasible()
    if _worth_a_working_set(constraints):
        return _WorkingSet(covariance, q, constraints).solve()
    return _solve_full(covariance, q, constraints)


def _solve_equalities(covariance, q, constraints):
    """``min 1/2 x'Σx + q'x`` subject to ``A x = b`` alone, by solves with Σ
    (:func:`equality_minimiser`, on the independent rows). Σ must be
    positive definite, as a factor model is by construction.
    """
    independent, rows = independent_equalities(constraints)
    x, multipliers = equality_minimiser(
        covariance, q, independent.A_eq, independent.b_eq
    )
    x = independent.clean(x)
    independent.verify(x)
    eq = np.zeros(constraints.A_eq.shape[0])
    eq[rows] = multipliers
    zeros = np.zeros(constraints.n_vars)
    return QPResult(
        x=x,
        objective=float(0.5 * covariance.quad_form(x) + q @ x),
        eq=eq,
        ineq=np.zeros(0),
        lower=zeros,
        upper=zeros.copy(),
        n_iter=0,
        n_proximal=0,
    )


def _movable_at_lower_bound(constraints):
    """Variables that can be fixed at a finite lower bound and later freed."""
    return np.isfinite(constraints.lb) & (constraints.lb < constraints.ub)


def _worth_a_working_set(constraints):
    n_movable = int(np.count_nonzero(_movable_at_lower_bound(constraints)))
    return (
        constraints.n_vars >= MIN_WORKING_SET_VARS
        and n_movable > (1 - MAX_WORKING_FRACTION) * constraints.n_vars
    )


class _WorkingSet:
    """The working-set outer loop for one problem (see the module docs)."""

    def __init__(self, covariance, q, constraints):
        self.covariance, self.q, self.constraints = covariance, q, constraints
        self.n = constraints.n_vars
        lb = constraints.lb
        self.movable = _movable_at_lower_bound(constraints)
        # Excluded variables sit at their lower bound; variables without a
        # finite one are always in the working set.
        self.fixed_value = np.where(np.isfinite(lb), lb, 0.0)
        self.always_in = ~np.isfinite(lb)
        self.score = _attractiveness(covariance, q)
        self.max_variance = np.max(covariance.diag(), initial=0.0)
        self.dropping = True
        self.best_objective = np.inf
        self.n_iter = 0
        self.n_proximal = 0

    # ---------------------------------------------------------------- outer loop
    def solve(self):
        in_set = self._make_rows_reachable(self._initial_set())
        for _ in range(MAX_OUTER_ITER):
            if np.count_nonzero(in_set) > MAX_WORKING_FRACTION * self.n:
                break
            try:
                restricted = self._solve_restricted(in_set)
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
            Px = self._product(x)
            reduced = self._reduced_costs(Px, restricted)
            violators = self._violators(in_set, x, Px, reduced)
            if violators.size == 0:
                return self._full_result(in_set, x, Px, restricted, reduced)
            # The next working set holds the support of x, a feasible point,
            # so its rows stay reachable.
            if self.dropping:
                in_set = self._drop_at_bound(in_set, x, Px)
            batch = max(MIN_BATCH, int(BATCH_FRACTION * np.count_nonzero(in_set)))
            in_set = self._grow(in_set, violators, batch)
        return _solve_full(self.covariance, self.q, self.constraints)

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
        keep = np.flatnonzero(in_set)
        q = self.q[keep]
        shifted = np.flatnonzero(~in_set & (self.fixed_value != 0))
        if shifted.size:
            q = q + self.covariance.block_matvec(
                keep, shifted, self.fixed_value[shifted]
            )
        constraints = self.constraints.restricted(keep, self.fixed_value)
        block = self.covariance.submatrix(keep)
        result = QuadraticProgram(constraints, P=block).solve(q)
        self.n_iter += result.n_iter
        self.n_proximal += result.n_proximal
        return result

    def _product(self, x):
        """``Σx``; cheap for a sparse ``x`` (see ``DenseCovariance.matvec``)."""
        return self.covariance.matvec(x)

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

        ``max diag Σ · max |x|`` bounds ``|Σx|`` term by term, and stays
        meaningful when the gradient itself vanishes (a riskless asset).
        """
        return max(
            np.max(np.abs(Px)),
            self.max_variance * np.max(np.abs(x)),
            np.max(np.abs(self.q)),
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
            return _solve_full(self.covariance, self.q, self.constraints)
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
        return np.max(np.abs(residual)) <= KKT_RTOL * self._gradient_scale(result.x, Px)


def _attractiveness(covariance, q):
    """Rank of each asset for the first working set (lower is better).

    The reduced cost of each asset at the inverse-variance portfolio ``v``,
    ``(Σv + q)_i - v'(Σv + q)``, divided by its volatility: the first-order
    gain of moving weight into the asset, per unit of the risk it adds. One
    product with Σ; it accounts for correlations, which the variances alone
    miss (a low-volatility asset that moves with the market is a poor pick).
    """
    variances = covariance.diag()
    largest = np.max(variances, initial=0.0)
    if largest > 0:
        # Relative variances, floored so that a riskless asset gets a finite
        # (dominant) inverse-variance weight.
        relative = np.maximum(variances / largest, np.finfo(float).eps)
    else:
        relative = np.ones_like(variances)
    v = 1.0 / relative
    v /= v.sum()
    gradient = covariance.matvec(v) + q
    return (gradient - v @ gradient) / np.sqrt(relative)
