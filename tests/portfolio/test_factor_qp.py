"""Newton's method on the dual of a factor-model QP (skportfolio.portfolio._factor_qp).

Every problem is checked against quadprog on the dense matrix of the same
model (exact, as Σ is positive definite the minimiser is unique) and, at a
few sizes, cvxpy+Clarabel; the KKT conditions of the full problem are
checked with the multipliers the solver returns.
"""

import numpy as np
import pytest

from skportfolio._constraints import LinearConstraints
from skportfolio._qp import QuadraticProgram
from skportfolio.covariance import FactorCovariance
from skportfolio.exceptions import InfeasibleConstraintsError, SolverError
from skportfolio.portfolio import _solve
from skportfolio.portfolio._factor_qp import FactorQPError, solve_factor_qp
from skportfolio.portfolio._solve import solve_portfolio_qp
from tests.portfolio.test_working_set import assert_kkt
from tests.reference import reference_qp

WEIGHT_ATOL = 1e-9
OBJECTIVE_RTOL = 1e-11


def random_structure(rng, n_assets, n_factors, idiosyncratic_scale=1.0):
    loadings = rng.normal(0.0, 0.5, size=(n_assets, n_factors))
    loadings[:, 0] += 1.0
    volatility = 0.04 * np.geomspace(1.0, 0.3, n_factors)
    return FactorCovariance(
        loadings,
        np.diag(volatility**2),
        idiosyncratic_scale * rng.uniform(2e-4, 1e-3, n_assets),
    )


def problem(family, seed, n_assets=120, n_factors=4, idiosyncratic_scale=1.0):
    """``(structure, q, arrays of the constraints)`` for one constraint family."""
    rng = np.random.default_rng(seed)
    structure = random_structure(rng, n_assets, n_factors, idiosyncratic_scale)
    mean = rng.normal(0.008, 0.004, n_assets)
    n = n_assets
    arrays = dict(
        A_eq=np.ones((1, n)),
        b_eq=[1.0],
        A_ub=np.zeros((0, n)),
        b_ub=np.zeros(0),
        lb=np.zeros(n),
        ub=np.ones(n),
    )
    q = np.zeros(n)
    sector = np.arange(n) % 5
    if family == "mean-variance":
        q = -mean / 5.0
    elif family == "capped":
        arrays["ub"] = np.full(n, 4.0 / n)
    elif family == "lower bounds":
        arrays["lb"] = np.full(n, 0.2 / n)
    elif family == "shorts boxed":
        arrays["lb"], arrays["ub"] = np.full(n, -0.1), np.full(n, 0.15)
        q = -mean / 20.0
    elif family == "sector limits":
        arrays["A_ub"] = np.vstack([1.0 * (sector == 0), -1.0 * (sector == 1)])
        arrays["b_ub"] = np.array([0.05, -0.3])
    elif family == "sector equality":
        arrays["A_eq"] = np.vstack([np.ones(n), (sector == 2) * 1.0])
        arrays["b_eq"] = [1.0, 0.25]
    elif family == "target return":
        arrays["A_ub"] = -mean[np.newaxis]
        arrays["b_ub"] = np.array([-np.quantile(mean, 0.8)])
    elif family == "no budget":
        arrays.update(A_eq=np.zeros((0, n)), b_eq=np.zeros(0))
        arrays["ub"] = np.full(n, 0.05)
        q = -mean
    elif family == "pinned":
        arrays["lb"][:3] = arrays["ub"][:3] = 0.02
    return structure, q, arrays


FAMILIES = [
    "long-only",
    "mean-variance",
    "capped",
    "lower bounds",
    "shorts boxed",
    "sector limits",
    "sector equality",
    "target return",
    "no budget",
    "pinned",
]


def constraints_of(arrays):
    return LinearConstraints.from_arrays(arrays["lb"].size, **arrays)


def assert_solves_exactly(structure, q, arrays):
    constraints = constraints_of(arrays)
    result = solve_factor_qp(structure, q, constraints)
    P = structure.dense()
    full = QuadraticProgram(constraints, P=P).solve(q)
    np.testing.assert_allclose(result.x, full.x, rtol=0, atol=WEIGHT_ATOL)
    # Relative to the sizes of the objective's terms: with little
    # idiosyncratic risk the optimum hedges most of them away.
    x = np.abs(full.x)
    scale = x @ np.abs(P) @ x + np.abs(q) @ x
    assert abs(result.objective - full.objective) <= OBJECTIVE_RTOL * scale
    assert result.objective == pytest.approx(
        0.5 * result.x @ P @ result.x + q @ result.x
    )
    assert_kkt(result, P, q, **{k: np.asarray(v, float) for k, v in arrays.items()})
    return result, full


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("family", FAMILIES)
def test_matches_quadprog_on_the_dense_matrix(family, seed):
    assert_solves_exactly(*problem(family, seed))


@pytest.mark.parametrize("family", ["long-only", "sector limits", "shorts boxed"])
def test_matches_clarabel(family):
    structure, q, arrays = problem(family, 10, n_assets=60, n_factors=3)
    result = solve_factor_qp(structure, q, constraints_of(arrays))
    kwargs = dict(arrays)
    if not kwargs["A_ub"].shape[0]:
        kwargs["A_ub"] = kwargs["b_ub"] = None
    _, objective = reference_qp(structure.dense(), q, **kwargs)
    assert result.objective == pytest.approx(objective, rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("idiosyncratic_scale", [1e-3, 1e-6])
@pytest.mark.parametrize("family", ["long-only", "capped", "sector limits"])
def test_tiny_idiosyncratic_risk(family, idiosyncratic_scale):
    # Nearly singular Σ: the factors explain almost everything.
    assert_solves_exactly(*problem(family, 20, idiosyncratic_scale=idiosyncratic_scale))


@pytest.mark.parametrize(
    "family, seed, n_assets, n_factors, idiosyncratic_scale",
    [("long-only", 1000, 24, 8, 2.5e-7), ("target return", 1067, 120, 3, 1.5e-4)],
)
def test_extreme_factor_dominance_is_solved_by_the_fallback(
    family, seed, n_assets, n_factors, idiosyncratic_scale
):
    # Idiosyncratic variances a millionth of the factor risk make the dual's
    # pieces so narrow that Newton's method gives up on these problems;
    # solve_portfolio_qp must still return the optimum.
    structure, q, arrays = problem(
        family, seed, n_assets, n_factors, idiosyncratic_scale
    )
    constraints = constraints_of(arrays)
    result = solve_portfolio_qp(structure, q, constraints)
    full = QuadraticProgram(constraints, P=structure.dense()).solve(q)
    np.testing.assert_allclose(result.x, full.x, rtol=0, atol=WEIGHT_ATOL)


def test_one_factor_and_many_factors():
    assert_solves_exactly(*problem("long-only", 21, n_factors=1))
    assert_solves_exactly(*problem("sector limits", 22, n_assets=80, n_factors=30))


def test_large_support_costs_few_iterations():
    # Half the assets held: the dual has K + 1 = 5 variables whatever that.
    structure, q, arrays = problem("capped", 23, n_assets=1000)
    arrays["ub"] = np.full(1000, 1.0 / 400)
    result, _ = assert_solves_exactly(structure, q, arrays)
    assert np.count_nonzero(result.x) >= 400
    assert result.n_iter <= 30


def test_solve_portfolio_qp_routes_factor_models_to_the_dual(monkeypatch):
    calls = []
    original = _solve.solve_factor_qp
    monkeypatch.setattr(
        _solve,
        "solve_factor_qp",
        lambda *args: calls.append(1) or original(*args),
    )
    structure, q, arrays = problem("long-only", 24)
    result = solve_portfolio_qp(structure, q, constraints_of(arrays))
    assert calls
    np.testing.assert_array_equal(
        result.x, solve_factor_qp(structure, q, constraints_of(arrays)).x
    )


def jointly_infeasible(n_assets):
    # Each sector can reach 60 % alone, but both together exceed the budget.
    rng = np.random.default_rng(25)
    structure = random_structure(rng, n_assets, 3)
    first = (np.arange(n_assets) < n_assets // 2) * 1.0
    constraints = LinearConstraints.from_arrays(
        n_assets,
        A_eq=np.ones((1, n_assets)),
        b_eq=[1.0],
        A_ub=-np.vstack([first, 1.0 - first]),
        b_ub=[-0.6, -0.6],
        lb=0.0,
        ub=1.0,
    )
    return structure, constraints


@pytest.mark.parametrize("n_assets", [100, _solve.MAX_DENSE_FALLBACK_ASSETS + 1])
def test_jointly_infeasible_constraints_raise(n_assets):
    structure, constraints = jointly_infeasible(n_assets)
    with pytest.raises(FactorQPError):
        solve_factor_qp(structure, np.zeros(n_assets), constraints)
    with pytest.raises(InfeasibleConstraintsError):
        solve_portfolio_qp(structure, np.zeros(n_assets), constraints)


def test_single_row_conflict_is_reported_directly():
    structure, q, arrays = problem("capped", 26)
    arrays["ub"] = np.full(arrays["ub"].size, 0.5 / arrays["ub"].size)
    with pytest.raises(InfeasibleConstraintsError, match="at most"):
        solve_factor_qp(structure, q, constraints_of(arrays))


def refuse(*args):
    raise FactorQPError("refused for the test.")


def refuse_dense(self):
    raise AssertionError("the N x N covariance was formed")


def test_failure_falls_back_to_the_working_set_without_the_matrix(monkeypatch):
    n_assets = _solve.MAX_DENSE_FALLBACK_ASSETS + 1
    structure, q, arrays = problem("sector limits", 27, n_assets=n_assets)
    constraints = constraints_of(arrays)
    expected = solve_factor_qp(structure, q, constraints)
    monkeypatch.setattr(_solve, "solve_factor_qp", refuse)
    monkeypatch.setattr(FactorCovariance, "dense", refuse_dense)
    result = solve_portfolio_qp(structure, q, constraints)
    np.testing.assert_allclose(result.x, expected.x, rtol=0, atol=WEIGHT_ATOL)


def test_failure_with_shorts_falls_back_to_quadprog_on_small_problems(monkeypatch):
    structure, q, arrays = problem("shorts boxed", 28)
    arrays["lb"] = np.full(arrays["lb"].size, -np.inf)
    constraints = constraints_of(arrays)
    expected = solve_factor_qp(structure, q, constraints)
    monkeypatch.setattr(_solve, "solve_factor_qp", refuse)
    result = solve_portfolio_qp(structure, q, constraints)
    np.testing.assert_allclose(result.x, expected.x, rtol=0, atol=WEIGHT_ATOL)


def test_failure_with_shorts_on_large_problems_raises_a_solver_error(monkeypatch):
    n_assets = _solve.MAX_DENSE_FALLBACK_ASSETS + 1
    structure, q, arrays = problem("shorts boxed", 29, n_assets=n_assets)
    arrays["lb"] = np.full(n_assets, -np.inf)
    monkeypatch.setattr(_solve, "solve_factor_qp", refuse)
    monkeypatch.setattr(FactorCovariance, "dense", refuse_dense)
    with pytest.raises(SolverError, match="formed only up to"):
        solve_portfolio_qp(structure, q, constraints_of(arrays))
