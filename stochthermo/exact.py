r"""Exact closed forms for linear Langevin and linearized-SGD models, in any dimension.

Everything here is linear algebra (SciPy), no simulation. Conventions: k_B = 1, Ito,
``dx = -A (x - x_star) dt + sqrt(2 D) dW``; see ``theory/linear_langevin.md`` for the
derivations, labelled ``[LL-*]``, and ``theory/sgd.md`` ``[SGD-*]``.

For a :class:`~stochthermo.LinearizedSGD` model, :func:`stationary_covariance` and
:func:`moments` use the exact discrete-time SGD map (steps ``n``); every rate (entropy
production, heat, information flow) refers to the continuous-time limit
``model.to_langevin()`` with time ``t = lr * n``.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg as sla

from ._validation import as_float_array, as_square_matrix, as_vector, check_psd, check_symmetric
from .errors import ModelError, ShapeError, UnstableModelError, ValidationError
from .models.jump import MarkovJump
from .models.linear import LinearizedSGD, LinearLangevin

if TYPE_CHECKING:
    from typing import Any

    from ._typing import ArrayLike, Blocks

__all__ = [
    "Moments",
    "DetailedBalance",
    "stationary_covariance",
    "moments",
    "current_matrix",
    "detailed_balance",
    "entropy_production",
    "heat_rates",
    "medium_entropy_rates",
    "information_flow",
    "subsystem_entropy_production",
    "mutual_information",
    "stationary_logpdf",
    "summary",
    "stationary_distribution",
    "transient_distribution",
    "probability_currents",
    "environment_entropy_flows",
    "learning_efficiency",
    # deprecated aliases (one release): the names of stochthermo.estimate's counterparts above
    "entropy_production_rate",
    "information_flows",
]


@dataclass(frozen=True)
class Moments:
    """Exact first and second moments at the requested times.

    Attributes
    ----------
    t : numpy.ndarray, shape (n_t,)
        Times (steps for SGD models).
    mean : numpy.ndarray, shape (n_t, d)
    cov : numpy.ndarray, shape (n_t, d, d)
    """

    t: np.ndarray
    mean: np.ndarray
    cov: np.ndarray


@dataclass(frozen=True)
class DetailedBalance:
    """Whether detailed balance holds, and by how much it fails.

    Attributes
    ----------
    holds : bool
        True when the stationary probability current vanishes (to ``rtol``).
    violation : float
        ``||A C - D||_F / ||D||_F``: zero iff the current vanishes [LL-db].
    commutator : float or None
        For SGD models, ``||H Sigma - Sigma H||_F / (||H||_F ||Sigma||_F)``.
    """

    holds: bool
    violation: float
    commutator: float | None = None

    def __bool__(self) -> bool:
        return self.holds


def _langevin(model, name="model") -> LinearLangevin:
    if isinstance(model, LinearLangevin):
        return model
    if isinstance(model, LinearizedSGD):
        return model.to_langevin()
    raise ValidationError(
        f"{name} must be a LinearLangevin or LinearizedSGD, got {type(model).__name__}"
    )


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached(model, key, fn):
    """Memoise ``fn()`` per (immutable) model object."""
    store = _CACHE.setdefault(model, {})
    if key not in store:
        store[key] = fn()
    return store[key]


def _lyapunov(A: np.ndarray, D: np.ndarray, spectral=None) -> np.ndarray:
    """Solve ``A C + C A^T = 2 D`` for symmetric C.

    Symmetric A: in the eigenbasis, ``C_ij = 2 D_ij / (lambda_i + lambda_j)``. Otherwise
    Bartels-Stewart on the real Schur form ``A = U T U^T`` (LAPACK ``trsyl``) with one step of
    iterative refinement, which recovers full relative accuracy of small entries (hence of small
    mutual informations). ``spectral`` is the decomposition cached by the model.
    """
    if spectral is None:
        from .models.linear import _decompose

        spectral = _decompose(A)[0]
    kind, X, U = spectral
    if kind == "sym":
        F = U.T @ (2.0 * D) @ U
        C = U @ (F / np.add.outer(X, X)) @ U.T
        return 0.5 * (C + C.T)
    T = X
    trsyl = sla.get_lapack_funcs("trsyl", (T,))

    def solve(Q):
        F = U.T @ Q @ U
        Y, scale, info = trsyl(T, T, F, tranb="T")
        if info < 0:  # pragma: no cover - LAPACK argument error
            raise ModelError(f"the Lyapunov solver failed (LAPACK info={info})")
        Xs = U @ (Y / scale) @ U.T
        return 0.5 * (Xs + Xs.T)

    C = solve(2.0 * D)
    R = 2.0 * D - (A @ C + C @ A.T)
    return C + solve(0.5 * (R + R.T))


def _stationary(m: LinearLangevin) -> np.ndarray:
    def compute():
        C = _lyapunov(m.A, m.D, m.spectral)
        C.setflags(write=False)
        return C

    return _cached(m, "C", compute)


def _stein_symmetric(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Solve ``C = P C P + Q`` for symmetric P by diagonalising it (one ``eigh``)."""
    p, V = np.linalg.eigh(P)
    F = V.T @ Q @ V
    Y = F / (1.0 - np.outer(p, p))
    C = V @ Y @ V.T
    return 0.5 * (C + C.T)


def _discrete_lyapunov(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Solve ``C = P C P^T + Q``."""
    rho = np.max(np.abs(np.linalg.eigvals(P)))
    if rho >= 1.0:
        raise UnstableModelError(
            f"the SGD update map has spectral radius {rho:.6g} >= 1, so the iteration diverges "
            "and has no stationary covariance; lower lr below 2 / (largest Hessian eigenvalue)"
        )
    d = P.shape[0]
    if np.array_equal(P, P.T):
        return _stein_symmetric(P, Q)
    method = "direct" if d <= 10 else "bilinear"
    C = sla.solve_discrete_lyapunov(P, Q, method=method)
    C = 0.5 * (C + C.T)
    R = Q - (C - P @ C @ P.T)  # one step of iterative refinement
    dC = sla.solve_discrete_lyapunov(P, 0.5 * (R + R.T), method=method)
    return C + 0.5 * (dC + dC.T)


def _sgd_noise_augmented(model: LinearizedSGD) -> np.ndarray:
    d = model.dim
    Q = model.lr**2 * model.noise_cov
    if model.momentum == 0.0:
        return Q
    out = np.zeros((2 * d, 2 * d))
    out[:d, :d] = Q
    return out


def stationary_covariance(model: Any, *, continuous: bool = False,
                          augmented: bool = False) -> np.ndarray:
    r"""Stationary covariance of a linear model.

    Parameters
    ----------
    model : LinearLangevin or LinearizedSGD
    continuous : bool, optional
        For SGD models, return the covariance of the continuous Langevin limit instead of the
        exact discrete-time one.
    augmented : bool, optional
        For SGD with momentum, return the covariance of the augmented state
        ``(theta_n, theta_{n-1})`` (shape ``(2d, 2d)``).

    Returns
    -------
    numpy.ndarray, shape (d, d)

    Notes
    -----
    Langevin [LL-cov]: :math:`A C + C A^\top = 2 D`. Discrete SGD [SGD-cov]:
    :math:`C = P C P^\top + r^2 \Sigma_g \phi / |b|` with :math:`P = I - r H` (momentum: the
    same on the augmented state). Under ``sampling="reshuffle"`` the steady state is periodic
    over an epoch; the average over its steps is returned ([SGD-shuffle]; each step:
    ``LinearizedSGD.epoch_covariances``). Solved with ``scipy.linalg.solve_continuous_lyapunov`` /
    ``solve_discrete_lyapunov``.

    Examples
    --------
    >>> import numpy as np, stochthermo as st
    >>> m = st.LinearLangevin(np.eye(2), 0.5 * np.eye(2))
    >>> st.exact.stationary_covariance(m)
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    if isinstance(model, LinearizedSGD) and not continuous:
        model.check_stable_map()  # the same refusal as simulate's (radius, largest stable lr)
        if model.sampling == "reshuffle":  # periodic steady state: its average over an epoch
            return model.epoch_covariances(augmented=augmented).mean(axis=0)
        C = _discrete_lyapunov(model.update_matrix(), _sgd_noise_augmented(model))
        if augmented or model.momentum == 0.0:
            return C
        return C[: model.dim, : model.dim].copy()
    m = _langevin(model)
    return _stationary(m).copy()


def _as_times(t, integer: bool) -> np.ndarray:
    arr = as_float_array("t", t, ndim=(0, 1))
    arr = np.atleast_1d(arr)
    if np.any(arr < 0):
        raise ValidationError(f"t={t!r} must be >= 0")
    if integer and np.any(arr != np.round(arr)):
        raise ValidationError(
            f"t={t!r} must be whole numbers of SGD steps for a LinearizedSGD model")
    return arr


def moments(model: Any, t: ArrayLike, *, mean0: ArrayLike | None = None,
            cov0: ArrayLike | None = None, lr: float | None = None,
            batch_size: int | None = None) -> Moments:
    r"""Exact mean and covariance at times ``t`` from initial moments.

    Parameters
    ----------
    model : LinearLangevin or LinearizedSGD
    t : float or array_like
        Times (Langevin) or numbers of steps (SGD).
    mean0 : array_like, shape (d,), optional
        Initial mean (default ``x_star``: only the covariance relaxes).
    cov0 : array_like, shape (d, d), optional
        Initial covariance (default 0: a deterministic start).
    lr, batch_size : number, callable or array, optional
        ``LinearizedSGD`` only: learning-rate and batch-size schedules (a callable of the step
        or one value per step); the discrete map and the noise then change per step and the
        moments are propagated step by step ([SGD-sched]), as they are for a model with
        ``sampling="reshuffle"`` (within-epoch anticorrelation, [SGD-shuffle]).

    Returns
    -------
    Moments

    Notes
    -----
    [LL-moments]: :math:`m_t = x_\star + e^{-At}(m_0 - x_\star)`,
    :math:`C_t = C_\infty + e^{-At}(C_0 - C_\infty)e^{-A^\top t}`. SGD [SGD-moments]: the same
    with :math:`P^n` in place of :math:`e^{-At}` (momentum: on the augmented state, started at
    :math:`\theta_{-1} = \theta_0`).
    """
    if isinstance(model, LinearizedSGD):
        times = _as_times(t, integer=True)
        if lr is not None or batch_size is not None or model.sampling == "reshuffle":
            n = times.astype(np.int64)
            means, covs = model.moment_recursion(int(n.max(initial=0)), mean0=mean0, cov0=cov0,
                                                 lr=lr, batch_size=batch_size)
            return Moments(times, means[n], covs[n])
        d = model.dim
        x_star = model.theta_star
        model.check_stable_map()
        P = model.update_matrix()
        Cinf = _discrete_lyapunov(P, _sgd_noise_augmented(model))
        k = P.shape[0]
        m0 = x_star.copy() if mean0 is None else as_vector("mean0", mean0, d)
        C0 = np.zeros((d, d)) if cov0 is None else _as_cov("cov0", cov0, d)
        if k != d:
            m0a = np.concatenate([m0 - x_star, m0 - x_star])
            C0a = np.block([[C0, C0], [C0, C0]])
        else:
            m0a, C0a = m0 - x_star, C0
        means = np.empty((times.size, d))
        covs = np.empty((times.size, d, d))
        for j, n in enumerate(times.astype(np.int64)):
            Pn = np.linalg.matrix_power(P, int(n))
            mj = Pn @ m0a
            Cj = Cinf + Pn @ (C0a - Cinf) @ Pn.T
            means[j] = x_star + mj[:d]
            covs[j] = 0.5 * (Cj[:d, :d] + Cj[:d, :d].T)
        return Moments(times, means, covs)
    if lr is not None or batch_size is not None:
        raise ValidationError("lr= and batch_size= schedules apply to a LinearizedSGD model only")
    m = _langevin(model)
    d = m.dim
    times = _as_times(t, integer=False)
    m0 = m.x_star.copy() if mean0 is None else as_vector("mean0", mean0, d)
    C0 = np.zeros((d, d)) if cov0 is None else _as_cov("cov0", cov0, d)
    Cinf = _stationary(m)
    means = np.empty((times.size, d))
    covs = np.empty((times.size, d, d))
    for j, tj in enumerate(times):
        E = sla.expm(-m.A * tj)
        means[j] = m.x_star + E @ (m0 - m.x_star)
        Cj = Cinf + E @ (C0 - Cinf) @ E.T
        covs[j] = 0.5 * (Cj + Cj.T)
    return Moments(times, means, covs)


def _as_cov(name, value, d) -> np.ndarray:
    C = as_square_matrix(name, value, dim=d)
    C = check_symmetric(name, C)
    check_psd(name, C)
    return C


def _state(m: LinearLangevin, mean, cov):
    """Resolve (mean offset from x_star, covariance, inverse covariance, transient flag)."""
    d = m.dim
    if cov is None:
        if mean is not None:
            raise ValidationError("mean= was given without cov=; pass both for a transient state")
        C = _stationary(m)
        dm = np.zeros(d)
    else:
        C = _as_cov("cov", cov, d)
        dm = np.zeros(d) if mean is None else as_vector("mean", mean, d) - m.x_star
    try:
        Cinv = _cached(m, "Cinv", lambda: _spd_inverse(C)) if cov is None else _spd_inverse(C)
    except np.linalg.LinAlgError:
        raise ModelError(
            "the covariance is singular (the noise does not reach every direction), so the "
            "density and its current are not defined; give D full rank or a non-singular cov="
        ) from None
    return dm, C, Cinv


def current_matrix(model: Any, *, cov: ArrayLike | None = None) -> np.ndarray:
    r"""Matrix ``M`` of the mean local velocity ``v(x) = M (x - m) - A (m - x_star)``.

    Steady state: :math:`M = -A + D C^{-1}` and the probability current is
    :math:`J(x) = M (x - x_\star) p(x)` [LL-current]. With ``cov`` given, the same formula at that
    covariance (transient).
    """
    m = _langevin(model)
    _, _, Cinv = _state(m, None, cov)
    return -m.A + m.D @ Cinv


def detailed_balance(model: Any, *, rtol: float = 1e-10) -> DetailedBalance:
    r"""Test detailed balance: the stationary current vanishes iff ``A C = D``.

    Since :math:`A C + C A^\top = 2D`, the current :math:`J = (D - AC) C^{-1} x\, p` vanishes iff
    ``A C`` is symmetric; for invertible ``D`` iff :math:`D^{-1} A` is symmetric, and for SGD iff
    the Hessian and the gradient-noise covariance commute [LL-db], [SGD-db].
    """
    if isinstance(model, MarkovJump):  # jump processes: theory/jump.md
        from ._exact_jump import dispatch

        return DetailedBalance(*dispatch("detailed_balance", model, None))
    m = _langevin(model)
    C = _stationary(m)
    scale = max(np.linalg.norm(m.D), np.finfo(float).tiny)
    viol = float(np.linalg.norm(m.A @ C - m.D) / scale)
    comm = None
    if isinstance(model, LinearizedSGD):
        H, S = model.hessian, model.grad_noise_cov
        den = max(np.linalg.norm(H) * np.linalg.norm(S), np.finfo(float).tiny)
        comm = float(np.linalg.norm(H @ S - S @ H) / den)
    return DetailedBalance(bool(viol <= rtol), viol, comm)


def _spd_inverse(S: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix via Cholesky (LinAlgError otherwise)."""
    L = np.linalg.cholesky(S)
    Linv = sla.solve_triangular(L, np.eye(S.shape[0]), lower=True)
    Sinv = Linv.T @ Linv
    Sinv.setflags(write=False)
    return Sinv


def _dinv(m: LinearLangevin) -> np.ndarray:
    try:
        Dinv = _cached(m, "Dinv", lambda: _spd_inverse(m.D))
    except np.linalg.LinAlgError:
        raise ModelError(
            "D is singular, so entropy production (which weighs the current by D^-1) is "
            "infinite or undefined; give the noise full rank"
        ) from None
    return Dinv


def entropy_production(model: Any, *, mean: ArrayLike | None = None,
                       cov: ArrayLike | None = None, p: ArrayLike | None = None,
                       discrete: bool = False) -> float:
    r"""Total entropy production rate :math:`\sigma = \langle v^\top D^{-1} v\rangle` (nats/time).

    Parameters
    ----------
    model : LinearLangevin or LinearizedSGD
    mean, cov : array_like, optional
        Transient moments; default: the stationary state.
    discrete : bool, optional
        ``LinearizedSGD`` only: the exact entropy production of the discrete map (path KL of
        one step against its time reverse, per unit time ``t = lr n``; ``theory/estimators.md``
        [EST-sgd-discrete]) instead of the continuous (Langevin) limit.

    Notes
    -----
    [LL-ep] Steady state :math:`\sigma = \mathrm{tr}(D^{-1} M C M^\top)
    = \mathrm{tr}(A^\top D^{-1} A C) - \mathrm{tr} A`. Transient:
    :math:`\sigma(t) = \mathrm{tr}(D^{-1} M_t C M_t^\top) + (A\tilde m)^\top D^{-1} (A\tilde m)`
    with :math:`M_t = -A + D C^{-1}` and :math:`\tilde m = m - x_\star`.

    Examples
    --------
    >>> import stochthermo as st
    >>> m = st.LinearLangevin([[1.0, 1.0], [-1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])
    >>> round(st.exact.entropy_production(m), 12)
    2.0
    """
    if isinstance(model, MarkovJump) or p is not None:  # jump processes: theory/jump.md
        from ._exact_jump import dispatch

        if discrete:
            raise ValidationError("discrete=True takes a LinearizedSGD; a jump process runs in "
                                  "continuous time, so leave discrete out")
        return dispatch("entropy_production_rate", model, p, mean=mean, cov=cov)
    if discrete:
        from ._exact_discrete import sgd_discrete_rate

        if not isinstance(model, LinearizedSGD) or mean is not None or cov is not None:
            raise ValidationError("discrete=True takes a LinearizedSGD in its steady state")
        return sgd_discrete_rate(model)
    m = _langevin(model)
    dm, C, Cinv = _state(m, mean, cov)
    Dinv = _dinv(m)
    M = -m.A + m.D @ Cinv
    Am = m.A @ dm
    return float(np.trace(Dinv @ M @ C @ M.T) + Am @ Dinv @ Am)


def _block_sums(m: LinearLangevin, diag: np.ndarray) -> np.ndarray:
    return np.array([diag[list(b)].sum() for b in m.blocks])


def _require_bipartite(m: LinearLangevin, what: str):
    if not m.is_bipartite:
        raise ModelError(
            f"{what} needs a bipartite process, but D couples different blocks {m.blocks}; "
            "choose blocks so that D is block-diagonal (e.g. blocks=[[0, 1]] for one subsystem)"
        )


def _with_blocks(model, blocks, temperatures):
    m = _langevin(model)
    if blocks is not None or temperatures is not None:
        m = m.with_blocks(m.blocks if blocks is None else blocks, temperatures)
    return m


def _flow_state(model, blocks, mean, cov, what: str):
    """``(m, dm, C, M)``: the bipartite model, mean offset, covariance and velocity matrix.

    ``m`` is the model with ``blocks`` (refused unless bipartite) and ``M = -A + D C^{-1}``
    [LL-info].
    """
    m = _with_blocks(model, blocks, None)
    _require_bipartite(m, what)
    dm, C, Cinv = _state(m, mean, cov)
    return m, dm, C, -m.A + m.D @ Cinv


def medium_entropy_rates(model: Any, *, blocks: Blocks | None = None, mean: ArrayLike | None = None,
                         cov: ArrayLike | None = None, p: ArrayLike | None = None) -> np.ndarray:
    r"""Entropy flow into each block's bath per unit time.

    :math:`\dot S_i = \langle (D^{-1} F)_i \circ \dot x_i\rangle` [LL-heat]. With drift
    :math:`F = -A(x - x_\star)`: steady state
    :math:`\dot S_i = -\mathrm{tr}_i(D^{-1} A C M^\top)`; transient adds
    :math:`(D^{-1}A\tilde m)_i \cdot (A\tilde m)_i`.
    """
    if isinstance(model, MarkovJump) or p is not None:  # jump processes: theory/jump.md
        from ._exact_jump import dispatch

        return dispatch("environment_entropy_flows", model, p, blocks=blocks, mean=mean, cov=cov)
    m, dm, C, M = _flow_state(model, blocks, mean, cov, "medium_entropy_rates")
    Dinv = _dinv(m)
    Am = m.A @ dm
    diag = -np.diag(Dinv @ m.A @ C @ M.T) + (Dinv @ Am) * Am
    return _block_sums(m, diag)


def heat_rates(model: Any, *, blocks: Blocks | None = None, temperatures: ArrayLike | None = None,
               mean: ArrayLike | None = None, cov: ArrayLike | None = None) -> np.ndarray:
    r"""Heat flowing into each subsystem's bath per unit time (Stratonovich, k_B = 1).

    Returns
    -------
    numpy.ndarray, shape (n_blocks,)

    Notes
    -----
    [LL-heat] :math:`\dot Q_i = T_i \dot S_i^{\rm med}`. For mobility one (:math:`D_i = T_i I`)
    this is :math:`\dot Q_i = -\sum_{k \in i} (A C M^\top)_{kk}` in steady state.
    """
    m = _with_blocks(model, blocks, temperatures)
    return m.temperatures * medium_entropy_rates(m, mean=mean, cov=cov)


def information_flow(model: Any, *, blocks: Blocks | None = None, mean: ArrayLike | None = None,
                     cov: ArrayLike | None = None, p: ArrayLike | None = None) -> np.ndarray:
    r"""Information flow into each subsystem (nats per unit time).

    :math:`\dot I_i = \langle v_i \cdot \nabla_i \ln p(x_{\bar i} | x_i)\rangle`.

    Notes
    -----
    [LL-info] Steady state :math:`\dot I_i = -\mathrm{tr}_i(M)`; the flows sum to zero. Transient:
    :math:`\dot I_i = -\mathrm{tr}_i(M_t) + \mathrm{tr}(C_{ii}^{-1} (M_t C)_{ii})` and they sum
    to :math:`dI/dt` (the multi-information for more than two blocks).
    """
    if isinstance(model, MarkovJump) or p is not None:  # jump processes: theory/jump.md
        from ._exact_jump import dispatch

        return dispatch("information_flows", model, p, blocks=blocks, mean=mean, cov=cov)
    m, _, C, M = _flow_state(model, blocks, mean, cov, "information_flow")
    MC = M @ C
    out = np.empty(m.n_blocks)
    for i, b in enumerate(m.blocks):
        idx = np.ix_(b, b)
        out[i] = -np.trace(M[idx]) + np.trace(np.linalg.solve(C[idx], MC[idx]))
    return out


def subsystem_entropy_production(model: Any, *, blocks: Blocks | None = None,
                                 mean: ArrayLike | None = None, cov: ArrayLike | None = None,
                                 p: ArrayLike | None = None) -> np.ndarray:
    r"""Entropy production of each subsystem (nats per unit time).

    :math:`\sigma_i = \langle v_i^\top D_i^{-1} v_i\rangle \ge 0`.

    Notes
    -----
    [LL-sub] :math:`\sigma_i = \mathrm{tr}_i(M C M^\top D^{-1})` in steady state (transient: plus
    the mean term); :math:`\sum_i \sigma_i = \sigma` and
    :math:`\sigma_i = \dot Q_i / T_i + \dot S_i - \dot I_i` (:math:`\dot S_i = 0` in steady state).
    """
    if isinstance(model, MarkovJump) or p is not None:  # jump processes: theory/jump.md
        from ._exact_jump import dispatch

        return dispatch("subsystem_entropy_production", model, p, blocks=blocks, mean=mean, cov=cov)
    m, dm, C, M = _flow_state(model, blocks, mean, cov, "subsystem_entropy_production")
    Dinv = _dinv(m)
    Am = m.A @ dm
    diag = np.diag(M @ C @ M.T @ Dinv) + Am * (Dinv @ Am)
    return _block_sums(m, diag)


def mutual_information(model: Any = None, *, cov: ArrayLike | None = None,
                       blocks: Blocks | None = None, pairwise: bool = False,
                       p: ArrayLike | None = None) -> float | np.ndarray:
    r"""Mutual information between the blocks of a Gaussian state (nats).

    Parameters
    ----------
    model : LinearLangevin or LinearizedSGD, optional
        Supplies the stationary covariance and the blocks.
    cov : array_like, optional
        A covariance to use instead of the stationary one.
    blocks : list, optional
        Split to use (default: the model's; required when only ``cov`` is given).
    pairwise : bool, optional
        Return the matrix of pairwise informations ``I(X_i; X_j)`` instead.

    Returns
    -------
    float or numpy.ndarray
        Two blocks: :math:`I = \tfrac12 \ln(\det C_{11} \det C_{22} / \det C)` [LL-mi]. More
        blocks: the multi-information :math:`\tfrac12 (\sum_i \ln\det C_{ii} - \ln\det C)`.
    """
    if isinstance(model, MarkovJump) or p is not None:  # jump processes: theory/jump.md
        from ._exact_jump import dispatch

        return dispatch("mutual_information", model, p, cov=cov, blocks=blocks, pairwise=pairwise)
    if model is None and cov is None:
        raise ValidationError("give a model or cov= to mutual_information")
    if cov is None:
        C = stationary_covariance(model)
    else:
        C = _as_cov("cov", cov, None if model is None else model.dim)
    d = C.shape[0]
    if blocks is None:
        if model is None:
            raise ValidationError("blocks= is required when only cov= is given")
        blocks = _langevin(model).blocks
    from ._validation import normalize_blocks

    blocks = normalize_blocks(blocks, d)

    def info(idx_blocks):
        # -1/2 log det R with R = L^-1 C L^-T (L = block-diagonal Cholesky factor): R has
        # identity diagonal blocks, and log1p of the eigenvalues of R - I keeps small
        # informations accurate to machine precision (no cancellation of large log-dets).
        idx = [i for b in idx_blocks for i in b]
        Cs = C[np.ix_(idx, idx)]
        Linv = np.zeros_like(Cs)
        start = 0
        for b in idx_blocks:
            k = len(b)
            blk = Cs[start:start + k, start:start + k]
            try:
                Lb = np.linalg.cholesky(blk)
            except np.linalg.LinAlgError:
                raise ModelError(
                    "a block covariance is singular; the mutual information is infinite"
                ) from None
            Linv[start:start + k, start:start + k] = sla.solve_triangular(
                Lb, np.eye(k), lower=True)
            start += k
        R = Linv @ Cs @ Linv.T
        E = 0.5 * (R + R.T) - np.eye(len(idx))
        lam = np.linalg.eigvalsh(E)
        if np.any(lam <= -1.0):
            raise ModelError("the joint covariance is singular; the mutual information is infinite")
        return float(-0.5 * np.sum(np.log1p(lam)))

    if pairwise:
        k = len(blocks)
        out = np.zeros((k, k))
        for i in range(k):
            for j in range(i + 1, k):
                out[i, j] = out[j, i] = info([blocks[i], blocks[j]])
        return out
    return info(list(blocks))


def stationary_logpdf(model: Any, x: ArrayLike) -> np.ndarray:
    r"""Log density of the stationary law :math:`N(x_\star, C)` at ``x`` (shape ``(..., d)``)."""
    C = stationary_covariance(model)
    d = C.shape[0]
    x = as_float_array("x", x, ndim=None)
    if x.ndim == 0 or x.shape[-1] != d:
        raise ShapeError(f"x must have shape (..., {d}), got {x.shape}")
    center = model.theta_star if isinstance(model, LinearizedSGD) else _langevin(model).x_star
    L = np.linalg.cholesky(C)
    z = sla.solve_triangular(L, (x - center).reshape(-1, d).T, lower=True)
    logdet = 2.0 * np.log(np.diag(L)).sum()
    out = -0.5 * (z * z).sum(axis=0) - 0.5 * (d * np.log(2 * np.pi) + logdet)
    return out.reshape(x.shape[:-1])


def summary(model: Any) -> dict:
    """Every steady-state closed form of ``model`` in one dictionary (NumPy values)."""
    if isinstance(model, MarkovJump):  # jump processes: theory/jump.md
        from ._exact_jump import dispatch

        out = dispatch("summary", model, None)
        out["detailed_balance"] = DetailedBalance(*out["detailed_balance"])
        return out
    m = _langevin(model)
    out = {
        "stationary_covariance": stationary_covariance(model),
        "current_matrix": current_matrix(m),
        "detailed_balance": detailed_balance(model),
        "entropy_production_rate": entropy_production(m),
    }
    if isinstance(model, LinearizedSGD):
        out["continuous_covariance"] = stationary_covariance(model, continuous=True)
    if m.is_bipartite and m.n_blocks > 1:
        out["heat_rates"] = heat_rates(m)
        out["information_flows"] = information_flow(m)
        out["subsystem_entropy_production"] = subsystem_entropy_production(m)
        out["mutual_information"] = mutual_information(m)
    return out


# --- Markov jump processes (theory/jump.md); implemented in stochthermo._exact_jump ---------


def stationary_distribution(model: Any, *, grid: bool = False) -> np.ndarray:
    r"""Stationary distribution of a jump model, :math:`W p = 0` [JP-stat].

    Subtraction-free state reduction (GTH): full relative accuracy for rates spanning many
    decades. ``grid=True`` returns ``p[x, y]`` for a :class:`~stochthermo.BipartiteJump`.

    Examples
    --------
    >>> import stochthermo as st
    >>> m = st.MarkovJump([[0.0, 1.0], [3.0, 0.0]])
    >>> st.exact.stationary_distribution(m)
    array([0.25, 0.75])
    """
    from . import _exact_jump

    return _exact_jump.stationary_distribution(model, grid=grid)


def transient_distribution(model: Any, t: ArrayLike, *, p0: ArrayLike) -> np.ndarray:
    r"""Distribution of a jump model at times ``t``: :math:`p(t) = e^{W t} p_0` [JP-transient].

    Returns shape ``(n,)`` for scalar ``t``, else ``(n_t, n)``; pass it as ``p=`` to any
    quantity here for its transient value.
    """
    from . import _exact_jump

    return _exact_jump.transient_distribution(model, t, p0=p0)


def probability_currents(model: Any, *, p: ArrayLike | None = None) -> np.ndarray:
    r"""Net currents :math:`J_{ij} = W_{ij} p_j - W_{ji} p_i` of a jump model [JP-current]."""
    from . import _exact_jump

    return _exact_jump.probability_currents(model, p=p)


def environment_entropy_flows(model: Any, *, p: ArrayLike | None = None) -> np.ndarray:
    r"""Entropy flow into each reservoir of a jump model [JP-env].

    :math:`\dot S^{\rm env}_r = \sum_{i<j,\,r} J_{ij} \ln(W_{ij}/W_{ji})`; for a
    :class:`~stochthermo.BipartiteJump`, :math:`(\dot S^X_{\rm env}, \dot S^Y_{\rm env})`.
    """
    from . import _exact_jump

    return _exact_jump.environment_entropy_flows(model, p=p)


def learning_efficiency(model: Any, *, p: ArrayLike | None = None,
                        learner: str = "x") -> float | np.ndarray:
    r"""Learning efficiency :math:`\dot I^X / \dot S^X_{\rm env} \le 1` (steady state) [JP-eff]."""
    from . import _exact_jump

    return _exact_jump.learning_efficiency(model, p=p, learner=learner)


# --------------------------------------------------------------------------- deprecated names
def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"stochthermo.exact.{old} is deprecated and will be removed in the next release; use "
        f"stochthermo.exact.{new} (the name of its estimator, stochthermo.estimate.{new})",
        DeprecationWarning, stacklevel=3)


def entropy_production_rate(model: Any, **kwargs: Any) -> float:
    """Deprecated alias of :func:`entropy_production` (same arguments and value)."""
    _deprecated("entropy_production_rate", "entropy_production")
    return entropy_production(model, **kwargs)


def information_flows(model: Any, **kwargs: Any) -> np.ndarray:
    """Deprecated alias of :func:`information_flow` (same arguments and value)."""
    _deprecated("information_flows", "information_flow")
    return information_flow(model, **kwargs)
