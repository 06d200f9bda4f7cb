import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skportfolio._constraints import LinearConstraints
from skportfolio._qp import QuadraticProgram, _rcond, solve_qp
from skportfolio.exceptions import (
    InfeasibleConstraintsError,
    NotPositiveSemidefiniteError,
)
from tests.reference import reference_least_squares, reference_qp


def random_problem(seed, n, rank=None, n_eq=1, n_ub=2):
    """A feasible QP: budget-like equalities, random inequalities, box bounds."""
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((rank or n + 5, n))
    P = F.T @ F / F.shape[0]
    q = rng.standard_normal(n)
    x_feasible = rng.dirichlet(np.ones(n))
    A_eq = np.vstack([np.ones(n), rng.standard_normal((n_eq - 1, n))])
    b_eq = A_eq @ x_feasible
    A_ub = rng.standard_normal((n_ub, n))
    b_ub = A_ub @ x_feasible + rng.uniform(0, 0.1, n_ub)
    ub = np.maximum(0.6, x_feasible + 0.01)
    return dict(P=P, q=q, A_eq=A_eq, b_eq=b_eq, A_ub=A_ub, b_ub=b_ub, lb=0.0, ub=ub)


def assert_kkt(res, P, q, A_eq, b_eq, A_ub, b_ub, lb, ub, tol=1e-8):
    n = len(q)
    lb, ub = np.broadcast_to(lb, (n,)), np.broadcast_to(ub, (n,))
    x = res.x
    gradient = P @ x + q + A_eq.T @ res.eq + A_ub.T @ res.ineq - res.lower + res.upper
    scale = 1 + np.abs(P @ x).max() + np.abs(q).max()
    assert np.abs(gradient).max() <= tol * scale
    # feasibility to 1e-12
    assert np.abs(A_eq @ x - b_eq).max() <= 1e-12
    assert np.max(A_ub @ x - b_ub, initial=-np.inf) <= 1e-12
    assert np.all(x >= lb) and np.all(x <= ub)
    # dual feasibility and complementary slackness
    for mult in (res.ineq, res.lower, res.upper):
        assert np.all(mult >= 0)
    assert np.abs(res.ineq * (b_ub - A_ub @ x)).max(initial=0) <= tol * scale
    assert np.abs(res.lower * (x - lb)).max() <= tol * scale
    assert np.abs(res.upper * (ub - x)).max() <= tol * scale


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30), n_eq=st.integers(1, 2))
def test_strictly_convex_qp_matches_reference_and_kkt(seed, n, n_eq):
    problem = random_problem(seed, n, n_eq=n_eq)
    res = solve_qp(**problem)
    _, ref_obj = reference_qp(**problem)
    assert res.objective <= ref_obj + 1e-9 * max(1, abs(ref_obj))
    assert res.n_proximal == 0
    assert_kkt(res, **problem)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n, rank", [(20, 5), (40, 10), (10, 1)])
def test_semidefinite_qp_is_optimal(seed, n, rank):
    problem = random_problem(seed, n, rank=rank)
    res = solve_qp(**problem)
    _, ref_obj = reference_qp(**problem)
    assert res.n_proximal >= 1
    assert abs(res.objective - ref_obj) <= 1e-9 * max(1, abs(ref_obj))
    assert_kkt(res, **problem, tol=1e-6)


def test_zero_hessian_is_a_linear_programme():
    # minimise q'x on the simplex: the optimum is the vertex with the smallest q
    q = np.array([0.3, -0.2, 0.1, -0.1])
    res = solve_qp(np.zeros((4, 4)), q, A_eq=np.ones((1, 4)), b_eq=[1], lb=0)
    np.testing.assert_allclose(res.x, [0, 1, 0, 0], atol=1e-9)
    assert res.objective == pytest.approx(-0.2, abs=1e-12)


def test_factor_input_matches_hessian_input():
    problem = random_problem(3, 12)
    R = np.linalg.cholesky(problem["P"]).T
    by_P = solve_qp(**problem)
    by_R = solve_qp(**{**problem, "P": None}, R=R)
    np.testing.assert_allclose(by_R.x, by_P.x, atol=1e-12)
    assert by_R.objective == pytest.approx(by_P.objective, rel=1e-13)


def test_a_known_rcond_of_the_factor_is_used_as_given():
    problem = random_problem(4, 10)
    R = np.linalg.cholesky(problem["P"]).T
    c = LinearConstraints.from_arrays(
        10, **{k: problem[k] for k in ("A_eq", "b_eq", "A_ub", "b_ub", "lb", "ub")}
    )
    estimated = QuadraticProgram(c, R=R).solve(problem["q"])
    given_rcond = QuadraticProgram(c, R=R, rcond=_rcond(R)).solve(problem["q"])
    np.testing.assert_array_equal(given_rcond.x, estimated.x)
    assert given_rcond.n_proximal == 0
    # An rcond below FACTOR_RCOND_MIN is believed: the factor is regularised.
    believed = QuadraticProgram(c, R=R, rcond=1e-12)
    assert believed.delta > 0
    np.testing.assert_allclose(believed.solve(problem["q"]).x, estimated.x, atol=1e-9)


def test_unconstrained_closed_form():
    P = np.array([[2.0, 0.5], [0.5, 1.0]])
    q = np.array([1.0, -1.0])
    res = solve_qp(P, q)
    np.testing.assert_allclose(res.x, np.linalg.solve(P, -q), rtol=1e-14)


def test_one_factorisation_serves_many_linear_terms():
    problem = random_problem(7, 8)
    c = LinearConstraints.from_arrays(
        8, **{k: problem[k] for k in ("A_eq", "b_eq", "A_ub", "b_ub", "lb", "ub")}
    )
    qp = QuadraticProgram(c, P=problem["P"])
    for shift in (0.0, 1.0, -2.0):
        q = problem["q"] + shift
        expected = solve_qp(**{**problem, "q": q})
        np.testing.assert_allclose(qp.solve(q).x, expected.x, atol=1e-13)


def test_inputs_are_not_mutated():
    problem = random_problem(1, 6)
    copies = {k: np.copy(v) for k, v in problem.items()}
    solve_qp(**problem)
    for k, v in problem.items():
        np.testing.assert_array_equal(v, copies[k])


def test_budget_conflicting_with_bounds_names_both():
    with pytest.raises(
        InfeasibleConstraintsError, match="at most 0.5, but it must equal 1"
    ):
        solve_qp(
            np.eye(10), np.zeros(10), A_eq=np.ones((1, 10)), b_eq=[1], lb=0, ub=0.05
        )


def test_lower_bound_above_upper_bound():
    with pytest.raises(
        InfeasibleConstraintsError,
        match="lower bound 0.6 exceeds the upper bound 0.5 for 'x1'",
    ):
        solve_qp(np.eye(2), np.zeros(2), lb=[0, 0.6], ub=0.5)


def test_inequality_forced_beyond_its_limit():
    with pytest.raises(
        InfeasibleConstraintsError, match="at least 0.2, but it must be at most 0.1"
    ):
        solve_qp(np.eye(2), np.zeros(2), A_ub=[[1, 1]], b_ub=[0.1], lb=0.1)


def test_jointly_infeasible_rows_are_detected():
    # each row is satisfiable within the box, but not both together
    with pytest.raises(InfeasibleConstraintsError, match="cannot all hold at once"):
        solve_qp(
            np.eye(2),
            np.zeros(2),
            A_eq=[[1, 1]],
            b_eq=[1],
            A_ub=[[1, -1], [-1, 1]],
            b_ub=[-0.5, -0.5],
            lb=0,
            ub=1,
        )


def test_contradictory_duplicate_equalities():
    with pytest.raises(InfeasibleConstraintsError, match="contradicts"):
        solve_qp(np.eye(2), np.zeros(2), A_eq=[[1, 1], [2, 2]], b_eq=[1, 3])


def test_redundant_equalities_are_dropped_and_multipliers_reported():
    res = solve_qp(np.eye(2), np.zeros(2), A_eq=[[1, 1], [2, 2]], b_eq=[1, 2])
    np.testing.assert_allclose(res.x, [0.5, 0.5], atol=1e-15)
    # stationarity still holds with the reported multipliers
    np.testing.assert_allclose(
        res.x + np.array([[1, 1], [2, 2]]).T @ res.eq, 0, atol=1e-14
    )


def test_indefinite_hessian_raises():
    with pytest.raises(NotPositiveSemidefiniteError, match="smallest eigenvalue is -1"):
        solve_qp(np.diag([1.0, -1.0]), np.zeros(2))


def test_fixed_variables_via_equal_bounds():
    res = solve_qp(
        np.eye(3),
        [-1, -2, -3],
        A_eq=[[1, 1, 1]],
        b_eq=[1],
        lb=[0, 0.2, 0],
        ub=[1, 0.2, 1],
    )
    np.testing.assert_array_equal(res.x, [0.0, 0.2, 0.8])


@pytest.mark.parametrize("linear", [[-1.0, 3.0], [3.0, -1.0], [0.0, 0.0]])
def test_single_feasible_point_from_a_corner_row(linear):
    # budget 1 with both weights capped at 0.5: only (0.5, 0.5) is feasible,
    # a degenerate active set that quadprog alone cannot handle
    P = np.diag([1.0, 2.0])
    res = solve_qp(P, linear, A_eq=[[1, 1]], b_eq=[1], lb=0, ub=0.5)
    np.testing.assert_array_equal(res.x, [0.5, 0.5])
    assert_kkt(
        res,
        P,
        np.array(linear),
        np.array([[1.0, 1.0]]),
        np.array([1.0]),
        np.zeros((0, 2)),
        np.zeros(0),
        0.0,
        0.5,
    )


def test_corner_row_pins_part_of_the_variables():
    # x0 + x1 <= 0 with x >= 0 pins x0 = x1 = 0; x2, x3 stay free
    P = np.eye(4)
    q = np.array([-1.0, -1.0, -0.2, -0.4])
    A_ub, b_ub = np.array([[1.0, 1.0, 0, 0]]), np.array([0.0])
    A_eq, b_eq = np.array([[1.0, 1, 1, 1]]), np.array([1.0])
    res = solve_qp(P, q, A_eq=A_eq, b_eq=b_eq, A_ub=A_ub, b_ub=b_ub, lb=0, ub=1)
    _, ref = reference_qp(P, q, A_eq=A_eq, b_eq=b_eq, A_ub=A_ub, b_ub=b_ub, lb=0, ub=1)
    np.testing.assert_allclose(res.x, [0, 0, 0.4, 0.6], atol=1e-14)
    assert res.objective <= ref + 1e-10
    assert_kkt(res, P, q, A_eq, b_eq, A_ub, b_ub, 0.0, 1.0)


def ill_conditioned_factor(seed, n, condition):
    """The R of a QR decomposition of a design with singular values 1 ... 1/condition."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((4 * n, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    X = (U * np.logspace(0, -np.log10(condition), n)) @ V.T
    return np.linalg.qr(X, mode="r")


@pytest.mark.parametrize("condition", [1e7, 1e8, 1e9])
@pytest.mark.parametrize("seed", range(3))
def test_ill_conditioned_factor_is_solved_without_regularisation(condition, seed):
    # quadprog works on R^{-1}: cond(R) = 1e9 squares to cond(P) = 1e18, far
    # beyond what a Cholesky factor of P could carry, yet needs no proximal
    # steps. Reference: the least-squares form min ||R x - z||^2, whose
    # objective is twice the QP's plus ||z||^2, solved by Clarabel.
    n = 15
    R = ill_conditioned_factor(seed, n, condition)
    rng = np.random.default_rng(100 + seed)
    z = R @ rng.dirichlet(np.ones(n)) + 0.1 * rng.standard_normal(n)
    constraints = dict(A_eq=np.ones((1, n)), b_eq=[1.0], lb=0.0)
    res = solve_qp(None, -R.T @ z, R=R, **constraints)
    assert res.n_proximal == 0
    objective = np.sum((R @ res.x - z) ** 2)
    assert objective == pytest.approx(2 * res.objective + z @ z, rel=1e-12)
    _, ref_obj = reference_least_squares(R, z, **constraints)
    assert objective <= ref_obj * (1 + 1e-9)
    assert abs(res.x.sum() - 1.0) <= 1e-12 and np.all(res.x >= 0)


def test_factor_of_a_singular_matrix_is_regularised():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((30, 6))
    X[:, 5] = X[:, 0] - X[:, 3]
    R = np.linalg.qr(X, mode="r")
    z = rng.standard_normal(6)
    res = solve_qp(None, -R.T @ z, R=R, A_eq=np.ones((1, 6)), b_eq=[1.0], lb=0.0)
    assert res.n_proximal >= 1
    _, ref_obj = reference_least_squares(R, z, A_eq=np.ones((1, 6)), b_eq=[1.0], lb=0.0)
    assert np.sum((R @ res.x - z) ** 2) <= ref_obj + 1e-9 * max(1.0, ref_obj)


def test_rcond_of_singular_and_non_finite_factors_is_zero():
    R = np.triu(np.random.default_rng(9).uniform(1, 2, (4, 4)))
    assert _rcond(R) > 0
    for value in (0.0, np.nan):
        broken = R.copy()
        broken[2, 2] = value
        assert _rcond(broken) == 0.0


@pytest.mark.parametrize(
    "case", ["definite", "semidefinite", "pinned", "all pinned", "factor"]
)
def test_minimiser_is_the_x_of_solve(case):
    """``minimiser`` skips the objective and the multipliers, nothing else."""
    rng = np.random.default_rng(21)
    n = 6
    M = rng.standard_normal((10, n))
    if case == "semidefinite":
        M[:, 5] = M[:, 0] + M[:, 1]
    P, q = M.T @ M, rng.standard_normal(n)
    kwargs = dict(A_eq=np.ones((1, n)), b_eq=[1.0], lb=0.0, ub=1.0)
    if case == "pinned":
        kwargs["ub"] = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    if case == "all pinned":
        kwargs.update(lb=1.0 / n, ub=1.0 / n)
    constraints = LinearConstraints.from_arrays(n, **kwargs)
    operands = {"R": np.linalg.qr(M, mode="r")} if case == "factor" else {"P": P}
    program = QuadraticProgram(constraints, **operands)
    # Each case takes its own path through the QP layer.
    assert (getattr(program, "delta", 0) > 0) == (case == "semidefinite")
    assert (program._inner is not None) == case.endswith("pinned")
    assert (program._inner is False) == (case == "all pinned")
    x = program.minimiser(q)
    np.testing.assert_array_equal(x, program.solve(q).x)
    _, reference = reference_qp(P, q, **kwargs)
    assert 0.5 * x @ P @ x + q @ x <= reference + 1e-9
    constraints.verify(x)
