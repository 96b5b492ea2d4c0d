"""Estimators from jump data against the exact values, with a null control and coverage."""

import numpy as np
import pytest

import stochthermo as st
from stochthermo import _exact_jump as ej
from stochthermo._simulate_jump import simulate_jump
from stochthermo.errors import InsufficientDataError, ModelError, ValidationError


def _random(seed=3, nx=3, ny=2):
    rng = np.random.default_rng(seed)
    return st.BipartiteJump(np.exp(rng.standard_normal((ny, nx, nx))),
                            np.exp(rng.standard_normal((nx, ny, ny))))


def _equilibrium(seed=5, nx=3, ny=2):
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((nx, ny))
    wx = np.stack([np.exp(E[None, :, y] - 1.0) * np.ones((nx, nx)) for y in range(ny)])
    wy = np.stack([np.exp(E[x][None, :] - 1.0) * np.ones((ny, ny)) for x in range(nx)])
    return st.BipartiteJump(wx, wy)


@pytest.fixture(scope="module")
def random_run():
    m = _random()
    return m, simulate_jump(m, n_traj=400, t_max=20.0, n_steps=200, seed=11)


def test_plugin_and_path_within_three_standard_errors(random_run):
    m, ens = random_run
    sigma = ej.entropy_production_rate(m)
    for method in ("plugin", "path"):
        est = st.estimate.entropy_production(ens, method=method)
        assert est.method == f"entropy_production:{method}"
        assert est.meta["bound"] is None
        assert abs(est.zscore(sigma)) < 3, (method, est, sigma)
        assert 0 < est.stderr < 0.2 * sigma
    sub = st.estimate.entropy_production(ens).meta["subsystem"]
    z = (sub["value"] - ej.subsystem_entropy_production(m)) / sub["stderr"]
    assert np.all(np.abs(z) < 3)
    flows = ej.information_flows(m)
    for method in ("plugin", "path"):
        est = st.estimate.information_flow(ens, method=method)
        assert est.value.shape == (2,)
        assert np.all(np.abs(est.zscore(flows)) < 3), (method, est, flows)


def test_bounds_are_labelled_and_hold(random_run):
    m, ens = random_run
    sigma = ej.entropy_production_rate(m)
    sigma_x = ej.subsystem_entropy_production(m)[0]
    for method in ("visible_pairs", "kld_sampled"):
        est = st.estimate.entropy_production(ens, method=method, observe="x")
        assert est.method.endswith(":lower_bound") and "lower bound" in est.meta["bound"]
        assert est.value - 3 * est.stderr < sigma
        assert est.value > 3 * est.stderr  # informative on this 3-state x
    pairs = st.estimate.entropy_production(ens, method="visible_pairs", observe="x")
    assert pairs.value - 3 * pairs.stderr < sigma_x
    # observing everything, the pair bound is the plug-in estimate itself
    full = st.estimate.entropy_production(ens, method="visible_pairs", observe="joint")
    assert full.value == pytest.approx(st.estimate.entropy_production(ens).value, rel=1e-12)


def test_null_control_equilibrium():
    m = _equilibrium()
    assert abs(ej.entropy_production_rate(m)) < 1e-12
    ens = simulate_jump(m, n_traj=400, t_max=20.0, seed=9)
    est = st.estimate.entropy_production(ens)
    assert abs(est.zscore(0.0)) < 3
    assert abs(est.value) < 0.05 * est.meta["uncorrected"] + 4 * est.stderr
    flow = st.estimate.information_flow(ens)
    assert np.all(np.abs(flow.zscore(0.0)) < 3)
    # the uncorrected plug-in value is biased upwards; the correction brings it back to 0
    assert est.meta["uncorrected"] > est.value


def test_general_model_and_errors():
    m = st.MarkovJump([[0.0, 1.0, 2.0], [2.0, 0.0, 1.0], [1.0, 2.0, 0.0]])
    ens = simulate_jump(m, n_traj=200, t_max=10.0, seed=1)
    est = st.estimate.entropy_production(ens)
    assert abs(est.zscore(ej.entropy_production_rate(m))) < 3
    with pytest.raises(ModelError, match="Bipartite"):
        st.estimate.information_flow(ens)
    with pytest.raises(ModelError, match="labels"):
        st.estimate.entropy_production(ens, method="visible_pairs", observe="x")
    lb = st.estimate.entropy_production(ens, method="visible_pairs", labels=[0, 0, 1])
    assert lb.meta["n_classes"] == 2
    with pytest.raises(ValidationError, match="labels"):
        st.estimate.entropy_production(ens, method="visible_pairs", labels=[0, 1])
    with pytest.raises(ValidationError, match="valid choices"):
        st.estimate.entropy_production(ens, method="linear")
    with pytest.raises(ValidationError, match="valid choices"):
        st.estimate.information_flow(ens, method="gaussian")
    one = simulate_jump(m, n_traj=1, t_max=10.0, seed=1)
    with pytest.raises(InsufficientDataError, match="2 independent"):
        st.estimate.entropy_production(one)
    still = simulate_jump(m, n_traj=5, t_max=1e-9, seed=1)
    with pytest.raises(InsufficientDataError, match="no jump"):
        st.estimate.entropy_production(still)
    bare = simulate_jump(m, n_traj=5, t_max=1.0, seed=1, observables=("n_jumps",))
    with pytest.raises(ValidationError, match="residence"):
        st.estimate.entropy_production(bare)
    with pytest.raises(ValidationError, match="entropy_flow"):
        st.estimate.entropy_production(bare, method="path")


@pytest.mark.slow
def test_coverage_over_seeds():
    """95% intervals of the plug-in estimators cover the exact value 90-99% of the time."""
    m = st.BipartiteJump.sensor(1.0, 3.0, 0.5)
    sigma = ej.entropy_production_rate(m)
    flow = ej.information_flows(m)[0]
    hits_ep, hits_flow = [], []
    for seed in range(200):
        ens = simulate_jump(m, n_traj=64, t_max=10.0, n_steps=2, seed=seed)
        hits_ep.append(abs(st.estimate.entropy_production(ens).zscore(sigma)) < 1.96)
        hits_flow.append(abs(st.estimate.information_flow(ens).zscore(flow)[0]) < 1.96)
    assert 0.90 <= np.mean(hits_ep) <= 0.99
    assert 0.90 <= np.mean(hits_flow) <= 0.99
