"""Run discovery, TrajectoryWriter and the streaming diagnostics on NumPy SGD ensembles."""

import json
import os

import numpy as np
import pytest

from stochthermo._rng import trajectory_seeds
from stochthermo.bridge import (
    TrajectoryWriter,
    diagnose,
    diagnose_run,
    fit_batch_scaling,
    open_runs,
    read_checkpoint,
)
from stochthermo.errors import BridgeError, ShapeError

# ---- a small NumPy SGD ensemble written with TrajectoryWriter ---------------------------


D_IN = 4
N_DATA = 400


def dataset(seed=11):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_DATA, D_IN))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.7 * rng.normal(size=N_DATA)
    return X, y


def per_sample_grads(theta, X, y):
    return (X @ theta - y)[:, None] * X  # gradient of 1/2 (x.theta - y)^2


def exact_first_noise_var(theta0, batch, lr):
    """lr^2 (1/d) tr Sigma_g(theta0) / |b|: the exact first-interval noise variance."""
    X, y = dataset()
    g = per_sample_grads(theta0, X, y)
    return lr**2 * np.mean(g.var(axis=0)) / batch


def write_ensemble(root, batch_sizes=(1, 10, 100), n_trials=40, n_steps=12, lr=0.05,
                   seed=5, log_grads=False, theta0=None):
    X, y = dataset()
    theta0 = np.array([0.3, 0.2, -0.1, 0.4]) if theta0 is None else theta0
    for bs in batch_sizes:
        run_dir = os.path.join(root, f"bs{bs}")
        os.makedirs(run_dir, exist_ok=True)
        with open(os.path.join(run_dir, "config.json"), "w") as fh:
            json.dump({"batch_size": int(bs), "lr": lr}, fh)
        seeds = trajectory_seeds(seed + bs, n_trials)
        for j in range(n_trials):
            rng = np.random.default_rng(int(seeds[j]))
            theta = theta0.copy()
            with TrajectoryWriter(os.path.join(run_dir, f"trial{j:02d}"), shard_size=5) as w:
                for step in range(n_steps + 1):
                    idx = rng.integers(0, N_DATA, size=bs)  # sampling with replacement
                    g_all = per_sample_grads(theta, X, y)
                    g = g_all[idx].mean(axis=0)
                    full = g_all.mean(axis=0)
                    loss = 0.5 * np.mean((X @ theta - y) ** 2)
                    w.write(step, {"lin.weight": theta.reshape(1, -1)},
                            grads={"lin.weight": g.reshape(1, -1)} if log_grads else None,
                            full_grads={"lin.weight": full.reshape(1, -1)} if log_grads else None,
                            scalars={"loss": loss})
                    theta = theta - lr * g
    return theta0


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    theta0 = write_ensemble(str(root), n_trials=60, n_steps=10, log_grads=True)
    return str(root), theta0


def test_open_runs_finds_runs_trials_and_meta(ensemble):
    root, _ = ensemble
    runs = open_runs(root)
    assert [r.name for r in runs] == ["bs1", "bs10", "bs100"]
    assert [r.batch_size for r in runs] == [1, 10, 100]
    assert all(len(r.trials) == 60 for r in runs)
    assert runs[0].steps.tolist() == list(range(11)) and runs[0].stride == 1
    assert runs[0].lr == 0.05


def test_first_interval_noise_matches_exact_and_falls_with_batch(ensemble):
    root, theta0 = ensemble
    diag = diagnose(open_runs(root), max_lag=3)
    firsts, ses = [], []
    for r in diag.runs:
        exact = exact_first_noise_var(theta0, r.batch_size, r.lr)
        z = (r.noise_var[0] - exact) / r.noise_var_stderr[0]
        assert abs(z) < 4, (r.name, r.noise_var[0], exact)
        firsts.append(r.noise_var[0])
        ses.append(r.noise_var_stderr[0])
        # logged mini-batch vs full-batch gradients: same noise (per unit lr^2)
        lz = r.noise_var_logged[0] * r.lr**2 / exact
        assert 0.5 < lz < 2.0
        # with replacement the noise is white
        assert np.all(np.abs(r.autocorr[1:]) < 4 * r.autocorr_stderr[1:] + 0.02)
        assert r.autocorr[0] == pytest.approx(1.0)
        assert r.temperature is not None and r.temperature.value > 0
        assert set(r.scalars) == {"loss"}
        steps, mean, var, n = r.scalars["loss"]
        assert n == 60 and var[0] == pytest.approx(0.0, abs=1e-20)  # shared initialisation
    alpha = fit_batch_scaling([1, 10, 100], firsts, ses)
    assert abs(alpha.value + 1) < 4 * alpha.stderr, alpha
    assert diag.batch_scaling.value < -0.7  # time-averaged noise also falls like 1/|b|


def test_null_control_same_batch_size(tmp_path):
    write_ensemble(str(tmp_path), batch_sizes=(10,), n_trials=60, n_steps=2)
    os.rename(tmp_path / "bs10", tmp_path / "copyA")
    write_ensemble(str(tmp_path), batch_sizes=(10,), n_trials=60, n_steps=2, seed=99)
    runs = open_runs(tmp_path, meta=None)
    d = [diagnose_run(r) for r in runs]
    # label the identical runs as batch sizes 1 and 100: the fitted exponent must be ~0
    alpha = fit_batch_scaling([1, 100], [x.noise_var[0] for x in d],
                              [x.noise_var_stderr[0] for x in d])
    assert abs(alpha.value) < 4 * alpha.stderr


def test_autocorrelation_detects_correlated_noise(tmp_path):
    rng = np.random.default_rng(3)
    phi, n_tr, n_steps, d = 0.6, 30, 40, 50
    for j in range(n_tr):
        theta = np.zeros(d)
        xi = rng.normal(size=d)
        with TrajectoryWriter(tmp_path / "run" / f"t{j}", shard_size=7) as w:
            for s in range(n_steps):
                w.write(s, {"w": theta})
                xi = phi * xi + np.sqrt(1 - phi**2) * rng.normal(size=d)
                theta = theta + xi
    (run,) = open_runs(tmp_path / "run")
    r = diagnose_run(run, max_lag=2, autocorr_params=20)
    assert abs(r.autocorr[1] - phi) < 4 * r.autocorr_stderr[1] + 0.05
    assert abs(r.autocorr[2] - phi**2) < 4 * r.autocorr_stderr[2] + 0.05


def test_strides_gaps_and_shape_mismatch(tmp_path):
    for j in range(3):
        folder = _mk(tmp_path / "run" / f"t{j}")
        for s in (0, 5, 10, 20):
            if j == 1 and s == 10:
                continue
            np.savez(folder / f"ckpt_{s}.npz", w=np.full(3, s + j, dtype=np.float32))
    (run,) = open_runs(tmp_path / "run")
    assert run.steps.tolist() == [0, 5, 20] and run.dropped_steps == (10,) and run.stride == 5
    r = diagnose_run(run)
    assert r.interval.tolist() == [5.0, 15.0]
    assert np.allclose(r.noise_var, 0.0)  # identical increments across trials: no noise
    _mk(tmp_path / "bad" / "a")
    _mk(tmp_path / "bad" / "b")
    np.savez(tmp_path / "bad" / "a" / "s1.npz", w=np.zeros(3))
    np.savez(tmp_path / "bad" / "b" / "s1.npz", w=np.zeros(4))
    with pytest.raises(ShapeError, match=r"s1\.npz.*s1\.npz"):
        open_runs(tmp_path / "bad")
    with pytest.raises(BridgeError):
        open_runs(tmp_path / "nothing")


def _mk(p):
    p.mkdir(parents=True, exist_ok=True)
    return p


def test_writer_shards_are_readable_and_atomic(tmp_path):
    class FakeTensor:  # a framework tensor: detach().cpu() then __array__
        def __init__(self, a):
            self.a = np.asarray(a)

        def detach(self):
            return self

        def cpu(self):
            return self

        def __array__(self, dtype=None, copy=None):
            return self.a

    with TrajectoryWriter(tmp_path / "t", shard_size=2) as w:
        for s in range(5):
            w.write(s, {"w": FakeTensor([s, s + 1.0])}, scalars={"acc": s / 10})
    files = sorted(os.listdir(tmp_path / "t"))
    assert files == ["scalars.csv", "shard_000000000000_000000000001.npz",
                     "shard_000000000002_000000000003.npz", "shard_000000000004_000000000004.npz"]
    sd = read_checkpoint(tmp_path / "t" / files[1])
    assert "s000000000001/p/w" in sd
    w2 = TrajectoryWriter(tmp_path / "u")
    w2.write(3, [1.0])
    with pytest.raises(ValueError, match="steps must increase"):
        w2.write(2, [1.0])
    with open(tmp_path / "t" / "scalars.csv") as fh:
        assert fh.readline().strip() == "step,acc"


# ---- each streaming accumulator against a naive twin holding every checkpoint ------------

from stochthermo.bridge._accumulators import (  # noqa: E402
    IncrementNoise,
    LoggedNoise,
    NoiseAutocorr,
    OutputThermo,
)


def _stream_noise(P, steps, sub, max_lag):
    n_tr, n_ck, d = P.shape
    interval = np.diff(steps).astype(float)
    noise = IncrementNoise(n_tr, d, np.dtype(np.float64), sub)
    acorr = NoiseAutocorr(max_lag, n_tr, sub.size, interval)
    out = []
    for n in range(n_ck):
        for j in range(n_tr):
            noise.add(j, P[j, n].copy(), first=n == 0)
        if n:
            *stats, e_sub = noise.close(interval[n - 1])
            acorr.add(n, e_sub)
            out.append(stats + [e_sub])
    return out, acorr.result()


def naive_noise(P, steps, sub, max_lag):
    """Twin: increments of all checkpoints at once, variances and lagged products."""
    k = np.diff(steps).astype(float)
    delta = np.diff(P, axis=1)  # (n_tr, n_ck - 1, d)
    mean = delta.mean(axis=0)
    var = delta.var(axis=0, ddof=1).mean(axis=1) / k
    drift = np.abs(mean).max(axis=1) / k
    e = (delta - mean)[:, :, sub]  # deviations per interval
    n_int = e.shape[1]
    per = np.full((P.shape[0], max_lag + 1), np.nan)
    for lag in range(min(max_lag, n_int - 1) + 1):
        terms = [np.einsum("jk,jk->j", e[:, i], e[:, i - lag]) / np.sqrt(k[i] * k[i - lag])
                 for i in range(lag, n_int)]
        per[:, lag] = np.mean(terms, axis=0)
    c0 = per[:, 0].mean()
    return var, drift, e, per.mean(axis=0) / c0


def test_increment_noise_and_autocorrelation_match_their_naive_twins():
    rng = np.random.default_rng(4)
    n_tr, n_ck, d = 7, 9, 30
    steps = np.cumsum(rng.integers(1, 4, size=n_ck))
    P = np.cumsum(rng.normal(size=(n_tr, n_ck, d)) + 0.3, axis=1)
    sub = np.sort(rng.choice(d, size=12, replace=False))
    out, (ac, ac_se) = _stream_noise(P, steps, sub, max_lag=3)
    var, drift, e, ac_naive = naive_noise(P, steps, sub, 3)
    np.testing.assert_allclose([o[0] for o in out], var, rtol=1e-12)
    np.testing.assert_allclose([o[2] for o in out], drift, rtol=1e-12)
    for i, o in enumerate(out):
        np.testing.assert_allclose(o[3], e[:, i], rtol=1e-10, atol=1e-12)
        assert o[1] > 0
    np.testing.assert_allclose(ac, ac_naive, rtol=1e-10)
    assert ac[0] == 1.0 and np.all(ac_se[1:] > 0)


def test_increment_noise_null_control_identical_trials():
    """Trials moving together have no noise: variance 0, autocorrelation undefined (NaN)."""
    rng = np.random.default_rng(5)
    path = np.cumsum(rng.normal(size=(6, 10)), axis=0)
    P = np.broadcast_to(path, (5, 6, 10)).copy()
    out, (ac, _) = _stream_noise(P, np.arange(6), np.arange(10), max_lag=2)
    assert all(o[0] == 0.0 for o in out)
    assert np.isnan(ac).all()


def test_logged_noise_matches_its_naive_twin():
    rng = np.random.default_rng(6)
    n_tr, n_ck = 4, 3
    g = rng.normal(size=(n_tr, n_ck, 5))
    G = rng.normal(size=(n_tr, n_ck, 5))
    acc = LoggedNoise(n_ck, n_tr)
    for n in range(n_ck):
        for j in range(n_tr):
            if n == 2 and j == 1:  # one trial without logged gradients: checkpoint dropped
                acc.add({"g": None, "G": None}, ["a", "b"])
                continue
            acc.add({"g": {"a": g[j, n, :2], "b": g[j, n, 2:]},
                     "G": {"a": G[j, n, :2], "b": G[j, n, 2:]}}, ["a", "b"])
        acc.close(n)
    naive = ((G - g) ** 2).mean(axis=2).mean(axis=0)
    np.testing.assert_allclose(acc.result()[:2], naive[:2], rtol=1e-12)
    assert np.isnan(acc.result()[2])


def test_output_thermo_matches_its_naive_twin():
    rng = np.random.default_rng(7)
    n_tr, n_ck, n_probe, n_cls = 5, 4, 6, 3
    logits = rng.normal(size=(n_tr, n_ck, n_probe, n_cls))
    acc = OutputThermo(n_tr, n_ck)
    for n in range(n_ck):
        for j in range(n_tr):
            acc.add(j, n, logits[j, n])
    th = acc.result()
    lp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    p = np.exp(lp)
    ent = (-(p * lp).sum(axis=-1)).mean(axis=-1)  # (n_tr, n_ck)
    kl = (p[:, :-1] * (lp[:, :-1] - lp[:, 1:])).sum(axis=-1).mean(axis=-1)
    heat = np.diff(ent, axis=1) - kl
    np.testing.assert_allclose(th["entropy"], ent.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(th["work"], kl.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(th["heat"], heat.mean(axis=0), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(th["sigma_cond"], np.cumsum(kl.mean(axis=0)), rtol=1e-12)
    assert np.all(kl >= 0)  # KL: never negative, so the clip at 0 did nothing here
