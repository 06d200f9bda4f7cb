"""Constrained least squares on an ill-conditioned design, over working sets.

With ``X'X = P`` and ``q = -X'y``, ``||y - X b||^2 / 2`` is the QP objective
``1/2 b'Pb + q'b`` up to a constant. When ``cond(X'X)`` exceeds
``GRAM_COND_MAX`` the full problem needs the QR factor of all of ``X``
(:mod:`skportfolio.linear_model._factorization`), ``O(n_samples n_features²)``
on top of the Gram matrix. But with non-negative coefficients the optimum
usually keeps few regressors, and a few columns of an ill-conditioned design
are typically well conditioned among themselves: the working-set method of
:mod:`skportfolio._working_set` then solves the problem from the Gram matrix
alone. Its gradients ``Pb + q`` are products with the Gram matrix, and each
restricted problem over the columns ``S`` takes its factor from the Gram
block ``X_S'X_S``:

* its Cholesky factor when ``cond(X_S'X_S) <= GRAM_COND_MAX``, as accurate as
  the QR factor of ``X_S`` (the criterion of the full problem);
* otherwise the same Cholesky factor as a *provisional* one while the
  working set is being found (it steers the working set as well as an
  accurate one), and the QR factor of ``X_S``, ``O(n_samples |S|²)``, once
  accuracy is required: the working set's certificate is trusted only for a
  solution computed with an accurate factor (see *Provisional restricted
  solves* in :mod:`skportfolio._working_set`).

The final point passes the KKT conditions of the full problem; otherwise,
or when the working set grows past half the features, the full problem is
solved on the QR factor of ``X``.
"""

from skportfolio._qp import QuadraticProgram
from skportfolio._working_set import WorkingSet, worth_a_working_set
from skportfolio.linear_model._factorization import (
    gram_cholesky,
    keeps_the_digits,
    qr_factor,
)

# The first working set holds 16 features (MIN_INITIAL_SIZE) and must be at
# most half of them.
MIN_WORKING_SET_FEATURES = 32
# The QR factor of X costs about 2 n_samples n_features² multiply-adds beyond
# the Gram matrix; below this many (n_samples n_features²) it takes less time
# than the four to seven restricted solves of a working set (on one core:
# 2000 x 50 and 5000 x 40 designs gain, 1000 x 40 and 250 x 32 lose).
MIN_QR_WORK = 5e6


def worth_restricting(X, constraints):
    """Whether least squares on ``X`` under ``constraints`` goes to a working set
    once ``X'X`` proves too ill-conditioned for its own Cholesky factor."""
    n_samples, n_features = X.shape
    return (
        constraints.has_inequalities
        and n_samples >= n_features
        and n_samples * n_features**2 >= MIN_QR_WORK
        and worth_a_working_set(constraints, MIN_WORKING_SET_FEATURES)
    )


class LeastSquaresWorkingSet(WorkingSet):
    """The working set of one target (see the module documentation).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    gram : DenseCovariance
        ``X'X`` as an operator.
    q : ndarray of shape (n_features,)
        ``-X'y``.
    constraints : LinearConstraints
    solve_full : callable
        ``solve_full(q)`` solves the full problem (on the QR factor of ``X``).
    """

    def __init__(self, X, gram, q, constraints, solve_full):
        super().__init__(gram, q, constraints)
        self.X = X
        self._solve_full_problem = solve_full

    def _restricted_program(self, keep, constraints, accurate):
        block = self.hessian.submatrix(keep)
        R, rcond = gram_cholesky(block)
        is_accurate = keeps_the_digits(rcond)
        if is_accurate or (R is not None and not accurate):
            return QuadraticProgram(constraints, R=R, rcond=rcond), is_accurate
        # A numerically singular block gets the QR factor even while the set
        # is provisional: regularising its Cholesky factor would cost
        # proximal iterations.
        return QuadraticProgram(constraints, R=qr_factor(self.X[:, keep], block)), True

    def _solve_full(self):
        return self._solve_full_problem(self.q)
