"""The covariance-operator interface: DenseCovariance, FactorCovariance, SampleCovariance.

The implementations are checked method by method against numpy on the
same matrix (the factor model's dense form, and returns constructed to have
exactly that sample covariance), so the optimisers can use any of them
interchangeably.
"""

import numpy as np
import pytest
from scipy.linalg import LinAlgError

from skportfolio.covariance import (
    DenseCovariance,
    FactorCovariance,
    SampleCovariance,
    _operator,
)
from skportfolio.covariance._operator import (
    as_covariance_operator,
    nearest_psd,
    sample_covariance,
)

N_ASSETS = 25


def random_structure(seed=0, n_assets=N_ASSETS, n_factors=3):
    rng = np.random.default_rng(seed)
    root = rng.normal(size=(n_factors, n_factors))
    return FactorCovariance(
        loadings=rng.normal(size=(n_assets, n_factors)),
        factor_covariance=root @ root.T * 0.01,
        idiosyncratic=rng.uniform(0.01, 0.05, size=n_assets),
    )


STRUCTURE = random_structure()
MATRIX = STRUCTURE.dense()


def returns_with_covariance(C, n_periods=60, seed=7):
    """Returns whose sample covariance is ``C`` (to round-off) and mean non-zero.

    ``Q`` from the QR factorisation of centred noise has orthonormal columns
    orthogonal to the ones vector, so ``sqrt(T-1) Q R`` with ``R'R = C`` is
    centred with sample covariance ``R'Q'QR = C``.
    """
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n_periods, C.shape[0]))
    Q, _ = np.linalg.qr(noise - noise.mean(axis=0))
    R = np.linalg.cholesky(C).T
    return np.sqrt(n_periods - 1) * Q @ R + rng.normal(size=C.shape[0])


RETURNS = returns_with_covariance(MATRIX)
# The same sample covariance, with means a tenth of the standard deviations
# (RETURNS' are several times larger): the Gram matrix kept by
# SampleCovariance(gram=True) then comes from the uncentred returns.
SMALL_MEAN_RETURNS = RETURNS - RETURNS.mean(axis=0) + 0.1 * np.sqrt(np.diag(MATRIX))


@pytest.fixture(
    params=[
        "dense",
        "factor",
        "sample",
        "sample, formed",
        "sample, gram",
        "sample, gram of uncentred returns",
    ]
)
def operator(request):
    if request.param == "dense":
        return DenseCovariance(MATRIX)
    if request.param == "factor":
        return STRUCTURE
    if request.param == "sample, gram":
        return SampleCovariance(RETURNS, gram=True)
    if request.param == "sample, gram of uncentred returns":
        return SampleCovariance(SMALL_MEAN_RETURNS, gram=True)
    sample = SampleCovariance(RETURNS)
    if request.param == "sample, formed":
        sample.dense()
    return sample


def sparse_vector(rng, n_assets=N_ASSETS, n_nonzero=5):
    v = np.zeros(n_assets)
    v[rng.choice(n_assets, n_nonzero, replace=False)] = rng.normal(size=n_nonzero)
    return v


def test_n_assets_and_dense(operator):
    assert operator.n_assets == N_ASSETS
    np.testing.assert_allclose(operator.dense(), MATRIX, rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("kind", ["full", "sparse", "zero", "matrix"])
def test_matvec(operator, kind):
    rng = np.random.default_rng(1)
    v = {
        "full": rng.normal(size=N_ASSETS),
        "sparse": sparse_vector(rng),
        "zero": np.zeros(N_ASSETS),
        "matrix": rng.normal(size=(N_ASSETS, 3)),
    }[kind]
    np.testing.assert_allclose(operator.matvec(v), MATRIX @ v, rtol=1e-13, atol=1e-15)


def test_diag_and_quad_form(operator):
    w = np.random.default_rng(2).normal(size=N_ASSETS)
    np.testing.assert_allclose(operator.diag(), np.diag(MATRIX), rtol=1e-14)
    assert operator.quad_form(w) == pytest.approx(w @ MATRIX @ w, rel=1e-13)


@pytest.mark.parametrize(
    "rows, columns",
    [
        ([3, 0, 7], None),
        ([3, 0, 7], [7, 1, 3, 12]),  # overlapping: diagonal entries inside
        (np.arange(N_ASSETS) % 3 == 0, np.arange(N_ASSETS) % 2 == 0),  # masks
        ([], [1, 2]),
    ],
)
def test_submatrix_and_block_matvec(operator, rows, columns):
    index = np.arange(N_ASSETS)
    r = index[np.asarray(rows, dtype=bool if len(rows) == N_ASSETS else np.intp)]
    c = r if columns is None else index[np.asarray(columns)]
    expected = MATRIX[np.ix_(r, c)]
    np.testing.assert_allclose(
        operator.submatrix(rows, columns), expected, rtol=1e-13, atol=1e-16
    )
    v = np.random.default_rng(3).normal(size=c.size)
    np.testing.assert_allclose(
        operator.block_matvec(rows, c, v), expected @ v, rtol=1e-13, atol=1e-16
    )


def test_solves(operator):
    rng = np.random.default_rng(4)
    rhs = rng.normal(size=(N_ASSETS, 2))
    shift = rng.uniform(0.0, 0.1, size=N_ASSETS)
    np.testing.assert_allclose(
        MATRIX @ operator.solve(rhs), rhs, rtol=1e-11, atol=1e-12
    )
    np.testing.assert_allclose(
        (MATRIX + np.diag(shift)) @ operator.solve_shifted(shift, rhs[:, 0]),
        rhs[:, 0],
        rtol=1e-11,
        atol=1e-12,
    )


def test_restrict_is_the_covariance_of_the_subset(operator):
    index = [4, 9, 2, 20]
    restricted = operator.restrict(index)
    assert restricted.n_assets == 4
    np.testing.assert_allclose(
        restricted.dense(), MATRIX[np.ix_(index, index)], rtol=1e-13
    )
    np.testing.assert_allclose(
        restricted.matvec(np.ones(4)), MATRIX[np.ix_(index, index)].sum(axis=1)
    )


def test_psd_methods(operator):
    assert operator.is_numerically_psd()
    np.testing.assert_allclose(
        operator.nearest_psd().dense(), MATRIX, rtol=1e-12, atol=1e-15
    )


def test_factor_restrict_keeps_the_floored_variances_exactly():
    # Flooring again would raise a floored variance a little (the floor is
    # relative to the total variance, which includes it).
    structure = FactorCovariance([[1.0], [1.0], [0.5]], [[1.0]], [0.0, 0.0, 0.1])
    restricted = structure.restrict([0, 1])
    np.testing.assert_array_equal(restricted.idiosyncratic, structure.idiosyncratic[:2])
    np.testing.assert_array_equal(restricted.dense(), structure.dense()[:2, :2])
    assert not restricted.loadings.flags.writeable
    assert structure.nearest_psd() is structure


def test_dense_sparse_and_dense_products_agree():
    # Half or fewer non-zeros go through the rows of the support, more
    # through BLAS symv: the two must give the same product.
    rng = np.random.default_rng(5)
    operator = DenseCovariance(MATRIX)
    v = sparse_vector(rng, n_nonzero=N_ASSETS // 2)
    w = v + 1e-300 * (v == 0)  # every entry non-zero: the symv branch
    np.testing.assert_allclose(operator.matvec(v), operator.matvec(w), rtol=1e-14)


def test_dense_operator_detects_and_repairs_an_indefinite_matrix():
    indefinite = np.array([[1.0, 2.0], [2.0, 1.0]])
    operator = DenseCovariance(indefinite)
    assert not operator.is_numerically_psd()
    repaired = operator.nearest_psd()
    np.testing.assert_allclose(repaired.dense(), nearest_psd(indefinite))
    assert repaired.is_numerically_psd()
    with pytest.raises(LinAlgError):
        operator.solve(np.ones(2))


def test_dense_operator_keeps_a_contiguous_float_matrix_without_copy():
    assert DenseCovariance(MATRIX).dense() is MATRIX
    assert DenseCovariance(np.asfortranarray(MATRIX)).dense().flags.c_contiguous


def test_as_covariance_operator():
    assert as_covariance_operator(STRUCTURE) is STRUCTURE
    wrapped = as_covariance_operator(MATRIX.tolist())
    assert isinstance(wrapped, DenseCovariance)
    np.testing.assert_array_equal(wrapped.dense(), MATRIX)


# ------------------------------------------------------------- SampleCovariance
def test_sample_operator_matches_np_cov_and_keeps_its_mean():
    operator = SampleCovariance(RETURNS)
    np.testing.assert_allclose(
        operator.dense(), np.cov(RETURNS, rowvar=False), rtol=1e-13, atol=1e-16
    )
    np.testing.assert_array_equal(operator.sample_mean, RETURNS.mean(axis=0))
    assert operator.n_samples == RETURNS.shape[0]
    np.testing.assert_array_equal(sample_covariance(RETURNS), operator.dense())


def test_sample_operator_uses_the_returns_until_products_cost_a_formation():
    # Few products (a working-set solve) never form Σ; many (an iterative
    # solver) form it once their cost reaches that of forming it, after which
    # the returns are released and every method reads the matrix.
    rng = np.random.default_rng(8)
    X = rng.normal(size=(400, 200))
    operator = SampleCovariance(X)
    expected = np.cov(X, rowvar=False)
    v = rng.normal(size=200)
    for _ in range(5):
        np.testing.assert_allclose(operator.matvec(v), expected @ v, rtol=1e-12)
    operator.submatrix([1, 5, 9])
    assert not operator.is_formed
    assert operator.centred is not None and not operator.centred.flags.writeable
    for _ in range(60):
        np.testing.assert_allclose(operator.matvec(v), expected @ v, rtol=1e-12)
    assert operator.is_formed
    assert operator.centred is None
    np.testing.assert_allclose(operator.diag(), np.diag(expected), rtol=1e-13)
    assert isinstance(operator.restrict([0, 3]), DenseCovariance)


def test_sample_operator_charges_blocks_their_arithmetic():
    # A block of 150 of 200 assets costs T 150² / 2 multiply-adds from the
    # data, over half of forming Σ (T 200² / 2): the second one forms Σ.
    rng = np.random.default_rng(10)
    X = rng.normal(size=(400, 200))
    operator = SampleCovariance(X)
    expected = np.cov(X, rowvar=False)
    block = np.arange(150)
    np.testing.assert_allclose(
        operator.submatrix(block), expected[:150, :150], rtol=1e-12, atol=1e-15
    )
    assert not operator.is_formed
    np.testing.assert_allclose(
        operator.submatrix(block), expected[:150, :150], rtol=1e-12, atol=1e-15
    )
    assert operator.is_formed


@pytest.mark.parametrize(
    "kind", ["dense", "sample", "sample, formed", "sample, gram", "gram, small means"]
)
def test_scaled_cholesky_factorises_the_covariance(kind):
    if kind == "dense":
        operator = DenseCovariance(MATRIX)
    elif kind == "gram, small means":
        operator = SampleCovariance(SMALL_MEAN_RETURNS, gram=True)
    else:
        operator = SampleCovariance(RETURNS, gram=kind == "sample, gram")
    if kind == "sample, formed":
        operator.dense()
    factor, scale = operator.scaled_cholesky()
    L = np.tril(factor)
    np.testing.assert_allclose(scale * L @ L.T, MATRIX, rtol=1e-12, atol=1e-15)
    if kind != "dense" and kind != "sample, formed":
        # Factorised from the Gram matrix of its returns, Σ left unformed.
        assert not operator.is_formed
        assert scale == 1.0 / (RETURNS.shape[0] - 1)
    if kind == "dense":
        np.testing.assert_array_equal(operator.dense(), MATRIX)
    # Factorising leaves Σ to be formed (the kept Gram matrix survives).
    np.testing.assert_allclose(operator.dense(), MATRIX, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("mean_over_sd", "uncentred"),
    [(0.0, True), (0.1, True), (0.2, True), (0.5, False), (100.0, False)],
)
def test_gram_comes_from_the_uncentred_returns_only_when_the_means_allow(
    monkeypatch, mean_over_sd, uncentred
):
    """``SampleCovariance(gram=True)`` skips centring only when every mean is
    small against its standard deviation (a third, for evenly spread
    returns; prices, with means of a hundred standard deviations, are
    centred), and is as accurate as centring either way."""
    rng = np.random.default_rng(3)
    T, N = 400, 30
    noise = rng.standard_normal((T, N))
    # Every period's deviations share the spread of the whole sample, so the
    # first eighth of them bounds the variances from below as it should.
    noise = (noise - noise.mean(axis=0)) / noise.std(axis=0)
    sd = rng.uniform(0.5, 2.0, size=N)
    X = noise * sd + mean_over_sd * sd
    seen = []
    product = _operator._lower_gram_product

    def spy(A):
        seen.append(A is X)
        return product(A)

    monkeypatch.setattr(_operator, "_lower_gram_product", spy)
    operator = SampleCovariance(X, gram=True)
    assert seen == [uncentred]
    expected = np.cov(X - X.mean(axis=0), rowvar=False)
    np.testing.assert_allclose(operator.dense(), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("gram", [False, True])
def test_overflow_is_told_by_the_diagonal(gram):
    """Sums of squares within a factor 4 of the largest float are refused:
    the cross products, bounded by them, could then round to infinity."""
    big = 7e153  # squares sum to 9.8e307: finite, above max / 4
    X = np.array([[big, 0.0, 1.0], [-big, 1.0, 0.0], [0.0, 2.0, 1.0]])
    with pytest.raises(ValueError, match="overflows"):
        SampleCovariance(X, gram=gram).dense()
    with pytest.raises(ValueError, match="overflows"):
        sample_covariance(X)
    fine = np.cov(X / big, rowvar=False) * big**2 / 4
    np.testing.assert_allclose(
        SampleCovariance(X / 2, gram=gram).dense(), fine, rtol=1e-12
    )


def test_gram_operator_answers_from_its_triangle_until_a_block_is_asked_for():
    operator = SampleCovariance(SMALL_MEAN_RETURNS, gram=True)
    v = np.linspace(-1.0, 1.0, N_ASSETS)
    shift = np.full(N_ASSETS, 0.01)
    np.testing.assert_allclose(operator.matvec(v), MATRIX @ v, rtol=1e-12)
    np.testing.assert_allclose(operator.diag(), np.diag(MATRIX), rtol=1e-12)
    assert operator.quad_form(v) == pytest.approx(v @ MATRIX @ v, rel=1e-12)
    np.testing.assert_allclose(
        operator.solve_shifted(shift, v),
        np.linalg.solve(MATRIX + np.diag(shift), v),
        rtol=1e-10,
    )
    operator.scaled_cholesky()
    assert not operator.is_formed
    np.testing.assert_allclose(
        operator.submatrix([0, 3]), MATRIX[np.ix_([0, 3], [0, 3])], rtol=1e-12
    )
    assert operator.is_formed


def test_gram_operator_has_no_returns_for_a_cross_covariance():
    operator = SampleCovariance(SMALL_MEAN_RETURNS, gram=True)
    assert operator.centred is None
    with pytest.raises(RuntimeError, match="released"):
        operator.cross_covariance(np.ones(RETURNS.shape[0]))


def test_scaled_cholesky_raises_for_a_singular_matrix_and_reports_overflow():
    with pytest.raises(LinAlgError):
        DenseCovariance(np.ones((3, 3))).scaled_cholesky()
    with pytest.raises(LinAlgError):
        SampleCovariance(np.ones((5, 3)) + np.arange(5)[:, None]).scaled_cholesky()
    with pytest.raises(ValueError, match="overflows"):
        SampleCovariance(np.array([[1e200, 0.0], [-1e200, 1.0]])).scaled_cholesky()


def test_sample_operator_cross_covariance_is_the_joint_covariance_column():
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(50, 6)), rng.normal(size=50)
    joint = np.cov(np.column_stack([X, y]), rowvar=False)
    np.testing.assert_allclose(
        SampleCovariance(X).cross_covariance(y), joint[:6, 6], rtol=1e-13
    )


def test_sample_operator_does_not_keep_or_mutate_the_returns():
    X = RETURNS.copy()
    operator = SampleCovariance(X)
    operator.dense()
    np.testing.assert_array_equal(X, RETURNS)
    assert not np.shares_memory(operator.dense(), X)
