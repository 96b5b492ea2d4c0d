"""simulate(): validation, errors, determinism, and agreement with the NumPy twins."""

import sys

import numba
import numpy as np
import pytest
from naive_sim import (
    current_from_path,
    exact_ou_path,
    heat_from_path,
    langevin_path,
    sgd_path,
    work_from_path,
)

import stochthermo as st
from stochthermo.errors import (
    MissingDependencyError,
    ModelError,
    ShapeError,
    SimulationError,
    ValidationError,
)
from stochthermo.models.nonlinear import DrivenTrap, NonlinearLangevin, double_well, dragged_trap
from stochthermo.simulation import LinearCurrent, _psd_sqrt, simulate

NONEQ = st.LinearLangevin([[1.0, 0.6], [-0.4, 1.5]], np.diag([1.0, 0.5]))
ROT = LinearCurrent("rot", [[0.0, -1.0], [1.0, 0.0]], [0.2, -0.1])


@numba.njit
def cubic_drift(x, t, out):
    out[0] = -x[0] ** 3 + 0.5 * np.sin(t) - 0.3 * x[1]
    out[1] = -x[1] + 0.3 * x[0]


@numba.njit
def cubic_potential(x, t):
    return 0.25 * x[0] ** 4 - 0.5 * np.sin(t) * x[0] + 0.5 * x[1] ** 2


def cubic_np(x, t):
    return np.stack([-x[:, 0] ** 3 + 0.5 * np.sin(t) - 0.3 * x[:, 1], -x[:, 1] + 0.3 * x[:, 0]],
                    axis=1)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(dt=0.0), ValidationError, "dt=0.0 must be > 0"),
        (dict(dt=-1.0), ValidationError, "dt=-1.0 must be > 0"),
        (dict(dt=float("nan")), ValidationError, "dt=nan must be finite"),
        (dict(n_traj=0), ValidationError, "n_traj=0 must be an integer >= 1"),
        (dict(n_steps=0), ValidationError, "n_steps=0"),
        (dict(x0=[1.0, 2.0, 3.0]), ShapeError, "x0 has shape \\(3,\\)"),
        (dict(x0=np.zeros((5, 2))), ShapeError, "x0 has shape \\(5, 2\\)"),
        (dict(x0=[np.nan, 0.0]), ValidationError, "x0 contains a non-finite value"),
        (dict(method="rk4"), ValidationError, "valid choices are 'euler', 'heun', 'exact'"),
        (dict(save_every=3), ValidationError, "not a multiple of save_every=3"),
        (dict(observables=("enthalpy",)), ValidationError, "unknown observable 'enthalpy'"),
        (dict(observables=("work",)), ValidationError, "has no protocol"),
        (dict(dt=None), ValidationError, "dt is required"),
    ],
)
def test_bad_input(kwargs, exc, match):
    args = dict(n_traj=4, n_steps=10, dt=0.1, seed=0)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        simulate(NONEQ, **args)


def test_bad_model_and_model_specific_errors():
    with pytest.raises(ValidationError, match="not a supported model"):
        simulate("ou", n_traj=2, n_steps=2, dt=0.1)
    sgd = st.LinearizedSGD(np.eye(2), np.eye(2), lr=0.1, batch_size=4)
    with pytest.raises(ValidationError, match="has no dt"):
        simulate(sgd, n_traj=2, n_steps=2, dt=0.1)
    with pytest.raises(ValidationError, match="valid choices are 'sgd', 'exact'"):
        simulate(sgd, n_traj=2, n_steps=2, method="euler")
    nl = NonlinearLangevin(cubic_drift, 0.5, dim=2)
    with pytest.raises(ValidationError, match="method='exact' needs a linear model"):
        simulate(nl, n_traj=2, n_steps=2, dt=0.1, method="exact")
    with pytest.raises(ValidationError, match="has no potential"):
        simulate(nl, n_traj=2, n_steps=2, dt=0.1, observables=("work",))
    singular = st.LinearLangevin(np.eye(2), np.diag([1.0, 0.0]))
    with pytest.raises(ModelError, match="D is singular"):
        simulate(singular, n_traj=2, n_steps=2, dt=0.1, observables=("heat",))
    coupled = st.LinearLangevin(np.eye(2), [[1.0, 0.5], [0.5, 1.0]])
    with pytest.raises(ModelError, match="block-diagonal"):
        simulate(coupled, n_traj=2, n_steps=2, dt=0.1, observables=("heat",))
    # without heat a singular D is fine (noise only on one coordinate)
    ens = simulate(singular, n_traj=3, n_steps=5, dt=0.1, seed=1, x0=[1.0, 1.0])
    np.testing.assert_allclose(ens.x[:, -1, 1], 0.9**5)


def test_blow_up_names_step_and_trajectory():
    m = st.LinearLangevin([[1.0]], [[1.0]])
    msg = r"trajectory \d+ left the finite numbers .* step"
    with pytest.raises(SimulationError, match=msg) as ei:
        simulate(m, n_traj=3, n_steps=2000, dt=3.0, seed=0, x0=[1.0])  # Euler unstable
    err = ei.value
    assert 0 <= err.trajectory < 3 and 1 <= err.step <= 2000
    assert err.partial["fail_step"][err.trajectory] == err.step

    @numba.njit
    def explosive(x, t, out):
        out[0] = x[0] ** 3

    with pytest.raises(SimulationError) as ei:
        simulate(NonlinearLangevin(explosive, 0.01, dim=1), n_traj=2, n_steps=500, dt=0.1,
                 x0=[2.0], seed=1)
    assert ei.value.step < 500


def test_progress_missing_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(MissingDependencyError, match=r"stochthermo\[progress\]"):
        simulate(NONEQ, n_traj=2, n_steps=10, dt=0.1, progress=True)


# ----------------------------------------------------------------------------- determinism


def _obs():
    return ("heat", "medium_entropy", ROT)


def test_threads_chunks_resume_identical():
    args = dict(n_traj=37, n_steps=400, dt=0.01, seed=11, save_every=4, observables=_obs(),
                x0="stationary", method="heun")
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(NONEQ, **args)
    finally:
        numba.set_num_threads(old)
    many = simulate(NONEQ, **args)
    chunked = simulate(NONEQ, **args, progress=True)
    np.testing.assert_array_equal(one.x, many.x)
    np.testing.assert_array_equal(one.x, chunked.x)
    for k in one.observables:
        np.testing.assert_array_equal(one.observables[k], many.observables[k])
        np.testing.assert_array_equal(one.observables[k], chunked.observables[k])
    first = simulate(NONEQ, **{**args, "n_steps": 160})
    rest = simulate(NONEQ, n_steps=240, save_every=4, resume=first)
    np.testing.assert_array_equal(rest.x, one.x[:, 40:])
    np.testing.assert_array_equal(rest.t, one.t[40:])
    for k in one.observables:
        np.testing.assert_array_equal(rest.observables[k], one.observables[k][:, 40:])
    with pytest.raises(ValidationError, match="leave seed out"):
        simulate(NONEQ, n_steps=4, resume=first, seed=3, save_every=4)
    with pytest.raises(ValidationError, match="differ from the resumed run"):
        simulate(NONEQ, n_steps=4, resume=first, method="euler", save_every=4)


def test_resume_trap_and_nonlinear_identical():
    trap = dragged_trap(2.0, 0.7, 0.5)
    args = dict(n_traj=9, n_steps=60, dt=0.02, seed=4, observables=("work", "heat"))
    whole = simulate(trap, **args, method="exact")
    a = simulate(trap, **{**args, "n_steps": 25}, method="exact")
    b = simulate(trap, n_steps=35, resume=a)
    np.testing.assert_array_equal(b.x, whole.x[:, 25:])
    np.testing.assert_array_equal(b.observables["work"], whole.observables["work"][:, 25:])
    nl = NonlinearLangevin(cubic_drift, np.diag([0.3, 0.6]), potential=cubic_potential,
                           time_dependent=True)
    args = dict(n_traj=9, n_steps=60, dt=0.02, seed=4, observables=("work", "heat"),
                method="heun", x0=[0.5, -0.5])
    whole = simulate(nl, **args)
    a = simulate(nl, **{**args, "n_steps": 30})
    b = simulate(nl, n_steps=30, resume=a)
    np.testing.assert_array_equal(b.x, whole.x[:, 30:])
    np.testing.assert_array_equal(b.observables["heat"], whole.observables["heat"][:, 30:])


def test_seed_controls_streams():
    a = simulate(NONEQ, n_traj=5, n_steps=20, dt=0.1, seed=1)
    b = simulate(NONEQ, n_traj=5, n_steps=20, dt=0.1, seed=1)
    c = simulate(NONEQ, n_traj=5, n_steps=20, dt=0.1, seed=2)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    # a larger ensemble extends a smaller one: trajectory k keeps its stream
    d = simulate(NONEQ, n_traj=8, n_steps=20, dt=0.1, seed=1)
    np.testing.assert_array_equal(a.x, d.x[:5])
    assert a.meta["method"] == "euler" and a.meta["seed"] == 1
    assert a.x.shape == (5, 21, 2) and np.allclose(a.t, 0.1 * np.arange(21))


# ----------------------------------------------------------------------------- NumPy twins


def _noise(n_traj, n, m, seed=0):
    return np.random.default_rng(seed).standard_normal((n_traj, n, m))


@pytest.mark.parametrize("method", ["euler", "heun", "exact"])
def test_linear_dense_matches_twin(method):
    m = st.LinearLangevin([[1.0, 0.6, 0.0], [-0.4, 1.5, 0.2], [0.1, 0.0, 0.8]],
                          np.diag([1.0, 0.5, 0.7]), x_star=[0.3, -0.2, 0.1], blocks=[2, 1])
    cur = LinearCurrent("c", np.arange(9.0).reshape(3, 3) / 9, [0.1, 0.0, -0.2])
    h, n, K = 0.05, 40, 6
    z = _noise(K, n, 3)
    x0 = np.random.default_rng(1).standard_normal((K, 3))
    ens = simulate(m, n_traj=K, n_steps=n, dt=h, method=method, x0=x0, _noise=z,
                   observables=("heat", "medium_entropy", cur))
    assert ens.meta["kernel"] == "dense"
    L = _psd_sqrt(2 * m.D)
    if method == "exact":
        path = exact_ou_path(m.A, m.x_star, m.D, x0, h, z)
    else:
        path = langevin_path(lambda x, t: m.drift(x), L, x0, h, z, method)
    np.testing.assert_allclose(ens.x, path, rtol=1e-12, atol=1e-12)
    Tv = np.array([m.temperatures[0]] * 2 + [m.temperatures[1]])
    heat = heat_from_path(path, lambda x, t: m.drift(x), Tv[:, None] * np.linalg.inv(m.D),
                          [0, 0, 1], 2, h)
    np.testing.assert_allclose(ens.observables["heat"], heat, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ens.observables["medium_entropy"], heat @ (1 / m.temperatures),
                               rtol=1e-10, atol=1e-12)
    W, b = cur.arrays(3)
    np.testing.assert_allclose(ens.observables["c"], current_from_path(path, W, b), atol=1e-12)


@pytest.mark.parametrize("method", ["euler", "heun", "exact"])
def test_linear_diag_fast_path_matches_twin(method):
    m = st.LinearLangevin(np.diag([1.0, 2.0, 0.5]), np.diag([0.3, 1.0, 2.0]), x_star=[1, 0, -1])
    h, n, K = 0.1, 30, 5
    z = _noise(K, n, 3, 2)
    ens = simulate(m, n_traj=K, n_steps=n, dt=h, method=method, x0=np.zeros(3), _noise=z,
                   observables=("heat",), save_every=3)
    assert ens.meta["kernel"] == "diag"
    x0 = np.zeros((K, 3))
    if method == "exact":
        path = exact_ou_path(m.A, m.x_star, m.D, x0, h, z)
    else:
        path = langevin_path(lambda x, t: m.drift(x), _psd_sqrt(2 * m.D), x0, h, z, method)
    np.testing.assert_allclose(ens.x, path[:, ::3], rtol=1e-12, atol=1e-12)
    heat = heat_from_path(path, lambda x, t: m.drift(x), np.eye(3), [0, 1, 2], 3, h)
    np.testing.assert_allclose(ens.observables["heat"], heat[:, ::3], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["euler", "heun", "exact"])
def test_driven_trap_matches_twin_and_first_law(method):
    K = np.array([[2.0, 0.3], [0.3, 1.0]])
    trap = DrivenTrap(K, 0.7, centre=lambda t: [np.sin(t), 0.5 * t],
                      stiffness_scale=lambda t: 1.0 + 0.5 * t)
    h, n, Kt = 0.05, 30, 5
    z = _noise(Kt, n, 2, 3)
    x0 = np.random.default_rng(4).standard_normal((Kt, 2))
    ens = simulate(trap, n_traj=Kt, n_steps=n, dt=h, method=method, x0=x0, _noise=z,
                   observables=("heat", "work", ROT))

    def drift(x, t):
        c = trap.centre_at([t])[0]
        return -trap.scale_at([t])[0] * (x - c) @ K

    def pot(x, t):
        return trap.potential(x, t)

    if method == "exact":
        rows = [x0]
        x = x0.copy()
        for j in range(n):
            t = j * h
            step = exact_ou_path(trap.scale_at([t])[0] * K, trap.centre_at([t])[0], trap.D,
                                 x, h, z[:, j:j + 1])
            x = step[:, 1]
            rows.append(x)
        path = np.stack(rows, axis=1)
    else:
        path = langevin_path(drift, np.sqrt(2 * 0.7) * np.eye(2), x0, h, z, method)
    np.testing.assert_allclose(ens.x, path, rtol=1e-11, atol=1e-11)
    work = work_from_path(path, pot, h)
    heat = heat_from_path(path, drift, np.eye(2), [0, 0], 1, h)
    np.testing.assert_allclose(ens.observables["work"], work, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(ens.observables["heat"], heat, rtol=1e-10, atol=1e-11)
    # first law per trajectory: U(x_N, t_N) - U(x_0, 0) = W - Q
    dU = pot(ens.x[:, -1], n * h) - pot(ens.x[:, 0], 0.0)
    np.testing.assert_allclose(dU, ens.observables["work"][:, -1]
                               - ens.observables["heat"][:, -1, 0], atol=1e-10)


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_nonlinear_matches_twin(method):
    D = np.diag([0.3, 0.6])
    nl = NonlinearLangevin(cubic_drift, D, potential=cubic_potential, time_dependent=True)
    h, n, K = 0.05, 30, 5
    z = _noise(K, n, 2, 5)
    x0 = np.random.default_rng(6).standard_normal((K, 2))
    ens = simulate(nl, n_traj=K, n_steps=n, dt=h, method=method, x0=x0, _noise=z,
                   observables=("heat", "work", ROT), save_every=2)
    path = langevin_path(cubic_np, np.sqrt(2 * D), x0, h, z, method)
    np.testing.assert_allclose(ens.x, path[:, ::2], rtol=1e-11, atol=1e-12)
    heat = heat_from_path(path, cubic_np, np.diag(nl.temperatures) @ np.linalg.inv(D), [0, 1], 2,
                          h)
    np.testing.assert_allclose(ens.observables["heat"], heat[:, ::2], rtol=1e-10, atol=1e-12)

    def pot(x, t):
        return 0.25 * x[:, 0] ** 4 - 0.5 * np.sin(t) * x[:, 0] + 0.5 * x[:, 1] ** 2

    np.testing.assert_allclose(ens.observables["work"], work_from_path(path, pot, h)[:, ::2],
                               rtol=1e-10, atol=1e-12)
    W, b = ROT.arrays(2)
    np.testing.assert_allclose(ens.observables["rot"], current_from_path(path, W, b)[:, ::2],
                               atol=1e-12)


def test_double_well_model_matches_twin():
    dw = double_well(1.5, 0.4, tilt=0.2)
    h, n, K = 0.01, 50, 4
    z = _noise(K, n, 1, 8)
    ens = simulate(dw, n_traj=K, n_steps=n, dt=h, method="heun", x0=[1.0], _noise=z)

    def f(x, t):
        return -4 * 1.5 * x * (x**2 - 1) + 0.2

    path = langevin_path(f, np.sqrt(0.8) * np.eye(1), np.ones((K, 1)), h, z, "heun")
    np.testing.assert_allclose(ens.x, path, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_sgd_matches_twin(momentum):
    H = np.array([[2.0, 0.5], [0.5, 1.0]])
    S = np.array([[1.0, 0.3], [0.3, 0.5]])
    sgd = st.LinearizedSGD(H, S, lr=0.1, batch_size=4, momentum=momentum, theta_star=[1, -1])
    n, K = 25, 4
    z = _noise(K, n, 2, 9)
    ens = simulate(sgd, n_traj=K, n_steps=n, x0=[0.0, 0.0], _noise=z, observables=(ROT,))
    path = sgd_path(sgd, np.zeros((K, 2)), z)
    np.testing.assert_allclose(ens.x, path, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ens.t, 0.1 * np.arange(n + 1))
    W, b = ROT.arrays(2)
    np.testing.assert_allclose(ens.observables["rot"], current_from_path(path, W, b), atol=1e-12)


def test_sgd_diagonal_fast_path_matches_twin():
    sgd = st.LinearizedSGD(np.diag([2.0, 1.0]), np.diag([1.0, 0.5]), lr=0.05, batch_size=2)
    z = _noise(3, 20, 2, 10)
    ens = simulate(sgd, n_traj=3, n_steps=20, x0=[1.0, 1.0], _noise=z, observables=("heat",))
    assert ens.meta["kernel"] == "diag"
    np.testing.assert_allclose(ens.x, sgd_path(sgd, np.ones((3, 2)), z), rtol=1e-12, atol=1e-13)


def test_scalar_fast_path_uses_the_trajectory_streams():
    from stochthermo.simulation import standard_normals

    m = st.LinearLangevin([[1.5]], [[0.4]], x_star=[0.2])
    h, n, K = 0.1, 50, 7
    ens = simulate(m, n_traj=K, n_steps=n, dt=h, seed=21, x0=[1.0], save_every=5)
    z = standard_normals(21, K, n)[:, :, None]
    path = langevin_path(lambda x, t: m.drift(x), np.sqrt(0.8) * np.eye(1), np.ones((K, 1)), h,
                         z, "euler")
    np.testing.assert_allclose(ens.x, path[:, ::5], rtol=1e-12, atol=1e-13)
    # and the same run with heat (general diagonal loop) has the same states
    ens2 = simulate(m, n_traj=K, n_steps=n, dt=h, seed=21, x0=[1.0], save_every=5,
                    observables=("heat",))
    np.testing.assert_array_equal(ens.x, ens2.x)
