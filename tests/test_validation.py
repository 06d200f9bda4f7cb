"""The fast paths around scikit-learn's validation give scikit-learn's answers."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import (
    InvalidParameterError,
    validate_parameter_constraints,
)
from sklearn.utils.validation import validate_data

from skportfolio import MeanVariance, MinimumVariance
from skportfolio._validation import (
    has_plainly_valid_parameters,
    validate_matrix,
    validate_params,
)
from tests.test_common import public_estimators

CANDIDATES = [
    None,
    True,
    False,
    np.bool_(True),
    0,
    1,
    -1,
    3,
    0.5,
    -0.0,
    -2.5,
    1e300,
    10**400,
    np.nan,
    np.inf,
    -np.inf,
    np.float64(2.0),
    np.float32(0.25),
    np.int64(3),
    "auto",
    "eigh",
    "sample",
    "",
    [0.0, 1.0],
    {"a": 1.0},
]


def parameter_cases():
    for cls in public_estimators():
        for name in sorted(cls._parameter_constraints):
            for value in CANDIDATES:
                yield pytest.param(
                    cls, name, value, id=f"{cls.__name__}-{name}-{value!r}"
                )


@pytest.mark.parametrize(("cls", "name", "value"), list(parameter_cases()))
def test_plainly_valid_values_are_valid_for_scikit_learn(cls, name, value):
    estimator = cls().set_params(**{name: value})
    if has_plainly_valid_parameters(estimator):
        validate_parameter_constraints(
            estimator._parameter_constraints,
            estimator.get_params(deep=False),
            caller_name=cls.__name__,
        )
    else:
        # validate_params leaves the value to scikit-learn, whatever it says.
        try:
            validate_parameter_constraints(
                estimator._parameter_constraints,
                estimator.get_params(deep=False),
                caller_name=cls.__name__,
            )
        except InvalidParameterError:
            with pytest.raises(InvalidParameterError):
                validate_params(estimator)


@pytest.mark.parametrize("cls", public_estimators(), ids=lambda cls: cls.__name__)
def test_default_parameters_take_the_fast_path(cls):
    # Defaults are None, numbers, booleans and option strings; an estimator
    # whose defaults need scikit-learn's validation would lose the fast path.
    assert has_plainly_valid_parameters(cls())


def test_estimators_and_arrays_are_left_to_scikit_learn():
    from sklearn.covariance import LedoitWolf

    assert not has_plainly_valid_parameters(
        MinimumVariance(covariance_estimator=LedoitWolf())
    )
    assert not has_plainly_valid_parameters(MinimumVariance(max_weights=[0.5, 0.5]))
    assert has_plainly_valid_parameters(MeanVariance(risk_aversion=np.float64(2.0)))
    assert not has_plainly_valid_parameters(MeanVariance(risk_aversion=0.0))


class Recorder(BaseEstimator):
    pass


def test_validate_matrix_returns_a_plain_matrix_itself():
    X = np.arange(12.0).reshape(4, 3)
    estimator = Recorder()
    assert validate_matrix(estimator, X) is X
    assert estimator.n_features_in_ == 3
    assert validate_matrix(estimator, np.asfortranarray(X), reset=False).shape == (4, 3)
    with pytest.raises(ValueError, match="3 features"):
        validate_matrix(estimator, np.ones((2, 2)), reset=False)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), "Input X contains NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), "Input X contains infinity"),
        (np.ones((1, 3)), "minimum of 2 is required"),
        (np.ones((3, 0)), "0 feature"),
        (np.ones(3), "Expected 2D array"),
    ],
)
def test_validate_matrix_gives_scikit_learns_errors(X, message):
    with pytest.raises(ValueError, match=message):
        validate_matrix(Recorder(), X, ensure_min_samples=2)


def test_validate_matrix_converts_what_is_not_plain():
    estimator = Recorder()
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})
    X = validate_matrix(estimator, frame)
    assert X.dtype == np.float64
    np.testing.assert_array_equal(estimator.feature_names_in_, ["a", "b"])
    # A sum that overflows takes the full check, which accepts finite values.
    big = np.full((2, 2), 1e308)
    np.testing.assert_array_equal(validate_matrix(Recorder(), big), big)
    strided = np.arange(24.0).reshape(4, 6)[:, ::2]
    np.testing.assert_array_equal(validate_matrix(Recorder(), strided), strided)


def test_plain_feature_bookkeeping_is_scikit_learns():
    frame = pd.DataFrame(np.ones((3, 2)), columns=["a", "b"])
    fast, full = Recorder(), Recorder()
    for estimator in (fast, full):
        validate_matrix(estimator, frame)
    X = np.ones((3, 2))
    # Fitted with names, given none: scikit-learn's warning, from either path.
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        validate_matrix(fast, X, reset=False)
    # Refitted on an array: the names are forgotten, the count kept.
    validate_matrix(fast, X)
    validate_data(full, X, dtype=np.float64)
    assert vars(fast) == {"n_features_in_": 2} and vars(full) == vars(fast)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate_matrix(fast, X, reset=False) is X
    # An estimator that was never fitted has no count to check against.
    assert validate_matrix(Recorder(), X, reset=False) is X


def test_unvalidated_parameters_are_plain():
    class Loose(MinimumVariance):
        _parameter_constraints = {
            **MinimumVariance._parameter_constraints,
            "groups": "no_validation",
        }

    assert has_plainly_valid_parameters(Loose(groups=object()))
    validate_params(Loose(groups=object()))
