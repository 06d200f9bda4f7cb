"""Factor-model covariance, kept in factored form.

The covariance ``B F B' + diag(d)`` of ``N`` assets on ``K`` factors is held as
its three pieces, so products, solves and the minimum-variance portfolio cost
``O(N K^2)`` and never form an ``N x N`` array unless asked for one.
"""

from dataclasses import dataclass
from functools import cached_property
from numbers import Integral

import numpy as np
from scipy.linalg import LinAlgError, eigh, svd
from scipy.linalg.blas import dgemm, dsyrk
from scipy.linalg.lapack import dpotrf, dpotrs
from sklearn.covariance import EmpiricalCovariance
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from skportfolio._validation import validate_matrix, validate_params
from skportfolio.covariance._krylov import OVERSAMPLING as KRYLOV_OVERSAMPLING
from skportfolio.covariance._krylov import largest_eigenpairs
from skportfolio.exceptions import NotPositiveSemidefiniteError

# Smallest idiosyncratic variance kept, as a fraction of the asset's total
# variance. An asset spanned by the factors would otherwise make the
# covariance singular; a millionth of its variance is far below any
# estimation error yet bounds the condition number the solves see.
IDIOSYNCRATIC_FLOOR = 1e-6

# A factor-covariance eigenvalue below -PSD_RTOL times the largest one is an
# error rather than rounding noise.
PSD_RTOL = 1e-10

# Size of the blocks of columns of X centred at a time while fitting: large
# enough for efficient BLAS calls, small enough to stay in a core's cache
# while several operations read the block.
BLOCK_BYTES = 2 * 2**20

# Costs of the statistical-factor solvers in flops of the Gram matrix of the
# smaller side of the T x N returns (m² M for m = min(T, N), M = max(T, N)),
# measured on one core: its dense eigendecomposition costs about EIGH_COST
# m³, and a flop of the block Krylov iteration through the returns (thin
# products with X and with the basis) DATA_FLOP_COST of them.
EIGH_COST = 2.8
DATA_FLOP_COST = 3.0
# Block Krylov steps well separated factors take (11 to 17 in the
# benchmarks): the iteration is tried when that many cost less than the
# Gram path.
EXPECTED_DATA_STEPS = 14


@dataclass(frozen=True, eq=False)
class FactorCovariance:
    r"""A covariance matrix ``B F B' + diag(d)`` held in factored form.

    Parameters
    ----------
    loadings : array-like of shape (n_assets, n_factors)
        The factor loadings ``B``.
    factor_covariance : array-like of shape (n_factors, n_factors)
        The covariance ``F`` of the factors; symmetric positive semi-definite.
    idiosyncratic : array-like of shape (n_assets,)
        The idiosyncratic variances ``d``, non-negative. Each is raised to at
        least :data:`IDIOSYNCRATIC_FLOOR` (``1e-6``) times the asset's total
        variance :math:`(BFB')_{ii} + d_i` (or, for an asset with no variance
        at all, times the largest total variance), so the matrix is positive
        definite and every method below sees the same, floored, ``d``.

    Attributes
    ----------
    n_assets : int
    n_factors : int

    See Also
    --------
    FactorModelCovariance : Estimates this structure from returns.
    factor_minimum_variance : Minimum-variance weights in ``O(N K^2)``.
    DenseCovariance : The same methods for a dense matrix.

    Notes
    -----
    The methods are those of :class:`DenseCovariance`, the interface
    through which the portfolio optimisers use a covariance, so a fitted
    structure reaches them without an ``N x N`` array.

    The arrays are copied and made read-only. With ``F = G G'`` (from the
    eigendecomposition of ``F``, which need not be invertible) and
    ``U = B G``, the covariance is :math:`\Sigma = D + U U'`. Solves use the
    Woodbury identity on the rows scaled by :math:`D^{-1/2}`:

    .. math::

        \Sigma^{-1} r = D^{-1/2}\bigl(\tilde r - \tilde U C^{-1}
        \tilde U'\tilde r\bigr), \quad \tilde U = D^{-1/2}U, \;
        \tilde r = D^{-1/2} r, \; C = I_K + \tilde U'\tilde U,

    where the ``K x K`` capacitance matrix :math:`C` has eigenvalues at
    least 1 and is factored by Cholesky; no inverse is formed, and ``F``
    is never inverted.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.covariance import FactorCovariance
    >>> structure = FactorCovariance(
    ...     loadings=[[1.0], [0.5]], factor_covariance=[[0.04]],
    ...     idiosyncratic=[0.01, 0.02])
    >>> structure.dense()
    array([[0.05, 0.02],
           [0.02, 0.03]])
    >>> structure.solve([0.05, 0.02])
    array([1., 0.])
    """

    loadings: np.ndarray
    factor_covariance: np.ndarray
    idiosyncratic: np.ndarray

    def __post_init__(self):
        loadings = _frozen_array(self.loadings, "loadings", ndim=2)
        n_assets, n_factors = loadings.shape
        factor_covariance = _frozen_array(
            self.factor_covariance, "factor_covariance", ndim=2
        )
        if factor_covariance.shape != (n_factors, n_factors):
            raise ValueError(
                f"factor_covariance must have shape ({n_factors}, {n_factors}) "
                f"to match loadings of shape {loadings.shape}; got "
                f"{factor_covariance.shape}."
            )
        idiosyncratic = _frozen_array(self.idiosyncratic, "idiosyncratic", ndim=1)
        if idiosyncratic.shape != (n_assets,):
            raise ValueError(
                f"idiosyncratic must have shape ({n_assets},) to match loadings "
                f"of shape {loadings.shape}; got {idiosyncratic.shape}."
            )
        if np.any(idiosyncratic < 0):
            raise ValueError("idiosyncratic variances must be non-negative.")
        # Fortran order: the products and row scalings of U that every
        # operation uses run on its K columns.
        root = np.asfortranarray(loadings @ _psd_root(factor_covariance))
        floored = _floor_idiosyncratic(np.einsum("ij,ij->i", root, root), idiosyncratic)
        floored.flags.writeable = False
        object.__setattr__(self, "loadings", loadings)
        object.__setattr__(self, "factor_covariance", factor_covariance)
        object.__setattr__(self, "idiosyncratic", floored)
        object.__setattr__(self, "_root", root)

    @property
    def n_assets(self):
        """Number of assets ``N``."""
        return self.loadings.shape[0]

    @property
    def n_factors(self):
        """Number of factors ``K``."""
        return self.loadings.shape[1]

    def matvec(self, v):
        """Product ``Σ v`` in ``O(N K)`` per column.

        Parameters
        ----------
        v : array-like of shape (n_assets,) or (n_assets, n_columns)

        Returns
        -------
        ndarray of the shape of `v`
        """
        v = self._as_rhs(v, "v")
        return self._root @ (self._root.T @ v) + _scale_rows(v, self.idiosyncratic)

    def diag(self):
        """The diagonal of ``Σ``: every asset's total variance.

        Returns
        -------
        ndarray of shape (n_assets,)
        """
        return np.einsum("ij,ij->i", self._root, self._root) + self.idiosyncratic

    def quad_form(self, w):
        """The variance ``w' Σ w`` of a portfolio, in ``O(N K)``.

        Parameters
        ----------
        w : array-like of shape (n_assets,)

        Returns
        -------
        float
        """
        w = self._as_rhs(w, "w")
        if w.ndim != 1:
            raise ValueError(f"w must be one-dimensional; got shape {w.shape}.")
        exposure = self._root.T @ w
        return float(exposure @ exposure + self.idiosyncratic @ (w * w))

    def dense(self):
        """The ``N x N`` covariance matrix, exactly symmetric.

        Returns
        -------
        ndarray of shape (n_assets, n_assets)
        """
        covariance = self._root @ self._root.T
        covariance[np.diag_indices_from(covariance)] += self.idiosyncratic
        return covariance

    def solve(self, rhs):
        """Solve ``Σ x = rhs`` by the Woodbury identity, in ``O(N K^2)``.

        Parameters
        ----------
        rhs : array-like of shape (n_assets,) or (n_assets, n_columns)

        Returns
        -------
        ndarray of the shape of `rhs`
        """
        return self._woodbury.solve(self._as_rhs(rhs, "rhs"))

    def solve_shifted(self, shift, rhs):
        """Solve ``(Σ + diag(shift)) x = rhs``, in ``O(N K^2)``.

        Newton steps of risk-budgeting problems need this system with a
        different diagonal shift at every iteration.

        Parameters
        ----------
        shift : float or array-like of shape (n_assets,)
            Non-negative shift of the diagonal.
        rhs : array-like of shape (n_assets,) or (n_assets, n_columns)

        Returns
        -------
        ndarray of the shape of `rhs`
        """
        shift = np.broadcast_to(np.asarray(shift, dtype=np.float64), (self.n_assets,))
        if not np.all(np.isfinite(shift)) or np.any(shift < 0):
            raise ValueError("shift must be finite and non-negative.")
        return _Woodbury.factor(self._root, self.idiosyncratic + shift).solve(
            self._as_rhs(rhs, "rhs")
        )

    def submatrix(self, rows, columns=None):
        """The dense block ``Σ[rows][:, columns]``, in ``O(|rows| |columns| K)``.

        Parameters
        ----------
        rows : array-like of int or bool
            Asset indices, or a mask over the assets.
        columns : array-like of int or bool, default=None
            None for the square block of `rows`.

        Returns
        -------
        ndarray of shape (n_rows, n_columns)
        """
        rows = self._as_index(rows)
        if columns is None:
            block = self._root[rows] @ self._root[rows].T
            block[np.diag_indices_from(block)] += self.idiosyncratic[rows]
            return block
        columns = self._as_index(columns)
        block = self._root[rows] @ self._root[columns].T
        row, column = np.nonzero(rows[:, np.newaxis] == columns)
        block[row, column] += self.idiosyncratic[rows[row]]
        return block

    def block_matvec(self, rows, columns, v):
        """``Σ[rows][:, columns] @ v`` without forming the block.

        ``O((|rows| + |columns|) K)`` plus ``O(N)``; `columns` must not repeat
        an asset.

        Parameters
        ----------
        rows, columns : array-like of int or bool
            Asset indices, or masks over the assets.
        v : array-like of shape (n_columns,)

        Returns
        -------
        ndarray of shape (n_rows,)
        """
        rows, columns = self._as_index(rows), self._as_index(columns)
        v = np.asarray(v, dtype=np.float64)
        spread = np.zeros(self.n_assets)
        spread[columns] = v
        # The idiosyncratic part is diagonal: it only reaches rows also in columns.
        return self._root[rows] @ (self._root[columns].T @ v) + (
            self.idiosyncratic[rows] * spread[rows]
        )

    def restrict(self, index):
        """The factor covariance of the assets `index`, in ``O(|index| K)``.

        The result holds the rows of the loadings and idiosyncratic variances
        of those assets (already floored, so they are not floored again).

        Parameters
        ----------
        index : array-like of int or bool
            Asset indices, or a mask over the assets.

        Returns
        -------
        FactorCovariance
        """
        index = self._as_index(index)
        return self._from_parts(
            self.loadings[index],
            self.factor_covariance,
            self.idiosyncratic[index],
            np.asfortranarray(self._root[index]),
        )

    def diagonal_and_root(self):
        """``(d, U)`` with ``Σ = diag(d) + U U'``: the low-rank form solvers use.

        ``U = B G`` for ``F = G G'``; both arrays are read-only.

        Returns
        -------
        idiosyncratic : ndarray of shape (n_assets,)
        root : ndarray of shape (n_assets, n_factors)
        """
        return self.idiosyncratic, self._root

    def is_numerically_psd(self):
        """True: the matrix is positive definite by construction (``d > 0``)."""
        return True

    def nearest_psd(self):
        """The structure itself, positive definite by construction."""
        return self

    @classmethod
    def _from_parts(cls, loadings, factor_covariance, idiosyncratic, root):
        """A structure from already validated, floored pieces."""
        structure = object.__new__(cls)
        for name, value in (
            ("loadings", loadings),
            ("factor_covariance", factor_covariance),
            ("idiosyncratic", idiosyncratic),
            ("_root", root),
        ):
            value.flags.writeable = False
            object.__setattr__(structure, name, value)
        return structure

    def _as_index(self, index):
        """Integer indices of the assets selected by an index array or mask."""
        index = np.asarray(index)
        if index.dtype != bool:
            index = index.astype(np.intp, copy=False)
        return np.arange(self.n_assets)[index]

    @cached_property
    def _woodbury(self):
        return _Woodbury.factor(self._root, self.idiosyncratic)

    def _as_rhs(self, a, name):
        a = np.asarray(a, dtype=np.float64)
        if a.ndim not in (1, 2) or a.shape[0] != self.n_assets:
            raise ValueError(
                f"{name} must have {self.n_assets} rows (one per asset); got "
                f"shape {a.shape}."
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite.")
        return a


def factor_minimum_variance(structure):
    r"""Fully invested minimum-variance weights of a factor-model covariance.

    The weights minimise :math:`w'\Sigma w` subject only to
    :math:`\mathbf 1'w = 1`:

    .. math:: w = \frac{\Sigma^{-1}\mathbf 1}{\mathbf 1'\Sigma^{-1}\mathbf 1},

    with :math:`\Sigma^{-1}\mathbf 1` from :meth:`FactorCovariance.solve`
    (Woodbury, ``O(N K^2)``). The ``N x N`` matrix is never formed, and the
    factor risk ``B F B'``, which is singular, is never inverted.

    Parameters
    ----------
    structure : FactorCovariance
        For example ``FactorModelCovariance().fit(X).factor_structure_``.

    Returns
    -------
    weights : ndarray of shape (n_assets,)
        Summing to one; short positions allowed.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.covariance import FactorCovariance, factor_minimum_variance
    >>> structure = FactorCovariance(np.zeros((2, 1)), [[1.0]], [1.0, 3.0])
    >>> factor_minimum_variance(structure)  # inverse-variance weights
    array([0.75, 0.25])
    """
    if not isinstance(structure, FactorCovariance):
        raise TypeError(
            "structure must be a FactorCovariance (for instance a fitted "
            f"FactorModelCovariance's factor_structure_); got {type(structure).__name__}."
        )
    direction = structure.solve(np.ones(structure.n_assets))
    return direction / direction.sum()


class FactorModelCovariance(EmpiricalCovariance):
    r"""Factor-model covariance estimator: ``Σ = B F B' + diag(d)``.

    Statistical factors (principal components of the returns) when fitted on
    returns alone, observed factors (time-series regressions on factor
    returns) when the factor returns are passed as `y`. The estimate is kept
    in factored form in ``factor_structure_``; the dense ``covariance_`` is
    built only when first accessed, so the estimator works wherever a
    scikit-learn covariance estimator is accepted while staying cheap for
    thousands of assets.

    Parameters
    ----------
    n_factors : int, default=1
        Number of statistical factors, at least 1 and below
        ``min(n_samples, n_features)`` and the rank of the centred returns.
        Ignored when factor returns `y` are given to :meth:`fit`: the number
        of factors is then the number of columns of `y`.
    solver : {"auto", "eigh"}, default="auto"
        How statistical factors are computed. ``"eigh"``: the Gram matrix of
        the centred returns and LAPACK's dense symmetric eigensolver.
        ``"auto"``: a block Krylov iteration through products with the
        returns where the cost model expects it to be cheaper (long
        histories: ``T`` comparable to ``N`` or larger), with a certified
        stopping test, falling back to ``"eigh"`` whenever it cannot certify
        its result; the two agree to about ``1e-12`` (see Notes). Ignored
        for observed factors.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        The sample mean of the returns (the model's fitted mean).
    loadings_ : ndarray of shape (n_features, n_factors)
        Factor loadings ``B``.
    factor_covariance_ : ndarray of shape (n_factors, n_factors)
        Factor covariance ``F``.
    idiosyncratic_variances_ : ndarray of shape (n_features,)
        Idiosyncratic variances ``d`` (floored, see Notes).
    factor_structure_ : FactorCovariance
        The three pieces together, with ``O(N K^2)`` products and solves.
    covariance_ : ndarray of shape (n_features, n_features)
        ``B F B' + diag(d)``, computed on first access and cached.
    precision_ : ndarray of shape (n_features, n_features)
        The inverse of ``covariance_`` by the Woodbury identity, computed on
        each access (``O(N^2 K)``).
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :term:`fit`, when `X` has string
        column names.

    See Also
    --------
    FactorCovariance : The factored covariance and its operations.
    factor_minimum_variance : Minimum-variance weights without forming ``Σ``.

    Notes
    -----
    Both models decompose the sample covariance ``S`` of the returns
    (``ddof=1``) into explained and residual parts, with ``ddof=1``
    throughout, so the model reproduces every asset's sample variance:
    ``diag(covariance_) == diag(S)`` (up to rounding and the floor below);
    only the residual covariances off the diagonal are set to zero.

    **Statistical factors** (``y=None``). The returns are centred,
    :math:`X_c = X - \mathbf 1\bar x'`, and the top ``K`` principal
    components of :math:`X_c` (equivalently, eigenvectors of ``S``; the
    covariance, not the correlation, so high-volatility assets weigh more)
    are the loadings: :math:`B = V_K` with orthonormal columns, each signed
    so its largest entry is positive, and
    :math:`F = \operatorname{diag}(s_k^2)/(T-1)` from the singular values
    :math:`s_k`. The factor returns are :math:`X_c V_K`, so this is also the
    observed-factor model below with the principal-component portfolios as
    factors. The decomposition uses the eigenvectors of the smaller Gram
    matrix, :math:`X_c X_c'` (``T x T``) when ``T <= N`` and :math:`X_c'X_c`
    otherwise.

    With ``solver="auto"`` the eigenvectors of :math:`X_c X_c'` are first
    sought by block Krylov iteration (blocks of ``K + 4`` columns), applied
    through products with ``X`` itself, :math:`W = X_c'V = X'V - \bar
    x\,(\mathbf 1'V)` and :math:`X_c W = XW - \mathbf 1\,(\bar x'W)`, when
    the steps well separated factors take (about 14, ``O(T N K)`` each) cost
    less than the Gram matrix and its eigendecomposition
    (``O(min(T,N)^2 max(T,N))``). Its result is used only when each
    eigenvector is certified within ``1e-12`` (in the sine of its angle) by
    its residual and the gaps to the neighbouring eigenvalues
    (Davis–Kahan), and when the mean is not so large next to the variation
    (:math:`T\lVert\bar x\rVert^2 > \lambda_1`, price levels rather than
    returns) that centring through the products would lose digits. Weak
    factors (no gap after the ``K``-th eigenvalue), low-rank returns and
    slow convergence fall back to the Gram matrix.

    **Observed factors** (``y`` of shape ``(T, K)``). Each asset is regressed
    on the factors with an intercept (ordinary least squares, minimum-norm
    if the factors are collinear): ``B`` holds the slopes and
    ``F = cov(y, ddof=1)``.

    In both cases :math:`d_i = \sum_t e_{ti}^2 / (T - 1)` for the residuals
    :math:`e`, computed from the residuals themselves in column blocks rather
    than as a difference of variances, so a small ``d_i`` keeps its digits.
    With no factor it would be the sample variance. A ``d_i`` below
    :data:`IDIOSYNCRATIC_FLOOR` (``1e-6``) times the asset's total variance,
    in particular the zero of an asset spanned by the factors, is raised to
    that value, keeping ``Σ`` positive definite.

    Cost for ``T`` observations of ``N`` assets: ``O(T N min(T, N))`` for the
    Gram matrix plus ``O(T N K)`` (observed factors: ``O(T N K)`` only), or
    ``O(T N K)`` per Krylov step. Memory beyond ``X``: the
    ``min(T, N)``-square Gram matrix, blocks of columns of about 2 MiB
    centred one at a time, and ``O((T + N) K)``; the Krylov iteration
    holds ``O(T K)`` per step instead of the Gram matrix; only the Gram
    path with ``T > N`` also holds one centred copy of ``X``. No ``N x N``
    array is formed before ``covariance_`` or ``precision_`` is read.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.covariance import FactorModelCovariance
    >>> rng = np.random.default_rng(0)
    >>> market = rng.normal(0.0, 0.04, size=(250, 1))
    >>> X = market @ rng.uniform(0.5, 1.5, size=(1, 30)) + rng.normal(
    ...     0.0, 0.02, size=(250, 30))
    >>> model = FactorModelCovariance(n_factors=1).fit(X)
    >>> model.loadings_.shape, model.factor_covariance_.shape
    ((30, 1), (1, 1))
    >>> bool(np.allclose(np.diag(model.covariance_), X.var(axis=0, ddof=1)))
    True
    >>> observed = FactorModelCovariance().fit(X, market)
    >>> bool(np.allclose(observed.factor_covariance_, market.var(ddof=1)))
    True
    """

    _parameter_constraints = {
        "n_factors": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"auto", "eigh"})],
    }

    def __init__(self, *, n_factors=1, solver="auto"):
        self.n_factors = n_factors
        self.solver = solver

    def fit(self, X, y=None):
        """Fit the factor model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Returns, one row per period and one column per asset.
        y : array-like of shape (n_samples,) or (n_samples, n_factors), default=None
            Returns of observed factors over the same periods. If None,
            ``n_factors`` statistical factors are extracted from `X`.

        Returns
        -------
        self : FactorModelCovariance
            The fitted estimator.
        """
        validate_params(self)
        if y is None:
            X = validate_matrix(self, X, ensure_min_samples=2)
            self._check_statistical_shape(X.shape)
            location = X.mean(axis=0)
            loadings, factor_covariance, residual_ss = _principal_factors(
                X, location, self.n_factors, self.solver
            )
        else:
            X, y = validate_data(
                self,
                X,
                y,
                dtype=np.float64,
                multi_output=True,
                y_numeric=True,
                ensure_min_samples=2,
            )
            y = y.reshape(len(y), -1).astype(np.float64, copy=False)
            _check_observed_shape(y.shape)
            location = X.mean(axis=0)
            loadings, factor_covariance, residual_ss = _regression_factors(
                X, location, y
            )
        self._set_structure(
            location,
            FactorCovariance(
                loadings, factor_covariance, residual_ss / (X.shape[0] - 1)
            ),
        )
        return self

    def _check_statistical_shape(self, shape):
        n_samples, n_features = shape
        if self.n_factors >= min(n_samples, n_features):
            raise ValueError(
                f"n_factors={self.n_factors} statistical factors must be fewer "
                "than both the observations and the assets; got "
                f"n_samples={n_samples} and n_features={n_features}."
            )

    def _set_structure(self, location, structure):
        self.location_ = location
        self.factor_structure_ = structure
        self.loadings_ = structure.loadings
        self.factor_covariance_ = structure.factor_covariance
        self.idiosyncratic_variances_ = structure.idiosyncratic
        self._dense_covariance = None

    @property
    def covariance_(self):
        """The dense covariance ``B F B' + diag(d)``, built on first access."""
        check_is_fitted(self, "factor_structure_")
        if self._dense_covariance is None:
            self._dense_covariance = self.factor_structure_.dense()
        return self._dense_covariance

    @property
    def precision_(self):
        """The inverse covariance by the Woodbury identity (not cached)."""
        check_is_fitted(self, "factor_structure_")
        structure = self.factor_structure_
        precision = structure.solve(np.eye(structure.n_assets))
        return (precision + precision.T) / 2.0

    def get_precision(self):
        """The precision matrix, the inverse of ``covariance_``.

        Returns
        -------
        ndarray of shape (n_features, n_features)
        """
        return self.precision_


def _check_observed_shape(y_shape):
    n_samples, n_factors = y_shape
    if n_samples < n_factors + 2:
        raise ValueError(
            f"A regression on {n_factors} factors with an intercept needs at "
            f"least {n_factors + 2} observations to leave a residual; got "
            f"{n_samples}."
        )


def _principal_factors(X, location, n_factors, solver):
    """Loadings, factor covariance and residual sums of squares of the top PCs."""
    n_samples = X.shape[0]
    eigenpairs = None
    if solver == "auto":
        eigenpairs = _eigenpairs_from_data(X, location, n_factors)
    if eigenpairs is None:
        eigenpairs = _eigenpairs_from_gram(X, location, n_factors)
    eigenvalues, scores_basis = eigenpairs
    # With X_c = U S V', projecting on U gives V S: the loadings times the
    # singular values, and the residuals X_c - U U' X_c.
    projections, residual_ss = _project_columns(X, location, scores_basis)
    loadings = projections / np.sqrt(eigenvalues)
    loadings *= np.sign(
        loadings[np.argmax(np.abs(loadings), axis=0), np.arange(n_factors)]
    )
    return loadings, np.diag(eigenvalues / (n_samples - 1)), residual_ss


def _eigenpairs_from_data(X, location, n_factors):
    """The top eigenpairs of ``X_c X_c'`` by block Krylov on products with ``X``.

    Tried when the steps well separated factors take cost less than the
    Gram path, with as many steps as cost what it does. None when that does
    not pay, when the iteration gives up, or when the mean of the returns is
    so large next to their variation that centring through the products (see
    :func:`_data_gram_product`) would lose digits the Gram path keeps.
    """
    n_samples = X.shape[0]
    max_steps = _affordable_data_steps(X.shape, n_factors + KRYLOV_OVERSAMPLING)
    if max_steps < EXPECTED_DATA_STEPS:
        return None
    eigenpairs = largest_eigenpairs(
        _data_gram_product(X, location), n_samples, n_factors, max_steps
    )
    if eigenpairs is None:
        return None
    # ||1 x̄'||² = T ||x̄||² against ||X_c||² = λ_1: the products then lose at
    # most a factor 4 in accuracy to explicit centring.
    if n_samples * (location @ location) > eigenpairs[0][0]:
        return None
    return eigenpairs


def _affordable_data_steps(shape, block):
    """The block Krylov steps through a ``T x N`` array that cost what the Gram path does.

    ``s`` steps take ``4 T N b s`` flops of products with ``X`` and about
    ``2 T b² s²`` orthogonalising each new block against the basis.
    """
    n_samples, n_features = shape
    small, large = min(shape), max(shape)
    gram_flops = float(small) ** 2 * (large + EIGH_COST * small)
    budget = gram_flops / (DATA_FLOP_COST * 2.0 * n_samples * block)
    # The largest s with s (2 N + b s) <= budget.
    return int((np.sqrt(n_features**2 + block * budget) - n_features) / block)


def _data_gram_product(X, location):
    """``V -> X_c X_c' V`` through products with ``X``, for blocks ``V`` (T x b).

    With ``X_c = X - 1 x̄'``: ``W = X_c'V = X'V - x̄ (1'V)`` and
    ``X_c W = X W - 1 (x̄'W)``, so no centred copy of ``X`` is made. Both
    products run over blocks of columns of ``X`` (``BLOCK_BYTES`` each),
    which are read from memory once per product and stay in cache for the
    second.
    """
    slices = _column_slices(X)

    def apply(V):
        column_sums = V.sum(axis=0)
        transposed = np.ascontiguousarray(V.T)
        product = np.zeros(V.shape)
        block_product = np.empty(V.shape)
        mean_product = np.zeros(V.shape[1])
        for columns in slices:
            data = X[:, columns]
            coefficients = (transposed @ data).T
            coefficients -= np.outer(location[columns], column_sums)
            np.matmul(data, coefficients, out=block_product)
            product += block_product
            mean_product += location[columns] @ coefficients
        product -= mean_product
        return product

    return apply


def _eigenpairs_from_gram(X, location, n_factors):
    """The top eigenpairs of ``X_c X_c'`` from the Gram matrix of the smaller side.

    Returns the eigenvalues and the orthonormal scores basis ``U`` (T x K).
    """
    n_samples, n_features = X.shape
    if n_samples <= n_features:
        return _top_eigenpairs(_centred_row_gram(X, location), n_factors)
    centred = X - location
    eigenvalues, components = _top_eigenpairs(centred.T @ centred, n_factors)
    return eigenvalues, (centred @ components) / np.sqrt(eigenvalues)


def _centred_row_gram(X, location):
    """``X_c X_c'`` (upper triangle) without holding a centred copy of ``X``."""
    n_samples = X.shape[0]
    gram = np.zeros((n_samples, n_samples), order="F")
    for _, centred in _centred_column_blocks(X, location):
        # syrk on the transposed (Fortran-ordered) block: no copy, half the flops.
        dsyrk(1.0, centred.T, beta=1.0, c=gram, trans=1, overwrite_c=True)
    return gram


def _top_eigenpairs(gram, n_factors):
    """The ``n_factors`` largest eigenpairs of a Gram matrix, largest first.

    Only the upper triangle of `gram` is read, and it is overwritten.
    """
    size = gram.shape[0]
    eigenvalues, vectors = eigh(
        gram,
        lower=False,
        subset_by_index=[size - n_factors, size - 1],
        overwrite_a=True,
        check_finite=False,
    )
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    rank_tol = size * np.finfo(np.float64).eps * max(eigenvalues[0], 0.0)
    if eigenvalues[-1] <= rank_tol:
        rank = int(np.sum(eigenvalues > rank_tol))
        raise ValueError(
            f"n_factors={n_factors} exceeds the number of principal components "
            f"with non-zero variance ({rank}): the centred returns have rank {rank}."
        )
    return eigenvalues, np.ascontiguousarray(vectors)


def _regression_factors(X, location, factors):
    """OLS slopes, factor covariance and residual sums of squares."""
    n_samples = X.shape[0]
    centred_factors = factors - factors.mean(axis=0)
    left, singular, right_t = svd(centred_factors, full_matrices=False)
    tol = max(factors.shape) * np.finfo(np.float64).eps * singular.max(initial=0.0)
    rank = int(np.sum(singular > tol))
    left, singular, right_t = left[:, :rank], singular[:rank], right_t[:rank]
    projections, residual_ss = _project_columns(X, location, left)
    # The slopes are the projections rotated back to the factors' coordinates
    # (the minimum-norm solution when the factors are collinear).
    loadings = (projections / singular) @ right_t
    factor_covariance = centred_factors.T @ centred_factors / (n_samples - 1)
    return loadings, factor_covariance, residual_ss


def _project_columns(X, location, basis):
    """Project the centred columns of ``X`` on an orthonormal ``basis`` (T x r).

    Returns the coordinates ``X_c' basis`` (N x r) and the column sums of
    squares of the residuals ``X_c - basis basis' X_c``, computed block by
    block from the residuals themselves so no centred copy of ``X`` is held
    and a small residual keeps its relative accuracy.
    """
    projections = np.empty((X.shape[1], basis.shape[1]))
    residual_ss = np.empty(X.shape[1])
    basis = np.asfortranarray(basis)
    for block, centred in _centred_column_blocks(X, location):
        # scipy's BLAS for both products, as for the Gram matrix: numpy's is
        # a second OpenBLAS, whose threads would keep spinning while these
        # run and take the cores from them.
        coordinates = dgemm(1.0, centred.T, basis)
        projections[block] = coordinates
        # In place on the transposed (Fortran-ordered) block:
        # X_c' := X_c' - coordinates basis'.
        dgemm(-1.0, coordinates, basis, beta=1.0, c=centred.T, trans_b=1, overwrite_c=1)
        residual_ss[block] = np.einsum("ij,ij->j", centred, centred)
    return projections, residual_ss


def _centred_column_blocks(X, location):
    """``(columns, X[:, columns] - location[columns])`` for blocks of columns.

    The blocks hold about ``BLOCK_BYTES`` each, small enough to stay in
    cache between the operations on one block, and share one buffer
    (C-ordered), so each is only valid until the next is produced: a fresh
    temporary of that size per block would cost its page faults every time.
    """
    slices = _column_slices(X)
    buffer = np.empty((X.shape[0], slices[0].stop))
    for columns in slices:
        size = columns.stop - columns.start
        centred = buffer if size == buffer.shape[1] else np.empty((X.shape[0], size))
        np.subtract(X[:, columns], location[columns], out=centred)
        yield columns, centred


def _column_slices(X):
    """Slices of columns of ``X`` holding about ``BLOCK_BYTES`` each."""
    n_samples, n_features = X.shape
    width = max(1, BLOCK_BYTES // (X.itemsize * n_samples))
    return [
        slice(start, min(start + width, n_features))
        for start in range(0, n_features, width)
    ]


def _frozen_array(a, name, ndim):
    a = np.array(a, dtype=np.float64)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite.")
    a.flags.writeable = False
    return a


def _psd_root(factor_covariance):
    """``G`` with ``G G' = F`` for a symmetric positive semi-definite ``F``."""
    if factor_covariance.size == 0:
        return np.zeros_like(factor_covariance)
    scale = np.abs(factor_covariance).max()
    if np.abs(factor_covariance - factor_covariance.T).max() > PSD_RTOL * scale:
        raise ValueError("factor_covariance must be symmetric.")
    eigenvalues, vectors = eigh(factor_covariance)
    if eigenvalues[0] < -PSD_RTOL * max(eigenvalues[-1], 0.0):
        raise NotPositiveSemidefiniteError(
            "factor_covariance must be positive semi-definite; its smallest "
            f"eigenvalue is {eigenvalues[0]:.3g}."
        )
    return vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))


def _floor_idiosyncratic(factor_variances, idiosyncratic):
    total = factor_variances + idiosyncratic
    largest = total.max(initial=0.0)
    if largest <= 0.0:
        raise ValueError(
            "The covariance is zero: every asset has zero factor and "
            "idiosyncratic variance."
        )
    reference = np.where(total > 0.0, total, largest)
    return np.maximum(idiosyncratic, IDIOSYNCRATIC_FLOOR * reference)


def _scale_rows(a, scale):
    return a * scale if a.ndim == 1 else a * scale[:, np.newaxis]


@dataclass(frozen=True)
class _Woodbury:
    r"""What solves with ``diag(diagonal) + U U'`` share, for one diagonal.

    ``inv_sqrt`` is :math:`D^{-1/2}`, ``scaled_root`` :math:`\tilde U =
    D^{-1/2} U` and ``cholesky`` the lower Cholesky factor of the capacitance
    matrix :math:`I + \tilde U'\tilde U` (None without factors).
    """

    inv_sqrt: np.ndarray
    scaled_root: np.ndarray
    cholesky: np.ndarray | None

    @classmethod
    def factor(cls, root, diagonal):
        inv_sqrt = 1.0 / np.sqrt(diagonal)
        scaled_root = root * inv_sqrt[:, np.newaxis]
        if root.shape[1] == 0:
            return cls(inv_sqrt, scaled_root, None)
        capacitance = scaled_root.T @ scaled_root
        capacitance.flat[:: root.shape[1] + 1] += 1.0
        # LAPACK directly: for K x K matrices scipy's cho_factor and cho_solve
        # wrappers cost more than the factorisation. The eigenvalues of the
        # capacitance matrix are at least 1: only overflow can make it fail.
        cholesky, info = dpotrf(capacitance, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            raise LinAlgError(
                f"The Woodbury capacitance matrix could not be factored "
                f"(LAPACK dpotrf info={info}): the covariance overflows."
            )
        return cls(inv_sqrt, scaled_root, cholesky)

    def solve(self, rhs):
        """``x`` with ``(D + U U') x = rhs``, on the rows scaled by ``D^{-1/2}``."""
        scaled_rhs = _scale_rows(rhs, self.inv_sqrt)
        if self.cholesky is not None:
            coefficients, _ = dpotrs(
                self.cholesky, self.scaled_root.T @ scaled_rhs, lower=1
            )
            scaled_rhs = scaled_rhs - self.scaled_root @ coefficients
        return _scale_rows(scaled_rhs, self.inv_sqrt)
