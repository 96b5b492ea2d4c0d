"""Parametric probabilistic models (PPMs) trained by the SGD engine.

Every model has a flat parameter vector ``theta`` (shape ``(d,)``; ensembles ``(K, d)``) and
exposes the exact per-sample log-likelihood, the loss ``U_B = -(1/N) sum ln p``, its gradient,
per-sample gradients and, for the lagged generation ``X_{t+1} ~ p(. | theta_t)``, sampling,
energies ``E_theta(x) = -ln p(x | theta)``, the KL divergence between two parameter values,
its Fisher quadratic approximation and the output entropy.

Generative model: :class:`GaussianMean` (X is a vector of R^dim). Conditional models
(:class:`LinearRegression`, :class:`SoftmaxRegression`, :class:`MLPClassifier`): X is the
vector of outputs sampled at a *probe set* of inputs, ``x_j ~ p(. | u_j, theta)``, and every
quantity is summed over the probe points. See ``theory/learning.md``.

Data layout used by the engine: a dataset is ``(U, Y)``; for the generative model ``U`` is
``None`` and ``Y`` has shape ``(N, dim)``; for regression ``U`` is ``(N, n_in)`` and ``Y`` is
``(N,)``; for classifiers ``Y`` holds integer labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .._frozen import settle
from .._validation import nonnegative_float, positive_float, positive_int, short_repr
from ..errors import ValidationError
from ..estimators._stats import log_softmax as _log_softmax

if TYPE_CHECKING:
    from typing import Any

    from .._typing import ArrayLike

__all__ = ["PPM", "GaussianMean", "LinearRegression", "SoftmaxRegression", "MLPClassifier"]

_LOG2PI = math.log(2.0 * math.pi)


class PPM:
    """Common interface of the parametric probabilistic models (see the module docstring)."""

    #: True when X is generated without inputs (``p(x | theta)``); False for ``p(y | u, theta)``
    generative = False
    #: True when the outputs are class labels
    classifier = False

    @property
    def n_params(self) -> int:
        """Number of parameters ``d``."""
        raise NotImplementedError

    # -- data --------------------------------------------------------------------------
    def check_data(self, data: Any) -> tuple[np.ndarray | None, np.ndarray]:
        """Validate one dataset and return it as ``(U, Y)`` arrays."""
        raise NotImplementedError

    # -- likelihood --------------------------------------------------------------------
    def log_likelihood(self, theta: np.ndarray, data: Any) -> np.ndarray:
        """Per-sample ``ln p(y_i | u_i, theta)``, shape ``(N,)``."""
        raise NotImplementedError

    def loss(self, theta: np.ndarray, data: Any) -> float:
        """``U_B(theta) = -(1/N) sum_i ln p(y_i | u_i, theta)``."""
        return -float(np.mean(self.log_likelihood(theta, data)))

    def grad(self, theta: np.ndarray, data: Any) -> np.ndarray:
        """Gradient of :meth:`loss`, shape ``(d,)``."""
        return self.per_sample_grads(theta, data).mean(axis=0)

    def per_sample_grads(self, theta: np.ndarray, data: Any) -> np.ndarray:
        """Gradients of ``-ln p(y_i | u_i, theta)``, shape ``(N, d)``."""
        raise NotImplementedError

    def batch_grads(self, thetas: np.ndarray, U: np.ndarray | None,
                    Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mini-batch gradients and losses of K trials: ``U`` (K, m, ...) and ``Y`` (K, m)."""
        K = thetas.shape[0]
        g = np.empty_like(thetas)
        loss = np.empty(K)
        for k in range(K):
            data = Y[k] if self.generative else (_inputs(U, type(self).__name__)[k], Y[k])
            g[k] = self.grad(thetas[k], data)
            loss[k] = self.loss(thetas[k], data)
        return g, loss

    def indexed_grads(self, thetas: np.ndarray, Us: np.ndarray | None, Ys: np.ndarray,
                      idx: np.ndarray, data_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mini-batch gradients of K trials: rows ``idx[k]`` of dataset ``data_of[k]``.

        ``Us`` (n_datasets, N, ...) or None, ``Ys`` (n_datasets, N, ...); ``idx`` (K, m).
        Returns ``(grads (K, d), losses (K,))``.
        """
        rows = data_of[:, None]
        U = None if Us is None else Us[rows, idx]
        return self.batch_grads(thetas, U, Ys[rows, idx])

    # -- generation on a probe set -----------------------------------------------------
    def noise_shape(self, probe: Any) -> tuple:
        """Shape of the pre-drawn noise one sample of X needs (normal or uniform)."""
        raise NotImplementedError

    def generate(self, thetas: np.ndarray, noise: np.ndarray, probe: Any) -> np.ndarray:
        """Samples of X, one per trial, from pre-drawn ``noise`` of shape ``(K, *noise_shape)``."""
        raise NotImplementedError

    def energy(self, thetas: np.ndarray, x: ArrayLike, probe: Any) -> np.ndarray:
        """``E_theta(x) = -ln p(x | theta)`` for each trial, shape ``(K,)``."""
        raise NotImplementedError

    def kl(self, thetas1: np.ndarray, thetas2: np.ndarray, probe: Any) -> np.ndarray:
        """``KL(p_theta1 || p_theta2)`` for each trial (summed over the probe set)."""
        raise NotImplementedError

    def fisher_quadratic(self, thetas: np.ndarray, deltas: np.ndarray, probe: Any) -> np.ndarray:
        """``1/2 delta^T F(theta) delta``: the small-step approximation of :meth:`kl`."""
        raise NotImplementedError

    def output_entropy(self, thetas: np.ndarray, probe: Any) -> np.ndarray:
        """Entropy ``H(p_theta)`` of the output distribution (summed over the probe set)."""
        raise NotImplementedError

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """A random initial parameter vector."""
        raise NotImplementedError


def _inputs(U: np.ndarray | None, what: str) -> np.ndarray:
    """The mini-batch inputs of a conditional model, which cannot be None."""
    if U is None:
        raise ValidationError(f"{what} is a conditional model: its batches need inputs, got None")
    return U


def _as_theta2(thetas: ArrayLike, d: int) -> np.ndarray:
    th = np.asarray(thetas, dtype=np.float64)
    return th.reshape(1, d) if th.ndim == 1 else th


# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GaussianMean(PPM):
    r"""Gaussian with learned mean and fixed width: ``p(x | theta) = N(theta, std^2 I_dim)``.

    Parameters
    ----------
    dim : int
        Dimension of x (and of theta).
    std : float
        Model width ``s``.
    init_mean, init_std : float
        Initial parameters are drawn ``theta_0 ~ N(init_mean, init_std^2 I)`` (``init_std = 0``:
        a fixed start).

    Notes
    -----
    ``-ln p(x | theta) = |x - theta|^2 / (2 s^2) + dim/2 ln(2 pi s^2)``; per-sample gradient
    ``(theta - x) / s^2``; ``KL(p_a || p_b) = |a - b|^2 / (2 s^2)`` and the Fisher matrix is
    ``I / s^2``, so the Fisher approximation is exact. The output entropy is constant,
    ``dim/2 ln(2 pi e s^2)``. The exact test bed of ``theory/learning.md``.
    """

    dim: int = 1
    std: float = 1.0
    init_mean: float = 0.0
    init_std: float = 1.0

    generative = True

    def __post_init__(self) -> None:
        settle(self, dim=positive_int("dim", self.dim), std=positive_float("std", self.std),
               init_std=nonnegative_float("init_std", self.init_std),
               init_mean=float(self.init_mean))

    @property
    def n_params(self) -> int:
        """Number of parameters (``dim``)."""
        return self.dim

    def check_data(self, data: Any) -> tuple:
        """Accept an array ``(N,)`` or ``(N, dim)`` (or ``(None, Y)``)."""
        if isinstance(data, tuple):
            data = data[1]
        Y = np.asarray(data, dtype=np.float64)
        if Y.ndim == 1 and self.dim == 1:
            Y = Y[:, None]
        if Y.ndim != 2 or Y.shape[1] != self.dim:
            raise ValidationError(
                f"data for GaussianMean(dim={self.dim}) must have shape (N, {self.dim}), got "
                f"{Y.shape}"
            )
        return None, np.ascontiguousarray(Y)

    def log_likelihood(self, theta: np.ndarray, data: Any) -> np.ndarray:
        """Per-sample ``ln N(x_i; theta, s^2 I)``."""
        _, Y = self.check_data(data)
        s2 = self.std**2
        r2 = ((Y - np.asarray(theta, dtype=float)) ** 2).sum(axis=1)
        return -r2 / (2 * s2) - 0.5 * self.dim * (_LOG2PI + math.log(s2))

    def per_sample_grads(self, theta: np.ndarray, data: Any) -> np.ndarray:
        """``(theta - x_i) / s^2`` for each sample."""
        _, Y = self.check_data(data)
        return (np.asarray(theta, dtype=float) - Y) / self.std**2

    def batch_grads(self, thetas: np.ndarray, U: np.ndarray | None,
                    Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mini-batch gradients ``(theta - mean_b x) / s^2``; Y has shape (K, m, dim)."""
        s2 = self.std**2
        mean = Y.mean(axis=1)
        g = (thetas - mean) / s2
        loss = ((Y - thetas[:, None, :]) ** 2).sum(axis=2).mean(axis=1) / (2 * s2)
        return g, loss + 0.5 * self.dim * (_LOG2PI + math.log(s2))

    def noise_shape(self, probe: Any) -> tuple:
        """One standard normal vector of length ``dim``."""
        return (self.dim,)

    noise_kind = "normal"

    def generate(self, thetas: np.ndarray, noise: np.ndarray, probe: Any) -> np.ndarray:
        """``x = theta + s z``."""
        return _as_theta2(thetas, self.dim) + self.std * noise

    def energy(self, thetas: np.ndarray, x: ArrayLike, probe: Any) -> np.ndarray:
        """``|x - theta|^2 / (2 s^2) + dim/2 ln(2 pi s^2)``."""
        th = _as_theta2(thetas, self.dim)
        s2 = self.std**2
        return ((x - th) ** 2).sum(axis=-1) / (2 * s2) + 0.5 * self.dim * (_LOG2PI + math.log(s2))

    def kl(self, thetas1: np.ndarray, thetas2: np.ndarray, probe: Any) -> np.ndarray:
        """``|theta1 - theta2|^2 / (2 s^2)``."""
        d = _as_theta2(thetas1, self.dim) - _as_theta2(thetas2, self.dim)
        return (d**2).sum(axis=1) / (2 * self.std**2)

    def fisher_quadratic(self, thetas: np.ndarray, deltas: np.ndarray, probe: Any) -> np.ndarray:
        """Exact here: ``|delta|^2 / (2 s^2)``."""
        return (_as_theta2(deltas, self.dim) ** 2).sum(axis=1) / (2 * self.std**2)

    def output_entropy(self, thetas: np.ndarray, probe: Any) -> np.ndarray:
        """``dim/2 ln(2 pi e s^2)`` for every trial."""
        th = _as_theta2(thetas, self.dim)
        return np.full(th.shape[0], 0.5 * self.dim * (_LOG2PI + 1.0 + 2 * math.log(self.std)))

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """``N(init_mean, init_std^2 I)``."""
        return self.init_mean + self.init_std * rng.standard_normal(self.dim)


# ---------------------------------------------------------------------------------------
def _check_inputs(name: str, U: ArrayLike, n_in: int) -> np.ndarray:
    U = np.ascontiguousarray(np.asarray(U, dtype=np.float64))
    if U.ndim == 1 and n_in == 1:
        U = U[:, None]
    if U.ndim != 2 or U.shape[1] != n_in:
        raise ValidationError(f"{name} inputs must have shape (N, {n_in}), got {U.shape}")
    return U


def _split(data: Any, what: str) -> tuple[Any, Any]:
    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise ValidationError(
            f"data for {what} must be a pair (inputs, targets), got {short_repr(data)}"
        )
    return data[0], data[1]


@dataclass(frozen=True, eq=False)
class LinearRegression(PPM):
    r"""Linear regression with Gaussian noise: ``p(y | u, theta) = N(w . u + c, std^2)``.

    ``theta = (w_1..w_n_in, c)``.

    Notes
    -----
    ``-ln p = (y - w.u - c)^2 / (2 s^2) + 1/2 ln(2 pi s^2)``; per-sample gradient
    ``-(y - f) (u, 1) / s^2``. On a probe set ``u_1..u_P`` X is the vector of outputs and
    ``KL(p_a || p_b) = sum_j (f_a(u_j) - f_b(u_j))^2 / (2 s^2)``, equal to its Fisher form.
    """

    n_in: int = 1
    std: float = 1.0
    init_std: float = 0.1

    def __post_init__(self) -> None:
        settle(self, n_in=positive_int("n_in", self.n_in), std=positive_float("std", self.std),
               init_std=nonnegative_float("init_std", self.init_std))

    @property
    def n_params(self) -> int:
        """``n_in + 1``."""
        return self.n_in + 1

    def check_data(self, data: Any) -> tuple:
        """A pair ``(U (N, n_in), y (N,))``."""
        U, Y = _split(data, "LinearRegression")
        U = _check_inputs("LinearRegression", U, self.n_in)
        Y = np.ascontiguousarray(np.asarray(Y, dtype=np.float64).reshape(-1))
        if Y.shape[0] != U.shape[0]:
            raise ValidationError(f"inputs have {U.shape[0]} rows but targets {Y.shape[0]}")
        return U, Y

    def _f(self, thetas: ArrayLike, U: np.ndarray) -> np.ndarray:
        th = _as_theta2(thetas, self.n_params)
        return U @ th[:, :-1].T + th[:, -1]  # (P, K)

    def log_likelihood(self, theta: np.ndarray, data: Any) -> np.ndarray:
        """Per-sample Gaussian log-density."""
        U, Y = self.check_data(data)
        r = Y - self._f(theta, U)[:, 0]
        s2 = self.std**2
        return -(r**2) / (2 * s2) - 0.5 * (_LOG2PI + math.log(s2))

    def per_sample_grads(self, theta: np.ndarray, data: Any) -> np.ndarray:
        """``-(y_i - f(u_i)) (u_i, 1) / s^2``."""
        U, Y = self.check_data(data)
        r = (Y - self._f(theta, U)[:, 0]) / self.std**2
        return -np.concatenate([U * r[:, None], r[:, None]], axis=1)

    def batch_grads(self, thetas: np.ndarray, U: np.ndarray | None,
                    Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """U (K, m, n_in), Y (K, m)."""
        U = _inputs(U, "LinearRegression")
        f = np.einsum("kmi,ki->km", U, thetas[:, :-1]) + thetas[:, -1:]
        r = (Y - f) / self.std**2
        g = -np.concatenate([np.einsum("km,kmi->ki", r, U), r.sum(axis=1, keepdims=True)], 1)
        s2 = self.std**2
        loss = ((Y - f) ** 2).mean(axis=1) / (2 * s2) + 0.5 * (_LOG2PI + math.log(s2))
        return g / U.shape[1], loss

    noise_kind = "normal"

    def noise_shape(self, probe: Any) -> tuple:
        """One normal per probe point."""
        return (probe.shape[0],)

    def generate(self, thetas: np.ndarray, noise: np.ndarray, probe: Any) -> np.ndarray:
        """``y_j = f(u_j) + s z_j``, shape (K, P)."""
        return self._f(thetas, probe).T + self.std * noise

    def energy(self, thetas: np.ndarray, x: ArrayLike, probe: Any) -> np.ndarray:
        """Sum over probe points of the Gaussian energy."""
        s2 = self.std**2
        r = x - self._f(thetas, probe).T
        return (r**2).sum(axis=1) / (2 * s2) + 0.5 * probe.shape[0] * (_LOG2PI + math.log(s2))

    def kl(self, thetas1: np.ndarray, thetas2: np.ndarray, probe: Any) -> np.ndarray:
        """``sum_j (f_1 - f_2)^2 / (2 s^2)``."""
        d = self._f(thetas1, probe) - self._f(thetas2, probe)
        return (d**2).sum(axis=0) / (2 * self.std**2)

    def fisher_quadratic(self, thetas: np.ndarray, deltas: np.ndarray, probe: Any) -> np.ndarray:
        """Exact for this model: the change of the mean is linear in delta."""
        d = _as_theta2(deltas, self.n_params)
        jd = probe @ d[:, :-1].T + d[:, -1]
        return (jd**2).sum(axis=0) / (2 * self.std**2)

    def output_entropy(self, thetas: np.ndarray, probe: Any) -> np.ndarray:
        """``P/2 ln(2 pi e s^2)``."""
        th = _as_theta2(thetas, self.n_params)
        h = 0.5 * probe.shape[0] * (_LOG2PI + 1.0 + 2 * math.log(self.std))
        return np.full(th.shape[0], h)

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """``N(0, init_std^2)`` entries."""
        return self.init_std * rng.standard_normal(self.n_params)


# ---------------------------------------------------------------------------------------
class _Classifier(PPM):
    """Shared code of the softmax classifiers: subclasses provide ``logits(thetas, U)``."""

    classifier = True
    noise_kind = "uniform"
    n_in: int

    def logits(self, thetas: np.ndarray, U: np.ndarray | None) -> np.ndarray:  # pragma: no cover
        """Logits of each trial on the inputs ``U``: shape ``(K, P, C)``."""
        raise NotImplementedError

    @property
    def n_classes(self) -> int:  # pragma: no cover - abstract
        """Number of classes."""
        raise NotImplementedError

    def check_data(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """A pair ``(U (N, n_in), labels (N,))`` with labels in ``0..C-1``."""
        U, Y = _split(data, type(self).__name__)
        U = _check_inputs(type(self).__name__, U, self.n_in)
        Yf = np.asarray(Y).reshape(-1)
        Yi = Yf.astype(np.int64)
        if Yi.shape[0] != U.shape[0]:
            raise ValidationError(f"inputs have {U.shape[0]} rows but labels {Yi.shape[0]}")
        bad = Yi.min(initial=0) < 0 or Yi.max(initial=0) >= self.n_classes
        if not np.array_equal(Yi, Yf) or bad:
            raise ValidationError(
                f"labels must be integers in 0..{self.n_classes - 1}, got {short_repr(Yf)}"
            )
        return U, np.ascontiguousarray(Yi)

    def log_likelihood(self, theta: np.ndarray, data: Any) -> np.ndarray:
        """Per-sample ``ln softmax(f(u_i))[y_i]``."""
        U, Y = self.check_data(data)
        lp = _log_softmax(self.logits(theta, U)[0])
        return lp[np.arange(Y.shape[0]), Y]

    def probabilities(self, thetas: np.ndarray, U: np.ndarray) -> np.ndarray:
        """Softmax outputs, shape ``(K, P, C)``."""
        return np.exp(_log_softmax(self.logits(thetas, U)))

    def accuracy(self, thetas: np.ndarray, data: Any) -> np.ndarray:
        """Fraction of correct arg-max predictions of each trial, shape ``(K,)``."""
        U, Y = self.check_data(data)
        return (self.logits(thetas, U).argmax(axis=-1) == Y).mean(axis=-1)

    def noise_shape(self, probe: Any) -> tuple:
        """One uniform per probe point."""
        return (probe.shape[0],)

    def generate(self, thetas: np.ndarray, noise: np.ndarray, probe: Any) -> np.ndarray:
        """Labels drawn by inverting the cumulative softmax at uniforms, shape (K, P)."""
        cp = np.cumsum(self.probabilities(thetas, probe), axis=-1)
        lab = (noise[..., None] > cp).sum(axis=-1)
        return np.minimum(lab, self.n_classes - 1).astype(np.int64)

    def energy(self, thetas: np.ndarray, x: ArrayLike, probe: Any) -> np.ndarray:
        """``-sum_j ln p(x_j | u_j, theta)``."""
        lp = _log_softmax(self.logits(thetas, probe))  # K,P,C
        x = np.asarray(x, dtype=np.int64)
        return -np.take_along_axis(lp, x[..., None], axis=-1)[..., 0].sum(axis=-1)

    def kl(self, thetas1: np.ndarray, thetas2: np.ndarray, probe: Any) -> np.ndarray:
        """``sum_j sum_c p1 ln(p1 / p2)`` on the probe set."""
        l1 = _log_softmax(self.logits(thetas1, probe))
        l2 = _log_softmax(self.logits(thetas2, probe))
        return (np.exp(l1) * (l1 - l2)).sum(axis=(-1, -2))

    def fisher_quadratic(self, thetas: np.ndarray, deltas: np.ndarray, probe: Any,
                         eps: float = 1e-5) -> np.ndarray:
        """``1/2 sum_j Var_{p_j}(J_j delta)``, J the Jacobian of the logits.

        The directional derivative of the logits is a central difference with step ``eps``
        (exact for :class:`SoftmaxRegression`, whose logits are linear in theta).
        """
        th = _as_theta2(thetas, self.n_params)
        dl = _as_theta2(deltas, self.n_params)
        norm = np.sqrt((dl**2).sum(axis=1, keepdims=True))
        h = eps / np.maximum(norm, 1e-300)
        jd = (self.logits(th + h * dl, probe) - self.logits(th - h * dl, probe)) / (
            2 * h[:, :, None]
        )
        p = self.probabilities(th, probe)
        mean = (p * jd).sum(axis=-1)
        var = (p * jd**2).sum(axis=-1) - mean**2
        return 0.5 * var.sum(axis=-1)

    def output_entropy(self, thetas: np.ndarray, probe: Any) -> np.ndarray:
        """``-sum_j sum_c p ln p``."""
        lp = _log_softmax(self.logits(thetas, probe))
        return -(np.exp(lp) * lp).sum(axis=(-1, -2))


@dataclass(frozen=True, eq=False)
class MLPClassifier(_Classifier):
    r"""Fully connected network with softmax output: ``p(y | u, theta) = softmax(f_theta(u))_y``.

    Parameters
    ----------
    n_in : int
        Input dimension.
    n_classes : int
        Number of classes.
    hidden : tuple of int
        Hidden widths (``()`` gives softmax regression). The paper's Fig. 4.1 network is
        ``hidden=(200, 200, 200)``: 4 weight layers.
    activation : {"relu", "tanh"}
        Hidden activation.
    init_scale : float
        Weights drawn ``N(0, init_scale^2 / fan_in)`` (He-like for ReLU with ``sqrt(2)``),
        biases zero.

    Notes
    -----
    Forward and backward passes run in Numba kernels (``stochthermo.kernels._mlp``) with BLAS
    matrix products; parameters are one flat vector, layer by layer ``(W_l, b_l)`` with
    ``W_l`` of shape ``(in, out)``. Loss: mean cross-entropy. See ``theory/learning.md``.
    """

    n_in: int = 2
    n_classes: int = 2
    hidden: tuple = (32,)
    activation: str = "relu"
    init_scale: float = math.sqrt(2.0)
    # derived in __post_init__: activation code, layer widths, parameter count
    _act: int = field(init=False, repr=False, compare=False)
    _sizes: np.ndarray = field(init=False, repr=False, compare=False)
    _n_params: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        settle(self, n_in=positive_int("n_in", self.n_in))
        nc = positive_int("n_classes", self.n_classes)
        if nc < 2:
            raise ValidationError(f"n_classes={nc} must be >= 2")
        settle(self, n_classes=nc)
        hidden = (self.hidden,) if isinstance(self.hidden, int) else tuple(self.hidden)
        settle(self, hidden=tuple(positive_int("hidden", h) for h in hidden))
        acts = {"relu": 0, "tanh": 1}
        if self.activation not in acts:
            raise ValidationError(
                f"unknown activation={self.activation!r}; valid choices are 'relu', 'tanh'"
            )
        sizes = np.array([self.n_in, *self.hidden, self.n_classes], dtype=np.int64)
        n = int(sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(len(sizes) - 1)))
        settle(self, init_scale=positive_float("init_scale", self.init_scale),
               _act=acts[self.activation], _sizes=sizes, _n_params=n)

    @property
    def n_params(self) -> int:
        """Total number of weights and biases."""
        return self._n_params

    @property
    def sizes(self) -> tuple:
        """Layer widths ``(n_in, *hidden, n_classes)``."""
        return tuple(int(s) for s in self._sizes)

    def layer_slices(self) -> list:
        """``[(W slice, W shape, b slice), ...]`` into the flat parameter vector."""
        out, off = [], 0
        s = self.sizes
        for a, b in zip(s[:-1], s[1:], strict=True):
            out.append((slice(off, off + a * b), (a, b), slice(off + a * b, off + a * b + b)))
            off += a * b + b
        return out

    def logits(self, thetas: np.ndarray, U: np.ndarray | None) -> np.ndarray:
        """Logits ``(K, P, C)`` of each trial's network on the inputs ``U`` (P, n_in)."""
        from ..kernels._mlp import mlp_logits_ensemble

        th = np.ascontiguousarray(_as_theta2(thetas, self.n_params))
        U = np.ascontiguousarray(U, dtype=np.float64)
        out = np.empty((th.shape[0], U.shape[0], self.n_classes))
        mlp_logits_ensemble(th, self._sizes, self._act, U, out)
        return out

    def loss_and_grad(self, theta: np.ndarray, data: Any) -> tuple[float, np.ndarray]:
        """``(U_B(theta), grad U_B(theta))`` in one pass."""
        from ..kernels._mlp import mlp_loss_grad

        U, Y = self.check_data(data)
        g = np.empty(self.n_params)
        loss = mlp_loss_grad(np.ascontiguousarray(theta, dtype=np.float64), self._sizes,
                             self._act, U, Y, g)
        return float(loss), g

    def indexed_grads(self, thetas: np.ndarray, Us: np.ndarray | None, Ys: np.ndarray,
                      idx: np.ndarray, data_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mini-batch gradients of K trials in one parallel kernel call."""
        from ..kernels._mlp import mlp_grad_ensemble, mlp_grad_ensemble_serial

        th = np.ascontiguousarray(thetas)
        # large networks: BLAS threads inside each gradient, trials one after another
        kernel = mlp_grad_ensemble_serial if self.n_params * idx.shape[1] > 2_000_000 \
            else mlp_grad_ensemble
        g = np.empty_like(th)
        loss = np.empty(th.shape[0])
        kernel(th, self._sizes, self._act, Us, Ys, np.ascontiguousarray(idx),
               np.ascontiguousarray(data_of), g, loss)
        return g, loss

    def batch_grads(self, thetas: np.ndarray, U: np.ndarray | None,
                    Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mini-batch gradients of K trials: U (K, m, n_in), Y (K, m)."""
        K, m = Y.shape
        idx = np.tile(np.arange(m), (K, 1))
        return self.indexed_grads(thetas, np.ascontiguousarray(U, dtype=np.float64),
                                  np.ascontiguousarray(Y, dtype=np.int64), idx, np.arange(K))

    def grad(self, theta: np.ndarray, data: Any) -> np.ndarray:
        """Full-batch gradient (one kernel pass)."""
        return self.loss_and_grad(theta, data)[1]

    def per_sample_grads(self, theta: np.ndarray, data: Any) -> np.ndarray:
        """Per-sample gradients, shape ``(N, d)``."""
        from ..kernels._mlp import mlp_per_sample_grads

        U, Y = self.check_data(data)
        out = np.empty((U.shape[0], self.n_params))
        mlp_per_sample_grads(np.ascontiguousarray(theta, dtype=np.float64), self._sizes,
                             self._act, U, Y, out)
        return out

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """Weights ``N(0, init_scale^2 / fan_in)``, zero biases."""
        theta = np.zeros(self.n_params)
        for ws, (a, _b), _bs in self.layer_slices():
            theta[ws] = rng.standard_normal(ws.stop - ws.start) * (self.init_scale / math.sqrt(a))
        return theta


@dataclass(frozen=True, eq=False)
class SoftmaxRegression(MLPClassifier):
    r"""Multinomial logistic regression: an :class:`MLPClassifier` with no hidden layer.

    ``p(y | u, theta) = softmax(u W + b)_y``, ``theta = (W (n_in x C) row-major, b)``. Its
    logits are linear in theta, so the Fisher approximation uses an exact Jacobian.
    """

    n_in: int = 2
    n_classes: int = 2
    hidden: tuple = ()
    activation: str = "relu"
    init_scale: float = 0.1

    def __post_init__(self) -> None:
        if tuple(self.hidden) != ():
            raise ValidationError("SoftmaxRegression has no hidden layers; use MLPClassifier")
        super().__post_init__()

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """Weights ``N(0, init_scale^2)``, zero biases."""
        theta = np.zeros(self.n_params)
        ws = self.layer_slices()[0][0]
        theta[ws] = self.init_scale * rng.standard_normal(ws.stop - ws.start)
        return theta
