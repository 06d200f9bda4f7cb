"""Walk-forward backtest of portfolio estimators with drifting weights and costs."""

import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_array

from skportfolio.metrics import (
    annualized_return,
    annualized_volatility,
    calmar_ratio,
    max_drawdown,
    sharpe_ratio,
    sortino_ratio,
    turnover,
)
from skportfolio.model_selection._split import WalkForward

# Five years of monthly data to estimate, a quarter to hold: the usual
# monthly-data backtest, and what the seed comparison uses.
DEFAULT_TRAIN_SIZE = 60
DEFAULT_TEST_SIZE = 3
TURNOVER_KIND = "two-way"

# (shortest, longest) median spacing in days -> periods per year.
_SPACINGS = (
    ((1.0, 1.0), 252),
    ((7.0, 7.0), 52),
    ((27.5, 31.5), 12),
    ((89.0, 92.5), 4),
    ((364.0, 366.0), 1),
)


def default_cv(n_periods):
    """The walk-forward splits ``backtest`` uses when ``cv`` is None.

    A rolling window of ``min(60, n_periods // 2)`` periods (at least 2)
    and rebalancing every 3 periods, the last holding period running to the
    end of the sample: five years of estimation and quarterly rebalancing
    for monthly data.

    Parameters
    ----------
    n_periods : int
        Number of periods of the returns.

    Returns
    -------
    WalkForward

    Examples
    --------
    >>> from skportfolio.model_selection import default_cv
    >>> cv = default_cv(819)
    >>> cv.train_size, cv.test_size, cv.expanding, cv.allow_partial
    (60, 3, False, True)
    """
    train_size = max(2, min(DEFAULT_TRAIN_SIZE, n_periods // 2))
    return WalkForward(
        train_size=train_size, test_size=DEFAULT_TEST_SIZE, allow_partial=True
    )


def infer_periods_per_year(index):
    """Periods per year of a regularly dated index, from its median spacing.

    Parameters
    ----------
    index : pandas.Index
        Dates of the periods; must be a :class:`pandas.DatetimeIndex`.

    Returns
    -------
    int
        252 for business days (spacing of one day and no weekend date), 52
        for weeks, 12 for months, 4 for quarters, 1 for years.

    Raises
    ------
    ValueError
        If ``index`` is not a DatetimeIndex of at least two dates, or its
        spacing is none of the above (calendar-daily data included, which
        could mean 252 or 365): pass ``periods_per_year`` explicitly then.

    Examples
    --------
    >>> import pandas as pd
    >>> from skportfolio.model_selection import infer_periods_per_year
    >>> infer_periods_per_year(pd.date_range("2000-01-31", periods=24, freq="QE"))
    4
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        raise ValueError(
            "periods_per_year cannot be inferred without at least two dates (give "
            "X as a DataFrame with a DatetimeIndex); pass periods_per_year."
        )
    days = float(np.median((index[1:] - index[:-1]).total_seconds())) / 86400.0
    weekend = bool((index.day_of_week >= 5).any())
    for (shortest, longest), periods in _SPACINGS:
        if shortest <= days <= longest and not (periods == 252 and weekend):
            return periods
    raise ValueError(
        f"periods_per_year cannot be inferred from dates {days:g} days apart "
        f"(median){' including weekends' if weekend else ''}; pass periods_per_year."
    )


# eq=False: comparing pandas members with == has no single truth value.
@dataclass(frozen=True, repr=False, eq=False)
class BacktestResult:
    """Outcome of :func:`backtest`: returns, weights, turnover and costs.

    Series and frames are indexed by the dates of ``X`` when it is a
    DataFrame, by row positions otherwise. A rebalance is labelled with the
    first period its weights are held for (the trade happens at the close of
    the period before).

    Attributes
    ----------
    returns : pandas.Series
        Out-of-sample portfolio returns net of transaction costs, one per
        test period.
    gross_returns : pandas.Series
        The same before costs.
    weights : pandas.DataFrame of shape (n_rebalances, n_assets)
        Target weights set at each rebalance.
    weights_before : pandas.DataFrame of shape (n_rebalances, n_assets)
        Weights held just before each rebalance: the previous targets
        drifted by the returns of the holding period; zeros (cash) before
        the first one.
    turnover : pandas.Series
        Two-way turnover of each rebalance, ``sum(|weights - weights_before|)``.
    costs : pandas.Series
        Transaction cost of each rebalance, ``transaction_cost * turnover``,
        as a fraction of wealth.
    transaction_cost : float
        The proportional cost per unit of turnover used.
    estimators : list of estimators or None
        The estimator fitted at each rebalance, with
        ``return_estimators=True``.
    """

    returns: pd.Series
    gross_returns: pd.Series
    weights: pd.DataFrame
    weights_before: pd.DataFrame
    turnover: pd.Series
    costs: pd.Series
    transaction_cost: float
    estimators: list | None = None

    def __repr__(self):
        index = self.returns.index
        return (
            f"BacktestResult(n_periods={len(index)}, "
            f"n_rebalances={len(self.weights)}, start={index[0]}, end={index[-1]})"
        )

    @property
    def wealth(self):
        """Growth of one unit of wealth invested at the first rebalance, net of costs."""
        return (1.0 + self.returns).cumprod().rename("wealth")

    def summary(self, periods_per_year=None):
        """Performance table of the net returns.

        Parameters
        ----------
        periods_per_year : float, default=None
            Periods in a year (12 for monthly data). None infers it from
            the dates of ``X`` (see :func:`infer_periods_per_year`), which
            raises when ``X`` had no dates.

        Returns
        -------
        pandas.Series
            ``annualized_return`` (geometric), ``annualized_volatility``,
            ``sharpe_ratio`` and ``sortino_ratio`` (zero risk-free rate and
            target), ``max_drawdown``, ``calmar_ratio`` of :attr:`returns`,
            computed by the functions of :mod:`skportfolio.metrics` of the
            same names, and ``average_turnover``: the mean two-way turnover
            of the rebalances after the first (the initial purchase from cash
            is left out; NaN with a single rebalance).
        """
        if periods_per_year is None:
            periods_per_year = infer_periods_per_year(self.returns.index)
        returns = self.returns
        annual = {"periods_per_year": periods_per_year}
        return pd.Series(
            {
                "annualized_return": annualized_return(returns, **annual),
                "annualized_volatility": annualized_volatility(returns, **annual),
                "sharpe_ratio": sharpe_ratio(returns, **annual),
                "sortino_ratio": sortino_ratio(returns, **annual),
                "max_drawdown": max_drawdown(returns),
                "calmar_ratio": calmar_ratio(returns, **annual),
                "average_turnover": float(self.turnover.iloc[1:].mean()),
            },
            name=returns.name,
        )


def compare(backtests, *, periods_per_year=None):
    """Summaries of several backtests side by side.

    Parameters
    ----------
    backtests : dict of str to BacktestResult
        Backtests keyed by the name to show.
    periods_per_year : float, default=None
        Passed to every :meth:`BacktestResult.summary`.

    Returns
    -------
    pandas.DataFrame
        One row per backtest (in the order of ``backtests``), one column per
        summary statistic.

    Raises
    ------
    ValueError
        If ``backtests`` is empty or not a mapping of backtest results.

    Examples
    --------
    >>> from skportfolio import EqualWeight, InverseVolatility
    >>> from skportfolio.datasets import load_industry_returns
    >>> from skportfolio.model_selection import backtest, compare
    >>> X = load_industry_returns(start="2000", end="2016")
    >>> table = compare(
    ...     {
    ...         "1/N": backtest(EqualWeight(), X),
    ...         "1/vol": backtest(InverseVolatility(), X),
    ...     }
    ... )
    >>> table[["annualized_return", "sharpe_ratio"]].round(3)
           annualized_return  sharpe_ratio
    1/N                0.086         0.639
    1/vol              0.087         0.677
    """
    if not isinstance(backtests, Mapping) or not backtests:
        raise ValueError(
            "backtests must be a non-empty dict of name -> BacktestResult."
        )
    for name, result in backtests.items():
        if not isinstance(result, BacktestResult):
            raise ValueError(
                f"backtests[{name!r}] is a {type(result).__name__}, not a BacktestResult."
            )
    summaries = {
        name: result.summary(periods_per_year) for name, result in backtests.items()
    }
    return pd.DataFrame.from_dict(summaries, orient="index")


def backtest(
    estimator,
    X,
    y=None,
    *,
    cv=None,
    n_jobs=None,
    verbose=0,
    transaction_cost=0.0,
    return_estimators=False,
):
    """Walk-forward backtest: refit at each rebalance, hold until the next.

    For each split of ``cv`` a clone of ``estimator`` is fitted on the
    training window, and its weights are bought at the start of the test
    window and held, drifting with the assets' returns, until the next
    rebalance.

    Parameters
    ----------
    estimator : estimator
        A portfolio estimator (``fit`` sets ``weights_``) or a search such
        as :class:`~sklearn.model_selection.GridSearchCV` wrapping one, whose
        weights are read from ``best_estimator_`` (nested model selection:
        the search runs inside each training window). Cloned, never fitted
        in place.
    X : array-like of shape (n_periods, n_assets)
        Simple asset returns in decimals, in time order. A DataFrame's index
        dates the outputs and its columns name the assets; a DatetimeIndex
        must be strictly increasing.
    y : array-like of shape (n_periods,), default=None
        Benchmark returns, passed (the training rows) to ``fit``.
    cv : splitter or iterable of (train, test), default=None
        The rebalancing schedule: any object with ``split(X, y)`` (such as
        :class:`WalkForward`) or an iterable of ``(train, test)`` index
        arrays. Test windows must be runs of consecutive periods, in order,
        each starting right after the previous one, and every training
        period must precede its test window. None means
        :func:`default_cv`: a rolling window of ``min(60, n_periods // 2)``
        periods, rebalancing every 3 periods until the end of the sample.
    n_jobs : int, default=None
        Number of fits run in parallel by joblib (the fits are independent;
        the buy-and-hold simulation that follows is cheap and sequential).
        None means 1 unless in a :func:`joblib.parallel_backend` context,
        so a dask or ray backend distributes the fits unchanged; -1 uses
        all processors.
    verbose : int, default=0
        joblib's verbosity: progress of the fits.
    transaction_cost : float, default=0.0
        Proportional cost per unit of two-way turnover (0.001 = 10 basis
        points per unit traded), charged at each rebalance.
    return_estimators : bool, default=False
        Keep the fitted estimators in the result.

    Returns
    -------
    BacktestResult

    Raises
    ------
    ValueError
        If ``X`` is not a finite numeric 2-d array with increasing dates, the
        splits are unusable (see ``cv``), ``transaction_cost`` is negative,
        a fitted estimator's weights do not match the assets, or the
        portfolio loses all its value.
    TypeError
        If a fitted estimator has no ``weights_`` (directly or through
        ``best_estimator_``), or ``cv`` is neither a splitter nor an iterable.

    See Also
    --------
    WalkForward : The rebalancing schedule.
    compare : Summaries of several backtests.
    skportfolio.metrics.turnover : The turnover measure used.

    Notes
    -----
    **Drift.** Within a test window the weights are not traded back to their
    targets: with weights :math:`w_{t}` at the start of period :math:`t` and
    asset returns :math:`r_{t}`,

    .. math::

        r_{p,t} = \\sum_i w_{i,t} r_{i,t}, \\qquad
        w_{i,t+1} = \\frac{w_{i,t} (1 + r_{i,t})}{1 + r_{p,t}},

    starting from the target weights. Weights that do not sum to one leave
    the remainder in cash at a zero return (or borrow it).

    **Turnover** of a rebalance is two-way, :math:`\\tau_k = \\sum_i
    |w^{*}_{i,k} - w^{-}_{i,k}|`, against the drifted weights
    :math:`w^{-}_k` held just before it, as
    ``skportfolio.metrics.turnover(weights, weights_before=..., kind="two-way")``
    computes it. The first rebalance buys from cash (:math:`w^{-} = 0`), so
    its turnover is :math:`\\sum_i |w^{*}_i|`, 1 for a long-only fully
    invested portfolio.

    **Costs** :math:`c_k = \\kappa \\tau_k` (``transaction_cost``
    :math:`\\kappa`) are subtracted from the return of the first period of
    the test window, :math:`r^{net} = r_{p} - c_k`; they are taken pro rata
    from all holdings, so they do not change the weights' drift. This is the
    usual first-order form: compounding the cost, :math:`(1 - c_k)(1 + r_p)
    - 1`, would differ by :math:`c_k r_p`.

    Periods before the first test window (the first training window) are
    not part of the backtest.

    Examples
    --------
    >>> from skportfolio import MinimumVariance
    >>> from skportfolio.datasets import load_industry_returns
    >>> from skportfolio.model_selection import WalkForward, backtest
    >>> X = load_industry_returns(start="2000", end="2016")
    >>> cv = WalkForward(train_size=60, test_size=3, allow_partial=True)  # the default
    >>> result = backtest(MinimumVariance(), X, cv=cv, transaction_cost=0.001)
    >>> result
    BacktestResult(n_periods=144, n_rebalances=48, start=2005-01-31 00:00:00, end=2016-12-31 00:00:00)
    >>> result.weights.shape
    (48, 12)
    >>> result.summary().round(3)
    annualized_return        0.095
    annualized_volatility    0.110
    sharpe_ratio             0.878
    sortino_ratio            1.362
    max_drawdown             0.338
    calmar_ratio             0.280
    average_turnover         0.209
    Name: returns, dtype: float64
    """
    values, index, assets = _check_returns(X)
    transaction_cost = _check_cost(transaction_cost)
    fit_X = X if isinstance(X, pd.DataFrame) else values
    fit_y = _check_benchmark(y, values.shape[0])
    if cv is None:
        cv = default_cv(values.shape[0])
    splits = _checked_splits(cv, fit_X, fit_y, values.shape[0])
    # Each task receives only its training rows, not the whole sample.
    fitted = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_fit_and_weigh)(
            clone(estimator),
            _take_rows(fit_X, train),
            None if fit_y is None else _take_rows(fit_y, train),
            return_estimators,
        )
        for train, _ in splits
    )
    tests = [test for _, test in splits]
    targets = np.vstack(
        [
            _checked_weights(weights, len(assets), index[test[0]])
            for (weights, _), test in zip(fitted, tests)
        ]
    )
    result = _simulate(values, index, assets, tests, targets, transaction_cost)
    estimators = [est for _, est in fitted] if return_estimators else None
    return BacktestResult(**result, estimators=estimators)


def _check_returns(X):
    """Float values of ``X`` and the row and asset labels of the outputs."""
    values = check_array(X, dtype=np.float64, ensure_min_samples=2, input_name="X")
    if isinstance(X, pd.DataFrame):
        index, assets = X.index, X.columns
        if isinstance(index, pd.DatetimeIndex) and not (
            index.is_monotonic_increasing and index.is_unique
        ):
            raise ValueError("X must have strictly increasing dates.")
        return values, index, assets
    return values, pd.RangeIndex(values.shape[0]), pd.RangeIndex(values.shape[1])


def _check_cost(transaction_cost):
    if (
        not isinstance(transaction_cost, numbers.Real)
        or isinstance(transaction_cost, bool)
        or not np.isfinite(transaction_cost)
        or transaction_cost < 0
    ):
        raise ValueError(
            f"transaction_cost must be a finite number >= 0, got {transaction_cost!r}."
        )
    return float(transaction_cost)


def _check_benchmark(y, n_periods):
    if y is None:
        return None
    if not isinstance(y, pd.Series | pd.DataFrame):
        y = np.asarray(y)
    if len(y) != n_periods:
        raise ValueError(f"y has {len(y)} periods, X has {n_periods}.")
    return y


def _checked_splits(cv, X, y, n_periods):
    """The (train, test) index arrays of ``cv``, checked for a backtest."""
    if hasattr(cv, "split"):
        splits = list(cv.split(X, y))
    elif isinstance(cv, Iterable) and not isinstance(cv, str):
        splits = list(cv)
    else:
        raise TypeError(
            "cv must be None, a splitter with a split method (e.g. WalkForward) or "
            f"an iterable of (train, test) index arrays; got {cv!r}."
        )
    if not splits:
        raise ValueError("cv produced no split.")
    checked = []
    next_start = None
    for k, (train, test) in enumerate(splits):
        train, test = _as_indices(train, k, "train"), _as_indices(test, k, "test")
        start = test[0]
        if not np.array_equal(test, np.arange(start, start + test.size)):
            raise ValueError(f"split {k}: the test periods are not consecutive.")
        if next_start is not None and start != next_start:
            raise ValueError(
                f"split {k}: its test window starts at period {start}, but the "
                f"previous one ended at period {next_start - 1}; test windows must "
                "follow each other without gap or overlap."
            )
        if train.min() < 0 or test[-1] >= n_periods:
            raise ValueError(f"split {k}: indices outside 0..{n_periods - 1}.")
        if train.max() >= start:
            raise ValueError(
                f"split {k}: trains on period {train.max()}, which is not before its "
                f"test window (from period {start}): a backtest cannot look ahead."
            )
        checked.append((train, test))
        next_start = test[-1] + 1
    return checked


def _as_indices(indices, k, which):
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.size == 0:
        raise ValueError(
            f"split {k}: the {which} indices must be a non-empty 1-d array."
        )
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(
            f"split {k}: the {which} indices must be integers, got dtype {indices.dtype}."
        )
    return indices


def _take_rows(data, rows):
    return data.iloc[rows] if hasattr(data, "iloc") else data[rows]


def _fit_and_weigh(estimator, X_train, y_train, keep_estimator):
    """Fit on a training window; return the weights (and the estimator if kept)."""
    if y_train is None:
        estimator.fit(X_train)
    else:
        estimator.fit(X_train, y_train)
    return fitted_weights(estimator), (estimator if keep_estimator else None)


def fitted_weights(estimator):
    """The ``weights_`` of a fitted portfolio estimator or of a search wrapping one.

    Looks through ``best_estimator_`` as many times as needed, so a
    :class:`~sklearn.model_selection.GridSearchCV` (fitted with
    ``refit=True``) around a portfolio estimator, or a search around such a
    search, gives the weights of the refitted best estimator.

    Parameters
    ----------
    estimator : estimator
        A fitted estimator.

    Returns
    -------
    ndarray of shape (n_assets,)

    Raises
    ------
    TypeError
        If neither ``estimator`` nor a ``best_estimator_`` below it has
        ``weights_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skportfolio import MinimumVariance
    >>> from skportfolio.model_selection import WalkForward, fitted_weights
    >>> X = np.random.default_rng(0).normal(size=(40, 3)) * [0.01, 0.02, 0.03]
    >>> search = GridSearchCV(
    ...     MinimumVariance(),
    ...     {"max_weights": [0.5, 1.0]},
    ...     cv=WalkForward(train_size=20, test_size=10),
    ... ).fit(X)
    >>> np.array_equal(fitted_weights(search), search.best_estimator_.weights_)
    True
    """
    found = estimator
    while not hasattr(found, "weights_"):
        if not hasattr(found, "best_estimator_"):
            raise TypeError(
                f"the fitted {type(estimator).__name__} has no weights_, directly or "
                "through best_estimator_: backtest needs a portfolio estimator, or a "
                "search wrapping one fitted with refit=True."
            )
        found = found.best_estimator_
    return found.weights_


def _checked_weights(weights, n_assets, label):
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n_assets,):
        raise ValueError(
            f"the estimator fitted for the rebalance at {label} returned weights of "
            f"shape {weights.shape}; expected ({n_assets},)."
        )
    if not np.all(np.isfinite(weights)):
        raise ValueError(
            f"the estimator fitted for the rebalance at {label} returned non-finite "
            "weights."
        )
    return weights


def _hold(weights, returns, labels):
    """Buy-and-hold over one window: portfolio returns and the drifted end weights."""
    portfolio = np.empty(returns.shape[0])
    for t, asset_returns in enumerate(returns):
        portfolio[t] = weights @ asset_returns
        growth = 1.0 + portfolio[t]
        if growth <= 0.0:
            raise ValueError(
                f"the portfolio lost all its value in period {labels[t]} (return "
                f"{portfolio[t]:.4g}); later returns are undefined."
            )
        weights = weights * (1.0 + asset_returns) / growth
    return portfolio, weights


def _simulate(values, index, assets, tests, targets, transaction_cost):
    """Drift, turnover and costs of holding ``targets`` over the test windows."""
    before = np.zeros_like(targets)
    gross = []
    held = np.zeros(targets.shape[1])
    for k, test in enumerate(tests):
        before[k] = held
        window_returns, held = _hold(targets[k], values[test], index[test])
        gross.append(window_returns)
    traded = turnover(targets, weights_before=before, kind=TURNOVER_KIND)
    costs = transaction_cost * traded
    first = np.cumsum([0] + [test.size for test in tests[:-1]])
    gross = np.concatenate(gross)
    net = gross.copy()
    net[first] -= costs
    periods = index[np.concatenate(tests)]
    rebalances = index[[test[0] for test in tests]]
    return {
        "returns": pd.Series(net, index=periods, name="returns"),
        "gross_returns": pd.Series(gross, index=periods, name="gross_returns"),
        "weights": pd.DataFrame(targets, index=rebalances, columns=assets),
        "weights_before": pd.DataFrame(before, index=rebalances, columns=assets),
        "turnover": pd.Series(traded, index=rebalances, name="turnover"),
        "costs": pd.Series(costs, index=rebalances, name="costs"),
        "transaction_cost": transaction_cost,
    }
