"""Plots of backtests, weights, efficient frontiers and risk contributions.

Matplotlib is an optional dependency (the ``plot`` extra,
``pip install skportfolio[plot]``): it is imported inside each function, so
``import skportfolio`` never needs it. Every function draws on ``ax`` when
given, otherwise on a new figure, and returns the :class:`~matplotlib.axes.Axes`
so that the caller can adjust titles, limits or save the figure.
"""

import numpy as np
import pandas as pd

from skportfolio.metrics import risk_contributions
from skportfolio.metrics._validation import (
    check_no_total_loss_below,
    check_periods_per_year,
    check_returns,
)

__all__ = [
    "plot_cumulative_returns",
    "plot_efficient_frontier",
    "plot_risk_contributions",
    "plot_weights",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skportfolio.plotting needs matplotlib, which is optional; install it "
            "with `pip install skportfolio[plot]` (or `pip install matplotlib`)."
        ) from exc
    return plt


def _axes(ax):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots()
    return ax


def _percent_formatter():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0)


def _named_series(returns):
    """``{name: Series}`` from a dict, a DataFrame or a single Series."""
    if isinstance(returns, pd.DataFrame):
        return {str(name): returns[name] for name in returns.columns}
    if isinstance(returns, pd.Series):
        return {str(returns.name or "portfolio"): returns}
    if isinstance(returns, dict):
        if not returns:
            raise ValueError("returns is an empty dict: nothing to plot.")
        return {
            str(name): series
            if isinstance(series, pd.Series)
            else pd.Series(np.asarray(series, dtype=float))
            for name, series in returns.items()
        }
    raise TypeError(
        "returns must be a dict of return series, a DataFrame or a Series; "
        f"got {type(returns).__name__}."
    )


def _without_leading_nan(series, name):
    """Drop the NaN that precede a series' first return (a later start date).

    Aligning backtests that start at different dates pads the shorter ones
    with NaN at the top; any other missing or infinite value is an error.
    """
    start = series.first_valid_index()
    if start is None:
        raise ValueError(f"The returns of {name!r} are all NaN.")
    trimmed = series.loc[start:]
    checked = check_returns(trimmed, name=f"the returns of {name!r}", min_length=1)
    check_no_total_loss_below(checked.values)
    return trimmed


def plot_cumulative_returns(returns, *, ax=None, log_scale=False):
    """Plot the compounded returns of one or several portfolios.

    Parameters
    ----------
    returns : dict, DataFrame or Series
        Simple per-period returns in decimals: a dict ``{name: series}``, a
        DataFrame with one column per portfolio, or a single Series. Series
        indexed by dates are drawn against their dates, arrays against the
        period number. Leading NaN (a portfolio that starts later) are
        skipped; other NaN or infinite values raise a ``ValueError``.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.
    log_scale : bool, default=False
        If False, draw the cumulative return :math:`\\prod_t (1 + r_t) - 1`
        on a percent axis. If True, draw the growth of one unit of wealth,
        :math:`\\prod_t (1 + r_t)`, on a logarithmic axis, which shows equal
        growth rates as equal slopes over long histories.

    Returns
    -------
    matplotlib.axes.Axes
        One line per portfolio, labelled with its name, and a legend.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skportfolio.plotting import plot_cumulative_returns
    >>> ax = plot_cumulative_returns({"a": [0.1, -0.05], "b": [0.0, 0.02]})
    >>> [line.get_label() for line in ax.get_lines()]
    ['a', 'b']
    >>> ax.get_lines()[0].get_ydata().round(3)
    array([0.1  , 0.045])
    """
    ax = _axes(ax)
    for name, series in _named_series(returns).items():
        series = _without_leading_nan(series, name)
        wealth = np.cumprod(1.0 + series.to_numpy(dtype=float))
        ax.plot(series.index, wealth if log_scale else wealth - 1.0, label=name)
    if log_scale:
        _plain_log_axis(ax.yaxis)
        ax.set_ylabel("Growth of 1")
    else:
        ax.yaxis.set_major_formatter(_percent_formatter())
        ax.set_ylabel("Cumulative return")
    ax.legend()
    ax.grid(True, alpha=0.3)
    return ax


def _plain_log_axis(axis):
    """A log scale ticked at 1, 2, 5 x 10^k with plain numbers (0.5, 2, 50)."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    axis.axes.set_yscale("log")
    axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(StrMethodFormatter("{x:g}"))
    axis.set_minor_formatter(NullFormatter())


def plot_weights(weights, *, ax=None):
    """Plot portfolio weights over time as stacked areas.

    Each row of ``weights`` is held until the next row (a step plot), as
    between two rebalancing dates. Long positions stack upwards from zero and
    short positions downwards, each asset keeping its colour.

    Parameters
    ----------
    weights : DataFrame or array-like of shape (n_dates, n_assets)
        Weights by rebalancing date (rows) and asset (columns), in decimals;
        at least two dates.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        One filled area per asset (two for assets with both long and short
        positions), a legend with one entry per asset, and a percent axis.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from skportfolio.plotting import plot_weights
    >>> weights = pd.DataFrame({"x": [0.5, 0.7], "y": [0.5, 0.3]})
    >>> ax = plot_weights(weights)
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['x', 'y']
    """
    # A single date would give areas of zero width.
    checked = check_returns(weights, name="weights", min_length=2)
    if checked.is_1d:
        raise ValueError(
            "weights must be 2-d, one row per date and one column per asset; got "
            f"shape {np.shape(weights)}. For a single portfolio use "
            "plot_risk_contributions or a bar chart."
        )
    values = checked.values
    x = np.arange(values.shape[0]) if checked.index is None else checked.index
    names = (
        [str(c) for c in checked.columns]
        if checked.columns is not None
        else [f"asset {i}" for i in range(values.shape[1])]
    )
    ax = _axes(ax)
    colors = _asset_colors(len(names))
    longs = np.clip(values, 0.0, None)
    ax.stackplot(x, longs.T, labels=names, colors=colors, step="post")
    shorts = np.clip(values, None, 0.0)
    if shorts.any():
        # Only the assets that are ever short get a (label-less) lower area,
        # so that the legend keeps one entry per asset.
        held_short = shorts.any(axis=0)
        ax.stackplot(x, shorts[:, held_short].T, colors=colors[held_short], step="post")
        ax.axhline(0.0, color="black", linewidth=0.8)
    ax.yaxis.set_major_formatter(_percent_formatter())
    ax.set_ylabel("Weight")
    ax.set_xlim(x[0], x[-1])
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return ax


def _asset_colors(n_colors):
    from matplotlib import colormaps

    if n_colors <= 10:
        palette = colormaps["tab10"]
        return np.array([palette(i) for i in range(n_colors)])
    # tab20 comes in dark/light pairs: take the ten dark shades first so that
    # neighbouring areas do not share a hue.
    palette = colormaps["tab20"]
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    return np.array([palette(order[i % 20]) for i in range(n_colors)])


def _frontier_points(frontier):
    """(volatilities, returns) from a frontier result or a pair of arrays."""
    if isinstance(frontier, pd.DataFrame):
        missing = {"volatility", "return"} - set(frontier.columns)
        if missing:
            raise ValueError(
                "A frontier DataFrame needs the columns 'volatility' and 'return'; "
                f"missing {sorted(missing)}."
            )
        vols, rets = frontier["volatility"], frontier["return"]
    elif hasattr(frontier, "volatilities") and hasattr(frontier, "returns"):
        vols, rets = frontier.volatilities, frontier.returns
    else:
        try:
            vols, rets = frontier
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "frontier must be a (volatilities, returns) pair, a DataFrame with "
                "'volatility' and 'return' columns, or a result with "
                f"'volatilities' and 'returns' attributes; got {type(frontier).__name__}."
            ) from exc
    vols = check_returns(vols, name="the frontier volatilities", min_length=1)
    rets = check_returns(rets, name="the frontier returns", min_length=1)
    if not (vols.is_1d and rets.is_1d) or vols.n_periods != rets.n_periods:
        raise ValueError(
            "The frontier volatilities and returns must be 1-d of the same length; "
            f"got shapes {vols.values.shape} and {rets.values.shape}."
        )
    return vols.values[:, 0], rets.values[:, 0]


def _annualization(periods_per_year):
    """Multipliers of (volatility, return) that annualise per-period figures."""
    if periods_per_year is None:
        return 1.0, 1.0
    periods = check_periods_per_year(periods_per_year)
    return np.sqrt(periods), periods


def plot_efficient_frontier(
    frontier, *, portfolios=None, periods_per_year=None, ax=None
):
    """Plot an efficient frontier with optional portfolios as markers.

    Parameters
    ----------
    frontier : pair of array-like, DataFrame or frontier result
        The frontier's volatilities and expected returns: a pair
        ``(volatilities, returns)``, a DataFrame with the columns
        ``"volatility"`` and ``"return"``, or an object with
        ``volatilities`` and ``returns`` attributes (the
        :class:`~skportfolio.portfolio.Frontier` that
        :func:`~skportfolio.portfolio.efficient_frontier` returns). Both in
        decimals, in the same units.
    portfolios : dict, default=None
        ``{name: (volatility, return)}``: points drawn as labelled markers,
        e.g. the equal-weight or minimum-variance portfolio, in the units of
        ``frontier``.
    periods_per_year : float, default=None
        If given, the frontier and the points hold per-period figures and are
        drawn annualised: returns times ``periods_per_year``, volatilities
        times its square root (12 for monthly returns). None draws them as
        they are.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        The frontier as a line labelled "Efficient frontier", one marker per
        portfolio, a legend and percent axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skportfolio.plotting import plot_efficient_frontier
    >>> ax = plot_efficient_frontier(
    ...     ([0.10, 0.12, 0.16], [0.05, 0.07, 0.08]),
    ...     portfolios={"1/N": (0.14, 0.06)},
    ... )
    >>> [line.get_label() for line in ax.get_lines()]
    ['Efficient frontier', '1/N']
    """
    vols, rets = _frontier_points(frontier)
    scale_vol, scale_ret = _annualization(periods_per_year)
    ax = _axes(ax)
    ax.plot(
        vols * scale_vol, rets * scale_ret, color="black", label="Efficient frontier"
    )
    for name, point in (portfolios or {}).items():
        if np.shape(point) != (2,):
            raise ValueError(
                f"portfolios[{name!r}] must be a (volatility, return) pair; got {point!r}."
            )
        vol, ret = np.asarray(point, dtype=float)
        ax.plot(
            vol * scale_vol,
            ret * scale_ret,
            marker="o",
            linestyle="none",
            markersize=8,
            label=str(name),
        )
    ax.xaxis.set_major_formatter(_percent_formatter())
    ax.yaxis.set_major_formatter(_percent_formatter())
    ax.set_xlabel("Volatility")
    ax.set_ylabel("Expected return")
    ax.legend()
    ax.grid(True, alpha=0.3)
    return ax


def plot_risk_contributions(
    weights, covariance, *, names=None, ax=None, show_weights=True
):
    """Bar chart of each asset's share of portfolio variance, next to its weight.

    Parameters
    ----------
    weights : array-like of shape (n_assets,)
        Portfolio weights (a fitted estimator's ``weights_``).
    covariance : array-like of shape (n_assets, n_assets)
        Covariance of the asset returns.
    names : list of str, default=None
        Asset names; by default the labels of ``weights`` or ``covariance``
        when they are pandas objects, else "asset 0", "asset 1", ...
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.
    show_weights : bool, default=True
        Also draw the weights, as a second bar beside each contribution, so
        that a risk-parity portfolio's unequal weights and equal risk are seen
        together.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per asset for the relative risk contributions (summing to
        100 %) and, with ``show_weights``, one per asset for the weights.

    See Also
    --------
    skportfolio.metrics.risk_contributions : The numbers behind the bars.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skportfolio.plotting import plot_risk_contributions
    >>> ax = plot_risk_contributions([0.6, 0.4], [[0.04, 0.0], [0.0, 0.09]])
    >>> [round(float(bar.get_height()), 6) for bar in ax.containers[1]]
    [0.5, 0.5]
    """
    contributions = risk_contributions(weights, covariance)
    n_assets = len(contributions)
    if names is None:
        names = (
            [str(label) for label in contributions.index]
            if isinstance(contributions, pd.Series)
            else [f"asset {i}" for i in range(n_assets)]
        )
    elif len(names) != n_assets:
        raise ValueError(f"names has {len(names)} entries for {n_assets} assets.")
    ax = _axes(ax)
    positions = np.arange(n_assets)
    width = 0.4 if show_weights else 0.8
    if show_weights:
        ax.bar(
            positions - width / 2,
            np.asarray(weights, dtype=float),
            width,
            label="Weight",
            color="tab:gray",
        )
    ax.bar(
        positions + (width / 2 if show_weights else 0.0),
        np.asarray(contributions, dtype=float),
        width,
        label="Risk contribution",
        color="tab:blue",
    )
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(
        positions,
        names,
        rotation=45 if n_assets > 6 else 0,
        ha="right" if n_assets > 6 else "center",
    )
    ax.yaxis.set_major_formatter(_percent_formatter())
    ax.set_ylabel("Share of the portfolio")
    # Head room above the tallest bar for a one-row legend; the bars' sticky
    # edges keep the axis starting at zero.
    ax.margins(y=0.2)
    ax.legend(loc="upper center", ncol=2)
    return ax
