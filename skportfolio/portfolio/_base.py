"""Base class and shared machinery of the portfolio estimators.

:class:`BasePortfolio` validates the returns, calls the one method a concrete
estimator implements, ``_fit_weights(X, y)``, and stores the weights.
:class:`MomentsMixin` estimates the covariance and mean with any estimator
that has scikit-learn's covariance API, and :class:`ConstraintsMixin` turns the
shared constraint parameters into one
:class:`~skportfolio._constraints.LinearConstraints`.
"""

from abc import ABCMeta, abstractmethod
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_array, check_is_fitted

from skportfolio._constraints import GeneratedNames, LinearConstraints, expand_bound
from skportfolio._validation import validate_matrix, validate_params
from skportfolio.covariance._operator import DenseCovariance, SampleCovariance
from skportfolio.covariance._operator import nearest_psd as nearest_psd
from skportfolio.metrics import sharpe_ratio


class BasePortfolio(BaseEstimator, metaclass=ABCMeta):
    """Base class of the portfolio estimators.

    ``fit(X, y=None)`` takes asset returns ``X`` (periods x assets) and,
    optionally, benchmark returns ``y``; ``predict(X)`` returns the
    portfolio's returns ``X @ weights_`` and ``score(X, y=None)`` their
    per-period Sharpe ratio (information ratio against ``y`` when given).
    """

    _parameter_constraints: dict = {}

    def fit(self, X, y=None):
        """Estimate the portfolio weights from asset returns.

        Parameters
        ----------
        X : array-like of shape (n_periods, n_assets)
            Asset returns, one row per period. DataFrame column names become
            the asset names (``feature_names_in_``).
        y : array-like of shape (n_periods,), default=None
            Benchmark returns. Estimators that support a benchmark optimise
            relative to it (see each estimator); the others ignore it.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        validate_params(self)
        X = validate_matrix(self, X, ensure_min_samples=2)
        y = self._check_benchmark(X, y)
        self.weights_ = self._fit_weights(X, y)
        return self

    @abstractmethod
    def _fit_weights(self, X, y):
        """Return the weights (n_assets,) for validated returns and benchmark."""

    @staticmethod
    def _check_benchmark(X, y):
        if y is None:
            return None
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(
                f"The benchmark y must have shape ({X.shape[0]},) to match X; got {y.shape}."
            )
        return y

    def predict(self, X):
        """Returns of the fitted portfolio, ``X @ weights_``.

        Parameters
        ----------
        X : array-like of shape (n_periods, n_assets)

        Returns
        -------
        ndarray of shape (n_periods,)
        """
        check_is_fitted(self)
        X = validate_matrix(self, X, reset=False)
        return X @ self.weights_

    def score(self, X, y=None):
        """Per-period Sharpe ratio of the portfolio's returns on ``X``.

        The mean return divided by its standard deviation (``ddof=1``), not
        annualised; with a benchmark ``y``, the same ratio for the active
        returns ``X @ weights_ - y`` (the information ratio). NaN when the
        returns are constant.

        Parameters
        ----------
        X : array-like of shape (n_periods, n_assets)
        y : array-like of shape (n_periods,), default=None

        Returns
        -------
        float
        """
        returns = self.predict(X)
        benchmark = 0.0 if y is None else self._check_benchmark(returns[:, None], y)
        return float(sharpe_ratio(returns, risk_free=benchmark, periods_per_year=None))

    @property
    def weights_series_(self):
        """The weights as a :class:`pandas.Series` indexed by asset name."""
        check_is_fitted(self)
        index = getattr(self, "feature_names_in_", None)
        return pd.Series(self.weights_, index=index, name="weight")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.sparse = False
        return tags

    def _asset_names(self):
        names = getattr(self, "feature_names_in_", None)
        return None if names is None else [str(name) for name in names]


class MomentsMixin:
    """Covariance (and mean) estimation shared by the portfolio estimators.

    ``covariance_estimator=None`` means the sample covariance (``ddof=1``);
    any object with ``fit(X)`` and a ``covariance_`` attribute is cloned and
    fitted. ``mean_estimator=None`` means the sample mean; any object with
    ``fit(X)`` and a ``location_`` attribute is accepted.

    A fitted covariance estimator with a ``factor_structure_`` attribute (a
    :class:`~skportfolio.covariance.FactorCovariance`, as
    :class:`~skportfolio.covariance.FactorModelCovariance` has) takes the
    factor path: its ``covariance_`` is not read, the structure is kept as
    ``covariance_structure_``, and the estimator's ``covariance_`` is built
    from it only when first read. With a benchmark the factor model is
    fitted to the assets and the benchmark together, like any covariance
    estimator: the assets' structure is its restriction to them, and their
    covariances with the benchmark are its benchmark column
    (``O(N K)``).

    The sample covariance is handed to the optimisers of
    :class:`~skportfolio.MinimumVariance`, :class:`~skportfolio.MeanVariance`
    and :class:`~skportfolio.InverseVolatility` as a
    :class:`~skportfolio.covariance.SampleCovariance`, which computes
    products and blocks from the centred returns and forms the ``N x N``
    matrix only if the solver needs it: a long-only optimum holding few
    assets is then found in less time than ``np.cov`` takes. When the
    matrix was not formed, the fitted estimator keeps the centred returns
    (``T x N``), or the triangle of their Gram matrix that a closed form or
    risk budgeting worked from, and builds ``covariance_`` from them when it
    is first read.
    """

    _moment_parameter_constraints = {
        "covariance_estimator": [HasMethods(["fit"]), None],
    }

    @property
    def covariance_(self):
        """The covariance used, ``(n_assets, n_assets)``.

        When the optimiser did not need the matrix (the factor path, or the
        sample covariance kept as returns), it is built when first read
        (``O(N^2 K)`` or ``O(T N^2)`` time, ``N^2`` memory) and cached.
        """
        dense = self.__dict__.get("_covariance")
        if dense is None:
            source = self.__dict__.get("_covariance_source")
            if source is None:
                raise AttributeError(
                    f"This {type(self).__name__} instance has no covariance_: it "
                    "is not fitted yet."
                )
            dense = self._covariance = source.dense()
        return dense

    @covariance_.setter
    def covariance_(self, value):
        self._covariance = value

    def _estimate_covariance(self, X, y=None, *, gram=False):
        """The covariance of the returns as an operator, and their covariance with ``y``.

        With a benchmark the covariance estimator sees the assets and the
        benchmark together, so that shrinkage treats them consistently.
        Returns ``(operator, cross_covariance)``:

        * on the factor path (see the class documentation) the
          :class:`~skportfolio.covariance.FactorCovariance` of the assets,
          also set as ``covariance_structure_``;
        * for the sample covariance a
          :class:`~skportfolio.covariance.SampleCovariance`, whose matrix is
          left for the optimiser to form if it needs it (a working-set solve
          usually does not), ``covariance_`` being built when first read;
          with ``gram=True`` (for an optimiser that needs all of Σ: a closed
          form, Newton's method) it keeps one triangle of the Gram matrix of
          the returns instead of the returns (without a benchmark);
        * otherwise a :class:`~skportfolio.covariance.DenseCovariance` of
          ``covariance_``, which is set.
        """
        n = X.shape[1]
        for name in ("covariance_structure_", "_covariance", "_covariance_source"):
            self.__dict__.pop(name, None)
        if self.covariance_estimator is None:
            operator = SampleCovariance(X, gram=gram and y is None)
            cross = None if y is None else operator.cross_covariance(y)
            self._covariance_source = operator
            return operator, cross
        Z = X if y is None else np.column_stack([X, y])
        estimator = clone(self.covariance_estimator).fit(Z)
        structure = getattr(estimator, "factor_structure_", None)
        if structure is not None:
            return self._keep_structure(structure, Z.shape[1], n)
        C = _checked_covariance(
            np.asarray(estimator.covariance_, dtype=float), Z.shape[1]
        )
        self.covariance_ = C if y is None else np.ascontiguousarray(C[:n, :n])
        cross = None if y is None else C[:n, n]
        return DenseCovariance(self.covariance_), cross

    def _keep_structure(self, structure, n_columns, n_assets):
        """The factor path: the structure of the assets and the cross-covariance."""
        if structure.n_assets != n_columns:
            raise ValueError(
                f"The covariance estimator's factor_structure_ covers "
                f"{structure.n_assets} assets; expected {n_columns}."
            )
        if n_columns == n_assets:
            self.covariance_structure_ = self._covariance_source = structure
            return structure, None
        # With a benchmark, the last column of the joint model is the
        # benchmark: its covariances with the assets are that column's rows.
        assets = np.arange(n_assets)
        self.covariance_structure_ = self._covariance_source = structure.restrict(
            assets
        )
        cross = structure.submatrix(assets, [n_assets])[:, 0]
        return self.covariance_structure_, cross

    def _estimate_mean(self, X, sample_mean=None):
        """Expected returns of the assets; sets ``mean_``.

        ``sample_mean``, when already computed (by the covariance), is used
        as the default estimate instead of another pass over ``X``.
        """
        if getattr(self, "mean_estimator", None) is None:
            mean = X.mean(axis=0) if sample_mean is None else sample_mean
        else:
            mean = np.asarray(clone(self.mean_estimator).fit(X).location_, dtype=float)
        if mean.shape != (X.shape[1],) or not np.all(np.isfinite(mean)):
            raise ValueError(
                f"The mean estimator returned location_ of shape {mean.shape} with "
                f"non-finite values or the wrong size; expected ({X.shape[1]},)."
            )
        self.mean_ = mean
        return mean


def _checked_covariance(C, n):
    if C.shape != (n, n):
        raise ValueError(
            f"The covariance estimator returned a matrix of shape {C.shape}; expected ({n}, {n})."
        )
    if not np.all(np.isfinite(C)):
        raise ValueError("The covariance estimate contains NaN or infinite values.")
    return 0.5 * (C + C.T)


class ConstraintsMixin:
    """Weight constraints shared by the optimising estimators.

    Parameters read from the estimator: ``min_weights``, ``max_weights``
    (scalar, array or dict keyed by asset name; None for no bound),
    ``budget`` (sum of the weights; None for none), ``groups`` with
    ``group_bounds``, and general ``A_eq, b_eq, A_ub, b_ub``.
    """

    _constraint_parameter_constraints = {
        "min_weights": [Real, "array-like", dict, None],
        "max_weights": [Real, "array-like", dict, None],
        "budget": [Interval(Real, None, None, closed="neither"), None],
        "groups": ["array-like", dict, None],
        "group_bounds": [dict, None],
        "A_eq": ["array-like", None],
        "b_eq": ["array-like", None],
        "A_ub": ["array-like", None],
        "b_ub": ["array-like", None],
    }

    def _build_constraints(self, n_assets):
        """One :class:`LinearConstraints` from the constraint parameters.

        Rows in order: the budget, ``A_eq``; ``A_ub``, then the group bounds.
        """
        names = self._asset_names()
        var_names = names or GeneratedNames("asset {}", n_assets)
        constraints = LinearConstraints.from_bounds(
            n_assets,
            lb=expand_bound(
                self.min_weights,
                n_assets,
                default=-np.inf,
                name="min_weights",
                var_names=names,
            ),
            ub=expand_bound(
                self.max_weights,
                n_assets,
                default=np.inf,
                name="max_weights",
                var_names=names,
            ),
            total=self.budget,
            total_name="the sum of the weights (budget)",
            var_names=var_names,
        )
        if any(a is not None for a in (self.A_eq, self.b_eq, self.A_ub, self.b_ub)):
            constraints = constraints.stacked(
                LinearConstraints.from_arrays(
                    n_assets,
                    A_eq=self.A_eq,
                    b_eq=self.b_eq,
                    A_ub=self.A_ub,
                    b_ub=self.b_ub,
                    eq_names=_row_names("A_eq", self.A_eq, "="),
                    ub_names=_row_names("A_ub", self.A_ub, "<="),
                    var_names=var_names,
                )
            )
        if self.groups is None and self.group_bounds is None:
            return constraints
        return constraints.stacked(self._group_constraints(n_assets, var_names))

    def _group_constraints(self, n_assets, var_names):
        if self.groups is None:
            if self.group_bounds is not None:
                raise ValueError("group_bounds is set but groups is None.")
            return LinearConstraints.from_arrays(n_assets, var_names=var_names)
        labels = _group_labels(self.groups, n_assets, self._asset_names())
        rows, rhs, row_names = [], [], []
        for group, bounds in (self.group_bounds or {}).items():
            members = labels == group
            if not members.any():
                raise ValueError(
                    f"group_bounds names group {group!r}, which has no assets."
                )
            low, high = bounds
            if high is not None:
                rows.append(members.astype(float))
                rhs.append(high)
                row_names.append(f"the total weight of group {group!r}")
            if low is not None:
                rows.append(-members.astype(float))
                rhs.append(-low)
                row_names.append(f"minus the total weight of group {group!r}")
        return LinearConstraints.from_arrays(
            n_assets,
            A_ub=np.array(rows) if rows else None,
            b_ub=rhs if rows else None,
            ub_names=row_names if rows else None,
            var_names=var_names,
        )


def _row_names(matrix_name, A, relation):
    if A is None:
        return None
    return [
        f"row {i} of {matrix_name} ({matrix_name}[{i}] @ w {relation} b)"
        for i in range(np.shape(A)[0])
    ]


def _group_labels(groups, n_assets, names):
    if isinstance(groups, dict):
        if names is None:
            raise ValueError(
                "groups is a dict keyed by asset name: fit on a DataFrame with column names."
            )
        missing = sorted(set(names) - set(map(str, groups)))
        if missing:
            raise ValueError(f"groups does not assign a group to the assets {missing}.")
        lookup = {str(k): v for k, v in groups.items()}
        return np.array([lookup[name] for name in names], dtype=object)
    labels = np.asarray(groups, dtype=object)
    if labels.shape != (n_assets,):
        raise ValueError(
            f"groups must have one label per asset ({n_assets}); got shape {labels.shape}."
        )
    return labels
