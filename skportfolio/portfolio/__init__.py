"""Portfolio estimators: ``fit(X)`` on asset returns sets ``weights_``."""

from skportfolio.portfolio._base import BasePortfolio
from skportfolio.portfolio._frontier import Frontier, efficient_frontier
from skportfolio.portfolio._mean_variance import MeanVariance
from skportfolio.portfolio._minimum_variance import (
    MinimumVariance,
    budget_minimum_variance,
)
from skportfolio.portfolio._naive import EqualWeight, InverseVolatility
from skportfolio.portfolio._risk_parity import RiskParity, risk_budgeting_weights

__all__ = [
    "BasePortfolio",
    "EqualWeight",
    "Frontier",
    "InverseVolatility",
    "MeanVariance",
    "MinimumVariance",
    "RiskParity",
    "budget_minimum_variance",
    "efficient_frontier",
    "risk_budgeting_weights",
]
