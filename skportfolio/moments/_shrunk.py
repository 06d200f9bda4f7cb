"""Stein-type shrinkage of the sample mean."""

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigvalsh
from sklearn.utils._param_validation import StrOptions

from skportfolio.moments._mean import BaseMean


class ShrunkMean(BaseMean):
    r"""Sample mean shrunk toward a common expected return.

    The estimate is :math:`(1 - \alpha)\,\bar x + \alpha\, m\,\mathbf 1`, the
    sample mean :math:`\bar x` pulled toward a vector whose entries all equal
    a scalar :math:`m` estimated from the data, by an intensity
    :math:`\alpha \in [0, 1]` that grows with the noise in :math:`\bar x`.

    Parameters
    ----------
    method : {"james_stein", "bayes_stein"}, default="james_stein"
        How the target and the intensity are chosen (see Notes).

        - ``"james_stein"``: positive-part James-Stein toward the grand mean
          (the average of the sample means); needs at least 2 observations.
        - ``"bayes_stein"``: Jorion's (1986) Bayes-Stein estimator, toward
          the mean of the minimum-variance portfolio; needs
          ``n_samples > n_features + 2`` and a non-singular sample covariance.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        The shrunk mean.
    target_ : ndarray of shape (n_features,)
        The shrinkage target :math:`m\,\mathbf 1`.
    shrinkage_ : float
        The intensity :math:`\alpha`.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :term:`fit`, when `X` has string
        column names.

    See Also
    --------
    EmpiricalMean : The sample mean, with no shrinkage.

    Notes
    -----
    With ``T`` observations of ``N`` assets, sample mean :math:`\bar x` and
    sample covariance :math:`S` (``ddof=1``):

    **James-Stein.** The target is the grand mean
    :math:`m = \mathbf 1'\bar x / N`. Let :math:`P = I - \mathbf 1\mathbf 1'/N`
    project out the common level and :math:`M = PSP`. The intensity is

    .. math::

        \alpha = \min\Bigl(1, \max\Bigl(0,
        \frac{\operatorname{tr}(M) - 2\lambda_{\max}(M)}
             {T\,\lVert \bar x - m\mathbf 1\rVert^2}\Bigr)\Bigr).

    This is James and Stein's (1961) estimator with the common target
    estimated from the data as in Efron and Morris (1973), and Bock's (1975)
    constant :math:`\operatorname{tr}(M) - 2\lambda_{\max}(M)` for a general
    covariance of :math:`\bar x` (here :math:`M/T`). With :math:`S=\sigma^2 I`
    it is the classical :math:`(N - 3)\sigma^2`; for ``N <= 3`` it is never
    positive, so nothing is shrunk.

    **Bayes-Stein** (Jorion, 1986). With
    :math:`\hat\Sigma = \frac{T-1}{T-N-2} S`, whose inverse is unbiased for
    :math:`\Sigma^{-1}` under normality, the target is the expected return of
    the minimum-variance portfolio and the intensity follows from the
    Bayesian prior :math:`\mu \sim N(m\mathbf 1, \Sigma/\lambda)`:

    .. math::

        m = \frac{\mathbf 1'\hat\Sigma^{-1}\bar x}
                 {\mathbf 1'\hat\Sigma^{-1}\mathbf 1}, \qquad
        \alpha = \frac{N + 2}{N + 2 + T\,(\bar x - m\mathbf 1)'
                 \hat\Sigma^{-1}(\bar x - m\mathbf 1)}.

    References
    ----------
    .. [1] W. James and C. Stein, "Estimation with quadratic loss",
       Proc. Fourth Berkeley Symp. Math. Statist. Prob. 1 (1961), 361-379.
    .. [2] B. Efron and C. Morris, "Stein's estimation rule and its
       competitors: an empirical Bayes approach", JASA 68 (1973), 117-130.
    .. [3] M. E. Bock, "Minimax estimators of the mean of a multivariate
       normal distribution", Ann. Statist. 3 (1975), 209-218.
    .. [4] P. Jorion, "Bayes-Stein estimation for portfolio analysis",
       J. Financial and Quantitative Analysis 21 (1986), 279-292.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.moments import ShrunkMean
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(0.01, 0.05, size=(60, 8))
    >>> est = ShrunkMean().fit(X)
    >>> bool(0.0 <= est.shrinkage_ <= 1.0)
    True
    >>> bool(np.allclose(est.location_,
    ...      (1 - est.shrinkage_) * X.mean(axis=0) + est.shrinkage_ * est.target_))
    True
    """

    _parameter_constraints = {
        "method": [StrOptions({"james_stein", "bayes_stein"})],
    }
    _min_samples = 2

    def __init__(self, *, method="james_stein"):
        self.method = method

    def _fit(self, X):
        sample_mean = X.mean(axis=0)
        if self.method == "james_stein":
            level, shrinkage = _james_stein(X, sample_mean)
        else:
            level, shrinkage = _bayes_stein(X, sample_mean)
        self.target_ = np.full(X.shape[1], level)
        self.shrinkage_ = shrinkage
        self.location_ = (1.0 - shrinkage) * sample_mean + shrinkage * self.target_


def _james_stein(X, sample_mean):
    """Grand-mean target and positive-part James-Stein intensity (Bock's constant)."""
    n_samples, n_features = X.shape
    level = float(sample_mean.mean())
    # M = P S P is the sample covariance of the cross-sectionally demeaned
    # returns, so it is computed from the data rather than from S.
    Z = X - X.mean(axis=1, keepdims=True)
    Z -= Z.mean(axis=0)
    gram = Z @ Z.T if n_samples < n_features else Z.T @ Z
    size = gram.shape[0]
    largest = eigvalsh(gram, subset_by_index=[size - 1, size - 1])[0]
    excess = (np.trace(gram) - 2.0 * largest) / (n_samples - 1)
    spread = n_samples * float(np.sum((sample_mean - level) ** 2))
    if excess <= 0.0:
        return level, 0.0
    if spread <= excess:
        return level, 1.0
    return level, excess / spread


def _bayes_stein(X, sample_mean):
    """Jorion's minimum-variance target and Bayes-Stein intensity."""
    n_samples, n_features = X.shape
    if n_samples <= n_features + 2:
        raise ValueError(
            "ShrunkMean(method='bayes_stein') needs more observations than "
            f"assets + 2; got n_samples={n_samples} and n_features={n_features}."
        )
    sample_cov = np.atleast_2d(np.cov(X, rowvar=False, ddof=1))
    try:
        factor = cho_factor(sample_cov)
    except LinAlgError:
        raise ValueError(
            "ShrunkMean(method='bayes_stein') needs a non-singular sample "
            "covariance; some assets are linear combinations of the others "
            "(or constant)."
        ) from None
    ones = np.ones(n_features)
    inv_ones = cho_solve(factor, ones)
    level = float(inv_ones @ sample_mean / (inv_ones @ ones))
    gap = sample_mean - level
    # Sigma_hat^{-1} = (T-N-2)/(T-1) S^{-1}: the scale enters the intensity only.
    distance = (
        (n_samples - n_features - 2) / (n_samples - 1) * (gap @ cho_solve(factor, gap))
    )
    shrinkage = (n_features + 2) / (n_features + 2 + n_samples * distance)
    return level, float(shrinkage)
