"""Fig. 4.1 from checkpoints: log SGD runs with TrajectoryWriter, read them back with the bridge.

The workflow for a real training run, without PyTorch:

1. a training loop (here plain NumPy: softmax regression on a small classification task) logs
   its parameters and scalars at every step with ``stochthermo.bridge.TrajectoryWriter``;
   trials of one batch size share the initialisation and the training set and differ only in
   the mini-batch order; runs for batch sizes 1, 10 and 100 go to ``DIR/fig41_runs/bs1``,
   ``bs10``, ``bs100``, each with a ``config.json`` holding the batch size and learning rate;
2. ``stochthermo.bridge.open_runs`` finds the trials and ``diagnose`` streams once over the
   checkpoints: SGD noise as the deviation of each trial's increment from the ensemble-mean
   increment, its variance (expected to scale as 1/|b|) and autocorrelation (white up to a
   lag-1 correlation of order -lr x curvature, which the checkpoint estimate picks up: about
   -0.1 here, with lr = 0.2);
3. ``stochthermo.plotting.plot_fig41_panels`` draws the four panels of the paper's Fig. 4.1.

The same panels come from ``stochthermo analyze DIR/fig41_runs --out REPORT`` on the command
line.

Usage: python examples/fig41_from_checkpoints.py [--out DIR] [--quick]
Writes fig41_from_checkpoints.png and the logged runs (fig41_runs/) into DIR (default
examples/out under the current directory).
"""

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from stochthermo.bridge import TrajectoryWriter, diagnose, open_runs
from stochthermo.learning import load_dataset

SHARD = 10  # steps per shard file


def softmax_grad(W, bvec, U, y):
    """Mean cross-entropy loss gradient of softmax regression on the batch ``(U, y)``."""
    z = U @ W + bvec
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(y.size), y] -= 1.0
    p /= y.size
    return U.T @ p, p.sum(axis=0)


def accuracy(W, bvec, U, y):
    """Fraction of correct arg-max predictions."""
    return float(np.mean((U @ W + bvec).argmax(axis=1) == y))


def write_runs(root, U, y, *, batch_sizes, n_trials, n_steps, lr, seed):
    """Train ``n_trials`` SGD trials per batch size and log them with TrajectoryWriter."""
    rng = np.random.default_rng(seed)
    n_in, n_cls = U.shape[1], int(y.max()) + 1
    W0 = 0.01 * rng.standard_normal((n_in, n_cls))  # one initialisation shared by every trial
    b0 = np.zeros(n_cls)
    ev = rng.choice(U.shape[0], min(300, U.shape[0]), replace=False)
    for j, bs in enumerate(batch_sizes):
        run = root / f"bs{bs}"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"batch_size": bs, "lr": lr}))
        for k in range(n_trials):
            trial_rng = np.random.default_rng([seed, j, k])  # only the batch order differs
            W, bvec = W0.copy(), b0.copy()
            with TrajectoryWriter(run / f"trial{k:02d}", shard_size=SHARD) as w:
                for step in range(n_steps + 1):
                    scalars = None
                    if step % 5 == 0:
                        scalars = {"accuracy": accuracy(W, bvec, U[ev], y[ev])}
                    w.write(step, {"weight": W, "bias": bvec}, scalars=scalars)
                    idx = trial_rng.integers(0, U.shape[0], bs)  # sampling with replacement
                    gW, gb = softmax_grad(W, bvec, U[idx], y[idx])
                    W -= lr * gW
                    bvec -= lr * gb


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples/out"), help="output folder")
    ap.add_argument("--quick", action="store_true", help="fewer trials and steps (CI)")
    args = ap.parse_args()
    from stochthermo.plotting import (
        fig41_data_from_diagnostics,
        plot_fig41_panels,
        savefig_atomic,
    )

    n_trials, n_steps = (6, 40) if args.quick else (20, 200)
    lr = 0.2
    U, y, label = load_dataset("auto", seed=0)
    root = args.out / "fig41_runs"
    if root.exists():
        shutil.rmtree(root)
    write_runs(root, U, y, batch_sizes=(1, 10, 100), n_trials=n_trials, n_steps=n_steps,
               lr=lr, seed=0)
    print(f"wrote {3 * n_trials} trials x {n_steps + 1} checkpoints under {root} "
          f"(data: {label}, {U.shape[0]} samples)")

    runs = open_runs(root)
    # track a few informative parameters: weights of central inputs (the corner pixels of
    # digits are always 0), whatever the data set's number of inputs
    n_in, n_cls = U.shape[1], int(y.max()) + 1
    shown = [("weight", (n_in * 3 // 7) * n_cls + 3 % n_cls),
             ("weight", (n_in * 4 // 7) * n_cls + 5 % n_cls), ("bias", 2 % n_cls)]
    diag = diagnose(runs, max_lag=5, indices=shown)
    print(f"{'run':>6s} {'|b|':>4s} {'mean noise var per step':>26s} {'autocorr lag 1':>16s}")
    for r in diag.runs:
        m = r.mean_noise_var()
        print(f"{r.name:>6s} {r.batch_size:4d} {f'{m.value:.3e} ± {m.stderr:.1e}':>26s} "
              f"{f'{r.autocorr[1]:+.3f} ± {r.autocorr_stderr[1]:.3f}':>16s}")
    if diag.batch_scaling is not None:
        s = diag.batch_scaling
        print(f"noise variance ~ |b|^alpha: alpha = {s.value:.3f} ± {s.stderr:.3f} "
              "(expected -1)")
    data = fig41_data_from_diagnostics(diag)
    axes = plot_fig41_panels(data)
    axes[0, 0].figure.suptitle(f"Fig. 4.1 from checkpoints: softmax regression on {label}, "
                               f"{n_trials} trials per batch size, lr = {lr}", y=1.01)
    path = savefig_atomic(axes[0, 0].figure, args.out / "fig41_from_checkpoints.png")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
