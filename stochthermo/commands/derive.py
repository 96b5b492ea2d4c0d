"""``stochthermo derive``: closed forms of a linear Langevin or linearized-SGD model."""

from __future__ import annotations

import json

HELP = "derive closed forms (covariance, current, entropy production, heat, information)"
DESCRIPTION = """\
Derive the closed forms of a linear Langevin model dx = -A x dt + sqrt(2D) dW, or of SGD near a
minimum (A = H, D = lr Sigma / (2 |b|)), with SymPy. Entries may be numbers or expressions in
named symbols; the output is a table, LaTeX or JSON.

examples:
  stochthermo derive --A '[[2,0.5],[0.5,1]]' --D '[[2,0],[0,1]]'
  stochthermo derive --A '[["k",1],[-1,"k"]]' --D '[["T",0],[0,"T"]]' --format latex
  stochthermo derive --hessian '[[2,0.6],[0.6,1]]' --noise-cov '[[1,0],[0,0.25]]' \\
      --lr r --batch-size b
  stochthermo derive --model model.json     (keys: A, D or hessian, noise_cov, lr, batch_size;
                                             optional blocks, temperatures)
  stochthermo derive --wx '[[[0,a],[b,0]],[[0,b],[a,0]]]' --wy '[[[0,w],[w,0]],[[0,w],[w,0]]]'
                                            (bipartite jump process: the 4-state sensor)

Entries are numbers or expressions built from numbers, names (real symbols), + - * / ^ **,
parentheses and sqrt, exp, log, sin, cos, tan, sinh, cosh, tanh, Abs, Rational; nothing in them
is executed. An unstable drift, a D that is not positive semi-definite, complex or infinite
entries are refused (exit code 2); conditions that depend on the symbols (Routh-Hurwitz, D >= 0)
are printed as assumptions. A model estimated to take more than a minute is refused unless
--allow-slow is given.
"""


def configure(p):
    """Add the options of this subcommand to the argparse parser ``p``."""
    g = p.add_argument_group("linear Langevin model")
    g.add_argument("--A", metavar="MATRIX", help="drift matrix, e.g. '[[2,0.5],[0.5,1]]'")
    g.add_argument("--D", metavar="MATRIX", help="diffusion matrix (symmetric)")
    s = p.add_argument_group("linearized SGD model")
    s.add_argument("--hessian", metavar="MATRIX", help="Hessian H at the minimum")
    s.add_argument("--noise-cov", metavar="MATRIX", help="per-sample gradient covariance Sigma")
    s.add_argument("--lr", metavar="EXPR", help="learning rate (number or symbol)")
    s.add_argument("--batch-size", metavar="EXPR", help="batch size (number or symbol)")
    j = p.add_argument_group("bipartite Markov jump process (theory/jump.md)")
    j.add_argument("--wx", metavar="ARRAY", help="x-jump rates wx[y][x_to][x_from], e.g. "
                   "'[[[0,a],[b,0]],[[0,b],[a,0]]]'")
    j.add_argument("--wy", metavar="ARRAY", help="y-jump rates wy[x][y_to][y_from]")
    p.add_argument("--model", metavar="FILE", help="JSON file with the model (see above)")
    p.add_argument("--blocks", metavar="LIST", help="subsystems: sizes '[1,1]' or '[[0],[1]]'")
    p.add_argument("--temperatures", metavar="LIST", help="bath temperature of each block")
    p.add_argument("--quantity", action="append", metavar="NAME",
                   help="only this quantity (repeatable); default: all")
    p.add_argument("--format", choices=("table", "latex", "json"), default="table",
                   help="output format (default: table)")
    p.add_argument("--allow-slow", action="store_true",
                   help="derive even when the model is estimated to take minutes (by default "
                   "such a model is refused before any work)")


def _load(text, name):
    from ._format import parse_matrix_arg

    if text is None:
        return None
    return parse_matrix_arg(text, name, symbols=True)


#: the largest matrix a derivation takes (far beyond what finishes; larger ones are refused
#: before their entries are parsed, which alone takes a minute for 1000 x 1000)
MAX_DIM = 100

_MODEL_KEYS = ("A", "D", "hessian", "noise_cov", "lr", "batch_size", "blocks", "temperatures")


def _bad_json_value(val, depth: int = 0):
    """Description of the first value that is not a number, a string or a list of them."""
    if isinstance(val, bool) or val is None:
        return f"the value {val!r}"
    if isinstance(val, (int, float, str)):
        return None
    if isinstance(val, list) and depth < 3:
        for v in val:
            bad = _bad_json_value(v, depth + 1)
            if bad is not None:
                return bad
        return None
    if isinstance(val, list):
        return "lists nested more than three deep"
    return f"a JSON {type(val).__name__} ({str(val)[:40]})"


def _model_spec(args) -> dict:
    from ..cli import UsageError

    spec: dict = {}
    if getattr(args, "wx", None) is not None or getattr(args, "wy", None) is not None:
        return _jump_spec(args)
    if args.model:
        spec = _read_model_file(args.model)
    for key, attr in (("A", "A"), ("D", "D"), ("hessian", "hessian"),
                      ("noise_cov", "noise_cov"), ("blocks", "blocks"),
                      ("temperatures", "temperatures")):
        val = _load(getattr(args, attr), "--" + key.replace("_", "-"))
        if val is not None:
            spec[key] = val
    for key in ("lr", "batch_size"):
        val = getattr(args, key)
        if val is not None:
            spec[key] = val
    for key in ("A", "D", "hessian", "noise_cov"):
        val = spec.get(key)
        if isinstance(val, list) and len(val) > MAX_DIM:  # refused before parsing its entries
            where = f"{args.model!r}: key {key!r}" if args.model else "--" + key.replace("_", "-")
            raise UsageError(
                f"stochthermo derive: error: {where} has {len(val)} rows; a symbolic derivation "
                f"takes at most {MAX_DIM} (its cost grows steeply with the dimension); for "
                "numbers in any dimension use the Python functions in stochthermo.exact"
            )
    linear = "A" in spec or "D" in spec
    sgd = any(k in spec for k in ("hessian", "noise_cov", "lr", "batch_size"))
    if linear == sgd:
        raise UsageError(
            "stochthermo derive: error: give either --A and --D, or --hessian, --noise-cov, --lr "
            "and --batch-size (or --model FILE)"
        )
    need = ("A", "D") if linear else ("hessian", "noise_cov", "lr", "batch_size")
    missing = [k for k in need if k not in spec]
    if missing:
        raise UsageError(
            "stochthermo derive: error: missing "
            + ", ".join("--" + k.replace("_", "-") for k in missing)
        )
    spec["_kind"] = "linear" if linear else "sgd"
    return spec


def _read_model_file(model: str) -> dict:
    """The JSON object of a ``--model`` file, refused with one line when it cannot be used."""
    from pathlib import Path

    from ..cli import UsageError
    from ._format import short_text

    try:
        with Path(model).open("rb") as fh:  # a few matrices: refuse huge files, devices
            raw = fh.read(1_000_001)
    except FileNotFoundError:
        raise UsageError(f"stochthermo derive: error: no such file {model!r}") from None
    except IsADirectoryError:
        raise UsageError(f"stochthermo derive: error: --model {model!r} is a folder; "
                         "give a JSON file") from None
    except (OSError, ValueError) as exc:  # unreadable (EIO, too long a name, a NUL byte)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"stochthermo derive: error: --model {short_text(model)} "
                         f"cannot be read ({why}); give a readable JSON file") from None
    if len(raw) > 1_000_000:
        raise UsageError(f"stochthermo derive: error: {model!r} is larger than 1 MB; "
                         "a model file holds a few small matrices")
    try:
        spec = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError, 4300+ digits
        raise UsageError(
            f"stochthermo derive: error: {model!r} is not valid JSON ({exc})"
        ) from None
    if not isinstance(spec, dict):
        raise UsageError(f"stochthermo derive: error: {model!r} must hold a JSON object")
    spec = {str(k).replace("-", "_"): v for k, v in spec.items()}
    unknown = sorted(set(spec) - set(_MODEL_KEYS))
    if unknown:
        raise UsageError(
            f"stochthermo derive: error: {model!r} has the unknown key {unknown[0]!r}; "
            f"valid keys: {', '.join(_MODEL_KEYS)}"
        )
    for key, val in spec.items():
        bad = _bad_json_value(val)
        if bad is not None:
            raise UsageError(
                f"stochthermo derive: error: {model!r}: key {key!r} holds {bad}; "
                "entries must be numbers or strings (expressions), in lists for matrices"
            )
    return spec


def derive_from_spec(spec, *, allow_slow: bool = False):
    """Build the derivation object from a parsed model specification."""
    from ..symbolic import derive_linear, derive_sgd

    if spec["_kind"] == "jump":
        return _derive_jump(spec)
    if spec["_kind"] == "linear":
        return derive_linear(spec["A"], spec["D"], blocks=spec.get("blocks"),
                             temperatures=spec.get("temperatures"), allow_slow=allow_slow)
    if spec.get("temperatures") is not None:
        from ..cli import UsageError

        raise UsageError("stochthermo derive: error: --temperatures applies to --A/--D models "
                         "only (an SGD model has one temperature per block from lr Sigma / 2b)")
    return derive_sgd(spec["hessian"], spec["noise_cov"], spec["lr"], spec["batch_size"],
                      blocks=spec.get("blocks"), allow_slow=allow_slow)


def _numeric(deriv, name):
    if deriv.symbols:
        return None
    try:
        return deriv.compile(name)()
    except Exception:  # noqa: BLE001 - a value is optional in the output
        return None


def run(args) -> int:
    """Run the subcommand; returns the exit code."""
    import sympy as sp

    from ..cli import UsageError
    from ..errors import ModelError, ResourceError, UnstableModelError, ValidationError
    from ._format import describe_derivation, emit_json, format_table

    spec = _model_spec(args)
    source = f" (in {args.model})" if args.model else ""
    try:
        deriv = derive_from_spec(spec, allow_slow=args.allow_slow)
    except ResourceError as exc:
        raise UsageError(f"stochthermo derive: error: {exc}") from None
    except (ValidationError, UnstableModelError) as exc:
        raise UsageError(f"stochthermo derive: error{source}: {exc}") from None
    names = args.quantity or list(deriv.names)
    bad = [n for n in names if n not in deriv.names]
    if bad:
        raise UsageError(
            f"stochthermo derive: error: unknown quantity {bad[0]!r}; valid: "
            + ", ".join(deriv.names)
        )
    results = {}
    for n in names:
        try:
            expr = deriv.expression(n)
        except ModelError as exc:
            results[n] = {"error": str(exc)}
            continue
        entry = {"expression": sp.sstr(expr), "latex": deriv.latex(n)}
        conds = deriv.assumptions_for(n)
        if conds:
            entry["assumptions"] = [sp.sstr(c) for c in conds]
        if deriv.in_terms_of_covariance(n):
            entry["in_terms_of"] = [s.name for s in deriv.covariance_symbols]
        val = _numeric(deriv, n)
        if val is not None:
            entry["value"] = val
        results[n] = entry
    if args.format == "json":
        emit_json({"model": describe_derivation(deriv),
                   "symbols": [s.name for s in deriv.symbols],
                   "assumptions": [sp.sstr(c) for c in deriv.assumptions],
                   "quantities": results})
    elif args.format == "latex":
        for n, e in results.items():
            if "error" in e:
                print(f"% {n}: {e['error']}")
            else:
                print(f"% {n}\n\\[ {e['latex']} \\]")
    else:
        rows = []
        for n, e in results.items():
            if "error" in e:
                rows.append([n, "(undefined) " + e["error"], ""])
                continue
            val = e.get("value")
            rows.append([n, e["expression"], "" if val is None else _fmt_value(val)])
        print(describe_derivation(deriv))
        conds = [c for e in results.values() for c in e.get("assumptions", ())]
        if conds:
            print("assuming: " + ", ".join(dict.fromkeys(conds)))
        if all(not r[2] for r in rows):  # symbolic model: no numeric column
            rows = [r[:2] for r in rows]
        print(format_table(["quantity", "closed form", "value"][:len(rows[0]) if rows else 3],
                           rows, max_width=60))
    return 0


def _fmt_value(v):
    import numpy as np

    a = np.asarray(v, dtype=float)
    with np.printoptions(precision=6, suppress=False):
        return np.array2string(a, separator=", ") if a.ndim else f"{float(a):.10g}"


# --------------------------------------------------------------------------- jump processes


def _jump_spec(args) -> dict:
    """``--wx``/``--wy`` of a bipartite jump process (JSON, or bracketed expressions)."""
    from ..cli import UsageError

    others = [f for f, v in (("--A", args.A), ("--D", args.D), ("--hessian", args.hessian),
                             ("--model", args.model), ("--blocks", args.blocks),
                             ("--temperatures", args.temperatures)) if v is not None]
    if args.wx is None or args.wy is None or others:
        raise UsageError("stochthermo derive: error: a jump process takes both --wx and --wy "
                         "and nothing else" + (f" (got also {', '.join(others)})" if others
                                               else ""))
    from ._format import load_json_arg

    spec = {"_kind": "jump"}
    for key in ("wx", "wy"):
        text = getattr(args, key)
        try:
            spec[key] = load_json_arg(text, "--" + key,
                                      example="'[[[0, a], [b, 0]], [[0, b], [a, 0]]]'")
        except json.JSONDecodeError:
            spec[key] = text  # bracketed expressions such as [[[0, a], [b, 0]], ...]
    return spec


def _derive_jump(spec):
    from ..cli import UsageError
    from ..errors import ModelError, ResourceError
    from ..symbolic import derive_jump

    try:
        return derive_jump(spec["wx"], spec["wy"])
    except (ModelError, ResourceError) as exc:
        raise UsageError(f"stochthermo derive: error: {exc}") from None
