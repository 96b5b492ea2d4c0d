"""Linear (Ornstein-Uhlenbeck) fit of an ensemble from additive transition statistics.

For each group of transitions ``(x_t, y = x_{t+tau})`` we keep the sums
``Sxx = sum x x^T``, ``Sx = sum x``, ``Syx = sum y x^T``, ``Sy = sum y``, ``Syy = sum y y^T``
and the count ``n``. The exact OU transition is ``y = F x + c + xi`` with ``F = exp(-A tau)``
and ``Cov(xi) = C - F C F^T``, so a least-squares fit of ``(F, c, Q)`` gives ``A``, the
stationary ``C`` (discrete Lyapunov) and ``D = (A C + C A^T) / 2`` without discretisation bias
(``theory/estimators.md`` [EST-lin]).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from ..errors import EstimationError

__all__ = ["transition_stats", "fit_linear"]


def transition_stats(groups):
    """Stack the sums of every group: tuple of arrays with a leading group axis."""
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("Sxx", "Sx", "Syx", "Sy", "Syy", "n")}
    for g in groups:
        x = g[:, :-1].reshape(-1, g.shape[2])
        y = g[:, 1:].reshape(-1, g.shape[2])
        out["Sxx"].append(x.T @ x)
        out["Sx"].append(x.sum(axis=0))
        out["Syx"].append(y.T @ x)
        out["Sy"].append(y.sum(axis=0))
        out["Syy"].append(y.T @ y)
        out["n"].append(np.array(float(x.shape[0])))
    return tuple(np.stack(out[k]) for k in ("Sxx", "Sx", "Syx", "Sy", "Syy", "n"))


def fit_linear(stats, tau: float, discretization: str = "exact"):
    """Fit ``(A, D, x_star, F, Q)`` from summed transition statistics.

    ``discretization="exact"`` inverts the exact OU transition; ``"euler"`` uses
    ``A = (I - F) / tau`` and ``D = Q / (2 tau)`` (first order in ``tau``).
    """
    Sxx, Sx, Syx, Sy, Syy, n = stats
    d = Sx.shape[0]
    Suu = np.empty((d + 1, d + 1))
    Suu[:d, :d] = Sxx
    Suu[:d, d] = Sx
    Suu[d, :d] = Sx
    Suu[d, d] = n
    Syu = np.concatenate([Syx, Sy[:, None]], axis=1)
    try:
        B = np.linalg.solve(Suu, Syu.T).T
    except np.linalg.LinAlgError:
        raise EstimationError(
            "the states are collinear (singular design matrix), so the linear drift cannot be "
            "fitted; drop redundant coordinates or pass more varied data"
        ) from None
    F, c = B[:, :d], B[:, d]
    dof = n - (d + 1)
    if dof <= 0:
        raise EstimationError(f"{int(n)} transitions are too few to fit a {d}-d linear model")
    Q = (Syy - B @ Suu @ B.T) / dof
    Q = 0.5 * (Q + Q.T)
    eye = np.eye(d)
    if discretization == "euler":
        A = (eye - F) / tau
        D = Q / (2.0 * tau)
    else:
        ev = np.linalg.eigvals(F)
        if np.any((np.abs(ev.imag) < 1e-12) & (ev.real <= 0)) or np.any(np.abs(ev) >= 1.0):
            raise EstimationError(
                f"the fitted transition matrix has eigenvalues {np.round(ev, 4)} (need inside the "
                "unit disc and off the negative real axis) so no stable drift matches it; sample "
                "more finely, pass more data or use discretization='euler'"
            )
        # principal logarithm by eigendecomposition (a fitted F is diagonalisable almost surely)
        lam, V = np.linalg.eig(F)
        L = (V * np.log(lam.astype(complex))) @ np.linalg.inv(V)
        A = -np.real(L) / tau
        C = sla.solve_discrete_lyapunov(F, Q)
        C = 0.5 * (C + C.T)
        D = 0.5 * (A @ C + C @ A.T)
    try:
        x_star = np.linalg.solve(eye - F, c)
    except np.linalg.LinAlgError:
        raise EstimationError("the fitted drift has no fixed point (I - F is singular)") from None
    return A, 0.5 * (D + D.T), x_star, F, Q
