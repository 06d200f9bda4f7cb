"""The quadratic-programme solve shared by the optimising portfolio estimators."""

from skportfolio._qp import QuadraticProgram
from skportfolio.exceptions import NotPositiveSemidefiniteError
from skportfolio.portfolio._base import nearest_psd


def solve_portfolio_qp(covariance, q, constraints):
    """Minimise ``1/2 w'Σw + q'w`` under ``constraints``; returns a ``QPResult``.

    An indefinite ``covariance`` is replaced by the nearest positive
    semi-definite matrix (its negative eigenvalues set to zero); the
    eigendecomposition this needs runs only after the factorisation of the
    original matrix has failed.
    """
    try:
        return QuadraticProgram(constraints, P=covariance).solve(q)
    except NotPositiveSemidefiniteError:
        return QuadraticProgram(constraints, P=nearest_psd(covariance)).solve(q)
