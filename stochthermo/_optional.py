"""Lazy import of optional dependencies with a message naming the extra to install."""

from __future__ import annotations

import importlib

from .errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, extra: str, purpose: str = ""):
    """Import and return ``module``, or raise :class:`MissingDependencyError` naming ``extra``.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"tqdm"``.
    extra : str
        Name of the stochthermo extra that installs it, e.g. ``"progress"``.
    purpose : str, optional
        What the module is needed for, used in the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised with monkeypatching in tests
        what = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(
            f"the optional package {module!r} is needed{what} but is not installed; "
            f"install it with: pip install 'stochthermo[{extra}]'"
        ) from exc
