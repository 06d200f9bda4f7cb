"""Benchmark: the portfolio estimators on a factor model, factor path vs dense path.

Returns of ``N`` assets over ``T`` periods are simulated from ``K`` factors
(``Σ = B F B' + D``); every estimator uses
``FactorModelCovariance(n_factors=K)`` (``K`` statistical factors), so both
paths solve the same problem on the same covariance:

==========================  ================================================
contender                   covariance estimator given to the estimator
==========================  ================================================
``factor path``             ``FactorModelCovariance``: the estimator keeps its
                            ``factor_structure_`` and never forms ``Σ``
``dense path``              the same model exposing only its dense
                            ``covariance_`` (``N x N``): the estimator takes
                            its dense path, as for any other estimator
``factor path, given Σ``    the fitted structure, handed over: the
                            optimisation alone
``dense path, given Σ``     the fitted model's dense matrix, handed over
==========================  ================================================

The first two rows time ``fit(X)`` from the returns, covariance estimation
included; the last two the optimisation (plus input validation) alone. Each
estimator is a separate table:

* ``min-variance-budget``: ``MinimumVariance(min_weights=None, max_weights=None)``
* ``min-variance-long-only``: ``MinimumVariance()`` (``0 <= w <= 1``)
* ``mean-variance``: ``MeanVariance(risk_aversion=10)``, long-only
* ``risk-parity``: ``RiskParity()`` (equal risk contributions)

``objective`` is the variance ``w'Σw``, the loss ``δ/2 w'Σw - μ'w`` (``μ``
the column mean) or, for risk parity, the largest relative gap
``|RC_i / (b_i w'Σw) - 1|``, recomputed from the weights with the fitted
structure; ``violation`` is ``max(|1'w - 1|, max(-w, 0))`` (the second term
for long-only problems). ``time / ref`` is relative to the factor path.

After the timings, each ``fit`` runs once more under :mod:`tracemalloc`: the
peak of the memory allocated during the call, beyond ``X`` itself (the
``peak_memory_mb`` of the JSON rows), goes into a summary table with the
speedups. The dense paths are not run beyond ``DENSE_MAX_ASSETS`` (5000)
assets, where ``Σ`` alone would take 3.2 GB (``N = 20000``).

Size labels are ``TxNxK``; defaults ``1000x1000x10``, ``1000x5000x10``,
``1000x20000x10`` (``X`` alone is 160 MB at ``N = 20000``). Like every script
here it runs on one thread (see ``_harness``); ``bench_factor_threads.py``
times the factor path with the BLAS library's default thread count.

Run ``python benchmarks/bench_factor.py --quick``; options as for every
benchmark script (``--help``).
"""

import gc
import sys
import tracemalloc
from functools import cache

import _harness
import numpy as np
from _factor_problem import ESTIMATORS, RISK_AVERSION, make_problem, parse_size
from sklearn.base import BaseEstimator

DENSE_MAX_ASSETS = 5000
SIZES = ["1000x1000x10", "1000x5000x10", "1000x20000x10"]
QUICK_SIZES = ["250x300x5", "250x1000x5"]

FACTOR, DENSE = "factor path", "dense path"
FACTOR_GIVEN, DENSE_GIVEN = "factor path, given Σ", "dense path, given Σ"


# ------------------------------------------------------------ covariance estimators
class DenseFactorModel(BaseEstimator):
    """The factor model with only its dense ``covariance_``: the dense path."""

    def __init__(self, n_factors=1):
        self.n_factors = n_factors

    def fit(self, X, y=None):
        from skportfolio.covariance import FactorModelCovariance

        _refuse_large(X.shape[1])
        model = FactorModelCovariance(n_factors=self.n_factors).fit(X)
        self.covariance_ = model.covariance_
        return self


class Given(BaseEstimator):
    """A covariance "estimator" handing over ``source()``.

    A zero-argument callable rather than the object itself, because
    scikit-learn's ``clone`` deep-copies parameters (a 200 MB copy of a dense
    matrix would be timed) but keeps functions as they are.
    """

    def __init__(self, source=None, dense=False):
        self.source = source
        self.dense = dense

    def fit(self, X, y=None):
        if self.dense:
            _refuse_large(X.shape[1])
            self.covariance_ = self.source()
        else:
            self.factor_structure_ = self.source()
        return self


def _refuse_large(n_assets):
    if n_assets > DENSE_MAX_ASSETS:
        gigabytes = 8 * n_assets**2 / 1e9
        raise ValueError(
            f"not run beyond {DENSE_MAX_ASSETS} assets: Σ alone is {gigabytes:.1f} GB"
        )


@cache
def _dense_matrix(size):
    return make_problem(size).structure.dense()


def _contenders(make_estimator):
    def fitted(covariance_estimator, problem):
        estimator = make_estimator().set_params(
            covariance_estimator=covariance_estimator
        )
        return estimator.fit(problem.X).weights_

    def factor(problem):
        from skportfolio.covariance import FactorModelCovariance

        return fitted(FactorModelCovariance(n_factors=problem.n_factors), problem)

    def dense(problem):
        return fitted(DenseFactorModel(n_factors=problem.n_factors), problem)

    def factor_given(problem):
        return fitted(Given(lambda: problem.structure), problem)

    def dense_given(problem):
        size = (*problem.X.shape, problem.n_factors)
        return fitted(Given(lambda: _dense_matrix(size), dense=True), problem)

    package = ("skportfolio",)
    return [
        _harness.Contender(FACTOR, factor, packages=package, optional=False),
        _harness.Contender(DENSE, dense, packages=package, optional=False),
        _harness.Contender(
            FACTOR_GIVEN, factor_given, packages=package, optional=False
        ),
        _harness.Contender(
            DENSE_GIVEN,
            dense_given,
            packages=package,
            optional=False,
            note="the fitted model's dense matrix is built once per size, "
            "outside the timing",
        ),
    ]


# -------------------------------------------------------------------------- scoring
def _violation(weights, long_only):
    violation = abs(weights.sum() - 1.0)
    if long_only:
        violation = max(violation, float(np.max(-weights, initial=0.0)))
    return violation


def _variance_score(long_only):
    def score(problem, weights):
        return _harness.Score(
            objective=problem.structure.quad_form(weights),
            violation=_violation(weights, long_only),
        )

    return score


def _mean_variance_score(problem, weights):
    variance = problem.structure.quad_form(weights)
    return _harness.Score(
        objective=0.5 * RISK_AVERSION * variance - problem.mean @ weights,
        violation=_violation(weights, long_only=True),
    )


def _risk_parity_score(problem, weights):
    contributions = weights * problem.structure.matvec(weights)
    relative = contributions / contributions.sum()
    budget = 1.0 / weights.size
    return _harness.Score(
        objective=float(np.max(np.abs(relative / budget - 1.0))),
        violation=_violation(weights, long_only=True),
    )


_TABLES = {
    "min-variance-budget": (
        "Minimum variance, budget only: min w'Σw s.t. 1'w = 1",
        _variance_score(long_only=False),
        True,
    ),
    "min-variance-long-only": (
        "Minimum variance, long-only: min w'Σw s.t. 1'w = 1, 0 <= w <= 1",
        _variance_score(long_only=True),
        True,
    ),
    "mean-variance": (
        f"Mean-variance: max μ'w - {RISK_AVERSION:g}/2 w'Σw s.t. 1'w = 1, 0 <= w <= 1",
        _mean_variance_score,
        True,
    ),
    "risk-parity": (
        "Risk parity: w_i (Σw)_i / w'Σw = 1/N, 1'w = 1, w >= 0",
        _risk_parity_score,
        False,
    ),
}

BENCHMARKS = {
    kind: _harness.Benchmark(
        name=f"factor-{kind}",
        title=f"Factor model, {title}",
        description="Σ = B F B' + D from FactorModelCovariance(n_factors=K); "
        "`time / ref` is relative to the factor path, `gap vs best` shows the "
        "agreement of the paths.",
        parse_size=parse_size,
        make_problem=make_problem,
        score=score,
        contenders=_contenders(ESTIMATORS[kind]),
        sizes=SIZES,
        quick_sizes=QUICK_SIZES,
        reference=FACTOR,
        compare_objectives=compare,
    )
    for kind, (title, score, compare) in _TABLES.items()
}


# --------------------------------------------------------------------------- memory
def peak_memory_mb(contender, problem):
    """Peak memory allocated by one call, in MB (``tracemalloc``)."""
    gc.collect()
    tracemalloc.start()
    try:
        contender.solve(problem)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def measure_memory(benchmark, rows, log=sys.stderr):
    contenders = {c.name: c for c in benchmark.contenders}
    for row in rows:
        if row.status != "ok":
            continue
        problem = make_problem(benchmark.parse_size(row.size))
        row.extras["peak_memory_mb"] = peak_memory_mb(
            contenders[row.contender], problem
        )
        print(
            f"  {row.size:>14}  {row.contender:<28} peak "
            f"{row.extras['peak_memory_mb']:.1f} MB",
            file=log,
        )


# -------------------------------------------------------------------------- summary
def summary_table(results):
    """Time and peak memory of the two paths, per estimator and size."""
    header = [
        "estimator",
        "size",
        "factor fit",
        "factor peak",
        "dense fit",
        "dense peak",
        "fit speedup",
        "factor solve",
        "dense solve",
        "solve speedup",
    ]
    lines = [
        "## Summary: factor path vs dense path",
        "",
        "`fit` is `fit(X)` with the covariance estimation, `solve` the "
        "optimisation given the fitted model; `peak` the memory allocated by "
        "the call (tracemalloc), beyond `X`; speedup = dense time / factor "
        "time, each relative to the samples of the factor path's fit it "
        "alternated with (so both see the same machine conditions).",
        "",
        _harness.markdown_row(header),
        _harness.markdown_row(["---"] * len(header)),
    ]
    for kind, rows in results.items():
        by_size = {}
        for row in rows:
            by_size.setdefault(row.size, {})[row.contender] = row
        for size, cells in by_size.items():
            fit = _path_cells(cells, FACTOR, DENSE)
            solve = _path_cells(cells, FACTOR_GIVEN, DENSE_GIVEN, memory=False)
            lines.append(_harness.markdown_row([kind, size, *fit, *solve]))
    return "\n".join(lines) + "\n"


def _path_cells(cells, factor_name, dense_name, memory=True):
    factor, dense = cells.get(factor_name), cells.get(dense_name)
    out = [_time(factor)]
    if memory:
        out.append(_memory(factor))
    out.append(_time(dense))
    if memory:
        out.append(_memory(dense))
    out.append(_harness.format_ratio(_speedup(factor, dense)))
    return out


def _speedup(factor, dense):
    """``dense / factor`` time, through the reference samples each alternated with.

    The factor path's fit is the reference: every other row was timed in
    samples alternating with it, and the ratio of two such rows divides out
    how fast the machine was while each ran. Plain medians otherwise.
    """
    if not (factor and dense and factor.seconds and dense.seconds):
        return None
    if _is_paired(factor) and _is_paired(dense):
        return _relative_time(dense) / _relative_time(factor)
    return dense.seconds / factor.seconds


def _is_paired(row):
    return row.contender == FACTOR or bool(row.paired_reference_seconds)


def _relative_time(row):
    """Time relative to the reference's alternating samples (1 for the reference)."""
    if row.contender == FACTOR:
        return 1.0
    return row.seconds / row.paired_reference_seconds


def _time(row):
    if row is None:
        return "—"
    if row.seconds is None:
        return "not run" if "not run" in row.status else row.status
    return _harness.format_seconds(row.seconds)


def _memory(row):
    if row is None or "peak_memory_mb" not in row.extras:
        return "—"
    return f"{row.extras['peak_memory_mb']:.1f} MB"


# ----------------------------------------------------------------------------- main
def main(argv=None):
    first = next(iter(BENCHMARKS.values()))
    args, sizes = _harness.parse_args(first, argv)
    if args.output is not None:
        raise SystemExit(
            "--output: this script saves one JSON per estimator, "
            "results/factor-<estimator>.json"
        )
    settings = _harness.Settings(
        repeat=args.repeat or (3 if args.quick else 7),
        min_time=args.min_time
        if args.min_time is not None
        else (0.01 if args.quick else 0.2),
        budget=args.budget or (5.0 if args.quick else 60.0),
        reference=args.reference,
        quick=args.quick,
    )
    results = {}
    for kind, benchmark in BENCHMARKS.items():
        contenders = [
            c for c in benchmark.contenders if args.only is None or c.name in args.only
        ]
        print(f"{benchmark.title}: sizes {', '.join(sizes)}", file=sys.stderr)
        rows = _harness.run(benchmark, sizes, contenders, settings)
        measure_memory(benchmark, rows)
        environment = _harness.environment_info(contenders)
        print(_harness.markdown_report(benchmark, rows, settings, environment))
        if not args.no_save:
            stem = benchmark.name + ("-quick" if args.quick else "")
            path = _harness.RESULTS_DIR / f"{stem}.json"
            _harness.save_json(path, benchmark, rows, settings, environment)
            print(f"saved {path}", file=sys.stderr)
        results[kind] = rows
    print(summary_table(results))
    return results


if __name__ == "__main__":
    main()
