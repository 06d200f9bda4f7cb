"""Covariance estimators with scikit-learn's covariance API.

:class:`FactorModelCovariance` also exposes its estimate in factored form,
:class:`FactorCovariance`, whose products and solves cost ``O(N K^2)``.
:class:`DenseCovariance` gives a dense matrix the same methods, and
:class:`SampleCovariance` the sample covariance kept as its centred returns
(the matrix formed only if needed); the portfolio optimisers use a covariance
only through them.
"""

from skportfolio.covariance._exponential import EWCovariance
from skportfolio.covariance._factor import (
    IDIOSYNCRATIC_FLOOR,
    FactorCovariance,
    FactorModelCovariance,
    factor_minimum_variance,
)
from skportfolio.covariance._operator import DenseCovariance, SampleCovariance

__all__ = [
    "IDIOSYNCRATIC_FLOOR",
    "DenseCovariance",
    "EWCovariance",
    "FactorCovariance",
    "FactorModelCovariance",
    "SampleCovariance",
    "factor_minimum_variance",
]
