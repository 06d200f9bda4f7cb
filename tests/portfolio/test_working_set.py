"""The working-set solve of solve_portfolio_qp against the full QP and Clarabel.

Every problem is checked three ways: the objective against quadprog on the
full problem and against cvxpy+Clarabel (1e-10 relative), and the KKT
conditions of the full problem with the multipliers the working set returns.
Returns have unit scale so that Clarabel's absolute tolerances are relative.
"""

import numpy as np
import pytest

from skportfolio import MeanVariance, MinimumVariance, RiskParity, _working_set
from skportfolio._constraints import LinearConstraints
from skportfolio._qp import QuadraticProgram
from skportfolio.covariance._operator import SampleCovariance, sample_covariance
from skportfolio.exceptions import InfeasibleConstraintsError
from skportfolio.portfolio import _solve
from skportfolio.portfolio._solve import solve_portfolio_qp
from tests.reference import reference_qp

OBJECTIVE_RTOL = 1e-10


def factor_returns(seed, n_periods, n_assets):
    """One market factor, unequal volatilities and drifts, unit scale."""
    rng = np.random.default_rng(seed)
    market = rng.standard_normal((n_periods, 1))
    loadings = rng.uniform(0.3, 1.5, n_assets)
    volatility = rng.uniform(0.5, 2.0, n_assets)
    noise = rng.standard_normal((n_periods, n_assets)) * volatility
    return rng.uniform(0.0, 0.3, n_assets) + market * loadings + noise


def portfolio_problem(X, *, mean_variance=False, lb=0.0, ub=1.0, A_ub=None, b_ub=None):
    """``min 1/2 w'Σw + q'w`` with a budget, as arrays and as LinearConstraints."""
    n = X.shape[1]
    problem = dict(
        P=np.cov(X, rowvar=False),
        q=-0.5 * X.mean(axis=0) if mean_variance else np.zeros(n),
        A_eq=np.ones((1, n)),
        b_eq=np.array([1.0]),
        A_ub=np.zeros((0, n)) if A_ub is None else np.asarray(A_ub, dtype=float),
        b_ub=np.zeros(0) if b_ub is None else np.asarray(b_ub, dtype=float),
        lb=np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy(),
        ub=np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy(),
    )
    constraints = LinearConstraints.from_arrays(
        n, **{k: v for k, v in problem.items() if k not in ("P", "q")}
    )
    return problem, constraints


@pytest.fixture(params=["matrix", "returns"])
def covariance_of(request):
    """Σ as the solver receives it: the matrix, or the returns behind it.

    ``"returns"`` is what the estimators pass for the sample covariance: a
    :class:`SampleCovariance`, whose blocks and products come from the data.
    """
    if request.param == "matrix":
        return lambda X, P: P
    return lambda X, P: SampleCovariance(X)


def assert_kkt(result, P, q, A_eq, b_eq, A_ub, b_ub, lb, ub, tol=1e-9):
    """KKT conditions of the full problem: feasibility to 1e-12, stationarity,
    dual feasibility and complementary slackness relative to the gradient."""
    x = result.x
    gradient = P @ x + q
    scale = max(np.max(np.abs(P)) * np.max(np.abs(x)), np.max(np.abs(q)))
    stationarity = (
        gradient
        + A_eq.T @ result.eq
        + A_ub.T @ result.ineq
        - result.lower
        + result.upper
    )
    assert np.max(np.abs(stationarity)) <= tol * scale
    assert np.max(np.abs(A_eq @ x - b_eq), initial=0.0) <= 1e-12
    assert np.max(A_ub @ x - b_ub, initial=0.0) <= 1e-12
    assert np.all(x >= lb) and np.all(x <= ub)
    for multiplier in (result.ineq, result.lower, result.upper):
        assert np.all(multiplier >= 0)
    slack_lb = np.where(np.isfinite(lb), x - lb, 0.0)
    slack_ub = np.where(np.isfinite(ub), ub - x, 0.0)
    assert np.max(result.ineq * (b_ub - A_ub @ x), initial=0.0) <= tol * scale
    assert np.max(result.lower * slack_lb) <= tol * scale
    assert np.max(result.upper * slack_ub) <= tol * scale


def reference_kwargs(problem):
    kwargs = dict(problem)
    if not kwargs["A_ub"].shape[0]:
        kwargs["A_ub"] = kwargs["b_ub"] = None
    return kwargs


def assert_matches_full_and_reference(problem, constraints, result):
    full = QuadraticProgram(constraints, P=problem["P"]).solve(problem["q"])
    _, reference = reference_qp(**reference_kwargs(problem))
    scale = max(1.0, abs(full.objective))
    assert abs(result.objective - full.objective) <= OBJECTIVE_RTOL * scale
    assert abs(result.objective - reference) <= OBJECTIVE_RTOL * scale
    # The reported objective is the objective of the returned weights.
    P, q, x = problem["P"], problem["q"], result.x
    assert result.objective == pytest.approx(0.5 * x @ P @ x + q @ x, rel=1e-13)
    assert_kkt(result, **problem)
    return full


def record_calls(monkeypatch, owner, name, summary=lambda *args: args):
    """Wrap ``owner.name`` so that each call appends ``summary(*args)`` to a list."""
    calls = []
    original = getattr(owner, name)

    def recording(*args, **kwargs):
        calls.append(summary(*args))
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return calls


def count_restricted_solves(monkeypatch):
    """Sizes of the working sets solved; checks that no full QP is solved."""
    full_solves = record_calls(monkeypatch, _solve, "_solve_full")
    sizes = record_calls(
        monkeypatch,
        _solve._WorkingSet,
        "_solve_restricted",
        lambda self, in_set: int(np.count_nonzero(in_set)),
    )
    return sizes, full_solves


@pytest.mark.parametrize(
    "seed, n_assets, n_periods",
    [(0, 64, 192), (1, 100, 300), (2, 300, 900), (3, 150, 60), (4, 300, 120)],
)
@pytest.mark.parametrize("mean_variance", [False, True])
def test_long_only_matches_full_qp_and_clarabel(
    seed, n_assets, n_periods, mean_variance, monkeypatch, covariance_of
):
    X = factor_returns(seed, n_periods, n_assets)
    problem, constraints = portfolio_problem(X, mean_variance=mean_variance)
    solves, full_solves = count_restricted_solves(monkeypatch)
    result = solve_portfolio_qp(
        covariance_of(X, problem["P"]), problem["q"], constraints
    )
    assert solves and not full_solves
    full = assert_matches_full_and_reference(problem, constraints, result)
    # Multipliers of the budget and the bounds agree with the full QP's
    # (unique here: the support's covariance block is non-singular).
    scale = np.max(np.abs(full.lower)) + abs(full.eq[0])
    np.testing.assert_allclose(result.eq, full.eq, atol=1e-9 * scale)
    np.testing.assert_allclose(result.lower, full.lower, atol=1e-9 * scale)


@pytest.mark.parametrize("seed", range(3))
def test_upper_bounds_force_a_large_working_set(seed, monkeypatch, covariance_of):
    # A 2 % cap needs at least 50 assets; the first working set has fewer.
    X = factor_returns(seed, 900, 300)
    problem, constraints = portfolio_problem(X, ub=0.02)
    solves, full_solves = count_restricted_solves(monkeypatch)
    result = solve_portfolio_qp(
        covariance_of(X, problem["P"]), problem["q"], constraints
    )
    assert solves[0] >= 50 and not full_solves
    assert np.count_nonzero(result.x == 0.02) > 0
    assert_matches_full_and_reference(problem, constraints, result)


@pytest.mark.parametrize("seed", range(6))
def test_random_caps_and_sector_bounds(seed, monkeypatch, covariance_of):
    # Five random sectors with a floor and a ceiling each, a 10 % cap per
    # asset; half the cases have fewer periods than assets.
    rng = np.random.default_rng(100 + seed)
    n_assets = int(rng.integers(80, 250))
    n_periods = int(n_assets * (0.6 if seed % 2 else 3.0))
    X = factor_returns(seed, n_periods, n_assets)
    sectors = rng.integers(0, 5, n_assets)
    members = (sectors[None, :] == np.arange(5)[:, None]).astype(float)
    floors, ceilings = rng.uniform(0.0, 0.1, 5), rng.uniform(0.25, 0.6, 5)
    problem, constraints = portfolio_problem(
        X,
        mean_variance=bool(seed % 3),
        ub=0.1,
        A_ub=np.vstack([members, -members]),
        b_ub=np.concatenate([ceilings, -floors]),
    )
    solves, full_solves = count_restricted_solves(monkeypatch)
    result = solve_portfolio_qp(
        covariance_of(X, problem["P"]), problem["q"], constraints
    )
    assert solves and not full_solves
    assert_matches_full_and_reference(problem, constraints, result)


def test_group_bounds_pull_in_unattractive_assets(monkeypatch, covariance_of):
    # The ten most volatile assets must hold at least 20 % together, and the
    # ten least volatile at most 30 %: rows the first working set misses.
    X = factor_returns(5, 600, 200)
    order = np.argsort(X.var(axis=0))
    risky, safe = np.zeros(200), np.zeros(200)
    risky[order[-10:]] = 1.0
    safe[order[:10]] = 1.0
    problem, constraints = portfolio_problem(
        X, ub=0.1, A_ub=np.vstack([-risky, safe]), b_ub=[-0.2, 0.3]
    )
    solves, full_solves = count_restricted_solves(monkeypatch)
    result = solve_portfolio_qp(
        covariance_of(X, problem["P"]), problem["q"], constraints
    )
    assert solves and not full_solves
    assert risky @ result.x == pytest.approx(0.2, abs=1e-12)
    assert safe @ result.x == pytest.approx(0.3, abs=1e-12)
    assert np.all(result.ineq > 0)
    assert_matches_full_and_reference(problem, constraints, result)


def test_nonzero_lower_bounds_free_assets_and_pinned_weights(
    monkeypatch, covariance_of
):
    X = factor_returns(6, 400, 120)
    lb = np.full(120, 0.001)
    ub = np.full(120, 0.25)
    lb[:3] = -np.inf  # three assets may be shorted: always in the working set
    lb[3] = ub[3] = 0.05  # a pinned weight is never freed
    problem, constraints = portfolio_problem(X, mean_variance=True, lb=lb, ub=ub)
    solves, full_solves = count_restricted_solves(monkeypatch)
    result = solve_portfolio_qp(
        covariance_of(X, problem["P"]), problem["q"], constraints
    )
    assert solves and not full_solves
    assert result.x[3] == 0.05
    assert np.count_nonzero(result.x == 0.001) > 60
    assert_matches_full_and_reference(problem, constraints, result)


def test_wrong_first_working_set_needs_several_additions(monkeypatch, covariance_of):
    # Start from the worst assets, one at a time: the loop must still find
    # the optimum, through several rounds of additions.
    X = factor_returns(7, 600, 200)
    problem, constraints = portfolio_problem(X)
    monkeypatch.setattr(_working_set, "MIN_INITIAL_SIZE", 2)
    monkeypatch.setattr(_working_set, "INITIAL_SIZE_PER_SQRT_N", 0.0)
    monkeypatch.setattr(_working_set, "MIN_BATCH", 2)
    monkeypatch.setattr(_working_set, "BATCH_FRACTION", 0.25)
    monkeypatch.setattr(
        _working_set, "_attractiveness", lambda covariance, q: -covariance.diag()
    )
    solves, full_solves = count_restricted_solves(monkeypatch)
    result = solve_portfolio_qp(
        covariance_of(X, problem["P"]), problem["q"], constraints
    )
    assert len(solves) >= 5 and not full_solves
    assert solves[0] == 2
    support = np.flatnonzero(result.x)
    worst = np.argsort(-np.diag(problem["P"]))[:2]
    assert not np.isin(worst, support).any()
    assert_matches_full_and_reference(problem, constraints, result)


def test_identical_assets_any_budget_split_is_optimal(monkeypatch, covariance_of):
    rng = np.random.default_rng(8)
    X = np.repeat(rng.standard_normal((300, 1)), 80, axis=1)
    problem, constraints = portfolio_problem(X)
    solves, full_solves = count_restricted_solves(monkeypatch)
    result = solve_portfolio_qp(
        covariance_of(X, problem["P"]), problem["q"], constraints
    )
    assert solves and not full_solves
    variance = problem["P"][0, 0]
    assert result.objective == pytest.approx(0.5 * variance, rel=1e-12)
    assert result.x.sum() == pytest.approx(1.0, abs=1e-14)
    assert_kkt(result, **problem, tol=1e-6)


@pytest.mark.parametrize("mean_variance", [False, True])
def test_zero_variance_asset_takes_everything(
    mean_variance, monkeypatch, covariance_of
):
    X = factor_returns(9, 300, 100)
    X[:, 57] = 1.0  # a riskless asset whose return beats every mean
    problem, constraints = portfolio_problem(X, mean_variance=mean_variance)
    solves, full_solves = count_restricted_solves(monkeypatch)
    result = solve_portfolio_qp(
        covariance_of(X, problem["P"]), problem["q"], constraints
    )
    assert solves and not full_solves
    expected = np.zeros(100)
    expected[57] = 1.0
    np.testing.assert_allclose(result.x, expected, atol=1e-10)
    assert result.objective == pytest.approx(problem["q"][57], abs=1e-12)
    assert_kkt(result, **problem, tol=1e-6)


def test_zero_covariance_is_a_linear_programme(monkeypatch):
    # min q'w on the capped simplex: the cheapest assets fill up in order.
    q = np.random.default_rng(16).permutation(np.linspace(-1.0, 1.0, 100))
    problem, constraints = portfolio_problem(np.zeros((3, 100)), ub=0.3)
    problem["q"] = q
    solves, full_solves = count_restricted_solves(monkeypatch)
    result = solve_portfolio_qp(problem["P"], q, constraints)
    assert solves and not full_solves
    expected = np.zeros(100)
    expected[np.argsort(q)[:4]] = [0.3, 0.3, 0.3, 0.1]
    np.testing.assert_allclose(result.x, expected, atol=1e-12)
    assert_kkt(result, **problem)


def test_working_set_beyond_half_the_assets_falls_back_to_the_full_qp(monkeypatch):
    # A 0.4 % cap needs 250 of 300 assets: restricting saves nothing.
    X = factor_returns(10, 900, 300)
    problem, constraints = portfolio_problem(X, ub=0.004)
    solves, full_solves = count_restricted_solves(monkeypatch)
    result = solve_portfolio_qp(problem["P"], problem["q"], constraints)
    assert not solves and len(full_solves) == 1
    assert_matches_full_and_reference(problem, constraints, result)


def test_failed_final_kkt_check_falls_back_to_the_full_qp(monkeypatch):
    X = factor_returns(11, 300, 100)
    problem, constraints = portfolio_problem(X)
    monkeypatch.setattr(_working_set, "KKT_RTOL", -1.0)
    result = solve_portfolio_qp(problem["P"], problem["q"], constraints)
    full = QuadraticProgram(constraints, P=problem["P"]).solve(problem["q"])
    np.testing.assert_array_equal(result.x, full.x)
    assert result.n_iter == full.n_iter


def test_jointly_infeasible_groups_raise():
    # Each group can reach 60 % alone, but both together exceed the budget.
    X = factor_returns(12, 300, 100)
    first, second = np.zeros(100), np.zeros(100)
    first[:50], second[50:] = 1.0, 1.0
    _, constraints = portfolio_problem(
        X, A_ub=np.vstack([-first, -second]), b_ub=[-0.6, -0.6]
    )
    with pytest.raises(InfeasibleConstraintsError):
        solve_portfolio_qp(np.cov(X, rowvar=False), np.zeros(100), constraints)


def test_indefinite_covariance_is_repaired_before_the_working_set(monkeypatch):
    X = factor_returns(13, 300, 100)
    problem, constraints = portfolio_problem(X)
    eigenvalues, eigenvectors = np.linalg.eigh(problem["P"])
    eigenvalues[:5] = -0.1 * eigenvalues[-1]
    indefinite = (eigenvectors * eigenvalues) @ eigenvectors.T
    indefinite = 0.5 * (indefinite + indefinite.T)
    solves, full_solves = count_restricted_solves(monkeypatch)
    result = solve_portfolio_qp(indefinite, problem["q"], constraints)
    assert solves and not full_solves
    repaired = _solve.nearest_psd(indefinite)
    full = QuadraticProgram(constraints, P=repaired).solve(problem["q"])
    assert result.objective == pytest.approx(full.objective, rel=OBJECTIVE_RTOL)
    assert_kkt(result, **{**problem, "P": repaired})


def test_known_psd_skips_nothing_but_the_test():
    X = factor_returns(14, 300, 100)
    problem, constraints = portfolio_problem(X, mean_variance=True)
    checked = solve_portfolio_qp(problem["P"], problem["q"], constraints)
    trusted = solve_portfolio_qp(
        problem["P"], problem["q"], constraints, known_psd=True
    )
    np.testing.assert_array_equal(checked.x, trusted.x)


@pytest.mark.parametrize("shape", [(2, 1), (5, 3), (40, 120), (900, 300)])
def test_sample_covariance_equals_np_cov(shape):
    X = factor_returns(15, *shape)
    covariance = sample_covariance(X)
    expected = np.atleast_2d(np.cov(X, rowvar=False))
    scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    assert np.max(np.abs(covariance - expected) / scale) <= 1e-14
    np.testing.assert_array_equal(covariance, covariance.T)


def test_sample_covariance_overflow_raises():
    with pytest.raises(ValueError, match="overflows"):
        sample_covariance(np.array([[1e200, 0.0], [-1e200, 1.0]]))


@pytest.mark.parametrize(
    "estimator",
    [
        MinimumVariance(),
        MinimumVariance(min_weights=None, max_weights=None),
        MeanVariance(min_weights=None, max_weights=None),
        RiskParity(),
    ],
    ids=["long-only", "budget-only", "mean-variance, budget-only", "risk parity"],
)
def test_every_estimator_reports_an_overflowing_sample_covariance(estimator):
    # Whether the estimator keeps the returns or a Gram matrix, squares too
    # large for a float give an error, never NaN weights.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3)) * 1e160
    with pytest.raises(ValueError, match="overflows"):
        _ = estimator.fit(X).covariance_
