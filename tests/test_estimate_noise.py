"""Time-series statistics, SGD noise and fluctuation theorems against closed forms."""

import numpy as np
import pytest

from stochthermo.errors import InsufficientDataError, ValidationError
from stochthermo.estimate import (
    autocorrelation,
    effective_temperature,
    fluctuation_theorem,
    gradient_noise_scale,
    integrated_time,
    sgd_noise,
)


def ar1(phi, n_series, n, seed):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n_series, n))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


def test_autocorrelation_ar1():
    phi = 0.8
    # long series: the O(tau / n) bias of the sample autocorrelation stays well below the error
    x = ar1(phi, 5, 20000, seed=1)
    est = autocorrelation(x, max_lag=10)
    truth = phi ** np.arange(11)
    assert est.value[0] == pytest.approx(1.0)
    assert np.all(np.abs((est.value - truth)[1:] / est.stderr[1:]) < 3)
    single = autocorrelation(x[0], max_lag=10)
    assert np.all(np.abs((single.value - truth)[1:] / single.stderr[1:]) < 3)
    assert single.meta["stderr_kind"] == "Bartlett"


def test_integrated_time_ar1():
    phi = 0.8
    truth = (1 + phi) / (1 - phi)
    for seed in range(3):
        est = integrated_time(ar1(phi, 10, 4000, seed=seed))
        assert abs(est.zscore(truth)) < 3
    white = integrated_time(np.random.default_rng(0).standard_normal(5000))
    assert abs(white.zscore(1.0)) < 3


def test_integrated_time_short_series_carries_partial():
    x = ar1(0.97, 1, 300, seed=2)[0]
    with pytest.raises(InsufficientDataError, match="shorter than tol=50") as info:
        integrated_time(x)
    partial = info.value.partial
    assert partial.method == "integrated_time" and partial.value > 5


def test_bad_series():
    with pytest.raises(ValidationError, match="constant series"):
        autocorrelation(np.ones(10))
    with pytest.raises(ValidationError, match="non-finite"):
        autocorrelation(np.array([1.0, np.nan, 2.0]))


def quadratic_sgd(n_trials, n_steps, seed, lr=0.05, batch=4):
    """Gaussian-noise SGD on U = 1/2 theta^T H theta from a shared start, with exact moments."""
    rng = np.random.default_rng(seed)
    H = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, 0.2], [0.0, 0.2, 0.5]])
    S = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 3.0]])
    L = np.linalg.cholesky(S / batch)
    P = np.eye(3) - lr * H
    th = np.empty((n_trials, n_steps, 3))
    th[:, 0] = [2.0, -1.0, 3.0]
    for n in range(1, n_steps):
        xi = rng.standard_normal((n_trials, 3)) @ L.T
        th[:, n] = th[:, n - 1] @ P.T + lr * xi
    # exact per-step covariance of the increment and mean increment
    cov = np.zeros((3, 3))
    m = th[0, 0].copy()
    inc_cov, inc_mean = [], []
    for _ in range(n_steps - 1):
        inc_cov.append(lr**2 * (H @ cov @ H + S / batch))
        inc_mean.append(-lr * H @ m)
        cov = P @ cov @ P.T + lr**2 * S / batch
        m = P @ m
    return th, np.array(inc_cov), np.array(inc_mean), lr, batch


def test_effective_temperature_and_noise():
    th, inc_cov, _, lr, batch = quadratic_sgd(400, 40, seed=3)
    eta = sgd_noise(th)
    assert eta.value.shape == (400, 39, 3)
    np.testing.assert_allclose(eta.value.mean(axis=0), 0.0, atol=1e-12)
    est = effective_temperature(th, lr=lr)
    truth = np.diagonal(inc_cov, axis1=1, axis2=2).mean(axis=0) / (2 * lr)
    assert np.all(np.abs(est.zscore(truth)) < 3)
    # the Langevin-limit value r * diag(Sigma) / (2 |b|) is what it approaches
    assert est.meta["mean"] == pytest.approx(truth.mean(), rel=0.05)
    assert abs(est.meta["mean"] - truth.mean()) < 3 * est.meta["mean_stderr"]


def test_gradient_noise_scale():
    th, inc_cov, inc_mean, lr, batch = quadratic_sgd(300, 12, seed=4)
    est = gradient_noise_scale(th, batch_size=batch)
    truth = batch * np.trace(inc_cov, axis1=1, axis2=2) / (inc_mean**2).sum(axis=1)
    z = est.zscore(truth)
    assert np.all(np.abs(z) < 3.5) and np.mean(z**2) < 2.5


def test_sgd_noise_sign_and_lr_units():
    """eta = grad U_B - grad U_b (theory/sgd.md): with lr= the noise comes back as drawn."""
    rng = np.random.default_rng(11)
    lr, grad_full = 0.05, np.array([0.3, -1.0])
    eta = rng.standard_normal((50, 20, 2))  # grad U_B - grad U_b of each trial and step
    th = np.zeros((50, 21, 2))
    th[:, 1:] = np.cumsum(-lr * (grad_full - eta), axis=1)  # theta -= lr grad U_b
    got = sgd_noise(th, lr=lr)
    np.testing.assert_allclose(got.value, eta - eta.mean(axis=0), atol=1e-12)
    assert got.meta["units"] == "gradient"
    plain = sgd_noise(th)
    assert plain.meta["units"] == "parameter"
    np.testing.assert_allclose(plain.value, lr * got.value, atol=1e-14)
    np.testing.assert_allclose(plain.meta["variance"], lr**2 * got.meta["variance"], rtol=1e-12)
    # the learning module's noise statistics read the same noise
    from stochthermo.learning import noise_statistics

    var, _ = noise_statistics(th, lr, max_lag=2)
    np.testing.assert_allclose(var, got.meta["variance"].mean(axis=-1), rtol=1e-10)
    # null control: trials that never differ carry no noise
    same = np.repeat(th[:1], 3, axis=0)
    assert np.max(np.abs(sgd_noise(same, lr=lr).value)) < 1e-12
    with pytest.raises(ValidationError, match="lr"):
        sgd_noise(th, lr=-1.0)


def test_sgd_bad_input():
    with pytest.raises(InsufficientDataError, match="at least 2 trials"):
        sgd_noise(np.zeros((1, 5, 2)))
    with pytest.raises(ValidationError, match="must have 3 dimension"):
        sgd_noise(np.zeros((5, 2)))
    with pytest.raises(ValidationError, match="lr=0.0 must be > 0"):
        effective_temperature(np.zeros((3, 5, 2)), lr=0.0)


@pytest.mark.parametrize("mu", [0.5, 1.5])
def test_fluctuation_theorems_hold(mu):
    # s ~ N(mu, 2 mu) obeys both the integral and the detailed FT exactly
    s = np.random.default_rng(5).normal(mu, np.sqrt(2 * mu), 200_000)
    integral = fluctuation_theorem(s)
    assert abs(integral.zscore(1.0)) < 3
    detailed = fluctuation_theorem(s, method="detailed")
    assert abs(detailed.zscore(1.0)) < 3


def test_fluctuation_theorems_detect_violation():
    # control: s ~ N(mu, mu) violates both (<exp(-s)> = exp(-mu/2), slope 2)
    mu = 1.0
    s = np.random.default_rng(6).normal(mu, np.sqrt(mu), 200_000)
    integral = fluctuation_theorem(s)
    assert abs(integral.zscore(np.exp(-mu / 2))) < 3
    assert abs(integral.zscore(1.0)) > 10
    detailed = fluctuation_theorem(s, method="detailed")
    assert abs(detailed.zscore(2.0)) < 3


def test_fluctuation_bad_input():
    with pytest.raises(InsufficientDataError, match="bin pair"):
        fluctuation_theorem(
            np.abs(np.random.default_rng(0).standard_normal(100)), method="detailed"
        )
    with pytest.raises(ValidationError, match="unknown method="):
        fluctuation_theorem([1.0, 2.0], method="crooks")
