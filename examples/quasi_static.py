"""Conditional entropy production vs learning rate at a fixed horizon (quasi-static learning).

Usage: python examples/quasi_static.py OUT_DIR [--quick]
"""

import argparse
import json
from pathlib import Path

import numpy as np

from stochthermo.learning import GaussianLearner, quasi_static_sweep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    lrs = np.array([0.01, 0.02, 0.04, 0.08]) if a.quick else np.geomspace(0.005, 0.16, 6)
    g = GaussianLearner(mu=1.0, data_std=1.0, n_data=10, batch_size=2, lr=0.1)
    sw = quasi_static_sweep(g.model(), g.draw_data, lrs=lrs, horizon=2.0, batch_size=2,
                            n_trials=1, n_datasets=200 if a.quick else 1000, seed=0,
                            method="gaussian", noise_cov=1.0, init="own")
    exact = [GaussianLearner(mu=1.0, data_std=1.0, n_data=10, batch_size=2, lr=lr)
             .closed_form(np.arange(n))["kl"].sum() for lr, n in zip(lrs, sw.n_steps)]
    print(f"fitted slope {sw.slope:.3f} (quasi-static: 1)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(lrs, sw.entropy_production.value, sw.entropy_production.stderr, fmt="o",
                label="simulation")
    ax.loglog(lrs, exact, "-", label="closed form")
    ax.set(xlabel="learning rate", ylabel="sum_t KL(p_t || p_t+1)")
    ax.legend()
    fig.savefig(a.out / "quasi_static.png", dpi=110, bbox_inches="tight")
    (a.out / "quasi_static.json").write_text(json.dumps({
        "lrs": lrs.tolist(), "ep": sw.entropy_production.value.tolist(),
        "stderr": sw.entropy_production.stderr.tolist(), "exact": list(map(float, exact)),
        "slope": sw.slope.value, "slope_stderr": sw.slope.stderr}, indent=1))


if __name__ == "__main__":
    main()
