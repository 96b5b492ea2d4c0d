"""stochthermo: stochastic thermodynamics of learning.

SGD training of a parametric probabilistic model read as a Langevin process: closed forms
(``stochthermo.exact``, ``stochthermo.symbolic``), Numba simulation (``stochthermo.simulate``),
estimators with error bars (``stochthermo.estimate``) and a PyTorch-free reader of training
runs (``stochthermo.bridge``).

Heavy modules (SymPy, matplotlib, Numba kernels, optional back-ends) load on first use.
"""

from __future__ import annotations

import importlib

from . import errors
from .ensemble import Ensemble
from .errors import StochThermoError
from .models import BipartiteJump, LinearizedSGD, LinearLangevin, MarkovJump
from .results import Estimate

__version__ = "0.1.0"

# name -> (module, attribute or None for the module itself)
_LAZY = {
    "exact": ("stochthermo.exact", None),
    "symbolic": ("stochthermo.symbolic", None),
    "estimate": ("stochthermo.estimate", None),
    "bridge": ("stochthermo.bridge", None),
    "store": ("stochthermo.store", None),
    "distributed": ("stochthermo.distributed", None),
    "plotting": ("stochthermo.plotting", None),
    "learning": ("stochthermo.learning", None),
    "simulate": ("stochthermo.simulation", "simulate"),
    "simulation": ("stochthermo.simulation", None),
    "LinearCurrent": ("stochthermo.simulation", "LinearCurrent"),
    "NonlinearLangevin": ("stochthermo.models.nonlinear", "NonlinearLangevin"),
    "DrivenTrap": ("stochthermo.models.nonlinear", "DrivenTrap"),
    "double_well": ("stochthermo.models.nonlinear", "double_well"),
    "dragged_trap": ("stochthermo.models.nonlinear", "dragged_trap"),
    "simulate_jump": ("stochthermo._simulate_jump", "simulate_jump"),
    "JumpEnsemble": ("stochthermo._simulate_jump", "JumpEnsemble"),
    "learn": ("stochthermo.learning", "learn"),
    "LearningEnsemble": ("stochthermo.learning", "LearningEnsemble"),
    "GaussianLearner": ("stochthermo.learning", "GaussianLearner"),
    "GaussianMean": ("stochthermo.learning", "GaussianMean"),
    "LinearRegression": ("stochthermo.learning", "LinearRegression"),
    "SoftmaxRegression": ("stochthermo.learning", "SoftmaxRegression"),
    "MLPClassifier": ("stochthermo.learning", "MLPClassifier"),
}

__all__ = [
    "__version__",
    "errors",
    "StochThermoError",
    "Estimate",
    "Ensemble",
    "LinearLangevin",
    "LinearizedSGD",
    "MarkovJump",
    "BipartiteJump",
    *_LAZY,
]


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'stochthermo' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
