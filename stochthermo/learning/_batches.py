"""The random inputs of SGD steps and the method -> gradient table of :func:`learn`.

:class:`BatchStream` draws, per trial and in blocks of steps, the mini-batch indices
(``"replacement"``, ``"shuffle"``), the Gaussian gradient noise (``"gaussian"``) and the
generation noise of X, each from its own per-trial stream; :data:`GRADIENTS` maps a method to
the function computing the stochastic gradient of one step. Block lengths depend on the whole
run (not on a chunk of trials), so chunked runs draw the same numbers. ``theory/learning.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ValidationError

__all__ = ["GRADIENTS", "BatchStream", "Draws", "Problem"]


@dataclass(frozen=True, eq=False)
class Problem:
    """The data and trials of one run of :func:`learn` (read-only during the run).

    ``Us`` (n_ds, N, n_in) or None, ``Ys`` (n_ds, N, ...): stacked training sets; ``data_of``
    (K,): training set of each trial; ``full_idx`` (K, N): every index, for full-batch
    gradients; ``chol``: Cholesky factor of a given gradient-noise covariance (or None).
    """

    model: Any
    Us: np.ndarray | None
    Ys: np.ndarray
    data_of: np.ndarray
    probe: np.ndarray | None
    chol: np.ndarray | None
    batch_size: int
    full_idx: np.ndarray

    @property
    def N(self) -> int:
        return int(self.Ys.shape[1])

    def full_grads(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full-batch gradients ``(K, d)`` and losses ``(K,)`` on each trial's training set."""
        return self.model.indexed_grads(theta, self.Us, self.Ys, self.full_idx, self.data_of)

    def dataset(self, ds: int) -> Any:
        """Training set ``ds`` as the model's ``check_data`` takes it: ``Y`` or ``(U, Y)``."""
        if self.model.generative:
            return self.Ys[ds]
        if self.Us is None:
            raise ValidationError(
                f"{type(self.model).__name__} is a conditional model: its training sets need "
                "inputs, got None")
        return self.Us[ds], self.Ys[ds]


def _drawn(value: np.ndarray | None, what: str) -> np.ndarray:
    """A random input that the run's method always draws (None: drawn for another method)."""
    if value is None:
        raise RuntimeError(f"{what} is not drawn by this run's method")
    return value


@dataclass(frozen=True)
class Draws:
    """Random inputs of one step: batch indices (K, m), Gaussian noise, generation noise.

    ``m`` is the step's batch size (a batch-size schedule changes it from step to step).
    """

    idx: np.ndarray | None
    xi: np.ndarray | None
    gen: np.ndarray | None
    m: int = 0


def _index_chunk(rngs, method, n_data, m, n, states, sizes=None):
    """Batch indices ``(K, n, m)`` of ``n`` steps.

    With ``sizes`` (n,) step i uses the first ``sizes[i]`` columns (``m = max sizes``); the
    rest is padding.
    """
    K = len(rngs)
    out = np.zeros((K, n, m), dtype=np.int64)
    if method == "replacement":
        for k in range(K):
            if sizes is None:
                out[k] = rngs[k].integers(0, n_data, size=(n, m))
            else:
                for i in range(n):
                    out[k, i, :sizes[i]] = rngs[k].integers(0, n_data, size=sizes[i])
        return out
    for k in range(K):
        perm, pos = states[k]
        for i in range(n):
            mi = m if sizes is None else int(sizes[i])
            if perm is None or pos + mi > n_data:
                perm, pos = rngs[k].permutation(n_data), 0
            out[k, i, :mi] = perm[pos:pos + mi]
            pos += mi
        states[k] = (perm, pos)
    return out


def noise_chunk(rngs, kind: str, shape: tuple, n: int) -> np.ndarray:
    """``n`` draws of ``shape`` per trial stream: standard normals or uniforms."""
    out = np.empty((len(rngs), n, *shape))
    for k, r in enumerate(rngs):
        out[k] = r.standard_normal((n, *shape)) if kind == "normal" else r.random((n, *shape))
    return out


class BatchStream:
    """Per-step random inputs, drawn ``block`` steps at a time from per-trial streams.

    Parameters
    ----------
    method : str
        ``"replacement"``, ``"shuffle"`` or ``"gaussian"``.
    rng_idx, rng_gen, rng_xi : list of numpy.random.Generator
        One per trial: mini-batch indices, generation noise, Gaussian gradient noise.
    n_steps, block : int
        Steps of the run and steps per draw.
    xi_shape : tuple
        Shape of one Gaussian-noise draw (``(d,)`` with a given covariance, else ``(N,)``).
    gen_kind, gen_shape : str or None, tuple
        Generation noise (None: nothing generated).
    sizes : ndarray (n_steps,) of int, optional
        Batch size of every step (a batch-size schedule; ``batch_size`` is then its maximum).
        Shuffled batches take the next ``sizes[t]`` points of the epoch's permutation and a
        new epoch starts when fewer remain.
    """

    def __init__(self, method: str, rng_idx: list, rng_gen: list, rng_xi: list, *,
                 n_data: int, batch_size: int, n_steps: int, block: int, xi_shape: tuple,
                 gen_kind: str | None, gen_shape: tuple, sizes: np.ndarray | None = None) -> None:
        self.method, self.rng_idx, self.rng_gen, self.rng_xi = method, rng_idx, rng_gen, rng_xi
        self.n_data, self.m, self.n_steps, self.block = n_data, batch_size, n_steps, block
        self.sizes = sizes
        self.xi_shape, self.gen_kind, self.gen_shape = xi_shape, gen_kind, gen_shape
        self._states = [(None, 0)] * len(rng_idx)
        self._idx: np.ndarray | None = None
        self._xi: np.ndarray | None = None
        self._gen: np.ndarray | None = None

    def first_generation(self) -> np.ndarray:
        """The generation noise of the initial sample ``X_1`` (K, ...)."""
        if self.gen_kind is None:
            raise RuntimeError("generation noise is not drawn by a run that generates no X")
        return noise_chunk(self.rng_gen, self.gen_kind, self.gen_shape, 1)[:, 0]

    def at(self, t: int) -> Draws:
        """Random inputs of step ``t`` (steps must be asked for in order)."""
        c = t % self.block
        if c == 0:
            n_here = min(self.block, self.n_steps - t)
            if self.method == "gaussian":
                self._xi = noise_chunk(self.rng_xi, "normal", self.xi_shape, n_here)
            else:
                self._idx = _index_chunk(
                    self.rng_idx, self.method, self.n_data, self.m, n_here, self._states,
                    None if self.sizes is None else self.sizes[t:t + n_here])
            if self.gen_kind is not None:
                self._gen = noise_chunk(self.rng_gen, self.gen_kind, self.gen_shape, n_here)
        m = self.m if self.sizes is None else int(self.sizes[t])
        return Draws(
            idx=None if self._idx is None else np.ascontiguousarray(self._idx[:, c, :m]),
            xi=None if self._xi is None else self._xi[:, c],
            gen=None if self._gen is None else self._gen[:, c],
            m=m,
        )


def _minibatch_gradient(prob: Problem, theta: np.ndarray, draws: Draws):
    """Mean gradient of the loss over each trial's mini-batch ``draws.idx``."""
    return prob.model.indexed_grads(theta, prob.Us, prob.Ys, draws.idx, prob.data_of)


def _gaussian_gradient(prob: Problem, theta: np.ndarray, draws: Draws):
    """Full-batch gradient plus noise of covariance ``Sigma_g / |b|``.

    ``Sigma_g`` is the given ``noise_cov`` (``chol``) or the empirical covariance of the
    per-sample gradients of the trial's training set at ``theta``.
    """
    model, m = prob.model, draws.m or prob.batch_size
    xi = _drawn(draws.xi, "Gaussian gradient noise")
    g, bl = prob.full_grads(theta)
    if prob.chol is not None:
        return g + xi @ prob.chol.T / np.sqrt(m), bl
    N = prob.N
    for k in range(theta.shape[0]):
        G = model.per_sample_grads(theta[k], prob.dataset(prob.data_of[k]))
        g[k] += (xi[k] @ (G - G.mean(axis=0))) / np.sqrt(N * m)
    return g, bl


#: method -> ``gradient(problem, theta, draws) -> (g (K, d), batch loss (K,))``
GRADIENTS: dict[str, Callable[[Problem, np.ndarray, Draws], tuple]] = {
    "replacement": _minibatch_gradient,
    "shuffle": _minibatch_gradient,
    "gaussian": _gaussian_gradient,
}
