"""Estimators with error bars: entropy production, information, noise, fluctuation theorems.

Every function returns a :class:`stochthermo.results.Estimate` (value, standard error, method,
metadata and, where known, the bias that was removed). Derivations: ``theory/estimators.md``.

Ensembles are :class:`stochthermo.ensemble.Ensemble` objects or arrays
``(n_traj, n_time, dim)`` (then pass ``dt=``, the time between saved points).
"""

from __future__ import annotations

from .estimators._entropy import entropy_production, entropy_production_timeresolved
from .estimators._flows import information_flow
from .estimators._fluctuation import fluctuation_theorem
from .estimators._information import (
    lagged_mutual_information,
    mutual_information,
    transfer_entropy,
)
from .estimators._jump import jump_entropy_production, jump_information_flow, with_jump_data
from .estimators._learning_info import l_info, m_info
from .estimators._noise import (
    autocorrelation,
    effective_temperature,
    gradient_noise_scale,
    integrated_time,
    sgd_noise,
)
from .estimators._stats import loglog_slope

# Markov jump data (JumpEnsemble): the same entry points, methods of theory/jump.md
entropy_production = with_jump_data(entropy_production, jump_entropy_production)
information_flow = with_jump_data(information_flow, jump_information_flow)

__all__ = [
    "entropy_production",
    "entropy_production_timeresolved",
    "mutual_information",
    "lagged_mutual_information",
    "transfer_entropy",
    "information_flow",
    "autocorrelation",
    "integrated_time",
    "sgd_noise",
    "effective_temperature",
    "gradient_noise_scale",
    "fluctuation_theorem",
    "m_info",
    "l_info",
    "loglog_slope",
]
