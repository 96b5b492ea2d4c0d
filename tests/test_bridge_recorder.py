"""Logging what the theory needs: mini-batch and full-batch gradients at the same parameters."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from bridge_mlp_runs import NAMES, flat, init_params, per_sample_grads, teacher_data

from stochthermo.bridge import TrajectoryWriter, diagnose, open_runs, read_checkpoint

LR, N_STEPS, EVERY = 0.2, 40, 10


def record(root, batch_sizes=(5, 50), n_trials=12, seed=0):
    """NumPy MLP trained by SGD; g and G logged every EVERY steps; exact tr(Sigma_g) kept."""
    X, y = teacher_data()
    exact = {}
    for bs in batch_sizes:
        run = os.path.join(root, f"bs{bs}")
        os.makedirs(run, exist_ok=True)
        with open(os.path.join(run, "config.json"), "w") as fh:
            json.dump({"batch_size": bs, "lr": LR}, fh)
        per = np.zeros((n_trials, N_STEPS // EVERY + 1))
        for j in range(n_trials):
            p = init_params(1, 0.5)
            rng = np.random.default_rng([seed, bs, j])
            with TrajectoryWriter(os.path.join(run, f"t{j}"), grad_steps=EVERY) as w:
                for step in range(N_STEPS + 1):
                    idx = rng.integers(0, len(y), size=bs)
                    g, _ = per_sample_grads(p, X[idx], y[idx])
                    g = {k: v.mean(axis=0) for k, v in g.items()}
                    if w.wants_gradients(step):
                        all_g, _ = per_sample_grads(p, X, y)
                        G = {k: v.mean(axis=0) for k, v in all_g.items()}
                        w.write(step, p, grads=g, full_grads=G)
                        # exact: tr(Sigma_g) / (d |b|), Sigma_g the per-sample covariance
                        per[j, step // EVERY] = flat(all_g).var(axis=0).mean() / bs
                    for k in NAMES:
                        p[k] = p[k] - LR * g[k]
        exact[bs] = LR**2 * per.mean(axis=0)
    return exact


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    root = tmp_path_factory.mktemp("rec")
    return str(root), record(str(root))


def test_logged_noise_matches_per_sample_gradients(recorded):
    root, exact = recorded
    diag = diagnose(open_runs(root))
    for r in diag.runs:
        logged = LR**2 * r.noise_var_logged
        se = LR**2 * r.noise_var_logged_stderr
        assert r.steps.tolist() == list(range(0, N_STEPS + 1, EVERY))
        z = (logged - exact[r.batch_size]) / se
        assert np.all(np.abs(z) < 3), (r.name, z)
        m = r.logged_noise_var()
        assert m.meta["units"] == "parameter"
        assert abs(m.value - exact[r.batch_size].mean()) < 3 * m.stderr
    b = diag.batch_scaling_logged
    assert abs(b.value + 1) < 3 * b.stderr, b


def test_null_control_no_noise_when_g_equals_G(tmp_path):
    X, y = teacher_data()
    for j in range(3):
        p = init_params(1, 0.5)
        with TrajectoryWriter(tmp_path / "run" / f"t{j}") as w:
            for step in range(3):
                all_g, _ = per_sample_grads(p, X, y)
                G = {k: v.mean(axis=0) for k, v in all_g.items()}
                w.write(step, p, grads=G, full_grads=G)  # full-batch steps: no noise
                for k in NAMES:
                    p[k] = p[k] - LR * G[k]
    (r,) = diagnose(open_runs(tmp_path / "run")).runs
    assert np.all(r.noise_var_logged == 0.0) and r.logged_noise_var().value == 0.0


class DLPackOnly:
    """An array that only speaks DLPack (as a framework tensor on the host does)."""

    def __init__(self, a):
        self._a = np.ascontiguousarray(a)

    def __dlpack__(self, **kw):
        return self._a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


def test_writer_takes_dlpack_arrays_and_chosen_steps(tmp_path):
    w = TrajectoryWriter(tmp_path / "t", grad_steps=[0, 7])
    assert [s for s in range(10) if w.wants_gradients(s)] == [0, 7]
    w.write(0, {"w": DLPackOnly(np.arange(3.0))}, grads={"w": DLPackOnly(np.ones(3))},
            full_grads={"w": DLPackOnly(np.zeros(3))})
    w.close()
    (shard,) = [f for f in os.listdir(tmp_path / "t") if f.startswith("shard_")]
    sd = read_checkpoint(tmp_path / "t" / shard)
    assert sd["s000000000000/p/w"].tolist() == [0.0, 1.0, 2.0]
    assert sd["s000000000000/g/w"].tolist() == [1.0, 1.0, 1.0]
    every = TrajectoryWriter(tmp_path / "u", grad_steps=4)
    assert [s for s in range(9) if every.wants_gradients(s)] == [0, 4, 8]


@pytest.mark.slow
def test_pytorch_example_runs(tmp_path):
    pytest.importorskip("torch")
    script = os.path.join(os.path.dirname(__file__), "..", "examples", "pytorch",
                          "record_training.py")
    proc = subprocess.run([sys.executable, script, "--quick", "--out", str(tmp_path / "out")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "wrote " in proc.stdout
    summary = json.loads((tmp_path / "out" / "pytorch_record" / "analysis" / "summary.json")
                         .read_text())
    assert all(r["logged_noise_var"] is not None for r in summary["runs"])
