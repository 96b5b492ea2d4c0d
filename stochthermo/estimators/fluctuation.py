r"""Integral and detailed fluctuation theorems checked on samples of entropy production.

See ``theory/estimators.md`` [EST-ft].
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, choose_method, positive_int
from ..errors import EstimationError, InsufficientDataError
from ..results import Estimate

__all__ = ["fluctuation_theorem"]


def _integral(s, **_):
    w = np.exp(-s)
    n = s.size
    value = float(w.mean())
    se = float(w.std(ddof=1) / np.sqrt(n))
    ess = float(w.sum() ** 2 / (w**2).sum())
    return Estimate(
        value,
        se,
        "fluctuation_theorem:integral",
        {"n": n, "effective_sample_size": ess, "log_mean": float(np.log(value))},
    )


def _detailed(s, *, bins, min_count, **_):
    bins = positive_int("bins", bins)
    smax = float(np.abs(s).max())
    if smax == 0:
        raise EstimationError("values are all zero; the detailed FT needs a spread of values")
    edges = np.linspace(-smax, smax, 2 * bins + 1)
    counts, _ = np.histogram(s, bins=edges)
    pos = counts[bins:]
    neg = counts[:bins][::-1]
    centers = 0.5 * (edges[bins:-1] + edges[bins + 1 :])
    ok = (pos >= min_count) & (neg >= min_count)
    if ok.sum() < 2:
        raise InsufficientDataError(
            f"only {int(ok.sum())} bin pair(s) have at least min_count={min_count} counts at both "
            "s and -s; pass more samples, fewer bins or a smaller min_count"
        )
    y = np.log(pos[ok] / neg[ok])
    var = 1.0 / pos[ok] + 1.0 / neg[ok]
    sx = centers[ok]
    wts = 1.0 / var
    slope = float((wts * sx * y).sum() / (wts * sx * sx).sum())
    se = float(1.0 / np.sqrt((wts * sx * sx).sum()))
    resid = y - slope * sx
    chi2 = float((wts * resid**2).sum())
    meta = {
        "s": sx,
        "log_ratio": y,
        "log_ratio_stderr": np.sqrt(var),
        "chi2": chi2,
        "dof": int(ok.sum()) - 1,
        "n": s.size,
    }
    return Estimate(slope, se, "fluctuation_theorem:detailed", meta)


_METHODS = {"integral": _integral, "detailed": _detailed}


def fluctuation_theorem(
    values, *, method: str = "integral", bins: int = 20, min_count: int = 5
) -> Estimate:
    r"""Check a fluctuation theorem on samples of total entropy production ``s`` (nats).

    Parameters
    ----------
    values : array_like, shape (n,)
        One entropy production per trajectory.
    method : {"integral", "detailed"}
        ``integral``: :math:`\langle e^{-s}\rangle` (1 when the integral FT holds) with the
        standard error of a mean. ``detailed``: histogram on ``2 bins`` symmetric bins over
        ``[-max|s|, max|s|]``; weighted least-squares slope (through the origin) of
        :math:`\ln[P(s)/P(-s)]` against ``s`` over bin pairs with at least ``min_count``
        counts on each side; 1 when the detailed FT holds.
    bins, min_count : int
        ``detailed`` only.

    Returns
    -------
    Estimate
        ``integral``: ``meta["effective_sample_size"]`` warns when a few rare negative values
        dominate (the mean of :math:`e^{-s}` converges slowly and is biased low for small n).
        ``detailed``: ``meta`` holds the points, their errors and the fit's chi-square.

    Notes
    -----
    Poisson errors :math:`\mathrm{Var}\ln n \approx 1/n` per bin; see ``theory/estimators.md``
    [EST-ft].
    """
    fn = choose_method("method", method, _METHODS)
    s = as_float_array("values", values, ndim=1)
    if s.size < 2:
        raise InsufficientDataError(f"values has {s.size} sample(s); need at least 2")
    return fn(s, bins=bins, min_count=positive_int("min_count", min_count))
