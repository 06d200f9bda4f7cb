"""The quadratic-programme solve shared by the optimising portfolio estimators.

Every optimising estimator reduces to::

    minimise    1/2 w'Σw + q'w
    subject to  A_eq w = b_eq,  A_ub w <= b_ub,  lb <= w <= ub

which :func:`solve_portfolio_qp` solves exactly.

Working-set method
------------------
quadprog on the full problem costs O(n³) to factorise Σ plus O(n²) per
bound that becomes active, so seconds at a thousand assets. But a long-only
optimum holds few assets: when the variables have finite lower bounds, the
working-set method of :mod:`skportfolio._working_set` optimises over a small
set of assets at a time, with Σ's blocks as restricted Hessians, and
certifies the result by the KKT conditions of the full problem.

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
"""

import numpy as np

from skportfolio._constraints import independent_equalities
from skportfolio._qp import QPResult, QuadraticProgram
from skportfolio._working_set import WorkingSet, worth_a_working_set
from skportfolio.covariance._operator import (
    DenseCovariance,
    as_covariance_operator,
    nearest_psd,
)
from skportfolio.exceptions import (
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
# Largest factor-model covariance densified for quadprog when neither the
# dual Newton method nor the working set solves the problem: its matrix
# takes 32 MB and its factorisation a second at this size, and grow as n²
# and n³.
MAX_DENSE_FALLBACK_ASSETS = 2000


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
    if not worth_a_working_set(constraints, MIN_WORKING_SET_VARS):
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
    if worth_a_working_set(constraints, MIN_WORKING_SET_VARS):
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


class _WorkingSet(WorkingSet):
    """The working set on a covariance operator: Σ's blocks are exact Hessians."""

    def _restricted_program(self, keep, constraints, accurate):
        return QuadraticProgram(constraints, P=self.hessian.submatrix(keep)), True

    def _solve_full(self):
        return _solve_full(self.hessian, self.q, self.constraints)
