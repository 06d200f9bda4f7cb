"""Tests of the design-matrix factor: Cholesky of X'X, shifted CholeskyQR, Householder.

The reference for a QR factor is LAPACK's Householder QR (``numpy.linalg.qr``),
which is backward stable: ``R`` must agree with it (up to the signs of its
rows), and ``Q = X R^{-1}`` must be as close to orthonormal as with the
Householder factor. That closeness, measured in double precision, is about
``eps * cond(X)`` for any backward-stable factor (``X`` itself fixes its weak
directions no better), hence the comparison rather than a fixed tolerance.
"""

import numpy as np
import pytest
from scipy.linalg import solve_triangular

from skportfolio._qp import _rcond
from skportfolio.linear_model import _factorization
from skportfolio.linear_model._factorization import design_factor, qr_factor


def design_with_condition(seed, condition, n=600, p=20):
    """``X = U diag(s) V'`` with singular values log-spaced from 1 to 1/condition."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, p)))
    V, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return (U * np.logspace(0, -np.log10(condition), p)) @ V.T


def orthogonality_defect(X, R):
    """``||Q'Q - I||_2`` for ``Q = X R^{-1}``."""
    Q = solve_triangular(R, X.T, trans="T").T
    return np.linalg.norm(Q.T @ Q - np.eye(R.shape[0]), 2)


def assert_as_accurate_as_householder(X, R):
    assert np.array_equal(R, np.triu(R))
    householder = np.linalg.qr(X, mode="r")
    signs = np.sign(np.diag(R) * np.diag(householder))
    np.testing.assert_allclose(
        signs[:, None] * R, householder, rtol=0, atol=1e-12 * np.abs(R).max()
    )
    reference = orthogonality_defect(X, householder)
    assert orthogonality_defect(X, R) <= 10 * reference + 1e-13


@pytest.mark.parametrize("condition", [1e3, 1e6, 1e8, 1e10, 1e12, 1e14])
@pytest.mark.parametrize("order", ["C", "F"])
def test_qr_factor_is_as_accurate_as_householder(condition, order):
    X = np.asarray(design_with_condition(1, condition), order=order)
    assert_as_accurate_as_householder(X, qr_factor(X, X.T @ X))


def test_well_conditioned_design_keeps_the_cholesky_factor():
    X = design_with_condition(2, 1e2)
    R, how, rcond = design_factor(X)
    assert how == "cholesky"
    np.testing.assert_allclose(R.T @ R, X.T @ X, rtol=0, atol=1e-14)
    # Handed to the QP layer, which would otherwise estimate it again.
    assert rcond == _rcond(R)
    singular_values = np.linalg.svd(R, compute_uv=False)
    assert 0.1 <= rcond * singular_values[0] / singular_values[-1] <= 10


@pytest.mark.parametrize("condition", [1e4, 1e8])
def test_ill_conditioned_design_takes_the_qr_path(condition):
    X = design_with_condition(3, condition)
    R, how, rcond = design_factor(X)
    assert how == "qr" and rcond is None
    assert_as_accurate_as_householder(X, R)


def test_fewer_samples_than_features_has_no_factor():
    X = np.random.default_rng(4).standard_normal((5, 8))
    assert design_factor(X) == (None, "gram", None)


def test_householder_fallback_when_cholesky_qr_cannot_certify(monkeypatch):
    # No departure from orthonormality is ever certified to be below zero.
    monkeypatch.setattr(_factorization, "ORTHOGONALITY_TOL", 0.0)
    X = design_with_condition(5, 1e8)
    R = qr_factor(X, X.T @ X)
    np.testing.assert_array_equal(R, _factorization._householder_r(X))
    assert_as_accurate_as_householder(X, R)


def test_rank_deficient_design_still_gives_a_factor_of_the_gram_matrix():
    # A duplicated column: X'X is singular, any R must reproduce X'X.
    rng = np.random.default_rng(6)
    X = rng.standard_normal((200, 5))
    X = np.column_stack([X, X[:, 2]])
    R = qr_factor(X, X.T @ X)
    np.testing.assert_allclose(R.T @ R, X.T @ X, rtol=0, atol=1e-10 * (X**2).sum())


def test_inputs_are_not_mutated():
    X = design_with_condition(7, 1e8)
    copy = X.copy()
    gram = X.T @ X
    gram_copy = gram.copy()
    qr_factor(X, gram)
    np.testing.assert_array_equal(X, copy)
    np.testing.assert_array_equal(gram, gram_copy)
