"""A runs tree like a real study: a NumPy MLP trained by SGD, written with TrajectoryWriter.

Two-layer tanh network (6 -> 24 -> 2), squared loss on a teacher ``y = tanh(X u)``, started
from a small initialisation (scale 1e-4: the rich regime, far from the lazy one, where the
trials must leave the saddle at the origin), learning rate 0.2, batch sizes 1, 10, 100 drawn
with replacement, five trials per batch size sharing the initialisation. With
``shared_init=False`` every trial starts from its own initialisation (scale 0.3): the trials are
apart from the first checkpoint on. Used by ``tests/test_bridge_validity.py``; also runnable
as ``python tests/bridge_mlp_runs.py DIR``.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from stochthermo.bridge import TrajectoryWriter

N_IN, HIDDEN, N_OUT, N_DATA = 6, 24, 2, 256
NAMES = ("0.weight", "0.bias", "2.weight", "2.bias")


def teacher_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_DATA, N_IN))
    u = rng.normal(size=(N_IN, N_OUT)) / np.sqrt(N_IN)
    return X, np.tanh(X @ u)


def init_params(seed, scale):
    rng = np.random.default_rng(seed)
    return {"0.weight": scale * rng.normal(size=(HIDDEN, N_IN)) / np.sqrt(N_IN),
            "0.bias": np.zeros(HIDDEN),
            "2.weight": scale * rng.normal(size=(N_OUT, HIDDEN)) / np.sqrt(HIDDEN),
            "2.bias": np.zeros(N_OUT)}


def per_sample_grads(p, X, y):
    """Per-sample gradients of ``1/2 |f(x) - y|^2``: ``{name: (n, *shape)}``, and the loss."""
    z = X @ p["0.weight"].T + p["0.bias"]
    a = np.tanh(z)
    d2 = a @ p["2.weight"].T + p["2.bias"] - y  # (n, out)
    d1 = (d2 @ p["2.weight"]) * (1 - a * a)  # (n, hidden)
    g = {"0.weight": d1[:, :, None] * X[:, None, :], "0.bias": d1,
         "2.weight": d2[:, :, None] * a[:, None, :], "2.bias": d2}
    return g, 0.5 * float(np.mean(np.sum(d2 * d2, axis=1)))


def flat(g):
    n = g["0.bias"].shape[0]
    return np.concatenate([g[k].reshape(n, -1) for k in NAMES], axis=1)


def write_mlp_runs(root, *, batch_sizes=(1, 10, 100), n_trials=5, n_steps=200, every=4,
                   lr=0.2, shared_init=True, init_scale=1e-4, seed=0):
    """Write ``root/bs{b}/trial{j}`` shards (float32 parameters) and a config.json per run."""
    X, y = teacher_data()
    for bs in batch_sizes:
        run_dir = os.path.join(root, f"bs{bs}")
        os.makedirs(run_dir, exist_ok=True)
        with open(os.path.join(run_dir, "config.json"), "w") as fh:
            json.dump({"batch_size": int(bs), "lr": lr}, fh)
        for j in range(n_trials):
            p = init_params(seed + 1 if shared_init else seed + 100 + j,
                            init_scale if shared_init else 0.3)
            rng = np.random.default_rng([seed, bs, j])
            with TrajectoryWriter(os.path.join(run_dir, f"trial{j}"), shard_size=10**6) as w:
                for step in range(n_steps + 1):
                    if step % every == 0:
                        loss = per_sample_grads(p, X, y)[1]
                        w.write(step, {k: v.astype(np.float32) for k, v in p.items()},
                                scalars={"loss": loss})
                    idx = rng.integers(0, N_DATA, size=bs)
                    g, _ = per_sample_grads(p, X[idx], y[idx])
                    for k in NAMES:
                        p[k] = p[k] - lr * g[k].mean(axis=0)
    return root


if __name__ == "__main__":
    write_mlp_runs(sys.argv[1])
