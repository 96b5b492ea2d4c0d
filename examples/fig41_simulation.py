"""The paper's Fig. 4.1: SGD noise diagnostics of an MLP ensemble.

Usage: python examples/fig41_simulation.py OUT_DIR [--quick] [--data auto|digits|teacher|PATH]
"""

import argparse
from pathlib import Path

from stochthermo.learning import fig41
from stochthermo.learning._fig41 import write_json_atomic
from stochthermo.plotting import fig41_data_from_result, save_fig41_panels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--data", default="auto")
    a = ap.parse_args()
    width = 64 if a.quick else 200
    res = fig41(data=a.data, hidden=(width,) * 3, n_trials=8 if a.quick else 10,
                n_steps=100 if a.quick else 200, progress=print)
    save_fig41_panels(fig41_data_from_result(res), a.out)
    write_json_atomic(res.to_dict(), a.out / "fig41.json")
    print(f"noise exponent {res.exponent:.3f} ± {res.exponent_stderr:.3f}; lag-1 autocorrelation",
          {b: round(float(v[1]), 3) for b, v in res.autocorrelation.items()})


if __name__ == "__main__":
    main()
