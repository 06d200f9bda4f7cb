"""Estimators of expected returns, with the API of scikit-learn's covariance estimators.

Each estimator's ``fit(X)`` sets ``location_``, the expected return of every
column of ``X``.
"""

from skportfolio.moments._mean import EmpiricalMean, EWMean
from skportfolio.moments._shrunk import ShrunkMean

__all__ = ["EWMean", "EmpiricalMean", "ShrunkMean"]
