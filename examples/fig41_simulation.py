"""The paper's Fig. 4.1: SGD noise diagnostics of an MLP ensemble.

Usage: python examples/fig41_simulation.py [--out DIR] [--quick] [--data auto|digits|teacher|PATH]
Writes the four panels fig41a-d_*.png and fig41.json into DIR (default examples/out under the
current directory).
"""

import argparse
from pathlib import Path

from stochthermo._progress import message_bar
from stochthermo.learning import fig41
from stochthermo.learning._fig41 import write_json_atomic
from stochthermo.plotting import fig41_data_from_result, save_fig41_panels


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples/out"), help="output folder")
    ap.add_argument("--quick", action="store_true", help="smaller network, fewer steps (CI)")
    ap.add_argument("--data", default="auto",
                    help="auto, digits, teacher, a .npz file or a folder of MNIST IDX files")
    a = ap.parse_args()
    width = 64 if a.quick else 200
    res = fig41(data=a.data, hidden=(width,) * 3, n_trials=8 if a.quick else 10,
                n_steps=100 if a.quick else 200, progress=message_bar(print))
    paths = save_fig41_panels(fig41_data_from_result(res), a.out)
    paths.append(write_json_atomic(res.to_dict(), a.out / "fig41.json"))
    print(f"data: {res.meta['data']}, {res.meta['n_params']} parameters")
    print(f"noise variance ~ |b|^alpha: alpha = {res.exponent:.3f} ± {res.exponent_stderr:.3f} "
          "(1 s.e.; SGD noise theory: -1)")
    mv = res.mean_noise_variance()
    for b in res.batch_sizes:
        print(f"  |b| = {b:3d}: mean noise variance {mv[b]:.4g}, lag-1 noise autocorrelation "
              f"{float(res.autocorrelation[b][1]):+.3f}")
    print("wrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    main()
