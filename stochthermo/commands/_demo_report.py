"""The demo's report and figures: what every number is, how it is judged, what to look for.

Conventions stated once in the report and followed everywhere: k_B = 1, entropies and
information in nats, rates per unit time with t = r n (learning rate times step count); every
``±`` and every error bar is one standard error; an estimate is judged by
z = (estimate - theory) / s.e. (ok when |z| <= 3), a bound by whether it holds within three
standard errors (ok when bound - 3 s.e. <= theory).
"""

from __future__ import annotations

__all__ = ["closed_form_markup", "build_report", "sgd_figures", "learner_figures",
           "FIG41_CAPTIONS", "judge_estimate", "judge_lower_bound", "TOLERANCE_SE"]

#: an estimate is 'ok' within this many of its own standard errors of the closed form
TOLERANCE_SE = 3.0

# --------------------------------------------------------------------------- judging rows


def judge_estimate(value, theory, se) -> tuple:
    """``(z, status)`` of an estimate against its closed form."""
    import math

    z = (value - theory) / se if se > 0 else math.inf
    status = "ok" if abs(z) <= TOLERANCE_SE else f"CHECK (|z| = {abs(z):.1f})"
    return float(z), status


def judge_lower_bound(value, theory, se) -> str:
    """Status of a lower bound on ``theory``: it must hold within ``TOLERANCE_SE`` errors."""
    holds = value - TOLERANCE_SE * se <= theory
    rel = "≤" if value <= theory else "within 3 s.e. of"
    if holds:
        return f"ok: bound holds ({value:.4g} {rel} {theory:.4g})"
    return f"CHECK: bound exceeded ({value:.4g} > {theory:.4g} + 3 s.e.)"


# --------------------------------------------------------------------------- equations

_DOT = "<mo>&#729;</mo>"  # the dot accent of a time derivative


def _dot(letter):
    return f'<mover accent="true"><mi>{letter}</mi>{_DOT}</mover>'


#: quantity -> (what it is, left-hand side as MathML, as LaTeX, formula label, theory file)
LHS = {
    "stationary_covariance": (
        "stationary covariance of the Langevin limit (continuous time)", "<mi>C</mi>", "C",
        "[LL-cov]", "theory/linear_langevin.md"),
    "discrete_covariance": (
        "stationary covariance of the SGD map itself (discrete time, exact)",
        "<msub><mi>C</mi><mtext>map</mtext></msub>", r"C_{\mathrm{map}}", "[SGD-cov]",
        "theory/sgd.md"),
    "current_matrix": (
        "current matrix: mean local velocity M (x - x*) in the steady state", "<mi>M</mi>", "M",
        "[LL-current]", "theory/linear_langevin.md"),
    "detailed_balance_condition": (
        "detailed-balance matrix, zero iff detailed balance holds",
        "<mrow><msup><mi>D</mi><mn>-1</mn></msup><mi>A</mi><mo>-</mo><msup><mi>A</mi><mi>T</mi>"
        "</msup><msup><mi>D</mi><mn>-1</mn></msup></mrow>", r"D^{-1} A - A^{T} D^{-1}",
        "[LL-db]", "theory/linear_langevin.md"),
    "commutator": (
        "commutator of Hessian and gradient-noise covariance, zero iff detailed balance holds",
        "<mrow><mo>[</mo><mi>H</mi><mo>,</mo><mi>&#931;</mi><mo>]</mo></mrow>", r"[H, \Sigma]",
        "[SGD-db]", "theory/sgd.md"),
    "entropy_production_rate": (
        "entropy production rate (nats per unit time)", "<mi>&#963;</mi>", r"\sigma", "[LL-ep]",
        "theory/linear_langevin.md"),
    "medium_entropy_rates": (
        "rate of entropy flow into each bath",
        f"<msub>{_dot('S')}<mtext>env</mtext></msub>", r"\dot S_{\mathrm{env}}", "[LL-heat]",
        "theory/linear_langevin.md"),
    "heat_rates": (
        "heat flow into each bath per unit time", _dot("Q"), r"\dot Q", "[LL-heat]",
        "theory/linear_langevin.md"),
    "information_flows": (
        "information flow into each coordinate", _dot("I"), r"\dot I", "[LL-info]",
        "theory/linear_langevin.md"),
    "subsystem_entropy_production": (
        "entropy production of each subsystem",
        "<msub><mi>&#963;</mi><mi>i</mi></msub>", r"\sigma_i", "[LL-sub]",
        "theory/linear_langevin.md"),
    "mutual_information": (
        "mutual information between the two coordinates (nats)",
        "<mrow><mi>I</mi><mo>(</mo><msub><mi>x</mi><mn>1</mn></msub><mo>;</mo>"
        "<msub><mi>x</mi><mn>2</mn></msub><mo>)</mo></mrow>", "I(x_1; x_2)", "[LL-mi]",
        "theory/linear_langevin.md"),
}


def closed_form_markup(name: str, expr) -> dict:
    """MathML and LaTeX of ``lhs = expr`` for a closed form of the demo, with what it is."""
    import sympy as sp

    from ..report import mathml

    what, lhs_ml, lhs_tex, label, where = LHS.get(
        name, (name.replace("_", " "), f"<mtext>{name}</mtext>", rf"\mathrm{{{name}}}", "", ""))
    return {"what": what, "label": label, "file": where,
            "mathml": f"<mrow>{lhs_ml}<mo>=</mo>{mathml(expr)}</mrow>",
            "latex": f"{lhs_tex} = {sp.latex(expr)}"}


# --------------------------------------------------------------------------- figures


def _save(out_figs, items) -> list:
    from ._format import write_atomic

    out = []
    for name, png, caption in items:
        path = write_atomic(out_figs / name, png, mode="wb")
        out.append({"file": str(path.name), "caption": caption, "png": png})
    return out


def sgd_figures(lang, ens, rows, out_figs) -> list:
    """The SGD section's figures: stationary law with its current; entropy production."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.lines import Line2D

    from ..plotting import PALETTE, plot_stationary_density
    from ..report import figure_png

    fig, ax = plt.subplots(figsize=(5.6, 4.6), layout="constrained")
    sample = ens.x[:, :: max(1, ens.n_time // 40), :].reshape(-1, 2)[:1500]
    plot_stationary_density(lang, ax=ax, samples=sample)
    ax.set_title("Linearized SGD: stationary law and probability current")
    png1 = figure_png(fig)
    ep = [r for r in rows if r["quantity"].startswith(("entropy production", "TUR"))]
    fig, ax = plt.subplots(figsize=(6.8, 3.9), layout="constrained")
    y = np.arange(len(ep))[::-1]
    style = {"simulation": ("o", PALETTE["simulation"]), "estimate": ("s", PALETTE["estimate"]),
             "lower bound": (">", "#7a5195")}
    for yi, r in zip(y, ep):
        marker, color = style[r["kind"]]
        ax.errorbar(r["value"], yi, xerr=r["stderr"], fmt=marker, color=color, ms=6,
                    capsize=3, lw=1.2)
    theory = ep[0]["theory"]
    ax.axvline(theory, color=PALETTE["theory"], lw=1.5)
    ax.set_yticks(y, [r["quantity"] for r in ep], fontsize=8)
    ax.set_ylim(-0.7, len(ep) - 0.3)
    ax.set(xlabel=r"entropy production rate $\sigma$  [nats per unit time, $t = r\,n$]",
           title="Entropy production: closed form, simulation, estimators (±1 s.e.)")
    handles = [Line2D([], [], color=PALETTE["theory"], lw=1.5),
               Line2D([], [], color=style["simulation"][1], marker="o", ls=""),
               Line2D([], [], color=style["estimate"][1], marker="s", ls=""),
               Line2D([], [], color=style["lower bound"][1], marker=">", ls="")]
    labels = [rf"closed form $\sigma$ = {theory:.4g}", "simulation (medium entropy)",
              "estimators", "lower bound (TUR)"]
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=7.5,
               frameon=False)
    png2 = figure_png(fig)
    return _save(out_figs, [
        ("sgd_density_current.png", png1,
         "Stationary density of the Langevin limit (contours, exact), its probability current "
         "J = M x p(x) (arrows) and simulated states (dots). What to look for: the dots fill "
         "the contours (the simulation samples the stationary law), and the arrows circulate "
         "around the minimum: a rotating current, the signature of broken detailed balance "
         "because H and Σ do not commute ([SGD-db] in theory/sgd.md)."),
        ("sgd_entropy_production.png", png2,
         "Entropy production rate in nats per unit time. Vertical line: the closed form "
         "([LL-ep] in theory/linear_langevin.md). Circle: the medium-entropy rate of the "
         "simulated ensemble; squares: the estimators applied to the trajectories; triangle: "
         "the TUR lower bound. Bars: 1 standard error. What to look for: circle and squares "
         "within about three bars of the line; the triangle to the left of the line (a bound "
         "may lie far below the true rate)."),
    ])


def learner_figures(grid, curves, ts, est, out_figs, *, n_datasets=None) -> list:
    """The learner section's figure: information, work, heat and sigma^X over training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plotting import plot_information
    from ..report import figure_png

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.9), layout="constrained")
    for ax, keys, ylabel in ((axes[0], ("m_info", "l_info", "i_x_theta"), "information  [nats]"),
                             (axes[1], ("work", "heat", "sigma_x"), "per step  [nats]")):
        plot_information(grid, {k: {"theory": curves[k], "simulation": (ts, est[k])}
                                for k in keys}, ax=ax, ylabel=ylabel)
    axes[0].set_title("Information: closed form (lines) vs simulation (±1 s.e.)", fontsize=9)
    axes[1].set_title(r"Work, heat and $\sigma^X$ per step: closed form vs simulation",
                      fontsize=9)
    axes[1].axhline(0, color="k", lw=0.5)
    png = figure_png(fig)
    sets = f" of {n_datasets} training sets" if n_datasets else ""
    return _save(out_figs, [(
        "learner_information.png", png,
        "Gaussian lagged learner over SGD steps t. Left: M-info I(Θₜ; B), L-info I(Xₜ₊₁; B) "
        "and I(Xₜ₊₁; Θₜ) in nats. Right: work, heat and the entropy production σˣ of the "
        "output X per step. Lines: closed forms (theory/learning.md, section 4); points with a "
        f"shaded band: the simulation{sets}, ±1 standard error. What to look for: the points "
        "on their lines within their bands (the heat estimate is the noisiest), and L-info "
        "below M-info at every step (data processing along B → Θₜ → Xₜ₊₁).")])


#: captions of the four Fig. 4.1 panels, by file name
FIG41_CAPTIONS = {
    "fig41a_parameters.png":
        "(a) A few parameters θᵢ over SGD steps at the smallest batch size, one thin line per "
        "trial. What to look for: every trial starts from the same initialisation; the "
        "separation of the lines is the accumulated SGD noise (small on the scale of the "
        "parameters at this learning rate).",
    "fig41b_accuracy.png":
        "(b) Accuracy on the evaluation set over training: ensemble mean per batch size, with "
        "a band of ±1 standard deviation across trials (a spread of the trials, not an error "
        "bar). What to look for: the means leave the common start; the spread across trials "
        "is widest at |b| = 1, where the gradient noise is largest.",
    "fig41c_noise_variance.png":
        "(c) Parameter-averaged SGD noise variance per step for each batch size, log scale, "
        "with a ±1 standard-error band; dashed lines: the max-gradient reference. What to look "
        "for: curves about a factor 10 apart per factor 10 in batch size, i.e. noise variance "
        "proportional to 1/|b| (fitted exponent in the title; [SGD-noise] in theory/sgd.md).",
    "fig41d_autocorrelation.png":
        "(d) Noise autocorrelation averaged over parameters against the lag, ±1 standard "
        "error; dashed: zero (white noise). What to look for: values near zero at lags ≥ 1; "
        "a small negative lag-1 value of about −lr × curvature is expected from estimating "
        "the noise from parameter increments (theory/learning.md, section 6).",
}


# --------------------------------------------------------------------------- the report

_INTRO = (
    "How to read this report. Units: k_B = 1; entropies and information in nats; rates per "
    "unit time with t = r n (learning rate times number of SGD steps). Every number with a "
    "closed form is set against it. Every ± and every error bar is one standard error (s.e.). "
    "An estimate is judged by z = (estimate − theory) / s.e.: 'ok' when |z| ≤ 3. A bound is "
    "not an estimate: it is judged by whether it holds, 'ok' when bound − 3 s.e. ≤ theory, "
    "however far below the true value it lies. Estimator warnings (failed self-checks of an "
    "estimator's assumptions) are listed next to the number they concern.\n\n"
    "Formula labels point into the project's theory/ folder: [LL-...] into "
    "theory/linear_langevin.md, [SGD-...] into theory/sgd.md; the learner and Fig. 4.1 "
    "sections into theory/learning.md. Each equation shows its LaTeX source on a click."
)


def _fmt(v, digits=5):
    import numpy as np

    a = np.asarray(v, dtype=float)
    if a.ndim == 0:
        return f"{float(a):.{digits}g}"
    return np.array2string(a, precision=digits, separator=", ", suppress_small=False)


def _matrix(m) -> str:
    """A small matrix as ``[[2, 0.6], [0.6, 1]]`` (numbers in :g format)."""
    import numpy as np

    a = np.atleast_2d(np.asarray(m, dtype=float))
    return "[" + ", ".join("[" + ", ".join(f"{x:g}" for x in row) + "]" for row in a) + "]"


def _norm(v) -> float:
    import numpy as np

    return float(np.linalg.norm(np.asarray(v, dtype=float)))


def comparison_cells(rows):
    """Report cells: quantity, theory, value ± s.e., kind, z, judgement, formula, warnings."""
    from ..plotting import format_pm

    out = []
    for c in rows:
        z = c.get("z")
        zcell = "bound" if c["kind"] == "lower bound" else ("" if z is None else f"{z:+.2f}")
        out.append([c["quantity"], f"{c['theory']:.5g}", format_pm(c["value"], c["stderr"]),
                    c["kind"], zcell, c["status"], c["ref"], "; ".join(c.get("warnings", ()))])
    return out


def _comparison_table(s, rows, caption):
    cells = comparison_cells(rows)
    has_warn = any(c[-1] for c in cells)
    headers = ["quantity", "theory", "value ± 1 s.e.", "kind", "z", "judged", "formula"]
    if has_warn:
        headers.append("estimator warnings")
    else:
        cells = [c[:-1] for c in cells]
    s.table(headers, cells, status_col=5, caption=caption, left=(0, 3, 5, 6, 7),
            warn_col=7 if has_warn else None)


def _comparison_and_figures(s, r, caption):
    """A section's comparison table, the warnings of its rows, then its figures."""
    _comparison_table(s, r["comparison"], caption)
    s.warnings(w for row in r["comparison"] for w in
               (f"{row['quantity']}: {m}" for m in row.get("warnings", ())))
    for f in r["figures"]:
        s.figure(f["png"], f["caption"])


def _sgd(rep, r):
    cf = r["closed_forms"]
    m = cf["model"]
    s = rep.section("1. Linearized SGD with non-commuting Hessian and gradient noise")
    s.text("SGD near a minimum: θ(n+1) = θ(n) − r (H θ(n) + ξ(n)), with gradient noise ξ of "
           "covariance Σ / b per step. Its Langevin limit is dx = −A x dt + √(2D) dW with "
           "A = H and D = r Σ / (2b) in the time t = r n ([SGD-langevin] in theory/sgd.md).")
    s.settings([
        ("Hessian H", _matrix(m["hessian"]), "1 / unit time (t = r n)",
         "curvature at the minimum"),
        ("gradient-noise covariance Σ", _matrix(m["noise_cov"]), "gradient² per sample",
         "covariance of one sample's gradient"),
        ("learning rate r", f"{m['lr']:g}", "unit time per step", "step size; t = r n"),
        ("batch size b", f"{m['batch_size']:d}", "samples", "samples per gradient step"),
    ], caption="Model")
    db = cf["detailed_balance"]
    comm = next((row for row in cf["rows"] if row["name"] == "commutator"), None)
    if comm is not None:
        nrm = _norm(comm["numeric"])
        verdict = ("is the zero matrix: detailed balance holds" if nrm == 0.0 else
                   "is not zero: detailed balance is broken and a probability current "
                   "circulates")
        s.text(f"The commutator [H, Σ] has Frobenius norm {nrm:.4g} ({db['commutator']:.3g} "
               f"relative to ‖H‖ ‖Σ‖), so it {verdict} ([SGD-db] in theory/sgd.md).")
    s.heading("Closed forms (SymPy, in r and b), checked against SciPy")
    for row in cf["rows"]:
        name = f"{row.get('what', row['name'])} {row.get('label', '')}".strip()
        if row.get("mathml"):
            s.parts.append(_math_block(name, row["mathml"], row["latex"]))
        else:
            s.latex(name, row["latex"])
    if cf.get("assumptions"):
        conds = [c.replace(">=", "≥").replace("<=", "≤") for c in cf["assumptions"]]
        s.text("The closed forms assume " + ", ".join(conds) + ".", note=True)
    s.table(["quantity", "SymPy value", "SciPy value", "rel. diff", "norm"],
            [[row["name"], _fmt(row["symbolic"]), _fmt(row["numeric"]),
              f"{row['rel_diff']:.1e}", f"{_norm(row['numeric']):.4g}"]
             for row in cf["rows"]],
            caption=f"Each closed form evaluated at r = {m['lr']:g}, b = {m['batch_size']:d} "
            "(SymPy) against the SciPy solver of the same quantity; norm: Frobenius norm of "
            "the value (a matrix is zero only when its norm is).")
    sim = r["simulation"]
    s.heading("Simulation and estimators")
    s.settings([
        ("trajectories", f"{sim['n_traj']}", "", "independent runs"),
        ("steps", f"{sim['n_steps']}", "", "per trajectory"),
        ("time step dt", f"{sim['dt']:g}", "unit time (t = r n)", "of the Langevin limit"),
        ("integrator", sim["method"], "", "exact Ornstein-Uhlenbeck transition"),
        ("start", "stationary", "", "x0 drawn from the stationary law"),
    ], caption="Simulated ensemble of the Langevin limit")
    _comparison_and_figures(s, r, "Closed form against the simulated ensemble and the "
                            "estimators; ± is 1 s.e. over trajectories (estimators: their own "
                            "s.e.).")


def _math_block(name, markup, tex):
    import html

    return (f'<div class="eq"><div class="name">{html.escape(name)}</div>'
            f'<math display="block">{markup}</math>'
            f"<details><summary>LaTeX source</summary><pre>{html.escape(tex)}</pre>"
            "</details></div>")


_LEARNER_UNITS = {
    "mu": ("target mean μ", "data units", "mean of the data distribution"),
    "data_std": ("data std s_d", "data units", "spread of the data"),
    "n_data": ("training-set size N", "samples", "one training set B per run"),
    "batch_size": ("batch size m", "samples", "samples per SGD step"),
    "model_std": ("model width s", "data units", "std of the model's output X"),
    "lr": ("learning rate", "per step", ""),
    "init_mean": ("initial mean of θ", "data units", "θ_0 drawn from a Gaussian"),
    "init_var": ("initial variance of θ", "data units²", ""),
}


def _learner(rep, r):
    import numpy as np

    s = rep.section("2. The linear-Gaussian lagged learner (theory/learning.md, section 4)")
    p = r["parameters"]
    rows = []
    for k, v in p.items():
        name, unit, meaning = _LEARNER_UNITS.get(k, (k, "", ""))
        rows.append((name, f"{v:g}", unit, meaning))
    rows += [("training sets", f"{r['n_datasets']}", "", "independent SGD runs, one per set"),
             ("steps", f"{r['n_steps']}", "SGD steps", "")]
    s.settings(rows, caption="Learner and simulation (Gaussian-noise SGD)")
    curves = r.get("closed_form_curves", {})
    m_info = np.asarray(curves.get("m_info", []), dtype=float)
    l_info = np.asarray(curves.get("l_info", []), dtype=float)
    if m_info.size and m_info.size == l_info.size:
        holds = bool(np.all(l_info <= m_info + 1e-15))
        pos = m_info > 0
        ratio = np.where(pos, l_info / np.where(pos, m_info, 1.0), 0.0)
        k = int(np.argmax(ratio))
        last = m_info.size - 1
        s.text(f"Data processing: the closed-form L-info I_L = I(Xₜ₊₁; B) is "
               f"{'at most' if holds else 'NOT always below'} the M-info I_M = I(Θₜ; B) "
               f"at every step t = 0 to {last}; the ratio I_L / I_M is largest at t = {k} "
               f"({ratio[k]:.3g}), and at t = {last} I_L = {l_info[last]:.4g} nats against "
               f"I_M = {m_info[last]:.4g} nats.")
    _comparison_and_figures(s, r, "Closed form against the simulation at a few steps; ± is 1 "
                            "s.e. over training sets.")


_FIG41_UNITS = {
    "hidden": ("hidden layers", "units per layer"),
    "n_trials": ("trials per batch size", "runs"),
    "n_steps": ("SGD steps", "steps"),
    "max_samples": ("training samples", "samples (all when empty)"),
    "n_eval": ("evaluation samples", "samples"),
    "n_noise_params": ("parameters in the noise average", "parameters"),
}


def _fig41(rep, r):
    from ..plotting import format_pm

    s = rep.section("3. Fig. 4.1 analogue: an MLP ensemble trained by SGD")
    rows = [("data", str(r["data"]), "")]
    for k, v in r["config"].items():
        name, unit = _FIG41_UNITS.get(k, (k, ""))
        val = "" if v is None else (" x ".join(str(x) for x in v) if isinstance(v, list)
                                    else str(v))
        rows.append((name, val, unit))
    if "lr" in r:
        rows.append(("learning rate", f"{r['lr']:g}", "per step"))
    s.settings(rows, caption="Experiment")
    s.text("Noise variance against batch size: a fit of log(variance) against log |b| gives "
           f"the exponent {format_pm(r['exponent'], r['exponent_stderr'])} (±1 s.e.); SGD "
           "noise of a mean of |b| independent sample gradients predicts −1 ([SGD-noise] in "
           "theory/sgd.md).")
    s.table(["batch size |b|", "mean noise variance", "lag-1 autocorrelation",
             "final accuracy"],
            [[b, f"{r['mean_noise_variance'][b]:.4g}", f"{r['lag1_autocorrelation'][b]:+.3f}",
              f"{r['final_accuracy'][b]:.3f}"] for b in r["mean_noise_variance"]],
            caption="Per batch size: noise variance averaged over steps and parameters, the "
            "lag-1 noise autocorrelation and the final evaluation accuracy (ensemble mean).")
    for f in r["figures"]:
        s.figure(f["png"], f["caption"])


def build_report(result) -> str:
    """The demo's HTML report from its result dict (sections present in ``result`` only)."""
    from ..report import Report

    rep = Report("stochthermo demo report", intro=_INTRO)
    if "sgd" in result:
        _sgd(rep, result["sgd"])
    if "learner" in result:
        _learner(rep, result["learner"])
    if "fig41" in result:
        _fig41(rep, result["fig41"])
    return rep.to_html()
