"""Canonical linear constraints, their feasibility diagnosis, and round-off cleaning.

Every estimator turns its user-facing parameters (``bounds``, ``sum_to``,
``min_weights``, groups, ``A_eq`` ...) into one :class:`LinearConstraints`::

    A_eq x = b_eq,   A_ub x <= b_ub,   lb <= x <= ub

with a readable name for every row and variable, so that an infeasible
combination is reported in the user's own terms.

The QP layer builds and checks constraints on every solve (many times per fit
in the portfolio working sets), and numpy spends a microsecond or more on
each call on small arrays whatever their size: the checks here are
vectorised over the rows, and the details of a failure (which row, its name)
are worked out only once something has failed.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from numbers import Real

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotrs
from scipy.optimize import linprog

from skportfolio.exceptions import InfeasibleConstraintsError, SolverError

# Relative tolerance for deciding that a constraint is met, violated or active.
FEASIBILITY_TOL = 1e-12
# Slack below which an inequality is treated as active when cleaning round-off.
ACTIVE_TOL = 1e-9
# Relative round-off of evaluating a row ``a @ x``, times ``|a| @ |x|``.
ROUNDING_FLOOR = 16 * np.finfo(float).eps


def _as_matrix(A, n, name):
    if A is None:
        return np.zeros((0, n))
    A = np.asarray(A, dtype=float)
    if A.ndim < 2:
        A = A.reshape(1, -1)
    if A.ndim != 2 or A.shape[1] != n:
        raise ValueError(
            f"{name} must have shape (n_constraints, {n}); got {np.shape(A)}."
        )
    if not np.isfinite(A).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return A


def _as_rhs(b, m, name, matrix_name):
    if b is None:
        if m:
            raise ValueError(f"{matrix_name} is given but {name} is None.")
        return np.zeros(0)
    b = np.asarray(b, dtype=float)
    if b.ndim == 0:
        b = b.reshape(1)
    if b.shape != (m,):
        raise ValueError(
            f"{name} must have shape ({m},) to match {matrix_name}; got {b.shape}."
        )
    if not np.isfinite(b).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return b


class GeneratedNames(Sequence):
    """Names ``template.format(i)``, formatted only when read.

    For variables without names of their own (an ndarray's columns): a
    tuple of thousands of formatted strings per fit would cost more than
    the solve, and the names are read only by error messages. ``labels``
    are the numbers formatted, ``0 .. n-1`` by default; :meth:`subset`
    keeps the labels of the variables it selects.

    Examples
    --------
    >>> names = GeneratedNames("asset {}", 3)
    >>> len(names), names[2]
    (3, 'asset 2')
    >>> names.subset([2, 0])[0]
    'asset 2'
    """

    def __init__(self, template, n, labels=None):
        self.template = template
        self.labels = np.arange(n) if labels is None else labels

    def __len__(self):
        return self.labels.shape[0]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        return self.template.format(self.labels[i])

    def subset(self, index):
        """The names of the variables ``index`` (integers or a boolean mask)."""
        labels = self.labels[index]
        return GeneratedNames(self.template, labels.shape[0], labels)


def _as_names(names, size):
    if names is None:
        return None
    if not isinstance(names, GeneratedNames):
        names = tuple(names)
    if len(names) != size:
        raise ValueError("Constraint names do not match the number of constraints.")
    return names


def expand_bound(value, n, *, default, name, var_names=None):
    """Turn a scalar, array or ``{name: value}`` dict into a length-``n`` bound.

    ``None`` (as the whole value, or as a dict entry) means ``default``, which
    is ``-inf`` or ``+inf`` for a free side.
    """
    if value is None:
        return np.full(n, default, dtype=float)
    if not isinstance(value, np.ndarray):
        if isinstance(value, dict):
            return _bound_from_dict(value, n, default, name, var_names)
        if isinstance(value, Real):
            return np.full(n, float(value))
    arr = np.asarray(value, dtype=float)
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must be a scalar or have shape ({n},); got {arr.shape}."
        )
    return np.where(np.isnan(arr), default, arr)


def _bound_from_dict(value, n, default, name, var_names):
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


# Names of the variables and rows that were not given names, by field.
_DEFAULT_NAMES = {
    "var_names": "x{}",
    "eq_names": "A_eq[{0}] x = b_eq[{0}]",
    "ub_names": "A_ub[{0}] x <= b_ub[{0}]",
}


@dataclass(frozen=True)
class LinearConstraints:
    """``A_eq x = b_eq``, ``A_ub x <= b_ub``, ``lb <= x <= ub`` with names.

    Build it with :meth:`from_arrays`, which validates shapes and values.
    A names field left None stands for generated names (``x0``, ``x1`` ...,
    ``A_eq[0] x = b_eq[0]`` ...), formatted only when a message needs one.
    """

    A_eq: np.ndarray
    b_eq: np.ndarray
    A_ub: np.ndarray
    b_ub: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    eq_names: tuple | None = field(default=None)
    ub_names: tuple | None = field(default=None)
    var_names: tuple | None = field(default=None)

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
        """Validated constraints on ``n`` variables from array-likes.

        Parameters
        ----------
        n : int
            Number of variables.
        A_eq, b_eq, A_ub, b_ub : array-like, optional
            Rows of ``A_eq x = b_eq`` and ``A_ub x <= b_ub``; a 1-d matrix
            is one row.
        lb, ub : scalar, array-like of shape (n,) or None, optional
            Bounds; None (or NaN in an array) leaves a side free.
        eq_names, ub_names, var_names : sequence of str, optional
            Names used in error messages; generated when None.

        Returns
        -------
        LinearConstraints

        Raises
        ------
        ValueError
            On a shape mismatch, a NaN or infinite coefficient or right-hand
            side, a NaN bound, or a lower bound of +inf (upper of -inf).
        """
        A_eq = _as_matrix(A_eq, n, "A_eq")
        A_ub = _as_matrix(A_ub, n, "A_ub")
        b_eq = _as_rhs(b_eq, A_eq.shape[0], "b_eq", "A_eq")
        b_ub = _as_rhs(b_ub, A_ub.shape[0], "b_ub", "A_ub")
        lb = expand_bound(lb, n, default=-np.inf, name="lower bound")
        ub = expand_bound(ub, n, default=np.inf, name="upper bound")
        _check_bound_values(lb, ub)
        return cls(
            A_eq,
            b_eq,
            A_ub,
            b_ub,
            lb,
            ub,
            _as_names(eq_names, b_eq.shape[0]),
            _as_names(ub_names, b_ub.shape[0]),
            _as_names(var_names, n),
        )

    @classmethod
    def from_bounds(
        cls, n, *, lb=None, ub=None, total=None, total_name=None, var_names=None
    ):
        """Bounds on ``n`` variables and, if ``total`` is given, ``sum(x) = total``.

        The constraints of a long-only portfolio or a style regression,
        validated as by :meth:`from_arrays` but without its generic checks of
        matrices, which the all-ones row does not need.

        Constraints with scalar (or no) bounds and unnamed or tuple-named
        variables are built once and shared: a model refitted on every
        window of a backtest or every fold of a grid search asks for the
        same ones each time. Their arrays are read-only.

        Parameters
        ----------
        n : int
            Number of variables.
        lb, ub : scalar, array-like of shape (n,) or None, optional
            Bounds; None (or NaN in an array) leaves a side free.
        total : float, optional
            Right-hand side of ``sum(x) = total``; no such row when None.
        total_name : str, optional
            Name of that row in error messages.
        var_names : sequence of str, optional
            Names of the variables in error messages.

        Returns
        -------
        LinearConstraints
        """
        if _is_scalar_bound(lb) and _is_scalar_bound(ub) and _is_key(var_names):
            return _shared_box(cls, n, lb, ub, total, total_name, var_names)
        return cls._box(n, lb, ub, total, total_name, var_names)

    @classmethod
    def _box(cls, n, lb, ub, total, total_name, var_names):
        lb = expand_bound(lb, n, default=-np.inf, name="lower bound")
        ub = expand_bound(ub, n, default=np.inf, name="upper bound")
        _check_bound_values(lb, ub)
        if total is None:
            A_eq, b_eq, eq_names = np.zeros((0, n)), np.zeros(0), None
        else:
            if not math.isfinite(total):
                raise ValueError(f"total must be finite; got {total}.")
            A_eq, b_eq = np.ones((1, n)), np.array([float(total)])
            eq_names = None if total_name is None else (total_name,)
        constraints = cls(
            A_eq,
            b_eq,
            np.zeros((0, n)),
            np.zeros(0),
            lb,
            ub,
            eq_names,
            None,
            _as_names(var_names, n),
        )
        constraints._know_box_and_total(total)
        return constraints

    def _know_box_and_total(self, total):
        """Record that these are bounds and at most the row ``sum(x) = total``.

        That row ranges over ``[sum(lb), sum(ub)]`` on the box (no ``0 * inf``
        to avoid), so whether it lies inside is known without the generic
        row ranges; :meth:`restricted` keeps the structure.
        """
        self.__dict__["_is_box_and_total"] = True
        self.__dict__["_rows_inside_box"] = total is None or (
            min(self.ub.sum() - total, total - self.lb.sum())
            > FEASIBILITY_TOL * max(1.0, abs(total))
        )

    @property
    def n_vars(self):
        return self.lb.shape[0]

    def _name(self, field_name, i):
        """The name of row or variable ``i`` in the names field ``field_name``."""
        names = getattr(self, field_name)
        return names[i] if names is not None else _DEFAULT_NAMES[field_name].format(i)

    def _names(self, field_name, index):
        names = getattr(self, field_name)
        if isinstance(names, GeneratedNames):
            return names.subset(index)
        return tuple(self._name(field_name, i) for i in index)

    def _stacked_names(self, other, field_name, n_self, n_other):
        """The names of ``self``'s rows then ``other``'s (``n_self``, ``n_other`` of them)."""
        if not n_other:
            return getattr(self, field_name)
        if not n_self:
            return getattr(other, field_name)
        return self._names(field_name, range(n_self)) + other._names(
            field_name, range(n_other)
        )

    @cached_property
    def finite_bounds(self):
        """``(lower, upper)``: the indices of the finite lower and upper bounds."""
        return np.isfinite(self.lb).nonzero()[0], np.isfinite(self.ub).nonzero()[0]

    @property
    def has_bounds(self):
        lower, upper = self.finite_bounds
        return bool(lower.size or upper.size)

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
            eq_names=self._stacked_names(
                other, "eq_names", self.A_eq.shape[0], other.A_eq.shape[0]
            ),
            ub_names=self._stacked_names(
                other, "ub_names", self.A_ub.shape[0], other.A_ub.shape[0]
            ),
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
        fixed = np.asarray(fixed_value, dtype=float)
        fixed = fixed[drop] if fixed.ndim else np.full(np.count_nonzero(drop), fixed)
        restricted = type(self)(
            self.A_eq[:, keep],
            self.b_eq - self.A_eq[:, drop] @ fixed,
            self.A_ub[:, keep],
            self.b_ub - self.A_ub[:, drop] @ fixed if self.A_ub.shape[0] else self.b_ub,
            self.lb[keep],
            self.ub[keep],
            self.eq_names,
            self.ub_names,
            self._variable_names(keep),
        )
        if self.__dict__.get("_is_box_and_total", False):
            restricted._know_box_and_total(
                float(restricted.b_eq[0]) if restricted.b_eq.size else None
            )
        return restricted

    def _variable_names(self, index):
        """The names of the variables ``index``, generated ones left unformatted
        (a working set restricts the constraints at every iteration)."""
        if self.var_names is None:
            every = GeneratedNames(_DEFAULT_NAMES["var_names"], self.n_vars)
            return every.subset(index)
        return self._names("var_names", index)

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
        if self._rows_inside_box:
            return forced
        for row, at_max in self._corner_rows():
            up = row > 0 if at_max else row < 0
            down = row < 0 if at_max else row > 0
            forced = np.where(up, self.ub, np.where(down, self.lb, forced))
        return forced

    @cached_property
    def may_pin_variables(self):
        """False when no variable is pinned (see :meth:`forced_values`),
        decided without forming the forced values."""
        return _any(self.lb == self.ub) or not self._rows_inside_box

    def _corner_rows(self):
        """``(row, at_max)`` for every row whose right-hand side is an extreme of its range."""
        lo_eq, hi_eq, lo_ub = self._ranges()
        tol_eq, tol_ub = _rhs_tolerance(self.b_eq), _rhs_tolerance(self.b_ub)
        at_hi_eq = np.abs(hi_eq - self.b_eq) <= tol_eq
        at_lo_eq = np.abs(self.b_eq - lo_eq) <= tol_eq
        at_lo_ub = np.abs(self.b_ub - lo_ub) <= tol_ub
        return (
            [(self.A_eq[i], True) for i in np.flatnonzero(at_hi_eq)]
            + [(self.A_eq[i], False) for i in np.flatnonzero(at_lo_eq)]
            + [(self.A_ub[i], False) for i in np.flatnonzero(at_lo_ub)]
        )

    # ------------------------------------------------------------------
    # Feasibility
    # ------------------------------------------------------------------
    def row_tolerance(self, A, b, x=None):
        """Absolute tolerance per row: relative to the right-hand side and to
        the round-off floor of evaluating ``A @ x``."""
        tol = _rhs_tolerance(b)
        if x is not None and A.shape[0]:
            tol = tol + ROUNDING_FLOOR * (np.abs(A) @ np.abs(x))
        return tol

    def _ranges(self):
        """``(lo_eq, hi_eq, lo_ub)``: the range of each row of ``A @ x`` over the box."""
        lo_eq, hi_eq = _row_ranges(self.A_eq, self.lb, self.ub)
        lo_ub, _ = _row_ranges(self.A_ub, self.lb, self.ub)
        return lo_eq, hi_eq, lo_ub

    @cached_property
    def _rows_inside_box(self):
        """Whether every right-hand side lies inside the range the bounds allow
        for its row by more than the tolerance.

        No row then conflicts with the bounds or pins variables at a corner
        of the box: the common case, decided without looking at the rows one
        by one (which :meth:`check_obvious_conflicts` and
        :meth:`forced_values` do otherwise).
        """
        if self.A_eq.shape[0]:
            lo, hi = _row_ranges(self.A_eq, self.lb, self.ub)
            inside = np.minimum(hi - self.b_eq, self.b_eq - lo)
            if not (inside > _rhs_tolerance(self.b_eq)).all():
                return False
        if self.A_ub.shape[0]:
            lo, _ = _row_ranges(self.A_ub, self.lb, self.ub)
            if not (self.b_ub - lo > _rhs_tolerance(self.b_ub)).all():
                return False
        return True

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
        bounds allow for it. Cheap (vectorised over the rows); joint conflicts
        between several rows are found by :meth:`prove_infeasible`.
        """
        if self._plainly_consistent:
            return
        if not (self.lb <= self.ub).all():
            self._check_bound_pairs()
        if self._rows_inside_box:
            return
        lo_eq, hi_eq, lo_ub = self._ranges()
        tol_eq, tol_ub = _rhs_tolerance(self.b_eq), _rhs_tolerance(self.b_ub)
        too_high, too_low = self.b_eq > hi_eq + tol_eq, self.b_eq < lo_eq - tol_eq
        if too_high.any() or too_low.any():
            i = np.flatnonzero(too_high | too_low)[0]
            self._raise_equality_conflict(i, lo_eq[i], hi_eq[i])
        forced_up = lo_ub > self.b_ub + tol_ub
        if forced_up.any():
            i = np.flatnonzero(forced_up)[0]
            raise InfeasibleConstraintsError(
                f"The bounds force {self._name('ub_names', i)} to be at least "
                f"{lo_ub[i]:.6g}, but it must be at most {self.b_ub[i]:.6g}."
            )

    @cached_property
    def _plainly_consistent(self):
        """Every bound pair ordered and every row inside its range over the box."""
        return _all(self.lb <= self.ub) and self._rows_inside_box

    @cached_property
    def greater_equal_rows(self):
        """Every constraint as a row of ``G x >= h``, the equalities first.

        Returns ``(G, h)``: the rows of ``A_eq`` (to hold with equality), of
        ``-A_ub``, the unit rows of the finite lower bounds and the negated
        unit rows of the finite upper bounds, in that order. ``G`` is the
        transpose of a Fortran-ordered array, so ``G.T`` needs no copy for
        solvers that take the constraints column by column.
        """
        n_eq, n_ub = self.A_eq.shape[0], self.A_ub.shape[0]
        lower, upper = self.finite_bounds
        start_lb = n_eq + n_ub
        start_ub = start_lb + lower.size
        columns = np.zeros((self.n_vars, start_ub + upper.size), order="F")
        columns[:, :n_eq] = self.A_eq.T
        parts = [self.b_eq]
        if n_ub:
            np.negative(self.A_ub.T, out=columns[:, n_eq:start_lb])
            parts.append(-self.b_ub)
        if lower.size:
            columns[lower, np.arange(start_lb, start_ub)] = 1.0
            parts.append(self.lb[lower])
        if upper.size:
            columns[upper, np.arange(start_ub, columns.shape[1])] = -1.0
            parts.append(-self.ub[upper])
        return columns.T, np.concatenate(parts)

    @cached_property
    def _independent(self):
        return _independent_equalities(self)

    def _check_bound_pairs(self):
        bad = np.flatnonzero(
            self.lb > self.ub + FEASIBILITY_TOL * np.maximum(1, np.abs(self.ub))
        )
        if bad.size:
            i = bad[0]
            raise InfeasibleConstraintsError(
                f"The lower bound {self.lb[i]:.6g} exceeds the upper bound "
                f"{self.ub[i]:.6g} for {self._name('var_names', i)!r}."
            )

    def _raise_equality_conflict(self, i, lo, hi):
        b, name = self.b_eq[i], self._name("eq_names", i)
        if b > hi:
            raise InfeasibleConstraintsError(
                f"The bounds allow {name} to be at most {hi:.6g}, "
                f"but it must equal {b:.6g}."
            )
        raise InfeasibleConstraintsError(
            f"The bounds force {name} to be at least {lo:.6g}, "
            f"but it must equal {b:.6g}."
        )

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
            names = self._names("eq_names", range(self.A_eq.shape[0])) + self._names(
                "ub_names", range(self.A_ub.shape[0])
            )
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
        x, free = self._snap_to_bounds(x)
        A, b = self._rows_to_hold(x, ub_multipliers)
        if not A.shape[0]:
            return x
        residual = b - A @ x
        if not (_any(residual) and _any(free)):
            return x
        # Columns of the variables on a bound zeroed: they do not move.
        x += _minimum_norm_step(A * free, residual)
        lower, upper = self.finite_bounds
        if lower.size:
            np.maximum(x, self.lb, out=x)
        if upper.size:
            np.minimum(x, self.ub, out=x)
        return x

    def _rows_to_hold(self, x, ub_multipliers):
        """The equalities and the inequalities active at ``x`` (or by their multiplier)."""
        if not self.A_ub.shape[0]:
            return self.A_eq, self.b_eq
        slack = self.b_ub - self.A_ub @ x
        active = slack <= ACTIVE_TOL * np.maximum(1.0, np.abs(self.b_ub))
        if ub_multipliers is not None:
            active |= ub_multipliers > 0
        return (
            np.vstack([self.A_eq, self.A_ub[active]]),
            np.concatenate([self.b_eq, self.b_ub[active]]),
        )

    def _snap_to_bounds(self, x):
        """A copy of ``x`` clipped to the bounds, with values within round-off of
        a bound put exactly on it, and the mask of the values strictly inside.

        A side without finite bounds is skipped: the common long-only case
        has no upper bounds.
        """
        lower, upper = self.finite_bounds
        near_lb, near_ub = self._snap_distances
        x = np.array(x, dtype=float)
        if lower.size:
            on_bound = x - self.lb <= near_lb
            np.copyto(x, self.lb, where=on_bound)
        else:
            on_bound = np.zeros(x.shape, dtype=bool)
        if upper.size:
            on_ub = self.ub - x <= near_ub
            np.copyto(x, self.ub, where=on_ub)
            on_bound |= on_ub
        return x, ~on_bound

    @cached_property
    def _snap_distances(self):
        """How close to each bound a value is put on it: ``ACTIVE_TOL`` relative
        to the bound (at least absolute), ``-inf`` for an infinite bound.

        Relative to the bound rather than to the value: the two differ only
        for values whose distance to the bound is not small against it."""
        return tuple(
            np.where(np.isfinite(b), ACTIVE_TOL * np.maximum(1.0, np.abs(b)), -np.inf)
            for b in (self.lb, self.ub)
        )

    def verify(self, x):
        """Raise :class:`SolverError` if ``x`` violates any constraint beyond round-off."""
        if self._holds_at(x):
            return
        eq, ub, bnd = self.violations(x)
        checks = [
            (eq, self.row_tolerance(self.A_eq, self.b_eq, x), "eq_names"),
            (ub, self.row_tolerance(self.A_ub, self.b_ub, x), "ub_names"),
            (bnd, np.zeros_like(bnd), "var_names"),
        ]
        for violation, tol, field_name in checks:
            worst = np.flatnonzero(violation > tol)
            if worst.size:
                i = worst[np.argmax(violation[worst])]
                what = self._name(field_name, i)
                if field_name == "var_names":
                    what = f"the bounds of {what!r}"
                raise SolverError(
                    f"The solver's answer violates {what} by {violation[i]:.3g}; "
                    "this is a numerical failure, please report it."
                )

    def _holds_at(self, x):
        """Whether every constraint holds at ``x`` within :meth:`row_tolerance`.

        The quick test :meth:`verify` runs on every solve; only a failure
        spends the calls on finding and naming the worst violation. The
        round-off floor of :meth:`row_tolerance` is added only for rows that
        miss the rest of the tolerance.
        """
        lower, upper = self.finite_bounds
        if (lower.size and not _all(x >= self.lb)) or (
            upper.size and not _all(x <= self.ub)
        ):
            return False
        # FEASIBILITY_TOL is the smallest tolerance of any row.
        if self.A_eq.shape[0]:
            error = np.abs(self.A_eq @ x - self.b_eq)
            if not _all(error <= FEASIBILITY_TOL) and not _all(
                error <= self.row_tolerance(self.A_eq, self.b_eq, x)
            ):
                return False
        if self.A_ub.shape[0]:
            excess = self.A_ub @ x - self.b_ub
            if not _all(excess <= FEASIBILITY_TOL) and not _all(
                excess <= self.row_tolerance(self.A_ub, self.b_ub, x)
            ):
                return False
        return True


def _all(mask):
    """``mask.all()``: on the small arrays checked at every solve, the method's
    Python wrapper costs three times the count behind it."""
    return np.count_nonzero(mask) == mask.size


def _any(a):
    """``a.any()``, as :func:`_all`."""
    return np.count_nonzero(a) > 0


def _minimum_norm_step(A, residual):
    """The smallest ``dx`` with ``A dx = residual``, a least-squares one if
    the rows of ``A`` are dependent (LAPACK Cholesky on ``A A'``, as
    ``numpy.linalg.solve`` costs several times more on these tiny systems)."""
    if A.shape[0] == 1:
        row = A[0]
        squared_norm = row @ row
        return row * (residual[0] / squared_norm) if squared_norm else 0.0 * row
    gram = A @ A.T
    factor, info = dpotrf(gram, lower=0, clean=0)
    if info == 0:
        coef = dpotrs(factor, residual, lower=0)[0]
    else:
        coef = np.linalg.lstsq(gram, residual, rcond=None)[0]
    return A.T @ coef


def _row_ranges(A, lb, ub):
    """The smallest and largest value of each row of ``A @ x`` over ``lb <= x <= ub``."""
    if not A.shape[0]:
        return np.zeros(0), np.zeros(0)
    # A zero coefficient ignores an infinite bound: its 0 * inf is NaN, and
    # the sums skip it.
    with np.errstate(invalid="ignore"):
        at_lb, at_ub = A * lb, A * ub
    nonzero = A != 0
    lo = np.fmin(at_lb, at_ub).sum(axis=1, where=nonzero)
    hi = np.fmax(at_lb, at_ub).sum(axis=1, where=nonzero)
    return lo, hi


def _rhs_tolerance(b):
    return FEASIBILITY_TOL * np.maximum(1.0, np.abs(b))


def _check_bound_values(lb, ub):
    """Reject NaN bounds, a lower bound of +inf and an upper bound of -inf."""
    # max and min propagate NaN, which fails both comparisons.
    if lb.max(initial=-np.inf) < np.inf and ub.min(initial=np.inf) > -np.inf:
        return
    if np.isnan(lb).any() or np.isnan(ub).any():
        raise ValueError("Bounds must not be NaN.")
    raise ValueError("A lower bound of +inf or an upper bound of -inf is infeasible.")


def _is_scalar_bound(value):
    # The exact types first: an ABC check costs a Python-level call.
    return value is None or type(value) in (float, int) or isinstance(value, Real)


def _is_key(names):
    """Whether variable names can key the cache of :meth:`LinearConstraints.from_bounds`."""
    return names is None or isinstance(names, tuple)


@lru_cache(maxsize=128)
def _shared_box(cls, n, lb, ub, total, total_name, var_names):
    constraints = cls._box(n, lb, ub, total, total_name, var_names)
    for field_name in ("A_eq", "b_eq", "A_ub", "b_ub", "lb", "ub"):
        getattr(constraints, field_name).flags.writeable = False
    return constraints


def _none_if_inf(v):
    return [None if not np.isfinite(t) else t for t in v]


def independent_equalities(constraints):
    """Drop equality rows that are linear combinations of others.

    Returns ``(reduced, rows)``: the constraints with independent equality
    rows only, and the indices of the rows kept. Worked out once per
    constraints object. Raises :class:`InfeasibleConstraintsError` when a
    dependent row contradicts the others (e.g. the same row twice with
    different right-hand sides).
    """
    return constraints._independent


def _independent_equalities(constraints):
    A, b = constraints.A_eq, constraints.b_eq
    if A.shape[0] <= 1:
        if A.shape[0] == 1 and not _any(A):
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
            f"The equality {constraints._name('eq_names', i)} contradicts the other equality "
            f"constraints: they imply the value {implied[conflict[0]]:.6g}, not {b[i]:.6g}."
        )
    reduced = replace(
        constraints,
        A_eq=A[keep],
        b_eq=b[keep],
        eq_names=constraints._names("eq_names", keep),
    )
    return reduced, keep
