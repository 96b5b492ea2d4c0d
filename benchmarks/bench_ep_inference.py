"""Entropy production by inference: stochthermo vs StochasticForceInference 2.0 (SFI, JAX).

Usage: python benchmarks/bench_ep_inference.py [--quick]

Same data for both: the 2-d cubic steady state of ``tests/nonlinear_ness.py`` (Gibbs law
exp(-r^4/4) with a rotation (0.3 + 0.3 r^2)(-y, x), exact rate 0.8678 in closed form),
300 trajectories x 6500 samples every 0.01 (about 2 million points), simulated with
``stochthermo.simulate`` (Heun, 4 substeps per sample).

1. Accuracy on all the data: stochthermo ``method="inference"`` (``basis="poly3"`` and
   ``"auto"``) against SFI's ``infer_force_linear`` + ``compute_entropy_production`` on the
   monomials up to degree 3 (its default preset and the others), relative error and
   distance to the exact rate in reported standard errors.
2. Calibration: 10 independent groups of 30 trajectories; the standard deviation of the 10
   estimates against the mean reported standard error, and how many 95% intervals cover the
   exact rate.
3. Time: one call on 10^6 samples (200 x 5000), stochthermo with and without its self-checks
   (median of 3), SFI first (compiling) and warm call.

Timings are wall-clock on whatever machine runs this; on a shared, loaded machine they are
upper bounds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from nonlinear_ness import quartic_ring, quartic_ring_rate, sample  # noqa: E402

from stochthermo.estimate import entropy_production  # noqa: E402

TAU = 0.01


def _sfi(x, preset="auto"):
    import jax

    jax.config.update("jax_enable_x64", True)
    from SFI import OverdampedLangevinInference, TrajectoryCollection
    from SFI.bases.monomials import monomials_up_to

    coll = TrajectoryCollection.from_arrays(X=np.transpose(x, (1, 0, 2)), dt=TAU)
    inf = OverdampedLangevinInference(coll)
    inf.compute_diffusion_constant()
    inf.infer_force_linear(monomials_up_to(order=3, dim=x.shape[2], rank="vector"),
                           preset=preset)
    r = inf.compute_entropy_production()
    return float(r["Sdot_debiased"]), float(r["Sdot_error"])


def _ours(x, basis="poly3", diagnostics=True):
    e = entropy_production(x, method="inference", dt=TAU, basis=basis, diagnostics=diagnostics)
    return float(e.value), float(e.stderr), e


def _timed(fn, repeats=1):
    ts, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), out


def main(quick: bool):
    truth = quartic_ring_rate()
    n_traj, n_time = (60, 3000) if quick else (300, 6500)
    x = sample(quartic_ring(), n_traj=n_traj, n_time=n_time, tau=TAU, seed=2024)
    print(f"data: {n_traj} trajectories x {n_time} samples, tau = {TAU}, exact rate {truth:.4f}")

    print("\n1. accuracy on all the data")
    rows = []
    for basis in ("poly3", "auto"):
        v, s, e = _ours(x, basis)
        rows.append((f"stochthermo inference basis={basis}", v, s, e.warnings))
    t_first, (v, s) = _timed(lambda: _sfi(x, "auto"))
    rows.append(("SFI 2.0 default (preset auto)", v, s, ()))
    for preset in ("clean", "robust", "legacy-sfi-v1.0"):
        v, s = _sfi(x, preset)
        rows.append((f"SFI 2.0 preset={preset}", v, s, ()))
    for name, v, s, w in rows:
        print(f"  {name:40s} {v:.4f} +- {s:.4f}  rel.err {100 * (v - truth) / truth:+.2f}%  "
              f"z {(v - truth) / s:+.2f}  warnings {len(w)}")

    print("\n2. calibration over independent groups of trajectories")
    n_groups = 10
    size = n_traj // n_groups
    ours, sfi = [], []
    for g in range(n_groups):
        xg = x[g * size : (g + 1) * size]
        v, s, _ = _ours(xg, "poly3", diagnostics=False)
        ours.append((v, s))
        sfi.append(_sfi(xg, "auto"))
    for name, res in (("stochthermo", ours), ("SFI 2.0", sfi)):
        res = np.array(res)
        cover = np.mean(np.abs(res[:, 0] - truth) <= 1.96 * res[:, 1])
        print(f"  {name:12s} spread (sd of {n_groups}) {res[:, 0].std(ddof=1):.4f}  mean reported "
              f"s.e. {res[:, 1].mean():.4f}  ratio {res[:, 0].std(ddof=1) / res[:, 1].mean():.2f}"
              f"  95% intervals covering: {cover:.0%}")

    print("\n3. time on 10^6 samples, cubic basis, 2-d")
    xm = x[:200, :5000] if not quick else x[:, :]
    n = xm.shape[0] * xm.shape[1]
    t_on, _ = _timed(lambda: _ours(xm, "poly3", True), repeats=3)
    t_off, _ = _timed(lambda: _ours(xm, "poly3", False), repeats=3)
    t_sfi, _ = _timed(lambda: _sfi(xm, "auto"), repeats=2)
    print(f"  {n} samples: stochthermo {t_off:.2f} s (self-checks off), {t_on:.2f} s (on); "
          f"SFI {t_sfi:.2f} s warm, first call on the full data {t_first:.2f} s (with compilation)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small data, for a smoke run")
    main(ap.parse_args().quick)
