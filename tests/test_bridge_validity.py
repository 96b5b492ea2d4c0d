"""Validity of the ensemble-increment noise estimate: per-interval tests and the fit window."""

import json
import os

import numpy as np
import pytest
from bridge_mlp_runs import write_mlp_runs
from report_checks import assert_valid_html

from stochthermo.bridge import TrajectoryWriter, diagnose, diagnose_run, open_runs
from stochthermo.bridge._accumulators import IncrementNoise
from stochthermo.bridge._validity import (
    IncrementValidity,
    in_window,
    interval_passes,
    valid_window,
)


def linear_ensemble(a, *, n_trials=20, d=300, n_steps=60, sigma=0.01, seed=0):
    """theta_{t+1} = (1 + a) theta_t + sigma xi: exact per-step noise variance sigma^2."""
    rng = np.random.default_rng(seed)
    P = np.zeros((n_trials, n_steps + 1, d))
    for t in range(n_steps):
        P[:, t + 1] = (1 + a) * P[:, t] + sigma * rng.normal(size=(n_trials, d))
    return P


def naive_validity(P):
    """Twin: rho, spread and growth from every checkpoint held in memory."""
    T, _, d = P.shape
    delta = np.diff(P, axis=1)
    e = delta - delta.mean(axis=0)
    x = P[:, :-1] - P[:, :-1].mean(axis=0)
    c = np.einsum("jnd,jnd->n", x, e)
    s = np.einsum("jnd,jnd->n", x, x)
    v = np.einsum("jnd,jnd->n", e, e)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(s > 0, c / np.sqrt(s * v), 0.0)
        spread = s / (T - 1) / d
        cum = np.concatenate([[0.0], np.cumsum(v / (T - 1) / d)[:-1]])
        growth = np.where(cum > 0, spread / cum, np.where(spread > 0, np.inf, 0.0))
    return rho, spread, growth


def stream_validity(P):
    T, N, d = P.shape
    val = IncrementValidity(T, d, np.dtype(np.float64))
    noise = IncrementNoise(T, d, np.dtype(np.float64), np.arange(3), validity=val)
    out = []
    for n in range(N):
        for j in range(T):
            noise.add(j, P[j, n].copy(), first=n == 0)
        if n:
            noise.close(1.0)
            out.append(val.close(noise.total, noise.sum_y))
    return np.array(out)


@pytest.mark.parametrize("a", [0.05, -0.05])
def test_validity_statistics_match_their_naive_twin(a):
    P = linear_ensemble(a, n_trials=6, d=40, n_steps=12)
    P[:, 0] += np.random.default_rng(1).normal(size=(6, 40)) * 1e-3  # spread at the start
    got = stream_validity(P)
    rho, spread, growth = naive_validity(P)
    np.testing.assert_allclose(got[:, 0], rho, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[:, 2], spread, rtol=1e-9)
    assert np.isinf(got[0, 3]) and np.isinf(growth[0])
    np.testing.assert_allclose(got[1:, 3], growth[1:], rtol=1e-9)
    assert np.all(got[:, 1] > 0)


def _write(P, root, every=1):
    for j in range(P.shape[0]):
        with TrajectoryWriter(os.path.join(root, f"t{j:02d}"), shard_size=1000) as w:
            for n in range(0, P.shape[1], every):
                w.write(n, {"w": P[j, n]})
    (run,) = open_runs(root)
    return run


def test_unstable_drift_ends_the_window_where_the_bias_appears(tmp_path):
    a, sigma = 0.05, 0.01
    r = diagnose_run(_write(linear_ensemble(a, sigma=sigma), tmp_path / "run"))
    # closed form of the estimate at interval t: sigma^2 + a^2 S_t, S_t the spread
    t = np.arange(r.noise_var.size)
    spread = sigma**2 * ((1 + a) ** (2 * t) - 1) / ((1 + a) ** 2 - 1)
    bias = a**2 * spread / sigma**2
    assert r.window is not None and r.window[0] == 0
    assert 5 <= r.window[1] <= 30, r.window
    assert bias[r.window[1] - 1] < 0.5  # stops before the bias is large
    assert not r.valid[t > 40].any()  # and every later interval fails
    inside = r.mean_noise_var()
    assert abs(inside.value - sigma**2) < 4 * inside.stderr + 0.1 * sigma**2
    assert r.mean_noise_var("all").value > 2 * sigma**2  # what the all-interval fit reports


@pytest.mark.parametrize("a", [0.0, -0.05])
def test_pure_noise_and_restoring_drift_keep_every_interval(tmp_path, a):
    """Null control (a random walk) and a stable quadratic: the whole run is one window."""
    r = diagnose_run(_write(linear_ensemble(a, n_steps=40, seed=3), tmp_path / "run"))
    assert r.valid.all() and r.window == (0, 40)
    m = r.mean_noise_var()
    assert abs(m.value - 1e-4) < 4 * m.stderr + 0.05e-4
    assert not m.warnings


def test_valid_window_across_runs():
    s = np.arange(0, 11)
    ok = np.ones(10, dtype=bool)
    late = ok.copy()
    late[6:] = False
    early = ok.copy()
    early[1] = False
    assert valid_window([(s, ok), (s, ok)]) == (0, 10)
    assert valid_window([(s, ok), (s, late)]) == (0, 6)
    assert valid_window([(s, early), (s, late)]) == (2, 6)
    assert valid_window([(s, ~ok), (s, ok)]) is None
    coarse = np.arange(0, 11, 5)  # a run with checkpoints every 5 steps
    win = valid_window([(coarse, np.ones(2, bool)), (s, late)])
    assert win == (0, 6) and in_window(coarse, win).tolist() == [True, False]
    assert interval_passes([0.0, 0.9], [0.01, 0.01], [1.0, 1.0]).tolist() == [True, False]
    assert interval_passes([0.0], [0.01], [np.nan]).tolist() == [False]


# ---- a real training study: NumPy MLP, lr 0.2, batch sizes 1, 10, 100 ---------------------


@pytest.fixture(scope="module")
def mlp_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlp")
    write_mlp_runs(str(root / "shared"))
    write_mlp_runs(str(root / "apart"), shared_init=False, n_steps=80)
    return root


def test_analyze_reports_the_exponent_over_the_window(mlp_runs, tmp_path, capsys):
    from stochthermo.cli import main

    out = tmp_path / "out"
    code = main(["analyze", str(mlp_runs / "shared"), "--out", str(out), "--format", "json",
                 "--no-progress"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    alpha = summary["batch_scaling"]
    assert abs(alpha["value"] + 1) < 0.15, alpha
    assert summary["window"] is not None and summary["window"][0] == 0
    assert alpha["meta"]["window"] == summary["window"] and not alpha["warnings"]
    assert summary["warnings"] == []
    for r in summary["runs"]:
        assert r["temperature"]["meta"]["window"] == summary["window"]
        assert len(r["validity"]["valid"]) == len(r["noise_var"])
    assert json.loads((out / "summary.json").read_text()) == summary
    assert main(["analyze", str(mlp_runs / "shared"), "--out", str(out), "--no-progress"]) == 0
    assert "valid window: steps 0 to" in capsys.readouterr().out
    page = (out / "report.html").read_text()
    assert_valid_html(page)
    assert f"Valid window: steps 0 to {summary['window'][1]}" in page
    assert page.count("<img") >= 6  # noise per interval, temperature, four panels


def test_analyze_warns_when_trials_are_apart_from_the_start(mlp_runs, tmp_path, capsys):
    from stochthermo.cli import main

    diag = diagnose(open_runs(mlp_runs / "apart"))
    assert diag.window is None and diag.warnings
    assert diag.batch_scaling.warnings  # the exponent says it is not trustworthy
    assert all(r.temperature.warnings for r in diag.runs)
    out = tmp_path / "out"
    assert main(["analyze", str(mlp_runs / "apart"), "--out", str(out), "--format", "json",
                 "--no-progress"]) == 0
    cap = capsys.readouterr()
    summary = json.loads(cap.out)
    assert summary["window"] is None and "no step range" in summary["warnings"][0]
    assert "warning: no step range" in cap.err
    page = (out / "report.html").read_text()
    assert_valid_html(page)
    assert "No step range in which every run" in page and "not trustworthy" in page
