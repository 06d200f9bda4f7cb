"""Tests of skportfolio.plotting: what is drawn, labelled, and refused."""

import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.ticker import PercentFormatter

from skportfolio.metrics import risk_contributions
from skportfolio.plotting import (
    plot_cumulative_returns,
    plot_efficient_frontier,
    plot_risk_contributions,
    plot_weights,
)

DATES = pd.to_datetime(["2020-01-31", "2020-02-29", "2020-03-31", "2020-04-30"])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _save(ax, tmp_path, name):
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000
    return path


def _legend_labels(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


# -- plot_cumulative_returns -------------------------------------------------


def test_cumulative_returns_lines_compound_each_series(tmp_path):
    returns = pd.DataFrame(
        {"a": [0.10, -0.10, 0.05, 0.0], "b": [0.0, 0.02, 0.02, -0.5]}, index=DATES
    )
    ax = plot_cumulative_returns(returns)
    _save(ax, tmp_path, "cumulative")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["a", "b"]
    assert _legend_labels(ax) == ["a", "b"]
    np.testing.assert_allclose(
        lines[0].get_ydata(), [0.10, 1.1 * 0.9 - 1, 1.1 * 0.9 * 1.05 - 1, 0.0395]
    )
    np.testing.assert_allclose(lines[1].get_ydata()[-1], 1.02**2 * 0.5 - 1)
    assert list(lines[0].get_xdata()) == list(DATES)
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)
    assert ax.get_ylabel() == "Cumulative return"


def test_cumulative_returns_log_scale_draws_wealth():
    ax = plot_cumulative_returns({"x": [0.5, 1.0]}, log_scale=True)
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [1.5, 3.0])
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [0, 1])
    assert ax.get_ylabel() == "Growth of 1"


def test_cumulative_returns_accepts_a_series_and_an_existing_axes():
    _, ax = plt.subplots()
    out = plot_cumulative_returns(pd.Series([0.1, 0.2], name="fund"), ax=ax)
    assert out is ax
    assert ax.get_lines()[0].get_label() == "fund"


def test_cumulative_returns_skips_leading_nan_of_a_later_start():
    returns = pd.DataFrame(
        {"early": [0.1, 0.1, 0.1, 0.1], "late": [np.nan, np.nan, 0.2, 0.2]},
        index=DATES,
    )
    ax = plot_cumulative_returns(returns)
    late = ax.get_lines()[1]
    assert list(late.get_xdata()) == list(DATES[2:])
    np.testing.assert_allclose(late.get_ydata(), [0.2, 0.44])


def test_cumulative_returns_does_not_mutate_input():
    returns = pd.DataFrame({"a": [np.nan, 0.1, 0.2]})
    before = returns.copy()
    plot_cumulative_returns(returns)
    pd.testing.assert_frame_equal(returns, before)


@pytest.mark.parametrize(
    ("returns", "message"),
    [
        ({"a": [0.1, np.nan, 0.1]}, "NaN or infinite"),
        ({"a": [0.1, np.inf]}, "NaN or infinite"),
        ({"a": [np.nan, np.nan]}, "all NaN"),
        ({"a": [0.1, -1.5]}, "below -1"),
        ({}, "empty dict"),
    ],
)
def test_cumulative_returns_rejects_bad_returns(returns, message):
    with pytest.raises(ValueError, match=message):
        plot_cumulative_returns(returns)


def test_cumulative_returns_rejects_unknown_container():
    with pytest.raises(TypeError, match="dict of return series"):
        plot_cumulative_returns([[0.1, 0.2]])


# -- plot_weights --------------------------------------------------------------


def test_weights_stack_one_area_per_asset(tmp_path):
    weights = pd.DataFrame(
        {
            "x": [0.2, 0.5, 0.6, 0.6],
            "y": [0.3, 0.3, 0.4, 0.1],
            "z": [0.5, 0.2, 0.0, 0.3],
        },
        index=DATES,
    )
    ax = plot_weights(weights)
    _save(ax, tmp_path, "weights")
    assert len(ax.collections) == 3
    assert _legend_labels(ax) == ["x", "y", "z"]
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)
    # The top edge of the last area is the total weight, 1 on every date.
    top = ax.collections[-1].get_paths()[0].vertices[:, 1]
    np.testing.assert_allclose(top.max(), 1.0)
    # The first area's top edge is x's weight, held until the next date.
    first = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert set(np.round(first, 12)) == {0.0, 0.2, 0.5, 0.6}


def test_weights_shorts_stack_below_zero_with_one_legend_entry_per_asset():
    weights = np.array([[1.3, -0.3, 0.0], [1.2, -0.4, 0.2]])
    ax = plot_weights(weights)
    # Three long areas plus one short area (only the second asset is short).
    assert len(ax.collections) == 4
    assert _legend_labels(ax) == ["asset 0", "asset 1", "asset 2"]
    short = ax.collections[3].get_paths()[0].vertices[:, 1]
    np.testing.assert_allclose(short.min(), -0.4)
    np.testing.assert_array_equal(
        ax.collections[3].get_facecolor(), ax.collections[1].get_facecolor()
    )


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([0.5, 0.5], "must be 2-d"),
        ([[0.5, 0.5], [0.5, np.nan]], "NaN or infinite"),
        ([[0.5, 0.5]], "at least 2"),
    ],
)
def test_weights_rejects_bad_input(weights, message):
    with pytest.raises(ValueError, match=message):
        plot_weights(weights)


# -- plot_efficient_frontier -------------------------------------------------


def test_efficient_frontier_line_and_markers(tmp_path):
    vols, rets = [0.10, 0.12, 0.16], [0.05, 0.07, 0.08]
    ax = plot_efficient_frontier(
        (vols, rets), portfolios={"1/N": (0.14, 0.06), "MinVar": (0.10, 0.05)}
    )
    _save(ax, tmp_path, "frontier")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [
        "Efficient frontier",
        "1/N",
        "MinVar",
    ]
    np.testing.assert_array_equal(lines[0].get_xdata(), vols)
    np.testing.assert_array_equal(lines[0].get_ydata(), rets)
    np.testing.assert_array_equal(lines[1].get_xydata(), [[0.14, 0.06]])
    assert isinstance(ax.xaxis.get_major_formatter(), PercentFormatter)
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Volatility", "Expected return")


def test_efficient_frontier_accepts_dataframe_and_result_objects():
    frame = pd.DataFrame({"volatility": [0.1, 0.2], "return": [0.03, 0.05]})
    ax = plot_efficient_frontier(frame)
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [0.03, 0.05])

    class Result:
        volatilities = np.array([0.1, 0.2])
        returns = np.array([0.04, 0.06])

    ax = plot_efficient_frontier(Result())
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [0.04, 0.06])


def test_efficient_frontier_annualises_line_and_markers():
    ax = plot_efficient_frontier(
        ([0.02, 0.03], [0.005, 0.01]),
        portfolios={"p": (0.04, 0.01)},
        periods_per_year=12,
    )
    frontier, point = ax.get_lines()
    np.testing.assert_allclose(frontier.get_xdata(), np.array([0.02, 0.03]) * 12**0.5)
    np.testing.assert_allclose(frontier.get_ydata(), [0.06, 0.12])
    np.testing.assert_allclose(point.get_xydata(), [[0.04 * 12**0.5, 0.12]])
    with pytest.raises(ValueError, match="periods_per_year"):
        plot_efficient_frontier(([0.1], [0.1]), periods_per_year=0)


@pytest.mark.parametrize(
    ("frontier", "portfolios", "error", "message"),
    [
        (([0.1, 0.2], [0.1]), None, ValueError, "same length"),
        (pd.DataFrame({"vol": [0.1]}), None, ValueError, "'volatility' and 'return'"),
        (0.1, None, TypeError, "pair"),
        (([0.1], [0.1]), {"p": (0.1, 0.2, 0.3)}, ValueError, "portfolios\\['p'\\]"),
    ],
)
def test_efficient_frontier_rejects_bad_input(frontier, portfolios, error, message):
    with pytest.raises(error, match=message):
        plot_efficient_frontier(frontier, portfolios=portfolios)


# -- plot_risk_contributions -------------------------------------------------

COVARIANCE = np.array([[0.04, 0.006, 0.0], [0.006, 0.09, 0.01], [0.0, 0.01, 0.16]])
WEIGHTS = np.array([0.5, 0.3, 0.2])


def test_risk_contributions_bars_match_the_metric(tmp_path):
    ax = plot_risk_contributions(WEIGHTS, COVARIANCE, names=["a", "b", "c"])
    _save(ax, tmp_path, "risk_contributions")
    weight_bars, risk_bars = ax.containers
    np.testing.assert_allclose([bar.get_height() for bar in weight_bars], WEIGHTS)
    heights = [bar.get_height() for bar in risk_bars]
    np.testing.assert_allclose(heights, risk_contributions(WEIGHTS, COVARIANCE))
    np.testing.assert_allclose(sum(heights), 1.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert _legend_labels(ax) == ["Weight", "Risk contribution"]
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)


def test_risk_contributions_names_from_labels_and_without_weights():
    labels = ["x", "y", "z"]
    covariance = pd.DataFrame(COVARIANCE, index=labels, columns=labels)
    ax = plot_risk_contributions(
        pd.Series(WEIGHTS, index=labels), covariance, show_weights=False
    )
    assert len(ax.containers) == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == labels


def test_risk_contributions_rejects_wrong_number_of_names():
    with pytest.raises(ValueError, match="names has 2 entries for 3 assets"):
        plot_risk_contributions(WEIGHTS, COVARIANCE, names=["a", "b"])


def test_risk_contributions_rejects_mismatched_covariance():
    with pytest.raises(ValueError, match="covariance must have shape"):
        plot_risk_contributions(WEIGHTS, COVARIANCE[:2, :2])


# -- optional dependency -------------------------------------------------------


def test_missing_matplotlib_names_the_plot_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install skportfolio\[plot\]"):
        plot_cumulative_returns({"a": [0.1, 0.2]})


def test_importing_the_package_does_not_import_matplotlib():
    code = (
        "import sys, skportfolio, skportfolio.plotting; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
