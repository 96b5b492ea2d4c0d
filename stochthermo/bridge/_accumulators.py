r"""Streaming accumulators of :func:`~stochthermo.bridge.diagnose_run`.

Each accumulator sees the checkpoints once, in order, trial by trial, and keeps only what its
statistic needs (one parameter vector per trial, a ring of noise subsets, a few sums), so
memory never grows with the number of checkpoints. Every accumulator has a naive twin in
``tests/test_bridge_diagnostics.py`` that computes the same statistic from all checkpoints held
in memory. Definitions: ``theory/bridge.md``. Noise follows ``theory/sgd.md``: ``eta = grad U_B -
grad U_b`` (the sign drops out of every variance and correlation here); :class:`IncrementNoise`
measures ``r eta`` per step (parameter units, ``r`` the learning rate), :class:`LoggedNoise`
``eta`` itself (gradient units), as ``estimate.sgd_noise`` without and with ``lr=``.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np

from ._mlp import log_softmax

__all__ = ["IncrementNoise", "LoggedNoise", "NoiseAutocorr", "OutputThermo", "segments"]

_CHUNK = 1 << 16


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a . b`` in float64 with einsum (a BLAS dot can stall on busy shared cores)."""
    return float(np.einsum("i,i->", a, b))


def _sumsq(x: np.ndarray) -> float:
    """sum(x**2) accumulated in float64, block by block (no full-size temporary)."""
    return sum(_dot(x[i:i + _CHUNK], x[i:i + _CHUNK]) for i in range(0, x.size, _CHUNK))


def _max_abs_sum(a: np.ndarray, b: np.ndarray) -> float:
    """Max |a + b| in chunks."""
    best = 0.0
    for i in range(0, a.size, _CHUNK):
        best = max(best, float(np.max(np.abs(a[i:i + _CHUNK] + b[i:i + _CHUNK]))))
    return best


def segments(cur) -> list:
    """``[(offset, flat array)]`` of a trial's parameters: one array, or a list of pieces."""
    if isinstance(cur, np.ndarray):
        return [(0, cur.reshape(-1))]
    return [(int(off), np.asarray(a).reshape(-1)) for off, a in cur]


class IncrementNoise:
    r"""Ensemble variance of the parameter increments over each interval of checkpoints.

    For the interval ``n-1 -> n`` of ``k`` steps, with increments ``delta_j`` of the trials
    ``j`` (sharing their start), ``noise_var = (1 / (d k)) sum_i Var_j[delta_ji]`` and
    ``drift_max = max_i |mean_j delta_ji| / k``. The increments are taken relative to trial 0's
    (``y_j = delta_j - delta_0``), which leaves the variance unchanged and limits cancellation.
    ``sub`` picks the parameters whose deviations are handed on (autocorrelation).

    A trial's parameters arrive as one array or as pieces ``[(offset, array)]`` (each stored
    tensor, possibly a read-only memory map of the file); they are processed in blocks of
    ``_CHUNK`` items in the parameters' own precision (float32 for float32 checkpoints; dot
    products of a block are summed in float64 across blocks), every statistic of a block
    computed while it is in the CPU cache. With ``validity`` (an
    :class:`~stochthermo.bridge._validity.IncrementValidity`) the same pass also sums the
    displacement statistics of the validity tests.
    """

    def __init__(self, n_trials: int, d: int, dtype: np.dtype, sub: np.ndarray,
                 validity=None) -> None:
        self.n_tr, self.d, self.sub = n_trials, d, np.asarray(sub, dtype=np.int64)
        dtype = np.dtype(dtype)
        self.validity = validity
        self.total = 0.0  # sum_j |e_j|^2 of the last interval closed
        self.prev = np.empty((n_trials, d), dtype=dtype)  # the only trials x parameters buffer
        self.c = np.empty(d, dtype=dtype)  # reference: trial 0's increment
        self.sum_y = np.zeros(d, dtype=dtype)
        self.sq = np.empty(n_trials)
        self.ysub = np.zeros((n_trials, self.sub.size))
        self._y = np.empty(_CHUNK, dtype=dtype)  # increment minus c, one block
        self._x = np.empty(_CHUNK, dtype=dtype)  # start minus trial 0's start, one block
        if validity is not None:
            validity.bind(dtype)

    def add(self, j: int, cur, first: bool) -> None:
        """Trial ``j``'s parameters at the current checkpoint (``first``: checkpoint 0)."""
        prev, val = self.prev[j], self.validity
        sq = cx = sx = 0.0
        for off, a in segments(cur):
            for i in range(0, a.size, _CHUNK):
                lo, hi = off + i, off + min(i + _CHUNK, a.size)
                block = a[i:i + hi - lo]
                if first:
                    prev[lo:hi] = block
                    if val is not None:
                        val.mean[lo:hi] += block
                    continue
                y = self._y[:hi - lo]
                np.subtract(block, prev[lo:hi], out=y)
                if j == 0:
                    self.c[lo:hi] = y
                    self.sum_y[lo:hi] = 0.0
                    prev[lo:hi] = block
                    continue
                y -= self.c[lo:hi]
                self.sum_y[lo:hi] += y
                sq += _dot(y, y)
                k0, k1 = np.searchsorted(self.sub, (lo, hi))
                if k1 > k0:
                    self.ysub[j, k0:k1] = y[self.sub[k0:k1] - lo]
                if val is not None:  # x' = start_j - start_0, start_0 = prev_0 - c by now
                    x = self._x[:hi - lo]
                    np.subtract(prev[lo:hi], self.prev[0, lo:hi], out=x)
                    x += self.c[lo:hi]
                    cx += _dot(x, y)
                    sx += _dot(x, x)
                prev[lo:hi] = block
        if first:
            if val is not None and j == self.n_tr - 1:
                val.mean /= self.n_tr
            return
        self.sq[j] = sq
        if j == 0:
            self.ysub[0] = 0.0
        if val is not None:
            val.c += cx
            val.s += sx

    def close(self, k: float) -> tuple[float, float, float, np.ndarray]:
        """``(noise_var, its stderr, drift_max, deviations on sub (n_trials, k_sub))``."""
        n_tr = self.n_tr
        self.sum_y /= n_tr  # now the ensemble mean of y
        drift_max = _max_abs_sum(self.sum_y, self.c) / k
        total = float(self.sq.sum()) - n_tr * _sumsq(self.sum_y)
        self.total = max(total, 0.0)
        noise_var = max(total, 0.0) / (n_tr - 1) / self.d / k
        e_sub = self.ysub - self.sum_y[self.sub]
        s_sub = np.einsum("jk,jk->j", e_sub, e_sub)
        rel = s_sub.std(ddof=1) * math.sqrt(n_tr) / s_sub.sum() if s_sub.sum() > 0 else 0.0
        if self.validity is not None:
            self.validity.close_interval(self, e_sub)
        return noise_var, noise_var * rel, drift_max, e_sub


class NoiseAutocorr:
    r"""Normalised autocorrelation of the per-step noise over lags ``0..max_lag``.

    The deviations ``e`` (trials x parameter subset) of each interval go into a ring of
    ``max_lag + 1`` slots; lag ``l`` adds ``e_n . e_{n-l} / sqrt(k_n k_{n-l})`` per trial.
    The result averages over trials and intervals and divides by lag 0; its standard error
    comes from the spread over trials.
    """

    def __init__(self, max_lag: int, n_trials: int, k_sub: int, interval: np.ndarray) -> None:
        self.max_lag, self.interval = max_lag, interval
        self.ring = np.zeros((max_lag + 1, n_trials, k_sub))
        self.ac_sum = np.zeros((n_trials, max_lag + 1))
        self.ac_cnt = np.zeros(max_lag + 1)

    def add(self, n: int, e_sub: np.ndarray) -> None:
        """Deviations of the interval ending at checkpoint ``n >= 1``."""
        size = self.max_lag + 1
        slot = (n - 1) % size
        self.ring[slot] = e_sub
        k = self.interval[n - 1]
        for lag in range(min(self.max_lag, n - 1) + 1):
            other = self.ring[(n - 1 - lag) % size]
            norm = math.sqrt(k * self.interval[n - 1 - lag])
            self.ac_sum[:, lag] += np.einsum("jk,jk->j", self.ring[slot], other) / norm
            self.ac_cnt[lag] += 1

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(autocorr, autocorr_stderr)``, NaN at lags never reached (or no noise)."""
        n_tr = self.ac_sum.shape[0]
        per_trial = self.ac_sum / np.maximum(self.ac_cnt, 1)
        c0 = per_trial[:, 0].mean()
        if not c0 > 0:
            nan = np.full(self.max_lag + 1, np.nan)
            return nan, nan.copy()
        autocorr = per_trial.mean(axis=0) / c0
        autocorr_se = per_trial.std(axis=0, ddof=1) / math.sqrt(n_tr) / c0
        autocorr[self.ac_cnt == 0] = np.nan
        return autocorr, autocorr_se


class LoggedNoise:
    """``(1/d) sum_i mean_trials (G_i - g_i)^2`` from logged full-batch and mini-batch grads.

    A checkpoint counts only when every trial logged both gradients there; its standard error
    is the spread of the per-trial values over ``sqrt(n_trials)``.
    """

    def __init__(self, n_checkpoints: int, n_trials: int) -> None:
        self.n_tr = n_trials
        self.logged = np.full(n_checkpoints, np.nan)
        self.stderr = np.full(n_checkpoints, np.nan)
        self.have = False
        self._vals: list = []

    def add(self, got: dict, names: list) -> None:
        """One trial's frame (``got["g"]``, ``got["G"]``: name -> array, may be missing)."""
        if got.get("g") and got.get("G"):
            g = np.concatenate([np.ravel(got["g"][nm]) for nm in names]).astype(np.float64)
            big = np.concatenate([np.ravel(got["G"][nm]) for nm in names]).astype(np.float64)
            self._vals.append(float(np.mean((big - g) ** 2)))

    def close(self, n: int) -> None:
        """End of checkpoint ``n``."""
        if len(self._vals) == self.n_tr:
            v = np.array(self._vals)
            self.logged[n] = v.mean()
            self.stderr[n] = v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else np.nan
            self.have = True
        self._vals = []

    def result(self) -> np.ndarray | None:
        return self.logged if self.have else None

    def result_stderr(self) -> np.ndarray | None:
        return self.stderr if self.have else None


class OutputThermo:
    r"""Work, heat and output entropy of the model's predictive distributions per trial.

    From logits at checkpoint ``n``: entropy ``S_n = mean_probe H(p_n)``; work of the interval
    ``w = mean_probe KL(p_{n-1} || p_n)`` (clipped at 0); heat ``S_n - S_{n-1} - w``.
    ``sigma_cond`` is the cumulative mean work. See ``theory/bridge.md``.
    """

    def __init__(self, n_trials: int, n_checkpoints: int) -> None:
        self.n_tr, self.n_ck = n_trials, n_checkpoints
        # (trials, intervals) work and heat, (trials, checkpoints) entropy: from the first logits
        self.work: np.ndarray | None = None
        self.heat: np.ndarray | None = None
        self.ent: np.ndarray | None = None
        self.logp_prev: list = [None] * n_trials

    def add(self, j: int, n: int, logits: np.ndarray) -> None:
        """Trial ``j``'s logits (probe x classes) at checkpoint ``n``."""
        if self.work is None or self.heat is None or self.ent is None:  # set together
            self.work = np.full((self.n_tr, self.n_ck - 1), np.nan)
            self.heat = np.full((self.n_tr, self.n_ck - 1), np.nan)
            self.ent = np.full((self.n_tr, self.n_ck), np.nan)
        lp = log_softmax(logits)
        p = np.exp(lp)
        self.ent[j, n] = float(np.mean(-np.sum(p * lp, axis=-1)))
        prev = self.logp_prev[j]
        if n > 0 and prev is not None:
            pp = np.exp(prev)
            w = float(np.mean(np.sum(pp * (prev - lp), axis=-1)))
            self.work[j, n - 1] = max(w, 0.0)
            self.heat[j, n - 1] = self.ent[j, n] - self.ent[j, n - 1] - self.work[j, n - 1]
        self.logp_prev[j] = lp

    def result(self) -> MappingProxyType | None:
        """Ensemble means and standard errors, or None when no logits were seen."""
        if self.work is None or self.heat is None or self.ent is None:
            return None
        n_tr, work, heat = self.n_tr, self.work, self.heat
        wm = np.nanmean(work, axis=0)
        return MappingProxyType({
            "work": wm, "work_stderr": np.nanstd(work, axis=0, ddof=1) / math.sqrt(n_tr),
            "heat": np.nanmean(heat, axis=0),
            "heat_stderr": np.nanstd(heat, axis=0, ddof=1) / math.sqrt(n_tr),
            "entropy": np.nanmean(self.ent, axis=0),
            "sigma_cond": np.cumsum(wm),
            "sigma_cond_stderr": np.nanstd(np.cumsum(work, axis=1), axis=0, ddof=1)
            / math.sqrt(n_tr),
        })
