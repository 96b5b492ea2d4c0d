"""Plots of ensembles, closed forms and estimates (matplotlib is imported only here).

Every function takes ``ax=None`` (a new figure is made when None) and returns the axes it drew
on, so that panels can be composed. One semantic palette, :data:`PALETTE`, colours every plot
by role: ``theory`` (closed forms), ``simulation`` (simulated ensembles), ``estimate``
(estimators applied to trajectories) and ``data`` (raw trajectories, logged runs). Units:
k_B = 1, nats, nats per unit time; time in units of ``1/A`` (Langevin) or SGD steps.

Functions
---------
plot_trajectories
    Sample paths, ensemble mean ± sd, optionally the exact moments.
plot_stationary_density
    Exact stationary Gaussian density with the probability current ``J = M x p(x)``.
plot_entropy_production
    Estimates with error bars against the exact rate.
plot_information
    M-info, L-info, I(X; Theta) (or any curves) over training: closed form vs simulation.
plot_fig41_panels
    The four panels of the paper's Fig. 4.1 from a dict of arrays
    (:func:`fig41_data_from_result`, :func:`fig41_data_from_diagnostics`).
plot_convergence
    Error against step size on log-log axes with the fitted slope and the declared order.
savefig_atomic
    Save a figure through a temporary file and a rename.

Examples
--------
>>> import stochthermo as st
>>> from stochthermo.plotting import plot_stationary_density, savefig_atomic
>>> m = st.LinearLangevin([[1.0, 0.8], [-0.8, 1.0]], [[1.0, 0.0], [0.0, 0.5]])
>>> ax = plot_stationary_density(m)              # doctest: +SKIP
>>> savefig_atomic(ax.figure, "density.png")     # doctest: +SKIP
"""

from __future__ import annotations

from ._fig41 import (
    fig41_data_from_diagnostics,
    fig41_data_from_result,
    plot_fig41_panels,
    save_fig41_panels,
)
from ._plots import (
    INFO_LABELS,
    fit_slope,
    plot_convergence,
    plot_entropy_production,
    plot_information,
    plot_stationary_density,
    plot_trajectories,
)
from ._style import PALETTE, SERIES, STYLE, format_pm, savefig_atomic, style

__all__ = [
    "PALETTE",
    "SERIES",
    "STYLE",
    "INFO_LABELS",
    "style",
    "savefig_atomic",
    "plot_trajectories",
    "plot_stationary_density",
    "plot_entropy_production",
    "plot_information",
    "plot_fig41_panels",
    "save_fig41_panels",
    "fig41_data_from_result",
    "fig41_data_from_diagnostics",
    "plot_convergence",
    "fit_slope",
    "format_pm",
]
