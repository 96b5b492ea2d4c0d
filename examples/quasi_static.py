"""Conditional entropy production vs learning rate at a fixed horizon (quasi-static learning).

Usage: python examples/quasi_static.py [--out DIR] [--quick]
Writes quasi_static.png and quasi_static.json into DIR (default examples/out under the current
directory).
"""

import argparse
from pathlib import Path

import numpy as np

from stochthermo.learning import GaussianLearner, quasi_static_sweep
from stochthermo.learning._fig41 import write_json_atomic
from stochthermo.plotting import savefig_atomic


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples/out"), help="output folder")
    ap.add_argument("--quick", action="store_true", help="fewer learning rates (CI)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    lrs = np.array([0.01, 0.02, 0.04, 0.08]) if a.quick else np.geomspace(0.005, 0.16, 6)
    g = GaussianLearner(mu=1.0, data_std=1.0, n_data=10, batch_size=2, lr=0.1)
    sw = quasi_static_sweep(g.model(), g.draw_data, lrs=lrs, horizon=2.0, batch_size=2,
                            n_trials=1, n_datasets=200 if a.quick else 1000, seed=0,
                            method="gaussian", noise_cov=1.0, init="own")
    exact = [GaussianLearner(mu=1.0, data_std=1.0, n_data=10, batch_size=2, lr=lr)
             .closed_form(np.arange(n))["kl"].sum() for lr, n in zip(lrs, sw.n_steps)]
    print(f"{'learning rate':>14s} {'sum_t KL simulated':>24s} {'closed form':>12s}")
    for lr, v, s, e in zip(lrs, sw.entropy_production.value, sw.entropy_production.stderr,
                           exact):
        print(f"{lr:14.4g} {f'{v:.4g} ± {s:.2g}':>24s} {e:12.4g}")
    print(f"slope of log(entropy production) against log(learning rate): "
          f"{sw.slope.value:.3f} ± {sw.slope.stderr:.3f} (quasi-static learning: 1)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(lrs, sw.entropy_production.value, sw.entropy_production.stderr, fmt="o",
                label="simulation")
    ax.loglog(lrs, exact, "-", label="closed form")
    ax.set(xlabel="learning rate", ylabel=r"$\sum_t \mathrm{KL}(p_t \,\|\, p_{t+1})$  [nats]")
    ax.legend()
    png = savefig_atomic(fig, a.out / "quasi_static.png", dpi=110, bbox_inches="tight")
    path = write_json_atomic({
        "lrs": lrs.tolist(), "ep": sw.entropy_production.value.tolist(),
        "stderr": sw.entropy_production.stderr.tolist(), "exact": list(map(float, exact)),
        "slope": sw.slope.value, "slope_stderr": sw.slope.stderr}, a.out / "quasi_static.json")
    print(f"wrote {png} and {path}")


if __name__ == "__main__":
    main()
