"""Fast paths around scikit-learn's parameter and input validation.

A portfolio or regression fit on a few hundred periods takes a millisecond or
less, and scikit-learn's checks are a large part of it, most of all in model
selection, where they run for every fit and every score:

* ``BaseEstimator._validate_params`` introspects the signature of
  ``__init__`` and rebuilds every constraint object on each call;
* ``validate_data`` sniffs for dataframes and array-API namespaces and
  converts the input, even when it is already a finite float64 matrix.

The functions here give the same result for the inputs that need none of
that (plain numbers and ``None`` that satisfy the declared constraints, a
finite float64 ndarray), decided by the very constraint objects
scikit-learn would use, and hand everything else to scikit-learn, with its
conversions and its error messages.
"""

import math
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

_MISSING = object()


def validate_params(estimator):
    """``estimator._validate_params()``, skipped when every value is plainly valid.

    A parameter is plainly valid when its value is None and None is allowed,
    a boolean where ``"boolean"`` is allowed, a real number that one of its
    ``Interval`` constraints or a number type among its constraints accepts,
    or a string in one of its ``StrOptions``. Anything else, an estimator or
    an array included, is left to scikit-learn.
    """
    if not has_plainly_valid_parameters(estimator):
        estimator._validate_params()


def has_plainly_valid_parameters(estimator):
    """Whether every constrained parameter of ``estimator`` is plainly valid."""
    values = vars(estimator)
    for name, allows_none, accepts in _plain_checks(type(estimator)):
        value = values.get(name, _MISSING)
        # None, the commonest value, is decided without a call.
        if value is None:
            if not allows_none:
                return False
        elif not accepts(value):
            return False
    return True


_PLAIN_CHECKS = {}


def _plain_checks(cls):
    """``(name, allows_none, accepts)`` for every parameter of ``cls``, built
    once per class.

    ``accepts(value)`` tells whether a value other than None is plainly valid; the
    constraint lists are read here once rather than searched on every fit.
    """
    checks = _PLAIN_CHECKS.get(cls)
    if checks is None:
        checks = tuple(
            (name, *_plain_check(constraints))
            for name, constraints in cls._parameter_constraints.items()
        )
        _PLAIN_CHECKS[cls] = checks
    return checks


def _plain_check(constraints):
    """``(allows_none, accepts)`` for one parameter's constraints."""
    if isinstance(constraints, str):  # "no_validation": scikit-learn skips it
        skipped = constraints == "no_validation"
        return skipped, lambda value: skipped
    allows_none = None in constraints
    allows_bool = "boolean" in constraints
    numbers = tuple(
        c for c in constraints if isinstance(c, Interval) or isinstance(c, type)
    )
    options = tuple(c for c in constraints if isinstance(c, StrOptions))

    def accepts(value):
        if isinstance(value, (bool, np.bool_)):
            return allows_bool
        if type(value) in (float, int) or isinstance(value, Real):
            for constraint in numbers:
                if _number_satisfies(value, constraint):
                    return True
            return False
        if isinstance(value, str):
            return any(c.is_satisfied_by(value) for c in options)
        return False

    return allows_none, accepts


def _number_satisfies(value, constraint):
    if isinstance(constraint, Interval):
        return constraint.is_satisfied_by(value)
    return isinstance(value, constraint)


def validate_matrix(estimator, X, *, reset=True, ensure_min_samples=1):
    """``validate_data(estimator, X, reset=reset, ensure_min_samples=..., dtype=np.float64)``.

    ``check_array`` would return a finite, 2-d float64 ndarray with enough
    rows and at least one column unchanged, so for such an ``X`` only the
    feature-name and feature-count bookkeeping of ``validate_data`` runs.
    """
    if is_plain_matrix(X, ensure_min_samples):
        return check_plain_features(estimator, X, reset=reset)
    return validate_data(
        estimator,
        X,
        reset=reset,
        ensure_min_samples=ensure_min_samples,
        dtype=np.float64,
    )


def check_plain_features(estimator, X, *args, reset=True):
    """``validate_data(estimator, X, *args, reset=reset, skip_check_array=True)``.

    For a plain ndarray ``X`` that bookkeeping is known without asking
    scikit-learn which dataframe library ``X`` might come from (about 14 µs
    per call): it has no feature names, so fitting records its number of
    columns and forgets any earlier names, and predicting on the same number
    of columns by an estimator fitted without names has nothing to check. In
    every other case (a warning or an error to give) ``validate_data`` runs.
    Returns ``X`` (and ``args``) unchanged, as ``validate_data`` does.
    """
    n_features = X.shape[1]
    if reset:
        estimator.n_features_in_ = n_features
        estimator.__dict__.pop("feature_names_in_", None)
    elif not (
        getattr(estimator, "feature_names_in_", None) is None
        and getattr(estimator, "n_features_in_", n_features) == n_features
    ):
        return validate_data(estimator, X, *args, reset=reset, skip_check_array=True)
    return (X, *args) if args else X


def is_plain_matrix(X, ensure_min_samples=1):
    """Whether ``check_array(X, dtype=np.float64, ensure_min_samples=...)``
    would return ``X`` itself: a finite, 2-d plain float64 array with enough
    rows and at least one column."""
    return is_plain_2d(X, ensure_min_samples) and has_finite_sum(X)


def is_plain_2d(X, ensure_min_samples=1):
    """:func:`is_plain_matrix` but for finiteness, left to :func:`has_finite_sum`."""
    return (
        is_plain_array(X)
        and X.ndim == 2
        and X.shape[0] >= ensure_min_samples
        and X.shape[1] > 0
    )


def is_plain_array(a):
    """A float64 ndarray (not a subclass), contiguous in C or Fortran order."""
    return (
        type(a) is np.ndarray
        and a.dtype == np.float64
        and (a.flags.c_contiguous or a.flags.f_contiguous)
    )


def has_finite_sum(*arrays):
    """Whether the sum of each array is finite: one pass without a temporary.

    A NaN or infinity makes a sum non-finite (scikit-learn's own first
    test); so may an overflow of finite values, which callers then send to
    the full check.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        for a in arrays:
            if not math.isfinite(np.add.reduce(a, axis=None)):
                return False
    return True
