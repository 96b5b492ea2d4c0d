r"""Exact entropy production of a stationary Gaussian AR(1) chain (linearized SGD).

For ``theta' = P theta + eps``, ``eps ~ N(0, Q)`` with stationary covariance ``C``
(``C = P C P^T + Q``), the entropy production per step is the path KL divergence between the
forward pair ``(theta, theta')`` and the time-reversed one ``(theta', theta)``:

.. math::
    \Sigma = \mathrm{KL}\big(p(\theta, \theta') \,\|\, p(\theta', \theta)\big)
    = \tfrac12\big[\mathrm{tr}(Q^{-1} M) - d\big], \quad
    M = Q_r + (P_r - P) C (P_r - P)^\top,

with the reversed chain's ``P_r = C P^T C^-1``, ``Q_r = C - P_r C P_r^T`` (the marginals are
equal, so the KL is that of the conditionals averaged over the stationary law, and
``det Q_r = det Q``). It vanishes iff ``P C`` is symmetric (detailed balance), e.g. when
``P`` is symmetric and commutes with ``Q``. See ``theory/sgd.md`` / ``theory/estimators.md``
[EST-sgd-discrete].
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from .errors import ModelError

__all__ = ["ar1_entropy_production", "sgd_discrete_rate"]


def ar1_entropy_production(P: np.ndarray, Q: np.ndarray, C: np.ndarray | None = None) -> float:
    """Entropy production per step (nats) of the stationary AR(1) chain ``(P, Q)``."""
    P = np.asarray(P, dtype=np.float64)
    Q = 0.5 * (np.asarray(Q, dtype=np.float64) + np.asarray(Q, dtype=np.float64).T)
    d = P.shape[0]
    if np.max(np.abs(np.linalg.eigvals(P))) >= 1.0:
        raise ModelError(
            "the update map has an eigenvalue of modulus >= 1, so the chain has no stationary "
            "law and no steady-state entropy production; lower the learning rate"
        )
    wq = np.linalg.eigvalsh(Q)
    if wq.min() <= 1e-12 * max(wq.max(), 1e-300):
        raise ModelError(
            "the noise covariance of one step is singular, so some directions move "
            "deterministically and the time-reversed path has zero probability (infinite "
            "entropy production); pass a positive-definite grad_noise_cov"
        )
    if C is None:
        C = sla.solve_discrete_lyapunov(P, Q)
    C = 0.5 * (C + C.T)
    Pr = C @ P.T @ np.linalg.inv(C)
    Qr = C - Pr @ C @ Pr.T
    dP = Pr - P
    M = Qr + dP @ C @ dP.T
    L = np.linalg.cholesky(Q)
    X = sla.cho_solve((L, True), M)
    return float(max(0.5 * (np.trace(X) - d), 0.0))


def sgd_discrete_rate(model) -> float:
    r"""Exact discrete-time entropy production of linearized SGD per unit time ``t = lr n``.

    ``P = I - lr H``, ``Q = lr^2 Sigma_g phi / |b|``; the per-step path KL divided by ``lr``.
    """
    if getattr(model, "momentum", 0.0) != 0.0:
        raise ModelError(
            f"discrete=True needs momentum=0 (got {model.momentum!r}): with momentum the "
            "augmented state (theta_n, theta_{n-1}) copies theta deterministically and its "
            "time reversal needs a parity convention for the velocity; use discrete=False"
        )
    P = model.update_matrix()
    Q = model.lr**2 * model.noise_cov
    return ar1_entropy_production(P, Q) / model.lr
