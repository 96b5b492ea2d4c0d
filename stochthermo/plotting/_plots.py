r"""Plots of trajectories, stationary density and current, entropy production, information.

Also the convergence-order plot.

Every function takes ``ax=None`` (a new figure is made when None) and returns the axes it drew
on. Colours follow :data:`stochthermo.plotting.PALETTE`. Units: k_B = 1, entropies and
information in nats, rates in nats per unit time; time in units of ``1/A`` for Langevin models
and ``t = r n`` (or the step ``n``) for SGD.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, cast

import numpy as np

from .._validation import as_float_array, positive_int
from ..errors import ShapeError, ValidationError
from ..estimators._stats import loglog_fit
from ._style import (
    PALETTE,
    TIME_LABELS,
    apply_tick_style,
    get_axes,
    series_color,
    stack_estimates,
    style,
    value_and_error,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from matplotlib.axes import Axes

    from .._typing import ArrayLike
    from ..results import Estimate

__all__ = [
    "plot_trajectories",
    "plot_stationary_density",
    "plot_entropy_production",
    "plot_information",
    "plot_convergence",
    "INFO_LABELS",
]


# --------------------------------------------------------------------------- trajectories


def _time_label(ensemble) -> str:
    meta = getattr(ensemble, "meta", {}) or {}
    if meta.get("time_unit") == "lr * step" or meta.get("model_type") == "LinearizedSGD":
        return TIME_LABELS["sgd"]
    return TIME_LABELS["langevin"]


def _theory_moments(model, ensemble, coord):
    """Exact mean and standard deviation of coordinate ``coord`` at the ensemble's times."""
    from .. import exact
    from ..models.linear import LinearizedSGD

    x = ensemble.x
    mean0 = x[:, 0].mean(axis=0)
    cov0 = np.cov(x[:, 0].T).reshape(x.shape[2], x.shape[2]) if x.shape[0] > 1 else None
    t = ensemble.t - ensemble.t[0]
    if isinstance(model, LinearizedSGD):
        t = np.round(t / model.lr).astype(np.int64)
    mom = exact.moments(model, t, mean0=mean0, cov0=cov0)
    return mom.mean[:, coord], np.sqrt(np.clip(mom.cov[:, coord, coord], 0.0, None))


def plot_trajectories(ensemble: Any, *, coords: int | Sequence[int] = 0, n_show: int = 20,
                      model: Any = None, ax: Axes | None = None, show_mean: bool = True,
                      time_label: str | None = None, ylabel: str | None = None) -> Axes:
    r"""Sample trajectories of an ensemble, with the ensemble mean and spread.

    Parameters
    ----------
    ensemble : Ensemble
        From :func:`stochthermo.simulate` (``x`` of shape ``(n_traj, n_time, dim)``).
    coords : int or sequence of int
        Coordinates to draw, one panel each.
    n_show : int
        Number of individual trajectories drawn (thin lines, ``data`` colour).
    model : LinearLangevin or LinearizedSGD, optional
        When given, the exact mean and ``±1`` standard deviation of
        :func:`stochthermo.exact.moments` (started from the ensemble's first-time moments)
        are drawn in the ``theory`` colour.
    ax : Axes or sequence of Axes, optional
        One per coordinate.
    show_mean : bool
        Draw the ensemble mean ``±1`` standard deviation (``simulation`` colour).
    time_label, ylabel : str, optional
        Axis labels (default: time in units of ``1/A``, or ``t = r n`` for SGD; ``x_i``).

    Returns
    -------
    Axes or numpy.ndarray of Axes
    """
    x = getattr(ensemble, "x", None)
    t = getattr(ensemble, "t", None)
    if x is None or t is None:
        raise ValidationError(
            f"ensemble={type(ensemble).__name__} must be an Ensemble (with x and t); wrap an "
            "array with stochthermo.Ensemble.from_array(x, dt=...)"
        )
    if np.ndim(coords) == 0:  # an int (NumPy's too)
        cs = [int(cast("int", coords))]
    else:
        cs = [int(c) for c in cast("Sequence[int]", coords)]
    for c in cs:
        if not 0 <= c < x.shape[2]:
            raise ValidationError(
                f"coords={coords!r}: coordinate {c} is not in 0..{x.shape[2] - 1}")
    n_show = positive_int("n_show", n_show)
    with style():
        axes = get_axes(ax, ncols=len(cs), figsize=(5.2 * len(cs), 3.6))
        arr = np.atleast_1d(axes).ravel()
        if arr.size != len(cs):
            raise ValidationError(f"ax holds {arr.size} axes but coords={coords!r} needs {len(cs)}")
        k = min(n_show, x.shape[0])
        for a, c in zip(arr, cs, strict=True):
            lines = a.plot(t, x[:k, :, c].T, color=PALETTE["data"], lw=0.6, alpha=0.35)
            lines[0].set_label(f"{k} of {x.shape[0]} trajectories")
            if show_mean:
                m = x[:, :, c].mean(axis=0)
                s = x[:, :, c].std(axis=0, ddof=1) if x.shape[0] > 1 else np.zeros_like(m)
                a.plot(t, m, color=PALETTE["simulation"], lw=1.8, label="ensemble mean ± sd")
                a.fill_between(t, m - s, m + s, color=PALETTE["simulation"], alpha=0.18, lw=0)
            if model is not None:
                mu, sd = _theory_moments(model, ensemble, c)
                a.plot(t, mu, color=PALETTE["theory"], lw=1.3, ls="-", label="exact mean ± sd")
                a.plot(t, mu + sd, color=PALETTE["theory"], lw=1.0, ls="--")
                a.plot(t, mu - sd, color=PALETTE["theory"], lw=1.0, ls="--")
            a.set_xlabel(time_label or _time_label(ensemble))
            if ylabel is None and _time_label(ensemble) == TIME_LABELS["sgd"]:
                a.set_ylabel(rf"$\theta_{{{c + 1}}}$  [parameter units]")
            else:
                a.set_ylabel(ylabel or f"$x_{{{c + 1}}}$  [state units]")
            a.set_title(f"ensemble trajectories, coordinate {c + 1}")
            a.legend(loc="best")
        apply_tick_style(arr)
    return axes


# --------------------------------------------------------------------------- density and current


def plot_stationary_density(model: Any, *, dims: tuple[int, int] = (0, 1), ax: Axes | None = None,
                            n_grid: int = 121, n_stream: float = 1.0, extent: float = 3.2,
                            samples: Any = None, colorbar: bool = True) -> Axes:
    r"""Exact stationary density of a linear model with its probability current.

    Draws the Gaussian density :math:`p(x) = N(x_\star, C)` (filled contours and contour lines,
    ``theory`` colour) and the steady-state current :math:`J(x) = M (x - x_\star) p(x)`,
    :math:`M = -A + D C^{-1}`, as streamlines whose width grows with :math:`|J|`.

    Parameters
    ----------
    model : LinearLangevin or LinearizedSGD
        At least two-dimensional. For SGD the continuous limit ``model.to_langevin()`` is drawn.
    dims : pair of int
        Coordinates shown. For ``d > 2`` the marginal density and the marginal current
        :math:`J_s(x_s) = (M C)_{s s} C_{s s}^{-1} (x_s - x_{\star s})\, p(x_s)` are drawn.
    ax : Axes, optional
    n_grid : int
        Grid points per axis.
    n_stream : float
        Streamline density (``matplotlib`` ``streamplot(density=...)``).
    extent : float
        Half-width of the window in marginal standard deviations.
    samples : array_like (n, d) or Ensemble, optional
        Points to overlay (``simulation`` colour); an Ensemble contributes its final states.
    colorbar : bool
        Add a colour bar for the density.

    Returns
    -------
    Axes

    Notes
    -----
    ``theory/linear_langevin.md`` [LL-current]: in steady state the mean local velocity is
    :math:`v = M x` and the current vanishes iff detailed balance holds.
    """
    from .. import exact

    model, sgd, d, i, j = _density_model(model, dims)
    n_grid = positive_int("n_grid", n_grid)
    g1, g2, X1, X2, sd, p, J = _density_grid(model, i, j, extent, n_grid)
    speed = np.hypot(J[..., 0], J[..., 1])
    with style():
        ax = get_axes(ax, figsize=(5.4, 4.4))
        ax.grid(False)
        cf = ax.contourf(X1, X2, p, levels=14, cmap="Greys", alpha=0.75)
        ax.contour(X1, X2, p, levels=6, colors=PALETTE["theory"], linewidths=0.6, alpha=0.7)
        jmax = float(speed.max())
        pmax = float(p.max())
        # size of the drift flux A x p(x): the current counts as zero far below it
        scale = float(np.max(np.abs(model.A)) * extent * sd.max() * pmax)
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=PALETTE["theory"], lw=0.8,
                          label="exact stationary density p(x)")]
        if jmax > 1e-9 * scale:
            lw = 0.4 + 2.2 * speed / jmax
            ax.streamplot(g1, g2, J[..., 0], J[..., 1], color=PALETTE["estimate"],
                          linewidth=lw, density=n_stream, arrowsize=1.0)
            handles.append(Line2D([], [], color=PALETTE["estimate"], lw=1.5,
                                  label="current J = M x p(x)  (width ∝ |J|)"))
        else:
            note = ("J = 0: detailed balance" if d == 2
                    else "marginal current J = 0 in this plane")
            ax.text(0.03, 0.97, note, transform=ax.transAxes, va="top",
                    fontsize=9, color=PALETTE["theory"])
        if samples is not None:
            handles.append(_overlay_samples(ax, samples, d, i, j))
        if colorbar:
            cb = ax.figure.colorbar(cf, ax=ax, shrink=0.85)
            unit_cb = "parameter units" if sgd else "state units"
            cb.set_label(f"p(x)  [1 / {unit_cb}²]{' (marginal)' if d > 2 else ''}")
        ax.set_xlim(g1[0], g1[-1])
        ax.set_ylim(g2[0], g2[-1])
        sym, unit = (r"\theta", "parameter units") if sgd else ("x", "state units")
        ax.set_xlabel(f"${sym}_{{{i + 1}}}$  [{unit}]")
        ax.set_ylabel(f"${sym}_{{{j + 1}}}$  [{unit}]")
        sigma = exact.entropy_production(model)
        ax.set_title(f"stationary density and current\nσ = {sigma:.3g} nats/time"
                     f"{' (continuous limit)' if sgd else ''}")
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1,
                  frameon=False)
        apply_tick_style(ax)
    return ax


def _density_model(model, dims):
    """``(LinearLangevin, was it a LinearizedSGD, dim, i, j)`` after checking the inputs."""
    from ..models.linear import LinearizedSGD, LinearLangevin

    sgd = isinstance(model, LinearizedSGD)
    if sgd:
        model = model.to_langevin()
    if not isinstance(model, LinearLangevin):
        raise ValidationError(
            f"model={type(model).__name__} must be a LinearLangevin or LinearizedSGD model"
        )
    d = model.dim
    if d < 2:
        raise ValidationError(
            f"plot_stationary_density needs a model of dimension >= 2 (got {d}); a "
            "one-dimensional stationary state carries no current"
        )
    i, j = (int(v) for v in dims)
    if i == j or not (0 <= i < d and 0 <= j < d):
        raise ValidationError(f"dims={dims!r} must be two different coordinates in 0..{d - 1}")
    return model, sgd, d, i, j


def _density_grid(model, i, j, extent, n_grid):
    """Grid, marginal stationary density ``p`` and current ``J = M x p`` in the plane (i, j).

    Returns ``(g1, g2, X1, X2, sd, p, J)``; ``sd`` are the marginal standard deviations.
    """
    from .. import exact

    C = exact.stationary_covariance(model)
    M = exact.current_matrix(model)
    s = [i, j]
    Css = C[np.ix_(s, s)]
    Ms = (M @ C)[s][:, s] @ np.linalg.inv(Css)  # marginal current matrix
    centre = model.x_star[s]
    sd = np.sqrt(np.diag(Css))
    g1 = np.linspace(centre[0] - extent * sd[0], centre[0] + extent * sd[0], n_grid)
    g2 = np.linspace(centre[1] - extent * sd[1], centre[1] + extent * sd[1], n_grid)
    X1, X2 = np.meshgrid(g1, g2)
    Y = np.stack([X1 - centre[0], X2 - centre[1]], axis=-1)
    Cinv = np.linalg.inv(Css)
    quad = np.einsum("...i,ij,...j->...", Y, Cinv, Y)
    p = np.exp(-0.5 * quad) / (2 * np.pi * np.sqrt(np.linalg.det(Css)))
    J = np.einsum("ij,...j->...i", Ms, Y) * p[..., None]
    return g1, g2, X1, X2, sd, p, J


def _overlay_samples(ax, samples, d, i, j):
    """Scatter at most 2000 states in the plane (i, j); returns their legend handle."""
    from matplotlib.lines import Line2D

    pts = samples.final if hasattr(samples, "final") else as_float_array(
        "samples", samples, ndim=2)
    if pts.shape[1] != d:
        raise ShapeError(f"samples have {pts.shape[1]} coordinates, the model has {d}")
    pts = pts[:2000]
    ax.scatter(pts[:, i], pts[:, j], s=5, color=PALETTE["simulation"], alpha=0.55,
               lw=0, zorder=3)
    return Line2D([], [], color=PALETTE["simulation"], marker="o", ls="", ms=3,
                  label=f"simulated states ({pts.shape[0]})")


# --------------------------------------------------------------------------- entropy production


def _theory_curve(x, theory):
    """``(x_line, y_line)`` of a theory given as values at ``x``, a pair or a callable."""
    if theory is None:
        return None
    if callable(theory):
        xs = np.linspace(np.min(x), np.max(x), 200)
        return xs, np.array([float(theory(v)) for v in xs])
    if isinstance(theory, tuple) and len(theory) == 2:
        return np.asarray(theory[0], float), np.asarray(theory[1], float)
    y = np.asarray(theory, dtype=float)
    if y.shape != np.shape(x):
        raise ShapeError(f"theory has shape {y.shape} but x has shape {np.shape(x)}")
    order = np.argsort(x)
    return np.asarray(x, float)[order], y[order]


def plot_entropy_production(x: ArrayLike, estimates: Any, theory: Any = None, *,
                            ax: Axes | None = None, xlabel: str = "non-equilibrium strength",
                            ylabel: str = "entropy production rate σ  [nats/time]",
                            label: str = "estimate ± 1 s.e.", theory_label: str = "exact",
                            z_scores: bool = True) -> Axes:
    r"""Entropy production estimates with error bars against the exact rate.

    Parameters
    ----------
    x : array_like, shape (n,)
        Abscissa (e.g. the strength of the non-equilibrium drive).
    estimates : sequence of Estimate, (values, stderrs) pair, or dict label -> either
        The estimates (several methods: a dict, one series colour each).
    theory : array_like (n,), callable, or (x_line, y_line), optional
        Exact rate :math:`\sigma` (``stochthermo.exact.entropy_production``).
    ax : Axes, optional
    xlabel, ylabel, label, theory_label : str
    z_scores : bool
        With ``theory`` at the same ``x``, show the largest ``|z| = |estimate - exact| / s.e.``
        in the legend.

    Returns
    -------
    Axes
    """
    x = as_float_array("x", x, ndim=1)
    series = estimates if isinstance(estimates, dict) else {label: estimates}
    with style():
        ax = get_axes(ax)
        curve = _theory_curve(x, theory)
        if curve is not None:
            ax.plot(*curve, color=PALETTE["theory"], lw=1.6, label=theory_label, zorder=2)
        markers = "osD^v"
        for k, (name, est) in enumerate(series.items()):
            v, s = stack_estimates(est)
            if v.shape != x.shape:
                raise ShapeError(f"estimates {name!r} have {v.size} values but x has {x.size}")
            color = PALETTE["estimate"] if len(series) == 1 else series_color(k)
            lab = name
            if z_scores and theory is not None and not callable(theory) and not (
                    isinstance(theory, tuple)):
                with np.errstate(divide="ignore", invalid="ignore"):
                    z = np.abs(v - np.asarray(theory, float)) / s
                if np.any(np.isfinite(z)):
                    lab = f"{name} (max |z| = {np.nanmax(z):.1f})"
            off = 0.0 if len(series) == 1 else (k - (len(series) - 1) / 2) * 0.006 * np.ptp(x)
            ax.errorbar(x + off, v, yerr=np.where(np.isfinite(s), s, 0.0), fmt=markers[k % 5],
                        ms=5, color=color, mfc="white", mew=1.3, capsize=3, lw=1.2, label=lab,
                        zorder=3)
        ax.axhline(0.0, color=PALETTE["theory"], lw=0.5, alpha=0.6)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title("entropy production: estimate vs exact")
        ax.legend(loc="best")
        apply_tick_style(ax)
    return ax


# --------------------------------------------------------------------------- information


#: Legend labels of the information quantities of ``GaussianLearner.closed_form``.
INFO_LABELS = {
    "m_info": r"M-info $I(\Theta_t; B)$",
    "l_info": r"L-info $I(X_{t+1}; B)$",
    "i_x_theta": r"$I(X_{t+1}; \Theta_t)$",
    "l_info_functional": r"L-info (functional) $I(p_{\Theta_t}; B)$",
    "l_info_flow": r"L-info (flow) $\sum_s \dot I^X_s$",
    "info_flow_x": r"info flow into X $\dot I^X_t$",
    "info_flow_theta": r"info flow into $\Theta$ $\dot I^\Theta_t$",
    "work": r"work $W_t$",
    "heat": r"heat $Q_t$",
    "sigma_x": r"entropy production of X $\sigma^X_t$",
    "sigma_x_kl": r"$\sigma^X_t$ (KL form)",
}


def _as_curve(name, t, value):
    """``(t, y, err)`` from values at ``t`` (array or Estimate) or a pair ``(t_own, values)``."""
    if isinstance(value, dict):
        raise ValidationError(f"curve {name!r}: nested dicts are not allowed here")
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValidationError(f"curve {name!r}: a tuple must be (t_own, values)")
        tt = np.asarray(value[0], dtype=float)
        v, s = value_and_error(value[1])
    else:
        tt = np.asarray(t, dtype=float)
        v, s = value_and_error(value)
    if v.shape != tt.shape:
        raise ShapeError(f"curve {name!r} has shape {v.shape} but its times have shape "
                         f"{tt.shape}; pass (t_own, values) for a curve on its own grid")
    return tt, v, np.broadcast_to(s, v.shape)


def plot_information(t: ArrayLike, curves: Mapping[str, Any], *, ax: Axes | None = None,
                     xlabel: str = TIME_LABELS["steps"], ylabel: str = "information  [nats]",
                     title: str | None = None, labels: Mapping[str, str] | None = None) -> Axes:
    r"""Information quantities over training: closed forms (lines) against simulation.

    Parameters
    ----------
    t : array_like, shape (n,)
        Steps (or times) of the curves given as plain arrays.
    curves : dict
        ``name -> {"theory": ..., "simulation": ...}`` (either key optional) or
        ``name -> array`` (taken as theory). A theory is an array at ``t`` or a pair
        ``(t_own, values)``; a simulation is an :class:`~stochthermo.Estimate` at ``t`` or a
        pair ``(t_own, Estimate)``; it is drawn as markers with a
        shaded ``±1`` standard-error band. Names such as ``m_info``, ``l_info``,
        ``i_x_theta`` get readable labels (:data:`INFO_LABELS`).
    ax : Axes, optional
    xlabel, ylabel, title : str
    labels : dict, optional
        Overrides of the legend labels.

    Returns
    -------
    Axes

    Notes
    -----
    For the linear-Gaussian lagged learner (``theory/learning.md``) the closed forms come from
    :meth:`stochthermo.learning.GaussianLearner.closed_form` and the simulation from
    :meth:`~stochthermo.learning.GaussianLearner.estimate`. Data processing along
    :math:`B \to \Theta_t \to X_{t+1}` gives L-info :math:`\le` M-info.
    """
    if not isinstance(curves, dict) or not curves:
        raise ValidationError("curves must be a non-empty dict name -> {'theory', 'simulation'}")
    names = dict(INFO_LABELS)
    names.update(labels or {})
    from matplotlib.lines import Line2D

    with style():
        ax = get_axes(ax, figsize=(5.8, 3.9))
        has_th = has_sim = False
        for k, (name, spec) in enumerate(curves.items()):
            if not isinstance(spec, dict):
                spec = {"theory": spec}
            bad = set(spec) - {"theory", "simulation"}
            if bad:
                raise ValidationError(f"curve {name!r} has unknown keys {sorted(bad)}; use "
                                      "'theory' and 'simulation'")
            color = series_color(k)
            lab = names.get(name, name)
            if spec.get("theory") is not None:
                tt, y, _ = _as_curve(name, t, spec["theory"])
                ax.plot(tt, y, color=color, lw=1.7, label=lab)
                has_th = True
                lab = None
            if spec.get("simulation") is not None:
                tt, y, s = _as_curve(name, t, spec["simulation"])
                ok = np.isfinite(s)
                ax.fill_between(tt, y - np.where(ok, s, 0), y + np.where(ok, s, 0), color=color,
                                alpha=0.2, lw=0)
                ax.plot(tt, y, "o", ms=4, color=color, mfc="white", mew=1.2, label=lab)
                has_sim = True
        handles, labs = ax.get_legend_handles_labels()
        if has_th:
            handles.append(Line2D([], [], color=PALETTE["theory"], lw=1.7))
            labs.append("lines: closed form")
        if has_sim:
            handles.append(Line2D([], [], color=PALETTE["theory"], marker="o", mfc="white",
                                  ls=""))
            labs.append("markers: simulation ± 1 s.e.")
        ax.legend(handles, labs, loc="best")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title or "information over training")
        apply_tick_style(ax)
    return ax


# --------------------------------------------------------------------------- convergence


def _estimate_sequence(errors: Any) -> bool:
    """True for a non-empty sequence of :class:`Estimate` (anything with ``.value``)."""
    return hasattr(errors, "__len__") and bool(len(errors)) and hasattr(errors[0], "value")


def _fit_slope(dts, errors, stderr=None):
    """``(slope, slope_stderr, intercept)`` of ``ln errors`` against ``ln dts``.

    Weighted by ``stderr`` when every relative error is positive and finite (weights taken as
    relative, scaled by the residuals), else unweighted: :func:`.._stats.loglog_fit`.
    """
    if stderr is not None:
        rel = np.asarray(stderr, float) / np.asarray(errors, float)
        if not (np.all(np.isfinite(rel)) and np.all(rel > 0)):
            stderr = None
    return loglog_fit(dts, errors, stderr, absolute_sigma=False)


def fit_slope(dts: ArrayLike, errors: ArrayLike,
              stderr: ArrayLike | None = None) -> tuple[float, float, float]:
    """Deprecated: use :func:`stochthermo.estimate.loglog_slope` (``absolute_sigma=False``).

    Returns ``(slope, slope_stderr, intercept)`` (natural logarithms) as before.
    """
    warnings.warn(
        "stochthermo.plotting.fit_slope is deprecated and will be removed in the next release; "
        "use stochthermo.estimate.loglog_slope(dts, errors, yerr=stderr, absolute_sigma=False)",
        DeprecationWarning, stacklevel=2)
    return _fit_slope(dts, errors, stderr)


def plot_convergence(dts: ArrayLike, errors: ArrayLike | Sequence[Estimate], *,
                     slope: float | tuple[float, float] | None = None, order: float | None = None,
                     stderr: ArrayLike | None = None, ax: Axes | None = None,
                     label: str = "measured error", xlabel: str = "time step Δt  [units of 1/A]",
                     ylabel: str = "error", title: str | None = None) -> Axes:
    r"""Convergence order: error against step size on log-log axes, with the fitted slope.

    Parameters
    ----------
    dts : array_like, shape (n,)
        Step sizes (> 0).
    errors : array_like (n,) or sequence of Estimate
        Errors (> 0), e.g. strong errors :math:`E|X^{\Delta t}_T - X_T|` on nested grids.
    slope : float or (slope, slope_stderr), optional
        A slope already fitted; by default it is fitted here (weighted by ``stderr``).
    order : float, optional
        The declared order, drawn as a reference line through the first point.
    stderr : array_like (n,), optional
        Error bars of ``errors`` (taken from Estimates when given those).
    ax : Axes, optional
    label, xlabel, ylabel, title : str

    Returns
    -------
    Axes
    """
    dts = as_float_array("dts", dts, ndim=1)
    se: np.ndarray | None
    if _estimate_sequence(errors):
        err, se = stack_estimates(errors)
    else:
        err = as_float_array("errors", errors, ndim=1)
        se = None if stderr is None else as_float_array("stderr", stderr, ndim=1)
    if err.shape != dts.shape:
        raise ShapeError(f"errors have {err.size} values but dts has {dts.size}")
    if np.any(dts <= 0) or np.any(err <= 0):
        raise ValidationError("dts and errors must be > 0 for a log-log convergence plot")
    fit_se = None
    if slope is None:
        slope, fit_se, intercept = _fit_slope(dts, err, se)
    else:
        if isinstance(slope, tuple):
            slope, fit_se = slope
        slope = float(slope)
        intercept = float(np.mean(np.log(err) - slope * np.log(dts)))
    with style():
        ax = get_axes(ax)
        yerr = None if se is None else np.where(np.isfinite(se), se, 0.0)
        ax.errorbar(dts, err, yerr=yerr, fmt="o", ms=5, color=PALETTE["estimate"],
                    mfc="white", mew=1.3, capsize=3, label=label, zorder=3)
        xs = np.geomspace(dts.min(), dts.max(), 50)
        fit_lab = f"fit: slope {slope:.2f}" + (
            f" ± {fit_se:.2f}" if fit_se is not None and np.isfinite(fit_se) else "")
        ax.plot(xs, np.exp(intercept) * xs**slope, color=PALETTE["simulation"], lw=1.5,
                label=fit_lab)
        if order is not None:
            i0 = int(np.argmax(dts))
            ax.plot(xs, err[i0] * (xs / dts[i0]) ** float(order), color=PALETTE["theory"],
                    ls="--", lw=1.2, label=f"declared order {float(order):g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        from matplotlib.ticker import FixedLocator, NullFormatter

        ax.xaxis.set_major_locator(FixedLocator(np.unique(dts).tolist()))
        ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:g}")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title or "convergence order")
        ax.legend(loc="best")
        apply_tick_style(ax)
    return ax
