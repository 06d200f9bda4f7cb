"""Metrics and scorers checked against values worked out by hand.

Expected values are written as plain arithmetic (or with the standard
library's ``statistics`` module), never by calling the formula under test.
"""

import math
import pickle
import statistics
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import BaseEstimator
from sklearn.model_selection import (
    GridSearchCV,
    TimeSeriesSplit,
    cross_val_score,
    cross_validate,
)

from skportfolio.metrics import (
    annualized_return,
    annualized_volatility,
    calmar_ratio,
    get_portfolio_scorer,
    information_ratio,
    make_portfolio_scorer,
    make_utility_scorer,
    max_drawdown,
    neg_max_drawdown_scorer,
    neg_variance_scorer,
    portfolio_variance,
    risk_contributions,
    sharpe_ratio,
    sharpe_scorer,
    sortino_ratio,
    sortino_scorer,
    tracking_error,
    turnover,
)

SERIES_METRICS = [
    annualized_return,
    annualized_volatility,
    sharpe_ratio,
    sortino_ratio,
    max_drawdown,
    calmar_ratio,
]
STD_BASED = [annualized_volatility, sharpe_ratio, sortino_ratio]


def _no_warnings():
    context = warnings.catch_warnings()
    context.__enter__()
    warnings.simplefilter("error")
    return context


# ------------------------------------------------------------ annualized_return


def test_geometric_annualized_return_by_hand():
    returns = [0.1, 0.2, -0.1]  # wealth 1.1 * 1.2 * 0.9 = 1.188
    assert annualized_return(returns, periods_per_year=3) == pytest.approx(0.188)
    assert annualized_return(returns, periods_per_year=12) == pytest.approx(
        1.188**4 - 1, rel=1e-13
    )
    assert annualized_return([0.01], periods_per_year=12) == pytest.approx(
        1.01**12 - 1, rel=1e-13
    )


def test_arithmetic_annualized_return_by_hand():
    returns = [0.1, 0.2, -0.1]
    expected = (0.1 + 0.2 - 0.1) / 3 * 12
    assert annualized_return(
        returns, periods_per_year=12, method="arithmetic"
    ) == pytest.approx(expected, rel=1e-14)


def test_default_periods_per_year_is_252():
    returns = [0.001, 0.002]
    assert annualized_return(returns) == pytest.approx(
        (1.001 * 1.002) ** 126 - 1, rel=1e-12
    )
    assert annualized_volatility(returns) == pytest.approx(
        math.sqrt(0.0005**2 * 2) * math.sqrt(252), rel=1e-12
    )


def test_total_loss_and_below_total_loss():
    assert annualized_return([-1.0, 0.5], periods_per_year=12) == -1.0
    with pytest.raises(ValueError, match="below -1"):
        annualized_return([-1.5, 0.5])
    assert annualized_return([-1.5, 0.5], method="arithmetic") == pytest.approx(
        -0.5 * 252
    )


# ------------------------------------------------------------ volatility / sharpe


def test_annualized_volatility_by_hand():
    # mean 0.02, sample variance (0.01**2 + 0.01**2) / 1
    expected = math.sqrt(0.0002) * math.sqrt(12)
    assert annualized_volatility([0.01, 0.03], periods_per_year=12) == pytest.approx(
        expected, rel=1e-13
    )


def test_sharpe_ratio_small_cases_by_hand():
    assert sharpe_ratio([0.01, 0.03], periods_per_year=None) == pytest.approx(
        math.sqrt(2), rel=1e-13
    )
    assert sharpe_ratio([0.01, 0.03]) == pytest.approx(math.sqrt(504), rel=1e-13)
    assert sharpe_ratio(
        [0.01, 0.03], risk_free=0.01, periods_per_year=None
    ) == pytest.approx(1 / math.sqrt(2), rel=1e-13)
    # Per-period risk-free series: excess returns 0.00 and 0.03.
    assert sharpe_ratio(
        [0.01, 0.03], risk_free=[0.01, 0.0], periods_per_year=None
    ) == pytest.approx(1 / math.sqrt(2), rel=1e-13)


def test_sharpe_ratio_four_returns_by_hand():
    r = [0.05, -0.02, 0.03, 0.00]
    mean = (0.05 - 0.02 + 0.03 + 0.00) / 4
    var = sum((x - mean) ** 2 for x in r) / 3
    assert var == pytest.approx(0.0029 / 3)
    expected = mean / math.sqrt(var) * math.sqrt(12)
    assert sharpe_ratio(r, periods_per_year=12) == pytest.approx(expected, rel=1e-13)


def test_sortino_ratio_by_hand():
    r = [0.02, -0.01, 0.03, -0.02]
    # mean 0.005, downside deviation sqrt((0.01**2 + 0.02**2) / 4)
    assert sortino_ratio(r, periods_per_year=None) == pytest.approx(
        1 / math.sqrt(5), rel=1e-13
    )
    assert sortino_ratio(r, periods_per_year=12) == pytest.approx(
        math.sqrt(12 / 5), rel=1e-13
    )
    # target 0.01: excess 0.01, -0.02, 0.02, -0.03
    expected = -0.005 / math.sqrt((0.02**2 + 0.03**2) / 4)
    assert sortino_ratio(r, target=0.01, periods_per_year=None) == pytest.approx(
        expected, rel=1e-12
    )


# ------------------------------------------------------------ drawdown / calmar


@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        # wealth 1.1, 0.55, 0.66, 0.99, 0.891: trough 0.55 below peak 1.1
        ([0.10, -0.50, 0.20, 0.50, -0.10], 0.5),
        # an opening loss counts: the initial wealth 1 is a peak
        ([-0.20, 0.10], 0.2),
        # wealth 1.5, 1.2, 2.4, 1.2: the later, deeper drawdown wins
        ([0.50, -0.20, 1.00, -0.50], 0.5),
        ([0.01, 0.02, 0.0], 0.0),
        ([-0.05], 0.05),
        ([0.2, -1.0, 0.5], 1.0),
    ],
)
def test_max_drawdown_by_hand(returns, expected):
    assert max_drawdown(returns) == pytest.approx(expected, abs=1e-15)


def test_max_drawdown_is_positive_fraction_of_peak():
    # wealth 2.0 then 1.5: a 25 % fall, not 0.5 in wealth units
    assert max_drawdown([1.0, -0.25]) == pytest.approx(0.25)


def test_calmar_ratio_by_hand():
    r = [0.10, -0.20, 0.10, 0.05]
    wealth = 1.1 * 0.8 * 1.1 * 1.05
    annual = wealth ** (12 / 4) - 1
    drawdown = 1 - 0.88 / 1.1
    assert calmar_ratio(r, periods_per_year=12) == pytest.approx(
        annual / drawdown, rel=1e-13
    )


# ------------------------------------------------------------ benchmark-relative


def test_tracking_error_and_information_ratio_by_hand():
    returns, benchmark = [0.02, 0.01], [0.01, 0.03]
    # active returns 0.01 and -0.02: mean -0.005, sample std 0.015 * sqrt(2)
    te = 0.015 * math.sqrt(2)
    assert tracking_error(returns, benchmark, periods_per_year=None) == pytest.approx(
        te, rel=1e-13
    )
    assert tracking_error(returns, benchmark) == pytest.approx(
        te * math.sqrt(252), rel=1e-13
    )
    assert information_ratio(returns, benchmark, periods_per_year=12) == pytest.approx(
        -0.005 / te * math.sqrt(12), rel=1e-13
    )


def test_benchmark_must_match_returns():
    with pytest.raises(ValueError, match="benchmark must be 1-d with 3"):
        tracking_error([0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(ValueError, match="benchmark must be 1-d"):
        information_ratio([0.1, 0.2], 0.1)
    returns = pd.Series([0.1, 0.2], index=["a", "b"])
    benchmark = pd.Series([0.1, 0.2], index=["b", "c"])
    with pytest.raises(ValueError, match="different indexes"):
        tracking_error(returns, benchmark)
    with pytest.raises(ValueError, match="risk_free.*different indexes"):
        sharpe_ratio(returns, risk_free=benchmark)


# ------------------------------------------------------------ 2-d inputs


def test_two_dimensional_inputs_are_column_wise():
    a = [0.05, -0.02, 0.03, 0.00]
    b = [0.01, 0.03, -0.01, 0.02]
    matrix = np.column_stack([a, b])
    frame = pd.DataFrame({"a": a, "b": b})
    for metric in SERIES_METRICS:
        expected = [metric(a), metric(b)]
        out = metric(matrix)
        assert isinstance(out, np.ndarray) and out.shape == (2,)
        np.testing.assert_allclose(out, expected, rtol=1e-14)
        series = metric(frame)
        assert isinstance(series, pd.Series)
        assert list(series.index) == ["a", "b"]
        np.testing.assert_allclose(series.to_numpy(), expected, rtol=1e-14)
    out = information_ratio(frame, [0.0, 0.01, 0.0, 0.01])
    assert out["a"] == pytest.approx(information_ratio(a, [0.0, 0.01, 0.0, 0.01]))


def test_series_input_gives_python_float():
    value = sharpe_ratio(pd.Series([0.01, 0.03]))
    assert type(value) is float


def test_inputs_are_not_mutated():
    returns = np.array([0.01, -0.02, 0.03])
    frame = pd.DataFrame({"x": returns})
    copy, frame_copy = returns.copy(), frame.copy()
    for metric in SERIES_METRICS:
        metric(returns)
        metric(frame)
    np.testing.assert_array_equal(returns, copy)
    pd.testing.assert_frame_equal(frame, frame_copy)


# ------------------------------------------------------------ invalid input


@pytest.mark.parametrize("metric", SERIES_METRICS)
@pytest.mark.parametrize(
    ("returns", "match"),
    [
        ([], "at least"),
        ([0.01, np.nan, 0.02], "NaN or infinite"),
        ([0.01, np.inf], "NaN or infinite"),
        (np.zeros((2, 2, 2)), "1-d or 2-d"),
        (0.01, "1-d or 2-d"),
        (["a", "b"], "numeric"),
        (np.zeros((3, 0)), "no column"),
    ],
)
def test_invalid_returns_raise(metric, returns, match):
    with pytest.raises(ValueError, match=match):
        metric(returns)


@pytest.mark.parametrize("metric", STD_BASED)
def test_single_observation_is_too_short_for_std(metric):
    with pytest.raises(ValueError, match="at least 2 observations, got 1"):
        metric([0.01])


@pytest.mark.parametrize("ppy", [0, -12, np.inf, True, "12", None])
def test_invalid_periods_per_year(ppy):
    with pytest.raises(ValueError, match="periods_per_year"):
        annualized_volatility([0.01, 0.02], periods_per_year=ppy)


def test_none_periods_per_year_only_for_ratios():
    with pytest.raises(ValueError, match="positive number, got None"):
        annualized_return([0.01], periods_per_year=None)
    with pytest.raises(ValueError, match="positive number, got None"):
        calmar_ratio([-0.01], periods_per_year=None)


def test_invalid_method_raises():
    with pytest.raises(ValueError, match="method must be one of"):
        annualized_return([0.01], method="log")


def test_nan_risk_free_raises():
    with pytest.raises(ValueError, match="risk_free contains NaN"):
        sharpe_ratio([0.01, 0.02], risk_free=np.nan)


# ------------------------------------------------------------ zero volatility


def test_zero_volatility_gives_nan_without_warning():
    constant = [0.001] * 7  # float mean is not exactly 0.001, std tiny not 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(sharpe_ratio(constant))
        assert math.isnan(sharpe_ratio([0.01, 0.03], risk_free=[0.0, 0.02]))
        assert math.isnan(information_ratio(constant, [0.0] * 7))
        assert math.isnan(sortino_ratio([0.01, 0.0, 0.02]))  # no shortfall
        assert math.isnan(calmar_ratio([0.01, 0.02]))  # no drawdown
        assert annualized_volatility(constant) == pytest.approx(0.0, abs=1e-15)
        assert tracking_error(constant, constant) == 0.0
        out = sharpe_ratio(np.column_stack([constant, np.arange(7.0)]))
        # 0.03 - 0.02 is not 0.01 in binary: active returns differ by 1 ulp.
        assert math.isnan(information_ratio([0.03, 0.05], [0.02, 0.04]))
        # 0.1 + 0.2 exceeds 0.3 by rounding only: no genuine shortfall.
        assert math.isnan(sortino_ratio([0.3, 0.2], target=[0.1 + 0.2, 0.2]))
    assert math.isnan(out[0]) and np.isfinite(out[1])


def test_small_genuine_dispersion_is_not_treated_as_zero():
    # std of (0.01, 0.01 + 1e-12) is 1e-12 / sqrt(2); mean is 0.01 + 5e-13
    expected = (0.01 + 5e-13) / (1e-12 / math.sqrt(2))
    assert sharpe_ratio([0.01, 0.01 + 1e-12], periods_per_year=None) == pytest.approx(
        expected, rel=1e-4
    )


# ------------------------------------------------------------ turnover


def test_turnover_consecutive_rows_by_hand():
    weights = [[0.5, 0.5, 0.0], [0.6, 0.3, 0.1], [0.0, 0.5, 0.5]]
    # |0.1| + |-0.2| + |0.1| = 0.4 ; |-0.6| + |0.2| + |0.4| = 1.2
    np.testing.assert_allclose(turnover(weights), [0.4, 1.2], rtol=1e-14)
    np.testing.assert_allclose(
        turnover(weights, kind="one-way"), [0.2, 0.6], rtol=1e-14
    )


def test_turnover_with_drifted_weights_by_hand():
    weights = [[0.5, 0.5], [0.5, 0.5]]
    # From cash, then 0.5/0.5 drifted by returns +20 % and -20 %: 0.6 / 0.4.
    before = [[0.0, 0.0], [0.6, 0.4]]
    np.testing.assert_allclose(
        turnover(weights, weights_before=before), [1.0, 0.2], rtol=1e-14
    )
    # Ignoring drift, the same targets would show no trading at all.
    np.testing.assert_allclose(turnover(weights), [0.0])


def test_turnover_dataframe_keeps_dates():
    index = pd.date_range("2024-01-01", periods=3, freq="MS") + pd.offsets.MonthEnd(0)
    weights = pd.DataFrame([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], index=index)
    out = turnover(weights)
    assert isinstance(out, pd.Series) and out.index.equals(index[1:])
    np.testing.assert_allclose(out.to_numpy(), [2.0, 1.0])
    before = weights.shift(fill_value=0.0)
    out = turnover(weights, weights_before=before)
    assert out.index.equals(index)
    np.testing.assert_allclose(out.to_numpy(), [1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="rows do not match"):
        turnover(weights, weights_before=before.set_axis(index + pd.Timedelta("1D")))


@pytest.mark.parametrize(
    ("weights", "kwargs", "match"),
    [
        ([0.5, 0.5], {}, "must be 2-d"),
        ([[0.5, 0.5]], {}, "at least 2"),
        ([[0.5, np.nan], [0.5, 0.5]], {}, "NaN"),
        ([[0.5, 0.5]], {"weights_before": [[0.5, 0.5, 0.0]]}, "shape"),
        ([[0.5, 0.5], [0.5, 0.5]], {"kind": "both"}, "kind must be"),
    ],
)
def test_turnover_invalid(weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        turnover(weights, **kwargs)


# ------------------------------------------------------------ variance / risk


COV = [[0.04, 0.01], [0.01, 0.09]]


def test_portfolio_variance_by_hand():
    expected = 0.25 * 0.04 + 0.25 * 0.09 + 2 * 0.25 * 0.01
    assert portfolio_variance([0.5, 0.5], COV) == pytest.approx(expected, rel=1e-14)
    assert portfolio_variance([1.5, -0.5], COV) == pytest.approx(
        2.25 * 0.04 + 0.25 * 0.09 - 2 * 0.75 * 0.01, rel=1e-14
    )


def test_risk_contributions_by_hand():
    # Sigma w = (0.025, 0.05); w * Sigma w = (0.0125, 0.025); variance 0.0375
    np.testing.assert_allclose(
        risk_contributions([0.5, 0.5], COV), [1 / 3, 2 / 3], rtol=1e-14
    )
    np.testing.assert_allclose(
        risk_contributions([0.5, 0.5], COV, kind="variance"),
        [0.0125, 0.025],
        rtol=1e-14,
    )
    vol = math.sqrt(0.0375)
    np.testing.assert_allclose(
        risk_contributions([0.5, 0.5], COV, kind="volatility"),
        [0.0125 / vol, 0.025 / vol],
        rtol=1e-14,
    )
    # Short position: Sigma w = (0.055, -0.03); contributions 0.0825 and 0.015
    np.testing.assert_allclose(
        risk_contributions([1.5, -0.5], COV), [0.0825 / 0.0975, 0.015 / 0.0975]
    )


def test_risk_contributions_zero_variance_is_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = risk_contributions([0.0, 0.0], COV)
        vol = risk_contributions([0.0, 0.0], COV, kind="volatility")
    assert np.isnan(out).all() and np.isnan(vol).all()
    np.testing.assert_array_equal(
        risk_contributions([0.0, 0.0], COV, kind="variance"), [0.0, 0.0]
    )


def test_risk_contributions_labels():
    cov = pd.DataFrame(COV, index=["x", "y"], columns=["x", "y"])
    out = risk_contributions([0.5, 0.5], cov)
    assert isinstance(out, pd.Series) and list(out.index) == ["x", "y"]
    weights = pd.Series([0.5, 0.5], index=["y", "x"])
    with pytest.raises(ValueError, match="do not match"):
        risk_contributions(weights, cov)


@pytest.mark.parametrize(
    ("weights", "cov", "match"),
    [
        ([0.5, 0.5, 0.0], COV, "shape"),
        ([[0.5, 0.5]], COV, "weights must be 1-d"),
        ([0.5, 0.5], [[0.04, 0.01], [0.02, 0.09]], "not symmetric"),
        ([0.5, 0.5], [[0.04, np.nan], [np.nan, 0.09]], "NaN"),
        ([], COV, "at least 1"),
    ],
)
def test_weights_and_covariance_invalid(weights, cov, match):
    with pytest.raises(ValueError, match=match):
        portfolio_variance(weights, cov)
    with pytest.raises(ValueError, match=match):
        risk_contributions(weights, cov)


def test_risk_contributions_invalid_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        risk_contributions([0.5, 0.5], COV, kind="absolute")


# ------------------------------------------------------------ properties


finite_returns = arrays(
    np.float64,
    st.integers(2, 30),
    elements=st.floats(-0.5, 0.5, allow_nan=False, allow_subnormal=False),
)


@settings(max_examples=60, deadline=None)
@given(finite_returns, st.floats(0.1, 10.0))
def test_sharpe_is_scale_invariant_and_drawdown_bounded(returns, scale):
    drawdown = max_drawdown(returns)
    assert 0.0 <= drawdown <= 1.0
    base, scaled = sharpe_ratio(returns), sharpe_ratio(returns * scale)
    if np.isnan(base):
        assert np.isnan(scaled) or abs(scaled) > 1e6
    elif abs(base) < 1e6:
        assert scaled == pytest.approx(base, rel=1e-8, abs=1e-10)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_relative_risk_contributions_sum_to_one(n_assets, seed):
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(n_assets, n_assets))
    cov = factor @ factor.T + 0.01 * np.eye(n_assets)
    weights = rng.normal(size=n_assets)
    relative = risk_contributions(weights, cov)
    absolute = risk_contributions(weights, cov, kind="variance")
    assert relative.sum() == pytest.approx(1.0, rel=1e-10)
    assert absolute.sum() == pytest.approx(portfolio_variance(weights, cov), rel=1e-10)


# ------------------------------------------------------------ scorers


class EqualWeights(BaseEstimator):
    def __init__(self, tilt=0.0):
        self.tilt = tilt

    def fit(self, X, y=None):
        n_assets = np.shape(X)[1]
        weights = np.full(n_assets, 1.0 / n_assets)
        weights[0] += self.tilt
        weights[1] -= self.tilt
        self.weights_ = weights
        return self

    def predict(self, X):
        return X @ self.weights_


def _returns_panel():
    rng = np.random.default_rng(42)
    return rng.normal(0.005, 0.03, size=(50, 4))


def _fold_portfolio_returns(X, n_splits=4):
    """Equal-weight returns of each test fold, as plain Python lists."""
    return [
        [sum(row) / len(row) for row in X[test].tolist()]
        for _, test in TimeSeriesSplit(n_splits=n_splits).split(X)
    ]


def _hand_max_drawdown(returns):
    wealth, peak, worst = 1.0, 1.0, 0.0
    for r in returns:
        wealth *= 1 + r
        peak = max(peak, wealth)
        worst = max(worst, 1 - wealth / peak)
    return worst


def _hand_sortino(returns):
    shortfall = sum(min(r, 0.0) ** 2 for r in returns) / len(returns)
    return statistics.fmean(returns) / math.sqrt(shortfall)


HAND_SCORES = {
    "sharpe": lambda r: statistics.fmean(r) / statistics.stdev(r),
    "sortino": _hand_sortino,
    "neg_variance": lambda r: -statistics.variance(r),
    "neg_max_drawdown": lambda r: -_hand_max_drawdown(r),
}
SCORERS = {
    "sharpe": sharpe_scorer,
    "sortino": sortino_scorer,
    "neg_variance": neg_variance_scorer,
    "neg_max_drawdown": neg_max_drawdown_scorer,
}


@pytest.mark.parametrize("as_frame", [False, True])
@pytest.mark.parametrize("name", sorted(SCORERS))
def test_scorers_in_cross_val_score_match_hand_values(name, as_frame):
    X = _returns_panel()
    data = pd.DataFrame(X, columns=list("abcd")) if as_frame else X
    scores = cross_val_score(
        EqualWeights(), data, scoring=SCORERS[name], cv=TimeSeriesSplit(n_splits=4)
    )
    expected = [HAND_SCORES[name](r) for r in _fold_portfolio_returns(X)]
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


def test_utility_scorer_matches_hand_values():
    X = _returns_panel()
    scorer = make_utility_scorer(3.0)
    scores = cross_val_score(
        EqualWeights(), X, scoring=scorer, cv=TimeSeriesSplit(n_splits=4)
    )
    expected = [
        statistics.fmean(r) - 1.5 * statistics.variance(r)
        for r in _fold_portfolio_returns(X)
    ]
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


def test_named_scorers_in_cross_validate():
    X = pd.DataFrame(_returns_panel())
    names = ["sharpe", "neg_variance"]
    result = cross_validate(
        EqualWeights(),
        X,
        scoring={name: get_portfolio_scorer(name) for name in names},
        cv=TimeSeriesSplit(n_splits=3),
    )
    folds = _fold_portfolio_returns(X.to_numpy(), n_splits=3)
    for name in names:
        expected = [HAND_SCORES[name](r) for r in folds]
        np.testing.assert_allclose(result[f"test_{name}"], expected, rtol=1e-12)


def test_grid_search_picks_the_best_sharpe_by_hand():
    X = _returns_panel()
    X[:, 0] += 0.02  # asset 0 clearly has the best risk-adjusted return
    tilts = [-0.2, 0.0, 0.2]
    search = GridSearchCV(
        EqualWeights(),
        {"tilt": tilts},
        scoring=sharpe_scorer,
        cv=TimeSeriesSplit(n_splits=3),
    ).fit(X)
    mean_scores = []
    for tilt in tilts:
        weights = [0.25 + tilt, 0.25 - tilt, 0.25, 0.25]
        fold_scores = []
        for _, test in TimeSeriesSplit(n_splits=3).split(X):
            r = [sum(w * x for w, x in zip(weights, row)) for row in X[test].tolist()]
            fold_scores.append(statistics.fmean(r) / statistics.stdev(r))
        mean_scores.append(statistics.fmean(fold_scores))
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], mean_scores, rtol=1e-12
    )
    assert search.best_params_ == {"tilt": tilts[int(np.argmax(mean_scores))]}


def test_make_portfolio_scorer_with_kwargs_and_sign():
    X = np.array([[0.01, 0.03], [0.02, 0.00], [-0.01, 0.01]])  # returns .02 .01 0
    estimator = EqualWeights().fit(X)
    scorer = make_portfolio_scorer(sharpe_ratio, periods_per_year=12)
    assert scorer(estimator, X) == pytest.approx(math.sqrt(12), rel=1e-13)
    scorer = make_portfolio_scorer(
        annualized_volatility, greater_is_better=False, periods_per_year=12
    )
    assert scorer(estimator, X, None) == pytest.approx(-0.01 * math.sqrt(12))
    assert repr(scorer) == (
        "make_portfolio_scorer(annualized_volatility, periods_per_year=12, "
        "greater_is_better=False)"
    )


def test_scorer_rejects_two_dimensional_predictions():
    class Panel(EqualWeights):
        def predict(self, X):
            return np.asarray(X)

    X = _returns_panel()
    with pytest.raises(ValueError, match="1-d series of portfolio returns"):
        sharpe_scorer(Panel().fit(X), X)


def test_scorer_factory_errors():
    with pytest.raises(TypeError, match="callable"):
        make_portfolio_scorer("sharpe")
    with pytest.raises(TypeError, match="does not accept"):
        make_portfolio_scorer(max_drawdown, periods_per_year=12)
    for bad in (-1.0, np.nan, "1", True):
        with pytest.raises(ValueError, match="risk_aversion"):
            make_utility_scorer(bad)
    with pytest.raises(ValueError, match="unknown portfolio scorer"):
        get_portfolio_scorer("calmar")


def test_get_portfolio_scorer_names():
    for name, scorer in SCORERS.items():
        assert get_portfolio_scorer(name) is scorer


def test_scorers_pickle():
    X = _returns_panel()
    estimator = EqualWeights().fit(X)
    for scorer in [*SCORERS.values(), make_utility_scorer(2.0)]:
        clone = pickle.loads(pickle.dumps(scorer))
        assert clone(estimator, X) == scorer(estimator, X)
