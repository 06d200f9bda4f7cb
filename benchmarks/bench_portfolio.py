"""Benchmark: portfolio optimisers timed from the returns matrix.

Three problems (``μ`` the column mean, ``Σ = np.cov(X, rowvar=False)``,
``δ = 10``)::

    long-only       min w'Σw                 s.t. 1'w = 1, w >= 0
    budget          min w'Σw                 s.t. 1'w = 1
    mean-variance   max μ'w - δ/2 w'Σw       s.t. 1'w = 1, w >= 0

Every contender receives the returns ``X`` and estimates the moments itself,
as a user calling ``fit`` does, so the covariance is part of every timing.
The ``np.cov (floor)`` row times ``np.cov(X, rowvar=False)`` alone: no
optimiser can be faster than estimating its input, and ``time / ref`` is the
multiple of that floor.

A fourth part, ``grid-search``, times scikit-learn's ``GridSearchCV`` over
16 risk aversions with ``TimeSeriesSplit(5)`` (80 fits and a refit) for
skportfolio's ``MeanVariance`` and skfolio's ``MeanRisk``, skfolio's samples
alternating with skportfolio's (``results/grid-search.json``).

Size labels are ``TxN``: ``T`` periods of ``N`` assets (``_references.make_returns``:
one market factor, unequal volatilities, a small drift). The default sizes
are ``N`` = 20, 100, 500, 1000, 2000 with ``T = 3N``, and ``500x1000``
(fewer periods than assets: a singular covariance).

Run ``python benchmarks/bench_portfolio.py --problem long-only --quick``;
``--problem all`` runs the four parts, and the other options are those of
every benchmark script (``--help``).
"""

import argparse
import sys
from dataclasses import dataclass

import _harness
import _references
import numpy as np

SEED = 20240611
RISK_AVERSION = _references.RISK_AVERSION
FLOOR = "np.cov (floor)"
SIZES = ["60x20", "300x100", "1500x500", "3000x1000", "6000x2000", "500x1000"]
QUICK_SIZES = ["60x20", "300x100", "150x100"]


@dataclass(frozen=True)
class Problem:
    X: np.ndarray
    mean: np.ndarray
    covariance: np.ndarray


def make_problem(size):
    X = _references.make_returns(*size, seed=SEED)
    mean, covariance = _references.sample_moments(X)
    return Problem(X=X, mean=mean, covariance=covariance)


def _scorer(objective, long_only):
    def score(problem, weights):
        if not np.all(np.isfinite(weights)):  # the floor computes no weights
            return _harness.Score(objective=np.nan, violation=np.nan)
        return _harness.Score(
            objective=objective(problem, weights),
            violation=_references.budget_violation(weights, long_only),
        )

    return score


def _variance(problem, weights):
    return _references.portfolio_variance(weights, problem.covariance)


def _mean_variance_loss(problem, weights):
    return _references.mean_variance_loss(weights, problem.mean, problem.covariance)


# ------------------------------------------------------------------------ contenders
def covariance_floor(problem):
    np.cov(problem.X, rowvar=False)
    return np.full(problem.X.shape[1], np.nan)


def skportfolio_long_only(problem):
    from skportfolio import MinimumVariance

    return MinimumVariance().fit(problem.X).weights_


def skportfolio_budget(problem):
    from skportfolio import MinimumVariance

    model = MinimumVariance(min_weights=None, max_weights=None)
    return model.fit(problem.X).weights_


def skportfolio_mean_variance(problem):
    from skportfolio import MeanVariance

    return MeanVariance(risk_aversion=RISK_AVERSION).fit(problem.X).weights_


def quadprog_full(problem, mean_variance=False):
    """quadprog on the whole long-only problem, as one would call it directly."""
    import quadprog

    mean, covariance = _references.sample_moments(problem.X)
    n_assets = mean.shape[0]
    constraints = np.hstack([np.ones((n_assets, 1)), np.eye(n_assets)])
    bounds = np.concatenate([[1.0], np.zeros(n_assets)])
    if mean_variance:
        hessian, linear = RISK_AVERSION * covariance, mean
    else:
        hessian, linear = covariance, np.zeros(n_assets)
    return quadprog.solve_qp(hessian, linear, constraints, bounds, meq=1)[0]


def _contenders(ours, ours_note, references, quadprog=None):
    contenders = [
        _harness.Contender(
            FLOOR,
            covariance_floor,
            note="np.cov(X, rowvar=False) alone: the time every contender spends "
            "on its input; no weights",
        ),
        _harness.Contender(
            "skportfolio", ours, packages=("skportfolio",), note=ours_note
        ),
    ]
    for name, (packages, adapter) in references.items():
        contenders.append(
            _harness.Contender(
                name, lambda problem, fn=adapter: fn(problem.X), packages=packages
            )
        )
    if quadprog is not None:
        contenders.append(
            _harness.Contender(
                "quadprog (full QP)",
                quadprog,
                packages=("quadprog",),
                note="np.cov, then quadprog.solve_qp on all assets (fails when "
                "the covariance is singular)",
            )
        )
    return contenders


_REFERENCE_NOTE = (
    "References: the adapters of `_references.py` (skfolio, PyPortfolioOpt, "
    "Riskfolio-Lib, cvxpy+Clarabel), each estimating the mean and covariance "
    "from X. `time / ref` is the multiple of the np.cov floor."
)

BENCHMARKS = {
    "long-only": _harness.Benchmark(
        name="portfolio-long-only",
        title="Minimum variance, long-only: min w'Σw, Σw = 1, w ≥ 0",
        description=_REFERENCE_NOTE,
        parse_size=_references.parse_size,
        make_problem=make_problem,
        score=_scorer(_variance, long_only=True),
        contenders=_contenders(
            skportfolio_long_only,
            "MinimumVariance().fit(X)",
            _references.MINIMUM_VARIANCE_LONG_ONLY,
            quadprog_full,
        ),
        sizes=SIZES,
        quick_sizes=QUICK_SIZES,
        reference=FLOOR,
    ),
    "budget": _harness.Benchmark(
        name="portfolio-budget",
        title="Minimum variance, budget only: min w'Σw, Σw = 1",
        description=_REFERENCE_NOTE,
        parse_size=_references.parse_size,
        make_problem=make_problem,
        score=_scorer(_variance, long_only=False),
        contenders=_contenders(
            skportfolio_budget,
            "MinimumVariance(min_weights=None, max_weights=None).fit(X)",
            _references.MINIMUM_VARIANCE_BUDGET,
        ),
        sizes=SIZES,
        quick_sizes=QUICK_SIZES,
        reference=FLOOR,
    ),
    "mean-variance": _harness.Benchmark(
        name="portfolio-mean-variance",
        title=f"Mean-variance, δ = {RISK_AVERSION:g}: max μ'w − δ/2 w'Σw, Σw = 1, w ≥ 0",
        description=_REFERENCE_NOTE,
        parse_size=_references.parse_size,
        make_problem=make_problem,
        score=_scorer(_mean_variance_loss, long_only=True),
        contenders=_contenders(
            skportfolio_mean_variance,
            f"MeanVariance(risk_aversion={RISK_AVERSION:g}).fit(X)",
            _references.MEAN_VARIANCE,
            lambda problem: quadprog_full(problem, mean_variance=True),
        ),
        sizes=SIZES,
        quick_sizes=QUICK_SIZES,
        reference=FLOOR,
    ),
}


# ----------------------------------------------------------------------- grid search
#: Risk aversions searched, in the ``μ'w - δ/2 w'Σw`` convention.
GRID = np.logspace(-1, 3, 16)
GRID_SIZE = "1000x100"


def grid_search_skportfolio(X):
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

    from skportfolio import MeanVariance

    search = GridSearchCV(
        MeanVariance(), {"risk_aversion": GRID}, cv=TimeSeriesSplit(5)
    )
    return search.fit(X)


def grid_search_skfolio(X):
    from skfolio.optimization import MeanRisk, ObjectiveFunction
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

    # skfolio maximises μ'w - λ w'Σw: λ = δ / 2.
    model = MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_UTILITY,
        min_weights=0.0,
        max_weights=1.0,
        budget=1.0,
    )
    search = GridSearchCV(model, {"risk_aversion": GRID / 2.0}, cv=TimeSeriesSplit(5))
    return search.fit(X)


GRID_SEARCH = _harness.Benchmark(
    name="grid-search",
    title=(
        f"GridSearchCV over {GRID.size} risk aversions, TimeSeriesSplit(5), "
        f"{GRID_SIZE} (T x N)"
    ),
    parse_size=_references.parse_size,
    make_problem=make_problem,
    score=None,
    contenders=[
        _harness.Contender(
            "skportfolio",
            grid_search_skportfolio,
            packages=("skportfolio",),
            note="GridSearchCV(MeanVariance(), {'risk_aversion': GRID}, "
            "cv=TimeSeriesSplit(5)): 80 fits, 80 scores and a refit",
        ),
        _harness.Contender(
            "skfolio",
            grid_search_skfolio,
            packages=("skfolio",),
            note="the same search over MeanRisk(MAXIMIZE_UTILITY) with "
            "risk_aversion = GRID / 2 (its utility is μ'w - λ w'Σw)",
        ),
    ],
    sizes=[GRID_SIZE],
    quick_sizes=[GRID_SIZE],
    reference="skportfolio",
    compare_objectives=False,
)


def run_grid_search(argv):
    """Time both searches, skfolio's samples alternating with skportfolio's.

    The selected risk aversion (in the ``δ`` convention) is recorded for each:
    both libraries solve the same problems, so they must select the same.
    """
    parser = argparse.ArgumentParser(description=GRID_SEARCH.title)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int)
    parser.add_argument("--no-save", action="store_true")
    args, _ = parser.parse_known_args(argv)
    settings = _harness.Settings(
        repeat=args.repeat or (1 if args.quick else 5),
        min_time=0.0,
        budget=600.0,
        reference="skportfolio",
        quick=args.quick,
    )
    X = make_problem(_references.parse_size(GRID_SIZE)).X
    to_delta = {"skportfolio": 1.0, "skfolio": 2.0}
    rows, reference = [], None
    with _harness.threadpool_limits(limits=1):
        for contender in GRID_SEARCH.contenders:
            row = _harness.Row(size=GRID_SIZE, contender=contender.name)
            try:
                fitted = contender.solve(X)
            except ImportError as error:
                row.status = f"not installed ({error})"
                rows.append(row)
                continue
            selected = fitted.best_params_["risk_aversion"]
            row.extras = {"selected_risk_aversion": to_delta[contender.name] * selected}
            row.repeats, row.calls_per_sample = settings.repeat, 1
            if reference is None:
                row.seconds = _harness.time_call(
                    lambda contender=contender: contender.solve(X),
                    repeat=settings.repeat,
                    number=1,
                )
                reference = contender
            else:
                row.seconds, row.paired_reference_seconds = _harness.time_paired(
                    lambda contender=contender: contender.solve(X),
                    lambda reference=reference: reference.solve(X),
                    repeat=settings.repeat,
                )
            rows.append(row)
    timed = {row.contender: row for row in rows if row.seconds is not None}
    for row in timed.values():
        paired = row.paired_reference_seconds or timed["skportfolio"].seconds
        row.time_ratio = row.seconds / paired
    lines = [
        f"## {GRID_SEARCH.title}",
        "",
        "| contender | time | time / skportfolio | selected δ | status |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        delta = row.extras.get("selected_risk_aversion")
        lines.append(
            f"| {row.contender} | {_harness.format_seconds(row.seconds)} | "
            f"{_harness.format_ratio(row.time_ratio)} | "
            f"{'—' if delta is None else f'{delta:.4g}'} | {row.status} |"
        )
    print("\n".join([*lines, ""]))
    if not args.no_save:
        stem = GRID_SEARCH.name + ("-quick" if args.quick else "")
        environment = _harness.environment_info(GRID_SEARCH.contenders)
        path = _harness.RESULTS_DIR / f"{stem}.json"
        _harness.save_json(path, GRID_SEARCH, rows, settings, environment)
        print(f"saved {path}", file=sys.stderr)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--problem",
        choices=[*BENCHMARKS, "grid-search", "all"],
        default="all",
    )
    args, rest = parser.parse_known_args(argv)
    if "-h" in rest or "--help" in rest:
        print(__doc__)
    problems = list(BENCHMARKS) if args.problem == "all" else [args.problem]
    for problem in problems:
        if problem in BENCHMARKS:
            _harness.main(BENCHMARKS[problem], rest)
    if args.problem in ("grid-search", "all"):
        run_grid_search(rest)


if __name__ == "__main__":
    main()
