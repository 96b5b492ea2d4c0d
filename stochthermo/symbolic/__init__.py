"""Symbolic closed forms (SymPy) for linear Langevin and linearized-SGD models.

Loaded lazily: ``import stochthermo`` does not import SymPy; ``stochthermo.symbolic`` does.
User text is read by an own parser that executes nothing (``_parse.py``); models are checked for
stability and a positive semi-definite D (``_checks.py``) and refused up front when the
derivation would be slow (``_cost.py``).
"""

from ._cost import SLOW_SECONDS, estimate_cost
from .jump import JumpDerivation, derive_jump, derive_sensor
from .learner import derive_gaussian_learner
from .linear import (
    CompiledQuantity,
    LinearDerivation,
    derive_linear,
    derive_sgd,
    parse_expression,
    parse_matrix,
)
from .sgd_discrete import SGDDiscreteDerivation, derive_sgd_discrete  # noqa: F401

__all__ = [
    "derive_gaussian_learner",
    "derive_linear",
    "derive_sgd",
    "LinearDerivation",
    "CompiledQuantity",
    "parse_matrix",
    "parse_expression",
    "derive_jump",
    "derive_sensor",
    "JumpDerivation",
    "estimate_cost",
    "SLOW_SECONDS",
]
