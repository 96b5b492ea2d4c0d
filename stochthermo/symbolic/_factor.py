"""Reproducible factorisation for the symbolic layer.

SymPy's multivariate factoriser (Wang's algorithm) draws random evaluation points from SymPy's
module-level random generator. Some draws make the Hensel lifting blow up: the same general 3x3
derivation took 6 s or several minutes depending on the draw. :func:`factor` runs each
factorisation from a fixed seed and restores the generator afterwards, so a derivation takes the
same time on every run and the caller's SymPy random state is left as it was.
"""

from __future__ import annotations

import sympy as sp
from sympy.core import random as _sympy_random

__all__ = ["factor", "FACTOR_SEED"]

#: seed of SymPy's generator for every factorisation (any fixed value makes runs reproducible;
#: this one was checked on the general 2x2 and 3x3 linear models and the jump-process sensor)
FACTOR_SEED = 0


def factor(expr: sp.Expr, **options) -> sp.Expr:
    """``sympy.factor(expr, **options)`` from :data:`FACTOR_SEED`; SymPy's RNG is left as it was."""
    state = _sympy_random.rng.getstate()
    _sympy_random.rng.seed(FACTOR_SEED)
    try:
        return sp.factor(expr, **options)
    finally:
        _sympy_random.rng.setstate(state)
