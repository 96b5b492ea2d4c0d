"""Memory budget of a request, checked before any work starts.

:func:`check_memory` compares the estimated bytes of a run's outputs with a budget: the
``max_bytes=`` keyword of the entry point, or by default half of the machine's physical memory
(``os.sysconf``; 8 GiB where the platform does not report it). Above the budget it raises
:class:`~stochthermo.errors.ResourceError` naming the request, the estimate, the budget and ways
to cut the request, so a typo such as ``n_steps=10**9`` fails in milliseconds instead of after
minutes of swapping or with NumPy's ``MemoryError``.
"""

from __future__ import annotations

import os

from ._validation import positive_int
from .errors import ResourceError

__all__ = ["check_memory", "default_budget", "format_bytes"]

_FALLBACK = 8 << 30


def default_budget() -> int:
    """Half of the physical memory in bytes (8 GiB if the platform does not say)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return _FALLBACK
    return int(total) // 2 if total and total > 0 else _FALLBACK


def format_bytes(n: int | float) -> str:
    """``1536 -> '1.5 KiB'``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024.0 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024.0
    return f"{n:.3g} EiB"  # pragma: no cover - unreachable


def check_memory(request: str, nbytes: int, *, max_bytes: int | None, hints: str) -> None:
    """Raise :class:`ResourceError` when ``nbytes`` exceeds the budget.

    Parameters
    ----------
    request : str
        The request in words (``"simulate(n_traj=..., n_steps=...)"``).
    nbytes : int
        Estimated bytes of the outputs.
    max_bytes : int or None
        The budget; None means :func:`default_budget`.
    hints : str
        Ways to cut the request (``save_every``, ``record_every``, ...).
    """
    budget = default_budget() if max_bytes is None else positive_int("max_bytes", max_bytes)
    if nbytes > budget:
        where = ("half of this machine's memory" if max_bytes is None else "max_bytes")
        raise ResourceError(
            f"{request} would need about {format_bytes(nbytes)} for its outputs, more than the "
            f"budget of {format_bytes(budget)} ({where}); nothing was started. {hints}; or "
            "raise the budget with max_bytes=..."
        )
