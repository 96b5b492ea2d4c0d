"""Lagged bipartite learning dynamics of parametric probabilistic models (PPMs).

Models (:class:`GaussianMean`, :class:`LinearRegression`, :class:`SoftmaxRegression`,
:class:`MLPClassifier`), the SGD engine :func:`learn` returning a :class:`LearningEnsemble`,
thermodynamic and information quantities (work, heat, conditional entropy production, M-info,
L-info, information flows), the exactly solvable :class:`GaussianLearner`, the quasi-static
sweep, the naive-vs-realistic reservoir comparison and the paper's Fig. 4.1 experiment.
Theory: ``theory/learning.md``.
"""

from __future__ import annotations

from ._analysis import (
    QuasiStaticSweep,
    ReservoirComparison,
    fit_loglog_slope,
    quasi_static_sweep,
    reservoir_comparison,
)
from ._engine import METHODS, RECORDABLE, LearningEnsemble, learn
from ._fig41 import Fig41Result, fig41, load_dataset, noise_statistics
from ._gaussian import (
    CLOSED_FORM_KEYS,
    RESERVOIR_KEYS,
    GaussianLearner,
    cosine_schedule,
    gaussian_learner_estimates,
    step_decay,
)
from ._info import discrete_mi, gaussian_mi, learning_efficiency, xu_raginsky_bound
from ._ppm import PPM, GaussianMean, LinearRegression, MLPClassifier, SoftmaxRegression

__all__ = [
    "PPM",
    "GaussianMean",
    "LinearRegression",
    "SoftmaxRegression",
    "MLPClassifier",
    "learn",
    "LearningEnsemble",
    "METHODS",
    "RECORDABLE",
    "GaussianLearner",
    "CLOSED_FORM_KEYS",
    "RESERVOIR_KEYS",
    "step_decay",
    "cosine_schedule",
    "gaussian_learner_estimates",
    "gaussian_mi",
    "discrete_mi",
    "learning_efficiency",
    "xu_raginsky_bound",
    "quasi_static_sweep",
    "QuasiStaticSweep",
    "fit_loglog_slope",
    "reservoir_comparison",
    "ReservoirComparison",
    "fig41",
    "Fig41Result",
    "load_dataset",
    "noise_statistics",
]
