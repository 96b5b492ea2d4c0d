"""``stochthermo demo``: the toolkit end to end on built-in defaults."""

from __future__ import annotations

HELP = "run the built-in demonstration (closed forms, and theory vs numerics)"
DESCRIPTION = """\
Run the toolkit on built-in defaults: a 2-d linearized-SGD model whose Hessian and gradient-noise
covariance do not commute (so detailed balance is broken and entropy is produced). Its closed
forms are derived with SymPy in the symbols r (learning rate) and b (batch size), evaluated at the
defaults, and checked against the independent SciPy computation.
"""

#: The default model of the demo: non-commuting Hessian and gradient-noise covariance.
DEFAULT_MODEL = {
    "hessian": [[2.0, 0.6], [0.6, 1.0]],
    "noise_cov": [[1.0, 0.0], [0.0, 0.25]],
    "lr": 0.05,
    "batch_size": 8,
}


def configure(p):
    p.add_argument("--out", metavar="DIR", default=None,
                   help="also write the numbers as JSON into DIR (written atomically)")
    p.add_argument("--quick", action="store_true", help="the fastest variant of every section")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="output format (default: table)")


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


def _fmt(v):
    import numpy as np

    a = np.asarray(v, dtype=float)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    return np.array2string(a, precision=5, separator=", ", suppress_small=False)


def run(args) -> int:
    from ._format import dump_json, format_table, write_atomic

    result = {"closed_forms": closed_form_section()}
    if args.format == "json":
        print(dump_json(result))
    else:
        cf = result["closed_forms"]
        m = cf["model"]
        print("stochthermo demo: linearized SGD near a minimum, Langevin limit A = H, "
              "D = r Sigma / (2 b)")
        print(f"  H = {m['hessian']}, Sigma = {m['noise_cov']}, r = {m['lr']}, "
              f"b = {m['batch_size']}")
        db = cf["detailed_balance"]
        print(f"  detailed balance: {'holds' if db['holds'] else 'broken'} "
              f"(||[H, Sigma]|| / (||H|| ||Sigma||) = {db['commutator']:.3g})\n")
        rows = [[r["name"], r["expression"], _fmt(r["symbolic"]), _fmt(r["numeric"]),
                 f"{r['rel_diff']:.1e}"] for r in cf["rows"]]
        print(format_table(["quantity", "closed form (SymPy, in r and b)", "SymPy value",
                            "SciPy value", "rel. diff"], rows, widths=[28, 46, 22, 22, 9]))
    if args.out:
        from pathlib import Path

        path = write_atomic(Path(args.out) / "demo.json", dump_json(result))
        print(f"\nresults written to {path}")
    return 0
