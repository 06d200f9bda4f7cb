"""Independent reference solvers for the tests: cvxpy with Clarabel at tight tolerances."""

import cvxpy as cp
import numpy as np

TIGHT = dict(
    solver="CLARABEL",
    tol_gap_abs=1e-13,
    tol_gap_rel=1e-13,
    tol_feas=1e-13,
    tol_ktratio=1e-10,
    max_iter=500,
)


# Clarabel occasionally stalls at the tightest tolerances; each solve retries
# with the next setting before giving up.
SETTINGS = [
    TIGHT,
    {**TIGHT, "tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11},
    {"solver": "CLARABEL", "max_iter": 500},
]


def _solve(problem):
    for settings in SETTINGS:
        try:
            problem.solve(**settings)
        except cp.error.SolverError:
            continue
        if problem.status == "optimal":
            return
    raise AssertionError(f"the reference solver failed: {problem.status}")


def _constraints(x, A_eq=None, b_eq=None, A_ub=None, b_ub=None, lb=None, ub=None):
    cons = []
    if A_eq is not None:
        cons.append(np.atleast_2d(A_eq) @ x == np.atleast_1d(b_eq))
    if A_ub is not None:
        cons.append(np.atleast_2d(A_ub) @ x <= np.atleast_1d(b_ub))
    n = x.shape[0]
    if lb is not None:
        lb = np.broadcast_to(np.asarray(lb, dtype=float), (n,))
        finite = np.isfinite(lb)
        if finite.any():
            cons.append(x[np.flatnonzero(finite)] >= lb[finite])
    if ub is not None:
        ub = np.broadcast_to(np.asarray(ub, dtype=float), (n,))
        finite = np.isfinite(ub)
        if finite.any():
            cons.append(x[np.flatnonzero(finite)] <= ub[finite])
    return cons


def reference_qp(P, q, **constraints):
    """Minimise 1/2 x'Px + q'x with Clarabel; returns (x, objective)."""
    n = len(q)
    x = cp.Variable(n)
    P = 0.5 * (P + P.T)
    objective = 0.5 * cp.quad_form(x, cp.psd_wrap(P)) + q @ x
    problem = cp.Problem(cp.Minimize(objective), _constraints(x, **constraints))
    _solve(problem)
    return x.value, 0.5 * x.value @ P @ x.value + q @ x.value


def reference_least_squares(X, y, **constraints):
    """Minimise ||y - X b||^2 with Clarabel; returns (b, objective).

    The least-squares (second-order cone) form first; if Clarabel fails on it,
    the same problem in quadratic form ``1/2 b'X'Xb - y'Xb``.
    """
    b = cp.Variable(X.shape[1])
    problem = cp.Problem(
        cp.Minimize(cp.sum_squares(X @ b - y)), _constraints(b, **constraints)
    )
    try:
        _solve(problem)
        coef = b.value
    except AssertionError:
        coef, _ = reference_qp(X.T @ X, -X.T @ y, **constraints)
    return coef, float(np.sum((X @ coef - y) ** 2))
