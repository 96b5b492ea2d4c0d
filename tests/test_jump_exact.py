"""Exact thermodynamics of Markov jump processes (theory/jump.md)."""

import numpy as np
import pytest
import scipy.linalg as sla

import stochthermo as st
from stochthermo import _exact_jump as ej
from stochthermo.errors import ModelError, ShapeError, ValidationError


def random_bipartite(rng, nx, ny, spread=1.0):
    """Random rates exp(spread * N(0,1)) on every x- and y-jump (fully connected)."""
    wx = np.exp(spread * rng.standard_normal((ny, nx, nx)))
    wy = np.exp(spread * rng.standard_normal((nx, ny, ny)))
    return st.BipartiteJump(wx, wy)


def detailed_balance_bipartite(rng, nx, ny):
    """Rates from energies and symmetric barriers: W_ij = exp(E_j - B_ij)."""
    E = rng.standard_normal((nx, ny))
    wx = np.empty((ny, nx, nx))
    for y in range(ny):
        B = rng.standard_normal((nx, nx))
        B = B + B.T + 3.0
        wx[y] = np.exp(E[None, :, y] - B)
    wy = np.empty((nx, ny, ny))
    for x in range(nx):
        B = rng.standard_normal((ny, ny))
        B = B + B.T + 3.0
        wy[x] = np.exp(E[x][None, :] - B)
    return st.BipartiteJump(wx, wy), E


SIZES = [(2, 2), (2, 3), (3, 2), (3, 3), (4, 4), (2, 4)]


def test_two_state_closed_form():
    m = st.MarkovJump([[0.0, 2.0], [3.0, 0.0]])  # 0 -> 1 at 3, 1 -> 0 at 2
    p = st.exact.stationary_distribution(m)
    np.testing.assert_allclose(p, [0.4, 0.6], rtol=1e-15)
    assert st.exact.entropy_production(m) == pytest.approx(0.0, abs=1e-15)


def test_sensor_closed_forms():
    w, a, b = 0.7, 3.0, 0.4
    m = st.BipartiteJump.sensor(w, a, b)
    q = (a + w) / (a + b + 2 * w)  # probability that the sensor matches the signal
    p = st.exact.stationary_distribution(m, grid=True)
    np.testing.assert_allclose(p, [[q / 2, (1 - q) / 2], [(1 - q) / 2, q / 2]], rtol=1e-14)
    flux = a * (1 - q) - b * q  # net aligning current (both signal values together)
    ix, iy = st.exact.information_flow(m)
    assert ix == pytest.approx(flux * np.log(q / (1 - q)), rel=1e-13)
    assert iy == pytest.approx(-ix, rel=1e-13)
    sx, sy = st.exact.environment_entropy_flows(m)
    assert sx == pytest.approx(flux * np.log(a / b), rel=1e-13)
    assert sy == 0.0
    assert st.exact.learning_efficiency(m) == pytest.approx(np.log(q / (1 - q)) / np.log(a / b),
                                                            rel=1e-13)
    mi = q * np.log(2 * q) + (1 - q) * np.log(2 * (1 - q))
    assert st.exact.mutual_information(m) == pytest.approx(mi, rel=1e-13)


@pytest.mark.parametrize("nx,ny", SIZES)
def test_steady_state_identities(nx, ny):
    rng = np.random.default_rng(100 * nx + ny)
    m = random_bipartite(rng, nx, ny)
    p = st.exact.stationary_distribution(m)
    assert np.abs(m.generator @ p).max() < 1e-14
    J = st.exact.probability_currents(m)
    np.testing.assert_allclose(J, -J.T, atol=0)
    assert np.abs(J.sum(axis=1)).max() < 1e-14
    sigma = st.exact.entropy_production(m)
    ix, iy = st.exact.information_flow(m)
    assert abs(ix + iy) < 1e-10 * max(1.0, abs(ix))
    sub = st.exact.subsystem_entropy_production(m)
    assert np.all(sub >= 0)
    assert sub.sum() == pytest.approx(sigma, rel=1e-10, abs=1e-12)
    env = st.exact.environment_entropy_flows(m)
    dS = ej.shannon_entropy_rates(m)
    np.testing.assert_allclose(dS, 0.0, atol=1e-12)
    np.testing.assert_allclose(sub, dS + env - np.array([ix, iy]), rtol=1e-10, atol=1e-12)
    # Schnakenberg: in a steady state sigma is the total entropy flow into the reservoirs
    assert env.sum() == pytest.approx(sigma, rel=1e-10)
    for learner in ("x", "y"):
        eta = st.exact.learning_efficiency(m, learner=learner)
        k = 0 if learner == "x" else 1
        if env[k] > 0:
            assert eta <= 1.0 + 1e-12


@pytest.mark.parametrize("nx,ny", SIZES)
def test_transient_identities(nx, ny):
    rng = np.random.default_rng(7 + 10 * nx + ny)
    m = random_bipartite(rng, nx, ny)
    p0 = rng.dirichlet(np.ones(nx * ny))
    t = np.array([0.0, 0.05, 0.3, 1.0])
    P = st.exact.transient_distribution(m, t, p0=p0)
    assert P.shape == (4, nx * ny)
    np.testing.assert_allclose(P[0], p0, atol=1e-15)
    flows = st.exact.information_flow(m, p=P)
    dI = ej.mutual_information_rate(m, p=P)
    np.testing.assert_allclose(flows.sum(axis=1), dI, rtol=1e-10, atol=1e-12)
    # dI/dt against a centred finite difference of I(t)
    h = 1e-5
    for tk, d in zip(t[1:], dI[1:]):
        Ip = st.exact.mutual_information(m, p=st.exact.transient_distribution(m, tk + h, p0=p0))
        Im = st.exact.mutual_information(m, p=st.exact.transient_distribution(m, tk - h, p0=p0))
        assert (Ip - Im) / (2 * h) == pytest.approx(d, rel=1e-5, abs=1e-8)
    sub = st.exact.subsystem_entropy_production(m, p=P)
    sigma = st.exact.entropy_production(m, p=P)
    assert np.all(sub >= -1e-15)
    np.testing.assert_allclose(sub.sum(axis=1), sigma, rtol=1e-10)
    env = st.exact.environment_entropy_flows(m, p=P)
    dS = ej.shannon_entropy_rates(m, p=P)
    np.testing.assert_allclose(sub, dS + env - flows, rtol=1e-10, atol=1e-12)


def test_transient_matches_expm_and_tends_to_stationary():
    rng = np.random.default_rng(3)
    m = random_bipartite(rng, 3, 2)
    P = st.exact.transient_distribution(m, 0.4, p0=0)
    np.testing.assert_allclose(P, sla.expm(0.4 * m.generator)[:, 0], rtol=1e-12)
    late = st.exact.transient_distribution(m, 200.0, p0=0)
    np.testing.assert_allclose(late, st.exact.stationary_distribution(m), rtol=1e-10)


@pytest.mark.parametrize("nx,ny", [(2, 2), (3, 3), (2, 4)])
def test_detailed_balance_gives_zero(nx, ny):
    m, E = detailed_balance_bipartite(np.random.default_rng(nx * ny), nx, ny)
    p = st.exact.stationary_distribution(m, grid=True)
    np.testing.assert_allclose(p, np.exp(-E) / np.exp(-E).sum(), rtol=1e-12)
    assert st.exact.detailed_balance(m).holds
    assert abs(st.exact.entropy_production(m)) < 1e-10
    np.testing.assert_allclose(st.exact.information_flow(m), 0.0, atol=1e-10)
    np.testing.assert_allclose(st.exact.subsystem_entropy_production(m), 0.0, atol=1e-10)
    np.testing.assert_allclose(st.exact.environment_entropy_flows(m), 0.0, atol=1e-10)
    assert np.isnan(st.exact.learning_efficiency(m)) or abs(
        st.exact.environment_entropy_flows(m)[0]) < 1e-12


def test_non_equilibrium_is_not_detailed_balance():
    m = st.BipartiteJump.sensor(1.0, 4.0, 0.5)
    db = st.exact.detailed_balance(m)
    assert not db.holds and db.violation > 0.1
    assert st.exact.entropy_production(m) > 0


def test_stiff_rates_keep_relative_accuracy():
    """Rates spanning 1e-6..1e6: every stationary probability to ~1e-13 relative error."""
    sp = pytest.importorskip("sympy")
    rng = np.random.default_rng(11)
    n = 5
    W = np.zeros((n, n))
    for i in range(n - 1):  # a chain pushed strongly upwards, closed into a cycle
        W[i + 1, i] = 10.0 ** rng.uniform(3, 6)
        W[i, i + 1] = 10.0 ** rng.uniform(-6, -3)
    W[0, n - 1], W[n - 1, 0] = 10.0 ** rng.uniform(-6, -5, size=2)
    m = st.MarkovJump(W)
    p = st.exact.stationary_distribution(m)
    Wq = sp.Matrix(n, n, lambda i, j: sp.Rational(W[i, j]) if i != j else 0)
    G = Wq - sp.diag(*[sum(Wq[:, j]) for j in range(n)])
    A = G.copy()
    A[n - 1, :] = sp.ones(1, n)
    exact = A.LUsolve(sp.Matrix([0] * (n - 1) + [1]))
    ref = np.array([float(v) for v in exact])
    assert ref.min() < 1e-9 * ref.max()  # the test is stiff: probabilities span many decades
    np.testing.assert_allclose(p, ref, rtol=1e-12)
    # the quantities stay finite and consistent
    sigma = st.exact.entropy_production(m)
    assert np.isfinite(sigma) and sigma >= 0
    assert st.exact.environment_entropy_flows(m).sum() == pytest.approx(sigma, rel=1e-9)


def test_general_model_reservoirs():
    rng = np.random.default_rng(5)
    W = np.exp(rng.standard_normal((3, 3)))
    res = np.array([[0, 0, 1], [0, 0, 1], [1, 1, 0]])
    m = st.MarkovJump(W, reservoirs=res)
    assert m.n_reservoirs == 2
    env = st.exact.environment_entropy_flows(m)
    assert env.shape == (2,)
    assert env.sum() == pytest.approx(st.exact.entropy_production(m), rel=1e-12)
    with pytest.raises(ModelError, match="bipartite"):
        st.exact.information_flow(m)


def test_exact_dispatch_keeps_langevin_working():
    lm = st.LinearLangevin([[1.0, 1.0], [-1.0, 1.0]], np.eye(2))
    assert st.exact.entropy_production(lm) == pytest.approx(2.0)
    with pytest.raises(ValidationError, match="p="):
        st.exact.entropy_production(lm, p=[0.5, 0.5])
    jm = st.BipartiteJump.sensor(1.0, 2.0, 1.0)
    with pytest.raises(ValidationError, match="Langevin"):
        st.exact.information_flow(jm, cov=np.eye(2))
    assert set(st.exact.summary(jm)) >= {"information_flows", "learning_efficiency"}


def test_bad_models():
    with pytest.raises(ValidationError, match="negative"):
        st.MarkovJump([[0.0, -1.0], [1.0, 0.0]])
    with pytest.raises(ValidationError, match="non-finite"):
        st.MarkovJump([[0.0, np.nan], [1.0, 0.0]])
    with pytest.raises(ValidationError, match="non-finite"):
        st.MarkovJump([[0.0, np.inf], [1.0, 0.0]])
    with pytest.raises(ModelError, match="reverse"):
        st.MarkovJump([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    with pytest.raises(ModelError, match="irreducible"):
        st.MarkovJump(np.kron(np.eye(2), [[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(ShapeError):
        st.MarkovJump(np.ones((2, 3)))
    with pytest.raises(ShapeError):
        st.MarkovJump([[1.0]])
    with pytest.raises(ValidationError, match="at most"):
        st.BipartiteJump(np.ones((65, 64, 64)), np.ones((64, 65, 65)))
    with pytest.raises(ShapeError, match="wy"):
        st.BipartiteJump(np.ones((2, 3, 3)), np.ones((2, 2, 2)))
    wx = np.ones((2, 2, 2))
    wx[0, 1, 0] = 0.0
    with pytest.raises(ModelError, match=r"wx\[0, 0, 1\]"):
        st.BipartiteJump(wx, np.ones((2, 2, 2)))
    with pytest.raises(ValidationError, match="w="):
        st.BipartiteJump.sensor(-1.0, 1.0, 1.0)
    with pytest.raises(ValidationError, match="must lie in"):
        st.MarkovJump([[0.0, 1e120], [1.0, 0.0]])
    with pytest.raises(ValidationError, match="must lie in"):
        st.MarkovJump([[0.0, 1e-300], [1.0, 0.0]])
    chain = np.diag(np.full(4, 1e90), -1) + np.diag(np.full(4, 1e-90), 1)  # p ratios 1e180 per step
    with pytest.raises(ModelError, match="underflows"):
        st.exact.stationary_distribution(st.MarkovJump(chain))
    with pytest.raises(ValidationError, match="reservoirs"):
        st.MarkovJump(np.ones((2, 2)), reservoirs=[[0, 1], [0, 0]])


def test_bad_distributions():
    m = st.BipartiteJump.sensor(1.0, 2.0, 1.0)
    with pytest.raises(ValidationError, match="sum to 1"):
        st.exact.entropy_production(m, p=[0.5, 0.5, 0.5, 0.5])
    with pytest.raises(ValidationError, match="negative"):
        st.exact.entropy_production(m, p=[1.5, -0.5, 0.0, 0.0])
    with pytest.raises(ShapeError):
        st.exact.entropy_production(m, p=[0.5, 0.5])
    with pytest.raises(ValidationError, match="t="):
        st.exact.transient_distribution(m, -1.0, p0=0)
    with pytest.raises(ValidationError, match="state index"):
        st.exact.transient_distribution(m, 1.0, p0=7)


def test_reprs_are_bounded():
    m = random_bipartite(np.random.default_rng(0), 30, 30)
    assert len(repr(m)) < 200
    assert len(repr(st.MarkovJump(m.W))) < 200
