"""Shared plumbing of the estimators (private): input coercion and trajectory groups.

The jackknife lives in :mod:`._stats` (re-exported here for the estimators that import it).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_ensemble_array, positive_float, positive_int, short_repr
from ..ensemble import Ensemble
from ..errors import EstimationError, InsufficientDataError, ModelError, ValidationError
from ._stats import jackknife

__all__ = ["as_trajectories", "split_groups", "jackknife", "group_slices"]


def as_trajectories(name: str, ensemble, dt=None):
    """Return ``(x, tau)``: a float64 array ``(n_traj, n_time, dim)`` and the sampling interval.

    ``ensemble`` is an :class:`~stochthermo.ensemble.Ensemble` (its ``sample_interval`` is used
    unless ``dt`` is given) or an array ``(n_traj, n_time, dim)`` / ``(n_traj, n_time)``, in
    which case ``dt`` (the time between saved points) is required.
    """
    x: np.ndarray | _LazyTrajectories
    if isinstance(ensemble, Ensemble):
        x = ensemble.x
        tau = ensemble.sample_interval if dt is None else positive_float("dt", dt)
    elif _is_stored(ensemble):
        # on-disk ensemble (stochthermo.store): keep it lazy, groups are read one at a time
        x = _LazyTrajectories(ensemble.x)
        tau = ensemble.sample_interval if dt is None else positive_float("dt", dt)
    else:
        x = as_ensemble_array(name, ensemble)
        if dt is None:
            raise ValidationError(
                f"{name} is a plain array of shape {x.shape}, so the sampling interval is unknown; "
                "pass dt=<time between saved points> or an Ensemble"
            )
        tau = positive_float("dt", dt)
    if x.shape[1] < 2:
        raise InsufficientDataError(
            f"{name} has n_time={x.shape[1]} saved points; at least 2 are needed to form increments"
        )
    if not isinstance(x, _LazyTrajectories):
        check_magnitude(name, x)
    return x, float(tau)


#: largest |value| the moment sums of the estimators handle (its square and sums stay finite)
MAX_MAGNITUDE = 1e100


def check_magnitude(name: str, x: np.ndarray) -> None:
    """Raise if ``x`` holds values so large that second moments overflow (diverging data).

    Finite values near the top of the float64 range make the sums of squares infinite, and a
    least-squares solve on them gives NaN or never returns.
    """
    if x.size == 0:
        return
    big = max(float(np.max(x)), -float(np.min(x)))  # no |x| copy of a large ensemble
    if big > MAX_MAGNITUDE:
        idx = np.unravel_index(int(np.argmax(np.abs(x))), x.shape)
        raise EstimationError(
            f"{name} holds |x| = {big:.3g} at index {tuple(int(i) for i in idx)} (above "
            f"{MAX_MAGNITUDE:.0e}): the trajectories diverge or are in the wrong units, and "
            "their second moments overflow; drop the diverging trajectories or rescale the data"
        )


def _is_stored(obj) -> bool:
    from ..store import StoredEnsemble

    return isinstance(obj, StoredEnsemble)


class _LazyTrajectories:
    """An on-disk array ``(n_traj, n_time, dim)`` read as float64 blocks when indexed."""

    def __init__(self, arr):
        self._arr = arr
        self.shape = tuple(int(s) for s in arr.shape)
        self.ndim = len(self.shape)
        self.dtype = np.dtype(np.float64)

    def __getitem__(self, key):
        block = np.ascontiguousarray(self._arr[key], dtype=np.float64)
        if not np.all(np.isfinite(block)):
            raise ValidationError("the stored ensemble contains non-finite values")
        return block


class _LazyGroups:
    """Groups of trajectories read from disk on access (memory: one group at a time)."""

    def __init__(self, x, slices):
        self._x, self._slices = x, slices

    def __len__(self):
        return len(self._slices)

    def __getitem__(self, i):
        return self._x[self._slices[i]]

    def __iter__(self):
        for s in self._slices:
            yield self._x[s]


def group_slices(n: int, n_groups: int):
    """``n_groups`` contiguous, nearly equal slices of ``range(n)``."""
    edges = np.linspace(0, n, n_groups + 1).round().astype(np.int64)
    return [slice(int(edges[g]), int(edges[g + 1])) for g in range(n_groups)]


def split_groups(x: np.ndarray, n_groups, *, min_time: int = 2):
    """Split an ensemble into groups for the jackknife.

    With at least ``n_groups`` trajectories the groups are contiguous sets of trajectories;
    otherwise every trajectory is cut into ``n_groups`` time segments (this assumes
    stationarity). Returns a list of arrays ``(n_traj_g, n_time_g, dim)`` and the kind of split.
    """
    n_groups = positive_int("n_groups", n_groups)
    if n_groups < 2:
        raise ValidationError(f"n_groups={n_groups} must be >= 2 for a jackknife error bar")
    n_traj, n_time = x.shape[:2]
    if n_traj >= n_groups:
        if isinstance(x, _LazyTrajectories):
            return _LazyGroups(x, group_slices(n_traj, n_groups)), "trajectories"
        return [x[s] for s in group_slices(n_traj, n_groups)], "trajectories"
    if n_time // n_groups < min_time:
        raise InsufficientDataError(
            f"the ensemble (n_traj={n_traj}, n_time={n_time}) cannot be split into "
            f"n_groups={n_groups} groups of trajectories or of time segments of >= {min_time} "
            "points; pass more data or a smaller n_groups"
        )
    return [x[:, s] for s in group_slices(n_time, n_groups)], "time segments"


def model_failure(exc: Exception, what: str) -> EstimationError:
    """Turn a model error met while fitting into an :class:`EstimationError`."""
    return EstimationError(
        f"the linear fit used by {what} gave an invalid model ({exc}); the data may be too few, "
        "too coarsely sampled (try a smaller sampling interval) or not from a linear process"
    )


def check_columns(name: str, arr: np.ndarray) -> None:
    """Raise if a column of the 2-d ``arr`` is constant (zero variance)."""
    bad = np.flatnonzero(~(np.ptp(arr, axis=0) > 0)) if arr.shape[0] else np.arange(arr.shape[1])
    if bad.size:
        raise EstimationError(
            f"{name} has a constant column (index {int(bad[0])}, value {arr[0, bad[0]]!r}); a "
            "constant carries no information and makes the estimate undefined: drop that column"
        )


__all__ += ["model_failure", "check_columns", "check_magnitude", "ModelError", "short_repr"]
