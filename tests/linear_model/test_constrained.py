"""Tests of ConstrainedLinearRegression against independent references.

References: scikit-learn's LinearRegression (no constraint, ``positive=True``),
the closed form of seed 002 for a sum constraint, cvxpy+Clarabel
(``tests.reference``), and first-order optimality conditions checked with
multipliers recovered here, independently of the solver under test.
"""

from numbers import Real

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import lsq_linear
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    validate_parameter_constraints,
)
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_X_y

from skportfolio import ConstrainedLinearRegression
from skportfolio._validation import has_plainly_valid_parameters
from skportfolio.exceptions import InfeasibleConstraintsError
from skportfolio.linear_model._constrained import _is_plain_training_data
from tests.reference import reference_least_squares

# Slack or distance to a bound below which a constraint counts as active when
# recovering multipliers.
ACTIVE_TOL = 1e-9


# ----------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------
def seed_002_data(seed=2, n=100):
    """The example of seed 002: y = X (0.2, 0.3, 0.5) + N(0, 0.2^2), X uniform."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 3))
    y = X @ [0.2, 0.3, 0.5] + rng.normal(scale=0.2, size=n)
    return X, y


def design(X, y, fit_intercept):
    """The least-squares problem the coefficients solve: centred when there is an intercept."""
    if fit_intercept:
        return X - X.mean(axis=0), y - y.mean(axis=0)
    return X, y


def sum_of_squares(X, y, coef):
    return float(np.sum((y - X @ coef) ** 2))


def assert_relative_objective(objective, reference, rtol=1e-9):
    assert abs(objective - reference) <= rtol * abs(reference), (objective, reference)


def assert_feasible(coef, *, sum_to=None, lb=None, ub=None, A_ub=None, b_ub=None):
    tol = 1e-12
    if sum_to is not None:
        assert abs(coef.sum() - sum_to) <= tol * max(1.0, abs(sum_to))
    if lb is not None:
        assert np.all(coef >= lb)
    if ub is not None:
        assert np.all(coef <= ub)
    if A_ub is not None:
        assert np.all(A_ub @ coef - b_ub <= tol * np.maximum(1.0, np.abs(b_ub)))


def near_finite_bound(coef, bound):
    """Which coefficients sit on their bound (an infinite bound is never active)."""
    with np.errstate(invalid="ignore"):
        distance = np.abs(coef - bound)
    return np.isfinite(bound) & (
        distance <= ACTIVE_TOL * np.maximum(1.0, np.abs(bound))
    )


def assert_first_order_optimal(
    X, y, coef, *, sum_to=None, lb=None, ub=None, A_ub=None, b_ub=None, rtol=1e-8
):
    """KKT stationarity with multipliers recovered by bounded least squares.

    At a minimiser of ``||Xb - y||^2``, the gradient ``g = X'(Xb - y)`` is a
    combination ``-(1 mu + A_act' lam - e_lower + e_upper)`` of the active
    constraint normals with sign-constrained multipliers. The multipliers are
    found by bounded least squares (BVLS); a residual at round-off level proves
    that no feasible direction descends.
    """
    p = len(coef)
    lb = np.full(p, -np.inf) if lb is None else np.broadcast_to(lb, (p,))
    ub = np.full(p, np.inf) if ub is None else np.broadcast_to(ub, (p,))
    gradient = X.T @ (X @ coef - y)
    columns, lower, upper = [], [], []
    if sum_to is not None:
        columns.append(np.ones(p))
        lower.append(-np.inf)
        upper.append(np.inf)
    if A_ub is not None:
        slack = b_ub - A_ub @ coef
        for row in A_ub[slack <= ACTIVE_TOL * np.maximum(1.0, np.abs(b_ub))]:
            columns.append(row)
            lower.append(0.0)
            upper.append(np.inf)
    eye = np.eye(p)
    for i in np.flatnonzero(near_finite_bound(coef, lb)):
        columns.append(-eye[i])
        lower.append(0.0)
        upper.append(np.inf)
    for i in np.flatnonzero(near_finite_bound(coef, ub)):
        columns.append(eye[i])
        lower.append(0.0)
        upper.append(np.inf)
    scale = np.abs(X.T @ (X @ coef)).max() + np.abs(X.T @ y).max()
    if columns:
        M = np.column_stack(columns)
        fit = lsq_linear(M, -gradient, bounds=(lower, upper), method="bvls", tol=1e-15)
        residual = gradient + M @ fit.x
    else:
        residual = gradient
    assert np.abs(residual).max() <= rtol * scale, np.abs(residual).max() / scale


def fit_and_reference(reg, X, y, **reference_constraints):
    """Fit ``reg`` on (X, y) and solve the same problem with Clarabel.

    Returns the design the coefficients are fitted on (centred when there is
    an intercept), and the reference coefficients and objective.
    """
    reg.fit(X, y)
    Xd, yd = design(X, y, reg.fit_intercept)
    ref_coef, ref_obj = reference_least_squares(Xd, yd, **reference_constraints)
    return Xd, yd, ref_coef, ref_obj


# ----------------------------------------------------------------------
# Seed 002: style regression, sum to one and non-negative
# ----------------------------------------------------------------------
def test_seed_002_example_matches_reference():
    X, y = seed_002_data()
    reg = ConstrainedLinearRegression(fit_intercept=False, positive=True, sum_to=1)
    _, _, ref_coef, ref_obj = fit_and_reference(
        reg, X, y, A_eq=np.ones((1, 3)), b_eq=[1.0], lb=0.0
    )
    np.testing.assert_allclose(reg.coef_, ref_coef, rtol=0, atol=1e-9)
    assert_relative_objective(sum_of_squares(X, y, reg.coef_), ref_obj)
    assert_feasible(reg.coef_, sum_to=1.0, lb=0.0)
    assert reg.intercept_ == 0.0
    assert reg.solver_ == "quadprog"
    # values of this draw, for a regression signal of a change in behaviour
    np.testing.assert_allclose(
        reg.coef_, [0.2420645, 0.325437, 0.4324985], rtol=0, atol=5e-8
    )


def test_simplex_first_order_conditions_when_coefficients_hit_zero():
    # Minimising over the simplex: the gradient is the same for every positive
    # coefficient and no smaller for the coefficients held at zero.
    rng = np.random.default_rng(11)
    X = rng.standard_normal((120, 8))
    y = X @ [0.6, 0.5, -0.4, 0.3, 0.0, -0.2, 0.1, 0.1] + rng.normal(0, 0.5, 120)
    reg = ConstrainedLinearRegression(fit_intercept=False, positive=True, sum_to=1)
    coef = reg.fit(X, y).coef_
    gradient = X.T @ (X @ coef - y)
    free, at_zero = coef > 0, coef == 0
    assert 2 <= free.sum() < 8 and at_zero.sum() == 8 - free.sum()
    common = gradient[free].mean()
    scale = np.abs(X.T @ y).max()
    assert np.ptp(gradient[free]) <= 1e-10 * scale
    assert np.all(gradient[at_zero] >= common - 1e-10 * scale)
    _, ref_obj = reference_least_squares(X, y, A_eq=np.ones((1, 8)), b_eq=[1], lb=0)
    assert_relative_objective(sum_of_squares(X, y, coef), ref_obj)


# ----------------------------------------------------------------------
# Without constraints it is LinearRegression
# ----------------------------------------------------------------------
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_targets", [None, 1, 3])
def test_unconstrained_equals_linear_regression(fit_intercept, weighted, n_targets):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 4)) + np.array([0.0, 1.0, -2.0, 0.5])
    shape = (60,) if n_targets is None else (60, n_targets)
    y = (
        0.7
        + rng.standard_normal(shape)
        + (X @ rng.standard_normal(4)).reshape(60, *(() if n_targets is None else (1,)))
    )
    sample_weight = rng.uniform(0.1, 3.0, 60) if weighted else None
    ours = ConstrainedLinearRegression(fit_intercept=fit_intercept).fit(
        X, y, sample_weight=sample_weight
    )
    theirs = LinearRegression(fit_intercept=fit_intercept).fit(
        X, y, sample_weight=sample_weight
    )
    assert ours.solver_ == "lstsq"
    assert ours.coef_.shape == theirs.coef_.shape
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_positive_matches_linear_regression_positive(fit_intercept):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((80, 6))
    y = X @ [1.0, -0.5, 0.8, -1.2, 0.3, 0.0] + rng.normal(0, 0.3, 80) + 2.0
    ours = ConstrainedLinearRegression(fit_intercept=fit_intercept, positive=True)
    theirs = LinearRegression(fit_intercept=fit_intercept, positive=True)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert np.any(ours.coef_ == 0) and np.all(ours.coef_ >= 0)

    def residual_ss(reg):
        return float(np.sum((y - reg.predict(X)) ** 2))

    assert_relative_objective(residual_ss(ours), residual_ss(theirs))
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=0, atol=1e-8)


# ----------------------------------------------------------------------
# Equality constraints: closed form
# ----------------------------------------------------------------------
@pytest.mark.parametrize("sum_to", [1.0, 0.0, -2.5])
def test_sum_constraint_alone_is_seed_002_closed_form(sum_to):
    X, y = seed_002_data(seed=21)
    reg = ConstrainedLinearRegression(fit_intercept=False, sum_to=sum_to).fit(X, y)
    assert reg.solver_ == "closed_form"
    # b = b_ls + (X'X)^-1 1 (s - 1'b_ls) / (1'(X'X)^-1 1)
    gram = X.T @ X
    b_ls = np.linalg.solve(gram, X.T @ y)
    gram_inv_ones = np.linalg.solve(gram, np.ones(3))
    expected = b_ls + gram_inv_ones * (sum_to - b_ls.sum()) / gram_inv_ones.sum()
    np.testing.assert_allclose(reg.coef_, expected, rtol=0, atol=1e-10)
    assert abs(reg.coef_.sum() - sum_to) <= 1e-12 * max(1, abs(sum_to))


def test_sum_constraint_with_intercept_is_closed_form_on_centred_data():
    X, y = seed_002_data(seed=22)
    reg = ConstrainedLinearRegression(sum_to=1.0).fit(X, y)
    Xc, yc = design(X, y, True)
    gram = Xc.T @ Xc
    b_ls = np.linalg.solve(gram, Xc.T @ yc)
    gram_inv_ones = np.linalg.solve(gram, np.ones(3))
    expected = b_ls + gram_inv_ones * (1.0 - b_ls.sum()) / gram_inv_ones.sum()
    assert reg.solver_ == "closed_form"
    np.testing.assert_allclose(reg.coef_, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_general_equalities_match_reference(fit_intercept):
    rng = np.random.default_rng(31)
    X = rng.standard_normal((50, 5))
    y = X @ rng.standard_normal(5) + rng.normal(0, 0.5, 50)
    A_eq = rng.standard_normal((2, 5))
    b_eq = np.array([0.3, -1.0])
    reg = ConstrainedLinearRegression(fit_intercept=fit_intercept, A_eq=A_eq, b_eq=b_eq)
    Xd, yd, ref_coef, ref_obj = fit_and_reference(reg, X, y, A_eq=A_eq, b_eq=b_eq)
    assert reg.solver_ == "closed_form"
    np.testing.assert_allclose(reg.coef_, ref_coef, rtol=0, atol=1e-9)
    assert_relative_objective(sum_of_squares(Xd, yd, reg.coef_), ref_obj)
    np.testing.assert_allclose(A_eq @ reg.coef_, b_eq, rtol=0, atol=1e-12)


def test_redundant_equalities_keep_the_closed_form():
    # the same constraint as A_eq and as sum_to: dropped, not an error
    X, y = seed_002_data(seed=23)
    both = ConstrainedLinearRegression(
        fit_intercept=False, sum_to=1.0, A_eq=2 * np.ones((1, 3)), b_eq=[2.0]
    ).fit(X, y)
    alone = ConstrainedLinearRegression(fit_intercept=False, sum_to=1.0).fit(X, y)
    assert both.solver_ == "closed_form"
    np.testing.assert_allclose(both.coef_, alone.coef_, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------
# Random problems: optimal, feasible and first-order optimal
# ----------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_features=st.integers(2, 8),
    extra_samples=st.integers(2, 60),
    n_ub=st.integers(0, 3),
    fit_intercept=st.booleans(),
    upper=st.booleans(),
)
def test_random_problems_are_optimal(
    seed, n_features, extra_samples, n_ub, fit_intercept, upper
):
    rng = np.random.default_rng(seed)
    n = n_features + extra_samples
    X = rng.standard_normal((n, n_features)) * rng.uniform(0.5, 2.0, n_features)
    # far from the feasible set so that constraints are active
    y = X @ rng.normal(0, 2, n_features) + rng.normal(0, 0.5, n)
    # build the constraints around a feasible point
    x0 = rng.normal(0, 0.3, n_features)
    sum_to = float(x0.sum())
    lb = x0 - rng.uniform(0, 0.3, n_features)
    ub = x0 + rng.uniform(0, 0.3, n_features) if upper else None
    A_ub = rng.standard_normal((n_ub, n_features)) if n_ub else None
    b_ub = A_ub @ x0 + rng.uniform(0, 0.2, n_ub) if n_ub else None
    reg = ConstrainedLinearRegression(
        fit_intercept=fit_intercept,
        sum_to=sum_to,
        bounds=(lb, ub),
        A_ub=A_ub,
        b_ub=b_ub,
    )
    constraints = dict(lb=lb, ub=ub, A_ub=A_ub, b_ub=b_ub)
    Xd, yd, _, ref_obj = fit_and_reference(
        reg, X, y, A_eq=np.ones((1, n_features)), b_eq=[sum_to], **constraints
    )
    assert reg.solver_ == "quadprog"
    objective = sum_of_squares(Xd, yd, reg.coef_)
    assert objective <= ref_obj + 1e-9 * ref_obj
    assert_feasible(reg.coef_, sum_to=sum_to, **constraints)
    assert_first_order_optimal(Xd, yd, reg.coef_, sum_to=sum_to, **constraints)


# ----------------------------------------------------------------------
# Degenerate designs
# ----------------------------------------------------------------------
def degenerate_design(kind, rng):
    """A singular least-squares problem (X, y) of the named kind."""
    if kind == "more features than samples":
        # Every column leans along a zero-mean direction d (also after
        # centring) and y points the other way, so that no non-negative
        # combination interpolates y and the optimum keeps a real residual.
        d = rng.standard_normal(12)
        d = (d - d.mean()) / np.linalg.norm(d - d.mean())
        X = rng.standard_normal((12, 25)) + 4.0 * d[:, None]
        return X, -4.0 * d + rng.normal(0, 0.3, 12)
    if kind == "duplicate column":
        X = rng.standard_normal((40, 4))
        X = np.column_stack([X, X[:, 1]])
    elif kind == "constant column":
        X = np.column_stack([rng.standard_normal((40, 4)), np.full(40, 3.0)])
    else:
        raise AssertionError(kind)
    return X, X @ rng.normal(0, 1, 5) + rng.normal(0, 1.0, 40)


SINGULAR_PARAMS = {
    "simplex": dict(positive=True, sum_to=1.0),
    "box+sum": dict(bounds=(-0.3, 0.6), sum_to=1.0),
    "positive": dict(positive=True),
    "sum": dict(sum_to=1.0),
}
SINGULAR_CASES = [
    pytest.param(kind, params, id=f"{kind}-{label}")
    for kind in ["duplicate column", "more features than samples", "constant column"]
    for label, params in SINGULAR_PARAMS.items()
    # a sum constraint alone interpolates when p > n: see the minimum-norm test
    if not (kind == "more features than samples" and label == "sum")
]


@pytest.mark.parametrize("kind, params", SINGULAR_CASES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_degenerate_designs_are_optimal_and_feasible(kind, params, fit_intercept):
    rng = np.random.default_rng(41)
    X, y = degenerate_design(kind, rng)
    p = X.shape[1]
    reg = ConstrainedLinearRegression(fit_intercept=fit_intercept, **params)
    lb, ub = params.get("bounds", (0.0 if params.get("positive") else None, None))
    sum_to = params.get("sum_to")
    constraints = dict(lb=lb, ub=ub)
    if sum_to is not None:
        constraints.update(A_eq=np.ones((1, p)), b_eq=[sum_to])
    Xd, yd, _, ref_obj = fit_and_reference(reg, X, y, **constraints)
    # a problem with a real residual, so that the relative test is meaningful
    assert ref_obj > 1e-3 * np.sum(yd**2)
    assert_relative_objective(sum_of_squares(Xd, yd, reg.coef_), ref_obj)
    assert_feasible(reg.coef_, sum_to=sum_to, lb=lb, ub=ub)
    expected_solver = "quadprog" if lb is not None or ub is not None else "closed_form"
    assert reg.solver_ == expected_solver


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sum_constraint_with_more_features_than_samples_is_minimum_norm(
    fit_intercept,
):
    # The fit interpolates; among the interpolants, the smallest coefficients:
    # the pseudo-inverse solution of the stacked system [X; 1'] b = [y; 1].
    rng = np.random.default_rng(42)
    X, y = rng.standard_normal((12, 24)), rng.standard_normal(12)
    reg = ConstrainedLinearRegression(fit_intercept=fit_intercept, sum_to=1.0)
    reg.fit(X, y)
    Xd, yd = design(X, y, fit_intercept)
    expected = np.linalg.pinv(np.vstack([Xd, np.ones(24)])) @ np.append(yd, 1.0)
    assert reg.solver_ == "closed_form"
    np.testing.assert_allclose(reg.coef_, expected, rtol=0, atol=1e-12)
    assert sum_of_squares(Xd, yd, reg.coef_) <= 1e-24 * np.sum(yd**2)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_two_dimensional_y_solves_each_target(fit_intercept):
    rng = np.random.default_rng(51)
    X = rng.standard_normal((70, 5))
    Y = X @ rng.normal(0, 1, (5, 3)) + rng.normal(0, 0.5, (70, 3)) + [1.0, -2.0, 0.0]
    reg = ConstrainedLinearRegression(
        fit_intercept=fit_intercept, positive=True, sum_to=1.0
    ).fit(X, Y)
    assert reg.coef_.shape == (3, 5) and reg.intercept_.shape == (3,)
    Xd, Yd = design(X, Y, fit_intercept)
    for k in range(3):
        ref_coef, ref_obj = reference_least_squares(
            Xd, Yd[:, k], A_eq=np.ones((1, 5)), b_eq=[1.0], lb=0.0
        )
        np.testing.assert_allclose(reg.coef_[k], ref_coef, rtol=0, atol=1e-9)
        assert_relative_objective(sum_of_squares(Xd, Yd[:, k], reg.coef_[k]), ref_obj)
        assert_feasible(reg.coef_[k], sum_to=1.0, lb=0.0)
        single = ConstrainedLinearRegression(
            fit_intercept=fit_intercept, positive=True, sum_to=1.0
        ).fit(X, Y[:, k])
        np.testing.assert_allclose(reg.coef_[k], single.coef_, rtol=0, atol=1e-13)
        np.testing.assert_allclose(
            reg.intercept_[k], single.intercept_, rtol=0, atol=1e-13
        )


# ----------------------------------------------------------------------
# Intercept: variance of the residuals
# ----------------------------------------------------------------------
def test_intercept_minimises_the_variance_of_residuals():
    rng = np.random.default_rng(61)
    X = rng.normal(0.01, 0.05, (150, 4)) + np.array([0.0, 0.02, -0.03, 0.05])
    y = X @ [0.1, 0.4, 0.2, 0.3] + 0.01 + rng.normal(0, 0.02, 150)
    reg = ConstrainedLinearRegression(positive=True, sum_to=1.0).fit(X, y)
    # the reference minimises the sum of squares of the centred problem
    Xc, yc = design(X, y, True)
    ref_coef, ref_obj = reference_least_squares(
        Xc, yc, A_eq=np.ones((1, 4)), b_eq=[1.0], lb=0.0
    )
    np.testing.assert_allclose(reg.coef_, ref_coef, rtol=0, atol=1e-9)
    residuals = y - X @ reg.coef_
    assert_relative_objective(len(y) * np.var(residuals), ref_obj)
    assert reg.intercept_ == pytest.approx(
        y.mean() - X.mean(axis=0) @ reg.coef_, abs=1e-15
    )
    assert reg.intercept_ == pytest.approx(residuals.mean(), abs=1e-15)
    # without intercept the sum of squares is minimised instead: a different answer
    plain = ConstrainedLinearRegression(fit_intercept=False, positive=True, sum_to=1.0)
    plain.fit(X, y)
    assert np.abs(plain.coef_ - reg.coef_).max() > 1e-3
    assert np.var(y - X @ plain.coef_) > np.var(residuals)


# ----------------------------------------------------------------------
# Sample weights are repetitions
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [dict(), dict(positive=True, sum_to=1.0), dict(bounds=(-0.2, 0.5), sum_to=1.0)],
    ids=["unconstrained", "simplex", "box+sum"],
)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_integer_sample_weight_equals_repeated_rows(params, fit_intercept):
    rng = np.random.default_rng(71)
    X = rng.standard_normal((40, 5))
    y = X @ [0.5, -0.3, 0.4, 0.2, 0.6] + rng.normal(0, 0.4, 40) + 1.0
    weights = rng.integers(0, 4, 40)
    assert np.any(weights == 0)
    weighted = ConstrainedLinearRegression(fit_intercept=fit_intercept, **params)
    weighted.fit(X, y, sample_weight=weights)
    repeated = ConstrainedLinearRegression(fit_intercept=fit_intercept, **params)
    repeated.fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        weighted.intercept_, repeated.intercept_, rtol=0, atol=1e-10
    )


# ----------------------------------------------------------------------
# Ill-conditioned designs
# ----------------------------------------------------------------------
def ill_conditioned_design(seed, n=200, p=6, smallest=1e-8):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, p)))
    V, _ = np.linalg.qr(rng.standard_normal((p, p)))
    X = (U * np.logspace(0, np.log10(smallest), p)) @ V.T
    y = X @ rng.dirichlet(np.ones(p)) + rng.normal(0, 0.01, n)
    return X, y


def simplex_solution_on_support(X, y, support):
    """The sum-to-one least-squares fit with every coefficient off ``support`` at 0.

    Null-space method with LAPACK least squares on X itself (no Gram matrix),
    so that its accuracy does not suffer from squaring cond(X).
    """
    k = int(support.sum())
    Xs = X[:, support]
    Z = np.linalg.svd(np.ones((1, k)))[2][1:].T  # orthonormal basis of 1' z = 0
    u = np.linalg.lstsq(Xs @ Z, y - Xs.sum(axis=1) / k, rcond=None)[0]
    coef = np.zeros(X.shape[1])
    coef[support] = 1.0 / k + Z @ u
    return coef


@pytest.mark.parametrize(
    "n, p, smallest, factorization",
    [
        (200, 6, 1e-8, "qr"),
        (2000, 50, 1e-8, "working_set"),
        (1000, 30, 1e-10, "qr"),
    ],
    ids=["200x6@1e8", "2000x50@1e8", "1000x30@1e10"],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ill_conditioned_designs_use_qr_and_are_optimal(
    n, p, smallest, factorization, seed
):
    # The factor comes from shifted CholeskyQR and quadprog works on it
    # without regularisation, on the whole design or (50 features) on working
    # sets of its columns. Independent candidate: the equality-constrained
    # fit on the final support, proven optimal by its own first-order
    # conditions; it and the reference solver bound the optimum.
    X, y = ill_conditioned_design(seed, n=n, p=p, smallest=smallest)
    assert np.linalg.cond(X) == pytest.approx(1 / smallest, rel=1e-6)
    reg = ConstrainedLinearRegression(fit_intercept=False, positive=True, sum_to=1.0)
    reg.fit(X, y)
    assert reg.factorization_ == factorization
    assert_feasible(reg.coef_, sum_to=1.0, lb=0.0)
    candidate = simplex_solution_on_support(X, y, reg.coef_ > 0)
    assert np.all(candidate >= 0)
    assert_first_order_optimal(X, y, candidate, sum_to=1.0, lb=0.0, rtol=1e-10)
    _, ref_obj = reference_least_squares(X, y, A_eq=np.ones((1, p)), b_eq=[1.0], lb=0.0)
    best = min(ref_obj, sum_of_squares(X, y, candidate))
    assert sum_of_squares(X, y, reg.coef_) <= best * (1 + 1e-9)


def test_well_conditioned_design_uses_cholesky():
    X, y = seed_002_data()
    reg = ConstrainedLinearRegression(fit_intercept=False, positive=True, sum_to=1.0)
    assert reg.fit(X, y).factorization_ == "cholesky"


def test_more_features_than_samples_uses_the_gram_matrix():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((10, 20)), rng.standard_normal(10)
    reg = ConstrainedLinearRegression(positive=True, sum_to=1.0).fit(X, y)
    assert reg.factorization_ == "gram"


def test_unconstrained_fit_has_no_factorization():
    X, y = seed_002_data()
    assert ConstrainedLinearRegression().fit(X, y).factorization_ is None


# ----------------------------------------------------------------------
# The forms of ``bounds``
# ----------------------------------------------------------------------
def scaled_seed_002_data():
    """Seed 002's data with y stretched so that unconstrained coefficients leave [0, 1]."""
    X, y = seed_002_data(seed=81)
    return X, y * 3 - 1


def bounded_fit(bounds):
    return ConstrainedLinearRegression(bounds=bounds).fit(*scaled_seed_002_data()).coef_


@pytest.mark.parametrize(
    "bounds, lb, ub",
    [
        ((0.0, 0.8), 0.0, 0.8),
        (([0.0, -0.5, 0.1], [1.0, 0.7, 2.0]), [0.0, -0.5, 0.1], [1.0, 0.7, 2.0]),
        ((None, 0.6), None, 0.6),
        ((1.0, None), 1.0, None),
        (np.array([[0.0, 0.0, 0.0], [0.9, 0.9, 0.9]]), 0.0, 0.9),
        (([0.0, np.nan, 0.1], 0.7), [0.0, -np.inf, 0.1], 0.7),
    ],
    ids=["scalars", "arrays", "upper only", "lower only", "2-d array", "nan is free"],
)
def test_bounds_forms_match_reference(bounds, lb, ub):
    X, y = scaled_seed_002_data()
    coef = bounded_fit(bounds)
    Xc, yc = design(X, y, True)
    ref_coef, ref_obj = reference_least_squares(Xc, yc, lb=lb, ub=ub)
    np.testing.assert_allclose(coef, ref_coef, rtol=0, atol=1e-9)
    assert_relative_objective(sum_of_squares(Xc, yc, coef), ref_obj)
    assert_feasible(coef, lb=lb, ub=ub)
    # the bounds are binding in this draw
    unconstrained = ConstrainedLinearRegression().fit(X, y).coef_
    assert np.abs(coef - unconstrained).max() > 0.05


def test_bounds_zero_none_is_positive():
    positive = ConstrainedLinearRegression(positive=True).fit(*scaled_seed_002_data())
    np.testing.assert_array_equal(bounded_fit((0, None)), positive.coef_)


def test_positive_tightens_negative_lower_bounds():
    X, y = scaled_seed_002_data()
    combined = ConstrainedLinearRegression(positive=True, bounds=(-1.0, 0.8)).fit(X, y)
    np.testing.assert_array_equal(combined.coef_, bounded_fit((0.0, 0.8)))


def test_dict_bounds_by_column_name():
    X, y = scaled_seed_002_data()
    frame = pd.DataFrame(X, columns=["usd", "eur", "jpy"])
    by_name = ConstrainedLinearRegression(
        bounds=({"usd": 0.0, "jpy": 0.1}, {"eur": 0.7, "jpy": None})
    ).fit(frame, y)
    by_array = bounded_fit(([0.0, -np.inf, 0.1], [np.inf, 0.7, np.inf]))
    # a DataFrame arrives in column-major order: BLAS rounds differently
    np.testing.assert_allclose(by_name.coef_, by_array, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(by_name.feature_names_in_, ["usd", "eur", "jpy"])


@pytest.mark.parametrize(
    "bounds, match",
    [
        (([0.0, 0.0], 1.0), r"bounds\[0\] must be a scalar or have shape \(3,\)"),
        (
            (0.0, [1.0, 1.0, 1.0, 1.0]),
            r"bounds\[1\] must be a scalar or have shape \(3,\)",
        ),
        ((0.0, 0.5, 1.0), "bounds must be a \\(lower, upper\\) pair"),
    ],
)
def test_bounds_of_the_wrong_shape_raise(bounds, match):
    X, y = seed_002_data()
    with pytest.raises(ValueError, match=match):
        ConstrainedLinearRegression(bounds=bounds).fit(X, y)


def test_dict_bounds_with_unknown_name_raise():
    X, y = seed_002_data()
    frame = pd.DataFrame(X, columns=["usd", "eur", "jpy"])
    reg = ConstrainedLinearRegression(bounds=({"usd": 0.0, "gbp": 0.0}, None))
    with pytest.raises(ValueError, match=r"unknown variables: \['gbp'\]"):
        reg.fit(frame, y)


def test_dict_bounds_on_an_array_raise():
    X, y = seed_002_data()
    reg = ConstrainedLinearRegression(bounds=(None, {"x0": 1.0}))
    with pytest.raises(ValueError, match="is a dict, which needs named variables"):
        reg.fit(X, y)


# ----------------------------------------------------------------------
# Infeasible constraints
# ----------------------------------------------------------------------
def test_bounds_too_tight_for_the_sum():
    X, y = seed_002_data()
    reg = ConstrainedLinearRegression(bounds=(0.0, 0.2), sum_to=1.0)
    with pytest.raises(InfeasibleConstraintsError) as info:
        reg.fit(X, y)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "the sum of the coefficients" in message
    assert "at most 0.6" in message and "must equal 1" in message


def test_lower_bounds_too_high_for_the_sum():
    X, y = seed_002_data()
    reg = ConstrainedLinearRegression(bounds=(0.5, None), sum_to=1.0)
    with pytest.raises(
        InfeasibleConstraintsError, match="at least 1.5, but it must equal 1"
    ):
        reg.fit(X, y)


def test_crossed_bounds_name_the_feature():
    X, y = seed_002_data()
    frame = pd.DataFrame(X, columns=["usd", "eur", "jpy"])
    reg = ConstrainedLinearRegression(bounds=({"eur": 0.4}, {"eur": 0.3}))
    with pytest.raises(
        InfeasibleConstraintsError, match="0.4 exceeds the upper bound 0.3 for 'eur'"
    ):
        reg.fit(frame, y)


def test_jointly_infeasible_inequalities():
    # each row is satisfiable on the simplex, not both together
    X, y = seed_002_data()
    reg = ConstrainedLinearRegression(
        positive=True,
        sum_to=1.0,
        A_ub=[[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0]],
        b_ub=[-0.5, -0.5],
    )
    with pytest.raises(InfeasibleConstraintsError, match="cannot all hold at once"):
        reg.fit(X, y)


def test_contradictory_equalities():
    X, y = seed_002_data()
    reg = ConstrainedLinearRegression(sum_to=1.0, A_eq=np.ones((1, 3)), b_eq=[2.0])
    with pytest.raises(InfeasibleConstraintsError, match="contradicts"):
        reg.fit(X, y)


# ----------------------------------------------------------------------
# Input validation
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "where, value, match",
    [
        ("X", np.nan, "Input X contains NaN"),
        ("X", np.inf, "Input X contains infinity"),
        ("y", np.nan, "Input y contains NaN"),
        ("y", -np.inf, "Input y contains infinity"),
    ],
)
def test_non_finite_input_raises(where, value, match):
    X, y = seed_002_data()
    X, y = X.copy(), y.copy()
    if where == "X":
        X[5, 1] = value
    else:
        y[7] = value
    reg = ConstrainedLinearRegression(positive=True, sum_to=1.0)
    with pytest.raises(ValueError, match=match):
        reg.fit(X, y)


def plain_training_data():
    X, y = seed_002_data()
    return X, y


def converted_copies(X, y):
    """The same data in forms check_X_y converts: they take its full path."""
    doubled = np.repeat(X, 2, axis=1)
    return {
        "list": (X.tolist(), y.tolist()),
        "strided": (doubled[:, ::2], y),
        "big-endian": (X.astype(">f8"), y.astype(">f8")),
        "dataframe": (pd.DataFrame(X), pd.Series(y)),
        "y as a column": (X, y[:, None]),
    }


@pytest.mark.parametrize("order", ["C", "F"])
def test_plain_input_is_returned_by_check_x_y_unchanged(order):
    # The quick path hands X and y on as they are: exactly what check_X_y does
    # for a finite, contiguous float64 ndarray pair.
    X, y = plain_training_data()
    X = np.asarray(X, order=order)
    assert _is_plain_training_data(X, y)
    checked_X, checked_y = check_X_y(
        X, y, multi_output=True, y_numeric=True, dtype=np.float64
    )
    assert checked_X is X and checked_y is y


@pytest.mark.parametrize(
    "X, y",
    [
        (np.ones((3, 2), dtype=np.float32), np.ones(3)),
        (np.ones((3, 2), dtype=int), np.ones(3)),
        (np.ones((3, 2)), np.ones(3, dtype=int)),
        (np.repeat(np.ones((3, 2)), 2, axis=1)[:, ::2], np.ones(3)),
        (np.asmatrix(np.ones((3, 2))), np.ones(3)),
        (np.ones(3), np.ones(3)),
        (np.ones((3, 2, 1)), np.ones(3)),
        (np.ones((0, 2)), np.ones(0)),
        (np.ones((3, 0)), np.ones(3)),
        (np.ones((3, 2)), np.ones((3, 0))),
        (np.ones((3, 2)), np.ones(4)),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2)),
        (np.ones((2, 2)), np.array([1.0, np.inf])),
        (np.full((2, 2), 1e308), np.ones(2)),
    ],
    ids=[
        "float32",
        "int X",
        "int y",
        "strided",
        "matrix",
        "1-d X",
        "3-d X",
        "no samples",
        "no features",
        "no targets",
        "lengths",
        "nan",
        "inf",
        "overflowing sum",
    ],
)
def test_other_inputs_take_check_x_y(X, y):
    assert not _is_plain_training_data(X, y)


@pytest.mark.parametrize("form", list(converted_copies(*plain_training_data())))
def test_quick_and_full_validation_fit_alike(form):
    X, y = plain_training_data()
    params = dict(positive=True, sum_to=1.0)
    quick = ConstrainedLinearRegression(**params).fit(X, y)
    converted = ConstrainedLinearRegression(**params).fit(*converted_copies(X, y)[form])
    np.testing.assert_allclose(
        converted.coef_.reshape(quick.coef_.shape), quick.coef_, rtol=0, atol=1e-14
    )
    assert converted.n_features_in_ == quick.n_features_in_ == 3


def test_refit_on_an_array_forgets_the_feature_names():
    X, y = plain_training_data()
    reg = ConstrainedLinearRegression(positive=True, sum_to=1.0)
    reg.fit(pd.DataFrame(X, columns=["usd", "eur", "jpy"]), y)
    assert hasattr(reg, "feature_names_in_")
    reg.fit(X, y)
    assert not hasattr(reg, "feature_names_in_")
    assert reg.n_features_in_ == 3


PLAIN_PARAMETERS = [
    dict(fit_intercept=fit_intercept, positive=positive, sum_to=sum_to)
    for fit_intercept in (True, False)
    for positive in (True, False)
    for sum_to in (None, 0, 1, -3, 0.5, -0.0, 1e300, 10**400)
]


@pytest.mark.parametrize("params", PLAIN_PARAMETERS)
def test_plain_parameters_are_valid_for_scikit_learn(params):
    # The values for which scikit-learn's validation is skipped must all be
    # accepted by it.
    reg = ConstrainedLinearRegression(**params)
    assert has_plainly_valid_parameters(reg)
    validate_parameter_constraints(
        reg._parameter_constraints, reg.get_params(deep=False), caller_name="test"
    )


@pytest.mark.parametrize(
    "params",
    [
        dict(sum_to=np.nan),
        dict(sum_to=np.inf),
        dict(sum_to="1"),
        dict(fit_intercept="yes"),
        dict(positive=1),
        dict(bounds=0.5),
    ],
)
def test_other_parameters_are_validated_by_scikit_learn(params):
    reg = ConstrainedLinearRegression(**params)
    assert not has_plainly_valid_parameters(reg)
    X, y = plain_training_data()
    with pytest.raises(InvalidParameterError):
        reg.fit(X, y)


def test_valid_non_plain_parameters_are_validated_by_scikit_learn():
    reg = ConstrainedLinearRegression(
        fit_intercept=np.bool_(False), sum_to=np.float64(1.0), bounds=(0.0, None)
    )
    assert not has_plainly_valid_parameters(reg)
    X, y = plain_training_data()
    np.testing.assert_allclose(
        reg.fit(X, y).coef_,
        ConstrainedLinearRegression(fit_intercept=False, sum_to=1.0, positive=True)
        .fit(X, y)
        .coef_,
        rtol=0,
        atol=1e-14,
    )


def test_a_subclass_is_checked_against_its_own_constraints():
    class Narrower(ConstrainedLinearRegression):
        _parameter_constraints = {
            **ConstrainedLinearRegression._parameter_constraints,
            "sum_to": [Interval(Real, 0, None, closed="left"), None],
        }

    assert not has_plainly_valid_parameters(Narrower(sum_to=-1.0))
    X, y = plain_training_data()
    with pytest.raises(InvalidParameterError):
        Narrower(sum_to=-1.0).fit(X, y)


def test_non_finite_constraint_arrays_raise():
    X, y = seed_002_data()
    reg = ConstrainedLinearRegression(A_ub=[[1.0, np.nan, 0.0]], b_ub=[1.0])
    with pytest.raises(ValueError, match="A_ub contains NaN or infinite values"):
        reg.fit(X, y)


def test_predict_with_wrong_number_of_features_raises():
    X, y = seed_002_data()
    reg = ConstrainedLinearRegression(positive=True, sum_to=1.0).fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features, but .* expecting 3"):
        reg.predict(X[:, :2])


def test_inputs_are_not_mutated():
    rng = np.random.default_rng(91)
    X = rng.standard_normal((30, 4))
    y = rng.standard_normal(30)
    sample_weight = rng.uniform(0.5, 2.0, 30)
    A_eq, b_eq = np.array([[1.0, 1.0, 0.0, 0.0]]), np.array([0.5])
    A_ub, b_ub = np.array([[0.0, 0.0, 1.0, -1.0]]), np.array([0.1])
    lower, upper = np.array([-1.0, 0.0, -1.0, 0.0]), np.array([1.0, 1.0, 0.5, 2.0])
    arrays = [X, y, sample_weight, A_eq, b_eq, A_ub, b_ub, lower, upper]
    copies = [a.copy() for a in arrays]
    reg = ConstrainedLinearRegression(
        sum_to=1.0, bounds=(lower, upper), A_eq=A_eq, b_eq=b_eq, A_ub=A_ub, b_ub=b_ub
    )
    reg.fit(X, y, sample_weight=sample_weight)
    reg.predict(X)
    for array, copy in zip(arrays, copies):
        np.testing.assert_array_equal(array, copy)
    # the fitted coefficients do not alias the user's arrays
    assert not any(np.shares_memory(reg.coef_, a) for a in arrays)


# ----------------------------------------------------------------------
# DataFrames, predict and score
# ----------------------------------------------------------------------
def test_dataframe_input_keeps_names_and_predicts():
    X, y = seed_002_data()
    columns = ["usd", "eur", "jpy"]
    frame = pd.DataFrame(X, columns=columns)
    target = pd.Series(y, name="chf")
    reg = ConstrainedLinearRegression(positive=True, sum_to=1.0).fit(frame, target)
    np.testing.assert_array_equal(reg.feature_names_in_, columns)
    from_array = ConstrainedLinearRegression(positive=True, sum_to=1.0).fit(X, y)
    assert not hasattr(from_array, "feature_names_in_")
    np.testing.assert_allclose(reg.coef_, from_array.coef_, rtol=0, atol=1e-14)
    np.testing.assert_allclose(
        reg.predict(frame), X @ reg.coef_ + reg.intercept_, rtol=0, atol=1e-15
    )
    residual = y - reg.predict(frame)
    r2 = 1 - residual @ residual / np.sum((y - y.mean()) ** 2)
    assert reg.score(frame, target) == pytest.approx(r2, abs=1e-14)
    assert reg.weights_ is reg.coef_
    with pytest.warns(UserWarning, match="fitted without feature names"):
        ConstrainedLinearRegression().fit(X, y).predict(frame)


def test_score_is_r2_for_two_dimensional_y():
    rng = np.random.default_rng(92)
    X = rng.standard_normal((50, 3))
    Y = X @ rng.normal(0, 1, (3, 2)) + rng.normal(0, 0.3, (50, 2))
    reg = ConstrainedLinearRegression(bounds=(-0.5, 0.5)).fit(X, Y)
    assert reg.score(X, Y) == pytest.approx(r2_score(Y, reg.predict(X)), abs=1e-15)


# ----------------------------------------------------------------------
# scikit-learn's estimator checks under constraints
# ----------------------------------------------------------------------
# Every check passes for these configurations, so none is marked expected to
# fail; the default configuration is covered by tests/test_common.py.
@parametrize_with_checks(
    [
        ConstrainedLinearRegression(positive=True),
        ConstrainedLinearRegression(sum_to=1.0),
        ConstrainedLinearRegression(bounds=(-1.0, 1.0), sum_to=0.5),
    ]
)
def test_sklearn_checks_under_constraints(estimator, check):
    check(estimator)
