"""Benchmark: the factor path of the portfolio estimators with BLAS's default threads.

Every other script here runs on one thread (see ``_harness``), and so does
``bench_factor.py``. The factor-model targets are stated for a CI-sized
machine with 2 cores, on which the BLAS library uses both by default: this
script times ``fit(X)`` on the factor path (``FactorModelCovariance`` with
``K`` statistical factors, the estimator keeping its ``factor_structure_``)
with the thread count the BLAS library picks, which it reports, and the
``tracemalloc`` peak of the memory ``fit`` allocates beyond ``X``.

The four estimators are those of ``bench_factor.py``, on the same returns
(``_factor_problem``). Each estimator's samples alternate with the others',
so all see the same machine conditions; the table gives the median and the
fastest sample. Run it on an otherwise idle machine: with another process
busy on a core, a multithreaded BLAS call waits for the thread on that core
and can take many times as long as on one thread.

Run ``python benchmarks/bench_factor_threads.py`` (sizes ``TxNxK``, default
``1000x5000x10`` and ``1000x20000x10``); it saves
``results/threads/factor-default-threads.json`` (outside ``results/*.json``,
which ``report.py`` reads in the harness's format) unless ``--no-save``.
"""

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np
from _factor_problem import ESTIMATORS, make_problem, parse_size
from threadpoolctl import threadpool_info

SIZES = ["1000x5000x10", "1000x20000x10"]
RESULTS_PATH = (
    Path(__file__).resolve().parent
    / "results"
    / "threads"
    / "factor-default-threads.json"
)


def fit_factor_path(make_estimator, problem):
    """``fit(X)`` with ``FactorModelCovariance``: the factor path, from the returns."""
    from skportfolio.covariance import FactorModelCovariance

    estimator = make_estimator().set_params(
        covariance_estimator=FactorModelCovariance(n_factors=problem.n_factors)
    )
    return estimator.fit(problem.X).weights_


def time_alternating(calls, repeat):
    """Seconds of every sample of each call, the calls taking turns."""
    samples = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            gc.collect()
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return samples


def peak_memory_mb(call):
    """Peak memory allocated by one call, in MB (``tracemalloc``)."""
    gc.collect()
    tracemalloc.start()
    try:
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def measure(size, repeat):
    """One row per estimator at ``size``: median and fastest fit, peak memory."""
    problem = make_problem(parse_size(size))
    calls = {
        name: (lambda make=make: fit_factor_path(make, problem))
        for name, make in ESTIMATORS.items()
    }
    for call in calls.values():
        call()  # warm-up: imports, caches, thread pools
    samples = time_alternating(calls, repeat)
    return [
        {
            "estimator": name,
            "size": size,
            "seconds": statistics.median(samples[name]),
            "fastest_seconds": min(samples[name]),
            "samples": samples[name],
            "peak_memory_mb": peak_memory_mb(call),
        }
        for name, call in calls.items()
    ]


def blas_threads():
    """Thread counts of the loaded BLAS and OpenMP pools."""
    return [
        {key: pool.get(key) for key in ("internal_api", "version", "num_threads")}
        for pool in threadpool_info()
    ]


def markdown(rows, threads):
    counts = ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in threads)
    lines = [
        f"## Factor path, fit(X) with the default BLAS threads ({counts})",
        "",
        "| estimator | size | median fit | fastest fit | peak beyond X |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {row['estimator']} | {row['size']} | {row['seconds']:.3f} s | "
        f"{row['fastest_seconds']:.3f} s | {row['peak_memory_mb']:.1f} MB |"
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help="TxNxK,...")
    parser.add_argument("--repeat", type=int, default=7, help="samples per fit")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    rows = [row for size in args.sizes.split(",") for row in measure(size, args.repeat)]
    threads = blas_threads()
    print(markdown(rows, threads))
    if not args.no_save:
        document = {
            "benchmark": "factor-default-threads",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "repeat": args.repeat,
            "environment": {
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpu_count": os.cpu_count(),
                "numpy": np.__version__,
                "thread_pools": threads,
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
            },
            "results": rows,
        }
        RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_PATH.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"saved {RESULTS_PATH}")
    return rows


if __name__ == "__main__":
    main()
