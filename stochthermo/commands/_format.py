"""Small helpers shared by the subcommands: tables, JSON, atomic writes."""

from __future__ import annotations

import json
import re
import textwrap

from .._atomic import write_atomic
from ..results import to_jsonable

__all__ = ["format_table", "to_jsonable", "dump_json", "emit_json", "write_atomic",
           "parse_matrix_arg", "warning_lines"]


def format_table(headers, rows, *, widths=None, max_width: int = 48) -> str:
    """Plain-text table with wrapped cells."""
    rows = [[str(c) for c in r] for r in rows]
    ncol = len(headers)
    if widths is None:
        widths = []
        for j in range(ncol):
            w = max([len(headers[j])] + [len(r[j]) for r in rows])
            widths.append(min(w, max_width))
    lines = []
    sep = "  "
    lines.append(sep.join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    lines.append(sep.join("-" * w for w in widths))
    for r in rows:
        cells = [textwrap.wrap(c, w, break_long_words=True, break_on_hyphens=False) or [""]
                 for c, w in zip(r, widths)]
        height = max(len(c) for c in cells)
        for k in range(height):
            lines.append(sep.join((c[k] if k < len(c) else "").ljust(w)
                                  for c, w in zip(cells, widths)).rstrip())
    return "\n".join(lines)


def dump_json(obj) -> str:
    """Indented, strict JSON text of ``obj`` (non-finite numbers become ``null``)."""
    return json.dumps(to_jsonable(obj), indent=2, sort_keys=False, allow_nan=False)


def emit_json(obj) -> None:
    """Print ``obj`` as the one JSON document of a ``--format json`` command on stdout.

    While such a command runs, ``print`` goes to stderr (see :mod:`stochthermo.cli`); this is
    the only way onto stdout, so stdout holds exactly this document.
    """
    from ..cli import json_stdout

    out = json_stdout()
    out.write(dump_json(obj) + "\n")
    out.flush()


def warning_lines(warnings, *, indent: str = "  ") -> list[str]:
    """``warning: ...`` lines for an estimate's failed self-checks (empty when none)."""
    return [f"{indent}warning: {w}" for w in (warnings or ())]


def parse_matrix_arg(text: str, name: str, *, symbols: bool = False):
    """A matrix from a command-line string like ``[[2, 0.5], [0.5, 1]]`` (JSON).

    With ``symbols=True`` entries may also be strings holding expressions (``"k"``); a text that
    fails to parse and holds letters is then told to quote them.
    """
    from ..cli import UsageError

    try:
        value = json.loads(text)
    except RecursionError:
        raise UsageError(
            f"stochthermo: error: {name} nests brackets too deeply to be a matrix; write it like "
            "'[[2, 0.5], [0.5, 1]]'"
        ) from None
    except json.JSONDecodeError as exc:
        what = "numbers or quoted expressions" if symbols else "numbers"
        fix = "write it like '[[2, 0.5], [0.5, 1]]'"
        if symbols and re.search(r"[A-Za-z_]", text):
            fix = ("put names and expressions in double quotes, like "
                   "'[[\"k\", 1], [-1, \"2*k\"]]'")
        raise UsageError(
            f"stochthermo: error: {name} {text!r} is not a JSON list of {what} ({exc.msg}); {fix}"
        ) from None
    return value


def describe_derivation(deriv) -> str:
    """One readable line about a derivation: the model, its dimension, symbols and blocks."""
    kind = getattr(deriv, "kind", None)
    if kind == "sgd":
        what = "SGD near a minimum in the Langevin limit: A = H, D = lr Sigma / (2 |b|)"
    elif kind == "linear":
        what = "linear Langevin model dx = -A x dt + sqrt(2 D) dW"
    else:
        return repr(deriv)
    syms = [s.name for s in getattr(deriv, "symbols", ())]
    blocks = getattr(deriv, "blocks", None)
    parts = [what, f"{deriv.dim}-d"]
    parts.append("symbols " + ", ".join(syms) if syms else "numeric")
    if blocks is not None:
        parts.append("blocks " + " | ".join(",".join(str(i) for i in b) for b in blocks))
    return "; ".join(parts)
