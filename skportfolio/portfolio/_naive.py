"""Naive baselines: equal weights and inverse volatility."""

import numpy as np

from skportfolio.portfolio._base import BasePortfolio, MomentsMixin


class EqualWeight(BasePortfolio):
    """The 1/N portfolio: every asset gets the same weight.

    A baseline that estimation error cannot hurt (DeMiguel, Garlappi and
    Uppal, 2009).

    Attributes
    ----------
    weights_ : ndarray of shape (n_assets,)
        ``1 / n_assets`` each.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    InverseVolatility : Weights proportional to 1 / volatility.

    References
    ----------
    .. [1] V. DeMiguel, L. Garlappi and R. Uppal, "Optimal versus naive
       diversification: how inefficient is the 1/N portfolio strategy?",
       Review of Financial Studies 22(5), 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio import EqualWeight
    >>> EqualWeight().fit(np.random.default_rng(0).normal(size=(10, 4))).weights_
    array([0.25, 0.25, 0.25, 0.25])
    """

    def _fit_weights(self, X, y):
        return np.full(X.shape[1], 1.0 / X.shape[1])


class InverseVolatility(MomentsMixin, BasePortfolio):
    """Weights proportional to the inverse of each asset's volatility.

    Parameters
    ----------
    covariance_estimator : estimator, default=None
        Supplies the variances (the diagonal of its ``covariance_``); None
        means the sample variances.

    Attributes
    ----------
    weights_ : ndarray of shape (n_assets,)
    covariance_ : ndarray of shape (n_assets, n_assets)
        The covariance whose diagonal gives the variances; built on first
        access when the estimator has a factor structure (see
        ``covariance_structure_``).
    covariance_structure_ : FactorCovariance
        Only when the covariance estimator exposes ``factor_structure_``
        (e.g. :class:`~skportfolio.covariance.FactorModelCovariance`): the
        variances are then read from it in ``O(N K)``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    RiskParity : Equal risk contributions, which equal these weights when
        the assets are uncorrelated.

    Notes
    -----
    .. math:: w_i = \\frac{1/\\sigma_i}{\\sum_j 1/\\sigma_j}

    An asset with zero volatility would take all the weight; it is refused
    with a ``ValueError`` instead.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio import InverseVolatility
    >>> X = np.random.default_rng(0).normal(size=(500, 2)) * [0.01, 0.02]
    >>> InverseVolatility().fit(X).weights_.round(2)
    array([0.66, 0.34])
    """

    _parameter_constraints = {**MomentsMixin._moment_parameter_constraints}

    def __init__(self, *, covariance_estimator=None):
        self.covariance_estimator = covariance_estimator

    def _fit_weights(self, X, y):
        covariance, _ = self._estimate_covariance(X)
        volatility = np.sqrt(covariance.diag())
        flat = np.flatnonzero(
            volatility <= np.finfo(float).eps * max(volatility.max(), 1e-300)
        )
        if flat.size:
            raise ValueError(
                f"Assets {self._describe(flat)} have zero volatility; inverse-volatility "
                "weights are undefined. Remove them or use another estimator."
            )
        inverse = 1.0 / volatility
        return inverse / inverse.sum()

    def _describe(self, indices):
        names = self._asset_names()
        return [names[i] if names else int(i) for i in indices]
