r"""Scale-out on Dask: chunks of trajectories, trials or runs, reduced on the client.

Nothing here imports Dask at module level: ``dask.distributed`` is loaded (through
:func:`stochthermo._optional.require`, extra ``distributed``) only when a ``client=`` or
``scheduler=`` is given. The public entry points are the ``client=`` keywords of
:func:`stochthermo.simulate`, :func:`stochthermo.learning.learn` and
:func:`stochthermo.bridge.diagnose`; the functions below implement them.

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

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ._optional import require
from ._rng import as_seed_sequence, seed_repr
from ._validation import positive_int, short_repr
from .errors import ValidationError

__all__ = [
    "LEAF",
    "REDUCTIONS",
    "EnsembleMoments",
    "chunk_bounds",
    "ensemble_moments",
    "get_client",
    "merge_moments",
    "simulate",
    "learn",
    "diagnose",
]

#: Trajectories per leaf block of a reduction; chunk boundaries are multiples of it.
LEAF = 256
#: Reductions understood by ``simulate(..., reduce=...)``.
REDUCTIONS = {"moments": "per-time means and covariances of the state and observables"}
_DEFAULT_CHUNKS_PER_WORKER = 4


# --------------------------------------------------------------------------- clients


def get_client(client=None, scheduler=None):
    """Resolve ``client=`` / ``scheduler=`` into a ``dask.distributed.Client`` (or None).

    Parameters
    ----------
    client : dask.distributed.Client, optional
        Used as is.
    scheduler : {"dask"} or str, optional
        ``"dask"``: the current default client (the one most recently created in this
        process). A scheduler address such as ``"tcp://10.0.0.5:8786"``: a client connected to
        it for the duration of the call.

    Returns
    -------
    (client, owned) : (Client or None, bool)
        ``owned`` is True when the client was created here and must be closed by the caller.

    Raises
    ------
    MissingDependencyError
        Dask is not installed (install the ``distributed`` extra).
    ValidationError
        Both or neither usable, or ``scheduler="dask"`` with no running client.
    """
    if client is None and scheduler is None:
        return None, False
    dd = require("distributed", "distributed", "running on a Dask cluster (client=/scheduler=)")
    if client is not None:
        if scheduler not in (None, "dask"):
            raise ValidationError(
                f"client= and scheduler={scheduler!r} were both given; pass only one"
            )
        if not isinstance(client, dd.Client):
            raise ValidationError(
                f"client={short_repr(client)} is not a dask.distributed.Client; create one "
                "with Client(LocalCluster(...)) or Client('tcp://scheduler:8786')"
            )
        return client, False
    if not isinstance(scheduler, str):
        raise ValidationError(
            f"scheduler={short_repr(scheduler)} must be 'dask' or a scheduler address "
            "such as 'tcp://host:8786'"
        )
    if scheduler == "dask":
        try:
            return dd.get_client(), False
        except ValueError:
            raise ValidationError(
                "scheduler='dask' uses the running Dask client, but none exists; create one "
                "first (from dask.distributed import Client; client = Client()) or pass "
                "client= or scheduler='tcp://host:8786'"
            ) from None
    if "://" not in scheduler:
        raise ValidationError(
            f"scheduler={scheduler!r} is neither 'dask' nor an address like 'tcp://host:8786'"
        )
    return dd.Client(scheduler), True


def chunk_bounds(n: int, chunk_size: int, align: int = 1) -> list[tuple[int, int]]:
    """Split ``range(n)`` into consecutive ``(start, stop)`` pairs of ``chunk_size`` items.

    ``chunk_size`` is rounded up to a multiple of ``align`` (so that every boundary is a leaf
    boundary); the last chunk may be shorter.
    """
    n = positive_int("n", n)
    chunk_size = positive_int("chunk_size", chunk_size)
    chunk_size = -(-chunk_size // align) * align
    return [(a, min(a + chunk_size, n)) for a in range(0, n, chunk_size)]


def _default_chunk(n, client, align):
    workers = 1
    if client is not None:
        workers = max(1, sum(client.nthreads().values()))
    per = -(-n // (workers * _DEFAULT_CHUNKS_PER_WORKER))
    return max(align, min(per, 1 << 14))


def _run_tasks(client, fn, args_list, *, retries, on_result, max_in_flight=None, progress=None,
               total=None, desc="tasks"):
    """Run ``fn(*args)`` for each args; call ``on_result(i, value)`` as results arrive.

    ``client`` None runs in order in this process. At most ``max_in_flight`` tasks are
    submitted at once, so that results held on the client stay bounded. ``progress`` (bool)
    shows a bar of ``total`` tasks labelled ``desc``.
    """
    bar, tick = _progress_bar(progress, total, desc)
    try:
        _run_all(client, fn, args_list, retries, on_result, max_in_flight, tick)
    finally:
        if bar is not None:
            bar.close()


def _x0_for_chunks(x0, n_traj):
    """``x0`` for the chunk ``[a, b)``: one row per trajectory is sliced, anything else shared."""
    if x0 is not None and not isinstance(x0, str):
        arr = np.asarray(x0, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[0] == n_traj and n_traj > 1:
            return lambda a, b: arr[a:b]
    return lambda a, b: x0


def _run_all(client, fn, args_list, retries, on_result, max_in_flight, progress):
    if client is None:
        for i, args in enumerate(args_list):
            on_result(i, fn(*args))
            if progress is not None:
                progress(1)
        return
    dd = require("distributed", "distributed")
    if max_in_flight is None:
        max_in_flight = max(2, 2 * sum(client.nthreads().values()))
    todo = iter(enumerate(args_list))
    index = {}

    def submit_next():
        nxt = next(todo, None)
        if nxt is None:
            return None
        i, args = nxt
        fut = client.submit(fn, *args, retries=retries, pure=False)
        index[fut.key] = i
        return fut

    first = [f for f in (submit_next() for _ in range(max_in_flight)) if f is not None]
    pending = dd.as_completed(first)
    try:
        for fut in pending:
            value = fut.result()
            i = index.pop(fut.key)
            fut.release()
            on_result(i, value)
            if progress is not None:
                progress(1)
            new = submit_next()
            if new is not None:
                pending.add(new)
    except BaseException:
        for f in list(pending.futures):
            f.cancel()
        raise


class _Ordered:
    """Hold results that arrive out of order and feed them to ``sink`` in index order."""

    def __init__(self, sink):
        self.sink, self.next, self.held = sink, 0, {}

    def __call__(self, i, value):
        self.held[i] = value
        while self.next in self.held:
            self.sink(self.held.pop(self.next))
            self.next += 1


def _progress_bar(progress, total, desc):
    if not progress:
        return None, None
    tqdm = require("tqdm", "progress", "progress bars").tqdm
    bar = tqdm(total=total, unit="chunk", desc=desc)
    return bar, bar.update


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
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta or {})))

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


def _stack_columns(x, observables):
    """``z`` of shape (n, n_saved, p) and the column slices."""
    parts, cols, pos = [x], {"x": slice(0, x.shape[2])}, x.shape[2]
    for name, v in observables.items():
        v = v if v.ndim == 3 else v[:, :, None]
        parts.append(v)
        cols[name] = slice(pos, pos + v.shape[2])
        pos += v.shape[2]
    return np.concatenate(parts, axis=2), cols


def _leaf_moments(z):
    """Two-pass moments of one leaf ``z`` (n, n_saved, p): ``(n, mean, m2)``."""
    n = z.shape[0]
    mean = z.sum(axis=0) / n
    c = z - mean
    m2 = np.einsum("kti,ktj->tij", c, c)
    return n, mean, m2


def merge_moments(a, b):
    """Chan's pairwise merge of two ``(count, mean, m2)`` triples (``a`` first)."""
    na, ma, Ma = a
    nb, mb, Mb = b
    n = na + nb
    delta = mb - ma
    mean = ma + delta * (nb / n)
    m2 = Ma + Mb + (na * nb / n) * (delta[..., :, None] * delta[..., None, :])
    return n, mean, m2


def _chunk_leaves(z, leaf):
    return [_leaf_moments(z[a:a + leaf]) for a in range(0, z.shape[0], leaf)]


def ensemble_moments(ens, *, leaf: int = LEAF) -> EnsembleMoments:
    """Reduce an in-memory :class:`~stochthermo.Ensemble` exactly as ``reduce="moments"`` does.

    The leaf blocks and the fold order are the same, so the result equals, bit for bit,
    ``simulate(..., reduce="moments")`` with the same seed, with or without a cluster.
    """
    leaf = positive_int("leaf", leaf)
    z, cols = _stack_columns(np.asarray(ens.x), dict(ens.observables))
    acc = None
    for part in _chunk_leaves(z, leaf):
        acc = part if acc is None else merge_moments(acc, part)
    n, mean, m2 = acc
    meta = {k: v for k, v in ens.meta.items() if k != "state"}
    meta.update(reduce="moments", leaf=leaf)
    return EnsembleMoments(np.asarray(ens.t), int(n), mean, m2, cols, meta)


# --------------------------------------------------------------------------- simulate


def _simulate_chunk(model, ss, start, stop, kw, x0, reduce, leaf):
    """Worker task: trajectories ``[start, stop)`` of the run (plain, picklable output)."""
    from .simulation import simulate as _simulate

    ens = _simulate(model, n_traj=stop - start, seed=ss, x0=x0, _traj_offset=start, **kw)
    meta = {k: v for k, v in ens.meta.items() if k != "state"}
    state = ens.meta["state"]
    if reduce == "moments":
        z, cols = _stack_columns(ens.x, dict(ens.observables))
        t = ens.t
        del ens
        return {"leaves": _chunk_leaves(z, leaf), "columns": cols, "t": t, "meta": meta}
    return {"x": ens.x, "observables": dict(ens.observables), "t": ens.t, "dt": ens.dt,
            "meta": meta, "state": {k: (v if not isinstance(v, tuple | list) else list(v))
                                    for k, v in state.items()}}


def simulate(model, *, n_traj, seed=None, x0=None, client=None, scheduler=None,
             chunk_size=None, reduce=None, retries=2, progress=None, **kw):
    """Run :func:`stochthermo.simulate` in chunks of trajectories, on Dask or in-process.

    Called by ``stochthermo.simulate`` when ``client``, ``scheduler``, ``chunk_size`` or
    ``reduce`` is given; the other keywords are those of ``simulate``.

    Returns
    -------
    Ensemble or EnsembleMoments
        The gathered ensemble (bit-identical to the single-process run) when ``reduce`` is
        None; the per-time moments (bit-identical to :func:`ensemble_moments` of the
        single-process run) when ``reduce="moments"``.
    """
    from .ensemble import Ensemble

    if kw.get("resume") is not None:
        raise ValidationError(
            "resume= is not supported together with client=/chunk_size=/reduce=; resume the "
            "run in one process, or start a new chunked run"
        )
    if kw.get("_noise") is not None:
        raise ValidationError("_noise= cannot be combined with chunked runs")
    kw.pop("resume", None)
    kw.pop("_noise", None)
    if reduce is not None and reduce not in REDUCTIONS:
        raise ValidationError(
            f"reduce={reduce!r} is not a known reduction; valid: "
            f"{', '.join(map(repr, REDUCTIONS))} or None (gather the trajectories)"
        )
    n_traj = positive_int("n_traj", n_traj)
    cl, owned = get_client(client, scheduler)
    try:
        align = LEAF if reduce else 1
        if chunk_size is None:
            chunk_size = _default_chunk(n_traj, cl, align)
        bounds = chunk_bounds(n_traj, chunk_size, align)
        ss = as_seed_sequence(seed)  # resolved once: every chunk shares one root
        x0_of = _x0_for_chunks(x0, n_traj)
        args = ((model, ss, a, b, kw, x0_of(a, b), reduce, LEAF)
                for a, b in bounds)  # lazily: nothing per chunk is held before submission
        bar_opts = {"progress": progress, "total": len(bounds), "desc": "simulate[chunks]"}
        first: dict = {}
        if reduce == "moments":
            acc = [None]

            def sink(res):
                if not first:
                    first.update(res)
                for part in res["leaves"]:
                    acc[0] = part if acc[0] is None else merge_moments(acc[0], part)

            _run_tasks(cl, _simulate_chunk, args, retries=retries, on_result=_Ordered(sink),
                       **bar_opts)
            n, mean, m2 = acc[0]
            meta = dict(first["meta"], seed=seed_repr(seed), reduce="moments", leaf=LEAF,
                        chunks=len(bounds))
            return EnsembleMoments(first["t"], int(n), mean, m2, first["columns"], meta)

        parts = [None] * len(bounds)

        def keep(i, res):
            parts[i] = res

        _run_tasks(cl, _simulate_chunk, args, retries=retries, on_result=keep, **bar_opts)
    finally:
        if owned:
            cl.close()
    p0 = parts[0]
    x = np.concatenate([p["x"] for p in parts]) if len(parts) > 1 else p0["x"]
    obs = {k: (np.concatenate([p["observables"][k] for p in parts]) if len(parts) > 1
               else v) for k, v in p0["observables"].items()}
    state = dict(p0["state"])
    for key in ("x", "acc", "seeds", "counters"):
        state[key] = np.concatenate([p["state"][key] for p in parts])
    state["observables"] = tuple(state["observables"])
    state["current_names"] = tuple(state["current_names"])
    state["currents"] = [tuple(wb) for wb in state["currents"]]
    meta = dict(p0["meta"], seed=seed_repr(seed), state=state)
    parts.clear()
    return Ensemble(x=x, t=p0["t"], dt=p0["dt"], observables=obs, meta=meta)


# --------------------------------------------------------------------------- learn

_K_ARRAYS = ("params", "samples", "loss", "accuracy", "output_entropy", "grad_max",
             "batch_loss", "work", "heat", "energy", "kl", "kl_fisher", "heat_theta")


def _learn_chunk(model, data, kw, start, stop):
    """Worker task: trials ``[start, stop)`` of ``learn`` as a plain dict."""
    from .learning._engine import learn as _learn

    ens = _learn(model, data, _trials=(start, stop), **kw)
    out = {name: getattr(ens, name) for name in _K_ARRAYS}
    out.update(steps=ens.steps, lr=ens.lr, batch_size=ens.batch_size, n_trials=ens.n_trials,
               n_datasets=ens.n_datasets, dataset_mean=ens.dataset_mean, probe=ens.probe,
               param_subset=ens.param_subset, meta=dict(ens.meta))
    return out


def _no_single_trial_chunks(bounds):
    """Give every chunk at least two trials (when K >= 2).

    NumPy sends a one-row matrix product to a matrix-vector BLAS kernel whose rounding can
    differ from the matrix-matrix kernel used for several rows; a chunk of one trial could then
    differ in the last bit from the same trial computed among others.
    """
    n = bounds[-1][1]
    if n >= 2 and bounds[0][1] - bounds[0][0] == 1:  # chunk_size == 1: pairs instead
        bounds = chunk_bounds(n, 2)
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds = bounds[:-2] + [(bounds[-2][0], n)]
    return bounds


def learn(model, data, *, client=None, scheduler=None, chunk_size=None, retries=2,
          progress=None, seed=None, n_trials=1, n_datasets=1, **kw):
    """Run :func:`stochthermo.learning.learn` in chunks of trials, on Dask or in-process.

    Trials ``k = dataset * n_trials + trial`` are split into consecutive chunks; every trial
    keeps its own streams (keyed by ``k``), so the gathered :class:`LearningEnsemble` equals
    the single-process one bit for bit.
    """
    from .learning._engine import LearningEnsemble

    n_trials = positive_int("n_trials", n_trials)
    n_datasets = positive_int("n_datasets", n_datasets)
    n_ds = len(data) if isinstance(data, list) and n_datasets == 1 else n_datasets
    K = n_ds * n_trials
    cl, owned = get_client(client, scheduler)
    try:
        if chunk_size is None:
            chunk_size = _default_chunk(K, cl, 1)
        bounds = _no_single_trial_chunks(chunk_bounds(K, chunk_size))
        ss = as_seed_sequence(seed)
        kw = dict(kw, seed=ss, n_trials=n_trials, n_datasets=n_datasets)
        if cl is not None and len(bounds) > 1:
            data_arg = cl.scatter(data, broadcast=True) if not callable(data) else data
        else:
            data_arg = data
        args = [(model, data_arg, kw, a, b) for a, b in bounds]
        parts = [None] * len(bounds)

        def keep(i, res):
            parts[i] = res

        _run_tasks(cl, _learn_chunk, args, retries=retries, on_result=keep, progress=progress,
                   total=len(bounds), desc="learn[chunks]")
    finally:
        if owned:
            cl.close()
    p0 = parts[0]
    arrays = {}
    for name in _K_ARRAYS:
        if p0[name] is None:
            arrays[name] = None
        elif len(parts) == 1:
            arrays[name] = p0[name]
        else:
            arrays[name] = np.concatenate([p[name] for p in parts])
    data_of = np.repeat(np.arange(p0["n_datasets"], dtype=np.int64), p0["n_trials"])
    meta = dict(p0["meta"], seed=seed_repr(seed))
    return LearningEnsemble(
        model=model, steps=p0["steps"], lr=p0["lr"], batch_size=p0["batch_size"],
        n_trials=p0["n_trials"], n_datasets=p0["n_datasets"], data_of=data_of,
        dataset_mean=p0["dataset_mean"], probe=p0["probe"], param_subset=p0["param_subset"],
        meta=meta, **arrays)


# --------------------------------------------------------------------------- bridge


def _pack(obj):
    """Dataclasses with MappingProxyType fields -> picklable (type, dict) pairs."""
    import dataclasses

    if isinstance(obj, MappingProxyType):
        return ("__mapping__", {k: _pack(v) for k, v in obj.items()})
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return ("__dataclass__", type(obj),
                {f.name: _pack(getattr(obj, f.name)) for f in dataclasses.fields(obj)})
    if isinstance(obj, tuple):
        return ("__tuple__", [_pack(v) for v in obj])
    return obj


def _unpack(obj):
    if isinstance(obj, tuple) and obj and isinstance(obj[0], str):
        tag = obj[0]
        if tag == "__mapping__":
            return MappingProxyType({k: _unpack(v) for k, v in obj[1].items()})
        if tag == "__dataclass__":
            return obj[1](**{k: _unpack(v) for k, v in obj[2].items()})
        if tag == "__tuple__":
            return tuple(_unpack(v) for v in obj[1])
    return obj


def _diagnose_chunk(packed_run, kw):
    from .bridge._diagnostics import diagnose_run

    return _pack(diagnose_run(_unpack(packed_run), **kw))


def diagnose(runs, *, client=None, scheduler=None, retries=2, progress=None, **kwargs):
    """:func:`stochthermo.bridge.diagnose` with one task per run on a Dask cluster.

    Each run is streamed once by :func:`~stochthermo.bridge.diagnose_run` on a worker (which
    must see the checkpoint files at the same paths: a shared file system); only the small
    :class:`RunDiagnostics` comes back. ``progress`` is called with the number of checkpoint
    frames of a run when that run is done.
    """
    from .bridge._diagnostics import _batch_scaling_of, _check_runs

    runs = _check_runs(runs)
    cl, owned = get_client(client, scheduler)
    try:
        out = [None] * len(runs)

        def keep(i, res):
            out[i] = _unpack(res)
            if progress is not None:
                run = runs[i]
                progress(len(run.steps) * len(run.trials))

        _run_tasks(cl, _diagnose_chunk, [(_pack(r), kwargs) for r in runs], retries=retries,
                   on_result=keep)
    finally:
        if owned:
            cl.close()
    return _batch_scaling_of(tuple(out))
