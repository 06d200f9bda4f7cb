"""Quadratic programmes on a factor-model covariance, by Newton's method on the dual.

With ``Σ = D + U U'`` (``D`` diagonal and positive, ``U`` of shape ``n x K``)
the problem::

    minimise    1/2 w'Σw + q'w
    subject to  A_eq w = b_eq,  A_ub w <= b_ub,  lb <= w <= ub

has a dual in only ``p = K + m`` variables (``m`` constraint rows). Writing
``1/2 ||U'w||² = max_λ λ'U'w - 1/2 ||λ||²`` and dualising the rows with
multipliers ``η = (ν, μ)``, ``μ >= 0``, the Lagrangian separates over the
assets, and with ``z = (λ, η)``, ``G = [U, A_eq', A_ub']`` and
``r = q + G z`` the dual function is::

    g(z) = Σ_i min_{lb_i <= w_i <= ub_i} (1/2 d_i w_i² + r_i w_i)
           - 1/2 ||λ||² - η'b,

minimised by ``w_i(z) = clip(-r_i / d_i, lb_i, ub_i)``. ``g`` is concave and
piecewise quadratic, with gradient ``G'w(z) - (λ, b)`` and, on each piece,
Hessian ``-(G_F' D_F⁻¹ G_F + diag(I_K, 0))`` where ``F`` holds the assets
strictly inside their bounds. Newton's method (a ``p``-dimensional QP for
the step when ``μ >= 0`` must be kept, an exact line search) maximises it;
on the piece of the optimum a full step lands on it exactly, and the
iteration stops once the gradient is at rounding level. At a maximiser, ``λ = U'w`` and
the dual optimality conditions are the KKT conditions of the primal
problem, with the reduced costs ``(Σw + q + A'η)_i`` as the multipliers of
the bounds; the result is checked against them before it is returned.

An iteration costs ``O(n p²)`` time and ``O(n p)`` memory whatever the size
of the optimum's support, where a primal active-set method would factor a
matrix the size of the support.

References
----------
.. [1] M. Hintermüller, K. Ito and K. Kunisch, "The primal-dual active set
   strategy as a semismooth Newton method", SIAM Journal on Optimization
   13(3), 2002.
"""

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotrs

from skportfolio._constraints import independent_equalities
from skportfolio._qp import QPResult, solve_qp
from skportfolio.exceptions import SolverError

# Newton iterations before giving up (a handful suffice in practice).
MAX_ITER = 200
# Levenberg regularisation of the multipliers' block of the Newton matrix,
# relative to its typical diagonal entry: that block is singular when no
# free asset enters a row. It shrinks with the rows' violation, so the last
# steps are Newton steps.
REGULARISATION = 1e-2
MIN_REGULARISATION = 1e-12
# Rounding error of a value of g, relative to the sum of its terms' sizes:
# increases below it are noise, and a step that changes g by less is taken
# as it is (the last steps of Newton's method change g by nothing at all).
ROUNDING = 64 * np.finfo(float).eps
# Gradient components below this times sqrt(n) times the sizes of their
# terms are rounding noise: the maximiser is reached.
GRADIENT_RTOL = 4 * np.finfo(float).eps
# Steps without an increase of g beyond rounding before the iteration stops.
PATIENCE = 3
# Stationarity residual, relative to the size of the gradient's terms, the
# final point must meet.
KKT_RTOL = 1e-9
_TINY = np.finfo(float).tiny


class FactorQPError(RuntimeError):
    """The dual Newton iteration did not reach a certified optimum."""


def solve_factor_qp(covariance, q, constraints):
    """Solve the portfolio QP on a factor-model covariance through its dual.

    Parameters
    ----------
    covariance : FactorCovariance
        Or any object with ``diagonal_and_root()`` and ``matvec``.
    q : ndarray of shape (n,)
    constraints : LinearConstraints

    Returns
    -------
    QPResult
        With the multipliers of every constraint; ``n_iter`` counts Newton
        iterations.

    Raises
    ------
    InfeasibleConstraintsError
        If a single row conflicts with the bounds.
    FactorQPError
        If the iteration stops without an optimum that passes the KKT check
        (including infeasible constraints that need several rows together
        to conflict, for which the dual is unbounded).
    """
    constraints.check_obvious_conflicts()
    independent, eq_rows = independent_equalities(constraints)
    diagonal, root = covariance.diagonal_and_root()
    dual = _Dual(diagonal, root, q, independent)
    z, n_iter = dual.maximise(_equality_start(covariance, root, q, independent))
    x, independent_eq, ineq = dual.primal(z)
    lower, upper = _certified_bound_multipliers(
        covariance, q, independent, x, independent_eq, ineq
    )
    eq = np.zeros(constraints.A_eq.shape[0])
    eq[eq_rows] = independent_eq
    return QPResult(
        x=x,
        objective=float(0.5 * covariance.quad_form(x) + q @ x),
        eq=eq,
        ineq=ineq,
        lower=lower,
        upper=upper,
        n_iter=n_iter,
        n_proximal=0,
    )


def equality_minimiser(covariance, q, A, b):
    """``(x, ν)``: the minimiser of ``1/2 x'Σx + q'x`` subject to ``A x = b``
    alone, and the multipliers of its rows.

    Stationarity ``Σx + q + A'ν = 0`` gives ``x = -Σ⁻¹(q + A'ν)``, and
    ``A x = b`` the ``m x m`` system ``(A Σ⁻¹ A') ν = -(b + A Σ⁻¹ q)``:
    one solve with ``m + 1`` right-hand sides (``O(n K²)`` for a factor
    model) and a tiny dense one. Σ must be positive definite and the rows of
    ``A`` independent.
    """
    solved = covariance.solve(np.column_stack([A.T, q]))
    inverse_a, inverse_q = solved[:, :-1], solved[:, -1]
    multipliers = np.linalg.solve(A @ inverse_a, -(b + A @ inverse_q))
    return -(inverse_q + inverse_a @ multipliers), multipliers


def _equality_start(covariance, root, q, constraints):
    """The dual point of the problem without its bounds and inequalities.

    Its minimiser (:func:`equality_minimiser`) costs one Woodbury solve;
    ``λ = U'x`` and ``ν`` make ``-r / d`` equal to ``x``, so Newton's method
    starts from the clipped unconstrained optimum rather than from
    ``w = clip(-q / d)``, which ignores every correlation.
    """
    x, multipliers = equality_minimiser(
        covariance, q, constraints.A_eq, constraints.b_eq
    )
    return np.concatenate(
        [root.T @ x, multipliers, np.zeros(constraints.A_ub.shape[0])]
    )


class _Dual:
    """The dual function of one problem, its derivatives and its maximiser."""

    def __init__(self, diagonal, root, q, constraints):
        self.d, self.q, self.constraints = diagonal, q, constraints
        self.inverse_d = 1.0 / diagonal
        self.lb, self.ub = constraints.lb, constraints.ub
        self.n_factors = root.shape[1]
        self.n_eq = constraints.A_eq.shape[0]
        rows = np.vstack([constraints.A_eq, constraints.A_ub])
        # Products with G and G' are faster on its columns, gathering rows
        # faster on its rows: G is kept in Fortran order, and its rows scaled
        # by D^{-1/2}, from which the curvature G_F' D_F^{-1} G_F is one
        # product of a gathered block with itself, in C order.
        self.G = np.asfortranarray(np.hstack([root, rows.T]))
        self.abs_G = np.abs(self.G)
        self.scaled_G = np.ascontiguousarray(
            self.G * np.sqrt(self.inverse_d)[:, np.newaxis]
        )
        self.b = np.concatenate([constraints.b_eq, constraints.b_ub])
        self.n_dual = self.G.shape[1]
        self.n_rows = rows.shape[0]
        # The typical curvature of g along a row's multiplier, for the
        # regularisation: sum over the assets of a_i² / d_i.
        self.row_scale = np.maximum(
            (rows * rows) @ self.inverse_d / self.d.size, np.mean(self.inverse_d)
        )

    # ------------------------------------------------------------ evaluation
    def weights(self, z):
        """``r = q + Gz``, the minimising weights and the free assets."""
        r = self.q + self.G @ z
        unclipped = -r / self.d
        weights = self._clip(unclipped)
        free = (unclipped > self.lb) & (unclipped < self.ub)
        return r, weights, free

    def _clip(self, w):
        # np.clip costs twice as much with array bounds.
        return np.minimum(np.maximum(w, self.lb), self.ub)

    def value(self, z, r, weights):
        """``g(z)``, and a bound on its rounding error."""
        factor_part = z[: self.n_factors]
        terms = (
            0.5 * (self.d @ (weights * weights)),
            r @ weights,
            -0.5 * (factor_part @ factor_part),
            -(self.b @ z[self.n_factors :]),
        )
        magnitude = sum(abs(term) for term in terms) + np.abs(r) @ np.abs(weights)
        return float(sum(terms)), ROUNDING * magnitude

    def gradient(self, z, weights):
        gradient = self.G.T @ weights
        gradient[: self.n_factors] -= z[: self.n_factors]
        gradient[self.n_factors :] -= self.b
        return gradient

    def stationary(self, z, weights, gradient):
        """Whether every component of the gradient is at rounding level.

        Each is a sum of ``n`` terms (``G'w``) and one more: its rounding
        error grows like ``sqrt(n)`` times the sum of their sizes.
        """
        scale = self.abs_G.T @ np.abs(weights)
        scale[: self.n_factors] += np.abs(z[: self.n_factors])
        scale[self.n_factors :] += np.abs(self.b)
        tolerance = GRADIENT_RTOL * np.sqrt(self.d.size) * scale
        return bool(np.all(np.abs(gradient) <= tolerance))

    # -------------------------------------------------------------- maximise
    def maximise(self, z):
        """The maximiser of ``g`` from ``z`` and the iterations it took.

        Stops when the gradient is at rounding level, or when ``g`` has not
        increased beyond its rounding error for ``PATIENCE`` steps.
        """
        r, weights, free = self.weights(z)
        value, _ = self.value(z, r, weights)
        stalled = 0
        for n_iter in range(MAX_ITER):
            gradient = self.gradient(z, weights)
            if stalled == PATIENCE or self.stationary(z, weights, gradient):
                return z, n_iter
            step = self._newton_step(z, gradient, free)
            if not gradient @ step > 0:
                return z, n_iter
            length = self._step_length(z, r, weights, step)
            if not np.isfinite(length):
                raise FactorQPError(
                    "The dual of the factor-model QP increases without bound: "
                    "the constraints cannot all hold."
                )
            z = z + length * step
            r, weights, free = self.weights(z)
            new_value, rounding = self.value(z, r, weights)
            stalled = stalled + 1 if new_value <= value + rounding else 0
            value = new_value
        raise FactorQPError(
            f"Newton's method on the dual of the factor-model QP did not "
            f"converge in {MAX_ITER} iterations."
        )

    def _step_length(self, z, r, weights, step):
        """The exact maximiser ``t`` of ``g(z + t step)``, keeping ``μ >= 0``.

        Along the line ``g`` is concave and piecewise quadratic: its
        derivative ``s'w(t) - λ'Δλ - t Δλ'Δλ - Δη'b`` (``s = G step``) is
        piecewise linear and decreasing, with a kink wherever an asset's
        ``w_i(t) = clip(-(r_i + t s_i) / d_i, lb_i, ub_i)`` reaches or
        leaves a bound. Its root is found by sorting the kinks, so a step of
        any scale gets its right length: the dual of a nearly singular Σ has
        very narrow pieces, which backtracking would cross one halving at a
        time.
        """
        K = self.n_factors
        s = self.G @ step
        constant = -float(step[:K] @ z[:K] + step[K:] @ self.b)
        slope = -float(step[:K] @ step[:K])
        derivative = float(s @ weights) + constant
        if not derivative > 0:
            return 0.0
        # Bracket the root by the full step first: near the optimum few
        # kinks lie before it, and only the kinks inside the bracket are
        # sorted.
        start, end = 0.0, self._multiplier_limit(z, step)
        if end > 1.0:
            at_one = self._clip(-(r + s) / self.d)
            derivative_at_one = float(s @ at_one) + constant + slope
            if derivative_at_one > 0:
                start, derivative = 1.0, derivative_at_one
            else:
                end = 1.0
        enter, leave, curvature = self._kinks(r, s)
        # compress: boolean indexing costs several times as much.
        slope -= curvature.compress((enter <= start) & (leave > start)).sum()
        entering = (enter > start) & (enter < end)
        leaving = (leave > start) & (leave < end)
        times = np.concatenate([enter.compress(entering), leave.compress(leaving)])
        changes = np.concatenate(
            [-curvature.compress(entering), curvature.compress(leaving)]
        )
        # The order of kinks at the same time does not matter: the segments
        # between them have zero length.
        order = np.argsort(times)
        knots = np.concatenate([[start], times[order]])
        slopes = slope + np.concatenate([[0.0], np.cumsum(changes[order])])
        # The derivative at each knot; the root is in the first segment
        # whose end has a non-positive derivative.
        at_knots = derivative + np.concatenate(
            [[0.0], np.cumsum(slopes[:-1] * np.diff(knots))]
        )
        past = np.flatnonzero(at_knots <= 0)
        k = (past[0] - 1) if past.size else knots.size - 1
        if slopes[k] < 0:
            return min(knots[k] - at_knots[k] / slopes[k], end)
        return end

    def _kinks(self, r, s):
        """When each moving asset becomes free and bound again along ``r + t s``.

        Returns ``(enter, leave, curvature)`` for the assets with
        ``s_i != 0``: asset ``i`` is strictly inside its bounds for ``t`` in
        ``(enter_i, leave_i)``, where it adds ``-curvature_i = -s_i² / d_i``
        to the slope of the derivative along the line.
        """
        d, lb, ub = self.d, self.lb, self.ub
        moving = s != 0
        if not moving.all():
            s, r, d, lb, ub = (a.compress(moving) for a in (s, r, d, lb, ub))
        reach_lb = (-r - d * lb) / s
        reach_ub = (-r - d * ub) / s
        # Both times are ordered as the bounds are (lb <= ub) when s < 0,
        # reversed when s > 0.
        return np.minimum(reach_lb, reach_ub), np.maximum(reach_lb, reach_ub), s * s / d

    def _degenerate_step(self, z, gradient):
        """A step in one block of ``z`` when no asset is free.

        ``g`` is then quadratic in ``λ`` with curvature ``I`` (the Newton
        step is the gradient) and linear in ``η`` (a move along the gradient,
        whose length the exact line search finds where assets leave their
        bounds). The block with the larger first-order gain moves alone: a
        combined step would be cut short by ``λ``'s curvature.
        """
        K = self.n_factors
        step = np.zeros(self.n_dual)
        start = K + self.n_eq
        rows = gradient[K:] / self.row_scale
        # A multiplier at zero that would turn negative stays there.
        rows[self.n_eq :] = np.where(
            z[start:] > 0, rows[self.n_eq :], np.maximum(rows[self.n_eq :], 0.0)
        )
        factor_gain = gradient[:K] @ gradient[:K]
        if rows @ gradient[K:] > factor_gain:
            step[K:] = rows
        else:
            step[:K] = gradient[:K]
        return step

    def _multiplier_limit(self, z, step):
        """The longest step keeping the inequality multipliers non-negative."""
        start = self.n_factors + self.n_eq
        multipliers, change = z[start:], step[start:]
        shrinking = change < 0
        if not shrinking.any():
            return np.inf
        return float(np.min(multipliers[shrinking] / -change[shrinking]))

    def _newton_step(self, z, gradient, free):
        """Maximiser of the local quadratic model, keeping ``μ >= 0``.

        With every asset at a bound the model is degenerate: ``g`` is
        linear in the multipliers of the rows, so it says nothing about how
        far to move them, and the step is then a block step instead (see
        :meth:`_degenerate_step`).
        """
        K = self.n_factors
        if not free.any():
            return self._degenerate_step(z, gradient)
        scaled = self.scaled_G.compress(free, axis=0)
        curvature = scaled.T @ scaled
        curvature[np.diag_indices(K)] += 1.0
        violation = np.max(np.abs(gradient[K:]), initial=0.0)
        relative = min(1.0, violation / max(1.0, np.max(np.abs(self.b), initial=0.0)))
        regularisation = self.row_scale * max(
            REGULARISATION * relative, MIN_REGULARISATION
        )
        rows = np.arange(K, self.n_dual)
        curvature[rows, rows] += regularisation
        # Unit diagonal: the blocks of λ and of the rows differ in scale by
        # 1 / d, which may be 1e9 and more.
        scaling = 1.0 / np.sqrt(np.diag(curvature))
        curvature = curvature * scaling * scaling[:, np.newaxis]
        curvature = 0.5 * (curvature + curvature.T)
        gradient = gradient * scaling
        if self.n_rows == self.n_eq:
            # LAPACK directly: scipy's wrappers cost more than factoring a
            # matrix of K + m rows.
            factor, info = dpotrf(curvature, lower=0, clean=0)
            if info == 0:
                return scaling * dpotrs(factor, gradient, lower=0)[0]
            return scaling * np.linalg.lstsq(curvature, gradient, rcond=None)[0]
        lower = np.full(self.n_dual, -np.inf)
        lower[K + self.n_eq :] = -z[K + self.n_eq :] / scaling[K + self.n_eq :]
        return scaling * solve_qp(curvature, -gradient, lb=lower).x

    # ----------------------------------------------------------- the answer
    def primal(self, z):
        """The weights of ``z``, cleaned of round-off, and the multipliers.

        Returns ``(x, eq, ineq)``: the multipliers of the equalities and of
        the inequalities.
        """
        c = self.constraints
        _, weights, _ = self.weights(z)
        K = self.n_factors
        ineq = np.maximum(z[K + self.n_eq :], 0.0)
        weights = c.clean(weights, ineq)
        try:
            c.verify(weights)
        except SolverError as error:
            # Infeasible constraints leave the dual unbounded: the iterate
            # stops wherever the iteration gave up.
            raise FactorQPError(
                "Newton's method on the dual of the factor-model QP ended at "
                "weights that violate the constraints."
            ) from error
        return weights, z[K : K + self.n_eq].copy(), ineq


def _certified_bound_multipliers(covariance, q, constraints, x, eq, ineq):
    """The multipliers of the bounds, once the KKT conditions are checked.

    They are the reduced costs ``(Σx + q + A'η)_i`` of the assets at a
    bound; what is left of the reduced costs, on the free assets and as
    wrong signs, must vanish relative to the size of the gradient's terms.
    Raises :class:`FactorQPError` otherwise.
    """
    c = constraints
    product = covariance.matvec(x)
    reduced = product + q + eq @ c.A_eq + ineq @ c.A_ub
    at_lower, at_upper = x == c.lb, x == c.ub
    lower = np.where(at_lower, np.maximum(reduced, 0.0), 0.0)
    upper = np.where(at_upper, np.maximum(-reduced, 0.0), 0.0)
    residual = reduced - lower + upper
    scale = max(
        np.max(np.abs(product)),
        np.max(covariance.diag()) * np.max(np.abs(x)),
        np.max(np.abs(q)),
        _TINY,
    )
    if not np.max(np.abs(residual)) <= KKT_RTOL * scale:
        raise FactorQPError(
            "Newton's method on the dual of the factor-model QP stopped "
            "without meeting the optimality conditions."
        )
    return lower, upper
