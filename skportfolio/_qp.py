"""The quadratic-programming layer: the only module that imports quadprog.

Solves::

    minimise    1/2 x'Px + q'x
    subject to  A_eq x = b_eq,  A_ub x <= b_ub,  lb <= x <= ub

with Goldfarb and Idnani's dual active-set method (quadprog). This module owns
quadprog's conventions (``1/2 x'Gx - a'x`` subject to ``C'x >= b``, equalities
first, ``factorized=True`` meaning "G holds R^{-1}") and turns its failures into
skportfolio's exceptions.

Positive semi-definite P
------------------------
quadprog needs a strictly positive definite Hessian. When P is singular or
numerically so (collinear regressors, more assets than observations: the
reciprocal condition number of the Cholesky factor of P is below
``RCOND_MIN``, or that of a factor R given directly below
``FACTOR_RCOND_MIN``) we solve the *proximal-point* sequence::

    x_{k+1} = argmin 1/2 x'Px + q'x + delta/2 ||x - x_k||^2   (same constraints)

whose Hessian P + delta I is positive definite and is factorised once. Each
step only changes the linear term, and the iterates converge to a minimiser of
the original problem (Rockafellar, 1976); for a quadratic programme the
convergence is linear. Among the minimisers, the limit is the one the sequence
started from the regularised solution reaches, which for unconstrained
least squares is the minimum-norm solution. Iteration stops when a step moves
no coordinate by more than ``PROXIMAL_STEP_TOL`` (relative) or no longer
lowers the objective at machine precision.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import quadprog
from scipy.linalg import qr
from scipy.linalg.lapack import dpotrf, dtrcon, dtrtri
from scipy.optimize import linprog

from skportfolio._constraints import LinearConstraints, independent_equalities
from skportfolio.exceptions import (
    ConvergenceWarning,
    InfeasibleConstraintsError,
    NotPositiveSemidefiniteError,
    SolverError,
)

# Reciprocal condition number of the Cholesky factor R of a given P (so
# cond(P) = 1 / RCOND_MIN**2) below which P is treated as semi-definite and
# regularised.
RCOND_MIN = 1e-7
# The same for a factor given directly (the R of a QR decomposition of a design
# matrix X, so cond(R) = cond(X)). quadprog works on R^{-1} and never squares
# the condition number: the digits lost in the weak directions of R move the
# objective only to second order, about (eps * cond(R))**2 relative, which is
# 1e-12 at cond(R) = 1e10. A factor of a singular P (collinear regressors) has
# cond(R) near 1 / eps and is still regularised.
FACTOR_RCOND_MIN = 1e-10
# Size of the proximal regularisation relative to the largest diagonal entry of P:
# large enough that quadprog's subproblems (condition number <= 1e6) are solved
# to ~1e-10, small enough that the proximal steps converge in a few iterations.
RELATIVE_DELTA = 1e-6
MAX_PROXIMAL_ITER = 200
# Relative step below which the proximal iterates have settled.
PROXIMAL_STEP_TOL = 1e-10


@dataclass(frozen=True)
class QPResult:
    """Solution of a quadratic programme and its Lagrange multipliers.

    The multipliers satisfy the KKT stationarity condition::

        P x + q + A_eq' eq + A_ub' ineq - lower + upper = 0

    with ``ineq``, ``lower`` and ``upper`` non-negative and zero where their
    constraint is not active.

    Attributes
    ----------
    x : ndarray of shape (n,)
    objective : float
        ``1/2 x'Px + q'x`` at ``x``.
    eq, ineq, lower, upper : ndarray
        Multipliers of the equalities, the inequalities ``A_ub x <= b_ub``,
        the lower bounds and the upper bounds.
    n_iter : int
        quadprog iterations summed over the proximal steps.
    n_proximal : int
        Number of proximal steps (0 when P was positive definite).
    """

    x: np.ndarray
    objective: float
    eq: np.ndarray
    ineq: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_iter: int
    n_proximal: int


class QuadraticProgram:
    """A QP whose Hessian is factorised once and solved for any linear term.

    Parameters
    ----------
    constraints : LinearConstraints
    P : ndarray of shape (n, n), optional
        Positive semi-definite Hessian. Give ``P`` or ``R``.
    R : ndarray of shape (n, n), optional
        Upper-triangular factor with ``P = R'R`` (e.g. from a QR decomposition
        of a design matrix), which avoids squaring its condition number: it
        is used as it is up to ``cond(R)`` of about ``1 / FACTOR_RCOND_MIN``.
    rcond : float, optional
        The reciprocal condition number estimate of ``R`` (LAPACK ``dtrcon``
        in the 1-norm) when the caller has computed it already.
    """

    def __init__(self, constraints, *, P=None, R=None, rcond=None):
        if (P is None) == (R is None):
            raise ValueError("Give exactly one of P and R.")
        constraints.check_obvious_conflicts()
        self._P = None if P is None else np.asarray(P, dtype=float)
        self._R = None if R is None else np.asarray(R, dtype=float)
        self._inner = None
        if constraints.may_pin_variables:
            forced = constraints.forced_values()
            if not np.isnan(forced).all():
                self._eliminate(constraints, forced)
                return
        self.constraints, self._eq_rows = independent_equalities(constraints)
        self._n_eq_input = constraints.A_eq.shape[0]
        self._Rinv, self.delta = _inverse_factor(self._P, self._R, rcond)
        self._C, self._b, self._meq = self._quadprog_constraints()

    def _quadprog_constraints(self):
        """quadprog's ``C'x >= b`` (``C`` of shape ``(n, m)``), equalities first."""
        c = self.constraints
        self._lb_index, self._ub_index = c.finite_bounds
        G, h = c.greater_equal_rows
        return G.T, h, c.A_eq.shape[0]

    def objective(self, x, q):
        """``1/2 x'Px + q'x``."""
        if self._R is not None:
            Rx = self._R @ x
            return 0.5 * (Rx @ Rx) + q @ x
        return 0.5 * (x @ self._P @ x) + q @ x

    def _eliminate(self, constraints, forced):
        """Solve over the free variables only, with the pinned ones substituted.

        quadprog's dual method fails on a degenerate active set, which a
        variable pinned by equal bounds or by a row that the bounds can meet
        only at one corner (ten weights of at most 0.1 summing to one)
        produces; substituting such variables removes the degeneracy.
        """
        self.constraints = constraints
        self._fixed = ~np.isnan(forced)
        self._forced = np.where(self._fixed, forced, 0.0)
        free = np.flatnonzero(~self._fixed)
        self._free = free
        if self._R is not None:
            R_free = self._R[:, free]
            self._cross = R_free.T @ (self._R @ self._forced)
            R_free = qr(R_free, mode="r")[0][: free.size] if free.size else None
            P_free = None
        else:
            P_free = self._P[np.ix_(free, free)]
            self._cross = self._P[free] @ self._forced
            R_free = None
        if free.size:
            reduced = constraints.restricted(
                free, self._forced
            ).with_empty_rows_relaxed()
            self._inner = QuadraticProgram(reduced, P=P_free, R=R_free)
        else:
            self._inner = False

    def _solve_eliminated(self, q):
        c = self.constraints
        eq, ineq = np.zeros(c.A_eq.shape[0]), np.zeros(c.A_ub.shape[0])
        lower, upper = np.zeros(c.n_vars), np.zeros(c.n_vars)
        n_iter = n_prox = 0
        inner = None
        if self._inner is not False:
            inner = self._inner.solve(self._inner_linear_term(q))
            eq, ineq = inner.eq, inner.ineq
            lower[self._free], upper[self._free] = inner.lower, inner.upper
            n_iter, n_prox = inner.n_iter, inner.n_proximal
        x = self._assembled(None if inner is None else inner.x)
        gradient = (
            self._R.T @ (self._R @ x) if self._R is not None else self._P @ x
        ) + q
        eq, ineq, lower, upper = _pinned_multipliers(
            c, x, gradient, self._fixed, eq, ineq, lower, upper
        )
        return QPResult(
            x=x,
            objective=float(self.objective(x, q)),
            eq=eq,
            ineq=ineq,
            lower=lower,
            upper=upper,
            n_iter=n_iter,
            n_proximal=n_prox,
        )

    def _inner_linear_term(self, q):
        return q[self._free] + self._cross

    def _assembled(self, free_values):
        """The pinned values with ``free_values`` (None: no free variable) in
        place, cleaned and verified."""
        x = self._forced.copy()
        if free_values is not None:
            x[self._free] = free_values
        x = self.constraints.clean(x)
        self.constraints.verify(x)
        return x

    def solve(self, q):
        """Solve for the linear term ``q``; returns a :class:`QPResult`."""
        q = np.asarray(q, dtype=float)
        if self._inner is not None:
            return self._solve_eliminated(q)
        x, lagrangian, n_iter, n_prox = self._iterate(q)
        x = self._cleaned(x, lagrangian)
        return self._finish(x, q, lagrangian, n_iter, n_prox)

    def minimiser(self, q):
        """The solution ``x`` for the linear term ``q`` alone.

        Cleaned and verified as by :meth:`solve`, without the objective and
        the multipliers, which cost more than the solve on small problems
        (a substituted pinned variable's multiplier takes a linear programme)
        and which callers that read only ``x`` do not need.
        """
        q = np.asarray(q, dtype=float)
        if self._inner is None:
            x, lagrangian, _, _ = self._iterate(q)
            return self._cleaned(x, lagrangian)
        if self._inner is False:
            return self._assembled(None)
        return self._assembled(self._inner.minimiser(self._inner_linear_term(q)))

    def _iterate(self, q):
        """quadprog, then the proximal refinement of a singular Hessian:
        ``(x, lagrangian, n_iter, n_proximal)``."""
        x, lagrangian, n_iter = self._quadprog(q)
        if self.delta > 0:
            return self._proximal_refinement(q, x, lagrangian, n_iter)
        return x, lagrangian, n_iter, 0

    def _cleaned(self, x, lagrangian):
        """``x`` without round-off, verified against the constraints."""
        c = self.constraints
        n_eq = c.A_eq.shape[0]
        x = c.clean(x, lagrangian[n_eq : n_eq + c.A_ub.shape[0]])
        c.verify(x)
        return x

    def _quadprog(self, q):
        C = self._C if self._C.shape[1] else None
        b = self._b if self._C.shape[1] else None
        try:
            x, _, _, iterations, lagrangian, _ = quadprog.solve_qp(
                self._Rinv, -q, C, b, self._meq, factorized=True
            )
        except ValueError as exc:
            self._explain_failure(exc)
        return x, lagrangian, int(iterations[0])

    def _explain_failure(self, exc):
        message = str(exc)
        if "inconsistent" in message:
            self.constraints.prove_infeasible()
            raise SolverError(
                "quadprog reported inconsistent constraints, but a feasible point "
                "exists: the problem is too badly scaled to solve accurately."
            ) from exc
        raise SolverError(f"quadprog failed: {message}") from exc

    def _proximal_refinement(self, q, x, lagrangian, n_iter):
        f_old = self.objective(x, q)
        for k in range(1, MAX_PROXIMAL_ITER + 1):
            x_new, lagrangian, it = self._quadprog(q - self.delta * x)
            n_iter += it
            f_new = self.objective(x_new, q)
            step = np.max(np.abs(x_new - x), initial=0.0)
            scale = max(abs(f_new), np.abs(q) @ np.abs(x_new), np.finfo(float).tiny)
            stalled = f_old - f_new <= 8 * np.finfo(float).eps * scale
            x, f_old = x_new, f_new
            if stalled or step <= PROXIMAL_STEP_TOL * max(1.0, np.max(np.abs(x))):
                return x, lagrangian, n_iter, k
        warnings.warn(
            f"The proximal refinement for a singular Hessian did not settle in "
            f"{MAX_PROXIMAL_ITER} steps; the objective may be slightly above its minimum.",
            ConvergenceWarning,
            stacklevel=3,
        )
        return x, lagrangian, n_iter, MAX_PROXIMAL_ITER

    def _finish(self, x, q, lagrangian, n_iter, n_prox):
        """The result at the cleaned ``x``, with quadprog's multipliers."""
        c = self.constraints
        n_eq = c.A_eq.shape[0]
        start_lb = n_eq + c.A_ub.shape[0]
        start_ub = start_lb + self._lb_index.size
        ineq = lagrangian[n_eq:start_lb]
        return QPResult(
            x=x,
            objective=float(self.objective(x, q)),
            eq=self._equality_multipliers(-lagrangian[:n_eq]),
            ineq=ineq,
            lower=_scatter(lagrangian[start_lb:start_ub], self._lb_index, c.n_vars),
            upper=_scatter(lagrangian[start_ub:], self._ub_index, c.n_vars),
            n_iter=n_iter,
            n_proximal=n_prox,
        )

    def _equality_multipliers(self, independent):
        """Multipliers of the equalities as given: 0 for the dependent rows dropped."""
        if self._eq_rows.size == self._n_eq_input:
            return independent
        return _scatter(independent, self._eq_rows, self._n_eq_input)


def _scatter(values, index, size):
    """``values`` at the sorted positions ``index`` of a vector of zeros."""
    if index.size == size:
        return values
    out = np.zeros(size)
    if index.size:
        out[index] = values
    return out


def _pinned_multipliers(c, x, gradient, pinned, eq, ineq, lower, upper):
    """Multipliers of a solution whose pinned variables were substituted.

    The rows that pinned them carry multipliers the reduced problem cannot
    see. They are found by a small linear programme: multipliers for the
    rows active at ``x`` (signed for equalities, non-negative for
    inequalities) such that each pinned variable's remaining gradient is
    absorbed by the bound it sits on, so the full KKT conditions hold.
    """
    tol = 1e-9 * max(1.0, np.max(np.abs(gradient)))
    active_ub = (c.b_ub - c.A_ub @ x) <= 1e-9 * np.maximum(1.0, np.abs(c.b_ub))
    at_lb = pinned & (x <= c.lb)
    at_ub = pinned & (x >= c.ub)
    # residual r = g + A_eq' eq + A_ub' ineq on pinned variables must be
    # >= 0 where only the lower bound is active, <= 0 where only the upper is.
    base = gradient + c.A_eq.T @ eq + c.A_ub.T @ ineq
    # Only rows on pinned variables alone: shifting a row that touches a free
    # variable would break that variable's stationarity.
    only_pinned_eq = ~np.any(c.A_eq[:, ~pinned], axis=1)
    only_pinned_ub = active_ub & ~np.any(c.A_ub[:, ~pinned], axis=1)
    rows = np.vstack([c.A_eq[only_pinned_eq], c.A_ub[only_pinned_ub]])
    n_eq = int(only_pinned_eq.sum())
    only_lb, only_ub = at_lb & ~at_ub, at_ub & ~at_lb
    A_ub = np.vstack([-rows[:, only_lb].T, rows[:, only_ub].T])
    b_ub = np.concatenate([base[only_lb], -base[only_ub]]) + tol
    bounds = [(None, None)] * n_eq + [(0, None)] * int(only_pinned_ub.sum())
    if rows.shape[0] and A_ub.shape[0]:
        shift = linprog(
            np.zeros(rows.shape[0]), A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs"
        )
        if shift.status == 0:
            eq = eq.copy()
            eq[only_pinned_eq] += shift.x[:n_eq]
            ineq = ineq.copy()
            ineq[only_pinned_ub] += shift.x[n_eq:]
    residual = gradient + c.A_eq.T @ eq + c.A_ub.T @ ineq
    lower = np.where(pinned, np.maximum(residual, 0.0), lower)
    upper = np.where(pinned, np.maximum(-residual, 0.0), upper)
    return eq, ineq, lower, upper


def _inverse_factor(P, R, rcond=None):
    """``R^{-1}`` for quadprog's factorised mode, and the regularisation used.

    ``R`` is read as upper triangular, with the reciprocal condition number
    ``rcond`` if known. Returns ``(Rinv, delta)`` where
    ``(R'R + delta I) = P + delta I`` and ``delta = 0`` when P is numerically
    positive definite.
    """
    if R is None:
        factor, rcond_min, rcond = _cholesky_or_none(P), RCOND_MIN, None
    else:
        factor, rcond_min = R, FACTOR_RCOND_MIN
    if factor is not None and rcond is None:
        rcond = _rcond(factor)
    if factor is not None and rcond >= rcond_min:
        return _triangular_inverse(factor), 0.0
    if P is not None:
        delta = RELATIVE_DELTA * _positive_or_one(np.max(np.diag(P), initial=0.0))
        factor = _cholesky_or_none(P + delta * np.eye(P.shape[0]))
        if factor is None:
            _raise_not_psd(P)
    else:
        R = np.triu(R)
        column_norms = np.max(np.sum(R * R, axis=0), initial=0.0)
        delta = RELATIVE_DELTA * _positive_or_one(column_norms)
        stacked = np.vstack([R, np.sqrt(delta) * np.eye(R.shape[1])])
        factor = qr(stacked, mode="r")[0][: R.shape[1]]
    return _triangular_inverse(factor), delta


def _positive_or_one(scale):
    """The scale of P for its regularisation; 1 for a zero P."""
    return scale if scale > 0 else 1.0


def _cholesky_or_none(P):
    """Upper Cholesky factor of ``P`` (LAPACK ``dpotrf``), None if it is not
    numerically positive definite."""
    R, info = dpotrf(P, lower=0, clean=1)
    return R if info == 0 else None


def _rcond(R, lower=False):
    """Reciprocal condition number (1-norm estimate) of an upper-triangular ``R``
    (lower-triangular with ``lower=True``); 0 when ``R`` is singular (LAPACK
    ``dtrcon`` stops there) or not finite."""
    rcond, info = dtrcon(R, norm="1", uplo="L" if lower else "U", diag="N")
    return rcond if info == 0 else 0.0


def _triangular_inverse(R):
    inverse, info = dtrtri(R, lower=0)
    if info != 0:
        raise SolverError(
            "The Hessian factor is singular; this is a bug, please report it."
        )
    return inverse


def _raise_not_psd(P):
    smallest = np.linalg.eigvalsh(P)[0]
    raise NotPositiveSemidefiniteError(
        f"The quadratic term is not positive semi-definite: its smallest "
        f"eigenvalue is {smallest:.3g} (largest diagonal entry "
        f"{np.max(np.diag(P)):.3g})."
    )


def solve_qp(
    P,
    q,
    A_eq=None,
    b_eq=None,
    A_ub=None,
    b_ub=None,
    lb=None,
    ub=None,
    *,
    R=None,
):
    """Solve a convex quadratic programme exactly.

    ::

        minimise    1/2 x'Px + q'x
        subject to  A_eq x = b_eq,  A_ub x <= b_ub,  lb <= x <= ub

    Parameters
    ----------
    P : ndarray of shape (n, n) or None
        Symmetric positive semi-definite matrix. Pass None and give ``R``
        instead to use a factor.
    q : ndarray of shape (n,)
    A_eq, b_eq, A_ub, b_ub : ndarray, optional
        Linear equality and inequality constraints.
    lb, ub : float or ndarray of shape (n,), optional
        Bounds; ``-inf``/``inf`` (or None) leave a side free.
    R : ndarray of shape (n, n), optional
        Upper-triangular ``R`` with ``P = R'R``.

    Returns
    -------
    QPResult
        The solution, objective and multipliers.

    Raises
    ------
    InfeasibleConstraintsError
        No point satisfies the constraints; the message names the conflict.
    NotPositiveSemidefiniteError
        ``P`` has a clearly negative eigenvalue.
    SolverError
        The solve failed numerically or its answer failed verification.

    Notes
    -----
    A singular ``P`` is handled by proximal-point refinement (see the module
    documentation), so the objective is optimal even without a unique solution.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio._qp import solve_qp
    >>> res = solve_qp(np.eye(2), np.array([-1.0, -2.0]), A_eq=[[1, 1]], b_eq=[1], lb=0)
    >>> res.x
    array([0., 1.])
    >>> float(res.eq[0])
    1.0
    """
    q = np.asarray(q, dtype=float)
    constraints = LinearConstraints.from_arrays(
        q.shape[0], A_eq=A_eq, b_eq=b_eq, A_ub=A_ub, b_ub=b_ub, lb=lb, ub=ub
    )
    return QuadraticProgram(constraints, P=P, R=R).solve(q)


__all__ = ["InfeasibleConstraintsError", "QPResult", "QuadraticProgram", "solve_qp"]
