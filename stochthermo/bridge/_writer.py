"""``TrajectoryWriter``: log parameters (and gradients, outputs, scalars) from any training loop."""

from __future__ import annotations

import csv
import io
import os
from typing import TYPE_CHECKING

import numpy as np

from .._atomic import write_atomic
from .._validation import nonnegative_int, positive_int
from ..errors import ValidationError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from .._typing import PathLike

__all__ = ["TrajectoryWriter", "SHARD_MARKER", "atomic_write_bytes"]

#: member present in every shard written by :class:`TrajectoryWriter`
SHARD_MARKER = "__stochthermo_shard__"


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    write_atomic(path, data, mode="wb")


def _to_numpy(name, value) -> np.ndarray:
    """A NumPy copy of ``value`` (``__array__``, ``__dlpack__``, nested lists, NumPy arrays).

    No framework is imported: framework tensors (torch, JAX, ...) are detached and moved to
    the CPU by duck typing.
    """
    for attr in ("detach", "cpu"):
        fn = getattr(value, attr, None)
        if callable(fn):
            value = fn()
    try:
        if not hasattr(value, "__array__") and hasattr(value, "__dlpack__"):
            arr = np.from_dlpack(value)
        else:
            arr = np.asarray(value)
    except (TypeError, ValueError, RuntimeError, BufferError) as exc:
        raise ValidationError(
            f"{name} cannot be converted to an array ({exc}); pass host (CPU) arrays or "
            "tensors"
        ) from exc
    if arr.dtype.kind not in "biufc":
        raise ValidationError(f"{name} has the non-numeric dtype {arr.dtype}")
    return np.array(arr, copy=True)


def _named(what, value) -> dict:
    if value is None:
        return {}
    if hasattr(value, "items"):
        return {str(k): _to_numpy(f"{what}[{k!r}]", v) for k, v in value.items()}
    if hasattr(value, "__array__") or isinstance(value, np.ndarray):
        return {"theta": _to_numpy(what, value)}
    try:
        items = list(value)
    except TypeError:
        raise ValidationError(
            f"{what} must be a mapping name -> array, an array, or an iterable of arrays"
        ) from None
    return {str(i): _to_numpy(f"{what}[{i}]", v) for i, v in enumerate(items)}


class TrajectoryWriter:
    """Write a training trajectory as atomic ``.npz`` shards that :func:`open_runs` reads.

    Parameters
    ----------
    directory : str or os.PathLike
        The trial's folder (created if needed). One folder per trial; trials of a run share a
        parent folder.
    shard_size : int
        Steps buffered in memory before a shard is written.
    grad_steps : int or iterable of int, optional
        When to log gradients: every ``grad_steps`` steps (an int) or at the given steps.
        :meth:`wants_gradients` answers it, so a loop computes the (costly) full- or
        large-batch gradient only there. Default: whenever gradients are passed.

    Notes
    -----
    Each shard ``shard_<first>_<last>.npz`` holds, per step, members ``s<step>/p/<name>``
    (parameters), optionally ``s<step>/g/<name>`` (mini-batch gradient), ``s<step>/G/<name>``
    (full-batch gradient) and ``s<step>/o`` (outputs/logits on a probe set). Scalars go to
    ``scalars.csv``. Files appear only complete (written to a temporary file, then renamed).

    What the theory needs (``theory/bridge.md``): the mini-batch gradient ``g`` used for the
    step and a full- (or large-) batch gradient ``G`` *at the same parameters* measure the
    SGD noise ``G - g`` exactly, at any time, whether or not the trials have separated
    (:func:`diagnose_run` reports ``noise_var_logged``; ``lr^2 E|G - g|^2 / d = lr^2
    tr(Sigma_g) / (d |b|)``). Outputs on a fixed probe set give work, heat and conditional
    entropy production. Arrays can come from any framework: anything with ``__array__`` or
    ``__dlpack__``.

    Examples
    --------
    >>> with TrajectoryWriter("runs/bs10/trial0") as w:              # doctest: +SKIP
    ...     for step in range(n_steps):
    ...         ...
    ...         w.write(step, model.state_dict(), scalars={"loss": loss.item()})
    """

    def __init__(self, directory: PathLike, *, shard_size: int = 100,
                 grad_steps: Any = None) -> None:
        self.directory = os.fspath(directory)
        self.shard_size = positive_int("shard_size", shard_size)
        if grad_steps is None or isinstance(grad_steps, int | np.integer):
            self._grad_every = None if grad_steps is None else positive_int("grad_steps",
                                                                             grad_steps)
            self._grad_set = None
        else:
            self._grad_every = None
            self._grad_set = frozenset(nonnegative_int("grad_steps[...]", s) for s in grad_steps)
        os.makedirs(self.directory, exist_ok=True)
        self._buffer: dict[str, np.ndarray] = {}
        self._steps: list[int] = []
        self._scalars: list[dict] = []
        self._tags: list[str] = []
        self._last: int | None = None
        self._closed = False

    def wants_gradients(self, step: int) -> bool:
        """True when gradients should be logged at ``step`` (see ``grad_steps``)."""
        step = nonnegative_int("step", step)
        if self._grad_set is not None:
            return step in self._grad_set
        return self._grad_every is None or step % self._grad_every == 0

    def write(self, step: int, params: Any, *, grads: Any = None, full_grads: Any = None,
              outputs: Any = None, scalars: Mapping[str, float] | None = None) -> None:
        """Record ``params`` (mapping, array or iterable of arrays) at ``step``."""
        if self._closed:
            raise ValidationError("the TrajectoryWriter is closed; open a new one")
        step = nonnegative_int("step", step)
        if self._last is not None and step <= self._last:
            raise ValidationError(
                f"step={step} is not after the previous step {self._last}; steps must increase"
            )
        self._last = step
        prefix = f"s{step:012d}/"
        for code, what, value in (("p", "params", params), ("g", "grads", grads),
                                  ("G", "full_grads", full_grads)):
            for name, arr in _named(what, value).items():
                self._buffer[f"{prefix}{code}/{name}"] = arr
        if outputs is not None:
            self._buffer[prefix + "o"] = _to_numpy("outputs", outputs)
        if scalars:
            row: dict[str, float] = {"step": step}
            for tag, v in scalars.items():
                row[str(tag)] = float(_to_numpy(f"scalars[{tag!r}]", v))
                if str(tag) not in self._tags:
                    self._tags.append(str(tag))
            self._scalars.append(row)
        self._steps.append(step)
        if len(self._steps) >= self.shard_size:
            self.flush()

    def flush(self) -> None:
        """Write the buffered steps as one shard, and rewrite ``scalars.csv``."""
        if self._steps:
            name = f"shard_{self._steps[0]:012d}_{self._steps[-1]:012d}.npz"
            buf = io.BytesIO()
            self._buffer[SHARD_MARKER] = np.array(self._steps, dtype=np.int64)
            members: dict[str, Any] = self._buffer  # savez's stub takes ** as allow_pickle too
            np.savez(buf, **members)
            atomic_write_bytes(os.path.join(self.directory, name), buf.getvalue())
            self._buffer, self._steps = {}, []
        if self._scalars:
            text = io.StringIO()
            w = csv.DictWriter(text, fieldnames=["step", *self._tags], lineterminator="\n")
            w.writeheader()
            for row in self._scalars:
                w.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
            atomic_write_bytes(os.path.join(self.directory, "scalars.csv"),
                               text.getvalue().encode())

    def close(self) -> None:
        """Flush and close."""
        if not self._closed:
            self.flush()
            self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
