"""``report.html`` of ``stochthermo analyze``: the diagnostics of training runs on one page.

Built with :mod:`stochthermo.report` (the demo's builder): the runs and their settings, the
validity window of the ensemble noise estimate (per-interval noise with the intervals that
fail marked), the effective temperature against ``lr / |b|``, the Fig. 4.1 panels, the
thermodynamic quantities when probe outputs exist, and every warning.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["analysis_report"]


def _fmt(x, spec=".3g") -> str:
    if x is None:
        return "-"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "-" if not math.isfinite(v) else f"{v:{spec}}"


def _est(e) -> str:
    return "-" if e is None else f"{_fmt(e.value)} ± {_fmt(e.stderr, '.2g')}"


def _png(fig, notes: list):
    """The figure as PNG bytes, or None (and a note why) when matplotlib cannot draw it.

    A diverged run's values (every noise estimate infinite, spans past the float64 range) can
    leave matplotlib unable to place an axis; the page then says so instead of failing.
    """
    from ..report import figure_png

    try:
        return figure_png(fig)
    except (ValueError, OverflowError) as exc:
        import matplotlib.pyplot as plt

        plt.close(fig)
        notes.append(f"a figure was not drawn: matplotlib cannot place these values on an axis "
                     f"({type(exc).__name__}: {str(exc)[:200]})")
        return None


def _noise_figure(diag):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    for r in diag.runs:
        if r.noise_var.size == 0:
            continue
        mid = 0.5 * (r.steps[:-1] + r.steps[1:])
        v = np.where(r.noise_var > 0, r.noise_var, np.nan)
        line, = ax.plot(mid, v, lw=1.2, label=f"{r.name} (|b| = {r.batch_size})")
        if r.valid is not None and (~r.valid).any():
            bad = ~r.valid
            ax.plot(mid[bad], v[bad], "x", color=line.get_color(), ms=5)
        if r.noise_var_logged is not None and r.lr is not None:
            ok = np.isfinite(r.noise_var_logged)
            ax.plot(r.steps[ok], r.lr ** 2 * r.noise_var_logged[ok], "o", ms=3,
                    color=line.get_color(), alpha=0.7)
    if diag.window is not None:
        ax.axvspan(*diag.window, color="0.85", zorder=0, label="valid window")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("noise variance per parameter and step")
    ax.legend(fontsize=8, frameon=False)
    return fig


def _temperature_figure(diag):
    import matplotlib.pyplot as plt

    pts = [(r.lr / r.batch_size, r.temperature) for r in diag.runs
           if r.temperature is not None and r.batch_size and r.lr
           and math.isfinite(r.temperature.value) and r.temperature.value > 0]
    if len(pts) < 1:
        return None
    x = np.array([p[0] for p in pts])
    y = np.array([p[1].value for p in pts])
    e = np.array([p[1].stderr for p in pts])
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    ax.errorbar(x, y, yerr=np.where(np.isfinite(e), e, 0), fmt="o", capsize=3)
    if x.size >= 2:
        ref = y[0] * x / x[0]
        ax.plot(x, ref, "--", color="0.5", lw=1, label="T ∝ lr/|b| (slope 1)")
        ax.legend(fontsize=8, frameon=False)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("lr / |b|")
    ax.set_ylabel("effective temperature")
    return fig


def _runs_section(rep, diag):
    """The table of runs; returns the section (the warnings are added once figures are drawn)."""
    s = rep.section("Runs")
    rows = []
    for r in diag.runs:
        win = "all" if diag.window is None else diag.window
        m = r.mean_noise_var(win) if r.noise_var.size else None
        rows.append([r.name, str(r.batch_size) if r.batch_size else "-", _fmt(r.lr),
                     str(r.meta.get("n_trials", "")), str(r.steps.size), _est(m),
                     _est(r.temperature), _est(r.logged_noise_var())])
    s.table(["run", "|b|", "lr", "trials", "checkpoints", "noise var (window)", "T_eff",
             "noise var (logged gradients)"], rows,
            caption="Noise variance per parameter and step, averaged over the valid window; "
            "T_eff = noise var / (2 lr); the last column from logged mini-batch and full-batch "
            "gradients where the run has them")
    return s


def _window_section(rep, diag, notes):
    """The validity window, the per-run interval tests and the noise figure."""
    s = rep.section("Validity window")
    if diag.window is None:
        s.text("No step range in which every run's ensemble noise estimate passes its tests: "
               "the exponent and the temperatures below average over all intervals and are "
               "not trustworthy.")
    else:
        s.text(f"Valid window: steps {diag.window[0]} to {diag.window[1]}. The temperature "
               "and the batch-size exponent use only the intervals inside it.")
    vrows = []
    for r in diag.runs:
        if r.valid is None:
            continue
        bad = np.flatnonzero(~r.valid)
        first_bad = "-" if bad.size == 0 else f"{int(r.steps[bad[0]])}-{int(r.steps[bad[0] + 1])}"
        vrows.append([r.name, f"{int(r.valid.sum())} / {r.valid.size}", first_bad,
                      _fmt(np.nanmax(np.abs(r.rho))
                           if r.rho is not None and not np.isnan(r.rho).all() else None, ".2f"),
                      _fmt(np.nanmax(r.growth[np.isfinite(r.growth)])
                           if r.growth is not None and np.isfinite(r.growth).any() else None,
                           ".2f"),
                      "-" if r.window is None else f"{r.window[0]}-{r.window[1]}"])
    if vrows:
        s.table(["run", "intervals passing", "first failing interval", "max |rho|",
                 "max growth", "run's own window"], vrows,
                caption="rho: correlation of a trial's increment deviation with its "
                "displacement from the ensemble mean; growth: ensemble spread over the noise "
                "accumulated before the interval")
    png = _png(_noise_figure(diag), notes) if any(r.noise_var.size for r in diag.runs) else None
    if png is not None:
        s.figure(png,
                 "Noise variance per interval (lines), intervals failing the validity tests "
                 "(crosses), noise from logged gradients (dots) and the valid window (grey). "
                 "Look for the lines to follow the dots inside the window and to leave them "
                 "where the trials separate.")


def _temperature_section(rep, diag, notes):
    """The batch-size exponent and the temperature figure."""
    s = rep.section("Temperature and batch size")
    if diag.batch_scaling is not None:
        s.table(["quantity", "value"], [
            ["noise variance ~ |b|^alpha: alpha (window)", _est(diag.batch_scaling)],
            ["alpha from logged gradients", _est(diag.batch_scaling_logged)],
            ["theory", "-1"]], caption="Batch-size exponent")
        s.warnings(diag.batch_scaling.warnings, title="Exponent warnings")
    fig = _temperature_figure(diag)
    png = None if fig is None else _png(fig, notes)
    if png is not None:
        s.figure(png, "Effective temperature of each run against lr/|b|; theory "
                 "predicts a straight line of slope 1 (dashed) while the noise is gradient "
                 "noise of variance tr(Sigma_g)/|b|.")


def _panels_section(rep, panel_paths):
    """The Fig. 4.1 PNG files, embedded as they are."""
    s = rep.section("Fig. 4.1 panels")
    for p in panel_paths:
        with open(p, "rb") as fh:
            png = fh.read()
        name = str(p).rsplit("/", 1)[-1]
        s.figure(png, f"{name}: see the analyze help for what each panel shows.")


def _thermo_section(rep, diag):
    """Output thermodynamics of the runs that have it (no section otherwise)."""
    thermo = [(r.name, r.thermo) for r in diag.runs if r.thermo is not None]
    if thermo:
        s = rep.section("Output thermodynamics")
        s.table(["run", "total work", "total heat", "sigma_cond (final)", "output entropy "
                 "(last)"],
                [[n, _fmt(np.nansum(t["work"])), _fmt(np.nansum(t["heat"])),
                  _fmt(t["sigma_cond"][-1] if len(t["sigma_cond"]) else None),
                  _fmt(t["entropy"][-1] if len(t["entropy"]) else None)] for n, t in thermo],
                caption="Probe-averaged work KL(p_t || p_t+1), heat from the first law and the "
                "conditional entropy production (cumulative work), summed over intervals "
                "(theory.md section 3)")


def analysis_report(diag, panel_paths=(), *, root: str = "", notes=()) -> str:
    """The HTML document of the analysis ``diag`` (a :class:`Diagnostics`).

    ``panel_paths`` are the Fig. 4.1 PNG files already written (embedded as they are);
    ``notes`` are warnings of the command itself (panels it could not draw), listed with the
    analysis warnings, as are figures of the page that matplotlib cannot draw.
    """
    from ..report import Report

    rep = Report(
        "Training runs: SGD noise, temperature and output thermodynamics",
        f"Runs read from {root or 'the given folder'}. The SGD noise is estimated from the "
        "ensemble of trials sharing an initialisation (a trial's increment minus the "
        "ensemble-mean increment), and each interval between checkpoints is tested for "
        "whether that estimate is still noise (theory/bridge.md). Error bars are one "
        "standard error.",
    )
    notes = list(notes)
    runs = _runs_section(rep, diag)
    _window_section(rep, diag, notes)
    _temperature_section(rep, diag, notes)
    _panels_section(rep, panel_paths)
    _thermo_section(rep, diag)
    runs.warnings([*diag.warnings, *notes], title="Warnings")  # after the runs table, as before
    return rep.to_html()
