r"""The four panels of the paper's Fig. 4.1 from a dictionary of arrays.

The dictionary can be built from a simulation (:func:`stochthermo.learning.fig41`, see
:func:`fig41_data_from_result`) or from real training runs read by the bridge
(:func:`stochthermo.bridge.diagnose`, see :func:`fig41_data_from_diagnostics`), so that both
sources are drawn the same way; ``theory/learning.md`` section 6, ``theory/bridge.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ValidationError
from ._style import (
    PALETTE,
    apply_tick_style,
    format_pm,
    get_axes,
    savefig_atomic,
    series_color,
    style,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any

    from .._typing import PathLike

__all__ = ["plot_fig41_panels", "save_fig41_panels", "fig41_data_from_result",
           "fig41_data_from_diagnostics"]

#: default file names of the four panels written by :func:`save_fig41_panels`
FIG41_FILES = ("fig41a_parameters.png", "fig41b_accuracy.png", "fig41c_noise_variance.png",
               "fig41d_autocorrelation.png")

_REQUIRED = ("batch_sizes", "steps", "shown", "noise_var")


def fig41_data_from_result(result: Any) -> dict:
    r"""Panel data from a :class:`stochthermo.learning.Fig41Result` (a simulated experiment).

    The noise variance is :math:`(1/d) \sum_i \mathrm{Var}[\eta_i]` (gradient units squared);
    the reference line is the ensemble mean of :math:`\max_i |\partial_i U_B|`.
    """
    bs = tuple(result.batch_sizes)
    return {
        "batch_sizes": bs,
        "steps": np.asarray(result.steps),
        "shown": dict(result.shown_params),
        "eval_steps": np.asarray(result.eval_steps),
        "accuracy_mean": dict(result.accuracy_mean),
        "accuracy_var": dict(result.accuracy_var),
        "accuracy_label": "accuracy",
        "noise_steps": np.asarray(result.steps)[1:],
        "noise_var": dict(result.noise_variance),
        "noise_label": r"$\overline{\mathrm{Var}[\eta_i]}$ (mean over i)  [gradient²]",
        "reference_steps": np.asarray(result.eval_steps),
        "reference": dict(result.grad_max),
        "reference_label": r"$\max_i |\partial_i U_B|$",
        "autocorr": dict(result.autocorrelation),
        "lag_label": "lag  [SGD steps]",
        "exponent": float(result.exponent),
        "exponent_stderr": float(result.exponent_stderr),
    }


def fig41_data_from_diagnostics(diag: Any, *, scalar: str | None = None) -> dict:
    r"""Panel data from :func:`stochthermo.bridge.diagnose` (real checkpoints).

    Parameters
    ----------
    diag : stochthermo.bridge.Diagnostics
    scalar : str, optional
        Logged scalar shown in panel (b) (default: the first tag containing ``"acc"``, else
        the first tag).

    Notes
    -----
    The bridge measures the noise on the increments between checkpoints: ``noise_var`` is
    :math:`r^2 (1/d)\sum_i \mathrm{Var}[\eta_i]` per SGD step (parameter units squared) and
    the reference line is :math:`(\max_i |\langle\Delta\theta_i\rangle| / k)^2`, i.e.
    :math:`(r \max_i |\partial_i U_B|)^2` (``theory/bridge.md``).
    """
    runs = sorted(diag.runs, key=lambda r: (r.batch_size is None, r.batch_size or 0, r.name))
    if not runs:
        raise ValidationError("diag holds no runs")
    keys = [r.batch_size if r.batch_size is not None else r.name for r in runs]
    out: dict[str, Any] = {
        "batch_sizes": tuple(keys),
        "steps": {k: r.steps for k, r in zip(keys, runs, strict=True)},
        "shown": {k: r.trajectories for k, r in zip(keys, runs, strict=True)},
        "shown_labels": list(runs[0].indices),
        "noise_steps": {k: r.steps[1:] for k, r in zip(keys, runs, strict=True)},
        "noise_var": {k: r.noise_var for k, r in zip(keys, runs, strict=True)},
        "noise_var_stderr": {k: r.noise_var_stderr for k, r in zip(keys, runs, strict=True)},
        "noise_label": r"$r^2\, \overline{\mathrm{Var}[\eta_i]}$ per step  [param²]",
        "reference_steps": {k: r.steps[1:] for k, r in zip(keys, runs, strict=True)},
        "reference": {k: r.drift_max**2 for k, r in zip(keys, runs, strict=True)},
        "reference_label": r"$(r\,\max_i |\partial_i U_B|)^2$",
        "autocorr": {k: r.autocorr for k, r in zip(keys, runs, strict=True)},
        "autocorr_stderr": {k: r.autocorr_stderr for k, r in zip(keys, runs, strict=True)},
        "lag_label": "lag  [checkpoints]",
    }
    acc_m, acc_v, acc_s = {}, {}, {}
    tag_used = None
    for k, r in zip(keys, runs, strict=True):
        tags = list(r.scalars)
        tag = scalar if scalar in tags else next((t for t in tags if "acc" in t.lower()),
                                                 tags[0] if tags else None)
        if tag is None:
            continue
        tag_used = tag_used or tag
        steps, mean, var, _n = r.scalars[tag]
        acc_s[k], acc_m[k], acc_v[k] = np.asarray(steps), np.asarray(mean), np.asarray(var)
    if acc_m:
        out.update(eval_steps=acc_s, accuracy_mean=acc_m, accuracy_var=acc_v,
                   accuracy_label=tag_used)
    if diag.batch_scaling is not None:
        out["exponent"] = float(diag.batch_scaling.value)
        out["exponent_stderr"] = float(diag.batch_scaling.stderr)
    return out


def _per_batch(data, key, b):
    v = data.get(key)
    if isinstance(v, dict):
        return v.get(b)
    return v


def _series(data: Mapping[str, Any], key: str, companion: str,
            bs: Sequence[Any]) -> Iterator[tuple[int, Any, np.ndarray, Any]]:
    """``(k, batch size, values of key, values of companion or None)`` per batch size.

    ``k`` is the batch size's position in ``bs`` (its colour); batch sizes without ``key`` are
    skipped.
    """
    for k, bsz in enumerate(bs):
        values = _per_batch(data, key, bsz)
        if values is None:
            continue
        yield k, bsz, np.asarray(values), _per_batch(data, companion, bsz)


def _label(b):
    return f"|b| = {b}" if isinstance(b, int | np.integer) else str(b)


#: what the panels leave out (as gaps) because matplotlib cannot place it on an axis: magnitudes
#: past 1e300 on the linear axes (an axis span past the float64 range), and on the logarithmic
#: noise-variance axis values outside [1e-100, 1e100] (its head room for the legend multiplies
#: the span). A diverging run reaches both; the data given are not changed (analyze's summary.json
#: keeps every value).
LINEAR_MAX = 1e300
LOG_RANGE = (1e-100, 1e100)
#: panel-data key -> (low, high) of the values drawn; low None: a bound on the magnitude
_BOUNDS = {"noise_var": LOG_RANGE, "reference": LOG_RANGE,
           "noise_var_stderr": (None, LOG_RANGE[1])}


def _drawable(data: dict) -> dict:
    """Panel data with the values matplotlib cannot place as NaN (see :data:`LOG_RANGE`)."""
    return {k: _bounded(v, *_BOUNDS.get(k, (None, LINEAR_MAX))) for k, v in data.items()}


def _bounded(value, low, high):
    if isinstance(value, dict):
        return {k: _bounded(v, low, high) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            if low is None:
                bad = np.abs(value) > high
            else:  # a logarithmic axis drops values <= 0 itself
                bad = (value > high) | ((value > 0) & (value < low))
        return np.where(bad, np.nan, value)
    return value


def plot_fig41_panels(data: Mapping[str, Any], *, axes: Any = None, show_batch: Any = None,
                      n_params: int = 3) -> np.ndarray:
    r"""Draw the four Fig. 4.1 panels: (a) parameters, (b) accuracy, (c) noise, (d) autocorrelation.

    Parameters
    ----------
    data : dict
        Keys (per-batch-size entries are dicts keyed by batch size):
        ``batch_sizes``; ``steps`` (array, or dict per batch size); ``shown`` (trajectories of
        a few parameters, ``(n_trials, n_steps, n_shown)``); ``noise_var`` (parameter-averaged
        noise variance per step) with optional ``noise_steps``, ``noise_var_stderr``,
        ``noise_label``; optional ``reference`` / ``reference_steps`` / ``reference_label``
        (the ``max_i |d_i U_B|`` line, dashed); optional ``eval_steps``, ``accuracy_mean``,
        ``accuracy_var``, ``accuracy_label``; optional ``autocorr``, ``autocorr_stderr``,
        ``lag_label``; optional ``exponent``, ``exponent_stderr`` (fitted batch-size exponent
        of the noise variance, expected -1). :func:`fig41_data_from_result` and
        :func:`fig41_data_from_diagnostics` build it.
    axes : array of 4 Axes, optional
        Default: a new 2 x 2 figure.
    show_batch : optional
        Batch size whose trajectories are shown in panel (a) (default: the smallest).
    n_params : int
        At most this many parameters in panel (a).

    Returns
    -------
    numpy.ndarray of Axes, shape (2, 2) (or the ``axes`` given)

    Notes
    -----
    Trials share their initialisation, so the noise is the deviation of a trial's increment
    from the ensemble-mean increment; its variance should scale as :math:`1/|b|` and its
    autocorrelation vanish at lags :math:`\ge 1` (white noise), ``theory/learning.md``
    section 6.
    """
    if not isinstance(data, dict):
        raise ValidationError("data must be a dict (see fig41_data_from_result)")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ValidationError(f"data is missing {missing}; see plot_fig41_panels' docstring")
    bs = tuple(data["batch_sizes"])
    if not bs:
        raise ValidationError("data['batch_sizes'] is empty")
    show = show_batch if show_batch is not None else bs[0]
    if show not in bs:
        raise ValidationError(f"show_batch={show!r} is not one of batch_sizes={bs}")
    data = _drawable(data)
    created = axes is None
    with style():
        axes = get_axes(axes, nrows=2, ncols=2, figsize=(10.5, 7.4))
        flat = np.asarray(axes).ravel()
        if flat.size != 4:
            raise ValidationError(f"axes must hold 4 Axes, got {flat.size}")
        a, b_ax, c, d = flat

        _panel_parameters(a, data, show, n_params)
        _panel_accuracy(b_ax, data, bs)
        _panel_noise_variance(c, data, bs)
        _panel_autocorr(d, data, bs)
        apply_tick_style(flat)
        if created:
            flat[0].figure.tight_layout()
    return axes


def _panel_parameters(a, data, show, n_params):
    """Panel (a): a few parameters across trials, for batch size ``show``."""
    p = np.asarray(_per_batch(data, "shown", show))
    steps = np.asarray(_per_batch(data, "steps", show))
    names = data.get("shown_labels")
    for i in range(min(n_params, p.shape[2])):
        lines = a.plot(steps, p[:, :, i].T, color=series_color(i), lw=0.7, alpha=0.45)
        lines[0].set_label(names[i] if names else f"parameter {i + 1}")
    a.set_xlabel("SGD step n")
    a.set_ylabel(r"parameter value $\theta_i$")
    a.set_title(f"(a) parameters across {p.shape[0]} trials, {_label(show)}")
    a.legend(loc="best")


def _panel_accuracy(b_ax, data, bs):
    """Panel (b): accuracy, ensemble mean +- sd per batch size."""
    if data.get("accuracy_mean"):
        for k, bsz, m, var in _series(data, "accuracy_mean", "accuracy_var", bs):
            ts = np.asarray(_per_batch(data, "eval_steps", bsz))
            b_ax.plot(ts, m, color=series_color(k), lw=1.5, label=_label(bsz))
            if var is not None:
                sd = np.sqrt(np.clip(np.asarray(var), 0, None))
                b_ax.fill_between(ts, m - sd, m + sd, color=series_color(k), alpha=0.2, lw=0)
        b_ax.legend(loc="best", title="mean ± sd over trials")
        lab = data.get("accuracy_label", "accuracy")
    else:
        b_ax.text(0.5, 0.5, "no accuracy logged", ha="center", va="center",
                  transform=b_ax.transAxes, color=PALETTE["theory"])
        lab = "accuracy"
    b_ax.set_xlabel("SGD step n")
    b_ax.set_ylabel(f"{lab} (ensemble)")
    b_ax.set_title("(b) accuracy over training")


def _panel_noise_variance(c, data, bs):
    """Panel (c): noise variance per batch size, with the gradient reference line."""
    for k, bsz in enumerate(bs):
        v = np.asarray(_per_batch(data, "noise_var", bsz))
        ts = _per_batch(data, "noise_steps", bsz)
        ts = np.arange(1, v.size + 1) if ts is None else np.asarray(ts)
        col = series_color(k)
        c.plot(ts, v, color=col, lw=1.3, label=_label(bsz))
        se = _per_batch(data, "noise_var_stderr", bsz)
        if se is not None:
            se = np.asarray(se)
            lo = np.clip(v - se, v * 1e-3, None)
            c.fill_between(ts, lo, v + se, color=col, alpha=0.18, lw=0)
        ref = _per_batch(data, "reference", bsz)
        if ref is not None:
            rs = _per_batch(data, "reference_steps", bsz)
            rs = ts if rs is None else np.asarray(rs)
            c.plot(rs, np.asarray(ref), color=col, lw=1.0, ls="--")
    c.set_yscale("log")
    c.set_xlabel("SGD step n")
    c.set_ylabel(data.get("noise_label", "noise variance"))
    title = "(c) SGD noise variance"
    if data.get("exponent") is not None:
        pm = format_pm(data["exponent"], data.get("exponent_stderr", float("nan")),
                       mathtext=True)
        title += rf": $\propto |b|^{{{pm}}}$, expected $|b|^{{-1}}$"
    c.set_title(title)
    handles, labels = c.get_legend_handles_labels()
    if data.get("reference") is not None:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color=PALETTE["theory"], ls="--", lw=1.0))
        labels.append("dashed: " + data.get("reference_label", "reference"))
    lo, hi = c.get_ylim()
    if 0 < lo < hi < np.inf:  # an axis with no positive finite data keeps its limits
        c.set_ylim(lo, hi * (hi / lo) ** 0.35)  # head room for the legend
    c.legend(handles, labels, loc="upper center", ncol=2)


def _panel_autocorr(d, data, bs):
    """Panel (d): normalised noise autocorrelation per batch size."""
    if data.get("autocorr"):
        n_b = len(bs)
        for k, bsz, ac, se in _series(data, "autocorr", "autocorr_stderr", bs):
            lags = np.arange(ac.size) + (k - (n_b - 1) / 2) * 0.08
            d.errorbar(lags, ac, yerr=None if se is None else np.asarray(se), fmt="o-",
                       ms=4, lw=1.0, capsize=2, color=series_color(k), label=_label(bsz))
        d.axhline(0.0, color=PALETTE["theory"], lw=1.0, ls="--", label="white noise")
        d.legend(loc="best")
    d.set_xlabel(data.get("lag_label", "lag  [SGD steps]"))
    d.set_ylabel("normalised noise autocorrelation")
    d.set_title("(d) noise autocorrelation (parameter average)")


def save_fig41_panels(data: Mapping[str, Any], out_dir: PathLike, *,
                      names: Sequence[str] = FIG41_FILES, **kwargs: Any) -> list:
    """Draw the four panels of :func:`plot_fig41_panels` as four PNG files, written atomically.

    Parameters
    ----------
    data : dict
        As for :func:`plot_fig41_panels` (see :func:`fig41_data_from_result` and
        :func:`fig41_data_from_diagnostics`).
    out_dir : str or os.PathLike
        Created if missing.
    names : sequence of 4 str
        File names of panels (a)-(d).
    **kwargs
        Passed to :func:`plot_fig41_panels` (``show_batch``, ``n_params``).

    Returns
    -------
    list of pathlib.Path
    """
    import matplotlib.pyplot as plt

    if len(names) != 4:
        raise ValidationError(f"names={names!r} must give 4 file names, one per panel")
    out_dir = Path(out_dir)
    with style():
        figs = [plt.figure(figsize=(5.6, 4.0)) for _ in range(4)]
        axes = [f.add_subplot() for f in figs]
        plot_fig41_panels(data, axes=np.array(axes), **kwargs)
    paths = []
    for fig, name in zip(figs, names):
        fig.tight_layout()
        paths.append(savefig_atomic(fig, out_dir / name))
        plt.close(fig)
    return paths
