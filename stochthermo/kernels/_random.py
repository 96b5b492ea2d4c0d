"""Counter-based per-trajectory normal variates for Numba kernels.

Every trajectory owns a stream defined by a 64-bit key ``seed`` and a 64-bit ``counter``:
draw number ``c`` of the stream is ``mix64(seed + (c + 1) * GOLDEN)`` (the SplitMix64 output
function applied to a Weyl sequence). Nothing else is stored, so a stream can be stopped and
continued anywhere by saving its counter, and its values do not depend on which thread runs it.

Normals come from a 256-layer ziggurat (Marsaglia & Tsang) that uses one 64-bit word per
accepted draw on its fast path: 8 bits pick the layer, 1 bit the sign, the top 53 bits the
uniform. The tables (shape ``(3, 257)``: layer edges ``x``, ratios ``x[i+1]/x[i]`` and
``exp(-x^2/2)``) are built by ``stochthermo.simulation._ziggurat_table`` and passed in as an array.
See ``theory/simulation.md`` [SIM-rng].
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["mix64", "uniform01", "std_normal", "fill_normals"]


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 output function: a bijective 64-bit avalanche hash of ``z`` (uint64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def _word(seed, ctr):
    return mix64(seed + (ctr + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15))


@njit(cache=True, inline="always")
def uniform01(seed, ctr):
    """One uniform in ``(0, 1]`` from draw ``ctr`` of stream ``seed``; returns ``(u, ctr + 1)``."""
    w = _word(seed, ctr)
    return (float(w >> np.uint64(11)) + 1.0) * (1.0 / 9007199254740992.0), ctr + np.uint64(1)


@njit(cache=True)
def _normal_slow(seed, ctr, zig, i, u, neg):
    """Ziggurat slow path (about 1.2% of draws): tail for layer 0, wedge test otherwise."""
    r = zig[0, 1]
    if i == 0:
        while True:
            u1, ctr = uniform01(seed, ctr)
            u2, ctr = uniform01(seed, ctr)
            a = -math.log(u1) / r
            b = -math.log(u2)
            if 2.0 * b > a * a:
                z = r + a
                return (-z if neg else z), ctr, True
    z = u * zig[0, i]
    v, ctr = uniform01(seed, ctr)
    y = zig[2, i] + v * (zig[2, i + 1] - zig[2, i])
    if y < math.exp(-0.5 * z * z):
        return (-z if neg else z), ctr, True
    return 0.0, ctr, False


@njit(cache=True, inline="always")
def std_normal(seed, ctr, zig):
    """One standard normal from stream ``seed`` starting at draw ``ctr``.

    Returns ``(z, new_ctr)``; usually ``new_ctr = ctr + 1``.
    """
    while True:
        w = _word(seed, ctr)
        ctr += np.uint64(1)
        i = np.int64(w & np.uint64(0xFF))
        u = float(w >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        if u < zig[1, i]:
            z = u * zig[0, i]
            if (w >> np.uint64(8)) & np.uint64(1):
                return -z, ctr
            return z, ctr
        z, ctr, ok = _normal_slow(seed, ctr, zig, i, u, (w >> np.uint64(8)) & np.uint64(1))
        if ok:
            return z, ctr


@njit(cache=True, parallel=True)
def fill_normals(seeds, counters, zig, out):
    """Fill ``out[k]`` (shape ``(n_traj, n)``) from stream ``k``; advances ``counters`` in place."""
    n = out.shape[1]
    for k in prange(out.shape[0]):
        s = seeds[k]
        c = counters[k]
        for j in range(n):
            z, c = std_normal(s, c, zig)
            out[k, j] = z
        counters[k] = c
