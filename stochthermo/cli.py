"""Command-line interface: ``stochthermo <command> [options]``.

One convention for every subcommand:

* exit code 0 on success; 2 for every usage or input error (bad options, a matrix that is not
  square, not positive semi-definite or not stable, an unreadable or unsafe file, a request
  refused for its size); 1 for a failure while running (a simulation that blew up, an
  estimator that could not produce a value); 130 when interrupted;
* errors print one line, ``stochthermo <command>: error: <message>``, on stderr (``--debug``
  shows the traceback); messages name the command-line flag (``--A``, ``--method exact``), not
  the Python argument behind it, and say what to pass instead;
* ``--format json`` prints exactly one strict JSON document (no NaN or Infinity: non-finite
  numbers are ``null``) on stdout; everything else (progress, notes, paths written) goes to
  stderr.

Each subcommand lives in ``stochthermo.commands.<name>`` and defines ``HELP``,
``DESCRIPTION``, ``configure(parser)`` and ``run(args) -> int``; their heavy imports happen in
``run`` so that ``--help`` stays fast. This module is the one place that maps exceptions to
exit codes and library wording to flags.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["main", "build_parser", "COMMANDS", "UsageError", "exit_code", "flag_message"]

#: subcommand name -> module implementing it
COMMANDS = {
    "derive": "stochthermo.commands.derive",
    "simulate": "stochthermo.commands.simulate",
    "learn": "stochthermo.commands.learn",
    "experiment": "stochthermo.commands.experiment",
    "analyze": "stochthermo.commands.analyze",
    "demo": "stochthermo.commands.demo",
}

#: exit codes of the convention
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad command-line usage or input (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available subcommand."""
    from . import __version__

    parser = _Parser(
        prog="stochthermo",
        description="Stochastic thermodynamics of learning: closed forms, simulation, "
        "estimators and diagnostics of training runs.",
        epilog="Exit codes: 0 success, 2 bad usage or input, 1 failure while running. "
        "With --format json, stdout holds exactly one JSON document.",
    )
    parser.add_argument("--version", action="version", version=f"stochthermo {__version__}",
                        help="print the version and exit")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when a command fails"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, modname in COMMANDS.items():
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:
                continue
            raise
        p = sub.add_parser(
            name,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback when the command fails")
        mod.configure(p)
        p.set_defaults(_run=mod.run, _flags=_flags_of(p))
    return parser


def _flags_of(parser) -> dict[str, str]:
    """Python argument name -> command-line flag, from the parser's long options."""
    out: dict[str, str] = {}
    for action in parser._actions:  # noqa: SLF001 - argparse offers no public walk
        longs = [o for o in action.option_strings if o.startswith("--")]
        if not action.option_strings and action.dest not in ("command", "help"):
            out.setdefault(action.dest, str(action.metavar or action.dest.upper()))
        if longs:
            out.setdefault(action.dest, longs[0])
            out.setdefault(longs[0][2:].replace("-", "_"), longs[0])
    out.pop("help", None)
    return out


# --------------------------------------------------------------------------- exit codes


def exit_code(exc: BaseException) -> int:
    """The exit code of the convention for an exception raised by a subcommand.

    2 for usage and input errors (our ``ValidationError`` and its ``ShapeError``,
    ``ModelError`` and its ``UnstableModelError``, ``ResourceError``, ``BridgeError`` with
    ``UnsafeFileError`` and ``CorruptFileError``, a missing input file, an ``--out`` that
    exists as something else or cannot be written: ``FileExistsError``, ``PermissionError``,
    and a request too large for the memory: ``MemoryError``), 1 for everything else
    (``SimulationError``, ``EstimationError``, unexpected errors), 130 for an interrupt.
    """
    from .errors import BridgeError, ModelError, ResourceError, ValidationError

    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, (UsageError, ValidationError, ModelError, ResourceError, BridgeError,
                        FileNotFoundError, NotADirectoryError, IsADirectoryError,
                        FileExistsError, PermissionError, MemoryError)):
        return EXIT_USAGE
    return EXIT_FAILURE


# --------------------------------------------------------------------------- messages

#: phrases of library messages that make no sense on the command line -> their CLI wording
_PHRASES = {
    "simulate": (
        ("sample more finely, pass more data or use discretization='euler'",
         "save more often (smaller --dt or --save-every) or simulate more (--n-steps, "
         "--n-traj)"),
    ),
}
#: advice of a library message (its tail, a regular expression) that names Python arguments
#: the command line does not have -> the command's own way out
_ADVICE = {
    "experiment": ((r"record fewer quantities \(record=.*$",
                    "pass fewer --trials or --steps, or a smaller --width"),),
    "learn": ((r"record fewer quantities \(record=.*$",
               "pass a smaller --simulate (fewer training sets) or smaller --steps"),),
    "simulate": ((r"save fewer points \(a larger save_every\).*$",
                  "save fewer points (a larger --save-every), or pass fewer --n-traj, "
                  "--n-steps or --observables"),),
}
#: Python arguments whose flag has another name, per subcommand
_ALIASES = {
    "derive": {"grad_noise_cov": "--noise-cov"},
    "experiment": {"n_trials": "--trials", "n_steps": "--steps", "hidden": "--width",
                   "data": "--data"},
    "learn": {"n_datasets": "--simulate"},
    "simulate": {"n_traj": "--n-traj", "n_steps": "--n-steps", "grad_noise_cov": "--noise-cov"},
}
_ARRAY = re.compile(r"array\(shape=\([^)]*\), dtype=\w+, (.*?)\)(?=\)|;|,|$)")
_PREFIX = re.compile(r"^stochthermo(?: [\w.-]+)?: error(?: \(([^)]*)\))?: ")
_HESSIAN = re.compile(r"\.? ?Near a minimum the Hessian must be positive definite\.?")


def _quoted_values(text: str) -> str:
    return re.sub(r"'([^']*)'|\"([^\"]*)\"", lambda m: m.group(1) or m.group(2) or "", text)


def flag_message(message: str, command: str | None = None, args: Any = None) -> str:
    """Reword a library message for the command line.

    Python arguments become the subcommand's flags (``method='exact'`` -> ``--method exact``,
    a message opening with ``A must`` -> ``--A must``), array reprs become their values, and
    advice that does not fit the options the user gave (about a Hessian when the model came
    from ``--A``) is replaced by the fix for the flag that was given.
    """
    msg = str(message).strip()
    head = _PREFIX.match(msg)
    source = head.group(1) if head else None
    msg = msg[head.end():] if head else msg
    # a message about a model file names its keys, not flags
    flags = {} if source else {**(getattr(args, "_flags", None) or {}),
                               **_ALIASES.get(command or "", {})}
    for old, new in _PHRASES.get(command or "", ()):
        msg = msg.replace(old, new)
    for pattern, advice in () if source else _ADVICE.get(command or "", ()):
        msg = re.sub(pattern, advice, msg)
    msg = _ARRAY.sub(lambda m: m.group(1), msg)
    if flags:
        names = "|".join(sorted((re.escape(n) for n in flags), key=len, reverse=True))
        value = r"('[^']*'|\"[^\"]*\"|[^\s,;()]+)"
        alts = r"((?:\s*(?:,|or|and)\s*'[^']*')*)"
        msg = re.sub(rf"(?<![\w-])({names})=True(?![\w.])", lambda m: flags[m.group(1)], msg)
        msg = re.sub(rf"(?<![\w-])({names})={value}{alts}",
                     lambda m: f"{flags[m.group(1)]} {_quoted_values(m.group(2))}"
                     + _quoted_values(m.group(3)), msg)
        msg = re.sub(rf"(^|; |: )({names}) (?=must |has |is |should |needs |cannot |contains )",
                     lambda m: f"{m.group(1)}{flags[m.group(2)]} ", msg)
        msg = re.sub(rf"(?<![\w-])({names})(?= ?(?:>=|<=|>|<|==) ?[-\d])",
                     lambda m: flags[m.group(1)], msg)
        # an entry (A[0][1]) or a second matrix (... but D has shape) of an option the user gave
        given = [n for n in flags if flags[n].startswith("--")
                 and getattr(args, flags[n][2:].replace("-", "_"), None) is not None]
        if given:
            names = "|".join(sorted((re.escape(n) for n in given), key=len, reverse=True))
            msg = re.sub(rf"(?<![\w\-.'\"])({names})(?=\[)", lambda m: flags[m.group(1)], msg)
            msg = re.sub(rf"(?<=\bbut )({names})(?= (?:has|is|must) )",
                         lambda m: flags[m.group(1)], msg)
    if args is not None and getattr(args, "A", None) is not None and _HESSIAN.search(msg):
        msg = _HESSIAN.sub("; pass an --A whose eigenvalues all have a positive real part "
                           "(e.g. a positive-definite matrix)", msg)
    elif args is not None and getattr(args, "hessian", None) is not None:
        msg = _HESSIAN.sub("; --hessian must be positive definite (a minimum of the loss)", msg)
    msg = msg.replace(";;", ";").replace(". ;", ";")
    return f"{source}: {msg}" if source else msg


# --------------------------------------------------------------------------- JSON channel

_json_out: list = []  # the real stdout while a --format json command runs


def json_stdout():
    """Where ``--format json`` documents go (stdout, even while prints go to stderr)."""
    return _json_out[-1] if _json_out else sys.stdout


@contextlib.contextmanager
def _json_channel(active: bool):
    if not active:
        yield
        return
    _json_out.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _json_out.pop()


@contextlib.contextmanager
def _warning_lines(command: str):
    """Python warnings as one ``stochthermo <command>: warning: ...`` line each on stderr.

    NumPy's floating-point notices (``overflow encountered in multiply``) name no option and
    precede the error that explains them, so they are not shown.
    """
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message).strip().splitlines()
        print(f"stochthermo {command}: warning: {text[0] if text else category.__name__}",
              file=sys.stderr)

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=RuntimeWarning,
            message=r"(overflow|invalid value|divide by zero|underflow) encountered")
        warnings.showwarning = show
        yield


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version
            return int(exc.code or 0)
        if getattr(args, "_run", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    try:
        with _json_channel(getattr(args, "format", None) == "json"), _warning_lines(args.command):
            return int(args._run(args) or 0)
    except BrokenPipeError:  # output piped into e.g. `head`
        return EXIT_OK
    except KeyboardInterrupt:
        print(f"stochthermo {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the CLI turns every failure into one line
        from .errors import StochThermoError

        code = exit_code(exc)
        ours = isinstance(exc, (UsageError, StochThermoError))
        if debug and not isinstance(exc, UsageError):
            raise
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        if isinstance(exc, MemoryError):
            first = (f"not enough memory for this request ({first}); ask for less: smaller "
                     "sizes, fewer trajectories, trials or steps")
        elif not ours and code == EXIT_FAILURE:
            first = f"{type(exc).__name__}: {first} (run with --debug for the traceback)"
        msg = flag_message(first, args.command, args)
        print(f"stochthermo {args.command}: error: {msg}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
