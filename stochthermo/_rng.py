"""Seeds in, per-trajectory streams out: the only place where randomness enters the library."""

from __future__ import annotations

import numbers

import numpy as np

from .errors import ValidationError

__all__ = ["as_seed_sequence", "trajectory_seeds", "seed_repr"]


def as_seed_sequence(seed) -> np.random.SeedSequence:
    """Turn ``seed`` (None, int, SeedSequence or Generator) into a :class:`numpy.random.SeedSequence`.

    A ``Generator`` is consumed once (one 128-bit draw) so that passing the same generator twice
    gives two different, reproducible streams.
    """
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63 - 1, size=2, dtype=np.int64).tolist())
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValidationError(f"seed={seed!r} is negative; pass a non-negative integer")
        return np.random.SeedSequence(int(seed))
    raise ValidationError(
        f"seed={seed!r} is not usable; pass None, a non-negative int, a numpy SeedSequence "
        "or a numpy Generator"
    )


def trajectory_seeds(seed, n: int, *, offset: int = 0) -> np.ndarray:
    """Return ``n`` independent 64-bit seeds, one per trajectory, as a uint64 array.

    Trajectory ``k`` gets the seed of child ``offset + k`` of the root sequence, so a run split
    into chunks (``offset`` = first trajectory of the chunk) reproduces the unsplit run.
    """
    ss = as_seed_sequence(seed)
    out = np.empty(n, dtype=np.uint64)
    for k in range(n):
        child = np.random.SeedSequence(
            entropy=ss.entropy, spawn_key=tuple(ss.spawn_key) + (offset + k,)
        )
        out[k] = child.generate_state(1, dtype=np.uint64)[0]
    return out


def seed_repr(seed):
    """A JSON-friendly description of ``seed`` for result metadata."""
    if isinstance(seed, np.random.SeedSequence):
        return {"entropy": str(seed.entropy), "spawn_key": list(seed.spawn_key)}
    if isinstance(seed, numbers.Integral):
        return int(seed)
    if seed is None:
        return None
    return repr(seed)
