"""FactorModelCovariance, FactorCovariance and factor_minimum_variance.

References: dense linear algebra (numpy/scipy) on the same matrices, numpy's
SVD and scikit-learn's PCA for the statistical factors, scikit-learn's
LinearRegression for the observed factors, and first-order optimality of the
minimum-variance portfolio.
"""

import pickle
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import cho_factor, cho_solve
from sklearn.base import clone
from sklearn.covariance import log_likelihood
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skportfolio.covariance import (
    IDIOSYNCRATIC_FLOOR,
    FactorCovariance,
    FactorModelCovariance,
    factor_minimum_variance,
)
from skportfolio.covariance import _factor as factor_module
from skportfolio.covariance._factor import _data_gram_product
from skportfolio.covariance._krylov import SINE_TOL, largest_eigenpairs
from skportfolio.exceptions import NotPositiveSemidefiniteError


def factor_returns(seed=0, n_samples=120, n_features=40, n_factors=3, idio=0.02):
    """Returns with a factor structure; also returns the factor returns."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(0.0, 0.04, size=(n_samples, n_factors)) * np.linspace(
        2.0, 0.7, n_factors
    )
    loadings = rng.uniform(0.2, 1.5, size=(n_features, n_factors))
    noise = rng.normal(0.0, idio, size=(n_samples, n_features)) * rng.uniform(
        0.5, 2.0, size=n_features
    )
    X = 0.005 + factors @ loadings.T + noise
    return X, factors


def random_structure(seed=0, n_assets=30, n_factors=4):
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(n_assets, n_factors))
    root = rng.normal(size=(n_factors, n_factors))
    factor_covariance = root @ root.T * 0.01
    idiosyncratic = rng.uniform(0.01, 0.05, size=n_assets)
    return FactorCovariance(loadings, factor_covariance, idiosyncratic)


def dense_by_hand(structure):
    B, F, d = structure.loadings, structure.factor_covariance, structure.idiosyncratic
    return B @ F @ B.T + np.diag(d)


def signed(loadings):
    """Columns signed so that their largest absolute entry is positive."""
    rows = np.argmax(np.abs(loadings), axis=0)
    return loadings * np.sign(loadings[rows, np.arange(loadings.shape[1])])


class StatisticalFactorModel(FactorModelCovariance):
    """Ignores y, so scikit-learn's checks (which pass a y) exercise the PCA path."""

    def fit(self, X, y=None):
        return super().fit(X)


@parametrize_with_checks(
    [
        FactorModelCovariance(),
        FactorModelCovariance(n_factors=2),
        StatisticalFactorModel(),
        StatisticalFactorModel(solver="eigh"),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------
# FactorCovariance operations against dense linear algebra
# ----------------------------------------------------------------------
def test_operations_match_dense_algebra():
    structure = random_structure()
    sigma = dense_by_hand(structure)
    rng = np.random.default_rng(1)
    v, V = rng.normal(size=30), rng.normal(size=(30, 3))
    np.testing.assert_allclose(structure.dense(), sigma, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(structure.matvec(v), sigma @ v, rtol=1e-12)
    np.testing.assert_allclose(structure.matvec(V), sigma @ V, rtol=1e-12)
    np.testing.assert_allclose(structure.diag(), np.diag(sigma), rtol=1e-13)
    assert structure.quad_form(v) == pytest.approx(v @ sigma @ v, rel=1e-12)
    np.testing.assert_allclose(
        structure.solve(v), np.linalg.solve(sigma, v), rtol=1e-10
    )
    np.testing.assert_allclose(
        structure.solve(V), np.linalg.solve(sigma, V), rtol=1e-10
    )
    shift = rng.uniform(0.0, 0.1, size=30)
    np.testing.assert_allclose(
        structure.solve_shifted(shift, V),
        np.linalg.solve(sigma + np.diag(shift), V),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        structure.solve_shifted(0.5, v),
        np.linalg.solve(sigma + 0.5 * np.eye(30), v),
        rtol=1e-10,
    )


def test_dense_is_exactly_symmetric():
    dense = random_structure(n_assets=200).dense()
    np.testing.assert_array_equal(dense, dense.T)


def test_singular_factor_covariance_is_allowed():
    # F of rank 1 cannot be inverted; Woodbury on F = G G' never needs to.
    rng = np.random.default_rng(2)
    g = rng.normal(size=(3, 1))
    structure = FactorCovariance(
        rng.normal(size=(20, 3)), g @ g.T, rng.uniform(0.1, 0.2, size=20)
    )
    v = rng.normal(size=20)
    np.testing.assert_allclose(
        structure.solve(v), np.linalg.solve(dense_by_hand(structure), v), rtol=1e-11
    )


def test_no_factor_is_a_diagonal_covariance():
    structure = FactorCovariance(np.zeros((3, 0)), np.zeros((0, 0)), [1.0, 2.0, 4.0])
    np.testing.assert_allclose(structure.solve([1.0, 1.0, 1.0]), [1.0, 0.5, 0.25])
    np.testing.assert_allclose(structure.dense(), np.diag([1.0, 2.0, 4.0]))


def test_structure_copies_and_freezes_its_inputs():
    loadings = np.ones((2, 1))
    idiosyncratic = np.array([0.0, 1.0])
    structure = FactorCovariance(loadings, [[1.0]], idiosyncratic)
    np.testing.assert_array_equal(idiosyncratic, [0.0, 1.0])  # not floored in place
    assert not structure.loadings.flags.writeable
    assert not structure.idiosyncratic.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        structure.loadings[0, 0] = 5.0


def test_zero_idiosyncratic_variance_is_floored_relative_to_total_variance():
    # Asset 0 has total variance 4 * 0.25 = 1 and no idiosyncratic part; asset
    # 2 has no variance at all and is floored relative to the largest total.
    structure = FactorCovariance([[2.0], [1.0], [0.0]], [[0.25]], [0.0, 0.5, 0.0])
    np.testing.assert_allclose(
        structure.idiosyncratic,
        [IDIOSYNCRATIC_FLOOR * 1.0, 0.5, IDIOSYNCRATIC_FLOOR * 1.0],
        rtol=1e-12,
    )
    assert IDIOSYNCRATIC_FLOOR == 1e-6
    x = structure.solve(np.ones(3))
    np.testing.assert_allclose(structure.matvec(x), np.ones(3), rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match", "error"),
    [
        (dict(loadings=np.ones(3)), "loadings must be 2-dimensional", ValueError),
        (dict(factor_covariance=np.eye(3)), r"shape \(2, 2\)", ValueError),
        (dict(idiosyncratic=np.ones(4)), r"shape \(5,\)", ValueError),
        (dict(idiosyncratic=-np.ones(5)), "non-negative", ValueError),
        (
            dict(idiosyncratic=np.zeros(5), loadings=np.zeros((5, 2))),
            "zero",
            ValueError,
        ),
        (dict(factor_covariance=[[1.0, 0.5], [0.0, 1.0]]), "symmetric", ValueError),
        (
            dict(factor_covariance=[[1.0, 2.0], [2.0, 1.0]]),
            "semi-definite",
            NotPositiveSemidefiniteError,
        ),
        (dict(loadings=np.full((5, 2), np.nan)), "finite", ValueError),
    ],
)
def test_structure_validation(kwargs, match, error):
    arguments = dict(
        loadings=np.ones((5, 2)), factor_covariance=np.eye(2), idiosyncratic=np.ones(5)
    )
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        FactorCovariance(**arguments)


def test_operation_inputs_are_validated():
    structure = random_structure(n_assets=5, n_factors=2)
    with pytest.raises(ValueError, match="5 rows"):
        structure.solve(np.ones(4))
    with pytest.raises(ValueError, match="finite"):
        structure.matvec([1.0, np.nan, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="non-negative"):
        structure.solve_shifted(-1.0, np.ones(5))
    with pytest.raises(ValueError, match="one-dimensional"):
        structure.quad_form(np.ones((5, 2)))


# ----------------------------------------------------------------------
# Minimum variance through Woodbury
# ----------------------------------------------------------------------
def ill_conditioned_structure(seed=3, n_assets=300, n_factors=6):
    """Loadings whose columns agree to 1e-7: B has condition number ~1e8."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.5, 1.5, size=(n_assets, 1))
    loadings = base + 1e-7 * rng.normal(size=(n_assets, n_factors))
    root = rng.normal(size=(n_factors, n_factors)) * np.logspace(0, -3, n_factors)
    factor_covariance = 0.04 * root @ root.T
    idiosyncratic = rng.uniform(1e-4, 4e-4, size=n_assets)
    return FactorCovariance(loadings, factor_covariance, idiosyncratic)


def test_minimum_variance_matches_dense_cholesky_on_ill_conditioned_loadings():
    structure = ill_conditioned_structure()
    assert np.linalg.cond(structure.loadings) > 1e7
    sigma = dense_by_hand(structure)
    x = cho_solve(cho_factor(sigma), np.ones(structure.n_assets))
    expected = x / x.sum()
    weights = factor_minimum_variance(structure)
    assert np.abs(weights - expected).max() <= 1e-9 * np.abs(expected).max()
    assert weights.sum() == pytest.approx(1.0, abs=1e-13)


@pytest.mark.parametrize("idio_scale", [1e-2, 1e-6, 1e-9])
def test_minimum_variance_is_optimal_even_with_tiny_idiosyncratic_risk(idio_scale):
    # First-order condition: Sigma w = lambda 1 with lambda = w' Sigma w.
    # Checked as a backward error, meaningful however ill-conditioned Sigma is.
    rng = np.random.default_rng(4)
    structure = FactorCovariance(
        rng.normal(1.0, 0.5, size=(500, 8)),
        np.diag(rng.uniform(0.01, 0.05, size=8)),
        idio_scale * rng.uniform(1.0, 3.0, size=500),
    )
    weights = factor_minimum_variance(structure)
    gradient = structure.matvec(weights)
    variance = structure.quad_form(weights)
    scale = np.abs(structure.matvec(np.abs(weights))).max()
    assert np.abs(gradient - variance).max() <= 1e-11 * scale
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)


def test_factor_risk_alone_is_singular():
    # Seed 001's closed form inverts the factor risk B F B', which has rank K:
    # only the full covariance B F B' + D is invertible.
    structure = random_structure(n_assets=30, n_factors=4)
    B, F = structure.loadings, structure.factor_covariance
    assert np.linalg.matrix_rank(B @ F @ B.T) == 4


def test_minimum_variance_needs_a_structure():
    with pytest.raises(TypeError, match="FactorCovariance"):
        factor_minimum_variance(np.eye(3))


# ----------------------------------------------------------------------
# Statistical factors
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_samples", "n_features"),
    [(40, 60), (30, 30), (200, 25)],
    ids=["T<N", "T=N", "T>N"],
)
def test_statistical_factors_match_the_svd(n_samples, n_features):
    X, _ = factor_returns(seed=5, n_samples=n_samples, n_features=n_features)
    K = 3
    est = FactorModelCovariance(n_factors=K).fit(X)
    centred = X - X.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    loadings = signed(vt[:K].T)
    residual = centred - centred @ loadings @ loadings.T
    np.testing.assert_allclose(est.location_, X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(est.loadings_, loadings, atol=1e-10)
    np.testing.assert_allclose(
        est.factor_covariance_, np.diag(singular[:K] ** 2 / (n_samples - 1)), rtol=1e-10
    )
    np.testing.assert_allclose(
        est.idiosyncratic_variances_,
        np.sum(residual**2, axis=0) / (n_samples - 1),
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        np.diag(est.covariance_), X.var(axis=0, ddof=1), rtol=1e-10
    )


def test_statistical_factors_match_sklearn_pca():
    X, _ = factor_returns(seed=6, n_samples=90, n_features=50)
    pca = PCA(n_components=4, svd_solver="full").fit(X)
    est = FactorModelCovariance(n_factors=4).fit(X)
    np.testing.assert_allclose(
        np.diag(est.factor_covariance_), pca.explained_variance_, rtol=1e-10
    )
    np.testing.assert_allclose(est.loadings_, signed(pca.components_.T), atol=1e-10)


def test_fortran_ordered_input_gives_the_same_fit():
    X, _ = factor_returns(seed=7, n_samples=50, n_features=80)
    a = FactorModelCovariance(n_factors=2).fit(X)
    b = FactorModelCovariance(n_factors=2).fit(np.asfortranarray(X))
    np.testing.assert_allclose(a.covariance_, b.covariance_, rtol=1e-12)


def test_statistical_factor_count_is_validated():
    X, _ = factor_returns(n_samples=20, n_features=8)
    with pytest.raises(ValueError, match="n_samples=20 and n_features=8"):
        FactorModelCovariance(n_factors=8).fit(X)
    with pytest.raises(ValueError, match="n_factors"):
        FactorModelCovariance(n_factors=0).fit(X)
    low_rank = X[:, :2] @ np.vstack([np.arange(1.0, 9.0), np.ones(8)])
    with pytest.raises(ValueError, match="rank 2"):
        FactorModelCovariance(n_factors=3).fit(low_rank)


def test_constant_returns_are_rejected():
    with pytest.raises(ValueError, match="rank 0"):
        FactorModelCovariance().fit(np.ones((10, 4)))
    with pytest.raises(ValueError, match="covariance is zero"):
        FactorModelCovariance().fit(np.ones((10, 4)), np.arange(10.0))


# ----------------------------------------------------------------------
# Block Krylov eigensolver (skportfolio.covariance._krylov)
# ----------------------------------------------------------------------
def psd_with_spectrum(seed, top, n_bulk, bulk=(0.5, 1.0)):
    """A random symmetric matrix with eigenvalues ``top`` and a uniform bulk."""
    rng = np.random.default_rng(seed)
    size = len(top) + n_bulk
    values = np.concatenate([top, rng.uniform(*bulk, n_bulk)])
    vectors = np.linalg.qr(rng.normal(size=(size, size)))[0]
    return (vectors * values) @ vectors.T, vectors[:, : len(top)]


def test_krylov_matches_dense_eigh_with_certified_accuracy():
    top = [50.0, 20.0, 8.0, 4.0]
    matrix, vectors = psd_with_spectrum(30, top, 196)
    values, found = largest_eigenpairs(matrix.__matmul__, 200, 4, max_steps=40)
    np.testing.assert_allclose(values, top, rtol=1e-13)
    np.testing.assert_allclose(found.T @ found, np.eye(4), atol=1e-14)
    # Each vector within SINE_TOL of its eigenvector: |cos| = sqrt(1 - sin²).
    cosines = np.abs(np.sum(found * vectors, axis=0))
    assert np.all(1.0 - cosines <= SINE_TOL**2 + 1e-15)
    residuals = matrix @ found - found * values
    assert np.max(np.linalg.norm(residuals, axis=0)) <= SINE_TOL * 4.0


def test_krylov_gives_up_when_the_last_eigenvalue_has_no_gap():
    # The 3rd and 4th eigenvalues nearly coincide: no bound on the 3rd
    # vector can be certified, and the iteration stops early.
    matrix, _ = psd_with_spectrum(31, [50.0, 20.0, 8.0, 8.0 * (1 + 1e-9)], 196)
    assert largest_eigenpairs(matrix.__matmul__, 200, 3, max_steps=40) is None


def test_krylov_gives_up_when_the_space_stops_growing():
    # Rank 5 < the 7 columns of a block: the second block would not be new
    # directions, and the first one does not hold the eigenvectors.
    matrix, _ = psd_with_spectrum(32, [9.0, 5.0, 3.0, 2.0, 1.0], 55, (0, 0))
    assert largest_eigenpairs(matrix.__matmul__, 60, 3, max_steps=8) is None


def test_krylov_respects_its_step_budget():
    calls = []
    matrix, _ = psd_with_spectrum(33, [10.0, 9.0, 8.5], 197, (0.5, 8.0))

    def apply(V):
        calls.append(V.shape[1])
        return matrix @ V

    assert largest_eigenpairs(apply, 200, 3, max_steps=3) is None
    assert len(calls) <= 3


def test_data_products_are_the_centred_gram_products():
    X, _ = factor_returns(seed=34, n_samples=70, n_features=500)
    V = np.random.default_rng(34).normal(size=(70, 6))
    centred = X - X.mean(axis=0)
    product = _data_gram_product(X, X.mean(axis=0))(V)
    expected = centred @ (centred.T @ V)
    np.testing.assert_allclose(
        product, expected, rtol=0, atol=1e-13 * np.abs(expected).max()
    )


def krylov_outcomes(monkeypatch):
    """Record what the block Krylov solver returns inside FactorModelCovariance."""
    outcomes = []

    def recording(*args, **kwargs):
        result = largest_eigenpairs(*args, **kwargs)
        outcomes.append(result is not None)
        return result

    monkeypatch.setattr(factor_module, "largest_eigenpairs", recording)
    return outcomes


def assert_same_model(fitted, reference, rtol):
    np.testing.assert_allclose(fitted.location_, reference.location_, rtol=1e-15)
    np.testing.assert_allclose(fitted.loadings_, reference.loadings_, rtol=0, atol=rtol)
    np.testing.assert_allclose(
        fitted.factor_covariance_, reference.factor_covariance_, rtol=rtol
    )
    np.testing.assert_allclose(
        fitted.idiosyncratic_variances_,
        reference.idiosyncratic_variances_,
        rtol=rtol,
    )


@pytest.mark.parametrize(
    ("n_samples", "n_features"), [(400, 400), (1200, 600)], ids=["T=N", "T>N"]
)
def test_krylov_path_agrees_with_the_gram_path(monkeypatch, n_samples, n_features):
    X, _ = factor_returns(seed=35, n_samples=n_samples, n_features=n_features)
    outcomes = krylov_outcomes(monkeypatch)
    fitted = FactorModelCovariance(n_factors=3).fit(X)
    assert outcomes == [True]
    reference = FactorModelCovariance(n_factors=3, solver="eigh").fit(X)
    assert outcomes == [True]
    assert_same_model(fitted, reference, rtol=1e-10)


def test_weak_factors_fall_back_to_the_gram_path(monkeypatch):
    # Four factors of which only two are strong, the other two are buried
    # in the noise: no gap after the fourth eigenvalue.
    rng = np.random.default_rng(36)
    n_samples, n_features = 500, 500
    factors = rng.normal(size=(n_samples, 4)) * [0.05, 0.03, 0.001, 0.001]
    X = factors @ rng.normal(size=(4, n_features)) + rng.normal(
        scale=0.02, size=(n_samples, n_features)
    )
    outcomes = krylov_outcomes(monkeypatch)
    fitted = FactorModelCovariance(n_factors=4).fit(X)
    assert outcomes == [False]
    reference = FactorModelCovariance(n_factors=4, solver="eigh").fit(X)
    np.testing.assert_array_equal(fitted.covariance_, reference.covariance_)


def test_returns_far_from_zero_mean_take_the_gram_path(monkeypatch):
    # Price levels rather than returns: centring through the products would
    # lose digits, so the converged Krylov result is not used.
    X, _ = factor_returns(seed=37, n_samples=400, n_features=400)
    prices = 100.0 + X
    outcomes = krylov_outcomes(monkeypatch)
    fitted = FactorModelCovariance(n_factors=3).fit(prices)
    assert outcomes == [True]
    reference = FactorModelCovariance(n_factors=3, solver="eigh").fit(prices)
    np.testing.assert_array_equal(fitted.covariance_, reference.covariance_)
    returns = FactorModelCovariance(n_factors=3).fit(X)
    np.testing.assert_allclose(fitted.location_ - 100.0, returns.location_, atol=1e-12)
    np.testing.assert_allclose(fitted.loadings_, returns.loadings_, atol=1e-9)


def test_low_rank_returns_fall_back_to_the_gram_path(monkeypatch):
    # Rank 6, below the 7 columns of a Krylov block.
    rng = np.random.default_rng(38)
    X = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 400))
    outcomes = krylov_outcomes(monkeypatch)
    fitted = FactorModelCovariance(n_factors=3).fit(X)
    assert outcomes == [False]
    reference = FactorModelCovariance(n_factors=3, solver="eigh").fit(X)
    np.testing.assert_array_equal(fitted.covariance_, reference.covariance_)
    with pytest.raises(ValueError, match="rank 2"):
        FactorModelCovariance(n_factors=3).fit(X[:, :2] @ rng.normal(size=(2, 400)))


# ----------------------------------------------------------------------
# Observed factors
# ----------------------------------------------------------------------
def test_observed_factors_match_linear_regression():
    X, factors = factor_returns(seed=8, n_samples=150, n_features=30, n_factors=3)
    est = FactorModelCovariance().fit(X, factors)
    ols = LinearRegression().fit(factors, X)
    residual = X - ols.predict(factors)
    np.testing.assert_allclose(est.loadings_, ols.coef_, rtol=1e-10)
    np.testing.assert_allclose(
        est.factor_covariance_, np.cov(factors, rowvar=False), rtol=1e-12
    )
    np.testing.assert_allclose(
        est.idiosyncratic_variances_, residual.var(axis=0, ddof=1), rtol=1e-10
    )
    np.testing.assert_allclose(est.location_, X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(
        np.diag(est.covariance_), X.var(axis=0, ddof=1), rtol=1e-10
    )
    B, F, d = est.loadings_, est.factor_covariance_, est.idiosyncratic_variances_
    np.testing.assert_allclose(est.covariance_, B @ F @ B.T + np.diag(d), rtol=1e-12)


def test_one_dimensional_factor_and_dataframes():
    X, factors = factor_returns(seed=9, n_factors=1)
    frame = pd.DataFrame(X, columns=[f"asset{i}" for i in range(X.shape[1])])
    est = FactorModelCovariance().fit(frame, pd.Series(factors[:, 0], name="mkt"))
    reference = FactorModelCovariance().fit(X, factors)
    np.testing.assert_allclose(est.covariance_, reference.covariance_, rtol=1e-14)
    assert est.loadings_.shape == (X.shape[1], 1)
    assert est.feature_names_in_[0] == "asset0"


def test_collinear_factors_give_minimum_norm_loadings():
    X, factors = factor_returns(seed=10, n_factors=1)
    twice = np.column_stack([factors, factors])
    est = FactorModelCovariance().fit(X, twice)
    single = FactorModelCovariance().fit(X, factors)
    np.testing.assert_allclose(
        est.loadings_, np.repeat(single.loadings_ / 2, 2, axis=1), rtol=1e-10
    )
    np.testing.assert_allclose(est.covariance_, single.covariance_, rtol=1e-10)


def test_asset_spanned_by_the_factors_is_floored():
    X, factors = factor_returns(seed=11, n_factors=2)
    X[:, 0] = 0.001 + factors @ [0.8, -0.3]
    est = FactorModelCovariance().fit(X, factors)
    np.testing.assert_allclose(est.loadings_[0], [0.8, -0.3], rtol=1e-12)
    assert est.idiosyncratic_variances_[0] == pytest.approx(
        IDIOSYNCRATIC_FLOOR * X[:, 0].var(ddof=1), rel=1e-9
    )


def test_observed_factor_input_is_validated():
    X, factors = factor_returns(seed=12)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        FactorModelCovariance().fit(X, factors[:-1])
    bad = factors.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FactorModelCovariance().fit(X, bad)
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FactorModelCovariance().fit(X_bad, factors)
    with pytest.raises(ValueError, match="at least 5 observations"):
        FactorModelCovariance().fit(X[:4], factors[:4])


def test_inputs_are_not_mutated():
    X, factors = factor_returns(seed=13)
    X_before, f_before = X.copy(), factors.copy()
    FactorModelCovariance(n_factors=2).fit(X)
    FactorModelCovariance().fit(X, factors)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(factors, f_before)


# ----------------------------------------------------------------------
# The lazy dense covariance and the covariance-estimator API
# ----------------------------------------------------------------------
def test_dense_covariance_is_lazy_cached_and_reset_by_fit():
    est = FactorModelCovariance(n_factors=2)
    assert not hasattr(est, "covariance_")
    with pytest.raises(NotFittedError):
        est.covariance_  # noqa: B018
    with pytest.raises(NotFittedError):
        est.precision_  # noqa: B018
    X, _ = factor_returns(seed=14)
    est.fit(X)
    assert est._dense_covariance is None
    first = est.covariance_
    assert est.covariance_ is first
    est.fit(X[:60])
    assert est.covariance_ is not first
    np.testing.assert_allclose(
        est.covariance_, FactorModelCovariance(n_factors=2).fit(X[:60]).covariance_
    )


def test_clone_and_pickle():
    X, _ = factor_returns(seed=15)
    est = FactorModelCovariance(n_factors=2).fit(X)
    fresh = clone(est)
    assert fresh.get_params() == {"n_factors": 2, "solver": "auto"}
    assert not hasattr(fresh, "covariance_")
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.covariance_, est.covariance_)
    np.testing.assert_array_equal(
        factor_minimum_variance(restored.factor_structure_),
        factor_minimum_variance(est.factor_structure_),
    )


def test_precision_score_and_mahalanobis():
    X, _ = factor_returns(seed=16, n_samples=200, n_features=20)
    est = FactorModelCovariance(n_factors=3).fit(X)
    inverse = np.linalg.inv(est.covariance_)
    np.testing.assert_allclose(
        est.precision_, inverse, rtol=1e-9, atol=1e-9 * np.abs(inverse).max()
    )
    np.testing.assert_array_equal(est.get_precision(), est.precision_)
    X_test, _ = factor_returns(seed=17, n_samples=30, n_features=20)
    centred = X_test - est.location_
    test_cov = centred.T @ centred / len(centred)
    assert est.score(X_test) == pytest.approx(
        log_likelihood(test_cov, inverse), rel=1e-9
    )
    np.testing.assert_allclose(
        est.mahalanobis(X_test),
        np.einsum("ij,jk,ik->i", centred, inverse, centred),
        rtol=1e-8,
    )
    assert est.error_norm(est.covariance_) == 0.0


# ----------------------------------------------------------------------
# Memory: no centred copy of X, no N x N array
# ----------------------------------------------------------------------
@pytest.mark.parametrize("observed", [False, True], ids=["statistical", "observed"])
def test_fit_memory_stays_far_below_a_copy_of_x(observed):
    rng = np.random.default_rng(18)
    n_samples, n_features, n_factors = 500, 20000, 10
    factors = rng.normal(size=(n_samples, n_factors))
    X = factors @ rng.normal(size=(n_factors, n_features)) * 0.01
    X += rng.normal(scale=0.02, size=X.shape)
    args = (X, factors) if observed else (X,)
    tracemalloc.start()
    try:
        est = FactorModelCovariance(n_factors=n_factors).fit(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 2
    assert est.loadings_.shape == (n_features, n_factors)
