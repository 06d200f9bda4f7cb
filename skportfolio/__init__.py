"""skportfolio: scikit-learn compatible portfolio construction and constrained regression."""

from skportfolio.covariance import EWCovariance, FactorModelCovariance
from skportfolio.exceptions import (
    ConvergenceWarning,
    InfeasibleConstraintsError,
    NotPositiveSemidefiniteError,
    SolverError,
)
from skportfolio.linear_model import ConstrainedLinearRegression
from skportfolio.model_selection import WalkForward, backtest
from skportfolio.portfolio import (
    EqualWeight,
    InverseVolatility,
    MeanVariance,
    MinimumVariance,
    RiskParity,
    efficient_frontier,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ConstrainedLinearRegression",
    "ConvergenceWarning",
    "EWCovariance",
    "EqualWeight",
    "FactorModelCovariance",
    "InfeasibleConstraintsError",
    "InverseVolatility",
    "MeanVariance",
    "MinimumVariance",
    "NotPositiveSemidefiniteError",
    "RiskParity",
    "SolverError",
    "WalkForward",
    "__version__",
    "backtest",
    "efficient_frontier",
]
