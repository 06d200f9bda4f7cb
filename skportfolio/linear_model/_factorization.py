"""The triangular factor ``R`` with ``X'X = R'R`` of a least-squares design matrix.

The Gram matrix ``X'X`` is formed first: it is cheap (one symmetric rank-k
update) and its Cholesky factor serves whenever ``cond(X'X)`` is moderate.
Beyond ``GRAM_COND_MAX`` forming ``X'X`` has lost the digits of the weak
directions of ``X``, and ``R`` comes from a QR decomposition of ``X`` itself,
computed by shifted CholeskyQR from the Gram matrix already at hand, with
Householder QR as the fallback.

Shifted CholeskyQR
------------------
Fukaya, Kannan, Nakatsukasa, Yamamoto and Yanagisawa (2020): the Cholesky
factor ``R1`` of ``X'X + sI`` exists despite the rounding of ``X'X`` once the
shift ``s`` exceeds that rounding, and ``Q1 = X R1^{-1}`` has a condition
number of about ``sqrt(s) / sigma_min(X)`` instead of ``cond(X)``. CholeskyQR
steps ``R_k = chol(Q_{k-1}'Q_{k-1})``, ``Q_k = Q_{k-1} R_k^{-1}`` then make it
orthonormal: ``Q_k'Q_k - I`` is of the order of ``eps * cond(R_k)**2``
(Yamamoto, Nakatsukasa, Yanagisawa and Fukaya, 2015). ``R = R_k ... R_1``
satisfies ``X + dX = Q_k R`` with ``dX`` of the order of ``eps ||X||`` as for
Householder QR, so ``||(X + dX) b||^2 = ||R b||^2 (1 + e)`` for every ``b``,
with ``|e|`` at most the departure of ``Q_k`` from orthonormality. The steps
stop as soon as ``eps * cond(R_k)**2`` (bounded through the small
``Q_{k-1}'Q_{k-1}`` and ``R_k^{-1}``) is below ``ORTHOGONALITY_TOL``; ``Q_k``
itself is never formed.

One step suffices up to condition numbers of about 1e8: beyond the
Gram matrix already formed it costs a triangular solve and a Gram matrix of
an ``m x n`` matrix, ``2 m n^2`` flops in BLAS-3, against the ``2 m n^2``
flops, mostly BLAS-2 and about twice as slow, of Householder QR.
"""

import numpy as np
from scipy.linalg.blas import dtrsm
from scipy.linalg.lapack import dgeqrf, dgeqrf_lwork, dtrtri

from skportfolio._qp import _cholesky_or_none, _rcond

# Above this condition number of X'X, forming the Gram matrix loses too many
# digits and the QR factor of X is used instead.
GRAM_COND_MAX = 1e6
# Accepted departure of the implicit Q from orthonormality, a relative error in
# ||X b||^2 that moves a least-squares objective by about as much.
ORTHOGONALITY_TOL = 1e-12
# CholeskyQR steps after the shifted one; two (shifted CholeskyQR3) are proven
# to give an orthonormal Q for cond(X) up to about 1 / eps.
MAX_CHOLESKY_QR_STEPS = 2
# Size of the blocks of rows of Q = X R^{-1} formed at a time: half the
# per-core L2 cache of current x86 processors.
BLOCK_BYTES = 256 * 1024
_EPS = np.finfo(float).eps


def design_factor(X, gram=None):
    """The factor of ``X'X`` used by the constrained least-squares paths.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    gram : ndarray of shape (n_features, n_features), optional
        ``X'X`` when the caller has it already.

    Returns
    -------
    R : ndarray of shape (n_features, n_features) or None
        Upper triangular with ``R'R = X'X``; None when there are fewer
        samples than features (``X'X`` is singular; callers form it).
    how : {"cholesky", "qr", "gram"}
        Where ``R`` came from.
    rcond : float or None
        The reciprocal condition number estimate of a Cholesky ``R``
        (see :func:`gram_cholesky`), for the QP layer not to estimate it
        again; None otherwise.
    """
    n_samples, n_features = X.shape
    if n_samples < n_features:
        return None, "gram", None
    if gram is None:
        gram = X.T @ X
    R, rcond = gram_cholesky(gram)
    if keeps_the_digits(rcond):
        return R, "cholesky", rcond
    return qr_factor(X, gram), "qr", None


def gram_cholesky(gram):
    """The Cholesky factor of a Gram matrix and its conditioning.

    Returns ``(R, rcond)``: ``R`` upper triangular with ``R'R = gram`` and
    the reciprocal condition number estimate of ``R`` (LAPACK ``dtrcon``),
    or ``(None, 0.0)`` when ``gram`` is not numerically positive definite.
    """
    R = _cholesky_or_none(gram)
    return (None, 0.0) if R is None else (R, _rcond(R))


def keeps_the_digits(rcond):
    """Whether a Cholesky factor of ``X'X`` with reciprocal condition number
    ``rcond`` is as accurate as the QR factor of ``X``: ``cond(X'X)`` at most
    ``GRAM_COND_MAX``, below which forming ``X'X`` has not lost the digits of
    the weak directions of ``X``."""
    return rcond**2 >= 1.0 / GRAM_COND_MAX


def qr_factor(X, gram):
    """``R`` of a QR decomposition of ``X`` (``n_samples >= n_features``).

    Shifted CholeskyQR from ``gram = X'X`` when it certifies its accuracy
    (see the module documentation), else Householder QR (LAPACK ``dgeqrf``).
    The signs of the rows of ``R`` may differ between the two.
    """
    R = _shifted_cholesky_qr(X, gram)
    return _householder_r(X) if R is None else R


def _shifted_cholesky_qr(X, gram):
    n_samples, n_features = X.shape
    # The rounding error of a Gram entry grows like sqrt(n_samples) eps
    # |x_i|'|x_j|, Cholesky's own like n_features eps.
    shift = (np.sqrt(n_samples) + n_features + 1) * _EPS * np.trace(gram)
    R = _cholesky_or_none(gram + shift * np.eye(n_features))
    if R is None:
        return None
    for _ in range(MAX_CHOLESKY_QR_STEPS):
        gram_step = _projected_gram(X, R)
        R_step = _cholesky_or_none(gram_step)
        if R_step is None:
            return None
        R = R_step @ R
        if _orthogonality_defect(gram_step, R_step) <= ORTHOGONALITY_TOL:
            return R
    return None


def _projected_gram(X, R):
    """``Q'Q`` for ``Q = X R^{-1}``, one block of rows at a time.

    Each block of ``Q`` is solved for (a triangular solve from the right, on
    a Fortran-ordered copy of the block) and multiplied out while it is in
    the cache, so ``X`` is read once and ``Q`` is never stored whole. Solving
    from ``X`` with the accumulated ``R`` rather than from the previous ``Q``
    changes ``Q`` only by a backward error of the order of ``eps ||X||``,
    which is what every CholeskyQR step commits anyway.
    """
    n_features = X.shape[1]
    rows = max(1, BLOCK_BYTES // (8 * n_features))
    gram = np.zeros((n_features, n_features))
    for start in range(0, X.shape[0], rows):
        Q = dtrsm(1.0, R, X[start : start + rows], side=1, lower=0)
        gram += Q.T @ Q
    return gram


def _orthogonality_defect(gram_step, R_step):
    """An upper bound of ``eps * cond(Q'Q)``: how far the next ``Q`` is from
    orthonormal.

    ``cond(G) <= ||G||_1 ||R^{-1}||_F^2`` for ``G = R'R`` symmetric
    (``||G||_2 <= ||G||_1`` and ``||G^{-1}||_2 = ||R^{-1}||_2^2``): a few
    times the exact value here, and a triangular inversion costs a fraction
    of an eigenvalue decomposition.
    """
    inverse, info = dtrtri(R_step, lower=0)
    if info:
        return np.inf
    largest_column_sum = np.abs(gram_step).sum(axis=0).max()
    return _EPS * largest_column_sum * np.einsum("ij,ij->", inverse, inverse)


def _householder_r(X):
    n_features = X.shape[1]
    lwork = int(dgeqrf_lwork(*X.shape)[0])
    factored = dgeqrf(X, lwork=lwork)[0]
    return np.triu(factored[:n_features])
