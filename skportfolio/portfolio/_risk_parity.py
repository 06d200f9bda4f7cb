"""Risk budgeting (risk parity) by Newton's method on Spinu's convex problem.

Risk budgeting asks for long-only weights whose risk contributions
``RC_i = w_i (Σw)_i`` are the fractions ``b_i`` of the variance ``w'Σw``.
Spinu (2013) showed that the unique solution is ``w = y / 1'y`` for the
minimiser ``y`` of the strictly convex function

    f(y) = 1/2 y'Σy - Σ_i b_i log y_i,   y > 0,

whose gradient ``Σy - b/y`` vanishes exactly when ``y_i (Σy)_i = b_i``.

The solver is a Newton iteration on ``f``, started from the exact solution
for a one-factor approximation of ``Σ`` (computed in ``O(N)``), whose
linear systems
``(Σ + diag(b/y²)) Δ = -∇f`` are solved *inexactly* by Jacobi-preconditioned
conjugate gradients (CG), so that an iteration costs a handful of
matrix-vector products rather than a Cholesky factorisation: at
``N = 1000`` a factorisation costs about 75 products.  The preconditioned
Newton matrix is well conditioned near the solution: in the coordinates
``Δ = y ∘ s`` it is ``B^(-1/2) (YΣY + B) B^(-1/2) = I + K`` with ``K``
positive semi-definite and ``K √b = √b`` (at the solution), so its spectrum
is a cluster at 1 to 2 plus a few outliers from the factor structure of the
returns, and CG needs few iterations whatever the condition of ``Σ``.  The
CG tolerance shrinks with the residual (an inexact Newton method), so early
steps are cheap and the last ones keep Newton's quadratic convergence.  If
CG needs more products than a factorisation is worth, the step, and every
later one, is solved directly through ``solve_shifted`` instead.

The covariance is only used through the covariance-operator methods
``matvec``, ``diag``, ``solve_shifted`` and ``restrict`` (see
:class:`~skportfolio.covariance.DenseCovariance`), which
:class:`~skportfolio.covariance.FactorCovariance` also has, so that a factor
model's ``O(NK)`` products and ``O(NK²)`` Woodbury solves plug in unchanged:
a Newton step then costs ``O(NK²)`` and is always solved directly.
"""

import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from scipy.linalg import LinAlgError
from sklearn.utils._param_validation import Interval

from skportfolio.covariance._operator import DenseCovariance
from skportfolio.exceptions import ConvergenceWarning, NotPositiveSemidefiniteError
from skportfolio.portfolio._base import BasePortfolio, MomentsMixin

#: Default largest relative gap ``|RC_i / (b_i w'Σw) - 1|`` accepted.
DEFAULT_TOL = 1e-10

_EPS = np.finfo(np.float64).eps

# Armijo sufficient-decrease fraction, and the fraction of the distance to
# the boundary y = 0 that a step may cover: at most a 4-fold shrink of any
# y_i, because Newton's method regrows a too small y_i only about 2-fold per
# iteration (it doubles -log y), so steps closer to 0 cost iterations later.
_ARMIJO = 1e-4
_TO_BOUNDARY = 0.75
_MAX_HALVINGS = 60

# Idiosyncratic variance kept in the one-factor starting point, as a fraction
# of each variance, and the iterations of its scalar equation.
_IDIOSYNCRATIC_FLOOR = 0.01
_MAX_SCALAR_ITER = 50

# Newton iterations inside the region of quadratic convergence (squared
# Newton decrement below _QUADRATIC_REGION in self-concordant scaling) that
# may fail to produce a new smallest error before the iteration has stalled
# at rounding level.
_PATIENCE = 3
_QUADRATIC_REGION = 0.01

# Forcing term of the inexact Newton method: CG reduces the residual by
# min(_FORCING_CAP, max(_FORCING * error, tol / (10 * error))), i.e. in
# proportion to the error (quadratic convergence) but never further than
# the last step needs to reach tol.
_FORCING = 0.1
_FORCING_CAP = 0.5


class RiskBudgetingResult(NamedTuple):
    """Solution of a risk-budgeting problem.

    Attributes
    ----------
    weights : ndarray of shape (n_assets,)
        Non-negative weights summing to 1.
    risk_contributions : ndarray of shape (n_assets,)
        ``w_i (Σw)_i / w'Σw``: fractions of the variance, summing to 1.
    n_iter : int
        Newton iterations.
    converged : bool
        Whether the risk contributions match the budgets to ``tol``.
    """

    weights: np.ndarray
    risk_contributions: np.ndarray
    n_iter: int
    converged: bool


def risk_budgeting_weights(
    covariance, risk_budget=None, *, tol=DEFAULT_TOL, max_iter=100
):
    r"""Long-only weights whose risk contributions are proportional to a budget.

    Finds ``w >= 0``, ``1'w = 1`` with

    .. math:: \frac{w_i (\Sigma w)_i}{w'\Sigma w} = b_i \quad \text{for all } i,

    the equal-risk-contribution (risk parity) portfolio when ``b = 1/N``.

    Parameters
    ----------
    covariance : array-like of shape (n_assets, n_assets)
        Symmetric positive semi-definite covariance matrix.
    risk_budget : array-like of shape (n_assets,), default=None
        Non-negative budgets, not all zero; normalised to sum to 1. None
        means equal budgets.
    tol : float, default=1e-10
        Largest accepted relative gap ``|RC_i / b_i - 1|`` between the risk
        contributions (as fractions of the variance) and the budgets.
    max_iter : int, default=100
        Largest number of Newton iterations.

    Returns
    -------
    RiskBudgetingResult
        Named tuple ``(weights, risk_contributions, n_iter, converged)``.

    Raises
    ------
    ValueError
        If the budget is negative, all zero or not finite, if an asset with
        a positive budget has zero volatility, or if a long-only portfolio
        of the assets with positive budgets has zero variance (then no
        portfolio can have the budgeted risk contributions).
    NotPositiveSemidefiniteError
        If the covariance is found not to be positive semi-definite.

    Warns
    -----
    ConvergenceWarning
        If ``tol`` is not reached within ``max_iter`` iterations, or rounding
        stops the progress first (see Notes); the result then has
        ``converged=False`` and the best iterate found.

    See Also
    --------
    RiskParity : The estimator built on this function.

    Notes
    -----
    The weights are ``w = y / 1'y`` where ``y`` minimises Spinu's strictly
    convex function

    .. math:: f(y) = \tfrac12 y'\Sigma y - \sum_i b_i \log y_i ,

    found by Newton's method with a backtracking line search, started from
    the exact solution for a one-factor approximation of ``Σ``. Each Newton
    system :math:`(\Sigma + \mathrm{diag}(b / y^2))\,\Delta = -\nabla f` is
    solved by Jacobi-preconditioned conjugate gradients to a tolerance that
    shrinks with the residual (falling back to Cholesky when that is
    cheaper), and the iteration stops once
    :math:`\max_i |RC_i / b_i - 1| \le` ``tol``. A fit costs a few dozen
    products :math:`\Sigma v`, a small fraction of the time taken to estimate
    ``Σ`` from returns.

    Accuracy: :math:`(\Sigma w)_i` is a sum whose terms cancel when the
    portfolio hedges away most of the assets' risk (nearly singular ``Σ``
    along ``w``); its rounding error, relative to its value, is then up to
    :math:`\epsilon\, \sigma_i \sigma^\top w / (\Sigma w)_i`, and risk
    contributions cannot be computed, let alone matched, more accurately.
    When that bound exceeds ``tol`` and stalls the iteration, the warning
    says so.

    Edge cases:

    * ``b_i = 0``: the asset gets weight 0 and the others are solved as a
      smaller problem. Its risk contribution is then 0 as budgeted. This is
      the limit of the solutions as ``b_i -> 0`` whenever the asset's
      marginal risk :math:`(\Sigma w)_i` at that portfolio is non-negative;
      an asset that hedges the others (negative marginal risk) would in the
      limit keep a positive weight with zero marginal risk instead.
    * Singular ``Σ`` (more assets than periods, duplicated assets): ``f``
      stays strictly convex because the barrier's Hessian
      :math:`\mathrm{diag}(b/y^2)` is positive definite, so the solution is
      unique; it exists if and only if no long-only portfolio has zero
      variance (otherwise ``f`` decreases without bound along it), and a
      ``ValueError`` says so. Duplicated assets with equal budgets get equal
      weights.
    * An asset with zero volatility (at most ``eps`` times the largest)
      and a positive budget: its risk contribution is 0 for every portfolio,
      so there is no solution; ``ValueError``.

    References
    ----------
    .. [1] F. Spinu, "An algorithm for computing risk parity weights",
       SSRN 2297383, 2013.
    .. [2] T. Roncalli, "Introduction to Risk Parity and Budgeting", Chapman
       & Hall/CRC, 2013.
    .. [3] J. Nocedal and S. J. Wright, "Numerical Optimization", 2nd ed.,
       Springer, 2006, section 7.1 (inexact Newton, forcing sequences).

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio.portfolio import risk_budgeting_weights
    >>> covariance = np.array([[0.04, 0.006], [0.006, 0.01]])
    >>> result = risk_budgeting_weights(covariance)
    >>> result.weights.round(4)
    array([0.3333, 0.6667])
    >>> result.risk_contributions.round(12)
    array([0.5, 0.5])
    """
    covariance = _check_covariance(covariance)
    budget = check_risk_budget(risk_budget, covariance.shape[0])
    return solve_risk_budgeting(
        DenseCovariance(covariance), budget, tol=tol, max_iter=max_iter
    )


def check_risk_budget(risk_budget, n_assets, asset_names=None):
    """Budgets as a float array summing to 1; ``ValueError`` if unusable."""
    if risk_budget is None:
        return np.full(n_assets, 1.0 / n_assets)
    budget = np.asarray(risk_budget, dtype=np.float64)
    if budget.shape != (n_assets,):
        raise ValueError(
            f"risk_budget must have one entry per asset ({n_assets}); got shape "
            f"{budget.shape}."
        )
    if not np.all(np.isfinite(budget)):
        raise ValueError("risk_budget contains NaN or infinite values.")
    if np.any(budget < 0):
        negative = _labels(np.flatnonzero(budget < 0), asset_names)
        raise ValueError(
            f"risk_budget must be non-negative; the budgets of assets {negative} "
            "are negative (a negative risk contribution is not a budget)."
        )
    total = budget.sum()
    if total == 0:
        raise ValueError(
            "risk_budget is all zero: at least one budget must be positive."
        )
    return budget / total


def solve_risk_budgeting(
    covariance, budget, *, tol=DEFAULT_TOL, max_iter=100, asset_names=None
):
    """Risk budgeting on a covariance operator and validated budgets.

    Parameters
    ----------
    covariance : DenseCovariance, FactorCovariance or another covariance operator
        Only ``matvec``, ``diag``, ``solve_shifted`` and (for zero budgets)
        ``restrict`` are used, and ``products_per_solve`` if present.
    budget : ndarray of shape (n_assets,)
        Non-negative, summing to 1 (:func:`check_risk_budget`).
    tol, max_iter
        As in :func:`risk_budgeting_weights`.
    asset_names : list of str, default=None
        Names used in error messages instead of indices.

    Returns
    -------
    RiskBudgetingResult
    """
    positive = np.flatnonzero(budget > 0)
    _check_volatilities(covariance.diag()[positive], positive, asset_names)
    if positive.size < budget.size:
        covariance = covariance.restrict(positive)
    # Without a cost estimate the direct solve is taken to be cheap (as for
    # a factor model's Woodbury solve) and CG is not tried.
    max_cg_iter = getattr(covariance, "products_per_solve", 0)
    y, Sy, n_iter, error = _newton(
        covariance, budget[positive], tol, max_iter, max_cg_iter
    )
    converged = error <= tol
    if not converged:
        _warn_not_converged(error, tol, n_iter, _rounding_bound(covariance, y, Sy))
    weights = np.zeros(budget.size)
    contributions = np.zeros(budget.size)
    weights[positive] = y / y.sum()
    risk = y * Sy
    contributions[positive] = risk / risk.sum()
    return RiskBudgetingResult(weights, contributions, n_iter, converged)


def _rounding_bound(covariance, y, Sy):
    """Upper bound on the relative rounding error of the computed ``RC_i``.

    ``(Σy)_i`` is a sum whose terms are bounded by ``σ_i σ_j y_j``; when
    they cancel (the portfolio hedges away most of the assets' risk) its
    rounding error relative to its value is up to ``eps σ_i σ'y / (Σy)_i``.
    """
    volatilities = np.sqrt(covariance.diag())
    with np.errstate(divide="ignore"):
        return float(_EPS * np.max(volatilities * (volatilities @ y) / np.abs(Sy)))


def _warn_not_converged(error, tol, n_iter, rounding):
    message = (
        f"Risk budgeting stopped after {n_iter} iterations with risk "
        f"contributions off their budgets by up to {error:.1e} (relative), "
        f"above tol={tol:.1e}."
    )
    if rounding > tol:
        message += (
            f" The portfolio hedges away most of the assets' risk, so double "
            f"precision only determines the risk contributions to about "
            f"{rounding:.0e}: raise tol or use a better conditioned covariance."
        )
    else:
        message += " Increase max_iter."
    warnings.warn(message, ConvergenceWarning, stacklevel=4)


# ------------------------------------------------------------------ validation
def _check_covariance(covariance):
    covariance = np.asarray(covariance, dtype=np.float64)
    if covariance.ndim != 2 or covariance.shape[0] != covariance.shape[1]:
        raise ValueError(
            f"covariance must be a square matrix; got shape {covariance.shape}."
        )
    if covariance.shape[0] == 0:
        raise ValueError("covariance is empty: there are no assets.")
    if not np.all(np.isfinite(covariance)):
        raise ValueError("covariance contains NaN or infinite values.")
    scale = np.max(np.abs(covariance))
    if np.max(np.abs(covariance - covariance.T)) > 1e-10 * scale:
        raise ValueError("covariance is not symmetric.")
    return covariance


def _check_volatilities(variances, assets, asset_names=None):
    largest = max(float(np.max(variances, initial=0.0)), 0.0)
    if np.any(variances < -_EPS * largest):
        raise NotPositiveSemidefiniteError(
            "The covariance has negative variances on its diagonal."
        )
    # The same threshold as InverseVolatility: volatility below eps times the
    # largest is rounding noise (a constant return series gives ~eps² times).
    flat = np.sqrt(np.maximum(variances, 0.0)) <= _EPS * np.sqrt(largest)
    if np.any(flat):
        labels = _labels(assets[flat], asset_names)
        raise ValueError(
            f"Assets {labels} have zero volatility but a positive "
            "risk budget: their risk contribution is 0 in every portfolio, so no "
            "weights meet the budget. Give them a zero budget or remove them."
        )


def _labels(indices, asset_names):
    return [asset_names[i] for i in indices] if asset_names else indices.tolist()


# ---------------------------------------------------------------------- Newton
def _newton(covariance, budget, tol, max_iter, max_cg_iter):
    """Minimise Spinu's function.

    Returns ``(y, Σy, n_iter, error)`` for the iterate with the smallest
    budget error seen.
    """
    variances = covariance.diag()
    y, Sy = _starting_point(covariance, variances, budget, tol)
    volatilities = np.sqrt(variances)
    direct = max_cg_iter < 1
    best = (np.inf, y, Sy)
    n_iter = stalled = 0
    local = False
    while True:
        error = _budget_error(y, Sy, budget)
        if error < best[0]:
            best, stalled = (error, y, Sy), 0
        elif local:
            stalled += 1
        if error <= tol or n_iter == max_iter or stalled == _PATIENCE:
            break
        _check_bounded(y, Sy, volatilities)
        gradient = Sy - budget / y
        shift = budget / (y * y)
        forcing = min(_FORCING_CAP, max(_FORCING * error, 0.1 * tol / error))
        step, curvature, direct = _newton_step(
            covariance, variances, gradient, shift, forcing, max_cg_iter, direct
        )
        slope = float(step @ gradient)
        # f / min(b) is self-concordant: once its Newton decrement is below
        # 0.1 Newton's method converges quadratically, so an error that then
        # stops falling has reached rounding level.
        local = -slope <= _QUADRATIC_REGION * budget.min()
        t = _line_search(y, Sy, slope, step, curvature, budget)
        if t == 0.0:
            break  # no decrease left at rounding level
        y = y + t * step
        Sy = covariance.matvec(y)
        n_iter += 1
    error, y, Sy = best
    return y, Sy, n_iter, error


def _starting_point(covariance, variances, budget, tol):
    """``y`` and ``Σy`` to start Newton's method from, scaled to ``y'Σy = 1``.

    ``y = √b / σ`` is the solution for uncorrelated assets, and for equal
    correlations with equal budgets; when it is not the solution here, the
    exact solution for a one-factor approximation of ``Σ`` built on that
    portfolio is a much better start: it already gives the assets that hedge
    the others their larger weights, and halves the Newton iterations on
    equity-like covariances.
    """
    y = np.sqrt(budget / variances)
    y, Sy = _unit_variance(y, covariance.matvec(y))
    if _budget_error(y, Sy, budget) <= tol:
        return y, Sy
    # With y'Σy = 1 the loadings on the portfolio y are its covariances Σy.
    y = _one_factor_solution(variances, Sy, budget)
    return _unit_variance(y, covariance.matvec(y))


def _unit_variance(y, Sy):
    """The best multiple of ``y``: along a ray ``f`` is least where ``y'Σy = 1'b = 1``."""
    factor = 1.0 / np.sqrt(_portfolio_variance(y, Sy))
    return y * factor, Sy * factor


def _one_factor_solution(variances, loadings, budget):
    """Risk budgeting for ``Σ ≈ ββ' + D``, ``D = diag(σ² - β²)``, in ``O(N)``.

    With ``m = β'y`` the budget equations ``y_i (β_i m + D_i y_i) = b_i`` give
    each ``y_i(m)`` as the positive root of a quadratic, and ``m`` solves the
    scalar equation ``h(m) = m - β'y(m) = 0``. Since ``h' >= 1`` (each
    ``β_i y_i'(m) <= 0``) the root is unique and lies within ``|h(1)|`` of
    ``m = 1``; safeguarded Newton finds it.
    """
    idiosyncratic = np.maximum(
        variances - loadings * loadings, _IDIOSYNCRATIC_FLOOR * variances
    )

    def solution(m):
        bm = loadings * m
        root = np.sqrt(bm * bm + 4.0 * idiosyncratic * budget)
        # The two forms of the positive root, each free of cancellation on its side.
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(
                bm >= 0, 2.0 * budget / (bm + root), (root - bm) / (2.0 * idiosyncratic)
            )
        return y, root

    m = 1.0
    y, root = solution(m)
    gap = m - loadings @ y
    low, high = m - abs(gap), m + abs(gap)
    for _ in range(_MAX_SCALAR_ITER):
        if abs(gap) <= 1e-12:
            break
        if gap > 0:
            high = m
        else:
            low = m
        slope = 1.0 + np.sum(
            loadings * loadings * (1.0 - loadings * m / root) / (2.0 * idiosyncratic)
        )
        m = m - gap / slope
        if not low < m < high:
            m = 0.5 * (low + high)
        y, root = solution(m)
        gap = m - loadings @ y
    return y


def _portfolio_variance(y, Sy):
    variance = float(y @ Sy)
    if variance <= 0:
        raise ValueError(
            "The starting portfolio has zero variance: a long-only portfolio of "
            "the assets with positive budgets has zero variance, so no weights "
            "have the budgeted risk contributions."
        )
    return variance


def _budget_error(y, Sy, budget):
    """``max_i |RC_i / (b_i Σ_j RC_j) - 1|`` with ``RC = y ∘ Σy``."""
    contributions = y * Sy
    total = contributions.sum()
    if not total > 0:
        raise NotPositiveSemidefiniteError(
            "A portfolio has non-positive variance: the covariance is not "
            "positive semi-definite."
        )
    return float(np.max(np.abs(contributions / (budget * total) - 1.0)))


def _check_bounded(y, Sy, volatilities):
    """Raise if the iterates run off along a long-only zero-variance portfolio.

    Then ``f`` has no minimiser and ``y`` grows without bound while ``y'Σy``
    stays bounded, so the variance of ``w = y / 1'y`` relative to its
    undiversified value ``(w'σ)²`` falls towards 0.
    """
    if y @ Sy <= _EPS * float(volatilities @ y) ** 2:
        raise ValueError(
            "A long-only portfolio of the assets with positive budgets has zero "
            "variance (the covariance is singular along it), so no weights have "
            "the budgeted risk contributions. Use a covariance estimator that "
            "gives a positive definite matrix (e.g. shrinkage), or more periods."
        )


def _newton_step(covariance, variances, gradient, shift, forcing, max_cg_iter, direct):
    """Newton direction and its curvature ``Δ'ΣΔ``; also whether CG was given up.

    Solves ``(Σ + diag(shift)) Δ = -gradient`` by CG to a relative residual
    ``forcing``, or directly once CG has needed more than ``max_cg_iter``
    products.
    """
    if not direct:
        solved = _conjugate_gradient(
            covariance, variances + shift, shift, -gradient, forcing, max_cg_iter
        )
        if solved is not None:
            step, residual = solved
            # (Σ + diag(shift)) step = -gradient - residual
            curvature = -step @ (gradient + residual) - shift @ (step * step)
            return step, max(curvature, 0.0), False
    try:
        step = covariance.solve_shifted(shift, -gradient)
    except LinAlgError as error:
        raise NotPositiveSemidefiniteError(
            "The Newton matrix Σ + diag(b / y²) is not positive definite: the "
            "covariance is not positive semi-definite."
        ) from error
    curvature = -step @ gradient - shift @ (step * step)
    return step, max(curvature, 0.0), True


def _conjugate_gradient(covariance, diagonal, shift, rhs, rtol, max_iter):
    """Jacobi-preconditioned CG for ``(Σ + diag(shift)) x = rhs`` from ``x = 0``.

    ``diagonal`` is the diagonal of the matrix. Returns ``(x, residual)`` once
    the preconditioned residual norm has fallen by ``rtol``, or None after
    ``max_iter`` products.
    """
    inverse_diagonal = 1.0 / diagonal
    x = np.zeros_like(rhs)
    residual = rhs.copy()
    z = residual * inverse_diagonal
    direction = z.copy()
    rz = residual @ z
    stop = rtol * rtol * rz
    for _ in range(max_iter):
        product = covariance.matvec(direction)
        product += shift * direction
        curvature = direction @ product
        if not curvature > 0:
            raise NotPositiveSemidefiniteError(
                "The Newton matrix Σ + diag(b / y²) has non-positive curvature: "
                "the covariance is not positive semi-definite."
            )
        alpha = rz / curvature
        x += alpha * direction
        residual -= alpha * product
        z = residual * inverse_diagonal
        rz_next = residual @ z
        if rz_next <= stop:
            return x, residual
        direction *= rz_next / rz
        direction += z
        rz = rz_next
    return None


def _line_search(y, Sy, slope, step, curvature, budget):
    """Backtracking (Armijo) step length along ``step``; 0 if none decreases ``f``.

    ``f(y + tΔ) - f(y) = t Δ'Σy + t²/2 Δ'ΣΔ - Σ b log(1 + tΔ/y)`` is evaluated
    in this form, without cancellation between two values of ``f``, so the
    test stays meaningful down to the last, tiny, steps.
    """
    if not slope < 0:
        return 0.0
    relative = step / y
    t = 1.0
    smallest = relative.min()
    if smallest < 0:
        t = min(1.0, _TO_BOUNDARY / -smallest)
    linear = float(step @ Sy)
    for _ in range(_MAX_HALVINGS):
        change = t * linear + 0.5 * t * t * curvature - budget @ np.log1p(t * relative)
        if change <= _ARMIJO * t * slope:
            return t
        t *= 0.5
    return 0.0


# --------------------------------------------------------------------- estimator
class RiskParity(MomentsMixin, BasePortfolio):
    r"""Risk budgeting: weights whose risk contributions follow a budget.

    Long-only, fully invested weights whose risk contributions
    :math:`RC_i = w_i (\Sigma w)_i`, as fractions of the portfolio variance,
    equal the budget ``b``: equal risk contributions (risk parity) by
    default. The solution is exact to ``tol`` (relative) and unique.

    Parameters
    ----------
    risk_budget : array-like of shape (n_assets,) or dict, default=None
        Non-negative risk budgets, normalised to sum to 1; a dict is keyed by
        asset name (fit on a DataFrame) and must name every asset. None means
        equal budgets. An asset with a zero budget gets weight 0.
    covariance_estimator : estimator, default=None
        Any object with ``fit(X)`` and a ``covariance_`` attribute, e.g.
        :class:`sklearn.covariance.LedoitWolf`; cloned before use. None
        means the sample covariance. An estimator with a
        ``factor_structure_``, such as
        :class:`~skportfolio.covariance.FactorModelCovariance`, is used in
        factored form (see Notes).
    tol : float, default=1e-10
        Largest accepted relative gap :math:`|RC_i / b_i - 1|`.
    max_iter : int, default=100
        Largest number of Newton iterations; a
        :class:`~skportfolio.exceptions.ConvergenceWarning` is issued if
        ``tol`` is not reached.

    Attributes
    ----------
    weights_ : ndarray of shape (n_assets,)
        Non-negative, summing to 1.
    weights_series_ : pandas.Series
        The weights indexed by asset name.
    risk_contributions_ : ndarray of shape (n_assets,)
        :math:`w_i (\Sigma w)_i / w'\Sigma w`, summing to 1; equal to
        ``risk_budget_`` to ``tol``.
    risk_budget_ : ndarray of shape (n_assets,)
        The normalised budgets used.
    volatility_ : float
        The portfolio's volatility :math:`\sqrt{w'\Sigma w}` (per period,
        under ``covariance_``).
    n_iter_ : int
        Newton iterations used.
    covariance_ : ndarray of shape (n_assets, n_assets)
        The covariance used; with a factor model, built from
        ``covariance_structure_`` when first read.
    covariance_structure_ : FactorCovariance
        The factor model used, when the covariance estimator has one.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    risk_budgeting_weights : The solver, on a covariance matrix.
    InverseVolatility : Equals equal-budget risk parity for uncorrelated assets.
    MinimumVariance : Minimises the variance instead of spreading it.

    Notes
    -----
    The weights solve

    .. math:: \frac{w_i (\Sigma w)_i}{w^\top \Sigma w} = b_i, \quad
        w \ge 0, \quad \mathbf 1^\top w = 1,

    computed as :math:`w = y / \mathbf 1^\top y` with :math:`y` the
    minimiser of Spinu's strictly convex
    :math:`\tfrac12 y^\top \Sigma y - \sum_i b_i \log y_i`, by Newton's
    method with conjugate-gradient steps (see :func:`risk_budgeting_weights`
    for the algorithm and the edge cases: zero budgets, singular covariances,
    zero-volatility assets). For uncorrelated assets
    :math:`w_i \propto \sqrt{b_i} / \sigma_i`.

    A covariance estimate that turns out not to be positive semi-definite is
    replaced by the nearest positive semi-definite matrix, as in
    :class:`MinimumVariance`. The benchmark ``y`` of ``fit`` is ignored.

    With a factor model :math:`\Sigma = BFB^\top + D` (a covariance
    estimator with a ``factor_structure_``) each Newton system
    :math:`(\Sigma + \mathrm{diag}(b/y^2))\,\Delta = -\nabla f` is solved
    by the Woodbury identity in :math:`O(NK^2)` and products cost
    :math:`O(NK)`: no :math:`N \times N` matrix is formed.

    References
    ----------
    .. [1] S. Maillard, T. Roncalli and J. Teïletche, "The properties of
       equally weighted risk contribution portfolios", Journal of Portfolio
       Management 36(4), 2010.
    .. [2] F. Spinu, "An algorithm for computing risk parity weights",
       SSRN 2297383, 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from skportfolio import RiskParity
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3)) * [0.01, 0.02, 0.03]
    >>> model = RiskParity().fit(X)
    >>> model.weights_.round(3)
    array([0.546, 0.277, 0.177])
    >>> bool(np.all(np.abs(model.risk_contributions_ / model.risk_budget_ - 1) < 1e-10))
    True
    """

    _parameter_constraints = {
        **MomentsMixin._moment_parameter_constraints,
        "risk_budget": ["array-like", dict, None],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        risk_budget=None,
        covariance_estimator=None,
        tol=DEFAULT_TOL,
        max_iter=100,
    ):
        self.risk_budget = risk_budget
        self.covariance_estimator = covariance_estimator
        self.tol = tol
        self.max_iter = max_iter

    def _fit_weights(self, X, y):
        # Newton's method needs only products, variances and shifted solves,
        # which the sample covariance gives from one triangle of its Gram
        # matrix; covariance_ is mirrored from it when first read.
        covariance, _ = self._estimate_covariance(X, gram=True)
        names = self._asset_names()
        budget = check_risk_budget(
            self._budget_array(X.shape[1], names), X.shape[1], names
        )
        try:
            result = self._solve(covariance, budget, names)
        except NotPositiveSemidefiniteError:
            repaired = covariance.nearest_psd()
            if repaired is covariance:  # positive definite by construction
                raise
            covariance = repaired
            self.covariance_ = covariance.dense()
            result = self._solve(covariance, budget, names)
        self.risk_contributions_ = result.risk_contributions
        self.risk_budget_ = budget
        self.n_iter_ = result.n_iter
        self.volatility_ = float(np.sqrt(covariance.quad_form(result.weights)))
        return result.weights

    def _solve(self, covariance, budget, names):
        return solve_risk_budgeting(
            covariance,
            budget,
            tol=self.tol,
            max_iter=self.max_iter,
            asset_names=names,
        )

    def _budget_array(self, n_assets, names):
        if not isinstance(self.risk_budget, dict):
            return self.risk_budget
        if names is None:
            raise ValueError(
                "risk_budget is a dict keyed by asset name: fit on a DataFrame "
                "with column names."
            )
        budgets = {str(key): value for key, value in self.risk_budget.items()}
        missing = [name for name in names if name not in budgets]
        unknown = sorted(set(budgets) - set(names))
        if missing or unknown:
            raise ValueError(
                f"risk_budget must give a budget to every asset and only to them; "
                f"missing: {missing}, unknown: {unknown}."
            )
        return [budgets[name] for name in names]
