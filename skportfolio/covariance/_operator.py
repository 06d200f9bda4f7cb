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

Index arguments are integer arrays or boolean masks over the assets. Dense
operators also have ``scaled_cholesky()``, a Cholesky factor of Σ up to a
scale, for the closed forms that need one.
"""

import numpy as np
from scipy.linalg import LinAlgError
from scipy.linalg.blas import dsymv, dsyr, dsyrk, dtrsv
from scipy.linalg.lapack import dpotrf, dpotrs

from skportfolio._qp import RELATIVE_DELTA

#: Matrix-vector products worth one Cholesky factorisation of a dense ``N x N``
#: matrix is about ``N / 13`` for N in 500..2000 on one core (``N³/3`` flops at
#: BLAS-3 speed against ``N²`` memory-bound ones).
DENSE_PRODUCTS_PER_FACTORISATION = 1 / 13
#: A product computed from data is bound by memory traffic, a matrix product
#: by arithmetic: one value read costs about as much time as this many
#: multiply-adds of a BLAS-3 product on one core.
DATA_PASS_WEIGHT = 8.0


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
        # The transpose of the symmetric C-ordered matrix is the Fortran
        # array LAPACK takes.
        return _shifted_solve(self._fortran, shift, rhs)

    def scaled_cholesky(self):
        """A lower-triangular ``L`` and a scale ``s`` with ``Σ = s L L'``.

        ``L`` is Fortran-ordered (as LAPACK returns it) and only its lower
        triangle is meaningful. Raises ``scipy.linalg.LinAlgError`` if Σ is
        not numerically positive definite.
        """
        # The transpose of the symmetric C-ordered matrix is the Fortran array
        # LAPACK takes, copied so that the matrix itself survives.
        return _lower_cholesky(self._matrix.T.copy(order="F")), 1.0

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


class SampleCovariance(DenseCovariance):
    """The sample covariance ``Xc'Xc / (T-1)``, kept as its centred returns.

    A dense covariance whose ``N x N`` matrix is formed only when a method
    needs it (:meth:`dense`, :meth:`solve`, :meth:`solve_shifted`) or once
    the products computed from the data have cost as much as forming it.
    Until then products, variances and blocks come from the ``T x N``
    centred returns ``Xc``: ``Σv = Xc'(Xc v) / (T-1)`` costs ``O(T N)``
    and the block of ``|S|`` assets ``O(T |S|²)``, so a working-set solve
    whose optimum holds few assets never pays the ``O(T N²)`` product
    that forming Σ costs.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Finite returns, at least two rows; copied (centred), never kept.
    gram : bool, default=False
        Keep the lower triangle of the Gram matrix ``Xc'Xc`` instead of the
        centred returns, for a caller that needs all of Σ anyway (a closed
        form, Newton's method for risk budgeting): computed from ``X``
        itself when the means allow it (no centred copy is written).
        :meth:`scaled_cholesky`, :meth:`matvec` of a vector, :meth:`diag`,
        :meth:`quad_form` and :meth:`solve_shifted` work from that triangle;
        the other methods mirror it into Σ first.

    See Also
    --------
    DenseCovariance : The same methods for a given matrix.

    Notes
    -----
    The rule for forming the matrix is the ski-rental one: computations from
    the data are charged their memory traffic (a pass over ``m`` values
    counts as ``DATA_PASS_WEIGHT * m`` multiply-adds of a matrix product)
    plus, for a block, its arithmetic (``T |rows| |columns|``), until the
    total reaches the ``T N² / 2`` multiply-adds of forming Σ; the matrix is
    then formed and used from there on. Whatever the sequence of requests,
    this costs at most about twice what forming Σ first would.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.covariance import SampleCovariance
    >>> X = np.array([[1.0, 2.0], [3.0, 0.0], [5.0, 4.0]])
    >>> operator = SampleCovariance(X)
    >>> operator.is_formed
    False
    >>> operator.diag()
    array([4., 4.])
    >>> operator.matvec(np.array([1.0, -1.0]))
    array([ 2., -2.])
    >>> operator.dense()
    array([[4., 2.],
           [2., 4.]])
    """

    def __init__(self, X, *, gram=False):
        X = np.asarray(X, dtype=np.float64)
        mean = X.mean(axis=0)
        scale = 1.0 / (X.shape[0] - 1)
        if gram:
            self._keep(None, mean, scale, X.shape[0])
            self._gram = _finite_covariance(_lower_gram(X, mean), 1.0)
        else:
            self._keep(X - mean, mean, scale, X.shape[0])

    def _keep(self, centred, mean, scale, n_samples):
        self.psd_by_construction = True
        self.sample_mean = mean
        self._centred = centred
        self._gram = None
        self._n_samples = n_samples
        self._scale = scale
        self._variances = None
        self._spent = 0.0
        self._budget = 0.5 * n_samples * mean.shape[0] ** 2
        self._matrix = self._fortran = None

    @property
    def n_assets(self):
        """Number of assets ``N``."""
        return self.sample_mean.shape[0]

    @property
    def n_samples(self):
        """Number of periods ``T``."""
        return self._n_samples

    @property
    def centred(self):
        """The centred returns ``Xc`` (read-only), or None once Σ is formed."""
        if self._centred is None:
            return None
        view = self._centred.view()
        view.flags.writeable = False
        return view

    @property
    def _holds_gram(self):
        """Whether the operator keeps the Gram triangle (``gram=True``, not
        yet formed): its third state, beside the centred returns and the
        formed matrix."""
        return self._gram is not None

    @property
    def is_formed(self):
        """Whether the ``N x N`` matrix has been formed."""
        return self._matrix is not None

    def _charge(self, values, multiply_adds=0.0):
        """Charge a computation from the data; True while the data is cheaper.

        ``values`` is the number of data values it reads, ``multiply_adds``
        its arithmetic (for a BLAS-3 block product). Once the total exceeds
        the cost of forming Σ, Σ is formed and the method answers from it.
        """
        if self._matrix is not None:
            return False
        if self._holds_gram:
            # Kept as its Gram matrix: what its triangle does not answer
            # comes from the formed matrix.
            self.dense()
            return False
        self._spent += DATA_PASS_WEIGHT * values + multiply_adds
        if self._spent > self._budget:
            self.dense()
            return False
        return True

    def matvec(self, v):
        """``Σ v``, from the data until the matrix is formed."""
        v = np.asarray(v, dtype=np.float64)
        if self._holds_gram and v.ndim == 1:
            # One triangle of the kept Gram matrix, scaled on the fly.
            return dsymv(self._scale, self._gram, v, lower=1)
        if self._matrix is not None:
            return super().matvec(v)
        if v.ndim == 1:
            support = np.flatnonzero(v)
            if self._charge(self._n_samples * (support.size + self.n_assets)):
                # Gathering the columns of a sparse v's support beats a pass
                # over all of them only while the support is small.
                if 2 * support.size <= v.size:
                    projected = self._centred[:, support] @ v[support]
                else:
                    projected = self._centred @ v
                return self._scale * (projected @ self._centred)
        elif self._charge(2 * self._n_samples * self.n_assets * v.shape[1]):
            return self._scale * (self._centred.T @ (self._centred @ v))
        return super().matvec(v)

    def diag(self):
        """The variances, ``diag(Σ)`` (a copy)."""
        if self._variances is None:
            if self._holds_gram:
                self._variances = self._scale * np.diag(self._gram)
            elif not self._charge(self._n_samples * self.n_assets):
                return super().diag()
            else:
                self._variances = self._scale * np.einsum(
                    "ij,ij->j", self._centred, self._centred
                )
        return self._variances.copy()

    def quad_form(self, w):
        """``w'Σw``."""
        if self._holds_gram:
            return float(w @ self.matvec(w))
        if not self._charge(self._n_samples * self.n_assets):
            return super().quad_form(w)
        projected = self._centred @ w
        return float(self._scale * (projected @ projected))

    def submatrix(self, rows, columns=None):
        """The dense block ``Σ[rows][:, columns]``."""
        n_rows = _count(rows)
        n_columns = n_rows if columns is None else _count(columns)
        T = self._n_samples
        work = T * n_rows * n_columns / (2.0 if columns is None else 1.0)
        if not self._charge(T * (n_rows + n_columns), work):
            return super().submatrix(rows, columns)
        left = self._centred[:, rows]
        if columns is None:
            return self._scale * (left.T @ left)
        return self._scale * (left.T @ self._centred[:, columns])

    def block_matvec(self, rows, columns, v):
        """``Σ[rows][:, columns] @ v``."""
        size = _count(rows) + _count(columns)
        if not self._charge(self._n_samples * size):
            return super().block_matvec(rows, columns, v)
        projected = self._centred[:, columns] @ v
        return self._scale * (projected @ self._centred[:, rows])

    def cross_covariance(self, y):
        """Covariance of each asset with the series ``y`` (``ddof=1``), ``O(T N)``.

        Call it before anything forms the matrix, which releases the returns.
        """
        if self._centred is None:
            raise RuntimeError(
                "The returns were released (the operator keeps its matrix "
                "instead): compute cross-covariances before."
            )
        y = np.asarray(y, dtype=np.float64)
        return self._scale * ((y - y.mean()) @ self._centred)

    def restrict(self, index):
        """The sample covariance of the assets ``index``."""
        if self._holds_gram:
            self.dense()
        if self._matrix is not None:
            return super().restrict(index)
        restricted = SampleCovariance.__new__(SampleCovariance)
        restricted._keep(
            self._centred[:, index],
            self.sample_mean[index],
            self._scale,
            self._n_samples,
        )
        return restricted

    def dense(self):
        """The ``N x N`` matrix, formed on the first call (not a copy).

        The centred returns are released then: every method reads the matrix
        from there on.
        """
        if self._matrix is None:
            if self._holds_gram:
                matrix = _mirrored_scaled(self._gram, self._scale)
            else:
                matrix = _scaled_gram(self._centred, self._scale)
            self._matrix, self._fortran = matrix, matrix.T
            self._centred = self._gram = None
        return self._matrix

    def scaled_cholesky(self):
        """``L`` and ``s = 1/(T-1)`` with ``Σ = s L L'``, without forming Σ.

        ``L L'`` is the Gram matrix ``Xc'Xc``: BLAS ``syrk`` computes its
        lower triangle, which LAPACK factorises in place, so a closed form
        that needs only the factor (the budget-only minimum-variance
        portfolio) skips the upper triangle, the scaling pass and the copy
        that forming Σ and factorising it would cost. The returns or the
        kept Gram matrix survive, so Σ can still be formed later.
        """
        if self._matrix is not None:
            return super().scaled_cholesky()
        # The kept Gram matrix is factorised in a copy, to form Σ from later;
        # a Gram matrix computed here is not needed again.
        if self._holds_gram:
            gram = self._gram.copy(order="F")
        else:
            gram = _finite_covariance(_lower_gram_product(self._centred), 1.0)
        return _lower_cholesky(gram), self._scale

    def solve_shifted(self, shift, rhs):
        """Solve ``(Σ + diag(shift)) x = rhs`` by Cholesky of the formed
        matrix, or of a shifted copy of the kept Gram matrix."""
        if not self._holds_gram:
            self.dense()
            return super().solve_shifted(shift, rhs)
        # (s G + D) x = r  is  (G + D / s) x = r / s.
        return _shifted_solve(
            self._gram, shift / self._scale, np.asarray(rhs) / self._scale
        )

    def is_numerically_psd(self):
        """True: a sample covariance is positive semi-definite by construction."""
        return True

    def nearest_psd(self):
        """The operator itself, which is positive semi-definite."""
        return self


def _lower_cholesky(matrix):
    """Lower Cholesky factor of a Fortran-ordered symmetric ``matrix``, in place.

    The lower factorisation, not the upper: OpenBLAS's is 15-25% faster.
    """
    factor, info = dpotrf(matrix, lower=1, overwrite_a=1, clean=0)
    if info != 0:
        raise LinAlgError(f"not positive definite (LAPACK dpotrf info={info})")
    return factor


def _shifted_solve(matrix, shift, rhs):
    """Solve ``(A + diag(shift)) x = rhs`` by Cholesky of a shifted copy of ``A``.

    Only the lower triangle of the Fortran-ordered ``matrix`` is read. LAPACK
    directly: scipy's cho_factor/cho_solve wrappers cost more than the
    factorisation itself for a few dozen assets.
    """
    shifted = matrix.copy(order="F")
    shifted.flat[:: shifted.shape[0] + 1] += shift
    return lower_cholesky_solve(_lower_cholesky(shifted), rhs)


def lower_cholesky_solve(factor, rhs):
    """Solve ``L L' x = rhs`` for a lower-triangular (Fortran) ``factor``.

    A vector goes through two BLAS ``trsv`` calls, several times faster than
    LAPACK ``potrs``, which OpenBLAS runs through ``trsm`` whatever the
    number of right-hand sides.
    """
    rhs = np.asarray(rhs, dtype=np.float64)
    if rhs.ndim == 1:
        forward = dtrsv(factor, rhs, lower=1)
        return dtrsv(factor, forward, lower=1, trans=1, overwrite_x=1)
    solution, info = dpotrs(factor, rhs, lower=1)
    if info != 0:
        raise LinAlgError(f"LAPACK dpotrs info={info}")
    return solution


def _lower_gram(X, mean):
    """The lower triangle of ``Xc'Xc``, ``Xc = X - mean``, Fortran-ordered.

    When every asset's mean is small against its standard deviation, from
    ``X`` itself, downdated by ``T mean mean'``: that skips writing the
    centred copy of ``X``, a tenth of the time of the product at a few
    hundred assets. The test is that the squared deviations of the first
    eighth of the periods, a lower bound of each sum of squares ``G_ii``,
    already reach ``T mean_i²``; evenly spread returns pass it up to means
    of about a third of their standard deviations, as returns of a day, a
    week or a month have. Every entry ``G_ij`` then carries a rounding
    error of at most about ``eps T sqrt(G_ii G_jj)`` times the sums of
    squares' ratio ``(G_ii + T mean_i²) / G_ii <= 2`` (Cauchy-Schwarz), so
    the downdate costs at most one bit against centring.
    """
    n_samples = X.shape[0]
    head = X[: -(-n_samples // 8)] - mean
    # Squares that overflow give an infinite Gram matrix either way, which
    # the caller's overflow check reports.
    with np.errstate(over="ignore", invalid="ignore"):
        small = np.all(n_samples * mean**2 <= np.einsum("ij,ij->j", head, head))
    if small:
        gram = _lower_gram_product(X)
        return dsyr(-n_samples, mean, a=gram, overwrite_a=1, lower=1)
    return _lower_gram_product(X - mean)


def _lower_gram_product(A):
    """The lower triangle of ``A'A`` by BLAS ``syrk``, Fortran-ordered.

    ``syrk`` reads a Fortran array: a C-ordered ``A`` is passed as the
    ``N x T`` Fortran array its transpose is, so no copy is made either way.
    """
    if A.flags.f_contiguous:
        return dsyrk(1.0, A, trans=1, lower=1)
    return dsyrk(1.0, A.T, lower=1)


def _mirrored_scaled(lower, scale):
    """``scale`` times the symmetric matrix whose lower triangle is ``lower``."""
    triangle = np.tril(lower)
    matrix = np.ascontiguousarray(triangle + np.tril(triangle, -1).T)
    matrix *= scale
    return matrix


# Diagonal entries below this leave every entry of a Gram matrix finite (see
# _finite_covariance), with room for the rounding of its partial sums.
_OVERFLOW_SAFE = np.finfo(float).max / 4


def _count(index):
    """Number of assets an index (integer array or boolean mask) selects."""
    index = np.asarray(index)
    return int(np.count_nonzero(index)) if index.dtype == bool else index.size


def sample_covariance(X):
    """Sample covariance (``ddof=1``) of the columns of ``X``, as ``np.cov(X, rowvar=False)``.

    The centred product ``Xc'Xc`` of one array with its own transpose is
    evaluated by BLAS ``syrk``, which computes one triangle and mirrors it, so
    the result is exactly symmetric and needs no symmetrisation pass.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Finite values, at least two rows.

    Returns
    -------
    ndarray of shape (n_features, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> sample_covariance(np.array([[1.0, 2.0], [3.0, 0.0], [5.0, 4.0]]))
    array([[4., 2.],
           [2., 4.]])
    """
    return _scaled_gram(X - X.mean(axis=0), 1.0 / (X.shape[0] - 1))


def _scaled_gram(centred, scale):
    with np.errstate(over="ignore", invalid="ignore"):
        C = np.dot(centred.T, centred)
        C *= scale
    return _finite_covariance(C, scale)


def _finite_covariance(C, scale):
    """``C = scale * G``, ``G = A'A`` of finite values, after checking its diagonal.

    Every partial sum of ``G_ij = sum_k a_ki a_kj`` is at most
    ``(G_ii + G_jj) / 2`` in magnitude (``|ab| <= (a² + b²) / 2``), so an
    entry can overflow (or become NaN through an overflow) only if a
    diagonal entry of ``G`` comes within a rounding factor of the largest
    float: the diagonal tells, without a pass over the whole matrix.
    """
    diagonal = np.diag(C)
    if not diagonal.max(initial=0.0) < _OVERFLOW_SAFE * scale:
        raise ValueError(
            "The sample covariance overflows: the returns are too large to square."
        )
    return C


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
