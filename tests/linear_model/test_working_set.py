"""The working set of ConstrainedLinearRegression on ill-conditioned designs.

References: quadprog on the full problem with the QR factor of the whole
design (the path the working set replaces) and cvxpy+Clarabel at tight
tolerances (``tests.reference``). Objectives are sums of squares computed
from ``X`` itself, never from a Gram matrix.
"""

import numpy as np
import pytest

from skportfolio import ConstrainedLinearRegression, _working_set
from skportfolio._qp import QuadraticProgram
from skportfolio.covariance import DenseCovariance
from skportfolio.linear_model import _factorization
from skportfolio.linear_model import _working_set as least_squares_working_set
from skportfolio.linear_model._constrained import (
    LeastSquaresSolver,
    regression_constraints,
)
from skportfolio.linear_model._factorization import qr_factor
from skportfolio.linear_model._working_set import LeastSquaresWorkingSet
from tests.linear_model.test_constrained import simplex_solution_on_support
from tests.reference import reference_least_squares

OBJECTIVE_RTOL = 1e-12


def ill_conditioned_problem(seed, n_samples, n_features, condition):
    """``X = U diag(s) V'`` with ``cond(X) = condition``; ``y`` from a sparse
    point of the simplex plus noise, so that positivity binds."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n_samples, n_features)))
    V, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
    X = (U * np.logspace(0, -np.log10(condition), n_features)) @ V.T
    coef = np.zeros(n_features)
    support = rng.choice(n_features, n_features // 2, replace=False)
    coef[support] = rng.dirichlet(np.ones(support.size))
    return X, X @ coef + 0.005 * rng.standard_normal(n_samples)


def sum_of_squares(X, y, coef):
    residual = y - X @ coef
    return float(residual @ residual)


def full_solution(X, y, constraints):
    """quadprog on the whole problem with the QR factor of the whole design."""
    R = qr_factor(X, X.T @ X)
    return QuadraticProgram(constraints, R=R).solve(-(X.T @ y))


def record_calls(monkeypatch, owner, name, summary=lambda *args: args):
    """Wrap ``owner.name`` so that each call appends ``summary(result, *args)``."""
    calls = []
    original = getattr(owner, name)

    def recording(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(summary(result, *args))
        return result

    monkeypatch.setattr(owner, name, recording)
    return calls


def record_solves(monkeypatch):
    """``(size, accurate)`` of each restricted solve, and the full solves."""
    restricted = record_calls(
        monkeypatch,
        _working_set.WorkingSet,
        "_solve_restricted",
        lambda result, self, in_set: (int(np.count_nonzero(in_set)), result[1]),
    )
    full = record_calls(monkeypatch, LeastSquaresSolver, "_solve_full")
    return restricted, full


def simplex_fit(X, y, **params):
    params = {"positive": True, "sum_to": 1.0, **params}
    return ConstrainedLinearRegression(fit_intercept=False, **params).fit(X, y)


def assert_optimal(X, y, coef, constraints, *, reference_constraints):
    """Within 1e-12 of quadprog on the full problem, and no worse than
    Clarabel; feasible to 1e-12. Returns the full problem's solution."""
    full = full_solution(X, y, constraints)
    objective, best = sum_of_squares(X, y, coef), sum_of_squares(X, y, full.x)
    assert abs(objective - best) <= OBJECTIVE_RTOL * best
    _, reference = reference_least_squares(X, y, **reference_constraints)
    assert objective <= reference * (1 + OBJECTIVE_RTOL)
    assert abs(coef.sum() - 1.0) <= 1e-12
    assert np.all(coef >= constraints.lb) and np.all(coef <= constraints.ub)
    return full


@pytest.mark.parametrize(
    "seed, n_samples, n_features, condition",
    [(0, 2000, 50, 1e8), (1, 5000, 50, 1e8), (2, 3000, 80, 1e10), (3, 5000, 60, 1e6)],
)
def test_matches_the_full_qp_and_clarabel(
    seed, n_samples, n_features, condition, monkeypatch
):
    X, y = ill_conditioned_problem(seed, n_samples, n_features, condition)
    restricted, full_solves = record_solves(monkeypatch)
    reg = simplex_fit(X, y)
    assert reg.factorization_ == "working_set"
    assert restricted and not full_solves
    # Every working set is much smaller than the design; the answer comes
    # from an accurate restricted solve.
    assert max(size for size, _ in restricted) <= n_features // 2
    assert restricted[-1][1]
    constraints = regression_constraints(n_features, positive=True, sum_to=1.0)
    full = assert_optimal(
        X,
        y,
        reg.coef_,
        constraints,
        reference_constraints=dict(A_eq=np.ones((1, n_features)), b_eq=[1.0], lb=0.0),
    )
    # The optimum's support is well conditioned, and the coefficients are
    # those of the sum-to-one fit on it computed from X_S itself; quadprog on
    # the full problem loses digits to the inverse of the whole factor.
    candidate = simplex_solution_on_support(X, y, reg.coef_ > 0)
    np.testing.assert_allclose(reg.coef_, candidate, rtol=0, atol=1e-12)
    np.testing.assert_allclose(reg.coef_, full.x, rtol=0, atol=1e-8)


def test_kkt_multipliers_of_the_full_problem():
    X, y = ill_conditioned_problem(4, 4000, 50, 1e8)
    constraints = regression_constraints(50, positive=True, sum_to=1.0)
    gram = X.T @ X
    q = -(X.T @ y)
    result = LeastSquaresWorkingSet(
        X, DenseCovariance(gram), q, constraints, solve_full=None
    ).solve()
    full = full_solution(X, y, constraints)
    # Stationarity X'(Xb - y) + 1 eq - lower = 0, the gradient computed from X.
    gradient = X.T @ (X @ result.x - y)
    scale = np.max(np.abs(X.T @ y))
    stationarity = gradient + result.eq[0] - result.lower
    assert np.max(np.abs(stationarity)) <= 1e-10 * scale
    assert np.all(result.lower >= 0) and np.all(result.upper == 0)
    assert np.max(result.lower * result.x) <= 1e-12 * scale
    # Unique multipliers (the support's columns are independent): the full
    # problem's.
    np.testing.assert_allclose(result.eq, full.eq, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(result.lower, full.lower, rtol=0, atol=1e-10 * scale)
    assert result.objective == pytest.approx(
        0.5 * sum_of_squares(X, y, result.x) - 0.5 * y @ y, rel=1e-10
    )


def test_wrong_first_working_set_must_grow(monkeypatch):
    # Start from four columns outside the optimum's support, ranked before
    # every column of it: the loop must find the optimum through several
    # rounds of additions.
    X, y = ill_conditioned_problem(5, 3000, 60, 1e8)
    constraints = regression_constraints(60, positive=True, sum_to=1.0)
    support = full_solution(X, y, constraints).x > 0
    support_last = support + np.linspace(0.0, 0.5, 60)
    monkeypatch.setattr(_working_set, "MIN_INITIAL_SIZE", 4)
    monkeypatch.setattr(_working_set, "INITIAL_SIZE_PER_SQRT_N", 0.0)
    monkeypatch.setattr(_working_set, "MIN_BATCH", 2)
    monkeypatch.setattr(_working_set, "BATCH_FRACTION", 0.25)
    monkeypatch.setattr(_working_set, "_attractiveness", lambda P, q: support_last)
    restricted, full_solves = record_solves(monkeypatch)
    reg = simplex_fit(X, y)
    assert len(restricted) >= 5 and not full_solves
    assert restricted[0][0] == 4
    assert_optimal(
        X,
        y,
        reg.coef_,
        constraints,
        reference_constraints=dict(A_eq=np.ones((1, 60)), b_eq=[1.0], lb=0.0),
    )


def test_inaccurate_blocks_take_the_qr_factor_of_their_columns(monkeypatch):
    # With every Gram block declared too ill-conditioned, all restricted
    # solves but the last are provisional; the last is on the QR factor of
    # the working columns, never of the whole design.
    X, y = ill_conditioned_problem(6, 3000, 50, 1e8)
    monkeypatch.setattr(_factorization, "GRAM_COND_MAX", 1.0)
    factored = record_calls(
        monkeypatch,
        least_squares_working_set,
        "qr_factor",
        lambda result, columns, gram: columns.shape[1],
    )
    restricted, full_solves = record_solves(monkeypatch)
    reg = simplex_fit(X, y)
    assert not full_solves
    assert [accurate for _, accurate in restricted[:-1]] == [False] * (
        len(restricted) - 1
    )
    assert restricted[-1][1]
    assert factored == [restricted[-1][0]]
    assert factored[0] == np.count_nonzero(reg.coef_)
    assert_optimal(
        X,
        y,
        reg.coef_,
        regression_constraints(50, positive=True, sum_to=1.0),
        reference_constraints=dict(A_eq=np.ones((1, 50)), b_eq=[1.0], lb=0.0),
    )


def test_failed_certificate_falls_back_to_the_full_qp(monkeypatch):
    X, y = ill_conditioned_problem(7, 2000, 50, 1e8)
    monkeypatch.setattr(_working_set, "KKT_RTOL", -1.0)
    restricted, full_solves = record_solves(monkeypatch)
    reg = simplex_fit(X, y)
    assert restricted and len(full_solves) == 1
    constraints = regression_constraints(50, positive=True, sum_to=1.0)
    np.testing.assert_array_equal(reg.coef_, full_solution(X, y, constraints).x)


def test_support_beyond_half_the_features_falls_back_to_the_full_qp(monkeypatch):
    # A cap of 1/30 needs at least 30 of the 50 features: the first working
    # set that can meet the budget is already too large.
    X, y = ill_conditioned_problem(8, 2000, 50, 1e8)
    restricted, full_solves = record_solves(monkeypatch)
    reg = simplex_fit(X, y, bounds=(0.0, 1 / 30))
    assert reg.factorization_ == "working_set"
    assert not restricted and len(full_solves) == 1
    assert np.count_nonzero(reg.coef_) >= 30
    assert_optimal(
        X,
        y,
        reg.coef_,
        regression_constraints(50, positive=True, sum_to=1.0, bounds=(0.0, 1 / 30)),
        reference_constraints=dict(
            A_eq=np.ones((1, 50)), b_eq=[1.0], lb=0.0, ub=1 / 30
        ),
    )


def test_each_target_has_its_own_working_set(monkeypatch):
    X, y = ill_conditioned_problem(9, 2000, 50, 1e8)
    _, other = ill_conditioned_problem(10, 2000, 50, 1e8)
    restricted, full_solves = record_solves(monkeypatch)
    both = simplex_fit(X, np.column_stack([y, other]))
    assert restricted and not full_solves
    # X'Y of two targets rounds differently from X'y of one.
    for coef, target in zip(both.coef_, (y, other)):
        np.testing.assert_allclose(coef, simplex_fit(X, target).coef_, atol=1e-12)


@pytest.mark.parametrize(
    "shape, condition, factorization",
    [((2000, 50), 10.0, "cholesky"), ((1000, 40), 1e8, "qr"), ((2000, 20), 1e8, "qr")],
    ids=["well-conditioned", "little-qr-work", "few-features"],
)
def test_where_the_working_set_is_not_used(shape, condition, factorization):
    # A well-conditioned design has its Cholesky factor at no extra cost; a
    # small QR factor costs less than the working set's round trips.
    X, y = ill_conditioned_problem(11, *shape, condition)
    assert simplex_fit(X, y).factorization_ == factorization
