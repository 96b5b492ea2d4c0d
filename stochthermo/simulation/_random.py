"""Random-number tables of the simulation: the ziggurat table and the per-trajectory normals.

Trajectory ``k`` of a run draws its standard normals from its own counter-based stream
(``stochthermo._rng.trajectory_seeds``, ``stochthermo.kernels._random``); the ziggurat table
is computed once per process. See ``theory/simulation.md``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .._rng import trajectory_seeds
from .._validation import positive_int

__all__ = ["standard_normals", "ziggurat_table"]


@functools.lru_cache(maxsize=1)
def ziggurat_table(n_layers: int = 256) -> np.ndarray:
    """Tables of a 256-layer ziggurat for exp(-x^2/2) (see ``kernels/_random.py``)."""
    from scipy.special import erfc

    def f(x):
        return math.exp(-0.5 * x * x)

    def area(r):
        return r * f(r) + math.sqrt(math.pi / 2.0) * erfc(r / math.sqrt(2.0))

    def resid(r):
        v, x = area(r), r
        for _ in range(1, n_layers - 1):
            a = f(x) + v / x
            if a >= 1.0:
                return 1.0
            x = math.sqrt(-2.0 * math.log(a))
        return f(x) + v / x - 1.0

    lo, hi = 2.0, 5.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if resid(mid) > 0:
            lo = mid
        else:
            hi = mid
    r = hi
    v = area(r)
    x = np.empty(n_layers + 1)
    x[0], x[1] = v / f(r), r
    for i in range(1, n_layers - 1):
        x[i + 1] = math.sqrt(-2.0 * math.log(f(x[i]) + v / x[i]))
    x[n_layers] = 0.0
    tab = np.zeros((3, n_layers + 1))
    tab[0] = x
    tab[1, :n_layers] = x[1:] / x[:n_layers]
    tab[2] = np.exp(-0.5 * x * x)
    tab.setflags(write=False)
    return tab


def standard_normals(seed: Any, n_traj: int, n: int, *,
                     counters: np.ndarray | None = None) -> np.ndarray:
    """Draw ``n`` standard normals for each of ``n_traj`` trajectory streams.

    The same streams the simulation kernels use: ``standard_normals(seed, K, n)[k]`` are the
    first ``n`` variates of trajectory ``k`` of ``simulate(..., seed=seed)``.

    Parameters
    ----------
    seed : int, Generator, SeedSequence or None
    n_traj, n : int
    counters : numpy.ndarray of uint64, optional
        Stream positions to start from (advanced in place).

    Returns
    -------
    numpy.ndarray, shape (n_traj, n)
    """
    from ..kernels._random import fill_normals

    n_traj = positive_int("n_traj", n_traj)
    n = positive_int("n", n)
    seeds = trajectory_seeds(seed, n_traj)
    ctr = np.zeros(n_traj, dtype=np.uint64) if counters is None else counters
    out = np.empty((n_traj, n))
    fill_normals(seeds, ctr, ziggurat_table(), out)
    return out
