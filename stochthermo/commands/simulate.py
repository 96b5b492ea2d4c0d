"""``stochthermo simulate``: simulate an ensemble and compare it with the closed forms."""

from __future__ import annotations

from typing import Any

HELP = "simulate an ensemble (linear Langevin, linearized SGD, double well, dragged trap)"
DESCRIPTION = """\
Simulate an ensemble of independent trajectories and print a summary: final-time means, the
stationary covariance estimated from the ensemble against the exact one (linear models), and
the entropy production rate estimated from the trajectories (value ± standard error) against
its closed form, with the z-score (estimate - exact) / stderr. Units: k_B = 1, nats, time in
units of 1/A (SGD: t = lr * step).

Choose one model:
  --A MATRIX --D MATRIX                       dx = -A x dt + sqrt(2 D) dW
  --hessian M --noise-cov M --lr R --batch-size B   SGD near a minimum (exact discrete map)
  --model double-well [--barrier H --temperature T --tilt E --dim N]
  --model dragged-trap [--stiffness K --velocity V --temperature T --dim N]
  --wx ARRAY --wy ARRAY                       bipartite Markov jump process (Gillespie; the
                                              summary adds the information flows)

examples:
  stochthermo simulate --A '[[1,0.8],[-0.8,1]]' --D '[[1,0],[0,0.3]]' --n-traj 500 \\
      --n-steps 2000 --dt 0.01 --observables heat,medium_entropy
  stochthermo simulate --hessian '[[2,0.6],[0.6,1]]' --noise-cov '[[1,0],[0,0.25]]' \\
      --lr 0.05 --batch-size 4 --n-steps 4000 --format json
  stochthermo simulate --model dragged-trap --velocity 1 --observables work --out run.npz

The --out file (written atomically) holds the arrays x (n_traj, n_saved, dim), t, dt, one
array per observable, and meta_json (the run's settings as JSON text).
"""

_MODELS = ("double-well", "dragged-trap")
_OBSERVABLES = ("heat", "work", "medium_entropy")


def configure(p):
    """Add the options of the subcommand."""
    g = p.add_argument_group("linear Langevin model")
    g.add_argument("--A", metavar="MATRIX", help="drift matrix (JSON), e.g. '[[1,0.5],[-0.5,1]]'")
    g.add_argument("--D", metavar="MATRIX", help="diffusion matrix (JSON, symmetric PSD)")
    g.add_argument("--blocks", metavar="LIST",
                   help="subsystems for per-block heat: sizes '[1,1]' or '[[0],[1]]'")
    s = p.add_argument_group("linearized SGD model")
    s.add_argument("--hessian", metavar="MATRIX", help="Hessian H at the minimum (JSON)")
    s.add_argument("--noise-cov", metavar="MATRIX", help="per-sample gradient covariance (JSON)")
    s.add_argument("--lr", type=float, metavar="R", help="learning rate (time step t = lr n)")
    s.add_argument("--batch-size", type=int, metavar="B", help="mini-batch size")
    s.add_argument("--momentum", type=float, default=0.0, help="heavy-ball momentum (default 0)")
    b = p.add_argument_group("built-in non-linear models")
    b.add_argument("--model", choices=_MODELS, help="a ready-made model")
    b.add_argument("--barrier", type=float, default=1.0, help="double well: barrier height")
    b.add_argument("--tilt", type=float, default=0.0, help="double well: linear tilt")
    b.add_argument("--stiffness", type=float, default=1.0, help="dragged trap: stiffness")
    b.add_argument("--velocity", type=float, default=1.0, help="dragged trap: velocity")
    b.add_argument("--temperature", type=float, default=1.0, help="bath temperature (default 1)")
    b.add_argument("--dim", type=int, default=1, help="dimension of a built-in model (default 1)")
    j = p.add_argument_group("bipartite Markov jump process (theory/jump.md)")
    j.add_argument("--wx", metavar="ARRAY",
                   help="x-jump rates wx[y][x_to][x_from] (JSON), e.g. '[[[0,4],[0.5,0]],"
                   "[[0,0.5],[4,0]]]'; the run lasts n_steps * dt")
    j.add_argument("--wy", metavar="ARRAY", help="y-jump rates wy[x][y_to][y_from] (JSON)")
    r = p.add_argument_group("simulation")
    r.add_argument("--n-traj", type=int, default=500, help="trajectories (default 500)")
    r.add_argument("--n-steps", type=int, default=2000, help="steps (default 2000)")
    r.add_argument("--dt", type=float, default=None,
                   help="time step (default 0.01; not for SGD, whose step is --lr)")
    r.add_argument("--method", default=None, choices=("euler", "heun", "exact", "sgd"),
                   help="integrator (default: exact for linear models, euler otherwise)")
    r.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    r.add_argument("--save-every", type=int, default=1, help="save every k steps (default 1)")
    r.add_argument("--x0", default=None, metavar="START",
                   help="'stationary' (default for linear and SGD models), 'fixed' (the fixed "
                   "point; default otherwise) or a JSON vector")
    r.add_argument("--observables", default="", metavar="LIST",
                   help="comma-separated among heat, work, medium_entropy")
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="FILE.npz", help="write x, t and observables (atomically)")
    o.add_argument("--format", choices=("table", "json"), default="table",
                   help="summary format (default: table)")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")


# --------------------------------------------------------------------------- model building


def _usage(msg):
    from ..cli import UsageError

    return UsageError(f"stochthermo simulate: error: {msg}")


def _matrix(text, name):
    from ._format import parse_matrix_arg

    return None if text is None else parse_matrix_arg(text, name)


def build_model(args):
    """The model described by the options, and its kind (linear, sgd, double-well, ...)."""
    from .. import double_well, dragged_trap
    from ..errors import ModelError, ValidationError
    from ..models import LinearizedSGD, LinearLangevin

    linear = args.A is not None or args.D is not None
    sgd = any(v is not None for v in (args.hessian, args.noise_cov, args.lr, args.batch_size))
    builtin = args.model is not None
    if linear + sgd + builtin != 1:
        raise _usage("give exactly one model: --A and --D, or --hessian, --noise-cov, --lr and "
                     "--batch-size, or --model double-well|dragged-trap")
    try:
        if linear:
            if args.A is None or args.D is None:
                raise _usage("a linear model needs both --A and --D")
            blocks = _matrix(args.blocks, "--blocks")
            return LinearLangevin(_matrix(args.A, "--A"), _matrix(args.D, "--D"),
                                  blocks=blocks), "linear"
        if args.blocks is not None:
            raise _usage("--blocks applies to --A/--D models only")
        if sgd:
            missing = [n for n, v in (("--hessian", args.hessian), ("--noise-cov", args.noise_cov),
                                      ("--lr", args.lr), ("--batch-size", args.batch_size))
                       if v is None]
            if missing:
                raise _usage("a linearized SGD model also needs " + ", ".join(missing))
            return LinearizedSGD(_matrix(args.hessian, "--hessian"),
                                 _matrix(args.noise_cov, "--noise-cov"), lr=args.lr,
                                 batch_size=args.batch_size, momentum=args.momentum), "sgd"
        if args.model == "double-well":
            return double_well(args.barrier, args.temperature, dim=args.dim,
                               tilt=args.tilt), args.model
        return dragged_trap(args.stiffness, args.velocity, args.temperature,
                            dim=args.dim), args.model
    except (ValidationError, ModelError) as exc:
        raise _usage(str(exc)) from None


def _x0(args, kind, dim):
    import json

    text = args.x0
    if text is None:
        return "stationary" if kind in ("linear", "sgd") else None
    if text == "stationary":
        if kind not in ("linear", "sgd"):
            raise _usage(f"--x0 stationary needs a linear or SGD model, not {kind}")
        return "stationary"
    if text == "fixed":
        return None
    from ._format import load_json_arg, short_text

    example = f"'{[0.0] * min(dim, 3)}'"
    try:
        vec = load_json_arg(text, "--x0", example=example)
    except json.JSONDecodeError:
        raise _usage(f"--x0 {short_text(text)} must be 'stationary', 'fixed' or a JSON vector "
                     f"such as {example}") from None
    return vec


def _observables(text):
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in _OBSERVABLES]
    if bad:
        raise _usage(f"unknown observable {bad[0]!r}; valid: {', '.join(_OBSERVABLES)}")
    return tuple(dict.fromkeys(names))


def _progress(args) -> bool:
    import importlib.util
    import sys

    if args.no_progress or importlib.util.find_spec("tqdm") is None:
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


# --------------------------------------------------------------------------- summary


def _mean_se(a):
    import numpy as np

    a = np.asarray(a, dtype=float)
    n = a.shape[0]
    se = a.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(a.shape[1:], np.nan)
    return a.mean(axis=0), se


def _covariance_estimate(x, start: int):
    """Stationary covariance from saved times ``start:``; error bars from trajectory spread."""
    import numpy as np

    seg = x[:, start:, :]
    mean = seg.reshape(-1, seg.shape[2]).mean(axis=0)
    y = seg - mean
    per_traj = np.einsum("kti,ktj->kij", y, y) / seg.shape[1]  # (n_traj, d, d)
    return _mean_se(per_traj)


def _embedded_ep(model):
    """Entropy production rate of the OU process whose transitions equal the SGD map's."""
    import numpy as np
    import scipy.linalg as sla

    from .. import exact
    from ..models import LinearLangevin

    F = model.update_matrix()
    A = -np.real(sla.logm(F)) / model.lr
    C = exact.stationary_covariance(model)
    D = 0.5 * (A @ C + C @ A.T)
    return exact.entropy_production(LinearLangevin(A, D))


def _summary_entropy_production(ens, model, kind, args) -> dict:
    """Estimated and exact entropy production of a linear or SGD run (JSON-friendly)."""
    import numpy as np

    from .. import exact
    from ..errors import StochThermoError
    from ..estimate import entropy_production

    ep: dict[str, Any] = {"unit": "nats/time"}
    try:
        if kind == "sgd" and model.momentum != 0.0:
            raise StochThermoError("with momentum the saved theta alone is not Markov")
        est = entropy_production(ens, method="linear")
        ep.update(estimate=float(est.value), stderr=float(est.stderr), method=est.method,
                  warnings=list(est.warnings))
    except StochThermoError as exc:
        from ..cli import flag_message

        ep["note"] = "no estimate: " + flag_message(str(exc).splitlines()[0], "simulate",
                                                    args)
    if kind == "linear":
        ep["exact"] = exact.entropy_production(model)
    else:
        ep["exact_continuous_limit"] = exact.entropy_production(model)
        if model.momentum == 0.0:
            try:
                ep["exact"] = _embedded_ep(model)
                ep["exact_note"] = ("OU process with the same transitions as the discrete "
                                    "SGD map (the continuous limit differs by O(lr))")
            except (StochThermoError, ValueError, np.linalg.LinAlgError):
                pass
    if "estimate" in ep and "exact" in ep and ep["stderr"] > 0:
        ep["z"] = (ep["estimate"] - ep["exact"]) / ep["stderr"]
    return ep


def _dragged_trap_work(ens, model, args):
    """Exact mean work on a trap dragged at constant velocity, or None without a stiffness."""
    import numpy as np
    import scipy.linalg as sla

    # mean lag y = x - c obeys y' = -K y - v from y(0) = 0, so <W(t)> =
    # |v|^2 t - v^T K^-1 (I - exp(-K t)) v   (mobility 1)

    K = np.asarray(model.stiffness, dtype=float) if hasattr(model, "stiffness") else None
    if K is not None:
        K = K * np.eye(ens.dim) if K.ndim == 0 else K
        v = np.full(ens.dim, float(args.velocity))
        t = float(ens.t[-1] - ens.t[0])
        expK = sla.expm(-K * t)
        return float(v @ v * t - v @ np.linalg.solve(K, (np.eye(ens.dim) - expK) @ v))
    return None


def summarize(ens, model, kind, args, observables) -> dict:
    """Numbers of the summary (JSON-friendly)."""
    import numpy as np

    from .. import exact

    x = ens.x
    out = {
        "model": repr(model), "kind": kind, "n_traj": ens.n_traj, "n_saved": ens.n_time,
        "dim": ens.dim, "dt": ens.dt, "sample_interval": ens.sample_interval,
        "t_final": float(ens.t[-1]), "method": ens.meta.get("method"), "seed": args.seed,
        "time_unit": ens.meta.get("time_unit"),
    }
    m, se = _mean_se(x[:, -1, :])
    out["final_mean"] = {"value": m, "stderr": se}
    if kind in ("linear", "sgd"):
        centre = model.x_star if kind == "linear" else model.theta_star
        out["final_mean"]["exact_stationary"] = centre
    out["observables"] = {}
    for name in observables:
        v = np.asarray(ens.observables[name])
        mv, sv = _mean_se(v[:, -1])
        entry = {"value": mv, "stderr": sv, "unit": "nats" if name == "medium_entropy"
                 else "energy (k_B T = 1 units)"}
        out["observables"][name] = entry
    stationary_start = args.x0 in (None, "stationary") and kind in ("linear", "sgd")
    if kind in ("linear", "sgd"):
        start = 0 if stationary_start else ens.n_time // 2
        cov, cov_se = _covariance_estimate(x, start)
        exact_cov = exact.stationary_covariance(model)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.abs(cov - exact_cov) / cov_se
        out["stationary_covariance"] = {
            "estimate": cov, "stderr": cov_se, "exact": exact_cov,
            "max_abs_z": float(np.nanmax(z)) if np.any(np.isfinite(z)) else None,
            "from_saved_index": start,
        }
        ep = _summary_entropy_production(ens, model, kind, args)
        out["entropy_production"] = ep
        if "medium_entropy" in out["observables"] and stationary_start and ens.t[-1] > 0:
            e = out["observables"]["medium_entropy"]
            rate = float(e["value"]) / float(ens.t[-1] - ens.t[0])
            rate_se = float(e["stderr"]) / float(ens.t[-1] - ens.t[0])
            e["rate"] = rate
            e["rate_stderr"] = rate_se
            if "exact" in ep and kind == "linear":
                e["rate_exact"] = ep["exact"]
    if kind == "dragged-trap" and "work" in out["observables"] and args.x0 in (None, "fixed"):
        w = _dragged_trap_work(ens, model, args)
        if w is not None:
            out["observables"]["work"]["exact"] = w
    return out


def _fmt(v, se=None, digits=4):
    import numpy as np

    if v is None:
        return ""
    a = np.asarray(v, dtype=float)
    if a.ndim == 0:
        if se is None or not np.isfinite(float(se)):
            return f"{float(a):.{digits}g}"
        return f"{float(a):.{digits}g} ± {float(se):.2g}"
    if se is None:
        return "[" + ", ".join(f"{x:.{digits}g}" for x in a.ravel()) + "]"
    s = np.asarray(se, dtype=float)
    return "[" + ", ".join(f"{x:.{digits}g}±{e:.1g}" for x, e in zip(a.ravel(), s.ravel(),
                                                                       strict=True)) + "]"


def _table(summary) -> str:
    from ._format import format_table

    rows = []
    fm = summary["final_mean"]
    rows.append(["mean x at t_final", _fmt(fm["value"], fm["stderr"]),
                 _fmt(fm.get("exact_stationary")), ""])
    for name, e in summary["observables"].items():
        rows.append([f"<{name}> at t_final", _fmt(e["value"], e["stderr"]), _fmt(e.get("exact")),
                     _z(e["value"], e["stderr"], e.get("exact"))])
        if "rate" in e:
            rows.append([f"<{name}> rate [nats/time]", _fmt(e["rate"], e["rate_stderr"]),
                         _fmt(e.get("rate_exact")),
                         _z(e["rate"], e["rate_stderr"], e.get("rate_exact"))])
    sc = summary.get("stationary_covariance")
    if sc is not None:
        z = sc["max_abs_z"]
        rows.append(["stationary covariance", _fmt(sc["estimate"], sc["stderr"]),
                     _fmt(sc["exact"]), "" if z is None else f"max |z| {z:.2f}"])
    ep = summary.get("entropy_production")
    if ep is not None:
        est = _fmt(ep["estimate"], ep["stderr"]) if "estimate" in ep else ep.get("note", "")
        rows.append(["entropy production [nats/time]", est, _fmt(ep.get("exact")),
                     "" if "z" not in ep else f"{ep['z']:.2f}"])
        if "exact_continuous_limit" in ep:
            rows.append(["  continuous-limit rate", "", _fmt(ep["exact_continuous_limit"]), ""])
        rows += [["  warning", w, "", ""] for w in ep.get("warnings", ())]
    head = (f"{summary['model']}\n{summary['n_traj']} trajectories, {summary['n_saved']} saved "
            f"points, dt = {summary['dt']:g}, t_final = {summary['t_final']:g}, "
            f"method = {summary['method']}, seed = {summary['seed']}")
    return head + "\n" + format_table(["quantity", "simulation (± s.e.)", "exact", "z"], rows,
                                      max_width=60)


def _z(v, se, exact):
    import numpy as np

    if exact is None or se is None:
        return ""
    try:
        z = (float(v) - float(exact)) / float(se)
    except (TypeError, ValueError, ZeroDivisionError):
        return ""
    return f"{z:.2f}" if np.isfinite(z) else ""


def _write_npz(path, ens, summary):
    import io
    import json

    import numpy as np

    from ._format import to_jsonable, write_atomic

    arrays = {"x": ens.x, "t": ens.t, "dt": np.float64(ens.dt)}
    for name, v in ens.observables.items():
        arrays[name] = np.asarray(v)
    meta = {k: v for k, v in summary.items() if k in (
        "model", "kind", "n_traj", "dt", "method", "seed", "time_unit", "sample_interval")}
    arrays["meta_json"] = np.array(json.dumps(to_jsonable(meta)))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return write_atomic(path, buf.getvalue(), mode="wb")


def run(args) -> int:
    """Run the subcommand."""
    from ..errors import ModelError, ValidationError
    from ..simulation import simulate
    from ._format import emit_json

    if getattr(args, "wx", None) is not None or getattr(args, "wy", None) is not None:
        return _run_jump(args)
    model, kind = build_model(args)
    observables = _observables(args.observables)
    if kind == "sgd":
        if args.dt is not None:
            raise _usage("--dt does not apply to SGD: its time step is the learning rate --lr")
        if args.method not in (None, "sgd", "exact"):
            raise _usage(f"--method {args.method} does not apply to SGD (use sgd)")
        dt, method = None, "sgd"
    else:
        if args.method == "sgd":
            raise _usage("--method sgd applies to SGD models only")
        dt = 0.01 if args.dt is None else args.dt
        method = args.method or ("euler" if kind == "double-well" else "exact")
        _check_duration(dt, args.n_steps)
    _check_out(args)
    x0 = _x0(args, kind, model.dim)
    try:
        ens = simulate(model, n_traj=args.n_traj, n_steps=args.n_steps, dt=dt, method=method,
                       x0=x0, save_every=args.save_every, seed=args.seed,
                       observables=observables, progress=_progress(args))
    except (ValidationError, ModelError) as exc:
        raise _usage(str(exc).splitlines()[0]) from None
    summary = summarize(ens, model, kind, args, observables)
    if args.out is not None:
        summary["out"] = str(_write_npz(args.out, ens, summary))
    if args.format == "json":
        emit_json(summary)
    else:
        print(_table(summary))
        if args.out is not None:
            print(f"wrote {summary['out']}")
    return 0


# --------------------------------------------------------------------------- jump processes


def _run_jump(args) -> int:
    """Gillespie ensemble of a bipartite jump process, summarised against the exact values."""
    import io
    import json

    import numpy as np

    from .._simulate_jump import simulate_jump
    from ..errors import ModelError, ResourceError, ValidationError
    from ..estimators._jump import summarize_jump
    from ..models import BipartiteJump
    from ._format import emit_json, format_table, to_jsonable, write_atomic

    others = [f for f, v in (("--A", args.A), ("--D", args.D), ("--hessian", args.hessian),
                             ("--model", args.model), ("--method", args.method),
                             ("--blocks", args.blocks)) if v is not None]
    if args.wx is None or args.wy is None or others:
        raise _usage("a jump process takes both --wx and --wy and no other model or --method"
                     + (f" (got also {', '.join(others)})" if others else ""))
    if args.observables:
        raise _usage("--observables does not apply to a jump process: entropy and information "
                     "flows, residence times and jump counts are always accumulated")
    _check_out(args)
    if args.save_every < 1 or args.n_steps % args.save_every:
        raise _usage(f"--n-steps {args.n_steps} must be a multiple of --save-every "
                     f"{args.save_every}")
    dt = 0.01 if args.dt is None else args.dt
    x0 = None
    if args.x0 not in (None, "stationary"):
        try:
            x0 = int(args.x0)
        except ValueError:
            raise _usage(f"--x0 {args.x0!r} must be 'stationary' or a state index "
                         "x * ny + y") from None
    try:
        model = BipartiteJump(_matrix(args.wx, "--wx"), _matrix(args.wy, "--wy"))
        ens = simulate_jump(model, n_traj=args.n_traj, n_steps=args.n_steps // args.save_every,
                            dt=dt * args.save_every, seed=args.seed, x0=x0,
                            progress=_progress(args))
    except (ValidationError, ModelError, ResourceError) as exc:
        raise _usage(str(exc).splitlines()[0]) from None
    summary = summarize_jump(ens, model)
    if x0 is not None:
        summary["note"] = "not a stationary start: the exact columns are steady-state values"
    if args.out is not None:
        arrays: dict[str, Any] = {"states": ens.states, "t": ens.times, "counts": ens.counts,
                  **{k: np.asarray(v) for k, v in ens.observables.items()},
                  "meta_json": np.array(json.dumps(to_jsonable(dict(ens.meta))))}
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        summary["out"] = str(write_atomic(args.out, buf.getvalue(), mode="wb"))
    if args.format == "json":
        emit_json(summary)
        return 0
    rows = []
    for key in ("stationary_distribution", "entropy_production", "environment_entropy_flows",
                "information_flows"):
        if key in summary:
            e = summary[key]
            z = np.atleast_1d(e["z"])
            zs = ", ".join("" if not np.isfinite(v) else f"{v:.2f}" for v in z)
            rows.append([key, _fmt(e["estimate"], e["stderr"]), _fmt(e["exact"]), zs])
    print(f"{summary['model']}\n{summary['n_traj']} trajectories, t_max = {summary['t_max']:g}, "
          f"{summary['n_jumps']} jumps, seed = {args.seed}")
    print(format_table(["quantity", "simulation (± s.e.)", "exact", "z"], rows, max_width=60))
    if "note" in summary:
        print(summary["note"])
    if args.out is not None:
        print(f"wrote {summary['out']}")
    return 0


def _check_duration(dt, n_steps) -> None:
    """Refuse a ``--dt`` whose run would end beyond the largest float (t = inf)."""
    import math

    if (isinstance(dt, float) and math.isfinite(dt) and dt > 0 and isinstance(n_steps, int)
            and n_steps >= 1 and not math.isfinite(dt * n_steps)):
        raise _usage(f"--dt {dt:g} times --n-steps {n_steps} overflows float64 (the run would "
                     "end at t = inf); pass a smaller --dt or fewer --n-steps")


def _check_out(args) -> None:
    """``--out`` ends with .npz and can be written there (checked before simulating)."""
    if args.out is None:
        return
    from ._format import check_out_file_arg, short_text

    if not str(args.out).endswith(".npz"):
        raise _usage(f"--out {short_text(args.out)} must end with .npz")
    check_out_file_arg(args.out, "--out")
