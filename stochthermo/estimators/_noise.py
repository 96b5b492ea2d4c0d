r"""Time-series statistics and SGD noise: autocorrelation, integrated time, noise extraction.

Private module: the public names are re-exported by :mod:`stochthermo.estimate`. SGD noise
follows ``theory/sgd.md``: ``eta = grad U_B - grad U_b``, learning rate ``r`` = time per step.
See ``theory/estimators.md`` [EST-acf], [EST-tau], [EST-sgd].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._validation import as_float_array, positive_float, positive_int
from ..errors import InsufficientDataError, ShapeError, ValidationError
from ..results import Estimate
from ._stats import jackknife_groups, sgd_noise_deviations

if TYPE_CHECKING:
    from .._typing import ArrayLike

__all__ = [
    "autocorrelation",
    "integrated_time",
    "sgd_noise",
    "effective_temperature",
    "gradient_noise_scale",
]


def _as_series(name, x):
    arr = as_float_array(name, x, ndim=(1, 2))
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.shape[1] < 2:
        raise InsufficientDataError(f"{name} has {arr.shape[1]} time points; need at least 2")
    if np.any(np.ptp(arr, axis=1) == 0):
        raise ValidationError(
            f"{name} contains a constant series; its autocorrelation is undefined (0/0)"
        )
    return _tame_rows(arr)


def _tame_rows(arr):
    """Rows whose magnitude or spread is extreme, rescaled by a power of two (exact).

    The autocorrelation is scale invariant, but a series near the ends of the float64 range
    has a variance that overflows to inf or underflows to 0. Other rows are left unchanged.
    """
    big = np.max(np.abs(arr), axis=1)
    spread = np.ptp(arr, axis=1)
    bad = (big > 1e100) | (spread < 1e-100)
    if not bad.any():
        return arr
    out = arr.copy()
    for i in np.flatnonzero(bad):
        row = out[i] if big[i] > 1e100 else out[i] - out[i].mean()
        ref = big[i] if big[i] > 1e100 else np.ptp(row)
        out[i] = np.ldexp(row, -int(np.frexp(ref)[1]))
    return out


def _acf_fft(arr):
    """Normalised autocorrelation of each row (biased estimator, FFT), shape like ``arr``."""
    n = arr.shape[1]
    c = arr - arr.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(c, n=size, axis=1)
    ac = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :n]
    return ac / ac[:, :1]


def autocorrelation(x: ArrayLike, *, max_lag: int | None = None) -> Estimate:
    r"""Normalised autocorrelation function ``rho(k)`` of one or several series.

    Parameters
    ----------
    x : array_like, shape (n_time,) or (n_series, n_time)
        Series; several series are averaged (each normalised by its own mean and variance).
    max_lag : int, optional
        Largest lag returned (default ``n_time - 1``).

    Returns
    -------
    Estimate
        ``value`` and ``stderr`` of shape ``(max_lag + 1,)``; ``value[0] = 1``.

    Notes
    -----
    :math:`\hat\rho(k) = \sum_t (x_t - \bar x)(x_{t+k} - \bar x) / \sum_t (x_t - \bar x)^2`
    (FFT, O(n log n)). Error bar: spread over series / ``sqrt(n_series)`` with several series,
    else Bartlett's formula :math:`\mathrm{Var}\,\hat\rho(k) \approx (1 + 2\sum_{j<k}
    \hat\rho(j)^2)/n`. The estimator is biased toward 0 by :math:`O(k/n)` and by the mean
    subtraction (:math:`O(\tau/n)`). See ``theory/estimators.md`` [EST-acf].
    """
    arr = _as_series("x", x)
    n = arr.shape[1]
    max_lag = n - 1 if max_lag is None else positive_int("max_lag", max_lag)
    if max_lag >= n:
        raise ValidationError(f"max_lag={max_lag} must be < n_time={n}")
    acf = _acf_fft(arr)[:, : max_lag + 1]
    value = acf.mean(axis=0)
    if arr.shape[0] > 1:
        se = acf.std(axis=0, ddof=1) / np.sqrt(arr.shape[0])
        kind = "across series"
    else:
        cum = np.concatenate([[0.0], np.cumsum(value[1:] ** 2)])[: max_lag + 1]
        se = np.sqrt((1.0 + 2.0 * cum) / n)
        se[0] = 0.0
        kind = "Bartlett"
    return Estimate(
        value,
        se,
        "autocorrelation",
        {"n_time": n, "n_series": arr.shape[0], "stderr_kind": kind},
    )


def integrated_time(x: ArrayLike, *, c: float = 5.0, tol: float = 50.0) -> Estimate:
    r"""Integrated autocorrelation time ``tau = 1 + 2 sum_{k>=1} rho(k)`` (in samples).

    Parameters
    ----------
    x : array_like, shape (n_time,) or (n_series, n_time)
    c : float
        Sokal's window constant: the sum stops at the smallest ``M`` with ``M >= c tau(M)``.
    tol : float
        The series must be longer than ``tol * tau``.

    Returns
    -------
    Estimate
        ``value`` tau, ``stderr`` from Sokal's :math:`\mathrm{Var}\,\hat\tau \approx
        2(2M+1)\tau^2/n_{\rm tot}`, ``meta["window"]`` M.

    Raises
    ------
    InsufficientDataError
        If the window condition is never met or ``n_time < tol * tau``; its ``partial``
        attribute holds the (unreliable) :class:`Estimate` obtained so far.

    Notes
    -----
    Automatic windowing of Sokal (also used by emcee); see ``theory/estimators.md`` [EST-tau].
    With several series the autocorrelation is averaged over them first.
    """
    arr = _as_series("x", x)
    c = positive_float("c", c)
    tol = positive_float("tol", tol)
    n = arr.shape[1]
    rho = _acf_fft(arr).mean(axis=0)
    taus = 2.0 * np.cumsum(rho) - 1.0
    ok = np.arange(n) >= c * taus
    M = int(np.argmax(ok)) if ok.any() else n - 1
    tau = float(taus[M])
    se = float(np.sqrt(2.0 * (2 * M + 1) / (n * arr.shape[0])) * abs(tau))
    # past the window the autocorrelation must stay at its noise level (about
    # sqrt(tau / n_total)); a return towards 1 means a periodic or non-mixing series
    late = np.abs(rho[M + 1 : min(n // 4, 50 * M + 50)])
    limit = max(0.2, 8.0 * np.sqrt(max(tau, 1.0) / (n * arr.shape[0])))
    warnings: tuple[str, ...] = ()
    if late.size and late.max() > limit:
        k = M + 1 + int(np.argmax(late))
        warnings = (
            f"the autocorrelation reaches {rho[k]:.2f} at lag {k}, past the window M={M} "
            f"(noise level about {limit / 8:.2g}): the series is periodic or does not mix, so "
            "tau (a sum that assumes a decaying autocorrelation) does not describe it",
        )
    est = Estimate(tau, se, "integrated_time", {"window": M, "n_time": n, "c": c, "tol": tol},
                   warnings=warnings)
    if not ok.any() or n < tol * tau:
        raise InsufficientDataError(
            f"the series (n_time={n}) is shorter than tol={tol:g} integrated times "
            f"(current estimate tau={tau:.4g}); the estimate is unreliable: run longer "
            "(see .partial for the estimate so far)",
            partial=est,
        )
    return est


def _as_params(params):
    arr = as_float_array("params", params, ndim=3)
    n_trials, n_steps, _ = arr.shape
    if n_trials < 2:
        raise InsufficientDataError(
            f"params has n_trials={n_trials}; SGD noise is the spread across trials sharing an "
            "initialisation, so at least 2 trials are needed (shape (n_trials, n_steps, n_params))"
        )
    if n_steps < 2:
        raise InsufficientDataError(f"params has n_steps={n_steps}; at least 2 are needed")
    return arr


def sgd_noise(params: ArrayLike, *, lr: float | None = None) -> Estimate:
    r"""SGD noise from trials sharing an initialisation: increment minus ensemble-mean increment.

    Parameters
    ----------
    params : array_like, shape (n_trials, n_steps, n_params)
        Parameters of every trial at every saved step (same initial point, independent batches).
    lr : float, optional
        Learning rate ``r`` (times the stride between saved steps). Given, the noise is returned
        in gradient units, :math:`\hat\eta`; omitted, as the displacement :math:`r\hat\eta`
        in parameter units.

    Returns
    -------
    Estimate
        ``value``: the noise of shape ``(n_trials, n_steps - 1, n_params)``,
        :math:`r\hat\eta_{k,n} = \Delta\theta_{k,n} - \overline{\Delta\theta}_n` (divided by
        ``r`` when ``lr`` is given); ``stderr`` nan; ``meta["variance"]`` the unbiased per-step,
        per-parameter variance of ``value`` (ddof 1, shape ``(n_steps - 1, n_params)``),
        ``meta["mean_increment"]`` and ``meta["units"]`` (``"parameter"`` or ``"gradient"``).

    Notes
    -----
    ``Delta theta_n = -r grad U_B(theta_n) + r eta_n`` with the sign of ``theory/sgd.md``,
    ``eta_n = grad U_B - grad U_b`` (full-batch minus mini-batch gradient); the ensemble mean
    removes the deterministic part up to :math:`r H (\theta_n - \bar\theta_n)`, a relative
    correction of order ``r H``. With a stride of ``s`` steps between checkpoints the variance
    grows like ``s``. See ``theory/estimators.md`` [EST-sgd].
    """
    arr = _as_params(params)
    if lr is not None:
        lr = positive_float("lr", lr)
    eta, mean = sgd_noise_deviations(arr, lr)
    var = eta.var(axis=0, ddof=1)
    meta = {"variance": var, "mean_increment": mean, "n_trials": arr.shape[0],
            "units": "parameter" if lr is None else "gradient"}
    return Estimate(eta, np.nan, "sgd_noise", meta)


def effective_temperature(params: ArrayLike, *, lr: float, stride: int = 1,
                          steps: slice | ArrayLike | None = None) -> Estimate:
    r"""Effective temperature ``T_i = Var(eta_i) / (2 r s)`` per parameter, and its average.

    Parameters
    ----------
    params : array_like, shape (n_trials, n_steps, n_params)
        Trials sharing an initialisation (see :func:`sgd_noise`).
    lr : float
        Learning rate ``r`` (time per SGD step in the Langevin limit ``t = r n``).
    stride : int
        SGD steps between saved checkpoints.
    steps : slice or array of int, optional
        Which increments to average over (default: all).

    Returns
    -------
    Estimate
        ``value`` of shape ``(n_params,)``: the diagonal of ``D = r Sigma_g / (2 |b|)``;
        ``stderr`` from the spread over steps; ``meta["mean"]`` (averaged over parameters)
        with ``meta["mean_stderr"]``.

    Notes
    -----
    One increment's noise is :math:`r\eta` with covariance :math:`r^2\Sigma_g/|b|` per step, so
    the diffusion matrix is its covariance over ``2 dt`` with ``dt = r s`` [EST-sgd].
    """
    lr = positive_float("lr", lr)
    stride = positive_int("stride", stride)
    var = sgd_noise(params).meta["variance"]
    if steps is not None:
        try:
            var = var[steps]
        except IndexError as exc:
            raise ShapeError(
                f"steps={steps!r} does not select increments of the {var.shape[0]} available "
                f"({exc}); pass a slice or integer indices in [0, {var.shape[0]})"
            ) from None
        if var.ndim != 2 or var.shape[0] == 0:
            raise ShapeError(f"steps={steps!r} must select at least one increment")
    per_step = var / (2.0 * lr * stride)
    n = per_step.shape[0]
    value = per_step.mean(axis=0)
    avg = per_step.mean(axis=1)
    if n > 1:
        se = per_step.std(axis=0, ddof=1) / np.sqrt(n)
        mse = float(avg.std(ddof=1) / np.sqrt(n))
    else:
        se = np.full(value.shape, np.nan)
        mse = float("nan")
    meta = {"mean": float(avg.mean()), "mean_stderr": mse, "per_step": per_step, "lr": lr}
    return Estimate(value, se, "effective_temperature", meta)


def gradient_noise_scale(params: ArrayLike, *, batch_size: int) -> Estimate:
    r"""Simple gradient-noise scale ``B = tr(Sigma_g) / |G|^2`` per step (McCandlish et al.).

    Parameters
    ----------
    params : array_like, shape (n_trials, n_steps, n_params)
        Trials sharing an initialisation (see :func:`sgd_noise`).
    batch_size : int
        Mini-batch size ``|b|`` used in training.

    Returns
    -------
    Estimate
        ``value`` and jackknife (over trials) ``stderr`` of shape ``(n_steps - 1,)``.

    Notes
    -----
    The mean increment is :math:`-rG` and its covariance :math:`r^2\Sigma_g/|b|`, so
    :math:`B = |b|\,\mathrm{tr}\,\mathrm{Cov}(\Delta\theta) / |\overline{\Delta\theta}|^2`,
    with :math:`|\bar g|^2 - \mathrm{tr}\,\mathrm{Cov}/n` as the unbiased squared mean
    [EST-sgd].
    """
    b = positive_int("batch_size", batch_size)
    arr = _as_params(params)
    inc = np.diff(arr, axis=1)
    K = inc.shape[0]
    if K < 3:
        raise InsufficientDataError(f"gradient_noise_scale needs >= 3 trials, got {K}")

    def gns(sub):
        m = sub.mean(axis=0)
        tr = sub.var(axis=0, ddof=1).sum(axis=-1)
        g2 = (m**2).sum(axis=-1) - tr / sub.shape[0]
        return b * tr / g2

    _, se, _, full = jackknife_groups(lambda i: gns(inc[i]), np.arange(K))
    notes = []
    full_arr = np.asarray(full, dtype=np.float64)
    neg = np.flatnonzero(~np.isfinite(full_arr) | (full_arr < 0))
    if neg.size:
        notes.append(
            f"at {neg.size} of {full_arr.size} steps (first: {int(neg[0])}) the unbiased "
            "|mean increment|^2 is <= 0, so B is negative or undefined: the mean gradient is "
            "not resolved above the noise of the trials; use more trials or a longer stride"
        )
    return Estimate(full, se, "gradient_noise_scale", {"batch_size": b, "n_trials": K},
                    warnings=tuple(notes))
