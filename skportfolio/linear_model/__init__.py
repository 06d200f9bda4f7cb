"""Linear models with constrained coefficients."""

from skportfolio.linear_model._constrained import ConstrainedLinearRegression

__all__ = ["ConstrainedLinearRegression"]
