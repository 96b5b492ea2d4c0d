"""Ensembles too large for memory: a chunked on-disk store (Zarr) that estimators read lazily.

:func:`simulate_to_store` runs :func:`stochthermo.simulate` chunk by chunk of trajectories (in
this process or on a Dask cluster with ``client=``) and writes each chunk into a Zarr group as
soon as it is done; the chunks already written are recorded in the group's attributes, so an
interrupted run continues where it stopped (call it again with the same arguments) and the
result is bit-identical to a single in-memory run with the same seed. :func:`open_store`
returns a :class:`StoredEnsemble` whose arrays stay on disk; ``stochthermo.estimate``'s
entropy-production and information-flow estimators read it group by group, so their memory is
one jackknife group, not the ensemble. Needs the optional extra ``store`` (``zarr``).
See ``theory/distributed.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ._optional import require
from ._rng import as_seed_sequence, seed_repr
from ._validation import positive_int
from .ensemble import Ensemble
from .errors import ValidationError

__all__ = ["simulate_to_store", "open_store", "StoredEnsemble"]


def _zarr():
    return require("zarr", "store", "the on-disk ensemble store")


@dataclass(frozen=True)
class StoredEnsemble:
    """An ensemble whose trajectories stay on disk (Zarr arrays, read on indexing).

    Attributes
    ----------
    x : zarr.Array, shape (n_traj, n_time, dim)
    t : numpy.ndarray, shape (n_time,)
    dt : float
    observables : Mapping[str, zarr.Array]
    meta : Mapping
    path : str
    """

    x: Any
    t: np.ndarray
    dt: float
    observables: Any = field(default_factory=dict)
    meta: Any = field(default_factory=dict)
    path: str = ""

    @property
    def n_traj(self) -> int:
        """Number of trajectories."""
        return int(self.x.shape[0])

    @property
    def n_time(self) -> int:
        """Number of saved time points."""
        return int(self.x.shape[1])

    @property
    def dim(self) -> int:
        """State dimension."""
        return int(self.x.shape[2])

    @property
    def sample_interval(self) -> float:
        """Spacing of the saved time grid."""
        return float(self.t[1] - self.t[0]) if self.t.shape[0] > 1 else float(self.dt)

    def load(self, trajectories=slice(None)) -> Ensemble:
        """Read (some of) the trajectories into an in-memory :class:`~stochthermo.Ensemble`."""
        obs = {k: np.asarray(v[trajectories]) for k, v in self.observables.items()}
        return Ensemble(x=np.asarray(self.x[trajectories], dtype=np.float64), t=self.t,
                        dt=self.dt, observables=obs, meta=dict(self.meta))


def _fingerprint(obj) -> str:
    """A SHA-256 of a model's (or start's) numbers, so a resumed run must use the same ones."""
    import hashlib

    h = hashlib.sha256()

    def feed(v):
        if isinstance(v, np.ndarray):
            h.update(str(v.shape).encode() + v.dtype.str.encode())
            h.update(np.ascontiguousarray(v).tobytes())
        elif isinstance(v, (list, tuple)):
            for u in v:
                feed(u)
        elif isinstance(v, (int, float, str, bool, type(None))):
            h.update(repr(v).encode())
        elif callable(v):
            h.update(getattr(v, "__qualname__", type(v).__name__).encode())
        elif hasattr(v, "__dict__"):
            for k, u in sorted(vars(v).items()):
                if k.startswith("_"):  # caches, not parameters
                    continue
                h.update(k.encode())
                feed(u)
        else:
            h.update(type(v).__name__.encode())

    feed(obj)
    return h.hexdigest()


def _spec(model, n_traj, kw, chunk_size, ss, x0=None) -> dict:
    def plain(v):
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, (tuple, list)):
            return [plain(u) for u in v]
        return v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)

    return {
        "model": repr(model),
        "model_fingerprint": _fingerprint(model),
        "x0": _fingerprint(x0 if isinstance(x0, str) or x0 is None else np.asarray(x0)),
        "n_traj": int(n_traj),
        "chunk_size": int(chunk_size),
        "seed": {"entropy": str(ss.entropy), "spawn_key": list(ss.spawn_key)},
        "options": {k: plain(v) for k, v in sorted(kw.items())},
    }


def simulate_to_store(model, path, *, n_traj, seed=None, x0=None, chunk_size=4096,
                      client=None, scheduler=None, retries=2, progress=None, **kwargs):
    """Simulate ``n_traj`` trajectories into the Zarr store at ``path``, chunk by chunk.

    Parameters
    ----------
    model, n_traj, seed, x0, **kwargs
        As in :func:`stochthermo.simulate` (``n_steps``, ``dt``, ``method``, ``save_every``,
        ``observables``, ...). ``x0`` may be one state, ``"stationary"`` or one row per
        trajectory.
    path : str or os.PathLike
        A Zarr directory; created if missing. If it holds an unfinished run with the same
        arguments, only the missing chunks are computed; a different run is refused.
    chunk_size : int
        Trajectories per chunk (and per Zarr chunk along the trajectory axis).
    client, scheduler, retries :
        Run the chunks on Dask (see :mod:`stochthermo.distributed`); each chunk is written as
        soon as its result arrives.
    progress : bool, optional
        A progress bar over chunks (needs tqdm).

    Returns
    -------
    StoredEnsemble
        The finished store, opened lazily.

    Notes
    -----
    Trajectory ``k`` uses the ``k``-th per-trajectory stream of ``seed`` whatever the chunking,
    so the stored ensemble is bit-identical to ``simulate(model, n_traj=..., seed=seed)``. With
    ``seed=None`` the drawn root seed is stored, so resuming reproduces it too.
    """
    zarr = _zarr()
    from .distributed import (
        _run_tasks,
        _simulate_chunk,
        _x0_for_chunks,
        chunk_bounds,
        get_client,
    )

    n_traj = positive_int("n_traj", n_traj)
    chunk_size = positive_int("chunk_size", chunk_size)
    for bad in ("resume", "_noise", "reduce", "n_traj"):
        if bad in kwargs:
            raise ValidationError(f"{bad}= cannot be used with simulate_to_store")
    path = Path(path)
    root = zarr.open_group(str(path), mode="a")
    if "spec" in root.attrs:
        stored = root.attrs["spec"]
        ss = np.random.SeedSequence(int(stored["seed"]["entropy"]),
                                    spawn_key=tuple(stored["seed"]["spawn_key"]))
        if seed is not None and as_seed_sequence(seed).entropy != ss.entropy:
            raise ValidationError(
                f"the store at {str(path)!r} holds a run with another seed; choose a new path "
                "or pass the same seed to continue it"
            )
        spec = _spec(model, n_traj, kwargs, chunk_size, ss, x0)
        if json.dumps(spec, sort_keys=True) != json.dumps(stored, sort_keys=True):
            raise ValidationError(
                f"the store at {str(path)!r} holds a different run ({stored['model']}, "
                f"n_traj={stored['n_traj']}); choose a new path or repeat the same arguments "
                "to continue it"
            )
    else:
        ss = as_seed_sequence(seed)
        spec = _spec(model, n_traj, kwargs, chunk_size, ss, x0)
        root.attrs["spec"] = spec
        root.attrs["done"] = []
    bounds = chunk_bounds(n_traj, chunk_size)
    done = set(root.attrs.get("done", []))
    todo = [i for i in range(len(bounds)) if i not in done]
    x0_of = _x0_for_chunks(x0, n_traj)
    args = ((model, ss, *bounds[i], kwargs, x0_of(*bounds[i]), None, 1) for i in todo)

    def write(j, res):
        i = todo[j]
        a, b = bounds[i]
        if "x" not in root:
            _create(root, res, n_traj, chunk_size)
        root["x"][a:b] = res["x"]
        for k, v in res["observables"].items():
            root[f"obs_{k}"][a:b] = v
        root.attrs["done"] = sorted(set(root.attrs.get("done", [])) | {i})

    if todo:
        cl, owned = get_client(client, scheduler)
        try:
            _run_tasks(cl, _simulate_chunk, args, retries=retries, on_result=write,
                       progress=progress, total=len(todo), desc="simulate_to_store[chunks]")
        finally:
            if owned:
                cl.close()
    return open_store(path)


def _create(root, res, n_traj, chunk_size):
    x = res["x"]
    rows = min(chunk_size, n_traj)
    root.create_array("x", shape=(n_traj,) + x.shape[1:], chunks=(rows,) + x.shape[1:],
                      dtype="f8", fill_value=np.nan)
    for k, v in res["observables"].items():
        v = np.asarray(v)
        root.create_array(f"obs_{k}", shape=(n_traj,) + v.shape[1:],
                          chunks=(rows,) + v.shape[1:], dtype=v.dtype.str, fill_value=0)
    root.create_array("t", shape=res["t"].shape, dtype="f8")
    root["t"][:] = res["t"]
    meta = {k: v for k, v in res["meta"].items()
            if isinstance(v, (int, float, str, bool, type(None)))}
    root.attrs["dt"] = float(res["dt"])
    root.attrs["meta"] = meta


def open_store(path) -> StoredEnsemble:
    """Open a finished store written by :func:`simulate_to_store` (arrays stay on disk)."""
    zarr = _zarr()
    p = str(path)
    try:
        root = zarr.open_group(p, mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises several types for a missing store
        raise ValidationError(f"path={p!r} is not a stochthermo store ({exc})") from None
    spec = root.attrs.get("spec")
    if spec is None or "x" not in root:
        raise ValidationError(f"path={p!r} is not a stochthermo store (no trajectories)")
    n_chunks = len(range(0, int(spec["n_traj"]), int(spec["chunk_size"])))
    done = root.attrs.get("done", [])
    if len(done) != n_chunks:
        raise ValidationError(
            f"the store at {p!r} is unfinished ({len(done)} of {n_chunks} chunks); call "
            "simulate_to_store again with the same arguments to complete it"
        )
    obs = {k[4:]: root[k] for k in root.array_keys() if k.startswith("obs_")}
    meta = dict(root.attrs.get("meta", {}), seed=seed_repr(None), store=p, spec=spec)
    return StoredEnsemble(x=root["x"], t=np.asarray(root["t"][:]), dt=float(root.attrs["dt"]),
                          observables=MappingProxyType(obs), meta=MappingProxyType(meta),
                          path=p)
