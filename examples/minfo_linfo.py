"""M-info and L-info of the linear-Gaussian learner: closed forms against simulation.

Usage: python examples/minfo_linfo.py OUT_DIR [--quick]
"""

import argparse
import json
from pathlib import Path

import numpy as np

from stochthermo.learning import CLOSED_FORM_KEYS, GaussianLearner


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--quick", action="store_true")
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
        print(method, "max |z| per quantity:",
              {k: round(float(np.nanmax(np.abs(v["z"][1:]))), 2) for k, v in out[method].items()})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(cf["m_info"], label="I_M closed form")
    ax.plot(cf["l_info"], label="I_L (mi) closed form")
    ax.plot(t, out["gaussian"]["m_info"]["value"], "o", label="I_M simulated")
    ax.plot(t, out["gaussian"]["l_info"]["value"], "s", label="I_L simulated")
    ax.set(xlabel="step", ylabel="nats")
    ax.legend()
    fig.savefig(a.out / "minfo_linfo.png", dpi=110, bbox_inches="tight")
    (a.out / "minfo_linfo.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
