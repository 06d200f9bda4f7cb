"""Check the portfolio reference adapters against cvxpy+Clarabel.

Solves the four portfolio problems of ``_references`` with every installed
adapter on one small, fixed data set and prints, per adapter, the agreement
with the tight cvxpy+Clarabel solution:

* minimum variance and mean-variance: the relative objective difference
  ``(f(w) - f(w_cvxpy)) / |f(w_cvxpy)|``;
* risk budgeting (whose solution is unique): ``max |w - w_cvxpy|``, next to
  each solution's own risk-contribution error.

An agreement within 1e-6 is "agrees", within 1e-3 "loose" (a solver
tolerance), beyond that "DISAGREES" (a wrong formulation or parameterisation),
which makes the script exit with status 1, as does an adapter that fails.  The
seed-003 SLSQP is a naive baseline kept as written; its disagreement is
expected and reported without failing.

Run ``python benchmarks/check_references.py [--assets 20 --observations 750]``.
"""

import argparse
import sys
from dataclasses import dataclass

import _harness
import _references
import numpy as np

AGREES = 1e-6
LOOSE = 1e-3
EXPECTED_TO_DISAGREE = {"seed-003 SLSQP"}
CVXPY = "cvxpy+Clarabel"


@dataclass(frozen=True)
class Check:
    title: str
    adapters: dict
    long_only: bool
    objective: object  # (w, mu, covariance) -> float
    compare_weights: bool = False


CHECKS = [
    Check(
        "minimum variance, long-only",
        _references.MINIMUM_VARIANCE_LONG_ONLY,
        long_only=True,
        objective=lambda w, mu, cov: _references.portfolio_variance(w, cov),
    ),
    Check(
        "minimum variance, budget only",
        _references.MINIMUM_VARIANCE_BUDGET,
        long_only=False,
        objective=lambda w, mu, cov: _references.portfolio_variance(w, cov),
    ),
    Check(
        f"mean-variance, delta = {_references.RISK_AVERSION:g}, long-only",
        _references.MEAN_VARIANCE,
        long_only=True,
        objective=_references.mean_variance_loss,
    ),
    Check(
        "risk budgeting, equal budgets",
        _references.RISK_BUDGETING,
        long_only=True,
        objective=lambda w, mu, cov: _references.risk_contribution_error(w, cov),
        compare_weights=True,
    ),
]


def verdict(name, agreement):
    if name in EXPECTED_TO_DISAGREE:
        return "naive baseline"
    if abs(agreement) <= AGREES:
        return "agrees"
    return "loose" if abs(agreement) <= LOOSE else "DISAGREES"


def run_check(check, X):
    """Markdown lines for one problem, and whether every adapter passed."""
    mu, covariance = _references.sample_moments(X)
    reference = np.asarray(check.adapters[CVXPY][1](X), dtype=float)
    f_reference = check.objective(reference, mu, covariance)
    agreement_label = (
        "max abs weight diff" if check.compare_weights else "rel. objective diff"
    )
    objective_label = (
        "risk contribution error" if check.compare_weights else "objective"
    )
    header = ["adapter", objective_label, agreement_label, "violation", "verdict"]
    lines = [
        f"### {check.title}",
        "",
        _harness.markdown_row(header),
        _harness.markdown_row(["---"] * len(header)),
    ]
    passed = True
    for name, (packages, adapter) in check.adapters.items():
        missing = _harness.missing_packages(_harness.Contender(name, adapter, packages))
        if missing:
            lines.append(
                _harness.markdown_row(
                    [name, "", "", "", f"not installed ({', '.join(missing)})"]
                )
            )
            continue
        try:
            w = np.asarray(adapter(X), dtype=float)
        except Exception as error:
            lines.append(
                _harness.markdown_row(
                    [name, "", "", "", f"ERROR {type(error).__name__}: {error}"]
                )
            )
            passed = False
            continue
        f_w = check.objective(w, mu, covariance)
        if check.compare_weights:
            agreement = float(np.max(np.abs(w - reference)))
        else:
            agreement = (f_w - f_reference) / abs(f_reference)
        outcome = verdict(name, agreement)
        passed &= outcome != "DISAGREES"
        violation = _references.budget_violation(w, check.long_only)
        lines.append(
            _harness.markdown_row(
                [name, f"{f_w:.12g}", f"{agreement:.1e}", f"{violation:.1e}", outcome]
            )
        )
    return [*lines, ""], passed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument("--observations", type=int, default=750)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    X = _references.make_returns(args.observations, args.assets, seed=args.seed)
    print(
        f"## Reference adapters vs {CVXPY} "
        f"({args.observations} observations x {args.assets} assets, seed {args.seed})\n"
    )
    all_passed = True
    for check in CHECKS:
        lines, passed = run_check(check, X)
        print("\n".join(lines))
        all_passed &= passed
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
