"""Slow NumPy twins of the estimator kernels and exact OU ensembles for the estimator tests.

Nothing here depends on the simulation engine: Ornstein-Uhlenbeck ensembles are drawn from the
exact Gaussian transition ``x_{t+tau} = F x_t + (I - F) x_star + xi``, ``F = expm(-A tau)``,
``Cov(xi) = C - F C F^T`` with ``C`` from :func:`stochthermo.exact.stationary_covariance`.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from scipy.special import digamma

from stochthermo import exact
from stochthermo.models.linear import LinearLangevin


def ou_ensemble(model: LinearLangevin, *, n_traj, n_time, tau, seed, mean0=None, cov0=None):
    """Exact OU trajectories ``(n_traj, n_time, d)``; stationary start unless mean0/cov0 given."""
    rng = np.random.default_rng(seed)
    d = model.dim
    C = exact.stationary_covariance(model)
    F = sla.expm(-model.A * tau)
    Q = C - F @ C @ F.T
    LQ = np.linalg.cholesky(0.5 * (Q + Q.T))
    x = np.empty((n_traj, n_time, d))
    if mean0 is None and cov0 is None:
        x[:, 0] = model.x_star + rng.standard_normal((n_traj, d)) @ np.linalg.cholesky(C).T
    else:
        m0 = model.x_star if mean0 is None else np.asarray(mean0, float)
        c0 = np.zeros((d, d)) if cov0 is None else np.asarray(cov0, float)
        w, v = np.linalg.eigh(c0)
        x[:, 0] = m0 + rng.standard_normal((n_traj, d)) @ (v * np.sqrt(np.clip(w, 0, None))).T
    off = (np.eye(d) - F) @ model.x_star
    for j in range(1, n_time):
        x[:, j] = x[:, j - 1] @ F.T + off + rng.standard_normal((n_traj, d)) @ LQ.T
    return x


def nonequilibrium_2d():
    """2-d OU with a rotational drift: detailed balance broken, EP = 2 (see exact docstring)."""
    return LinearLangevin([[1.0, 1.0], [-1.0, 1.0]], np.eye(2))


def equilibrium_2d():
    """2-d OU obeying detailed balance (D^-1 A symmetric)."""
    return LinearLangevin([[1.5, 0.5], [0.5, 1.0]], [[0.8, 0.0], [0.0, 0.8]])


def three_block():
    """3 scalar subsystems at different temperatures, cyclically coupled (non-equilibrium)."""
    A = np.array([[1.0, 0.6, 0.0], [-0.3, 1.2, 0.5], [0.4, -0.2, 0.9]])
    return LinearLangevin(A, np.diag([1.0, 0.5, 0.3]), blocks=[1, 1, 1])


def correlated_gaussian(dim, rho, n, seed):
    """x, y in R^dim with corr(x_i, y_i) = rho, independent pairs; MI = -dim/2 ln(1 - rho^2)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    y = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((n, dim))
    return x, y, -0.5 * dim * np.log1p(-(rho**2))


def ksg_naive(x, y, k):
    """O(N^2) KSG-1 estimate with max-norm; x, y of shape (n, dx), (n, dy)."""
    n = x.shape[0]
    dxm = np.abs(x[:, None, :] - x[None, :, :]).max(axis=2)
    dym = np.abs(y[:, None, :] - y[None, :, :]).max(axis=2)
    dz = np.maximum(dxm, dym)
    np.fill_diagonal(dz, np.inf)
    eps = np.sort(dz, axis=1)[:, k - 1]
    nx = (dxm < eps[:, None]).sum(axis=1) - 1
    ny = (dym < eps[:, None]).sum(axis=1) - 1
    return digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))


def count_within_naive(sorted_vals, vals, eps):
    """Number of ``sorted_vals`` strictly within ``eps[i]`` of ``vals[i]``."""
    return (np.abs(sorted_vals[None, :] - vals[:, None]) < eps[:, None]).sum(axis=1)


def discrete_mi_naive(x, y):
    """Plug-in MI of two label arrays (nats)."""
    xs, xi = np.unique(x, return_inverse=True)
    ys, yi = np.unique(y, return_inverse=True)
    p = np.zeros((xs.size, ys.size))
    np.add.at(p, (xi, yi), 1.0)
    p /= p.sum()
    px, py = p.sum(1), p.sum(0)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / np.outer(px, py)[nz])).sum())
