"""Small helpers shared by the subcommands: tables, JSON, atomic writes."""

from __future__ import annotations

import json
import re
import textwrap

from .._atomic import write_atomic
from ..results import to_jsonable

__all__ = ["format_table", "to_jsonable", "dump_json", "emit_json", "write_atomic",
           "parse_matrix_arg", "load_json_arg", "check_out_file_arg", "short_text",
           "warning_lines"]


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


def short_text(text, limit: int = 60) -> str:
    """``repr`` of a command-line value, cut to about ``limit`` characters for a message."""
    text = str(text)
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text)} characters)"


def load_json_arg(text: str, name: str, *, example: str = "'[[2, 0.5], [0.5, 1]]'"):
    """``json.loads`` of a command-line value; every failure is a one-line :class:`UsageError`.

    Besides malformed text this covers brackets nested beyond Python's recursion limit and
    integers longer than Python converts (``int`` refuses more than 4300 digits).
    """
    from ..cli import UsageError

    try:
        return json.loads(text)
    except RecursionError:
        raise UsageError(
            f"stochthermo: error: {name} nests brackets too deeply to be a matrix; write it like "
            f"{example}"
        ) from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise UsageError(
            f"stochthermo: error: {name} {short_text(text)} holds a number JSON cannot read "
            f"({str(exc).split(';')[0]}); write numbers like 2, 0.5 or 1e-3"
        ) from None


def parse_matrix_arg(text: str, name: str, *, symbols: bool = False):
    """A matrix from a command-line string like ``[[2, 0.5], [0.5, 1]]`` (JSON).

    With ``symbols=True`` entries may also be strings holding expressions (``"k"``); a text that
    fails to parse and holds letters is then told to quote them.
    """
    from ..cli import UsageError

    try:
        value = load_json_arg(text, name)
    except json.JSONDecodeError as exc:
        what = "numbers or quoted expressions" if symbols else "numbers"
        fix = "write it like '[[2, 0.5], [0.5, 1]]'"
        if symbols and re.search(r"[A-Za-z_]", text):
            fix = ("put names and expressions in double quotes, like "
                   "'[[\"k\", 1], [-1, \"2*k\"]]'")
        raise UsageError(
            f"stochthermo: error: {name} {short_text(text)} is not a JSON list of {what} "
            f"({exc.msg}); {fix}"
        ) from None
    return value


def check_out_file_arg(path, flag: str):
    """The absolute path of a file output (``--out``, ``--json``), refused before any work.

    The checks of :func:`stochthermo._atomic.check_out_file` (a folder, an existing path that
    is not a regular file such as ``/dev/null`` or a pipe, a parent that is a file or not
    writable, a NUL byte, a name too long), with the messages naming ``flag``.
    """
    from .._atomic import check_out_file
    from ..cli import UsageError

    try:
        out = check_out_file(path)
    except (OSError, ValueError) as exc:
        msg = str(exc).replace("--out", flag, 1)
        raise UsageError(f"stochthermo: error: {msg}") from None
    return out


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
