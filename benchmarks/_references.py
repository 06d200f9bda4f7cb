"""Portfolio optimisers from other libraries, wrapped as benchmark contenders.

Every adapter takes a returns matrix ``X`` of shape ``(n_observations,
n_assets)`` and returns a weight vector.  All of them see the same inputs:
the column mean and the sample covariance with ``ddof=1``
(:func:`sample_moments`), so their objectives are comparable to the last
digit.  Libraries that estimate the moments themselves (skfolio, Riskfolio-Lib)
are configured so that their estimate is exactly this one.

The four problems, in the convention used throughout (``mu`` mean, ``S``
covariance, ``delta`` risk aversion, ``b`` risk budgets)::

    minimum variance, long-only   min w'Sw                s.t. 1'w = 1, w >= 0
    minimum variance, budget      min w'Sw                s.t. 1'w = 1
    mean-variance (utility)       max mu'w - delta/2 w'Sw s.t. 1'w = 1, w >= 0
    risk budgeting                w_i (Sw)_i / w'Sw = b_i,  w > 0, 1'w = 1

How each library spells the mean-variance trade-off (``delta`` above):

* PyPortfolioOpt ``max_quadratic_utility(risk_aversion)`` maximises
  ``mu'w - risk_aversion/2 w'Sw``: ``risk_aversion = delta``.
* skfolio ``MeanRisk(MAXIMIZE_UTILITY, risk_aversion=lam)`` maximises
  ``mu'w - lam * w'Sw`` (variance, no one half): ``lam = delta / 2``.
* Riskfolio-Lib ``optimization(obj="Utility", rm="MV", l=lam)`` maximises
  ``mu'w - lam * g**2`` with ``g >= ||S^(1/2) w||``: ``lam = delta / 2``.

Solver tolerances (daily-return data make every objective tiny, around 1e-5,
so *absolute* tolerances are loose in relative terms):

* skfolio passes Clarabel ``tol_gap_abs = tol_gap_rel = 1e-9``.
* PyPortfolioOpt passes no solver, so cvxpy picks OSQP for these QPs
  (``eps_abs = eps_rel = 1e-5`` plus solution polishing: accurate when the
  polish succeeds, about 1e-5 when it does not).
* Riskfolio-Lib calls Clarabel with cvxpy's defaults (``tol_gap_abs =
  tol_gap_rel = tol_feas = 1e-8``); it multiplies the minimum-risk objective
  by 1000, not the utility one, and writes the variance as ``g**2`` with
  ``g >= ||sqrtm(S) w||``.
* riskparityportfolio's C++ solver defaults to ``tol=1e-4, maxiter=50``; the
  adapter tightens them (see :func:`riskparityportfolio_risk_budgeting`).
* The seed-003 SLSQP risk parity uses scipy's defaults (``ftol=1e-6`` on an
  objective of order 1e-7 or less) and stops after very few iterations: it is
  kept as written, as the naive baseline it is.
* :func:`cvxpy_clarabel` formulations divide the covariance by its mean
  variance, which leaves the minimiser unchanged and makes Clarabel's
  tolerances relative: they are the accuracy reference.

``python benchmarks/check_references.py`` solves each problem with every
adapter on a 20-asset problem and reports the agreement with cvxpy+Clarabel.
"""

import importlib.machinery
import importlib.util
import re
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

#: Risk aversion of the mean-variance benchmark, in the ``mu'w - delta/2 w'Sw``
#: convention.
RISK_AVERSION = 10.0

#: Box wide enough never to bind, for Riskfolio-Lib, which cannot drop bounds.
_UNBOUNDED = 100.0

_CLARABEL_TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}


# ------------------------------------------------------------ data, moments, checks
_SIZE_PATTERN = re.compile(r"^(\d+)x(\d+)$")


def parse_size(label):
    """``"3000x1000"``: 3000 periods of 1000 assets, the portfolio benchmarks' size label."""
    match = _SIZE_PATTERN.match(label)
    if match is None:
        raise ValueError("expected N_PERIODSxN_ASSETS")
    n_periods, n_assets = int(match[1]), int(match[2])
    if n_periods < 2 or n_assets < 2:
        raise ValueError("need at least 2 periods and 2 assets")
    return n_periods, n_assets


def make_returns(n_observations, n_assets, seed=0):
    """Daily-return-like data: a common factor, unequal volatilities, small drift."""
    rng = np.random.default_rng(seed)
    market = rng.standard_normal((n_observations, 1))
    loadings = rng.uniform(0.5, 1.5, size=n_assets)
    volatilities = rng.uniform(0.5, 2.0, size=n_assets)
    noise = rng.standard_normal((n_observations, n_assets)) * volatilities
    drift = rng.uniform(0.0, 8e-4, size=n_assets)
    return drift + 0.01 * (0.7 * market * loadings + noise)


def sample_moments(X):
    """Column mean and sample covariance (``ddof=1``) of a returns matrix."""
    X = np.asarray(X, dtype=float)
    return X.mean(axis=0), np.cov(X, rowvar=False)


def portfolio_variance(w, covariance):
    return float(w @ covariance @ w)


def mean_variance_loss(w, mu, covariance, risk_aversion=RISK_AVERSION):
    """Loss minimised by the mean-variance problem: ``delta/2 w'Sw - mu'w``."""
    return 0.5 * risk_aversion * portfolio_variance(w, covariance) - float(mu @ w)


def risk_contribution_error(w, covariance, budgets=None):
    """Largest gap between relative risk contributions and their budgets."""
    contributions = w * (covariance @ w)
    relative = contributions / contributions.sum()
    if budgets is None:
        budgets = np.full(w.size, 1.0 / w.size)
    return float(np.max(np.abs(relative - budgets)))


def budget_violation(w, long_only):
    """Largest violation of ``1'w = 1`` and, if ``long_only``, of ``w >= 0``."""
    violation = abs(float(w.sum()) - 1.0)
    if long_only:
        violation = max(violation, float(np.max(-w, initial=0.0)))
    return violation


def _equal_budgets(n_assets):
    return np.full(n_assets, 1.0 / n_assets)


def _column_names(n_assets):
    return [f"a{i}" for i in range(n_assets)]


# ------------------------------------------------------------------ cvxpy + Clarabel
def _cvxpy_problem_data(X):
    mu, covariance = sample_moments(X)
    # Dividing by the mean variance changes no minimiser but makes the
    # objective O(1), so Clarabel's absolute tolerances become relative.
    scale = float(np.mean(np.diag(covariance)))
    return mu / scale, covariance / scale


def _solve_clarabel(problem):
    import cvxpy as cp

    problem.solve(solver=cp.CLARABEL, **_CLARABEL_TIGHT)
    if problem.status != cp.OPTIMAL:
        raise RuntimeError(f"cvxpy/Clarabel status: {problem.status}")


def cvxpy_minimum_variance(X, long_only=True):
    import cvxpy as cp

    _, covariance = _cvxpy_problem_data(X)
    w = cp.Variable(covariance.shape[0])
    constraints = [cp.sum(w) == 1]
    if long_only:
        constraints.append(w >= 0)
    objective = cp.Minimize(cp.quad_form(w, cp.psd_wrap(covariance)))
    _solve_clarabel(cp.Problem(objective, constraints))
    return w.value


def cvxpy_mean_variance(X, risk_aversion=RISK_AVERSION):
    import cvxpy as cp

    mu, covariance = _cvxpy_problem_data(X)
    w = cp.Variable(covariance.shape[0])
    variance = cp.quad_form(w, cp.psd_wrap(covariance))
    objective = cp.Minimize(0.5 * risk_aversion * variance - mu @ w)
    _solve_clarabel(cp.Problem(objective, [cp.sum(w) == 1, w >= 0]))
    return w.value


def cvxpy_risk_budgeting(X, budgets=None):
    """Spinu's convex form: ``min 1/2 x'Sx - b'log(x)``, then ``w = x / 1'x``."""
    import cvxpy as cp

    _, covariance = _cvxpy_problem_data(X)
    n_assets = covariance.shape[0]
    budgets = _equal_budgets(n_assets) if budgets is None else budgets
    x = cp.Variable(n_assets)
    objective = 0.5 * cp.quad_form(x, cp.psd_wrap(covariance)) - budgets @ cp.log(x)
    _solve_clarabel(cp.Problem(cp.Minimize(objective)))
    return x.value / x.value.sum()


# ------------------------------------------------------------------------ numpy/scipy
def numpy_minimum_variance_budget(X):
    """Closed form ``S^-1 1 / (1'S^-1 1)`` through a Cholesky solve."""
    from scipy.linalg import cho_factor, cho_solve

    _, covariance = sample_moments(X)
    direction = cho_solve(cho_factor(covariance), np.ones(covariance.shape[0]))
    return direction / direction.sum()


def seed_slsqp_risk_parity(X):
    """Seed 003's risk parity, rewritten in plain numpy, options left as written.

    Minimises ``sum_i (RC_i - sigma_p / N)**2`` with ``RC_i = w_i (Sw)_i /
    sigma_p`` by SLSQP from ``w = 1/N``, with ``1'w = 1`` as the only
    constraint (no bounds) and finite-difference gradients.
    """
    _, covariance = sample_moments(X)
    n_assets = covariance.shape[0]
    targets = _equal_budgets(n_assets)

    def squared_risk_gaps(w):
        sigma_p = np.sqrt(w @ covariance @ w)
        contributions = w * (covariance @ w) / sigma_p
        return float(np.sum((contributions - sigma_p * targets) ** 2))

    budget = {"type": "eq", "fun": lambda w: np.sum(w) - 1.0}
    result = minimize(
        squared_risk_gaps, targets.copy(), method="SLSQP", constraints=[budget]
    )
    return result.x


# ---------------------------------------------------------------------------- skfolio
def _skfolio_fit(model, X):
    return np.asarray(model.fit(np.asarray(X, dtype=float)).weights_)


def skfolio_minimum_variance(X, long_only=True):
    # skfolio's default prior is the column mean and EmpiricalCovariance(ddof=1),
    # whose nearest-PD repair returns a positive-definite input unchanged.
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    bounds = (0.0, 1.0) if long_only else (None, None)
    model = MeanRisk(
        objective_function=ObjectiveFunction.MINIMIZE_RISK,
        min_weights=bounds[0],
        max_weights=bounds[1],
        budget=1.0,
    )
    return _skfolio_fit(model, X)


def skfolio_mean_variance(X, risk_aversion=RISK_AVERSION):
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    model = MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_UTILITY,
        risk_aversion=risk_aversion / 2.0,
        min_weights=0.0,
        max_weights=1.0,
        budget=1.0,
    )
    return _skfolio_fit(model, X)


def skfolio_risk_budgeting(X, budgets=None):
    from skfolio.optimization import RiskBudgeting

    return _skfolio_fit(RiskBudgeting(risk_budget=budgets), X)


# --------------------------------------------------------------------- PyPortfolioOpt
def _pypfopt_frontier(X, bounds):
    from pypfopt import EfficientFrontier

    mu, covariance = sample_moments(X)
    return EfficientFrontier(mu, covariance, weight_bounds=bounds)


def pypfopt_minimum_variance(X, long_only=True):
    # PyPortfolioOpt turns a None bound into +-1; infinite bounds are dropped.
    bounds = (0.0, 1.0) if long_only else (-np.inf, np.inf)
    frontier = _pypfopt_frontier(X, bounds)
    frontier.min_volatility()
    return np.asarray(frontier.weights, dtype=float)


def pypfopt_mean_variance(X, risk_aversion=RISK_AVERSION):
    frontier = _pypfopt_frontier(X, (0.0, 1.0))
    frontier.max_quadratic_utility(risk_aversion=risk_aversion)
    return np.asarray(frontier.weights, dtype=float)


# ---------------------------------------------------------------------- Riskfolio-Lib
def _riskfolio_portfolio(X, **options):
    """A ``Portfolio`` whose mean and covariance are exactly :func:`sample_moments`."""
    import pandas as pd
    import riskfolio as rp

    X = np.asarray(X, dtype=float)
    names = _column_names(X.shape[1])
    portfolio = rp.Portfolio(returns=pd.DataFrame(X, columns=names), **options)
    mu, covariance = sample_moments(X)
    portfolio.mu = pd.DataFrame(mu[np.newaxis, :], columns=names)
    portfolio.cov = pd.DataFrame(covariance, index=names, columns=names)
    return portfolio


def _riskfolio_weights(frame):
    if frame is None:
        raise RuntimeError("Riskfolio-Lib found no solution")
    return frame["weights"].to_numpy(dtype=float)


def riskfolio_minimum_variance(X, long_only=True):
    if long_only:
        portfolio = _riskfolio_portfolio(X)
    else:
        # Riskfolio's short-selling mode caps gross exposures; make the caps slack.
        portfolio = _riskfolio_portfolio(
            X,
            sht=True,
            uppersht=_UNBOUNDED,
            upperlng=_UNBOUNDED,
            budgetsht=_UNBOUNDED,
        )
    frame = portfolio.optimization(model="Classic", rm="MV", obj="MinRisk", hist=True)
    return _riskfolio_weights(frame)


def riskfolio_mean_variance(X, risk_aversion=RISK_AVERSION):
    portfolio = _riskfolio_portfolio(X)
    frame = portfolio.optimization(
        model="Classic", rm="MV", obj="Utility", l=risk_aversion / 2.0, hist=True
    )
    return _riskfolio_weights(frame)


def riskfolio_risk_budgeting(X, budgets=None):
    portfolio = _riskfolio_portfolio(X)
    if budgets is not None:
        budgets = np.asarray(budgets, dtype=float).reshape(-1, 1)
    frame = portfolio.rp_optimization(model="Classic", rm="MV", b=budgets, hist=True)
    return _riskfolio_weights(frame)


# ---------------------------------------------------------------- riskparityportfolio
def load_riskparity_extension():
    """The compiled ``riskparityportfolio.vanilla`` module, without the package.

    ``import riskparityportfolio`` imports jax, which the package does not
    declare; the C++ solver itself needs nothing but numpy.  ``find_spec`` of a
    top-level package locates it without executing its ``__init__``.
    """
    spec = importlib.util.find_spec("riskparityportfolio")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("riskparityportfolio is not installed")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = package_dir / f"vanilla{suffix}"
        if path.exists():
            extension_spec = importlib.util.spec_from_file_location(
                "riskparityportfolio.vanilla", path
            )
            module = importlib.util.module_from_spec(extension_spec)
            extension_spec.loader.exec_module(module)
            return module
    raise ImportError(f"no compiled 'vanilla' extension in {package_dir}")


def riskparityportfolio_risk_budgeting(X, budgets=None, tol=1e-10, maxiter=10_000):
    """Cyclical coordinate descent of riskparityportfolio's C++ ``design``.

    ``design(Sigma, b, tol=1e-4, maxiter=50, method="spinu")`` stops once the
    relative risk contributions are within ``tol`` of ``b`` (max norm).  Its
    ``method`` test is inverted (``strcmp`` is 0 on a match): ``"spinu"`` runs
    Choi & Chen's (2022) correlation-based sweep, any other string runs
    Spinu's (2013) sweep; both stop on the same kind of criterion.
    """
    _, covariance = sample_moments(X)
    budgets = _equal_budgets(covariance.shape[0]) if budgets is None else budgets
    design = _riskparity_design()
    return np.asarray(design(covariance, budgets, tol, maxiter))


_RISKPARITY_CACHE = {}


def _riskparity_design():
    if "design" not in _RISKPARITY_CACHE:
        _RISKPARITY_CACHE["design"] = load_riskparity_extension().design
    return _RISKPARITY_CACHE["design"]


# --------------------------------------------------------------------------- registry
#: Contenders per problem: name -> (distributions it needs, adapter).
MINIMUM_VARIANCE_LONG_ONLY = {
    "skfolio": (("skfolio",), skfolio_minimum_variance),
    "PyPortfolioOpt": (("PyPortfolioOpt",), pypfopt_minimum_variance),
    "Riskfolio-Lib": (("Riskfolio-Lib",), riskfolio_minimum_variance),
    "cvxpy+Clarabel": (("cvxpy", "clarabel"), cvxpy_minimum_variance),
}

MINIMUM_VARIANCE_BUDGET = {
    "skfolio": (("skfolio",), lambda X: skfolio_minimum_variance(X, False)),
    "PyPortfolioOpt": (
        ("PyPortfolioOpt",),
        lambda X: pypfopt_minimum_variance(X, False),
    ),
    "Riskfolio-Lib": (
        ("Riskfolio-Lib",),
        lambda X: riskfolio_minimum_variance(X, False),
    ),
    "cvxpy+Clarabel": (
        ("cvxpy", "clarabel"),
        lambda X: cvxpy_minimum_variance(X, False),
    ),
    "numpy closed form": (("scipy",), numpy_minimum_variance_budget),
}

MEAN_VARIANCE = {
    "skfolio": (("skfolio",), skfolio_mean_variance),
    "PyPortfolioOpt": (("PyPortfolioOpt",), pypfopt_mean_variance),
    "Riskfolio-Lib": (("Riskfolio-Lib",), riskfolio_mean_variance),
    "cvxpy+Clarabel": (("cvxpy", "clarabel"), cvxpy_mean_variance),
}

RISK_BUDGETING = {
    "skfolio": (("skfolio",), skfolio_risk_budgeting),
    "Riskfolio-Lib": (("Riskfolio-Lib",), riskfolio_risk_budgeting),
    "riskparityportfolio": (
        ("riskparityportfolio",),
        riskparityportfolio_risk_budgeting,
    ),
    "seed-003 SLSQP": (("scipy",), seed_slsqp_risk_parity),
    "cvxpy+Clarabel": (("cvxpy", "clarabel"), cvxpy_risk_budgeting),
}
