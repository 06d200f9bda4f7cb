"""efficient_frontier against independent Clarabel solves, MeanVariance and hand values."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from skportfolio import MeanVariance, MinimumVariance, efficient_frontier
from skportfolio.datasets import load_industry_returns
from skportfolio.exceptions import InfeasibleConstraintsError
from skportfolio.portfolio import Frontier, _critical_line, _frontier
from tests.portfolio.references import (
    add_return_floor,
    constraint_arrays,
    constraint_cases,
    factor_returns,
    max_violation,
    reference_portfolio,
)

N_ASSETS = 8
CASES = constraint_cases(N_ASSETS)


def largest_return(mean, constraints):
    """max mean'w by HiGHS, written out independently of the library."""
    c = constraints
    result = linprog(
        -mean,
        A_eq=c.A_eq,
        b_eq=c.b_eq,
        A_ub=c.A_ub if c.A_ub.shape[0] else None,
        b_ub=c.b_ub if c.A_ub.shape[0] else None,
        bounds=list(zip(c.lb, c.ub)),
        method="highs",
    )
    assert result.status == 0
    return -result.fun


@pytest.fixture
def no_direct_solves(monkeypatch):
    """Fail if any point is solved as its own QP instead of read off the path."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a point was solved directly")

    monkeypatch.setattr(_frontier, "minimum_variance_for_return", forbidden)
    monkeypatch.setattr(_frontier, "_direct_frontier", forbidden)


# ------------------------------------------------------------------- Clarabel
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seed", [50, 51])
def test_every_point_matches_an_independent_clarabel_solve(
    case, seed, no_direct_solves
):
    X = factor_returns(seed, 120, N_ASSETS)
    n_points = 12
    frontier = efficient_frontier(X, n_points=n_points, **CASES[case])
    est = MeanVariance(**CASES[case]).fit(X)
    mean, P = est.mean_, est.covariance_
    constraints = est._build_constraints(N_ASSETS)
    arrays = constraint_arrays(constraints)
    q = np.zeros(N_ASSETS)
    low = mean @ MinimumVariance(**CASES[case]).fit(X).weights_
    high = largest_return(mean, constraints)
    np.testing.assert_allclose(
        frontier.returns, np.linspace(low, high, n_points), atol=1e-10
    )
    for k, (weights, target) in enumerate(zip(frontier.weights, frontier.returns)):
        floor = arrays if k == 0 else add_return_floor(arrays, mean, target)
        _, _, polished = reference_portfolio(P, q, floor)
        assert polished is not None, k
        np.testing.assert_allclose(
            weights, polished, rtol=0, atol=1e-8, err_msg=f"point {k}"
        )
        assert max_violation(constraints, weights) <= 1e-10
    np.testing.assert_allclose(
        frontier.volatilities,
        np.sqrt(np.einsum("ki,ij,kj->k", frontier.weights, P, frontier.weights)),
        rtol=1e-14,
    )


def test_risk_aversions_reproduce_the_points():
    X = factor_returns(52, 150, N_ASSETS)
    frontier = efficient_frontier(X, n_points=15, max_weights=0.4)
    assert frontier.risk_aversions[0] == np.inf
    assert np.all(np.diff(frontier.risk_aversions) < 0)
    for weights, lam in zip(frontier.weights[1:], frontier.risk_aversions[1:]):
        mv = MeanVariance(risk_aversion=lam, max_weights=0.4).fit(X)
        np.testing.assert_allclose(mv.weights_, weights, rtol=0, atol=1e-8)
    # The last point is the largest risk aversion reaching the top return:
    # a slightly larger one gives a lower return.
    lam_top = frontier.risk_aversions[-1]
    above = MeanVariance(risk_aversion=lam_top * 1.01, max_weights=0.4).fit(X)
    assert above.expected_return_ < frontier.returns[-1] - 1e-9


def test_first_point_is_minimum_variance_and_frontier_is_efficient():
    X = load_industry_returns(as_frame=False)
    frontier = efficient_frontier(X, n_points=30)
    np.testing.assert_allclose(
        frontier.weights[0], MinimumVariance().fit(X).weights_, rtol=0, atol=1e-10
    )
    # Long-only fully invested: the top return is the best asset alone.
    best = np.argmax(X.mean(axis=0))
    np.testing.assert_allclose(frontier.weights[-1], np.eye(12)[best], atol=1e-12)
    assert np.all(np.diff(frontier.returns) > 0)
    assert np.all(np.diff(frontier.volatilities) > 0)
    # Convexity of the frontier: volatility is convex in return.
    slopes = np.diff(frontier.volatilities) / np.diff(frontier.returns)
    assert np.all(np.diff(slopes) >= -1e-9)


def test_two_assets_by_hand():
    # w = (0.8 - 1/λ, 0.2 + 1/λ) until the first asset reaches 0 at λ = 1.25.
    frontier = efficient_frontier(
        mean=np.array([0.05, 0.10]), covariance=np.diag([0.01, 0.04]), n_points=5
    )
    expected_first = np.array([0.8, 0.6, 0.4, 0.2, 0.0])
    np.testing.assert_allclose(frontier.weights[:, 0], expected_first, atol=1e-15)
    np.testing.assert_allclose(
        frontier.returns, 0.05 + 0.05 * (1 - expected_first), atol=1e-15
    )
    np.testing.assert_allclose(
        frontier.risk_aversions[1:], 1 / (0.8 - expected_first[1:])
    )


def test_one_point_and_a_single_feasible_portfolio():
    X = factor_returns(53, 60, 4)
    one = efficient_frontier(X, n_points=1)
    np.testing.assert_allclose(
        one.weights[0], MinimumVariance().fit(X).weights_, atol=1e-10
    )
    # Bounds 0.25 each over 4 assets leave one portfolio.
    pinned = efficient_frontier(X, n_points=4, max_weights=0.25)
    np.testing.assert_allclose(pinned.weights, np.full((4, 4), 0.25), atol=1e-15)
    assert np.ptp(pinned.returns) <= 1e-15


# -------------------------------------------------------- efficiency and paths
def test_one_quadratic_programme_per_frontier(monkeypatch, no_direct_solves):
    calls = []
    original = _critical_line.solve_portfolio_qp

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_critical_line, "solve_portfolio_qp", counting)
    X = factor_returns(54, 200, 30)
    frontier = efficient_frontier(X, n_points=100, max_weights=0.2)
    assert len(calls) == 1
    assert frontier.weights.shape == (100, 30)


def test_the_path_survives_many_random_problems(no_direct_solves):
    for seed in range(20):
        n = 2 + seed
        X = factor_returns(200 + seed, 3 * n + 10, n)
        params = [{}, {"max_weights": 0.5}, {"min_weights": -0.2, "max_weights": 0.5}][
            seed % 3
        ]
        frontier = efficient_frontier(X, n_points=10, **params)
        assert np.all(np.diff(frontier.returns) >= 0)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 25),
    case=st.sampled_from(["long_only", "capped", "shorts"]),
)
def test_points_equal_direct_target_return_solves(seed, n, case):
    # Each point read off the path equals the QP solved for its target alone.
    params = {
        "long_only": {},
        "capped": {"max_weights": max(0.3, 1.5 / n)},
        "shorts": {"min_weights": -0.2, "max_weights": 0.6},
    }[case]
    X = factor_returns(seed, 2 * n + 10, n)
    frontier = efficient_frontier(X, n_points=6, **params)
    est = MeanVariance(**params).fit(X)
    constraints = est._build_constraints(n)
    for weights, target, lam in zip(
        frontier.weights[1:-1], frontier.returns[1:-1], frontier.risk_aversions[1:-1]
    ):
        direct, t = _critical_line.minimum_variance_for_return(
            est.covariance_, est.mean_, constraints, target
        )
        np.testing.assert_allclose(weights, direct, rtol=0, atol=1e-8)
        if np.ptp(frontier.returns) > 1e-9:  # else the multiplier is not unique
            assert 1 / lam == pytest.approx(t, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize(
    "n_periods, max_weights, path_traced",
    [(6, 0.3, True), (3, 1.0, False)],
)
def test_singular_covariance_points_are_optimal(
    monkeypatch, n_periods, max_weights, path_traced
):
    # More assets than periods: Σ is singular. With few free weights the
    # path's KKT systems stay regular and it is traced; with 3 periods they
    # do not, and every point is solved directly. Either way the variances
    # match Clarabel's.
    direct = []
    original = _frontier._direct_frontier
    monkeypatch.setattr(
        _frontier, "_direct_frontier", lambda *a: direct.append(1) or original(*a)
    )
    X = factor_returns(55, n_periods, 12)
    frontier = efficient_frontier(X, n_points=6, max_weights=max_weights)
    assert bool(direct) is not path_traced
    est = MeanVariance(max_weights=max_weights).fit(X)
    constraints = est._build_constraints(12)
    arrays = constraint_arrays(constraints)
    P, q = est.covariance_, np.zeros(12)
    high = largest_return(est.mean_, constraints)
    assert frontier.returns[-1] == pytest.approx(high, abs=1e-10)
    for k, (weights, target) in enumerate(zip(frontier.weights, frontier.returns)):
        floor = (
            arrays if k == 0 else add_return_floor(arrays, est.mean_, target - 1e-13)
        )
        _, variance_ref, _ = reference_portfolio(P, q, floor)
        variance = 0.5 * weights @ P @ weights
        assert variance <= variance_ref + 1e-8 * max(variance_ref, 1e-12), k
        assert max_violation(constraints, weights) <= 1e-10


def test_benchmark_gives_the_frontier_of_active_returns():
    X = factor_returns(56, 100, 5)
    y = X.mean(axis=1) + 0.001
    with_y = efficient_frontier(X, y, n_points=5)
    active = efficient_frontier(X - y[:, None], n_points=5)
    np.testing.assert_allclose(with_y.weights, active.weights, atol=1e-15)


# -------------------------------------------------------------- inputs/outputs
def test_moments_input_and_names():
    X = pd.DataFrame(factor_returns(57, 80, 3), columns=["a", "b", "c"])
    from_x = efficient_frontier(X, n_points=4, max_weights={"a": 0.5})
    assert from_x.asset_names == ("a", "b", "c")
    mean = X.mean()
    from_moments = efficient_frontier(
        mean=mean, covariance=X.cov(), n_points=4, max_weights={"a": 0.5}
    )
    np.testing.assert_allclose(from_moments.weights, from_x.weights, atol=1e-12)
    assert from_moments.asset_names == ("a", "b", "c")
    frame = from_x.to_frame()
    assert list(frame.columns) == [
        "return",
        "volatility",
        "risk_aversion",
        "a",
        "b",
        "c",
    ]
    np.testing.assert_array_equal(frame[["a", "b", "c"]].to_numpy(), from_x.weights)
    assert isinstance(from_x, Frontier)


def test_estimators_are_used():
    from sklearn.covariance import LedoitWolf

    X = factor_returns(58, 80, 4)
    frontier = efficient_frontier(X, n_points=3, covariance_estimator=LedoitWolf())
    mv = MeanVariance(
        risk_aversion=frontier.risk_aversions[1], covariance_estimator=LedoitWolf()
    )
    np.testing.assert_allclose(mv.fit(X).weights_, frontier.weights[1], atol=1e-8)


def test_unbounded_return_raises():
    X = factor_returns(59, 60, 4)
    with pytest.raises(ValueError, match="unbounded"):
        efficient_frontier(X, min_weights=None, max_weights=None)


def test_infeasible_constraints_raise():
    X = factor_returns(60, 60, 10)
    with pytest.raises(InfeasibleConstraintsError, match=r"at most 0\.5"):
        efficient_frontier(X, max_weights=0.05)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_points": 0}, "n_points"),
        ({"n_points": 2.5}, "n_points"),
        ({"mean": np.zeros(3)}, "either X or mean"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        efficient_frontier(factor_returns(61, 20, 3), **kwargs)


def test_moments_need_both():
    with pytest.raises(ValueError, match="both mean and covariance"):
        efficient_frontier(mean=np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        efficient_frontier(mean=np.zeros(3), covariance=np.eye(2))


def test_inputs_are_not_mutated():
    X = factor_returns(62, 60, 4)
    mean, covariance = X.mean(axis=0), np.cov(X, rowvar=False)
    copies = [a.copy() for a in (X, mean, covariance)]
    efficient_frontier(X, n_points=5)
    efficient_frontier(mean=mean, covariance=covariance, n_points=5)
    for original, copy in zip((X, mean, covariance), copies):
        np.testing.assert_array_equal(original, copy)
