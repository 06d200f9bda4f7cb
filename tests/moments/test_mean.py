"""EmpiricalMean, EWMean and ShrunkMean against hand computations and pandas."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from skportfolio.covariance import EWCovariance
from skportfolio.moments import EmpiricalMean, EWMean, ShrunkMean


def returns(seed=0, n_samples=120, n_features=6, mean=0.01, scale=0.05):
    rng = np.random.default_rng(seed)
    means = mean * rng.uniform(-1, 2, size=n_features)
    return rng.normal(means, scale, size=(n_samples, n_features))


@parametrize_with_checks(
    [
        EmpiricalMean(),
        EWMean(),
        EWMean(halflife=np.inf),
        ShrunkMean(),
        ShrunkMean(method="bayes_stein"),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------
# EmpiricalMean and EWMean
# ----------------------------------------------------------------------
def test_empirical_mean_is_the_sample_mean():
    X = returns()
    np.testing.assert_allclose(EmpiricalMean().fit(X).location_, X.mean(axis=0))


def test_ew_mean_by_hand():
    X = np.array([[0.0, 3.0], [1.0, -3.0], [2.0, 6.0]])
    # weights 1/7, 2/7, 4/7
    np.testing.assert_allclose(
        EWMean(halflife=1.0).fit(X).location_, [10 / 7, 21 / 7], rtol=1e-15
    )


@pytest.mark.parametrize("halflife", [0.7, 4.0, 30.0])
def test_ew_mean_against_a_loop(halflife):
    X = returns(seed=1, n_samples=50)
    total, norm = np.zeros(X.shape[1]), 0.0
    for t, row in enumerate(X):
        weight = 0.5 ** ((len(X) - 1 - t) / halflife)
        total += weight * row
        norm += weight
    np.testing.assert_allclose(
        EWMean(halflife=halflife).fit(X).location_, total / norm, rtol=1e-13
    )


@pytest.mark.parametrize("halflife", [2.0, 10.0, 63.0])
def test_ew_mean_matches_pandas(halflife):
    X = returns(seed=2, n_samples=200)
    expected = pd.DataFrame(X).ewm(halflife=halflife, adjust=True).mean().iloc[-1]
    np.testing.assert_allclose(
        EWMean(halflife=halflife).fit(X).location_, expected, rtol=1e-12
    )


def test_ew_mean_with_infinite_halflife_is_the_sample_mean():
    X = returns(seed=3)
    np.testing.assert_allclose(
        EWMean(halflife=np.inf).fit(X).location_, X.mean(axis=0), rtol=1e-13
    )


def test_ew_mean_is_the_centre_of_ew_covariance():
    X = returns(seed=4)
    np.testing.assert_array_equal(
        EWMean(halflife=7.0).fit(X).location_,
        EWCovariance(halflife=7.0).fit(X).location_,
    )


@pytest.mark.parametrize("halflife", [0, -1.0, np.nan, "3"])
def test_ew_mean_rejects_bad_halflife(halflife):
    with pytest.raises((ValueError, TypeError), match="halflife"):
        EWMean(halflife=halflife).fit(returns())


@pytest.mark.parametrize("estimator", [EmpiricalMean(), EWMean(), ShrunkMean()])
def test_nan_is_rejected(estimator):
    X = returns()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clone(estimator).fit(X)


@pytest.mark.parametrize(
    "estimator",
    [EmpiricalMean(), EWMean(), ShrunkMean(), ShrunkMean(method="bayes_stein")],
)
def test_input_is_not_mutated_and_names_are_kept(estimator):
    X = pd.DataFrame(returns(), columns=list("abcdef"))
    before = X.copy()
    fitted = clone(estimator).fit(X)
    pd.testing.assert_frame_equal(X, before)
    assert list(fitted.feature_names_in_) == list("abcdef")


# ----------------------------------------------------------------------
# ShrunkMean, James-Stein
# ----------------------------------------------------------------------
def james_stein_by_hand(X):
    """The documented formula, written with the explicit projector P."""
    n_samples, n_features = X.shape
    mean = X.mean(axis=0)
    level = mean.mean()
    P = np.eye(n_features) - np.ones((n_features, n_features)) / n_features
    M = P @ np.cov(X, rowvar=False) @ P
    excess = np.trace(M) - 2 * np.linalg.eigvalsh(M)[-1]
    alpha = excess / (n_samples * np.sum((mean - level) ** 2))
    alpha = min(1.0, max(0.0, alpha))
    return (1 - alpha) * mean + alpha * level, alpha, level


@pytest.mark.parametrize(
    ("seed", "n_samples", "n_features"), [(0, 60, 10), (1, 24, 40), (2, 500, 5)]
)
def test_james_stein_by_hand(seed, n_samples, n_features):
    X = returns(seed=seed, n_samples=n_samples, n_features=n_features)
    expected, alpha, level = james_stein_by_hand(X)
    est = ShrunkMean().fit(X)
    assert 0.0 < alpha < 1.0
    assert est.shrinkage_ == pytest.approx(alpha, rel=1e-10)
    np.testing.assert_allclose(est.target_, np.full(n_features, level), rtol=1e-13)
    np.testing.assert_allclose(est.location_, expected, rtol=1e-10)


def test_james_stein_small_example_by_hand():
    # X = 6 Z + c 1' + 1 mu' with rows of Z the vectors e_i - 1/4: Z'Z = P,
    # so M = 36 P / 3, tr(M) = 36, lambda_max(M) = 12 and Bock's constant is
    # 36 - 24 = 12. The sample means are mu = (1, 2, 1, 4) (c has mean 0),
    # the grand mean is 2 and T ||mu - 2||^2 = 4 * 6 = 24: alpha = 1/2.
    Z = np.eye(4) - 0.25
    c = np.array([1.0, -1.0, 2.0, -2.0])
    mu = np.array([1.0, 2.0, 1.0, 4.0])
    X = 6.0 * Z + c[:, np.newaxis] + mu
    est = ShrunkMean().fit(X)
    assert est.shrinkage_ == pytest.approx(0.5, rel=1e-13)
    np.testing.assert_allclose(est.target_, 2.0, rtol=1e-14)
    np.testing.assert_allclose(est.location_, [1.5, 2.0, 1.5, 3.0], rtol=1e-13)


@pytest.mark.parametrize("n_features", [1, 2, 3])
def test_james_stein_does_not_shrink_three_or_fewer_assets(n_features):
    X = returns(seed=5, n_features=n_features, scale=0.5)
    est = ShrunkMean().fit(X)
    assert est.shrinkage_ == 0.0
    np.testing.assert_array_equal(est.location_, X.mean(axis=0))


def test_james_stein_caps_the_intensity_at_one():
    # Sample means all equal: no spread is left to explain, the raw intensity
    # is infinite and the positive-part rule caps it at 1.
    rng = np.random.default_rng(6)
    noise = rng.normal(0.0, 1.0, size=(100, 50))
    X = noise - noise.mean(axis=0) + 0.01
    est = ShrunkMean().fit(X)
    assert est.shrinkage_ == 1.0
    np.testing.assert_allclose(est.location_, 0.01, rtol=1e-12)


def test_james_stein_is_scale_and_translation_equivariant():
    X = returns(seed=7, n_samples=40, n_features=12)
    base = ShrunkMean().fit(X)
    moved = ShrunkMean().fit(3.0 * X + 0.25)
    assert moved.shrinkage_ == pytest.approx(base.shrinkage_, rel=1e-10)
    np.testing.assert_allclose(moved.location_, 3.0 * base.location_ + 0.25, rtol=1e-10)


# ----------------------------------------------------------------------
# ShrunkMean, Bayes-Stein (Jorion 1986)
# ----------------------------------------------------------------------
def bayes_stein_by_hand(X):
    n_samples, n_features = X.shape
    mean = X.mean(axis=0)
    sigma = (n_samples - 1) / (n_samples - n_features - 2) * np.cov(X, rowvar=False)
    inverse = np.linalg.inv(sigma)
    ones = np.ones(n_features)
    level = ones @ inverse @ mean / (ones @ inverse @ ones)
    gap = mean - level
    alpha = (n_features + 2) / (n_features + 2 + n_samples * gap @ inverse @ gap)
    return (1 - alpha) * mean + alpha * level, alpha, level


@pytest.mark.parametrize(
    ("seed", "n_samples", "n_features"), [(0, 60, 10), (1, 13, 10), (2, 500, 3)]
)
def test_bayes_stein_by_hand(seed, n_samples, n_features):
    X = returns(seed=seed, n_samples=n_samples, n_features=n_features)
    expected, alpha, level = bayes_stein_by_hand(X)
    est = ShrunkMean(method="bayes_stein").fit(X)
    assert 0.0 < alpha < 1.0
    assert est.shrinkage_ == pytest.approx(alpha, rel=1e-10)
    np.testing.assert_allclose(est.target_, level, rtol=1e-10)
    np.testing.assert_allclose(est.location_, expected, rtol=1e-10)


def test_bayes_stein_target_is_the_minimum_variance_portfolio_mean():
    X = returns(seed=8, n_samples=80, n_features=5)
    S = np.cov(X, rowvar=False)
    weights = np.linalg.solve(S, np.ones(5))
    weights /= weights.sum()
    est = ShrunkMean(method="bayes_stein").fit(X)
    assert est.target_[0] == pytest.approx(weights @ X.mean(axis=0), rel=1e-10)


def test_bayes_stein_needs_enough_observations():
    X = returns(n_samples=12, n_features=10)
    with pytest.raises(ValueError, match="n_samples=12 and n_features=10"):
        ShrunkMean(method="bayes_stein").fit(X)


def test_bayes_stein_needs_a_nonsingular_covariance():
    X = returns(n_samples=50, n_features=4)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    with pytest.raises(ValueError, match="non-singular sample covariance"):
        ShrunkMean(method="bayes_stein").fit(X)


def test_shrunk_mean_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        ShrunkMean(method="stein").fit(returns())


def test_shrunk_mean_needs_two_observations():
    with pytest.raises(ValueError, match="1 sample"):
        ShrunkMean().fit(returns(n_samples=1))
