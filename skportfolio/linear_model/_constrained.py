"""Linear regression with linearly constrained coefficients."""

from numbers import Real

import numpy as np
from scipy.linalg import lstsq, qr, solve_triangular
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from skportfolio._constraints import (
    LinearConstraints,
    expand_bound,
    independent_equalities,
)
from skportfolio._qp import RCOND_MIN, QuadraticProgram, _rcond
from skportfolio._validation import (
    check_plain_features,
    has_finite_sum,
    is_plain_2d,
    is_plain_array,
    validate_matrix,
    validate_params,
)
from skportfolio.covariance._operator import DenseCovariance
from skportfolio.linear_model._factorization import (
    design_factor,
    gram_cholesky,
    keeps_the_digits,
    qr_factor,
)
from skportfolio.linear_model._working_set import (
    LeastSquaresWorkingSet,
    worth_restricting,
)

# Singular values below this fraction of the largest are treated as zero in the
# minimum-norm least-squares paths: LinearRegression's default ``tol``, so the
# unconstrained fit reproduces it, rank-deficient cases included.
LSTSQ_RCOND = 1e-6


def regression_constraints(
    n_features,
    *,
    positive=False,
    sum_to=None,
    bounds=None,
    A_eq=None,
    b_eq=None,
    A_ub=None,
    b_ub=None,
    feature_names=None,
):
    """Assemble the coefficient constraints of :class:`ConstrainedLinearRegression`.

    Returns a :class:`~skportfolio._constraints.LinearConstraints` whose rows
    carry readable names ("the sum of the coefficients", "A_eq[0]", ...).
    """
    names = None if feature_names is None else tuple(map(str, feature_names))
    if bounds is None:
        # positive alone is the scalar lower bound 0, expanded by from_bounds
        lb, ub = (0.0 if positive else None), None
    else:
        lb, ub = _expanded_bounds(bounds, n_features, positive, names)
    constraints = LinearConstraints.from_bounds(
        n_features,
        lb=lb,
        ub=ub,
        total=sum_to,
        total_name="the sum of the coefficients",
        var_names=names,
    )
    if A_eq is None and b_eq is None and A_ub is None and b_ub is None:
        return constraints
    return constraints.stacked(
        LinearConstraints.from_arrays(
            n_features,
            A_eq=A_eq,
            b_eq=b_eq,
            A_ub=A_ub,
            b_ub=b_ub,
            eq_names=_row_names("A_eq", A_eq),
            ub_names=_row_names("A_ub", A_ub),
            var_names=names,
        )
    )


def _expanded_bounds(bounds, n_features, positive, names):
    """The ``(lower, upper)`` arrays of ``bounds``, lower raised to 0 if ``positive``."""
    lower, upper = _bounds_pair(bounds)
    lb = expand_bound(
        lower, n_features, default=-np.inf, name="bounds[0]", var_names=names
    )
    ub = expand_bound(
        upper, n_features, default=np.inf, name="bounds[1]", var_names=names
    )
    return (np.maximum(lb, 0.0) if positive else lb), ub


def _row_names(matrix_name, A):
    if A is None:
        return None
    return [f"{matrix_name}[{i}] @ coef" for i in range(np.atleast_2d(A).shape[0])]


def _bounds_pair(bounds):
    if isinstance(bounds, np.ndarray) and bounds.ndim == 2 and bounds.shape[0] == 2:
        return bounds[0], bounds[1]
    if len(bounds) != 2:
        raise ValueError(
            "bounds must be a (lower, upper) pair of scalars, arrays or None; "
            f"got a sequence of length {len(bounds)}."
        )
    return bounds[0], bounds[1]


class LeastSquaresSolver:
    """Minimise ``||y - X b||^2`` over ``b`` under linear constraints.

    The design matrix is factorised once and reused for every target:

    * no constraints: LAPACK ``gelsd`` (minimum-norm least squares, as
      :class:`sklearn.linear_model.LinearRegression`);
    * equalities only: the closed form through the null space of ``A_eq``;
    * inequalities or bounds: the QP layer on the factor ``R`` (``X'X = R'R``).

    ``R`` comes from a Cholesky factorisation of ``X'X`` when that matrix has a
    condition number below ``GRAM_COND_MAX``, otherwise from a QR factorisation
    of ``X``, which keeps the digits that squaring the condition number loses
    (see :mod:`skportfolio.linear_model._factorization`). In that case, when
    most coefficients have a lower bound (``positive=True``), each target is
    first solved over working sets of a few columns, whose Gram blocks are
    usually well conditioned even when ``X`` is not, and the QR factor of all
    of ``X`` is computed only if that fails
    (:mod:`skportfolio.linear_model._working_set`).
    """

    def __init__(self, X, constraints):
        self.X = X
        self.constraints = constraints
        if constraints.is_empty:
            self.method = "lstsq"
            return
        if not constraints.has_inequalities:
            self.method = "closed_form"
            self.R, self.factorization, self.rcond = design_factor(X)
            self.constraints, _ = independent_equalities(constraints)
            return
        self.method = "quadprog"
        # np.dot takes numpy's own syrk route for X'X with less overhead than
        # matmul, which shows on a few hundred rows.
        gram = np.dot(X.T, X)
        self.qp = None
        if worth_restricting(X, constraints):
            R, rcond = gram_cholesky(gram)
            if not keeps_the_digits(rcond):
                self.factorization = "working_set"
                self.gram = DenseCovariance(gram, psd_by_construction=True)
                return
            self.R, self.factorization, self.rcond = R, "cholesky", rcond
        else:
            self.R, self.factorization, self.rcond = design_factor(X, gram)
        if self.R is not None:
            self.qp = QuadraticProgram(constraints, R=self.R, rcond=self.rcond)
        else:
            self.qp = QuadraticProgram(constraints, P=gram)

    def solve(self, Y):
        """Coefficients of shape ``(n_targets, n_features)`` for ``Y`` (n, n_targets)."""
        if self.method == "lstsq":
            return lstsq(self.X, Y, cond=LSTSQ_RCOND, check_finite=False)[0].T
        if self.method == "closed_form":
            return self._solve_equalities(Y)
        XtY = self.X.T @ Y
        return np.array([self._minimiser(-XtY[:, k]) for k in range(Y.shape[1])])

    def _minimiser(self, q):
        if self.factorization != "working_set":
            return self.qp.minimiser(q)
        return (
            LeastSquaresWorkingSet(
                self.X, self.gram, q, self.constraints, self._solve_full
            )
            .solve()
            .x
        )

    def _solve_full(self, q):
        """The full problem on the QR factor of ``X``, computed on the first call."""
        if self.qp is None:
            R = qr_factor(self.X, self.gram.dense())
            self.qp = QuadraticProgram(self.constraints, R=R)
        return self.qp.solve(q)

    def _factor_rcond(self):
        return _rcond(self.R) if self.rcond is None else self.rcond

    def _solve_equalities(self, Y):
        """Null-space method: ``b = b0 + Z u`` with ``A b0 = b_eq`` and ``A Z = 0``.

        Equivalent to the Lagrangian closed form
        ``b = b_ls - (X'X)^{-1} A' (A (X'X)^{-1} A')^{-1} (A b_ls - b_eq)`` when
        ``X'X`` is invertible, and gives the minimum-norm solution when it is not.
        """
        A, b_eq = self.constraints.A_eq, self.constraints.b_eq
        Q, _ = qr(A.T, mode="full")
        m = A.shape[0]
        Z = Q[:, m:]
        b0 = lstsq(A, b_eq)[0]
        if self.R is not None and self._factor_rcond() >= RCOND_MIN:
            # ||X b - y||^2 = ||R b - R^{-T} X'y||^2 + const
            target = (
                solve_triangular(self.R, self.X.T @ Y, trans="T")
                - (self.R @ b0)[:, None]
            )
            design = self.R @ Z
        else:
            target = Y - (self.X @ b0)[:, None]
            design = self.X @ Z
        u = lstsq(design, target, cond=LSTSQ_RCOND)[0]
        return (b0[:, None] + Z @ u).T


class ConstrainedLinearRegression(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Linear regression whose coefficients obey bounds and linear constraints.

    A drop-in replacement for :class:`sklearn.linear_model.LinearRegression`:
    with no constraint it returns the same coefficients. Constraints turn it
    into return-based style analysis (coefficients non-negative, summing to
    one), index tracking, or any linearly constrained least-squares problem.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Fit an unconstrained intercept. The coefficients then minimise the
        *variance* of the residuals (a tracking portfolio's tracking-error
        variance); without intercept they minimise the plain sum of squares.
    positive : bool, default=False
        Force the coefficients to be non-negative (combined with ``bounds``).
    sum_to : float, default=None
        If given, the coefficients sum to this value (1 for style analysis
        and replicating portfolios).
    bounds : (lower, upper) pair, default=None
        Bounds on the coefficients as in :func:`scipy.optimize.lsq_linear`:
        each of ``lower`` and ``upper`` is a scalar, an array of shape
        ``(n_features,)``, a dict keyed by feature name (when fitted on a
        DataFrame), or None for no bound on that side.
    A_eq : array-like of shape (n_eq, n_features), default=None
        Rows of the equality constraints ``A_eq @ coef = b_eq``.
    b_eq : array-like of shape (n_eq,), default=None
    A_ub : array-like of shape (n_ub, n_features), default=None
        Rows of the inequality constraints ``A_ub @ coef <= b_ub``.
    b_ub : array-like of shape (n_ub,), default=None

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Estimated coefficients; the constraints hold for every target.
    weights_ : ndarray
        The coefficients again, under the name portfolio code reads.
    intercept_ : float or ndarray of shape (n_targets,)
        0.0 when ``fit_intercept=False``.
    solver_ : str
        The path taken: ``"lstsq"`` (no constraint), ``"closed_form"``
        (equalities only) or ``"quadprog"``.
    factorization_ : str or None
        How ``X'X`` was factorised on a constrained path: ``"cholesky"``,
        ``"qr"`` (ill-conditioned X), ``"working_set"`` (ill-conditioned X,
        solved over working sets of columns from the blocks of ``X'X``, with
        the QR factor of ``X`` as the fallback) or ``"gram"`` (more features
        than samples).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LinearRegression : The unconstrained estimator.
    skportfolio.MinimumVariance : Minimum tracking-error variance portfolios.

    Notes
    -----
    With weights :math:`s_i` (``sample_weight``) and, when ``fit_intercept``
    is True, weighted means :math:`\\bar x, \\bar y` subtracted first, the
    coefficients solve

    .. math::

        \\min_b \\; \\sum_i s_i (y_i - \\bar y - (x_i - \\bar x)^\\top b)^2
        \\quad \\text{s.t.} \\quad A_{eq} b = b_{eq},\\; A_{ub} b \\le b_{ub},
        \\; l \\le b \\le u

    and ``intercept_ = ȳ - x̄'b``. Centring makes the objective proportional
    to the variance of the residuals, so with ``fit_intercept=True`` the
    estimator minimises tracking-error variance; with ``fit_intercept=False``
    it minimises the sum of squares, which also penalises a mean difference.

    References
    ----------
    .. [1] W. F. Sharpe, "Asset allocation: management style and performance
       measurement", Journal of Portfolio Management 18(2), 1992.
    .. [2] D. Goldfarb and A. Idnani, "A numerically stable dual method for
       solving strictly convex quadratic programs", Mathematical Programming
       27, 1983.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio import ConstrainedLinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(100, 3))
    >>> y = X @ [0.2, 0.3, 0.5] + rng.normal(scale=0.2, size=100)
    >>> reg = ConstrainedLinearRegression(fit_intercept=False, positive=True, sum_to=1)
    >>> reg.fit(X, y).coef_.round(4)
    array([0.2408, 0.3399, 0.4193])
    >>> float(reg.coef_.sum())
    1.0
    """

    _parameter_constraints = {
        "fit_intercept": ["boolean"],
        "positive": ["boolean"],
        "sum_to": [Interval(Real, None, None, closed="neither"), None],
        "bounds": ["array-like", None],
        "A_eq": ["array-like", None],
        "b_eq": ["array-like", None],
        "A_ub": ["array-like", None],
        "b_ub": ["array-like", None],
    }

    def __init__(
        self,
        *,
        fit_intercept=True,
        positive=False,
        sum_to=None,
        bounds=None,
        A_eq=None,
        b_eq=None,
        A_ub=None,
        b_ub=None,
    ):
        self.fit_intercept = fit_intercept
        self.positive = positive
        self.sum_to = sum_to
        self.bounds = bounds
        self.A_eq = A_eq
        self.b_eq = b_eq
        self.A_ub = A_ub
        self.b_ub = b_ub

    def fit(self, X, y, sample_weight=None):
        """Fit the constrained linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; an integer weight is equivalent to
            repeating the row.

        Returns
        -------
        self : ConstrainedLinearRegression
        """
        validate_params(self)
        X, y = self._validate_training_data(X, y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, ensure_non_negative=True
            )
        X_design, Y, x_offset, y_offset = _center_and_weight(
            X, y, sample_weight, self.fit_intercept
        )
        constraints = regression_constraints(
            X.shape[1],
            positive=self.positive,
            sum_to=self.sum_to,
            bounds=self.bounds,
            A_eq=self.A_eq,
            b_eq=self.b_eq,
            A_ub=self.A_ub,
            b_ub=self.b_ub,
            feature_names=getattr(self, "feature_names_in_", None),
        )
        solver = LeastSquaresSolver(X_design, constraints)
        coef = solver.solve(Y)
        intercept = y_offset - coef @ x_offset if self.fit_intercept else y_offset
        self.coef_ = coef[0] if y.ndim == 1 else coef
        self.intercept_ = float(intercept[0]) if y.ndim == 1 else intercept
        self.weights_ = self.coef_
        self.solver_ = solver.method
        self.factorization_ = getattr(solver, "factorization", None)
        return self

    def _validate_training_data(self, X, y):
        """``validate_data(self, X, y, ...)`` as in any scikit-learn regressor.

        ``check_X_y`` returns a finite float64 ndarray ``X`` (2-d, at least one
        sample and one feature) and ``y`` (1-d, or 2-d with at least one
        target) with as many rows unchanged; for such inputs only the
        feature-name and feature-count bookkeeping of ``validate_data`` runs.
        That saves ``check_X_y``'s dataframe sniffing and conversion logic,
        about 0.2 ms, more than half of a whole fit on 250 x 10 data.
        Anything else, a NaN or infinity included, goes through ``check_X_y``
        for its conversions and its error messages.
        """
        if _is_plain_training_data(X, y):
            return check_plain_features(self, X, y)
        return validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=np.float64
        )

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        X = validate_matrix(self, X, reset=False)
        return X @ self.coef_.T + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _is_plain_training_data(X, y):
    """Whether ``check_X_y(X, y, multi_output=True, y_numeric=True,
    dtype=np.float64)`` would return ``X`` and ``y`` themselves.

    Finiteness is tested on the sums, one pass without a temporary (as
    scikit-learn's own first test): a NaN or infinity makes a sum non-finite;
    so may an overflow of finite values, which then merely takes the full
    check.
    """
    return (
        is_plain_array(y)
        and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] > 0))
        and is_plain_2d(X)
        and X.shape[0] == y.shape[0]
        and has_finite_sum(X, y)
    )


def _center_and_weight(X, y, sample_weight, fit_intercept):
    """Design matrix and targets of the equivalent unweighted, uncentred problem."""
    Y = y.reshape(len(y), -1)
    x_offset, y_offset = np.zeros(X.shape[1]), np.zeros(Y.shape[1])
    if fit_intercept:
        x_offset = _column_means(X, sample_weight)
        y_offset = _column_means(Y, sample_weight)
        X, Y = X - x_offset, Y - y_offset
    if sample_weight is not None:
        root = np.sqrt(sample_weight)[:, None]
        X, Y = X * root, Y * root
    return X, Y, x_offset, y_offset


def _column_means(A, sample_weight):
    # np.average without weights is A.mean(axis=0) behind a slower wrapper,
    # which costs more than the mean itself on a few hundred rows.
    if sample_weight is None:
        return A.mean(axis=0)
    return np.average(A, axis=0, weights=sample_weight)
