"""Where the log-log fit used to live; it is :func:`stochthermo.estimators._stats.loglog_fit`."""

from __future__ import annotations

from .estimators._stats import loglog_fit

__all__ = ["loglog_fit"]
