"""``stochthermo demo``: the toolkit end to end on built-in defaults."""

from __future__ import annotations

HELP = "run the built-in demonstration: derive, simulate, estimate, compare; write a report"
DESCRIPTION = """\
Run the toolkit end to end on built-in defaults and write a self-contained HTML report and a JSON
of every number into --out (default: stochthermo-report/), atomically: the files are written
into a temporary folder beside --out that replaces it only when the run is complete, with a
manifest.json (seed, settings, SHA-256 per file) written last.

  1. a 2-d linearized-SGD model whose Hessian and gradient-noise covariance do not commute:
     closed forms derived with SymPy (checked against SciPy), a simulated ensemble, estimators
     with error bars, and a table theory vs simulation vs estimate;
  2. the linear-Gaussian lagged learner: M-info, L-info, I(X;Theta), work, heat and information
     flows over training, closed form against simulation;
  3. a small analogue of the paper's Fig. 4.1: an MLP ensemble trained by SGD with batch sizes
     1, 10, 100 (scikit-learn's digits when installed, else a teacher-student task).

--quick runs a smaller version of every section (under a minute on 2 cores).
"""

#: The default model of the demo: non-commuting Hessian and gradient-noise covariance.
DEFAULT_MODEL = {
    "hessian": [[2.0, 0.6], [0.6, 1.0]],
    "noise_cov": [[1.0, 0.0], [0.0, 0.25]],
    "lr": 0.05,
    "batch_size": 8,
}


def configure(p):
    """Add the options of this subcommand to the argparse parser ``p``."""
    p.add_argument("--out", metavar="DIR", default="stochthermo-report",
                   help="where report.html, results.json and the figures go "
                   "(default: stochthermo-report)")
    p.add_argument("--quick", action="store_true", help="a smaller version of every section")
    p.add_argument("--seed", type=int, default=20240112, help="seed of every random stream")
    p.add_argument("--sections", default="sgd,learner,fig41",
                   help="comma-separated subset of: sgd, learner, fig41 (default: all)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="what to print on the terminal (default: table)")


def closed_form_section(model_spec=None) -> dict:
    """Derive the default model's closed forms and compare them with the SciPy twins.

    Returns a dict with rows ``{name, expression, latex, symbolic, numeric, rel_diff}``.
    """
    import numpy as np
    import sympy as sp

    from .. import exact
    from ..models import LinearizedSGD
    from ..symbolic import derive_sgd

    spec = dict(DEFAULT_MODEL if model_spec is None else model_spec)
    deriv = derive_sgd(spec["hessian"], spec["noise_cov"], "r", "b")
    model = LinearizedSGD(spec["hessian"], spec["noise_cov"], spec["lr"], spec["batch_size"])
    lang = model.to_langevin()
    numeric = {
        "stationary_covariance": exact.stationary_covariance(model, continuous=True),
        "discrete_covariance": exact.stationary_covariance(model),
        "current_matrix": exact.current_matrix(lang),
        "commutator": model.hessian @ model.grad_noise_cov - model.grad_noise_cov @ model.hessian,
        "entropy_production_rate": exact.entropy_production_rate(lang),
        "heat_rates": exact.heat_rates(lang),
        "information_flows": exact.information_flows(lang),
        "subsystem_entropy_production": exact.subsystem_entropy_production(lang),
        "mutual_information": exact.mutual_information(lang),
    }
    rows = []
    for name, ref in numeric.items():
        f = deriv.compile(name)
        kw = {a: {"r": spec["lr"], "b": spec["batch_size"]}[a] for a in f.arguments}
        val = np.asarray(f(**kw), dtype=float)
        ref = np.asarray(ref, dtype=float)
        scale = max(float(np.max(np.abs(ref))), 1e-300)
        rows.append({
            "name": name,
            "expression": sp.sstr(deriv.expression(name)),
            "latex": deriv.latex(name),
            "symbolic": val,
            "numeric": ref,
            "rel_diff": float(np.max(np.abs(val - ref)) / scale),
        })
    db = exact.detailed_balance(model)
    return {"model": spec, "rows": rows, "detailed_balance": {
        "holds": db.holds, "violation": db.violation, "commutator": db.commutator}}


def _fmt(v, digits=5):
    import numpy as np

    a = np.asarray(v, dtype=float)
    if a.ndim == 0:
        return f"{float(a):.{digits}g}"
    return np.array2string(a, precision=digits, separator=", ", suppress_small=False)


def _pm(value, se, digits=4):
    return f"{value:.{digits}g} ± {se:.2g}"


def _comparison_cells(rows, *, kind=False, ref=False):
    """Table cells of comparison rows: quantity, theory, value ± se, [kind], z, status, [ref]."""
    out = []
    for c in rows:
        cells = [c["quantity"], f"{c['theory']:.5g}", _pm(c["value"], c["stderr"])]
        cells += [c["kind"]] if kind else []
        cells += [f"{c['z']:+.2f}", c["status"]] + ([c["ref"]] if ref else [])
        out.append(cells)
    return out


def _status(z, *, tol=3.0):
    return "ok" if abs(z) <= tol else f"CHECK (|z| = {abs(z):.1f})"


def _row(name, theory, value, se, ref, *, kind="simulation"):
    """One comparison row: |value - theory| in units of its own standard error."""
    z = (value - theory) / se if se > 0 else float("inf")
    return {"quantity": name, "theory": float(theory), "kind": kind, "value": float(value),
            "stderr": float(se), "z": float(z), "status": _status(z), "ref": ref}


def sgd_section(*, quick: bool, seed: int, out_figs) -> dict:
    """Closed forms, a simulated ensemble and estimators for the default SGD model."""
    import numpy as np

    from .. import estimate, exact
    from ..models import LinearizedSGD
    from ..simulation import simulate

    cf = closed_form_section()
    spec = DEFAULT_MODEL
    sgd = LinearizedSGD(spec["hessian"], spec["noise_cov"], spec["lr"], spec["batch_size"])
    lang = sgd.to_langevin()
    dt = 0.005
    n_steps, n_traj = (8000, 64) if quick else (20000, 256)
    ens = simulate(lang, n_traj=n_traj, n_steps=n_steps, dt=dt, method="exact",
                   x0="stationary", seed=seed, observables=("heat", "medium_entropy"))
    T = float(ens.t[-1] - ens.t[0])
    rows = []
    # stationary covariance: per-trajectory time averages, spread over trajectories
    C = exact.stationary_covariance(lang)
    xx = np.einsum("kti,ktj->kij", ens.x, ens.x) / ens.n_time
    for i, j in ((0, 0), (0, 1), (1, 1)):
        v = xx[:, i, j]
        rows.append(_row(f"C[{i},{j}]", C[i, j], v.mean(), v.std(ddof=1) / np.sqrt(n_traj),
                         "[LL-cov]"))
    heat = ens.observables["heat"][:, -1, :] / T
    Q = exact.heat_rates(lang)
    for i in range(2):
        rows.append(_row(f"heat rate Qdot_{i}", Q[i], heat[:, i].mean(),
                         heat[:, i].std(ddof=1) / np.sqrt(n_traj), "[LL-heat]"))
    sig = exact.entropy_production_rate(lang)
    med = ens.observables["medium_entropy"][:, -1] / T
    rows.append(_row("entropy production (medium entropy)", sig, med.mean(),
                     med.std(ddof=1) / np.sqrt(n_traj), "[LL-ep]"))
    for method in ("linear", "current"):
        e = estimate.entropy_production(ens, method=method)
        rows.append(_row(f"entropy production ({method} estimator)", sig, float(e.value),
                         float(e.stderr), "[LL-ep]", kind="estimate"))
    tur = estimate.entropy_production(ens, method="tur")
    tur_row = _row("TUR lower bound", sig, float(tur.value), float(tur.stderr), "[LL-ep]",
                   kind="estimate (bound)")
    tur_row["z"] = float((tur.value - sig) / tur.stderr)
    tur_row["status"] = "ok" if tur.value - 3 * tur.stderr <= sig else "CHECK (bound exceeded)"
    rows.append(tur_row)
    flows = estimate.information_flow(ens, blocks=[1, 1])
    Idot = exact.information_flows(lang)
    for i in range(2):
        rows.append(_row(f"information flow Idot_{i}", Idot[i], float(flows.value[i]),
                         float(flows.stderr[i]), "[LL-info]", kind="estimate"))
    figs = _sgd_figures(lang, ens, rows, out_figs)
    return {"closed_forms": cf, "simulation": {"n_traj": n_traj, "n_steps": n_steps, "dt": dt,
                                               "method": "exact"},
            "comparison": rows, "figures": figs}


def _sgd_figures(lang, ens, rows, out_figs) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..plotting import plot_stationary_density
    from ..report import figure_png

    fig, ax = plt.subplots(figsize=(5.6, 4.6), layout="constrained")
    sample = ens.x[:, :: max(1, ens.n_time // 40), :].reshape(-1, 2)[:1500]
    plot_stationary_density(lang, ax=ax, samples=sample)
    ax.set_title("Linearized SGD: stationary law and current")
    png1 = figure_png(fig)
    ep = [r for r in rows if r["quantity"].startswith(("entropy production", "TUR"))]
    fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    y = np.arange(len(ep))
    colors = ["#2e7d32" if r["kind"] == "simulation" else "#ef6c00" for r in ep]
    for yi, r, c in zip(y, ep, colors):
        ax.errorbar(r["value"], yi, xerr=2 * r["stderr"], fmt="o", color=c, capsize=3)
    ax.axvline(ep[0]["theory"], color="#1f4e79", lw=1.5, label="closed form (theory)")
    ax.set_yticks(y, [r["quantity"] for r in ep], fontsize=8)
    ax.set(xlabel="entropy production rate (nats per unit time)",
           title="Closed form vs simulation (green) and estimators (orange), ±2 s.e.")
    ax.legend(fontsize=7, loc="lower right")
    png2 = figure_png(fig)
    return _save_figs(out_figs, [("sgd_density_current.png", png1,
                                  "Stationary density (contours), probability current (arrows) "
                                  "and simulated states."),
                                 ("sgd_entropy_production.png", png2,
                                  "Entropy production: closed form vs simulation vs "
                                  "estimators.")])


def _save_figs(out_figs, items) -> list:
    from ._format import write_atomic

    out = []
    for name, png, caption in items:
        path = write_atomic(out_figs / name, png, mode="wb")
        out.append({"file": str(path.name), "caption": caption, "png": png})
    return out


LEARNER_DEFAULTS = {"mu": 1.0, "data_std": 1.0, "n_data": 8, "batch_size": 2,
                    "model_std": 1.0, "lr": 0.1, "init_mean": 0.0, "init_var": 0.5}
LEARNER_KEYS = ("m_info", "l_info", "i_x_theta", "work", "heat", "info_flow_x",
                "info_flow_theta", "sigma_x")


def learner_section(*, quick: bool, seed: int, out_figs) -> dict:
    """The linear-Gaussian lagged learner: closed forms against simulation."""
    import numpy as np

    from ..learning import GaussianLearner

    L = GaussianLearner(**LEARNER_DEFAULTS)
    n_steps = 40
    n_datasets = 1500 if quick else 8000
    ens = L.simulate(n_steps, n_datasets=n_datasets, method="gaussian", seed=seed)
    ts = np.array([1, 3, 10, 30])
    est = L.estimate(ens, ts)
    cf = L.closed_form(ts)
    rows = []
    for key in LEARNER_KEYS:
        for j, t in enumerate(ts):
            e = est[key]
            r = _row(f"{key} (t = {t})", cf[key][j], float(np.asarray(e.value)[j]),
                     float(np.asarray(e.stderr)[j]), "theory/learning.md")
            rows.append(r)
    ordered = bool(np.all(cf["l_info"] <= cf["m_info"] + 1e-15))
    grid = np.arange(0, n_steps)
    curves = L.closed_form(grid)
    dense = np.arange(1, n_steps - 1)  # every step, for the figure's error bands
    figs = _learner_figures(grid, curves, dense, L.estimate(ens, dense), out_figs)
    return {"parameters": LEARNER_DEFAULTS, "n_steps": n_steps, "n_datasets": n_datasets,
            "comparison": rows, "l_info_le_m_info": ordered,
            "closed_form_curves": {k: curves[k] for k in LEARNER_KEYS}, "figures": figs}


def _learner_figures(grid, curves, ts, est, out_figs) -> list:
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
    axes[0].set_title("Information: closed form vs simulation ± 1 s.e.", fontsize=9)
    axes[1].set_title("Work, heat and σ^X per step: closed form vs simulation", fontsize=9)
    axes[1].axhline(0, color="k", lw=0.5)
    png = figure_png(fig)
    return _save_figs(out_figs, [("learner_information.png", png,
                                  "Gaussian lagged learner: information, work, heat and X's "
                                  "entropy production over training.")])


def fig41_section(*, quick: bool, seed: int, out_figs) -> dict:
    """A small analogue of the paper's Fig. 4.1 (MLP ensemble, batch sizes 1, 10, 100)."""
    import numpy as np

    from ..learning import fig41
    from ..plotting import fig41_data_from_result, save_fig41_panels

    cfg = (dict(hidden=(24, 24, 24), n_trials=5, n_steps=80, max_samples=500, n_eval=128,
                n_noise_params=300) if quick else
           dict(hidden=(100, 100, 100), n_trials=12, n_steps=300, max_samples=None, n_eval=256,
                n_noise_params=2000))
    res = fig41(batch_sizes=(1, 10, 100), lr=0.005, seed=seed, eval_every=10, **cfg)
    paths = save_fig41_panels(fig41_data_from_result(res), out_figs / "fig41")
    figs = []
    for p in paths:
        figs.append({"file": f"fig41/{p.name}", "caption": p.stem.replace("_", " "),
                     "png": p.read_bytes()})
    mean_var = res.mean_noise_variance()
    lag1 = {int(b): float(res.autocorrelation[b][1]) for b in res.batch_sizes}
    return {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
            "data": res.meta.get("data", ""),
            "mean_noise_variance": {int(b): v for b, v in mean_var.items()},
            "exponent": float(res.exponent), "exponent_stderr": float(res.exponent_stderr),
            "lag1_autocorrelation": lag1,
            "final_accuracy": {int(b): float(np.asarray(res.accuracy_mean[b])[-1])
                               for b in res.batch_sizes},
            "figures": figs}


SECTIONS = {"sgd": sgd_section, "learner": learner_section, "fig41": fig41_section}
#: what a demo writes into --out (an older output holding only these may be replaced)
OUTPUT_NAMES = ("results.json", "report.html", "figures", "manifest.json")


def _build_report(result) -> str:
    from ..report import Report

    rep = Report(
        "stochthermo demo report",
        intro="Every number with a closed form is compared with it; |z| is the distance in "
        "units of the estimate's own standard error ('ok' when |z| <= 3). Formula labels "
        "point into theory/ (e.g. [LL-ep] in theory/linear_langevin.md).",
    )
    if "sgd" in result:
        r = result["sgd"]
        s = rep.section("1. Linearized SGD with non-commuting Hessian and gradient noise")
        m = r["closed_forms"]["model"]
        s.text(f"H = {m['hessian']}, Sigma = {m['noise_cov']}, r = {m['lr']}, "
               f"b = {m['batch_size']}; Langevin limit A = H, D = r Sigma / (2 b), time t = r n.")
        for row in r["closed_forms"]["rows"]:
            s.latex(row["name"], row["latex"])
        s.table(["quantity", "SymPy value", "SciPy value", "rel. diff"],
                [[row["name"], _fmt(row["symbolic"]), _fmt(row["numeric"]),
                  f"{row['rel_diff']:.1e}"] for row in r["closed_forms"]["rows"]])
        sim = r["simulation"]
        s.text(f"Simulated ensemble: {sim['n_traj']} trajectories x {sim['n_steps']} steps, "
               f"dt = {sim['dt']}, exact OU transition, stationary start.")
        s.table(["quantity", "theory", "simulation / estimate", "kind", "z", "status", "formula"],
                _comparison_cells(r["comparison"], kind=True, ref=True), status_col=5)
        for f in r["figures"]:
            s.figure(f["png"], f["caption"])
    if "learner" in result:
        r = result["learner"]
        s = rep.section("2. The linear-Gaussian lagged learner (theory/learning.md)")
        s.text(f"Parameters: {r['parameters']}; {r['n_datasets']} training sets, "
               f"Gaussian-noise SGD. I_L <= I_M at every step: {r['l_info_le_m_info']}.")
        s.table(["quantity", "theory", "simulation", "kind", "z", "status", "formula"],
                _comparison_cells(r["comparison"], kind=True, ref=True), status_col=5)
        for f in r["figures"]:
            s.figure(f["png"], f["caption"])
    if "fig41" in result:
        r = result["fig41"]
        s = rep.section("3. Fig. 4.1 analogue: MLP ensemble trained by SGD")
        s.text(f"Data: {r['data']}; configuration {r['config']}. Noise variance exponent vs "
               f"batch size: {r['exponent']:.3f} ± {r['exponent_stderr']:.3f} "
               "(theory: -1, theory.md section 6).")
        s.table(["batch size", "mean noise variance", "lag-1 autocorrelation", "final accuracy"],
                [[b, f"{r['mean_noise_variance'][b]:.4g}", f"{r['lag1_autocorrelation'][b]:+.3f}",
                  f"{r['final_accuracy'][b]:.3f}"] for b in r["mean_noise_variance"]])
        for f in r["figures"]:
            s.figure(f["png"], f["caption"])
    return rep.to_html()


def _strip_png(obj):
    if isinstance(obj, dict):
        return {k: _strip_png(v) for k, v in obj.items() if k != "png"}
    if isinstance(obj, list):
        return [_strip_png(v) for v in obj]
    return obj


def run(args) -> int:
    """Run the subcommand; returns the exit code."""
    import sys
    import time
    from pathlib import Path

    from .._atomic import staged_folder
    from ..cli import UsageError
    from ._format import dump_json, emit_json, format_table, write_atomic

    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [s for s in chosen if s not in SECTIONS]
    if bad or not chosen:
        raise UsageError(f"stochthermo demo: error: unknown section {bad or chosen!r}; "
                         f"valid: {', '.join(SECTIONS)}")
    out = Path(args.out)
    result = {}
    t_all = time.perf_counter()
    settings = {"command": "demo", "seed": args.seed, "quick": args.quick, "sections": chosen}
    # everything goes into a staged folder that replaces --out only when the run is complete
    with staged_folder(out, manifest=settings, known=OUTPUT_NAMES) as stage:
        for k, name in enumerate(chosen, 1):
            t0 = time.perf_counter()
            print(f"[{k}/{len(chosen)}] {name} ...", file=sys.stderr, flush=True)
            result[name] = SECTIONS[name](quick=args.quick, seed=args.seed,
                                          out_figs=stage / "figures")
            print(f"[{k}/{len(chosen)}] {name} done in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr, flush=True)
        clean = _strip_png(result)
        clean["meta"] = {"quick": args.quick, "seed": args.seed,
                         "seconds": time.perf_counter() - t_all}
        write_atomic(stage / "results.json", dump_json(clean))
        write_atomic(stage / "report.html", _build_report(result))
    json_path, html_path = out / "results.json", out / "report.html"
    if args.format == "json":
        emit_json(clean)
    else:
        if "sgd" in result:
            cf = result["sgd"]["closed_forms"]
            m = cf["model"]
            print("1. linearized SGD near a minimum, Langevin limit A = H, D = r Sigma / (2 b)")
            print(f"   H = {m['hessian']}, Sigma = {m['noise_cov']}, r = {m['lr']}, "
                  f"b = {m['batch_size']}")
            db = cf["detailed_balance"]
            print(f"   detailed balance: {'holds' if db['holds'] else 'broken'} "
                  f"(||[H, Sigma]|| / (||H|| ||Sigma||) = {db['commutator']:.3g})\n")
            rows = [[r["name"], r["expression"], _fmt(r["symbolic"]), _fmt(r["numeric"]),
                     f"{r['rel_diff']:.1e}"] for r in cf["rows"]]
            print(format_table(["quantity", "closed form (SymPy, in r and b)", "SymPy value",
                                "SciPy value", "rel. diff"], rows, widths=[28, 46, 22, 22, 9]))
            print()
            print(format_table(["quantity", "theory", "simulation / estimate", "z", "status"],
                               _comparison_cells(result["sgd"]["comparison"]),
                               widths=[38, 11, 22, 6, 22]))
        if "learner" in result:
            print("\n2. linear-Gaussian lagged learner: closed form vs simulation")
            print(format_table(["quantity", "theory", "simulation", "z", "status"],
                               _comparison_cells(result["learner"]["comparison"]),
                               widths=[28, 11, 22, 6, 22]))
        if "fig41" in result:
            r = result["fig41"]
            print(f"\n3. Fig. 4.1 analogue ({r['data']}): noise variance ~ |b|^"
                  f"{r['exponent']:.3f} ± {r['exponent_stderr']:.3f} (theory: -1)")
            for b, v in r["mean_noise_variance"].items():
                print(f"   |b| = {b:>3}: noise variance {v:.4g}, lag-1 autocorrelation "
                      f"{r['lag1_autocorrelation'][b]:+.3f}")
        print(f"\nnumbers: {json_path}")
    print(f"report written to {html_path}", file=sys.stderr if args.format == "json" else None)
    return 0
