"""Numba kernel for Langevin processes with a user drift and constant diffusion.

``dx = f(x, t) dt + L dW`` with ``L L^T = 2 D``; ``drift(x, t, params, out)`` writes ``f`` into
``out``; ``potential(x, t, params)`` returns the energy used for work (only called when
``work_on``). Methods: ``method = 0`` Euler-Maruyama, ``1`` stochastic Heun. Time of local step
``j`` is ``(step0 + j) h``; the drift of a step is evaluated at its start (Heun's corrector
at its end).

Observables (as in :mod:`._langevin`): heat per block, Stratonovich trapezoid at the protocol
value of the step, ``1/2 (G f(x, t_j) + G f(x', t_j))_i (x'_i - x_i)`` summed by ``labels``
(``G`` = ``T_i D^{-1}``; ``time_dep`` forces the extra drift evaluation at ``(x', t_j)``, else
``f(x', t_{j+1})`` is reused); work ``U(x', t_{j+1}) - U(x', t_j)``; currents
``(CW_c x_mid + cb_c) . (x' - x)``. See ``theory/simulation.md`` [SIM-nonlinear].

This kernel takes the drift as a first-class function, so Numba specialises it per drift and
cannot reuse an on-disk cache across processes (each new process compiles it once, about 2 s);
it is therefore compiled without ``cache=True`` to avoid piling up stale cache entries.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._langevin import _save
from ._random import std_normal

__all__ = ["nonlinear_sde"]


@njit(cache=True, inline="always")
def _noise_increment(L, diag_noise, sh, z, xi):
    """``xi = sqrt(h) L z`` (only the diagonal of ``L`` when ``diag_noise``)."""
    d, m = L.shape
    if diag_noise:
        for i in range(d):
            xi[i] = sh * L[i, i] * z[i]
    else:
        for i in range(d):
            v = 0.0
            for q_ in range(m):
                v += L[i, q_] * z[q_]
            xi[i] = sh * v


@njit(cache=True, inline="always")
def _add_heat(G, labels, fo, ft, xo, xn, a):
    """Trapezoid heat ``1/2 (G (fo + ft))_i (xn_i - xo_i)`` added to ``a[labels[i]]``."""
    d = xo.shape[0]
    for i in range(d):
        gf = 0.0
        for q_ in range(d):
            gf += G[i, q_] * (fo[q_] + ft[q_])
        a[labels[i]] += 0.5 * gf * (xn[i] - xo[i])


@njit(cache=True, inline="always")
def _add_currents(CW, cb, xo, xn, a, ccol):
    """Each current ``(CW_c x_mid + cb_c) . (xn - xo)`` added to ``a[ccol + c]``."""
    d = xo.shape[0]
    for cc in range(CW.shape[0]):
        jc = 0.0
        for i in range(d):
            f = cb[cc, i]
            for q_ in range(d):
                f += CW[cc, i, q_] * 0.5 * (xo[q_] + xn[q_])
            jc += f * (xn[i] - xo[i])
        a[ccol + cc] += jc


@njit(parallel=True)
def nonlinear_sde(drift, potential, params, h, method, noise_weights, steps, stream, obs,
                  x, counters, acc, out_x, out_obs, fail):
    """Euler or Heun steps for ``n_traj`` trajectories; see the module docstring.

    Read-only inputs come in tuples: ``noise_weights = (L, diag_noise)``,
    ``steps = (n, save_every, slot0, step0)``, ``stream = (seeds, zig, noise)``,
    ``obs = (G, labels, n_blocks, time_dep, work_on, CW, cb)``; the arrays written
    (``x, counters, acc, out_x, out_obs, fail``) are separate arguments (see
    :mod:`._langevin` for why).
    """
    L, diag_noise = noise_weights
    n, save_every, slot0, step0 = steps
    seeds, zig, noise = stream
    G, labels, n_blocks, time_dep, work_on, CW, cb = obs
    n_traj, d = x.shape
    m = L.shape[1]
    heat_on = G.shape[0] > 0
    n_obs = acc.shape[1]
    use_noise = noise.shape[0] == n_traj
    sh = np.sqrt(h)
    wcol = n_blocks
    ccol = n_blocks + (1 if work_on else 0)
    for k in prange(n_traj):
        if fail[k] >= 0:
            continue
        xo = x[k].copy()
        xn = np.empty(d)
        xt = np.empty(d)
        fo = np.empty(d)
        fn = np.empty(d)
        ft = np.empty(d)
        xi = np.empty(d)
        z = np.empty(m)
        a = acc[k].copy()
        s = seeds[k]
        c = counters[k]
        left = save_every
        r = slot0
        drift(xo, step0 * h, params, fo)
        for j in range(n):
            tj = (step0 + j) * h
            tn = (step0 + j + 1) * h
            if use_noise:
                for i in range(m):
                    z[i] = noise[k, j, i]
            else:
                for i in range(m):
                    z[i], c = std_normal(s, c, zig)
            _noise_increment(L, diag_noise, sh, z, xi)
            if method == 0:
                for i in range(d):
                    xn[i] = xo[i] + h * fo[i] + xi[i]
            else:
                for i in range(d):
                    xt[i] = xo[i] + h * fo[i] + xi[i]
                drift(xt, tn, params, ft)
                for i in range(d):
                    xn[i] = xo[i] + 0.5 * h * (fo[i] + ft[i]) + xi[i]
            tot = 0.0
            for i in range(d):
                tot += xn[i]
            if tot - tot != 0.0:
                fail[k] = step0 + j + 1
                break
            drift(xn, tn, params, fn)
            if heat_on:
                if time_dep:
                    drift(xn, tj, params, ft)
                else:
                    for i in range(d):
                        ft[i] = fn[i]
                _add_heat(G, labels, fo, ft, xo, xn, a)
            if work_on:
                a[wcol] += potential(xn, tn, params) - potential(xn, tj, params)
            _add_currents(CW, cb, xo, xn, a, ccol)
            for i in range(d):
                xo[i] = xn[i]
                fo[i] = fn[i]
            left -= 1
            if left == 0:
                left = save_every
                _save(out_x, out_obs, k, r, xo, a)
                r += 1
        for i in range(d):
            x[k, i] = xo[i]
        for i in range(n_obs):
            acc[k, i] = a[i]
        counters[k] = c
