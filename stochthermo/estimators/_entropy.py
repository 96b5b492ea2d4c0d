r"""Entropy production rate from trajectories: linear fit, currents, TUR bound, inference.

Private module: the public names are re-exported by :mod:`stochthermo.estimate`.
All estimators pool transitions of an ensemble ``(n_traj, n_time, dim)`` sampled every
``tau``; the error bar is a delete-one-group jackknife over groups of trajectories (or time
segments when there are few trajectories). Every method checks its own assumptions on the
data (stationarity, aliasing, adequacy of its model, discretisation, amount of data, a
continuous state and a constant diffusion) and
reports failures as ``Estimate.warnings`` (``strict=True`` raises instead). Derivations:
``theory/estimators.md`` [EST-ep-*], [EST-diag].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import exact
from .._validation import as_square_matrix, check_psd, check_symmetric, choose_method, positive_int
from ..errors import EstimationError, InsufficientDataError, ModelError, ValidationError
from ..models.linear import LinearLangevin
from ..results import Estimate
from . import _diagnostics as diag
from ._basis import block_size, make_basis
from ._common import as_trajectories, group_slices, jackknife, model_failure, split_groups
from ._inference import (
    basis_stats,
    diffusion_from,
    inference_value,
    state_inference_value,
    tur_value,
)
from ._linfit import fit_linear, transition_stats

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .._typing import ArrayLike

__all__ = ["entropy_production", "entropy_production_timeresolved"]

_DISC = {"exact": "exact", "euler": "euler"}


def _relax_rate(F, tau):
    lam = np.abs(np.linalg.eigvals(F))
    if lam.size == 0 or np.any(lam <= 0) or np.any(lam >= 1):
        return None
    return float(np.min(-np.log(lam)) / tau)


def _linear_fit_total(stats, tau):
    """Euler-free propagator ``F`` of the pooled data (for aliasing and relaxation checks)."""
    total = tuple(s.sum(axis=0) for s in stats)
    Sxx, Sx, Syx, Sy, _, n = total
    d = Sx.shape[0]
    Suu = np.empty((d + 1, d + 1))
    Suu[:d, :d], Suu[:d, d], Suu[d, :d], Suu[d, d] = Sxx, Sx, Sx, n
    Syu = np.concatenate([Syx, Sy[:, None]], axis=1)
    B = np.linalg.lstsq(Suu, Syu.T, rcond=None)[0].T
    return B[:, :d]


def _ep_linear(x, tau, groups, split, *, bias_correct, discretization, checks, **unused):
    _no_extra(unused, "linear")
    disc = choose_method("discretization", discretization, _DISC)
    stats = transition_stats(groups)

    def func(s):
        A, D, x_star, _, _ = fit_linear(s, tau, disc)
        try:
            model = LinearLangevin(A, D, x_star=x_star)
            return exact.entropy_production(model)
        except ModelError as exc:
            raise model_failure(exc, "entropy_production(method='linear')") from None

    F = _linear_fit_total(stats, tau)
    value, se, bias, full = jackknife(stats, func, bias_correct=bias_correct)
    A, D, x_star, _, _ = fit_linear(tuple(s.sum(axis=0) for s in stats), tau, disc)
    meta = {
        "uncorrected": full,
        "drift_matrix": A,
        "diffusion": D,
        "x_star": x_star,
        "discretization": disc,
        "tau": tau,
    }
    d = x.shape[2]
    return value, se, bias, meta, {"F": F, "n_params": d * d + d + d * (d + 1) // 2,
                                   "linear_model": True}


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


def _current_sigma(s, tau, diffusion):
    J, C, D = _current_parts(s, tau, diffusion)
    try:
        return float(np.trace(np.linalg.solve(D, J) @ np.linalg.solve(C, J.T)))
    except np.linalg.LinAlgError:
        raise EstimationError(
            "the sample covariance or the diffusion matrix is singular; the current-based "
            "entropy production needs full-rank data"
        ) from None


def _propagator(B, s, groups, tau):
    """Fitted linear propagator ``F`` for the aliasing and relaxation checks.

    From a polynomial basis's sums, without another pass over the data (``x = c + S z``,
    regression of ``dx`` on ``(1, z)``); otherwise by the linear fit.
    """
    if B.kind != "poly":
        return _linear_fit_total(transition_stats(groups), tau)
    G, _, W = s[0], s[1], s[2]
    d = W.shape[0]
    coef = np.linalg.lstsq(G[: d + 1, : d + 1], W[:, : d + 1].T, rcond=None)[0].T
    return np.eye(d) + coef[:, 1:] / B.scale[None, :]


def _lagged_groups(groups, lag):
    """Each group's transitions at ``lag`` as a list of (x_t, x_{t+lag}) pair arrays."""
    for g in groups:
        g = np.asarray(g)
        # stack the lag-interleaved sub-series so that consecutive points are lag apart; each is
        # cut to a common length (an odd number of samples leaves one sub-series a point longer)
        m = g.shape[1] // lag
        yield np.concatenate([g[:, r::lag][:, :m] for r in range(lag)])


def _ep_current(x, tau, groups, split, *, bias_correct, checks, diffusion=None, **unused):
    _no_extra(unused, "current")
    d = x.shape[2]
    if diffusion is not None:
        diffusion = as_square_matrix("diffusion", diffusion, dim=d)
        diffusion = check_symmetric("diffusion", diffusion)
        check_psd("diffusion", diffusion, strict=True)
    stats = transition_stats(groups)
    lag2 = x.shape[1] >= 5 and checks is not None
    if lag2:
        stats2 = transition_stats(_lagged_groups(groups, 2))
        k = len(stats)

        def func(s):
            v1 = _current_sigma(s[:k], tau, diffusion)
            v2 = _current_sigma(s[k:], 2.0 * tau, diffusion)
            return np.array([v1, v1 - v2])

        vals, ses, biases, fulls = jackknife(stats + stats2, func, bias_correct=bias_correct)
        value, se, bias, full = vals[0], ses[0], biases[0], fulls[0]
        checks.append(_disc_check(vals[1], ses[1], "current", ses[0]))
    else:
        value, se, bias, full = jackknife(
            stats, lambda s: _current_sigma(s, tau, diffusion), bias_correct=bias_correct
        )
    J, C, D = _current_parts(tuple(s.sum(axis=0) for s in stats), tau, diffusion)
    meta = {
        "uncorrected": full,
        "current_matrix": J,
        "covariance": C,
        "diffusion": D,
        "diffusion_estimated": diffusion is None,
        "tau": tau,
    }
    return value, se, bias, meta, {"F": _linear_fit_total(stats, tau), "n_params": d * d,
                                   "linear_model": True}


def _null_se(se, *biases):
    """Standard error of a difference of two quadratic forms.

    Adds their null (chi-square) variance ``2 bias^2`` each, which the first-order jackknife
    misses at the null.
    """
    return float(np.sqrt(se**2 + 2.0 * sum(float(b) ** 2 for b in biases)))


def _disc_check(diff, se, method, value_se):
    return diag.difference_check(
        "discretisation",
        float(diff),
        float(se),
        f"the {method} estimate at the sampling interval differs from the one at twice the "
        "interval",
        "the O(tau) bias of the estimator is not negligible: sample more finely (or use "
        "method='linear' for linear data); to first order the bias-free value is the "
        "estimate plus this difference",
        value_se=float(value_se),
    )


def _resolve_basis(spec, x, period, *, extra):
    sample = np.asarray(x[: min(x.shape[0], 64)]).reshape(-1, x.shape[2])
    return make_basis(spec, sample, period=period, extra_orders=extra)


def _ep_tur(x, tau, groups, split, *, bias_correct, checks, basis=None, period=None, **unused):
    _no_extra(unused, "tur")
    d = x.shape[2]
    spec = "poly1" if basis is None else basis
    B = _resolve_basis(spec, x, period, extra=0)
    nb = B.size
    idx = np.arange(d * nb)
    lag2 = x.shape[1] >= 5 and checks is not None
    lags = (1, 2) if lag2 else (1,)
    stats, k = basis_stats(groups, B, lags=lags, currents=True)

    def func(s):
        v1, _ = tur_value(s[:k], tau, idx)
        if not lag2:
            return v1
        v2, _ = tur_value(s[k:], 2.0 * tau, idx)
        return np.array([v1, v1 - v2, v2])

    out = jackknife(stats, func, bias_correct=bias_correct)
    if lag2:
        value, se, bias, full = (float(a[0]) for a in out)
        checks.append(_disc_check(out[0][1], _null_se(out[1][1], out[2][0], out[2][2]), "tur",
                                  se))
    else:
        value, se, bias, full = out
    total = tuple(s.sum(axis=0) for s in stats[:k])
    _, coef = tur_value(total, tau, idx)
    meta = {
        "uncorrected": full,
        "current_coefficients": coef.reshape(d, nb),
        "basis": B.name,
        "n_basis": nb,
        "tau": tau,
        "bound": True,
        "bound_note": (
            "short-time TUR lower bound over the currents int b_a(x) o dx_mu; tight for a "
            "linear process with the bilinear basis (poly1) as tau -> 0"
        ),
    }
    return value, se, bias, meta, {"F": _propagator(B, total, groups, tau), "n_params": d * nb,
                                   "linear_model": B.kind == "poly" and B.order == 1}


_AUTO_MAX_DEGREE = {1: 7, 2: 5, 3: 4}


def _ep_inference(x, tau, groups, split, *, bias_correct, checks, basis=None, period=None,
                  diffusion=None, **unused):
    _no_extra(unused, "inference")
    d = x.shape[2]
    B, candidates, auto = _inference_basis(basis, x, period, checks)
    state, D_known = _inference_diffusion(diffusion, d)
    # lags 1 and 2 give the first-order (Richardson) extrapolation 2 s(tau) - s(2 tau); lag 4
    # checks what remains [EST-ep-inf]
    lags = tuple(lg for lg in (1, 2, 4) if x.shape[1] >= 2 * lg + 1)
    if checks is None or state:
        lags = lags[:2]
    rich = len(lags) >= 2
    center = np.asarray(x[0, :1]).reshape(d)
    stats, k = basis_stats(groups, B, lags=lags, diffusion_moments=state, center=center)
    total = tuple(s.sum(axis=0) for s in stats)
    n_tot, T = float(total[4]), float(total[4]) * tau
    ic = _inference_criterion(B, candidates, total[:k], tau, D_known, d, n_tot)
    order = max(ic, key=ic.get) if auto else candidates[0]
    nb = _inference_block_size(B, order)
    nb_top = B.size
    k_eff, k_top = B.free_dims(nb, d), B.free_dims(nb_top, d)
    jk_bias = state or k_eff is None  # no analytic correction: the jackknife's

    B_eval = None
    if state:
        X = np.asarray(x[:, :-1]).reshape(-1, d)
        step = max(1, X.shape[0] // 20_000)
        B_eval = B(X[::step])

    def one(s, lag, n_b):
        if state:
            v, _ = state_inference_value(s, lag * tau, n_b, B_eval, s[5])
            return v
        return inference_value(s, lag * tau, n_b, D_known, lag=lag,
                               k_eff=B.free_dims(n_b, d))[0]

    def lagged(s, n_b):
        return [one(s[i * k : (i + 1) * k], lg, n_b) for i, lg in enumerate(lags)]

    def func(s):
        v = lagged(s, nb)
        best = 2.0 * v[0] - v[1] if rich else v[0]
        out = [best, v[0]]
        if rich:
            out.append(v[0] - v[1])
        if len(lags) == 3:
            out.append(best - (2.0 * v[1] - v[2]))
        if checks is not None and nb_top > nb:
            w = lagged(s, nb_top)
            out.append((2.0 * w[0] - w[1] if rich else w[0]) - best)
        return np.array(out)

    # the constant-D value carries its analytic bias correction; the jackknife gives the
    # error bar (plus the null chi-square variance 2 bias^2 / (d n_b)) [EST-ep-inf]
    vals, ses, jbias, fulls = jackknife(stats, func, bias_correct=jk_bias and bias_correct,
                                        second_order=jk_bias)
    vals, ses, jbias = np.atleast_1d(vals), np.atleast_1d(ses), np.atleast_1d(jbias)
    _, plug, an_bias = inference_value(total[:k], tau, nb, D_known, k_eff=k_eff)
    value, se = float(vals[0]), float(ses[0])
    null_var = 0.0 if jk_bias else 2.0 * an_bias**2 / max(k_eff, 1)
    if not jk_bias:
        se = float(np.sqrt(se**2 + null_var))
        if not bias_correct:
            value = value + an_bias
    correction = float(vals[2]) if rich else None
    _inference_checks(checks, vals, ses, se, null_var, lags=lags, nb=nb, nb_top=nb_top,
                      k_eff=k_eff, k_top=k_top, d=d, T=T,
                      basis_name=B.name if not auto else f"poly{order}")
    D_hat = D_known if D_known is not None else diffusion_from(total[:k], tau, nb)
    meta = _inference_meta(total, tau, nb, n_tot, T, D_hat, vals, fulls, jbias, plug, an_bias,
                           basis_name=(f"poly{order}" if auto else B.name), state=state,
                           D_known=D_known, rich=rich, correction=correction, jk_bias=jk_bias,
                           ic=ic if auto else None)
    bias = (jbias[0] if jk_bias else an_bias) if bias_correct else None
    return value, se, bias, meta, {"F": _propagator(B, total[:k], groups, tau),
                                   "n_params": d * nb, "linear_model": False}


def _inference_basis(basis, x, period, checks):
    """Resolved basis, candidate orders and whether the order is chosen ('auto')."""
    d = x.shape[2]
    spec = "auto" if basis is None else basis
    auto = isinstance(spec, str) and spec == "auto"
    if auto:
        top = _AUTO_MAX_DEGREE.get(d, 3)
        B = _resolve_basis(f"poly{top}", x, period, extra=0)
        candidates = [o for o, _ in B.orders if o >= 1]
    else:
        extra = 2 if checks is not None else 0
        B = _resolve_basis(spec, x, period, extra=extra)
        candidates = [B.order] if B.order is not None else [None]
    return B, candidates, auto


def _inference_diffusion(diffusion, d):
    """``(state-dependent?, known D or None)`` from the ``diffusion=`` option."""
    state = isinstance(diffusion, str)
    if state and diffusion != "state":
        raise ValidationError(
            f"diffusion={diffusion!r}: pass None (constant, estimated), a (dim, dim) matrix "
            "(known) or 'state' (state-dependent, fitted on the basis)"
        )
    D_known = None
    if diffusion is not None and not state:
        D_known = as_square_matrix("diffusion", diffusion, dim=d)
        D_known = check_symmetric("diffusion", D_known)
        check_psd("diffusion", D_known, strict=True)
    return state, D_known


def _inference_block_size(B, order):
    return B.size if order is None else block_size(B, order)


def _inference_criterion(B, candidates, total, tau, D_known, d, n_tot):
    """``{order: sigma_hat - 2 d n_b / T}`` over the candidates with enough data.

    The basis is chosen by maximising this information criterion [EST-ep-inf].
    """
    ic = {}
    for o in candidates:
        nb = _inference_block_size(B, o)
        if nb * 4 > n_tot:
            continue
        ke = B.free_dims(nb, d)
        ke = d * nb if ke is None else ke
        val, _, pen = inference_value(total, tau, nb, D_known, k_eff=ke)
        ic[o] = val - pen
    if not ic:
        raise InsufficientDataError(
            f"{int(n_tot)} transitions are too few for the basis {B.name!r} ({B.size} "
            "functions): pass more data or a smaller basis"
        )
    return ic


def _inference_checks(checks, vals, ses, se, null_var, *, lags, nb, nb_top, k_eff, k_top, d, T,
                      basis_name):
    """Append the discretisation and basis checks of the inference estimate to ``checks``."""
    rich = len(lags) >= 2
    i = 2
    if rich:
        correction = float(vals[i])
        i += 1
    if len(lags) == 3:
        # R(tau) - R(2 tau) = -3 c tau^2 for a remainder c tau^2: one third is what is left
        checks.append(diag.difference_check(
            "discretisation",
            float(vals[i]) / 3.0,
            float(np.sqrt(ses[i] ** 2 + 2 * null_var)) / 3.0,
            "the extrapolated inference estimate (from lags tau and 2 tau) is off its "
            "second-order remainder",
            "the sampling interval is too coarse for a first-order extrapolation: sample "
            "more finely",
            value_se=se,
        ))
        i += 1
    elif rich and checks is not None:
        checks.append(_disc_check(correction, np.sqrt(ses[2] ** 2 + 2 * null_var),
                                  "inference", se))
    if checks is not None and nb_top > nb:
        dk = max((k_top or d * nb_top) - (k_eff or d * nb), 1)
        extra_bias = 2.0 * dk / T
        checks.append(diag.difference_check(
            "basis",
            float(vals[i]),
            float(np.sqrt(ses[i] ** 2 + 2.0 * extra_bias**2 / dk)),
            f"a richer basis ({nb_top} functions) raises the rate above the one with {nb}",
            f"the basis {basis_name} misses part of the "
            "probability current: use a larger basis (or basis='auto')",
            value_se=se,
        ))


def _inference_meta(total, tau, nb, n_tot, T, D_hat, vals, fulls, jbias, plug, an_bias, *,
                    basis_name, state, D_known, rich, correction, jk_bias, ic):
    """The ``meta`` dict of the inference estimate."""
    G, V = total[0][:nb, :nb] / n_tot, total[1][:, :nb] / T
    meta = {
        "basis": basis_name,
        "n_basis": nb,
        "velocity_coefficients": np.linalg.solve(G, V.T).T,
        "diffusion": D_hat,
        "diffusion_mode": "state" if state else ("known" if D_known is not None else "constant"),
        "tau": tau,
        "total_time": T,
    }
    meta["lag1_value"] = float(vals[1])
    meta["extrapolated"] = rich
    if rich:
        meta["discretisation_correction"] = correction
    if jk_bias:
        meta.update(uncorrected=float(np.atleast_1d(fulls)[0]), jackknife_bias=float(jbias[0]))
    else:
        meta.update(uncorrected=plug, analytic_bias=an_bias,
                    jackknife_residual_bias=float(jbias[0]))
    if ic is not None:
        meta["information_criterion"] = {f"poly{o}": float(v) for o, v in ic.items()}
    return meta


def _no_extra(extra, method):
    extra = {k: v for k, v in extra.items() if v is not None}
    if extra:
        names = ", ".join(sorted(extra))
        raise ValidationError(
            f"entropy_production(method={method!r}) got unexpected options {names}"
        )


_METHODS: dict[str, Callable[..., Any]] = {
    "linear": _ep_linear,
    "current": _ep_current,
    "tur": _ep_tur,
    "inference": _ep_inference,
}


def entropy_production(
    ensemble: Any,
    *,
    method: str = "linear",
    dt: float | None = None,
    n_groups: int = 32,
    bias_correct: bool = True,
    discretization: str = "exact",
    diffusion: ArrayLike | None = None,
    basis: Any = None,
    period: float | None = None,
    strict: bool = False,
    diagnostics: bool = True,
) -> Estimate:
    r"""Steady-state entropy production rate (nats per unit time) from trajectories.

    Parameters
    ----------
    ensemble : Ensemble or array_like, shape (n_traj, n_time, dim)
        Trajectories sampled every ``dt``. Every method assumes a stationary ensemble (``linear``
        then returns the steady-state rate of the fitted dynamics); for a relaxing ensemble use
        :func:`entropy_production_timeresolved`.
    method : {"linear", "current", "tur", "inference"}
        ``linear``: fit ``x_{t+tau} = F x_t + c + noise`` by least squares, convert to the drift
        ``A`` and diffusion ``D`` of the exact OU transition and return the closed form
        ``tr(A^T D^-1 A C) - tr A`` of :func:`stochthermo.exact.entropy_production`.
        ``current``: Stratonovich current matrix ``J = <dx o (x - m)^T> / dt`` (antisymmetric
        part), ``sigma = tr(D^-1 J C^-1 J^T)``; ``diffusion`` known or estimated from
        ``<dx dx^T> / (2 dt)``. ``tur``: short-time thermodynamic-uncertainty lower bound
        ``2 mu^T Sigma^-1 mu / dt`` maximised over the currents ``int b_a(x) o dx_mu`` of a
        basis (default ``poly1``: every bilinear current ``x_a dx_b`` and ``dx_b``; tight for
        linear processes as ``dt -> 0``, a bound otherwise). ``inference``: the mean local
        velocity projected on a function basis (Frishman & Ronceray 2020),
        ``sigma = tr(D^-1 V G^-1 V^T) - 2 d n_b / T`` (bias-corrected).
    dt : float, optional
        Sampling interval; required for a plain array, overrides an Ensemble's.
    n_groups : int
        Number of jackknife groups (trajectories, or time segments if fewer trajectories).
    bias_correct : bool
        Return the bias-corrected value (default) instead of the plug-in one.
    discretization : {"exact", "euler"}
        ``linear`` only: invert the exact OU transition (no bias in ``dt``) or Euler (O(dt)).
    diffusion : array_like (dim, dim) or "state", optional
        ``current``/``inference``: the known (constant) diffusion matrix; ``inference`` also
        takes ``"state"`` (``D(x)`` fitted on the basis, ``sigma = <v^T D(x)^-1 v>``).
        Default: a constant ``D`` estimated from the data.
    basis : str, callable or list of callables, optional
        ``tur``/``inference``: ``"polyN"`` (monomials of degree <= N), ``"fourierK"`` (Fourier
        modes up to wave number K on periodic coordinates, with ``period``), a callable
        ``f(X) -> (N, n_b)`` or a list of callables ``f(X) -> (N,)``; ``inference`` also
        ``"auto"`` (default): the polynomial degree chosen by the information criterion.
    period : float or array_like, optional
        Period(s) of the coordinates for a Fourier basis.
    strict : bool
        Raise :class:`~stochthermo.errors.EstimationError` when a self-check fails instead of
        returning the estimate with ``warnings``.
    diagnostics : bool
        Run the self-checks (default). Without them ``warnings`` is empty and means nothing.

    Returns
    -------
    Estimate
        ``value``, ``stderr`` (jackknife), ``bias`` (the bias that was subtracted), ``meta``
        with the fitted quantities, ``uncorrected`` and ``meta["diagnostics"]`` (one entry per
        self-check), ``warnings`` (failed checks, empty when all passed).

    Notes
    -----
    For a linear process all methods agree with :math:`\sigma = \mathrm{tr}(D^{-1} M C M^\top)`,
    :math:`M C = (C A^\top - A C)/2` (``theory/estimators.md`` [EST-ep-lin], [EST-ep-cur],
    [EST-ep-tur], [EST-ep-inf]). ``linear`` is unbiased in ``dt``; ``current``, ``tur`` and
    ``inference`` carry an :math:`O(\|A\| dt)` relative bias (checked against the estimate at
    ``2 dt``). The plug-in values are biased upward by :math:`O(1/n)`; the correction removes
    that term, so under detailed balance the value scatters around 0 and may be slightly
    negative. Self-checks ([EST-diag]): stationarity (all methods), aliasing (``linear``),
    lack of fit of the linear model (``linear``, ``current``, ``tur`` with ``poly1``),
    discretisation (``current``, ``tur``, ``inference``), basis adequacy (``inference``),
    amount of data (all).

    Examples
    --------
    >>> est = entropy_production(ens, method="inference", basis="poly3")  # doctest: +SKIP
    >>> est.value, est.stderr, est.warnings  # doctest: +SKIP
    """
    fn = choose_method("method", method, _METHODS)
    x, tau = as_trajectories("ensemble", ensemble, dt)
    positive_int("n_groups", n_groups)
    d = x.shape[2]
    polynomial_tur = method == "tur" and (
        basis is None or (isinstance(basis, str) and basis.lower().startswith("poly"))
    )
    if (method == "current" or polynomial_tur) and d == 1:
        return Estimate(
            0.0,
            0.0,
            f"entropy_production:{method}",
            {"note": "one-dimensional: no current of a polynomial basis has a non-zero mean"},
            bias=0.0,
        )
    opts: dict[str, Any] = {}
    if method == "linear":
        opts["discretization"] = discretization
    if diffusion is not None:
        if method not in ("current", "inference"):
            raise ValidationError(
                "diffusion= is only used by method='current' and method='inference'"
            )
        opts["diffusion"] = diffusion
    if basis is not None or period is not None:
        if method not in ("tur", "inference"):
            raise ValidationError("basis= and period= are only used by method='tur' and "
                                  "method='inference'")
        if period is not None and not (isinstance(basis, str) and basis.startswith("fourier")):
            raise ValidationError(
                f"period={period!r} is only used by a Fourier basis, but basis={basis!r}; drop "
                "period= or pass basis='fourierK' (e.g. 'fourier2')"
            )
        opts.update(basis=basis, period=period)
    groups, split = split_groups(x, n_groups)
    checks: list[dict[str, Any]] | None = [] if diagnostics else None
    value, se, bias, meta, info = fn(
        x, tau, groups, split, bias_correct=bias_correct, checks=checks, **opts
    )
    meta.update(n_traj=x.shape[0], n_time=x.shape[1], dim=d, n_groups=len(groups), split=split)
    warnings: tuple[str, ...] = ()
    if checks is not None:  # diagnostics=True
        st = diag.stationarity(groups, split)
        if not st["passed"] and method == "linear":
            st["message"] += (
                "; 'linear' then returns the steady-state rate of the fitted dynamics, not the "
                "rate of the data: use entropy_production_timeresolved"
            )
        elif not st["passed"]:
            st["message"] += (
                f"; method={method!r} assumes a steady state: use "
                "entropy_production_timeresolved"
            )
        checks.insert(0, st)
        checks.insert(1, diag.aliasing(info["F"], tau))
        checks.append(diag.quantization(groups))
        checks.append(diag.constant_diffusion(groups))
        if info["linear_model"]:
            checks.append(diag.linear_adequacy(groups, tau=tau))
        n_tr = x.shape[0] * (x.shape[1] - 1)
        checks.append(diag.data_amount(
            n_transitions=n_tr, n_params=info["n_params"], tau=tau,
            relax_rate=_relax_rate(info["F"], tau), n_traj=x.shape[0], n_time=x.shape[1],
            n_groups=len(groups), split=split,
        ))
        meta["diagnostics"] = {c["name"]: c for c in checks}
        warnings = diag.finish(checks, strict=strict, where=f"entropy_production({method!r})")
    return Estimate(
        value, se, f"entropy_production:{method}", meta,
        bias=bias if bias_correct else None, warnings=warnings,
    )


def entropy_production_timeresolved(
    ensemble: Any,
    *,
    window: int | None = None,
    dt: float | None = None,
    n_groups: int = 32,
    bias_correct: bool = True,
    discretization: str = "exact",
    strict: bool = False,
) -> Estimate:
    r"""Time-resolved entropy production rate of a non-stationary ensemble, per time window.

    In each window of ``window`` transitions, a linear model (drift ``A``, offset, diffusion
    ``D``) is fitted to the transitions of all trajectories in the window, the ensemble's sample
    mean ``m_t`` and covariance ``C_t`` are taken at each saved time of the window, and the
    Gaussian transient rate

    .. math:: \sigma(t) = \mathrm{tr}(D^{-1} M_t C_t M_t^\top)
       + (A\tilde m_t)^\top D^{-1} A \tilde m_t, \quad M_t = -A + D C_t^{-1}

    (:func:`stochthermo.exact.entropy_production` with ``mean``/``cov``) is averaged over
    those times.

    Parameters
    ----------
    ensemble : Ensemble or array_like, shape (n_traj, n_time, dim)
    window : int, optional
        Transitions per window (default ``max(1, (n_time - 1) // 10)``).
    dt, n_groups, bias_correct, discretization
        As in :func:`entropy_production`; the jackknife groups are sets of trajectories, so
        ``n_traj >= n_groups`` is required.
    strict : bool
        Raise :class:`~stochthermo.errors.EstimationError` when a self-check fails (aliasing
        of a window's fitted propagator, fewer than 8 groups) instead of warning.

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
    worst = None
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
                    out += exact.entropy_production(model, mean=mean, cov=0.5 * (cov + cov.T))
                return out / m1.shape[0]
            except ModelError as exc:
                raise model_failure(exc, "entropy_production_timeresolved") from None

        v, se, bias, _ = jackknife((*tstats, mom1, mom2, cnt), func, bias_correct=bias_correct)
        Fw = _linear_fit_total(tstats, tau)
        alias = diag.aliasing(Fw, tau)
        if worst is None or alias["statistic"] > worst["statistic"]:
            worst = alias
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
    checks = [worst, diag.quantization([x[slices[0]]]), diag.data_amount(
        n_transitions=n_traj * window, n_params=d * d + d + d * (d + 1) // 2, tau=tau,
        relax_rate=None, n_traj=n_traj, n_time=n_time, n_groups=n_groups,
        split="trajectories",
    )]
    meta["diagnostics"] = {c["name"]: c for c in checks}
    warnings = diag.finish(checks, strict=strict, where="entropy_production_timeresolved")
    return Estimate(
        np.asarray(values),
        np.asarray(errs),
        "entropy_production:timeresolved",
        meta,
        bias=np.asarray(biases) if bias_correct else None,
        warnings=warnings,
    )
