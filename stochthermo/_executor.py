r"""Run independent tasks in order or on a Dask cluster, knowing nothing of what they compute.

The features that scale out (``simulate``, ``learn``, ``bridge.diagnose``, the on-disk store)
each own a *chunk function* (a picklable top-level function computing one slice of the work
and returning plain data) and a *merge* (``Ensemble.concat``, ``LearningEnsemble.concat``, a
tuple of run diagnostics). This module gives them the rest: resolving ``client=`` /
``scheduler=`` into a client, splitting ``range(n)`` into chunks, running the tasks with
retries, bounded in-flight results and a progress bar, and handing results back in index order.

Nothing here imports Dask at module level: ``dask.distributed`` is loaded (through
:func:`stochthermo._optional.require`, extra ``distributed``) only when a client is asked for.
See ``theory/distributed.md`` and ``theory/architecture.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ._optional import require
from ._progress import progress_bar
from ._validation import positive_int, short_repr
from .errors import ValidationError

if TYPE_CHECKING:
    from ._typing import ProgressLike

__all__ = ["Ordered", "chunk_bounds", "default_chunk", "get_client", "run_tasks"]

_DEFAULT_CHUNKS_PER_WORKER = 4
_MAX_DEFAULT_CHUNK = 1 << 14


def get_client(client: Any = None, scheduler: str | None = None) -> tuple[Any, bool]:
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

    ``chunk_size`` is rounded up to a multiple of ``align`` (so that every boundary is an
    alignment boundary); the last chunk may be shorter.
    """
    n = positive_int("n", n)
    chunk_size = positive_int("chunk_size", chunk_size)
    chunk_size = -(-chunk_size // align) * align
    return [(a, min(a + chunk_size, n)) for a in range(0, n, chunk_size)]


def default_chunk(n: int, client: Any, align: int = 1) -> int:
    """About ``n / (4 * workers)`` items per chunk (at least ``align``, at most 16384)."""
    workers = 1
    if client is not None:
        workers = max(1, sum(client.nthreads().values()))
    per = -(-n // (workers * _DEFAULT_CHUNKS_PER_WORKER))
    return max(align, min(per, _MAX_DEFAULT_CHUNK))


def run_tasks(client: Any, fn: Callable, args_list: Iterable[tuple], *, retries: int,
              on_result: Callable[[int, Any], None], max_in_flight: int | None = None,
              progress: ProgressLike = None, total: int | None = None,
              desc: str = "tasks") -> None:
    """Run ``fn(*args)`` for each ``args``; call ``on_result(i, value)`` as results arrive.

    Parameters
    ----------
    client : dask.distributed.Client or None
        None runs the tasks in order in this process.
    fn : callable
        A picklable top-level function.
    args_list : iterable of tuple
        Consumed lazily, so nothing per task is held before it is submitted.
    retries : int
        Times Dask re-runs a task that raised.
    on_result : callable
        ``on_result(i, value)`` with ``i`` the position in ``args_list``; results may arrive
        out of order on a cluster (wrap the sink in :class:`Ordered` to restore the order).
    max_in_flight : int, optional
        At most this many tasks are submitted at once (default twice the worker threads), so
        that results held on the client stay bounded.
    progress : bool or callable, optional
        A bar of ``total`` tasks labelled ``desc``: True for tqdm (extra ``progress``) or a
        tqdm-like factory (:func:`stochthermo._progress.progress_bar`).
    """
    bar, tick = _progress_bar(progress, total, desc)
    try:
        _run_all(client, fn, args_list, retries, on_result, max_in_flight, tick)
    finally:
        if bar is not None:
            bar.close()


def _run_all(client, fn, args_list, retries, on_result, max_in_flight, tick) -> None:
    if client is None:
        for i, args in enumerate(args_list):
            on_result(i, fn(*args))
            if tick is not None:
                tick(1)
        return
    dd = require("distributed", "distributed")
    if max_in_flight is None:
        max_in_flight = max(2, 2 * sum(client.nthreads().values()))
    todo = iter(enumerate(args_list))
    index: dict = {}

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
            if tick is not None:
                tick(1)
            new = submit_next()
            if new is not None:
                pending.add(new)
    except BaseException:
        for f in list(pending.futures):
            f.cancel()
        raise


class Ordered:
    """Hold results that arrive out of order and feed them to ``sink`` in index order."""

    def __init__(self, sink: Callable[[Any], None]) -> None:
        self.sink, self.next = sink, 0
        self.held: dict[int, Any] = {}

    def __call__(self, i: int, value: Any) -> None:
        self.held[i] = value
        while self.next in self.held:
            self.sink(self.held.pop(self.next))
            self.next += 1


def _progress_bar(progress, total, desc):
    bar = progress_bar(progress, total=total, desc=desc, unit="chunk")
    return bar, (None if bar is None else bar.update)
