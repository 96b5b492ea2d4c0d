r"""Is the ensemble-increment estimate of the SGD noise still noise? Per-interval tests.

The ensemble estimate (``theory/bridge.md`` section 1) takes the deviation of a trial's
increment from the ensemble-mean increment as the noise. That holds while the trials sit close
together: over an interval of ``k`` steps from positions ``theta_j = m + x_j`` (ensemble mean
``m``, displacement ``x_j``), the increment is

.. math::

    \delta_j = -\mathrm{lr}\,k\,\nabla U(m) - A\,x_j + \xi_j + O(x^2),\qquad
    A = \mathrm{lr}\,k\,H(m),

so the deviation ``e_j = delta_j - mean delta`` holds the noise ``xi_j`` *and* the drift
difference ``-A x_j``. Once the trials separate, the drift differences dominate (and no longer
scale like ``1/|b|``). Two statistics per interval, from the same single pass:

* the correlation of the deviation with the displacement
  ``rho = sum_j x_j . e_j / sqrt(sum_j |x_j|^2 sum_j |e_j|^2)``. With ``xi`` independent of
  ``x``, ``rho^2 / (1 - rho^2) <= |A x|^2 / |xi|^2`` (Cauchy-Schwarz, equality for ``A``
  proportional to the identity): a lower bound on the relative bias of the noise estimate.
  Under the null its spread is about ``1 / sqrt((T - 1) d_eff)`` with ``d_eff`` the
  participation ratio of the per-parameter noise variances.
* the growth of the ensemble spread against the accumulated noise,
  ``g = S / sum V`` with ``S = (1/(d (T-1))) sum_j |x_j|^2`` at the interval's start and
  ``V`` the interval noise totals so far: pure noise gives ``g ~ 1``, a restoring drift
  ``g < 1``, trials driven apart by their drift ``g >> 1`` (and a spread present at the first
  checkpoint, trials that do not share their initialisation, ``g = inf``).

An interval passes when ``rho^2/(1-rho^2) <= max_bias`` (or ``|rho|`` is within the null
spread, corrected for the number of intervals tested) and ``g <= max_growth``.
:func:`valid_window` picks the longest step range in which every run passes.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["IncrementValidity", "interval_passes", "valid_window", "in_window", "MAX_BIAS",
           "MAX_GROWTH"]

#: default largest tolerated lower bound on the relative bias of the noise estimate
MAX_BIAS = 0.1
#: default largest tolerated ratio of the ensemble spread to the accumulated noise
MAX_GROWTH = 2.0
_CHUNK = 1 << 16


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.einsum("i,i->", a, b, dtype=np.float64))


class IncrementValidity:
    r"""Sums of the validity tests, filled by ``IncrementNoise`` in its single pass.

    Displacements are taken from trial 0's start, ``x'_j = start_j - start_0`` (no
    cancellation against the parameters' size). The ensemble mean ``m`` of the starts is
    carried from interval to interval in float64 (the mean of the first checkpoint, then
    ``m += c + ybar``), so that with ``xbar = m - start_0``:
    ``sum_j |x_j|^2 = sum_j |x'_j|^2 - T |xbar|^2`` and
    ``sum_j x_j . e_j = sum_j x'_j . y_j - T xbar . ybar``. The participation ratio
    ``d_eff`` of the per-parameter noise variances is estimated on the random subset of
    parameters kept for the autocorrelation (scaled by ``d / k``).
    """

    def __init__(self, n_trials: int, d: int, dtype: np.dtype) -> None:
        self.n_tr, self.d = n_trials, d
        self.c = self.s = 0.0
        self.cum_v = 0.0  # accumulated interval noise totals (per parameter)
        self.mean = np.zeros(d, dtype=np.float64)  # ensemble mean of the starts
        self.last = (0.0, 1.0, 0.0, 0.0)

    def bind(self, dtype) -> None:
        """Nothing to allocate in the parameters' precision (kept for the accumulator)."""

    def close_interval(self, noise, e_sub: np.ndarray) -> None:
        """End of an interval (``noise.sum_y`` is the ensemble mean of ``y`` by now)."""
        n_tr, d = self.n_tr, self.d
        xbar_sq = xbar_y = 0.0
        for i in range(0, d, _CHUNK):
            sl = slice(i, i + _CHUNK)
            start0 = noise.prev[0, sl].astype(np.float64) - noise.c[sl]
            xb = self.mean[sl] - start0
            yb = noise.sum_y[sl].astype(np.float64)
            xbar_sq += _dot(xb, xb)
            xbar_y += _dot(xb, yb)
            self.mean[sl] += noise.c[sl]
            self.mean[sl] += yb
        s = max(self.s - n_tr * xbar_sq, 0.0)
        c = self.c - n_tr * xbar_y
        total = noise.total
        v = np.einsum("jk,jk->k", e_sub, e_sub)
        sv, sv2 = float(v.sum()), _dot(v, v)
        d_eff = sv * sv / sv2 * d / max(v.size, 1) if sv2 > 0 else 1.0
        if not (math.isfinite(c) and math.isfinite(s) and math.isfinite(total)):
            rho = math.nan  # overflowed sums: nothing is known, the interval fails
        else:
            rho = c / math.sqrt(s * total) if s > 0 and total > 0 else 0.0
            rho = min(max(rho, -1.0), 1.0)
        null_sd = 1.0 / math.sqrt(max(n_tr - 1, 1) * max(d_eff, 1.0))
        spread = s / (n_tr - 1) / d
        before = self.cum_v
        growth = spread / before if before > 0 else (math.inf if spread > 0 else 0.0)
        self.cum_v = before + max(total, 0.0) / (n_tr - 1) / d
        self.last = (rho, null_sd, spread, growth)
        self.c = self.s = 0.0

    def close(self, total: float = 0.0, mean_y=None):
        """``(rho, rho_null_sd, spread, growth)`` of the interval just closed."""
        return self.last


def interval_passes(rho, null_sd, growth, *, max_bias: float = MAX_BIAS,
                    max_growth: float = MAX_GROWTH) -> np.ndarray:
    """Boolean per interval: the ensemble-increment estimate is still noise there.

    Fails when the bias bound ``rho^2/(1 - rho^2)`` exceeds ``max_bias`` *and* ``|rho|`` is
    further from 0 than ``z`` null standard deviations, ``z`` the two-sided normal quantile at
    ``0.01 / n`` for ``n`` intervals (at least 3: one false alarm in a hundred runs), or when
    the spread grew past ``max_growth`` times the accumulated noise (or is not finite). An
    interval whose ``rho`` is not a number (its sums overflowed) fails.
    """
    from statistics import NormalDist

    rho = np.asarray(rho, dtype=np.float64)
    n = max(rho.size, 1)
    z = max(3.0, NormalDist().inv_cdf(1 - 0.005 / n))
    r2 = np.minimum(rho * rho, 1 - 1e-12)
    bias_bad = (r2 / (1 - r2) > max_bias) & (np.abs(rho) > z * np.asarray(null_sd))
    bias_bad |= ~np.isfinite(rho)
    growth_bad = ~(np.asarray(growth, dtype=np.float64) <= max_growth)
    return ~(bias_bad | growth_bad)


def valid_window(runs) -> tuple[int, int] | None:
    """The longest step range ``(first, last)`` in which every interval of every run passes.

    ``runs`` is a sequence of ``(steps, passes)`` (checkpoint steps and the per-interval
    booleans). The range lies within every run's steps; ties go to the earliest range. None
    when no interval of the common range passes in all runs.
    """
    runs = [(np.asarray(s, dtype=np.int64), np.asarray(p, dtype=bool)) for s, p in runs]
    if not runs or any(s.size < 2 for s, _ in runs):
        return None
    lo = max(int(s[0]) for s, _ in runs)
    hi = min(int(s[-1]) for s, _ in runs)
    if hi <= lo:
        return None
    cuts = set()  # step ranges covered by a failing interval
    bad = []
    for s, p in runs:
        for n in np.flatnonzero(~p):
            bad.append((int(s[n]), int(s[n + 1])))
    edges = sorted({lo, hi, *[b for a, b in bad if lo <= b <= hi],
                    *[a for a, b in bad if lo <= a <= hi]})
    best = None
    for a, b in zip(edges, edges[1:], strict=False):
        if any(x0 < b and x1 > a for x0, x1 in bad):
            continue
        cuts.add((a, b))
    # merge adjacent passing pieces into ranges
    ranges, cur = [], None
    for a, b in sorted(cuts):
        if cur is not None and cur[1] == a:
            cur = (cur[0], b)
        else:
            if cur is not None:
                ranges.append(cur)
            cur = (a, b)
    if cur is not None:
        ranges.append(cur)
    # a range is usable only if every run has at least one whole interval inside it
    for a, b in ranges:
        if not all(np.any((s[:-1] >= a) & (s[1:] <= b)) for s, _ in runs):
            continue
        if best is None or b - a > best[1] - best[0]:
            best = (a, b)
    return best


def in_window(steps, window) -> np.ndarray:
    """Boolean per interval of ``steps``: the interval lies inside ``window``."""
    s = np.asarray(steps, dtype=np.int64)
    if window is None:
        return np.zeros(max(s.size - 1, 0), dtype=bool)
    return (s[:-1] >= window[0]) & (s[1:] <= window[1])
