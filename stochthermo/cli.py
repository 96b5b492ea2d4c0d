"""Command-line interface: ``stochthermo <command> [options]``.

Exit codes: 0 success, 2 bad usage, 1 failure (a one-line message; ``--debug`` shows the
traceback). Each subcommand lives in ``stochthermo.commands.<name>`` and defines ``HELP``,
``DESCRIPTION``, ``configure(parser)`` and ``run(args) -> int``; their heavy imports happen in
``run`` so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "COMMANDS"]

#: subcommand name -> module implementing it
COMMANDS = {
    "derive": "stochthermo.commands.derive",
    "simulate": "stochthermo.commands.simulate",
    "learn": "stochthermo.commands.learn",
    "experiment": "stochthermo.commands.experiment",
    "analyze": "stochthermo.commands.analyze",
    "demo": "stochthermo.commands.demo",
}


class UsageError(Exception):
    """Bad command-line usage (exit code 2)."""


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
    )
    parser.add_argument("--version", action="version", version=f"stochthermo {__version__}")
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
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code instead of exiting."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version
            return int(exc.code or 0)
        if getattr(args, "_run", None) is None:
            parser.print_help()
            return 2
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    debug = bool(getattr(args, "debug", False))
    try:
        return int(args._run(args) or 0)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`
        return 0
    except KeyboardInterrupt:
        print("stochthermo: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI turns every failure into one line
        if debug:
            raise
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"stochthermo {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
