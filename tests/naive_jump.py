"""Slow NumPy twin of the Gillespie kernel (written from the definitions in theory/jump.md).

One trajectory at a time, plain Python integers for the counter-based stream (draw ``c`` of
stream ``seed`` is ``mix64(seed + (c + 1) * GOLDEN)``; uniform ``((w >> 11) + 1) / 2^53``), the
direct method for the jumps, and observables recomputed from the rate matrix.
"""

from __future__ import annotations

import math

import numpy as np
from naive_sim import _word  # the same counter-based stream as the Langevin twins


def uniform(seed: int, ctr: int) -> float:
    """Draw ``ctr`` of stream ``seed`` as a uniform in (0, 1]."""
    return ((_word(seed, ctr) >> 11) + 1) * (1.0 / 9007199254740992.0)


def gillespie_path(W, seed, t_max, times, start=None, p0=None, reservoirs=None, info=None):
    """One trajectory of the jump process with rates ``W[i, j]`` (``j -> i``).

    ``start``: initial state, else drawn from ``p0`` with the first uniform. ``info``: optional
    function ``(j, i) -> increment`` of the information-flow columns (length-2 array).
    Returns ``(states on times, counts, accumulated observables, residence, n_jumps)``.
    """
    W = np.asarray(W, dtype=float)
    n = W.shape[0]
    seed = int(seed)
    res = np.zeros((n, n), dtype=int) if reservoirs is None else np.asarray(reservoirs)
    n_res = int(res[W > 0].max(initial=0)) + 1
    ctr = 0
    if start is None:
        u = uniform(seed, ctr)
        ctr += 1
        s = int(np.searchsorted(np.cumsum(p0), u, side="left"))
        s = min(s, n - 1)
    else:
        s = int(start)
    states = np.empty(len(times), dtype=np.int64)
    counts = np.zeros((n, n), dtype=np.int64)
    acc = np.zeros(n_res + (2 if info is not None else 0))
    resid = np.zeros(n)
    t, g, nj = 0.0, 0, 0
    while True:
        dest = [i for i in range(n) if W[i, s] > 0]
        rates = [W[i, s] for i in dest]
        cum = np.cumsum(rates)
        rate = cum[-1]
        u = uniform(seed, ctr)
        ctr += 1
        t_new = t - math.log(u) / rate
        while g < len(times) and times[g] < t_new:
            states[g] = s
            g += 1
        if t_new >= t_max:
            resid[s] += t_max - t
            break
        resid[s] += t_new - t
        u = uniform(seed, ctr)
        ctr += 1
        x = u * rate
        e = 0
        while e < len(dest) - 1 and cum[e] < x:
            e += 1
        i = dest[e]
        counts[i, s] += 1
        acc[res[i, s]] += math.log(W[i, s]) - math.log(W[s, i])
        if info is not None:
            acc[n_res:] += info(s, i)
        s, t = i, t_new
        nj += 1
    states[g:] = s
    return states, counts, acc, resid, nj
