r"""Ensembles of Langevin and SGD trajectories, with thermodynamics accumulated along each path.

One entry point, :func:`simulate`, returns an :class:`~stochthermo.Ensemble`. The heavy lifting
is done by Numba kernels in ``stochthermo.kernels``; this package validates, seeds, builds the
update weights of each model family (one plan per family, chosen from a table keyed by the model
type) and wraps the result. Derivations: ``theory/simulation.md``; layout:
``theory/architecture.md``.
"""

from __future__ import annotations

from ._core import (  # noqa: F401 - _psd_sqrt, _ziggurat_table: used by tests, benchmarks
    METHODS,
    LinearCurrent,
    _psd_sqrt,
    _ziggurat_table,
    standard_normals,
)
from ._simulate import simulate

__all__ = ["simulate", "LinearCurrent", "METHODS", "standard_normals"]
