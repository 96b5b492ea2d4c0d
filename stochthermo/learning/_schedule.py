"""Per-step learning rate and batch size of :func:`~stochthermo.learning.learn`.

A :class:`StepSchedule` turns the ``lr`` and ``batch_size`` arguments (a number, a callable of
the step, or an array with one entry per step) into the value of each step, validated once
before the run. Constant values are kept as numbers (no per-step array), so a plain run
allocates nothing and draws exactly the random numbers it drew before schedules existed.
``theory/learning.md`` section 8 (schedules) and section 1 (the process).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import positive_float, positive_int, short_repr
from ..errors import ValidationError

__all__ = ["StepSchedule", "step_schedule"]


@dataclass(frozen=True, eq=False)
class StepSchedule:
    """Learning rate and batch size of every step ``t = 0 .. n_steps - 1``.

    ``lr`` and ``batch`` are a number (constant) or an array ``(n_steps,)``.
    """

    lr: float | np.ndarray
    batch: int | np.ndarray
    n_steps: int

    @property
    def constant_lr(self) -> bool:
        return not isinstance(self.lr, np.ndarray)

    @property
    def constant_batch(self) -> bool:
        return not isinstance(self.batch, np.ndarray)

    @property
    def lr0(self) -> float:
        """The first step's learning rate (the rate, when constant)."""
        return float(self.lr[0]) if isinstance(self.lr, np.ndarray) else float(self.lr)

    @property
    def batch0(self) -> int:
        return int(self.batch[0]) if isinstance(self.batch, np.ndarray) else int(self.batch)

    @property
    def batch_max(self) -> int:
        return int(self.batch.max()) if isinstance(self.batch, np.ndarray) else int(self.batch)

    def lr_at(self, t: int) -> float:
        return float(self.lr[t]) if isinstance(self.lr, np.ndarray) else self.lr

    def batch_at(self, t: int) -> int:
        return int(self.batch[t]) if isinstance(self.batch, np.ndarray) else self.batch

    def lr_array(self) -> np.ndarray | None:
        """The per-step rates when they vary (None when constant)."""
        return self.lr if isinstance(self.lr, np.ndarray) else None

    def batch_array(self) -> np.ndarray | None:
        return self.batch if isinstance(self.batch, np.ndarray) else None


def _values(name: str, spec: Any, n_steps: int, kind: str) -> np.ndarray:
    """The ``n_steps`` values of a callable or array schedule, checked (finite, > 0)."""
    if callable(spec):
        vals = np.empty(n_steps)
        for t in range(n_steps):
            v = spec(t)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValidationError(
                    f"{name}({t}) returned {short_repr(v)}; a {name} schedule must return a "
                    f"{'positive number' if kind == 'float' else 'positive int'} for every step")
            vals[t] = float(v)
    else:
        arr = np.asarray(spec)
        if arr.ndim != 1 or arr.dtype.kind not in "iuf" or arr.dtype == bool:
            raise ValidationError(
                f"{name}={short_repr(spec)} must be a number, a callable of the step or a 1-d "
                "array of numbers")
        if arr.shape[0] < n_steps:
            raise ValidationError(
                f"{name} has {arr.shape[0]} entries but n_steps={n_steps}; pass one value per "
                "step (at least n_steps)")
        vals = arr[:n_steps].astype(np.float64)
    bad = np.flatnonzero(~(np.isfinite(vals) & (vals > 0)))
    if bad.size:
        raise ValidationError(f"{name} at step {bad[0]} is {vals[bad[0]]!r}; every step needs a "
                              "positive, finite value")
    if kind == "int":
        frac = np.flatnonzero(vals != np.round(vals))
        if frac.size:
            raise ValidationError(f"{name} at step {frac[0]} is {vals[frac[0]]!r}; batch sizes "
                                  "are whole numbers")
        return vals.astype(np.int64)
    return vals


def _scalar(v: Any) -> bool:
    return not callable(v) and (isinstance(v, (str, bytes)) or np.ndim(v) == 0)


def step_schedule(lr: Any, batch_size: Any, n_steps: int) -> StepSchedule:
    """Validate ``lr`` and ``batch_size`` (number, callable of the step, or array)."""
    lr_v = positive_float("lr", lr) if _scalar(lr) else _values("lr", lr, n_steps, "float")
    b_v = (positive_int("batch_size", batch_size) if _scalar(batch_size)
           else _values("batch_size", batch_size, n_steps, "int"))
    return StepSchedule(lr=lr_v, batch=b_v, n_steps=n_steps)
