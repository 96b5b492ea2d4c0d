"""Observables accumulated along trajectories: names, :class:`LinearCurrent`, output columns.

The kernels accumulate, per trajectory, one column per heat bath (when heat or medium entropy
is asked for), one work column, and one column per current, in that order
(:func:`observable_layout`); :func:`assemble_observables` turns those columns into the named
arrays of ``Ensemble.observables``. Definitions: ``theory/simulation.md`` [SIM-heat].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_square_matrix, as_vector, short_repr
from ..errors import ValidationError

__all__ = ["BUILTIN_OBS", "LinearCurrent", "assemble_observables", "parse_observables"]

#: observables known by name
BUILTIN_OBS = ("heat", "work", "medium_entropy")


@dataclass(frozen=True)
class LinearCurrent:
    r"""A time-integrated current :math:`J = \int (W x + b) \circ dx` (Stratonovich).

    Parameters
    ----------
    name : str
        Key of the result in ``Ensemble.observables``.
    weight : array_like, shape (d, d), optional
        ``W`` (default 0).
    offset : array_like, shape (d,), optional
        ``b`` (default 0). ``weight=None, offset=e_i`` gives the displacement of coordinate i;
        ``W = [[0, -1], [1, 0]]`` gives twice the area swept (angular momentum-like current).

    Notes
    -----
    Discretised as :math:`\sum_n (W \bar x_n + b) \cdot (x_{n+1} - x_n)` with the midpoint
    :math:`\bar x_n`, which is exact Stratonovich calculus for a linear weight.
    """

    name: str
    weight: Any = None
    offset: Any = None

    def arrays(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """``(W, b)`` as float arrays of shapes ``(d, d)`` and ``(d,)``."""
        W = np.zeros((d, d)) if self.weight is None else as_square_matrix(
            f"LinearCurrent({self.name!r}).weight", self.weight, dim=d)
        b = np.zeros(d) if self.offset is None else as_vector(
            f"LinearCurrent({self.name!r}).offset", self.offset, d)
        return W, b


def parse_observables(observables: Any, d: int) -> tuple[tuple, list, tuple]:
    """``(names, currents, current_names)``: built-in names, ``(W, b)`` pairs and their names."""
    if isinstance(observables, (str, LinearCurrent)):
        observables = (observables,)
    try:
        items = list(observables)
    except TypeError:
        raise ValidationError(
            f"observables={short_repr(observables)} must be a sequence of names "
            f"({', '.join(map(repr, BUILTIN_OBS))}) and LinearCurrent objects"
        ) from None
    names, currents, cur_names = [], [], []
    for it in items:
        if isinstance(it, str):
            if it not in BUILTIN_OBS:
                raise ValidationError(
                    f"unknown observable {it!r}; valid names are "
                    f"{', '.join(map(repr, BUILTIN_OBS))}, or pass a LinearCurrent"
                )
            if it not in names:
                names.append(it)
        elif isinstance(it, LinearCurrent):
            if it.name in BUILTIN_OBS or it.name in cur_names:
                raise ValidationError(
                    f"LinearCurrent name {it.name!r} is taken; give every current its own name"
                )
            cur_names.append(it.name)
            currents.append(it.arrays(d))
        else:
            raise ValidationError(
                f"observables item {short_repr(it)} is neither a name nor a LinearCurrent"
            )
    return tuple(names), currents, tuple(cur_names)


def wants_heat(obs: tuple) -> bool:
    """Whether the heat columns are accumulated (for ``heat`` or ``medium_entropy``)."""
    return "heat" in obs or "medium_entropy" in obs


def assemble_observables(out_obs: np.ndarray, *, obs: tuple, current_names: tuple,
                         n_blocks: int, temps: np.ndarray, heat_on: bool,
                         work_on: bool) -> dict[str, np.ndarray]:
    """Named observables from the accumulated columns ``out_obs`` (n_traj, n_saved, n_obs).

    ``heat`` (n_traj, n_saved, n_blocks), ``medium_entropy`` ``= heat @ (1 / T)``, ``work``
    and one array per current (n_traj, n_saved).
    """
    out = {}
    col = 0
    if heat_on:
        heat = out_obs[:, :, :n_blocks]
        col = n_blocks
        if "heat" in obs:
            out["heat"] = np.ascontiguousarray(heat)
        if "medium_entropy" in obs:
            out["medium_entropy"] = heat @ (1.0 / temps)
    if work_on:
        out["work"] = out_obs[:, :, col].copy()
        col += 1
    for i, name in enumerate(current_names):
        out[name] = out_obs[:, :, col + i].copy()
    return out
