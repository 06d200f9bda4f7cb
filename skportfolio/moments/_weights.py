"""Exponential observation weights shared by the mean and covariance estimators.

One definition of the weights keeps :class:`~skportfolio.moments.EWMean` and
:class:`~skportfolio.covariance.EWCovariance` consistent: the EW covariance is
centred on exactly the EW mean.
"""

import numpy as np


def exponential_weights(n_samples, halflife):
    """Normalised exponential weights, the newest observation last.

    The weight of observation ``t`` (0 the oldest, ``n_samples - 1`` the
    newest) is proportional to ``0.5 ** ((n_samples - 1 - t) / halflife)``;
    the weights sum to one. ``halflife=np.inf`` gives equal weights
    ``1 / n_samples``.

    Parameters
    ----------
    n_samples : int
    halflife : float
        Positive, possibly ``np.inf``.

    Returns
    -------
    weights : ndarray of shape (n_samples,)
    """
    age = np.arange(n_samples - 1, -1, -1, dtype=np.float64)
    # exp2 of a non-positive argument: the newest weight is exactly 1 before
    # normalisation, and very old weights underflow harmlessly to 0.
    unnormalised = np.exp2(-age / halflife)
    return unnormalised / unnormalised.sum()


def reliability_denominator(weights):
    """``1 - sum(weights ** 2)`` for weights summing to one, without cancellation.

    This is the reliability-weights correction of a weighted covariance: with
    equal weights it is ``(n - 1) / n``, so dividing the weighted second
    moment by it gives the usual ``ddof=1`` estimate.

    With a very short half-life the newest weight is close to 1 and
    ``1 - w_max`` computed directly would lose every digit; the identity
    ``1 - sum(w**2) = sum_i w_i (1 - w_i)`` with ``1 - w_max`` replaced by the
    sum of the other weights keeps full relative accuracy.

    Parameters
    ----------
    weights : ndarray of shape (n_samples,)
        Non-negative, summing to one.

    Returns
    -------
    float
    """
    complement = 1.0 - weights
    largest = int(np.argmax(weights))
    complement[largest] = np.delete(weights, largest).sum()
    return float(weights @ complement)
