"""Canonical linear constraints, their feasibility diagnosis, and round-off cleaning.

Every estimator turns its user-facing parameters (``bounds``, ``sum_to``,
``min_weights``, groups, ``A_eq`` ...) into one :class:`LinearConstraints`::

    A_eq x = b_eq,   A_ub x <= b_ub,   lb <= x <= ub

with a readable name for every row and variable, so that an infeasible
combination is reported in the user's own terms.
"""

from dataclasses import dataclass, field, replace
from numbers import Real

import numpy as np
from scipy.optimize import linprog

from skportfolio.exceptions import InfeasibleConstraintsError, SolverError

# Relative tolerance for deciding that a constraint is met, violated or active.
FEASIBILITY_TOL = 1e-12
# Slack below which an inequality is treated as active when cleaning round-off.
ACTIVE_TOL = 1e-9


def _as_matrix(A, n, name):
    if A is None:
        return np.zeros((0, n))
    A = np.atleast_2d(np.asarray(A, dtype=float))
    if A.ndim != 2 or A.shape[1] != n:
        raise ValueError(
            f"{name} must have shape (n_constraints, {n}); got {np.shape(A)}."
        )
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return A


def _as_rhs(b, m, name, matrix_name):
    if b is None:
        if m:
            raise ValueError(f"{matrix_name} is given but {name} is None.")
        return np.zeros(0)
    b = np.atleast_1d(np.asarray(b, dtype=float))
    if b.shape != (m,):
        raise ValueError(
            f"{name} must have shape ({m},) to match {matrix_name}; got {b.shape}."
        )
    if not np.all(np.isfinite(b)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return b


def expand_bound(value, n, *, default, name, var_names=None):
    """Turn a scalar, array or ``{name: value}`` dict into a length-``n`` bound.

    ``None`` (as the whole value, or as a dict entry) means ``default``, which
    is ``-inf`` or ``+inf`` for a free side.
    """
    if value is None:
        return np.full(n, default, dtype=float)
    if isinstance(value, dict):
        if var_names is None:
            raise ValueError(
                f"{name} is a dict, which needs named variables: fit on a "
                "DataFrame with column names, or pass an array."
            )
        unknown = sorted(set(map(str, value)) - set(map(str, var_names)))
        if unknown:
            raise ValueError(f"{name} names unknown variables: {unknown}.")
        out = np.full(n, default, dtype=float)
        index = {str(v): i for i, v in enumerate(var_names)}
        for key, bound in value.items():
            out[index[str(key)]] = default if bound is None else float(bound)
        return out
    if isinstance(value, Real):
        return np.full(n, float(value))
    arr = np.asarray(value, dtype=float)
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must be a scalar or have shape ({n},); got {arr.shape}."
        )
    return np.where(np.isnan(arr), default, arr)


@dataclass(frozen=True)
class LinearConstraints:
    """``A_eq x = b_eq``, ``A_ub x <= b_ub``, ``lb <= x <= ub`` with names.

    Build it with :meth:`from_arrays`, which validates shapes and values.
    """

    A_eq: np.ndarray
    b_eq: np.ndarray
    A_ub: np.ndarray
    b_ub: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    eq_names: tuple = field(default=())
    ub_names: tuple = field(default=())
    var_names: tuple = field(default=())

    @classmethod
    def from_arrays(
        cls,
        n,
        *,
        A_eq=None,
        b_eq=None,
        A_ub=None,
        b_ub=None,
        lb=None,
        ub=None,
        eq_names=None,
        ub_names=None,
        var_names=None,
    ):
        A_eq = _as_matrix(A_eq, n, "A_eq")
        A_ub = _as_matrix(A_ub, n, "A_ub")
        b_eq = _as_rhs(b_eq, A_eq.shape[0], "b_eq", "A_eq")
        b_ub = _as_rhs(b_ub, A_ub.shape[0], "b_ub", "A_ub")
        lb = expand_bound(lb, n, default=-np.inf, name="lower bound")
        ub = expand_bound(ub, n, default=np.inf, name="upper bound")
        if np.any(np.isnan(lb)) or np.any(np.isnan(ub)):
            raise ValueError("Bounds must not be NaN.")
        if np.any(lb == np.inf) or np.any(ub == -np.inf):
            raise ValueError(
                "A lower bound of +inf or an upper bound of -inf is infeasible."
            )
        var_names = (
            tuple(var_names)
            if var_names is not None
            else tuple(f"x{i}" for i in range(n))
        )
        eq_names = (
            tuple(eq_names)
            if eq_names is not None
            else tuple(f"A_eq[{i}] x = b_eq[{i}]" for i in range(len(b_eq)))
        )
        ub_names = (
            tuple(ub_names)
            if ub_names is not None
            else tuple(f"A_ub[{i}] x <= b_ub[{i}]" for i in range(len(b_ub)))
        )
        if (
            len(eq_names) != len(b_eq)
            or len(ub_names) != len(b_ub)
            or len(var_names) != n
        ):
            raise ValueError("Constraint names do not match the number of constraints.")
        return cls(A_eq, b_eq, A_ub, b_ub, lb, ub, eq_names, ub_names, var_names)

    @property
    def n_vars(self):
        return self.lb.shape[0]

    @property
    def has_bounds(self):
        return bool(np.any(np.isfinite(self.lb)) or np.any(np.isfinite(self.ub)))

    @property
    def has_inequalities(self):
        return self.has_bounds or self.A_ub.shape[0] > 0

    @property
    def is_empty(self):
        return not self.has_inequalities and self.A_eq.shape[0] == 0

    def stacked(self, other):
        """The constraints of ``self`` and ``other`` together (same variables)."""
        return replace(
            self,
            A_eq=np.vstack([self.A_eq, other.A_eq]),
            b_eq=np.concatenate([self.b_eq, other.b_eq]),
            A_ub=np.vstack([self.A_ub, other.A_ub]),
            b_ub=np.concatenate([self.b_ub, other.b_ub]),
            lb=np.maximum(self.lb, other.lb),
            ub=np.minimum(self.ub, other.ub),
            eq_names=self.eq_names + other.eq_names,
            ub_names=self.ub_names + other.ub_names,
        )

    def restricted(self, keep, fixed_value=0.0):
        """The constraints on ``x[keep]`` when every other variable is fixed.

        ``fixed_value`` is a scalar or an array of shape ``(n_vars,)`` whose
        entries outside ``keep`` give the values of the fixed variables. Used
        by working-set solvers that optimise over a subset of variables.
        """
        keep = np.asarray(keep)
        drop = np.ones(self.n_vars, dtype=bool)
        drop[keep] = False
        fixed = np.broadcast_to(np.asarray(fixed_value, dtype=float), (self.n_vars,))
        shift_eq = self.A_eq[:, drop] @ fixed[drop]
        shift_ub = self.A_ub[:, drop] @ fixed[drop]
        return replace(
            self,
            A_eq=self.A_eq[:, keep],
            b_eq=self.b_eq - shift_eq,
            A_ub=self.A_ub[:, keep],
            b_ub=self.b_ub - shift_ub,
            lb=self.lb[keep],
            ub=self.ub[keep],
            var_names=tuple(self.var_names[i] for i in keep),
        )

    def with_empty_rows_relaxed(self):
        """Round-off-proof copy: an inequality row with no coefficients left
        (all its variables substituted) gets a right-hand side of at least 0."""
        empty = ~np.any(self.A_ub, axis=1)
        if not np.any(empty):
            return self
        return replace(
            self, b_ub=np.where(empty, np.maximum(self.b_ub, 0.0), self.b_ub)
        )

    def forced_values(self):
        """Values the constraints pin variables to; NaN for the others.

        A variable is pinned by equal bounds, or by a row that the bounds let
        reach its right-hand side only at one corner of the box: the budget of
        ten weights capped at 0.1 is 1 only when every weight is 0.1.
        """
        forced = np.where(self.lb == self.ub, self.lb, np.nan)
        lo_eq, hi_eq = self._row_ranges(self.A_eq)
        tol_eq = self.row_tolerance(self.A_eq, self.b_eq)
        lo_ub, _ = self._row_ranges(self.A_ub)
        tol_ub = self.row_tolerance(self.A_ub, self.b_ub)
        corners = [
            (self.A_eq[i], True)
            for i in np.flatnonzero(
                np.isfinite(hi_eq) & (np.abs(self.b_eq - hi_eq) <= tol_eq)
            )
        ]
        corners += [
            (self.A_eq[i], False)
            for i in np.flatnonzero(
                np.isfinite(lo_eq) & (np.abs(self.b_eq - lo_eq) <= tol_eq)
            )
        ]
        corners += [
            (self.A_ub[i], False)
            for i in np.flatnonzero(
                np.isfinite(lo_ub) & (np.abs(self.b_ub - lo_ub) <= tol_ub)
            )
        ]
        for row, at_max in corners:
            up = row > 0 if at_max else row < 0
            down = row < 0 if at_max else row > 0
            forced = np.where(up, self.ub, np.where(down, self.lb, forced))
        return forced

    # ------------------------------------------------------------------
    # Feasibility
    # ------------------------------------------------------------------
    def row_tolerance(self, A, b, x=None):
        """Absolute tolerance per row: relative to the right-hand side and to
        the round-off floor of evaluating ``A @ x``."""
        tol = FEASIBILITY_TOL * np.maximum(1.0, np.abs(b))
        if x is not None and A.shape[0]:
            tol = tol + 16 * np.finfo(float).eps * (np.abs(A) @ np.abs(x))
        return tol

    def violations(self, x):
        """Largest violation of the equalities, inequalities and bounds, by kind."""
        eq = np.abs(self.A_eq @ x - self.b_eq) if self.A_eq.shape[0] else np.zeros(0)
        ub = (
            np.maximum(self.A_ub @ x - self.b_ub, 0)
            if self.A_ub.shape[0]
            else np.zeros(0)
        )
        bnd = np.maximum(np.maximum(self.lb - x, x - self.ub), 0)
        return eq, ub, bnd

    def check_obvious_conflicts(self):
        """Raise :class:`InfeasibleConstraintsError` for conflicts one row can explain.

        Checks each bound pair, and each constraint row against the range the
        bounds allow for it. Cheap (one pass over the rows); joint conflicts
        between several rows are found by :meth:`prove_infeasible`.
        """
        bad = np.flatnonzero(
            self.lb > self.ub + FEASIBILITY_TOL * np.maximum(1, np.abs(self.ub))
        )
        if bad.size:
            i = bad[0]
            raise InfeasibleConstraintsError(
                f"The lower bound {self.lb[i]:.6g} exceeds the upper bound "
                f"{self.ub[i]:.6g} for {self.var_names[i]!r}."
            )
        lo_eq, hi_eq = self._row_ranges(self.A_eq)
        tol_eq = self.row_tolerance(self.A_eq, self.b_eq)
        for i, (lo, hi, b) in enumerate(zip(lo_eq, hi_eq, self.b_eq)):
            if b > hi + tol_eq[i]:
                raise InfeasibleConstraintsError(
                    f"The bounds allow {self.eq_names[i]} to be at most {hi:.6g}, "
                    f"but it must equal {b:.6g}."
                )
            if b < lo - tol_eq[i]:
                raise InfeasibleConstraintsError(
                    f"The bounds force {self.eq_names[i]} to be at least {lo:.6g}, "
                    f"but it must equal {b:.6g}."
                )
        lo_ub, _ = self._row_ranges(self.A_ub)
        tol_ub = self.row_tolerance(self.A_ub, self.b_ub)
        for i, (lo, b) in enumerate(zip(lo_ub, self.b_ub)):
            if lo > b + tol_ub[i]:
                raise InfeasibleConstraintsError(
                    f"The bounds force {self.ub_names[i]} to be at least {lo:.6g}, "
                    f"but it must be at most {b:.6g}."
                )

    def _row_ranges(self, A):
        """The smallest and largest value of each row of ``A @ x`` over the box."""
        if not A.shape[0]:
            return np.zeros(0), np.zeros(0)
        pos, neg = np.maximum(A, 0), np.minimum(A, 0)
        with np.errstate(invalid="ignore"):
            lo = _dot_inf(pos, self.lb) + _dot_inf(neg, self.ub)
            hi = _dot_inf(pos, self.ub) + _dot_inf(neg, self.lb)
        return lo, hi

    def prove_infeasible(self):
        """Raise :class:`InfeasibleConstraintsError` if no point satisfies all rows.

        Runs the single-row checks first, then a feasibility linear programme
        (HiGHS) for conflicts that involve several rows together.
        """
        self.check_obvious_conflicts()
        result = linprog(
            np.zeros(self.n_vars),
            A_ub=self.A_ub if self.A_ub.shape[0] else None,
            b_ub=self.b_ub if self.A_ub.shape[0] else None,
            A_eq=self.A_eq if self.A_eq.shape[0] else None,
            b_eq=self.b_eq if self.A_eq.shape[0] else None,
            bounds=np.column_stack([_none_if_inf(self.lb), _none_if_inf(self.ub)]),
            method="highs",
        )
        if result.status == 2:
            names = list(self.eq_names) + list(self.ub_names)
            raise InfeasibleConstraintsError(
                "The constraints cannot all hold at once (each one alone can): "
                "the bounds together with " + "; ".join(names) + "."
            )

    # ------------------------------------------------------------------
    # Round-off cleaning and verification
    # ------------------------------------------------------------------
    def clean(self, x, ub_multipliers=None):
        """Remove round-off from a solution: clip to the bounds, then move the
        free variables (those strictly inside their bounds) by the smallest step
        that makes the equalities and active inequalities hold exactly.
        """
        x = self._snap_to_bounds(np.clip(x, self.lb, self.ub))
        slack = self.b_ub - self.A_ub @ x
        active = slack <= ACTIVE_TOL * np.maximum(1.0, np.abs(self.b_ub))
        if ub_multipliers is not None:
            active |= ub_multipliers > 0
        A = np.vstack([self.A_eq, self.A_ub[active]])
        if not A.shape[0]:
            return x
        residual = np.concatenate([self.b_eq, self.b_ub[active]]) - A @ x
        free = (x > self.lb) & (x < self.ub)
        if not np.any(free):
            return x
        A_free = A[:, free]
        gram = A_free @ A_free.T
        try:
            step = np.linalg.solve(gram, residual)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(gram, residual, rcond=None)[0]
        x = x.copy()
        x[free] += A_free.T @ step
        return np.clip(x, self.lb, self.ub)

    def _snap_to_bounds(self, x):
        """Put values within round-off of a bound exactly on it."""
        near = ACTIVE_TOL * np.maximum(1.0, np.abs(x))
        x = np.where(np.abs(x - self.lb) <= near, self.lb, x)
        return np.where(np.abs(x - self.ub) <= near, self.ub, x)

    def verify(self, x):
        """Raise :class:`SolverError` if ``x`` violates any constraint beyond round-off."""
        eq, ub, bnd = self.violations(x)
        checks = [
            (eq, self.row_tolerance(self.A_eq, self.b_eq, x), self.eq_names),
            (ub, self.row_tolerance(self.A_ub, self.b_ub, x), self.ub_names),
            (bnd, np.zeros_like(bnd), None),
        ]
        for violation, tol, names in checks:
            worst = np.flatnonzero(violation > tol)
            if worst.size:
                i = worst[np.argmax(violation[worst])]
                # Bound names are formatted only on failure: verify runs on
                # every solve, and n strings per call is measurable.
                what = (
                    names[i]
                    if names is not None
                    else f"the bounds of {self.var_names[i]!r}"
                )
                raise SolverError(
                    f"The solver's answer violates {what} by {violation[i]:.3g}; "
                    "this is a numerical failure, please report it."
                )


def _dot_inf(A, v):
    """``A @ v`` where ``0 * inf`` counts as 0 (a zero coefficient ignores a free bound)."""
    terms = np.where(A == 0, 0.0, A * v)
    return terms.sum(axis=1)


def _none_if_inf(v):
    return [None if not np.isfinite(t) else t for t in v]


def independent_equalities(constraints):
    """Drop equality rows that are linear combinations of others.

    Raises :class:`InfeasibleConstraintsError` when a dependent row contradicts
    the others (e.g. the same row twice with different right-hand sides).
    """
    A, b = constraints.A_eq, constraints.b_eq
    if A.shape[0] <= 1:
        if A.shape[0] == 1 and not np.any(A):
            return _drop_eq_rows(constraints, [0], b)
        return constraints, np.arange(A.shape[0])
    from scipy.linalg import qr

    _, R, perm = qr(A.T, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    rank = (
        int(np.sum(diag > diag[0] * A.shape[1] * np.finfo(float).eps * 10))
        if diag.size and diag[0] > 0
        else 0
    )
    keep = np.sort(perm[:rank])
    if rank == A.shape[0]:
        return constraints, np.arange(A.shape[0])
    dropped = np.setdiff1d(np.arange(A.shape[0]), keep)
    return _drop_eq_rows(constraints, dropped, b, keep)


def _drop_eq_rows(constraints, dropped, b, keep=None):
    A = constraints.A_eq
    keep = np.setdiff1d(np.arange(A.shape[0]), dropped) if keep is None else keep
    # A dropped row must be implied by the kept ones: check its right-hand side.
    if keep.size:
        coef, *_ = np.linalg.lstsq(A[keep].T, A[dropped].T, rcond=None)
        implied = coef.T @ b[keep]
    else:
        implied = np.zeros(len(dropped))
    tol = FEASIBILITY_TOL * np.maximum(1.0, np.abs(b[dropped])) * max(1, A.shape[1])
    conflict = np.flatnonzero(np.abs(implied - b[dropped]) > tol)
    if conflict.size:
        i = dropped[conflict[0]]
        raise InfeasibleConstraintsError(
            f"The equality {constraints.eq_names[i]} contradicts the other equality "
            f"constraints: they imply the value {implied[conflict[0]]:.6g}, not {b[i]:.6g}."
        )
    reduced = replace(
        constraints,
        A_eq=A[keep],
        b_eq=b[keep],
        eq_names=tuple(constraints.eq_names[i] for i in keep),
    )
    return reduced, keep
