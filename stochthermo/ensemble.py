"""The :class:`Ensemble` container: trajectories of shape ``(n_traj, n_time, dim)``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ._frozen import settle
from ._validation import as_ensemble_array, as_float_array
from .errors import ShapeError, ValidationError

if TYPE_CHECKING:
    from ._typing import ArrayLike

__all__ = ["Ensemble"]


@dataclass(frozen=True)
class Ensemble:
    """An ensemble of trajectories sampled on a common time grid.

    Attributes
    ----------
    x : numpy.ndarray, shape (n_traj, n_time, dim)
        Float64, C-contiguous states; ``x[k, j]`` is trajectory ``k`` at time ``t[j]``.
    t : numpy.ndarray, shape (n_time,)
        Sampling times (for SGD: step numbers times the learning rate, or step numbers).
    dt : float
        Integration step (the spacing of ``t`` is ``dt * save_every``).
    observables : Mapping[str, numpy.ndarray]
        Quantities accumulated along each trajectory, first axis ``n_traj``.
    meta : Mapping
        Method, seed, versions and anything needed to resume the run.
    """

    x: np.ndarray
    t: np.ndarray
    dt: float
    observables: Any = field(default_factory=dict)
    meta: Any = field(default_factory=dict)

    def __post_init__(self):
        x = as_ensemble_array("x", self.x)
        t = as_float_array("t", self.t, ndim=1)
        if t.shape[0] != x.shape[1]:
            raise ShapeError(
                f"t has {t.shape[0]} times but x has {x.shape[1]} time points (shape {x.shape})"
            )
        if not np.isfinite(self.dt) or self.dt <= 0:
            raise ValidationError(f"dt={self.dt!r} must be a positive number")
        obs = {}
        for k, v in dict(self.observables or {}).items():
            v = np.asarray(v)
            if v.ndim == 0 or v.shape[0] != x.shape[0]:
                raise ShapeError(
                    f"observable {k!r} has shape {v.shape}; its first axis must be n_traj="
                    f"{x.shape[0]}"
                )
            obs[k] = v
        settle(self, x=x, t=t, dt=float(self.dt), observables=MappingProxyType(obs),
               meta=MappingProxyType(dict(self.meta or {})))

    def __repr__(self) -> str:
        t = (f"{float(self.t[0]):g}..{float(self.t[-1]):g}" if self.t.size else "empty")
        return (f"Ensemble(n_traj={self.n_traj}, n_time={self.n_time}, dim={self.dim}, "
                f"dt={self.dt:g}, t={t}, observables={sorted(self.observables)}, "
                f"meta keys={sorted(self.meta)[:12]})")

    @property
    def n_traj(self) -> int:
        """Number of trajectories."""
        return self.x.shape[0]

    @property
    def n_time(self) -> int:
        """Number of saved time points."""
        return self.x.shape[1]

    @property
    def dim(self) -> int:
        """State dimension."""
        return self.x.shape[2]

    @property
    def sample_interval(self) -> float:
        """Spacing of the saved time grid (``dt * save_every``)."""
        if self.t.shape[0] < 2:
            return float(self.dt)
        return float(self.t[1] - self.t[0])

    @property
    def final(self) -> np.ndarray:
        """The last saved state of each trajectory, shape ``(n_traj, dim)``."""
        return self.x[:, -1, :]

    @classmethod
    def concat(cls, parts: Sequence[Ensemble], *, meta: Mapping | None = None) -> Ensemble:
        """Stack ensembles sharing one time grid along the trajectory axis.

        Parameters
        ----------
        parts : sequence of Ensemble
            In trajectory order; same ``t``, ``dt``, dimension and observable names.
        meta : mapping, optional
            Meta of the result (default: the first part's). Each feature that runs in chunks
            merges its own meta entries (e.g. ``simulate`` the resume state) and passes them.

        Returns
        -------
        Ensemble
            ``x`` and every observable concatenated along axis 0 (a single part is returned
            with its arrays unchanged).
        """
        parts = list(parts)
        if not parts:
            raise ValidationError("Ensemble.concat needs at least one ensemble")
        first = parts[0]
        for p in parts[1:]:
            if (p.t.shape != first.t.shape or not np.array_equal(p.t, first.t)
                    or p.dt != first.dt or p.dim != first.dim
                    or set(p.observables) != set(first.observables)):
                raise ShapeError(
                    "Ensemble.concat needs parts with the same time grid, dimension and "
                    f"observables; got t of shape {p.t.shape} vs {first.t.shape}, dim "
                    f"{p.dim} vs {first.dim}, observables {sorted(p.observables)} vs "
                    f"{sorted(first.observables)}"
                )
        if len(parts) == 1:
            x, obs = first.x, dict(first.observables)
        else:
            x = np.concatenate([p.x for p in parts])
            obs = {k: np.concatenate([p.observables[k] for p in parts])
                   for k in first.observables}
        return cls(x=x, t=first.t, dt=first.dt, observables=obs,
                   meta=first.meta if meta is None else meta)

    @classmethod
    def from_array(cls, x: ArrayLike, *, dt: float, t0: float = 0.0, save_every: int = 1,
                   meta: Mapping[str, Any] | None = None) -> Ensemble:
        """Wrap an array ``(n_traj, n_time, dim)`` sampled every ``dt * save_every``."""
        arr = as_ensemble_array("x", x)
        t = t0 + dt * save_every * np.arange(arr.shape[1], dtype=np.float64)
        return cls(x=arr, t=t, dt=dt, meta=meta or {})

