"""EWCovariance against np.cov, a hand loop and pandas' ewm().cov()."""

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import pinvh
from sklearn.covariance import EmpiricalCovariance, log_likelihood
from sklearn.utils.estimator_checks import parametrize_with_checks

from skportfolio.covariance import EWCovariance


def returns(seed=0, n_samples=150, n_features=5):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(n_features, n_features))
    return 0.01 + rng.normal(size=(n_samples, n_features)) @ mixing * 0.02


def ew_covariance_loop(X, halflife):
    """Reliability-weighted covariance, one observation at a time."""
    n_samples, n_features = X.shape
    raw = [0.5 ** ((n_samples - 1 - t) / halflife) for t in range(n_samples)]
    total = sum(raw)
    weights = [r / total for r in raw]
    mean = sum(w * x for w, x in zip(weights, X))
    second = np.zeros((n_features, n_features))
    for w, x in zip(weights, X):
        second += w * np.outer(x - mean, x - mean)
    return mean, second / (1.0 - sum(w * w for w in weights))


@parametrize_with_checks(
    [
        EWCovariance(),
        EWCovariance(halflife=np.inf, assume_centered=True),
        EWCovariance(store_precision=False),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_infinite_halflife_is_np_cov():
    X = returns(seed=1)
    est = EWCovariance(halflife=np.inf).fit(X)
    expected = np.cov(X, rowvar=False, ddof=1)
    # entries are about 1e-3: compare relative to the largest one
    error = np.abs(est.covariance_ - expected).max() / np.abs(expected).max()
    assert error < 1e-12
    np.testing.assert_allclose(est.location_, X.mean(axis=0), rtol=1e-13)


@pytest.mark.parametrize("halflife", [0.4, 2.0, 21.0, 500.0])
def test_against_hand_loop(halflife):
    X = returns(seed=2, n_samples=60)
    mean, covariance = ew_covariance_loop(X, halflife)
    est = EWCovariance(halflife=halflife).fit(X)
    np.testing.assert_allclose(est.location_, mean, rtol=1e-12)
    np.testing.assert_allclose(est.covariance_, covariance, rtol=1e-11, atol=1e-16)


@pytest.mark.parametrize("halflife", [1.5, 10.0, 63.0])
def test_matches_pandas_ewm_cov_on_the_last_date(halflife):
    # pandas' adjust=True weights are (1 - alpha)^i with
    # alpha = 1 - exp(-ln 2 / halflife), i.e. 0.5 ** (i / halflife), and its
    # bias=False correction is the reliability-weights one: same estimator.
    X = returns(seed=3, n_samples=250)
    frame = pd.DataFrame(X)
    expected = frame.ewm(halflife=halflife, adjust=True).cov().loc[len(X) - 1]
    est = EWCovariance(halflife=halflife).fit(X)
    np.testing.assert_allclose(est.covariance_, expected.to_numpy(), rtol=1e-10)


def test_two_observations_give_the_unbiased_value_for_any_halflife():
    # With T = 2 the weights cancel exactly: Sigma = d d' / 2, d = x1 - x0,
    # even when the older weight is 2**-50 or 2**-1000 of the newer one.
    X = np.array([[0.3, -1.0], [1.3, 2.0]])
    d = X[1] - X[0]
    for halflife in [1e-3, 0.02, 0.5, 7.0, np.inf]:
        est = EWCovariance(halflife=halflife).fit(X)
        np.testing.assert_allclose(est.covariance_, np.outer(d, d) / 2, rtol=1e-13)


def test_halflife_too_short_to_estimate():
    X = returns(n_samples=10)
    with pytest.raises(ValueError, match="too short"):
        EWCovariance(halflife=1e-4).fit(X)  # older weights 2**-10000 == 0


def test_assume_centered_is_the_weighted_second_moment():
    X = returns(seed=4, n_samples=40)
    halflife = 5.0
    weights = 0.5 ** ((len(X) - 1 - np.arange(len(X))) / halflife)
    weights /= weights.sum()
    est = EWCovariance(halflife=halflife, assume_centered=True).fit(X)
    np.testing.assert_array_equal(est.location_, 0.0)
    np.testing.assert_allclose(
        est.covariance_, (X * weights[:, None]).T @ X, rtol=1e-12
    )
    sklearn_est = EmpiricalCovariance(assume_centered=True).fit(X)
    np.testing.assert_allclose(
        EWCovariance(halflife=np.inf, assume_centered=True).fit(X).covariance_,
        sklearn_est.covariance_,
        rtol=1e-12,
    )


def test_assume_centered_accepts_one_sample():
    X = np.array([[1.0, 2.0]])
    est = EWCovariance(assume_centered=True).fit(X)
    np.testing.assert_allclose(est.covariance_, [[1.0, 2.0], [2.0, 4.0]])


def test_precision_of_a_singular_covariance_is_the_pseudo_inverse():
    X = returns(seed=5, n_samples=4, n_features=8)  # rank 3 at most
    est = EWCovariance(halflife=3.0).fit(X)
    np.testing.assert_allclose(est.precision_, pinvh(est.covariance_), rtol=1e-10)
    np.testing.assert_allclose(
        est.covariance_ @ est.precision_ @ est.covariance_,
        est.covariance_,
        atol=1e-12 * np.abs(est.covariance_).max(),
    )
    assert EWCovariance(store_precision=False).fit(X).precision_ is None


def test_covariance_is_exactly_symmetric():
    est = EWCovariance(halflife=9.0).fit(returns(seed=6, n_features=30))
    np.testing.assert_array_equal(est.covariance_, est.covariance_.T)


def test_inherited_methods_use_the_ew_estimates():
    X = returns(seed=7)
    est = EWCovariance(halflife=12.0).fit(X)
    X_test = returns(seed=8, n_samples=20)
    centred = X_test - est.location_
    inverse = np.linalg.inv(est.covariance_)
    np.testing.assert_allclose(
        est.mahalanobis(X_test),
        np.einsum("ij,jk,ik->i", centred, inverse, centred),
        rtol=1e-9,
    )
    test_cov = centred.T @ centred / len(centred)
    assert est.score(X_test) == pytest.approx(
        log_likelihood(test_cov, inverse), rel=1e-9
    )
    assert est.error_norm(est.covariance_) == 0.0


def test_input_is_not_mutated():
    X = returns(seed=9)
    before = X.copy()
    EWCovariance(halflife=4.0).fit(X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("halflife", [0, -2.0, np.nan, "5"])
def test_rejects_bad_halflife(halflife):
    with pytest.raises((ValueError, TypeError), match="halflife"):
        EWCovariance(halflife=halflife).fit(returns())


def test_rejects_nan():
    X = returns()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        EWCovariance().fit(X)
