"""Exceptions and warnings raised by skportfolio.

Every error is a subclass of a built-in exception a caller would already catch
(``ValueError`` for bad input, ``ArithmeticError`` for numerical failure), so
code written for scikit-learn keeps working.
"""

from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "ConvergenceWarning",
    "InfeasibleConstraintsError",
    "NotPositiveSemidefiniteError",
    "SolverError",
]


class InfeasibleConstraintsError(ValueError):
    """No point satisfies the constraints; the message says which ones conflict."""


class NotPositiveSemidefiniteError(ValueError):
    """A matrix that must be positive semi-definite has a clearly negative eigenvalue."""


class SolverError(ArithmeticError):
    """The solver failed or its answer did not pass verification."""
