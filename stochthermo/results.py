"""Small frozen result types shared by the whole toolkit."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ._frozen import settle

if TYPE_CHECKING:
    from ._typing import ArrayLike

__all__ = ["Estimate", "to_jsonable"]


def to_jsonable(x: Any) -> Any:
    """Convert NumPy values, objects with ``to_dict`` and containers to JSON types.

    Non-finite floats become ``None``, so the output is strict JSON.
    """
    if hasattr(x, "to_dict"):
        return to_jsonable(x.to_dict())
    if isinstance(x, dict) or hasattr(x, "items"):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return to_jsonable(x.tolist())
    if isinstance(x, np.generic):
        return to_jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _freeze(mapping) -> MappingProxyType:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Estimate:
    """A number (or array) estimated from data, with its standard error.

    Attributes
    ----------
    value : float or numpy.ndarray
        The estimate.
    stderr : float or numpy.ndarray
        Its standard error (same shape as ``value``); ``nan`` when unknown.
    method : str
        The estimator that produced it.
    meta : Mapping
        Anything else worth keeping (sample sizes, tuning parameters, partial results).
    bias : float or numpy.ndarray or None
        Known bias (already subtracted from ``value`` where the estimator says so), else None.
    warnings : tuple of str
        Failed self-checks of the estimator on this data (non-stationarity, aliasing, an
        inadequate model, too little data); empty when every check passed. The diagnostics
        themselves are in ``meta["diagnostics"]`` where the estimator runs them.
    """

    value: Any
    stderr: Any = math.nan
    method: str = ""
    meta: Any = field(default_factory=dict)
    bias: Any = None
    warnings: tuple[str, ...] = ()

    def __post_init__(self):
        w = self.warnings
        if isinstance(w, str):
            w = (w,)
        settle(self, meta=_freeze(self.meta), warnings=tuple(str(m) for m in (w or ())))

    @property
    def ok(self) -> bool:
        """True when the estimator raised no warning about its own assumptions."""
        return not self.warnings

    def interval(self, level: float = 0.95) -> tuple[Any, Any]:
        """Normal-approximation confidence interval ``(low, high)`` at ``level``."""
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + level / 2.0))
        v, s = np.asarray(self.value), np.asarray(self.stderr)
        return v - z * s, v + z * s

    def zscore(self, truth: ArrayLike) -> Any:
        """``(value - truth) / stderr``: how many standard errors away ``truth`` lies."""
        return (np.asarray(self.value) - np.asarray(truth)) / np.asarray(self.stderr)

    def __float__(self) -> float:
        return float(self.value)

    def __format__(self, spec: str) -> str:
        spec = spec or ".4g"
        try:
            return f"{float(self.value):{spec}} ± {float(self.stderr):{spec}}"
        except TypeError:
            return f"{self.value} ± {self.stderr}"

    def __str__(self) -> str:
        out = f"Estimate({self:.6g}, method={self.method!r})"
        if self.warnings:
            out += "".join(f"\n  warning: {w}" for w in self.warnings)
        return out

    def __repr__(self) -> str:
        return (
            f"Estimate(value={self.value!r}, stderr={self.stderr!r}, method={self.method!r}, "
            f"bias={self.bias!r}, warnings={self.warnings!r}, meta keys={sorted(self.meta)!r})"
        )

    def to_dict(self) -> dict:
        """JSON-friendly dictionary (non-finite numbers as ``None``)."""
        return {
            "value": to_jsonable(self.value),
            "stderr": to_jsonable(self.stderr),
            "method": self.method,
            "bias": to_jsonable(self.bias),
            "meta": to_jsonable(dict(self.meta)),
            "warnings": list(self.warnings),
        }
