"""Exponentially weighted covariance."""

from numbers import Real

import numpy as np
from sklearn.covariance import EmpiricalCovariance
from sklearn.utils._param_validation import Interval

from skportfolio._validation import validate_matrix, validate_params
from skportfolio.moments._weights import exponential_weights, reliability_denominator


class EWCovariance(EmpiricalCovariance):
    r"""Exponentially weighted covariance estimator.

    A drop-in replacement for scikit-learn's
    :class:`~sklearn.covariance.EmpiricalCovariance` that weights recent
    observations more: ``score``, ``mahalanobis``, ``error_norm`` and
    ``get_precision`` work as there.

    Parameters
    ----------
    halflife : float, default=63.0
        Number of periods after which an observation's weight has halved
        (63 is about a quarter of daily data). ``np.inf`` gives equal
        weights and reproduces ``np.cov(X, rowvar=False, ddof=1)``.
    store_precision : bool, default=True
        Whether to store the precision matrix (the pseudo-inverse of the
        covariance, so a singular covariance is allowed).
    assume_centered : bool, default=False
        If True, the mean is taken to be zero: ``location_`` is zero and the
        covariance is the weighted second moment, with no bias correction.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        The exponentially weighted mean (the same as
        :class:`~skportfolio.moments.EWMean`), or zeros if
        ``assume_centered``.
    covariance_ : ndarray of shape (n_features, n_features)
        The exponentially weighted covariance.
    precision_ : ndarray of shape (n_features, n_features) or None
        Pseudo-inverse of ``covariance_`` (``scipy.linalg.pinvh``), or None
        when ``store_precision=False``.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :term:`fit`, when `X` has string
        column names.

    See Also
    --------
    sklearn.covariance.EmpiricalCovariance : Equal weights, ``ddof=0``.
    skportfolio.moments.EWMean : The mean with the same weights.

    Notes
    -----
    With ``T`` observations, the oldest at ``t = 0``, and half-life ``h``,
    the normalised weights are

    .. math:: w_t = \frac{2^{-(T-1-t)/h}}{\sum_s 2^{-(T-1-s)/h}},

    the mean is :math:`\hat\mu = \sum_t w_t x_t` and the covariance is

    .. math::

        \hat\Sigma = \frac{\sum_t w_t (x_t - \hat\mu)(x_t - \hat\mu)'}
                          {1 - \sum_t w_t^2}.

    The denominator is the unbiased correction for reliability weights: it
    makes :math:`\hat\Sigma` unbiased for independent observations with a
    common covariance, equals ``(T - 1) / T`` for equal weights (hence
    ``np.cov(ddof=1)`` when ``halflife=np.inf``; scikit-learn's
    ``EmpiricalCovariance`` uses ``ddof=0`` instead) and is the convention of
    pandas' ``DataFrame.ewm(halflife=h, adjust=True).cov()`` (``bias=False``),
    whose last date this estimator reproduces. With ``assume_centered=True``
    no mean is estimated, no degree of freedom is lost and the covariance is
    :math:`\sum_t w_t x_t x_t'`.

    Without ``assume_centered``, at least two observations must carry weight:
    a half-life so short that every weight but the newest underflows to zero
    is rejected.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.covariance import EWCovariance
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    >>> cov = EWCovariance(halflife=1.0).fit(X)
    >>> cov.location_  # weights 1/7, 2/7, 4/7
    array([1.42857143, 1.28571429])
    >>> cov.covariance_  # 13/14, 11/14 and 19/14
    array([[0.92857143, 0.78571429],
           [0.78571429, 1.35714286]])
    >>> bool(np.allclose(EWCovariance(halflife=np.inf).fit(X).covariance_,
    ...                  np.cov(X, rowvar=False)))
    True
    """

    _parameter_constraints = {
        **EmpiricalCovariance._parameter_constraints,
        "halflife": [Interval(Real, 0, None, closed="right")],
    }

    def __init__(self, *, halflife=63.0, store_precision=True, assume_centered=False):
        super().__init__(
            store_precision=store_precision, assume_centered=assume_centered
        )
        self.halflife = halflife

    def fit(self, X, y=None):
        """Fit the exponentially weighted mean and covariance.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Returns, one row per period (oldest first) and one column per asset.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : EWCovariance
            The fitted estimator.
        """
        validate_params(self)
        X = validate_matrix(
            self, X, ensure_min_samples=1 if self.assume_centered else 2
        )
        weights = exponential_weights(X.shape[0], self.halflife)
        if self.assume_centered:
            self.location_ = np.zeros(X.shape[1])
            covariance = _weighted_gram(X, weights)
        else:
            self.location_ = weights @ X
            denominator = reliability_denominator(weights)
            if denominator <= 0.0:
                raise ValueError(
                    f"halflife={self.halflife} is too short for "
                    f"{X.shape[0]} observations: every weight but the newest "
                    "is zero, so no covariance can be estimated."
                )
            covariance = _weighted_gram(X - self.location_, weights) / denominator
        self._set_covariance(covariance)
        return self


def _weighted_gram(X, weights):
    """``sum_t w_t x_t x_t'`` as ``A'A`` so the result is exactly symmetric."""
    scaled = X * np.sqrt(weights)[:, np.newaxis]
    return scaled.T @ scaled
