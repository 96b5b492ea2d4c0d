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

__all__ = ["gillespie"]


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
