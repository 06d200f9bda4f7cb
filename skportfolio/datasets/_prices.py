"""Conversion of price histories into simple or log returns."""

import numpy as np
import pandas as pd

from skportfolio.metrics._validation import check_option

_KINDS = ("simple", "log")
_DROPNA = ("none", "any")
_INTERIOR_NAN = ("raise", "ffill")


def _as_price_matrix(prices):
    """Return prices as a 2-d float array plus row and asset labels for messages."""
    if isinstance(prices, pd.Series):
        prices = prices.to_frame()
    if isinstance(prices, pd.DataFrame):
        rows, assets = prices.index, [repr(c) for c in prices.columns]
        if isinstance(rows, pd.DatetimeIndex) and not (
            rows.is_monotonic_increasing and rows.is_unique
        ):
            raise ValueError("prices must have strictly increasing dates")
    else:
        rows, assets = None, None
    try:
        values = np.array(prices, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"prices must be numeric: {exc}") from exc
    if values.ndim == 1:
        values = values[:, np.newaxis]
    if values.ndim != 2:
        raise ValueError(f"prices must be 1-d or 2-d, got {values.ndim} dimensions")
    if values.shape[0] < 2 or values.shape[1] == 0:
        raise ValueError(
            f"prices need at least 2 rows and 1 asset, got shape {values.shape}"
        )
    if rows is None:
        rows = [f"row {i}" for i in range(values.shape[0])]
        assets = [f"column {j}" for j in range(values.shape[1])]
    return values, rows, assets


def _first_bad_cell(mask):
    """Column-major first True cell, so the message names one asset's first problem."""
    col = int(np.flatnonzero(mask.any(axis=0))[0])
    return int(np.flatnonzero(mask[:, col])[0]), col


def _check_prices(values, rows, assets):
    observed = ~np.isnan(values)
    if np.isinf(values).any():
        row, col = _first_bad_cell(np.isinf(values))
        raise ValueError(f"infinite price for asset {assets[col]} at {rows[row]}")
    with np.errstate(invalid="ignore"):
        non_positive = observed & (values <= 0)
    if non_positive.any():
        row, col = _first_bad_cell(non_positive)
        raise ValueError(
            f"prices must be positive; asset {assets[col]} has "
            f"{values[row, col]} at {rows[row]}"
        )
    never_observed = ~observed.any(axis=0)
    if never_observed.any():
        raise ValueError(f"asset {assets[int(np.argmax(never_observed))]} has no price")


def _interior_gaps(values):
    """NaN cells that come after the asset's first observed price."""
    started = np.maximum.accumulate(~np.isnan(values), axis=0)
    return started & np.isnan(values)


def _forward_fill(values):
    rows = np.where(~np.isnan(values), np.arange(values.shape[0])[:, np.newaxis], 0)
    last_observed = np.maximum.accumulate(rows, axis=0)
    return np.take_along_axis(values, last_observed, axis=0)


def _returns_from_prices(values, kind):
    ratio = values[1:] / values[:-1]
    return np.log(ratio) if kind == "log" else ratio - 1.0


def _wrap_like(prices, returns, keep):
    if isinstance(prices, pd.DataFrame):
        return pd.DataFrame(
            returns, index=prices.index[1:][keep], columns=prices.columns
        )
    if isinstance(prices, pd.Series):
        return pd.Series(returns[:, 0], index=prices.index[1:][keep], name=prices.name)
    return returns[:, 0] if np.ndim(prices) == 1 else returns


def prices_to_returns(prices, *, kind="simple", dropna="none", interior_nan="raise"):
    """Convert prices into per-period simple or log returns.

    Row ``t`` of the result is the return from row ``t - 1`` to row ``t`` of
    ``prices``, so the output has one row fewer and starts at the second
    date. Inputs are never modified.

    Parameters
    ----------
    prices : array-like of shape (n_periods,) or (n_periods, n_assets)
        Positive prices (or total-return index levels), one row per date in
        increasing time order. A DataFrame or Series keeps its labels; a
        ``DatetimeIndex`` must be strictly increasing. NaN before an asset's
        first price marks an asset that starts late.
    kind : {"simple", "log"}, default="simple"
        ``"simple"`` gives :math:`p_t / p_{t-1} - 1`, ``"log"`` gives
        :math:`\\log(p_t / p_{t-1})`, both as decimals (``0.01`` is 1 %).
    dropna : {"none", "any"}, default="none"
        What to do with rows where some asset has no return because it has
        not started yet. ``"none"`` keeps them and leaves NaN in the late
        assets' columns (the return at an asset's first price is NaN too,
        since it has no previous price). ``"any"`` drops every row that
        contains a NaN, so the result starts at the first date where all
        assets have a return. Prices are never filled before an asset's
        first observation.
    interior_nan : {"raise", "ffill"}, default="raise"
        What to do with a NaN price after an asset's first price (a gap, or a
        delisting). ``"raise"`` raises ValueError naming the asset and date.
        ``"ffill"`` carries the last observed price forward: the return is 0
        during the gap and the full move shows on the next observed price,
        so compounded simple returns (and summed log returns) over the gap
        are preserved. A trailing gap becomes zero returns.

    Returns
    -------
    returns : ndarray, Series or DataFrame
        Same type as ``prices`` (lists give ndarrays), with one row fewer
        (and, with ``dropna="any"``, the incomplete rows removed); pandas
        outputs keep the index labels of the end of each period and the
        column names.

    Raises
    ------
    ValueError
        If a price is zero, negative or infinite, an asset has no price at
        all, a NaN appears after an asset's first price with
        ``interior_nan="raise"``, there are fewer than 2 rows, the dates are
        not strictly increasing, or ``dropna="any"`` leaves no row.

    See Also
    --------
    load_industry_returns : Monthly returns ready to use.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skportfolio.datasets import prices_to_returns
    >>> prices = pd.DataFrame(
    ...     {"A": [100.0, 110.0, 99.0, 108.9], "B": [np.nan, 50.0, 55.0, 44.0]},
    ...     index=pd.to_datetime(
    ...         ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"]
    ...     ),
    ... )
    >>> prices_to_returns(prices).round(4)
                  A    B
    2024-02-29  0.1  NaN
    2024-03-31 -0.1  0.1
    2024-04-30  0.1 -0.2
    >>> prices_to_returns(prices, dropna="any").round(4)
                  A    B
    2024-03-31 -0.1  0.1
    2024-04-30  0.1 -0.2
    >>> prices_to_returns([1.0, np.e, 1.0], kind="log").round(12)
    array([ 1., -1.])
    """
    check_option(kind, "kind", _KINDS)
    check_option(dropna, "dropna", _DROPNA)
    check_option(interior_nan, "interior_nan", _INTERIOR_NAN)
    values, rows, assets = _as_price_matrix(prices)
    _check_prices(values, rows, assets)
    gaps = _interior_gaps(values)
    if gaps.any():
        if interior_nan == "raise":
            row, col = _first_bad_cell(gaps)
            raise ValueError(
                f"asset {assets[col]} has a missing price at {rows[row]} after its "
                "first price; pass interior_nan='ffill' to carry the last price "
                "forward"
            )
        values = _forward_fill(values)
    returns = _returns_from_prices(values, kind)
    keep = np.ones(returns.shape[0], dtype=bool)
    if dropna == "any":
        keep = ~np.isnan(returns).any(axis=1)
        if not keep.any():
            raise ValueError("no date has a return for every asset (dropna='any')")
    return _wrap_like(prices, returns[keep], keep)
