"""Shared machinery of the benchmark scripts: timing, contenders, tables.

Import this module before numpy (``import _harness`` as the first third-party
import of an entry script; isort keeps it there because ``_`` sorts before
letters): it pins OpenMP, OpenBLAS and MKL to one thread through the
environment, which those libraries only read when they load.  It also limits
every already-loaded thread pool to one thread (threadpoolctl) while a
benchmark runs, so that all contenders run on a single core.

A benchmark script describes its problem in a :class:`Benchmark` (how to build
an instance for a size label, how to score a solution) and its contenders as
:class:`Contender` objects, then calls :func:`main`, which parses the command
line, runs, prints Markdown and saves JSON under ``benchmarks/results/``.
"""

# ruff: noqa: E402  (the environment must be set before numpy is imported)
import os
import sys

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
if "numpy" in sys.modules:
    raise RuntimeError(
        "import _harness before numpy: BLAS reads its thread count only once"
    )
for _variable in _THREAD_VARIABLES:
    os.environ[_variable] = "1"

import argparse
import datetime
import gc
import importlib.metadata
import json
import math
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

RESULTS_DIR = Path(__file__).resolve().parent / "results"


# ---------------------------------------------------------------------------- timing
def time_call(fn, repeat=5, min_time=0.2, number=None):
    """Median wall-clock seconds of one call of ``fn()``.

    Each of the ``repeat`` samples runs ``fn`` ``number`` times in a row and
    is divided by ``number``, so that fast calls are timed over at least
    ``min_time`` seconds.  ``number=None`` calibrates it from one extra call.
    The garbage collector is paused inside a sample, as :mod:`timeit` does.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    if number is None:
        number = calls_per_sample(_time_once(fn), min_time)
    samples = [_time_sample(fn, number) / number for _ in range(repeat)]
    return statistics.median(samples)


def time_paired(fn, reference, repeat=5, number=1, reference_number=1):
    """Medians of ``fn()`` and ``reference()`` timed in alternating samples.

    A ratio of two timings taken minutes apart inherits every change of the
    machine in between (clock boost, the other core's load, cache state).
    Alternating their samples exposes both to the same conditions, so the
    ratio of the two medians is what one would see side by side. Returns
    ``(seconds per call of fn, seconds per call of reference)``.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    own, theirs = [], []
    for _ in range(repeat):
        theirs.append(_time_sample(reference, reference_number) / reference_number)
        own.append(_time_sample(fn, number) / number)
    return statistics.median(own), statistics.median(theirs)


def calls_per_sample(seconds_per_call, min_time):
    """How many back-to-back calls make a sample of at least ``min_time``."""
    if seconds_per_call <= 0:
        return 1_000
    return max(1, math.ceil(min_time / seconds_per_call))


def _time_once(fn):
    return _time_sample(fn, 1)


def _time_sample(fn, number):
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        return time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()


# ----------------------------------------------------------------------- definitions
@dataclass(frozen=True)
class Contender:
    """One implementation under test.

    Parameters
    ----------
    name : str
        Row label in the tables.
    solve : callable
        ``solve(problem) -> ndarray``: the solution for one problem instance
        (whatever :attr:`Benchmark.make_problem` returns).  Import optional
        libraries inside it: an ``ImportError`` it raises marks the contender
        "not installed" instead of stopping the run.
    packages : tuple of str
        Distributions it needs (for the "not installed" check and the
        versions recorded with the results).
    optional : bool
        If False, a missing package is an error rather than a table entry.
    note : str
        Shown under the table (settings, caveats).
    """

    name: str
    solve: Callable[[Any], np.ndarray]
    packages: tuple[str, ...] = ()
    optional: bool = True
    note: str = ""


@dataclass(frozen=True)
class Score:
    """Accuracy of one solution, computed by the benchmark's checker.

    ``objective`` is minimised; ``violation`` is the largest constraint
    violation (0 when feasible); ``extras`` are further named numbers that go
    to the JSON output.
    """

    objective: float
    violation: float
    extras: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Benchmark:
    """A problem family, its contenders and its sizes.

    Parameters
    ----------
    name : str
        File stem of the saved results (``results/<name>.json``).
    title : str
        Heading of the printed report.
    parse_size : callable
        ``parse_size(label) -> spec``; raises ``ValueError`` on a bad label.
        Labels are what ``--sizes`` takes, e.g. ``"2500x50"``.
    make_problem : callable
        ``make_problem(spec) -> problem``, deterministic (fixed seed).
    score : callable
        ``score(problem, solution) -> Score``.
    contenders : sequence of Contender
    sizes, quick_sizes : sequence of str
        Default size labels of a full and of a ``--quick`` run, cheapest first
        (the time budget skips a contender after a size where it was too slow).
    reference : str
        Contender the ``time / ref`` column divides by.
    feasibility_tol : float
        Solutions violating constraints by more than this do not compete for
        the best objective: the 1e-12 to which the library's targets ask
        constraints to hold, so that a solver buying a lower objective with a
        violation of, say, 1e-10 does not set the bar for the others.
    compare_objectives : bool
        If False (objective already an error measure), no gap column.
    """

    name: str
    title: str
    parse_size: Callable[[str], Any]
    make_problem: Callable[[Any], Any]
    score: Callable[[Any, np.ndarray], Score]
    contenders: Sequence[Contender]
    sizes: Sequence[str]
    quick_sizes: Sequence[str]
    reference: str
    feasibility_tol: float = 1e-12
    compare_objectives: bool = True
    description: str = ""


@dataclass
class Row:
    """Outcome of one contender at one size (one line of the table)."""

    size: str
    contender: str
    status: str = "ok"
    seconds: float | None = None
    first_call_seconds: float | None = None
    repeats: int = 0
    calls_per_sample: int = 0
    objective: float | None = None
    violation: float | None = None
    extras: dict[str, float] = field(default_factory=dict)
    objective_gap: float | None = None
    time_ratio: float | None = None
    #: The reference's median in samples alternating with this row's (see
    #: :func:`time_paired`); ``time_ratio`` is ``seconds`` over it.
    paired_reference_seconds: float | None = None


@dataclass(frozen=True)
class Settings:
    repeat: int
    min_time: float
    budget: float
    reference: str
    quick: bool


# --------------------------------------------------------------------------- running
def missing_packages(contender):
    """Distributions of ``contender.packages`` that are not installed."""
    missing = []
    for package in contender.packages:
        try:
            importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            missing.append(package)
    return missing


def run(benchmark, sizes, contenders, settings, log=sys.stderr):
    """Time and score every contender at every size; return the rows."""
    rows = []
    too_slow = {}  # contender name -> (size, seconds) that exceeded the budget
    unavailable = {}  # contender name -> status, decided once
    for contender in contenders:
        missing = missing_packages(contender)
        if missing and not contender.optional:
            raise ImportError(f"{contender.name} needs {', '.join(missing)}")
        if missing:
            unavailable[contender.name] = f"not installed ({', '.join(missing)})"
    with threadpool_limits(limits=1):
        for size in sizes:
            problem = benchmark.make_problem(benchmark.parse_size(size))
            size_rows = []
            # (row, contender) of the reference once timed: later contenders
            # alternate their samples with its (see time_paired).
            reference = None
            for contender in _reference_first(contenders, settings.reference):
                row = Row(size=size, contender=contender.name)
                if contender.name in unavailable:
                    row.status = unavailable[contender.name]
                elif contender.name in too_slow:
                    slow_size, seconds = too_slow[contender.name]
                    row.status = f"skipped: {format_seconds(seconds)} at {slow_size}"
                else:
                    _measure(benchmark, contender, problem, row, settings, reference)
                    if contender.name == settings.reference and row.seconds:
                        reference = (row, contender)
                    if row.status.startswith("unavailable"):
                        unavailable[contender.name] = row.status
                    slowest = max(row.seconds or 0.0, row.first_call_seconds or 0.0)
                    if slowest > settings.budget:
                        too_slow[contender.name] = (size, slowest)
                print(f"  {size:>14}  {contender.name:<28} {_describe(row)}", file=log)
                size_rows.append(row)
            _fill_comparisons(size_rows, benchmark, settings.reference)
            order = {c.name: i for i, c in enumerate(contenders)}
            rows.extend(sorted(size_rows, key=lambda row: order[row.contender]))
    return rows


def _reference_first(contenders, reference):
    """The contenders with the reference first, so others can pair with it."""
    return sorted(contenders, key=lambda contender: contender.name != reference)


def _measure(benchmark, contender, problem, row, settings, reference):
    """Time and score one contender.

    ``reference`` is the ``(row, contender)`` of the timed reference at this
    size, or None: the contender's samples then alternate with its.
    """

    def call():
        return contender.solve(problem)

    try:
        start = time.perf_counter()
        solution = call()
        row.first_call_seconds = time.perf_counter() - start
    except ImportError as error:
        if not contender.optional:
            raise
        row.status = f"unavailable ({_first_line(error)})"
        return
    except Exception as error:  # a contender failing is a result, not a crash
        row.status = f"error: {type(error).__name__}: {_first_line(error)}"
        return
    score = benchmark.score(problem, np.asarray(solution, dtype=float))
    row.objective, row.violation = score.objective, score.violation
    row.extras = dict(score.extras)

    first = row.first_call_seconds
    if first > settings.budget:
        # One call already exceeds the budget: that call is the timing.
        row.seconds, row.repeats, row.calls_per_sample = first, 1, 1
        return
    # The first call may pay one-time costs (imports, caches built lazily):
    # a second one sizes the samples, so that each lasts about min_time.
    warm = _time_once(call)
    row.repeats = max(1, min(settings.repeat, int(settings.budget // max(warm, 1e-9))))
    row.calls_per_sample = calls_per_sample(warm, settings.min_time)
    if reference is None:
        row.seconds = time_call(
            call,
            repeat=row.repeats,
            min_time=settings.min_time,
            number=row.calls_per_sample,
        )
        return
    reference_row, reference_contender = reference
    row.seconds, row.paired_reference_seconds = time_paired(
        call,
        lambda: reference_contender.solve(problem),
        repeat=row.repeats,
        number=row.calls_per_sample,
        reference_number=reference_row.calls_per_sample,
    )


def _fill_comparisons(rows, benchmark, reference):
    timed = {row.contender: row for row in rows if row.seconds is not None}
    reference_row = timed.get(reference)
    if reference_row is not None:
        for row in timed.values():
            # Against the reference's samples alternating with this row's
            # where there are some; the reference's own timing otherwise.
            paired = row.paired_reference_seconds or reference_row.seconds
            row.time_ratio = row.seconds / paired
    if not benchmark.compare_objectives:
        return
    feasible = [
        row.objective
        for row in timed.values()
        if row.violation is not None and row.violation <= benchmark.feasibility_tol
    ]
    if not feasible:
        return
    best = min(feasible)
    for row in timed.values():
        row.objective_gap = (row.objective - best) / max(
            abs(best), np.finfo(float).tiny
        )


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0][:120] if text else type(error).__name__


def _describe(row):
    if row.seconds is None:
        return row.status
    return f"{format_seconds(row.seconds)}  violation {format_number(row.violation)}"


# ---------------------------------------------------------------------------- output
def format_seconds(seconds):
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_number(value):
    return "—" if value is None else f"{value:.1e}"


def format_ratio(value):
    return "—" if value is None else f"{value:.3g}x"


def markdown_report(benchmark, rows, settings, environment):
    """The whole report as Markdown: settings, one table per size, notes."""
    lines = [f"## {benchmark.title}", ""]
    if benchmark.description:
        lines += [benchmark.description, ""]
    lines += [
        f"single-threaded BLAS, median of up to {settings.repeat} samples "
        f"(each ≥ {settings.min_time} s), budget {settings.budget} s per call, "
        f"time / ref vs **{settings.reference}**; "
        f"numpy {environment['versions'].get('numpy')}, "
        f"Python {environment['python']}, {environment['cpu']}",
        "",
    ]
    header = ["contender", "time", "time / ref"]
    if benchmark.compare_objectives:
        header += ["objective", "gap vs best"]
    else:
        header += ["error"]
    header += ["violation", "status"]
    for size in dict.fromkeys(row.size for row in rows):
        lines += [
            f"### {size}",
            "",
            markdown_row(header),
            markdown_row(["---"] * len(header)),
        ]
        for row in (row for row in rows if row.size == size):
            cells = [
                row.contender,
                format_seconds(row.seconds),
                format_ratio(row.time_ratio),
            ]
            if benchmark.compare_objectives:
                cells += [
                    _format_objective(row.objective),
                    format_number(row.objective_gap),
                ]
            else:
                cells += [format_number(row.objective)]
            cells += [format_number(row.violation), row.status]
            lines.append(markdown_row(cells))
        lines.append("")
    notes = [c for c in benchmark.contenders if c.note]
    if notes:
        lines += ["Notes:", ""]
        lines += [f"- **{c.name}**: {c.note}" for c in notes]
        lines.append("")
    return "\n".join(lines)


def _format_objective(value):
    return "—" if value is None else f"{value:.10g}"


def markdown_row(cells):
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def environment_info(contenders):
    """Python, machine, thread pools and versions of everything involved."""
    packages = {"numpy", "scipy", "scikit-learn", "threadpoolctl"}
    for contender in contenders:
        packages.update(contender.packages)
    versions = {}
    for package in sorted(packages, key=str.lower):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "logical_cpus": os.cpu_count(),
        "thread_environment": {
            name: os.environ.get(name) for name in _THREAD_VARIABLES
        },
        "blas": [
            {key: pool.get(key) for key in ("internal_api", "version", "num_threads")}
            for pool in threadpool_info()
        ],
        "versions": versions,
    }


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def save_json(path, benchmark, rows, settings, environment):
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": benchmark.name,
        "title": benchmark.title,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "settings": asdict(settings),
        "environment": environment,
        "notes": {c.name: c.note for c in benchmark.contenders if c.note},
        "results": [asdict(row) for row in rows],
    }
    path.write_text(
        json.dumps(document, indent=2, allow_nan=True) + "\n", encoding="utf-8"
    )


# ------------------------------------------------------------------------------ CLI
def parse_args(benchmark, argv=None):
    parser = argparse.ArgumentParser(description=benchmark.title)
    parser.add_argument(
        "--quick", action="store_true", help="CI-sized run: small sizes, few repeats"
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [label.strip() for label in text.split(",") if label.strip()],
        help=f"comma-separated size labels (default: {','.join(benchmark.sizes)})",
    )
    parser.add_argument(
        "--repeat", type=int, help="timing samples (default 7, quick 3)"
    )
    parser.add_argument(
        "--min-time", type=float, help="seconds per sample (default 0.2, quick 0.01)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        help="seconds per call beyond which a contender skips larger sizes "
        "(default 60, quick 5)",
    )
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        help="comma-separated contender names",
    )
    parser.add_argument(
        "--reference",
        default=benchmark.reference,
        help=f"contender of the time / ref column (default {benchmark.reference})",
    )
    parser.add_argument(
        "--output", type=Path, help="JSON path (default results/NAME.json)"
    )
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    sizes = args.sizes or list(benchmark.quick_sizes if args.quick else benchmark.sizes)
    for label in sizes:
        try:
            benchmark.parse_size(label)
        except ValueError as error:
            parser.error(f"bad size {label!r}: {error}")
    names = [c.name for c in benchmark.contenders]
    for name in args.only or ():
        if name not in names:
            parser.error(f"unknown contender {name!r}; choose from {names}")
    if args.reference not in names:
        parser.error(f"unknown reference {args.reference!r}; choose from {names}")
    return args, sizes


def main(benchmark, argv=None):
    """Command-line entry point of a benchmark script; returns the rows."""
    args, sizes = parse_args(benchmark, argv)
    settings = Settings(
        repeat=args.repeat or (3 if args.quick else 7),
        min_time=args.min_time
        if args.min_time is not None
        else (0.01 if args.quick else 0.2),
        budget=args.budget or (5.0 if args.quick else 60.0),
        reference=args.reference,
        quick=args.quick,
    )
    contenders = [
        c for c in benchmark.contenders if args.only is None or c.name in args.only
    ]
    print(f"{benchmark.title}: sizes {', '.join(sizes)}", file=sys.stderr)
    rows = run(benchmark, sizes, contenders, settings)
    environment = environment_info(contenders)
    print(markdown_report(benchmark, rows, settings, environment))
    if not args.no_save:
        stem = benchmark.name + ("-quick" if args.quick else "")
        path = args.output or RESULTS_DIR / f"{stem}.json"
        save_json(path, benchmark, rows, settings, environment)
        print(f"saved {path}", file=sys.stderr)
    return rows
