"""MeanVariance against closed forms, Clarabel, its other parameterisations and invariances."""

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, clone
from sklearn.covariance import LedoitWolf

from skportfolio import MeanVariance, MinimumVariance
from skportfolio.exceptions import InfeasibleConstraintsError
from skportfolio.portfolio._solve import solve_portfolio_qp
from tests.portfolio.references import (
    FixedCovariance,
    FixedMean,
    add_return_floor,
    assert_kkt,
    constraint_arrays,
    constraint_cases,
    factor_returns,
    ill_conditioned_returns,
    max_violation,
    objective,
    objective_scale,
    reference_portfolio,
)
from tests.reference import TIGHT

N_ASSETS = 8
CASES = constraint_cases(N_ASSETS)


def fitted(estimator, X, y=None):
    estimator = clone(estimator).fit(X, y)
    return estimator, estimator._build_constraints(X.shape[1])


# ---------------------------------------------------------------- closed forms
def test_budget_only_closed_form():
    # max μ'w - λ/2 w'Σw s.t. 1'w = 1:
    # w = Σ⁻¹μ/λ + Σ⁻¹1 (1 - 1'Σ⁻¹μ/λ) / 1'Σ⁻¹1.
    X = factor_returns(20, 100, 6)
    mu, sigma, lam = X.mean(axis=0), np.cov(X, rowvar=False), 3.0
    inv_mu, inv_ones = np.linalg.solve(sigma, mu), np.linalg.solve(sigma, np.ones(6))
    expected = inv_mu / lam + inv_ones * (1 - inv_mu.sum() / lam) / inv_ones.sum()
    est = MeanVariance(risk_aversion=lam, min_weights=None, max_weights=None).fit(X)
    np.testing.assert_allclose(est.weights_, expected, rtol=0, atol=1e-12)
    # Factorised from the Gram matrix (small means: of the uncentred
    # returns), which the fit keeps: covariance_ is built from it on first
    # read, whatever the caller does to X meanwhile.
    assert "_covariance" not in est.__dict__
    assert est.volatility_ == pytest.approx(np.sqrt(expected @ sigma @ expected))
    np.testing.assert_allclose(est.mean_, mu, rtol=1e-15)
    X[:] = 0.0
    np.testing.assert_allclose(est.covariance_, sigma, rtol=1e-13, atol=1e-18)


def test_two_assets_by_hand():
    # μ = (0.05, 0.10), Σ = diag(0.01, 0.04), w = (a, 1-a): the first-order
    # condition -0.05 - λ(0.05a - 0.04) = 0 gives a = 0.8 - 1/λ.
    est = MeanVariance(
        risk_aversion=2.5,
        mean_estimator=FixedMean([0.05, 0.10]),
        covariance_estimator=FixedCovariance(np.diag([0.01, 0.04])),
    ).fit(np.zeros((3, 2)))
    np.testing.assert_allclose(est.weights_, [0.4, 0.6], atol=1e-15)
    assert est.expected_return_ == pytest.approx(0.08, abs=1e-15)
    assert est.volatility_ == pytest.approx(
        np.sqrt(0.16 * 0.01 + 0.36 * 0.04), abs=1e-15
    )
    # Below λ = 1.25 the long-only portfolio is all in the second asset.
    est.set_params(risk_aversion=1.0).fit(np.zeros((3, 2)))
    np.testing.assert_array_equal(est.weights_, [0.0, 1.0])


def test_default_is_risk_aversion_one():
    X = factor_returns(21, 100, 5)
    np.testing.assert_array_equal(
        MeanVariance().fit(X).weights_, MeanVariance(risk_aversion=1.0).fit(X).weights_
    )


# ------------------------------------------------------------------- Clarabel
def tradeoff_problem(est, t):
    """``P, q`` of ``min 1/2 w'Σw - t μ'w`` for a fitted estimator."""
    return est.covariance_, -t * est.mean_


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kind", ["random", "ill_conditioned"])
@pytest.mark.parametrize("risk_aversion", [0.5, 5.0, 200.0])
def test_risk_aversion_matches_clarabel_and_kkt(case, kind, risk_aversion):
    make = factor_returns if kind == "random" else ill_conditioned_returns
    X = make(22, 150, N_ASSETS)
    est, constraints = fitted(
        MeanVariance(risk_aversion=risk_aversion, **CASES[case]), X
    )
    P, q = tradeoff_problem(est, 1 / risk_aversion)
    _, obj_ref, polished = reference_portfolio(P, q, constraint_arrays(constraints))
    w = est.weights_
    assert max_violation(constraints, w) <= 1e-10
    assert objective(P, q, w) <= obj_ref + 1e-8 * objective_scale(P, q, w)
    if kind == "random":
        assert polished is not None
        np.testing.assert_allclose(w, polished, rtol=0, atol=1e-8)
    result = solve_portfolio_qp(P, q, constraints)
    np.testing.assert_allclose(result.x, w, rtol=0, atol=1e-10)
    assert_kkt(result, P, q, constraints)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fraction", [0.3, 0.8])
def test_target_return_matches_clarabel(case, fraction):
    X = factor_returns(23, 150, N_ASSETS)
    low = MinimumVariance(**CASES[case]).fit(X).weights_ @ X.mean(axis=0)
    high = MeanVariance(risk_aversion=1e-3, **CASES[case]).fit(X).expected_return_
    target = low + fraction * (high - low)
    est, constraints = fitted(MeanVariance(target_return=target, **CASES[case]), X)
    P, q = est.covariance_, np.zeros(N_ASSETS)
    arrays = add_return_floor(constraint_arrays(constraints), est.mean_, target)
    _, obj_ref, polished = reference_portfolio(P, q, arrays)
    w = est.weights_
    assert est.expected_return_ >= target - 1e-12
    assert max_violation(constraints, w) <= 1e-10
    assert objective(P, q, w) <= obj_ref + 1e-8 * objective_scale(P, q, w)
    assert polished is not None
    np.testing.assert_allclose(w, polished, rtol=0, atol=1e-8)


# ------------------------------------------------------------ parameterisations
@pytest.mark.parametrize("q", [0.01, 0.4, 7.0])
def test_risk_tolerance_is_risk_aversion_two_over_q(q):
    X = factor_returns(24, 120, 6)
    a = MeanVariance(risk_tolerance=q, max_weights=0.5).fit(X).weights_
    b = MeanVariance(risk_aversion=2 / q, max_weights=0.5).fit(X).weights_
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_zero_risk_tolerance_is_minimum_variance():
    X = factor_returns(25, 120, 6)
    for params in (
        {},
        {"max_weights": 0.3},
        {"min_weights": None, "max_weights": None},
    ):
        a = MeanVariance(risk_tolerance=0.0, **params).fit(X).weights_
        b = MinimumVariance(**params).fit(X).weights_
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_target_return_reproduces_the_risk_aversion_portfolio():
    X = factor_returns(26, 120, 7)
    mv = MeanVariance(risk_aversion=20.0, max_weights=0.4).fit(X)
    target = MeanVariance(target_return=mv.expected_return_, max_weights=0.4).fit(X)
    np.testing.assert_allclose(target.weights_, mv.weights_, rtol=0, atol=1e-8)


def test_target_below_minimum_variance_return_gives_minimum_variance():
    X = factor_returns(27, 120, 5)
    w_min = MinimumVariance().fit(X).weights_
    target = w_min @ X.mean(axis=0) - 0.01
    np.testing.assert_allclose(
        MeanVariance(target_return=target).fit(X).weights_, w_min, rtol=0, atol=1e-10
    )


def test_unattainable_target_names_the_largest_return():
    X = factor_returns(28, 120, 6)
    mu = np.sort(X.mean(axis=0))[::-1]
    # Long-only, at most 0.5 per asset: the best is half in each of the top two.
    largest = 0.5 * (mu[0] + mu[1])
    with pytest.raises(InfeasibleConstraintsError, match=f"{largest:.6g}") as info:
        MeanVariance(target_return=largest + 1e-4, max_weights=0.5).fit(X)
    assert "target_return" in str(info.value)
    # The largest return itself is attainable.
    est = MeanVariance(target_return=largest, max_weights=0.5).fit(X)
    assert est.expected_return_ == pytest.approx(largest, abs=1e-12)


def test_infeasible_constraints_with_a_target_blame_the_constraints():
    X = factor_returns(29, 60, 10)
    with pytest.raises(InfeasibleConstraintsError, match=r"at most 0\.5"):
        MeanVariance(target_return=0.0, max_weights=0.05).fit(X)


@pytest.mark.parametrize(
    "params",
    [
        dict(risk_aversion=2.0, target_return=0.01),
        dict(risk_aversion=2.0, risk_tolerance=1.0),
        dict(target_return=0.01, risk_tolerance=0.0),
    ],
)
def test_at_most_one_objective_parameter(params):
    with pytest.raises(ValueError, match="at most one of risk_aversion, target_return"):
        MeanVariance(**params).fit(factor_returns(30, 20, 3))


@pytest.mark.parametrize(
    "params",
    [
        dict(risk_aversion=0.0),
        dict(risk_aversion=-1.0),
        dict(risk_tolerance=-0.1),
        dict(target_return=np.nan),
        dict(risk_aversion=1e-320),
    ],
)
def test_invalid_objective_parameters(params):
    with pytest.raises(ValueError):
        MeanVariance(**params).fit(factor_returns(31, 20, 3))


# ------------------------------------------------------------------ benchmark
def test_benchmark_uses_active_returns():
    X = factor_returns(32, 150, 5)
    y = X[:, :2].mean(axis=1) + 0.002
    est = MeanVariance(risk_aversion=50.0).fit(X, y)
    active = X - y[:, None]
    np.testing.assert_allclose(est.mean_, active.mean(axis=0), atol=1e-15)
    np.testing.assert_allclose(
        est.covariance_, np.cov(active, rowvar=False), atol=1e-15
    )
    # Independently: the data form of E[Xw - y] - λ/2 Var(Xw - y).
    w = cp.Variable(5)
    excess = X @ w - y
    centred = excess - cp.sum(excess) / 150
    utility = cp.sum(excess) / 150 - 25.0 * cp.sum_squares(centred) / 149
    problem = cp.Problem(cp.Maximize(utility), [cp.sum(w) == 1, w >= 0, w <= 1])
    problem.solve(**TIGHT)
    realised = X @ est.weights_ - y
    ours = realised.mean() - 25.0 * realised.var(ddof=1)
    assert ours >= problem.value - 1e-10 * abs(problem.value)
    np.testing.assert_allclose(est.weights_, w.value, atol=1e-6)


# ----------------------------------------------------------- mean estimators
class HalfMean(BaseEstimator):
    def fit(self, X, y=None):
        self.location_ = 0.5 * np.asarray(X).mean(axis=0)
        return self


def test_mean_estimator_is_used_and_cloned():
    X = factor_returns(33, 100, 4)
    estimator = HalfMean()
    est = MeanVariance(mean_estimator=estimator, risk_aversion=4.0).fit(X)
    np.testing.assert_allclose(est.mean_, 0.5 * X.mean(axis=0), atol=1e-16)
    # Halving μ is doubling λ.
    doubled = MeanVariance(risk_aversion=8.0).fit(X)
    np.testing.assert_allclose(est.weights_, doubled.weights_, atol=1e-12)
    assert not hasattr(estimator, "location_")


def test_skportfolio_mean_estimators():
    moments = pytest.importorskip("skportfolio.moments")
    X = factor_returns(34, 100, 4)
    for mean_estimator in (
        moments.EmpiricalMean(),
        moments.EWMean(halflife=20.0),
        moments.ShrunkMean(),
    ):
        est = MeanVariance(mean_estimator=mean_estimator, risk_aversion=4.0).fit(X)
        location = clone(mean_estimator).fit(X).location_
        np.testing.assert_allclose(est.mean_, location, atol=1e-15)
        same = MeanVariance(mean_estimator=FixedMean(location), risk_aversion=4.0).fit(
            X
        )
        np.testing.assert_array_equal(est.weights_, same.weights_)


class BadMean(BaseEstimator):
    def fit(self, X, y=None):
        self.location_ = np.zeros(X.shape[1] + 1)
        return self


def test_mean_estimator_of_the_wrong_size_raises():
    with pytest.raises(ValueError, match="location_"):
        MeanVariance(mean_estimator=BadMean()).fit(factor_returns(35, 20, 3))


def test_fitted_attributes():
    X = pd.DataFrame(factor_returns(36, 100, 4), columns=["a", "b", "c", "d"])
    est = MeanVariance(risk_aversion=10.0, covariance_estimator=LedoitWolf()).fit(X)
    w = est.weights_
    assert est.expected_return_ == pytest.approx(
        float(X.to_numpy().mean(axis=0) @ w), abs=1e-15
    )
    assert est.volatility_ == pytest.approx(np.sqrt(w @ est.covariance_ @ w), rel=1e-14)
    sample = MeanVariance(risk_aversion=10.0).fit(X)
    assert sample.volatility_ == pytest.approx(
        np.std(X.to_numpy() @ sample.weights_, ddof=1), rel=1e-12
    )
    assert list(est.feature_names_in_) == ["a", "b", "c", "d"]
    assert est.weights_series_.index.tolist() == ["a", "b", "c", "d"]


def test_constant_asset_is_the_risk_free_asset():
    # Budget-only, with a risk-free asset of return r: the risky part is
    # Σ_r⁻¹(μ - r)/λ (the rest in cash), the tangency direction.
    X = factor_returns(37, 200, 4)
    r = 0.002
    X = np.column_stack([X, np.full(200, r)])
    est = MeanVariance(risk_aversion=6.0, min_weights=None, max_weights=None).fit(X)
    risky = (
        np.linalg.solve(np.cov(X[:, :4], rowvar=False), X[:, :4].mean(axis=0) - r) / 6.0
    )
    np.testing.assert_allclose(est.weights_[:4], risky, atol=1e-9)
    assert est.weights_[4] == pytest.approx(1 - risky.sum(), abs=1e-9)


# ----------------------------------------------------------------- properties
seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=30, deadline=None)
@given(
    seed=seeds,
    n=st.integers(2, 12),
    case=st.sampled_from(sorted(CASES)),
    log_lambda=st.floats(-1, 3),
)
def test_weights_sum_to_budget_and_respect_bounds(seed, n, case, log_lambda):
    X = factor_returns(seed, 40, n)
    try:
        est, constraints = fitted(
            MeanVariance(risk_aversion=10**log_lambda, **constraint_cases(n)[case]), X
        )
    except InfeasibleConstraintsError:
        return
    w = est.weights_
    assert abs(w.sum() - 1) <= 1e-12
    assert np.all(w >= constraints.lb) and np.all(w <= constraints.ub)
    assert max_violation(constraints, w) <= 1e-10


@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=st.integers(2, 12), log_lambda=st.floats(-1, 3))
def test_permuting_assets_permutes_weights(seed, n, log_lambda):
    X = factor_returns(seed, 50, n)
    perm = np.random.default_rng(seed).permutation(n)
    caps = np.linspace(0.3, 0.9, n)
    w = MeanVariance(risk_aversion=10**log_lambda, max_weights=caps).fit(X).weights_
    w_perm = (
        MeanVariance(risk_aversion=10**log_lambda, max_weights=caps[perm])
        .fit(X[:, perm])
        .weights_
    )
    np.testing.assert_allclose(w_perm, w[perm], rtol=0, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    seed=seeds,
    n=st.integers(2, 10),
    c=st.floats(1e-2, 1e2),
    log_lambda=st.floats(-1, 3),
)
def test_scaling_returns_rescales_the_parameters(seed, n, c, log_lambda):
    # X -> cX gives μ -> cμ and Σ -> c²Σ, so
    # cμ'w - (λ/c)/2 c²w'Σw = c (μ'w - λ/2 w'Σw): the same weights with λ/c,
    # with risk tolerance q c, and with target return c r.
    X = factor_returns(seed, 50, n)
    lam = 10**log_lambda
    params = dict(max_weights=0.6)
    w = MeanVariance(risk_aversion=lam, **params).fit(X)
    w_scaled = MeanVariance(risk_aversion=lam / c, **params).fit(c * X).weights_
    np.testing.assert_allclose(w_scaled, w.weights_, rtol=0, atol=1e-8)
    q = 2 / lam
    w_q = MeanVariance(risk_tolerance=q * c, **params).fit(c * X).weights_
    np.testing.assert_allclose(w_q, w.weights_, rtol=0, atol=1e-8)
    target = MeanVariance(target_return=w.expected_return_, **params).fit(X).weights_
    scaled_target = (
        MeanVariance(target_return=c * w.expected_return_, **params).fit(c * X).weights_
    )
    np.testing.assert_allclose(scaled_target, target, rtol=0, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=st.integers(3, 10), shift=st.floats(-0.05, 0.05))
def test_a_common_return_shift_leaves_weights_unchanged(seed, n, shift):
    # With the budget fixed, μ'w shifts by a constant: the optimum is unchanged.
    X = factor_returns(seed, 50, n)
    w = MeanVariance(risk_aversion=5.0, max_weights=0.5).fit(X).weights_
    w_shift = MeanVariance(risk_aversion=5.0, max_weights=0.5).fit(X + shift).weights_
    np.testing.assert_allclose(w_shift, w, rtol=0, atol=1e-9)


def test_a_single_feasible_portfolio():
    # Two assets capped at 0.5 with budget 1: (0.5, 0.5) is the only portfolio.
    X = factor_returns(334, 50, 2) + 0.0390625
    est = MeanVariance(risk_aversion=5.0, max_weights=0.5).fit(X)
    np.testing.assert_array_equal(est.weights_, [0.5, 0.5])


# ---------------------------------------------------------------- bad inputs
def test_non_finite_and_single_period_inputs_raise():
    X = factor_returns(38, 20, 3)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MeanVariance().fit(X)
    with pytest.raises(ValueError, match="minimum of 2"):
        MeanVariance().fit(factor_returns(38, 1, 3))


def test_inputs_are_not_mutated():
    X = factor_returns(39, 60, 4)
    y = X.mean(axis=1)
    caps = np.full(4, 0.5)
    copies = [a.copy() for a in (X, y, caps)]
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame_copy = frame.copy()
    MeanVariance(risk_aversion=3.0, max_weights=caps).fit(X, y)
    MeanVariance(target_return=0.004, max_weights={"a": 0.2}).fit(frame)
    for original, copy in zip((X, y, caps), copies):
        np.testing.assert_array_equal(original, copy)
    pd.testing.assert_frame_equal(frame, frame_copy)


def test_largest_return_on_a_face_gives_the_least_risky_of_those_portfolios():
    # Assets 0 and 1 share the largest mean: every mix of them attains the
    # largest return, and the target picks their minimum-variance mix
    # w0 = (σ1² - σ01) / (σ0² + σ1² - 2σ01).
    X = factor_returns(40, 150, 5)
    mu = X.mean(axis=0)
    X[:, 1] += mu[0] - mu[1]
    X[:, :2] += 0.05 - mu[0]  # well above the other means
    assert np.all(X.mean(axis=0)[2:] < 0.04)
    top = X.mean(axis=0)[0]
    s = np.cov(X[:, :2], rowvar=False)
    w0 = (s[1, 1] - s[0, 1]) / (s[0, 0] + s[1, 1] - 2 * s[0, 1])
    est = MeanVariance(target_return=top).fit(X)
    np.testing.assert_allclose(est.weights_, [w0, 1 - w0, 0, 0, 0], atol=1e-10)


@pytest.mark.parametrize("c", [1.0, 1.5])
def test_largest_return_at_a_vertex(c):
    # max_weights=0.6: the largest return puts 0.6 in the best asset and 0.4
    # in the second; the return constraint then holds only at that vertex
    # (quadprog reports it inconsistent for c=1.5; the critical line's end
    # gives the portfolio).
    X = c * factor_returns(0, 50, 5)
    order = np.argsort(X.mean(axis=0))[::-1]
    expected = np.zeros(5)
    expected[order[:2]] = [0.6, 0.4]
    top = X.mean(axis=0) @ expected
    est = MeanVariance(target_return=top, max_weights=0.6).fit(X)
    np.testing.assert_allclose(est.weights_, expected, atol=1e-12)
