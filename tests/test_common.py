"""scikit-learn's estimator checks on every public skportfolio estimator.

Estimators are discovered from the package's public modules, so a new
estimator is covered as soon as it is exported; nothing needs adding here.
"""

import importlib
import inspect
import pkgutil

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

import skportfolio


def public_estimators():
    """Every class exported through a public skportfolio module's ``__all__``."""
    found = {}
    modules = [skportfolio]
    for info in pkgutil.walk_packages(skportfolio.__path__, "skportfolio."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            modules.append(importlib.import_module(info.name))
    for module in modules:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
                if not inspect.isabstract(obj):
                    found[obj.__name__] = obj
    return [found[name] for name in sorted(found)]


ESTIMATORS = [cls() for cls in public_estimators()]


def test_discovery_finds_the_estimators():
    names = {type(est).__name__ for est in ESTIMATORS}
    assert "ConstrainedLinearRegression" in names


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda est: type(est).__name__)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda est: type(est).__name__)
def test_dataframe_column_names_consistency(estimator):
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)
