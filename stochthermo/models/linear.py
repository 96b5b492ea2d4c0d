"""Linear Langevin (Ornstein-Uhlenbeck) processes and SGD linearized near a minimum.

Conventions (``theory/README.md``, section "Conventions"): k_B = 1, Ito calculus,
``dx = -A (x - x_star) dt + sqrt(2 D) dW``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .._frozen import settle
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

if TYPE_CHECKING:
    from typing import Any

    from .._typing import ArrayLike, Blocks

__all__ = [
    "LinearLangevin",
    "LinearizedSGD",
    "check_stable_drift",
    "MAX_DRIFT_CONDITION",
    "MIN_DRIFT_RATE",
    "MIN_MAP_GAP",
    "MAX_ENTRY",
]


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


#: Largest accepted ratio ``||A||_F / min Re(eig A)`` of a drift matrix. Eigenvalues of a
#: floating-point matrix are only known to about ``eps * ||A||`` (eps = 2.2e-16), so when the
#: slowest relaxation rate is below ~1e-15 of the matrix norm, its sign (stable or not) and the
#: stationary covariance (which scales as its inverse) are not determined by the numbers given.
MAX_DRIFT_CONDITION = 1e15

#: Smallest accepted real part of a drift eigenvalue: the smallest normal float64. Below it the
#: rate is a subnormal number with few significant digits and ``1 / rate`` overflows to inf,
#: which made e.g. ``A = diag(1e-320, 1)`` give an inf/NaN covariance.
MIN_DRIFT_RATE = float(np.finfo(np.float64).tiny)

#: Smallest accepted spectral gap ``1 - rho`` of the discrete SGD update map: a relaxation over
#: more than ``1 / MIN_MAP_GAP`` steps is beyond float64 resolution (``I - lr H`` rounds to ``I``
#: when ``lr * H`` is below ~1e-16), the same bound as :data:`MAX_DRIFT_CONDITION`.
MIN_MAP_GAP = 1.0 / MAX_DRIFT_CONDITION
#: most steps :meth:`LinearizedSGD.moment_recursion` propagates in one call
MAX_RECURSION_STEPS = 2_000_000


#: Largest accepted magnitude of an entry of a model matrix (A, D, Hessian, noise covariance,
#: stiffness). The closed forms multiply entries pairwise (``A C``, ``A^T D^-1 A C``, ``lr H``),
#: so entries must stay well below sqrt(float64 max) ~ 1.3e154; with ``A = 1e308 I`` the
#: Lyapunov solve overflowed and reported a singular covariance.
MAX_ENTRY = 1e150


def _check_magnitude(name: str, M: np.ndarray) -> np.ndarray:
    """Raise unless every entry of ``M`` is at most :data:`MAX_ENTRY` in magnitude."""
    big = float(np.max(np.abs(M), initial=0.0))
    if big > MAX_ENTRY:
        idx = tuple(int(k) for k in np.unravel_index(np.argmax(np.abs(M)), M.shape))
        raise ValidationError(
            f"{name}[{', '.join(map(str, idx))}] = {M[idx]:.4g} exceeds {MAX_ENTRY:.0e} in "
            "magnitude, where products of entries overflow float64; rescale time or units"
        )
    return M


def _frobenius(A: np.ndarray) -> float:
    """``||A||_F`` without overflow for entries near the float64 limit."""
    scale = float(np.max(np.abs(A), initial=0.0))
    if scale == 0.0:
        return 0.0
    return scale * float(np.linalg.norm(A / scale))


def _check_stable(name: str, A: np.ndarray):
    """Refuse a drift matrix without a (numerically resolvable) stationary state.

    Returns the spectral decomposition used by the closed forms. Raises
    :class:`~stochthermo.errors.UnstableModelError` if an eigenvalue has real part <= 0, or if
    the slowest rate is subnormal or below ``||A||_F / MAX_DRIFT_CONDITION``.
    """
    with np.errstate(all="ignore"):
        decomp, eig = _decompose(A)
    if not np.all(np.isfinite(eig)):
        raise UnstableModelError(
            f"the eigenvalues of {name} overflow float64 ({short_repr(A)}); rescale time or "
            "units so that its entries are well inside +-1e154"
        )
    lo = eig[np.argmin(eig.real)]
    if lo.real <= 0:
        raise UnstableModelError(
            f"{name} must be stable (all eigenvalues with positive real part), but it has the "
            f"eigenvalue {lo:.4g} ({short_repr(A)}); the process has no "
            "stationary state. Near a minimum the Hessian must be positive definite"
        )
    if lo.real < MIN_DRIFT_RATE:
        raise UnstableModelError(
            f"{name} has the eigenvalue {lo:.4g}, a subnormal rate below {MIN_DRIFT_RATE:.3g} "
            f"(the smallest normal float64), so 1/rate overflows ({short_repr(A)}); rescale "
            "time or units so that the slowest rate is a normal number"
        )
    with np.errstate(over="ignore"):
        norm = _frobenius(A)
        cond = norm / lo.real
    if not np.isfinite(norm):
        raise UnstableModelError(
            f"||{name}|| overflows float64 ({short_repr(A)}); rescale time or units so that "
            "its entries are well inside +-1e154"
        )
    if cond > MAX_DRIFT_CONDITION:
        raise UnstableModelError(
            f"{name} is too ill-conditioned: ||{name}||_F / min Re(eigenvalue) = {cond:.3g} > "
            f"{MAX_DRIFT_CONDITION:.0e} (slowest eigenvalue {lo:.4g}, ||{name}||_F = {norm:.4g};"
            f" {short_repr(A)}); at float64 precision its stability and stationary covariance "
            "are not determined. Rescale time or units, or drop the nearly free direction, "
            f"so that the ratio of fastest to slowest rate is below {MAX_DRIFT_CONDITION:.0e}"
        )
    return decomp


def check_stable_drift(A: ArrayLike, name: str = "A") -> np.ndarray:
    """Validate a drift matrix as :class:`LinearLangevin` does and return it as float64.

    Real, finite, square, non-empty, stable (every eigenvalue with positive real part), with
    the slowest rate a normal float64 and ``||A||_F / min Re(eig A) <= MAX_DRIFT_CONDITION``.

    Raises
    ------
    ValidationError, ShapeError
        For malformed input (complex, non-finite, wrong shape, empty).
    UnstableModelError
        For a drift without a numerically resolvable stationary state.
    """
    A = _check_magnitude(name, as_square_matrix(name, A))
    _check_stable(name, A)
    return A


def _block_temperatures(given: ArrayLike | None, blocks: tuple,
                        default: np.ndarray) -> np.ndarray:
    """Temperature of each block: ``given`` (each > 0), or the block mean of ``default``.

    ``default`` holds one value per coordinate: the diagonal of ``D`` (mobility 1), or ones.
    """
    if given is None:
        return np.array([np.mean(default[list(b)]) for b in blocks])
    temps = as_vector("temperatures", given, len(blocks))
    if np.any(temps <= 0):
        raise ValidationError(f"temperatures={temps.tolist()} must all be > 0 (one per block)")
    return temps


def _sgd_map_stability(h: np.ndarray, lr: float, beta: float):
    """``(rho, gap, max_stable_lr, h_max)`` of the SGD map from the Hessian eigenvalues ``h``.

    Per Hessian eigendirection the (heavy-ball) map is ``z^2 - (1 + beta - r h) z + beta = 0``;
    it contracts iff ``0 < r h < 2 (1 + beta)`` (Jury's conditions). Without momentum the gap
    ``1 - |1 - r h|`` is computed as ``min(r h, 2 - r h)`` to keep its relative accuracy.
    """
    h_max = float(h.max())
    rh = lr * h
    lr_max = 2.0 * (1.0 + beta) / h_max
    if beta == 0.0:
        gap = float(min(rh.min(), 2.0 - rh.max()))
        return 1.0 - gap, gap, lr_max, h_max
    b = 1.0 + beta - rh
    disc = b * b - 4.0 * beta
    mod = np.where(disc >= 0.0, 0.5 * (np.abs(b) + np.sqrt(np.maximum(disc, 0.0))),
                   np.sqrt(beta))
    rho = float(mod.max())
    return rho, 1.0 - rho, lr_max, h_max


def _bounded(text: str, limit: int = 300) -> str:
    """Cut a repr to ``limit`` characters (a last guard: the parts are summarised already)."""
    return text if len(text) <= limit else text[: limit - 4] + "...)"


def _summary(name: str, arr, small: int = 9) -> str:
    """``name=[[1, 0.5], [0, 1]]`` for a few entries, ``name=<500x500>`` for more."""
    if arr is None:
        return f"{name}=None"
    arr = np.asarray(arr)
    if arr.size <= small:
        with np.printoptions(precision=4, suppress=False, floatmode="maxprec"):
            text = np.array2string(arr, separator=", ")
        text = " ".join(text.split())
        if len(text) <= 60:
            return f"{name}={text}"
    return f"{name}=<{'x'.join(map(str, arr.shape))}>"


@dataclass(frozen=True, eq=False, init=False)
class LinearLangevin:
    r"""Linear Langevin (Ornstein-Uhlenbeck) process.

    .. math:: dx = -A\,(x - x_\star)\,dt + \sqrt{2D}\,dW \quad\text{(Ito)}

    Parameters
    ----------
    A : array_like, shape (d, d)
        Real drift matrix, ``d >= 1``; must be stable (every eigenvalue has positive real
        part), with the slowest rate a normal float64 (>= :data:`MIN_DRIFT_RATE`), the ratio
        ``||A||_F / min Re(eig A)`` at most :data:`MAX_DRIFT_CONDITION` and entries at most
        :data:`MAX_ENTRY` in magnitude (see :func:`check_stable_drift`).
    D : array_like, shape (d, d)
        Real diffusion matrix, symmetric positive semi-definite.
    x_star : array_like, shape (d,), optional
        Fixed point of the drift (default 0).
    blocks : list, optional
        Subsystems for the bipartite split: block sizes (``[1, 1]``) or index lists
        (``[[0, 2], [1]]``). Default: every coordinate is its own subsystem.
    temperatures : array_like, shape (n_blocks,), optional
        Temperature of each subsystem's bath. Default: the mean diagonal of ``D`` on the block
        (mobility 1, ``D_i = T_i``), which is exact when ``D`` is isotropic on the block.

    Raises
    ------
    ValidationError, ShapeError
        Complex, boolean, text or non-finite entries, empty or non-square matrices, ``D`` not
        symmetric PSD, bad ``blocks`` or ``temperatures``.
    UnstableModelError
        ``A`` without a numerically resolvable stationary state (the same refusal as every
        function of :mod:`stochthermo.exact`, which takes models only).

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

    # the normalised values (read-only float64 arrays, blocks as tuples of index tuples)
    A: np.ndarray
    D: np.ndarray
    x_star: np.ndarray
    blocks: tuple
    temperatures: np.ndarray
    _decomposition: tuple = field(init=False, repr=False)

    def __init__(self, A: ArrayLike, D: ArrayLike, x_star: ArrayLike | None = None,
                 blocks: Blocks | None = None, temperatures: ArrayLike | None = None) -> None:
        A_ = _check_magnitude("A", as_square_matrix("A", A))
        d = A_.shape[0]
        D_ = _check_magnitude("D", as_square_matrix("D", D, dim=d))
        D_ = check_symmetric("D", D_)
        check_psd("D", D_)
        decomp = _check_stable("A", A_)
        centre = np.zeros(d) if x_star is None else as_vector("x_star", x_star, d)
        blocks_ = normalize_blocks(blocks, d)
        temps = _block_temperatures(temperatures, blocks_, np.diag(D_))
        for val in (A_, D_, centre, temps):
            val.setflags(write=False)
        settle(self, A=A_, D=D_, x_star=centre, temperatures=temps, blocks=blocks_,
               _decomposition=decomp)

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

    def with_blocks(self, blocks: Blocks, temperatures: ArrayLike | None = None) -> LinearLangevin:
        """The same process with another subsystem split."""
        return LinearLangevin(self.A, self.D, x_star=self.x_star, blocks=blocks,
                              temperatures=temperatures)

    @property
    def spectral(self) -> tuple:
        """Spectral data of A computed once at construction (used by ``stochthermo.exact``)."""
        return self._decomposition

    def __repr__(self) -> str:
        parts = [f"d={self.dim}", _summary("A", self.A), _summary("D", self.D)]
        if np.any(self.x_star != 0.0):
            parts.append(_summary("x_star", self.x_star, small=4))
        blocks = repr(self.blocks)
        parts.append(f"blocks={blocks}" if len(blocks) <= 40 else f"n_blocks={self.n_blocks}")
        parts.append(_summary("temperatures", self.temperatures, small=4))
        return _bounded(f"LinearLangevin({', '.join(parts)})")


@dataclass(frozen=True, eq=False, init=False)
class LinearizedSGD:
    r"""Mini-batch SGD near a minimum of a quadratic loss.

    .. math::
        \theta_{n+1} = \theta_n - r H (\theta_n - \theta_\star) + r \eta_n
        + \beta (\theta_n - \theta_{n-1}),\qquad
        \mathrm{Cov}(\eta_n) = \frac{\Sigma_g}{|b|}\,\phi,

    with ``phi = (N - |b|) / (N - 1)`` when batches are drawn without replacement from a data set
    of size ``N`` (``dataset_size``) and ``phi = 1`` otherwise. With ``sampling="reshuffle"``
    the batches of one epoch (``N // |b|`` steps, a new permutation each epoch) are disjoint,
    so their noises are anticorrelated, :math:`\mathrm{Cov}(\eta_n, \eta_{n'}) =
    -\Sigma_g / (N - 1)` within an epoch and 0 across epochs (``theory/sgd.md`` [SGD-shuffle]).

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
    sampling : {"iid", "reshuffle"}, optional
        ``"iid"`` (default): the noises of different steps are independent (today's model;
        each batch a fresh random subset when ``dataset_size`` is given). ``"reshuffle"``:
        epoch reshuffling (needs ``dataset_size``); the transient moments
        (``stochthermo.exact.moments``) carry the within-epoch anticorrelation exactly and
        ``stochthermo.exact.stationary_covariance`` returns the average over the positions of
        an epoch of the periodic steady state (:meth:`epoch_covariances` gives each). The
        continuous-limit properties (:attr:`diffusion`, :meth:`to_langevin`) keep the
        independent-noise reading: reshuffled noise sums to zero over a full epoch, so it has
        no white-noise limit.

    Notes
    -----
    A learning rate at or above :attr:`max_stable_lr` is accepted at construction (the
    continuous limit and transients still exist) but flagged: :attr:`is_stable_map` is False
    and :meth:`check_stable_map` raises :class:`~stochthermo.errors.UnstableModelError`, as
    the stationary closed forms and the simulation of the discrete map do.

    ``theory/sgd.md`` [SGD-langevin]: the continuous limit (time ``t = r n``) is the linear
    Langevin process with ``A = H / (1 - beta)`` and ``D = r Sigma_g phi / (2 |b| (1 - beta)^2)``.
    """

    # the normalised values (read-only float64 arrays, Python numbers)
    hessian: np.ndarray
    grad_noise_cov: np.ndarray
    lr: float
    batch_size: int
    momentum: float
    dataset_size: int | None
    theta_star: np.ndarray
    sampling: str
    _map: tuple[float, float, float, float] = field(init=False, repr=False)

    def __init__(self, hessian: ArrayLike, grad_noise_cov: ArrayLike, lr: float,
                 batch_size: int, momentum: float = 0.0, dataset_size: int | None = None,
                 theta_star: ArrayLike | None = None, sampling: str = "iid") -> None:
        H = _check_magnitude("hessian", as_square_matrix("hessian", hessian))
        d = H.shape[0]
        H = check_symmetric("hessian", H)
        check_psd("hessian", H)
        _check_stable("hessian", H)
        S = _check_magnitude("grad_noise_cov",
                             as_square_matrix("grad_noise_cov", grad_noise_cov, dim=d))
        S = check_symmetric("grad_noise_cov", S)
        check_psd("grad_noise_cov", S)
        r = positive_float("lr", lr)
        b = positive_int("batch_size", batch_size)
        beta = nonnegative_float("momentum", momentum)
        if beta >= 1:
            raise ValidationError(f"momentum={beta!r} must be in [0, 1)")
        n = None
        if dataset_size is not None:
            n = positive_int("dataset_size", dataset_size)
            if b > n:
                raise ValidationError(
                    f"batch_size={b} exceeds dataset_size={n}; without replacement a batch "
                    "cannot be larger than the data set"
                )
        if sampling not in ("iid", "reshuffle"):
            raise ValidationError(f"unknown sampling={short_repr(sampling)}; valid choices "
                                  "are 'iid' and 'reshuffle'")
        if sampling == "reshuffle" and n is None:
            raise ValidationError("sampling='reshuffle' needs dataset_size=N (the epoch is "
                                  "N // batch_size steps)")
        theta = np.zeros(d) if theta_star is None else as_vector("theta_star", theta_star, d)
        for val in (H, S, theta):
            val.setflags(write=False)
        settle(self, hessian=H, grad_noise_cov=S, theta_star=theta, lr=r, batch_size=b,
               momentum=beta, dataset_size=n, sampling=sampling,
               _map=_sgd_map_stability(np.linalg.eigvalsh(H), r, beta))

    def _epoch_data(self) -> int:
        """``N`` of a model with ``sampling="reshuffle"`` (its constructor requires it)."""
        if self.dataset_size is None:
            raise ValidationError("sampling='reshuffle' needs dataset_size=N (the epoch is "
                                  "N // batch_size steps)")
        return self.dataset_size

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

    @property
    def spectral_radius(self) -> float:
        """Spectral radius ``rho`` of the deterministic update map (:meth:`update_matrix`).

        Computed at construction from the Hessian's eigenvalues ``h``: ``|1 - r h|`` without
        momentum, the larger root modulus of ``z^2 - (1 + beta - r h) z + beta`` with it.
        The iteration has a stationary state iff ``rho < 1`` (``theory/sgd.md`` [SGD-cov]).
        """
        return self._map[0]

    @property
    def max_stable_lr(self) -> float:
        """Largest stable learning rate (exclusive): ``2 (1 + beta) / max eig(H)``."""
        return self._map[2]

    @property
    def is_stable_map(self) -> bool:
        """True when the update map contracts, with a gap ``1 - rho >= MIN_MAP_GAP``."""
        return self._map[1] >= MIN_MAP_GAP

    def check_stable_map(self) -> LinearizedSGD:
        """Raise unless the discrete SGD iteration has a stationary state; return ``self``.

        Raises
        ------
        UnstableModelError
            If the spectral radius of the update map is >= 1 (the iteration diverges; the
            message gives the largest stable lr), or if ``1 - rho < MIN_MAP_GAP`` (relaxation
            over more steps than float64 resolves).
        """
        rho, gap, lr_max, h_max = self._map
        where = (f"lr={self.lr!r}, largest Hessian eigenvalue {h_max:.6g}, "
                 f"momentum={self.momentum!r}")
        if gap <= 0.0:
            raise UnstableModelError(
                f"the SGD update map has spectral radius {rho:.6g} >= 1 ({where}), so the "
                "iteration diverges and has no stationary state; use lr < 2 (1 + momentum) / "
                f"(largest Hessian eigenvalue) = {lr_max:.6g}"
            )
        if gap < MIN_MAP_GAP:
            if self.lr * h_max < 1.0 + self.momentum:
                fix = ("raise lr (lr * smallest Hessian eigenvalue is below float64 "
                       "resolution next to 1), or use the continuous limit model.to_langevin()")
            else:
                fix = f"use an lr clearly below the largest stable lr {lr_max:.6g}"
            raise UnstableModelError(
                f"the SGD update map has spectral radius {rho!r}, only {gap:.3g} below 1 "
                f"({where}): it relaxes over ~{1.0 / gap:.3g} steps, more than float64 "
                f"resolves (limit 1 - rho >= {MIN_MAP_GAP:.0e}); {fix}"
            )
        return self

    def update_matrix(self) -> np.ndarray:
        """Deterministic part of one step on the state (theta_n, theta_{n-1}) (or theta_n)."""
        d, r, beta = self.dim, self.lr, self.momentum
        P = np.eye(d) - r * self.hessian
        if beta == 0.0:
            return P
        top = np.hstack([P + beta * np.eye(d), -beta * np.eye(d)])
        bottom = np.hstack([np.eye(d), np.zeros((d, d))])
        return np.vstack([top, bottom])

    # ------------------------------------------------------------------ schedules, epochs
    def _phi(self, b: int) -> float:
        n = self.dataset_size
        if n is None:
            return 1.0
        return 0.0 if n == 1 else (n - b) / (n - 1)

    def _update_at(self, r: float) -> np.ndarray:
        d, beta = self.dim, self.momentum
        P = np.eye(d) - r * self.hessian
        if beta == 0.0:
            return P
        return np.block([[P + beta * np.eye(d), -beta * np.eye(d)],
                         [np.eye(d), np.zeros((d, d))]])

    def step_values(self, n_steps: int, *, lr: float | None = None,
                    batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Learning rate and batch size of the steps ``0 .. n_steps - 1``.

        ``lr`` and ``batch_size`` default to the model's; each may be a number, a callable of
        the step or an array with at least ``n_steps`` entries (as in
        :func:`stochthermo.learning.learn`). Rates that make a step's map expand are allowed
        (a transient); the returned arrays are validated (positive, finite, whole batch sizes
        no larger than ``dataset_size``).
        """
        from ..learning._schedule import step_schedule

        n_steps = int(n_steps)
        sch = step_schedule(self.lr if lr is None else lr,
                            self.batch_size if batch_size is None else batch_size,
                            max(n_steps, 1))
        rates = np.broadcast_to(np.asarray(sch.lr, dtype=float), (max(n_steps, 1),))[:n_steps]
        sizes = np.broadcast_to(np.asarray(sch.batch, dtype=np.int64),
                                (max(n_steps, 1),))[:n_steps]
        if self.dataset_size is not None and sizes.size and sizes.max() > self.dataset_size:
            j = int(np.argmax(sizes > self.dataset_size))
            raise ValidationError(f"batch_size at step {j} is {int(sizes[j])}, more than "
                                  f"dataset_size={self.dataset_size}")
        return rates, sizes

    def epoch_starts(self, sizes: Any) -> np.ndarray:
        """True at the steps that start an epoch under ``sampling="reshuffle"``.

        An epoch takes consecutive batches from one permutation of the ``N`` points; a new
        one starts when fewer than the next batch size remain (``N // |b|`` steps per epoch
        for a constant batch size), as in ``learn(..., method="shuffle")``.
        """
        sizes = np.asarray(sizes, dtype=np.int64)
        out = np.zeros(sizes.shape[0], dtype=bool)
        n = pos = self._epoch_data()
        for t, m in enumerate(sizes):
            if pos + m > n:
                out[t], pos = True, 0
            pos += int(m)
        return out

    def moment_recursion(self, n_steps: int, *, mean0: ArrayLike | None = None,
                         cov0: ArrayLike | None = None, lr: float | None = None,
                         batch_size: int | None = None) -> tuple:
        r"""Exact mean and covariance of ``theta`` at steps ``0 .. n_steps``, step by step.

        .. math::
            z_{n+1} = P_n z_n + G_n \eta_n,\quad
            C_{n+1} = P_n C_n P_n^	op + G_n Q_n G_n^	op + P_n F_n O G_n^	op
            + G_n O F_n^	op P_n^	op,

        with ``z`` the state (``theta - theta_star``, or ``(theta_n, theta_{n-1})`` with
        momentum), ``P_n`` the update map at rate ``r_n``, ``G_n = r_n [I; 0]``,
        ``Q_n = phi_n Sigma_g / |b|_n``; under ``sampling="reshuffle"``
        ``O = -Sigma_g / (N - 1)`` and ``F_{n+1} = P_n F_n + G_n`` inside an epoch
        (``F = 0`` at its start), else ``O = 0``. ``theory/sgd.md`` [SGD-shuffle],
        [SGD-sched].

        Parameters
        ----------
        n_steps : int
        mean0, cov0 : array_like, optional
            Initial mean (default ``theta_star``) and covariance (default 0).
        lr, batch_size : number, callable or array, optional
            Schedules (see :meth:`step_values`); default the model's constants.

        Returns
        -------
        means : ndarray (n_steps + 1, d)
        covs : ndarray (n_steps + 1, d, d)
        """
        n_steps = int(n_steps)
        if n_steps > MAX_RECURSION_STEPS:
            raise ValidationError(
                f"{n_steps} steps requested; the step-by-step propagation is limited to "
                f"{MAX_RECURSION_STEPS} steps (ask for earlier steps, or use the stationary "
                "closed forms)")
        d = self.dim
        rates, sizes = self.step_values(n_steps, lr=lr, batch_size=batch_size)
        m0 = self.theta_star.copy() if mean0 is None else as_vector("mean0", mean0, d)
        C0 = np.zeros((d, d)) if cov0 is None else as_square_matrix("cov0", cov0, dim=d)
        aug = self.momentum != 0.0
        k = 2 * d if aug else d
        z = np.concatenate([m0 - self.theta_star] * (2 if aug else 1))
        C = np.block([[C0, C0], [C0, C0]]) if aug else C0.astype(float).copy()
        F = np.zeros((k, d))
        shuffle = self.sampling == "reshuffle"
        n = self._epoch_data() if shuffle else 0
        cross = -self.grad_noise_cov / (n - 1) if shuffle and n > 1 else np.zeros((d, d))
        starts = self.epoch_starts(sizes) if shuffle else np.ones(n_steps, dtype=bool)
        means = np.empty((n_steps + 1, d))
        covs = np.empty((n_steps + 1, d, d))
        means[0], covs[0] = m0, C[:d, :d]
        for t in range(n_steps):
            r = float(rates[t])
            P = self._update_at(r)
            G = np.zeros((k, d))
            G[:d] = r * np.eye(d)
            Q = self.grad_noise_cov * (self._phi(int(sizes[t])) / int(sizes[t]))
            if starts[t]:
                F = np.zeros((k, d))
            X = P @ F @ cross @ G.T
            C = P @ C @ P.T + G @ Q @ G.T + X + X.T
            C = 0.5 * (C + C.T)
            z = P @ z
            F = P @ F + G
            means[t + 1] = self.theta_star + z[:d]
            covs[t + 1] = C[:d, :d]
        return means, covs

    def epoch_covariances(self, *, augmented: bool = False) -> np.ndarray:
        """Periodic steady state under ``sampling="reshuffle"``, one covariance per step.

        ``Cov(theta)`` at each step of an epoch, shape ``(N // |b|, d, d)`` (entry ``j``: after
        ``j`` steps of the epoch). One epoch from ``C`` maps it to ``Phi C Phi^T + R``
        (``Phi = P^K``, ``R`` the epoch's covariance from a zero start); the epoch-start
        covariance is its fixed point (``theory/sgd.md`` [SGD-shuffle]).
        """
        import scipy.linalg as sla

        if self.sampling != "reshuffle":
            raise ValidationError("epoch_covariances needs sampling='reshuffle'")
        self.check_stable_map()
        n = self._epoch_data()
        K = n // self.batch_size
        d = self.dim
        k = 2 * d if self.momentum else d
        P = self._update_at(self.lr)
        G = np.zeros((k, d))
        G[:d] = self.lr * np.eye(d)
        Q = self.noise_cov
        cross = -self.grad_noise_cov / (n - 1) if n > 1 else np.zeros((d, d))

        def run(C):
            out, F = [C], np.zeros((k, d))
            for _ in range(K):
                X = P @ F @ cross @ G.T
                C = P @ C @ P.T + G @ Q @ G.T + X + X.T
                F = P @ F + G
                out.append(0.5 * (C + C.T))
            return out

        R = run(np.zeros((k, k)))[-1]
        Phi = np.linalg.matrix_power(P, K)
        C0 = sla.solve_discrete_lyapunov(Phi, R)
        C0 = 0.5 * (C0 + C0.T)
        per = np.stack(run(C0)[:K])
        return per if augmented else per[:, :d, :d].copy()

    def to_langevin(self, blocks: Blocks | None = None,
                    temperatures: ArrayLike | None = None) -> LinearLangevin:
        """The continuous limit: ``A = H / (1 - beta)``, ``D = diffusion``; time ``t = r n``."""
        return LinearLangevin(
            self.hessian / (1.0 - self.momentum), self.diffusion, x_star=self.theta_star,
            blocks=blocks, temperatures=temperatures,
        )

    def __repr__(self) -> str:
        parts = [f"d={self.dim}", _summary("hessian", self.hessian),
                 _summary("grad_noise_cov", self.grad_noise_cov), f"lr={self.lr!r}",
                 f"batch_size={self.batch_size}", f"momentum={self.momentum!r}",
                 f"dataset_size={self.dataset_size}"]
        if self.sampling != "iid":
            parts.append(f"sampling={self.sampling!r}")
        if np.any(self.theta_star != 0.0):
            parts.append(_summary("theta_star", self.theta_star, small=4))
        return _bounded(f"LinearizedSGD({', '.join(parts)})")
