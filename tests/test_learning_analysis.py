"""Quasi-static sweep, reservoir comparison, Fig. 4.1 experiment, CLI."""

import json

import numpy as np
import pytest

from stochthermo.learning import (
    GaussianLearner,
    LinearRegression,
    SoftmaxRegression,
    fig41,
    learn,
    noise_statistics,
    quasi_static_sweep,
    reservoir_comparison,
)


def test_quasi_static_closed_form_slope():
    lrs = np.array([0.005, 0.01, 0.02, 0.04])
    horizon = 2.0
    ep = []
    for lr in lrs:
        g = GaussianLearner(mu=1.0, data_std=1.0, n_data=10, batch_size=2, lr=lr)
        n = int(round(horizon / lr))
        ep.append(g.closed_form(np.arange(n))["kl"].sum())
    slope = np.polyfit(np.log(lrs), np.log(ep), 1)[0]
    assert abs(slope - 1) < 0.1


def test_quasi_static_sweep_simulated_gaussian():
    g = GaussianLearner(mu=1.0, data_std=1.0, n_data=10, batch_size=2, lr=0.1)
    sw = quasi_static_sweep(g.model(), g.draw_data, lrs=[0.01, 0.02, 0.04, 0.08], horizon=2.0,
                            batch_size=2, n_trials=1, n_datasets=300, seed=1, method="gaussian",
                            noise_cov=1.0, init="own")
    assert abs(sw.slope.value - 1) < 0.1
    assert sw.slope.stderr < 0.05


def test_quasi_static_sweep_softmax_fisher():
    rng = np.random.default_rng(0)
    U = rng.normal(size=(60, 2))
    y = (U[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(int)
    model = SoftmaxRegression(n_in=2, n_classes=2)
    sw = quasi_static_sweep(model, (U, y), lrs=[0.02, 0.04, 0.08], horizon=1.0, batch_size=5,
                            n_trials=30, seed=2, kl="exact", probe=U[:10])
    assert abs(sw.slope.value - 1) < 0.1
    ens = learn(model, (U, y), lr=0.05, batch_size=5, n_steps=20, n_trials=10, seed=3,
                probe=U[:10], record=("kl", "kl_fisher", "work", "heat", "energy", "accuracy"))
    a, b = ens.conditional_entropy_production("exact"), ens.conditional_entropy_production("fisher")
    assert abs(a.value - b.value) / a.value < 0.05
    assert ens.first_law_residual().max() < 1e-10
    assert np.all((ens.accuracy >= 0) & (ens.accuracy <= 1))


def test_reservoir_comparison_anisotropic_noise():
    rng = np.random.default_rng(0)
    U = rng.normal(size=(200, 2)) * np.array([1.0, 0.3])
    U[:, 1] += 0.5 * U[:, 0]
    y = U @ np.array([1.0, -2.0]) + 0.5 + 0.5 * rng.normal(size=200)
    A = np.hstack([U, np.ones((200, 1))])
    ts = np.linalg.lstsq(A, y, rcond=None)[0]
    rc = reservoir_comparison(LinearRegression(n_in=2), (U, y), theta_star=ts, lr=0.05,
                              batch_size=5, n_steps=300, burn_in=100, n_trials=120, seed=2)
    # the realistic (Lyapunov) covariance is measured - over the measured window, whose
    # slowest direction (relaxation ~140 steps) has not fully relaxed - and the naive Gibbs
    # one is far off
    z = (rc.measured_cov.value - rc.window_cov) / rc.measured_cov.stderr
    assert np.all(np.abs(np.diag(z)) < 3)
    assert np.abs(np.diag(rc.gibbs_cov) - np.diag(rc.lyapunov_cov)).max() > \
        10 * np.diag(rc.measured_cov.stderr).max()
    # the realistic reservoir's rate is the exact path KL of the discrete SGD map (0.0161 per
    # unit time here), not the continuous formula fed with the discrete covariance
    from stochthermo import exact
    from stochthermo.models.linear import LinearizedSGD

    sgd = LinearizedSGD(rc.hessian, rc.grad_noise_cov, lr=0.05, batch_size=5)
    assert rc.ep_rate_realistic == pytest.approx(exact.entropy_production(sgd, discrete=True))
    assert rc.ep_rate_realistic == pytest.approx(0.0161, abs=5e-5)
    assert rc.ep_rate_naive == 0
    assert abs(rc.ep_rate_measured.zscore(rc.ep_rate_realistic)) < 3
    assert rc.ep_rate_continuous == pytest.approx(exact.entropy_production(sgd))


def test_noise_statistics_white_null():
    rng = np.random.default_rng(4)
    K, T, d, lr = 30, 200, 50, 0.1
    steps = rng.normal(size=(K, T, d)) / np.sqrt(4.0)
    params = np.concatenate([np.zeros((K, 1, d)), np.cumsum(lr * steps, axis=1)], axis=1)
    var, ac = noise_statistics(params, lr, max_lag=3)
    assert abs(var.mean() - 0.25) < 0.01
    assert np.all(np.abs(ac[1:]) < 0.02)


def test_fig41_tiny(tmp_path):
    res = fig41(data="teacher", hidden=(16, 16, 16), batch_sizes=(1, 10, 100), n_trials=6,
                n_steps=30, lr=0.01, n_eval=64, eval_every=10, seed=1)
    assert abs(res.exponent + 1) < 0.15
    for b in res.batch_sizes:
        assert abs(res.autocorrelation[b][1]) < 0.05
        assert res.accuracy_mean[b].shape == res.eval_steps.shape
    from stochthermo.plotting import fig41_data_from_result, save_fig41_panels

    paths = save_fig41_panels(fig41_data_from_result(res), tmp_path)
    assert len(paths) == 4
    assert all(p.exists() and p.stat().st_size > 1000 for p in paths)
    json.dumps(res.to_dict())


def test_load_dataset_npz_and_idx(tmp_path):
    import gzip
    import struct

    from stochthermo.errors import CorruptFileError
    from stochthermo.learning import load_dataset

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(20, 4, 4)).astype(np.uint8)
    y = rng.integers(0, 10, size=20).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x_train=X, y_train=y)
    U, lab, _ = load_dataset(tmp_path / "d.npz")
    assert U.shape == (20, 16) and U.max() <= 1.0 and np.array_equal(lab, y)
    folder = tmp_path / "mnist"
    folder.mkdir()
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(bytes([0, 0, 8, 3]) + struct.pack(">III", 20, 4, 4) + X.tobytes())
    with open(folder / "train-labels-idx1-ubyte", "wb") as fh:
        fh.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 20) + y.tobytes())
    U2, lab2, _ = load_dataset(folder)
    np.testing.assert_allclose(U2, X.reshape(20, -1) / 255.0)
    assert np.array_equal(lab2, y)
    with open(folder / "train-labels-idx1-ubyte", "wb") as fh:
        fh.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 25) + y.tobytes())
    with pytest.raises(CorruptFileError, match="truncated"):
        load_dataset(folder)


def test_cli_learn_and_experiment(tmp_path, capsys):
    from stochthermo.cli import main

    assert main(["learn", "--steps", "1,3", "--json", str(tmp_path / "g.json")]) == 0
    out = json.loads((tmp_path / "g.json").read_text())
    assert out["steps"] == [1, 3] and "m_info" in out["closed_form"]
    assert main(["learn", "--steps", "a,b"]) == 2
    assert main(["experiment", "fig4.1", "--out", str(tmp_path / "f"), "--quick", "--data",
                 "teacher", "--width", "8", "--trials", "4", "--steps", "10"]) == 0
    assert (tmp_path / "f" / "fig41.json").exists()
