"""Update weights of the affine schemes and of the heat: the linear algebra behind the plans.

Every linear scheme is an affine map ``x' = P x + b + Q z`` [SIM-affine]; heat into block i
is weighted by ``T_i D^{-1}`` [SIM-heat]. See ``theory/simulation.md``.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import short_repr
from ..errors import ModelError

__all__ = ["empty3", "heat_weight", "is_diag", "linear_diag", "linear_time_invariant",
           "psd_sqrt"]


def psd_sqrt(S: np.ndarray) -> np.ndarray:
    """Symmetric square root ``L = L^T``, ``L L^T = S``, of a symmetric PSD ``S`` (eigh, robust)."""
    S = 0.5 * (S + S.T)
    w, V = np.linalg.eigh(S)
    w = np.clip(w, 0.0, None)
    return (V * np.sqrt(w)) @ V.T


def is_diag(M: np.ndarray) -> bool:
    return bool(np.all(M == np.diag(np.diag(M))))


def _temps_per_coord(blocks, temps, d):
    tv = np.empty(d)
    labels = np.empty(d, dtype=np.int64)
    for i, b in enumerate(blocks):
        tv[list(b)] = temps[i]
        labels[list(b)] = i
    return tv, labels


def _bipartite(D, blocks) -> bool:
    d = D.shape[0]
    label = np.empty(d, dtype=int)
    for i, b in enumerate(blocks):
        label[list(b)] = i
    return bool(np.all(D[label[:, None] != label[None, :]] == 0.0))


def heat_weight(D: np.ndarray, blocks: tuple, temps: np.ndarray,
                what: str = "heat") -> tuple[np.ndarray, np.ndarray]:
    """``T_i D^{-1}`` (rows by block) and the block labels; checks bipartite and invertible D."""
    d = D.shape[0]
    if not _bipartite(D, blocks):
        raise ModelError(
            f"{what} per block needs D block-diagonal with respect to blocks={blocks}; "
            "choose blocks that D does not couple (e.g. one block for everything)"
        )
    try:
        Dinv = np.linalg.inv(D)
    except np.linalg.LinAlgError:
        Dinv = None
    if Dinv is None or not np.all(np.isfinite(Dinv)) or np.linalg.cond(D) > 1e12:
        raise ModelError(
            f"{what} weighs the force by D^-1, but D is singular ({short_repr(D)}); give every "
            "coordinate noise, or leave 'heat'/'medium_entropy' out of observables"
        )
    tv, labels = _temps_per_coord(blocks, temps, d)
    return tv[:, None] * Dinv, labels


def empty3(a: int = 0, b: int = 0, c: int = 0) -> np.ndarray:
    """A zero array of shape ``(a, b, c)`` (an absent weight of the kernels)."""
    return np.zeros((a, b, c))


def linear_time_invariant(A: np.ndarray, c: np.ndarray, D: np.ndarray, h: float,
                          method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``P, b, Q`` ((d,d), (d,), (d,m)) of one step of ``dx = -A (x - c) dt + sqrt(2D) dW``."""
    d = A.shape[0]
    eye = np.eye(d)
    L = psd_sqrt(2.0 * D)
    if method == "euler":
        P = eye - A * h
        Q = math.sqrt(h) * L
    elif method == "heun":
        P = eye - A * h + 0.5 * h * h * (A @ A)
        Q = math.sqrt(h) * (eye - 0.5 * h * A) @ L
    else:
        import scipy.linalg as sla

        from ..exact import _lyapunov

        P = sla.expm(-A * h)
        C = _lyapunov(A, D)
        Q = psd_sqrt(C - P @ C @ P.T)
    b = c - P @ c
    return P, b, Q


def linear_diag(a: np.ndarray, c: np.ndarray, Dd: np.ndarray, h: float,
                method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elementwise ``p, b, q`` of one step for diagonal ``A = diag(a)``, ``D = diag(Dd)``."""
    if method == "euler":
        p = 1.0 - a * h
        q = np.sqrt(2.0 * Dd * h)
    elif method == "heun":
        p = 1.0 - a * h + 0.5 * (a * h) ** 2
        q = (1.0 - 0.5 * a * h) * np.sqrt(2.0 * Dd * h)
    else:
        p = np.exp(-a * h)
        q = np.sqrt(Dd / a * -np.expm1(-2.0 * a * h))
    return p, c - p * c, q
