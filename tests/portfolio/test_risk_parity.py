"""RiskParity and risk_budgeting_weights.

A long-only portfolio summing to 1 whose relative risk contributions equal the
budgets is the unique solution (Spinu's problem is strictly convex), so the
risk contributions, recomputed here by skportfolio.metrics.risk_contributions,
are a complete certificate; closed forms and cvxpy+Clarabel on the log-barrier
formulation are independent checks of the weights themselves.
"""

import warnings

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator

from skportfolio import InverseVolatility, RiskParity
from skportfolio.covariance import FactorCovariance
from skportfolio.exceptions import ConvergenceWarning, NotPositiveSemidefiniteError
from skportfolio.metrics import risk_contributions
from skportfolio.portfolio import risk_budgeting_weights
from skportfolio.portfolio._base import nearest_psd
from skportfolio.portfolio._risk_parity import DenseCovariance, solve_risk_budgeting
from tests.reference import TIGHT

RC_RTOL = 1e-10

# Clarabel at tests.reference.TIGHT agrees with the solution to 1e-8 or
# better on these problems but sometimes flags "optimal_inaccurate" (its
# weights are then still accurate to 1e-10 here); looser tolerances agree
# only to ~1e-5 because the weights err like the square root of the gap.
REFERENCE_RTOL = 1e-7


# ----------------------------------------------------------------------- helpers
def factor_returns(seed, n_periods, n_assets, n_factors=3):
    """Returns of a factor model with mixed-sign loadings, daily-like scale."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(n_assets, n_factors)) * 0.5
    loadings[:, 0] += 1.0
    factors = rng.standard_normal((n_periods, n_factors)) * 0.01
    noise = rng.standard_normal((n_periods, n_assets)) * rng.uniform(
        0.005, 0.02, n_assets
    )
    return factors @ loadings.T + noise


def random_budget(seed, n_assets):
    budget = np.random.default_rng(seed).uniform(0.1, 1.0, n_assets)
    return budget / budget.sum()


def assert_risk_budgeting_solution(weights, covariance, budget, rtol=RC_RTOL):
    """Positive weights summing to 1 with relative risk contributions = budget."""
    assert np.all(np.isfinite(weights))
    assert np.all(weights[budget > 0] > 0)
    assert np.all(weights[budget == 0] == 0)
    assert abs(weights.sum() - 1.0) <= 1e-14
    contributions = risk_contributions(weights, covariance)
    positive = budget > 0
    np.testing.assert_allclose(
        contributions[positive], budget[positive], rtol=rtol, atol=0
    )
    return contributions


def clarabel_risk_budgeting(covariance, budget):
    """Spinu's problem by cvxpy+Clarabel: min 1/2 y'Σy - b'log y, w = y / 1'y."""
    scaled = covariance / np.mean(np.diag(covariance))
    y = cp.Variable(budget.size)
    objective = 0.5 * cp.quad_form(y, cp.psd_wrap(scaled)) - budget @ cp.log(y)
    problem = cp.Problem(cp.Minimize(objective))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Solution may be inaccurate", UserWarning)
        problem.solve(**TIGHT)
    assert problem.status in ("optimal", "optimal_inaccurate"), problem.status
    return y.value / y.value.sum()


def solve(covariance, budget=None, **kwargs):
    return risk_budgeting_weights(covariance, budget, **kwargs)


# ------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("equal", [True, False])
def test_diagonal_covariance_closed_form(equal):
    rng = np.random.default_rng(0)
    volatilities = rng.uniform(0.05, 0.5, 30)
    budget = np.full(30, 1 / 30) if equal else random_budget(1, 30)
    result = solve(np.diag(volatilities**2), budget)
    expected = np.sqrt(budget) / volatilities
    np.testing.assert_allclose(result.weights, expected / expected.sum(), rtol=1e-14)
    np.testing.assert_allclose(result.risk_contributions, budget, rtol=1e-13)
    assert result.converged
    assert result.n_iter == 0  # the start sqrt(b)/σ is the solution


@pytest.mark.parametrize(
    ("sigma1", "sigma2", "rho", "b1"),
    [
        (0.2, 0.1, 0.3, 0.5),
        (0.2, 0.1, 0.3, 0.8),
        (0.15, 0.3, -0.7, 0.25),
        (0.1, 0.1, 0.95, 0.1),
        (0.3, 0.05, -0.99, 0.6),
    ],
)
def test_two_assets_closed_form(sigma1, sigma2, rho, b1):
    # With x = w1 σ1, z = w2 σ2 and r = x / z, RC1 / RC2 = b1 / b2 reads
    # b2 r² + ρ (b2 - b1) r - b1 = 0, whose positive root gives w1 / w2.
    b2 = 1 - b1
    r = (-rho * (b2 - b1) + np.sqrt(rho**2 * (b2 - b1) ** 2 + 4 * b1 * b2)) / (2 * b2)
    ratio = r * sigma2 / sigma1
    expected = np.array([ratio, 1.0]) / (1 + ratio)
    covariance = np.array(
        [[sigma1**2, rho * sigma1 * sigma2], [rho * sigma1 * sigma2, sigma2**2]]
    )
    result = solve(covariance, [b1, b2], tol=1e-14)
    np.testing.assert_allclose(result.weights, expected, rtol=1e-13)


def test_constant_correlation_equal_budgets_is_inverse_volatility():
    # Maillard, Roncalli and Teïletche (2010): with one correlation for all
    # pairs, equal risk contributions are reached at w ∝ 1/σ.
    volatilities = np.random.default_rng(2).uniform(0.1, 0.4, 50)
    correlation = np.full((50, 50), 0.4) + 0.6 * np.eye(50)
    result = solve(correlation * np.outer(volatilities, volatilities))
    expected = (1 / volatilities) / np.sum(1 / volatilities)
    np.testing.assert_allclose(result.weights, expected, rtol=1e-13)


def test_identical_assets_split_their_group_equally():
    # Three copies of asset 0 and two of asset 3: every copy has the same
    # marginal risk, so copies with equal budgets get equal weights, and each
    # group together is the solution of the problem with one asset per group
    # whose budget is the group's total.
    X = factor_returns(3, 400, 6)
    columns = [0, 0, 0, 1, 2, 3, 3, 4, 5]
    covariance = np.cov(X[:, columns], rowvar=False)
    result = solve(covariance)
    w = result.weights
    assert np.linalg.matrix_rank(covariance) == 6
    np.testing.assert_allclose(w[[1, 2]], w[0], rtol=1e-12)
    np.testing.assert_allclose(w[6], w[5], rtol=1e-12)
    reduced = solve(np.cov(X, rowvar=False), np.array([3, 1, 1, 2, 1, 1]) / 9)
    grouped = [w[:3].sum(), w[3], w[4], w[5:7].sum(), w[7], w[8]]
    np.testing.assert_allclose(grouped, reduced.weights, rtol=1e-11)
    assert_risk_budgeting_solution(w, covariance, np.full(9, 1 / 9))


def test_risk_parity_equals_inverse_volatility_on_diagonal_covariance():
    class DiagonalCovariance(BaseEstimator):
        def fit(self, X, y=None):
            self.covariance_ = np.diag(np.var(X, axis=0, ddof=1))
            return self

    X = factor_returns(4, 250, 12)
    estimator = DiagonalCovariance()
    rp = RiskParity(covariance_estimator=estimator).fit(X)
    iv = InverseVolatility(covariance_estimator=estimator).fit(X)
    np.testing.assert_allclose(rp.weights_, iv.weights_, rtol=1e-14)


# ------------------------------------------------------------ random covariances
@pytest.mark.parametrize("n_assets", [2, 20, 100, 500])
@pytest.mark.parametrize("equal", [True, False])
def test_random_covariance_matches_budgets_and_clarabel(n_assets, equal):
    X = factor_returns(n_assets, 3 * n_assets, n_assets)
    covariance = np.cov(X, rowvar=False)
    budget = np.full(n_assets, 1 / n_assets) if equal else random_budget(5, n_assets)
    result = solve(covariance, budget)
    assert result.converged
    contributions = assert_risk_budgeting_solution(result.weights, covariance, budget)
    np.testing.assert_allclose(result.risk_contributions, contributions, rtol=1e-12)
    reference = clarabel_risk_budgeting(covariance, budget)
    np.testing.assert_allclose(result.weights, reference, rtol=REFERENCE_RTOL)


def more_periods_than_assets(n):
    return np.cov(factor_returns(10, n + 1, n), rowvar=False)


def fewer_periods_than_assets(n):
    return np.cov(factor_returns(11, n // 2, n), rowvar=False)


def near_duplicates(n):
    X = factor_returns(12, 3 * n, n)
    half = n // 2
    rng = np.random.default_rng(13)
    X[:, half:] = X[:, : n - half] + 1e-9 * rng.standard_normal((3 * n, n - half))
    return np.cov(X, rowvar=False)


def tiny_idiosyncratic_risk(n):
    loadings = np.random.default_rng(14).uniform(0.5, 1.5, (n, 3))
    return loadings @ loadings.T + 1e-9 * np.eye(n)


def log_spaced_spectrum_with_market(n):
    rng = np.random.default_rng(15)
    basis, _ = np.linalg.qr(rng.standard_normal((n, n)))
    covariance = (basis * np.logspace(0, -8, n)) @ basis.T + 0.5 / n
    return 0.5 * (covariance + covariance.T)


ILL_CONDITIONED = [
    more_periods_than_assets,
    fewer_periods_than_assets,
    near_duplicates,
    tiny_idiosyncratic_risk,
    log_spaced_spectrum_with_market,
]


@pytest.mark.parametrize("make", ILL_CONDITIONED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("n_assets", [50, 500])
@pytest.mark.parametrize("equal", [True, False])
def test_ill_conditioned_covariance_matches_budgets(make, n_assets, equal):
    covariance = make(n_assets)
    assert np.linalg.cond(covariance) > 1e5
    budget = np.full(n_assets, 1 / n_assets) if equal else random_budget(6, n_assets)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = solve(covariance, budget)
    assert_risk_budgeting_solution(result.weights, covariance, budget)


@pytest.mark.parametrize(
    "make", [more_periods_than_assets, log_spaced_spectrum_with_market]
)
def test_ill_conditioned_covariance_matches_clarabel(make):
    covariance = make(50)
    budget = random_budget(7, 50)
    reference = clarabel_risk_budgeting(covariance, budget)
    np.testing.assert_allclose(
        solve(covariance, budget).weights, reference, rtol=REFERENCE_RTOL
    )


def test_direct_newton_steps_give_the_same_solution(monkeypatch):
    # Force the Cholesky path (CG given up at once) and compare with CG steps.
    covariance = np.cov(factor_returns(16, 600, 200), rowvar=False)
    budget = random_budget(8, 200)
    with_cg = solve(covariance, budget)
    monkeypatch.setattr(DenseCovariance, "products_per_solve", 0)
    direct = solve(covariance, budget)
    assert_risk_budgeting_solution(direct.weights, covariance, budget)
    np.testing.assert_allclose(direct.weights, with_cg.weights, rtol=1e-10)


def test_factor_covariance_operator_plugs_in():
    # FactorCovariance has matvec, diag and solve_shifted (Woodbury): the
    # solver runs on it without forming the N x N matrix.
    rng = np.random.default_rng(17)
    structure = FactorCovariance(
        loadings=rng.normal(1.0, 0.4, (300, 4)),
        factor_covariance=np.diag([4e-4, 1e-4, 1e-4, 5e-5]),
        idiosyncratic=rng.uniform(1e-5, 1e-4, 300),
    )
    budget = random_budget(9, 300)
    result = solve_risk_budgeting(structure, budget)
    dense = structure.dense()
    assert_risk_budgeting_solution(result.weights, dense, budget)
    np.testing.assert_allclose(result.weights, solve(dense, budget).weights, rtol=1e-10)


# -------------------------------------------------------------------- invariances
@st.composite
def problems(draw):
    n = draw(st.integers(2, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((n, draw(st.integers(1, 3))))
    factors[:, 0] = np.abs(factors[:, 0]) + 0.2
    covariance = factors @ factors.T + np.diag(rng.uniform(0.05, 1.0, n))
    budget = rng.uniform(0.05, 1.0, n)
    return covariance, budget, rng.permutation(n)


@settings(max_examples=60, deadline=None)
@given(problems())
def test_permuting_assets_permutes_weights(problem):
    covariance, budget, order = problem
    weights = solve(covariance, budget).weights
    permuted = solve(covariance[np.ix_(order, order)], budget[order]).weights
    np.testing.assert_allclose(permuted, weights[order], rtol=1e-11)


@settings(max_examples=60, deadline=None)
@given(problems(), st.floats(1e-8, 1e8))
def test_scaling_covariance_leaves_weights_unchanged(problem, scale):
    covariance, budget, _ = problem
    weights = solve(covariance, budget).weights
    np.testing.assert_allclose(
        solve(scale * covariance, budget).weights, weights, rtol=1e-11
    )


@settings(max_examples=60, deadline=None)
@given(problems(), st.floats(1e-6, 1e6))
def test_scaling_budget_leaves_weights_unchanged(problem, scale):
    covariance, budget, _ = problem
    result = solve(covariance, budget)
    scaled = solve(covariance, scale * budget)
    np.testing.assert_allclose(scaled.weights, result.weights, rtol=1e-12)
    assert_risk_budgeting_solution(result.weights, covariance, budget / budget.sum())


# --------------------------------------------------------------------- edge cases
def test_zero_budget_gives_zero_weight_and_solves_the_rest():
    covariance = np.cov(factor_returns(18, 300, 10), rowvar=False)
    budget = random_budget(10, 10)
    budget[[2, 7]] = 0.0
    budget /= budget.sum()
    result = solve(covariance, budget)
    assert result.weights[2] == 0 and result.weights[7] == 0
    assert result.risk_contributions[2] == 0 and result.risk_contributions[7] == 0
    rest = np.flatnonzero(budget)
    sub = solve(covariance[np.ix_(rest, rest)], budget[rest])
    np.testing.assert_allclose(result.weights[rest], sub.weights, rtol=1e-14)
    assert_risk_budgeting_solution(result.weights, covariance, budget)


def test_zero_budget_is_the_limit_of_small_budgets():
    # The asset has positive marginal risk at the solution without it, so
    # its weight tends to 0 as its budget does.
    covariance = np.cov(factor_returns(19, 300, 6), rowvar=False)
    budget = np.array([0.0, 0.2, 0.2, 0.2, 0.2, 0.2])
    zero = solve(covariance, budget).weights
    assert (covariance @ zero)[0] > 0
    for small in [1e-4, 1e-6, 1e-8]:
        budget[0] = small
        weights = solve(covariance, budget / budget.sum()).weights
        assert np.max(np.abs(weights - zero)) < 10 * small


def test_zero_budget_on_a_hedge_excludes_it_although_small_budgets_do_not():
    # Asset 2 hedges the others: at the portfolio without it its marginal
    # risk (Σw)_2 is negative. Weight 0 is still an exact solution (RC_2 = 0 =
    # b_2), and the documented choice; small positive budgets instead converge
    # to the other solution, where the hedge has zero marginal risk.
    volatility = np.array([0.2, 0.25, 0.1])
    correlation = np.array([[1.0, 0.6, -0.5], [0.6, 1.0, -0.4], [-0.5, -0.4, 1.0]])
    covariance = correlation * np.outer(volatility, volatility)
    excluded = solve(covariance, [0.5, 0.5, 0.0])
    # Without asset 2: two assets, equal budgets, so w ∝ 1/σ.
    np.testing.assert_allclose(excluded.weights, [5 / 9, 4 / 9, 0.0], rtol=1e-14)
    assert (covariance @ excluded.weights)[2] < 0
    small = solve(covariance, [0.5, 0.5, 1e-6], tol=1e-8).weights
    assert small[2] > 0.49
    assert abs((covariance @ small)[2]) < 1e-7


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ([0.5, -0.1, 0.6], "non-negative"),
        ([0.0, 0.0, 0.0], "all zero"),
        ([0.5, np.nan, 0.5], "NaN"),
        ([0.5, np.inf, 0.5], "infinite"),
        ([0.5, 0.5], "one entry per asset"),
    ],
)
def test_bad_budget_is_refused(budget, message):
    with pytest.raises(ValueError, match=message):
        solve(np.eye(3), budget)


def test_zero_volatility_asset_with_positive_budget_is_refused():
    covariance = np.diag([0.04, 0.0, 0.01])
    with pytest.raises(ValueError, match=r"Assets \[1\] have zero volatility"):
        solve(covariance)


def test_zero_volatility_asset_with_zero_budget_gets_zero_weight():
    covariance = np.diag([0.04, 0.0, 0.01])
    result = solve(covariance, [0.5, 0.0, 0.5])
    np.testing.assert_allclose(result.weights, [1 / 3, 0.0, 2 / 3], rtol=1e-14)


def test_constant_return_series_counts_as_zero_volatility():
    X = factor_returns(20, 100, 4)
    X[:, 2] = 0.003
    with pytest.raises(ValueError, match="zero volatility"):
        RiskParity().fit(pd.DataFrame(X, columns=list("abcd")))
    with pytest.raises(ValueError, match=r"\['c'\]"):
        RiskParity().fit(pd.DataFrame(X, columns=list("abcd")))


@pytest.mark.parametrize(
    "covariance",
    [
        # Perfectly negatively correlated, equal volatility: w = (1/2, 1/2)
        # has zero variance.
        np.array([[1.0, -1.0], [-1.0, 1.0]]),
        # Ten periods of fifty white-noise assets: some long-only portfolio
        # has zero sample variance.
        np.cov(np.random.default_rng(21).standard_normal((10, 50)), rowvar=False),
        # A third asset short the sum of the first two.
        np.cov(
            np.column_stack(
                [x := np.random.default_rng(22).normal(size=(40, 2)), -x.sum(1)]
            ),
            rowvar=False,
        ),
    ],
    ids=["hedged pair", "10 periods 50 assets", "short combination"],
)
def test_long_only_zero_variance_portfolio_means_no_solution(covariance):
    with pytest.raises(ValueError, match="zero variance"):
        solve(covariance)


def test_negative_variance_is_not_positive_semidefinite():
    with pytest.raises(NotPositiveSemidefiniteError):
        solve(np.diag([0.04, -0.01, 0.02]))


@pytest.mark.parametrize(
    ("covariance", "message"),
    [
        (np.ones((2, 3)), "square"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), "NaN"),
        (np.array([[1.0, 0.5], [0.2, 1.0]]), "symmetric"),
        (np.zeros((0, 0)), "no assets"),
    ],
)
def test_bad_covariance_is_refused(covariance, message):
    with pytest.raises(ValueError, match=message):
        solve(covariance)


def test_not_converging_warns_and_says_so():
    covariance = np.cov(factor_returns(23, 300, 30), rowvar=False)
    with pytest.warns(ConvergenceWarning, match="Increase max_iter"):
        result = solve(covariance, max_iter=2)
    assert not result.converged
    assert result.n_iter == 2
    with pytest.warns(ConvergenceWarning):
        RiskParity(max_iter=2).fit(factor_returns(23, 300, 30))


def test_rounding_limit_is_reported():
    # Mixed-sign factors and almost no idiosyncratic risk: the solution hedges
    # the factors away, and (Σw)_i is a sum cancelling to ~1e-10 of its terms.
    loadings = np.random.default_rng(24).standard_normal((100, 5))
    covariance = loadings @ loadings.T + 1e-8 * np.eye(100)
    with pytest.warns(ConvergenceWarning, match="double precision"):
        result = solve(covariance)
    assert not result.converged
    assert result.n_iter < 40  # stops once rounding stalls it, not at max_iter
    assert_risk_budgeting_solution(
        result.weights, covariance, np.full(100, 0.01), rtol=1e-4
    )


def test_inputs_are_not_mutated():
    covariance = np.cov(factor_returns(25, 200, 8), rowvar=False)
    budget = random_budget(11, 8) * 3
    copies = covariance.copy(), budget.copy()
    solve(covariance, budget)
    np.testing.assert_array_equal(covariance, copies[0])
    np.testing.assert_array_equal(budget, copies[1])


# ---------------------------------------------------------------------- estimator
def test_estimator_attributes():
    X = factor_returns(26, 500, 15)
    budget = random_budget(12, 15) * 7
    model = RiskParity(risk_budget=budget).fit(X)
    covariance = np.cov(X, rowvar=False)
    np.testing.assert_allclose(model.covariance_, covariance, rtol=1e-13)
    np.testing.assert_allclose(model.risk_budget_, budget / budget.sum(), rtol=1e-15)
    contributions = assert_risk_budgeting_solution(
        model.weights_, covariance, model.risk_budget_
    )
    np.testing.assert_allclose(model.risk_contributions_, contributions, rtol=1e-12)
    assert isinstance(model.n_iter_, int) and 0 < model.n_iter_ < 30
    assert model.volatility_ == pytest.approx(
        np.sqrt(model.weights_ @ covariance @ model.weights_), rel=1e-14
    )
    np.testing.assert_allclose(model.predict(X), X @ model.weights_)


@pytest.mark.parametrize("periods", [400, 10])  # more periods than assets, fewer
def test_sample_covariance_is_used_as_its_gram_matrix_and_formed_when_read(periods):
    # Small means: the Gram matrix comes from the uncentred returns. The
    # weights are those of the formed matrix, covariance_ is np.cov's, built
    # on first read from the Gram matrix the fit kept, not from the caller's
    # returns, which may then be overwritten.
    X = factor_returns(28, periods, 15)
    X = X - X.mean(axis=0) + 0.05 * X.std(axis=0)
    covariance = np.cov(X, rowvar=False)
    budget = random_budget(13, 15)
    model = RiskParity(risk_budget=budget).fit(X)
    assert "_covariance" not in model.__dict__
    expected = solve(covariance, budget)
    np.testing.assert_allclose(model.weights_, expected.weights, rtol=1e-10)
    assert model.volatility_ == pytest.approx(
        np.sqrt(model.weights_ @ covariance @ model.weights_), rel=1e-13
    )
    X[:] = 0.0
    np.testing.assert_allclose(model.covariance_, covariance, rtol=1e-13, atol=1e-18)


def test_budget_dict_keyed_by_asset_name():
    X = pd.DataFrame(factor_returns(27, 300, 4), columns=["w", "x", "y", "z"])
    by_name = RiskParity(risk_budget={"z": 4, "x": 2, "w": 1, "y": 3}).fit(X)
    by_position = RiskParity(risk_budget=[1, 2, 3, 4]).fit(X)
    np.testing.assert_array_equal(by_name.weights_, by_position.weights_)
    assert list(by_name.weights_series_.index) == ["w", "x", "y", "z"]


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"w": 1, "x": 1, "y": 1}, r"missing: \['z'\]"),
        ({"w": 1, "x": 1, "y": 1, "z": 1, "v": 1}, r"unknown: \['v'\]"),
        ({"w": 1, "x": -1, "y": 1, "z": 1}, r"\['x'\] are negative"),
    ],
)
def test_bad_budget_dict_is_refused(budget, message):
    X = pd.DataFrame(factor_returns(28, 100, 4), columns=["w", "x", "y", "z"])
    with pytest.raises(ValueError, match=message):
        RiskParity(risk_budget=budget).fit(X)


def test_budget_dict_needs_column_names():
    with pytest.raises(ValueError, match="column names"):
        RiskParity(risk_budget={"a": 1, "b": 1}).fit(factor_returns(29, 100, 2))


def test_indefinite_estimate_is_repaired_to_nearest_psd():
    indefinite = np.array([[0.04, 0.01, 0.0], [0.01, -0.001, 0.0], [0.0, 0.0, 0.01]])

    class Indefinite(BaseEstimator):
        def fit(self, X, y=None):
            self.covariance_ = indefinite
            return self

    with pytest.raises(NotPositiveSemidefiniteError):
        solve(indefinite)
    model = RiskParity(covariance_estimator=Indefinite()).fit(np.ones((5, 3)))
    np.testing.assert_allclose(model.covariance_, nearest_psd(indefinite), rtol=1e-14)
    assert np.linalg.eigvalsh(model.covariance_)[0] > -1e-15
    assert_risk_budgeting_solution(model.weights_, model.covariance_, np.full(3, 1 / 3))


def test_solver_result_is_reproducible():
    covariance = np.cov(factor_returns(30, 900, 300), rowvar=False)
    first = solve(covariance)
    second = solve(covariance)
    np.testing.assert_array_equal(first.weights, second.weights)
    assert first.n_iter == second.n_iter
