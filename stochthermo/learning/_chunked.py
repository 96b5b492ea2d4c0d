"""``learn`` in chunks of trials (on Dask or in-process): the chunk task and the merge.

The executor (:mod:`stochthermo._executor`) runs the tasks; this module owns what a task
computes (:func:`learn_chunk`: the fields of a :class:`LearningEnsemble` of trials
``[start, stop)`` as a plain dict) and the merge (:meth:`LearningEnsemble.concat`), so a new
field of the ensemble travels through Dask without this module changing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from .. import _executor
from .._rng import as_seed_sequence, seed_repr
from .._validation import positive_int
from ._ensemble import LearningEnsemble

__all__ = ["learn_chunk", "learn_chunked"]


def learn_chunk(learn: Callable, model: Any, data: Any, kw: dict, start: int,
                stop: int) -> dict:
    """Worker task: trials ``[start, stop)`` of ``learn`` as a plain (picklable) dict.

    ``learn`` is the single-process engine, handed over by the caller (a top-level function
    pickles by reference), so this module does not import the engine that imports it.
    """
    ens = learn(model, data, _trials=(start, stop), **kw)
    out = {f.name: getattr(ens, f.name) for f in fields(LearningEnsemble) if f.name != "model"}
    out["meta"] = dict(ens.meta)
    return out


def _no_single_trial_chunks(bounds: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Give every chunk at least two trials (when K >= 2).

    NumPy sends a one-row matrix product to a matrix-vector BLAS kernel whose rounding can
    differ from the matrix-matrix kernel used for several rows; a chunk of one trial could then
    differ in the last bit from the same trial computed among others.
    """
    n = bounds[-1][1]
    if n >= 2 and bounds[0][1] - bounds[0][0] == 1:  # chunk_size == 1: pairs instead
        bounds = _executor.chunk_bounds(n, 2)
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds = bounds[:-2] + [(bounds[-2][0], n)]
    return bounds


def learn_chunked(learn: Callable, model: Any, data: Any, *, client: Any = None,
                  scheduler: str | None = None, chunk_size: int | None = None, retries: int = 2,
                  progress: bool | None = None, seed: Any = None, n_trials: int = 1,
                  n_datasets: int = 1, **kw: Any) -> LearningEnsemble:
    """Run ``learn`` (:func:`stochthermo.learning.learn`) in chunks of trials, on Dask or here.

    Trials ``k = dataset * n_trials + trial`` are split into consecutive chunks; every trial
    keeps its own streams (keyed by ``k``), so the gathered :class:`LearningEnsemble` equals
    the single-process one bit for bit.
    """
    n_trials = positive_int("n_trials", n_trials)
    n_datasets = positive_int("n_datasets", n_datasets)
    n_ds = len(data) if isinstance(data, list) and n_datasets == 1 else n_datasets
    K = n_ds * n_trials
    cl, owned = _executor.get_client(client, scheduler)
    try:
        if chunk_size is None:
            chunk_size = _executor.default_chunk(K, cl, 1)
        bounds = _no_single_trial_chunks(_executor.chunk_bounds(K, chunk_size))
        ss = as_seed_sequence(seed)
        kw = dict(kw, seed=ss, n_trials=n_trials, n_datasets=n_datasets)
        if cl is not None and len(bounds) > 1:
            data_arg = cl.scatter(data, broadcast=True) if not callable(data) else data
        else:
            data_arg = data
        args = [(learn, model, data_arg, kw, a, b) for a, b in bounds]
        parts: list = [None] * len(bounds)

        def keep(i, res):
            parts[i] = LearningEnsemble(model=model, **res)

        _executor.run_tasks(cl, learn_chunk, args, retries=retries, on_result=keep,
                            progress=progress, total=len(bounds), desc="learn[chunks]")
    finally:
        if owned:
            cl.close()
    meta = dict(parts[0].meta, seed=seed_repr(seed))
    return LearningEnsemble.concat(parts, meta=meta)
