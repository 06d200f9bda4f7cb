r"""Largest eigenpairs of a symmetric positive semi-definite operator by block Krylov.

The operator is only applied to blocks of vectors, so the same iteration
serves a Gram matrix held in memory and one applied through products with
the data it comes from (:class:`~skportfolio.covariance.FactorModelCovariance`
uses both).

The iteration stops only on a certificate. For a unit vector ``u`` with
Rayleigh quotient ``θ`` and residual ``r = Au - θu`` there is an eigenvalue
within ``||r||`` of ``θ``, and the angle between ``u`` and the eigenvector
``v`` of the eigenvalue ``λ`` closest to ``θ`` satisfies

.. math:: \sin\angle(u, v) \le \frac{\lVert r\rVert}{\delta},

where ``δ`` is the distance from ``θ`` to the rest of the spectrum (the
Davis–Kahan ``sin θ`` theorem for one vector). The neighbouring eigenvalues
lie within their own residuals of their Ritz values, which gives ``δ``; the
pairs are returned when every bound is below :data:`SINE_TOL`. That they are
the *largest* eigenpairs rests on the Krylov space of a Gaussian block: an
eigenvalue larger than the last one returned is missed only if the start
block's components along its eigenvector are all below about ``SINE_TOL``
times their typical size, which has probability of order ``SINE_TOL`` to the
power of the block size.

The iteration gives up (returns None) when the certificate cannot be reached
within the steps it is allowed: the estimated rate of convergence predicts
too many steps, it stalls at the rounding level of the operator before the
bound is met (eigenvalues too close together for the requested accuracy),
or the Krylov space stops growing. The caller then uses a dense
eigensolver.

References
----------
.. [1] Y. Saad, *Numerical Methods for Large Eigenvalue Problems*, 2nd ed.,
   SIAM, 2011, chapters 3 and 6.
.. [2] C. Davis and W. M. Kahan, "The rotation of eigenvectors by a
   perturbation. III", SIAM Journal on Numerical Analysis 7(1), 1970.
"""

import numpy as np

#: Columns of the block beyond the eigenpairs sought: the space then also
#: resolves the next eigenvalue, which bounds the gap of the last pair.
OVERSAMPLING = 4
#: Certified bound on the sine of the angle between each returned vector and
#: its eigenvector.
SINE_TOL = 1e-12
#: Steps checked before the rate of convergence is judged: the first
#: residuals say little about it.
PATIENCE = 3
#: A step that reduces the error bound by less than this factor is a stall.
STALL_RATE = 0.7
#: Norm, relative to the block it comes from, below which a new direction
#: is rounding error: the space has stopped growing. Above it, two rounds of
#: classical Gram-Schmidt orthogonalise to working precision.
BREAKDOWN = 1e-10
#: Most steps ever taken, whatever the caller allows: the basis and its
#: image hold ``2 (MAX_STEPS + 1)`` blocks, and eigenvalues separated so
#: weakly that well over the 11 to 17 steps of typical factor models are
#: needed are better left to a dense eigensolver.
MAX_STEPS = 40
#: Seed of the Gaussian start block, so that results are reproducible.
SEED = 0


def largest_eigenpairs(apply, size, n_pairs, max_steps):
    r"""The ``n_pairs`` largest eigenpairs of ``A``, largest first, or None.

    Parameters
    ----------
    apply : callable
        ``apply(V)`` returns ``A @ V`` for ``V`` of shape ``(size, b)``, for
        a symmetric positive semi-definite ``A``.
    size : int
        The order of ``A``.
    n_pairs : int
        Number of eigenpairs sought.
    max_steps : int
        Most products of ``A`` with a block of ``n_pairs + OVERSAMPLING``
        vectors to spend (at most ``MAX_STEPS``, and fewer than ``size``
        columns in all).

    Returns
    -------
    (values, vectors) or None
        ``values`` of shape ``(n_pairs,)``, decreasing, and orthonormal
        ``vectors`` of shape ``(size, n_pairs)``, each certified within
        ``SINE_TOL`` of its eigenvector (see the module documentation); None
        if the certificate was not reached within ``max_steps`` steps.

    Notes
    -----
    Each step applies ``A`` to the newest block ``Q_j`` of the orthonormal
    basis ``Q`` and orthogonalises the image against ``Q`` into the next
    block: :math:`A Q_j = Q h_j + Q_{j+1} R_{j+1}`. The Ritz pairs
    ``(θ, Qy)`` of the projected matrix ``H = Q'AQ`` then have residuals
    :math:`\lVert R_{j+1} y_j\rVert` (``y_j`` the rows of ``y`` of the newest
    block), so progress costs nothing beyond the step; once these estimates
    meet the tolerance, the residuals are computed explicitly for the
    certificate, which rounding could otherwise make optimistic.
    """
    block = n_pairs + OVERSAMPLING
    max_steps = min(max_steps, MAX_STEPS, size // block - 1)
    if max_steps < 1:
        return None
    space = _KrylovSpace(apply, size, block, max_steps)
    checks = []  # (step, bound) at every Rayleigh-Ritz step
    next_check = 1
    for step in range(1, max_steps + 1):
        growing = space.grow()
        if step < next_check and growing:
            continue
        values, coefficients = space.ritz_pairs(n_pairs + 1)
        bound = _sine_bound(values, space.residual_estimates(coefficients), n_pairs)
        if bound <= SINE_TOL:
            vectors, residuals = space.ritz_vectors(values, coefficients)
            if _sine_bound(values, residuals, n_pairs) <= SINE_TOL:
                return values[:n_pairs], vectors[:, :n_pairs]
            return None  # the residuals have reached their rounding level
        checks.append((step, bound))
        next_check = _next_check(checks, max_steps)
        if not growing or next_check is None:
            return None
    return None


class _KrylovSpace:
    """The basis ``Q`` of a block Krylov space, ``AQ`` and ``Q'AQ``.

    All linear algebra goes through numpy, like the products of the caller's
    operator: numpy and scipy each ship an OpenBLAS, and alternating between
    them leaves one's threads spinning while the other's run.
    """

    def __init__(self, apply, size, block, max_steps):
        width = block * (max_steps + 1)
        self.apply, self.block = apply, block
        self.basis = np.empty((size, width))
        self.images = np.empty((size, width))
        self.projected = np.empty((width, width))
        start = np.random.default_rng(SEED).standard_normal((size, block))
        self.basis[:, :block] = np.linalg.qr(start)[0]
        self.end = 0
        self.triangle = None

    def grow(self):
        """Apply ``A`` to the newest block and orthogonalise its image into the next.

        Returns False when some direction of the image has no component
        outside the space (rounding aside): the next block would not be a
        basis of new directions, and the space cannot grow. Once ``A`` is
        applied, :meth:`residual_estimates` holds either way.
        """
        start, end = self.end, self.end + self.block
        basis = self.basis[:, :end]
        image = self.apply(self.basis[:, start:end])
        self.images[:, start:end] = image
        # The first round of Gram-Schmidt is the new columns of Q'AQ; eigh
        # reads their transpose, in the lower triangle.
        coupling = basis.T @ image
        self.projected[start:end, :end] = coupling.T
        self.end = end
        direction = image - basis @ coupling
        direction -= basis @ (basis.T @ direction)
        direction, self.triangle = np.linalg.qr(direction)
        scale = np.max(np.linalg.norm(image, axis=0))
        if not np.min(np.abs(np.diag(self.triangle))) > BREAKDOWN * scale:
            return False
        self.basis[:, end : end + self.block] = direction
        return True

    def ritz_pairs(self, n_pairs):
        """The ``n_pairs`` largest eigenvalues of ``Q'AQ`` and their eigenvectors."""
        values, coefficients = np.linalg.eigh(
            self.projected[: self.end, : self.end], UPLO="L"
        )
        return values[: -n_pairs - 1 : -1], coefficients[:, : -n_pairs - 1 : -1]

    def residual_estimates(self, coefficients):
        """``||R y_j||``: the residual norms of the Ritz vectors ``Q y``."""
        newest = coefficients[self.end - self.block : self.end]
        return np.linalg.norm(self.triangle @ newest, axis=0)

    def ritz_vectors(self, values, coefficients):
        """The Ritz vectors ``Qy`` and their residual norms ``||AQy - θQy||``."""
        vectors = self.basis[:, : self.end] @ coefficients
        residuals = self.images[:, : self.end] @ coefficients - vectors * values
        return vectors, np.linalg.norm(residuals, axis=0)


def _sine_bound(values, residuals, n_pairs):
    """The largest certified ``sin`` of the first ``n_pairs`` Ritz vectors.

    ``values`` and ``residuals`` hold one pair more, whose eigenvalue bounds
    the gap of the last one. Infinite while a gap is not resolved.
    """
    above = np.concatenate([[np.inf], values[: n_pairs - 1] - residuals[: n_pairs - 1]])
    below = values[1 : n_pairs + 1] + residuals[1 : n_pairs + 1]
    ritz = values[:n_pairs]
    gaps = np.minimum(above - ritz, ritz - below)
    if not np.all(gaps > 0):
        return np.inf
    return float(np.max(residuals[:n_pairs] / gaps))


def _next_check(checks, max_steps):
    """The step of the next Rayleigh-Ritz check, or None to give up.

    The first ``PATIENCE`` steps are all checked; after that the bound's
    rate of decrease per step since the previous check predicts the step at
    which it meets the tolerance, and the steps before it only grow the
    space (a Rayleigh-Ritz step costs ``O(m³)`` for a basis of ``m``
    columns, as much as the products of a small problem). None when the
    bound stalls, or is predicted to need more than ``max_steps`` steps.
    """
    step, latest = checks[-1]
    if len(checks) < PATIENCE:
        return step + 1
    previous_step, previous = checks[-2]
    if not np.isfinite(latest):
        return None
    if not np.isfinite(previous):
        return step + 1  # the gaps were resolved by this step: no rate yet
    rate = (latest / previous) ** (1.0 / (step - previous_step))
    if not rate < STALL_RATE:
        return None
    predicted = step + np.log(latest / SINE_TOL) / -np.log(rate)
    if predicted > max_steps:
        return None
    return max(step + 1, int(predicted))
