"""Diagnostics of portfolio weights: turnover, variance and risk contributions."""

import numpy as np
import pandas as pd

from skportfolio.metrics._validation import check_option, check_returns

_SYMMETRY_RTOL = 1e-8


def _check_weight_path(weights, name, min_length):
    checked = check_returns(weights, name=name, min_length=min_length)
    if checked.is_1d:
        raise ValueError(
            f"{name} must be 2-d with one row per rebalance and one column per "
            f"asset, got shape {np.shape(weights)}"
        )
    return checked


def _check_same_labels(first, second, what):
    if first is not None and second is not None and not first.equals(second):
        raise ValueError(f"{what} do not match")


def turnover(weights, *, weights_before=None, kind="two-way"):
    """Turnover of a sequence of portfolio weight vectors.

    Parameters
    ----------
    weights : array-like of shape (n_rebalances, n_assets)
        Target weights, one row per rebalance date in time order.
    weights_before : array-like of shape (n_rebalances, n_assets), default=None
        Weights held just before each rebalance, typically the previous
        targets drifted by the assets' returns (use zeros in the first row
        for an initial purchase from cash). If None, each row is compared
        with the previous target row, i.e. the drift is ignored.
    kind : {"two-way", "one-way"}, default="two-way"
        ``"two-way"`` sums the absolute weight changes (purchases plus
        sales as a fraction of wealth); ``"one-way"`` is half of it, which
        for a fully invested portfolio equals the purchases (or the sales).

    Returns
    -------
    ndarray or Series
        One value per rebalance: of shape (n_rebalances - 1,) comparing
        consecutive rows when ``weights_before`` is None, else
        (n_rebalances,). A Series indexed by the rebalance labels when
        ``weights`` is a DataFrame. Average it for a mean turnover.

    Raises
    ------
    ValueError
        If the weights are not a finite 2-d array with enough rows (2, or 1
        with ``weights_before``), or ``weights_before`` does not match.

    Notes
    -----
    .. math::

        \\tau_t = c \\sum_{i=1}^{N} |w_{t,i} - w^{-}_{t,i}|,

    with :math:`w^{-}_t` the pre-trade weights (``weights_before[t]``, or
    ``weights[t - 1]``) and :math:`c = 1` (two-way) or :math:`1/2`
    (one-way).

    Examples
    --------
    >>> from skportfolio.metrics import turnover
    >>> weights = [[0.5, 0.5], [0.6, 0.4], [0.6, 0.4]]
    >>> turnover(weights).round(12)
    array([0.2, 0. ])
    >>> turnover(weights, kind="one-way").round(12)
    array([0.1, 0. ])
    >>> before = [[0.0, 0.0], [0.55, 0.45], [0.65, 0.35]]
    >>> turnover(weights, weights_before=before).round(12)
    array([1. , 0.1, 0.1])
    """
    check_option(kind, "kind", ("two-way", "one-way"))
    if weights_before is None:
        after = _check_weight_path(weights, "weights", 2)
        changes, index = np.diff(after.values, axis=0), after.index
        index = None if index is None else index[1:]
    else:
        after = _check_weight_path(weights, "weights", 1)
        before = _check_weight_path(weights_before, "weights_before", 1)
        if before.values.shape != after.values.shape:
            raise ValueError(
                f"weights_before has shape {before.values.shape}, "
                f"weights has {after.values.shape}"
            )
        _check_same_labels(after.index, before.index, "weights and weights_before rows")
        _check_same_labels(
            after.columns, before.columns, "weights and weights_before columns"
        )
        changes, index = after.values - before.values, after.index
    scale = 0.5 if kind == "one-way" else 1.0
    out = scale * np.abs(changes).sum(axis=1)
    return (
        out if after.columns is None else pd.Series(out, index=index, name="turnover")
    )


def _check_weights_and_covariance(weights, covariance):
    w = check_returns(weights, name="weights", min_length=1)
    if not w.is_1d:
        raise ValueError(f"weights must be 1-d, got shape {np.shape(weights)}")
    cov = check_returns(covariance, name="covariance", min_length=1)
    n_assets = w.n_periods
    if cov.is_1d or cov.values.shape != (n_assets, n_assets):
        raise ValueError(
            f"covariance must have shape ({n_assets}, {n_assets}) to match the "
            f"weights, got {np.shape(covariance)}"
        )
    asymmetry = np.abs(cov.values - cov.values.T).max()
    if asymmetry > _SYMMETRY_RTOL * np.abs(cov.values).max():
        raise ValueError(f"covariance is not symmetric (max asymmetry {asymmetry})")
    _check_same_labels(w.index, cov.index, "weights index and covariance index")
    _check_same_labels(w.index, cov.columns, "weights index and covariance columns")
    labels = w.index if w.index is not None else cov.columns
    return w.values[:, 0], cov.values, labels


def portfolio_variance(weights, covariance):
    """Variance :math:`w^\\top \\Sigma w` of a portfolio.

    Parameters
    ----------
    weights : array-like of shape (n_assets,)
        Portfolio weights.
    covariance : array-like of shape (n_assets, n_assets)
        Symmetric covariance matrix of asset returns, in the units (per
        period) of the variance wanted. Labelled weights and covariance
        must share the asset labels.

    Returns
    -------
    float
        The portfolio variance.

    Raises
    ------
    ValueError
        If shapes or labels do not match, a value is not finite, or the
        covariance is not symmetric (relative tolerance 1e-8).

    See Also
    --------
    risk_contributions

    Examples
    --------
    >>> from skportfolio.metrics import portfolio_variance
    >>> round(portfolio_variance([0.5, 0.5], [[0.04, 0.01], [0.01, 0.09]]), 12)
    0.0375
    """
    w, cov, _ = _check_weights_and_covariance(weights, covariance)
    return float(w @ cov @ w)


def risk_contributions(weights, covariance, *, kind="relative"):
    """Euler decomposition of portfolio risk into per-asset contributions.

    Parameters
    ----------
    weights : array-like of shape (n_assets,)
        Portfolio weights.
    covariance : array-like of shape (n_assets, n_assets)
        Symmetric covariance matrix of asset returns.
    kind : {"relative", "variance", "volatility"}, default="relative"
        ``"relative"``: fractions of the portfolio variance, summing to 1.
        ``"variance"``: absolute contributions summing to the variance
        :math:`w^\\top \\Sigma w`. ``"volatility"``: absolute contributions
        summing to the volatility :math:`\\sqrt{w^\\top \\Sigma w}`.

    Returns
    -------
    ndarray or Series of shape (n_assets,)
        Contributions (a Series labelled by asset when ``weights`` or
        ``covariance`` is labelled). For a portfolio of zero (or, with a
        covariance that is not positive semi-definite, negative) variance,
        the ``"relative"`` and ``"volatility"`` contributions are NaN.

    Raises
    ------
    ValueError
        As :func:`portfolio_variance`, or for an unknown ``kind``.

    See Also
    --------
    portfolio_variance

    Notes
    -----
    .. math::

        RC_i = \\frac{w_i (\\Sigma w)_i}{w^\\top \\Sigma w} \\ (\\text{relative}),
        \\quad
        w_i (\\Sigma w)_i \\ (\\text{variance}),
        \\quad
        \\frac{w_i (\\Sigma w)_i}{\\sqrt{w^\\top \\Sigma w}} \\ (\\text{volatility}).

    A contribution is negative when the asset hedges the rest of the
    portfolio. A risk-parity portfolio has all relative contributions equal
    to :math:`1 / N`.

    References
    ----------
    .. [1] S. Maillard, T. Roncalli and J. Teïletche, "The Properties of
       Equally Weighted Risk Contribution Portfolios", Journal of Portfolio
       Management 36(4), 2010.

    Examples
    --------
    >>> from skportfolio.metrics import risk_contributions
    >>> covariance = [[0.04, 0.0], [0.0, 0.09]]
    >>> risk_contributions([0.6, 0.4], covariance).round(6)
    array([0.5, 0.5])
    >>> risk_contributions([0.6, 0.4], covariance, kind="variance").round(6)
    array([0.0144, 0.0144])
    """
    check_option(kind, "kind", ("relative", "variance", "volatility"))
    w, cov, labels = _check_weights_and_covariance(weights, covariance)
    contributions = w * (cov @ w)
    if kind != "variance":
        variance = contributions.sum()
        denominator = variance if kind == "relative" else np.sqrt(max(variance, 0.0))
        if variance > 0:
            contributions = contributions / denominator
        else:
            contributions = np.full_like(contributions, np.nan)
    if labels is None:
        return contributions
    return pd.Series(contributions, index=labels, name="risk_contribution")
