"""Estimators of the expected returns with scikit-learn's covariance-estimator API."""

from numbers import Real

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from skportfolio._validation import validate_matrix, validate_params
from skportfolio.moments._weights import exponential_weights


class BaseMean(BaseEstimator):
    """Shared ``fit`` of the mean estimators: validate ``X``, then estimate.

    Subclasses implement ``_fit(X)`` on a validated float64 array and set
    ``location_`` there. ``_min_samples`` is the number of observations the
    estimate needs.
    """

    _parameter_constraints = {}
    _min_samples = 1

    def fit(self, X, y=None):
        """Estimate the expected return of every column of `X`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Returns, one row per period (oldest first) and one column per asset.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The fitted estimator, with ``location_`` set.
        """
        validate_params(self)
        X = validate_matrix(self, X, ensure_min_samples=self._min_samples)
        self._fit(X)
        return self


class EmpiricalMean(BaseMean):
    """Sample mean of the returns.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        The sample mean of each column.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :term:`fit`, when `X` has string
        column names.

    See Also
    --------
    EWMean : Exponentially weighted mean.
    ShrunkMean : Sample mean shrunk toward a common target.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.moments import EmpiricalMean
    >>> X = np.array([[0.01, 0.02], [0.03, -0.02]])
    >>> EmpiricalMean().fit(X).location_
    array([0.02, 0.  ])
    """

    def _fit(self, X):
        self.location_ = X.mean(axis=0)


class EWMean(BaseMean):
    r"""Exponentially weighted mean of the returns.

    Parameters
    ----------
    halflife : float, default=63.0
        Number of periods after which an observation's weight has halved
        (63 is about a quarter of daily data). ``np.inf`` gives the sample
        mean.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        The exponentially weighted mean of each column.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :term:`fit`, when `X` has string
        column names.

    See Also
    --------
    skportfolio.covariance.EWCovariance : Covariance with the same weights,
        centred on this mean.

    Notes
    -----
    With ``T`` observations, the oldest at ``t = 0``,

    .. math::

        \hat\mu = \sum_{t=0}^{T-1} w_t x_t, \qquad
        w_t = \frac{2^{-(T-1-t)/h}}{\sum_s 2^{-(T-1-s)/h}},

    where ``h`` is the half-life. This equals pandas'
    ``DataFrame.ewm(halflife=h, adjust=True).mean()`` on the last row.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.moments import EWMean
    >>> X = np.array([[0.0], [1.0]])
    >>> EWMean(halflife=1.0).fit(X).location_  # weights 1/3 and 2/3
    array([0.66666667])
    """

    _parameter_constraints = {
        "halflife": [Interval(Real, 0, None, closed="right")],
    }

    def __init__(self, *, halflife=63.0):
        self.halflife = halflife

    def _fit(self, X):
        self.location_ = exponential_weights(X.shape[0], self.halflife) @ X
