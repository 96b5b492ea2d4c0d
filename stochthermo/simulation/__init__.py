r"""Ensembles of Langevin and SGD trajectories, with thermodynamics accumulated along each path.

One entry point, :func:`simulate`, returns an :class:`~stochthermo.Ensemble`. The heavy lifting
is done by Numba kernels in ``stochthermo.kernels``; this package validates, seeds, builds the
update weights of each model family (one plan per family, chosen from the table
:data:`PLANS` keyed by the model type; :func:`register_plan` adds a family) and wraps the
result. Modules: ``_simulate`` (the entry point), ``_engine`` (validate -> plan -> allocate
-> loop -> assemble), ``_plans`` (plans and the table), ``_weights`` (update weights),
``_observables``, ``_resume``, ``_start``, ``_random`` (RNG tables), ``_chunked`` (chunks
and their merge). Derivations: ``theory/simulation.md``; layout: ``theory/architecture.md``.
"""

from __future__ import annotations

from ._engine import METHODS
from ._observables import LinearCurrent
from ._plans import PLANS, Family, Plan, register_plan
from ._random import standard_normals
from ._random import ziggurat_table as _ziggurat_table  # noqa: F401 - tests, benchmarks
from ._simulate import simulate
from ._weights import psd_sqrt as _psd_sqrt  # noqa: F401 - tests

__all__ = ["simulate", "LinearCurrent", "METHODS", "standard_normals", "PLANS", "Family",
           "Plan", "register_plan"]
