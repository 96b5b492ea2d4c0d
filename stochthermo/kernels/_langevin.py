"""Numba kernels for affine stochastic updates ``x' = P_n x + b_n + Q_n z_n``.

Every linear scheme reduces to this form: Euler-Maruyama, stochastic Heun and the exact
Ornstein-Uhlenbeck transition of a linear Langevin process (with or without a protocol moving
the trap centre or stiffness), and the discrete SGD map (momentum on the augmented state). The
public wrapper (``stochthermo.simulate``) builds ``P, b, Q`` and the observable weights; see
``theory/simulation.md`` [SIM-affine].

Conventions shared by the kernels (``n`` = number of steps of this call, ``j`` = local step):

- ``x`` (n_traj, ds): state, updated in place. Saved rows ``out_x[k, slot0 + m, :dsave]`` after
  every ``save_every`` steps.
- ``P`` (nP, ds, ds), ``b`` (nb, ds), ``Q`` (nQ, ds, m): index ``j`` when the leading length is
  ``n`` (time-dependent), else 0. ``q_diag``: every ``Q_j`` is diagonal (``m = ds``), so only
  its diagonal is used.
- Noise: ``z`` from stream ``seeds[k]`` at ``counters[k]`` (advanced in place), unless
  ``noise`` has ``n_traj`` rows, in which case ``noise[k, j]`` is used (tests, convergence).
- Observables, accumulated in ``acc[k]`` and copied to ``out_obs[k, slot0 + m]`` when saving:
  columns ``0..n_blocks-1`` Stratonovich heat per block, ``(G x_mid + g)_i (x'_i - x_i)`` for
  ``i < dh`` summed by ``labels``; then work (if ``work_on``),
  ``1/2 x'^T WK_j x' + wk_j . x' + w0_j``; then one column per current,
  ``(CW_c x_mid + cb_c) . (x' - x)``.
- Read-only inputs come grouped in tuples (weights, step counts, random stream, observable
  weights); each kernel's docstring lists the order. Arrays the kernels write are separate
  arguments: Numba 0.68 drops writes in a ``prange`` loop to a 1-d array unpacked from a
  tuple argument (the stream counters were lost that way).
- ``fail[k]``: ``-1``, or the absolute step (``step0 + j + 1``) at which the state stopped
  being finite; that trajectory stops there.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._random import std_normal

__all__ = ["affine_dense", "affine_diag"]


@njit(cache=True, inline="always")
def _affine_step(P, b, Q, j, q_diag, xo, z, xn):
    """``xn = P_j xo + b_j + Q_j z`` (index 0 for time-independent weights); returns sum(xn)."""
    ds = xo.shape[0]
    m = Q.shape[2]
    jp = j if P.shape[0] > 1 else 0
    jb = j if b.shape[0] > 1 else 0
    jq = j if Q.shape[0] > 1 else 0
    tot = 0.0
    for i in range(ds):
        v = b[jb, i]
        for q_ in range(ds):
            v += P[jp, i, q_] * xo[q_]
        if q_diag:
            v += Q[jq, i, i] * z[i]
        else:
            for q_ in range(m):
                v += Q[jq, i, q_] * z[q_]
        xn[i] = v
        tot += v
    return tot


@njit(cache=True, inline="always")
def _add_heat(G, g, labels, j, xo, xn, xm, a):
    """Stratonovich heat ``(G_j x_mid + g_j)_i (xn_i - xo_i)`` added to ``a[labels[i]]``."""
    ds = xo.shape[0]
    jG = j if G.shape[0] > 1 else 0
    jg = j if g.shape[0] > 1 else 0
    for i in range(G.shape[1]):
        f = g[jg, i]
        for q_ in range(ds):
            f += G[jG, i, q_] * xm[q_]
        a[labels[i]] += f * (xn[i] - xo[i])


@njit(cache=True, inline="always")
def _work(WK, wk, w0, j, xn):
    """Work of step ``j``: ``1/2 xn^T WK_j xn + wk_j . xn + w0_j``."""
    ds = xn.shape[0]
    w = w0[j]
    for i in range(ds):
        w += wk[j, i] * xn[i]
    if WK.shape[0] > 0:
        for i in range(ds):
            v = 0.0
            for q_ in range(ds):
                v += WK[j, i, q_] * xn[q_]
            w += 0.5 * xn[i] * v
    return w


@njit(cache=True, inline="always")
def _add_currents(CW, cb, xo, xn, xm, a, ccol):
    """Each current ``(CW_c x_mid + cb_c) . (xn - xo)`` added to ``a[ccol + c]``."""
    ds = xo.shape[0]
    for cc in range(CW.shape[0]):
        jc = 0.0
        for i in range(ds):
            f = cb[cc, i]
            for q_ in range(ds):
                f += CW[cc, i, q_] * xm[q_]
            jc += f * (xn[i] - xo[i])
        a[ccol + cc] += jc


@njit(cache=True, inline="always")
def _save(out_x, out_obs, k, r, xo, a):
    """Row ``r`` of trajectory ``k``: the saved state (first ``dsave`` entries) and ``a``."""
    for i in range(out_x.shape[2]):
        out_x[k, r, i] = xo[i]
    for i in range(out_obs.shape[2]):
        out_obs[k, r, i] = a[i]


@njit(cache=True, parallel=True)
def affine_dense(weights, q_diag, steps, stream, obs, x, counters, acc, out_x, out_obs, fail):
    """General affine update with observables; see the module docstring for the arguments.

    Read-only inputs come in tuples: ``weights = (P, b, Q)``,
    ``steps = (n, save_every, slot0, step0)``, ``stream = (seeds, zig, noise)``,
    ``obs = (G, g, labels, n_blocks, work_on, WK, wk, w0, CW, cb)``; the arrays written
    (``x, counters, acc, out_x, out_obs, fail``) are separate arguments.
    """
    P, b, Q = weights
    n, save_every, slot0, step0 = steps
    seeds, zig, noise = stream
    G, g, labels, n_blocks, work_on, WK, wk, w0, CW, cb = obs
    n_traj, ds = x.shape
    m = Q.shape[2]
    heat_on = G.shape[0] > 0
    n_cur = CW.shape[0]
    n_obs = acc.shape[1]
    use_noise = noise.shape[0] == n_traj
    wcol = n_blocks
    ccol = n_blocks + (1 if work_on else 0)
    for k in prange(n_traj):
        if fail[k] >= 0:
            continue
        xo = x[k].copy()
        xn = np.empty(ds)
        z = np.empty(m)
        xm = np.empty(ds)
        a = acc[k].copy()
        s = seeds[k]
        c = counters[k]
        left = save_every
        r = slot0
        for j in range(n):
            if use_noise:
                for i in range(m):
                    z[i] = noise[k, j, i]
            else:
                for i in range(m):
                    z[i], c = std_normal(s, c, zig)
            tot = _affine_step(P, b, Q, j, q_diag, xo, z, xn)
            if tot - tot != 0.0:
                fail[k] = step0 + j + 1
                break
            if heat_on or n_cur > 0:
                for i in range(ds):
                    xm[i] = 0.5 * (xo[i] + xn[i])
            if heat_on:
                _add_heat(G, g, labels, j, xo, xn, xm, a)
            if work_on:
                a[wcol] += _work(WK, wk, w0, j, xn)
            _add_currents(CW, cb, xo, xn, xm, a, ccol)
            for i in range(ds):
                xo[i] = xn[i]
            left -= 1
            if left == 0:
                left = save_every
                _save(out_x, out_obs, k, r, xo, a)
                r += 1
        for i in range(ds):
            x[k, i] = xo[i]
        for i in range(n_obs):
            acc[k, i] = a[i]
        counters[k] = c


@njit(cache=True, parallel=True)
def affine_diag(weights, steps, stream, heat, x, counters, acc, out_x, out_obs, fail):
    """Diagonal fast path ``x'_i = p_i x_i + b_i + q_i z_i`` (time-independent).

    ``weights = (p, b, q)``; ``heat = (gd, g, labels)``: heat (if ``gd`` is non-empty) uses the
    diagonal weight ``(gd_i x_mid_i + g_i) dx_i`` summed by ``labels``. ``steps``, ``stream``
    and the written arrays as in :func:`affine_dense`.
    """
    p, b, q = weights
    n, save_every, slot0, step0 = steps
    seeds, zig, noise = stream
    gd, g, labels = heat
    n_traj, d = x.shape
    heat_on = gd.shape[0] > 0
    n_obs = acc.shape[1]
    use_noise = noise.shape[0] == n_traj
    for k in prange(n_traj):
        if fail[k] >= 0:
            continue
        xo = x[k].copy()
        a = acc[k].copy()
        s = seeds[k]
        c = counters[k]
        left = save_every
        r = slot0
        if d == 1 and not heat_on and not use_noise:
            # scalar fast path (e.g. many 1-d trajectories)
            x1, p1, b1, q1 = xo[0], p[0], b[0], q[0]
            for j in range(n):
                zi, c = std_normal(s, c, zig)
                x1 = p1 * x1 + b1 + q1 * zi
                if x1 - x1 != 0.0:
                    fail[k] = step0 + j + 1
                    break
                left -= 1
                if left == 0:
                    left = save_every
                    out_x[k, r, 0] = x1
                    r += 1
            xo[0] = x1
            x[k, 0] = x1
            counters[k] = c
            continue
        for j in range(n):
            tot = 0.0
            if heat_on:
                for i in range(d):
                    if use_noise:
                        zi = noise[k, j, i]
                    else:
                        zi, c = std_normal(s, c, zig)
                    v = p[i] * xo[i] + b[i] + q[i] * zi
                    a[labels[i]] += (gd[i] * 0.5 * (xo[i] + v) + g[i]) * (v - xo[i])
                    xo[i] = v
                    tot += v
            else:
                for i in range(d):
                    if use_noise:
                        zi = noise[k, j, i]
                    else:
                        zi, c = std_normal(s, c, zig)
                    v = p[i] * xo[i] + b[i] + q[i] * zi
                    xo[i] = v
                    tot += v
            if tot - tot != 0.0:
                fail[k] = step0 + j + 1
                break
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
