"""One MLP SGD step (Numba kernel) against a NumPy (BLAS) forward+backward pass.

Network: 4 layers (in -> 200 -> 200 -> 200 -> 10), batch 100, ReLU. Prints the median time of
each and their ratio, all measured in this run (the machine may be shared: compare ratios).
Usage: python benchmarks/bench_mlp.py [--width 200] [--batch 100] [--n-in 784] [--repeat 50]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from naive_learn import loss_grad  # noqa: E402

from stochthermo.kernels._mlp import (  # noqa: E402
    mlp_loss_grad,
    mlp_n_params,
    mlp_sgd_step_ensemble,
)


def median_time(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=200)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--n-in", type=int, default=784)
    ap.add_argument("--repeat", type=int, default=50)
    a = ap.parse_args()
    sizes = np.array([a.n_in, a.width, a.width, a.width, 10])
    d = mlp_n_params(sizes)
    rng = np.random.default_rng(0)
    p = rng.normal(size=d) * 0.05
    X = rng.random((a.batch, a.n_in))
    y = rng.integers(0, 10, a.batch)
    g = np.empty(d)
    thetas = p[None].copy()
    vel = np.zeros_like(thetas)
    idx = np.arange(a.batch)[None]
    losses = np.empty(1)

    t_np = median_time(lambda: loss_grad(p, sizes, 0, X, y), a.repeat)
    t_kernel = median_time(lambda: mlp_loss_grad(p, sizes, 0, X, y, g), a.repeat)
    t_step = median_time(
        lambda: mlp_sgd_step_ensemble(thetas, vel, sizes, 0, X[None], y[None], idx,
                                      np.zeros(1, np.int64), 1e-6, 0.0, losses), a.repeat)
    print(f"network {list(sizes)}, {d} parameters, batch {a.batch}")
    print(f"{'what':42s} {'median ms':>10s} {'ratio to NumPy':>15s}")
    for name, t in (("NumPy (BLAS) forward+backward", t_np),
                    ("Numba mlp_loss_grad (forward+backward)", t_kernel),
                    ("Numba SGD step (gather+grad+update)", t_step)):
        print(f"{name:42s} {1e3 * t:10.3f} {t / t_np:15.2f}")


if __name__ == "__main__":
    main()
