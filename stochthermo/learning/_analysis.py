"""Quasi-static sweep and naive-vs-realistic reservoir comparison."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._rng import as_seed_sequence
from .._validation import as_float_array, positive_float, positive_int
from ..errors import ValidationError
from ..estimators._stats import loglog_fit
from ..results import Estimate
from ._engine import learn
from ._info import jackknife

if TYPE_CHECKING:
    from .._typing import ArrayLike, SeedLike

__all__ = ["QuasiStaticSweep", "quasi_static_sweep", "fit_loglog_slope", "ReservoirComparison",
           "reservoir_comparison"]


def fit_loglog_slope(x: ArrayLike, y: ArrayLike,
                     yerr: ArrayLike | None = None) -> tuple[float, float]:
    """Deprecated: use :func:`stochthermo.estimate.loglog_slope` (same slope and error).

    Returns ``(slope, stderr)`` of ``ln y`` against ``ln x`` as before.
    """
    warnings.warn(
        "stochthermo.learning.fit_loglog_slope is deprecated and will be removed in the next "
        "release; use stochthermo.estimate.loglog_slope(x, y, yerr=yerr)",
        DeprecationWarning, stacklevel=2)
    slope, se, _ = loglog_fit(x, y, yerr)
    return slope, se


@dataclass(frozen=True)
class QuasiStaticSweep:
    """Conditional entropy production against the learning rate at a fixed horizon.

    Attributes
    ----------
    lrs : ndarray
    n_steps : ndarray of int
        ``round(horizon / lr)``.
    entropy_production : Estimate
        Ensemble mean of ``sum_t KL(p_t || p_{t+1})`` per learning rate.
    slope : Estimate
        Fitted exponent of ``EP ~ lr^slope`` (1 for quasi-static learning).
    """

    lrs: np.ndarray
    n_steps: np.ndarray
    horizon: float
    entropy_production: Estimate
    slope: Estimate


def quasi_static_sweep(model: Any, data: Any, *, lrs: ArrayLike, horizon: float, batch_size: int,
                       n_trials: int = 200, n_datasets: int = 1, seed: SeedLike | None = None,
                       method: str = "replacement", kl: str = "exact",
                       **learn_kw: Any) -> QuasiStaticSweep:
    r"""Conditional entropy production ``sum_t KL(p_theta_t || p_theta_{t+1})`` vs ``lr``.

    The horizon ``lr * n_steps`` is held fixed, so a smaller learning rate takes more, smaller
    steps. Each KL is O(lr^2) and there are O(1/lr) of them: the total vanishes like lr
    (quasi-static learning, ``theory/learning.md``).

    Parameters
    ----------
    model, data, batch_size, n_trials, n_datasets, method :
        As in :func:`learn`.
    lrs : array_like
        Learning rates (> 0).
    horizon : float
        ``lr * n_steps``.
    kl : {"exact", "fisher"}
        Exact KL or its Fisher approximation.
    seed : int, Generator or None
    """
    lrs = as_float_array("lrs", lrs, ndim=1)
    if lrs.size < 2 or np.any(lrs <= 0):
        raise ValidationError(f"lrs={lrs!r} needs at least two positive learning rates")
    horizon = positive_float("horizon", horizon)
    steps = np.maximum(1, np.round(horizon / lrs)).astype(np.int64)
    rec = "kl" if kl == "exact" else "kl_fisher"
    if kl not in ("exact", "fisher"):
        raise ValidationError(f"unknown kl={kl!r}; valid choices are 'exact', 'fisher'")
    ss = as_seed_sequence(seed)
    val_list: list[float] = []
    err_list: list[float] = []
    for lr, n in zip(lrs, steps, strict=True):
        # one seed for every learning rate: the same initialisation (and training sets) at each
        # lr, so the sweep compares learning rates along the same start, not different starts
        ens = learn(model, data, lr=float(lr), batch_size=batch_size, n_steps=int(n),
                    n_trials=n_trials, n_datasets=n_datasets, seed=ss, method=method,
                    record=(rec,), record_every=int(n), **learn_kw)
        e = ens.conditional_entropy_production(kl)
        val_list.append(float(e.value))
        err_list.append(float(e.stderr))
    vals, errs = np.array(val_list), np.array(err_list)
    slope, se, _ = loglog_fit(lrs, vals, errs)
    return QuasiStaticSweep(
        lrs=lrs, n_steps=steps, horizon=horizon,
        entropy_production=Estimate(vals, errs, f"conditional_ep_{kl}"),
        slope=Estimate(slope, se, "weighted log-log fit"),
    )


@dataclass(frozen=True)
class ReservoirComparison:
    """Naive (isotropic, Gibbs) vs realistic (anisotropic SGD noise) parameter reservoir.

    Attributes
    ----------
    temperature : float
        Naive parameter temperature ``T = lr tr(Sigma_g) / (2 |b| d)``.
    hessian, grad_noise_cov : ndarray (d, d)
        ``H`` of ``U_B`` and ``Sigma_g`` at ``theta_star``.
    gibbs_cov : ndarray
        Naive prediction ``T H^{-1}`` (Gibbs ``exp(-U_B / T)``).
    lyapunov_cov : ndarray
        Realistic prediction: ``C = (I - lr H) C (I - lr H)^T + lr^2 Sigma_g / |b|``.
    measured_cov : Estimate
        Covariance of the simulated parameters over steps ``burn_in..n_steps`` (jackknife
        errors).
    window_cov : ndarray
        Exact prediction for ``measured_cov``: the trials start at ``theta_star``, so step ``n``
        has ``C_n = C - P^n C P^{nT}`` (``P = I - lr H``), averaged over the same steps. It
        equals ``lyapunov_cov`` once ``burn_in`` exceeds the slowest relaxation time.
    ep_rate_naive : float
        0: isotropic noise obeys detailed balance (Clausius equality).
    ep_rate_realistic : float
        Exact entropy production of the discrete SGD map per unit time ``t = lr n``: the path
        KL of one step ``theta' = P theta + eps`` (``P = I - lr H``,
        ``Cov(eps) = lr^2 Sigma_g / |b|``) against its time reverse, divided by ``lr``
        (:func:`stochthermo.exact.entropy_production` with ``discrete=True``). Zero iff
        ``P C`` is symmetric (commuting ``H`` and ``Sigma_g``); tends to the continuous rate
        ``tr(A^T D^-1 A C) - tr A`` (``A = H``, ``D = lr Sigma_g / (2|b|)``) as ``lr -> 0``.
    ep_rate_measured : Estimate
        The same path KL with ``P`` and the noise covariance fitted to the simulated steady
        state by a lag-one regression (jackknife over trials).
    ep_rate_continuous : float
        The continuous (Langevin-limit) rate, for comparison.
    """

    temperature: float
    hessian: np.ndarray
    grad_noise_cov: np.ndarray
    gibbs_cov: np.ndarray
    lyapunov_cov: np.ndarray
    measured_cov: Estimate
    ep_rate_naive: float
    ep_rate_realistic: float
    ep_rate_measured: Estimate
    meta: Any = None
    window_cov: np.ndarray | None = None
    ep_rate_continuous: float | None = None


def _ep_rate(A, D, C):
    Dinv = np.linalg.inv(D)
    return float(np.trace(A.T @ Dinv @ A @ C) - np.trace(A))


def _discrete_rate(P, Q, lr):
    from .._exact_discrete import ar1_entropy_production
    from ..errors import ModelError

    try:
        return ar1_entropy_production(P, Q) / lr
    except (ModelError, np.linalg.LinAlgError):
        return float("nan")


def reservoir_comparison(model: Any, data: Any, *, theta_star: ArrayLike, lr: float,
                         batch_size: int, n_steps: int = 400, burn_in: int = 200,
                         n_trials: int = 400, seed: SeedLike | None = None,
                         fd_step: float = 1e-5) -> ReservoirComparison:
    r"""Compare the naive and the realistic reservoir for SGD near the minimum ``theta_star``.

    The Hessian ``H`` (central differences of the gradient) and the per-sample gradient
    covariance ``Sigma_g`` at ``theta_star`` define the linearised SGD; a Gaussian-noise SGD
    ensemble (``learn(..., method="gaussian", noise_cov=Sigma_g)``) started at ``theta_star``
    gives the measured stationary covariance, and a lag-one regression of its steady state
    ``theta_{n+1} = P theta_n + noise`` gives the measured entropy-production rate (the exact
    discrete path KL of the fitted ``P`` and noise covariance, per unit time). Non-commuting
    ``H`` and ``Sigma_g`` give a positive rate that the naive (Gibbs) reservoir misses. See
    ``theory/learning.md`` and ``theory/estimators.md`` [EST-sgd-discrete].
    """
    from scipy.linalg import solve_continuous_lyapunov, solve_discrete_lyapunov

    lr = positive_float("lr", lr)
    m = positive_int("batch_size", batch_size)
    n_steps = positive_int("n_steps", n_steps)
    if not 0 <= burn_in < n_steps - 2:
        raise ValidationError(f"burn_in={burn_in!r} must lie in [0, n_steps - 2)")
    data = model.check_data(data)
    dat = data[1] if model.generative else data
    th = as_float_array("theta_star", theta_star, ndim=1)
    d = th.shape[0]
    H = np.empty((d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = fd_step
        H[:, j] = (model.grad(th + e, dat) - model.grad(th - e, dat)) / (2 * fd_step)
    H = 0.5 * (H + H.T)
    G = model.per_sample_grads(th, dat)
    S = np.cov(G, rowvar=False, bias=True).reshape(d, d)
    T = lr * np.trace(S) / (2 * m * d)
    gibbs = T * np.linalg.inv(H)
    P = np.eye(d) - lr * H
    lyap = solve_discrete_lyapunov(P, lr**2 * S / m)
    D = lr * S / (2 * m)
    ep_cont = _ep_rate(H, D, solve_continuous_lyapunov(-H, -2 * D))
    ep_real = _discrete_rate(P, lr**2 * S / m, lr)
    ens = learn(model, dat if model.generative else data, lr=lr, batch_size=m, n_steps=n_steps,
                n_trials=n_trials, seed=seed, method="gaussian", noise_cov=S, init=th,
                record=("params",))
    params = ens._need("params")
    X = params[:, burn_in:, :] - th  # (K, n, d)
    steps = np.asarray(getattr(ens, "steps", np.arange(params.shape[1])))[burn_in:]
    window = np.zeros((d, d))
    for n in steps:
        Pn = np.linalg.matrix_power(P, int(n))
        window += lyap - Pn @ lyap @ Pn.T
    window /= len(steps)

    def stat(idx):
        x = X[idx]
        C = np.einsum("kti,ktj->ij", x, x) / (x.shape[0] * x.shape[1])
        a, b = x[:, :-1].reshape(-1, d), x[:, 1:].reshape(-1, d)
        Pm = np.linalg.lstsq(a, b, rcond=None)[0].T
        r = b - a @ Pm.T
        Q = r.T @ r / r.shape[0]
        return np.concatenate([C.ravel(), [_discrete_rate(Pm, Q, lr)]])

    val, se = jackknife(stat, X.shape[0])
    return ReservoirComparison(
        temperature=float(T), hessian=H, grad_noise_cov=S, gibbs_cov=gibbs, lyapunov_cov=lyap,
        measured_cov=Estimate(val[:-1].reshape(d, d), se[:-1].reshape(d, d), "ensemble"),
        ep_rate_naive=0.0, ep_rate_realistic=ep_real,
        ep_rate_measured=Estimate(float(val[-1]), float(se[-1]), "lag-one fit, discrete path KL"),
        meta={"n_trials": n_trials, "n_steps": n_steps, "burn_in": burn_in},
        window_cov=window, ep_rate_continuous=ep_cont,
    )
