"""Command-line interface: ``skportfolio backtest``.

Run without arguments, ``skportfolio backtest`` compares equal weight,
inverse volatility, minimum variance (Ledoit-Wolf covariance), risk parity
and mean-variance portfolios, long-only and rebalanced quarterly on a rolling
five-year window, on the embedded monthly returns of the 12 Fama-French
industry portfolios, and prints a performance table. ``--help`` lists the
options for other data and settings.

Exit status: 0 on success, 2 for bad input or options (with a one-line
message on standard error naming the problem).
"""

import argparse
import importlib
import importlib.util
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.covariance import LedoitWolf

from skportfolio.datasets import load_industry_returns, prices_to_returns
from skportfolio.model_selection import (
    WalkForward,
    backtest,
    compare,
    infer_periods_per_year,
)

PROG = "skportfolio"

# CLI name -> (class in skportfolio.portfolio, constructor arguments).
ESTIMATORS = {
    "equal-weight": ("EqualWeight", {}),
    "inverse-volatility": ("InverseVolatility", {}),
    "minimum-variance": ("MinimumVariance", {"covariance_estimator": LedoitWolf()}),
    "risk-parity": ("RiskParity", {}),
    "mean-variance": ("MeanVariance", {}),
}

# Summary column -> (printed header, format).
TABLE = {
    "annualized_return": ("return", "{:.2%}"),
    "annualized_volatility": ("volatility", "{:.2%}"),
    "sharpe_ratio": ("Sharpe", "{:.3f}"),
    "max_drawdown": ("max drawdown", "{:.2%}"),
    "average_turnover": ("turnover", "{:.2%}"),
}
OUTPUT_SUFFIXES = (".csv", ".json")

# Median absolute return above which a "returns" file surely holds prices or
# percentages: no asset moves 50 % in a typical period.
IMPLAUSIBLE_MEDIAN_RETURN = 0.5


def main(argv=None):
    """Run the ``skportfolio`` command.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; None means ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for bad input or options.
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return 0 if exc.code is None else exc.code
    try:
        return args.run(args)
    except (ValueError, OSError) as exc:
        message = " ".join(str(exc).split())
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 2


def _build_parser():
    from skportfolio import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Portfolio construction and walk-forward backtests.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_backtest(commands)
    return parser


def _add_backtest(commands):
    parser = commands.add_parser(
        "backtest",
        help="compare portfolio estimators in a walk-forward backtest",
        description=(
            "Walk-forward backtest of long-only portfolio estimators: at every "
            "rebalance each estimator is refitted on the last --window periods "
            "and its weights are held, drifting with the returns, until the next "
            "rebalance. Without DATA, runs on the embedded monthly returns of the "
            "12 Fama-French industry portfolios (1949-2017)."
        ),
        epilog=(
            "Table: return (geometric) and volatility annualised; Sharpe ratio "
            "annualised at a zero risk-free rate; max drawdown of compounded "
            "wealth; turnover is the mean two-way turnover per rebalance, "
            "sum(|new weights - drifted weights|), the first purchase from cash "
            "left out. Estimators: equal-weight (1/N), inverse-volatility, "
            "minimum-variance (Ledoit-Wolf covariance), risk-parity and "
            "mean-variance (default parameters: sample moments, risk aversion "
            "1); an estimator missing from this skportfolio version is skipped "
            "with a note."
        ),
    )
    parser.add_argument(
        "data",
        nargs="?",
        type=Path,
        metavar="DATA",
        help=(
            "CSV file: dates in the first column (increasing or decreasing), one "
            "column per asset. Default: the embedded industry returns."
        ),
    )
    parser.add_argument(
        "--kind",
        choices=("prices", "returns"),
        default="prices",
        help=(
            "what DATA holds: prices (or total-return index levels), converted "
            "to simple returns, or simple returns in decimals (0.01 = 1%%). "
            "Default: prices."
        ),
    )
    parser.add_argument(
        "--rebalance",
        type=_positive_int,
        default=3,
        metavar="N",
        help="periods between rebalances (default: 3, quarterly for monthly data)",
    )
    parser.add_argument(
        "--window",
        type=_positive_int,
        default=60,
        metavar="N",
        help="periods in the training window (default: 60, five years of months)",
    )
    parser.add_argument(
        "--expanding",
        action="store_true",
        help="grow the training window from the first period instead of rolling it",
    )
    parser.add_argument(
        "--estimators",
        type=_estimator_list,
        default=list(ESTIMATORS),
        metavar="LIST",
        help=f"comma-separated subset of {','.join(ESTIMATORS)} (default: all)",
    )
    parser.add_argument(
        "--max-weight",
        type=_fraction,
        metavar="W",
        help=(
            "upper bound on each asset's weight, for the estimators that take "
            "one (minimum-variance, mean-variance; a note names the others)"
        ),
    )
    parser.add_argument(
        "--transaction-cost",
        type=_non_negative_float,
        default=0.0,
        metavar="C",
        help="proportional cost per unit of two-way turnover (default: 0)",
    )
    parser.add_argument(
        "--periods-per-year",
        type=_positive_float,
        metavar="P",
        help="periods in a year for annualising (default: inferred from the dates)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        metavar="N",
        help="fits run in parallel by joblib (default: 1; -1 for all processors)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="also write the full summary table to FILE.csv or FILE.json",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="FILE",
        help="save a plot of the cumulative returns (e.g. FILE.png; needs matplotlib)",
    )
    parser.set_defaults(run=run_backtest)


def _number(text, convert, condition, expected):
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not condition(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _positive_int(text):
    return _number(text, int, lambda v: v >= 1, "an integer >= 1")


def _positive_float(text):
    return _number(text, float, lambda v: np.isfinite(v) and v > 0, "a number > 0")


def _non_negative_float(text):
    return _number(text, float, lambda v: np.isfinite(v) and v >= 0, "a number >= 0")


def _fraction(text):
    return _number(text, float, lambda v: 0 < v <= 1, "a number in (0, 1]")


def _estimator_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ESTIMATORS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown estimator {unknown[0] if unknown else text!r}; choose from "
            f"{','.join(ESTIMATORS)}"
        )
    return list(dict.fromkeys(names))


def run_backtest(args):
    """The ``backtest`` command; returns the exit status."""
    _check_output_paths(args)
    returns, source = _load_returns(args)
    n_periods, n_assets = returns.shape
    if n_periods < args.window + 1:
        raise ValueError(
            f"too few rows: {source} gives {n_periods} periods of returns, and "
            f"--window {args.window} needs at least {args.window + 1}."
        )
    if args.max_weight is not None and args.max_weight * n_assets < 1:
        raise ValueError(
            f"--max-weight {args.max_weight:g} is infeasible for {n_assets} assets: "
            f"fully invested weights need a bound of at least 1/{n_assets} = "
            f"{1 / n_assets:.4g}."
        )
    periods_per_year = args.periods_per_year or _inferred_frequency(returns.index)
    estimators = _build_estimators(args.estimators, args.max_weight)
    cv = WalkForward(
        train_size=args.window,
        test_size=args.rebalance,
        expanding=args.expanding,
        allow_partial=True,
    )
    results = {
        name: backtest(
            estimator,
            returns,
            cv=cv,
            n_jobs=args.n_jobs,
            transaction_cost=args.transaction_cost,
        )
        for name, estimator in estimators.items()
    }
    table = compare(results, periods_per_year=periods_per_year)
    first = next(iter(results.values())).returns.index
    print(
        f"Walk-forward backtest on {source}: {n_assets} assets, out of sample "
        f"{_label(first[0])} to {_label(first[-1])} ({len(first)} periods, "
        f"{periods_per_year:g} per year)."
    )
    print(
        f"Long-only; {'expanding' if args.expanding else 'rolling'} "
        f"{args.window}-period training window; rebalanced every {args.rebalance} "
        f"periods; transaction cost {args.transaction_cost:g} per unit of turnover"
        f"{'' if args.max_weight is None else f'; max weight {args.max_weight:g}'}."
    )
    print()
    print(_format_table(table))
    _write_outputs(args, table, results)
    return 0


def _check_output_paths(args):
    """Refuse unusable output options before any work is done."""
    if args.output is not None and args.output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(
            f"--output {args.output} must end in {' or '.join(OUTPUT_SUFFIXES)}."
        )
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise ValueError(
            "--plot needs matplotlib, which is not installed; install it with "
            "`pip install skportfolio[plot]`."
        )


def _inferred_frequency(index):
    try:
        return infer_periods_per_year(index)
    except ValueError:
        raise ValueError(
            "cannot infer the data frequency from the dates (not daily business "
            "days, weekly, monthly, quarterly or yearly); pass --periods-per-year."
        ) from None


def _label(date):
    return f"{date:%Y-%m-%d}" if isinstance(date, pd.Timestamp) else str(date)


def _load_returns(args):
    """The returns to backtest (a dated DataFrame) and a name for them."""
    if args.data is None:
        return load_industry_returns(), "the embedded 12 industry portfolios"
    frame = _read_csv(args.data)
    if args.kind == "prices":
        try:
            returns = prices_to_returns(frame, dropna="any")
        except ValueError as exc:
            raise ValueError(
                f"{args.data}: {exc} (if the file holds returns, pass --kind returns)"
            ) from None
    else:
        returns = _complete_returns(frame, args.data)
    return returns, str(args.data)


def _read_csv(path):
    """A CSV of dated values as a float DataFrame with increasing dates."""
    try:
        frame = pd.read_csv(path, index_col=0)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty.") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path} is not a valid CSV file: {exc}") from None
    except OSError as exc:
        raise OSError(f"cannot read {path}: {exc.strerror or exc}") from None
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise ValueError(
            f"{path} has no data: expected dates in the first column and one "
            "column per asset."
        )
    frame.index = _parse_dates(frame.index, path)
    frame = _numeric(frame, path)
    if frame.index.has_duplicates:
        duplicate = frame.index[frame.index.duplicated()][0]
        raise ValueError(f"{path}: the date {_label(duplicate)} appears twice.")
    return frame.sort_index()


def _parse_dates(labels, path):
    if pd.api.types.is_numeric_dtype(labels.dtype):
        raise ValueError(
            f"{path}: the first column must hold dates (such as 2020-01-31), "
            f"found numbers such as {labels[0]!r}."
        )
    with warnings.catch_warnings():
        # Without a common format pandas warns that it parses each date alone.
        warnings.simplefilter("ignore", UserWarning)
        dates = pd.to_datetime(labels, errors="coerce")
    if dates.isna().any():
        position = int(np.flatnonzero(dates.isna())[0])
        raise ValueError(
            f"{path}: cannot parse the date {labels[position]!r} in data row "
            f"{position + 1}."
        )
    return pd.DatetimeIndex(dates, name="date")


def _numeric(frame, path):
    columns = {}
    for name, column in frame.items():
        values = pd.to_numeric(column, errors="coerce")
        bad = values.isna() & column.notna()
        if bad.any():
            raise ValueError(
                f"{path}: column {name!r} is not numeric: {column[bad].iloc[0]!r} "
                f"on {_label(column.index[bad][0])}."
            )
        if values.isna().all():
            raise ValueError(f"{path}: column {name!r} has no value.")
        columns[name] = values.astype(np.float64)
    return pd.DataFrame(columns, index=frame.index)


def _complete_returns(frame, path):
    """Drop the leading rows of late-starting assets; refuse any later gap."""
    complete = frame.notna().all(axis=1)
    if not complete.any():
        raise ValueError(f"{path}: no date has a return for every asset.")
    returns = frame.loc[complete.idxmax() :]
    missing = returns.isna()
    if missing.any(axis=None):
        name = missing.any().idxmax()
        raise ValueError(
            f"{path}: column {name!r} has no return on "
            f"{_label(missing[name].idxmax())}, after its first one."
        )
    values = returns.to_numpy()
    if (values < -1).any() or np.median(np.abs(values)) > IMPLAUSIBLE_MEDIAN_RETURN:
        raise ValueError(
            f"{path}: these values do not look like decimal returns (a return "
            "below -100 % or a median size above 50 %); pass --kind prices for "
            "prices, or divide percentages by 100."
        )
    return returns


def _build_estimators(names, max_weight):
    """Long-only estimators by CLI name; those this version lacks are skipped."""
    portfolio = importlib.import_module("skportfolio.portfolio")
    estimators, uncapped = {}, []
    for name in names:
        class_name, kwargs = ESTIMATORS[name]
        cls = getattr(portfolio, class_name, None)
        if cls is None:
            _note(f"{name} skipped: this skportfolio has no {class_name}.")
            continue
        estimator = cls(**kwargs)
        params = estimator.get_params()
        if "min_weights" in params:
            estimator.set_params(min_weights=0.0)
        if max_weight is not None:
            if "max_weights" in params:
                estimator.set_params(max_weights=max_weight)
            else:
                uncapped.append(name)
        estimators[name] = estimator
    if uncapped:
        _note(f"--max-weight does not apply to {', '.join(uncapped)}.")
    if not estimators:
        raise ValueError("none of the requested estimators is available.")
    return estimators


def _note(message):
    print(f"note: {message}", file=sys.stderr)


def _format_table(table):
    def formatter(template):
        return lambda value: "n/a" if np.isnan(value) else template.format(value)

    shown = table[list(TABLE)].rename(
        columns={column: header for column, (header, _) in TABLE.items()}
    )
    formatters = {header: formatter(template) for header, template in TABLE.values()}
    return shown.to_string(formatters=formatters, col_space=12, justify="right")


def _write_outputs(args, table, results):
    if args.output is not None:
        try:
            if args.output.suffix.lower() == ".csv":
                table.to_csv(args.output, index_label="estimator")
            else:
                args.output.write_text(_to_json(table))
        except OSError as exc:
            raise OSError(
                f"cannot write {args.output}: {exc.strerror or exc}"
            ) from None
        print(f"\nSummary written to {args.output}")
    if args.plot is not None:
        _save_plot(args.plot, results)
        print(f"Plot written to {args.plot}")


def _to_json(table):
    """``{estimator: {statistic: value}}`` with every digit kept and NaN as null."""
    records = {
        str(name): {
            key: None if np.isnan(value) else float(value) for key, value in row.items()
        }
        for name, row in table.iterrows()
    }
    return json.dumps(records, indent=2) + "\n"


def _save_plot(path, results):
    import matplotlib

    matplotlib.use("Agg")  # a file is wanted, never a window
    import matplotlib.pyplot as plt

    from skportfolio.plotting import plot_cumulative_returns

    ax = plot_cumulative_returns(
        {name: result.returns for name, result in results.items()}, log_scale=True
    )
    ax.set_title("Walk-forward backtest, net of costs")
    try:
        ax.figure.savefig(path, bbox_inches="tight")
    except OSError as exc:
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(ax.figure)
