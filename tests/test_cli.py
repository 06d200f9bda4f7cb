"""The ``skportfolio`` command, called through ``main`` and once as a process."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import LedoitWolf

import skportfolio.portfolio
from skportfolio import EqualWeight, InverseVolatility, MinimumVariance
from skportfolio.cli import main
from skportfolio.datasets import load_industry_returns, prices_to_returns
from skportfolio.model_selection import WalkForward, backtest, compare

MONTHS = pd.date_range("2000-01-31", periods=48, freq="ME", name="date")


def _returns(seed=0, n_assets=3):
    rng = np.random.default_rng(seed)
    values = rng.normal(0.008, 0.05, size=(len(MONTHS), n_assets))
    return pd.DataFrame(values, index=MONTHS, columns=list("ABCDEFG"[:n_assets]))


def _prices(returns):
    start = pd.DataFrame(
        [[100.0] * returns.shape[1]],
        index=[returns.index[0] - pd.offsets.MonthEnd()],
        columns=returns.columns,
    )
    return pd.concat([start, 100.0 * (1 + returns).cumprod()])


def _write(tmp_path, frame, name="data.csv"):
    path = tmp_path / name
    frame.to_csv(path, index_label="date")
    return path


def _table_rows(out):
    """{row name: list of printed cells} of the table main printed."""
    lines = out.splitlines()
    start = lines.index("") + 1
    return {line.split()[0]: line.split()[1:] for line in lines[start + 1 :] if line}


def _printed(summary):
    return [
        f"{summary['annualized_return']:.2%}",
        f"{summary['annualized_volatility']:.2%}",
        f"{summary['sharpe_ratio']:.3f}",
        f"{summary['max_drawdown']:.2%}",
        f"{summary['average_turnover']:.2%}",
    ]


def test_default_run_is_the_seed_comparison(capsys):
    assert main(["backtest"]) == 0
    out, err = capsys.readouterr()
    assert "the embedded 12 industry portfolios" in out
    assert "1954-01-31 to 2017-03-31 (759 periods, 12 per year)" in out
    assert "rolling 60-period training window; rebalanced every 3 periods" in out
    header = out.splitlines()[out.splitlines().index("") + 1].split()
    assert header == ["return", "volatility", "Sharpe", "max", "drawdown", "turnover"]
    rows = _table_rows(out)
    expected = ["equal-weight", "inverse-volatility", "minimum-variance"]
    for optional in ("RiskParity", "MeanVariance"):
        name = {"RiskParity": "risk-parity", "MeanVariance": "mean-variance"}[optional]
        if hasattr(skportfolio.portfolio, optional):
            expected.append(name)
        else:
            assert f"note: {name} skipped" in err
    assert sorted(rows) == sorted(expected)
    # The printed numbers are those of the library's backtest.
    X = load_industry_returns()
    direct = compare(
        {
            "equal-weight": backtest(EqualWeight(), X),
            "inverse-volatility": backtest(InverseVolatility(), X),
            "minimum-variance": backtest(
                MinimumVariance(covariance_estimator=LedoitWolf()), X
            ),
        }
    )
    for name, summary in direct.iterrows():
        assert rows[name] == _printed(summary)


def test_prices_file_with_every_option(tmp_path, capsys):
    returns = _returns()
    path = _write(tmp_path, _prices(returns))
    output = tmp_path / "summary.csv"
    args = [
        "backtest",
        str(path),
        "--kind",
        "prices",
        "--rebalance",
        "6",
        "--window",
        "24",
        "--expanding",
        "--estimators",
        "minimum-variance,equal-weight",
        "--max-weight",
        "0.5",
        "--transaction-cost",
        "0.002",
        "--periods-per-year",
        "4",
        "--n-jobs",
        "1",
        "--output",
        str(output),
    ]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "note: --max-weight does not apply to equal-weight." in err
    assert "expanding 24-period training window; rebalanced every 6 periods" in out
    assert "4 per year" in out
    cv = WalkForward(train_size=24, test_size=6, expanding=True, allow_partial=True)
    X = prices_to_returns(_prices(returns))
    expected = compare(
        {
            "minimum-variance": backtest(
                MinimumVariance(covariance_estimator=LedoitWolf(), max_weights=0.5),
                X,
                cv=cv,
                transaction_cost=0.002,
            ),
            "equal-weight": backtest(EqualWeight(), X, cv=cv, transaction_cost=0.002),
        },
        periods_per_year=4,
    )
    written = pd.read_csv(output, index_col="estimator")
    assert list(written.index) == ["minimum-variance", "equal-weight"]
    pd.testing.assert_frame_equal(
        written, expected, check_names=False, rtol=1e-12, check_index_type=False
    )
    assert _table_rows(out)["minimum-variance"] == _printed(expected.iloc[0])


def test_returns_file_and_json_output(tmp_path, capsys):
    returns = _returns(1)
    path = _write(tmp_path, returns)
    output = tmp_path / "summary.json"
    args = ["backtest", str(path), "--kind", "returns", "--window", "12"]
    assert (
        main([*args, "--estimators", "inverse-volatility", "--output", str(output)])
        == 0
    )
    expected = backtest(
        InverseVolatility(),
        returns,
        cv=WalkForward(train_size=12, test_size=3, allow_partial=True),
    ).summary(12)
    written = json.loads(output.read_text())
    assert list(written) == ["inverse-volatility"]
    for key, value in expected.items():
        assert written["inverse-volatility"][key] == pytest.approx(value, rel=1e-12)
    assert "Summary written to" in capsys.readouterr().out


def test_decreasing_dates_are_sorted(tmp_path, capsys):
    returns = _returns(2)
    args = ["--kind", "returns", "--window", "12", "--estimators", "equal-weight"]
    assert main(["backtest", str(_write(tmp_path, returns, "up.csv")), *args]) == 0
    increasing = capsys.readouterr().out
    assert (
        main(["backtest", str(_write(tmp_path, returns[::-1], "down.csv")), *args]) == 0
    )
    assert capsys.readouterr().out.replace("down.csv", "up.csv") == increasing


def test_late_starting_asset_in_a_returns_file(tmp_path, capsys):
    returns = _returns(3)
    returns.iloc[:5, 1] = np.nan
    path = _write(tmp_path, returns)
    assert main(["backtest", str(path), "--kind", "returns", "--window", "12"]) == 0
    assert "out of sample 2001-06-30" in capsys.readouterr().out  # 5 + 12 months later


def test_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "wealth.png"
    path = _write(tmp_path, _returns(4))
    args = [
        "backtest",
        str(path),
        "--kind",
        "returns",
        "--window",
        "12",
        "--plot",
        str(plot),
    ]
    assert main(args) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Plot written to {plot}" in capsys.readouterr().out


def _bad(tmp_path, frame_or_text, *extra, name="bad.csv"):
    path = tmp_path / name
    if isinstance(frame_or_text, str):
        path.write_text(frame_or_text)
    else:
        frame_or_text.to_csv(path, index_label="date")
    return ["backtest", str(path), *extra]


def _with(frame, column, values):
    frame = frame.astype(object)
    frame[column] = values
    return frame


BAD_INPUTS = {
    "missing file": (
        lambda tmp: ["backtest", str(tmp / "nope.csv")],
        "cannot read .*nope.csv: No such file",
    ),
    "empty file": (lambda tmp: _bad(tmp, ""), "bad.csv is empty"),
    "header only": (lambda tmp: _bad(tmp, "date,A,B\n"), "has no data"),
    "non-numeric column": (
        lambda tmp: _bad(
            tmp, _with(_returns(), "B", ["abc"] + [0.01] * 47), "--kind", "returns"
        ),
        "column 'B' is not numeric: 'abc' on 2000-01-31",
    ),
    "unparseable date": (
        lambda tmp: _bad(
            tmp, "date,A\n2020-01-31,1.0\nnot a date,1.1\n2020-03-31,1.2\n"
        ),
        "cannot parse the date 'not a date' in data row 2",
    ),
    "numbers as dates": (
        lambda tmp: _bad(tmp, "A,B\n0.01,0.02\n0.03,0.04\n"),
        "first column must hold dates",
    ),
    "duplicate date": (
        lambda tmp: _bad(
            tmp, "date,A\n2020-01-31,1.0\n2020-01-31,1.1\n2020-03-31,1.2\n"
        ),
        "the date 2020-01-31 appears twice",
    ),
    "all-NaN asset": (
        lambda tmp: _bad(tmp, _with(_returns(), "C", np.nan), "--kind", "returns"),
        "column 'C' has no value",
    ),
    "too few rows": (
        lambda tmp: _bad(
            tmp, _returns().iloc[:30], "--kind", "returns", "--window", "30"
        ),
        "too few rows: .* gives 30 periods of returns, and --window 30 needs at least 31",
    ),
    "too few prices": (
        lambda tmp: _bad(tmp, _prices(_returns()).iloc[:31], "--window", "30"),
        "gives 30 periods of returns, and --window 30 needs at least 31",
    ),
    "returns read as prices": (
        lambda tmp: _bad(tmp, _returns()),
        "prices must be positive.*pass --kind returns",
    ),
    "prices read as returns": (
        lambda tmp: _bad(tmp, _prices(_returns()), "--kind", "returns"),
        "do not look like decimal returns.*--kind prices",
    ),
    "gap in returns": (
        lambda tmp: _bad(
            tmp,
            _with(_returns(), "A", [0.01] * 20 + [np.nan] + [0.01] * 27),
            "--kind",
            "returns",
        ),
        "column 'A' has no return on 2001-09-30, after its first one",
    ),
    "gap in prices": (
        lambda tmp: _bad(
            tmp, _with(_prices(_returns()), "B", [100.0] * 20 + [np.nan] + [100.0] * 28)
        ),
        "asset 'B' has a missing price",
    ),
    "infeasible max weight": (
        lambda tmp: _bad(
            tmp,
            _returns(),
            "--kind",
            "returns",
            "--window",
            "12",
            "--max-weight",
            "0.3",
        ),
        r"--max-weight 0.3 is infeasible for 3 assets: .* 1/3 = 0.3333",
    ),
    "irregular dates": (
        lambda tmp: _bad(
            tmp,
            _returns().set_index(pd.date_range("2000-01-01", periods=48, freq="14D")),
            "--kind",
            "returns",
            "--window",
            "12",
        ),
        "cannot infer the data frequency .* pass --periods-per-year",
    ),
    "bad output suffix": (
        lambda tmp: ["backtest", "--output", str(tmp / "out.txt")],
        r"--output .*out.txt must end in .csv or .json",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, case):
    make_args, message = BAD_INPUTS[case]
    assert main(make_args(tmp_path)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("skportfolio backtest: error: ")
    assert re.search(message, err), err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["backtest", "--estimators", "ew,magic"], "unknown estimator 'ew'"),
        (["backtest", "--rebalance", "0"], "expected an integer >= 1, got '0'"),
        (["backtest", "--window", "five"], "expected an integer >= 1, got 'five'"),
        (["backtest", "--max-weight", "1.5"], "expected a number in (0, 1]"),
        (["backtest", "--transaction-cost", "-1"], "expected a number >= 0"),
        (["backtest", "--kind", "levels"], "invalid choice: 'levels'"),
    ],
)
def test_usage_errors_exit_2(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_help_and_version(capsys):
    assert main(["backtest", "--help"]) == 0
    assert "--rebalance N" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == skportfolio.__version__


def test_python_dash_m_help():
    completed = subprocess.run(
        [sys.executable, "-m", "skportfolio", "backtest", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("usage: skportfolio backtest")
    for option in (
        "--kind",
        "--rebalance",
        "--window",
        "--estimators",
        "--max-weight",
        "--plot",
        "--output",
    ):
        assert option in completed.stdout


def test_estimators_missing_from_the_package_are_skipped(tmp_path, capsys, monkeypatch):
    monkeypatch.delattr(skportfolio.portfolio, "MeanVariance", raising=False)
    path = _write(tmp_path, _returns(5))
    args = ["backtest", str(path), "--kind", "returns", "--window", "12"]
    assert main([*args, "--estimators", "mean-variance,equal-weight"]) == 0
    out, err = capsys.readouterr()
    assert "note: mean-variance skipped: this skportfolio has no MeanVariance." in err
    assert list(_table_rows(out)) == ["equal-weight"]
    assert main([*args, "--estimators", "mean-variance"]) == 2
    assert "none of the requested estimators is available" in capsys.readouterr().err


def test_an_estimator_added_later_is_used_long_only_and_capped(
    tmp_path, capsys, monkeypatch
):
    # A stand-in for RiskParity: any class of skportfolio.portfolio by that
    # name is picked up, with min_weights=0 and --max-weight applied.
    monkeypatch.setattr(
        skportfolio.portfolio, "RiskParity", MinimumVariance, raising=False
    )
    returns = _returns(6)
    path = _write(tmp_path, returns)
    args = ["backtest", str(path), "--kind", "returns", "--window", "12"]
    assert main([*args, "--estimators", "risk-parity", "--max-weight", "0.4"]) == 0
    expected = backtest(
        MinimumVariance(min_weights=0.0, max_weights=0.4),
        returns,
        cv=WalkForward(train_size=12, test_size=3, allow_partial=True),
    ).summary(12)
    assert _table_rows(capsys.readouterr().out)["risk-parity"] == _printed(expected)
