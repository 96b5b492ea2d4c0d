r"""The statistics every layer shares, written once (private; use :mod:`stochthermo.estimate`).

- Jackknife: :func:`jackknife` (additive group statistics, used by the entropy-production,
  flow and jump estimators) and :func:`jackknife_groups` (a statistic of an index set, used by
  the learning estimators), both through :func:`jackknife_moments`.
- Gaussian mutual information: :func:`gaussian_mi_cov` (plug-in value and Wishart bias from a
  sample covariance) and :func:`gaussian_mi` (bias-corrected, from paired samples).
- Log-log fit: :func:`loglog_fit` (and the validated :func:`loglog_slope`, public in
  :mod:`stochthermo.estimate`).
- SGD noise: :func:`sgd_noise_deviations`, one sign and one learning-rate unit.
- :func:`log_softmax`.

Formulas: ``theory/estimators.md`` ([EST-mi-gauss], [EST-sgd]) and ``theory/sgd.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .._validation import as_float_array, short_repr
from ..errors import InsufficientDataError, ShapeError, ValidationError
from ..results import Estimate

if TYPE_CHECKING:
    from .._typing import ArrayLike

__all__ = [
    "jackknife_moments",
    "jackknife",
    "jackknife_groups",
    "wishart_logdet_bias",
    "gaussian_mi_terms",
    "gaussian_mi_bias",
    "gaussian_mi_cov",
    "gaussian_mi",
    "loglog_fit",
    "loglog_slope",
    "sgd_noise_deviations",
    "log_softmax",
]


# --------------------------------------------------------------------------------- jackknife
def _scalar(a):
    a = np.asarray(a)
    return float(a) if a.ndim == 0 else a


def jackknife_moments(full: np.ndarray, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Bias and variance of a delete-one-group jackknife from its replicates.

    Parameters
    ----------
    full : numpy.ndarray
        The statistic on all groups.
    reps : numpy.ndarray, shape (G, ...)
        The statistic with group ``g`` left out, ``g = 0..G-1``.

    Returns
    -------
    bias, variance : numpy.ndarray
        :math:`b = (G-1)(\bar\theta_{(\cdot)} - \hat\theta)` and
        :math:`v = \frac{G-1}{G}\sum_g (\theta_{(g)} - \bar\theta_{(\cdot)})^2`.
    """
    G = reps.shape[0]
    mean = reps.mean(axis=0)
    bias = (G - 1) * (mean - full)
    var = (G - 1) / G * ((reps - mean) ** 2).sum(axis=0)
    return bias, var


def jackknife(stats: Sequence[np.ndarray], func: Callable, *, bias_correct: bool = True,
              second_order: bool = True):
    """Delete-one-group jackknife of ``func`` applied to additive group statistics.

    Parameters
    ----------
    stats : tuple of numpy.ndarray
        Each array has a leading axis of length ``G`` (one slice per group); the statistic of a
        set of groups is the sum over their slices.
    func : callable
        Maps the summed statistics (same tuple, without the group axis) to a float or array.
    bias_correct : bool
        Subtract the jackknife bias estimate from the full-sample value.
    second_order : bool
        Add ``2 bias^2`` to the jackknife variance. For a statistic that is a quadratic form
        in asymptotically normal quantities (entropy production, information), the jackknife
        variance is the delta-method (first-order) term, which vanishes at the null value
        (detailed balance, independence); the second-order variance ``2 tr(S^2)`` is bounded
        by ``2 tr(S)^2 = 2 bias^2`` (equal for one degree of freedom). Negligible away from
        the null.

    Returns
    -------
    value, stderr, bias, full : numpy.ndarray or float
        Corrected value (or the full-sample value when ``bias_correct`` is False), jackknife
        standard error, jackknife bias estimate and the uncorrected full-sample value.
    """
    G = stats[0].shape[0]
    total = tuple(s.sum(axis=0) for s in stats)
    full = np.asarray(func(total), dtype=np.float64)
    reps = np.stack(
        [
            np.asarray(func(tuple(t - s[g] for t, s in zip(total, stats, strict=True))), np.float64)
            for g in range(G)
        ]
    )
    bias, var = jackknife_moments(full, reps)
    if second_order:
        var = var + 2.0 * bias**2
    value = full - bias if bias_correct else full
    return _scalar(value), _scalar(np.sqrt(var)), _scalar(bias), _scalar(full)


def jackknife_groups(stat: Callable[[np.ndarray], object], groups, *,
                     bias_correct: bool = False):
    """Delete-a-group jackknife of ``stat(index_array)`` over the labels ``groups``.

    Parameters
    ----------
    stat : callable
        Maps an array of sample indices to a float or an array.
    groups : array_like of int, shape (n,)
        Group label of every sample; samples of one group (trials sharing a training set, a
        block of a time series) are left out together.
    bias_correct : bool
        Subtract the jackknife bias estimate from the full-sample value.

    Returns
    -------
    value, stderr, bias, full : numpy.ndarray or float
        As :func:`jackknife` (first-order variance only); with fewer than two groups the
        standard error and the bias are ``nan`` and ``value`` is ``full``.
    """
    groups = np.asarray(groups)
    idx = np.arange(groups.shape[0])
    full = np.asarray(stat(idx), dtype=np.float64)
    present = np.unique(groups)
    if present.shape[0] < 2:
        nan = np.full_like(full, np.nan)
        return _scalar(full), _scalar(nan), _scalar(nan.copy()), _scalar(full)
    reps = np.stack([np.asarray(stat(idx[groups != j]), dtype=np.float64) for j in present])
    bias, var = jackknife_moments(full, reps)
    value = full - bias if bias_correct else full
    return _scalar(value), _scalar(np.sqrt(var)), _scalar(bias), _scalar(full)


# --------------------------------------------------------------------------------- gaussian MI
def _digamma_sum(d: int, n: int) -> float:
    """``sum_{i=1}^{d} psi((n - i) / 2)``."""
    from scipy.special import digamma

    return float(sum(digamma((n - i) / 2.0) for i in range(1, d + 1)))


def wishart_logdet_bias(p: int, n: int) -> float:
    r"""``E[ln det S] - ln det Sigma`` for the unbiased sample covariance of ``n`` Gaussian draws.

    :math:`\sum_{i=1}^{p}\psi((n-i)/2) + p\ln(2/(n-1))` (``S`` times ``n - 1`` is Wishart with
    ``n - 1`` degrees of freedom); see ``theory/estimators.md`` [EST-mi-gauss].
    """
    return _digamma_sum(p, n) + p * math.log(2.0 / (n - 1))


def gaussian_mi_terms(dx: int, dy: int, dz: int = 0) -> list[tuple[int, list[int]]]:
    """Signed index sets of the columns ``(x, y, z)``: ``MI = 1/2 sum sign * ln det C[idx]``."""
    ix = list(range(dx))
    iy = list(range(dx, dx + dy))
    iz = list(range(dx + dy, dx + dy + dz))
    if dz == 0:
        return [(1, ix), (1, iy), (-1, ix + iy)]
    return [(1, ix + iz), (1, iy + iz), (-1, ix + iy + iz), (-1, iz)]


def gaussian_mi_bias(n: int, dx: int, dy: int, dz: int = 0) -> float:
    r"""Expected excess of the plug-in Gaussian (conditional) MI over the truth, Gaussian data.

    The signed combination of :func:`wishart_logdet_bias` over :func:`gaussian_mi_terms`, in
    which the ``p ln(2/(n-1))`` terms cancel: ``1/2 [f(dx) + f(dy) - f(dx + dy)]`` for
    ``dz = 0``, with ``f(d) = sum_{i<=d} psi((n - i)/2)``.
    """
    total = 0.0
    for sign, idx in gaussian_mi_terms(dx, dy, dz):
        total += sign * _digamma_sum(len(idx), n)
    return 0.5 * total


def gaussian_mi_cov(S: np.ndarray, n: int | None, dx: int, dy: int,
                    dz: int = 0) -> tuple[float, float, bool]:
    r"""Plug-in Gaussian (conditional) MI of a sample covariance and its Wishart bias.

    Parameters
    ----------
    S : numpy.ndarray, shape (p, p)
        Unbiased sample covariance of the columns ``(x, y, z)``, ``p = dx + dy + dz``.
    n : int or None
        Number of samples behind ``S`` (None: no bias, ``nan``).
    dx, dy, dz : int
        Column counts (``dz = 0``: unconditional).

    Returns
    -------
    plugin, bias, singular : float, float, bool
        :math:`\tfrac12(\ln\det S_{xz} + \ln\det S_{yz} - \ln\det S_{xyz} - \ln\det S_z)`
        (nats), :func:`gaussian_mi_bias`, and whether a block was singular (then ``plugin`` is
        not finite: that block's log-determinant is taken as ``-inf``).
    """
    plug, singular = 0.0, False
    for sign, idx in gaussian_mi_terms(dx, dy, dz):
        sgn, ld = np.linalg.slogdet(S[np.ix_(idx, idx)])
        if sgn <= 0:
            singular, ld = True, -np.inf
        plug += 0.5 * sign * ld
    bias = math.nan if n is None else gaussian_mi_bias(n, dx, dy, dz)
    return float(plug), bias, singular


def gaussian_mi(a: np.ndarray, b: np.ndarray, *, bias_correct: bool = True) -> float:
    r"""Gaussian MI ``I(A; B)`` (nats) of paired rows ``a (n, p)``, ``b (n, q)``.

    :math:`\tfrac12\ln(\det S_a \det S_b / \det S)` of the sample covariances, minus
    :func:`gaussian_mi_bias` when ``bias_correct``: unbiased for jointly Gaussian data up to
    :math:`O(n^{-2})`; for other data the MI of the Gaussian with the same covariance.
    Not finite when a covariance block is singular. See ``theory/estimators.md``
    [EST-mi-gauss].
    """
    p, q = a.shape[1], b.shape[1]
    S = np.cov(np.hstack([a, b]), rowvar=False).reshape(p + q, p + q)
    plug, bias, _ = gaussian_mi_cov(S, a.shape[0], p, q)
    return plug - bias if bias_correct else plug


# --------------------------------------------------------------------------------- log-log fit
def loglog_fit(x, y, yerr=None, *, absolute_sigma: bool = True) -> tuple[float, float, float]:
    r"""Fit ``ln y = a + s ln x``; return ``(s, stderr of s, a)``.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Positive abscissae and ordinates.
    yerr : array_like, shape (n,), optional
        Standard errors of ``y``: weighted least squares with weights ``(y / yerr)^2`` (the
        delta-method variance of ``ln y``). Without it, ordinary least squares.
    absolute_sigma : bool
        With ``yerr``: True takes the weights as absolute (the slope's variance is
        ``[(X^T W X)^{-1}]_{ss}``); False takes them as relative and scales that variance by the
        weighted residual variance ``chi^2 / (n - 2)`` (SciPy's ``curve_fit`` convention).

    Returns
    -------
    slope, slope_stderr, intercept : float
        Natural logarithms; the standard error is ``nan`` when no degree of freedom is left for
        a residual-based one (two points).
    """
    lx = np.log(np.asarray(x, dtype=np.float64))
    ly = np.log(np.asarray(y, dtype=np.float64))
    X = np.stack([np.ones_like(lx), lx], axis=1)
    dof = lx.size - 2
    if yerr is not None:
        rel = np.asarray(yerr, dtype=np.float64) / np.asarray(y, dtype=np.float64)
        w = 1.0 / np.maximum(rel, 1e-300) ** 2
        cov = np.linalg.inv(X.T @ (w[:, None] * X))
        coef = cov @ (X.T @ (w * ly))
        if not absolute_sigma:
            cov = (cov * float(np.sum(w * (ly - X @ coef) ** 2)) / dof if dof > 0
                   else np.full((2, 2), np.nan))
    else:
        coef, *_ = np.linalg.lstsq(X, ly, rcond=None)
        if dof > 0:
            cov = float(np.sum((ly - X @ coef) ** 2)) / dof * np.linalg.inv(X.T @ X)
        else:
            cov = np.full((2, 2), np.nan)
    se = float(np.sqrt(cov[1, 1])) if np.isfinite(cov[1, 1]) else float("nan")
    return float(coef[1]), se, float(coef[0])


def loglog_slope(x: ArrayLike, y: ArrayLike, *, yerr: ArrayLike | None = None,
                 absolute_sigma: bool = True) -> Estimate:
    r"""Power-law exponent: the slope of ``ln y`` against ``ln x``, with its standard error.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Positive, finite abscissae and ordinates (``n >= 2``), e.g. step sizes and errors for a
        convergence order, batch sizes and noise variances for a scaling exponent.
    yerr : array_like, shape (n,), optional
        Positive standard errors of ``y``: weighted least squares with weights
        ``(y / yerr)^2``; without it, ordinary least squares.
    absolute_sigma : bool
        With ``yerr``: take the errors as absolute (default) or as relative, scaling the
        slope's variance by ``chi^2 / (n - 2)`` (SciPy's ``curve_fit`` convention).

    Returns
    -------
    Estimate
        ``value`` the slope ``s`` of ``ln y = a + s ln x``, ``stderr`` its standard error
        (``nan`` with two points and no absolute errors), ``meta["intercept"]`` ``a`` and
        ``meta["n"]``.

    Examples
    --------
    >>> est = loglog_slope([1.0, 2.0, 4.0], [1.0, 0.5, 0.25])
    >>> round(est.value, 12)
    -1.0
    """
    xs = as_float_array("x", x, ndim=1)
    ys = as_float_array("y", y, ndim=1)
    es = None if yerr is None else as_float_array("yerr", yerr, ndim=1)
    for name, arr in (("x", xs), ("y", ys), ("yerr", es)):
        if arr is None:
            continue
        if arr.shape != xs.shape:
            raise ShapeError(f"{name} has {arr.size} values but x has {xs.size}; pass one per x")
        if not np.all(arr > 0):
            raise ValidationError(
                f"{name} has a value <= 0 ({short_repr(float(arr[~(arr > 0)][0]))}); a log-log fit "
                "needs positive values"
            )
    if xs.size < 2 or np.unique(xs).size < 2:
        raise InsufficientDataError(
            f"x has {np.unique(xs).size} distinct value(s); a slope needs at least 2"
        )
    slope, se, intercept = loglog_fit(xs, ys, es, absolute_sigma=absolute_sigma)
    method = "ols-loglog" if es is None else "wls-loglog"
    notes = () if np.isfinite(se) else (
        f"{xs.size} points leave no residual degree of freedom, so the slope has no standard "
        "error (nan); pass more points or absolute errors (yerr=, absolute_sigma=True)",)
    meta = {"intercept": intercept, "n": int(xs.size), "absolute_sigma": bool(absolute_sigma)}
    if es is not None and absolute_sigma and xs.size > 2:
        # with absolute errors the residuals test the power law itself (chi-square, n - 2 dof)
        from scipy.stats import chi2 as chi2_dist

        resid = (np.log(ys) - intercept - slope * np.log(xs)) / (es / ys)
        chi2 = float(np.sum(resid**2))
        dof = xs.size - 2
        pval = float(chi2_dist.sf(chi2, dof))
        meta.update(chi2=chi2, dof=dof, chi2_pvalue=pval)
        if pval < 1e-3:
            notes = (*notes,
                     f"the points are not on a power law within their errors: chi2 = "
                     f"{chi2:.3g} for {dof} degrees of freedom (p = {pval:.2g}); the slope "
                     "summarises a curve and its standard error is too small: fit the range "
                     "where the law holds, or pass absolute_sigma=False to scale the error "
                     "bar by the scatter")
    return Estimate(slope, se, method, meta, warnings=notes)


# --------------------------------------------------------------------------------- SGD noise
def sgd_noise_deviations(params: np.ndarray, lr: float | None = None):
    r"""Noise of SGD from trials sharing an initialisation, in the convention of ``theory/``.

    Parameters
    ----------
    params : numpy.ndarray, shape (n_trials, n_steps, n_params)
        Parameters of every trial at every saved step.
    lr : float, optional
        Learning rate ``r`` per step of the saved grid (times the stride for strided
        checkpoints).

    Returns
    -------
    noise, mean_increment : numpy.ndarray
        ``noise`` of shape ``(n_trials, n_steps - 1, n_params)``: without ``lr`` the
        displacement :math:`r\hat\eta_{k,n} = \Delta\theta_{k,n} - \overline{\Delta\theta}_n`
        (parameter units); with ``lr`` the noise :math:`\hat\eta` itself (gradient units).
        ``mean_increment`` ``(n_steps - 1, n_params)``.

    Notes
    -----
    ``Delta theta_n = -r grad U_B(theta_n) + r eta_n`` with ``eta_n = grad U_B - grad U_b``
    (``theory/sgd.md``), so ``eta_hat`` estimates ``grad U_B - grad U_b``; the ensemble mean
    removes the drift up to ``r H (theta - mean theta)`` ([EST-sgd]).
    """
    inc = np.diff(params, axis=1)
    mean = inc.mean(axis=0)
    dev = inc - mean
    return (dev if lr is None else dev / lr), mean


# --------------------------------------------------------------------------------- softmax
def log_softmax(z, axis: int = -1) -> np.ndarray:
    r"""Numerically stable ``log softmax`` along ``axis``.

    :math:`z_i - m - \ln\sum_j e^{z_j - m}` with ``m = max_j z_j`` (no overflow for large logits).
    """
    z = np.asarray(z, dtype=np.float64)
    m = np.max(z, axis=axis, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
