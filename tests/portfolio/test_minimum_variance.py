"""MinimumVariance against closed forms, Clarabel, regression and invariances."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, clone
from sklearn.covariance import (
    OAS,
    GraphicalLassoCV,
    LedoitWolf,
    MinCovDet,
    ShrunkCovariance,
)

from skportfolio import ConstrainedLinearRegression, MinimumVariance
from skportfolio.exceptions import InfeasibleConstraintsError
from skportfolio.portfolio import budget_minimum_variance
from skportfolio.portfolio._base import nearest_psd
from skportfolio.portfolio._solve import solve_portfolio_qp
from tests.portfolio.references import (
    FixedCovariance,
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

N_ASSETS = 8
CASES = constraint_cases(N_ASSETS)


def fitted_problem(estimator, X):
    """The fitted estimator, its covariance and constraints."""
    estimator = clone(estimator).fit(X)
    return estimator, estimator.covariance_, estimator._build_constraints(X.shape[1])


# ---------------------------------------------------------------- closed forms
def test_budget_only_equals_closed_form_on_a_factor_model():
    # Seed 001: Σ = B Var(F) B' + diag(e) and w = Σ⁻¹1 / 1'Σ⁻¹1.
    rng = np.random.default_rng(1)
    B = rng.normal(1.0, 0.3, size=(10, 2))
    var_f = np.array([[0.04, 0.01], [0.01, 0.02]])
    sigma = B @ var_f @ B.T + np.diag(rng.uniform(0.01, 0.05, 10))
    inv_ones = np.linalg.solve(sigma, np.ones(10))
    expected = inv_ones / inv_ones.sum()
    est = MinimumVariance(
        covariance_estimator=FixedCovariance(sigma), min_weights=None, max_weights=None
    )
    weights = est.fit(rng.normal(size=(30, 10))).weights_
    np.testing.assert_allclose(weights, expected, rtol=0, atol=1e-12)
    assert np.any(weights < 0)  # the unconstrained optimum shorts


def test_budget_only_sample_covariance_closed_form_with_other_budget():
    X = factor_returns(2, 120, 6)
    sigma = np.cov(X, rowvar=False)
    inv_ones = np.linalg.solve(sigma, np.ones(6))
    est = MinimumVariance(min_weights=None, max_weights=None, budget=0.7).fit(X)
    np.testing.assert_allclose(
        est.weights_, 0.7 * inv_ones / inv_ones.sum(), atol=1e-12
    )


@pytest.mark.parametrize("layout", ["C", "F", "DataFrame"])
def test_budget_only_factorises_the_gram_matrix_and_keeps_no_returns(layout):
    # Returns with small means take the uncentred Gram matrix; covariance_ is
    # still np.cov's, and is built from a Gram matrix the fit kept, not from
    # the caller's array, which the caller may then overwrite.
    X = factor_returns(4, 240, 30)
    X = X - X.mean(axis=0) + 0.05 * X.std(axis=0)
    expected_cov = np.cov(X, rowvar=False)
    inv_ones = np.linalg.solve(expected_cov, np.ones(30))
    data = {"C": X.copy(), "F": np.asfortranarray(X), "DataFrame": pd.DataFrame(X)}[
        layout
    ]
    est = MinimumVariance(min_weights=None, max_weights=None).fit(data)
    np.testing.assert_allclose(
        est.weights_, inv_ones / inv_ones.sum(), rtol=1e-12, atol=1e-14
    )
    assert "_covariance" not in est.__dict__
    if layout == "DataFrame":
        data.iloc[:, :] = 0.0
    else:
        data[:] = 0.0
    np.testing.assert_allclose(est.covariance_, expected_cov, rtol=1e-13, atol=1e-18)


def test_budget_only_tracking_closed_form_from_the_returns():
    # The sample covariance is factorised from the returns (Σ = s LL'); the
    # benchmark term Σ⁻¹c must carry the scale s. Reference: the matrix form.
    X = factor_returns(3, 200, 8)
    y = X @ np.linspace(0.05, 0.2, 8) + 0.001 * np.sin(np.arange(200))
    joint = np.cov(np.column_stack([X, y]), rowvar=False)
    expected = budget_minimum_variance(joint[:8, :8], 1.0, joint[:8, 8])
    est = MinimumVariance(min_weights=None, max_weights=None).fit(X, y)
    np.testing.assert_allclose(est.weights_, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        est.weights_,
        ConstrainedLinearRegression(sum_to=1.0).fit(X, y).coef_,
        rtol=0,
        atol=1e-10,
    )
    np.testing.assert_allclose(est.covariance_, joint[:8, :8], rtol=1e-13)


def test_two_uncorrelated_assets_by_hand():
    # w ∝ 1/σ²: variances 1 and 4 give 0.8 and 0.2.
    est = MinimumVariance(covariance_estimator=FixedCovariance(np.diag([1.0, 4.0])))
    np.testing.assert_allclose(
        est.fit(np.zeros((3, 2))).weights_, [0.8, 0.2], atol=1e-15
    )


# ------------------------------------------------------------------- Clarabel
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kind", ["random", "ill_conditioned"])
def test_matches_clarabel_and_kkt(case, kind):
    make = factor_returns if kind == "random" else ill_conditioned_returns
    X = make(3, 150, N_ASSETS)
    est, P, constraints = fitted_problem(MinimumVariance(**CASES[case]), X)
    q = np.zeros(N_ASSETS)
    _, obj_ref, polished = reference_portfolio(P, q, constraint_arrays(constraints))
    w = est.weights_
    assert max_violation(constraints, w) <= 1e-10
    scale = objective_scale(P, q, w)
    assert objective(P, q, w) <= obj_ref + 1e-8 * scale
    if kind == "random":
        assert polished is not None
        np.testing.assert_allclose(w, polished, rtol=0, atol=1e-8)
    result = solve_portfolio_qp(P, q, constraints)
    np.testing.assert_allclose(result.x, w, rtol=0, atol=1e-12)
    assert_kkt(result, P, q, constraints)


def test_matches_clarabel_on_many_random_problems():
    for seed in range(10):
        n = 3 + seed
        X = factor_returns(100 + seed, 60, n)
        params = constraint_cases(n)["groups"] if seed % 2 else {"max_weights": 0.35}
        est, P, constraints = fitted_problem(MinimumVariance(**params), X)
        _, _, polished = reference_portfolio(
            P, np.zeros(n), constraint_arrays(constraints)
        )
        assert polished is not None
        np.testing.assert_allclose(est.weights_, polished, rtol=0, atol=1e-8)


# ------------------------------------------------------------------ benchmark
def test_benchmark_minimises_tracking_variance_like_the_regression():
    # Seed 000: the tracking portfolio is a regression with intercept whose
    # coefficients are non-negative and sum to one.
    X = factor_returns(4, 200, 6)
    rng = np.random.default_rng(4)
    y = X @ rng.dirichlet(np.ones(6)) + 0.01 * rng.standard_normal(200)
    est = MinimumVariance().fit(X, y)
    reg = ConstrainedLinearRegression(fit_intercept=True, positive=True, sum_to=1).fit(
        X, y
    )
    np.testing.assert_allclose(est.weights_, reg.coef_, rtol=0, atol=1e-8)
    # and directly: no feasible portfolio tracks y with less variance.
    Z = np.cov(np.column_stack([X, y]), rowvar=False)
    P, c = Z[:6, :6], Z[:6, 6]
    arrays = dict(
        A_eq=np.ones((1, 6)), b_eq=[1.0], A_ub=None, b_ub=None, lb=0.0, ub=1.0
    )
    _, _, polished = reference_portfolio(P, -c, arrays)
    np.testing.assert_allclose(est.weights_, polished, rtol=0, atol=1e-8)
    tracking = np.var(X @ est.weights_ - y, ddof=1)
    assert tracking <= np.var(X @ polished - y, ddof=1) * (1 + 1e-12)


def test_benchmark_with_shorts_matches_regression_with_sum_constraint():
    X = factor_returns(5, 90, 5)
    y = X[:, :3].mean(axis=1) + 0.002 * np.random.default_rng(5).standard_normal(90)
    est = MinimumVariance(min_weights=None, max_weights=None).fit(X, y)
    reg = ConstrainedLinearRegression(fit_intercept=True, sum_to=1).fit(X, y)
    np.testing.assert_allclose(est.weights_, reg.coef_, rtol=0, atol=1e-10)


# ----------------------------------------------------------------- properties
returns_seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=30, deadline=None)
@given(seed=returns_seeds, n=st.integers(2, 12), case=st.sampled_from(sorted(CASES)))
def test_weights_sum_to_budget_and_respect_bounds(seed, n, case):
    params = constraint_cases(n)[case]
    X = factor_returns(seed, 40, n)
    try:
        est, _, constraints = fitted_problem(MinimumVariance(**params), X)
    except InfeasibleConstraintsError:
        return  # e.g. bounds 0.01..0.3 cannot reach 1 with 3 assets
    w = est.weights_
    assert abs(w.sum() - 1.0) <= 1e-12
    assert np.all(w >= constraints.lb) and np.all(w <= constraints.ub)
    assert max_violation(constraints, w) <= 1e-10


@settings(max_examples=30, deadline=None)
@given(seed=returns_seeds, n=st.integers(2, 12), bounded=st.booleans())
def test_permuting_assets_permutes_weights(seed, n, bounded):
    X = factor_returns(seed, 50, n)
    perm = np.random.default_rng(seed).permutation(n)
    params = {"max_weights": np.linspace(0.3, 0.9, n)} if bounded else {}
    w = MinimumVariance(**params).fit(X).weights_
    permuted_params = {"max_weights": params["max_weights"][perm]} if bounded else {}
    w_perm = MinimumVariance(**permuted_params).fit(X[:, perm]).weights_
    np.testing.assert_allclose(w_perm, w[perm], rtol=0, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    seed=returns_seeds,
    n=st.integers(2, 10),
    c=st.floats(1e-3, 1e3),
    shift=st.floats(-0.05, 0.05),
)
def test_scaling_and_shifting_returns_leaves_weights_unchanged(seed, n, c, shift):
    # Σ(cX + a) = c²Σ(X): the same minimiser.
    X = factor_returns(seed, 50, n)
    w = MinimumVariance(max_weights=0.6).fit(X).weights_
    w_scaled = MinimumVariance(max_weights=0.6).fit(c * X + shift).weights_
    np.testing.assert_allclose(w_scaled, w, rtol=0, atol=1e-9)


# ------------------------------------------------------ covariance estimators
@pytest.mark.parametrize(
    "cov_estimator",
    [
        LedoitWolf(),
        OAS(),
        ShrunkCovariance(shrinkage=0.3),
        GraphicalLassoCV(),
        MinCovDet(random_state=0),
    ],
    ids=lambda e: type(e).__name__,
)
def test_covariance_estimators(cov_estimator):
    X = factor_returns(6, 120, 6)
    est = MinimumVariance(covariance_estimator=cov_estimator, max_weights=0.4).fit(X)
    covariance = clone(cov_estimator).fit(X).covariance_
    np.testing.assert_allclose(
        est.covariance_, 0.5 * (covariance + covariance.T), atol=1e-15
    )
    direct = MinimumVariance(
        covariance_estimator=FixedCovariance(covariance), max_weights=0.4
    )
    np.testing.assert_allclose(est.weights_, direct.fit(X).weights_, rtol=0, atol=1e-12)
    constraints = est._build_constraints(6)
    assert max_violation(constraints, est.weights_) <= 1e-12
    assert est.covariance_estimator is cov_estimator  # cloned, never fitted in place
    assert not hasattr(cov_estimator, "covariance_")


# ------------------------------------------------------------ hard covariances
def test_more_assets_than_periods_is_optimal():
    X = factor_returns(7, 8, 15)  # rank-7 covariance
    est, P, constraints = fitted_problem(MinimumVariance(max_weights=0.3), X)
    q = np.zeros(15)
    _, obj_ref, _ = reference_portfolio(P, q, constraint_arrays(constraints))
    assert max_violation(constraints, est.weights_) <= 1e-10
    assert objective(P, q, est.weights_) <= obj_ref + 1e-8 * objective_scale(
        P, q, est.weights_
    )


def test_fewer_periods_than_assets_budget_only_is_the_minimum_norm_optimum():
    # Σ singular: every w with Xc w = 0 and 1'w = 1 has zero variance. The
    # closed form picks the one of least norm, the limit of the ridge
    # solutions (Σ + εI)⁻¹1 / 1'(Σ + εI)⁻¹1 as ε -> 0.
    X = factor_returns(4, 30, 80)
    est = MinimumVariance(min_weights=None, max_weights=None).fit(X)
    centred = X - X.mean(axis=0)
    assert abs(est.weights_.sum() - 1.0) <= 1e-14
    assert np.max(np.abs(centred @ est.weights_)) <= 1e-14 * np.abs(centred).max()
    C = np.cov(X, rowvar=False)
    eps = 1e-9 * np.trace(C) / C.shape[0]
    ridge = np.linalg.solve(C + eps * np.eye(80), np.ones(80))
    np.testing.assert_allclose(est.weights_, ridge / ridge.sum(), atol=1e-6)
    # The minimum-norm point of the affine set {Xc w = 0, 1'w = 1}.
    M = np.vstack([centred, np.ones(80)])
    rhs = np.zeros(M.shape[0])
    rhs[-1] = 1.0
    np.testing.assert_allclose(
        est.weights_, np.linalg.lstsq(M, rhs, rcond=None)[0], atol=1e-12
    )


def test_long_only_optimum_does_not_form_the_covariance_until_read():
    X = factor_returns(5, 300, 120)
    est = MinimumVariance().fit(X)
    assert "_covariance" not in est.__dict__  # Σ not formed by the solver
    np.testing.assert_allclose(
        est.covariance_, np.cov(X, rowvar=False), rtol=1e-12, atol=1e-18
    )
    P, q = est.covariance_, np.zeros(120)
    constraints = est._build_constraints(120)
    _, obj_ref, _ = reference_portfolio(P, q, constraint_arrays(constraints))
    assert objective(P, q, est.weights_) <= obj_ref + 1e-10 * objective_scale(
        P, q, est.weights_
    )


def test_duplicated_asset_splits_a_unique_total():
    X = factor_returns(8, 100, 5)
    X = np.column_stack([X, X[:, 1]])  # asset 5 duplicates asset 1
    est, P, constraints = fitted_problem(MinimumVariance(max_weights=0.6), X)
    q = np.zeros(6)
    _, obj_ref, _ = reference_portfolio(P, q, constraint_arrays(constraints))
    w = est.weights_
    assert objective(P, q, w) <= obj_ref + 1e-8 * objective_scale(P, q, w)
    # The split between the twins is arbitrary, their total is not.
    unique_part = np.r_[w[[0, 2, 3, 4]], w[1] + w[5]]
    reduced = MinimumVariance(max_weights=1.2).fit(X[:, :5]).weights_
    np.testing.assert_allclose(unique_part, reduced[[0, 2, 3, 4, 1]], atol=1e-8)


class PerturbedCovariance(BaseEstimator):
    """Sample covariance with its smallest eigenvalue moved to ``smallest``."""

    def __init__(self, smallest=-1e-10):
        self.smallest = smallest

    def fit(self, X, y=None):
        values, vectors = np.linalg.eigh(np.cov(X, rowvar=False))
        values[0] = self.smallest
        self.covariance_ = (vectors * values) @ vectors.T
        return self


@pytest.mark.parametrize(
    "params", [{}, {"max_weights": 0.3}, {"min_weights": None, "max_weights": None}]
)
def test_slightly_indefinite_covariance_gives_the_psd_optimum(params):
    X = factor_returns(9, 60, 8)
    X[:, 7] = X[:, :7].mean(axis=1)  # a zero eigenvalue, then pushed below zero
    est = MinimumVariance(covariance_estimator=PerturbedCovariance(), **params).fit(X)
    assert np.linalg.eigvalsh(est.covariance_)[0] < 0
    P = nearest_psd(est.covariance_)
    constraints = est._build_constraints(8)
    q = np.zeros(8)
    _, obj_ref, _ = reference_portfolio(P, q, constraint_arrays(constraints))
    w = est.weights_
    assert max_violation(constraints, w) <= 1e-10
    assert objective(P, q, w) <= obj_ref + 1e-8 * objective_scale(P, q, w)


def test_constant_asset_takes_all_the_weight_it_may():
    # A constant asset has zero variance: the long-only minimum-variance
    # portfolio holds as much of it as max_weights allows, and the rest is
    # the minimum-variance portfolio of the other assets.
    X = factor_returns(10, 80, 5)
    X[:, 2] = 0.003
    np.testing.assert_allclose(
        MinimumVariance().fit(X).weights_, np.eye(5)[2], atol=1e-12
    )
    w = MinimumVariance(max_weights=0.5).fit(X).weights_
    others = MinimumVariance().fit(X[:, [0, 1, 3, 4]]).weights_
    assert w[2] == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(w[[0, 1, 3, 4]], 0.5 * others, atol=1e-8)


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_returns_raise(bad):
    X = factor_returns(11, 20, 3)
    X[4, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        MinimumVariance().fit(X)


def test_one_period_raises():
    with pytest.raises(ValueError, match="minimum of 2"):
        MinimumVariance().fit(np.array([[0.01, 0.02, 0.03]]))


def test_infeasible_bounds_are_explained():
    X = factor_returns(12, 30, 10)
    with pytest.raises(InfeasibleConstraintsError, match=r"at most 0\.5.*must equal 1"):
        MinimumVariance(max_weights=0.05).fit(X)


def test_infeasible_group_bounds_raise():
    X = factor_returns(13, 30, 4)
    est = MinimumVariance(
        groups=["a", "a", "b", "b"], group_bounds={"a": (0.7, None), "b": (0.4, None)}
    )
    with pytest.raises(InfeasibleConstraintsError, match="group"):
        est.fit(X)


def test_dict_bounds_and_groups_by_column_name():
    names = ["alpha", "beta", "gamma", "delta"]
    X = pd.DataFrame(factor_returns(14, 100, 4), columns=names)
    est = MinimumVariance(
        min_weights={"alpha": 0.1},
        max_weights={"beta": 0.2, "gamma": 0.25},
        groups={"alpha": "x", "beta": "x", "gamma": "y", "delta": "y"},
        group_bounds={"y": (None, 0.5)},
    ).fit(X)
    w = est.weights_series_
    assert list(w.index) == names
    assert w["alpha"] >= 0.1 and w["beta"] <= 0.2 and w["gamma"] <= 0.25
    assert w["gamma"] + w["delta"] <= 0.5 + 1e-12
    # The same problem with positional arrays.
    array_est = MinimumVariance(
        min_weights=[0.1, 0.0, 0.0, 0.0],
        max_weights=[1.0, 0.2, 0.25, 1.0],
        A_ub=[[0, 0, 1, 1]],
        b_ub=[0.5],
    ).fit(X.to_numpy())
    np.testing.assert_allclose(w.to_numpy(), array_est.weights_, atol=1e-12)


def test_dict_bounds_need_names():
    with pytest.raises(ValueError, match="dict"):
        MinimumVariance(max_weights={"a": 0.5}).fit(factor_returns(15, 20, 3))


def test_inputs_are_not_mutated():
    X = factor_returns(16, 50, 4)
    y = X.mean(axis=1)
    max_weights = np.full(4, 0.6)
    A_ub = np.ones((1, 4))
    copies = [a.copy() for a in (X, y, max_weights, A_ub)]
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame_copy = frame.copy()
    MinimumVariance(max_weights=max_weights, A_ub=A_ub, b_ub=[1.0]).fit(X, y)
    MinimumVariance(max_weights={"a": 0.3}).fit(frame)
    for original, copy in zip((X, y, max_weights, A_ub), copies):
        np.testing.assert_array_equal(original, copy)
    pd.testing.assert_frame_equal(frame, frame_copy)
