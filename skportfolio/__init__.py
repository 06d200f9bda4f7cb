"""skportfolio: scikit-learn compatible portfolio construction and constrained regression."""

from skportfolio.exceptions import (
    ConvergenceWarning,
    InfeasibleConstraintsError,
    NotPositiveSemidefiniteError,
    SolverError,
)
from skportfolio.linear_model import ConstrainedLinearRegression
from skportfolio.portfolio import (
    EqualWeight,
    InverseVolatility,
    MinimumVariance,
    RiskParity,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ConstrainedLinearRegression",
    "ConvergenceWarning",
    "EqualWeight",
    "InfeasibleConstraintsError",
    "InverseVolatility",
    "MinimumVariance",
    "NotPositiveSemidefiniteError",
    "RiskParity",
    "SolverError",
    "__version__",
]
