"""The shared machinery of the portfolio estimators: validation, predict/score,
moment estimation and constraint building."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from skportfolio import EqualWeight, MeanVariance, MinimumVariance
from skportfolio.exceptions import InfeasibleConstraintsError
from skportfolio.portfolio._base import nearest_psd
from tests.portfolio.references import FixedCovariance, factor_returns


@pytest.fixture
def X():
    return factor_returns(70, 60, 4)


# ---------------------------------------------------------- predict and score
def test_predict_is_the_portfolio_return(X):
    est = MinimumVariance().fit(X)
    np.testing.assert_array_equal(est.predict(X), X @ est.weights_)


def test_score_is_the_per_period_sharpe_ratio():
    # Returns 0.01, 0.03, 0.02: mean 0.02, sample std 0.01, Sharpe 2.
    X = np.array([[0.01, 0.01], [0.03, 0.03], [0.02, 0.02]])
    est = EqualWeight().fit(X)
    assert est.score(X) == pytest.approx(2.0, rel=1e-12)
    # Against a benchmark 0.0, 0.01, 0.03: active 0.01, 0.02, -0.01,
    # mean 1/150, sample std sqrt(7/3) / 100.
    y = np.array([0.0, 0.01, 0.03])
    assert est.score(X, y) == pytest.approx(
        (1 / 150) / (np.sqrt(7 / 3) / 100), rel=1e-12
    )


def test_score_of_constant_returns_is_nan():
    X = np.array([[0.01, 0.01], [0.01, 0.01], [0.01, 0.01]])
    assert np.isnan(EqualWeight().fit(X).score(X))


def test_predict_checks_the_columns(X):
    est = MinimumVariance().fit(pd.DataFrame(X, columns=list("abcd")))
    with pytest.raises(ValueError, match="feature names"):
        est.predict(pd.DataFrame(X, columns=list("abce")))
    with pytest.raises(ValueError, match="features"):
        MinimumVariance().fit(X).predict(X[:, :3])


def test_weights_series(X):
    est = MinimumVariance().fit(pd.DataFrame(X, columns=list("abcd")))
    series = est.weights_series_
    assert list(series.index) == list("abcd") and series.name == "weight"
    np.testing.assert_array_equal(series.to_numpy(), est.weights_)
    assert list(MinimumVariance().fit(X).weights_series_.index) == [0, 1, 2, 3]
    with pytest.raises(NotFittedError):
        _ = MinimumVariance().weights_series_


# ------------------------------------------------------------------ benchmark
def test_benchmark_shapes(X):
    y = X.mean(axis=1)
    as_vector = MinimumVariance().fit(X, y).weights_
    as_column = MinimumVariance().fit(X, y[:, None]).weights_
    as_series = MinimumVariance().fit(pd.DataFrame(X), pd.Series(y)).weights_
    np.testing.assert_array_equal(as_column, as_vector)
    # (a DataFrame's memory layout changes the round-off of the covariance)
    np.testing.assert_allclose(as_series, as_vector, atol=1e-14)
    with pytest.raises(ValueError, match=r"shape \(60,\)"):
        MinimumVariance().fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"shape \(60,\)"):
        MinimumVariance().fit(X, np.column_stack([y, y]))
    y_bad = y.copy()
    y_bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MinimumVariance().fit(X, y_bad)


class RecordingCovariance(BaseEstimator):
    def fit(self, X, y=None):
        self.n_columns_ = X.shape[1]
        self.covariance_ = np.cov(X, rowvar=False)
        RecordingCovariance.last_seen = X.shape[1]
        return self


def test_benchmark_is_estimated_jointly_with_the_assets(X):
    y = X.mean(axis=1)
    MinimumVariance(covariance_estimator=RecordingCovariance()).fit(X, y)
    assert RecordingCovariance.last_seen == 5
    MeanVariance(covariance_estimator=RecordingCovariance()).fit(X, y)
    assert RecordingCovariance.last_seen == 4  # active returns X - y


def test_estimators_ignoring_the_benchmark_accept_it(X):
    np.testing.assert_array_equal(
        EqualWeight().fit(X, X.mean(axis=1)).weights_, np.full(4, 0.25)
    )


# ------------------------------------------------------------ input validation
@pytest.mark.parametrize(
    "estimator", [MinimumVariance(), MeanVariance(), EqualWeight()]
)
def test_bad_returns_raise(estimator, X):
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        estimator.fit(bad)
    with pytest.raises(ValueError, match="minimum of 2"):
        estimator.fit(X[:1])
    with pytest.raises(ValueError, match="2D"):
        estimator.fit(X[:, 0])


def test_parameters_are_validated(X):
    with pytest.raises(ValueError, match="budget"):
        MinimumVariance(budget="one").fit(X)
    with pytest.raises(ValueError, match="budget"):
        MinimumVariance(budget=np.inf).fit(X)
    with pytest.raises(ValueError, match="covariance_estimator"):
        MinimumVariance(covariance_estimator="ledoit").fit(X)


# ---------------------------------------------------------- moment estimation
class WrongShapeCovariance(BaseEstimator):
    def fit(self, X, y=None):
        self.covariance_ = np.eye(X.shape[1] + 1)
        return self


class NaNCovariance(BaseEstimator):
    def fit(self, X, y=None):
        self.covariance_ = np.full((X.shape[1], X.shape[1]), np.nan)
        return self


def test_bad_covariance_estimates_raise(X):
    with pytest.raises(ValueError, match="shape"):
        MinimumVariance(covariance_estimator=WrongShapeCovariance()).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        MinimumVariance(covariance_estimator=NaNCovariance()).fit(X)


def test_asymmetric_covariance_is_symmetrised(X):
    C = np.cov(X, rowvar=False)
    skew = np.triu(np.full((4, 4), 1e-5), 1)
    est = MinimumVariance(covariance_estimator=FixedCovariance(C + skew - skew.T)).fit(
        X
    )
    np.testing.assert_array_equal(est.covariance_, est.covariance_.T)
    np.testing.assert_allclose(est.covariance_, C, atol=1e-18)


def test_sample_moments_by_default(X):
    est = MeanVariance().fit(X)
    np.testing.assert_allclose(est.mean_, X.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(est.covariance_, np.cov(X, rowvar=False), rtol=1e-15)


def test_nearest_psd():
    np.testing.assert_allclose(
        nearest_psd(np.diag([1.0, -1.0])), np.diag([1.0, 0.0]), atol=1e-16
    )
    A = np.array([[2.0, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(nearest_psd(A), A, atol=1e-15)
    # [[1, 2], [2, 1]] has eigenvalues 3 and -1: keep 3 (1, 1)/2 (1, 1)'.
    np.testing.assert_allclose(
        nearest_psd(np.array([[1.0, 2.0], [2.0, 1.0]])),
        np.full((2, 2), 1.5),
        atol=1e-15,
    )


# ------------------------------------------------------------ constraint build
def frame(X):
    return pd.DataFrame(X, columns=["a", "b", "c", "d"])


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(max_weights={"z": 0.5}), "unknown"),
        (
            dict(groups={"a": 1, "b": 1}),
            r"does not assign a group to the assets \['c', 'd'\]",
        ),
        (dict(group_bounds={1: (0, 1)}), "group_bounds is set but groups is None"),
        (
            dict(groups=[1, 1, 2, 2], group_bounds={3: (0, 1)}),
            "group 3, which has no assets",
        ),
        (dict(groups=[1, 2]), "one label per asset"),
        (dict(A_ub=[[1, 0, 0, 0]]), "b_ub is None"),
        (dict(max_weights=[0.5, 0.5]), "max_weights"),
    ],
)
def test_bad_constraint_parameters_raise(X, params, match):
    with pytest.raises(ValueError, match=match):
        MinimumVariance(**params).fit(frame(X))


def test_infeasible_rows_are_named_in_the_message(X):
    with pytest.raises(InfeasibleConstraintsError, match=r"row 0 of A_ub"):
        MinimumVariance(A_ub=[[-1, -1, 0, 0]], b_ub=[-2.5]).fit(X)
    with pytest.raises(InfeasibleConstraintsError, match="group 'x'"):
        MinimumVariance(
            groups=["x", "x", "y", "y"], group_bounds={"x": (1.5, None)}
        ).fit(X)


def test_budget_none_and_other_budgets(X):
    free = MinimumVariance(budget=None, min_weights=0.1).fit(X)
    np.testing.assert_allclose(
        free.weights_, 0.1
    )  # the smallest variance sits at the bounds
    half = MinimumVariance(budget=0.5, max_weights=0.2).fit(X)
    assert half.weights_.sum() == pytest.approx(0.5, abs=1e-14)
    assert np.all(half.weights_ <= 0.2)


def test_equality_constraints(X):
    est = MinimumVariance(A_eq=[[1, -1, 0, 0]], b_eq=[0.0], min_weights=None).fit(X)
    assert est.weights_[0] == pytest.approx(est.weights_[1], abs=1e-14)
    assert est.weights_.sum() == pytest.approx(1.0, abs=1e-14)


def test_fit_returns_self_and_does_not_mutate(X):
    est = MinimumVariance()
    copy = X.copy()
    assert est.fit(X) is est
    est.predict(X)
    est.score(X, X.mean(axis=1))
    np.testing.assert_array_equal(X, copy)


def test_only_the_sample_covariance_skips_the_psd_test():
    from sklearn.covariance import LedoitWolf

    from skportfolio import MinimumVariance

    X = np.random.default_rng(3).normal(size=(40, 5))
    sample, _ = MinimumVariance()._estimate_covariance(X)
    shrunk, _ = MinimumVariance(covariance_estimator=LedoitWolf())._estimate_covariance(
        X
    )
    assert sample.psd_by_construction and sample.is_numerically_psd()
    assert not shrunk.psd_by_construction
