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

Integrity: when a chunk is written, the size and SHA-256 of every stored chunk file are
recorded in one small file per chunk, ``stochthermo-chunks/<i>.json`` (written to a temporary
file, then renamed over the old one); the sidecar ``stochthermo.json`` keeps the run's settings,
the arrays' Zarr metadata and the time grid's digest. :func:`open_store` checks that every
chunk file is present with its recorded size; every read through :class:`StoredEnsemble`
checks the SHA-256 of the chunks it touches; a resumed :func:`simulate_to_store` checks every
recorded chunk and recomputes the damaged ones from the seed (bit-identical). Damage raises
:class:`~stochthermo.errors.DamagedStoreError` naming the chunk indices.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ._optional import require
from ._rng import as_seed_sequence, seed_repr
from ._validation import positive_int
from .ensemble import Ensemble
from .errors import DamagedStoreError, ValidationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._typing import ArrayLike, PathLike, ProgressLike, SeedLike

__all__ = ["simulate_to_store", "open_store", "StoredEnsemble", "VerifiedArray", "SIDECAR",
           "CHUNK_RECORDS"]


def _zarr():
    return require("zarr", "store", "the on-disk ensemble store")


@dataclass(frozen=True)
class StoredEnsemble:
    """An ensemble whose trajectories stay on disk (Zarr arrays, read on indexing).

    Attributes
    ----------
    x : VerifiedArray, shape (n_traj, n_time, dim)
        The trajectories on disk; indexing reads the chunks it touches after checking their
        SHA-256 against the store's record.
    t : numpy.ndarray, shape (n_time,)
    dt : float
    observables : Mapping[str, VerifiedArray]
    meta : Mapping
        Includes ``repaired_chunks``: the chunk indices a resumed run found damaged and
        recomputed (empty otherwise).
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

    def load(self, trajectories: Any = slice(None)) -> Ensemble:
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


# ---- integrity: per-chunk sizes and SHA-256 in a sidecar -------------------------------------

#: the sidecar holding the run's specification, metadata documents and the time grid's digest
SIDECAR = "stochthermo.json"
#: the folder of per-chunk records (sizes and SHA-256 of every file of the chunk)
CHUNK_RECORDS = "stochthermo-chunks"
_FORMAT = "stochthermo-store"
_VERSION = 1
_MAX_DOC = 64 << 20  # metadata and records are small; a huge one is damage
_BLOCK = 1 << 16  # hashing reads this much at a time (bounded extra memory per read)


def _open_regular(path):
    """Open ``path`` for reading if it is a regular file; OSError otherwise.

    A FIFO or device planted in a store must not block or flood a reader.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(f"{path} is not a regular file")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_text(path, limit=_MAX_DOC) -> str:
    """A small text file of the store (metadata, records); OSError/ValueError when unusable."""
    with _open_regular(path) as fh:
        raw = fh.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return raw.decode("utf-8")


def _file_digest(path) -> tuple[int, str] | None:
    """``(size, sha256)`` of a file; None when it is missing, irregular or unreadable."""
    h = hashlib.sha256()
    n = 0
    try:
        with _open_regular(path) as fh:
            while block := fh.read(_BLOCK):
                h.update(block)
                n += len(block)
    except OSError:
        return None
    return n, h.hexdigest()


def _chunk_file(root_path, name, ndim, i) -> str:
    """Path of chunk ``i`` (along trajectories) of array ``name``: ``<name>/c/i/0/.../0``."""
    return os.path.join(os.fspath(root_path), name, "c", str(i), *(["0"] * (ndim - 1)))


class _Record:
    """What the store promises: the run, its metadata documents, and each chunk's file digests.

    ``stochthermo.json`` holds the specification, the array names and their ``zarr.json``
    documents (so damaged Zarr metadata can be rewritten), ``dt``, ``meta`` and the digest of
    the time grid; ``stochthermo-chunks/<i>.json`` holds ``{array: [size, sha256]}`` of chunk
    ``i``, written once per chunk (temporary file, then rename), so recording a chunk costs
    the same whatever the number of chunks.
    """

    def __init__(self, path, spec, *, arrays=None, docs=None, dt=None, meta=None, t=None):
        self.path = Path(path)
        self.spec = spec
        self.arrays = dict(arrays or {})     # name -> ndim
        self.docs = dict(docs or {})         # name -> text of <name>/zarr.json
        self.dt, self.meta, self.t = dt, dict(meta or {}), t
        self.chunks: dict[int, dict] = {}
        self.unreadable: set[int] = set()    # chunk records that exist but cannot be parsed

    @classmethod
    def load(cls, path):
        side = Path(path) / SIDECAR
        try:
            data = json.loads(_read_text(side))
            if not isinstance(data, dict) or data.get("format") != _FORMAT:
                raise ValueError("not a stochthermo store record")
            rec = cls(path, data["spec"], arrays=data["arrays"], docs=data["docs"],
                      dt=data["dt"], meta=data["meta"], t=data["t"])
            rec.n_chunks()
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise DamagedStoreError(
                f"the store at {str(path)!r} has an unreadable {SIDECAR} ({type(exc).__name__}: "
                f"{str(exc)[:120]}); its chunks cannot be verified. Delete the store and run "
                "simulate_to_store again"
            ) from None
        folder = Path(path) / CHUNK_RECORDS
        names = os.listdir(folder) if folder.is_dir() else []
        n = rec.n_chunks()
        for name in names:
            stem = name[:-5] if name.endswith(".json") else ""
            if not stem.isdigit() or int(stem) >= n:
                continue  # temporary files of an interrupted write, or not ours
            i = int(stem)
            try:
                entry = json.loads(_read_text(folder / name))
                files = {str(k): (int(v[0]), str(v[1])) for k, v in entry["files"].items()}
                if entry["chunk"] != i or set(files) != set(rec.arrays):
                    raise ValueError("record of another chunk")
                rec.chunks[i] = files
            except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError,
                    RecursionError):
                rec.unreadable.add(i)
        return rec

    def save(self):
        from ._atomic import write_atomic

        data = {"format": _FORMAT, "version": _VERSION, "spec": self.spec,
                "arrays": self.arrays, "docs": self.docs, "dt": self.dt, "meta": self.meta,
                "t": self.t}
        write_atomic(self.path / SIDECAR, json.dumps(data))

    def n_chunks(self) -> int:
        return len(range(0, int(self.spec["n_traj"]), int(self.spec["chunk_size"])))

    def record_chunk(self, i):
        from ._atomic import write_atomic

        files = {}
        for name, ndim in self.arrays.items():
            got = _file_digest(_chunk_file(self.path, name, ndim, i))
            if got is None:
                raise DamagedStoreError(
                    f"chunk {i} of {name!r} was not written to {str(self.path)!r}", chunks=[i])
            files[name] = got
        write_atomic(self.path / CHUNK_RECORDS / f"{i}.json",
                     json.dumps({"chunk": i, "files": files}))
        self.chunks[i] = files
        self.unreadable.discard(i)

    def forget(self, i):
        """Drop chunk ``i``'s record and its files (before recomputing it)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path / CHUNK_RECORDS / f"{i}.json")
        for name, ndim in self.arrays.items():
            # removed, not overwritten: a damaged chunk may be a FIFO or a link elsewhere
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(_chunk_file(self.path, name, ndim, i))
        self.chunks.pop(i, None)
        self.unreadable.discard(i)

    def check(self, chunks=None, *, content: bool) -> list[int]:
        """Chunks whose record is unreadable or whose files are missing, resized or altered.

        ``content=False`` compares sizes only; chunks never recorded are not listed.
        """
        wanted = set(self.chunks) | self.unreadable if chunks is None else set(chunks)
        bad = []
        for i in sorted(wanted):
            if i in self.unreadable:
                bad.append(i)
                continue
            entry = self.chunks.get(i)
            if entry is None:
                continue
            for name, (size, digest) in entry.items():
                if not _file_ok(_chunk_file(self.path, name, self.arrays[name], i), size,
                                digest, content):
                    bad.append(i)
                    break
        return bad

    def damaged_metadata(self) -> list[str]:
        """Zarr metadata files that differ from the documents recorded at creation."""
        bad = []
        for name, doc in self.docs.items():
            f = self.path / name / "zarr.json"
            try:
                if _read_text(f) != doc:
                    bad.append(str(f))
            except (OSError, ValueError):
                bad.append(str(f))
        if self.t is not None:  # the recorded [size, sha256] of the time grid
            size, digest = self.t
            if not _file_ok(_chunk_file(self.path, "t", 1, 0), size, digest, content=True):
                bad.append(_chunk_file(self.path, "t", 1, 0))
        return bad


def _file_ok(f, size, digest, content) -> bool:
    if content:
        got = _file_digest(f)
        return got is not None and got == (size, digest)
    try:
        return os.stat(f).st_size == size
    except OSError:
        return False


def _damaged(path, bad, *, resume_hint=True) -> DamagedStoreError:
    shown = ", ".join(map(str, bad[:20])) + (" ..." if len(bad) > 20 else "")
    hint = ("; call simulate_to_store again with the same arguments to recompute them from the "
            "seed" if resume_hint else "")
    return DamagedStoreError(
        f"the store at {str(path)!r} has {len(bad)} damaged or missing chunk(s) (chunk indices "
        f"along trajectories: {shown}): their files are missing, truncated or do not match "
        f"the SHA-256 recorded when they were written{hint}",
        chunks=bad,
    )


def _check_root_metadata(path):
    """The root ``zarr.json`` must be a Zarr group document; otherwise DamagedStoreError."""
    meta = Path(path) / "zarr.json"
    try:
        doc = json.loads(_read_text(meta))
        ok = isinstance(doc, dict) and doc.get("node_type") == "group"
    except (OSError, ValueError, RecursionError):
        ok = False
    if not ok:
        raise DamagedStoreError(
            f"the store's root metadata {str(meta)!r} is not a Zarr group document; "
            "call simulate_to_store again with the same arguments to rewrite it, or delete the "
            "store"
        )


def _write_root_metadata(path):
    from ._atomic import write_atomic

    write_atomic(Path(path) / "zarr.json",
                 json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}))


class VerifiedArray:
    """A Zarr array ``(n_traj, ...)`` whose reads check the SHA-256 of the chunks they touch.

    Indexing works as on the Zarr array (the first index selects trajectories); a chunk whose
    file is missing or differs from the store's record raises
    :class:`~stochthermo.errors.DamagedStoreError` instead of returning fill values or garbage.
    """

    def __init__(self, arr: Any, record: _Record, name: str) -> None:
        self._arr, self._record, self._name = arr, record, name
        self.shape = tuple(int(n) for n in arr.shape)
        self.ndim = len(self.shape)
        self.dtype = np.dtype(arr.dtype)
        self.rows = int(arr.chunks[0]) if self.shape[0] else 1

    def __len__(self):
        return self.shape[0]

    def _chunks_of(self, key) -> list[int]:
        k0 = key[0] if isinstance(key, tuple) and key else key
        n, rows = self.shape[0], self.rows
        if k0 is Ellipsis or (isinstance(key, tuple) and not key):
            k0 = slice(None)
        if isinstance(k0, slice):
            r = range(*k0.indices(n))
            if not r:
                return []
            lo, hi = min(r[0], r[-1]), max(r[0], r[-1])
            if abs(r.step) <= rows:
                return list(range(lo // rows, hi // rows + 1))
            return sorted({j // rows for j in r})
        idx = np.asarray(k0)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = np.where(idx < 0, idx + n, idx).astype(np.int64).ravel()
        return sorted({int(j) // rows for j in idx if 0 <= j < n})

    def __getitem__(self, key):
        chunks = self._chunks_of(key)
        bad = self._record.check(chunks, content=True)
        missing = [i for i in chunks if i not in self._record.chunks]
        if bad or missing:
            raise _damaged(self._record.path, sorted(set(bad) | set(missing)))
        try:
            return self._arr[key]
        except (IndexError, TypeError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                raise
            raise ValidationError(f"cannot index the stored {self._name!r}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a codec failing on a verified chunk
            raise DamagedStoreError(
                f"the store at {str(self._record.path)!r}: reading {self._name!r} failed "
                f"({type(exc).__name__}: {str(exc)[:120]})", chunks=chunks
            ) from None

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def __repr__(self):
        return f"VerifiedArray({self._name!r}, shape={self.shape}, dtype={self.dtype})"


# ---- writing ------------------------------------------------------------------------------------


def _executor():
    """``(run_tasks, x0_for_chunks, chunk_bounds, get_client)`` of the chunked executor."""
    from ._executor import chunk_bounds, get_client, run_tasks
    from .simulation._chunked import x0_for_chunks

    return run_tasks, x0_for_chunks, chunk_bounds, get_client


def _simulate_chunk(*args):
    """Task: one chunk of trajectories (a top-level function, so Dask can ship it)."""
    from .simulation._chunked import simulate_chunk

    return simulate_chunk(*args)


def _resume_store(path, record, model, n_traj, kwargs, chunk_size, seed, x0):
    """Check that the store holds the same run; returns its seed and the chunks to redo.

    Damaged metadata is rewritten and damaged chunks are forgotten (with a warning).
    """
    stored = record.spec
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
    rewritten, redo_t = _repair_metadata(path, record)
    repaired = sorted(set(record.check(content=True)) | ({0} if redo_t else set()))
    for i in repaired:
        record.forget(i)
    said = []
    if rewritten:
        said.append(f"had damaged metadata ({', '.join(rewritten)}), rewritten")
    if repaired:
        said.append(f"had {len(repaired)} damaged chunk(s) {repaired[:20]}, recomputed "
                    "from the seed")
    if said:
        warnings.warn(f"the store at {str(path)!r} " + " and ".join(said), RuntimeWarning,
                      stacklevel=3)
    return ss, repaired


def _new_store(zarr, path, model, n_traj, kwargs, chunk_size, seed, x0):
    """Create an empty store at ``path`` (which must be new or empty); returns seed and record."""
    if path.exists() and any(path.iterdir()):
        raise ValidationError(
            f"path={str(path)!r} exists and is not a stochthermo store (no {SIDECAR}); "
            "choose a new or empty folder"
        )
    ss = as_seed_sequence(seed)
    spec = _spec(model, n_traj, kwargs, chunk_size, ss, x0)
    zarr.open_group(str(path), mode="a")
    record = _Record(path, spec)
    record.save()
    return ss, record


def simulate_to_store(model: Any, path: PathLike, *, n_traj: int, seed: SeedLike | None = None,
                      x0: ArrayLike | None = None, chunk_size: int = 4096, client: Any = None,
                      scheduler: str | None = None, retries: int = 2,
                      progress: ProgressLike | None = None, **kwargs: Any) -> StoredEnsemble:
    """Simulate ``n_traj`` trajectories into the Zarr store at ``path``, chunk by chunk.

    Parameters
    ----------
    model, n_traj, seed, x0, **kwargs
        As in :func:`stochthermo.simulate` (``n_steps``, ``dt``, ``method``, ``save_every``,
        ``observables``, ...). ``x0`` may be one state, ``"stationary"`` or one row per
        trajectory.
    path : str or os.PathLike
        A Zarr directory; created if missing. If it holds an unfinished or damaged run with the
        same arguments, only the missing and damaged chunks are computed; a different run is
        refused.
    chunk_size : int
        Trajectories per chunk (and per Zarr chunk along the trajectory axis).
    client, scheduler, retries :
        Run the chunks on Dask (see :mod:`stochthermo.distributed`); each chunk is written as
        soon as its result arrives.
    progress : bool or callable, optional
        A progress bar over chunks: True for tqdm or a tqdm-like factory (see
        :mod:`stochthermo._progress`).

    Returns
    -------
    StoredEnsemble
        The finished store, opened lazily; ``meta["repaired_chunks"]`` lists the chunks that
        were found damaged and recomputed.

    Warns
    -----
    RuntimeWarning
        When a resumed run finds damaged chunks (files missing, resized or with another
        SHA-256 than recorded) and recomputes them.

    Notes
    -----
    Trajectory ``k`` uses the ``k``-th per-trajectory stream of ``seed`` whatever the chunking,
    so the stored ensemble is bit-identical to ``simulate(model, n_traj=..., seed=seed)``. With
    ``seed=None`` the drawn root seed is stored, so resuming reproduces it too. Each finished
    chunk's file sizes and SHA-256 are recorded in ``stochthermo-chunks/<i>.json`` (atomically).
    """
    zarr = _zarr()
    run_tasks, x0_for_chunks, chunk_bounds, get_client = _executor()

    n_traj = positive_int("n_traj", n_traj)
    chunk_size = positive_int("chunk_size", chunk_size)
    for bad in ("resume", "_noise", "reduce", "n_traj"):
        if bad in kwargs:
            raise ValidationError(f"{bad}= cannot be used with simulate_to_store")
    path = Path(path)
    record = _Record.load(path) if path.is_dir() else None
    repaired = []
    if record is not None:
        ss, repaired = _resume_store(path, record, model, n_traj, kwargs, chunk_size, seed, x0)
    else:
        ss, record = _new_store(zarr, path, model, n_traj, kwargs, chunk_size, seed, x0)
    bounds = chunk_bounds(n_traj, chunk_size)
    todo = [i for i in range(len(bounds)) if i not in record.chunks]
    x0_of = x0_for_chunks(x0, n_traj)
    args = ((model, ss, *bounds[i], kwargs, x0_of(*bounds[i]), None, 1) for i in todo)
    arrays = {}

    def array(name):
        if name not in arrays:
            arrays[name] = zarr.open_array(str(path / name), mode="r+").with_config(
                {"write_empty_chunks": True})
        return arrays[name]

    def write(j, res):
        i = todo[j]
        a, b = bounds[i]
        if not record.arrays:
            _create(zarr, path, record, res, n_traj, chunk_size)
        elif record.t is None:  # the time grid was damaged: rewrite it from this chunk
            _write_t(zarr, path, record, res["t"])
        array("x")[a:b] = res["x"]
        for k, v in res["observables"].items():
            array(f"obs_{k}")[a:b] = v
        record.record_chunk(i)

    if todo:
        cl, owned = get_client(client, scheduler)
        try:
            run_tasks(cl, _simulate_chunk, args, retries=retries, on_result=write,
                       progress=progress, total=len(todo), desc="simulate_to_store[chunks]")
        finally:
            if owned:
                cl.close()
    return open_store(path, _repaired=repaired)


def _create(zarr, path, record, res, n_traj, chunk_size):
    x = res["x"]
    rows = min(chunk_size, n_traj)
    root = zarr.open_group(str(path), mode="a")
    cfg = {"write_empty_chunks": True}
    # no chunk is recorded yet, so arrays left by an interrupted first write are replaced
    root.create_array("x", shape=(n_traj,) + x.shape[1:], chunks=(rows,) + x.shape[1:],
                      dtype="f8", fill_value=np.nan, config=cfg, overwrite=True)
    arrays = {"x": x.ndim}
    for k, v in res["observables"].items():
        v = np.asarray(v)
        root.create_array(f"obs_{k}", shape=(n_traj,) + v.shape[1:],
                          chunks=(rows,) + v.shape[1:], dtype=v.dtype.str, fill_value=0,
                          config=cfg, overwrite=True)
        arrays[f"obs_{k}"] = v.ndim
    t = np.asarray(res["t"], dtype=np.float64)
    root.create_array("t", shape=t.shape, chunks=(max(t.shape[0], 1),), dtype="f8",
                      fill_value=np.nan, config=cfg, overwrite=True)
    record.arrays = arrays
    record.docs = {name: (Path(path) / name / "zarr.json").read_text(encoding="utf-8")
                   for name in (*arrays, "t")}
    record.dt = float(res["dt"])
    record.meta = {k: v for k, v in res["meta"].items()
                   if isinstance(v, (int, float, str, bool, type(None)))}
    _write_t(zarr, path, record, t)


def _write_t(zarr, path, record, t):
    """Write the time grid (one chunk) and record its digest in the sidecar."""
    arr = zarr.open_array(str(Path(path) / "t"), mode="r+").with_config(
        {"write_empty_chunks": True})
    arr[:] = np.asarray(t, dtype=np.float64)
    got = _file_digest(_chunk_file(path, "t", 1, 0))
    if got is None:
        raise DamagedStoreError(f"the time grid was not written to {str(path)!r}")
    record.t = list(got)
    record.save()


def _repair_metadata(path, record):
    """Rewrite damaged Zarr metadata from the recorded documents; ``(files, t_damaged)``."""
    from ._atomic import write_atomic

    rewritten = []
    try:
        _check_root_metadata(path)
    except DamagedStoreError:
        _write_root_metadata(path)
        rewritten.append("zarr.json")
    for name, doc in record.docs.items():
        f = Path(path) / name / "zarr.json"
        try:
            ok = _read_text(f) == doc
        except (OSError, ValueError):
            ok = False
        if not ok:
            write_atomic(f, doc)
            rewritten.append(f"{name}/zarr.json")
    redo_t = False
    if record.t is not None:  # the recorded [size, sha256] of the time grid
        size, digest = record.t
        redo_t = not _file_ok(_chunk_file(path, "t", 1, 0), size, digest, content=True)
    if redo_t:
        record.t = None
        record.save()
        rewritten.append("t")
    return rewritten, redo_t


def open_store(path: PathLike, *, verify: bool = False,
               _repaired: Sequence[str] = ()) -> StoredEnsemble:
    """Open a finished store written by :func:`simulate_to_store` (arrays stay on disk).

    Parameters
    ----------
    path : str or os.PathLike
        The store's folder.
    verify : bool
        Also check the SHA-256 of every chunk now (reads the whole store once); by default
        only presence and sizes are checked here, and the content of each chunk when it is
        read.

    Raises
    ------
    DamagedStoreError
        Chunk files missing, truncated or (with ``verify``) altered, or unreadable store
        metadata; ``chunks`` lists the damaged chunk indices (along trajectories).
    ValidationError
        Not a store, or an unfinished one (resume it with the same arguments).
    """
    zarr = _zarr()
    p = str(path)
    if not os.path.isdir(p):
        raise ValidationError(f"path={p!r} is not a stochthermo store (no such folder)")
    record = _Record.load(p)
    if record is None:
        raise ValidationError(f"path={p!r} is not a stochthermo store (no {SIDECAR})")
    _check_root_metadata(p)
    bad_meta = record.damaged_metadata()
    if bad_meta:
        raise DamagedStoreError(
            f"the store at {p!r} has damaged metadata ({', '.join(bad_meta[:5])} differ from "
            "what was written); call simulate_to_store again with the same arguments to "
            "rewrite it"
        )
    if record.arrays and record.t is None:
        raise DamagedStoreError(
            f"the store at {p!r} lost its time grid; call simulate_to_store again with the "
            "same arguments to rewrite it", chunks=[0]
        )
    spec = record.spec
    n_chunks = record.n_chunks()
    bad = record.check(content=verify)
    if bad:
        raise _damaged(p, bad)
    if len(record.chunks) != n_chunks or not record.arrays or record.t is None:
        raise ValidationError(
            f"the store at {p!r} is unfinished ({len(record.chunks)} of {n_chunks} chunks); "
            "call simulate_to_store again with the same arguments to complete it"
        )
    arrays = {}
    for name in record.arrays:
        try:
            arrays[name] = VerifiedArray(zarr.open_array(os.path.join(p, name), mode="r"),
                                         record, name)
        except Exception as exc:  # noqa: BLE001 - zarr raises many types for bad metadata
            raise DamagedStoreError(
                f"the store at {p!r}: the metadata of array {name!r} is unreadable "
                f"({type(exc).__name__}); delete the store and run simulate_to_store again"
            ) from None
    obs = {k[4:]: v for k, v in arrays.items() if k.startswith("obs_")}
    meta = dict(record.meta, seed=seed_repr(None), store=p, spec=spec,
                repaired_chunks=list(_repaired))
    try:
        t = np.asarray(zarr.open_array(os.path.join(p, "t"), mode="r")[:], dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - verified above, so this is a codec failure
        raise DamagedStoreError(
            f"the store at {p!r}: its time grid is unreadable ({type(exc).__name__})"
        ) from None
    return StoredEnsemble(x=arrays["x"], t=t,
                          dt=float(record.dt), observables=MappingProxyType(obs),
                          meta=MappingProxyType(meta), path=p)
