"""Benchmark: risk budgeting (risk parity) timed from the returns matrix.

The problem (``Σ = np.cov(X, rowvar=False)``, budgets ``b`` summing to 1)::

    find w >= 0, 1'w = 1   with   w_i (Σw)_i / w'Σw = b_i   for every i

with equal budgets (``--budgets equal``, risk parity) or seeded random ones
(``--budgets random``: uniform on [0.1, 1], normalised). Every contender
receives the returns ``X`` and estimates the covariance itself, as a user
calling ``fit`` does; the ``np.cov (floor)`` row times
``np.cov(X, rowvar=False)`` alone, and ``time / ref`` is the multiple of that
floor.

The ``error`` column is the largest relative gap between the risk
contributions and the budgets, ``max_i |RC_i / (b_i w'Σw) - 1|``, recomputed
from the returned weights; ``violation`` is ``max(|1'w - 1|, max(-w, 0))``.
The JSON also records the absolute gap ``max_i |RC_i / w'Σw - b_i|``.

Size labels are ``TxN``: ``T`` periods of ``N`` assets
(``_references.make_returns``: one market factor, unequal volatilities).
Defaults: ``N`` = 20, 100, 500, 1000, 2000 with ``T = 3N``, and ``500x1000``
(fewer periods than assets: a singular covariance).

Run ``python benchmarks/bench_risk_parity.py --quick`` (``--budgets all``
runs both budget kinds; the other options are those of every benchmark
script, see ``--help``).
"""

import argparse
import sys
from dataclasses import dataclass

import _harness
import _references
import numpy as np

SEED = 20240611
BUDGET_SEED = 7
FLOOR = "np.cov (floor)"
SIZES = ["60x20", "300x100", "1500x500", "3000x1000", "6000x2000", "500x1000"]
QUICK_SIZES = ["60x20", "300x100", "150x100"]


@dataclass(frozen=True)
class Problem:
    X: np.ndarray
    covariance: np.ndarray
    budget: np.ndarray
    equal: bool


def problem_maker(equal):
    def make_problem(size):
        X = _references.make_returns(*size, seed=SEED)
        n_assets = X.shape[1]
        if equal:
            budget = np.full(n_assets, 1.0 / n_assets)
        else:
            budget = np.random.default_rng(BUDGET_SEED).uniform(0.1, 1.0, n_assets)
            budget /= budget.sum()
        _, covariance = _references.sample_moments(X)
        return Problem(X=X, covariance=covariance, budget=budget, equal=equal)

    return make_problem


def score(problem, weights):
    if not np.all(np.isfinite(weights)):  # the floor computes no weights
        return _harness.Score(objective=np.nan, violation=np.nan)
    contributions = weights * (problem.covariance @ weights)
    relative = contributions / contributions.sum()
    return _harness.Score(
        objective=float(np.max(np.abs(relative / problem.budget - 1.0))),
        violation=_references.budget_violation(weights, long_only=True),
        extras={"absolute_rc_gap": float(np.max(np.abs(relative - problem.budget)))},
    )


# ------------------------------------------------------------------------ contenders
def covariance_floor(problem):
    np.cov(problem.X, rowvar=False)
    return np.full(problem.X.shape[1], np.nan)


def skportfolio_risk_parity(problem):
    from skportfolio import RiskParity

    budget = None if problem.equal else problem.budget
    return RiskParity(risk_budget=budget).fit(problem.X).weights_


def _reference(adapter):
    def solve(problem):
        return adapter(problem.X, None if problem.equal else problem.budget)

    return solve


def _equal_budgets_only(adapter):
    def solve(problem):
        if not problem.equal:
            raise ValueError("equal budgets only")
        return adapter(problem.X)

    return solve


def contenders(equal):
    found = [
        _harness.Contender(
            FLOOR,
            covariance_floor,
            note="np.cov(X, rowvar=False) alone: the time every contender spends "
            "on its input; no weights",
        ),
        _harness.Contender(
            "skportfolio",
            skportfolio_risk_parity,
            packages=("skportfolio",),
            note="RiskParity(risk_budget=b).fit(X): Newton-CG on Spinu's convex "
            "problem, tol 1e-10 on the relative risk contributions",
        ),
    ]
    for name, (packages, adapter) in _references.RISK_BUDGETING.items():
        if name == "seed-003 SLSQP":
            if not equal:
                continue  # its objective has the equal budgets built in
            solve = _equal_budgets_only(adapter)
        else:
            solve = _reference(adapter)
        found.append(_harness.Contender(name, solve, packages=packages))
    return found


_DESCRIPTION = (
    "References: the adapters of `_references.py` (skfolio RiskBudgeting, "
    "Riskfolio-Lib rp_optimization, riskparityportfolio's compiled solver at "
    "tol 1e-10, seed 003's SLSQP, cvxpy+Clarabel on Spinu's problem), each "
    "estimating the covariance from X. `time / ref` is the multiple of the "
    "np.cov floor; `error` is max_i |RC_i / b_i - 1|."
)

BENCHMARKS = {
    kind: _harness.Benchmark(
        name=f"risk-parity-{kind}",
        title=f"Risk budgeting, {kind} budgets: w_i (Σw)_i / w'Σw = b_i, Σw = 1, w ≥ 0",
        description=_DESCRIPTION,
        parse_size=_references.parse_size,
        make_problem=problem_maker(kind == "equal"),
        score=score,
        contenders=contenders(kind == "equal"),
        sizes=SIZES,
        quick_sizes=QUICK_SIZES,
        reference=FLOOR,
        compare_objectives=False,
    )
    for kind in ("equal", "random")
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # No abbreviations: the harness option --budget would read as --budgets.
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--budgets", choices=[*BENCHMARKS, "all"], default="all")
    args, rest = parser.parse_known_args(argv)
    if "-h" in rest or "--help" in rest:
        print(__doc__)
    kinds = list(BENCHMARKS) if args.budgets == "all" else [args.budgets]
    for kind in kinds:
        _harness.main(BENCHMARKS[kind], rest)


if __name__ == "__main__":
    main()
