"""Slow NumPy twins of the simulation kernels (written from the definitions, not from the kernels).

- ``splitmix_normals``: the counter-based ziggurat normal stream in plain Python integers.
- ``langevin_path``: Euler-Maruyama / stochastic Heun for any drift ``f(x, t)`` (vectorised over
  trajectories), noise ``sqrt(h) L z``.
- ``exact_ou_path``: exact OU transition ``x' = c + e^{-Ah}(x - c) + S^{1/2} z``,
  ``S = C - P C P^T`` (symmetric square root, as in the library).
- ``sgd_path``: heavy-ball SGD with Gaussian mini-batch noise.
- ``heat_from_path``, ``work_from_path``, ``current_from_path``: observables recomputed from a
  stored path.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _word(seed: int, ctr: int) -> int:
    return _mix((seed + (ctr + 1) * GOLDEN) & MASK)


def splitmix_normals(seed: int, n: int, zig: np.ndarray, ctr: int = 0):
    """``n`` normals of stream ``seed`` from counter ``ctr``; returns ``(values, new_ctr)``."""
    out = []
    r = zig[0, 1]
    while len(out) < n:
        w = _word(seed, ctr)
        ctr += 1
        i = w & 0xFF
        neg = (w >> 8) & 1
        u = (w >> 11) * 2.0**-53
        if u < zig[1, i]:
            z = u * zig[0, i]
            out.append(-z if neg else z)
            continue
        if i == 0:
            while True:
                u1 = ((_word(seed, ctr) >> 11) + 1) * 2.0**-53
                u2 = ((_word(seed, ctr + 1) >> 11) + 1) * 2.0**-53
                ctr += 2
                a = -math.log(u1) / r
                b = -math.log(u2)
                if 2 * b > a * a:
                    break
            z = r + a
            out.append(-z if neg else z)
            continue
        z = u * zig[0, i]
        v = ((_word(seed, ctr) >> 11) + 1) * 2.0**-53
        ctr += 1
        y = zig[2, i] + v * (zig[2, i + 1] - zig[2, i])
        if y < math.exp(-0.5 * z * z):
            out.append(-z if neg else z)
    return np.array(out), ctr


def langevin_path(drift, L, x0, h, noise, method, t0=0.0):
    """Path of shape (n_traj, n+1, d) for ``dx = f(x, t) dt + L dW`` (Euler or Heun)."""
    n_traj, n, _ = noise.shape
    x = np.array(x0, dtype=float)
    path = [x.copy()]
    for j in range(n):
        t = t0 + j * h
        xi = math.sqrt(h) * noise[:, j] @ L.T
        f0 = drift(x, t)
        if method == "euler":
            x = x + h * f0 + xi
        else:
            xt = x + h * f0 + xi
            x = x + 0.5 * h * (f0 + drift(xt, t + h)) + xi
        path.append(x.copy())
    return np.stack(path, axis=1)


def exact_ou_path(A, c, D, x0, h, noise):
    """Exact OU transitions for ``dx = -A (x - c) dt + sqrt(2D) dW``."""
    P = sla.expm(-A * h)
    C = sla.solve_continuous_lyapunov(A, 2 * D)
    S = C - P @ C @ P.T
    w, V = np.linalg.eigh(0.5 * (S + S.T))
    Q = (V * np.sqrt(np.clip(w, 0, None))) @ V.T
    x = np.array(x0, dtype=float)
    path = [x.copy()]
    for j in range(noise.shape[1]):
        x = c + (x - c) @ P.T + noise[:, j] @ Q.T
        path.append(x.copy())
    return np.stack(path, axis=1)


def sgd_path(model, x0, noise):
    """Heavy-ball SGD ``theta' = theta - r H (theta - theta*) + beta (theta - prev) + r eta``."""
    H, r, beta, ts = model.hessian, model.lr, model.momentum, model.theta_star
    w, V = np.linalg.eigh(model.noise_cov)
    Lc = (V * np.sqrt(np.clip(w, 0, None))) @ V.T
    th = np.array(x0, dtype=float)
    prev = th.copy()
    path = [th.copy()]
    for j in range(noise.shape[1]):
        new = th - r * (th - ts) @ H.T + beta * (th - prev) + r * noise[:, j] @ Lc.T
        prev, th = th, new
        path.append(th.copy())
    return np.stack(path, axis=1)


def heat_from_path(path, force, weight, labels, n_blocks, h, t0=0.0):
    """Cumulative Stratonovich heat per block, (n_traj, n+1, n_blocks).

    Step j: ``1/2 [W F(x_j, t_j) + W F(x_{j+1}, t_j)]_i (x_{j+1} - x_j)_i`` summed by block.
    """
    n_traj, n1, d = path.shape
    out = np.zeros((n_traj, n1, n_blocks))
    for j in range(n1 - 1):
        t = t0 + j * h
        x, y = path[:, j], path[:, j + 1]
        f = 0.5 * (force(x, t) + force(y, t)) @ weight.T
        contrib = f * (y - x)
        step = np.zeros((n_traj, n_blocks))
        for i in range(d):
            step[:, labels[i]] += contrib[:, i]
        out[:, j + 1] = out[:, j] + step
    return out


def work_from_path(path, potential, h, t0=0.0):
    """Cumulative work ``sum_j U(x_{j+1}, t_{j+1}) - U(x_{j+1}, t_j)``, (n_traj, n+1)."""
    n_traj, n1, _ = path.shape
    out = np.zeros((n_traj, n1))
    for j in range(n1 - 1):
        y = path[:, j + 1]
        t = t0 + j * h
        out[:, j + 1] = out[:, j] + potential(y, t + h) - potential(y, t)
    return out


def current_from_path(path, W, b):
    """Cumulative ``sum_j (W x_mid + b) . (x_{j+1} - x_j)``, (n_traj, n+1)."""
    xm = 0.5 * (path[:, 1:] + path[:, :-1])
    dx = path[:, 1:] - path[:, :-1]
    inc = np.einsum("tni,tni->tn", xm @ W.T + b, dx)
    return np.concatenate([np.zeros((path.shape[0], 1)), np.cumsum(inc, axis=1)], axis=1)
