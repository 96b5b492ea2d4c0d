"""Linear Langevin (Ornstein-Uhlenbeck) processes and SGD linearized near a minimum.

Conventions (``theory/README.md``, section "Conventions"): k_B = 1, Ito calculus,
``dx = -A (x - x_star) dt + sqrt(2 D) dW``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import (
    as_square_matrix,
    as_vector,
    check_psd,
    check_symmetric,
    nonnegative_float,
    normalize_blocks,
    positive_float,
    positive_int,
    short_repr,
)
from ..errors import UnstableModelError, ValidationError

__all__ = ["LinearLangevin", "LinearizedSGD"]


def _decompose(A: np.ndarray):
    """Spectral data of A reused by the closed forms.

    ``("sym", eigenvalues, eigenvectors)`` for symmetric A, else ``("schur", T, U)`` with the
    real Schur form ``A = U T U^T``.
    """
    if np.array_equal(A, A.T):
        w, V = np.linalg.eigh(A)
        return ("sym", w, V), w.astype(complex)
    import scipy.linalg as sla

    T, U = sla.schur(A, output="real")
    return ("schur", T, U), _schur_eigenvalues(T)


def _schur_eigenvalues(T: np.ndarray) -> np.ndarray:
    """Eigenvalues of a real quasi-triangular Schur factor (1x1 and 2x2 diagonal blocks)."""
    n = T.shape[0]
    out = np.empty(n, dtype=complex)
    i = 0
    while i < n:
        if i + 1 < n and T[i + 1, i] != 0.0:
            a, b, c, d = T[i, i], T[i, i + 1], T[i + 1, i], T[i + 1, i + 1]
            tr, det = a + d, a * d - b * c
            disc = complex(tr * tr / 4.0 - det)
            root = np.sqrt(disc)
            out[i], out[i + 1] = tr / 2.0 + root, tr / 2.0 - root
            i += 2
        else:
            out[i] = T[i, i]
            i += 1
    return out


def _check_stable(name: str, A: np.ndarray):
    decomp, eig = _decompose(A)
    if eig.size and eig.real.min() <= 0:
        raise UnstableModelError(
            f"{name} must be stable (all eigenvalues with positive real part), but it has the "
            f"eigenvalue {eig[np.argmin(eig.real)]:.4g} ({short_repr(A)}); the process has no "
            "stationary state. Near a minimum the Hessian must be positive definite"
        )
    return decomp


@dataclass(frozen=True, eq=False)
class LinearLangevin:
    r"""Linear Langevin (Ornstein-Uhlenbeck) process.

    .. math:: dx = -A\,(x - x_\star)\,dt + \sqrt{2D}\,dW \quad\text{(Ito)}

    Parameters
    ----------
    A : array_like, shape (d, d)
        Drift matrix; must be stable (every eigenvalue has positive real part).
    D : array_like, shape (d, d)
        Diffusion matrix, symmetric positive semi-definite.
    x_star : array_like, shape (d,), optional
        Fixed point of the drift (default 0).
    blocks : list, optional
        Subsystems for the bipartite split: block sizes (``[1, 1]``) or index lists
        (``[[0, 2], [1]]``). Default: every coordinate is its own subsystem.
    temperatures : array_like, shape (n_blocks,), optional
        Temperature of each subsystem's bath. Default: the mean diagonal of ``D`` on the block
        (mobility 1, ``D_i = T_i``), which is exact when ``D`` is isotropic on the block.

    Notes
    -----
    See ``theory/linear_langevin.md`` [LL-def]. Heat and information flows need ``D``
    block-diagonal with respect to ``blocks`` (a bipartite process).

    Examples
    --------
    >>> import stochthermo as st
    >>> m = st.LinearLangevin([[1.0, 0.5], [-0.5, 1.0]], [[1.0, 0.0], [0.0, 2.0]])
    >>> m.dim
    2
    """

    A: np.ndarray
    D: np.ndarray
    x_star: np.ndarray | None = None
    blocks: tuple | None = None
    temperatures: np.ndarray | None = None

    def __post_init__(self):
        A = as_square_matrix("A", self.A)
        d = A.shape[0]
        D = as_square_matrix("D", self.D, dim=d)
        D = check_symmetric("D", D)
        check_psd("D", D)
        decomp = _check_stable("A", A)
        x_star = np.zeros(d) if self.x_star is None else as_vector("x_star", self.x_star, d)
        blocks = normalize_blocks(self.blocks, d)
        if self.temperatures is None:
            temps = np.array([np.mean(np.diag(D)[list(b)]) for b in blocks])
        else:
            temps = as_vector("temperatures", self.temperatures, len(blocks))
            if np.any(temps <= 0):
                raise ValidationError(
                    f"temperatures={temps.tolist()} must all be > 0 (one per block)"
                )
        for name, val in (("A", A), ("D", D), ("x_star", x_star), ("temperatures", temps)):
            val.setflags(write=False)
            object.__setattr__(self, name, val)
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "_decomposition", decomp)

    @property
    def dim(self) -> int:
        """State dimension ``d``."""
        return self.A.shape[0]

    @property
    def n_blocks(self) -> int:
        """Number of subsystems."""
        return len(self.blocks)

    @property
    def is_bipartite(self) -> bool:
        """True when ``D`` has no entries coupling different blocks."""
        label = np.empty(self.dim, dtype=int)
        for i, b in enumerate(self.blocks):
            label[list(b)] = i
        cross = label[:, None] != label[None, :]
        return bool(np.all(self.D[cross] == 0.0))

    def drift(self, x: np.ndarray) -> np.ndarray:
        """Drift ``-A (x - x_star)`` evaluated on states of shape ``(..., d)``."""
        return -(np.asarray(x) - self.x_star) @ self.A.T

    def with_blocks(self, blocks, temperatures=None) -> LinearLangevin:
        """The same process with another subsystem split."""
        return LinearLangevin(self.A, self.D, x_star=self.x_star, blocks=blocks,
                              temperatures=temperatures)

    @property
    def spectral(self):
        """Spectral data of A computed once at construction (used by ``stochthermo.exact``)."""
        return self._decomposition

    def __repr__(self) -> str:
        return (
            f"LinearLangevin(dim={self.dim}, A={short_repr(self.A, 60)}, "
            f"D={short_repr(self.D, 60)}, blocks={self.blocks})"
        )


@dataclass(frozen=True, eq=False)
class LinearizedSGD:
    r"""Mini-batch SGD near a minimum of a quadratic loss.

    .. math::
        \theta_{n+1} = \theta_n - r H (\theta_n - \theta_\star) + r \eta_n
        + \beta (\theta_n - \theta_{n-1}),\qquad
        \mathrm{Cov}(\eta_n) = \frac{\Sigma_g}{|b|}\,\phi,

    with ``phi = (N - |b|) / (N - 1)`` when batches are drawn without replacement from a data set
    of size ``N`` (``dataset_size``) and ``phi = 1`` otherwise.

    Parameters
    ----------
    hessian : array_like, shape (d, d)
        Hessian ``H`` of the full-batch loss at the minimum; symmetric positive definite.
    grad_noise_cov : array_like, shape (d, d)
        Per-sample gradient covariance ``Sigma_g``; symmetric positive semi-definite.
    lr : float
        Learning rate ``r > 0``.
    batch_size : int
        Mini-batch size ``|b| >= 1``.
    momentum : float, optional
        Heavy-ball momentum ``beta`` in ``[0, 1)``.
    dataset_size : int, optional
        ``N``; when given, batches are drawn without replacement (``|b| <= N``).
    theta_star : array_like, shape (d,), optional
        The minimum (default 0).

    Notes
    -----
    ``theory/sgd.md`` [SGD-langevin]: the continuous limit (time ``t = r n``) is the linear
    Langevin process with ``A = H / (1 - beta)`` and ``D = r Sigma_g phi / (2 |b| (1 - beta)^2)``.
    """

    hessian: np.ndarray
    grad_noise_cov: np.ndarray
    lr: float
    batch_size: int
    momentum: float = 0.0
    dataset_size: int | None = None
    theta_star: np.ndarray | None = None

    def __post_init__(self):
        H = as_square_matrix("hessian", self.hessian)
        d = H.shape[0]
        H = check_symmetric("hessian", H)
        check_psd("hessian", H)
        _check_stable("hessian", H)
        S = as_square_matrix("grad_noise_cov", self.grad_noise_cov, dim=d)
        S = check_symmetric("grad_noise_cov", S)
        check_psd("grad_noise_cov", S)
        lr = positive_float("lr", self.lr)
        b = positive_int("batch_size", self.batch_size)
        beta = nonnegative_float("momentum", self.momentum)
        if beta >= 1:
            raise ValidationError(f"momentum={beta!r} must be in [0, 1)")
        n = None
        if self.dataset_size is not None:
            n = positive_int("dataset_size", self.dataset_size)
            if b > n:
                raise ValidationError(
                    f"batch_size={b} exceeds dataset_size={n}; without replacement a batch "
                    "cannot be larger than the data set"
                )
        theta = np.zeros(d) if self.theta_star is None else as_vector(
            "theta_star", self.theta_star, d)
        for name, val in (("hessian", H), ("grad_noise_cov", S), ("theta_star", theta)):
            val.setflags(write=False)
            object.__setattr__(self, name, val)
        object.__setattr__(self, "lr", lr)
        object.__setattr__(self, "batch_size", b)
        object.__setattr__(self, "momentum", beta)
        object.__setattr__(self, "dataset_size", n)

    @property
    def dim(self) -> int:
        """Parameter dimension ``d``."""
        return self.hessian.shape[0]

    @property
    def replacement_factor(self) -> float:
        """``(N - |b|) / (N - 1)`` without replacement, 1 with replacement (``N`` unknown)."""
        n, b = self.dataset_size, self.batch_size
        if n is None:
            return 1.0
        if n == 1:
            return 0.0
        return (n - b) / (n - 1)

    @property
    def noise_cov(self) -> np.ndarray:
        """Covariance of the mini-batch gradient noise ``eta_n``: ``Sigma_g phi / |b|``."""
        return self.grad_noise_cov * (self.replacement_factor / self.batch_size)

    @property
    def diffusion(self) -> np.ndarray:
        """Diffusion matrix of the continuous limit, ``r Sigma_g phi / (2 |b| (1 - beta)^2)``."""
        return self.lr * self.noise_cov / (2.0 * (1.0 - self.momentum) ** 2)

    @property
    def temperature(self) -> float:
        """Temperature ``T = r sigma_g^2 / (2 |b|)`` of isotropic noise (``Sigma_g = sigma_g^2 I``).

        Raises
        ------
        ModelError
            If the noise covariance is not a multiple of the identity.
        """
        from ..errors import ModelError

        D = self.diffusion
        t = float(np.mean(np.diag(D)))
        if not np.allclose(D, t * np.eye(self.dim), rtol=1e-12, atol=1e-14 * max(t, 1e-300)):
            raise ModelError(
                "grad_noise_cov is not isotropic, so the noise has no single temperature; use "
                "the diffusion matrix (model.diffusion) or per-direction temperatures "
                "numpy.diag(model.diffusion)"
            )
        return t

    def update_matrix(self) -> np.ndarray:
        """Deterministic part of one step on the state (theta_n, theta_{n-1}) (or theta_n)."""
        d, r, beta = self.dim, self.lr, self.momentum
        P = np.eye(d) - r * self.hessian
        if beta == 0.0:
            return P
        top = np.hstack([P + beta * np.eye(d), -beta * np.eye(d)])
        bottom = np.hstack([np.eye(d), np.zeros((d, d))])
        return np.vstack([top, bottom])

    def to_langevin(self, blocks=None, temperatures=None) -> LinearLangevin:
        """The continuous limit: ``A = H / (1 - beta)``, ``D = diffusion``; time ``t = r n``."""
        return LinearLangevin(
            self.hessian / (1.0 - self.momentum), self.diffusion, x_star=self.theta_star,
            blocks=blocks, temperatures=temperatures,
        )

    def __repr__(self) -> str:
        return (
            f"LinearizedSGD(dim={self.dim}, lr={self.lr}, batch_size={self.batch_size}, "
            f"momentum={self.momentum}, dataset_size={self.dataset_size})"
        )
