import bz2
import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skportfolio.datasets import load_industry_returns, prices_to_returns

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "skportfolio" / "datasets" / "data" / "industry_returns.csv.gz"
INDUSTRIES = [
    "NoDur",
    "Durbl",
    "Manuf",
    "Enrgy",
    "Chems",
    "BusEq",
    "Telcm",
    "Utils",
    "Shops",
    "Hlth",
    "Money",
    "Other",
]
FACTORS = ["MktRF", "SMB", "HML", "Mom", "RF"]


def _load_build_tool():
    path = REPO / "tools" / "build_industry_dataset.py"
    spec = importlib.util.spec_from_file_location("build_industry_dataset", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- loader


def test_industry_returns_shape_columns_and_index():
    returns = load_industry_returns()
    assert returns.shape == (819, 12)
    assert list(returns.columns) == INDUSTRIES
    assert isinstance(returns.index, pd.DatetimeIndex)
    assert returns.index.name == "date"
    assert returns.index[0] == pd.Timestamp("1949-01-31")
    assert returns.index[-1] == pd.Timestamp("2017-03-31")
    assert returns.index.is_month_end.all()
    # Consecutive months: 68 years and 3 months.
    assert (
        returns.index.to_period("M").asi8[1:] - returns.index.to_period("M").asi8[:-1]
        == 1
    ).all()
    assert (returns.dtypes == np.float64).all()
    assert np.isfinite(returns.to_numpy()).all()


def test_known_values_are_decimal_returns():
    industries, factors = load_industry_returns(return_factors=True)
    # French's tables (in percent): NoDur 3.67 in Jan 1949, Mkt-RF -23.24 in Oct 1987.
    assert industries.loc["1949-01-31", "NoDur"] == 0.0367
    assert factors.loc["1987-10-31", "MktRF"] == -0.2324
    assert factors.loc["1949-01-31", "RF"] == 0.001
    # A monthly T-bill rate in decimals stays below 2 %.
    assert factors["RF"].between(0.0, 0.02).all()
    assert industries.abs().median().max() < 0.1


def test_values_have_four_decimals_without_float_noise():
    industries, factors = load_industry_returns(return_factors=True)
    values = np.hstack([industries.to_numpy(), factors.to_numpy()])
    np.testing.assert_array_equal(values, np.round(values, 4))


def test_factors_columns_and_alignment():
    industries, factors = load_industry_returns(return_factors=True)
    assert list(factors.columns) == FACTORS
    assert factors.index.equals(industries.index)
    assert factors.shape == (819, 5)


def test_as_frame_false_returns_same_numbers():
    frame_ind, frame_fac = load_industry_returns(return_factors=True)
    array_ind, array_fac = load_industry_returns(return_factors=True, as_frame=False)
    assert isinstance(array_ind, np.ndarray) and array_ind.dtype == np.float64
    np.testing.assert_array_equal(array_ind, frame_ind.to_numpy())
    np.testing.assert_array_equal(array_fac, frame_fac.to_numpy())
    only = load_industry_returns(as_frame=False)
    np.testing.assert_array_equal(only, array_ind)


def test_start_end_are_inclusive():
    returns = load_industry_returns(start="2000-01", end="2000-12")
    assert returns.shape == (12, 12)
    assert returns.index[0] == pd.Timestamp("2000-01-31")
    assert returns.index[-1] == pd.Timestamp("2000-12-31")
    tail = load_industry_returns(start=pd.Timestamp("2017-02-28"))
    assert list(tail.index) == [pd.Timestamp("2017-02-28"), pd.Timestamp("2017-03-31")]
    head = load_industry_returns(end="1949-02-28")
    assert len(head) == 2


@pytest.mark.parametrize(
    ("start", "end"), [("2020", None), (None, "1940"), ("2001", "2000")]
)
def test_empty_window_raises(start, end):
    with pytest.raises(ValueError, match="no month between"):
        load_industry_returns(start=start, end=end)


def test_invalid_start_raises():
    with pytest.raises(ValueError, match="start"):
        load_industry_returns(start="not a date")


def test_each_call_returns_an_independent_frame():
    first = load_industry_returns()
    first.iloc[0, 0] = 99.0
    assert load_industry_returns().iloc[0, 0] == 0.0367


# ---------------------------------------------------------------- build tool


def _synthetic_source(values_in_decimal):
    header = "dates," + ",".join(FACTORS + INDUSTRIES + ["S1V1"])
    lines = [header]
    for month, row in enumerate(values_in_decimal, start=1):
        lines.append(f"2001-{month:02d}-01," + ",".join(repr(v) for v in row))
    return bz2.compress(("\n".join(lines) + "\n").encode())


def test_build_tool_rounds_noise_and_writes_month_ends(tmp_path):
    tool = _load_build_tool()
    n_cols = len(FACTORS) + len(INDUSTRIES) + 1
    # 1.17 / 100 in binary floating point prints as 0.011699999999999999.
    rows = [[1.17 / 100] * n_cols, [-2.93 / 100] * n_cols, [0.0] * n_cols]
    source = tmp_path / "french.csv.bz2"
    source.write_bytes(_synthetic_source(rows))
    output = tmp_path / "out.csv.gz"
    tool.main([str(source), "-o", str(output)])
    text = pd.read_csv(output, dtype=str)
    assert list(text.columns) == ["date", *INDUSTRIES, *FACTORS]
    assert list(text["date"]) == ["2001-01-31", "2001-02-28", "2001-03-31"]
    assert list(text["NoDur"]) == ["0.0117", "-0.0293", "0.0"]
    first = output.read_bytes()
    tool.main([str(source), "-o", str(output)])
    assert output.read_bytes() == first  # reproducible gzip (no timestamp)


def test_build_tool_rejects_percent_and_gaps():
    tool = _load_build_tool()
    index = pd.date_range("2001-01-01", periods=3, freq="MS") + pd.offsets.MonthEnd(0)
    frame = pd.DataFrame(0.01, index=index, columns=INDUSTRIES + FACTORS)
    tool.check_source(frame)
    with pytest.raises(ValueError, match="percent"):
        tool.check_source(frame * 100)
    with pytest.raises(ValueError, match="consecutive"):
        tool.check_source(frame.iloc[[0, 2]])
    with pytest.raises(ValueError, match="decimals"):
        tool.check_source(frame + 1e-6)


def test_build_tool_reproduces_shipped_file(tmp_path):
    wheels = sorted(Path("/tmp/lm").glob("linearmodels-*.whl"))
    if not wheels:
        pytest.skip("linearmodels wheel not available at /tmp/lm")
    tool = _load_build_tool()
    output = tmp_path / "industry_returns.csv.gz"
    tool.main([str(wheels[0]), "-o", str(output)])
    assert output.read_bytes() == SHIPPED.read_bytes()


# ---------------------------------------------------------------- prices_to_returns


def test_simple_and_log_returns_by_hand():
    prices = np.array([[100.0, 20.0], [110.0, 25.0], [99.0, 20.0]])
    expected_simple = [[0.1, 0.25], [-0.1, -0.2]]
    np.testing.assert_allclose(prices_to_returns(prices), expected_simple, rtol=1e-15)
    expected_log = [
        [math.log(1.1), math.log(1.25)],
        [math.log(0.9), math.log(0.8)],
    ]
    np.testing.assert_allclose(
        prices_to_returns(prices, kind="log"), expected_log, rtol=1e-15
    )


def test_one_dimensional_inputs_keep_their_type():
    out = prices_to_returns([4.0, 5.0, 4.0])
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    np.testing.assert_allclose(out, [0.25, -0.2], rtol=1e-15)
    series = pd.Series([4.0, 5.0, 4.0], index=list("abc"), name="x")
    out = prices_to_returns(series)
    assert isinstance(out, pd.Series) and out.name == "x"
    assert list(out.index) == ["b", "c"]
    np.testing.assert_allclose(out.to_numpy(), [0.25, -0.2], rtol=1e-15)


def test_late_starting_asset_keeps_leading_nan():
    index = pd.date_range("2024-01-01", periods=4, freq="MS") + pd.offsets.MonthEnd(0)
    prices = pd.DataFrame(
        {"A": [100.0, 110.0, 99.0, 108.9], "B": [np.nan, np.nan, 50.0, 55.0]},
        index=index,
    )
    original = prices.copy()
    out = prices_to_returns(prices)
    assert list(out.columns) == ["A", "B"]
    assert out.index.equals(index[1:])
    np.testing.assert_allclose(out["A"], [0.1, -0.1, 0.1], rtol=1e-13)
    assert np.isnan(out["B"].iloc[0]) and np.isnan(out["B"].iloc[1])
    assert out["B"].iloc[2] == pytest.approx(0.1, rel=1e-14)
    pd.testing.assert_frame_equal(prices, original)

    dropped = prices_to_returns(prices, dropna="any")
    assert list(dropped.index) == [index[3]]
    np.testing.assert_allclose(dropped.to_numpy(), [[0.1, 0.1]], rtol=1e-13)


def test_interior_nan_raises_naming_asset_and_date():
    index = pd.date_range("2024-01-01", periods=4, freq="MS") + pd.offsets.MonthEnd(0)
    prices = pd.DataFrame(
        {"A": [1.0, 1.1, 1.2, 1.3], "B": [np.nan, 2.0, np.nan, 2.2]}, index=index
    )
    with pytest.raises(ValueError, match=r"asset 'B'.*2024-03-31.*interior_nan"):
        prices_to_returns(prices)
    with pytest.raises(ValueError, match=r"column 1 .*row 2"):
        prices_to_returns(prices.to_numpy())


def test_interior_nan_ffill_preserves_compounded_return():
    prices = np.array([[np.nan], [2.0], [np.nan], [2.5], [np.nan]])
    out = prices_to_returns(prices, interior_nan="ffill")
    assert np.isnan(out[0, 0])
    np.testing.assert_allclose(out[1:, 0], [0.0, 0.25, 0.0], rtol=1e-15)
    assert np.isnan(prices[2, 0])  # input untouched


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_non_positive_price_raises(bad):
    prices = pd.DataFrame({"A": [1.0, 2.0], "B": [1.0, bad]}, index=["d1", "d2"])
    with pytest.raises(ValueError, match=r"positive; asset 'B'.*d2"):
        prices_to_returns(prices)


@pytest.mark.parametrize(
    ("prices", "match"),
    [
        ([1.0], "at least 2 rows"),
        ([], "at least 2 rows"),
        (np.ones((3, 0)), "at least 2 rows"),
        (np.ones((2, 2, 2)), "1-d or 2-d"),
        ([1.0, np.inf], "infinite"),
        ([[1.0, np.nan], [2.0, np.nan]], "column 1 has no price"),
        (["a", "b"], "numeric"),
    ],
)
def test_invalid_prices_raise(prices, match):
    with pytest.raises(ValueError, match=match):
        prices_to_returns(prices)


def test_unsorted_dates_raise():
    index = pd.to_datetime(["2024-02-29", "2024-01-31", "2024-03-31"])
    with pytest.raises(ValueError, match="increasing"):
        prices_to_returns(pd.Series([1.0, 2.0, 3.0], index=index))


@pytest.mark.parametrize(
    "kwargs", [{"kind": "pct"}, {"dropna": "all"}, {"interior_nan": "drop"}]
)
def test_invalid_options_raise(kwargs):
    with pytest.raises(ValueError, match="must be one of"):
        prices_to_returns([1.0, 2.0], **kwargs)


def test_dropna_any_without_complete_row_raises():
    prices = np.array([[1.0, np.nan], [2.0, 3.0]])
    with pytest.raises(ValueError, match="no date"):
        prices_to_returns(prices, dropna="any")


def test_round_trip_with_loaded_returns():
    returns = load_industry_returns(end="1950")
    levels = (1.0 + returns).cumprod()
    levels = pd.concat(
        [
            pd.DataFrame(
                1.0, index=[pd.Timestamp("1948-12-31")], columns=levels.columns
            ),
            levels,
        ]
    )
    back = prices_to_returns(levels)
    np.testing.assert_allclose(back.to_numpy(), returns.to_numpy(), atol=1e-14)
    assert back.index.equals(returns.index)
