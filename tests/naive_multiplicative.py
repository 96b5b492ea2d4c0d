"""Slow NumPy twin of the state-dependent diffusion kernel (written from the definitions).

``dx_i = F_i(x, t) dt + sqrt(2 D_i(x, t)) dW_i`` with the Ito drift ``F = f`` (Ito) or
``F = f + 1/2 dD_i/dx_i`` (Stratonovich), vectorised over trajectories:

- ``multiplicative_path``: Euler-Maruyama, or Milstein with ``1/2 (dD_i/dx_i) (dW_i^2 - h)``
  (the exact derivative ``ddiff``) or with the derivative-free Runge-Kutta support point
  ``Y = x + F h + sqrt(2 D h)`` when ``ddiff`` is None.
- ``multiplicative_heat``: cumulative heat per block, the trapezoid of
  ``T_i (F - dD/dx) / D`` at the time of the step start.

Functions take and return arrays of shape ``(n_traj, d)``; ``ddiff(x, t)`` returns
``dD_i/dx_i``.
"""

from __future__ import annotations

import math

import numpy as np


def ito_drift(drift, ddiff, x, t, convention):
    """The Ito drift ``F`` of the user drift ``f``."""
    f = drift(x, t)
    return f + 0.5 * ddiff(x, t) if convention == "stratonovich" else f


def multiplicative_path(drift, diff, ddiff, x0, h, noise, method, *, convention="ito",
                        ddiff_for_drift=None, t0=0.0):
    """Path of shape (n_traj, n + 1, d); ``noise`` (n_traj, n, d) standard normals.

    ``ddiff_for_drift`` is the derivative used for the Stratonovich correction (default
    ``ddiff``); Milstein uses ``ddiff`` or, if it is None, the Runge-Kutta support point.
    """
    dfd = ddiff if ddiff_for_drift is None else ddiff_for_drift
    x = np.array(x0, dtype=float)
    path = [x.copy()]
    for j in range(noise.shape[1]):
        t = t0 + j * h
        F = ito_drift(drift, dfd, x, t, convention)
        D = diff(x, t)
        g = np.sqrt(2.0 * D)
        dW = math.sqrt(h) * noise[:, j]
        new = x + F * h + g * dW
        if method == "milstein":
            if ddiff is not None:
                new = new + 0.5 * ddiff(x, t) * (dW**2 - h)
            else:
                Y = x + F * h + g * math.sqrt(h)
                new = new + (np.sqrt(2.0 * diff(Y, t)) - g) * (dW**2 - h) / (2 * math.sqrt(h))
        x = new
        path.append(x.copy())
    return np.stack(path, axis=1)


def multiplicative_heat(path, drift, diff, ddiff, temps_per_coord, labels, n_blocks, h, *,
                        convention="ito", t0=0.0):
    """Cumulative heat per block (n_traj, n + 1, n_blocks): step ``j`` adds
    ``1/2 [Phi(x_j, t_j) + Phi(x_{j+1}, t_j)]_i (x_{j+1} - x_j)_i`` summed by block, with
    ``Phi = T (F - dD/dx) / D``.
    """
    n_traj, n1, d = path.shape
    tv = np.asarray(temps_per_coord, dtype=float)

    def phi(x, t):
        F = ito_drift(drift, ddiff, x, t, convention)
        return tv * (F - ddiff(x, t)) / diff(x, t)

    out = np.zeros((n_traj, n1, n_blocks))
    for j in range(n1 - 1):
        t = t0 + j * h
        x, y = path[:, j], path[:, j + 1]
        contrib = 0.5 * (phi(x, t) + phi(y, t)) * (y - x)
        step = np.zeros((n_traj, n_blocks))
        for i in range(d):
            step[:, labels[i]] += contrib[:, i]
        out[:, j + 1] = out[:, j] + step
    return out
