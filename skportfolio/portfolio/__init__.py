"""Portfolio estimators: ``fit(X)`` on asset returns sets ``weights_``."""

from skportfolio.portfolio._base import BasePortfolio
from skportfolio.portfolio._minimum_variance import (
    MinimumVariance,
    budget_minimum_variance,
)
from skportfolio.portfolio._naive import EqualWeight, InverseVolatility
from skportfolio.portfolio._risk_parity import RiskParity, risk_budgeting_weights

__all__ = [
    "BasePortfolio",
    "EqualWeight",
    "InverseVolatility",
    "MinimumVariance",
    "RiskParity",
    "budget_minimum_variance",
    "risk_budgeting_weights",
]
