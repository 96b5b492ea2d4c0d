"""Entropy production estimators against the closed forms of stochthermo.exact."""

import numpy as np
import pytest
from naive_est import equilibrium_2d, nonequilibrium_2d, ou_ensemble, three_block

from stochthermo import exact
from stochthermo.ensemble import Ensemble
from stochthermo.errors import InsufficientDataError, ValidationError
from stochthermo.estimate import entropy_production, entropy_production_timeresolved

TAU = 0.02


@pytest.fixture(scope="module")
def neq2():
    m = nonequilibrium_2d()
    return m, ou_ensemble(m, n_traj=200, n_time=500, tau=TAU, seed=11)


@pytest.fixture(scope="module")
def eq2():
    m = equilibrium_2d()
    return m, ou_ensemble(m, n_traj=200, n_time=500, tau=TAU, seed=12)


@pytest.mark.parametrize("method", ["linear", "current", "tur"])
def test_nonequilibrium_2d_matches_exact(neq2, method):
    m, x = neq2
    truth = exact.entropy_production(m)
    est = entropy_production(x, method=method, dt=TAU)
    assert est.stderr > 0
    assert abs(est.zscore(truth)) < 3
    # the error bar is informative: a few percent of the value
    assert est.stderr < 0.15 * truth


@pytest.mark.parametrize("method", ["linear", "current", "tur"])
def test_detailed_balance_gives_zero(eq2, method):
    m, x = eq2
    assert exact.detailed_balance(m).holds
    est = entropy_production(x, method=method, dt=TAU)
    assert abs(est.value) < 3 * est.stderr
    # the control can fail: the same data with a rotation added is clearly non-zero
    assert est.stderr < 0.05


def test_three_block_linear_and_known_diffusion():
    m = three_block()
    x = ou_ensemble(m, n_traj=150, n_time=600, tau=TAU, seed=3)
    truth = exact.entropy_production(m)
    lin = entropy_production(Ensemble.from_array(x, dt=TAU), method="linear")
    cur = entropy_production(x, method="current", dt=TAU, diffusion=m.D)
    for est in (lin, cur):
        assert abs(est.zscore(truth)) < 3
    np.testing.assert_allclose(lin.meta["diffusion"], m.D, atol=6 * lin.stderr + 0.05)


def test_linear_is_exact_for_coarse_sampling():
    # the exact-discretisation fit has no bias in the sampling interval; Euler does
    m = nonequilibrium_2d()
    tau = 0.25
    x = ou_ensemble(m, n_traj=400, n_time=200, tau=tau, seed=5)
    truth = exact.entropy_production(m)
    ex = entropy_production(x, dt=tau)
    eu = entropy_production(x, dt=tau, discretization="euler")
    assert abs(ex.zscore(truth)) < 3
    assert abs(eu.zscore(truth)) > 3


def test_one_dimension_is_zero():
    from stochthermo.models.linear import LinearLangevin

    m = LinearLangevin([[1.0]], [[0.5]])
    x = ou_ensemble(m, n_traj=50, n_time=100, tau=TAU, seed=1)
    assert entropy_production(x, method="current", dt=TAU).value == 0.0
    est = entropy_production(x, method="linear", dt=TAU)
    assert abs(est.value) < 3 * est.stderr + 1e-12


def test_timeresolved_tracks_transient():
    m = nonequilibrium_2d()
    mean0, cov0 = [1.0, 0.5], 0.05 * np.eye(2)
    x = ou_ensemble(m, n_traj=2000, n_time=81, tau=TAU, seed=7, mean0=mean0, cov0=cov0)
    est = entropy_production_timeresolved(x, dt=TAU, window=10)
    mo = exact.moments(m, TAU * np.arange(81), mean0=mean0, cov0=cov0)
    truth = []
    for a in range(0, 80, 10):
        rates = [
            exact.entropy_production(m, mean=mo.mean[j], cov=mo.cov[j])
            for j in range(a, a + 11)
        ]
        truth.append(np.mean(rates))
    truth = np.array(truth)
    z = est.zscore(truth)
    assert est.value.shape == (8,)
    assert np.all(np.abs(z) < 3.5)
    assert np.mean(z**2) < 2.5
    # the transient is resolved: the first window is far above the steady state
    assert est.value[0] - 3 * est.stderr[0] > exact.entropy_production(m)
    np.testing.assert_allclose(est.meta["t"], TAU * (np.arange(8) * 10 + 5))


def test_timeresolved_relaxation_to_equilibrium():
    # detailed balance: the steady-state rate is 0, but a relaxing ensemble produces entropy at
    # a positive, decaying rate, which the steady-state estimators cannot see
    m = equilibrium_2d()
    mean0, cov0 = [1.5, -1.0], 0.1 * np.eye(2)
    x = ou_ensemble(m, n_traj=3000, n_time=121, tau=TAU, seed=8, mean0=mean0, cov0=cov0)
    est = entropy_production_timeresolved(x, dt=TAU, window=15)
    mo = exact.moments(m, TAU * np.arange(121), mean0=mean0, cov0=cov0)
    truth = np.array([
        np.mean([exact.entropy_production(m, mean=mo.mean[j], cov=mo.cov[j])
                 for j in range(a, a + 16)])
        for a in range(0, 120, 15)
    ])
    assert truth[0] > 4 * truth[-1] > 0
    z = est.zscore(truth)
    assert np.all(np.abs(z) < 3.5) and np.mean(z**2) < 2.5
    assert est.value[0] - 3 * est.stderr[0] > 0  # positive while relaxing ...
    assert est.value[0] > est.value[-1] + 3 * est.stderr[0]  # ... and decaying
    # a steady-state estimator on the same data says that its assumption fails
    lin = entropy_production(x, method="linear", dt=TAU)
    assert any(w.startswith("stationarity") for w in lin.warnings)


def _coverage(n_rep, seed0):
    m = nonequilibrium_2d()
    truth = exact.entropy_production(m)
    hits = 0
    for r in range(n_rep):
        x = ou_ensemble(m, n_traj=64, n_time=250, tau=TAU, seed=seed0 + r)
        lo, hi = entropy_production(x, dt=TAU, diagnostics=False).interval(0.95)
        hits += lo <= truth <= hi
    return hits / n_rep


def test_coverage_linear_light():
    assert 0.90 <= _coverage(120, 1000) <= 0.99


@pytest.mark.slow
def test_coverage_linear_full():
    assert 0.90 <= _coverage(400, 5000) <= 0.99


def test_bad_input():
    x = np.zeros((4, 10, 2))
    with pytest.raises(ValidationError, match="pass dt="):
        entropy_production(x)
    with pytest.raises(ValidationError, match="unknown method='nope'"):
        entropy_production(x, dt=0.1, method="nope")
    bad = np.ones((4, 10, 2))
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValidationError, match="non-finite"):
        entropy_production(bad, dt=0.1)
    with pytest.raises(InsufficientDataError, match="at least 2"):
        entropy_production(np.ones((4, 1, 2)), dt=0.1)
    with pytest.raises(InsufficientDataError, match="n_groups"):
        entropy_production(np.ones((4, 10, 2)), dt=0.1, n_groups=32)
    with pytest.raises(ValidationError, match="only used by method='current'"):
        entropy_production(np.ones((40, 10, 2)), dt=0.1, method="tur", diffusion=np.eye(2))


@pytest.mark.parametrize("method", ["current", "tur", "inference"])
def test_odd_number_of_samples(neq2, method):
    # the lag-2 self-check splits each series into two interleaved halves of unequal length
    m, x = neq2
    est = entropy_production(x[:, :499], method=method, dt=TAU)
    assert np.isfinite(est.value) and est.stderr > 0
    assert abs(est.zscore(exact.entropy_production(m))) < 3 or est.warnings
