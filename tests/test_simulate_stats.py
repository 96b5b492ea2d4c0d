"""Simulated ensembles against the closed forms of stochthermo.exact, within standard errors."""

import numpy as np
import pytest

import stochthermo as st
from stochthermo import exact
from stochthermo.models.nonlinear import DrivenTrap, dragged_trap
from stochthermo.simulation import simulate

NONEQ2 = st.LinearLangevin([[1.0, 0.8], [-0.6, 1.2]], np.diag([1.0, 0.5]))
BLOCK3 = st.LinearLangevin([[1.2, 0.5, 0.0], [-0.3, 1.0, 0.6], [0.4, -0.2, 0.9]],
                           np.diag([1.0, 2.0, 0.5]), blocks=[1, 1, 1])
EQUIL = st.LinearLangevin([[2.0, 0.5], [0.5, 1.0]], 0.7 * np.eye(2), blocks=[1, 1])


def _z(samples, truth):
    samples = np.asarray(samples)
    se = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    return (samples.mean(axis=0) - truth) / se


def _run(model, seed, n_traj=3000, n_steps=800, dt=0.005):
    return simulate(model, n_traj=n_traj, n_steps=n_steps, dt=dt, method="exact",
                    x0="stationary", save_every=n_steps, seed=seed,
                    observables=("heat", "medium_entropy"))


@pytest.mark.parametrize("model, seed", [(NONEQ2, 1), (BLOCK3, 2)])
def test_nonequilibrium_covariance_heat_entropy(model, seed):
    ens = _run(model, seed)
    T = ens.t[-1]
    C = exact.stationary_covariance(model)
    xf = ens.x[:, -1]
    iu = np.triu_indices(model.dim)
    prods = (xf[:, :, None] * xf[:, None, :])[:, iu[0], iu[1]]
    assert np.all(np.abs(_z(prods, C[iu])) < 3)
    q = ens.observables["heat"][:, -1] / T
    z_heat = _z(q, exact.heat_rates(model))
    assert np.all(np.abs(z_heat) < 3), z_heat
    assert np.max(np.abs(_z(q, 0.0))) > 5  # the heat flow is resolved, not noise
    s = ens.observables["medium_entropy"][:, -1] / T
    sigma = exact.entropy_production(model)
    assert abs(_z(s, sigma)) < 3
    assert _z(s, 0.0) > 5


def test_equilibrium_control_zero_heat_and_entropy():
    ens = _run(EQUIL, 3)
    T = ens.t[-1]
    assert exact.entropy_production(EQUIL) == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.abs(_z(ens.observables["heat"][:, -1] / T, 0.0)) < 3)
    assert abs(_z(ens.observables["medium_entropy"][:, -1] / T, 0.0)) < 3


@pytest.mark.parametrize("dt, n_steps", [(0.7, 1), (0.35, 4)])
def test_exact_method_matches_ou_transition_law(dt, n_steps):
    x0 = np.array([1.0, -1.5])
    ens = simulate(NONEQ2, n_traj=20000, n_steps=n_steps, dt=dt, method="exact", x0=x0, seed=5)
    mom = exact.moments(NONEQ2, [dt * n_steps], mean0=x0)
    xf = ens.x[:, -1]
    assert np.all(np.abs(_z(xf, mom.mean[0])) < 3)
    dx = xf - mom.mean[0]
    iu = np.triu_indices(2)
    prods = (dx[:, :, None] * dx[:, None, :])[:, iu[0], iu[1]]
    assert np.all(np.abs(_z(prods, mom.cov[0][iu])) < 3)
    # null control: Euler at this large step is visibly wrong
    eu = simulate(NONEQ2, n_traj=20000, n_steps=n_steps, dt=dt, method="euler", x0=x0, seed=5)
    dxe = eu.x[:, -1] - mom.mean[0]
    prods_e = (dxe[:, :, None] * dxe[:, None, :])[:, iu[0], iu[1]]
    assert np.max(np.abs(_z(prods_e, mom.cov[0][iu]))) > 5


def test_jarzynski_dragged_trap():
    trap = dragged_trap(1.0, 1.0, 1.0)
    rng = np.random.default_rng(7)
    n = 40000
    x0 = rng.standard_normal((n, 1))  # equilibrium of the initial trap, T / k = 1
    ens = simulate(trap, n_traj=n, n_steps=40, dt=0.05, method="exact", x0=x0, seed=8,
                   observables=("work",), save_every=40)
    W = ens.observables["work"][:, -1]
    assert _z(W, 0.0) > 10  # dissipated work is resolved
    assert abs(_z(np.exp(-W), 1.0)) < 3


def test_jarzynski_breathing_trap():
    trap = DrivenTrap(1.0, 0.5, stiffness_scale=lambda t: 1.0 + t)
    rng = np.random.default_rng(9)
    n = 40000
    x0 = np.sqrt(0.5) * rng.standard_normal((n, 1))
    ens = simulate(trap, n_traj=n, n_steps=20, dt=0.05, method="exact", x0=x0, seed=10,
                   observables=("work",), save_every=20)
    W = ens.observables["work"][:, -1]
    dF = 0.5 * 0.5 * np.log(2.0)  # T/2 ln(k1/k0)
    assert abs(_z(np.exp(-W / 0.5), np.exp(-dF / 0.5))) < 3
    assert abs(_z(np.exp(-W / 0.5), 1.0)) > 5  # the free-energy change is resolved


def test_integral_fluctuation_theorem_ness():
    ens = simulate(NONEQ2, n_traj=40000, n_steps=200, dt=0.005, method="exact",
                   x0="stationary", save_every=200, seed=11, observables=("medium_entropy",))
    ds_sys = (exact.stationary_logpdf(NONEQ2, ens.x[:, 0])
              - exact.stationary_logpdf(NONEQ2, ens.x[:, -1]))
    s_tot = ens.observables["medium_entropy"][:, -1] + ds_sys
    assert _z(s_tot, 0.0) > 5  # positive entropy production on average
    assert abs(_z(np.exp(-s_tot), 1.0)) < 3


@pytest.mark.parametrize("momentum", [0.0, 0.6])
def test_sgd_stationary_covariance(momentum):
    sgd = st.LinearizedSGD([[2.0, 0.4], [0.4, 1.0]], [[1.0, -0.3], [-0.3, 0.5]], lr=0.1,
                           batch_size=8, momentum=momentum, theta_star=[0.5, -0.5])
    ens = simulate(sgd, n_traj=20000, n_steps=50, x0="stationary", seed=12, save_every=50)
    C = exact.stationary_covariance(sgd)
    d = ens.x[:, -1] - sgd.theta_star
    iu = np.triu_indices(2)
    prods = (d[:, :, None] * d[:, None, :])[:, iu[0], iu[1]]
    assert np.all(np.abs(_z(prods, C[iu])) < 3)
    assert np.all(np.abs(_z(d, 0.0)) < 3)


def test_first_law_per_trajectory_dragged_trap():
    """Energy change = work - heat into the medium, per trajectory, for a moving trap centre."""
    import numpy as np

    from stochthermo.models.nonlinear import dragged_trap

    trap = dragged_trap(stiffness=2.0, velocity=0.7, temperature=0.5, start=0.3)
    for method in ("euler", "exact"):
        ens = simulate(trap, n_traj=16, n_steps=400, dt=0.01, method=method, seed=11,
                       observables=("heat", "work"), x0=np.array([0.3]))
        dU = trap.potential(ens.x[:, -1, :], ens.t[-1]) - trap.potential(ens.x[:, 0, :], ens.t[0])
        W = ens.observables["work"][:, -1]
        Q = ens.observables["heat"][:, -1, :].sum(axis=-1)
        np.testing.assert_allclose(dU, W - Q, rtol=0, atol=1e-10)
