"""Portfolio estimators inside scikit-learn's model selection, end to end.

Cross-validated scores are recomputed by hand (fit on each training window,
Sharpe ratio or utility of the test-window portfolio returns), so the tests
check the numbers GridSearchCV reports, not only that it runs.
"""

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.covariance import OAS, LedoitWolf, ShrunkCovariance
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skportfolio import MeanVariance, MinimumVariance
from skportfolio.datasets import load_industry_returns
from skportfolio.metrics import make_utility_scorer, sharpe_scorer

GRID = np.logspace(-1, 3, 9)


@pytest.fixture(scope="module")
def returns():
    return load_industry_returns(start="1990")


def sharpe(r):
    return r.mean() / r.std(ddof=1)


def utility(r, risk_aversion):
    return r.mean() - 0.5 * risk_aversion * r.var(ddof=1)


def manual_cv(estimator, X, metric, cv, y=None):
    """Mean over the splits of ``metric`` on the test-window portfolio returns."""
    X = np.asarray(X)
    scores = []
    for train, test in cv.split(X):
        fitted = estimator.fit(X[train], None if y is None else y[train])
        realised = X[test] @ fitted.weights_
        scores.append(metric(realised if y is None else realised - y[test]))
    return np.mean(scores)


def test_grid_search_over_risk_aversion_with_the_default_score(returns):
    cv = TimeSeriesSplit(5)
    search = GridSearchCV(MeanVariance(), {"risk_aversion": GRID}, cv=cv).fit(returns)
    expected = [
        manual_cv(MeanVariance(risk_aversion=lam), returns, sharpe, cv) for lam in GRID
    ]
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], expected, rtol=1e-12
    )
    best = GRID[int(np.argmax(expected))]
    assert search.best_params_ == {"risk_aversion": best}
    refit = MeanVariance(risk_aversion=best).fit(returns)
    np.testing.assert_array_equal(search.best_estimator_.weights_, refit.weights_)
    assert list(search.best_estimator_.feature_names_in_) == list(returns.columns)


def test_grid_search_with_skportfolio_scorers(returns):
    cv = TimeSeriesSplit(5)
    by_sharpe = GridSearchCV(
        MeanVariance(), {"risk_aversion": GRID}, cv=cv, scoring=sharpe_scorer
    ).fit(returns)
    default = GridSearchCV(MeanVariance(), {"risk_aversion": GRID}, cv=cv).fit(returns)
    np.testing.assert_allclose(
        by_sharpe.cv_results_["mean_test_score"],
        default.cv_results_["mean_test_score"],
        rtol=1e-12,
    )
    by_utility = GridSearchCV(
        MeanVariance(), {"risk_aversion": GRID}, cv=cv, scoring=make_utility_scorer(5.0)
    ).fit(returns)
    expected = [
        manual_cv(
            MeanVariance(risk_aversion=lam), returns, lambda r: utility(r, 5.0), cv
        )
        for lam in GRID
    ]
    np.testing.assert_allclose(
        by_utility.cv_results_["mean_test_score"], expected, rtol=1e-12
    )


def test_grid_over_risk_tolerance_includes_minimum_variance(returns):
    cv = TimeSeriesSplit(4)
    search = GridSearchCV(
        MeanVariance(), {"risk_tolerance": [0.0, 0.01, 0.1, 1.0]}, cv=cv
    ).fit(returns)
    minimum_variance = manual_cv(MinimumVariance(), returns, sharpe, cv)
    assert search.cv_results_["mean_test_score"][0] == pytest.approx(
        minimum_variance, rel=1e-12
    )


def test_grid_over_covariance_estimators_and_nested_parameters(returns):
    cv = TimeSeriesSplit(4)
    search = GridSearchCV(
        MeanVariance(risk_aversion=20.0),
        {"covariance_estimator": [None, LedoitWolf(), OAS()]},
        cv=cv,
    ).fit(returns)
    expected = [
        manual_cv(
            MeanVariance(risk_aversion=20.0, covariance_estimator=c),
            returns,
            sharpe,
            cv,
        )
        for c in (None, LedoitWolf(), OAS())
    ]
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], expected, rtol=1e-12
    )

    shrinkages = [0.0, 0.3, 0.9]
    nested = GridSearchCV(
        MinimumVariance(covariance_estimator=ShrunkCovariance()),
        {"covariance_estimator__shrinkage": shrinkages},
        cv=cv,
    ).fit(returns)
    expected = [
        manual_cv(
            MinimumVariance(covariance_estimator=ShrunkCovariance(shrinkage=s)),
            returns,
            sharpe,
            cv,
        )
        for s in shrinkages
    ]
    np.testing.assert_allclose(
        nested.cv_results_["mean_test_score"], expected, rtol=1e-12
    )
    best = nested.best_estimator_
    assert best.covariance_estimator.shrinkage == shrinkages[int(np.argmax(expected))]
    np.testing.assert_allclose(
        best.covariance_,
        ShrunkCovariance(shrinkage=best.covariance_estimator.shrinkage)
        .fit(returns)
        .covariance_,
        atol=1e-15,
    )


SELECTED = ["NoDur", "Enrgy", "Utils", "Hlth", "Money"]


@pytest.mark.parametrize("selector", ["column_transformer", "function_transformer"])
def test_pipeline_with_column_selection_keeps_asset_names(returns, selector):
    if selector == "column_transformer":
        step = ColumnTransformer(
            [("keep", "passthrough", SELECTED)], verbose_feature_names_out=False
        )
    else:
        step = FunctionTransformer(
            lambda frame: frame[SELECTED], feature_names_out=lambda *_: SELECTED
        )
    pipeline = make_pipeline(step, MeanVariance(risk_aversion=10.0)).set_output(
        transform="pandas"
    )
    pipeline.fit(returns)
    final = pipeline[-1]
    assert list(final.feature_names_in_) == SELECTED
    assert list(final.weights_series_.index) == SELECTED
    direct = MeanVariance(risk_aversion=10.0).fit(returns[SELECTED])
    np.testing.assert_array_equal(final.weights_, direct.weights_)
    np.testing.assert_allclose(
        pipeline.predict(returns), returns[SELECTED].to_numpy() @ direct.weights_
    )
    # and the pipeline is grid-searchable through its step name.
    search = GridSearchCV(
        pipeline, {"meanvariance__risk_aversion": [1.0, 100.0]}, cv=TimeSeriesSplit(3)
    ).fit(returns)
    assert list(search.best_estimator_[-1].feature_names_in_) == SELECTED


def test_cross_val_score_in_parallel(returns):
    cv = TimeSeriesSplit(5)
    serial = cross_val_score(MeanVariance(risk_aversion=30.0), returns, cv=cv)
    parallel = cross_val_score(
        MeanVariance(risk_aversion=30.0), returns, cv=cv, n_jobs=2
    )
    np.testing.assert_array_equal(parallel, serial)
    expected = [
        sharpe(
            returns.to_numpy()[test]
            @ MeanVariance(risk_aversion=30.0).fit(returns.iloc[train]).weights_
        )
        for train, test in cv.split(returns)
    ]
    np.testing.assert_allclose(serial, expected, rtol=1e-12)


def test_cross_val_score_with_a_benchmark_scores_the_information_ratio(returns):
    X = returns.to_numpy()
    # An index the assets cannot replicate exactly (else the active returns
    # would be zero and their Sharpe ratio undefined).
    y = X.mean(axis=1) + 0.005 * np.random.default_rng(0).standard_normal(X.shape[0])
    cv = TimeSeriesSplit(4)
    scores = cross_val_score(MinimumVariance(), X, y, cv=cv)
    expected = manual_cv(MinimumVariance(), X, sharpe, cv, y=y)
    assert scores.mean() == pytest.approx(expected, rel=1e-12)
