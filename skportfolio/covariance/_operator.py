"""Covariance operators: the one interface through which the optimisers use Σ.

The portfolio solvers never index a covariance matrix directly. They call the
methods below, which a dense matrix (:class:`DenseCovariance`) and a factor
model (:class:`~skportfolio.covariance.FactorCovariance`) both provide, so
that a factor model's ``O(N K)`` products and ``O(N K^2)`` Woodbury solves
plug into the same algorithms and no ``N x N`` array is formed for it:

=========================  ==========================================  =================
method                     returns                                     factor-model cost
=========================  ==========================================  =================
``n_assets``               ``N``                                       ``O(1)``
``matvec(v)``              ``Σ v`` (``v`` a vector or ``N x m``)        ``O(N K m)``
``diag()``                 the variances                               ``O(N K)``
``quad_form(w)``           ``w'Σw``                                    ``O(N K)``
``submatrix(r, c=None)``   the dense block ``Σ[r][:, c]``              ``O(|r| |c| K)``
``block_matvec(r, c, v)``  ``Σ[r][:, c] @ v``                          ``O((|r|+|c|) K)``
``solve(rhs)``             ``Σ⁻¹ rhs``                                 ``O(N K^2)``
``solve_shifted(s, rhs)``  ``(Σ + diag(s))⁻¹ rhs``                     ``O(N K^2)``
``restrict(index)``        the operator of the assets ``index``        ``O(|index| K)``
``dense()``                the ``N x N`` matrix                        ``O(N^2 K)``
``is_numerically_psd()``   whether Σ passes the QP layer's PSD test    ``O(1)``
``nearest_psd()``          a positive semi-definite operator           ``O(1)``
=========================  ==========================================  =================

Index arguments are integer arrays or boolean masks over the assets.
"""

import numpy as np
from scipy.linalg import LinAlgError
from scipy.linalg.blas import dsymv
from scipy.linalg.lapack import dpotrf, dpotrs

from skportfolio._qp import RELATIVE_DELTA

#: Matrix-vector products worth one Cholesky factorisation of a dense ``N x N``
#: matrix is about ``N / 13`` for N in 500..2000 on one core (``N³/3`` flops at
#: BLAS-3 speed against ``N²`` memory-bound ones).
DENSE_PRODUCTS_PER_FACTORISATION = 1 / 13


class DenseCovariance:
    """A dense covariance matrix behind the covariance-operator methods.

    Parameters
    ----------
    covariance : ndarray of shape (n, n)
        Symmetric. Kept without a copy when it is a C-contiguous float64
        array. Products with dense vectors read only its lower triangle.
    psd_by_construction : bool, default=False
        The matrix is positive semi-definite by how it was computed (a sample
        covariance ``Xc'Xc / (T-1)``), so :meth:`is_numerically_psd` need not
        spend a Cholesky factorisation to find out.

    See Also
    --------
    FactorCovariance : The same methods for a factor model, without the
        ``N x N`` matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.covariance import DenseCovariance
    >>> operator = DenseCovariance(np.array([[4.0, 1.0], [1.0, 2.0]]))
    >>> operator.matvec(np.array([1.0, 0.0]))
    array([4., 1.])
    >>> operator.solve(np.array([5.0, 3.0]))
    array([1., 1.])
    >>> operator.restrict([1]).dense()
    array([[2.]])
    """

    def __init__(self, covariance, *, psd_by_construction=False):
        self.psd_by_construction = psd_by_construction
        # BLAS symv reads one triangle: half the memory traffic of a general
        # product, which is what bounds the speed of iterative solvers. The
        # transpose of a C-ordered matrix is the Fortran-ordered array it wants.
        self._matrix = np.ascontiguousarray(covariance, dtype=np.float64)
        self._fortran = self._matrix.T

    @property
    def n_assets(self):
        """Number of assets ``N``."""
        return self._matrix.shape[0]

    @property
    def products_per_solve(self):
        """Products ``Σv`` that cost as much as one :meth:`solve_shifted`."""
        return int(DENSE_PRODUCTS_PER_FACTORISATION * self.n_assets)

    def matvec(self, v):
        """``Σ v``; a vector with few non-zeros costs only their rows.

        A vector with at most half its entries non-zero (the weights of a
        long-only portfolio) is multiplied through the rows of its support,
        ``O(N |support|)``; other vectors through BLAS ``symv``.
        """
        v = np.asarray(v, dtype=np.float64)
        if v.ndim != 1:
            return self._matrix @ v
        support = np.flatnonzero(v)
        if 2 * support.size <= v.size:
            # Σ is symmetric: its columns on the support are these rows.
            return v[support] @ self._matrix[support]
        return dsymv(1.0, self._fortran, v)

    def diag(self):
        """The variances, ``diag(Σ)`` (a copy)."""
        return np.diag(self._matrix).copy()

    def quad_form(self, w):
        """``w'Σw``."""
        return float(w @ self._matrix @ w)

    def submatrix(self, rows, columns=None):
        """The dense block ``Σ[rows][:, columns]`` (``columns=None``: ``rows``)."""
        return self._matrix[np.ix_(rows, rows if columns is None else columns)]

    def block_matvec(self, rows, columns, v):
        """``Σ[rows][:, columns] @ v``."""
        return self.submatrix(rows, columns) @ v

    def solve(self, rhs):
        """Solve ``Σ x = rhs`` by Cholesky; ``LinAlgError`` if not definite."""
        return self.solve_shifted(0.0, rhs)

    def solve_shifted(self, shift, rhs):
        """Solve ``(Σ + diag(shift)) x = rhs`` by Cholesky.

        Raises ``scipy.linalg.LinAlgError`` if the shifted matrix is not
        numerically positive definite.
        """
        # LAPACK directly: scipy's cho_factor/cho_solve wrappers cost more
        # than the factorisation itself for a few dozen assets. The shifted
        # copy is symmetric, so its transpose is the Fortran array LAPACK takes.
        shifted = self._matrix.copy()
        shifted.flat[:: shifted.shape[0] + 1] += shift
        factor, info = dpotrf(shifted.T, lower=1, overwrite_a=1, clean=0)
        if info != 0:
            raise LinAlgError(f"not positive definite (LAPACK dpotrf info={info})")
        solution, info = dpotrs(factor, rhs, lower=1)
        if info != 0:
            raise LinAlgError(f"LAPACK dpotrs info={info}")
        return solution

    def restrict(self, index):
        """The covariance of the assets ``index``."""
        return DenseCovariance(self.submatrix(index))

    def dense(self):
        """The matrix itself (not a copy)."""
        return self._matrix

    def is_numerically_psd(self):
        """The QP layer's test: ``Σ + δI`` has a Cholesky factor, ``δ = 1e-6 max diag Σ``."""
        if self.psd_by_construction:
            return True
        scale = np.max(np.diag(self._matrix), initial=0.0)
        delta = RELATIVE_DELTA * (scale if scale > 0 else 1.0)
        shifted = self._matrix.copy()
        shifted.flat[:: self.n_assets + 1] += delta
        # LAPACK directly: scipy.linalg.cholesky's checks cost more than the
        # factorisation itself at a hundred assets.
        _, info = dpotrf(shifted, lower=0, clean=0, overwrite_a=1)
        return info == 0

    def nearest_psd(self):
        """The operator of the nearest positive semi-definite matrix (:func:`nearest_psd`)."""
        return DenseCovariance(nearest_psd(self._matrix))


def nearest_psd(C):
    """The positive semi-definite matrix closest to ``C`` in Frobenius norm.

    Negative eigenvalues, which estimators built from pairwise or
    regularised estimates can produce, are set to zero (Higham, 1988).

    Examples
    --------
    >>> import numpy as np
    >>> nearest_psd(np.array([[1.0, 2.0], [2.0, 1.0]]))
    array([[1.5, 1.5],
           [1.5, 1.5]])
    """
    eigenvalues, eigenvectors = np.linalg.eigh(C)
    return (eigenvectors * np.maximum(eigenvalues, 0.0)) @ eigenvectors.T


def as_covariance_operator(covariance):
    """``covariance`` as an operator: an array becomes a :class:`DenseCovariance`.

    Objects that already have the operator methods (``matvec``) pass through.
    """
    if hasattr(covariance, "matvec"):
        return covariance
    return DenseCovariance(np.asarray(covariance, dtype=np.float64))
