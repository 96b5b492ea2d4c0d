"""What every Langevin kernel shares: the noise of a step, saving, write-back, groups.

One-trajectory kernels (``affine_dense``, ``affine_diag``, ``nonlinear_sde``,
``multiplicative_sde``) draw the normals of a step with :func:`draw_step`, save with
:func:`save_row` and write their trajectory back with :func:`finish_trajectory`. Grouped kernels
advance ``GROUP`` trajectories side by side with the state stored coordinate-major,
``X[i, g]``: :func:`group_members` picks the members of a group that have not failed,
:func:`group_load` / :func:`group_save` / :func:`group_finish` move states between the
trajectory arrays and the group (:func:`open_group` and :func:`group_close` at both ends), and
:func:`draw_segment` draws a segment of every member's normals in the order the
one-trajectory kernels use. Everything here is ``inline="always"`` except
:func:`stop_member` and :func:`counter_after`, which run only when a trajectory fails, so a
kernel compiles exactly as if the loops were written in its body. Conventions as in
:mod:`._langevin`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._random import std_normal

__all__ = ["GROUP", "GROUP_MAX_DIM", "ZBUF", "after_segment", "after_step", "column_is_finite",
           "count_nonfinite", "counter_after", "draw_segment", "draw_step", "finish_trajectory",
           "group_close", "group_finish", "group_layout", "group_load", "group_members",
           "group_open", "group_save", "obs_columns", "open_group", "save_row", "start_trajectory",
           "stop_member", "sum_is_finite"]

#: trajectories advanced side by side by the grouped kernels (independent dependency chains,
#: one SIMD lane each); the state of a group is stored coordinate-major, ``X[i, g]``
GROUP = 16
#: largest state dimension handled by the grouped diagonal kernel (larger states are advanced
#: one trajectory at a time, vectorised over coordinates)
GROUP_MAX_DIM = 32
#: normals drawn ahead per group: at most this many floats (steps x dimension x GROUP)
ZBUF = 4096


# ----------------------------------------------------------------------------- one trajectory
@njit(cache=True, inline="always")
def start_trajectory(x, acc, seeds, counters, k):
    """Working copies of trajectory ``k``: state, observables, stream seed and counter."""
    return x[k].copy(), acc[k].copy(), seeds[k], counters[k]


@njit(cache=True, inline="always")
def after_step(left, r, save_every, out_x, out_obs, k, xo, a):
    """Count one step; after every ``save_every`` steps save row ``r``. Returns ``(left, r)``."""
    left -= 1
    if left == 0:
        save_row(out_x, out_obs, k, r, xo, a)
        return save_every, r + 1
    return left, r


@njit(cache=True, inline="always")
def obs_columns(n_blocks, work_on):
    """Columns of the observables: work after the ``n_blocks`` heat columns, then currents."""
    return n_blocks, n_blocks + (1 if work_on else 0)


@njit(cache=True, inline="always")
def draw_step(use_noise, noise, k, j, s, c, zig, z):
    """The normals of step ``j`` of trajectory ``k`` into ``z``; returns the advanced counter.

    From stream ``s`` at counter ``c``, or ``noise[k, j]`` when ``use_noise``.
    """
    if use_noise:
        for i in range(z.shape[0]):
            z[i] = noise[k, j, i]
    else:
        for i in range(z.shape[0]):
            zi, c = std_normal(s, c, zig)
            z[i] = zi
    return c


@njit(cache=True, inline="always")
def sum_is_finite(v):
    """True when every entry of ``v`` is finite (one pass: a non-finite entry spoils the sum)."""
    tot = 0.0
    for i in range(v.shape[0]):
        tot += v[i]
    return tot - tot == 0.0


@njit(cache=True, inline="always")
def save_row(out_x, out_obs, k, r, xo, a):
    """Row ``r`` of trajectory ``k``: the saved state (first ``dsave`` entries) and ``a``."""
    for i in range(out_x.shape[2]):
        out_x[k, r, i] = xo[i]
    for i in range(out_obs.shape[2]):
        out_obs[k, r, i] = a[i]


@njit(cache=True, inline="always")
def finish_trajectory(x, acc, counters, k, xo, a, c):
    """Write trajectory ``k`` back: state ``xo``, observables ``a``, stream counter ``c``."""
    for i in range(x.shape[1]):
        x[k, i] = xo[i]
    for i in range(acc.shape[1]):
        acc[k, i] = a[i]
    counters[k] = c


# ----------------------------------------------------------------------------- groups
@njit(cache=True, inline="always")
def group_members(fail, grp, n_traj, idx):
    """Trajectories ``grp * GROUP ...`` that have not failed, into ``idx``; returns their count."""
    na = 0
    for k in range(grp * GROUP, min(n_traj, grp * GROUP + GROUP)):
        if fail[k] < 0:
            idx[na] = k
            na += 1
    return na


@njit(cache=True, inline="always")
def group_layout(n_traj, m):
    """``(seg, n_groups)``: steps drawn ahead per segment, and the number of groups.

    A segment holds at most 256 steps of ``m`` normals and at most ``ZBUF`` floats per group.
    """
    return max(1, min(256, ZBUF // (m * GROUP))), (n_traj + GROUP - 1) // GROUP


@njit(cache=True, inline="always")
def open_group(x, counters, fail, grp):
    """Members of group ``grp`` and their working arrays.

    Returns ``(idx, na, X, C, C0, alive)``: member indices and count, states ``X`` (d, GROUP)
    (lanes past ``na`` are 0), stream counters ``C``, a buffer ``C0`` for the counters at the
    start of a segment, and ``alive``.
    """
    idx = np.empty(GROUP, np.int64)
    na = group_members(fail, grp, x.shape[0], idx)
    X = np.zeros((x.shape[1], GROUP))
    C = np.empty(GROUP, np.uint64)
    C0 = np.empty(GROUP, np.uint64)
    alive = np.zeros(GROUP, np.bool_)
    group_open(x, counters, idx, na, X, C, alive)
    return idx, na, X, C, C0, alive


@njit(cache=True, inline="always")
def after_segment(left, r, nsteps, save_every, out_x, idx, na, alive, X):
    """Count a segment of ``nsteps`` steps; after every ``save_every`` steps save row ``r``.

    The saved row holds the living members' states; returns ``(left, r)``.
    """
    left -= nsteps
    if left == 0:
        group_save(out_x, r, idx, na, alive, X)
        return save_every, r + 1
    return left, r


@njit(cache=True, inline="always")
def group_open(x, counters, idx, na, X, C, alive):
    """Load the ``na`` members: states ``X[i, g] = x[idx[g], i]``, counters, ``alive``."""
    for g in range(na):
        k = idx[g]
        alive[g] = True
        C[g] = counters[k]
        for i in range(x.shape[1]):
            X[i, g] = x[k, i]


@njit(cache=True, inline="always")
def group_close(x, counters, idx, na, alive, X, C):
    """Write the living members back: states ``x[idx[g], i] = X[i, g]`` and counters."""
    for g in range(na):
        if alive[g]:
            k = idx[g]
            for i in range(x.shape[1]):
                x[k, i] = X[i, g]
            counters[k] = C[g]


@njit(cache=True, inline="always")
def group_load(src, idx, na, X):
    """``X[i, g] = src[idx[g], i]`` for the ``na`` members (``i < src.shape[1]``)."""
    for g in range(na):
        k = idx[g]
        for i in range(src.shape[1]):
            X[i, g] = src[k, i]


@njit(cache=True, inline="always")
def group_save(out, r, idx, na, alive, X):
    """Row ``r`` of every living member: ``out[idx[g], r, i] = X[i, g]``, ``i < out.shape[2]``."""
    for g in range(na):
        if alive[g]:
            k = idx[g]
            for i in range(out.shape[2]):
                out[k, r, i] = X[i, g]


@njit(cache=True, inline="always")
def group_finish(dst, idx, na, alive, X):
    """Write the living members back: ``dst[idx[g], i] = X[i, g]``, ``i < dst.shape[1]``."""
    for g in range(na):
        if alive[g]:
            k = idx[g]
            for i in range(dst.shape[1]):
                dst[k, i] = X[i, g]


@njit(cache=True, inline="always")
def count_nonfinite(X, na):
    """Number of non-finite entries among the first ``na`` columns (members) of ``X``."""
    nf = 0
    for g in range(na):
        for i in range(X.shape[0]):
            nf += X[i, g] - X[i, g] != 0.0
    return nf


@njit(cache=True, inline="always")
def column_is_finite(X, g):
    """True when every entry of column (member) ``g`` of ``X`` is finite."""
    ok = True
    for i in range(X.shape[0]):
        if X[i, g] - X[i, g] != 0.0:
            ok = False
    return ok


@njit(cache=True, inline="always")
def draw_segment(seeds, zig, noise, use_noise, idx, na, C, C0, Z, j0, nz):
    """The next ``nz`` normals of every member's own stream: ``Z[:nz, g]`` from ``seeds[idx[g]]``.

    Each trajectory draws its stream in the order the one-trajectory kernels use (step by
    step, coordinate by coordinate: ``Z[jj * m + i, g]``), in one flat loop per trajectory as
    :func:`~._random.fill_normals` does; ``C0[g]`` keeps the counter at the start of the
    segment (a failing member's counter is found from it) and ``C[g]`` advances. With
    ``use_noise`` the rows of ``noise`` from step ``j0`` are copied instead.
    """
    for g in range(na):
        C0[g] = C[g]
        k = idx[g]
        if use_noise:
            m = noise.shape[2]
            for t in range(nz):
                Z[t, g] = noise[k, j0 + t // m, t % m]
            continue
        s = seeds[k]
        c = C[g]
        for t in range(nz):
            zi, c = std_normal(s, c, zig)
            Z[t, g] = zi
        C[g] = c


@njit(cache=True)
def stop_member(g, k, xo, step, seeds, zig, C0, used, use_noise, x, counters, fail):
    """Member ``g`` (trajectory ``k``) left the finite numbers at ``step``: write it back.

    As the one-trajectory kernels leave a failed trajectory: the last finite state ``xo``, the
    counter after the failing step's normals (found by drawing the ``used`` normals of the
    segment again from ``C0``) and ``fail[k] = step``.
    """
    fail[k] = step
    for i in range(x.shape[1]):
        x[k, i] = xo[i]
    counters[k] = C0[g] if use_noise else counter_after(seeds[k], C0[g], zig, used)


@njit(cache=True)
def counter_after(seed, c, zig, n):
    """Counter of stream ``seed`` after ``n`` more normals from counter ``c``."""
    for _ in range(n):
        _, c = std_normal(seed, c, zig)
    return c
