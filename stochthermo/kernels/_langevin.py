"""Numba kernels for affine stochastic updates ``x' = P_n x + b_n + Q_n z_n``.

Every linear scheme reduces to this form: Euler-Maruyama, stochastic Heun and the exact
Ornstein-Uhlenbeck transition of a linear Langevin process (with or without a protocol moving
the trap centre or stiffness), and the discrete SGD map (momentum on the augmented state). The
public wrapper (``stochthermo.simulate``) builds ``P, b, Q`` and the observable weights; see
``theory/simulation.md`` [SIM-affine].

Two layouts give the same numbers bit for bit: the one-trajectory kernels (``affine_dense``,
``affine_diag``) and the grouped ones (``affine_dense_groups`` without observables,
``affine_diag_groups`` for small states), which advance ``GROUP`` trajectories side by side
(the trajectories in the innermost, SIMD, loop) on normals drawn a segment of steps ahead;
each trajectory still does its own arithmetic in its own order on its own stream, so results
do not depend on threads, chunks or groups.

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
- ``fail[k]``: ``-1``, or the absolute step (``step0 + j + 1``) after which some coordinate of
  the state is no longer finite; that trajectory stops there (state, observables and counter
  as they are after that step).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._shared import (
    GROUP,
    GROUP_MAX_DIM,
    after_segment,
    after_step,
    column_is_finite,
    count_nonfinite,
    draw_segment,
    draw_step,
    finish_trajectory,
    group_close,
    group_finish,
    group_layout,
    group_load,
    group_save,
    obs_columns,
    open_group,
    start_trajectory,
    stop_member,
)

__all__ = ["GROUP", "GROUP_MAX_DIM", "affine_dense", "affine_dense_groups", "affine_diag",
           "affine_diag_groups"]


@njit(cache=True, inline="always")
def _affine_step(P, b, Q, j, q_diag, xo, z, xn):
    """``xn = P_j xo + b_j + Q_j z`` (index 0 for time-independent weights).

    Returns the number of coordinates of ``xn`` that are not finite.
    """
    ds = xo.shape[0]
    m = Q.shape[2]
    jp = j if P.shape[0] > 1 else 0
    jb = j if b.shape[0] > 1 else 0
    jq = j if Q.shape[0] > 1 else 0
    nf = 0
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
        nf += v - v != 0.0
    return nf


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
    use_noise = noise.shape[0] == n_traj
    wcol, ccol = obs_columns(n_blocks, work_on)
    for k in prange(n_traj):
        if fail[k] >= 0:
            continue
        xo, a, s, c = start_trajectory(x, acc, seeds, counters, k)
        xn = np.empty(ds)
        z = np.empty(m)
        xm = np.empty(ds)
        left, r = save_every, slot0
        for j in range(n):
            c = draw_step(use_noise, noise, k, j, s, c, zig, z)
            if _affine_step(P, b, Q, j, q_diag, xo, z, xn) > 0:
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
            left, r = after_step(left, r, save_every, out_x, out_obs, k, xo, a)
        finish_trajectory(x, acc, counters, k, xo, a, c)


@njit(cache=True, inline="always")
def _dense_rows(P, jp, i0, nr, X, b, jb, Q, jq, q_diag, Z, zrow, V):
    """Rows ``i0 .. i0 + nr - 1`` (``nr <= 8``) of ``V = P_j X + b_j + Q_j Z`` for every lane.

    The same summation order as :func:`_affine_step` (``b_i``, then ``P_iq x_q`` for ascending
    ``q``, then the noise terms) for each lane (column) ``g``; the innermost loop runs over the
    ``GROUP`` lanes (SIMD) and each ``x_q`` row is used for eight output rows (independent
    chains), i.e. a register-blocked product of ``P_j`` with the ``(ds, GROUP)`` block of
    states. Rows past ``nr`` repeat the last one (computed, not used).
    """
    ds = X.shape[0]
    i1 = min(i0 + 1, i0 + nr - 1)
    i2 = min(i0 + 2, i0 + nr - 1)
    i3 = min(i0 + 3, i0 + nr - 1)
    i4 = min(i0 + 4, i0 + nr - 1)
    i5 = min(i0 + 5, i0 + nr - 1)
    i6 = min(i0 + 6, i0 + nr - 1)
    i7 = min(i0 + 7, i0 + nr - 1)
    b0, b1, b2, b3 = b[jb, i0], b[jb, i1], b[jb, i2], b[jb, i3]
    b4, b5, b6, b7 = b[jb, i4], b[jb, i5], b[jb, i6], b[jb, i7]
    for g in range(GROUP):
        V[0, g] = b0
        V[1, g] = b1
        V[2, g] = b2
        V[3, g] = b3
        V[4, g] = b4
        V[5, g] = b5
        V[6, g] = b6
        V[7, g] = b7
    for q_ in range(ds):
        c0, c1, c2, c3 = P[jp, i0, q_], P[jp, i1, q_], P[jp, i2, q_], P[jp, i3, q_]
        c4, c5, c6, c7 = P[jp, i4, q_], P[jp, i5, q_], P[jp, i6, q_], P[jp, i7, q_]
        for g in range(GROUP):
            xq = X[q_, g]
            V[0, g] += c0 * xq
            V[1, g] += c1 * xq
            V[2, g] += c2 * xq
            V[3, g] += c3 * xq
            V[4, g] += c4 * xq
            V[5, g] += c5 * xq
            V[6, g] += c6 * xq
            V[7, g] += c7 * xq
    if q_diag:
        c0, c1, c2, c3 = Q[jq, i0, i0], Q[jq, i1, i1], Q[jq, i2, i2], Q[jq, i3, i3]
        c4, c5, c6, c7 = Q[jq, i4, i4], Q[jq, i5, i5], Q[jq, i6, i6], Q[jq, i7, i7]
        for g in range(GROUP):
            V[0, g] += c0 * Z[zrow + i0, g]
            V[1, g] += c1 * Z[zrow + i1, g]
            V[2, g] += c2 * Z[zrow + i2, g]
            V[3, g] += c3 * Z[zrow + i3, g]
            V[4, g] += c4 * Z[zrow + i4, g]
            V[5, g] += c5 * Z[zrow + i5, g]
            V[6, g] += c6 * Z[zrow + i6, g]
            V[7, g] += c7 * Z[zrow + i7, g]
    else:
        for q_ in range(Q.shape[2]):
            c0, c1, c2, c3 = Q[jq, i0, q_], Q[jq, i1, q_], Q[jq, i2, q_], Q[jq, i3, q_]
            c4, c5, c6, c7 = Q[jq, i4, q_], Q[jq, i5, q_], Q[jq, i6, q_], Q[jq, i7, q_]
            for g in range(GROUP):
                zq = Z[zrow + q_, g]
                V[0, g] += c0 * zq
                V[1, g] += c1 * zq
                V[2, g] += c2 * zq
                V[3, g] += c3 * zq
                V[4, g] += c4 * zq
                V[5, g] += c5 * zq
                V[6, g] += c6 * zq
                V[7, g] += c7 * zq


@njit(cache=True, parallel=True)
def affine_dense_groups(weights, q_diag, steps, stream, obs, x, counters, acc, out_x, out_obs,
                        fail):
    """:func:`affine_dense` without observables, ``GROUP`` trajectories side by side.

    Same arguments (``obs`` must hold no heat, work or current weights: ``acc`` and
    ``out_obs`` have no columns) and the same numbers bit for bit: each trajectory does the
    summation of :func:`_affine_step` in the same order on the same normals of its own stream.
    Per step, the state of the group ``X[q, g]`` is multiplied by ``P_j`` one row at a time
    eight rows at a time over every trajectory (:func:`_dense_rows`), i.e. a register-blocked
    matrix product of ``P_j`` with the ``(ds, GROUP)`` block of states. Normals are drawn a
    segment ahead (:func:`_draw_segment`); a non-finite state (which stays non-finite under a
    finite affine map) is looked for once per segment and the failing trajectory replayed.
    """
    P, b, Q = weights
    n, save_every, slot0, step0 = steps
    seeds, zig, noise = stream
    n_traj, ds = x.shape
    m = Q.shape[2]
    use_noise = noise.shape[0] == n_traj
    seg, n_groups = group_layout(n_traj, m)
    for grp in prange(n_groups):
        idx, na, X, C, C0, alive = open_group(x, counters, fail, grp)
        if na == 0:
            continue
        Xn = np.empty((ds, GROUP))
        V = np.empty((8, GROUP))
        X0 = np.empty((ds, GROUP))
        Z = np.zeros((seg * m, GROUP))  # lanes past na stay 0: they compute finite junk
        j = 0
        left, r = save_every, slot0
        while j < n:
            L = min(seg, left, n - j)
            for g in range(GROUP):
                for i in range(ds):
                    X0[i, g] = X[i, g]
            draw_segment(seeds, zig, noise, use_noise, idx, na, C, C0, Z, j, L * m)
            for jj in range(L):
                jl = j + jj
                jp = jl if P.shape[0] > 1 else 0
                jb = jl if b.shape[0] > 1 else 0
                jq = jl if Q.shape[0] > 1 else 0
                for i0 in range(0, ds, 8):
                    nr = min(8, ds - i0)
                    _dense_rows(P, jp, i0, nr, X, b, jb, Q, jq, q_diag, Z, jj * m, V)
                    for r_ in range(nr):
                        for g in range(GROUP):
                            Xn[i0 + r_, g] = V[r_, g]
                X, Xn = Xn, X
            if count_nonfinite(X, na) > 0:
                _settle_dense_failures(weights, q_diag, X, X0, Z, L, j,
                                       (seeds, zig, C0, use_noise), idx, na, alive, step0 + j,
                                       x, counters, fail)
            j += L
            left, r = after_segment(left, r, L, save_every, out_x, idx, na, alive, X)
        group_close(x, counters, idx, na, alive, X, C)


@njit(cache=True)
def _settle_dense_failures(weights, q_diag, X, X0, Z, L, j0, redraw, idx, na, alive, step_base,
                           x, counters, fail):
    """:func:`_settle_failures` for :func:`affine_dense_groups` (replayed step by step)."""
    P, b, Q = weights
    seeds, zig, C0, use_noise = redraw
    ds = X.shape[0]
    m = Q.shape[2]
    z = np.empty(m)
    for g in range(na):
        if not alive[g]:
            continue
        if column_is_finite(X, g):
            continue
        k = idx[g]
        xo = X0[:, g].copy()
        xn = np.empty(ds)
        jf = L - 1
        for jj in range(L):
            for i in range(m):
                z[i] = Z[jj * m + i, g]
            if _affine_step(P, b, Q, j0 + jj, q_diag, xo, z, xn) > 0:
                jf = jj  # the state kept is the last finite one, as affine_dense keeps it
                break
            for i in range(ds):
                xo[i] = xn[i]
        stop_member(g, k, xo, step_base + jf + 1, seeds, zig, C0, (jf + 1) * m, use_noise, x,
                    counters, fail)
        for i in range(ds):
            X[i, g] = 0.0
        alive[g] = False


@njit(cache=True, parallel=True)
def affine_diag_groups(weights, steps, stream, heat, x, counters, acc, out_x, out_obs, fail):
    """:func:`affine_diag` for small states, ``GROUP`` trajectories side by side.

    Same arguments and the same numbers bit for bit (each trajectory does the same arithmetic
    on the same normals of its own stream); the group only changes how the work is laid out:
    the normals of a segment of steps are drawn first (:func:`_draw_segment`), then the update
    runs over the group's trajectories in the innermost loop, so the dependency chains of
    different trajectories overlap (one per SIMD lane) instead of waiting on each other.
    """
    # long: one pass per step keeps the state in registers; split only with inline='always' helpers
    p, b, q = weights
    n, save_every, slot0, step0 = steps
    seeds, zig, noise = stream
    gd, g_, labels = heat
    n_traj, d = x.shape
    heat_on = gd.shape[0] > 0
    n_obs = acc.shape[1]
    use_noise = noise.shape[0] == n_traj
    seg, n_groups = group_layout(n_traj, d)
    for grp in prange(n_groups):
        idx, na, X, C, C0, alive = open_group(x, counters, fail, grp)
        if na == 0:
            continue
        A = np.zeros((max(n_obs, 1), GROUP))
        group_load(acc, idx, na, A)
        Z = np.zeros((seg * d, GROUP))  # lanes past na stay 0: they compute finite junk
        X0 = np.empty((d, GROUP))
        A0 = np.empty((max(n_obs, 1), GROUP))
        j = 0
        left, r = save_every, slot0
        while j < n:
            L = min(seg, left, n - j)
            draw_segment(seeds, zig, noise, use_noise, idx, na, C, C0, Z, j, L * d)
            for g in range(GROUP):
                for i in range(d):
                    X0[i, g] = X[i, g]
                for i in range(n_obs):
                    A0[i, g] = A[i, g]
            for jj in range(L):
                for i in range(d):
                    pi = p[i]
                    bi = b[i]
                    qi = q[i]
                    if heat_on:
                        gdi = gd[i]
                        gi = g_[i]
                        li = labels[i]
                        for g in range(GROUP):
                            xo = X[i, g]
                            v = pi * xo + bi + qi * Z[jj * d + i, g]
                            A[li, g] += (gdi * 0.5 * (xo + v) + gi) * (v - xo)
                            X[i, g] = v
                    else:
                        for g in range(GROUP):
                            X[i, g] = pi * X[i, g] + bi + qi * Z[jj * d + i, g]
            # a non-finite state stays non-finite under a finite affine map: one check per
            # segment, then the failing members are replayed to find their step
            if count_nonfinite(X, na) > 0:
                _settle_failures(weights, heat, X, A, X0, A0, Z, L,
                                 (seeds, zig, C0, use_noise), idx, na, alive, step0 + j, x, acc,
                                 counters, fail)
            j += L
            r_seg = r
            left, r = after_segment(left, r, L, save_every, out_x, idx, na, alive, X)
            if r > r_seg:
                group_save(out_obs, r_seg, idx, na, alive, A)
        group_close(x, counters, idx, na, alive, X, C)
        group_finish(acc, idx, na, alive, A)


@njit(cache=True)
def _settle_failures(weights, heat, X, A, X0, A0, Z, L, redraw, idx, na, alive, step_base, x,
                     acc, counters, fail):
    """Members whose state is no longer finite after a segment: find the step, write, stop.

    Each such member is replayed from its segment start ``X0, A0`` on the same normals ``Z``
    until the first step whose state is not finite; its state, observables and counter are
    written as they are after that step (as :func:`affine_diag` leaves them: the counter is
    found by drawing the segment's normals again from ``C0``), ``fail`` gets the absolute step,
    and the lane is zeroed and no longer written. ``redraw = (seeds, zig, C0, use_noise)``.
    """
    p, b, q = weights
    gd, g_, labels = heat
    heat_on = gd.shape[0] > 0
    seeds, zig, C0, use_noise = redraw
    d = X.shape[0]
    n_obs = acc.shape[1]
    for g in range(na):
        if not alive[g]:
            continue
        if column_is_finite(X, g):
            continue
        k = idx[g]
        xo = X0[:, g].copy()
        a = A0[:, g].copy()
        jf = L - 1
        for jj in range(L):
            nf = 0
            for i in range(d):
                v = p[i] * xo[i] + b[i] + q[i] * Z[jj * d + i, g]
                if heat_on:
                    a[labels[i]] += (gd[i] * 0.5 * (xo[i] + v) + g_[i]) * (v - xo[i])
                xo[i] = v
                nf += v - v != 0.0
            if nf > 0:
                jf = jj
                break
        stop_member(g, k, xo, step_base + jf + 1, seeds, zig, C0, (jf + 1) * d, use_noise, x,
                    counters, fail)
        for i in range(d):
            X[i, g] = 0.0
        for i in range(n_obs):
            acc[k, i] = a[i]
            A[i, g] = 0.0
        alive[g] = False


@njit(cache=True, parallel=True)
def affine_diag(weights, steps, stream, heat, x, counters, acc, out_x, out_obs, fail):
    """Diagonal fast path ``x'_i = p_i x_i + b_i + q_i z_i`` (time-independent).

    ``weights = (p, b, q)``; ``heat = (gd, g, labels)``: heat (if ``gd`` is non-empty) uses the
    diagonal weight ``(gd_i x_mid_i + g_i) dx_i`` summed by ``labels``. ``steps``, ``stream``
    and the written arrays as in :func:`affine_dense`. One trajectory at a time: the normals of
    a step are drawn into a buffer, then the update runs over the coordinates (vectorised);
    for small states :func:`affine_diag_groups` is faster and gives the same numbers.
    """
    p, b, q = weights
    n, save_every, slot0, step0 = steps
    seeds, zig, noise = stream
    gd, g, labels = heat
    n_traj, d = x.shape
    heat_on = gd.shape[0] > 0
    use_noise = noise.shape[0] == n_traj
    for k in prange(n_traj):
        if fail[k] >= 0:
            continue
        xo, a, s, c = start_trajectory(x, acc, seeds, counters, k)
        z = np.empty(d)
        left, r = save_every, slot0
        for j in range(n):
            c = draw_step(use_noise, noise, k, j, s, c, zig, z)
            nf = 0
            if heat_on:
                for i in range(d):
                    v = p[i] * xo[i] + b[i] + q[i] * z[i]
                    a[labels[i]] += (gd[i] * 0.5 * (xo[i] + v) + g[i]) * (v - xo[i])
                    xo[i] = v
                    nf += v - v != 0.0
            else:
                for i in range(d):
                    v = p[i] * xo[i] + b[i] + q[i] * z[i]
                    xo[i] = v
                    nf += v - v != 0.0
            if nf > 0:
                fail[k] = step0 + j + 1
                break
            left, r = after_step(left, r, save_every, out_x, out_obs, k, xo, a)
        finish_trajectory(x, acc, counters, k, xo, a, c)
