"""Gillespie ensembles of jump processes: twin, determinism, statistics against exact values."""

import numba
import numpy as np
import pytest
from naive_jump import gillespie_path

import stochthermo as st
from stochthermo import _exact_jump as ej
from stochthermo._rng import trajectory_seeds
from stochthermo._simulate_jump import simulate_jump
from stochthermo.errors import ModelError, ResourceError, ValidationError


def _model(seed=0, nx=3, ny=2):
    rng = np.random.default_rng(seed)
    wx = np.exp(rng.standard_normal((ny, nx, nx)))
    wy = np.exp(rng.standard_normal((nx, ny, ny)))
    return st.BipartiteJump(wx, wy)


def _info(m):
    p = ej.stationary_distribution(m)
    pg = p.reshape(m.nx, m.ny)
    px, py = pg.sum(1), pg.sum(0)

    def f(j, i):
        (xj, yj), (xi, yi) = m.state(j), m.state(i)
        if yi == yj:
            return np.array([np.log(p[i] / px[xi]) - np.log(p[j] / px[xj]), 0.0])
        return np.array([0.0, np.log(p[i] / py[yi]) - np.log(p[j] / py[yj])])

    return f


@pytest.mark.parametrize("start", ["stationary", 2])
def test_kernel_matches_naive_twin(start):
    m = _model(1)
    n_traj, t_max = 5, 7.0
    x0 = None if start == "stationary" else start
    ens = simulate_jump(m, n_traj=n_traj, t_max=t_max, n_steps=20, seed=42, x0=x0)
    seeds = trajectory_seeds(42, n_traj)
    p = ej.stationary_distribution(m)
    for k in range(n_traj):
        states, counts, acc, resid, nj = gillespie_path(
            m.W, seeds[k], t_max, ens.times, start=x0, p0=p, reservoirs=m.reservoirs,
            info=_info(m))
        np.testing.assert_array_equal(ens.states[k], states)
        np.testing.assert_array_equal(ens.counts[k], counts)
        np.testing.assert_allclose(ens.observables["entropy_flow"][k], acc[:2], rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(ens.observables["information_flow"][k], acc[2:], rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(ens.observables["residence"][k], resid, rtol=1e-12)
        assert ens.observables["n_jumps"][k] == nj == counts.sum()
    np.testing.assert_allclose(ens.observables["residence"].sum(axis=1), t_max, rtol=1e-12)


def test_same_result_for_any_thread_count_and_chunking():
    m = st.BipartiteJump.sensor(1.0, 3.0, 0.5)
    kw = dict(n_traj=37, t_max=5.0, seed=7)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate_jump(m, **kw)
    finally:
        numba.set_num_threads(old)
    many = simulate_jump(m, **kw)
    chunked = simulate_jump(m, chunk_size=5, **kw)
    for other in (many, chunked):
        np.testing.assert_array_equal(one.states, other.states)
        np.testing.assert_array_equal(one.counts, other.counts)
        for k in one.observables:
            np.testing.assert_array_equal(one.observables[k], other.observables[k])
    # a later chunk started on its own reproduces the same trajectories
    tail = simulate_jump(m, n_traj=7, t_max=5.0, seed=7, _traj_offset=30)
    np.testing.assert_array_equal(tail.states, one.states[30:])
    different = simulate_jump(m, n_traj=37, t_max=5.0, seed=8)
    assert not np.array_equal(different.states, one.states)


def _z(samples, truth):
    samples = np.asarray(samples, dtype=float)
    se = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    return (samples.mean(axis=0) - truth) / se


@pytest.mark.parametrize("model", ["sensor", "random"])
def test_statistics_match_exact(model):
    m = st.BipartiteJump.sensor(0.8, 3.0, 0.4) if model == "sensor" else _model(3)
    t_max = 20.0
    ens = simulate_jump(m, n_traj=3000, t_max=t_max, n_steps=4, seed=2024)
    p = ej.stationary_distribution(m)
    # stationary probabilities: time fractions, and the state at a grid time
    assert np.all(np.abs(_z(ens.observables["residence"] / t_max, p)) < 3)
    onehot = ens.states[:, 2][:, None] == np.arange(m.n_states)[None, :]
    assert np.all(np.abs(_z(onehot, p)) < 3)
    # entropy flows into the two reservoirs and their sum (= entropy production)
    env = ej.environment_entropy_flows(m)
    flows = ens.observables["entropy_flow"] / t_max
    live = np.abs(env) > 0  # the sensor's signal exchanges no entropy (equal flip rates)
    assert np.all(np.abs(_z(flows[:, live], env[live])) < 3)
    np.testing.assert_allclose(flows[:, ~live], 0.0, atol=1e-12)
    assert abs(_z(flows.sum(axis=1), ej.entropy_production_rate(m))) < 3
    # information flows
    info = ens.observables["information_flow"] / t_max
    assert np.all(np.abs(_z(info, ej.information_flows(m))) < 3)
    # counted transitions per edge: E[N_ij] / t = W_ij p_j
    rate = ens.counts / t_max
    i, j = np.nonzero(m.W)
    assert np.all(np.abs(_z(rate[:, i, j], m.W[i, j] * p[j])) < 3.5)


def test_equilibrium_control_has_no_flows():
    rng = np.random.default_rng(5)
    E = rng.standard_normal((2, 3))
    wx = np.stack([np.exp(E[None, :, y] - 2.0) * np.ones((2, 2)) for y in range(3)])
    wy = np.stack([np.exp(E[x][None, :] - 2.0) * np.ones((3, 3)) for x in range(2)])
    m = st.BipartiteJump(wx, wy)
    ens = simulate_jump(m, n_traj=2000, t_max=10.0, seed=3)
    sig = ens.observables["entropy_flow"].sum(axis=1) / 10.0
    assert abs(_z(sig, 0.0)) < 3
    assert np.all(np.abs(_z(ens.observables["information_flow"] / 10.0, 0.0)) < 3)


def test_general_markov_model_and_starts():
    m = st.MarkovJump([[0.0, 1.0, 2.0], [2.0, 0.0, 1.0], [1.0, 2.0, 0.0]])
    ens = simulate_jump(m, n_traj=10, n_steps=5, dt=0.5, seed=1, x0=[0, 1] * 5)
    assert ens.states.shape == (10, 6) and "information_flow" not in ens.observables
    np.testing.assert_array_equal(ens.states[:, 0], [0, 1] * 5)
    assert ens.times[-1] == pytest.approx(2.5)
    ens2 = simulate_jump(m, n_traj=10, t_max=1.0, seed=1, p0=[0.0, 0.0, 1.0])
    assert np.all(ens2.states[:, 0] == 2)
    b = st.BipartiteJump.sensor(1.0, 2.0, 1.0)
    e3 = simulate_jump(b, n_traj=3, t_max=1.0, seed=1, x0=(1, 0), observables=("residence",))
    assert np.all(e3.states[:, 0] == b.index(1, 0)) and set(e3.observables) == {"residence"}
    assert "n_traj=3" in repr(e3)


def test_bad_input():
    m = st.BipartiteJump.sensor(1.0, 2.0, 1.0)
    with pytest.raises(ValidationError, match="n_traj"):
        simulate_jump(m, n_traj=0, t_max=1.0)
    with pytest.raises(ValidationError, match="t_max"):
        simulate_jump(m, n_traj=1, t_max=-1.0)
    with pytest.raises(ValidationError, match="duration"):
        simulate_jump(m, n_traj=1)
    with pytest.raises(ValidationError, match="whole number"):
        simulate_jump(m, n_traj=1, t_max=1.0, dt=0.3)
    with pytest.raises(ValidationError, match="unknown observable"):
        simulate_jump(m, n_traj=1, t_max=1.0, observables=("heat",))
    with pytest.raises(ValidationError, match="x0"):
        simulate_jump(m, n_traj=2, t_max=1.0, x0=[0, 1, 2])
    with pytest.raises(ValidationError, match="x0"):
        simulate_jump(m, n_traj=2, t_max=1.0, x0=(2, 0))
    with pytest.raises(ValidationError, match="0..3"):
        simulate_jump(m, n_traj=2, t_max=1.0, x0=9)
    with pytest.raises(ValidationError, match="not both"):
        simulate_jump(m, n_traj=2, t_max=1.0, x0=0, p0=[1.0, 0, 0, 0])
    with pytest.raises(ValidationError, match="sum to 1"):
        simulate_jump(m, n_traj=2, t_max=1.0, p0=[1.0, 1.0, 0, 0])
    with pytest.raises(ModelError, match="bipartite"):
        simulate_jump(st.MarkovJump(np.ones((3, 3))), n_traj=1, t_max=1.0,
                      observables=("information_flow",))
    with pytest.raises(ValidationError, match="jump model"):
        simulate_jump(st.LinearLangevin(np.eye(1), np.eye(1)), n_traj=1, t_max=1.0)
    with pytest.raises(ResourceError, match="jumps"):
        simulate_jump(m, n_traj=10**6, t_max=1e6)
    with pytest.raises(ResourceError, match="GiB"):
        simulate_jump(m, n_traj=10**6, n_steps=10**4, dt=1e-6)


def test_transient_occupation_matches_matrix_exponential():
    """From a fixed state, the sampled states follow p(t) = exp(G t) p0 at every grid time."""
    m = _model(4)
    ens = simulate_jump(m, n_traj=4000, n_steps=6, dt=0.25, seed=99, x0=0)
    P = ej.transient_distribution(m, ens.times, p0=0)
    for g in range(1, len(ens.times)):
        onehot = ens.states[:, g][:, None] == np.arange(m.n_states)[None, :]
        z = _z(onehot, P[g])
        assert np.all(np.abs(z) < 3.5), (g, z)


def test_simulate_entry_point_gives_the_same_paths():
    m = _model(6)
    ens = st.simulate(m, n_traj=30, n_steps=40, dt=0.2, seed=5,
                      observables=("heat", "medium_entropy"))
    ref = simulate_jump(m, n_traj=30, n_steps=40, dt=0.2, seed=5)
    assert ens.x.shape == (30, 41, 1) and ens.meta["kernel"] == "gillespie"
    np.testing.assert_array_equal(ens.x[:, :, 0], ref.states)
    np.testing.assert_allclose(ens.observables["heat"][:, -1], ref.observables["entropy_flow"],
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ens.observables["medium_entropy"][:, -1],
                               ref.observables["entropy_flow"].sum(axis=1), rtol=1e-12,
                               atol=1e-12)
    half = st.simulate(m, n_traj=30, n_steps=20, dt=0.2, seed=5, observables=("heat",))
    rest = st.simulate(m, n_steps=20, resume=half)
    np.testing.assert_array_equal(rest.x[:, -1], ens.x[:, -1])
    chunked = st.simulate(m, n_traj=30, n_steps=40, dt=0.2, seed=5,
                          observables=("heat", "medium_entropy"), chunk_size=7)
    np.testing.assert_array_equal(chunked.x, ens.x)
    named = st.simulate(m, n_traj=30, n_steps=40, dt=0.2, seed=5, method="gillespie")
    np.testing.assert_array_equal(named.x, ens.x)
    assert named.meta["method"] == "gillespie"
    fixed = st.simulate(m, n_traj=4, n_steps=5, dt=0.1, seed=1, x0=3)
    assert np.all(fixed.x[:, 0, 0] == 3)
    with pytest.raises(ValidationError, match="state index"):
        st.simulate(m, n_traj=4, n_steps=5, dt=0.1, seed=1, x0=1.5)
    with pytest.raises(ValidationError, match="work"):
        st.simulate(m, n_traj=4, n_steps=5, dt=0.1, seed=1, observables=("work",))
    with pytest.raises(ValidationError, match="gillespie"):
        st.simulate(m, n_traj=4, n_steps=5, dt=0.1, seed=1, method="heun")


def test_simulate_command_line(capsys, tmp_path):
    import json

    from stochthermo.cli import main

    wx = "[[[0,4],[0.5,0]],[[0,0.5],[4,0]]]"
    wy = "[[[0,1],[1,0]],[[0,1],[1,0]]]"
    out = tmp_path / "run.npz"
    assert main(["simulate", "--wx", wx, "--wy", wy, "--n-traj", "200", "--n-steps", "500",
                 "--dt", "0.02", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "information_flows" in text and "entropy_production" in text
    with np.load(out) as f:
        assert f["states"].shape == (200, 501) and f["counts"].shape == (200, 4, 4)
    assert main(["simulate", "--wx", wx, "--wy", wy, "--n-traj", "100", "--format", "json",
                 "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    m = st.BipartiteJump.sensor(1.0, 4.0, 0.5)
    assert doc["information_flows"]["exact"] == pytest.approx(list(ej.information_flows(m)))
    assert abs(doc["entropy_production"]["z"]) < 4
    assert main(["simulate", "--wx", "[[[0,4],[0,0]],[[0,0.5],[4,0]]]", "--wy", wy]) == 2
    assert "reverse" in capsys.readouterr().err
    assert main(["simulate", "--wx", wx]) == 2
    assert main(["simulate", "--wx", wx, "--wy", wy, "--method", "heun"]) == 2
    assert main(["simulate", "--wx", wx, "--wy", wy, "--observables", "heat"]) == 2
