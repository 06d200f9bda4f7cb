"""Scorers for portfolio estimators, usable as ``scoring=`` in scikit-learn.

A portfolio estimator's ``predict(X)`` returns the per-period returns of the
fitted portfolio, ``X @ weights_``. A scorer ``scorer(estimator, X, y=None)``
evaluates a metric on those returns and returns a float where greater is
better, as :class:`~sklearn.model_selection.GridSearchCV` and
:func:`~sklearn.model_selection.cross_val_score` expect.
"""

import inspect
import numbers

import numpy as np

from skportfolio.metrics._returns import (
    _mean_variance_utility,
    _return_variance,
    max_drawdown,
    sharpe_ratio,
    sortino_ratio,
)


class _PortfolioScorer:
    """Callable ``(estimator, X, y=None) -> float`` built by make_portfolio_scorer."""

    def __init__(self, metric, sign, kwargs):
        self._metric = metric
        self._sign = sign
        self._kwargs = kwargs

    def __call__(self, estimator, X, y=None):
        returns = estimator.predict(X)
        if np.ndim(returns) != 1:
            raise ValueError(
                "a portfolio scorer needs predict(X) to return the 1-d series of "
                f"portfolio returns, got shape {np.shape(returns)}"
            )
        return self._sign * float(self._metric(returns, **self._kwargs))

    def __repr__(self):
        options = "".join(f", {key}={value!r}" for key, value in self._kwargs.items())
        if self._sign < 0:
            options += ", greater_is_better=False"
        return f"make_portfolio_scorer({self._metric.__name__}{options})"


def make_portfolio_scorer(metric, *, greater_is_better=True, **kwargs):
    """Make a scorer for portfolio estimators from a return-series metric.

    Parameters
    ----------
    metric : callable
        ``metric(returns, **kwargs) -> float`` evaluated on the 1-d series
        of portfolio returns ``estimator.predict(X)``, e.g.
        :func:`sharpe_ratio` or :func:`max_drawdown`.
    greater_is_better : bool, default=True
        If False the scorer returns ``-metric(...)``, so that greater is
        still better for model selection (as the ``neg_`` scorers do).
    **kwargs
        Keyword arguments passed to ``metric`` on every call.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``. ``y`` is ignored. ``X``
        may be an ndarray or a DataFrame, whatever the estimator's
        ``predict`` accepts.

    Raises
    ------
    TypeError
        If ``metric`` is not callable or does not accept ``kwargs``.

    See Also
    --------
    make_utility_scorer, get_portfolio_scorer

    Notes
    -----
    Predefined scorers, all computed on per-period returns (no
    annualisation, which does not change rankings):

    * ``sharpe_scorer``: ``sharpe_ratio(returns, periods_per_year=None)``;
    * ``sortino_scorer``: ``sortino_ratio(returns, periods_per_year=None)``;
    * ``neg_variance_scorer``: minus the sample variance (``ddof=1``);
    * ``neg_max_drawdown_scorer``: ``-max_drawdown(returns)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from skportfolio.metrics import make_portfolio_scorer, sharpe_ratio
    >>> class EqualWeights(BaseEstimator):
    ...     def fit(self, X, y=None):
    ...         self.weights_ = np.full(X.shape[1], 1 / X.shape[1])
    ...         return self
    ...     def predict(self, X):
    ...         return X @ self.weights_
    >>> X = np.array([[0.01, 0.03], [0.02, 0.00], [-0.01, 0.01]])
    >>> scorer = make_portfolio_scorer(sharpe_ratio, periods_per_year=12)
    >>> scorer
    make_portfolio_scorer(sharpe_ratio, periods_per_year=12)
    >>> estimator = EqualWeights().fit(X)
    >>> round(scorer(estimator, X), 6)  # sqrt(12) * 0.01 / 0.01
    3.464102
    """
    if not callable(metric):
        raise TypeError(f"metric must be callable, got {metric!r}")
    try:
        signature = inspect.signature(metric)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        try:
            signature.bind(np.zeros(2), **kwargs)
        except TypeError as exc:
            raise TypeError(f"{metric!r} does not accept {kwargs}: {exc}") from exc
    return _PortfolioScorer(metric, 1.0 if greater_is_better else -1.0, kwargs)


def make_utility_scorer(risk_aversion):
    """Make a scorer of mean-variance utility of the portfolio returns.

    Parameters
    ----------
    risk_aversion : float
        Non-negative risk aversion :math:`\\lambda`.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None)`` returning
        :math:`\\bar r - \\frac{\\lambda}{2} s^2` of the per-period portfolio
        returns :math:`r` = ``estimator.predict(X)``, with :math:`s^2` the
        sample variance (``ddof=1``).

    Raises
    ------
    ValueError
        If ``risk_aversion`` is negative, not finite or not a number.

    See Also
    --------
    make_portfolio_scorer

    Examples
    --------
    >>> from skportfolio.metrics import make_utility_scorer
    >>> make_utility_scorer(4.0)
    make_portfolio_scorer(_mean_variance_utility, risk_aversion=4.0)
    """
    if (
        not isinstance(risk_aversion, numbers.Real)
        or isinstance(risk_aversion, bool)
        or not np.isfinite(risk_aversion)
        or risk_aversion < 0
    ):
        raise ValueError(
            f"risk_aversion must be a non-negative number, got {risk_aversion!r}"
        )
    return make_portfolio_scorer(
        _mean_variance_utility, risk_aversion=float(risk_aversion)
    )


#: Per-period Sharpe ratio (mean / sample std, ``ddof=1``) of predicted returns.
sharpe_scorer = make_portfolio_scorer(sharpe_ratio, periods_per_year=None)
#: Per-period Sortino ratio (target 0) of predicted returns.
sortino_scorer = make_portfolio_scorer(sortino_ratio, periods_per_year=None)
#: Minus the per-period sample variance (``ddof=1``) of predicted returns.
neg_variance_scorer = make_portfolio_scorer(_return_variance, greater_is_better=False)
#: Minus the maximum drawdown (a positive fraction) of predicted returns.
neg_max_drawdown_scorer = make_portfolio_scorer(max_drawdown, greater_is_better=False)

_SCORERS = {
    "sharpe": sharpe_scorer,
    "sortino": sortino_scorer,
    "neg_variance": neg_variance_scorer,
    "neg_max_drawdown": neg_max_drawdown_scorer,
}


def get_portfolio_scorer(name):
    """Return a predefined portfolio scorer by name.

    Parameters
    ----------
    name : {"sharpe", "sortino", "neg_variance", "neg_max_drawdown"}
        Name of the scorer.

    Returns
    -------
    scorer : callable
        The scorer ``scorer(estimator, X, y=None) -> float``.

    Raises
    ------
    ValueError
        If ``name`` is unknown.

    See Also
    --------
    make_portfolio_scorer

    Examples
    --------
    >>> from skportfolio.metrics import get_portfolio_scorer
    >>> get_portfolio_scorer("neg_max_drawdown")
    make_portfolio_scorer(max_drawdown, greater_is_better=False)
    """
    try:
        return _SCORERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown portfolio scorer {name!r}; choose from {sorted(_SCORERS)}"
        ) from None
