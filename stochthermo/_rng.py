"""Seeds in, per-trajectory streams out: the only place where randomness enters the library."""

from __future__ import annotations

import numbers

import numpy as np

from .errors import ValidationError

__all__ = ["as_seed_sequence", "trajectory_seeds", "seed_repr"]


def as_seed_sequence(seed) -> np.random.SeedSequence:
    """Turn ``seed`` (None, int, SeedSequence or Generator) into a SeedSequence.

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


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def trajectory_seeds(seed, n: int, *, offset: int = 0) -> np.ndarray:
    """Return ``n`` 64-bit seeds, one per trajectory, as a uint64 array.

    The root :class:`~numpy.random.SeedSequence` gives a 128-bit key ``(k0, k1)``; trajectory
    ``j`` gets ``mix(mix(k0 + (j + 1) G) ^ k1)`` (SplitMix64 finaliser ``mix``, golden-ratio
    increment ``G``). Seed ``j`` depends only on the key and ``j``, so a run split into chunks
    (``offset`` = first trajectory of the chunk) reproduces the unsplit run, and computing the
    seeds of a chunk costs O(n) whatever its offset (vectorised, no Python loop).
    """
    ss = as_seed_sequence(seed)
    k0, k1 = ss.generate_state(2, dtype=np.uint64)
    j = np.arange(offset, offset + n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = _mix64(k0 + (j + np.uint64(1)) * _GOLDEN)
        return _mix64(z ^ k1)


def seed_repr(seed):
    """A JSON-friendly description of ``seed`` for result metadata."""
    if isinstance(seed, np.random.SeedSequence):
        return {"entropy": str(seed.entropy), "spawn_key": list(seed.spawn_key)}
    if isinstance(seed, numbers.Integral):
        return int(seed)
    if seed is None:
        return None
    return repr(seed)
