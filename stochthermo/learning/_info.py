"""Information of learning: Gaussian MI with a clustered jackknife, discrete MI, efficiency.

The Gaussian MI and the jackknife are the estimator layer's
(:mod:`stochthermo.estimators._stats`); this module adds the learning-specific wrappers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..estimators._stats import gaussian_mi as _gaussian_mi
from ..estimators._stats import gaussian_mi_bias, jackknife_groups
from ..results import Estimate

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .._typing import ArrayLike

__all__ = ["gaussian_mi", "jackknife", "discrete_mi", "learning_efficiency", "xu_raginsky_bound"]


def _cols(a: ArrayLike) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a[:, None] if a.ndim == 1 else a


def jackknife(stat: Callable[[np.ndarray], Any], n: int, *, groups: ArrayLike | None = None,
              n_groups: int = 20) -> tuple[Any, Any]:
    """Delete-a-group jackknife of ``stat(index_array) -> array`` (labels ``groups % n_groups``).

    ``groups`` (length n, ints) keeps correlated samples (trials sharing a training set)
    together. Returns ``(value on all samples, standard error)``; the computation is
    :func:`stochthermo.estimators._stats.jackknife_groups`.
    """
    labels = (np.arange(n) if groups is None else np.asarray(groups)) % n_groups
    _, se, _, full = jackknife_groups(stat, labels)
    return full, se


def gaussian_mi(a: ArrayLike, b: ArrayLike, *, groups: ArrayLike | None = None,
                n_groups: int = 20) -> Estimate:
    """Gaussian mutual information ``I(A; B)`` in nats, bias-corrected, jackknife stderr.

    Parameters
    ----------
    a, b : array_like, shape (n,) or (n, p)
        Paired samples.
    groups : array of int, optional
        Cluster labels for the jackknife (samples in one cluster are left out together).

    Notes
    -----
    The plug-in value and Wishart bias of ``estimate.mutual_information(method="gaussian")``
    (one implementation, :mod:`stochthermo.estimators._stats`); the error bar is a
    delete-a-group jackknife, which allows clustered samples. Exact for jointly Gaussian data
    (up to the O(1/n^2) remainder of the bias); for other data it is the MI of the Gaussian
    with the same covariance (a lower bound on the true MI for a given covariance).
    """
    a, b = _cols(a), _cols(b)
    n = a.shape[0]
    bias = gaussian_mi_bias(n, a.shape[1], b.shape[1])
    val, se = jackknife(lambda i: _gaussian_mi(a[i], b[i], bias_correct=False), n,
                        groups=groups, n_groups=n_groups)
    return Estimate(float(val) - bias, float(se), "gaussian", {"n": n}, bias=bias)


def discrete_mi(probs: ArrayLike) -> np.ndarray:
    """Exact ``I(X; Theta) = H(E_theta p) - E_theta H(p)`` for discrete X.

    ``probs`` has shape ``(K, ..., C)``: K parameter draws, the output distribution over C
    values (per probe point). Returns one value per probe point (shape ``probs.shape[1:-1]``).
    """
    p = np.asarray(probs, dtype=float)

    def h(q):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(q > 0, q * np.log(q), 0.0).sum(axis=-1)

    return h(p.mean(axis=0)) - h(p).mean(axis=0)


def _value_error(x):
    if isinstance(x, Estimate):
        return np.asarray(x.value, dtype=float), np.asarray(x.stderr, dtype=float)
    return np.asarray(x, dtype=float), None


def learning_efficiency(info: ArrayLike | Estimate, entropy_change: ArrayLike,
                        medium_entropy: ArrayLike) -> float | np.ndarray | Estimate:
    r"""Learning efficiency ``eta = I / (Delta S(Theta) + Q / T)`` (Goldt & Seifert 2017).

    Parameters
    ----------
    info : float, array or Estimate
        Information learned, ``I_L`` (or ``I_M``) at step t.
    entropy_change : float or array
        ``S(Theta_t) - S(Theta_0)``.
    medium_entropy : float or array
        Entropy delivered to the parameters' medium over the first t moves, ``Q / T``; for
        anisotropic noise the ``D^-1``-weighted ``sum_s <ln P(theta_{s+1}|theta_s, B) /
        P(theta_s|theta_{s+1}, B)>`` (``GaussianLearner.closed_form`` key
        ``medium_entropy_theta``).

    Returns
    -------
    float, array or Estimate
        ``eta``; ``eta <= 1`` by the parameters' second law given B (``theory/learning.md``
        section 9), with the error of ``info`` propagated when it is an Estimate.

    Examples
    --------
    >>> learning_efficiency(0.2, 0.5, 0.5)
    0.2
    """
    v, e = _value_error(info)
    den = np.asarray(entropy_change, dtype=float) + np.asarray(medium_entropy, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = v / den
        if e is None:
            return float(eta) if eta.ndim == 0 else eta
        return Estimate(eta if eta.ndim else float(eta), np.abs(e / den) if eta.ndim else
                        float(abs(e / den)), "learning_efficiency", {"denominator": den})


def xu_raginsky_bound(m_info: ArrayLike | Estimate, n_data: int,
                      sub_gaussian: float) -> float | np.ndarray | Estimate:
    r"""Xu-Raginsky bound on the mean generalisation gap from M-info.

    ``|E gen| <= sqrt(2 sigma^2 I(Theta; B) / N)`` for a loss that is ``sigma``-sub-Gaussian
    under the data distribution for every theta (Xu & Raginsky 2017).

    Parameters
    ----------
    m_info : float, array or Estimate
        ``I(Theta; B)`` in nats (negative estimates are clipped at 0).
    n_data : int
        Training-set size N.
    sub_gaussian : float
        ``sigma``; for a loss with values in ``[a, b]``, ``(b - a) / 2``.

    Returns
    -------
    float, array or Estimate
        The bound (error propagated by the delta method for an Estimate).

    Notes
    -----
    The quadratic loss of the linear-Gaussian learner is not sub-Gaussian (its tail is
    chi-square), so the premise fails there; its exact gap is the closed-form key
    ``generalization_gap`` (``theory/learning.md`` section 9).

    Examples
    --------
    >>> round(xu_raginsky_bound(0.5, 100, 1.0), 6)
    0.1
    """
    from .._validation import positive_float, positive_int

    n = positive_int("n_data", n_data)
    s = positive_float("sub_gaussian", sub_gaussian)
    v, e = _value_error(m_info)
    b = np.sqrt(2.0 * s**2 * np.clip(v, 0.0, None) / n)
    if e is None:
        return float(b) if b.ndim == 0 else b
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(v > 0, b / (2.0 * np.where(v > 0, v, 1.0)) * e,
                      np.sqrt(2.0 * s**2 * e / n))
    return Estimate(b if b.ndim else float(b), se if b.ndim else float(se),
                    "xu_raginsky_bound", {"n_data": n, "sub_gaussian": s})
