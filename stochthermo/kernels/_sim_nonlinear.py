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

Euler runs without observables use grouped kernels instead (``GROUP`` trajectories side by
side, normals drawn a segment ahead, same numbers bit for bit): ``double_well_groups`` for the
built-in double well (its drift written into the kernel, cached on disk) and
``nonlinear_groups(drift, n_args)``, which builds a kernel with the user's drift compiled
inline (once per drift and process).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._shared import (
    GROUP,
    after_segment,
    after_step,
    draw_segment,
    draw_step,
    finish_trajectory,
    group_close,
    group_layout,
    group_members,
    group_open,
    obs_columns,
    open_group,
    start_trajectory,
    stop_member,
    sum_is_finite,
)

__all__ = ["double_well_groups", "nonlinear_groups", "nonlinear_sde"]


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
    use_noise = noise.shape[0] == n_traj
    sh = np.sqrt(h)
    wcol, ccol = obs_columns(n_blocks, work_on)
    for k in prange(n_traj):
        if fail[k] >= 0:
            continue
        xo, a, s, c = start_trajectory(x, acc, seeds, counters, k)
        xn = np.empty(d)
        xt = np.empty(d)
        fo = np.empty(d)
        fn = np.empty(d)
        ft = np.empty(d)
        xi = np.empty(d)
        z = np.empty(m)
        left, r = save_every, slot0
        drift(xo, step0 * h, params, fo)
        for j in range(n):
            tj = (step0 + j) * h
            tn = (step0 + j + 1) * h
            c = draw_step(use_noise, noise, k, j, s, c, zig, z)
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
            if not sum_is_finite(xn):
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
            left, r = after_step(left, r, save_every, out_x, out_obs, k, xo, a)
        finish_trajectory(x, acc, counters, k, xo, a, c)


# ----------------------------------------------------------------------------- grouped Euler


@njit(cache=True, parallel=True)
def double_well_groups(params, h, sl, steps, stream, x, counters, out_x, fail):
    """Euler steps of the built-in double well, ``GROUP`` trajectories side by side.

    ``f_i = -4 h_b x_i (x_i^2 - 1) + eps`` (``params = (h_b, eps)``, the drift of
    ``stochthermo.models.nonlinear.double_well``), ``x' = x + h f + sl_i z_i`` with
    ``sl_i = sqrt(h) L_ii`` (diagonal noise). The same numbers bit for bit as
    :func:`nonlinear_sde` with that drift and no observables: each trajectory does the same
    arithmetic in the same order on the normals of its own stream; the drift is inlined and
    the trajectories run in the innermost (SIMD) loop. ``steps``, ``stream`` and the written
    arrays as in :func:`nonlinear_sde` (no observables: ``acc`` is not needed).
    """
    n, save_every, slot0, step0 = steps
    seeds, zig, noise = stream
    n_traj, d = x.shape
    use_noise = noise.shape[0] == n_traj
    c4 = -4.0 * params[0]
    p1 = params[1]
    seg, n_groups = group_layout(n_traj, d)
    for grp in prange(n_groups):
        idx, na, X, C, C0, alive = open_group(x, counters, fail, grp)
        if na == 0:
            continue
        Xn = np.zeros((d, GROUP))
        Z = np.zeros((seg * d, GROUP))  # lanes past na stay 0
        j = 0
        left, r = save_every, slot0
        while j < n:
            L = min(seg, left, n - j)
            draw_segment(seeds, zig, noise, use_noise, idx, na, C, C0, Z, j, L * d)
            for jj in range(L):
                nf = 0
                for i in range(d):
                    si = sl[i]
                    for g in range(GROUP):
                        xv = X[i, g]
                        f = c4 * xv * (xv * xv - 1.0) + p1
                        v = xv + h * f + si * Z[jj * d + i, g]
                        Xn[i, g] = v
                        nf += v - v != 0.0
                if nf > 0:
                    for g in range(na):
                        bad = False
                        for i in range(d):
                            bad |= Xn[i, g] - Xn[i, g] != 0.0
                        if alive[g] and bad:
                            stop_member(g, idx[g], X[:, g].copy(), step0 + j + jj + 1, seeds,
                                         zig, C0, (jj + 1) * d, use_noise, x, counters, fail)
                            alive[g] = False
                        if bad:
                            for i in range(d):
                                Xn[i, g] = 0.0
                X, Xn = Xn, X
            j += L
            left, r = after_segment(left, r, L, save_every, out_x, idx, na, alive, X)
        group_close(x, counters, idx, na, alive, X, C)


#: grouped kernels already built, by (drift, number of its arguments, fixed dimension or 0)
_GROUPS: dict = {}

#: state dimensions up to this one get a kernel with the dimension fixed at compile time
FIXED_DIM_MAX = 7


def nonlinear_groups(drift, n_args, dim):
    """The grouped Euler kernel for a user drift, with the drift compiled inline.

    ``drift`` is the user's Numba function taking ``(x, t, out)`` (``n_args = 3``) or
    ``(x, t, params, out)`` (``n_args = 4``). Its Python source is compiled again with the same
    options and ``inline="always"``, so the kernel has no call per trajectory-step and the
    compiler can interleave the trajectories of a group (the arithmetic, hence every number, is
    the drift's own). For a state dimension ``dim <= FIXED_DIM_MAX`` the kernel is built with
    ``dim`` as a compile-time constant, so the drift's loop over the coordinates has a known
    length and the trajectories of a group run in SIMD lanes (measured 5-19 % faster for
    d = 1-7 on one thread, slower for d = 8 and 32, hence the bound). Built once per drift,
    dimension and process (not cached on disk, as :func:`nonlinear_sde`). Returns
    ``kernel(params, h, noise_weights, steps, stream, x, counters, out_x, fail)``; ``x`` must
    have ``dim`` columns.
    """
    fixed = dim if 0 < dim <= FIXED_DIM_MAX else 0
    key = (drift, n_args, fixed)
    if key not in _GROUPS:
        if len(_GROUPS) >= 64:
            _GROUPS.clear()
        opts = {k: v for k, v in drift.targetoptions.items() if k not in ("cache", "nopython")}
        opts["inline"] = "always"
        f = njit(**opts)(drift.py_func)
        if n_args == 3:
            @njit(inline="always")
            def call(x, t, p, out):
                f(x, t, out)
        else:
            call = f
        _GROUPS[key] = _build_groups(call, fixed)
    return _GROUPS[key]


def _build_groups(call, fixed):
    # long: factory: its body is the Numba kernel below, compiled per user drift and dimension
    @njit(parallel=True)
    def kernel(params, h, noise_weights, steps, stream, x, counters, out_x, fail):
        """Euler steps with a user drift and no observables, ``GROUP`` trajectories side by side.

        The same numbers bit for bit as :func:`nonlinear_sde` (method 0, no observables): per step
        the drift of each member is evaluated at the start of the step (compiled inline: no call,
        no allocation), then ``x' = x + h f + sqrt(h) L z`` on the normals of its own stream,
        drawn a segment ahead. ``noise_weights = (L, diag_noise)``; ``steps``, ``stream`` and the
        written arrays as in :func:`nonlinear_sde`.
        """
        # long: one pass per step keeps the state in registers; split only into inline helpers
        L_, diag_noise = noise_weights
        n, save_every, slot0, step0 = steps
        seeds, zig, noise = stream
        n_traj, d = x.shape
        m = L_.shape[1]
        use_noise = noise.shape[0] == n_traj
        sh = np.sqrt(h)
        seg, n_groups = group_layout(n_traj, m)
        for grp in prange(n_groups):
            idx = np.empty(GROUP, np.int64)
            na = group_members(fail, grp, n_traj, idx)
            if na == 0:
                continue
            dc = fixed if fixed > 0 else d  # a constant when the kernel is built for d
            X = np.zeros((GROUP, dc))
            Xn = np.zeros((GROUP, dc))
            F = np.zeros((GROUP, dc))
            C = np.empty(GROUP, np.uint64)
            C0 = np.empty(GROUP, np.uint64)
            alive = np.zeros(GROUP, np.bool_)
            group_open(x, counters, idx, na, X.T, C, alive)
            Z = np.zeros((seg * m, GROUP))
            j = 0
            left, r = save_every, slot0
            while j < n:
                Lseg = min(seg, left, n - j)
                draw_segment(seeds, zig, noise, use_noise, idx, na, C, C0, Z, j, Lseg * m)
                for jj in range(Lseg):
                    t = (step0 + j + jj) * h
                    # failed members stay at their last finite state; a full group runs a
                    # loop of constant length, which the compiler unrolls and interleaves
                    if na == GROUP:
                        for g in range(GROUP):
                            call(X[g], t, params, F[g])
                    else:
                        for g in range(na):
                            call(X[g], t, params, F[g])
                    nf = 0
                    for i in range(d):
                        if diag_noise:
                            si = sh * L_[i, i]
                            for g in range(GROUP):
                                v = X[g, i] + h * F[g, i] + si * Z[jj * m + i, g]
                                Xn[g, i] = v
                                nf += v - v != 0.0
                        else:
                            for g in range(GROUP):
                                w = 0.0
                                for q_ in range(m):
                                    w += L_[i, q_] * Z[jj * m + q_, g]
                                v = X[g, i] + h * F[g, i] + sh * w
                                Xn[g, i] = v
                                nf += v - v != 0.0
                    if nf > 0:
                        for g in range(na):
                            bad = False
                            for i in range(d):
                                bad |= Xn[g, i] - Xn[g, i] != 0.0
                            if not bad:
                                continue
                            if alive[g]:
                                stop_member(g, idx[g], X[g].copy(), step0 + j + jj + 1, seeds,
                                             zig, C0, (jj + 1) * m, use_noise, x, counters,
                                             fail)
                                alive[g] = False
                            for i in range(d):
                                Xn[g, i] = X[g, i]
                    X, Xn = Xn, X
                j += Lseg
                left, r = after_segment(left, r, Lseg, save_every, out_x, idx, na, alive, X.T)
            group_close(x, counters, idx, na, alive, X.T, C)

    return kernel
