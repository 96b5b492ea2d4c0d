"""NumPy MLP forward pass against torch's outputs; output thermodynamics; the analyze command."""

import json
import os

import numpy as np
import pytest

from stochthermo.bridge import (
    diagnose_run,
    mlp_forward,
    open_runs,
    output_thermodynamics,
    read_checkpoint,
)
from stochthermo.bridge._mlp import log_softmax
from stochthermo.errors import ShapeError, ValidationError

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "bridge")
EXPECTED = dict(np.load(os.path.join(FIX, "expected.npz")))


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_mlp_forward_matches_torch(act):
    sd = read_checkpoint(os.path.join(FIX, "wrapper_zip.pt"))
    out = mlp_forward(sd, EXPECTED["mlp_probe"], activation=act)
    ref = EXPECTED[f"mlp_logits_{act}"]
    # torch computed in float32; we compute in float64 from the same float32 weights
    assert np.allclose(out, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ShapeError):
        mlp_forward(sd, np.zeros((2, 7)))
    with pytest.raises(ValidationError, match="activation"):
        mlp_forward(sd, EXPECTED["mlp_probe"], activation="gelu")


def naive_thermo(logits):
    """Slow twin: loop over steps and probe points."""
    n_steps, n_probe, _ = logits.shape
    p = [[np.exp(z - z.max()) / np.exp(z - z.max()).sum() for z in row] for row in logits]
    H = np.array([[-(q * np.log(q)).sum() for q in row] for row in p]).mean(axis=1)
    W = np.array([[(p[t][i] * np.log(p[t][i] / p[t + 1][i])).sum() for i in range(n_probe)]
                  for t in range(n_steps - 1)]).mean(axis=1)
    return H, W


def test_output_thermodynamics_against_naive_and_fisher():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 4, 3))
    th = output_thermodynamics(z)
    H, W = naive_thermo(z)
    assert np.allclose(th["entropy"], H) and np.allclose(th["work"], W)
    assert np.allclose(th["heat"], np.diff(H) - W)  # first law
    assert np.allclose(th["sigma_cond"], np.cumsum(W))
    # small steps: KL ~ 1/2 dz^T F dz with F = diag(p) - p p^T (Fisher in logit space)
    z0 = rng.normal(size=3)
    dz = 1e-3 * rng.normal(size=3)
    p = np.exp(log_softmax(z0))
    F = np.diag(p) - np.outer(p, p)
    kl = output_thermodynamics(np.stack([z0, z0 + dz])[:, None, :])["work"][0]
    assert kl == pytest.approx(0.5 * dz @ F @ dz, rel=1e-2)
    # null control: no parameter move, no work
    assert np.allclose(output_thermodynamics(np.repeat(z[:1], 3, axis=0))["work"], 0.0)


def test_probe_thermo_in_the_streaming_pass(tmp_path):
    sd = read_checkpoint(os.path.join(FIX, "wrapper_zip.pt"))
    rng = np.random.default_rng(1)
    probe = EXPECTED["mlp_probe"]
    for j in range(3):
        folder = tmp_path / "run" / f"t{j}"
        folder.mkdir(parents=True)
        cur = {k: v.astype(np.float64) for k, v in sd.items()}
        for s in range(4):
            np.savez(folder / f"step_{s}.npz", **cur)
            cur = {k: v + 0.05 * rng.normal(size=v.shape) for k, v in cur.items()}
    (run,) = open_runs(tmp_path / "run")
    r = diagnose_run(run, probe=probe)
    logits = np.stack([
        np.stack([mlp_forward(read_checkpoint(f.path), probe) for f in t.frames])
        for t in run.trials
    ])
    th = output_thermodynamics(logits)
    assert np.allclose(r.thermo["work"], th["work"].mean(axis=0))
    assert np.allclose(r.thermo["heat"], th["heat"].mean(axis=0))
    assert np.all(r.thermo["work"] > 0)


def test_analyze_command_writes_panels_and_summary(tmp_path, capsys):
    from stochthermo.cli import main

    rng = np.random.default_rng(2)
    for bs, scale in ((1, 1.0), (10, 0.1), (100, 0.01)):
        for j in range(4):
            folder = tmp_path / "runs" / f"bs{bs}" / f"trial{j}"
            folder.mkdir(parents=True)
            theta = np.zeros(6)
            rows = ["step,accuracy"]
            for s in range(0, 30, 3):
                np.savez(folder / f"step_{s:04d}.npz", w=theta)
                rows.append(f"{s},{s / 30 + 0.01 * rng.normal()}")
                theta = theta - 0.01 * theta + np.sqrt(3 * scale) * 0.01 * rng.normal(size=6)
            (folder / "scalars.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    code = main(["analyze", str(tmp_path / "runs"), "--out", str(out), "--format", "json",
                 "--no-progress", "--lr", "0.01"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert sorted(os.listdir(out)) == ["panel_a_trajectories.png", "panel_b_accuracy.png",
                                       "panel_c_noise.png", "panel_d_autocorr.png",
                                       "report.html", "summary.json"]
    assert json.loads((out / "summary.json").read_text()) == summary
    alpha = summary["batch_scaling"]
    assert alpha["value"] < -0.5  # the noise of these runs scales like 1/b
    assert [r["batch_size"] for r in summary["runs"]] == [1, 10, 100]
    assert main(["analyze", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert main(["analyze", str(tmp_path / "runs"), "--out", str(out), "--no-progress"]) == 0
    assert "batch_size^alpha" in capsys.readouterr().out
