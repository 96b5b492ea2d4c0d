r"""Integral and detailed fluctuation theorems checked on samples of entropy production.

Private module: the public names are re-exported by :mod:`stochthermo.estimate`.
Two kinds of input: an array of entropy productions (one per trajectory), or a
:class:`~stochthermo.learning.LearningEnsemble`, whose per-trajectory learning work over an
interval of SGD steps is the entropy production of X given the parameter path (``Delta F =
0`` for a normalised PPM). See ``theory/estimators.md`` [EST-ft] and ``theory/learning.md``
section 11 [LRN-ft].
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

from .._rng import as_seed_sequence, trajectory_seeds
from .._validation import (
    as_float_array,
    choose_method,
    nonnegative_float,
    positive_int,
    short_repr,
)
from ..errors import EstimationError, InsufficientDataError, ValidationError
from ..results import Estimate

if TYPE_CHECKING:
    from typing import Any

    from .._typing import SeedLike

__all__ = ["fluctuation_theorem"]

#: below this effective sample size of the weights ``exp(-s)`` the integral FT warns
MIN_EFFECTIVE_SAMPLES = 50.0
#: a weight holding more than this share of the sum makes the integral FT warn
MAX_WEIGHT_SHARE = 0.1


def _ess_warnings(w: np.ndarray, ess: float, share: float, min_ess: float) -> list[str]:
    out = []
    if ess < min_ess:
        out.append(
            f"the exponential average is dominated by few samples: effective sample size "
            f"{ess:.3g} of {w.size} (below {min_ess:g}); <exp(-s)> is then biased low and its "
            "error bar unreliable; use more trajectories or a shorter interval"
        )
    if share > MAX_WEIGHT_SHARE:
        out.append(
            f"one sample holds {share:.0%} of the sum of exp(-s); the mean rests on the rare "
            "negative tail and is not converged"
        )
    return out


def _integral(s, *, min_ess=MIN_EFFECTIVE_SAMPLES, **_):
    if s.min() < -700.0:  # exp(700) ~ 1e304: beyond it the weights overflow float64
        raise EstimationError(
            f"values hold s = {float(s.min()):.6g}, so exp(-s) overflows double precision and "
            "<exp(-s)> cannot be computed; check the sign and the units of the values "
            "(entropy production in nats, k_B = 1)"
        )
    w = np.exp(-s)
    n = s.size
    value = float(w.mean())
    se = float(w.std(ddof=1) / np.sqrt(n))
    ess = float(w.sum() ** 2 / (w**2).sum()) if np.isfinite(w).all() and w.sum() > 0 else 0.0
    share = float(w.max() / w.sum()) if w.sum() > 0 else 1.0
    meta = {"n": n, "effective_sample_size": ess, "max_weight_share": share,
            "log_mean": float(np.log(value)) if value > 0 else -np.inf,
            "mean": float(s.mean())}
    return Estimate(value, se, "fluctuation_theorem:integral", meta,
                    warnings=tuple(_ess_warnings(w, ess, share, min_ess)))


def _log_ratio_fit(s_fwd, s_rev_neg, *, bins, min_count, sym: bool):
    """Weighted slope of ``ln[n_F(s) / n_R(-s)]`` against ``s`` (through the origin).

    ``s_rev_neg`` holds ``-s`` of the comparison sample (the forward sample itself for the
    symmetric form, where only ``s > 0`` bins are used).
    """
    bins = positive_int("bins", bins)
    if bins > s_fwd.size:
        raise ValidationError(
            f"bins={bins} is more than the {s_fwd.size} samples; a bin pair needs "
            f"min_count={min_count} samples at s and at -s, so pass bins <= n / (2 min_count) "
            "(default 20)"
        )
    smax = float(max(np.abs(s_fwd).max(), np.abs(s_rev_neg).max()))
    if smax == 0:
        raise EstimationError("values are all zero; the detailed FT needs a spread of values")
    edges = np.linspace(-smax, smax, 2 * bins + 1)
    nf, _ = np.histogram(s_fwd, bins=edges)
    nr, _ = np.histogram(s_rev_neg, bins=edges)
    centers = 0.5 * (edges[:-1] + edges[1:])
    if sym:  # P(s) / P(-s) over s > 0
        pos, neg, sx = nf[bins:], nf[:bins][::-1], centers[bins:]
        norm = 0.0
    else:  # P_F(s) / P_R(-s) over every bin: n_R counts -s_R in the bin of s
        pos, neg, sx = nf, nr, centers
        norm = float(np.log(s_rev_neg.size / s_fwd.size))
    ok = (pos >= min_count) & (neg >= min_count)
    if ok.sum() < 2:
        raise InsufficientDataError(
            f"only {int(ok.sum())} bin pair(s) have at least min_count={min_count} counts at both "
            "s and -s; pass more samples, fewer bins or a smaller min_count"
        )
    y = np.log(pos[ok] / neg[ok]) + norm
    var = 1.0 / pos[ok] + 1.0 / neg[ok]
    sx = sx[ok]
    wts = 1.0 / var
    slope = float((wts * sx * y).sum() / (wts * sx * sx).sum())
    se = float(1.0 / np.sqrt((wts * sx * sx).sum()))
    chi2 = float((wts * (y - slope * sx) ** 2).sum())
    meta = {"s": sx, "log_ratio": y, "log_ratio_stderr": np.sqrt(var), "chi2": chi2,
            "dof": int(ok.sum()) - 1, "n": s_fwd.size}
    return slope, se, meta


def _detailed(s, *, bins, min_count, **_):
    slope, se, meta = _log_ratio_fit(s, s, bins=bins, min_count=min_count, sym=True)
    return Estimate(slope, se, "fluctuation_theorem:detailed", meta,
                    warnings=tuple(_fit_warnings(meta)))


def _fit_warnings(meta) -> list[str]:
    """Lack of fit of the straight line through the origin (chi-square far above its dof)."""
    dof = meta["dof"]
    if dof >= 1 and meta["chi2"] > dof + 4.0 * np.sqrt(2.0 * dof):
        return [f"ln P(s)/P(-s) is not a straight line through the origin: chi2 = "
                f"{meta['chi2']:.3g} for {dof} degrees of freedom; the slope summarises a "
                "curve and the detailed FT does not hold in this form"]
    return []


_METHODS = {"integral": _integral, "detailed": _detailed}
_LEARNING_METHODS = {
    "integral": "<exp(-W)> over trajectories (1: Jarzynski with Delta F = 0)",
    "detailed": "slope of ln P(W)/P(-W) (1: symmetric detailed FT; a theorem for Gaussian "
                "outputs of fixed covariance, otherwise only in a reversible steady state)",
    "crooks": "slope a of ln P_F(W)/P_R(-W) = a W - a Delta F (maximum-likelihood logistic fit), "
              "the reverse protocol's work regenerated "
              "from the recorded parameter path (1 for every PPM)",
}


def _is_learning_ensemble(obj) -> bool:
    mod = sys.modules.get("stochthermo.learning._ensemble")
    return mod is not None and isinstance(obj, mod.LearningEnsemble)


def fluctuation_theorem(
    values: Any, *, method: str = "integral", bins: int = 20, min_count: int = 5,
    interval: Any = None, seed: SeedLike | None = None, min_ess: float = MIN_EFFECTIVE_SAMPLES,
) -> Estimate:
    r"""Check a fluctuation theorem on samples of total entropy production ``s`` (nats).

    Parameters
    ----------
    values : array_like, shape (n,), or LearningEnsemble
        One entropy production per trajectory, or an ensemble from
        :func:`stochthermo.learning.learn` that recorded ``"work"``: then ``s`` is the learning
        work ``W = sum_{t0 <= t < t1} w_t`` of each trajectory over ``interval``, the entropy
        production of X given the parameter path (``Delta F = 0``: the PPM is normalised at
        every theta), ``theory/learning.md`` section 11.
    method : {"integral", "detailed"} or, for an ensemble, also "crooks"
        ``integral``: :math:`\langle e^{-s}\rangle` (1 when the integral FT holds) with the
        standard error of a mean. ``detailed``: histogram on ``2 bins`` symmetric bins over
        ``[-max|s|, max|s|]``; weighted least-squares slope (through the origin) of
        :math:`\ln[P(s)/P(-s)]` against ``s`` over bin pairs with at least ``min_count``
        counts on each side; 1 when the detailed FT holds. ``crooks`` (ensemble only): the
        same slope for :math:`\ln[P_F(W)/P_R(-W)]`, with the reverse protocol (the recorded
        parameter path run backwards, X drawn from the parameters before each reversed move)
        simulated here from ``seed``; it needs every step of the interval recorded
        (``record_every=1``, no ``param_subset``).
    bins, min_count : int
        ``detailed`` and ``crooks`` only.
    interval : (int, int), optional
        Ensemble only: the steps ``[t0, t1)`` whose work is summed (default: the whole run).
    seed : int, Generator or None
        ``crooks`` only: the reverse protocol's generated samples.
    min_ess : float
        ``integral``: the effective sample size of the weights :math:`e^{-s}` below which the
        estimate warns (default :data:`MIN_EFFECTIVE_SAMPLES`).

    Returns
    -------
    Estimate
        ``integral``: ``meta["effective_sample_size"]`` ``(sum w)^2 / sum w^2`` and
        ``meta["max_weight_share"]``; ``warnings`` say when a few rare negative values dominate
        (the mean of :math:`e^{-s}` converges slowly and is biased low for small n).
        ``detailed``/``crooks``: ``meta`` holds the points, their errors and the fit's
        chi-square; a chi-square far above its degrees of freedom warns. For an ensemble,
        ``meta`` adds the interval, the mean work, ``delta_f`` (``-ln<e^{-W}>``, 0 expected)
        and the assumptions.

    Notes
    -----
    Poisson errors :math:`\mathrm{Var}\ln n \approx 1/n` per bin; see ``theory/estimators.md``
    [EST-ft]. Given the parameter path, every ``x_{t+1}`` is a fresh draw from
    ``p(. | theta_t)``, so :math:`E[e^{-w_t} | \text{path}] = \int p(x|\theta_{t+1}) dx = 1`
    and the trajectories' weights are uncorrelated even when they share a training set.
    """
    if _is_learning_ensemble(values):
        return _learning_ft(values, method=method, bins=bins, min_count=min_count,
                            interval=interval, seed=seed, min_ess=min_ess)
    if interval is not None:
        raise ValidationError("interval= applies to a LearningEnsemble only; slice the array "
                              "of entropy productions instead")
    fn = choose_method("method", method, _METHODS)
    s = as_float_array("values", values, ndim=1)
    if s.size < 2:
        raise InsufficientDataError(f"values has {s.size} sample(s); need at least 2")
    return fn(s, bins=bins, min_count=positive_int("min_count", min_count),
              min_ess=nonnegative_float("min_ess", min_ess))


# --------------------------------------------------------------------------- learning


def _interval_of(ens, interval) -> tuple[int, int]:
    T = ens.n_steps
    if interval is None:
        return 0, T
    try:
        t0, t1 = interval
    except (TypeError, ValueError):
        raise ValidationError(f"interval={short_repr(interval)} must be a pair (t0, t1) of "
                              "steps") from None
    for v in (t0, t1):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValidationError(f"interval={short_repr(interval)} must hold two ints")
    t0, t1 = int(t0), int(t1)
    if not 0 <= t0 < t1 <= T:
        raise ValidationError(f"interval=({t0}, {t1}) must satisfy 0 <= t0 < t1 <= n_steps="
                              f"{T}")
    return t0, t1


def _learning_work(ens, t0: int, t1: int) -> np.ndarray:
    if ens.work is None:
        raise ValidationError("the ensemble did not record 'work'; rerun learn(..., "
                              "record=(..., 'work'))")
    W = np.asarray(ens.work[:, t0:t1], dtype=float).sum(axis=1)
    if not np.isfinite(W).all():
        raise EstimationError(
            f"{int((~np.isfinite(W)).sum())} trajectory(ies) have non-finite work over steps "
            f"[{t0}, {t1}) (a partial result of a diverged run?); drop them or shorten interval"
        )
    if W.size < 2:
        raise InsufficientDataError(f"the ensemble has {W.size} trajectory; need at least 2")
    return W


def _reverse_work(ens, t0: int, t1: int, seed) -> np.ndarray:
    """Work of the reversed protocol ``theta_{t1} -> ... -> theta_{t0}`` per trajectory.

    Reversed move ``theta_{s+1} -> theta_s`` with ``x ~ p(. | theta_{s+1})``:
    ``w_R = E_{theta_s}(x) - E_{theta_{s+1}}(x)``.
    """
    if ens.params is None or ens.param_subset is not None:
        raise ValidationError(
            "method='crooks' regenerates the reverse protocol from the parameters: record all "
            "of them (record=(..., 'params'), no param_subset)")
    pos = {int(s): j for j, s in enumerate(ens.steps)}
    missing = [s for s in range(t0, t1 + 1) if s not in pos]
    if missing:
        raise ValidationError(
            f"method='crooks' needs the parameters at every step of [{t0}, {t1}]; step "
            f"{missing[0]} was not recorded (use record_every=1 or a recorded interval)")
    model, probe = ens.model, ens.probe
    K = ens.n_total
    rngs = [np.random.default_rng(int(s))
            for s in trajectory_seeds(as_seed_sequence(seed), K)]
    shape = model.noise_shape(probe)
    kind = model.noise_kind
    Wr = np.zeros(K)
    P = ens.params
    for s in range(t0, t1):
        before = np.ascontiguousarray(P[:, pos[s + 1]])
        after = np.ascontiguousarray(P[:, pos[s]])
        noise = np.stack([r.standard_normal(shape) if kind == "normal" else r.random(shape)
                          for r in rngs])
        x = model.generate(before, noise, probe)
        Wr += model.energy(after, x, probe) - model.energy(before, x, probe)
    return Wr


def _learning_ft(ens, *, method, bins, min_count, interval, seed, min_ess) -> Estimate:
    choose_method("method", method, _LEARNING_METHODS)
    t0, t1 = _interval_of(ens, interval)
    W = _learning_work(ens, t0, t1)
    min_count = positive_int("min_count", min_count)
    base = {"interval": (t0, t1), "quantity": "learning work W = sum_t w_t (entropy "
            "production of X given the parameter path; Delta F = 0)",
            "mean_work": float(W.mean()), "mean_work_stderr": float(W.std(ddof=1) /
                                                                    np.sqrt(W.size)),
            "n_datasets": ens.n_datasets, "n_trials": ens.n_trials}
    if method == "integral":
        est = _integral(W, min_ess=min_ess)
        value, se = est.value, est.stderr
        dF = -np.log(value) if value > 0 else np.inf
        meta = {**est.meta, **base, "delta_f": float(dF),
                "delta_f_stderr": float(se / value) if value > 0 else np.nan,
                "assumptions": "X_{t+1} ~ p(. | theta_t) drawn afresh each step and p "
                               "normalised, so E[exp(-W) | parameter path] = 1 exactly"}
        return Estimate(value, se, "fluctuation_theorem:learning_integral", meta,
                        warnings=est.warnings)
    if method == "detailed":
        slope, se, meta = _log_ratio_fit(W, W, bins=bins, min_count=min_count, sym=True)
        warn = _fit_warnings(meta)
        if ens.model.classifier:
            warn.append(
                "the symmetric detailed FT P(W)/P(-W) = exp(W) is a theorem for Gaussian "
                "outputs of fixed covariance; for class labels it holds only in a reversible "
                "steady state of the parameters (use method='crooks' for the exact relation)")
        meta = {**meta, **base, "assumptions": _LEARNING_METHODS["detailed"]}
        return Estimate(slope, se, "fluctuation_theorem:learning_detailed", meta,
                        warnings=tuple(warn))
    Wr = _reverse_work(ens, t0, t1, seed)
    slope, se, meta = _crooks_logistic(W, Wr)
    meta = {**meta, **base, "mean_reverse_work": float(Wr.mean()),
            "assumptions": _LEARNING_METHODS["crooks"]}
    warn = []
    if meta["overlap"] < 20:
        warn.append(f"only {meta['overlap']} samples lie where the forward work and the "
                    "negated reverse work overlap; the slope rests on few points (use more "
                    "trajectories or a shorter interval)")
    return Estimate(slope, se, "fluctuation_theorem:learning_crooks", meta,
                    warnings=tuple(warn))


def _crooks_logistic(W, Wr):
    r"""Maximum-likelihood slope of the Crooks relation, without histograms.

    Pool ``z = W`` (forward, label 1) and ``z = -W_R`` (reverse, label 0). If
    ``P_F(z) = e^{a (z - Delta F)} P_R(-z)``, the label given ``z`` is logistic,
    ``logit P(F | z) = a z + b`` with ``b = ln(n_F / n_R) - a Delta F`` (Shirts et al. 2003);
    Crooks is ``a = 1``. Newton's method on the two parameters; errors from the inverse
    Fisher information.
    """
    z = np.concatenate([W, -Wr])
    y = np.concatenate([np.ones(W.size), np.zeros(Wr.size)])
    lo, hi = max(W.min(), -Wr.max()), min(W.max(), -Wr.min())
    overlap = int(((z >= lo) & (z <= hi)).sum()) if lo <= hi else 0
    if overlap < 2:
        raise InsufficientDataError(
            "the forward work and the negated reverse work do not overlap, so the Crooks "
            "relation cannot be checked; use more trajectories or a shorter interval")
    scale = float(z.std()) or 1.0
    X = np.column_stack([z / scale, np.ones_like(z)])
    beta = np.zeros(2)
    for _ in range(100):
        eta = np.clip(X @ beta, -700, 700)
        p = 1.0 / (1.0 + np.exp(-eta))
        H = (X * (p * (1 - p))[:, None]).T @ X
        step = np.linalg.solve(H + 1e-12 * np.eye(2), X.T @ (y - p))
        beta = beta + step
        if np.abs(step).max() < 1e-12:
            break
    eta = np.clip(X @ beta, -700, 700)
    p = 1.0 / (1.0 + np.exp(-eta))
    cov = np.linalg.inv((X * (p * (1 - p))[:, None]).T @ X)
    a, b = beta[0] / scale, beta[1]
    se = float(np.sqrt(cov[0, 0]) / scale)
    log_ratio = float(np.log(W.size / Wr.size))
    meta = {"intercept": float(b), "intercept_stderr": float(np.sqrt(cov[1, 1])),
            "delta_f": float((log_ratio - b) / a) if a != 0 else np.nan,
            "n": int(W.size), "n_reverse": int(Wr.size), "overlap": overlap}
    return float(a), se, meta
