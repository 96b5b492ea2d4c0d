"""Gillespie (direct method) ensembles of Markov jump trajectories.

Trajectory ``k`` draws only from its own counter-based stream ``seeds[k]`` (see
``kernels/_random.py``): optional initial state (one uniform), then per jump one uniform for the
waiting time ``-ln(u) / r(s)`` and one to pick the edge. Results therefore do not depend on the
number of threads or on how trajectories are split into chunks. See ``theory/jump.md`` [JP-gill].

The out-edges of state ``s`` are ``ptr[s] <= e < ptr[s + 1]``: destination ``targets[e]``,
cumulative rate ``cumrates[e]`` (the last one is the exit rate), and one row ``edge_obs[e]`` of
increments added to the per-trajectory accumulator at each such jump.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._random import uniform01

__all__ = ["gillespie", "gillespie_steps"]


@njit(cache=True, inline="always")
def _pick(cum, lo, hi, x):
    """First index ``e`` in ``[lo, hi)`` with ``cum[e] >= x`` (``hi - 1`` if none)."""
    e = lo
    last = hi - 1
    while e < last and cum[e] < x:
        e += 1
    return e


@njit(cache=True, parallel=True)
def gillespie(start, p0cum, seeds, ptr, targets, cumrates, edge_obs, t_max, dt_save,
              states, counts, acc, residence, n_jumps):
    """Run one Gillespie trajectory per entry of ``seeds`` up to time ``t_max``.

    Parameters
    ----------
    start : int64 (n_traj,)
        Initial state, or -1 to draw it from ``p0cum`` (cumulative initial distribution).
    states : int64 (n_traj, n_save)
        Output: state at the times ``g * dt_save``.
    counts : int64 (n_traj, n, n)
        Output (zeroed by the caller): ``counts[k, i, j]`` jumps ``j -> i``.
    acc : float64 (n_traj, n_obs)
        Output (zeroed): sums of ``edge_obs`` rows over the jumps made.
    residence : float64 (n_traj, n)
        Output (zeroed): time spent in each state.
    n_jumps : int64 (n_traj,)
        Output: number of jumps.
    """
    n_traj = seeds.shape[0]
    n_save = states.shape[1]
    n_obs = edge_obs.shape[1]
    n_states = p0cum.shape[0]
    for k in prange(n_traj):
        seed = seeds[k]
        ctr = np.uint64(0)
        s = start[k]
        if s < 0:
            u, ctr = uniform01(seed, ctr)
            s = _pick(p0cum, 0, n_states, u)
        t = 0.0
        g = 0
        nj = 0
        while True:
            lo = ptr[s]
            hi = ptr[s + 1]
            rate = cumrates[hi - 1]
            u, ctr = uniform01(seed, ctr)
            t_new = t - math.log(u) / rate
            while g < n_save and g * dt_save < t_new:
                states[k, g] = s
                g += 1
            if t_new >= t_max:
                residence[k, s] += t_max - t
                break
            residence[k, s] += t_new - t
            u, ctr = uniform01(seed, ctr)
            e = _pick(cumrates, lo, hi, u * rate)
            dest = targets[e]
            counts[k, dest, s] += 1
            for o in range(n_obs):
                acc[k, o] += edge_obs[e, o]
            s = dest
            t = t_new
            nj += 1
        while g < n_save:
            states[k, g] = s
            g += 1
        n_jumps[k] = nj


@njit(cache=True, parallel=True)
def gillespie_steps(x, acc, seeds, counters, out_x, out_obs, fail, p0cum, ptr, targets,
                    cumrates, edge_obs, h, n, save_every, slot0, step_abs0):
    """Advance jump trajectories over the steps ``step_abs0 .. step_abs0 + n`` of length ``h``.

    The fixed-step form used by ``stochthermo.simulate``: ``x[k] = (state, time of the next
    jump)``; at absolute step 0 the state (if ``< 0``, drawn from ``p0cum``) and the first
    waiting time are drawn. Every jump with time ``<= (step + 1) h`` is made before the state is
    saved, so the saved states equal those of :func:`gillespie` on the same streams. Saves
    ``out_x[k, slot, 0]`` and ``out_obs[k, slot]`` every ``save_every`` steps from ``slot0``;
    ``fail[k] = step_abs0`` flags a start outside the state space.
    """
    n_traj = seeds.shape[0]
    n_states = p0cum.shape[0]
    n_obs = acc.shape[1]
    for k in prange(n_traj):
        seed = seeds[k]
        ctr = counters[k]
        s = np.int64(x[k, 0])
        t_next = x[k, 1]
        if step_abs0 == 0:
            if x[k, 0] < 0.0:
                u, ctr = uniform01(seed, ctr)
                s = _pick(p0cum, 0, n_states, u)
            elif s >= n_states or x[k, 0] != float(s):
                fail[k] = 0
                continue
            u, ctr = uniform01(seed, ctr)
            t_next = -math.log(u) / cumrates[ptr[s + 1] - 1]
            out_x[k, slot0 - 1, 0] = s  # the start, drawn here when it was -1
        for j in range(n):
            t_end = (step_abs0 + j + 1) * h
            while t_next <= t_end:
                lo = ptr[s]
                hi = ptr[s + 1]
                rate = cumrates[hi - 1]
                u, ctr = uniform01(seed, ctr)
                e = _pick(cumrates, lo, hi, u * rate)
                s = targets[e]
                for o in range(n_obs):
                    acc[k, o] += edge_obs[e, o]
                u, ctr = uniform01(seed, ctr)
                t_next = t_next - math.log(u) / cumrates[ptr[s + 1] - 1]
            if (j + 1) % save_every == 0:
                slot = slot0 + (j + 1) // save_every - 1
                out_x[k, slot, 0] = s
                for o in range(n_obs):
                    out_obs[k, slot, o] = acc[k, o]
        x[k, 0] = s
        x[k, 1] = t_next
        counters[k] = ctr
