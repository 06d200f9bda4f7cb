"""Problems and independent reference solutions shared by the portfolio tests.

The reference for a portfolio QP is Clarabel (through cvxpy, at the tight
tolerances of tests.reference) followed by *active-set polishing*: the
constraints Clarabel leaves active are imposed as equalities and the KKT
system is solved with numpy, and the polished point is accepted only if it is
feasible and its multipliers have the right signs, i.e. if it is certified
optimal. Interior-point solutions alone err like the square root of their
duality gap (about 1e-7 in the weights); the polished ones are exact to
round-off, so weights can be compared to 1e-8.
"""

import warnings

import cvxpy as cp
import numpy as np
from scipy.optimize import lsq_linear
from sklearn.base import BaseEstimator

from tests.reference import TIGHT, _constraints

# Tolerances tried, in order, to decide from Clarabel's solution which
# constraints are active.
ACTIVE_TOLERANCES = (1e-9, 1e-8, 1e-7, 1e-6, 1e-5)


class FixedCovariance(BaseEstimator):
    """A covariance "estimator" whose ``covariance_`` is a given matrix."""

    def __init__(self, covariance=None):
        self.covariance = covariance

    def fit(self, X, y=None):
        self.covariance_ = np.array(self.covariance, dtype=float)
        return self


class FixedMean(BaseEstimator):
    """A mean "estimator" whose ``location_`` is a given vector."""

    def __init__(self, location=None):
        self.location = location

    def fit(self, X, y=None):
        self.location_ = np.array(self.location, dtype=float)
        return self


def factor_returns(seed, n_periods, n_assets, n_factors=3, drift=0.005):
    """Monthly-like returns of a factor model with different means per asset."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(n_assets, n_factors)) * 0.5
    loadings[:, 0] += 1.0
    factors = rng.standard_normal((n_periods, n_factors)) * 0.03
    noise = rng.standard_normal((n_periods, n_assets)) * rng.uniform(
        0.01, 0.05, n_assets
    )
    means = drift + rng.normal(scale=0.005, size=n_assets)
    return means + factors @ loadings.T + noise


def ill_conditioned_returns(seed, n_periods, n_assets):
    """Returns whose sample covariance has a condition number near 1e10.

    Pairs of assets are nearly collinear (one is the other plus noise 1e-4
    as large) and volatilities span two orders of magnitude.
    """
    rng = np.random.default_rng(seed)
    X = factor_returns(seed, n_periods, n_assets)
    X[:, 1] = X[:, 0] + 1e-4 * 0.03 * rng.standard_normal(n_periods)
    X[:, -1] = X[:, -2] * 1.01 + 3e-6 * rng.standard_normal(n_periods)
    X[:, 2] *= 0.01
    return X


def constraint_cases(n_assets):
    """Constraint parameters shared by MinimumVariance and MeanVariance."""
    rng = np.random.default_rng(n_assets)
    groups = np.arange(n_assets) % 3
    A_ub = np.vstack(
        [rng.uniform(0.5, 1.5, n_assets), np.eye(n_assets)[0] - np.eye(n_assets)[1]]
    )
    return {
        "long_only": {},
        "bounds": dict(min_weights=0.01, max_weights=0.3),
        "shorts": dict(min_weights=-0.3, max_weights=0.6),
        "groups": dict(
            groups=groups,
            group_bounds={0: (0.2, 0.45), 1: (None, 0.3)},
            max_weights=0.4,
        ),
        "A_ub": dict(A_ub=A_ub, b_ub=[0.95, 0.02], min_weights=-0.1),
        "budget_and_A_eq": dict(
            A_eq=[np.linspace(0.0, 1.0, n_assets)], b_eq=[0.4], min_weights=-0.2
        ),
    }


def constraint_arrays(constraints):
    """Keyword arguments of tests.reference.reference_qp for a LinearConstraints."""
    c = constraints
    return dict(
        A_eq=c.A_eq if c.A_eq.shape[0] else None,
        b_eq=c.b_eq if c.A_eq.shape[0] else None,
        A_ub=c.A_ub if c.A_ub.shape[0] else None,
        b_ub=c.b_ub if c.A_ub.shape[0] else None,
        lb=c.lb,
        ub=c.ub,
    )


def add_return_floor(constraints_arrays, mean, target):
    """``mean @ w >= target`` appended to reference_qp's inequality arrays."""
    arrays = dict(constraints_arrays)
    row, rhs = -np.asarray(mean)[None, :], [-target]
    if arrays["A_ub"] is None:
        arrays["A_ub"], arrays["b_ub"] = row, np.array(rhs)
    else:
        arrays["A_ub"] = np.vstack([arrays["A_ub"], row])
        arrays["b_ub"] = np.concatenate([arrays["b_ub"], rhs])
    return arrays


def clarabel(P, q, arrays):
    """Clarabel's ``(x, objective)``; "optimal_inaccurate" is accepted because
    on ill-conditioned problems Clarabel reports it while still far more
    accurate than the one-sided objective checks need."""
    x = cp.Variable(len(q))
    P = 0.5 * (P + P.T)
    problem = cp.Problem(
        cp.Minimize(0.5 * cp.quad_form(x, cp.psd_wrap(P)) + q @ x),
        _constraints(x, **arrays),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(**TIGHT)
    assert problem.status in ("optimal", "optimal_inaccurate"), problem.status
    return x.value, 0.5 * x.value @ P @ x.value + q @ x.value


def reference_portfolio(P, q, arrays):
    """``(x, objective, polished)`` for ``min 1/2 x'Px + q'x``; ``polished`` is
    the certified active-set solution, or None if no active set passed."""
    x, objective = clarabel(P, q, arrays)
    for tol in ACTIVE_TOLERANCES:
        polished = _polish(P, q, arrays, x, tol)
        if polished is not None:
            return x, objective, polished
    return x, objective, None


def _dense(arrays, n):
    A_eq = np.zeros((0, n)) if arrays["A_eq"] is None else np.atleast_2d(arrays["A_eq"])
    b_eq = np.zeros(0) if arrays["b_eq"] is None else np.atleast_1d(arrays["b_eq"])
    A_ub = np.zeros((0, n)) if arrays["A_ub"] is None else np.atleast_2d(arrays["A_ub"])
    b_ub = np.zeros(0) if arrays["b_ub"] is None else np.atleast_1d(arrays["b_ub"])
    lb = np.broadcast_to(np.asarray(arrays["lb"], dtype=float), (n,))
    ub = np.broadcast_to(np.asarray(arrays["ub"], dtype=float), (n,))
    return A_eq, b_eq, A_ub, b_ub, lb, ub


def _polish(P, q, arrays, x, tol):
    n = len(q)
    A_eq, b_eq, A_ub, b_ub, lb, ub = _dense(arrays, n)
    at_lb = np.isfinite(lb) & (x - lb <= tol * (1 + np.abs(lb)))
    at_ub = np.isfinite(ub) & (ub - x <= tol * (1 + np.abs(ub))) & ~at_lb
    active = b_ub - A_ub @ x <= tol * (1 + np.abs(b_ub))
    fixed = at_lb | at_ub
    free = ~fixed
    x_fixed = np.where(at_lb, lb, np.where(at_ub, ub, 0.0))
    C = np.vstack([A_eq, A_ub[active]])
    d = np.concatenate([b_eq, b_ub[active]])
    nf, m = int(free.sum()), C.shape[0]
    K = np.zeros((nf + m, nf + m))
    K[:nf, :nf] = P[np.ix_(free, free)]
    K[:nf, nf:] = C[:, free].T
    K[nf:, :nf] = C[:, free]
    rhs = np.concatenate([-q[free] - P[free] @ x_fixed, d - C @ x_fixed])
    solution = np.linalg.lstsq(K, rhs, rcond=None)[0]
    polished = x_fixed.copy()
    polished[free] = solution[:nf]
    feasible = (
        np.all(np.abs(A_eq @ polished - b_eq) <= 1e-12 * (1 + np.abs(b_eq)))
        and np.all(A_ub @ polished - b_ub <= 1e-12 * (1 + np.abs(b_ub)))
        and np.all(polished >= lb - 1e-13)
        and np.all(polished <= ub + 1e-13)
    )
    return (
        polished
        if feasible and _has_multipliers(P, q, polished, C, len(b_eq), at_lb, at_ub)
        else None
    )


def _has_multipliers(P, q, x, C, n_eq, at_lb, at_ub):
    """Whether multipliers of the right signs make ``x`` stationary.

    Found by bounded least squares, so degenerate vertices (more active
    constraints than variables, non-unique multipliers) are certified too.
    """
    n = len(q)
    eye = np.eye(n)
    G = np.column_stack([C.T, -eye[:, at_lb], eye[:, at_ub]])
    gradient = P @ x + q
    if not G.shape[1]:
        residual = gradient
    else:
        lower = np.r_[np.full(n_eq, -np.inf), np.zeros(G.shape[1] - n_eq)]
        fit = lsq_linear(G, -gradient, bounds=(lower, np.inf), method="bvls", tol=1e-14)
        residual = gradient + G @ fit.x
    scale = np.max(np.abs(P) @ np.abs(x) + np.abs(q)) + np.finfo(float).tiny
    return np.max(np.abs(residual)) <= 1e-10 * scale


def objective(P, q, x):
    return 0.5 * x @ P @ x + q @ x


def objective_scale(P, q, x):
    """Size of the objective's terms, for relative comparisons."""
    return 0.5 * x @ P @ x + np.abs(q) @ np.abs(x) + np.finfo(float).tiny


def max_violation(constraints, x):
    """Largest violation of any constraint of a LinearConstraints."""
    eq, ub, bounds = constraints.violations(x)
    return max(np.max(v, initial=0.0) for v in (eq, ub, bounds))


def assert_kkt(result, P, q, constraints, rtol=1e-9):
    """The multipliers of a QPResult certify its optimality."""
    c = constraints
    x = result.x
    terms = [
        P @ x,
        q,
        c.A_eq.T @ result.eq,
        c.A_ub.T @ result.ineq,
        -result.lower,
        result.upper,
    ]
    scale = max(np.max(np.abs(term), initial=0.0) for term in terms)
    scale = max(scale, np.max(np.abs(P)) * np.max(np.abs(x)))
    assert np.max(np.abs(sum(terms))) <= rtol * scale
    for multiplier in (result.ineq, result.lower, result.upper):
        assert np.all(multiplier >= 0)
    slack_ub = c.b_ub - c.A_ub @ x
    assert np.max(np.abs(result.ineq * slack_ub), initial=0.0) <= rtol * scale
    finite_lb, finite_ub = np.isfinite(c.lb), np.isfinite(c.ub)
    assert np.all(result.lower[~finite_lb] == 0) and np.all(
        result.upper[~finite_ub] == 0
    )
    assert np.max(
        np.abs(result.lower[finite_lb] * (x - c.lb)[finite_lb]), initial=0.0
    ) <= (rtol * scale)
    assert np.max(
        np.abs(result.upper[finite_ub] * (c.ub - x)[finite_ub]), initial=0.0
    ) <= (rtol * scale)
    assert max_violation(c, x) <= 1e-10
