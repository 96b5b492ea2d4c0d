"""Numba kernel for Langevin processes with a state-dependent diagonal diffusion.

``dx_i = F_i(x, t) dt + sqrt(2 D_i(x, t)) dW_i`` (Ito drift ``F``). ``drift(x, t, params, out)``
writes the user drift ``f``, ``diffusion(x, t, params, out)`` the diagonal ``D_i``,
``derivative(x, t, params, out)`` (only called when ``has_deriv``) ``dD_i/dx_i``;
``potential(x, t, params)`` the energy used for work (only called when ``work_on``). With
``strat`` the user drift is Stratonovich and ``F = f + 1/2 dD_i/dx_i``. Time of local step ``j``
is ``(step0 + j) h``; drift and diffusion of a step are evaluated at its start.

Methods (``method``): ``0`` Euler-Maruyama, ``x' = x + F h + g dW`` with ``g = sqrt(2 D)``;
``1`` Milstein for diagonal noise, ``+ 1/2 g g' (dW^2 - h)`` with ``g g'_i = dD_i/dx_i`` when
the derivative is given, else the derivative-free Runge-Kutta form
``(g(Y) - g(x)) (dW^2 - h) / (2 sqrt(h))`` at the support point ``Y = x + F h + g sqrt(h)``.

Derivatives ``dD_i/dx_i`` for the Stratonovich correction and the heat, when not given, are
central differences with step ``FD_REL * max(1, |x_i|)`` (rounded so that ``x_i +- e`` differ
from ``x_i`` by exactly ``e``), one pair of diffusion calls per coordinate.

Observables: heat per block, the Stratonovich trapezoid of the force
``Phi_i = T_i (F_i - dD_i/dx_i) / D_i`` at the protocol time of the step,
``1/2 (Phi(x, t_j) + Phi(x', t_j))_i (x'_i - x_i)`` summed by ``labels`` (``time_dep`` forces
the evaluation at ``(x', t_j)``, else the values at ``(x', t_{j+1})`` are reused); work
``U(x', t_{j+1}) - U(x', t_j)``; currents ``(CW_c x_mid + cb_c) . (x' - x)``.
See ``theory/simulation.md`` [SIM-multiplicative].

Failures: ``fail[k]`` is the step at which the state stopped being finite; ``bad_step[k]`` the
step at which the diffusion was negative or not finite (zero, too, when the heat needs
``1/D``), with the state in ``bad_x[k]`` and ``(coordinate, value)`` in ``bad_val[k]``. Either
stops that trajectory. Like the constant-noise kernel, this one takes the user functions as
first-class functions and is compiled per function (no on-disk cache).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._shared import (
    after_step,
    draw_step,
    finish_trajectory,
    obs_columns,
    start_trajectory,
    sum_is_finite,
)
from ._sim_nonlinear import _add_currents

__all__ = ["FD_REL", "multiplicative_sde"]

#: relative step of the central differences of ``D_i`` (about the cube root of the epsilon)
FD_REL = 6.0e-6


@njit
def _evaluate(drift, diffusion, derivative, params, has_deriv, strat, need_div, heat_on, x, t,
              F, Dv, dv, xt, tmp):
    """``F`` (Ito drift), ``Dv`` (diagonal of D) and, if needed, ``dv`` (dD_i/dx_i) at ``(x, t)``.

    Returns the first coordinate whose diffusion is bad (negative, not finite, or zero when
    ``heat_on``), or -1.
    """
    d = x.shape[0]
    diffusion(x, t, params, Dv)
    for i in range(d):
        v = Dv[i]
        if not (v >= 0.0) or v - v != 0.0 or (heat_on and v == 0.0):
            return i
    if need_div:
        if has_deriv:
            derivative(x, t, params, dv)
        else:
            for i in range(d):
                xt[i] = x[i]
            for i in range(d):
                e = FD_REL * max(1.0, abs(x[i]))
                xp = x[i] + e
                xm = x[i] - e
                xt[i] = xp
                diffusion(xt, t, params, tmp)
                up = tmp[i]
                xt[i] = xm
                diffusion(xt, t, params, tmp)
                dv[i] = (up - tmp[i]) / (xp - xm)
                xt[i] = x[i]
    drift(x, t, params, F)
    if strat:
        for i in range(d):
            F[i] += 0.5 * dv[i]
    return -1


@njit
def _record_bad(bad_step, bad_x, bad_val, k, step, x, i, v):
    bad_step[k] = step
    for q_ in range(x.shape[0]):
        bad_x[k, q_] = x[q_]
    bad_val[k, 0] = i
    bad_val[k, 1] = v


@njit(parallel=True)
def multiplicative_sde(drift, diffusion, derivative, potential, params, h, codes, steps,
                       stream, obs, x, counters, acc, out_x, out_obs, fail, bad_step, bad_x,
                       bad_val):
    """Euler or Milstein steps for ``n_traj`` trajectories; see the module docstring.

    Read-only inputs come in tuples: ``codes = (method, strat, has_deriv, time_dep)``,
    ``steps = (n, save_every, slot0, step0)``, ``stream = (seeds, zig, noise)``,
    ``obs = (tv, labels, n_blocks, heat_on, work_on, CW, cb)`` (``tv``: temperature of each
    coordinate's block); the arrays written are separate arguments (see :mod:`._langevin`).
    """
    # long: one pass per step keeps the state in registers; split only with inline='always' helpers
    method, strat, has_deriv, time_dep = codes
    n, save_every, slot0, step0 = steps
    seeds, zig, noise = stream
    tv, labels, n_blocks, heat_on, work_on, CW, cb = obs
    n_traj, d = x.shape
    use_noise = noise.shape[0] == n_traj
    need_div = heat_on or strat or (method == 1 and has_deriv)
    sh = np.sqrt(h)
    wcol, ccol = obs_columns(n_blocks, work_on)
    for k in prange(n_traj):
        if fail[k] >= 0 or bad_step[k] >= 0:
            continue
        xo, a, s, c = start_trajectory(x, acc, seeds, counters, k)
        xn = np.empty(d)
        xs = np.empty(d)
        Fo = np.empty(d)
        Do = np.empty(d)
        dvo = np.zeros(d)
        Fn = np.empty(d)
        Dn = np.empty(d)
        dvn = np.zeros(d)
        Ft = np.empty(d)
        Dt = np.empty(d)
        dvt = np.zeros(d)
        xt = np.empty(d)
        tmp = np.empty(d)
        go = np.empty(d)
        dW = np.empty(d)
        left, r = save_every, slot0
        bad = _evaluate(drift, diffusion, derivative, params, has_deriv, strat, need_div,
                        heat_on, xo, step0 * h, Fo, Do, dvo, xt, tmp)
        if bad >= 0:
            _record_bad(bad_step, bad_x, bad_val, k, step0, xo, bad, Do[bad])
            continue
        for j in range(n):
            tj = (step0 + j) * h
            tn = (step0 + j + 1) * h
            c = draw_step(use_noise, noise, k, j, s, c, zig, dW)
            for i in range(d):
                dW[i] = sh * dW[i]
            for i in range(d):
                go[i] = np.sqrt(2.0 * Do[i])
                xn[i] = xo[i] + h * Fo[i] + go[i] * dW[i]
            if method == 1:
                if has_deriv:
                    for i in range(d):
                        xn[i] += 0.5 * dvo[i] * (dW[i] * dW[i] - h)
                else:
                    for i in range(d):
                        xs[i] = xo[i] + h * Fo[i] + go[i] * sh
                    diffusion(xs, tj, params, tmp)
                    ibad = -1
                    for i in range(d):
                        v = tmp[i]
                        if not (v >= 0.0) or v - v != 0.0:
                            ibad = i
                            break
                    if ibad >= 0:
                        _record_bad(bad_step, bad_x, bad_val, k, step0 + j, xs, ibad,
                                    tmp[ibad])
                        break
                    for i in range(d):
                        xn[i] += ((np.sqrt(2.0 * tmp[i]) - go[i]) * (dW[i] * dW[i] - h)
                                  / (2.0 * sh))
            if not sum_is_finite(xn):
                fail[k] = step0 + j + 1
                break
            bad = _evaluate(drift, diffusion, derivative, params, has_deriv, strat, need_div,
                            heat_on, xn, tn, Fn, Dn, dvn, xt, tmp)
            if bad >= 0:
                _record_bad(bad_step, bad_x, bad_val, k, step0 + j + 1, xn, bad, Dn[bad])
                break
            if heat_on:
                if time_dep:
                    bad = _evaluate(drift, diffusion, derivative, params, has_deriv, strat,
                                    True, True, xn, tj, Ft, Dt, dvt, xt, tmp)
                    if bad >= 0:
                        _record_bad(bad_step, bad_x, bad_val, k, step0 + j + 1, xn, bad,
                                    Dt[bad])
                        break
                    for i in range(d):
                        a[labels[i]] += 0.5 * tv[i] * ((Fo[i] - dvo[i]) / Do[i]
                                                       + (Ft[i] - dvt[i]) / Dt[i]) * (
                            xn[i] - xo[i])
                else:
                    for i in range(d):
                        a[labels[i]] += 0.5 * tv[i] * ((Fo[i] - dvo[i]) / Do[i]
                                                       + (Fn[i] - dvn[i]) / Dn[i]) * (
                            xn[i] - xo[i])
            if work_on:
                a[wcol] += potential(xn, tn, params) - potential(xn, tj, params)
            _add_currents(CW, cb, xo, xn, a, ccol)
            for i in range(d):
                xo[i] = xn[i]
                Fo[i] = Fn[i]
                Do[i] = Dn[i]
                dvo[i] = dvn[i]
            left, r = after_step(left, r, save_every, out_x, out_obs, k, xo, a)
        finish_trajectory(x, acc, counters, k, xo, a, c)
