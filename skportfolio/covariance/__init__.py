"""Covariance estimators with scikit-learn's covariance API.

:class:`FactorModelCovariance` also exposes its estimate in factored form,
:class:`FactorCovariance`, whose products and solves cost ``O(N K^2)``.
"""

from skportfolio.covariance._exponential import EWCovariance
from skportfolio.covariance._factor import (
    IDIOSYNCRATIC_FLOOR,
    FactorCovariance,
    FactorModelCovariance,
    factor_minimum_variance,
)

__all__ = [
    "IDIOSYNCRATIC_FLOOR",
    "EWCovariance",
    "FactorCovariance",
    "FactorModelCovariance",
    "factor_minimum_variance",
]
