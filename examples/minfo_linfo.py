"""M-info and L-info of the linear-Gaussian learner: closed forms against simulation.

Two simulations: ``gaussian`` is the model the closed forms describe (mini-batch noise of the
population's covariance), so its z-scores are sampling noise (the printed largest |z| over the
steps reaches 3-4 at times); ``minibatch`` is true mini-batch SGD with replacement, whose noise
has the training set's own covariance (mean (N-1)/N of the population's), so it agrees with
the closed forms only up to O(1/N): with N = 8 data points, the entropy of theta given the
training set's mean (and, with the full ensemble, M-info) ends several standard errors off.

Usage: python examples/minfo_linfo.py [--out DIR] [--quick]
Writes minfo_linfo.png and minfo_linfo.json into DIR (default examples/out under the current
directory).
"""

import argparse
from pathlib import Path

import numpy as np

from stochthermo.learning import CLOSED_FORM_KEYS, GaussianLearner
from stochthermo.learning._fig41 import write_json_atomic
from stochthermo.plotting import savefig_atomic


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples/out"), help="output folder")
    ap.add_argument("--quick", action="store_true", help="fewer training sets (CI)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    g = GaussianLearner(mu=1.0, data_std=1.2, n_data=8, batch_size=2, lr=0.15, init_mean=-0.5,
                        init_var=0.8)
    n = 30
    t = np.arange(0, n - 1, 3)
    cf = g.closed_form(np.arange(n - 1))
    out = {}
    for method in ("gaussian", "minibatch"):
        ens = g.simulate(n, n_datasets=1500 if a.quick else 6000, method=method, seed=1)
        est = g.estimate(ens, t)
        out[method] = {k: {"value": np.asarray(est[k].value).tolist(),
                           "z": np.asarray(est[k].zscore(cf[k][t])).tolist()}
                       for k in CLOSED_FORM_KEYS}
        print(f"simulation with {method} mini-batch noise: largest |z| = |estimate - closed "
              "form| / s.e. over the steps, per quantity")
        for k, v in out[method].items():
            print(f"  {k:24s} max |z| = {float(np.nanmax(np.abs(v['z'][1:]))):.2f}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(cf["m_info"], label=r"$I_M$ closed form")
    ax.plot(cf["l_info"], label=r"$I_L$ closed form")
    ax.plot(t, out["gaussian"]["m_info"]["value"], "o", label=r"$I_M$ simulated")
    ax.plot(t, out["gaussian"]["l_info"]["value"], "s", label=r"$I_L$ simulated")
    ax.set(xlabel="SGD step t", ylabel="information  [nats]")
    ax.legend()
    png = savefig_atomic(fig, a.out / "minfo_linfo.png", dpi=110, bbox_inches="tight")
    path = write_json_atomic(out, a.out / "minfo_linfo.json")
    print(f"wrote {png} and {path}")


if __name__ == "__main__":
    main()
