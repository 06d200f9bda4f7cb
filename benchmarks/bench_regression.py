"""Benchmark: least squares with coefficients on the simplex.

    minimise ||y - X b||^2   subject to   b >= 0,  sum(b) = 1

the "constrained regression" of style analysis and index replication.  The
contenders are skportfolio's ``ConstrainedLinearRegression`` and what a user
would otherwise reach for; two of them (scikit-learn's positive least squares
and ``scipy.optimize.lsq_linear``) cannot impose the sum, and one (plain least
squares) imposes nothing: their rows show the constraint violation that buys
their speed.

Data: fixed seed; ``X`` daily-return-like (1 % volatility, one common
factor), ``y = X @ w_true + noise`` with ``w_true`` on the simplex and half of
its entries zero, so that the positivity constraints bind.  A size label
``NxP@C`` (e.g. ``5000x50@1e8``) instead builds ``X = U diag(s) V'`` with
orthonormal ``U, V`` and singular values log-spaced from 1 to ``1/C``, so that
``cond(X) = C``.

Run ``python benchmarks/bench_regression.py --quick`` (or ``--help``).
"""

import re
from dataclasses import dataclass

import _harness
import numpy as np
from scipy.optimize import lsq_linear, minimize

from skportfolio.linear_model import ConstrainedLinearRegression

SEED = 20240607
RETURN_SCALE = 0.01
NOISE_SCALE = 0.005
_SIZE_PATTERN = re.compile(r"^(\d+)x(\d+)(?:@([0-9.eE+]+))?$")


@dataclass(frozen=True)
class Size:
    n_samples: int
    n_features: int
    condition: float | None = None


@dataclass(frozen=True)
class Problem:
    X: np.ndarray
    y: np.ndarray
    coef_true: np.ndarray


def parse_size(label):
    """``"2500x50"`` or ``"5000x50@1e8"`` (condition number of ``X``)."""
    match = _SIZE_PATTERN.match(label)
    if match is None:
        raise ValueError("expected N_SAMPLESxN_FEATURES or N_SAMPLESxN_FEATURES@COND")
    n_samples, n_features = int(match[1]), int(match[2])
    condition = float(match[3]) if match[3] else None
    if n_features < 2 or n_samples < n_features:
        raise ValueError("need 2 <= n_features <= n_samples")
    if condition is not None and condition < 1:
        raise ValueError("the condition number is at least 1")
    return Size(n_samples, n_features, condition)


def make_problem(size):
    rng = np.random.default_rng(SEED)
    if size.condition is None:
        X = _factor_returns(rng, size.n_samples, size.n_features)
    else:
        X = _ill_conditioned(rng, size.n_samples, size.n_features, size.condition)
    coef_true = _sparse_simplex_point(rng, size.n_features)
    y = X @ coef_true + NOISE_SCALE * rng.standard_normal(size.n_samples)
    return Problem(X=X, y=y, coef_true=coef_true)


def _factor_returns(rng, n_samples, n_features):
    market = rng.standard_normal((n_samples, 1))
    loadings = rng.uniform(0.5, 1.5, size=n_features)
    idiosyncratic = rng.standard_normal((n_samples, n_features))
    return RETURN_SCALE * (0.6 * market * loadings + idiosyncratic)


def _ill_conditioned(rng, n_samples, n_features, condition):
    left, _ = np.linalg.qr(rng.standard_normal((n_samples, n_features)))
    right, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
    singular_values = np.logspace(0.0, -np.log10(condition), n_features)
    # Scaled so that the leading directions have returns of about 1 %.
    scale = RETURN_SCALE * np.sqrt(n_samples)
    return scale * (left * singular_values) @ right.T


def _sparse_simplex_point(rng, n_features):
    coef = np.zeros(n_features)
    support = rng.choice(n_features, size=max(1, n_features // 2), replace=False)
    coef[support] = rng.dirichlet(np.ones(support.size))
    return coef


def score(problem, coef):
    residual = problem.y - problem.X @ coef
    violation = max(abs(float(coef.sum()) - 1.0), float(np.max(-coef, initial=0.0)))
    return _harness.Score(
        objective=float(residual @ residual),
        violation=violation,
        extras={
            "max_abs_coef_error_vs_truth": float(
                np.max(np.abs(coef - problem.coef_true))
            )
        },
    )


# ------------------------------------------------------------------------ contenders
def fit_skportfolio(problem):
    model = ConstrainedLinearRegression(positive=True, sum_to=1, fit_intercept=False)
    return model.fit(problem.X, problem.y).coef_


def fit_sklearn_unconstrained(problem):
    from sklearn.linear_model import LinearRegression

    return LinearRegression(fit_intercept=False).fit(problem.X, problem.y).coef_


def fit_sklearn_positive(problem):
    from sklearn.linear_model import LinearRegression

    model = LinearRegression(positive=True, fit_intercept=False)
    return model.fit(problem.X, problem.y).coef_


def fit_lsq_linear(problem):
    return lsq_linear(problem.X, problem.y, bounds=(0.0, np.inf)).x


def fit_cvxpy_clarabel(problem):
    import cvxpy as cp

    coef = cp.Variable(problem.X.shape[1])
    objective = cp.Minimize(cp.sum_squares(problem.X @ coef - problem.y))
    constraints = [coef >= 0, cp.sum(coef) == 1]
    cp.Problem(objective, constraints).solve(solver=cp.CLARABEL)
    return coef.value


def _fit_slsqp(problem, **options):
    X, y = problem.X, problem.y
    n_features = X.shape[1]

    def squared_error_and_gradient(coef):
        residual = X @ coef - y
        return float(residual @ residual), 2.0 * (X.T @ residual)

    budget = {
        "type": "eq",
        "fun": lambda coef: coef.sum() - 1.0,
        "jac": lambda coef: np.ones_like(coef),
    }
    result = minimize(
        squared_error_and_gradient,
        np.full(n_features, 1.0 / n_features),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, None)] * n_features,
        constraints=[budget],
        options=options,
    )
    return result.x


TIGHT_SLSQP = {"ftol": 1e-15, "maxiter": 1000}

CONTENDERS = [
    _harness.Contender(
        "skportfolio",
        fit_skportfolio,
        packages=("skportfolio",),
        note="ConstrainedLinearRegression(positive=True, sum_to=1, fit_intercept=False)",
    ),
    _harness.Contender(
        "cvxpy+Clarabel",
        fit_cvxpy_clarabel,
        packages=("cvxpy", "clarabel"),
        note="sum_squares(X b - y), b >= 0, sum(b) == 1; Clarabel default tolerances",
    ),
    _harness.Contender(
        "scipy SLSQP",
        lambda problem: _fit_slsqp(problem),
        packages=("scipy",),
        note="analytic gradient, bounds and equality; default options "
        "(ftol=1e-6 absolute, maxiter=100)",
    ),
    _harness.Contender(
        "scipy SLSQP (tight)",
        lambda problem: _fit_slsqp(problem, **TIGHT_SLSQP),
        packages=("scipy",),
        note=f"as above with {TIGHT_SLSQP}",
    ),
    _harness.Contender(
        "sklearn positive",
        fit_sklearn_positive,
        packages=("scikit-learn",),
        note="LinearRegression(positive=True): scipy NNLS, no sum-to-one",
    ),
    _harness.Contender(
        "scipy lsq_linear",
        fit_lsq_linear,
        packages=("scipy",),
        note="bounds (0, inf), default 'trf' method; cannot impose sum-to-one",
    ),
    _harness.Contender(
        "sklearn unconstrained",
        fit_sklearn_unconstrained,
        packages=("scikit-learn",),
        note="LinearRegression(fit_intercept=False): plain least squares, no constraint",
    ),
]

BENCHMARK = _harness.Benchmark(
    name="regression",
    title="Constrained regression: min ||y - Xb||², b ≥ 0, Σb = 1",
    description=(
        "`gap vs best` is (objective − best objective among solutions violating "
        "the constraints by ≤ 1e-12) / best; a negative gap goes with a violation."
    ),
    parse_size=parse_size,
    make_problem=make_problem,
    score=score,
    contenders=CONTENDERS,
    sizes=["250x10", "2500x50", "100000x20", "20000x200", "5000x50@1e8"],
    quick_sizes=["250x10", "2500x50", "1000x20@1e8"],
    reference="skportfolio",
)


if __name__ == "__main__":
    _harness.main(BENCHMARK)
