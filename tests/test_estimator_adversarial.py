"""Estimators fed data that break their assumptions: a warning or a clear error, never a
confident wrong number (``theory/estimators.md`` [EST-diag]).

Every warning test also shows that the warning is absent on data that meet the assumption.
"""

import numpy as np
import pytest

import stochthermo as st
from stochthermo import LinearLangevin, simulate
from stochthermo import estimate as E
from stochthermo.errors import EstimationError, ValidationError


def _gauss_pair(n, rho, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, rho * x + np.sqrt(1 - rho**2) * rng.standard_normal(n)


def _has(est, word):
    return any(word in w for w in est.warnings)


# ----------------------------------------------------------------------------- Gaussian MI
@pytest.mark.parametrize("case", ["square", "bimodal", "cauchy", "multiplicative", "sign"])
def test_gaussian_mi_warns_on_non_gaussian_data(case):
    rng = np.random.default_rng(1)
    n = 2000
    x = rng.standard_normal(n)
    e = rng.standard_normal(n)
    if case == "square":  # y = x^2: strong dependence, zero correlation
        y = x**2 + 0.1 * e
    elif case == "bimodal":  # two clusters: the true information is ln 2, gaussian says ~3
        x = 3 * np.sign(x) + 0.1 * e
        y = np.sign(x) * 3 + 0.1 * rng.standard_normal(n)
    elif case == "cauchy":
        x = rng.standard_cauchy(n)
        y = x + rng.standard_cauchy(n)
    elif case == "multiplicative":  # y = x * noise: uncorrelated but dependent
        y = x * e
    else:  # y = +-x with a random sign: Gaussian marginals, dependent, uncorrelated
        y = x * np.where(e > 0, 1.0, -1.0)
    est = E.mutual_information(x, y, method="gaussian")
    assert _has(est, "gaussianity"), est.warnings
    assert "gaussian_tails" in est.meta["diagnostics"]


@pytest.mark.parametrize("rho", [0.0, 0.8])
def test_gaussian_mi_quiet_on_gaussian_data(rho):
    x, y = _gauss_pair(2000, rho, 2)
    est = E.mutual_information(x, y, method="gaussian")
    assert est.ok, est.warnings
    assert est.meta["diagnostics"]["gaussian_moments"]["tested"]


def test_gaussian_mi_extreme_scales_are_invariant():
    x, y = _gauss_pair(500, 0.6, 3)
    ref = E.mutual_information(x, y, method="gaussian")
    for scale in (1e200, 1e-200):
        est = E.mutual_information(scale * x, scale * y, method="gaussian")
        assert np.isfinite(est.value)
        assert est.value == pytest.approx(ref.value, rel=1e-9, abs=1e-12)
        knn = E.mutual_information(scale * x, y, method="knn", n_blocks=0)
        assert np.isfinite(knn.value)


def test_lagged_and_transfer_entropy_keep_the_warnings():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 400))
    y = np.roll(x, 1, axis=1) ** 2  # y_t = x_{t-1}^2: zero correlation, full dependence
    lmi = E.lagged_mutual_information(x, y, lag=1)
    assert _has(lmi, "gaussianity")
    te = E.transfer_entropy(x, y, lag=1)
    assert _has(te, "gaussianity")
    # an OU series meets the assumption: no warning
    ens = simulate(LinearLangevin(np.eye(1), np.eye(1)), n_traj=16, n_steps=400, dt=0.05,
                   x0="stationary", seed=5)
    assert E.lagged_mutual_information(ens, lag=1).ok


@pytest.mark.parametrize("lag", [1.5, True, "1"])
def test_lag_must_be_an_integer(lag):
    x = np.random.default_rng(0).standard_normal((4, 50))
    with pytest.raises(ValidationError, match="lag"):
        E.lagged_mutual_information(x, lag=lag)
    with pytest.raises(ValidationError, match="lag"):
        E.transfer_entropy(x, x, lag=lag)


# ----------------------------------------------------------------------------- kNN MI
def test_knn_mi_warns_on_repeated_samples():
    x, y = _gauss_pair(2000, 0.0, 6)
    dup = E.mutual_information(np.repeat(x[:200], 10), np.repeat(y[:200], 10), method="knn")
    assert dup.value > 1.0  # independent data, a confident wrong number: hence the warning
    assert _has(dup, "repeat an identical joint row")
    rng = np.random.default_rng(7)
    disc = E.mutual_information(rng.integers(0, 3, 600), rng.integers(0, 3, 600), method="knn")
    assert _has(disc, "method='discrete'")
    clean = E.mutual_information(x, y, method="knn")
    assert clean.ok and clean.meta["repeated_share"] == 0.0
    # one discrete variable against a continuous one is fine (the marginal ties are counted)
    labels = (x > 0).astype(float)
    assert E.mutual_information(labels, y + labels, method="knn").ok


def test_knn_mi_warns_on_a_deterministic_relation():
    x, y = _gauss_pair(500, 0.5, 8)
    est = E.mutual_information(x, x, method="knn")
    assert _has(est, "degenerate")
    assert not _has(E.mutual_information(x, y, method="knn"), "degenerate")


@pytest.mark.parametrize("jitter", [-1.0, float("nan"), "big"])
def test_knn_jitter_is_validated(jitter):
    x, y = _gauss_pair(100, 0.5, 9)
    with pytest.raises(ValidationError, match="jitter"):
        E.mutual_information(x, y, method="knn", jitter=jitter)


def test_discrete_mi_mixed_labels_raise_a_clear_error():
    lab = np.array([1, "a"] * 50, dtype=object)
    with pytest.raises(ValidationError, match="one type"):
        E.mutual_information(lab, np.arange(100) % 2, method="discrete")
    with pytest.raises(ValidationError, match="one type"):
        E.mutual_information(np.array([None, 1] * 50, dtype=object), np.arange(100) % 2,
                             method="discrete")
    assert np.isfinite(E.mutual_information(np.array(["a", "b"] * 50, dtype=object),
                                            np.arange(100) % 2, method="discrete").value)


# ----------------------------------------------------------------------------- trajectories
def test_diverging_trajectories_raise_instead_of_hanging():
    ens = simulate(LinearLangevin(np.eye(2), np.eye(2)), n_traj=16, n_steps=200, dt=0.05,
                   x0="stationary", seed=10)
    x = ens.x.copy()
    x[0, -20:] = 1e200  # finite, but its square overflows
    with pytest.raises(EstimationError, match="diverge"):
        E.entropy_production(x, dt=0.05)
    with pytest.raises(EstimationError, match="diverge"):
        E.information_flow(x, dt=0.05, blocks=[1, 1])
    assert np.isfinite(E.entropy_production(ens).value)


# ----------------------------------------------------------------------------- information flow
def _flow_model():
    # x drives y; exact steady flows (-9/17, 9/17)
    return LinearLangevin(np.array([[1.0, 0.0], [-1.5, 1.0]]), np.diag([1.0, 0.5]),
                          blocks=[[0], [1]])


@pytest.mark.parametrize("method", ["gaussian", "lagged"])
def test_information_flow_warns_on_a_relaxing_ensemble(method):
    m = _flow_model()
    relax = simulate(m, n_traj=64, n_steps=400, dt=0.01, save_every=5, x0=np.array([5.0, 5.0]),
                     seed=3)
    est = E.information_flow(relax, blocks=[1, 1], method=method)
    assert _has(est, "stationarity")
    with pytest.raises(EstimationError, match="stationarity"):
        E.information_flow(relax, blocks=[1, 1], method=method, strict=True)
    stat = simulate(m, n_traj=64, n_steps=2000, dt=0.01, save_every=5, x0="stationary", seed=1)
    good = E.information_flow(stat, blocks=[1, 1], method=method)
    assert good.ok, good.warnings
    assert np.all(np.abs(good.zscore(np.array([-9 / 17, 9 / 17]))) < 4)


def test_information_flow_lagged_warns_on_coarse_sampling():
    m = _flow_model()
    coarse = simulate(m, n_traj=64, n_steps=4000, dt=0.01, save_every=100, x0="stationary",
                      seed=4)
    est = E.information_flow(coarse, blocks=[1, 1], method="lagged")
    assert abs(est.value[0] + 9 / 17) > 5 * est.stderr[0]  # a confident wrong number
    assert _has(est, "discretisation")
    exact_route = E.information_flow(coarse, blocks=[1, 1], method="gaussian")
    assert exact_route.ok, exact_route.warnings  # the linear fit is exact at any interval


def _cubic_ensemble(n_traj=64, n_steps=2000, dt=0.01, save_every=5, seed=5):
    """Euler paths of dx = -x^3 dt + dW_x, dy = (x - y) dt + dW_y (a non-linear drift)."""
    rng = np.random.default_rng(seed)
    z = np.zeros((n_traj, 2))
    out = []
    for i in range(n_steps):
        x, y = z[:, 0], z[:, 1]
        z = z + dt * np.stack([-(x**3), x - y], axis=1)
        z += np.sqrt(2 * dt) * rng.standard_normal(z.shape)
        if i % save_every == 0:
            out.append(z.copy())
    return np.stack(out, axis=1)


def test_information_flow_warns_on_too_little_data_and_nonlinear_drift():
    m = _flow_model()
    ens = simulate(m, n_traj=64, n_steps=2000, dt=0.01, save_every=5, x0="stationary", seed=1)
    assert _has(E.information_flow(ens.x[:, :5], dt=0.05, blocks=[1, 1]), "too little data")
    cubic = _cubic_ensemble()
    assert _has(E.information_flow(cubic, dt=0.05, blocks=[1, 1]), "linearity")
    assert not _has(E.information_flow(ens, blocks=[1, 1]), "linearity")


@pytest.mark.parametrize("time", ["5", 5.5, True])
def test_information_flow_time_must_be_an_int(time):
    ens = simulate(_flow_model(), n_traj=32, n_steps=100, dt=0.05, seed=1,
                   x0=np.array([1.0, 1.0]))
    with pytest.raises(ValidationError, match="time="):
        E.information_flow(ens, blocks=[1, 1], time=time)
    assert E.information_flow(ens, blocks=[1, 1], time=5).value.shape == (2,)


# ----------------------------------------------------------------------------- noise, fits
def _ar1(n, phi, seed):
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + rng.standard_normal()
    return out


def test_integrated_time_is_scale_invariant_at_extreme_scales():
    a = _ar1(3000, 0.5, 11)
    ref = E.integrated_time(a)
    for scale in (1e200, 1e-200):
        est = E.integrated_time(scale * a)
        assert est.value == pytest.approx(ref.value, rel=1e-9)
    with pytest.raises(ValidationError, match="constant"):
        E.integrated_time(np.full(100, 1e-200))


@pytest.mark.parametrize("steps", [[100], "a"])
def test_effective_temperature_bad_steps_raise_a_shape_error(steps):
    from stochthermo.errors import ShapeError

    p = np.random.default_rng(12).standard_normal((8, 20, 3)).cumsum(axis=1)
    with pytest.raises(ShapeError, match="steps="):
        E.effective_temperature(p, lr=0.1, steps=steps)
    assert E.effective_temperature(p, lr=0.1, steps=[0, 1]).value.shape == (3,)


def test_gradient_noise_scale_warns_when_the_mean_gradient_is_not_resolved():
    rng = np.random.default_rng(13)
    noise_only = np.cumsum(rng.standard_normal((16, 20, 3)), axis=1)
    est = E.gradient_noise_scale(noise_only, batch_size=4)
    assert np.any(est.value < 0)  # an impossible value: hence the warning
    assert any("not resolved" in w for w in est.warnings)
    drift = np.cumsum(0.5 + 0.01 * rng.standard_normal((16, 20, 3)), axis=1)
    good = E.gradient_noise_scale(drift, batch_size=4)
    assert good.ok and np.all(good.value > 0)


def test_loglog_slope_warns_when_the_points_are_not_a_power_law():
    x = np.array([1.0, 2, 4, 8, 16, 32])
    curved = np.array([1.0, 1, 1, 0.5, 0.1, 0.001])
    est = E.loglog_slope(x, curved, yerr=0.01 * curved)
    assert any("not on a power law" in w for w in est.warnings)
    rng = np.random.default_rng(14)
    line = 3 * x**-1.5 * np.exp(0.01 * rng.standard_normal(x.size))
    good = E.loglog_slope(x, line, yerr=0.01 * line)
    assert good.ok and abs(good.zscore(-1.5)) < 4
    # relative errors carry no scale to test against: no warning, the scatter sets the error bar
    assert E.loglog_slope(x, curved, yerr=0.01 * curved, absolute_sigma=False).ok


# ----------------------------------------------------------------------------- quantized states
def _rotating(n_traj=1, n_steps=20000, seed=3):
    A = np.array([[1.0, 0.5], [-0.5, 1.0]])  # exact rate 0.5
    return simulate(LinearLangevin(A, np.eye(2)), n_traj=n_traj, n_steps=n_steps, dt=0.01,
                    save_every=5, x0="stationary", seed=seed)


def test_entropy_production_warns_on_quantized_states():
    ens = _rotating()
    rounded = E.entropy_production(np.round(ens.x), dt=0.05)
    assert abs(rounded.zscore(0.5)) > 3  # a confident wrong number: hence the warning
    assert _has(rounded, "quantization")
    assert _has(E.entropy_production(ens.x > 0, dt=0.05), "quantization")
    # a fine grid (integers at 100 units per unit length) is continuous at the increment scale
    fine = E.entropy_production(np.round(100 * ens.x), dt=0.05)
    assert not _has(fine, "quantization")
    assert not _has(E.entropy_production(ens), "quantization")
    assert _has(E.information_flow(np.round(ens.x), dt=0.05, blocks=[1, 1]), "quantization")


# ----------------------------------------------------------------------------- M-info
def test_m_info_knn_keeps_the_warnings_of_the_mi_estimate():
    from stochthermo.learning import GaussianLearner

    g = GaussianLearner(mu=1.0, data_std=1.0, n_data=5, batch_size=1, lr=0.2)
    few = g.simulate(10, n_datasets=60, seed=1, record=("params",))
    assert any("kNN mutual information" in w for w in E.m_info(few, 10, method="knn").warnings)
    many = g.simulate(10, n_datasets=2000, seed=1, record=("params",))
    assert E.m_info(many, 10, method="knn").ok


# ----------------------------------------------------------------------------- multiplicative noise
def _euler(drift, noise, *, n_traj=128, n_steps=2000, dt=0.01, save_every=5, seed=0):
    rng = np.random.default_rng(seed)
    z = np.zeros((n_traj, 2))
    out = []
    for i in range(n_steps):
        z = z + dt * drift(z) + np.sqrt(2 * dt) * noise(z) * rng.standard_normal(z.shape)
        if i % save_every == 0:
            out.append(z.copy())
    return np.stack(out, axis=1)


def _rot(z):
    return -z + 0.5 * np.stack([-z[:, 1], z[:, 0]], axis=1)


@pytest.mark.parametrize("method", ["linear", "inference"])
def test_entropy_production_warns_on_multiplicative_noise(method):
    mult = _euler(_rot, lambda z: np.sqrt(0.2 + (z**2).sum(axis=1, keepdims=True)), seed=1)
    est = E.entropy_production(mult, dt=0.05, method=method)
    assert _has(est, "constant_diffusion")
    additive = _euler(_rot, lambda z: 1.0, seed=2)
    good = E.entropy_production(additive, dt=0.05, method=method)
    assert good.meta["diagnostics"]["constant_diffusion"]["passed"], good.warnings


def test_jump_estimators_warn_on_a_relaxing_ensemble():
    """A driven 3-state ring started in one state over a few relaxation times: the plugin
    rate is far above the steady-state one; the occupation test across time windows says so.
    Started from the stationary law (the default) no warning."""
    ring = st.MarkovJump(0.2 * np.array([[0.0, 1.0, 2.0], [2.0, 0.0, 1.0], [1.0, 2.0, 0.0]]))
    exact = st.exact.entropy_production(ring)
    relaxing = st.simulate_jump(ring, n_traj=200, t_max=5.0, dt=0.1, seed=1,
                                x0=np.zeros(200, dtype=int))
    est = st.estimate.entropy_production(relaxing, method="plugin")
    assert (est.value - exact) / est.stderr > 2.5  # confidently wrong
    assert any("stationarity" in w and "relaxes" in w for w in est.warnings)
    assert not est.meta["diagnostics"]["stationarity"]["passed"]
    steady = st.simulate_jump(ring, n_traj=200, t_max=50.0, dt=0.5, seed=2)
    ok = st.estimate.entropy_production(steady, method="plugin")
    assert ok.warnings == () and abs(ok.value - exact) < 4 * ok.stderr
    assert ok.meta["diagnostics"]["stationarity"]["passed"]


def test_integrated_time_warns_on_a_periodic_series():
    """A noisy sine has a small 'tau' (the oscillating autocorrelation sums to little) that
    means nothing; the autocorrelation past the window says so. AR(1) series do not warn."""
    rng = np.random.default_rng(1)
    t = np.arange(5000)
    periodic = E.integrated_time(np.sin(2 * np.pi * t / 50) + 0.1 * rng.normal(size=t.size))
    assert any("periodic" in w for w in periodic.warnings)
    x = np.zeros(5000)
    noise = rng.normal(size=x.size)
    for i in range(1, x.size):
        x[i] = 0.9 * x[i - 1] + noise[i]
    ar1 = E.integrated_time(x)
    assert ar1.warnings == () and abs(ar1.value - 19.0) < 4 * ar1.stderr  # (1 + phi)/(1 - phi)
