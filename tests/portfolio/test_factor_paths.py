"""The portfolio estimators on a factor-model covariance (the factor path).

A covariance estimator with a ``factor_structure_`` is used in factored
form. References: the same estimator on the dense form of the same model
(``FixedCovariance`` holding ``structure.dense()``), which takes the dense
path, and first-order conditions. Checks that the ``N x N`` matrix is never
formed make ``FactorCovariance.dense`` and ``covariance_`` raise; memory is
measured with tracemalloc.
"""

import tracemalloc

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone

from skportfolio import (
    InverseVolatility,
    MeanVariance,
    MinimumVariance,
    RiskParity,
    efficient_frontier,
)
from skportfolio.covariance import (
    FactorCovariance,
    FactorModelCovariance,
    factor_minimum_variance,
)
from tests.portfolio.references import FixedCovariance, factor_returns

N_FACTORS = 3
WEIGHT_ATOL = 1e-9


class GivenStructure(BaseEstimator):
    """A covariance "estimator" whose ``factor_structure_`` is given."""

    def __init__(self, structure=None):
        self.structure = structure

    def fit(self, X, y=None):
        self.factor_structure_ = self.structure
        return self


def returns(seed=0, n_periods=300, n_assets=150):
    return factor_returns(seed, n_periods, n_assets, n_factors=N_FACTORS)


def fitted_structure(Z):
    return FactorModelCovariance(n_factors=N_FACTORS).fit(Z).factor_structure_


def factor_and_dense(estimator, X, y=None):
    """The estimator fitted on the factor path and on the dense path."""
    Z = X if y is None else np.column_stack([X, y])
    structure = fitted_structure(Z)
    factor = clone(estimator).set_params(
        covariance_estimator=FactorModelCovariance(n_factors=N_FACTORS)
    )
    dense = clone(estimator).set_params(
        covariance_estimator=FixedCovariance(structure.dense())
    )
    return factor.fit(X, y), dense.fit(X, y), structure


N = 150
ONE_GROUP = np.r_[np.ones(10), np.zeros(N - 10)][np.newaxis]
CASES = {
    "min-variance budget only": MinimumVariance(min_weights=None, max_weights=None),
    "min-variance long-only": MinimumVariance(),
    "min-variance capped": MinimumVariance(max_weights=0.03),
    "min-variance lower bounds": MinimumVariance(min_weights=0.001),
    "min-variance sector limit": MinimumVariance(
        groups=np.arange(N) % 4, group_bounds={0: (0.3, None), 1: (None, 0.1)}
    ),
    "min-variance two equalities": MinimumVariance(
        min_weights=None, max_weights=None, A_eq=ONE_GROUP, b_eq=[0.3]
    ),
    "min-variance shorts capped": MinimumVariance(min_weights=None, max_weights=0.02),
    "min-variance no budget": MinimumVariance(
        min_weights=None, max_weights=None, budget=None
    ),
    "mean-variance long-only": MeanVariance(risk_aversion=2.0),
    "mean-variance budget only": MeanVariance(
        risk_aversion=5.0, min_weights=None, max_weights=None
    ),
    "mean-variance target": MeanVariance(target_return=0.008),
    "risk parity": RiskParity(),
    "risk budgets with a zero": RiskParity(
        risk_budget=np.r_[0.0, np.linspace(1.0, 2.0, N - 1)]
    ),
    "inverse volatility": InverseVolatility(),
}


@pytest.mark.parametrize("name", CASES)
def test_factor_path_matches_the_dense_path(name):
    X = returns()
    factor, dense, structure = factor_and_dense(CASES[name], X)
    np.testing.assert_allclose(
        factor.weights_, dense.weights_, rtol=0, atol=WEIGHT_ATOL
    )
    assert factor.covariance_structure_ is not None
    assert not hasattr(dense, "covariance_structure_")
    # covariance_ is the dense form of the model, built on first access.
    assert "_covariance" not in vars(factor)
    np.testing.assert_array_equal(factor.covariance_, structure.dense())
    assert factor.covariance_ is factor.covariance_


@pytest.mark.parametrize(
    "estimator",
    [
        MinimumVariance(min_weights=None, max_weights=None),
        MinimumVariance(),
        MinimumVariance(max_weights=0.05),
    ],
    ids=["budget only", "long-only", "capped"],
)
def test_benchmark_tracking_matches_the_dense_path(estimator):
    # The model is fitted to the assets and the benchmark together; the
    # covariances with the benchmark are the last column of its covariance.
    X = returns(1)
    y = X[:, :20].mean(axis=1) + np.random.default_rng(1).normal(0, 0.01, len(X))
    factor, dense, structure = factor_and_dense(estimator, X, y)
    np.testing.assert_allclose(
        factor.weights_, dense.weights_, rtol=0, atol=WEIGHT_ATOL
    )
    np.testing.assert_array_equal(
        factor.covariance_structure_.dense(), structure.dense()[:N, :N]
    )


def test_mean_variance_benchmark_uses_the_active_returns():
    X = returns(2)
    y = X.mean(axis=1)
    factor, dense, _ = factor_and_dense(MeanVariance(risk_aversion=3.0), X - y[:, None])
    fitted = MeanVariance(
        risk_aversion=3.0, covariance_estimator=FactorModelCovariance(n_factors=3)
    ).fit(X, y)
    np.testing.assert_array_equal(fitted.weights_, factor.weights_)
    np.testing.assert_allclose(
        fitted.weights_, dense.weights_, rtol=0, atol=WEIGHT_ATOL
    )
    assert fitted.volatility_ == pytest.approx(dense.volatility_, rel=1e-12)


def test_fitted_attributes_match_the_dense_path():
    X = returns(3)
    for estimator in (MeanVariance(risk_aversion=2.0), RiskParity()):
        factor, dense, _ = factor_and_dense(estimator, X)
        assert factor.volatility_ == pytest.approx(dense.volatility_, rel=1e-12)
    factor, dense, _ = factor_and_dense(RiskParity(), X)
    np.testing.assert_allclose(
        factor.risk_contributions_, dense.risk_contributions_, rtol=1e-10
    )


def test_budget_only_is_the_woodbury_closed_form():
    X = returns(4)
    structure = fitted_structure(X)
    model = MinimumVariance(
        min_weights=None,
        max_weights=None,
        covariance_estimator=GivenStructure(structure),
    ).fit(X)
    np.testing.assert_allclose(
        model.weights_, factor_minimum_variance(structure), rtol=0, atol=1e-14
    )


def ill_conditioned_structure(seed=5, n_assets=200, n_factors=6):
    """Loadings with condition number ~1e9; Σ itself stays well defined."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(n_assets, n_factors)) * np.logspace(0, -9, n_factors)
    loadings[:, 0] += 1.0
    root = rng.normal(size=(n_factors, n_factors))
    return FactorCovariance(
        loadings, 0.04 * root @ root.T, rng.uniform(1e-4, 4e-4, size=n_assets)
    )


@pytest.mark.parametrize(
    "estimator",
    [MinimumVariance(min_weights=None, max_weights=None), MinimumVariance()],
    ids=["budget only", "long-only"],
)
def test_ill_conditioned_loadings_match_the_dense_path(estimator):
    structure = ill_conditioned_structure()
    assert np.linalg.cond(structure.loadings) > 1e8
    X = np.zeros((3, structure.n_assets))  # the given structures ignore X
    factor = clone(estimator).set_params(covariance_estimator=GivenStructure(structure))
    dense = clone(estimator).set_params(
        covariance_estimator=FixedCovariance(structure.dense())
    )
    np.testing.assert_allclose(
        factor.fit(X).weights_, dense.fit(X).weights_, rtol=0, atol=WEIGHT_ATOL
    )


@pytest.mark.parametrize("idiosyncratic_scale", [1e-3, 1e-7])
def test_budget_only_weights_are_optimal_with_tiny_idiosyncratic_risk(
    idiosyncratic_scale,
):
    # Σ w = λ 1 checked as a backward error, meaningful even where Σ is too
    # ill-conditioned for a dense solve to be a reference.
    rng = np.random.default_rng(6)
    structure = FactorCovariance(
        rng.normal(1.0, 0.5, size=(400, 5)),
        np.diag(rng.uniform(0.01, 0.05, size=5)),
        idiosyncratic_scale * rng.uniform(1.0, 3.0, size=400),
    )
    weights = (
        MinimumVariance(
            min_weights=None,
            max_weights=None,
            covariance_estimator=GivenStructure(structure),
        )
        .fit(np.zeros((3, 400)))
        .weights_
    )
    gradient = structure.matvec(weights)
    scale = np.abs(structure.matvec(np.abs(weights))).max()
    assert np.abs(gradient - structure.quad_form(weights)).max() <= 1e-11 * scale
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------
# No N x N matrix on the factor path
# ----------------------------------------------------------------------
LARGE = 2500  # beyond solve_portfolio_qp's dense fallback


def refuse(*args, **kwargs):
    raise AssertionError("the N x N covariance was formed")


@pytest.fixture
def no_dense_covariance(monkeypatch):
    monkeypatch.setattr(FactorCovariance, "dense", refuse)
    monkeypatch.setattr(FactorModelCovariance, "covariance_", property(refuse))


FAST_PATHS = {
    "min-variance budget only": MinimumVariance(min_weights=None, max_weights=None),
    "min-variance long-only": MinimumVariance(),
    "min-variance capped": MinimumVariance(max_weights=0.01),
    "min-variance shorts capped": MinimumVariance(min_weights=None, max_weights=0.01),
    "min-variance long-only tracking": MinimumVariance(),
    "min-variance tracking": MinimumVariance(min_weights=None, max_weights=None),
    "mean-variance long-only": MeanVariance(risk_aversion=2.0),
    "mean-variance target": MeanVariance(target_return=0.006),
    "risk parity": RiskParity(),
    "inverse volatility": InverseVolatility(),
}


@pytest.mark.parametrize("name", FAST_PATHS)
def test_fast_path_never_forms_the_covariance(name, no_dense_covariance):
    X = returns(7, n_periods=120, n_assets=LARGE)
    y = X[:, :50].mean(axis=1) if "tracking" in name else None
    estimator = clone(FAST_PATHS[name]).set_params(
        covariance_estimator=FactorModelCovariance(n_factors=N_FACTORS)
    )
    weights = estimator.fit(X, y).weights_
    assert weights.shape == (LARGE,)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(AssertionError, match="formed"):
        estimator.covariance_  # noqa: B018 (reading it is what builds it)


def test_structure_of_the_wrong_size_is_refused():
    structure = fitted_structure(returns(9, n_assets=20))
    estimator = MinimumVariance(covariance_estimator=GivenStructure(structure))
    with pytest.raises(ValueError, match="covers 20 assets; expected 30"):
        estimator.fit(returns(9, n_assets=30))


def test_refitting_switches_between_the_paths():
    X = returns(10)
    structure = fitted_structure(X)
    model = MinimumVariance(covariance_estimator=GivenStructure(structure)).fit(X)
    assert isinstance(model.covariance_structure_, FactorCovariance)
    model.set_params(covariance_estimator=None).fit(X)
    assert not hasattr(model, "covariance_structure_")
    np.testing.assert_allclose(model.covariance_, np.cov(X, rowvar=False), rtol=1e-12)
    model.set_params(covariance_estimator=GivenStructure(structure)).fit(X)
    np.testing.assert_array_equal(model.covariance_, structure.dense())


def test_frontier_of_a_factor_model_uses_its_dense_form():
    X = returns(11, n_assets=40)
    structure = fitted_structure(X)
    factor = efficient_frontier(
        X, covariance_estimator=FactorModelCovariance(n_factors=N_FACTORS), n_points=5
    )
    dense = efficient_frontier(
        X, covariance_estimator=FixedCovariance(structure.dense()), n_points=5
    )
    np.testing.assert_allclose(factor.weights, dense.weights, rtol=0, atol=WEIGHT_ATOL)


# ----------------------------------------------------------------------
# Memory
# ----------------------------------------------------------------------
MEMORY_CASES = {
    "min-variance budget only": MinimumVariance(min_weights=None, max_weights=None),
    "min-variance long-only": MinimumVariance(),
    "mean-variance long-only": MeanVariance(risk_aversion=2.0),
    "risk parity": RiskParity(),
}


@pytest.mark.parametrize("name", MEMORY_CASES)
def test_optimisation_memory_is_linear_in_the_assets(name):
    # The optimisation alone (the structure is given): a few N x K arrays
    # and vectors, nowhere near one N x N matrix (72 MB) or a copy of X
    # (12 MB).
    n_assets, n_factors = 3000, 5
    rng = np.random.default_rng(12)
    structure = FactorCovariance(
        rng.normal(1.0, 0.5, size=(n_assets, n_factors)),
        np.diag(rng.uniform(0.01, 0.05, size=n_factors)),
        rng.uniform(0.01, 0.04, size=n_assets),
    )
    X = rng.normal(0.01, 0.05, size=(500, n_assets))
    estimator = clone(MEMORY_CASES[name]).set_params(
        covariance_estimator=GivenStructure(structure)
    )
    tracemalloc.start()
    try:
        estimator.fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * n_assets * n_factors * 8
    assert peak < X.nbytes / 4
