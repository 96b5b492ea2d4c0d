"""``simulate`` in chunks of trajectories (on Dask or in-process): the chunk task and the merge.

The executor (:mod:`stochthermo._executor`) runs the tasks; this module owns what a task
computes (:func:`simulate_chunk`, a plain picklable dict per chunk) and how chunks merge:
:meth:`~stochthermo.Ensemble.concat` for the trajectories plus :func:`merge_states` for the
resume state, or the leaf moments of :mod:`stochthermo.distributed` for ``reduce="moments"``.
See ``theory/distributed.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _executor
from .._rng import as_seed_sequence, seed_repr
from .._validation import positive_int
from ..distributed import LEAF, REDUCTIONS, EnsembleMoments, chunk_moments, fold_moments
from ..ensemble import Ensemble
from ..errors import ValidationError
from ._engine import run_local, simulate_guard

if TYPE_CHECKING:
    from .._typing import ProgressLike

__all__ = ["merge_states", "simulate_chunk", "simulate_chunked", "x0_for_chunks"]

#: per-trajectory arrays of ``meta["state"]`` (concatenated when chunks merge)
STATE_ARRAYS = ("x", "acc", "seeds", "counters")


def simulate_chunk(model: Any, ss: np.random.SeedSequence, start: int, stop: int, kw: dict,
                   x0: Any, reduce: str | None, leaf: int) -> dict:
    """Worker task: trajectories ``[start, stop)`` of the run (plain, picklable output).

    Returns ``{"leaves", "columns", "t", "meta"}`` for ``reduce="moments"``, else
    ``{"x", "observables", "t", "dt", "meta", "state"}``.
    """
    ens = run_local(model, n_traj=stop - start, seed=ss, x0=x0, _traj_offset=start, **kw)
    meta = {k: v for k, v in ens.meta.items() if k != "state"}
    state = ens.meta["state"]
    if reduce == "moments":
        leaves, cols = chunk_moments(ens.x, dict(ens.observables), leaf)
        t = ens.t
        del ens
        return {"leaves": leaves, "columns": cols, "t": t, "meta": meta}
    return {"x": ens.x, "observables": dict(ens.observables), "t": ens.t, "dt": ens.dt,
            "meta": meta, "state": {k: (v if not isinstance(v, tuple | list) else list(v))
                                    for k, v in state.items()}}


def x0_for_chunks(x0: Any, n_traj: int):
    """``x0`` for the chunk ``[a, b)``: one row per trajectory is sliced, anything else shared."""
    if x0 is not None and not isinstance(x0, str):
        arr = np.asarray(x0, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[0] == n_traj and n_traj > 1:
            return lambda a, b: arr[a:b]
    return lambda a, b: x0


def merge_states(states: list[dict]) -> dict:
    """The resume state of the whole run from those of its chunks (in trajectory order)."""
    state = dict(states[0])
    for key in STATE_ARRAYS:
        state[key] = np.concatenate([s[key] for s in states])
    state["observables"] = tuple(state["observables"])
    state["current_names"] = tuple(state["current_names"])
    state["currents"] = [tuple(wb) for wb in state["currents"]]
    return state


def _check_chunked(kw: dict, reduce: str | None) -> None:
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


def simulate_chunked(model: Any, *, n_traj: int | None, seed: Any = None, x0: Any = None,
                     client: Any = None, scheduler: str | None = None,
                     chunk_size: int | None = None, reduce: str | None = None,
                     retries: int = 2, progress: ProgressLike = None,
                     **kw: Any) -> Ensemble | EnsembleMoments:
    """Run :func:`stochthermo.simulate` in chunks of trajectories, on Dask or in-process.

    Called by ``simulate`` when ``client``, ``scheduler``, ``chunk_size`` or ``reduce`` is
    given; the other keywords are those of ``simulate``.

    Returns
    -------
    Ensemble or EnsembleMoments
        The gathered ensemble (bit-identical to the single-process run) when ``reduce`` is
        None; the per-time moments (bit-identical to
        :func:`~stochthermo.distributed.ensemble_moments` of the single-process run) when
        ``reduce="moments"``.
    """
    _check_chunked(kw, reduce)
    n_traj = positive_int("n_traj", n_traj)
    if reduce is None:  # the gathered trajectories; each chunk checks its own share too
        simulate_guard(model, n_traj=n_traj, **kw)
    cl, owned = _executor.get_client(client, scheduler)
    try:
        align = LEAF if reduce else 1
        if chunk_size is None:
            chunk_size = _executor.default_chunk(n_traj, cl, align)
        bounds = _executor.chunk_bounds(n_traj, chunk_size, align)
        ss = as_seed_sequence(seed)  # resolved once: every chunk shares one root
        x0_of = x0_for_chunks(x0, n_traj)
        args = ((model, ss, a, b, kw, x0_of(a, b), reduce, LEAF)
                for a, b in bounds)  # lazily: nothing per chunk is held before submission
        opts: dict[str, Any] = {"retries": retries, "progress": progress, "total": len(bounds),
                "desc": "simulate[chunks]"}
        if reduce == "moments":
            return _gather_moments(cl, args, opts, seed, len(bounds))
        parts: list = [None] * len(bounds)

        def keep(i, res):
            parts[i] = res

        _executor.run_tasks(cl, simulate_chunk, args, on_result=keep, **opts)
    finally:
        if owned:
            cl.close()
    state = merge_states([p["state"] for p in parts])
    meta = dict(parts[0]["meta"], seed=seed_repr(seed), state=state)
    ensembles = [Ensemble(x=p["x"], t=p["t"], dt=p["dt"], observables=p["observables"])
                 for p in parts]
    parts.clear()
    return Ensemble.concat(ensembles, meta=meta)


def _gather_moments(cl, args, opts, seed, n_chunks) -> EnsembleMoments:
    first: dict = {}
    acc: list = [None]

    def sink(res):
        if not first:
            first.update(res)
        acc[0] = fold_moments(acc[0], res["leaves"])

    _executor.run_tasks(cl, simulate_chunk, args, on_result=_executor.Ordered(sink), **opts)
    n, mean, m2 = acc[0]
    meta = dict(first["meta"], seed=seed_repr(seed), reduce="moments", leaf=LEAF,
                chunks=n_chunks)
    return EnsembleMoments(first["t"], int(n), mean, m2, first["columns"], meta)
