r"""Scale-out on Dask: chunked runs reduced on the client, and the moments they reduce to.

The public entry points are the ``client=`` / ``scheduler=`` keywords of
:func:`stochthermo.simulate`, :func:`stochthermo.learning.learn`,
:func:`stochthermo.bridge.diagnose` and :func:`stochthermo.store.simulate_to_store`. Each of
those features owns its chunk function and its merge; the task running (client resolution,
chunk bounds, retries, progress, ordered merging) lives in :mod:`stochthermo._executor`, which
knows nothing about what the tasks compute. This module keeps the public helpers:
:func:`get_client`, :func:`chunk_bounds`, and the per-time moments of an ensemble
(:class:`EnsembleMoments`, :func:`ensemble_moments`, :func:`merge_moments`) that
``simulate(..., reduce="moments")`` returns. It imports none of the features.

Reproducibility. Every trajectory (trial) owns a random stream keyed by its global index
(``stochthermo._rng.trajectory_seeds(seed, n, offset=first_index)``), so a chunk of
trajectories ``[a, b)`` computed anywhere reproduces rows ``a..b-1`` of the single-process run
bit for bit. Reductions are made chunking-independent too: moments are first computed on fixed
*leaf blocks* of :data:`LEAF` consecutive trajectories (chunk boundaries are aligned to them), and
the client folds the leaf moments in trajectory order with the pairwise update of Chan, Golub
and LeVeque, so the floating-point operations, and hence the bits, do not depend on the number
of workers or on ``chunk_size``. See ``theory/distributed.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ._executor import chunk_bounds, get_client
from ._frozen import settle
from ._validation import positive_int
from .errors import ValidationError

__all__ = [
    "LEAF",
    "REDUCTIONS",
    "EnsembleMoments",
    "chunk_bounds",
    "chunk_moments",
    "ensemble_moments",
    "fold_moments",
    "get_client",
    "merge_moments",
]

#: Trajectories per leaf block of a reduction; chunk boundaries are multiples of it.
LEAF = 256
#: Reductions understood by ``simulate(..., reduce=...)``.
REDUCTIONS = {"moments": "per-time means and covariances of the state and observables"}


# --------------------------------------------------------------------------- moments


@dataclass(frozen=True)
class EnsembleMoments:
    r"""Per-time moments of an ensemble, reduced without keeping the trajectories.

    The moments are those of the vector ``z = (x, observables...)`` at every saved time: its
    first ``dim`` entries are the state, followed by the observable columns in the order of
    ``columns``.

    Attributes
    ----------
    t : ndarray (n_saved,)
    count : int
        Number of trajectories.
    mean : ndarray (n_saved, p)
    m2 : ndarray (n_saved, p, p)
        Sum of outer products of deviations from the mean (``count - 1`` times the sample
        covariance).
    columns : mapping name -> slice
        ``"x"`` and each observable's columns in ``z``.
    meta : mapping
        As ``Ensemble.meta`` (method, seed, ...), plus ``reduce``, ``leaf`` and ``chunks``.

    Notes
    -----
    Two partial results ``(n_a, mu_a, M_a)`` and ``(n_b, mu_b, M_b)`` merge as
    ``mu = mu_a + delta n_b / n``, ``M = M_a + M_b + delta delta^T n_a n_b / n`` with
    ``delta = mu_b - mu_a`` (Chan, Golub and LeVeque). See ``theory/distributed.md``.
    """

    t: np.ndarray
    count: int
    mean: np.ndarray
    m2: np.ndarray
    columns: Any
    meta: Any = field(default_factory=dict)

    def __post_init__(self):
        settle(self, columns=MappingProxyType(dict(self.columns)),
               meta=MappingProxyType(dict(self.meta or {})))

    @property
    def dim(self) -> int:
        """State dimension."""
        s = self.columns["x"]
        return s.stop - s.start

    def covariance(self, name: str = "x", ddof: int = 1) -> np.ndarray:
        """Per-time covariance of ``name`` (``"x"`` or an observable), shape ``(n_saved, k, k)``."""
        s = self._cols(name)
        if self.count - ddof <= 0:
            raise ValidationError(f"covariance with ddof={ddof} needs more than {ddof} "
                                  f"trajectories; this reduction has {self.count}")
        return self.m2[:, s, s] / (self.count - ddof)

    def mean_of(self, name: str = "x") -> np.ndarray:
        """Per-time mean of ``name``, shape ``(n_saved, k)``."""
        return self.mean[:, self._cols(name)]

    def variance(self, name: str = "x", ddof: int = 1) -> np.ndarray:
        """Per-time variance of each column of ``name``, shape ``(n_saved, k)``."""
        return np.diagonal(self.covariance(name, ddof), axis1=1, axis2=2).copy()

    def stderr(self, name: str = "x") -> np.ndarray:
        """Standard error of ``mean_of(name)``."""
        return np.sqrt(self.variance(name) / self.count)

    def _cols(self, name):
        if name not in self.columns:
            raise ValidationError(
                f"{name!r} is not in this reduction; available: {', '.join(self.columns)}"
            )
        return self.columns[name]


def _stack_columns(x: np.ndarray, observables: Mapping) -> tuple[np.ndarray, dict]:
    """``z`` of shape (n, n_saved, p) and the column slices."""
    parts, cols, pos = [x], {"x": slice(0, x.shape[2])}, x.shape[2]
    for name, v in observables.items():
        v = v if v.ndim == 3 else v[:, :, None]
        parts.append(v)
        cols[name] = slice(pos, pos + v.shape[2])
        pos += v.shape[2]
    return np.concatenate(parts, axis=2), cols


def _leaf_moments(z: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Two-pass moments of one leaf ``z`` (n, n_saved, p): ``(n, mean, m2)``."""
    n = z.shape[0]
    mean = z.sum(axis=0) / n
    c = z - mean
    m2 = np.einsum("kti,ktj->tij", c, c)
    return n, mean, m2


def merge_moments(a: tuple, b: tuple) -> tuple[int, np.ndarray, np.ndarray]:
    """Chan's pairwise merge of two ``(count, mean, m2)`` triples (``a`` first)."""
    na, ma, Ma = a
    nb, mb, Mb = b
    n = na + nb
    delta = mb - ma
    mean = ma + delta * (nb / n)
    m2 = Ma + Mb + (na * nb / n) * (delta[..., :, None] * delta[..., None, :])
    return n, mean, m2


def _chunk_leaves(z: np.ndarray, leaf: int) -> list:
    return [_leaf_moments(z[a:a + leaf]) for a in range(0, z.shape[0], leaf)]


def chunk_moments(x: np.ndarray, observables: Mapping, leaf: int = LEAF) -> tuple[list, dict]:
    """Moments of each leaf block of one chunk of trajectories, and the column slices.

    ``x`` (n, n_saved, d) and ``observables`` (name -> (n, n_saved[, k])) of the chunk; the
    chunk must start on a leaf boundary so that its leaves are those of the whole run.
    """
    z, cols = _stack_columns(x, observables)
    return _chunk_leaves(z, leaf), cols


def fold_moments(acc: tuple | None, leaves: list) -> tuple | None:
    """Fold ``leaves`` (in order) into the running ``(count, mean, m2)`` ``acc`` (or None)."""
    for part in leaves:
        acc = part if acc is None else merge_moments(acc, part)
    return acc


def ensemble_moments(ens: Any, *, leaf: int = LEAF) -> EnsembleMoments:
    """Reduce an in-memory :class:`~stochthermo.Ensemble` exactly as ``reduce="moments"`` does.

    The leaf blocks and the fold order are the same, so the result equals, bit for bit,
    ``simulate(..., reduce="moments")`` with the same seed, with or without a cluster.
    """
    leaf = positive_int("leaf", leaf)
    leaves, cols = chunk_moments(np.asarray(ens.x), dict(ens.observables), leaf)
    acc = fold_moments(None, leaves)
    if acc is None:
        raise ValidationError("ensemble_moments needs an ensemble with at least one trajectory")
    n, mean, m2 = acc
    meta = {k: v for k, v in ens.meta.items() if k != "state"}
    meta.update(reduce="moments", leaf=leaf)
    return EnsembleMoments(np.asarray(ens.t), int(n), mean, m2, cols, meta)
