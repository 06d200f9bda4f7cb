"""The factor-model problem and estimators shared by the factor benchmarks.

``bench_factor.py`` times them on one thread (through ``_harness``);
``bench_factor_threads.py`` with the BLAS library's default thread count,
which is why this module must not import ``_harness``.
"""

import re
from dataclasses import dataclass
from functools import cache

import numpy as np

SEED = 20240611
RISK_AVERSION = 10.0
_SIZE_PATTERN = re.compile(r"^(\d+)x(\d+)x(\d+)$")


@dataclass(frozen=True)
class Problem:
    X: np.ndarray
    n_factors: int
    structure: object  # the fitted FactorCovariance
    mean: np.ndarray


def parse_size(label):
    """``"1000x20000x10"``: 1000 periods of 20000 assets, 10 factors."""
    match = _SIZE_PATTERN.match(label)
    if match is None:
        raise ValueError("expected N_PERIODSxN_ASSETSxN_FACTORS")
    n_periods, n_assets, n_factors = map(int, match.groups())
    if not 1 <= n_factors < min(n_periods, n_assets):
        raise ValueError("need 1 <= factors < min(periods, assets)")
    return n_periods, n_assets, n_factors


@cache
def make_problem(size):
    """Returns of a ``K``-factor model, and the model fitted to them.

    Cached: the four estimator tables share each size's returns.
    """
    from skportfolio.covariance import FactorModelCovariance

    n_periods, n_assets, n_factors = size
    rng = np.random.default_rng(SEED)
    factor_volatility = 0.02 * np.geomspace(1.0, 0.2, n_factors)
    loadings = rng.normal(0.0, 0.5, size=(n_factors, n_assets))
    loadings[0] += 1.0  # a market factor
    X = (rng.standard_normal((n_periods, n_factors)) * factor_volatility) @ loadings
    X += rng.standard_normal((n_periods, n_assets)) * rng.uniform(0.01, 0.03, n_assets)
    X += rng.uniform(0.0, 1e-3, n_assets)
    structure = FactorModelCovariance(n_factors=n_factors).fit(X).factor_structure_
    return Problem(X=X, n_factors=n_factors, structure=structure, mean=X.mean(axis=0))


def min_variance_budget():
    from skportfolio import MinimumVariance

    return MinimumVariance(min_weights=None, max_weights=None)


def min_variance_long_only():
    from skportfolio import MinimumVariance

    return MinimumVariance()


def mean_variance():
    from skportfolio import MeanVariance

    return MeanVariance(risk_aversion=RISK_AVERSION)


def risk_parity():
    from skportfolio import RiskParity

    return RiskParity()


#: Name of each estimator's benchmark and a factory of it.
ESTIMATORS = {
    "min-variance-budget": min_variance_budget,
    "min-variance-long-only": min_variance_long_only,
    "mean-variance": mean_variance,
    "risk-parity": risk_parity,
}
