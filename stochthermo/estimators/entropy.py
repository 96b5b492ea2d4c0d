r"""Entropy production rate from trajectories: linear fit, Stratonovich currents, TUR bound.

All estimators pool transitions of an ensemble ``(n_traj, n_time, dim)`` sampled every
``tau``; the error bar is a delete-one-group jackknife over groups of trajectories (or time
segments when there are few trajectories), which also removes the O(1/n) bias of these
non-linear statistics. Derivations: ``theory/estimators.md`` [EST-ep-*].
"""

from __future__ import annotations

import numpy as np

from .. import exact
from .._validation import as_square_matrix, check_psd, check_symmetric, choose_method, positive_int
from ..errors import EstimationError, InsufficientDataError, ModelError, ValidationError
from ..models.linear import LinearLangevin
from ..results import Estimate
from ._common import as_trajectories, group_slices, jackknife, model_failure, split_groups
from ._linfit import fit_linear, transition_stats

__all__ = ["entropy_production", "entropy_production_timeresolved"]

_DISC = {"exact": "exact", "euler": "euler"}


def _ep_linear(x, tau, *, n_groups, bias_correct, discretization, **unused):
    _no_extra(unused, "linear")
    disc = choose_method("discretization", discretization, _DISC)
    groups, split = split_groups(x, n_groups)
    stats = transition_stats(groups)

    def func(s):
        A, D, x_star, _, _ = fit_linear(s, tau, disc)
        try:
            model = LinearLangevin(A, D, x_star=x_star)
            return exact.entropy_production_rate(model)
        except ModelError as exc:
            raise model_failure(exc, "entropy_production(method='linear')") from None

    value, se, bias, full = jackknife(stats, func, bias_correct=bias_correct)
    A, D, x_star, _, _ = fit_linear(tuple(s.sum(axis=0) for s in stats), tau, disc)
    meta = {
        "uncorrected": full,
        "drift_matrix": A,
        "diffusion": D,
        "x_star": x_star,
        "discretization": disc,
        "n_groups": len(groups),
        "split": split,
        "tau": tau,
    }
    return value, se, bias, meta


def _current_parts(s, tau, diffusion):
    Sxx, Sx, Syx, Sy, Syy, n = s
    mx = Sx / n
    C = Sxx / n - np.outer(mx, mx)
    mbar = 0.5 * (Sx + Sy) / n
    dsum = Sy - Sx
    P = 0.5 * (Syx - Syx.T) - 0.5 * (np.outer(dsum, mbar) - np.outer(mbar, dsum))
    J = P / (n * tau)
    if diffusion is None:
        mdel = dsum / n
        DD = (Syy - Syx - Syx.T + Sxx) / n - np.outer(mdel, mdel)
        D = 0.5 * (DD + DD.T) / (2.0 * tau)
    else:
        D = diffusion
    return J, C, D


def _ep_current(x, tau, *, n_groups, bias_correct, diffusion=None, **unused):
    _no_extra(unused, "current")
    d = x.shape[2]
    if diffusion is not None:
        diffusion = as_square_matrix("diffusion", diffusion, dim=d)
        diffusion = check_symmetric("diffusion", diffusion)
        check_psd("diffusion", diffusion, strict=True)
    groups, split = split_groups(x, n_groups)
    stats = transition_stats(groups)

    def func(s):
        J, C, D = _current_parts(s, tau, diffusion)
        try:
            return float(np.trace(np.linalg.solve(D, J) @ np.linalg.solve(C, J.T)))
        except np.linalg.LinAlgError:
            raise EstimationError(
                "the sample covariance or the diffusion matrix is singular; the current-based "
                "entropy production needs full-rank data"
            ) from None

    value, se, bias, full = jackknife(stats, func, bias_correct=bias_correct)
    J, C, D = _current_parts(tuple(s.sum(axis=0) for s in stats), tau, diffusion)
    meta = {
        "uncorrected": full,
        "current_matrix": J,
        "covariance": C,
        "diffusion": D,
        "diffusion_estimated": diffusion is None,
        "n_groups": len(groups),
        "split": split,
        "tau": tau,
    }
    return value, se, bias, meta


def _tur_stats(groups, center):
    d = center.shape[0]
    ia, ib = np.triu_indices(d, 1)
    SJ, SJJ, N = [], [], []
    for g in groups:
        a = g[:, :-1].reshape(-1, d) - center
        b = g[:, 1:].reshape(-1, d) - center
        mid, dx = 0.5 * (a + b), b - a
        inc = mid[:, ib] * dx[:, ia] - mid[:, ia] * dx[:, ib]
        SJ.append(inc.sum(axis=0))
        SJJ.append(inc.T @ inc)
        N.append(np.array(float(inc.shape[0])))
    return np.stack(SJ), np.stack(SJJ), np.stack(N)


def _ep_tur(x, tau, *, n_groups, bias_correct, **unused):
    _no_extra(unused, "tur")
    groups, split = split_groups(x, n_groups)
    center = x.reshape(-1, x.shape[2]).mean(axis=0)
    stats = _tur_stats(groups, center)

    def func(s):
        SJ, SJJ, n = s
        mu = SJ / n
        cov = SJJ / n - np.outer(mu, mu)
        try:
            return float(2.0 * mu @ np.linalg.solve(cov, mu) / tau)
        except np.linalg.LinAlgError:
            raise EstimationError("the current increments have a singular covariance") from None

    value, se, bias, full = jackknife(stats, func, bias_correct=bias_correct)
    SJ, SJJ, n = (s.sum(axis=0) for s in stats)
    mu = SJ / n
    coef = np.linalg.solve(SJJ / n - np.outer(mu, mu), mu)
    meta = {
        "uncorrected": full,
        "current_coefficients": coef,
        "n_groups": len(groups),
        "split": split,
        "tau": tau,
        "bound": "short-time TUR, antisymmetric linear currents",
    }
    return value, se, bias, meta


def _no_extra(extra, method):
    if extra:
        names = ", ".join(sorted(extra))
        raise ValidationError(
            f"entropy_production(method={method!r}) got unexpected options {names}"
        )


_METHODS = {"linear": _ep_linear, "current": _ep_current, "tur": _ep_tur}


def entropy_production(
    ensemble,
    *,
    method: str = "linear",
    dt=None,
    n_groups: int = 32,
    bias_correct: bool = True,
    discretization: str = "exact",
    diffusion=None,
) -> Estimate:
    r"""Steady-state entropy production rate (nats per unit time) from trajectories.

    Parameters
    ----------
    ensemble : Ensemble or array_like, shape (n_traj, n_time, dim)
        Trajectories sampled every ``dt``. ``linear`` only needs a time-homogeneous linear
        process (transients are fine); ``current`` and ``tur`` assume a stationary ensemble.
    method : {"linear", "current", "tur"}
        ``linear``: fit ``x_{t+tau} = F x_t + c + noise`` by least squares, convert to the drift
        ``A`` and diffusion ``D`` of the exact OU transition and return the closed form
        ``tr(A^T D^-1 A C) - tr A`` of :func:`stochthermo.exact.entropy_production_rate`.
        ``current``: Stratonovich current matrix ``J = <dx o (x - m)^T> / dt`` (antisymmetric
        part), ``sigma = tr(D^-1 J C^-1 J^T)``; ``diffusion`` known or estimated from
        ``<dx dx^T> / (2 dt)``. ``tur``: short-time thermodynamic-uncertainty lower bound
        ``2 mu^T Sigma^-1 mu / dt`` maximised over linear antisymmetric currents
        ``int (x_b dx_a - x_a dx_b)`` (``mu``, ``Sigma``: mean and covariance of one step's
        current increments).
    dt : float, optional
        Sampling interval; required for a plain array, overrides an Ensemble's.
    n_groups : int
        Number of jackknife groups (trajectories, or time segments if fewer trajectories).
    bias_correct : bool
        Return the jackknife bias-corrected value (default) instead of the plug-in one.
    discretization : {"exact", "euler"}
        ``linear`` only: invert the exact OU transition (no bias in ``dt``) or Euler (O(dt)).
    diffusion : array_like, shape (dim, dim), optional
        ``current`` only: the known diffusion matrix.

    Returns
    -------
    Estimate
        ``value`` (bias-corrected), ``stderr`` (jackknife), ``bias`` (the jackknife bias
        estimate that was subtracted), ``meta`` with the fitted matrices and ``uncorrected``.

    Notes
    -----
    For a linear process all three agree with :math:`\sigma = \mathrm{tr}(D^{-1} M C M^\top)`,
    :math:`M C = (C A^\top - A C)/2` (``theory/estimators.md`` [EST-ep-lin], [EST-ep-cur],
    [EST-ep-tur]). ``linear`` is unbiased in ``dt``; ``current`` and ``tur`` carry an
    :math:`O(\|A\| dt)` relative bias and ``tur`` is a lower bound (tight for linear processes
    as ``dt -> 0``). The plug-in values are biased upward by :math:`O(1/n)` (a quadratic form in
    a noisy matrix); the jackknife removes that term, so under detailed balance the corrected
    value scatters around 0 and may be slightly negative. In one dimension every stationary
    linear process obeys detailed balance and ``current``/``tur`` return exactly 0.

    Examples
    --------
    >>> est = entropy_production(ens, method="linear")  # doctest: +SKIP
    >>> est.value, est.stderr  # doctest: +SKIP
    """
    fn = choose_method("method", method, _METHODS)
    x, tau = as_trajectories("ensemble", ensemble, dt)
    positive_int("n_groups", n_groups)
    if method in ("current", "tur") and x.shape[2] == 1:
        return Estimate(
            0.0,
            0.0,
            f"entropy_production:{method}",
            {"note": "one-dimensional: no antisymmetric current"},
            bias=0.0,
        )
    opts = {}
    if method == "linear":
        opts["discretization"] = discretization
    elif diffusion is not None:
        if method != "current":
            raise ValidationError("diffusion= is only used by method='current'")
        opts["diffusion"] = diffusion
    value, se, bias, meta = fn(x, tau, n_groups=n_groups, bias_correct=bias_correct, **opts)
    meta.update(n_traj=x.shape[0], n_time=x.shape[1], dim=x.shape[2])
    return Estimate(
        value, se, f"entropy_production:{method}", meta, bias=bias if bias_correct else None
    )


def entropy_production_timeresolved(
    ensemble,
    *,
    window: int | None = None,
    dt=None,
    n_groups: int = 32,
    bias_correct: bool = True,
    discretization: str = "exact",
) -> Estimate:
    r"""Time-resolved entropy production rate of a non-stationary ensemble, per time window.

    In each window of ``window`` transitions, a linear model (drift ``A``, offset, diffusion
    ``D``) is fitted to the transitions of all trajectories in the window, the ensemble's sample
    mean ``m_t`` and covariance ``C_t`` are taken at each saved time of the window, and the
    Gaussian transient rate

    .. math:: \sigma(t) = \mathrm{tr}(D^{-1} M_t C_t M_t^\top)
       + (A\tilde m_t)^\top D^{-1} A \tilde m_t, \quad M_t = -A + D C_t^{-1}

    (:func:`stochthermo.exact.entropy_production_rate` with ``mean``/``cov``) is averaged over
    those times.

    Parameters
    ----------
    ensemble : Ensemble or array_like, shape (n_traj, n_time, dim)
    window : int, optional
        Transitions per window (default ``max(1, (n_time - 1) // 10)``).
    dt, n_groups, bias_correct, discretization
        As in :func:`entropy_production`; the jackknife groups are sets of trajectories, so
        ``n_traj >= n_groups`` is required.

    Returns
    -------
    Estimate
        ``value`` and ``stderr`` of shape ``(n_windows,)``; ``meta["t"]`` holds the window
        centres, ``meta["t_start"]``/``meta["t_stop"]`` the first and last times used.

    Notes
    -----
    Exact for a linear (Gaussian) process whose coefficients are constant within a window;
    see ``theory/estimators.md`` [EST-ep-time]. The first saved time is skipped when the
    ensemble starts from a point (singular covariance).
    """
    x, tau = as_trajectories("ensemble", ensemble, dt)
    disc = choose_method("discretization", discretization, _DISC)
    n_traj, n_time, d = x.shape
    n_groups = positive_int("n_groups", n_groups)
    if n_traj < max(n_groups, 2):
        raise InsufficientDataError(
            f"time-resolved entropy production needs at least n_groups={n_groups} trajectories "
            f"(got n_traj={n_traj}); pass more trajectories or a smaller n_groups"
        )
    window = max(1, (n_time - 1) // 10) if window is None else positive_int("window", window)
    if window > n_time - 1:
        raise ValidationError(f"window={window} exceeds the {n_time - 1} transitions available")
    start = 0
    c0 = np.cov(x[:, 0].T).reshape(d, d)
    if np.linalg.matrix_rank(c0) < d:
        start = 1
    slices = group_slices(n_traj, n_groups)
    values, errs, biases, times = [], [], [], []
    for a in range(start, n_time - window, window):
        b = a + window
        seg = x[:, a : b + 1]
        tstats = transition_stats([seg[s] for s in slices])
        mom1 = np.stack([seg[s].sum(axis=0) for s in slices])  # (G, w+1, d)
        mom2 = np.stack([np.einsum("kti,ktj->tij", seg[s], seg[s]) for s in slices])
        cnt = np.array([float(seg[s].shape[0]) for s in slices])

        def func(s, _d=d):
            A, D, x_star, _, _ = fit_linear(s[:6], tau, disc)
            m1, m2, nn = s[6], s[7], s[8]
            try:
                model = LinearLangevin(A, D, x_star=x_star)
                out = 0.0
                for j in range(m1.shape[0]):
                    mean = m1[j] / nn
                    cov = (m2[j] - nn * np.outer(mean, mean)) / (nn - 1.0)
                    out += exact.entropy_production_rate(model, mean=mean, cov=0.5 * (cov + cov.T))
                return out / m1.shape[0]
            except ModelError as exc:
                raise model_failure(exc, "entropy_production_timeresolved") from None

        v, se, bias, _ = jackknife((*tstats, mom1, mom2, cnt), func, bias_correct=bias_correct)
        values.append(v)
        errs.append(se)
        biases.append(bias)
        times.append(0.5 * (a + b))
    if not values:
        raise InsufficientDataError(f"no complete window of {window} transitions in the data")
    t0 = float(ensemble.t[0]) if hasattr(ensemble, "t") else 0.0
    tc = t0 + tau * np.asarray(times)
    meta = {
        "t": tc,
        "t_start": tc - 0.5 * window * tau,
        "t_stop": tc + 0.5 * window * tau,
        "window": window,
        "tau": tau,
        "n_groups": n_groups,
        "discretization": disc,
    }
    return Estimate(
        np.asarray(values),
        np.asarray(errs),
        "entropy_production:timeresolved",
        meta,
        bias=np.asarray(biases) if bias_correct else None,
    )
