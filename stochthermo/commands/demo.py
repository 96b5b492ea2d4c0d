"""``stochthermo demo``: the toolkit end to end on built-in defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from ..ensemble import Ensemble

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

The first run compiles Numba kernels (cached afterwards); the Fig. 4.1 kernels compile in a
second process while the first sections run (set STOCHTHERMO_NO_WARMUP=1 to keep to one
process). Long sections report their stages on stderr: a progress bar on a terminal, a
line every few seconds otherwise. With --format json, stdout holds only the JSON of
results.json.
"""

#: The default model of the demo: non-commuting Hessian and gradient-noise covariance.
DEFAULT_MODEL: dict[str, Any] = {
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
    from ._demo_report import closed_form_markup

    spec = dict(DEFAULT_MODEL if model_spec is None else model_spec)
    deriv = derive_sgd(spec["hessian"], spec["noise_cov"], "r", "b")
    model = LinearizedSGD(spec["hessian"], spec["noise_cov"], spec["lr"], spec["batch_size"])
    lang = model.to_langevin()
    numeric = {
        "stationary_covariance": exact.stationary_covariance(model, continuous=True),
        "discrete_covariance": exact.stationary_covariance(model),
        "current_matrix": exact.current_matrix(lang),
        "commutator": model.hessian @ model.grad_noise_cov - model.grad_noise_cov @ model.hessian,
        "entropy_production_rate": exact.entropy_production(lang),
        "heat_rates": exact.heat_rates(lang),
        "information_flows": exact.information_flow(lang),
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
        expr = deriv.expression(name)
        markup = closed_form_markup(name, expr)  # own left-hand side: never "= 0" unless so
        rows.append({
            "name": name,
            "what": markup["what"],
            "label": markup["label"],
            "expression": sp.sstr(expr),
            "latex": markup["latex"],
            "mathml": markup["mathml"],
            "symbolic": val,
            "numeric": ref,
            "rel_diff": float(np.max(np.abs(val - ref)) / scale),
        })
    db = exact.detailed_balance(model)
    return {"model": spec, "rows": rows,
            "assumptions": [sp.sstr(c) for c in deriv.assumptions],
            "detailed_balance": {
                "holds": db.holds, "violation": db.violation, "commutator": db.commutator,
                "commutator_frobenius_norm": float(np.linalg.norm(numeric["commutator"]))}}


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
        z = "bound" if c.get("z") is None else f"{c['z']:+.2f}"
        cells += [z, c["status"]] + ([c["ref"]] if ref else [])
        out.append(cells)
    return out


def _row(name, theory, value, se, ref, *, kind="simulation", warnings=()):
    """One comparison row: |value - theory| in units of its own standard error."""
    from ._demo_report import judge_estimate

    z, status = judge_estimate(value, theory, se)
    return {"quantity": name, "theory": float(theory), "kind": kind, "value": float(value),
            "stderr": float(se), "z": z, "status": status, "ref": ref,
            "warnings": list(warnings)}


def sgd_section(*, quick: bool, seed: int, out_figs) -> dict:
    """Closed forms, a simulated ensemble and estimators for the default SGD model."""
    import numpy as np

    from .. import estimate, exact
    from ..models import LinearizedSGD
    from ..simulation import simulate
    from ._demo_report import judge_lower_bound, sgd_figures

    _note("closed forms")
    cf = closed_form_section()
    _note("simulation")
    spec = DEFAULT_MODEL
    sgd = LinearizedSGD(spec["hessian"], spec["noise_cov"], spec["lr"], spec["batch_size"])
    lang = sgd.to_langevin()
    dt = 0.005
    # an even number of saved points (n_steps + 1) keeps the lag-2 halves of the current
    # estimator equal in length
    n_steps, n_traj = (7999, 64) if quick else (19999, 256)
    # no reduce=: simulate returns the full Ensemble, not moments
    ens = cast("Ensemble", simulate(lang, n_traj=n_traj, n_steps=n_steps, dt=dt,
                                    method="exact", x0="stationary", seed=seed,
                                    observables=("heat", "medium_entropy")))
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
    sig = exact.entropy_production(lang)
    med = ens.observables["medium_entropy"][:, -1] / T
    rows.append(_row("entropy production (medium entropy)", sig, med.mean(),
                     med.std(ddof=1) / np.sqrt(n_traj), "[LL-ep]"))
    _note("estimators")
    for method in ("linear", "current"):
        e = estimate.entropy_production(ens, method=method)
        rows.append(_row(f"entropy production ({method} estimator)", sig, float(e.value),
                         float(e.stderr), "[LL-ep]", kind="estimate", warnings=e.warnings))
    tur = estimate.entropy_production(ens, method="tur")
    tur_row = _row("TUR lower bound", sig, float(tur.value), float(tur.stderr), "[LL-ep]",
                   kind="lower bound", warnings=tur.warnings)
    tur_row["z"] = None  # a bound is judged by whether it holds, not by its distance
    tur_row["status"] = judge_lower_bound(float(tur.value), sig, float(tur.stderr))
    rows.append(tur_row)
    # block sizes are valid blocks, but the Blocks alias names only index lists
    flows = estimate.information_flow(ens, blocks=[1, 1])
    Idot = exact.information_flow(lang)
    for i in range(2):
        rows.append(_row(f"information flow Idot_{i}", Idot[i], float(flows.value[i]),
                         float(flows.stderr[i]), "[LL-info]", kind="estimate",
                         warnings=flows.warnings))
    _note("figures")
    figs = sgd_figures(lang, ens, rows, out_figs)
    return {"closed_forms": cf, "simulation": {"n_traj": n_traj, "n_steps": n_steps, "dt": dt,
                                               "method": "exact"},
            "comparison": rows, "figures": figs}


LEARNER_DEFAULTS: dict[str, Any] = {"mu": 1.0, "data_std": 1.0, "n_data": 8, "batch_size": 2,
                    "model_std": 1.0, "lr": 0.1, "init_mean": 0.0, "init_var": 0.5}
LEARNER_KEYS = ("m_info", "l_info", "i_x_theta", "work", "heat", "info_flow_x",
                "info_flow_theta", "sigma_x")


def learner_section(*, quick: bool, seed: int, out_figs) -> dict:
    """The linear-Gaussian lagged learner: closed forms against simulation."""
    import numpy as np

    from ..learning import GaussianLearner
    from ._demo_report import learner_figures

    L = GaussianLearner(**LEARNER_DEFAULTS)
    n_steps = 40
    n_datasets = 1500 if quick else 8000
    _note("simulation")
    ens = L.simulate(n_steps, n_datasets=n_datasets, method="gaussian", seed=seed)
    _note("estimates")
    ts = np.array([1, 3, 10, 30])
    est = L.estimate(ens, ts)
    cf = L.closed_form(ts)
    rows = []
    for key in LEARNER_KEYS:
        for j, t in enumerate(ts):
            e = est[key]
            r = _row(f"{key} (t = {t})", cf[key][j], float(np.asarray(e.value)[j]),
                     float(np.asarray(e.stderr)[j]), "theory/learning.md",
                     warnings=getattr(e, "warnings", ()))
            rows.append(r)
    from .. import estimate

    ft = estimate.fluctuation_theorem(ens)  # integral FT of the learning work, Delta F = 0
    rows.append(_row(f"mean of exp(-W), learning work over {n_steps} steps", 1.0,
                     float(ft.value), float(ft.stderr), "theory/learning.md",
                     warnings=ft.warnings))
    ordered = bool(np.all(cf["l_info"] <= cf["m_info"] + 1e-15))
    grid = np.arange(0, n_steps)
    curves = L.closed_form(grid)
    dense = np.arange(1, n_steps - 1)  # every step, for the figure's error bands
    _note("figures")
    figs = learner_figures(grid, curves, dense, L.estimate(ens, dense), out_figs,
                           n_datasets=n_datasets)
    return {"parameters": LEARNER_DEFAULTS, "n_steps": n_steps, "n_datasets": n_datasets,
            "comparison": rows, "l_info_le_m_info": ordered,
            "closed_form_curves": {k: curves[k] for k in LEARNER_KEYS}, "figures": figs}


def fig41_section(*, quick: bool, seed: int, out_figs) -> dict:
    """A small analogue of the paper's Fig. 4.1 (MLP ensemble, batch sizes 1, 10, 100)."""
    import numpy as np

    from .._progress import message_bar
    from ..learning import fig41
    from ..learning._fig41 import single_thread_blas
    from ..plotting import fig41_data_from_result, save_fig41_panels
    from ._demo_report import FIG41_CAPTIONS

    # 200 steps of 10 trials give the exponent within 0.02 of -1 (standard error 0.003) and
    # lag-1 autocorrelations within 0.02 of 0 over four seeds; 300 x 12 cost twice as much
    cfg: dict[str, Any] = (
        dict(hidden=(24, 24, 24), n_trials=5, n_steps=80, max_samples=500, n_eval=128,
             n_noise_params=300) if quick else
        dict(hidden=(100, 100, 100), n_trials=10, n_steps=200, max_samples=None, n_eval=256,
             n_noise_params=2000))
    with single_thread_blas():  # trials on Numba's threads, BLAS on one: no oversubscription
        res = fig41(batch_sizes=(1, 10, 100), lr=0.005, seed=seed, eval_every=10,
                    progress=message_bar(_note), **cfg)
    _note("figures")
    paths = save_fig41_panels(fig41_data_from_result(res), out_figs / "fig41")
    figs = []
    for p in paths:
        figs.append({"file": f"fig41/{p.name}",
                     "caption": FIG41_CAPTIONS.get(p.name, p.stem.replace("_", " ")),
                     "png": p.read_bytes()})
    mean_var = res.mean_noise_variance()
    lag1 = {int(b): float(res.autocorrelation[b][1]) for b in res.batch_sizes}
    return {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
            "data": res.meta.get("data", ""), "lr": 0.005,
            "mean_noise_variance": {int(b): v for b, v in mean_var.items()},
            "exponent": float(res.exponent), "exponent_stderr": float(res.exponent_stderr),
            "lag1_autocorrelation": lag1,
            "final_accuracy": {int(b): float(np.asarray(res.accuracy_mean[b])[-1])
                               for b in res.batch_sizes},
            "figures": figs}


def warm_fig41_kernels() -> None:
    """Compile (or load) the MLP kernels of the Fig. 4.1 section with a tiny run of it.

    The same layer count, activation, data and dtypes as :func:`fig41_section`, so the
    compiled specialisations are the ones that section needs; they land in Numba's cache.
    """
    from ..learning import fig41

    fig41(batch_sizes=(1,), lr=0.005, seed=0, eval_every=1, hidden=(4, 4, 4), n_trials=3,
          n_steps=2, max_samples=60, n_eval=16, n_noise_params=10)


def _fig41_kernels_cached() -> bool:
    """Whether Numba's cache already holds the Fig. 4.1 kernels for the current source.

    Reads the cache index through Numba's cache object (not a public API: any surprise
    counts as "not cached", which only costs a warm-up that loads instead of compiling).
    """
    try:
        from ..kernels import _mlp

        # Numba dispatchers: their cache is not in the type stubs
        kernels: tuple[Any, ...] = (_mlp.mlp_grad_ensemble, _mlp.mlp_logits_ensemble)
        return all(bool(k._cache._cache_file._load_index()) for k in kernels)
    except Exception:  # noqa: BLE001 - a private API: fall back to warming up
        return False


def _start_warmup(chosen):
    """Compile the Fig. 4.1 kernels in a second process while the earlier sections run.

    On a first run Numba compiles the MLP kernels (about 8 CPU seconds); a second process
    does it on another core while the SGD and learner sections use this one, and the Fig. 4.1
    section then loads them from the cache. Returns the process, or None when there is
    nothing to overlap (Fig. 4.1 not chosen or first, one CPU, STOCHTHERMO_NO_WARMUP set, or
    the kernels already cached: then a second process would only compete for the cores).
    """
    import os
    import subprocess
    import sys

    if ("fig41" not in chosen or chosen.index("fig41") == 0 or (os.cpu_count() or 1) < 2
            or os.environ.get("STOCHTHERMO_NO_WARMUP") or _fig41_kernels_cached()):
        return None
    code = "from stochthermo.commands.demo import warm_fig41_kernels; warm_fig41_kernels()"
    env = dict(os.environ, NUMBA_NUM_THREADS="1")  # it compiles; its tiny run needs no threads
    try:
        return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    except OSError:
        return None


#: how long the Fig. 4.1 section waits for the warm-up before compiling what is missing itself
WARMUP_WAIT_S = 600.0


def _finish_warmup(proc, *, wait: float = 0.0) -> None:
    """Wait up to ``wait`` seconds for the warm-up process, then stop it if still running.

    Numba writes each cache file whole (a temporary file, then a rename), so what a stopped
    warm-up finished is kept and the rest is compiled by this process.
    """
    import subprocess

    if proc is None:
        return
    if wait > 0:
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


SECTIONS = {"sgd": sgd_section, "learner": learner_section, "fig41": fig41_section}
#: stages each section reports (for the progress bar)
_STAGES = {"sgd": 4, "learner": 3, "fig41": 4}
#: what a demo writes into --out (an older output holding only these may be replaced)
OUTPUT_NAMES = ("results.json", "report.html", "figures", "manifest.json")


def _build_report(result) -> str:
    from ._demo_report import build_report

    return build_report(result)


def _note(message: str) -> None:
    """Report a stage of the running section to the progress display (if any)."""
    from ._progress import stage

    stage(message)


def _print_warnings(rows) -> None:
    for r in rows:
        for w in r.get("warnings", ()):
            print(f"   warning ({r['quantity']}): {w}")


def _strip_png(obj):
    if isinstance(obj, dict):
        return {k: _strip_png(v) for k, v in obj.items() if k not in ("png", "mathml")}
    if isinstance(obj, list):
        return [_strip_png(v) for v in obj]
    return obj


def _run_sections(args, chosen, result, stage, warmup, t_start) -> None:
    """Run the chosen sections in order into ``result``, with progress on stderr."""
    import sys
    import time

    from ._progress import Heartbeat

    for k, name in enumerate(chosen, 1):
        t0 = time.perf_counter()
        if name == "fig41":
            _finish_warmup(warmup, wait=WARMUP_WAIT_S)
        print(f"[{k}/{len(chosen)}] {name} ...", file=sys.stderr, flush=True)
        with Heartbeat(name, total=_STAGES.get(name)):
            result[name] = SECTIONS[name](quick=args.quick, seed=args.seed,
                                          out_figs=stage / "figures")
        print(f"[{k}/{len(chosen)}] {name} done in {time.perf_counter() - t0:.1f} s "
              f"(total {time.perf_counter() - t_start:.1f} s)", file=sys.stderr, flush=True)


def run(args) -> int:
    """Run the subcommand; returns the exit code."""
    import sys
    import time
    from pathlib import Path

    from .._atomic import staged_folder
    from ..cli import UsageError
    from ._format import dump_json, emit_json, format_table, write_atomic

    # each section once, in the order given (a repeated name would run it again)
    chosen = list(dict.fromkeys(s.strip() for s in args.sections.split(",") if s.strip()))
    bad = [s for s in chosen if s not in SECTIONS]
    if bad or not chosen:
        from ._format import short_text

        what = (f"unknown section {short_text(bad[0], 40)} in --sections" if bad
                else f"--sections {short_text(args.sections, 40)} names no section")
        raise UsageError(f"stochthermo demo: error: {what}; valid: {', '.join(SECTIONS)}")
    if args.seed < 0:  # refused now, not after the first sections ran
        raise UsageError(f"stochthermo demo: error: --seed {args.seed} is negative; pass a "
                         "non-negative integer")
    from .._atomic import check_out_folder

    check_out_folder(args.out, known=OUTPUT_NAMES)  # before the warm-up process starts
    out = Path(args.out)
    result: dict[str, Any] = {}
    t_all = time.perf_counter()
    settings = {"command": "demo", "seed": args.seed, "quick": args.quick, "sections": chosen}
    # everything goes into a staged folder that replaces --out only when the run is complete
    warmup = _start_warmup(chosen) if SECTIONS.get("fig41") is fig41_section else None
    try:
        with staged_folder(out, manifest=settings, known=OUTPUT_NAMES) as stage:
            _run_sections(args, chosen, result, stage, warmup, time.perf_counter())
            clean = _strip_png(result)
            clean["meta"] = {"quick": args.quick, "seed": args.seed,
                             "seconds": time.perf_counter() - t_all}
            write_atomic(stage / "results.json", dump_json(clean))
            write_atomic(stage / "report.html", _build_report(result))
    finally:
        _finish_warmup(warmup)
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
                               widths=[38, 11, 22, 6, 34]))
            _print_warnings(result["sgd"]["comparison"])
        if "learner" in result:
            print("\n2. linear-Gaussian lagged learner: closed form vs simulation")
            print(format_table(["quantity", "theory", "simulation", "z", "status"],
                               _comparison_cells(result["learner"]["comparison"]),
                               widths=[28, 11, 22, 6, 22]))
            _print_warnings(result["learner"]["comparison"])
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
