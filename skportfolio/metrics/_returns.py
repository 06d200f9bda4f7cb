"""Performance metrics of return series.

Conventions shared by every function here:

* returns are simple (not log) per-period returns in decimals (0.01 = 1 %);
* a 1-d input (list, ndarray, Series) gives a float, a 2-d ndarray gives one
  value per column as an ndarray and a DataFrame gives a Series;
* standard deviations are sample ones (``ddof=1``);
* ``periods_per_year`` defaults to 252 (daily data); pass 12 for monthly,
  52 for weekly data. Ratios accept ``periods_per_year=None`` to get the
  per-period, non-annualised value;
* a ratio whose denominator is zero is NaN, without a RuntimeWarning. Zero
  means up to rounding: a denominator of at most 16 ulps (16 * 2.2e-16
  relative) of the magnitude of the inputs it comes from, since decimal
  returns are inexact in binary (``0.03 - 0.02 != 0.01``).
"""

import numpy as np

from skportfolio.metrics._validation import (
    annualization_factor,
    check_companion,
    check_no_total_loss_below,
    check_option,
    check_periods_per_year,
    check_returns,
    magnitude,
    ratio_or_nan,
)


def _geometric_annual_return(values, periods_per_year):
    check_no_total_loss_below(values)
    # Summing log1p stays finite where a product of (1 + r) could overflow; a
    # -100 % period gives log(0) = -inf and hence a -100 % annual return.
    with np.errstate(divide="ignore", over="ignore"):
        log_growth = np.log1p(values).sum(axis=0)
        return np.expm1(log_growth * periods_per_year / values.shape[0])


def _mean_over_std(values, offset):
    """Per-column mean / sample std of ``values - offset``.

    NaN where the std is rounding noise (see ``ratio_or_nan``): a constant
    series has a float std of about 1e-19, not 0, and 0.03 - 0.02 != 0.01.
    """
    excess = values - offset
    return ratio_or_nan(
        excess.mean(axis=0), excess.std(axis=0, ddof=1), magnitude(values, offset)
    )


def _max_drawdown(values):
    check_no_total_loss_below(values)
    wealth = np.cumprod(1.0 + values, axis=0)
    # The initial wealth of 1 is the first peak, so an opening loss counts.
    peaks = np.maximum.accumulate(np.maximum(wealth, 1.0), axis=0)
    return (1.0 - wealth / peaks).max(axis=0)


def annualized_return(returns, *, periods_per_year=252, method="geometric"):
    """Annualised (compound by default) return of a return series.

    Parameters
    ----------
    returns : array-like of shape (n_periods,) or (n_periods, n_series)
        Simple per-period returns in decimals; 2-d inputs are handled
        column-wise.
    periods_per_year : float, default=252
        Number of periods in a year: 252 for daily, 52 for weekly, 12 for
        monthly returns.
    method : {"geometric", "arithmetic"}, default="geometric"
        ``"geometric"`` compounds the returns, ``"arithmetic"`` scales their
        mean.

    Returns
    -------
    float, ndarray or Series
        Annualised return in decimals.

    Raises
    ------
    ValueError
        If ``returns`` is empty or not finite, or (geometric) a return is
        below -1.

    See Also
    --------
    annualized_volatility, calmar_ratio

    Notes
    -----
    With :math:`n` returns :math:`r_t` and :math:`P` periods per year,

    .. math::

        R_{geo} = \\Big(\\prod_{t=1}^{n} (1 + r_t)\\Big)^{P / n} - 1,
        \\qquad
        R_{arith} = \\frac{P}{n} \\sum_{t=1}^{n} r_t .

    Examples
    --------
    >>> from skportfolio.metrics import annualized_return
    >>> round(annualized_return([0.10, -0.10, 0.05, 0.0], periods_per_year=4), 6)
    0.0395
    >>> round(
    ...     annualized_return(
    ...         [0.10, -0.10, 0.05, 0.0], periods_per_year=4, method="arithmetic"
    ...     ),
    ...     6,
    ... )
    0.05
    """
    checked = check_returns(returns, min_length=1)
    periods_per_year = check_periods_per_year(periods_per_year)
    check_option(method, "method", ("geometric", "arithmetic"))
    if method == "arithmetic":
        out = checked.values.mean(axis=0) * periods_per_year
    else:
        out = _geometric_annual_return(checked.values, periods_per_year)
    return checked.wrap(out, "annualized_return")


def annualized_volatility(returns, *, periods_per_year=252):
    """Annualised standard deviation of a return series.

    Parameters
    ----------
    returns : array-like of shape (n_periods,) or (n_periods, n_series)
        Simple per-period returns in decimals, at least 2 of them.
    periods_per_year : float, default=252
        Number of periods in a year (252 daily, 12 monthly).

    Returns
    -------
    float, ndarray or Series
        :math:`\\sqrt{P}\\, s` with :math:`s` the sample standard deviation
        (``ddof=1``) and :math:`P` = ``periods_per_year``.

    Raises
    ------
    ValueError
        If fewer than 2 returns are given or a value is not finite.

    See Also
    --------
    annualized_return, sharpe_ratio

    Examples
    --------
    >>> from skportfolio.metrics import annualized_volatility
    >>> round(annualized_volatility([0.01, 0.03], periods_per_year=12), 6)
    0.04899
    """
    checked = check_returns(returns)
    periods_per_year = check_periods_per_year(periods_per_year)
    out = checked.values.std(axis=0, ddof=1) * np.sqrt(periods_per_year)
    return checked.wrap(out, "annualized_volatility")


def sharpe_ratio(returns, *, risk_free=0.0, periods_per_year=252):
    """Sharpe ratio: mean excess return over its sample standard deviation.

    Parameters
    ----------
    returns : array-like of shape (n_periods,) or (n_periods, n_series)
        Simple per-period returns in decimals, at least 2 of them.
    risk_free : float or array-like of shape (n_periods,), default=0.0
        Risk-free return **per period** (e.g. a monthly T-bill return for
        monthly data), subtracted from every column. A labelled series must
        share the index of ``returns``.
    periods_per_year : float or None, default=252
        Number of periods in a year, used to annualise by
        :math:`\\sqrt{P}`. None returns the per-period ratio, the form used
        by :func:`sharpe_scorer` and by portfolio estimators' ``score``.

    Returns
    -------
    float, ndarray or Series
        The Sharpe ratio; NaN where all excess returns are equal up to
        rounding (zero volatility, see the module conventions).

    Raises
    ------
    ValueError
        If fewer than 2 returns are given, a value is not finite, or
        ``risk_free`` does not match ``returns``.

    See Also
    --------
    sortino_ratio, information_ratio

    Notes
    -----
    With excess returns :math:`x_t = r_t - r_{f,t}`, their mean
    :math:`\\bar x` and sample standard deviation :math:`s_x` (``ddof=1``),

    .. math::

        SR = \\sqrt{P}\\, \\frac{\\bar x}{s_x},

    with :math:`\\sqrt{P}` replaced by 1 when ``periods_per_year`` is None.

    References
    ----------
    .. [1] W. F. Sharpe, "The Sharpe Ratio", Journal of Portfolio Management
       21(1), 1994.

    Examples
    --------
    >>> from skportfolio.metrics import sharpe_ratio
    >>> returns = [0.01, 0.03]
    >>> round(sharpe_ratio(returns, periods_per_year=None), 6)  # sqrt(2)
    1.414214
    >>> round(sharpe_ratio(returns, periods_per_year=12), 6)  # sqrt(24)
    4.898979
    >>> round(sharpe_ratio(returns, risk_free=0.01, periods_per_year=None), 6)
    0.707107
    """
    checked = check_returns(returns)
    periods_per_year = check_periods_per_year(periods_per_year, allow_none=True)
    risk_free = check_companion(risk_free, checked, name="risk_free", allow_scalar=True)
    ratio = _mean_over_std(checked.values, risk_free)
    return checked.wrap(ratio * annualization_factor(periods_per_year), "sharpe_ratio")


def sortino_ratio(returns, *, target=0.0, periods_per_year=252):
    """Sortino ratio: mean excess return over the downside deviation.

    Parameters
    ----------
    returns : array-like of shape (n_periods,) or (n_periods, n_series)
        Simple per-period returns in decimals, at least 2 of them.
    target : float or array-like of shape (n_periods,), default=0.0
        Minimum acceptable return **per period**; only shortfalls below it
        count as risk.
    periods_per_year : float or None, default=252
        Periods in a year, annualising by :math:`\\sqrt{P}`; None returns the
        per-period ratio.

    Returns
    -------
    float, ndarray or Series
        The Sortino ratio; NaN where no return falls below ``target`` by
        more than rounding noise (zero downside deviation).

    Raises
    ------
    ValueError
        If fewer than 2 returns are given, a value is not finite, or
        ``target`` does not match ``returns``.

    See Also
    --------
    sharpe_ratio

    Notes
    -----
    With :math:`x_t = r_t - \\tau_t` the excess over the target, the
    downside deviation averages squared shortfalls over **all** :math:`n`
    periods (not only the losing ones):

    .. math::

        DD = \\sqrt{\\frac{1}{n} \\sum_{t=1}^{n} \\min(x_t, 0)^2},
        \\qquad
        SoR = \\sqrt{P}\\, \\frac{\\bar x}{DD}.

    References
    ----------
    .. [1] F. A. Sortino and L. N. Price, "Performance measurement in a
       downside risk framework", Journal of Investing 3(3), 1994.

    Examples
    --------
    >>> from skportfolio.metrics import sortino_ratio
    >>> returns = [0.02, -0.01, 0.03, -0.02]
    >>> round(sortino_ratio(returns, periods_per_year=None), 6)  # 1 / sqrt(5)
    0.447214
    """
    checked = check_returns(returns)
    periods_per_year = check_periods_per_year(periods_per_year, allow_none=True)
    target = check_companion(target, checked, name="target", allow_scalar=True)
    excess = checked.values - target
    downside = np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2, axis=0))
    scale = magnitude(checked.values, target)
    ratio = ratio_or_nan(excess.mean(axis=0), downside, scale)
    return checked.wrap(ratio * annualization_factor(periods_per_year), "sortino_ratio")


def max_drawdown(returns):
    """Largest peak-to-trough loss of compounded wealth, as a positive fraction.

    Parameters
    ----------
    returns : array-like of shape (n_periods,) or (n_periods, n_series)
        Simple per-period returns in decimals, at least one.

    Returns
    -------
    float, ndarray or Series
        Maximum drawdown in :math:`[0, 1]`: ``0.35`` means wealth fell 35 %
        below its running peak; 0 if it never fell.

    Raises
    ------
    ValueError
        If ``returns`` is empty, not finite, or contains a return below -1.

    See Also
    --------
    calmar_ratio

    Notes
    -----
    With wealth :math:`W_0 = 1`, :math:`W_t = \\prod_{s \\le t} (1 + r_s)`,

    .. math::

        MDD = \\max_{t} \\Big(1 - \\frac{W_t}{\\max_{0 \\le s \\le t} W_s}\\Big).

    The starting wealth is a peak, so a loss in the first period counts.

    Examples
    --------
    >>> from skportfolio.metrics import max_drawdown
    >>> round(max_drawdown([0.10, -0.50, 0.20, 0.50, -0.10]), 6)
    0.5
    >>> max_drawdown([0.01, 0.02])
    0.0
    """
    checked = check_returns(returns, min_length=1)
    return checked.wrap(_max_drawdown(checked.values), "max_drawdown")


def calmar_ratio(returns, *, periods_per_year=252):
    """Calmar ratio: geometric annualised return over maximum drawdown.

    Parameters
    ----------
    returns : array-like of shape (n_periods,) or (n_periods, n_series)
        Simple per-period returns in decimals, at least one.
    periods_per_year : float, default=252
        Number of periods in a year (252 daily, 12 monthly).

    Returns
    -------
    float, ndarray or Series
        ``annualized_return(returns) / max_drawdown(returns)``; NaN when the
        maximum drawdown is 0 (below 16 ulps, about 3.6e-15).

    Raises
    ------
    ValueError
        If ``returns`` is empty, not finite, or contains a return below -1.

    See Also
    --------
    annualized_return, max_drawdown

    Notes
    -----
    Computed over the whole sample given (the original definition uses the
    last 36 months; slice the input for that).

    References
    ----------
    .. [1] T. W. Young, "Calmar Ratio: A Smoother Tool", Futures 20(1), 1991.

    Examples
    --------
    >>> from skportfolio.metrics import calmar_ratio
    >>> round(calmar_ratio([0.10, -0.20, 0.10, 0.05], periods_per_year=4), 6)
    0.082
    """
    checked = check_returns(returns, min_length=1)
    periods_per_year = check_periods_per_year(periods_per_year)
    drawdown = _max_drawdown(checked.values)
    annual = _geometric_annual_return(checked.values, periods_per_year)
    return checked.wrap(ratio_or_nan(annual, drawdown, 1.0), "calmar_ratio")


def _check_with_benchmark(returns, benchmark):
    checked = check_returns(returns)
    benchmark = check_companion(
        benchmark, checked, name="benchmark", allow_scalar=False
    )
    return checked, benchmark


def tracking_error(returns, benchmark, *, periods_per_year=252):
    """Annualised standard deviation of returns in excess of a benchmark.

    Parameters
    ----------
    returns : array-like of shape (n_periods,) or (n_periods, n_series)
        Simple per-period returns in decimals, at least 2 of them.
    benchmark : array-like of shape (n_periods,)
        Benchmark returns of the same periods, compared with every column.
        Labelled inputs must share their index.
    periods_per_year : float or None, default=252
        Periods in a year, annualising by :math:`\\sqrt{P}`; None returns
        the per-period value.

    Returns
    -------
    float, ndarray or Series
        :math:`\\sqrt{P}\\, s_a` with :math:`s_a` the sample standard
        deviation (``ddof=1``) of active returns :math:`a_t = r_t - b_t`.

    Raises
    ------
    ValueError
        If fewer than 2 returns are given, a value is not finite, or the
        benchmark does not match ``returns``.

    See Also
    --------
    information_ratio

    Examples
    --------
    >>> from skportfolio.metrics import tracking_error
    >>> round(tracking_error([0.02, 0.01], [0.01, 0.03], periods_per_year=None), 6)
    0.021213
    """
    checked, benchmark = _check_with_benchmark(returns, benchmark)
    periods_per_year = check_periods_per_year(periods_per_year, allow_none=True)
    active = checked.values - benchmark
    out = active.std(axis=0, ddof=1) * annualization_factor(periods_per_year)
    return checked.wrap(out, "tracking_error")


def information_ratio(returns, benchmark, *, periods_per_year=252):
    """Information ratio: mean active return over the tracking error.

    Parameters
    ----------
    returns : array-like of shape (n_periods,) or (n_periods, n_series)
        Simple per-period returns in decimals, at least 2 of them.
    benchmark : array-like of shape (n_periods,)
        Benchmark returns of the same periods, compared with every column.
    periods_per_year : float or None, default=252
        Periods in a year, annualising by :math:`\\sqrt{P}`; None returns
        the per-period ratio.

    Returns
    -------
    float, ndarray or Series
        :math:`\\sqrt{P}\\, \\bar a / s_a` for active returns
        :math:`a_t = r_t - b_t` (``ddof=1``), i.e. the Sharpe ratio of the
        active returns; NaN when they are constant up to rounding (zero
        tracking error).

    Raises
    ------
    ValueError
        If fewer than 2 returns are given, a value is not finite, or the
        benchmark does not match ``returns``.

    See Also
    --------
    tracking_error, sharpe_ratio

    Examples
    --------
    >>> from skportfolio.metrics import information_ratio
    >>> returns, benchmark = [0.02, 0.01], [0.01, 0.03]
    >>> round(information_ratio(returns, benchmark, periods_per_year=None), 6)
    -0.235702
    """
    checked, benchmark = _check_with_benchmark(returns, benchmark)
    periods_per_year = check_periods_per_year(periods_per_year, allow_none=True)
    ratio = _mean_over_std(checked.values, benchmark)
    ratio = ratio * annualization_factor(periods_per_year)
    return checked.wrap(ratio, "information_ratio")


def _return_variance(returns):
    """Per-period sample variance (``ddof=1``) of returns."""
    checked = check_returns(returns)
    return checked.wrap(checked.values.var(axis=0, ddof=1), "variance")


def _mean_variance_utility(returns, *, risk_aversion):
    """Per-period mean minus ``risk_aversion / 2`` times the sample variance."""
    checked = check_returns(returns)
    values = checked.values
    utility = values.mean(axis=0) - 0.5 * risk_aversion * values.var(axis=0, ddof=1)
    return checked.wrap(utility, "utility")
