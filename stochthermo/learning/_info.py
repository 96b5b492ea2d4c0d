"""Gaussian mutual information from samples, with bias correction and jackknife errors.

A small private helper: once ``stochthermo.estimate`` (Gaussian/KSG/discrete MI) is available,
:func:`gaussian_mi` and :func:`jackknife` can be replaced by it.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from ..results import Estimate

__all__ = ["gaussian_mi", "gaussian_mi_value", "gaussian_mi_bias", "jackknife", "discrete_mi"]


def _cols(a):
    a = np.asarray(a, dtype=float)
    return a[:, None] if a.ndim == 1 else a


def _logdet(c):
    return np.linalg.slogdet(np.atleast_2d(c))[1]


def gaussian_mi_value(a, b) -> float:
    """Plug-in Gaussian MI ``1/2 ln(det C_aa det C_bb / det C)`` of paired samples (rows)."""
    a, b = _cols(a), _cols(b)
    p = a.shape[1]
    c = np.cov(np.hstack([a, b]), rowvar=False)
    return 0.5 * (_logdet(c[:p, :p]) + _logdet(c[p:, p:]) - _logdet(c))


def gaussian_mi_bias(n: int, p: int, q: int) -> float:
    """Exact bias of :func:`gaussian_mi_value` for ``n`` Gaussian samples of dims ``p``, ``q``.

    ``E ln det S = ln det Sigma + sum_{i=1}^{d} psi((n - i) / 2) + const(d, n)`` for a Wishart
    matrix with ``n - 1`` degrees of freedom; the constants cancel in the MI, leaving
    ``1/2 [f(p) + f(q) - f(p + q)]`` with ``f(d) = sum_{i=1}^d psi((n - i)/2)``.
    """

    def f(d):
        return float(sum(digamma((n - i) / 2.0) for i in range(1, d + 1)))

    return 0.5 * (f(p) + f(q) - f(p + q))


def jackknife(stat, n: int, *, groups=None, n_groups: int = 20):
    """Delete-a-group jackknife of ``stat(index_array) -> array``.

    ``groups`` (length n, ints) keeps correlated samples (trials sharing a training set)
    together. Returns ``(value on all samples, standard error)``.
    """
    idx = np.arange(n)
    full = np.asarray(stat(idx), dtype=float)
    g = (idx if groups is None else np.asarray(groups)) % n_groups
    present = np.unique(g)
    G = present.shape[0]
    if G < 2:
        return full, np.full_like(full, np.nan)
    reps = np.stack([np.asarray(stat(idx[g != j]), dtype=float) for j in present])
    se = np.sqrt((G - 1) / G * ((reps - reps.mean(axis=0)) ** 2).sum(axis=0))
    return full, se


def gaussian_mi(a, b, *, groups=None, n_groups: int = 20) -> Estimate:
    """Gaussian mutual information ``I(A; B)`` in nats, bias-corrected, jackknife stderr.

    Parameters
    ----------
    a, b : array_like, shape (n,) or (n, p)
        Paired samples.
    groups : array of int, optional
        Cluster labels for the jackknife (samples in one cluster are left out together).

    Notes
    -----
    Exact for jointly Gaussian data (up to the O(1/n^2) remainder of the bias); for other data
    it is the MI of the Gaussian with the same covariance (a lower bound on the true MI for a
    given covariance).
    """
    a, b = _cols(a), _cols(b)
    n = a.shape[0]
    bias = gaussian_mi_bias(n, a.shape[1], b.shape[1])
    val, se = jackknife(lambda i: gaussian_mi_value(a[i], b[i]), n, groups=groups,
                        n_groups=n_groups)
    return Estimate(float(val) - bias, float(se), "gaussian", {"n": n}, bias=bias)


def discrete_mi(probs) -> np.ndarray:
    """Exact ``I(X; Theta) = H(E_theta p) - E_theta H(p)`` for discrete X.

    ``probs`` has shape ``(K, ..., C)``: K parameter draws, the output distribution over C
    values (per probe point). Returns one value per probe point (shape ``probs.shape[1:-1]``).
    """
    p = np.asarray(probs, dtype=float)

    def h(q):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(q > 0, q * np.log(q), 0.0).sum(axis=-1)

    return h(p.mean(axis=0)) - h(p).mean(axis=0)
