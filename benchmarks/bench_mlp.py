"""One MLP SGD step (Numba kernel) against a NumPy (BLAS) forward+backward pass.

Network: 4 layers (in -> 200 -> 200 -> 200 -> 10), batch 100, ReLU. Prints the median time of
each and their ratio, all measured in this run (the machine may be shared: compare ratios).
Then the gradients of an ensemble of ``--trials`` networks on one batch, as the Fig. 4.1
experiment computes them: trials over Numba's threads or through the serial entry point (one
trial after another; inside ``single_thread_blas`` it too uses Numba's threads), each with the
default multi-threaded BLAS and with BLAS on one thread; nesting Numba's and BLAS's threads
oversubscribes the cores.
Usage: python benchmarks/bench_mlp.py [--width 200] [--batch 100] [--n-in 784] [--repeat 50]
                                      [--trials 10]
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
    mlp_grad_ensemble,
    mlp_grad_ensemble_serial,
    mlp_loss_grad,
    mlp_n_params,
    mlp_sgd_step_ensemble,
)
from stochthermo.learning._fig41 import single_thread_blas  # noqa: E402


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
    ap.add_argument("--trials", type=int, default=10, help="ensemble size (0: skip)")
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
    if a.trials > 0:
        ensemble(sizes, d, X, y, a)


def ensemble(sizes, d, X, y, a):
    """Gradients of ``a.trials`` networks on the batch: Numba threads x BLAS threads."""
    K = a.trials
    rng = np.random.default_rng(1)
    thetas = np.ascontiguousarray(rng.normal(size=(K, d)) * 0.05)
    idx = np.tile(np.arange(a.batch), (K, 1))
    data_of = np.zeros(K, np.int64)
    grads, losses = np.empty((K, d)), np.empty(K)
    print(f"\nensemble of {K} trials, batch {a.batch}: gradients of every trial")
    print(f"{'kernel':12s} {'BLAS threads':>13s} {'median ms':>10s}")
    for blas in ("default", "one"):
        for name, kernel in (("Numba", mlp_grad_ensemble), ("serial entry",
                                                           mlp_grad_ensemble_serial)):
            def call(kernel=kernel):
                kernel(thetas, sizes, 0, X[None], y[None], idx, data_of, grads, losses)

            if blas == "one":
                with single_thread_blas() as limited:
                    if not limited:
                        print("(threadpoolctl is not installed: BLAS keeps its threads)")
                    t = median_time(call, a.repeat)
            else:
                t = median_time(call, a.repeat)
            print(f"{name:12s} {blas:>13s} {1e3 * t:10.3f}")


if __name__ == "__main__":
    main()
