"""LinearizedSGD: epoch reshuffling and learning-rate / batch-size schedules, exactly.

The simulation is a direct NumPy run of mini-batch SGD on per-sample quadratic losses
``l_i(theta) = 1/2 (theta - b_i)^T H (theta - b_i)``, whose per-sample gradients
``H (theta - b_i)`` are known: ``grad U_B = H (theta - bbar)`` and the per-sample gradient
covariance is ``Sigma_g = H S_B H`` (``S_B`` the data's 1/N covariance), state-independent.
"""

from __future__ import annotations

import numpy as np
import pytest

from stochthermo import LinearizedSGD, LinearLangevin, exact
from stochthermo.errors import ValidationError
from stochthermo.learning import cosine_schedule, step_decay

H = np.array([[1.5, 0.4], [0.4, 0.6]])
N, M, R = 100, 10, 0.1


def _data(seed=0):
    b = np.random.default_rng(seed).standard_normal((N, 2)) @ np.array([[1.0, 0.3], [0.0, 0.7]])
    bbar = b.mean(axis=0)
    S_B = (b - bbar).T @ (b - bbar) / N
    return b, bbar, H @ S_B @ H


def _simulate(b, n_steps, K, *, lr, sizes, shuffle, momentum=0.0, theta0=None, seed=1):
    """Mini-batch SGD paths (K, n_steps + 1, 2) on the per-sample quadratic losses."""
    rng = np.random.default_rng(seed)
    theta = np.tile(b.mean(axis=0) if theta0 is None else theta0, (K, 1)).astype(float)
    prev = theta.copy()
    out = np.empty((K, n_steps + 1, 2))
    out[:, 0] = theta
    pos, perm = N, None
    for t in range(n_steps):
        m = int(sizes[t])
        if shuffle:
            if pos + m > N:
                perm, pos = np.argsort(rng.random((K, N)), axis=1), 0
            idx = perm[:, pos:pos + m]
            pos += m
        else:  # a fresh random subset each step (phi = (N - m) / (N - 1))
            idx = np.argsort(rng.random((K, N)), axis=1)[:, :m]
        g = (theta - b[idx].mean(axis=1)) @ H.T
        new = theta - lr[t] * g + momentum * (theta - prev)
        prev, theta = theta, new
        out[:, t + 1] = theta
    return out


def _cov_z(x, C):
    """z-scores of the sample covariance entries of x (n, 2) against C (normal theory)."""
    n = x.shape[0]
    S = np.cov(x.T)
    se = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) / (n - 1))
    return (S - C) / se


@pytest.fixture(scope="module")
def setup():
    return _data()


def _model(Sg, bbar, **kw):
    return LinearizedSGD(H, Sg, lr=R, batch_size=M, dataset_size=N, theta_star=bbar, **kw)


def test_reshuffle_moments_match_shuffled_sgd(setup):
    """N = 100, m = 10, r = 0.1: the exact reshuffled moments against simulation (3 s.e.)."""
    b, bbar, Sg = setup
    shuf = _model(Sg, bbar, sampling="reshuffle")
    iid = _model(Sg, bbar)
    ts = np.array([5, 45, 50, 55])
    cf = exact.moments(shuf, ts)
    ci = exact.moments(iid, ts)
    paths = _simulate(b, 56, 4000, lr=np.full(56, R), sizes=np.full(56, M), shuffle=True)
    for j, t in enumerate(ts):
        assert np.all(np.abs(_cov_z(paths[:, t], cf.cov[j])) < 3), t
        # the independent-batch model is far off after the first epoch
        if t > 10:
            assert np.max(np.abs(_cov_z(paths[:, t], ci.cov[j]))) > 8
    # smallest at the end of an epoch (t = 50), when the epoch's noise has summed to ~0
    tr = np.trace(cf.cov, axis1=1, axis2=2)
    assert tr[2] < tr[1] and tr[2] < tr[3]


def test_reshuffle_with_momentum_matches_simulation(setup):
    b, bbar, Sg = setup
    shuf = _model(Sg, bbar, sampling="reshuffle", momentum=0.5)
    ts = np.array([7, 33, 40])
    cf = exact.moments(shuf, ts)
    paths = _simulate(b, 40, 4000, lr=np.full(40, R), sizes=np.full(40, M), shuffle=True,
                      momentum=0.5, seed=2)
    for j, t in enumerate(ts):
        assert np.all(np.abs(_cov_z(paths[:, t], cf.cov[j])) < 3), t


@pytest.mark.parametrize("schedule", [step_decay(0.4, factor=0.5, every=10),
                                      cosine_schedule(0.4, 40, lr_min=0.02)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_schedules_match_simulation(setup, schedule, shuffle):
    b, bbar, Sg = setup
    model = _model(Sg, bbar, sampling="reshuffle" if shuffle else "iid")
    theta0 = bbar + np.array([1.0, -0.5])
    ts = np.array([3, 12, 25, 40])
    cf = exact.moments(model, ts, mean0=theta0, lr=schedule)
    rates = np.array([schedule(t) for t in range(40)])
    paths = _simulate(b, 40, 4000, lr=rates, sizes=np.full(40, M), shuffle=shuffle,
                      theta0=theta0, seed=3)
    for j, t in enumerate(ts):
        x = paths[:, t]
        se = np.sqrt(np.diag(cf.cov[j]) / x.shape[0])
        assert np.all(np.abs(x.mean(axis=0) - cf.mean[j]) < 3 * se), t
        assert np.all(np.abs(_cov_z(x, cf.cov[j])) < 3), t
    # the mean follows the scheduled deterministic map
    m = theta0 - bbar
    for t in range(40):
        m = m - rates[t] * H @ m
    np.testing.assert_allclose(exact.moments(model, 40, mean0=theta0, lr=schedule).mean[0],
                               bbar + m, rtol=1e-12, atol=1e-14)


def test_batch_size_schedule_iid_matches_recursion(setup):
    b, bbar, Sg = setup
    model = _model(Sg, bbar)
    sizes = np.array([2] * 15 + [20] * 15)
    cf = exact.moments(model, [15, 30], batch_size=sizes)
    paths = _simulate(b, 30, 4000, lr=np.full(30, R), sizes=sizes, shuffle=False, seed=4)
    for j, t in enumerate([15, 30]):
        assert np.all(np.abs(_cov_z(paths[:, t], cf.cov[j])) < 3)


def test_constant_iid_recursion_equals_closed_form(setup):
    _, bbar, Sg = setup
    for beta in (0.0, 0.6):
        model = _model(Sg, bbar, momentum=beta)
        ts = np.array([0, 1, 7, 80])
        a = exact.moments(model, ts, mean0=bbar + 1.0, cov0=0.1 * np.eye(2))
        means, covs = model.moment_recursion(80, mean0=bbar + 1.0, cov0=0.1 * np.eye(2))
        np.testing.assert_allclose(means[ts], a.mean, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(covs[ts], a.cov, rtol=1e-10, atol=1e-14)
        # a schedule that is constant gives the same numbers as no schedule
        c = exact.moments(model, ts, mean0=bbar + 1.0, cov0=0.1 * np.eye(2),
                          lr=lambda t: R)
        np.testing.assert_allclose(c.cov, a.cov, rtol=1e-10, atol=1e-14)


def test_epoch_covariances_are_the_periodic_steady_state(setup):
    _, bbar, Sg = setup
    for beta in (0.0, 0.5):
        model = _model(Sg, bbar, sampling="reshuffle", momentum=beta)
        per = model.epoch_covariances()
        assert per.shape == (N // M, 2, 2)
        _, covs = model.moment_recursion(3000)
        np.testing.assert_allclose(covs[2990:3000], per, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(exact.stationary_covariance(model), per.mean(axis=0),
                                   rtol=1e-12)
        # well below the independent-batch covariance (ratio 0.54 without momentum)
        iid = exact.stationary_covariance(_model(Sg, bbar, momentum=beta))
        assert np.trace(per.mean(axis=0)) < 0.7 * np.trace(iid)


def test_epoch_starts_follow_the_engine_rule():
    model = LinearizedSGD(np.eye(1), np.eye(1), lr=0.1, batch_size=3, dataset_size=10,
                          sampling="reshuffle")
    starts = model.epoch_starts([3, 3, 3, 3, 5, 5, 6, 4, 1])
    assert starts.tolist() == [True, False, False, True, False, True, True, False, True]


def test_bad_requests(setup):
    _, bbar, Sg = setup
    with pytest.raises(ValidationError, match="needs dataset_size"):
        LinearizedSGD(H, Sg, lr=R, batch_size=M, sampling="reshuffle")
    with pytest.raises(ValidationError, match="unknown sampling"):
        LinearizedSGD(H, Sg, lr=R, batch_size=M, dataset_size=N, sampling="epochs")
    with pytest.raises(ValidationError, match="LinearizedSGD model only"):
        exact.moments(LinearLangevin(np.eye(2), np.eye(2)), 1.0, lr=lambda t: 0.1)
    model = _model(Sg, bbar)
    with pytest.raises(ValidationError, match="limited to"):
        exact.moments(model, 10**9, lr=lambda t: 0.1)
    with pytest.raises(ValidationError, match="more than dataset_size"):
        exact.moments(model, 3, batch_size=[1, 200, 1])
    with pytest.raises(ValidationError, match="at least n_steps"):
        exact.moments(model, 5, lr=[0.1, 0.1])
    with pytest.raises(ValidationError, match="epoch_covariances needs"):
        model.epoch_covariances()
    assert "sampling='reshuffle'" in repr(_model(Sg, bbar, sampling="reshuffle"))


def test_simulate_refuses_reshuffled_model(setup):
    import stochthermo as st

    _, bbar, Sg = setup
    with pytest.raises(ValidationError, match="not simulated here"):
        st.simulate(_model(Sg, bbar, sampling="reshuffle"), n_steps=5, n_traj=2, seed=0)
