r"""Entropy production by current inference on a function basis, and the basis TUR bound.

Both reduce an ensemble to additive per-group sums over transitions ``(x_t, x_{t+tau})``
with basis values ``b_t = b(x_t)``, the Stratonovich (trapezoid) weights
``m_t = (b_t + b_{t+tau}) / 2`` and increments ``dx = x_{t+tau} - x_t``:

- ``G = sum b_t b_t^T`` (Gram matrix), ``V = sum dx m_t^T`` (projected velocity),
  ``W = sum dx b_t^T`` (Ito drift projection), ``S = sum dx dx^T``, ``n``;
- for the TUR, the current increments ``j = dx (x) m_t`` (``d n_b`` of them) and their sums
  ``sum j``, ``sum j j^T``.

The same sums at lag ``2 tau`` serve the discretisation check. Derivations:
``theory/estimators.md`` [EST-ep-inf], [EST-ep-tur].
"""

from __future__ import annotations

import numpy as np

from ..errors import EstimationError

__all__ = ["basis_stats", "inference_value", "tur_value", "state_inference_value"]


def _pairs(g, B, lag):
    d, nb = g.shape[2], B.shape[2]
    b0 = B[:, :-lag].reshape(-1, nb)
    b1 = B[:, lag:].reshape(-1, nb)
    dx = (g[:, lag:] - g[:, :-lag]).reshape(-1, d)
    return b0, 0.5 * (b0 + b1), dx


def _fast_row(g, B, lags):
    """``(G, V, W, S, n)`` per lag from products of the flattened arrays.

    No copies of the shifted slices: one Gram matrix serves all lags, and the pairs that run
    across the end of one trajectory into the next are removed explicitly.
    """
    nt, T, d = g.shape
    nb = B.shape[2]
    Xf, Bf = g.reshape(-1, d), B.reshape(-1, nb)
    G_all = Bf.T @ Bf
    XB_all = Xf.T @ Bf
    row = []
    for lag in lags:
        tail_b, tail_x = B[:, T - lag :].reshape(-1, nb), g[:, T - lag :].reshape(-1, d)
        head_b, head_x = B[:, :lag].reshape(-1, nb), g[:, :lag].reshape(-1, d)
        G = G_all - tail_b.T @ tail_b  # sum over start points b_t b_t^T
        start = XB_all - tail_x.T @ tail_b  # sum x_t b_t^T
        end = XB_all - head_x.T @ head_b  # sum x_{t+lag} b_{t+lag}^T
        C1 = Xf[lag:].T @ Bf[:-lag]  # sum x_{t+lag} b_t^T (+ pairs across trajectories)
        C2 = Xf[:-lag].T @ Bf[lag:]  # sum x_t b_{t+lag}^T (+ pairs across trajectories)
        if nt > 1:
            C1 -= g[1:, :lag].reshape(-1, d).T @ B[:-1, T - lag :].reshape(-1, nb)
            C2 -= g[:-1, T - lag :].reshape(-1, d).T @ B[1:, :lag].reshape(-1, nb)
        W = C1 - start
        V = 0.5 * (W + end - C2)
        dx = (g[:, lag:] - g[:, :-lag]).reshape(-1, d)
        row += [G, V, W, dx.T @ dx, np.array(float(dx.shape[0]))]
    return row


def basis_stats(groups, basis, *, lags=(1, 2), currents: bool = False,
                diffusion_moments: bool = False, center=None):
    """Per-group sums for each lag: a tuple ``(G, V, W, S, n[, J, JJ][, Bdd])`` per lag, stacked.

    Returns a flat tuple of arrays with a leading group axis (for :func:`jackknife`), laid out
    lag after lag, and the number of arrays per lag. ``center`` is subtracted from the states
    before the products (increments do not change; it keeps the sums well conditioned).
    """
    out = []
    for g in groups:
        g = np.asarray(g)
        nt, T, d = g.shape
        for lag in lags:
            if T <= lag:
                raise EstimationError(f"trajectories of {T} points have no lag-{lag} transition")
        B = np.ascontiguousarray(basis(g.reshape(-1, d)).reshape(nt, T, -1))
        if not currents and not diffusion_moments:
            gc = g - center if center is not None else g
            out.append(_fast_row(np.ascontiguousarray(gc), B, lags))
            continue
        row = []
        for lag in lags:
            b0, m, dx = _pairs(g, B, lag)
            row += [b0.T @ b0, dx.T @ m, dx.T @ b0, dx.T @ dx, np.array(float(dx.shape[0]))]
            if currents:
                Z = (dx[:, :, None] * m[:, None, :]).reshape(dx.shape[0], -1)
                row += [Z.sum(axis=0), Z.T @ Z]
            if diffusion_moments:
                dd = (dx[:, :, None] * dx[:, None, :]).reshape(dx.shape[0], -1)
                row.append((b0.T @ dd).reshape(-1, d, d))
        out.append(row)
    k = len(out[0]) // len(lags)
    return tuple(np.stack([r[i] for r in out]) for i in range(len(out[0]))), k


def _solve_spd(M, R, what):
    try:
        return np.linalg.solve(M, R)
    except np.linalg.LinAlgError:
        raise EstimationError(
            f"the {what} is singular: the basis functions are linearly dependent on the data "
            "(or a coordinate is constant); use a smaller basis"
        ) from None


def diffusion_from(s, tau, nb):
    """Constant diffusion ``D`` from the residuals of the Ito drift fit on the first ``nb``."""
    G, _, W, S, n = s[:5]
    G, W = G[:nb, :nb], W[:, :nb]
    R = S - W @ _solve_spd(G, W.T, "Gram matrix of the basis")
    dof = n - nb
    if dof <= 0:
        raise EstimationError(f"{int(n)} transitions are too few for a basis of {nb} functions")
    D = R / dof / (2.0 * tau)
    return 0.5 * (D + D.T)


def inference_value(s, tau, nb, D=None, lag=1, k_eff=None):
    r"""Bias-corrected ``sigma = tr(D^-1 V G^-1 V^T) - 2 k / T`` on the first ``nb`` functions.

    ``s`` holds the sums of the (overlapping) transitions at time lag ``tau`` (``lag``
    sampling intervals); ``T`` is the observed time they cover, ``n tau / lag``; ``k`` the
    number of non-gradient directions of the basis (:meth:`Basis.free_dims`; ``None``: no
    analytic correction).
    Returns ``(value, plug_in, bias)``; ``D`` given or estimated by :func:`diffusion_from`.
    """
    G, V, _, _, n = s[:5]
    if D is None:
        D = diffusion_from(s, tau, nb)
    Gm = G[:nb, :nb] / n
    Vm = V[:, :nb] / (n * tau)
    X = _solve_spd(Gm, Vm.T, "Gram matrix of the basis")  # G^-1 V^T
    Y = _solve_spd(D, Vm, "diffusion matrix")  # D^-1 V
    plug = float(np.sum(Y * X.T))
    bias = 0.0 if k_eff is None else 2.0 * k_eff * lag / (n * tau)
    return plug - bias, plug, bias


def tur_value(s, tau, idx):
    r"""Short-time TUR ``2 mu^T Sigma^-1 mu / tau`` over the currents ``idx``.

    ``mu``, ``Sigma``: mean and covariance of one step's current increments (``s[5]``,
    ``s[6]``: sums of ``j`` and ``j j^T``).
    """
    n = s[4]
    J, JJ = s[5][idx], s[6][np.ix_(idx, idx)]
    mu = J / n
    cov = JJ / n - np.outer(mu, mu)
    x = _solve_spd(cov, mu, "covariance of the current increments")
    return float(2.0 * mu @ x / tau), x


def state_inference_value(s, tau, nb, B_eval, dstats):
    r"""Rate with a state-dependent diffusion fitted on the basis.

    ``D(x) = sum_a c_a b_a(x)`` from the regression of ``dx dx^T / (2 tau)`` on the basis
    (``dstats``: summed ``b_t (dx dx^T)`` of shape ``(n_b, d, d)``), the mean local velocity
    ``v(x) = V G^-1 b(x)``, and ``sigma = <v^T D(x)^-1 v>`` averaged over the points
    ``B_eval`` (basis values of a subsample of the data). Points where the fitted ``D(x)`` is
    not positive definite are clipped to its smallest positive eigenvalue floor.
    """
    G, V, _, _, n = s[:5]
    d = V.shape[0]
    Gm = G[:nb, :nb] / n
    Vm = V[:, :nb] / (n * tau)
    coefV = _solve_spd(Gm, Vm.T, "Gram matrix of the basis")  # (nb, d)
    Dsum = dstats[:nb].reshape(nb, d * d) / (n * 2.0 * tau)
    coefD = _solve_spd(Gm, Dsum, "Gram matrix of the basis")  # (nb, d*d)
    Bv = B_eval[:, :nb]
    v = Bv @ coefV  # (P, d)
    Dx = (Bv @ coefD).reshape(-1, d, d)
    Dx = 0.5 * (Dx + np.swapaxes(Dx, 1, 2))
    w, U = np.linalg.eigh(Dx)
    floor = 1e-3 * np.maximum(w.max(axis=1, keepdims=True), 1e-300)
    n_clipped = int(np.sum(w < floor))
    w = np.maximum(w, floor)
    proj = np.einsum("pij,pi->pj", U, v)
    return float(np.mean(np.sum(proj**2 / w, axis=1))), n_clipped
