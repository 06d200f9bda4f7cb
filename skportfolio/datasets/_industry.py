"""Loader for the embedded Kenneth R. French monthly industry dataset."""

from importlib import resources

import numpy as np
import pandas as pd

_DATA_FILE = "industry_returns.csv.gz"
_INDUSTRIES = (
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
)
_FACTORS = ("MktRF", "SMB", "HML", "Mom", "RF")


def _read_embedded_csv():
    source = resources.files("skportfolio.datasets").joinpath("data", _DATA_FILE)
    with resources.as_file(source) as path:
        frame = pd.read_csv(path, index_col="date")
    frame.index = pd.DatetimeIndex(
        pd.to_datetime(frame.index, format="%Y-%m-%d"), name="date"
    )
    return frame.astype(np.float64)


def _select_dates(frame, start, end):
    try:
        selected = frame.loc[start:end]
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"start={start!r} and end={end!r} must be dates or None"
        ) from exc
    if selected.empty:
        raise ValueError(
            f"no month between start={start!r} and end={end!r}; the data covers "
            f"{frame.index[0]:%Y-%m} to {frame.index[-1]:%Y-%m}"
        )
    return selected


def load_industry_returns(*, return_factors=False, as_frame=True, start=None, end=None):
    """Load monthly returns of the 12 Fama-French industry portfolios.

    A copy of 819 months, January 1949 to March 2017, of the Kenneth R. French
    Data Library, shipped with skportfolio so examples and tests run offline.
    Returns are **decimal** simple monthly returns (``0.0123`` means 1.23 %),
    stored to four decimals, the precision of French's two-decimal percent
    figures.

    Parameters
    ----------
    return_factors : bool, default=False
        If True, also return the factor returns of the same months.
    as_frame : bool, default=True
        If True, return pandas DataFrames with a month-end ``DatetimeIndex``
        named ``"date"``. If False, return float64 ndarrays with the same
        rows and columns (the dates are then dropped).
    start, end : str, datetime-like or None, default=None
        Inclusive bounds on the month-end dates, anything pandas accepts for
        label slicing of a ``DatetimeIndex``: ``start="1990"`` keeps January
        1990 onwards, ``end="2000"`` keeps months up to December 2000.
        None means the beginning (end) of the data.

    Returns
    -------
    industries : DataFrame of shape (n_months, 12) or ndarray
        Value-weighted returns of the industry portfolios ``NoDur`` (consumer
        non-durables), ``Durbl`` (consumer durables), ``Manuf``
        (manufacturing), ``Enrgy`` (oil, gas and coal), ``Chems``
        (chemicals), ``BusEq`` (business equipment), ``Telcm``
        (telecommunications), ``Utils`` (utilities), ``Shops`` (wholesale and
        retail), ``Hlth`` (health care), ``Money`` (finance) and ``Other``.
    factors : DataFrame of shape (n_months, 5) or ndarray
        Only if ``return_factors=True``. Columns keep the names of the
        linearmodels copy: ``MktRF`` (market return minus the risk-free rate,
        "Mkt-RF" in French's files), ``SMB`` (size), ``HML`` (value), ``Mom``
        (momentum, also known as UMD) and ``RF`` (one-month Treasury bill
        rate, a per-month decimal return).

    Raises
    ------
    ValueError
        If no month lies between ``start`` and ``end``.

    See Also
    --------
    prices_to_returns : Convert price histories into returns.

    Notes
    -----
    The data come from the Kenneth R. French Data Library; this copy was taken
    from the ``french.csv.bz2`` file distributed with the linearmodels
    package (version 7.1), which already holds decimal returns, and rebuilt
    by ``tools/build_industry_dataset.py`` in the skportfolio repository.
    French publishes value- and equal-weighted industry portfolios and
    linearmodels does not say which it copied; the portfolios' near-zero
    loadings on SMB (about -0.02 on average) identify the value-weighted ones.
    The market, SMB, HML and RF series are the Fama-French (1993) factors
    and ``Mom`` is French's momentum factor (winners minus losers on prior
    2-12 month returns).

    Each value is the return over the calendar month that ends on its date.

    References
    ----------
    .. [1] K. R. French, "Data Library",
       https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/data_library.html
    .. [2] K. Sheppard et al., "linearmodels",
       https://github.com/bashtage/linearmodels
    .. [3] E. F. Fama and K. R. French, "Common risk factors in the returns
       on stocks and bonds", Journal of Financial Economics 33(1), 1993.

    Examples
    --------
    >>> from skportfolio.datasets import load_industry_returns
    >>> returns = load_industry_returns()
    >>> returns.shape
    (819, 12)
    >>> returns.iloc[:3, :5]  # doctest: +NORMALIZE_WHITESPACE
                 NoDur   Durbl   Manuf   Enrgy   Chems
    date
    1949-01-31  0.0367  0.0244  0.0055 -0.0383 -0.0019
    1949-02-28 -0.0193 -0.0369 -0.0352 -0.0430 -0.0285
    1949-03-31  0.0320  0.0342  0.0381  0.0606  0.0350
    >>> industries, factors = load_industry_returns(
    ...     return_factors=True, start="2000", end="2009"
    ... )
    >>> industries.shape, list(factors.columns)
    ((120, 12), ['MktRF', 'SMB', 'HML', 'Mom', 'RF'])
    """
    frame = _select_dates(_read_embedded_csv(), start, end)
    industries = frame[list(_INDUSTRIES)]
    factors = frame[list(_FACTORS)]
    if not as_frame:
        industries, factors = industries.to_numpy(), factors.to_numpy()
    if return_factors:
        return industries, factors
    return industries
