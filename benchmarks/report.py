"""Render the saved benchmark results as the documentation page.

Reads every full-run ``results/*.json`` (``*-quick.json`` is skipped) and
writes, per benchmark, a table of the median time of each contender, its
ratio to skportfolio (and to the ``np.cov`` floor where the benchmark times
it) and its accuracy, followed by the environment the run recorded; a table
at the top checks the performance targets against the same numbers.

Run ``python benchmarks/report.py > docs/benchmarks.rst`` (or
``--output docs/benchmarks.rst``); ``--format markdown`` prints the same
content as Markdown. Only the standard library is needed.
"""

import argparse
import datetime
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FLOOR = "np.cov (floor)"
OURS = "skportfolio"
FACTOR, DENSE = "factor path", "dense path"
FACTOR_GIVEN, DENSE_GIVEN = "factor path, given Σ", "dense path, given Σ"

INTRODUCTION = """\
Speed and accuracy of skportfolio against the libraries and recipes used for
the same problems: cvxpy with Clarabel, scipy, scikit-learn, skfolio,
PyPortfolioOpt, Riskfolio-Lib and riskparityportfolio. The scripts, the
reference adapters and the raw results (JSON) are in the repository's
``benchmarks/`` directory; this page is generated from those results by
``python benchmarks/report.py --output docs/benchmarks.rst``.

**Method.** Every contender solves the same instance, built from a fixed
seed. BLAS, OpenMP and MKL are limited to one thread for every contender, so
that the comparison is of algorithms rather than of core counts. A portfolio
contender receives the matrix of returns and estimates its moments itself, as
a user calling ``fit`` does: its time includes the covariance estimation, and
the ``np.cov`` column gives the time of ``np.cov(X, rowvar=False)`` alone, a
floor that no optimiser reading a covariance can beat. Times are medians of
several samples taken after one warm-up call; a sample repeats the call until
it lasts a minimum time, and a call longer than a time budget is timed once,
the contender then being skipped at the sizes run after it (the settings of
each run are listed under its table). Accuracy is recomputed by the
benchmark from the returned weights or coefficients, never taken from the
solver's own report:

* *objective gap*: ``(f - f_best) / |f_best|`` with ``f`` the objective at the
  returned solution and ``f_best`` the lowest objective among the solutions
  that violate the constraints by at most 1e-12 (a negative gap therefore goes
  with a violated constraint);
* *violation*: the largest constraint violation, ``max(|1'w - 1|, max(-w))``
  (the second term only where weights are bounded below by zero);
* *RC deviation* (risk budgeting): ``max_i |RC_i / (b_i w'Σw) - 1|``, the
  largest relative gap between the risk contribution
  ``RC_i = w_i (Σw)_i`` and its budget ``b_i``.
"""

TARGETS_INTRODUCTION = """\
The performance targets set for the library, checked against the tables
below; a target that is not met is marked as such.
"""

# Short description of each group of benchmarks: (title, prefix, text).
GROUPS = (
    (
        "Constrained regression",
        "regression",
        "Least squares with the coefficients on the simplex, "
        "``min ||y - Xb||²`` subject to ``b >= 0`` and ``sum(b) = 1`` (style "
        "analysis, index replication). Size labels are samples x features; "
        "``@1e8`` marks an ``X`` with condition number 1e8. scikit-learn's "
        "positive least squares and ``scipy.optimize.lsq_linear`` cannot "
        "impose the sum and plain least squares imposes nothing: their rows "
        "show the constraint violation that buys their speed.",
    ),
    (
        "Portfolio optimisation",
        "portfolio",
        "Minimum-variance and mean-variance portfolios from ``T x N`` "
        "returns (``T = 3N`` and one case with ``T < N``, a singular "
        "covariance). Every library gets the same sample mean and covariance "
        "(``np.cov``, ``ddof=1``), estimated inside the timed call.",
    ),
    (
        "Model selection",
        "grid-search",
        "scikit-learn's ``GridSearchCV`` over 16 risk aversions with "
        "``TimeSeriesSplit(5)``: 80 fits and scores and a refit of a long-only "
        "mean-variance portfolio of 100 assets, skportfolio's ``MeanVariance`` "
        "against skfolio's ``MeanRisk``. Both select the same risk aversion.",
    ),
    (
        "Risk parity and risk budgeting",
        "risk-parity",
        "Weights whose risk contributions match equal or random budgets, "
        "long-only and fully invested, from ``T x N`` returns as above. "
        "The accuracy column is the RC deviation.",
    ),
    (
        "Factor-model covariance",
        "factor",
        "The portfolio estimators on a ``K``-factor model fitted by "
        "``FactorModelCovariance``: the factor path (``Σ = BFB' + D`` kept as "
        "factors, never formed) against the dense path (the ``N x N`` matrix "
        "of the same model). ``fit`` rows include the factor-model "
        "estimation; ``given Σ`` rows time the optimisation alone. Peak memory "
        "is what the call allocates beyond ``X`` (tracemalloc). Size labels "
        "are ``T x N x K``.",
    ),
)


# ----------------------------------------------------------------------- loading
@dataclass(frozen=True)
class Result:
    """One contender at one size, as saved by ``_harness.save_json``."""

    size: str
    contender: str
    status: str
    seconds: float | None
    objective: float | None
    violation: float | None
    objective_gap: float | None
    extras: dict
    #: The reference's time in samples alternating with this result's
    #: (``_harness.time_paired``); None in older files and for the reference.
    paired_reference_seconds: float | None = None


@dataclass(frozen=True)
class Run:
    """One saved benchmark run."""

    name: str
    title: str
    created: str
    settings: dict
    environment: dict
    notes: dict
    results: tuple[Result, ...]
    run_conditions: dict

    @property
    def sizes(self):
        return list(dict.fromkeys(result.size for result in self.results))

    @property
    def contenders(self):
        return list(dict.fromkeys(result.contender for result in self.results))

    def get(self, size, contender):
        for result in self.results:
            if result.size == size and result.contender == contender:
                return result
        return None

    def seconds(self, size, contender):
        result = self.get(size, contender)
        return None if result is None else result.seconds

    def ratio(self, size, numerator, denominator):
        """Time of ``numerator`` over ``denominator`` at ``size``.

        Where one of them is the run's reference and the other was timed in
        samples alternating with it, the ratio comes from those samples,
        which saw the same machine conditions.
        """
        top, bottom = self.get(size, numerator), self.get(size, denominator)
        if top is None or bottom is None:
            return None
        reference = self.settings.get("reference")
        if denominator == reference and top.paired_reference_seconds:
            return ratio(top.seconds, top.paired_reference_seconds)
        if numerator == reference and bottom.paired_reference_seconds:
            return ratio(bottom.paired_reference_seconds, bottom.seconds)
        return ratio(top.seconds, bottom.seconds)

    @property
    def baseline(self):
        """Contender the ratios are taken to: skportfolio or its factor path."""
        return OURS if OURS in self.contenders else self.settings.get("reference")

    @property
    def has_floor(self):
        return FLOOR in self.contenders

    @property
    def measures_rc_deviation(self):
        """Risk budgeting: the saved objective is the RC deviation itself."""
        return "risk-parity" in self.name


def load_runs(directory):
    """Full runs saved in ``directory``, keyed by benchmark name."""
    runs = {}
    for path in sorted(Path(directory).glob("*.json")):
        if path.stem.endswith("-quick"):
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("settings", {}).get("quick"):
            continue
        runs[document["benchmark"]] = Run(
            name=document["benchmark"],
            title=document["title"],
            created=document["created"],
            settings=document["settings"],
            environment=document["environment"],
            notes=document.get("notes", {}),
            results=tuple(_result(row) for row in document["results"]),
            run_conditions=document.get("run_conditions", {}),
        )
    return dict(sorted(runs.items(), key=lambda item: _display_order(item[0])))


#: Benchmarks in the order of the scripts' own tables; others follow by name.
ORDER = (
    "regression",
    "portfolio-long-only",
    "portfolio-budget",
    "portfolio-mean-variance",
    "grid-search",
    "risk-parity-equal",
    "risk-parity-random",
    "factor-min-variance-budget",
    "factor-min-variance-long-only",
    "factor-mean-variance",
    "factor-risk-parity",
)


def _display_order(name):
    return (ORDER.index(name), "") if name in ORDER else (len(ORDER), name)


def _result(row):
    return Result(
        size=row["size"],
        contender=row["contender"],
        status=row["status"],
        seconds=row["seconds"],
        objective=_finite(row["objective"]),
        violation=_finite(row["violation"]),
        objective_gap=_finite(row["objective_gap"]),
        extras=row.get("extras", {}),
        paired_reference_seconds=row.get("paired_reference_seconds"),
    )


def _finite(value):
    return value if value is not None and math.isfinite(value) else None


def n_assets(size):
    """``N`` of a size label: the second field of ``TxN``, ``TxNxK``, ``NxP@C``."""
    fields = size.split("@")[0].split("x")
    return int(fields[1])


# ----------------------------------------------------------------- formatting
# The units of _harness.format_seconds, restated: importing _harness would pin
# the BLAS threads and need numpy, and this script needs only the standard
# library.
def format_seconds(seconds):
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_ratio(value):
    return "—" if value is None else f"{value:.3g}×"


def format_number(value):
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:.1e}"


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


# ------------------------------------------------------------------ document
@dataclass(frozen=True)
class Heading:
    text: str
    level: int  # 0 page title, 1 group, 2 benchmark


@dataclass(frozen=True)
class Paragraph:
    text: str  # reStructuredText-compatible inline markup (``literal``, *em*)


class Markup(str):
    """Table cell text with inline markup (``literal``, **strong**), not escaped."""


@dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Fields:
    items: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Bullets:
    items: Sequence[str]


def benchmark_table(run):
    """Time, ratios and accuracy of every contender at every size."""
    header = ["Size"]
    if run.has_floor:
        header.append("np.cov")
    header += ["Contender", "Median time", f"÷ {run.baseline}"]
    if run.has_floor:
        header.append("÷ np.cov")
    header.append("RC deviation" if run.measures_rc_deviation else "Objective gap")
    header.append("Violation")
    memory = any("peak_memory_mb" in result.extras for result in run.results)
    if memory:
        header.append("Peak memory")
    notes = any(result.status != "ok" for result in run.results)
    if notes:
        header.append("Note")

    rows = []
    for size in run.sizes:
        floor = run.seconds(size, FLOOR)
        first = True
        for result in run.results:
            if result.size != size or result.contender == FLOOR:
                continue
            cells = [size if first else ""]
            if run.has_floor:
                cells.append(format_seconds(floor) if first else "")
            cells += [
                result.contender,
                format_seconds(result.seconds),
                format_ratio(run.ratio(size, result.contender, run.baseline)),
            ]
            if run.has_floor:
                cells.append(format_ratio(run.ratio(size, result.contender, FLOOR)))
            accuracy = (
                result.objective if run.measures_rc_deviation else result.objective_gap
            )
            cells += [format_number(accuracy), format_number(result.violation)]
            if memory:
                megabytes = peak_memory_mb(result)
                cells.append("—" if megabytes is None else f"{megabytes:.1f} MB")
            if notes:
                cells.append("" if result.status == "ok" else result.status)
            rows.append(cells)
            first = False
    return Table(header, rows)


def degenerate_sizes(run):
    """Sizes whose best objective is round-off: relative gaps mean nothing there."""
    if run.measures_rc_deviation:
        return []
    found = []
    for size in run.sizes:
        objectives = [
            result.objective
            for result in run.results
            if result.size == size
            and result.objective is not None
            and result.objective_gap == 0
        ]
        if objectives and abs(objectives[0]) < 1e-15:
            found.append((size, objectives[0]))
    return found


def environment_fields(run):
    environment, settings = run.environment, run.settings
    created = datetime.datetime.fromisoformat(run.created)
    versions = ", ".join(
        f"{package} {version}"
        for package, version in environment.get("versions", {}).items()
        if version is not None
    )
    items = [
        ("Date", created.strftime("%Y-%m-%d %H:%M %Z").strip()),
        (
            "Machine",
            f"{environment.get('cpu')}, {environment.get('logical_cpus')} logical "
            f"CPUs, {environment.get('platform')}, "
            f"Python {environment.get('python')}",
        ),
        ("Threads", threads_description(environment)),
        ("Versions", versions),
        (
            "Timing",
            f"median of up to {settings['repeat']} samples of at least "
            f"{settings['min_time']:g} s; a call over {settings['budget']:g} s "
            "is timed once and its contender skipped at the sizes run after it",
        ),
    ]
    load = load_description(run.run_conditions)
    if load:
        items.append(("Load", load))
    return Fields(items)


def threads_description(environment):
    """Thread count of every BLAS/OpenMP pool and the pinning variables."""
    pools = environment.get("blas", [])
    names = sorted(
        {f"{pool['internal_api']} {pool['version'] or ''}".strip() for pool in pools}
    )
    if {pool["num_threads"] for pool in pools} == {1}:
        text = f"1 thread in every pool ({', '.join(names)})"
    else:
        text = "threads per pool: " + ", ".join(
            f"{pool['internal_api']} {pool['num_threads']}" for pool in pools
        )
    variables = environment.get("thread_environment", {})
    pinned = sorted(name for name, value in variables.items() if value == "1")
    if pinned:
        text += "; " + ", ".join(pinned) + " set to 1"
    return text


def load_description(conditions):
    """The machine's load while the run went on, when it was recorded."""
    samples = conditions.get("load_average_1min")
    if not samples:
        return ""
    logical_cpus = conditions.get("logical_cpus")
    text = (
        f"1-minute load average during the run: median "
        f"{sorted(samples)[len(samples) // 2]:.2f}, max {max(samples):.2f} "
        f"({len(samples)} samples"
    )
    if logical_cpus:
        text += f", {logical_cpus} logical CPUs"
    text += ")"
    if conditions.get("note"):
        text += f". {conditions['note']}"
    return text


def benchmark_blocks(run):
    blocks = [Heading(run.title, 2), benchmark_table(run)]
    for size, objective in degenerate_sizes(run):
        blocks.append(
            Paragraph(
                f"At {size} the optimal objective is round-off "
                f"({objective:.1e}): the objective gaps there are relative to "
                "a number that is zero up to rounding and do not measure "
                "accuracy."
            )
        )
    if run.notes:
        blocks.append(Bullets([f"{name}: {note}" for name, note in run.notes.items()]))
    blocks.append(environment_fields(run))
    return blocks


# ----------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Check:
    """One target, its measurement at each size, and whether each passes."""

    target: str
    measurements: tuple[tuple[str, str, bool], ...]  # size, value as text, passes

    @property
    def measured(self):
        return ", ".join(f"{size}: {text}" for size, text, _ in self.measurements)

    @property
    def verdict(self):
        if not self.measurements:
            return "not measured"
        failed = [size for size, _, passes in self.measurements if not passes]
        if not failed:
            return "met"
        return Markup("**not met** at " + ", ".join(failed))


def check(target, run, sizes, value_at, passes, formatter):
    """Measure ``value_at(size)`` at ``sizes`` of ``run`` (missing values skipped)."""
    measurements = []
    for size in sizes if run is not None else ():
        value = value_at(size)
        if value is not None:
            measurements.append((size, formatter(value), passes(value)))
    return Check(target, tuple(measurements))


def regression_checks(runs):
    run = runs.get("regression")
    sizes = run.sizes if run is not None else []
    checks = [
        check(
            Markup(f"Constrained regression: time ≤ 0.5× scikit-learn's {label}"),
            run,
            sizes,
            lambda size, reference=reference: run.ratio(size, OURS, reference),
            lambda value: value <= 0.5,
            format_ratio,
        )
        for reference, label in (
            ("sklearn positive", "``LinearRegression(positive=True)``"),
            ("sklearn unconstrained", "``LinearRegression()``"),
        )
    ]
    checks.append(
        check(
            "Constrained regression: ≥ 100× faster than cvxpy+Clarabel",
            run,
            sizes,
            lambda size: run.ratio(size, "cvxpy+Clarabel", OURS),
            lambda value: value >= 100,
            format_ratio,
        )
    )
    return checks


def grid_search_checks(runs):
    run = runs.get("grid-search")
    return [
        check(
            "GridSearchCV over risk aversions ≥ 10× faster than skfolio's",
            run,
            run.sizes if run is not None else [],
            lambda size: run.ratio(size, "skfolio", OURS),
            lambda value: value >= 10,
            format_ratio,
        )
    ]


def floor_checks(runs, prefix, limit, rc_tolerance=None):
    """skportfolio's time as a multiple of np.cov at N >= 500, per benchmark."""
    checks = []
    for run in (run for name, run in runs.items() if name.startswith(prefix)):
        problem = run.title.split(":")[0]
        large = [size for size in run.sizes if n_assets(size) >= 500]
        checks.append(
            check(
                f"{problem}: fit at N ≥ 500 ≤ {limit:g}× np.cov",
                run,
                large,
                lambda size, run=run: run.ratio(size, OURS, FLOOR),
                lambda value: value <= limit,
                format_ratio,
            )
        )
        if rc_tolerance is not None:
            checks.append(
                check(
                    f"{problem}: RC deviation ≤ {rc_tolerance:g} at N ≥ 500",
                    run,
                    large,
                    lambda size, run=run: getattr(
                        run.get(size, OURS), "objective", None
                    ),
                    lambda value: value <= rc_tolerance,
                    format_number,
                )
            )
    return checks


def factor_checks(runs):
    checks = []
    for name, run in runs.items():
        if not name.startswith("factor-"):
            continue
        estimator = name.removeprefix("factor-")
        largest = [size for size in run.sizes if n_assets(size) == 20000]
        checks += [
            check(
                f"Factor path, {estimator}: fit at N = 20000 < 2 s",
                run,
                largest,
                lambda size, run=run: run.seconds(size, FACTOR),
                lambda value: value < 2,
                format_seconds,
            ),
            check(
                f"Factor path, {estimator}: fit at N = 20000 < 200 MB beyond X",
                run,
                largest,
                lambda size, run=run: peak_memory_mb(run.get(size, FACTOR)),
                lambda value: value < 200,
                lambda value: f"{value:.0f} MB",
            ),
        ]
        medium = [size for size in run.sizes if n_assets(size) == 5000]
        checks += [
            check(
                f"Factor path, {estimator}: {what} ≥ 100× faster than dense "
                "at N = 5000",
                run,
                medium,
                lambda size, run=run, factor=factor, dense=dense: run.ratio(
                    size, dense, factor
                ),
                lambda value: value >= 100,
                format_ratio,
            )
            for what, factor, dense in (
                ("fit", FACTOR, DENSE),
                ("optimisation given Σ", FACTOR_GIVEN, DENSE_GIVEN),
            )
        ]
    return checks


def peak_memory_mb(result):
    return None if result is None else result.extras.get("peak_memory_mb")


def all_checks(runs):
    return [
        *regression_checks(runs),
        *floor_checks(runs, "portfolio-", 1.3),
        *grid_search_checks(runs),
        *floor_checks(runs, "risk-parity-", 1.5, rc_tolerance=1e-10),
        *factor_checks(runs),
    ]


def targets_table(checks):
    return Table(
        ["Target", "Measured", "Verdict"],
        [[check.target, check.measured, check.verdict] for check in checks],
    )


# ----------------------------------------------------------------------- page
def page_blocks(runs):
    blocks = [
        Heading("Benchmarks", 0),
        Paragraph(INTRODUCTION),
        Heading("Targets", 1),
        Paragraph(TARGETS_INTRODUCTION),
        targets_table(all_checks(runs)),
    ]
    placed = set()
    for title, prefix, text in GROUPS:
        members = [run for name, run in runs.items() if name.startswith(prefix)]
        if not members:
            continue
        blocks += [Heading(title, 1), Paragraph(text)]
        for run in members:
            blocks += benchmark_blocks(run)
            placed.add(run.name)
    others = [run for name, run in runs.items() if name not in placed]
    if others:
        blocks.append(Heading("Other benchmarks", 1))
        for run in others:
            blocks += benchmark_blocks(run)
    return blocks


# ------------------------------------------------------------------- renderers
_RST_UNDERLINES = ("=", "-", "~")


def render_rst(blocks):
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            text = rst_escape(block.text)
            underline = _RST_UNDERLINES[block.level] * len(text)
            out.append(f"{text}\n{underline}")
        elif isinstance(block, Paragraph):
            out.append(block.text.rstrip())
        elif isinstance(block, Table):
            out.append(_rst_table(block))
        elif isinstance(block, Fields):
            out.append(
                "\n".join(f":{name}: {rst_escape(text)}" for name, text in block.items)
            )
        elif isinstance(block, Bullets):
            out.append("\n".join(f"* {rst_escape(item)}" for item in block.items))
    return "\n\n".join(out) + "\n"


def _rst_table(table):
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in (table.header, *table.rows):
        for index, cell in enumerate(row):
            bullet = "   * - " if index == 0 else "     - "
            lines.append((bullet + _rst_cell(cell)).rstrip())
    return "\n".join(lines)


def _rst_cell(cell):
    return cell if isinstance(cell, Markup) else rst_escape(cell)


def rst_escape(text):
    """Plain text as reStructuredText: no accidental markup or references."""
    return re.sub(r"([\\*`|_])", r"\\\1", text)


def render_markdown(blocks):
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * (block.level + 1) + " " + block.text)
        elif isinstance(block, Paragraph):
            out.append(block.text.replace("``", "`").rstrip())
        elif isinstance(block, Table):
            out.append(_markdown_table(block))
        elif isinstance(block, Fields):
            out.append("\n".join(f"- **{name}**: {text}" for name, text in block.items))
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {item}" for item in block.items))
    return "\n\n".join(out) + "\n"


def _markdown_table(table):
    def row(cells):
        cells = [cell.replace("``", "`").replace("|", "\\|") for cell in cells]
        return "| " + " | ".join(cells) + " |"

    return "\n".join(
        [row(table.header), row(["---"] * len(table.header))]
        + [row(cells) for cells in table.rows]
    )


RENDERERS: dict[str, Callable[[Iterable], str]] = {
    "rst": render_rst,
    "markdown": render_markdown,
}


# --------------------------------------------------------------------------- CLI
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--results", type=Path, default=RESULTS_DIR, help="directory of the JSON"
    )
    parser.add_argument("--output", type=Path, help="file to write (default stdout)")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="rst")
    args = parser.parse_args(argv)
    runs = load_runs(args.results)
    if not runs:
        parser.error(f"no full-run results in {args.results}")
    text = RENDERERS[args.format](page_blocks(runs))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
