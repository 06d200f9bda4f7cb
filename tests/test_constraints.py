"""Tests of the canonical constraints: validation, names, diagnosis, cleaning.

The vectorised conflict and corner detection is checked against a
straightforward reference written here (a loop over rows and coefficients).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skportfolio._constraints import (
    FEASIBILITY_TOL,
    GeneratedNames,
    LinearConstraints,
    independent_equalities,
)
from skportfolio.exceptions import InfeasibleConstraintsError, SolverError


# ----------------------------------------------------------------------
# A reference for the single-row diagnosis
# ----------------------------------------------------------------------
def reference_range(row, lb, ub):
    """Smallest and largest ``row @ x`` over the box, one coefficient at a time."""
    lo = hi = 0.0
    for a, low, high in zip(row, lb, ub):
        if a > 0:
            lo, hi = lo + a * low, hi + a * high
        elif a < 0:
            lo, hi = lo + a * high, hi + a * low
    return lo, hi


def reference_diagnosis(A_eq, b_eq, A_ub, b_ub, lb, ub):
    """``(conflict, forced)``: whether one row alone conflicts with the bounds,
    and the values pinned by equal bounds or by rows met only at a corner
    (None when two of them pin a variable to different values)."""
    forced = np.where(lb == ub, lb, np.nan)
    conflict = bool(np.any(lb > ub + FEASIBILITY_TOL * np.maximum(1, np.abs(ub))))
    corners = []
    for row, b in zip(A_eq, b_eq):
        lo, hi = reference_range(row, lb, ub)
        tol = FEASIBILITY_TOL * max(1.0, abs(b))
        conflict |= b > hi + tol or b < lo - tol
        if abs(b - hi) <= tol:
            corners.append((row, True))
        if abs(b - lo) <= tol:
            corners.append((row, False))
    for row, b in zip(A_ub, b_ub):
        lo, _ = reference_range(row, lb, ub)
        tol = FEASIBILITY_TOL * max(1.0, abs(b))
        conflict |= lo > b + tol
        if abs(b - lo) <= tol:
            corners.append((row, False))
    for row, at_max in corners:
        for j, a in enumerate(row):
            if a != 0:
                value = ub[j] if (a > 0) == at_max else lb[j]
                if not (np.isnan(forced[j]) or forced[j] == value):
                    return conflict, None
                forced[j] = value
    return conflict, forced


bound_values = st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 1.0, np.inf])
coefficients = st.sampled_from([-2.0, -1.0, 0.0, 0.0, 1.0, 3.0])


@st.composite
def small_constraints(draw):
    n = draw(st.integers(1, 4))
    ends = np.array(
        draw(st.lists(st.tuples(bound_values, bound_values), min_size=n, max_size=n))
    )
    lb, ub = ends.min(axis=1), ends.max(axis=1)
    lb[lb == np.inf], ub[ub == -np.inf] = 1.0, -1.0
    rows = st.lists(coefficients, min_size=n, max_size=n)
    rhs = st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0])
    n_eq, n_ub = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    A_eq = np.array(draw(st.lists(rows, min_size=n_eq, max_size=n_eq))).reshape(n_eq, n)
    A_ub = np.array(draw(st.lists(rows, min_size=n_ub, max_size=n_ub))).reshape(n_ub, n)
    b_eq = np.array(draw(st.lists(rhs, min_size=n_eq, max_size=n_eq)))
    b_ub = np.array(draw(st.lists(rhs, min_size=n_ub, max_size=n_ub)))
    return A_eq, b_eq, A_ub, b_ub, lb, ub


@settings(max_examples=300, deadline=None)
@given(arrays=small_constraints())
def test_diagnosis_matches_the_row_by_row_reference(arrays):
    A_eq, b_eq, A_ub, b_ub, lb, ub = arrays
    c = LinearConstraints.from_arrays(
        lb.size, A_eq=A_eq, b_eq=b_eq, A_ub=A_ub, b_ub=b_ub, lb=lb, ub=ub
    )
    conflict, forced = reference_diagnosis(*arrays)
    if conflict:
        with pytest.raises(InfeasibleConstraintsError):
            c.check_obvious_conflicts()
        return
    c.check_obvious_conflicts()
    if forced is None:
        # two rows met only at different corners: they cannot hold together
        with pytest.raises(InfeasibleConstraintsError):
            c.prove_infeasible()
        return
    np.testing.assert_array_equal(c.forced_values(), forced)
    assert c.may_pin_variables or np.isnan(forced).all()


def test_the_first_conflicting_row_is_reported():
    c = LinearConstraints.from_arrays(
        3, A_eq=[[1, 1, 1], [1, 0, 0], [0, 1, 1]], b_eq=[1, 5, -1], lb=0, ub=1
    )
    with pytest.raises(
        InfeasibleConstraintsError,
        match=r"allow A_eq\[1\] x = b_eq\[1\] to be at most 1, but it must equal 5",
    ):
        c.check_obvious_conflicts()


# ----------------------------------------------------------------------
# Validation and names
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "bounds, match",
    [
        (dict(lb=[0.0, math.nan]), None),
        (dict(lb=math.nan), "Bounds must not be NaN"),
        (dict(lb=math.inf), r"lower bound of \+inf"),
        (dict(ub=[0.0, -math.inf]), r"upper bound of -inf"),
    ],
)
def test_bound_values(bounds, match):
    if match is None:
        c = LinearConstraints.from_arrays(2, **bounds)
        np.testing.assert_array_equal(c.lb, [0.0, -np.inf])
        return
    with pytest.raises(ValueError, match=match):
        LinearConstraints.from_arrays(2, **bounds)


def test_a_two_dimensional_right_hand_side_is_rejected():
    with pytest.raises(ValueError, match=r"b_eq must have shape \(1,\)"):
        LinearConstraints.from_arrays(2, A_eq=[[1, 1]], b_eq=[[1.0]])


def test_generated_names_appear_in_messages():
    with pytest.raises(InfeasibleConstraintsError, match="for 'x1'"):
        LinearConstraints.from_arrays(2, lb=[0, 2], ub=1).check_obvious_conflicts()
    c = LinearConstraints.from_arrays(2, A_ub=[[1, 1], [1, 0]], b_ub=[5, -1], lb=0)
    with pytest.raises(InfeasibleConstraintsError, match=r"A_ub\[1\] x <= b_ub\[1\]"):
        c.check_obvious_conflicts()


def test_stacking_and_restricting_keep_the_names():
    first = LinearConstraints.from_arrays(3, A_eq=[[1, 1, 1]], b_eq=[1])
    second = LinearConstraints.from_arrays(
        3, A_eq=[[1, 0, 0]], b_eq=[0.5], eq_names=["the first weight"]
    )
    both = first.stacked(second)
    assert both.eq_names == ("A_eq[0] x = b_eq[0]", "the first weight")
    assert first.stacked(LinearConstraints.from_arrays(3)).eq_names is None
    restricted = both.restricted([2, 0])
    # Generated names stay unformatted until a message reads them.
    assert isinstance(restricted.var_names, GeneratedNames)
    assert tuple(restricted.var_names) == ("x2", "x0")
    assert restricted.restricted([1]).var_names[0] == "x0"
    with pytest.raises(InfeasibleConstraintsError, match="'x2'"):
        LinearConstraints.from_arrays(3, lb=[0, 0, 1], ub=[1, 1, 0]).restricted(
            [2, 0]
        ).check_obvious_conflicts()
    named = LinearConstraints.from_arrays(3, var_names=["a", "b", "c"])
    assert named.restricted([1]).var_names == ("b",)


def test_names_must_match_the_rows():
    with pytest.raises(ValueError, match="names do not match"):
        LinearConstraints.from_arrays(2, A_eq=[[1, 1]], b_eq=[1], eq_names=["a", "b"])


@pytest.mark.parametrize("total", [None, 1.0, -2])
def test_from_bounds_is_from_arrays_with_a_row_of_ones(total):
    lb, ub = np.array([0.0, -1.0, -np.inf]), np.array([1.0, np.inf, 2.0])
    fast = LinearConstraints.from_bounds(3, lb=lb, ub=ub, total=total)
    general = LinearConstraints.from_arrays(
        3,
        A_eq=None if total is None else np.ones((1, 3)),
        b_eq=None if total is None else [total],
        lb=lb,
        ub=ub,
    )
    for field in ("A_eq", "b_eq", "A_ub", "b_ub", "lb", "ub"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(general, field))
    assert not np.shares_memory(fast.lb, lb)


@pytest.mark.parametrize(
    ("lb", "ub", "total"),
    [
        (0.0, 1.0, 1.0),  # inside
        (0.0, 0.1, 1.0),  # at the upper corner: pins every variable
        (0.0, 0.05, 1.0),  # beyond it: a conflict
        (0.1, 1.0, 1.0),  # at the lower corner
        (0.0, 1.0, 1.0 + 1e-13),  # within tolerance of no corner
        (0.0, 0.1, 1.0 + 1e-13),  # within tolerance of the corner
        (None, None, 0.0),  # free variables
        (0.0, None, 0.0),  # long-only, zero total: the lower corner
        (None, 0.1, 1.0),  # the upper corner with no lower bounds
        (0.0, None, None),  # no row at all
    ],
)
def test_from_bounds_knows_whether_its_row_lies_inside_the_box(lb, ub, total):
    """The all-ones row's range, known in closed form, agrees with the
    generic row ranges, and so do the conflicts and pinned variables."""
    fast = LinearConstraints.from_bounds(10, lb=lb, ub=ub, total=total)
    general = LinearConstraints.from_arrays(
        10,
        A_eq=None if total is None else np.ones((1, 10)),
        b_eq=None if total is None else [total],
        lb=lb,
        ub=ub,
    )
    assert "_rows_inside_box" in fast.__dict__
    assert fast._rows_inside_box == general._rows_inside_box
    assert fast.may_pin_variables == general.may_pin_variables
    np.testing.assert_array_equal(fast.forced_values(), general.forced_values())
    outcomes = []
    for constraints in (fast, general):
        try:
            constraints.check_obvious_conflicts()
            outcomes.append(None)
        except InfeasibleConstraintsError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]


def test_from_bounds_shares_the_constraints_of_scalar_bounds():
    first = LinearConstraints.from_bounds(5, lb=0.0, total=1.0, total_name="sum")
    # Equal keys, as a refit with the same parameters asks for them.
    assert LinearConstraints.from_bounds(5, lb=0, total=1, total_name="sum") is first
    for other in (
        LinearConstraints.from_bounds(5, lb=0.0, total=2.0, total_name="sum"),
        LinearConstraints.from_bounds(6, lb=0.0, total=1.0, total_name="sum"),
        LinearConstraints.from_bounds(5, lb=0.0, ub=1.0, total=1.0, total_name="sum"),
        LinearConstraints.from_bounds(5, lb=0.0, total=1.0, var_names=tuple("abcde")),
    ):
        assert other is not first
    for field in ("A_eq", "b_eq", "A_ub", "b_ub", "lb", "ub"):
        assert not getattr(first, field).flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        first.lb[0] = -1.0
    np.testing.assert_array_equal(first.lb, np.zeros(5))
    # Array bounds are the caller's to change: built anew each time.
    lb = np.zeros(5)
    built = LinearConstraints.from_bounds(5, lb=lb, total=1.0)
    assert LinearConstraints.from_bounds(5, lb=lb, total=1.0) is not built
    assert built.lb.flags.writeable


def test_from_bounds_does_not_share_a_failure():
    for _ in range(2):
        with pytest.raises(ValueError, match="must not be NaN"):
            LinearConstraints.from_bounds(3, lb=math.nan)
        with pytest.raises(ValueError, match="names do not match"):
            LinearConstraints.from_bounds(3, lb=0.0, var_names=("a", "b"))


def test_greater_equal_rows_stack_every_constraint_equalities_first():
    c = LinearConstraints.from_arrays(
        3,
        A_eq=[[1.0, 1.0, 1.0]],
        b_eq=[1.0],
        A_ub=[[1.0, -2.0, 0.0], [0.0, 1.0, 1.0]],
        b_ub=[0.5, 0.8],
        lb=[0.0, -np.inf, -1.0],
        ub=[np.inf, 2.0, 3.0],
    )
    G, h = c.greater_equal_rows
    expected_G = np.array(
        [
            [1.0, 1.0, 1.0],  # the equality
            [-1.0, 2.0, 0.0],  # -A_ub
            [0.0, -1.0, -1.0],
            [1.0, 0.0, 0.0],  # finite lower bounds of x0 and x2
            [0.0, 0.0, 1.0],
            [0.0, -1.0, 0.0],  # finite upper bounds of x1 and x2, negated
            [0.0, 0.0, -1.0],
        ]
    )
    np.testing.assert_array_equal(G, expected_G)
    np.testing.assert_array_equal(h, [1.0, -0.5, -0.8, 0.0, -1.0, -2.0, -3.0])
    assert G.T.flags.f_contiguous
    # Any x meeting the constraints meets G x >= h, and conversely.
    x = np.array([0.2, 0.3, 0.5])
    c.verify(x)
    assert np.all(G @ x >= h) and G[0] @ x == h[0]
    assert c.greater_equal_rows is c.greater_equal_rows


def test_independent_equalities_are_worked_out_once():
    c = LinearConstraints.from_arrays(
        2, A_eq=[[1.0, 1.0], [2.0, 2.0]], b_eq=[1.0, 2.0], lb=0.0
    )
    reduced, rows = independent_equalities(c)
    assert independent_equalities(c)[0] is reduced
    assert rows.size == 1
    np.testing.assert_array_equal(reduced.A_eq, c.A_eq[rows])
    np.testing.assert_array_equal(reduced.b_eq, c.b_eq[rows])
    conflicting = LinearConstraints.from_arrays(
        2, A_eq=[[1.0, 1.0], [2.0, 2.0]], b_eq=[1.0, 3.0]
    )
    for _ in range(2):
        with pytest.raises(InfeasibleConstraintsError, match="contradicts"):
            independent_equalities(conflicting)


@pytest.mark.parametrize(
    ("ub", "keep", "fixed"),
    [
        (1.0, [0, 2, 4], 0.0),  # inside
        (0.25, [0, 1, 2, 3], 0.0),  # four caps of 0.25 meet the budget: a corner
        (0.25, [0, 1, 2], 0.0),  # three cannot: a conflict
        (0.5, [1, 3], [0.0, 0.0, 0.5, 0.0, 0.0, 0.0]),  # a fixed 0.5 leaves 0.5
        (np.inf, [5], 0.0),  # one variable takes the whole budget
    ],
)
def test_restricting_bounds_and_a_budget_keeps_the_closed_form(ub, keep, fixed):
    fast = LinearConstraints.from_bounds(6, lb=0.0, ub=ub, total=1.0)
    general = LinearConstraints.from_arrays(
        6, A_eq=np.ones((1, 6)), b_eq=[1.0], lb=0.0, ub=ub
    )
    fast_restricted = fast.restricted(keep, fixed)
    general_restricted = general.restricted(keep, fixed)
    assert "_rows_inside_box" in fast_restricted.__dict__
    assert "_rows_inside_box" not in general_restricted.__dict__
    for field in ("A_eq", "b_eq", "A_ub", "b_ub", "lb", "ub"):
        np.testing.assert_array_equal(
            getattr(fast_restricted, field), getattr(general_restricted, field)
        )
    assert fast_restricted._rows_inside_box == general_restricted._rows_inside_box
    np.testing.assert_array_equal(
        fast_restricted.forced_values(), general_restricted.forced_values()
    )
    # Restricted again, the structure is still known.
    assert "_rows_inside_box" in fast_restricted.restricted([0]).__dict__


def test_from_bounds_rejects_a_non_finite_total():
    with pytest.raises(ValueError, match="total must be finite"):
        LinearConstraints.from_bounds(2, total=math.inf)


# ----------------------------------------------------------------------
# Cleaning and verification
# ----------------------------------------------------------------------
def test_clean_snaps_to_bounds_and_makes_equalities_exact():
    c = LinearConstraints.from_arrays(4, A_eq=[[1, 1, 1, 1]], b_eq=[1], lb=0, ub=0.6)
    x = np.array([-1e-17, 0.6 + 1e-16, 0.25 + 3e-13, 0.15 - 1e-13])
    original = x.copy()
    cleaned = c.clean(x)
    np.testing.assert_array_equal(x, original)
    assert cleaned[0] == 0.0 and cleaned[1] == 0.6
    assert abs(cleaned.sum() - 1.0) <= 2e-16
    c.verify(cleaned)


def test_clean_snaps_within_a_tolerance_relative_to_the_bound():
    # ACTIVE_TOL = 1e-9: absolute below 1, relative to the bound above it.
    c = LinearConstraints.from_arrays(
        4, lb=[0.0, 1e6, -np.inf, -1.0], ub=[np.inf, np.inf, 2.0, np.inf]
    )
    x = np.array([5e-10, 1e6 + 5e-4, 2.0 - 5e-10, 50.0])
    np.testing.assert_array_equal(c.clean(x), [0.0, 1e6, 2.0, 50.0])
    x = np.array([2e-9, 1e6 + 2e-3, 2.0 - 5e-9, -1.0 + 2e-9])
    np.testing.assert_array_equal(c.clean(x), x)
    # Infinite bounds never attract a value, however large.
    c = LinearConstraints.from_arrays(2)
    x = np.array([-1e300, 1e300])
    np.testing.assert_array_equal(c.clean(x), x)


def test_clean_with_dependent_active_rows():
    # The equality and an active inequality are the same row on the free
    # variables: A A' is singular and the step comes from least squares.
    c = LinearConstraints.from_arrays(
        3, A_eq=[[1, 1, 0]], b_eq=[1], A_ub=[[2, 2, 0]], b_ub=[2], lb=0, ub=1
    )
    cleaned = c.clean(np.array([0.3 + 1e-13, 0.7, 0.5]))
    assert abs(cleaned[:2].sum() - 1.0) <= 2e-16
    c.verify(cleaned)


def test_verify_names_the_violated_row_or_bound():
    c = LinearConstraints.from_arrays(
        2, A_ub=[[1, 1]], b_ub=[1], ub_names=["the total"], lb=0
    )
    c.verify(np.array([0.5, 0.5 + 1e-14]))
    with pytest.raises(SolverError, match="violates the total by 0.1"):
        c.verify(np.array([0.5, 0.6]))
    with pytest.raises(SolverError, match="violates the bounds of 'x0'"):
        c.verify(np.array([-1e-20, 0.5]))


def test_generated_names_are_formatted_when_read():
    names = GeneratedNames("asset {}", 4)
    assert len(names) == 4
    assert names[3] == "asset 3" and names[-1] == "asset 3"
    assert names[1:3] == ("asset 1", "asset 2")
    assert tuple(names.subset([3, 1])) == ("asset 3", "asset 1")
    assert tuple(names.subset(np.array([True, False, False, True]))) == (
        "asset 0",
        "asset 3",
    )
    with pytest.raises(IndexError):
        names[4]
    constraints = LinearConstraints.from_bounds(4, lb=1.0, ub=0.5, var_names=names)
    with pytest.raises(InfeasibleConstraintsError, match="'asset 0'"):
        constraints.check_obvious_conflicts()
    # A restriction keeps each variable's own name.
    with pytest.raises(InfeasibleConstraintsError, match="'asset 2'"):
        constraints.restricted([2, 3]).check_obvious_conflicts()
