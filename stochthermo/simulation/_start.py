"""Where trajectories start.

The family's default, one state for all, one per trajectory, or a draw from the exact
stationary law (each trajectory from its own stream).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_float_array
from ..errors import ShapeError, ValidationError
from ._plans import Family, PlanLike
from ._random import ziggurat_table
from ._weights import psd_sqrt

__all__ = ["initial_state"]


def _stationary(model: Any, family: Family, plan: PlanLike, n_traj: int, seeds: np.ndarray,
                counters: np.ndarray) -> np.ndarray:
    from ..kernels._random import fill_normals

    if family.stationary is None:
        raise ValidationError(
            "x0='stationary' needs a linear model with a known stationary law "
            "(LinearLangevin or LinearizedSGD); pass an array instead"
        )
    centre, C = family.stationary(model)
    L = psd_sqrt(C)
    z = np.empty((n_traj, plan.ds))
    fill_normals(seeds, counters, ziggurat_table(), z)
    return centre + z @ L.T


def _given(x0: Any, d: int, n_traj: int) -> np.ndarray:
    arr = as_float_array("x0", x0, ndim=(0, 1, 2))
    if arr.ndim == 0 and d == 1:
        arr = arr.reshape(1)
    if arr.ndim == 1:
        if arr.shape != (d,):
            raise ShapeError(
                f"x0 has shape {arr.shape}, but the model has dimension {d}; pass shape "
                f"({d},) for a common start or ({n_traj}, {d}) for one per trajectory"
            )
        return np.broadcast_to(arr, (n_traj, d)).copy()
    if arr.ndim == 2 and arr.shape == (n_traj, d):
        return arr.copy()
    raise ShapeError(
        f"x0 has shape {arr.shape}; pass shape ({d},) for a common start or "
        f"({n_traj}, {d}) for one per trajectory"
    )


def initial_state(model: Any, family: Family, plan: PlanLike, x0: Any, n_traj: int,
                  seeds: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """The kernel state ``(n_traj, plan.ds)`` at the start of a new run.

    ``x0`` None: the family's start (fixed point, trap centre, 0); ``"stationary"``: a draw
    from the exact stationary law (advancing ``counters``); otherwise ``(d,)`` or
    ``(n_traj, d)``. A state larger than the model (SGD momentum: ``(theta_n, theta_{n-1})``)
    repeats the start (``theta_{-1} = theta_0``).
    """
    d = model.dim
    if isinstance(x0, str):
        if x0 != "stationary":
            raise ValidationError(f"x0={x0!r}: the only named start is 'stationary'")
        return _stationary(model, family, plan, n_traj, seeds, counters)
    if x0 is None:
        x = np.broadcast_to(family.start(model), (n_traj, d)).copy()
    else:
        x = _given(x0, d, n_traj)
    if plan.ds != d:
        x = np.concatenate([x, x], axis=1)
    return np.ascontiguousarray(x)
