"""backtest: drift, turnover and costs against hand computations."""

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.covariance import LedoitWolf
from sklearn.model_selection import GridSearchCV, KFold, TimeSeriesSplit

from skportfolio import EqualWeight, InverseVolatility, MinimumVariance
from skportfolio.datasets import load_industry_returns
from skportfolio.metrics import (
    annualized_return,
    annualized_volatility,
    calmar_ratio,
    max_drawdown,
    sharpe_ratio,
    sharpe_scorer,
    sortino_ratio,
    turnover,
)
from skportfolio.model_selection import (
    BacktestResult,
    WalkForward,
    backtest,
    compare,
    fitted_weights,
    infer_periods_per_year,
)


class Scheduled(BaseEstimator):
    """Weights looked up by the length of the training window."""

    def __init__(self, schedule=None):
        self.schedule = schedule

    def fit(self, X, y=None):
        self.weights_ = np.array(self.schedule[len(X)], dtype=float)
        return self


# Seven periods of three assets; with an expanding window starting at two
# periods and rebalancing every two, the test windows are [2, 3], [4, 5], [6].
RETURNS = [
    [0.01, 0.02, -0.01],
    [0.03, -0.02, 0.00],
    [0.10, -0.05, 0.02],
    [-0.04, 0.06, 0.01],
    [0.02, 0.01, -0.03],
    [0.05, -0.10, 0.04],
    [0.00, 0.03, -0.02],
]
SCHEDULE = {2: [0.5, 0.3, 0.2], 4: [0.2, 0.2, 0.6], 6: [0.4, 0.4, 0.2]}
CV = WalkForward(train_size=2, test_size=2, expanding=True, allow_partial=True)
DATES = pd.date_range("2001-01-31", periods=7, freq="ME")


def _hand_backtest(cost):
    """Track the money in each asset (not the weights) period by period."""
    returns, turnovers, before = [], [], []
    holdings = [0.0, 0.0, 0.0]  # start in cash, wealth 1
    wealth = 1.0
    for start, stop, train_size in [(2, 4, 2), (4, 6, 4), (6, 7, 6)]:
        drifted = [h / wealth for h in holdings]
        target = SCHEDULE[train_size]
        traded = sum(abs(t - d) for t, d in zip(target, drifted))
        before.append(drifted)
        turnovers.append(traded)
        holdings = [t * wealth for t in target]
        for period in range(start, stop):
            holdings = [h * (1 + r) for h, r in zip(holdings, RETURNS[period])]
            new_wealth = sum(holdings)
            returns.append(new_wealth / wealth - 1)
            wealth = new_wealth
    net = list(returns)
    for position, traded in zip([0, 2, 4], turnovers):
        net[position] -= cost * traded
    return returns, net, turnovers, before


def test_drift_turnover_and_costs_by_hand():
    result = backtest(
        Scheduled(SCHEDULE), np.array(RETURNS), cv=CV, transaction_cost=0.002
    )
    gross, net, turnovers, before = _hand_backtest(0.002)
    np.testing.assert_allclose(result.gross_returns, gross, rtol=1e-13)
    np.testing.assert_allclose(result.returns, net, rtol=1e-13)
    np.testing.assert_allclose(result.turnover, turnovers, rtol=1e-13)
    np.testing.assert_allclose(result.costs, 0.002 * np.array(turnovers), rtol=1e-13)
    np.testing.assert_allclose(result.weights_before, before, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(result.weights, list(SCHEDULE.values()), rtol=0)
    # The first rebalance buys from cash: two-way turnover of a fully
    # invested long-only portfolio is 1.
    assert result.turnover.iloc[0] == pytest.approx(1.0, abs=1e-15)


def test_first_two_periods_written_out():
    result = backtest(Scheduled(SCHEDULE), np.array(RETURNS), cv=CV)
    r2 = 0.5 * 0.10 + 0.3 * -0.05 + 0.2 * 0.02
    assert r2 == pytest.approx(0.039, abs=1e-15)
    # Weights after period 2: w * (1 + r) / (1 + r_p).
    w3 = [0.5 * 1.10 / 1.039, 0.3 * 0.95 / 1.039, 0.2 * 1.02 / 1.039]
    r3 = w3[0] * -0.04 + w3[1] * 0.06 + w3[2] * 0.01
    assert r3 == pytest.approx(-0.00286 / 1.039, rel=1e-12)
    np.testing.assert_allclose(result.gross_returns.iloc[:2], [r2, r3], rtol=1e-13)
    w4 = [w * (1 + r) / (1 + r3) for w, r in zip(w3, RETURNS[3])]
    np.testing.assert_allclose(result.weights_before.iloc[1], w4, rtol=1e-13)
    assert result.turnover.iloc[1] == pytest.approx(
        sum(abs(t - w) for t, w in zip(SCHEDULE[4], w4)), rel=1e-13
    )


def test_turnover_matches_metrics_turnover():
    result = backtest(Scheduled(SCHEDULE), np.array(RETURNS), cv=CV)
    np.testing.assert_allclose(
        result.turnover,
        turnover(result.weights, weights_before=result.weights_before, kind="two-way"),
        rtol=0,
    )


def test_weights_not_summing_to_one_keep_the_rest_in_cash():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [0.10, -0.20], [0.05, 0.30]])
    cv = WalkForward(train_size=2, test_size=2)
    result = backtest(Scheduled({2: [0.5, 0.0]}), X, cv=cv)
    # Half in cash: wealth 1 -> 0.5 * 1.1 + 0.5 = 1.05 -> 0.55 * 1.05 + 0.5.
    np.testing.assert_allclose(
        result.returns, [0.05, (0.55 * 1.05 + 0.5) / 1.05 - 1], rtol=1e-14
    )
    assert result.turnover.iloc[0] == pytest.approx(0.5, abs=1e-15)


def test_dated_outputs_from_a_dataframe():
    X = pd.DataFrame(RETURNS, index=DATES, columns=["a", "b", "c"])
    result = backtest(Scheduled(SCHEDULE), X, cv=CV, transaction_cost=0.01)
    pd.testing.assert_index_equal(result.returns.index, DATES[2:], check_freq=False)
    pd.testing.assert_index_equal(
        result.gross_returns.index, DATES[2:], check_freq=False
    )
    rebalances = DATES[[2, 4, 6]]
    for frame in (result.weights, result.weights_before):
        pd.testing.assert_index_equal(frame.index, rebalances, check_freq=False)
        assert list(frame.columns) == ["a", "b", "c"]
    pd.testing.assert_index_equal(result.turnover.index, rebalances, check_freq=False)
    pd.testing.assert_index_equal(result.costs.index, rebalances, check_freq=False)
    # The same numbers as from the bare array.
    plain = backtest(
        Scheduled(SCHEDULE), np.array(RETURNS), cv=CV, transaction_cost=0.01
    )
    np.testing.assert_array_equal(result.returns, plain.returns)
    assert list(plain.returns.index) == [2, 3, 4, 5, 6]
    assert list(plain.weights.index) == [2, 4, 6]


def test_summary_equals_the_metrics_on_the_returns():
    X = load_industry_returns(start="1990", end="2009")
    result = backtest(InverseVolatility(), X, transaction_cost=0.001)
    summary = result.summary()
    r = result.returns
    expected = {
        "annualized_return": annualized_return(r, periods_per_year=12),
        "annualized_volatility": annualized_volatility(r, periods_per_year=12),
        "sharpe_ratio": sharpe_ratio(r, periods_per_year=12),
        "sortino_ratio": sortino_ratio(r, periods_per_year=12),
        "max_drawdown": max_drawdown(r),
        "calmar_ratio": calmar_ratio(r, periods_per_year=12),
        "average_turnover": sum(result.turnover.iloc[1:]) / (len(result.turnover) - 1),
    }
    assert list(summary.index) == list(expected)
    for name, value in expected.items():
        assert summary[name] == pytest.approx(value, rel=1e-12), name
    pd.testing.assert_series_equal(result.summary(12), summary)
    assert result.summary(4)["annualized_volatility"] == pytest.approx(
        annualized_volatility(r, periods_per_year=4), rel=1e-12
    )


def test_default_cv_on_the_embedded_dataset():
    X = load_industry_returns()
    result = backtest(MinimumVariance(), X)
    # 60 months of training, then quarters from month 60 to the last (818).
    assert len(result.weights) == 253
    assert len(result.returns) == 819 - 60
    assert result.returns.index[0] == X.index[60]
    assert result.returns.index[-1] == X.index[-1]
    first = MinimumVariance().fit(X.iloc[:60]).weights_
    np.testing.assert_allclose(result.weights.iloc[0], first, rtol=0, atol=0)
    last = MinimumVariance().fit(X.iloc[756:816]).weights_
    np.testing.assert_allclose(result.weights.iloc[-1], last, rtol=0, atol=0)
    assert result.weights.index[-1] == X.index[816]


def test_default_cv_on_short_samples():
    X = np.random.default_rng(0).normal(0, 0.01, size=(9, 2))
    result = backtest(EqualWeight(), X)
    # train_size = 9 // 2 = 4; rebalances at 4 and 7, the last one partial.
    assert list(result.weights.index) == [4, 7]
    assert list(result.returns.index) == [4, 5, 6, 7, 8]


def test_parallel_fits_give_identical_results():
    X = load_industry_returns(start="1995", end="2012")
    estimator = MinimumVariance(covariance_estimator=LedoitWolf(), max_weights=0.3)
    one = backtest(estimator, X, n_jobs=1, transaction_cost=0.002)
    two = backtest(estimator, X, n_jobs=2, transaction_cost=0.002)
    pd.testing.assert_frame_equal(one.weights, two.weights, check_exact=True)
    pd.testing.assert_series_equal(one.returns, two.returns, check_exact=True)
    pd.testing.assert_series_equal(one.turnover, two.turnover, check_exact=True)


def test_joblib_backend_context_is_honoured(capsys):
    # What a dask or ray backend relies on: n_jobs=None defers to the context.
    X = load_industry_returns(start="2005", end="2012")
    sequential = backtest(MinimumVariance(), X)
    with joblib.parallel_backend("threading", n_jobs=2):
        threaded = backtest(MinimumVariance(), X, verbose=1)
    assert "Using backend ThreadingBackend with 2 concurrent workers" in (
        capsys.readouterr().err
    )
    pd.testing.assert_frame_equal(
        sequential.weights, threaded.weights, check_exact=True
    )


def test_nested_grid_search():
    X = load_industry_returns(start="2000", end="2009")
    grid = {"max_weights": [0.15, 0.3, 1.0]}
    search = GridSearchCV(
        MinimumVariance(),
        grid,
        cv=WalkForward(train_size=24, test_size=6),
        scoring=sharpe_scorer,
    )
    outer = WalkForward(train_size=48, test_size=12, allow_partial=True)
    result = backtest(search, X, cv=outer, return_estimators=True)
    assert len(result.estimators) == len(result.weights) == 6
    for (train, _), fitted, (_, weights) in zip(
        outer.split(X), result.estimators, result.weights.iterrows()
    ):
        assert isinstance(fitted, GridSearchCV)
        best = fitted.best_params_["max_weights"]
        expected = MinimumVariance(max_weights=best).fit(X.iloc[train]).weights_
        np.testing.assert_allclose(weights, expected, rtol=0, atol=1e-15)
    # The search is cloned, never fitted in place.
    assert not hasattr(search, "best_estimator_")


def test_fitted_weights_looks_through_nested_searches():
    X = load_industry_returns(start="2000", end="2009").to_numpy()
    inner = GridSearchCV(
        MinimumVariance(),
        {"max_weights": [0.2, 1.0]},
        cv=WalkForward(train_size=40, test_size=20),
    )
    outer = GridSearchCV(
        inner,
        {"cv": [WalkForward(train_size=n, test_size=10) for n in (30, 50)]},
        cv=TimeSeriesSplit(2, test_size=20),
    ).fit(X)
    np.testing.assert_array_equal(
        fitted_weights(outer), outer.best_estimator_.best_estimator_.weights_
    )


def test_benchmark_is_passed_to_fit():
    X, factors = load_industry_returns(return_factors=True, start="2005", end="2010")
    y = factors["MktRF"] + factors["RF"]
    cv = WalkForward(train_size=36, test_size=12)
    result = backtest(MinimumVariance(), X, y, cv=cv)
    for (train, _), (_, weights) in zip(cv.split(X), result.weights.iterrows()):
        expected = MinimumVariance().fit(X.iloc[train], y.iloc[train]).weights_
        np.testing.assert_allclose(weights, expected, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="y has 10 periods, X has 72"):
        backtest(MinimumVariance(), X, y.iloc[:10], cv=cv)


def test_time_series_split_and_explicit_splits_are_accepted():
    X = np.array(RETURNS)
    from_list = backtest(
        Scheduled(SCHEDULE), X, cv=[([0, 1], [2, 3]), ([0, 1, 2, 3], [4, 5, 6])]
    )
    assert list(from_list.returns.index) == [2, 3, 4, 5, 6]
    tss = backtest(EqualWeight(), X, cv=TimeSeriesSplit(n_splits=2, test_size=2))
    assert list(tss.weights.index) == [3, 5]
    assert list(tss.returns.index) == [3, 4, 5, 6]


def test_inputs_are_not_mutated():
    X = pd.DataFrame(RETURNS, index=DATES, columns=["a", "b", "c"])
    copy = X.copy()
    estimator = Scheduled(SCHEDULE)
    backtest(estimator, X, cv=CV, transaction_cost=0.01)
    pd.testing.assert_frame_equal(X, copy)
    assert not hasattr(estimator, "weights_")


def test_wealth_and_repr():
    X = pd.DataFrame(RETURNS, index=DATES)
    result = backtest(Scheduled(SCHEDULE), X, cv=CV)
    np.testing.assert_allclose(
        result.wealth, np.cumprod(1 + result.returns), rtol=1e-15
    )
    assert repr(result) == (
        "BacktestResult(n_periods=5, n_rebalances=3, start=2001-03-31 00:00:00, "
        "end=2001-07-31 00:00:00)"
    )


def test_verbose_reports_progress(capsys):
    backtest(EqualWeight(), np.array(RETURNS), cv=CV, verbose=10)
    assert "Done" in capsys.readouterr().err


def test_compare():
    X = load_industry_returns(start="2000", end="2012")
    results = {
        "ew": backtest(EqualWeight(), X),
        "mv": backtest(MinimumVariance(), X, transaction_cost=0.001),
    }
    table = compare(results)
    assert list(table.index) == ["ew", "mv"]
    pd.testing.assert_series_equal(
        table.loc["mv"], results["mv"].summary(), check_names=False
    )
    assert compare(results, periods_per_year=4).loc[
        "ew", "sharpe_ratio"
    ] == pytest.approx(
        sharpe_ratio(results["ew"].returns, periods_per_year=4), rel=1e-12
    )
    with pytest.raises(ValueError, match="non-empty dict"):
        compare({})
    with pytest.raises(ValueError, match=r"backtests\['x'\] is a DataFrame"):
        compare({"x": table})


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (pd.date_range("2000-01-31", periods=30, freq="ME"), 12),
        (pd.date_range("2000-01-03", periods=30, freq="B"), 252),
        (pd.date_range("2000-01-07", periods=30, freq="W-FRI"), 52),
        (pd.date_range("2000-03-31", periods=30, freq="QE"), 4),
        (pd.date_range("2000-12-31", periods=30, freq="YE"), 1),
        (pd.date_range("2000-01-01", periods=30, freq="MS"), 12),
    ],
)
def test_infer_periods_per_year(dates, expected):
    assert infer_periods_per_year(dates) == expected


@pytest.mark.parametrize(
    ("index", "match"),
    [
        (pd.RangeIndex(10), "at least two dates"),
        (pd.date_range("2000-01-01", periods=30, freq="D"), "1 days apart .* weekends"),
        (pd.date_range("2000-01-01", periods=30, freq="14D"), "14 days apart"),
    ],
)
def test_infer_periods_per_year_refuses(index, match):
    with pytest.raises(ValueError, match=match):
        infer_periods_per_year(index)


def test_summary_without_dates_needs_periods_per_year():
    result = backtest(Scheduled(SCHEDULE), np.array(RETURNS), cv=CV)
    with pytest.raises(ValueError, match="pass periods_per_year"):
        result.summary()
    assert np.isfinite(result.summary(12)["sharpe_ratio"])


def test_single_rebalance_has_no_average_turnover():
    result = backtest(
        Scheduled(SCHEDULE),
        np.array(RETURNS),
        cv=WalkForward(train_size=2, test_size=5),
    )
    assert np.isnan(result.summary(12)["average_turnover"])


class NoWeights(BaseEstimator):
    def fit(self, X, y=None):
        return self


class WrongShape(BaseEstimator):
    def fit(self, X, y=None):
        self.weights_ = np.ones(X.shape[1] + 1)
        return self


class NaNWeights(BaseEstimator):
    def fit(self, X, y=None):
        self.weights_ = np.full(X.shape[1], np.nan)
        return self


def test_estimator_errors():
    X = pd.DataFrame(RETURNS, index=DATES)
    with pytest.raises(TypeError, match="NoWeights has no weights_"):
        backtest(NoWeights(), X, cv=CV)
    no_refit = GridSearchCV(
        MinimumVariance(), {"max_weights": [1.0]}, refit=False, cv=2
    )
    with pytest.raises(TypeError, match="refit=True"):
        backtest(
            no_refit,
            np.random.default_rng(0).normal(size=(30, 2)),
            cv=WalkForward(train_size=20, test_size=5),
        )
    with pytest.raises(
        ValueError, match=r"rebalance at 2001-03-31.*shape \(4,\); expected \(3,\)"
    ):
        backtest(WrongShape(), X, cv=CV)
    with pytest.raises(ValueError, match="non-finite weights"):
        backtest(NaNWeights(), X, cv=CV)


@pytest.mark.parametrize(
    ("cv", "error", "match"),
    [
        (KFold(3), ValueError, "cannot look ahead"),
        ([([0, 1], [2, 3]), ([0, 1, 2], [5, 6])], ValueError, "without gap or overlap"),
        ([([0, 1], [2, 3]), ([0, 1, 2], [3, 4])], ValueError, "without gap or overlap"),
        ([([0, 1], [2, 4])], ValueError, "not consecutive"),
        ([([0, 1], [])], ValueError, "non-empty"),
        ([([0, 1], [2.0, 3.0])], ValueError, "must be integers"),
        ([([0, 1], [6, 7])], ValueError, "outside 0..6"),
        ([], ValueError, "no split"),
        (5, TypeError, "cv must be None"),
    ],
)
def test_unusable_splits(cv, error, match):
    with pytest.raises(error, match=match):
        backtest(EqualWeight(), np.array(RETURNS), cv=cv)


@pytest.mark.parametrize("cost", [-0.001, np.nan, "0.1", True])
def test_invalid_transaction_cost(cost):
    with pytest.raises(ValueError, match="transaction_cost must be a finite number"):
        backtest(EqualWeight(), np.array(RETURNS), cv=CV, transaction_cost=cost)


def test_invalid_returns():
    X = np.array(RETURNS)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        backtest(EqualWeight(), X, cv=CV)
    shuffled = pd.DataFrame(RETURNS, index=DATES[::-1])
    with pytest.raises(ValueError, match="strictly increasing dates"):
        backtest(EqualWeight(), shuffled, cv=CV)
    with pytest.raises(ValueError, match="too few for one walk-forward split"):
        backtest(EqualWeight(), X[:3], cv=WalkForward(train_size=3, test_size=1))


def test_total_loss_is_refused():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [-1.0, -1.0], [0.1, 0.1]])
    with pytest.raises(ValueError, match="lost all its value in period 2"):
        backtest(EqualWeight(), X, cv=WalkForward(train_size=2, test_size=2))


def test_result_type():
    assert isinstance(backtest(EqualWeight(), np.array(RETURNS), cv=CV), BacktestResult)
