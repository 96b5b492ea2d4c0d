r"""One plan per model family: the update weights of a run and the kernel that advances it.

A *plan* holds everything a kernel needs for one run (weights, observable weights, the state
and noise dimensions) and advances the trajectories by ``n`` steps with its own kernel
(:meth:`Plan.advance`). Three plan types cover the kernels: :class:`DiagonalPlan`
(elementwise affine map), :class:`AffinePlan` (dense affine map, possibly time-dependent) and
:class:`NonlinearPlan` (user drift). A *family* (:class:`Family`) says how to build the plan of
one model type and where its trajectories start; :data:`PLANS` maps model types to families.

Adding a model family is one factory and one row::

    register_plan(MyModel, Family(build=my_plan, start=lambda m: m.x0))

where ``my_plan(model, setup) -> Plan``. The entry point (:func:`stochthermo.simulate`)
never tests model types itself. Formulas: ``theory/simulation.md`` [SIM-affine], [SIM-heat].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias, TypeVar

import numpy as np

from .._simulate_jump import JUMP_METHODS, JumpPlan, jump_plan, jump_start
from .._validation import short_repr
from ..errors import SimulationError, ValidationError
from ..models.jump import MarkovJump
from ..models.linear import LinearizedSGD, LinearLangevin
from ..models.nonlinear import DrivenTrap, NonlinearLangevin, StateDependentLangevin
from ._observables import wants_heat
from ._weights import (
    _temps_per_coord,
    empty3,
    heat_weight,
    is_diag,
    linear_diag,
    linear_time_invariant,
    psd_sqrt,
)

__all__ = ["AffinePlan", "Buffers", "DiagonalPlan", "Family", "MULTIPLICATIVE_METHODS",
           "MultiplicativePlan", "NonlinearPlan", "PLANS", "Plan", "PlanLike", "Setup",
           "family_of", "register_plan"]


# --------------------------------------------------------------------------- run state


@dataclass
class Buffers:
    """The arrays one run writes into (allocated by the caller, filled by the kernels).

    ``x`` (n_traj, ds) and ``acc`` (n_traj, n_obs): current state and accumulated
    observables; ``out_x`` (n_traj, n_saved, dsave) and ``out_obs`` (n_traj, n_saved, n_obs):
    saved rows; ``seeds``/``counters``: per-trajectory streams; ``noise``: pre-drawn normals
    (tests) or an empty array; ``fail``: ``-1`` or the step at which a trajectory blew up.
    """

    x: np.ndarray
    acc: np.ndarray
    seeds: np.ndarray
    counters: np.ndarray
    zig: np.ndarray
    noise: np.ndarray
    out_x: np.ndarray
    out_obs: np.ndarray
    fail: np.ndarray
    save_every: int
    step0: int

    def steps(self, done: int, n: int) -> tuple[int, int, int, int]:
        """``(n, save_every, first output slot, absolute first step)`` of a call."""
        return (n, self.save_every, done // self.save_every + 1, self.step0 + done)

    def stream(self, done: int, n: int) -> tuple:
        """``(seeds, zig, noise)`` of a call (the noise sliced to its steps)."""
        nz = self.noise[:, done:done + n] if self.noise.shape[0] else self.noise
        return (self.seeds, self.zig, nz)

    @property
    def written(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                               np.ndarray]:
        """``(x, counters, acc, out_x, out_obs, fail)``: the arrays the kernels write."""
        return (self.x, self.counters, self.acc, self.out_x, self.out_obs, self.fail)


@dataclass(frozen=True, eq=False)
class Setup:
    """What a plan factory gets besides the model (validated by the entry point)."""

    h: float  # time per step (the lr for a discrete map)
    method: str
    obs: tuple  # built-in observable names
    currents: tuple  # ((W, b), ...) of LinearCurrent objects, in state coordinates
    step0: int  # absolute first step (a resumed run continues)
    n_steps: int


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True, eq=False)
class Plan:
    """Common part of every plan.

    Attributes
    ----------
    ds, dsave, m : int
        State dimension of the kernel, saved dimension, noise dimension.
    h : float
        Time per step.
    n_blocks : int
        Heat baths (heat columns when ``heat_on``).
    temps : ndarray (n_blocks,)
    heat_on, work_on : bool
    currents : tuple of (W, b)
        Currents in the kernel's state coordinates.
    """

    ds: int
    dsave: int
    m: int
    h: float
    n_blocks: int
    temps: np.ndarray
    heat_on: bool
    work_on: bool
    currents: tuple = ()

    kernel: ClassVar[str] = ""  # recorded as meta["kernel"]

    @property
    def n_obs(self) -> int:
        """Accumulated columns: heat per block, then work, then one per current."""
        return (self.n_blocks if self.heat_on else 0) + int(self.work_on) + len(self.currents)

    @property
    def heat_columns(self) -> int:
        return self.n_blocks if self.heat_on else 0

    def current_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """``CW`` (n_cur, ds, ds) and ``cb`` (n_cur, ds), C-contiguous."""
        k = len(self.currents)
        CW = np.ascontiguousarray(np.array([w for w, _ in self.currents]).reshape(
            k, self.ds, self.ds))
        cb = np.ascontiguousarray(np.array([b for _, b in self.currents]).reshape(k, self.ds))
        return CW, cb

    def advance(self, buf: Buffers, done: int, n: int) -> None:
        """Advance every trajectory by ``n`` steps (steps ``done .. done + n`` of the run)."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class DiagonalPlan(Plan):
    """``x'_i = p_i x_i + b_i + q_i z_i`` with heat weights ``gd, g`` (kernel ``affine_diag``)."""

    p: np.ndarray = field(default_factory=lambda: np.zeros(0))
    b: np.ndarray = field(default_factory=lambda: np.zeros(0))
    q: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    g: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    kernel: ClassVar[str] = "diag"

    def advance(self, buf: Buffers, done: int, n: int) -> None:
        from ..kernels._langevin import GROUP_MAX_DIM, affine_diag, affine_diag_groups

        # same numbers either way; small states go GROUP trajectories side by side
        kernel = affine_diag_groups if self.ds <= GROUP_MAX_DIM else affine_diag
        kernel((self.p, self.b, self.q), buf.steps(done, n), buf.stream(done, n),
               (self.gd, self.g, self.labels), *buf.written)


@dataclass(frozen=True, eq=False)
class AffinePlan(Plan):
    """``x' = P_j x + b_j + Q_j z`` with heat, work and current weights (``affine_dense``).

    Arrays named in ``time_arrays`` are indexed by step when their leading length exceeds 1.
    """

    P: np.ndarray = field(default_factory=empty3)
    b: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    Q: np.ndarray = field(default_factory=empty3)
    G: np.ndarray = field(default_factory=empty3)
    g: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    WK: np.ndarray = field(default_factory=empty3)
    wk: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    w0: np.ndarray = field(default_factory=lambda: np.zeros(0))
    time_arrays: tuple = ()

    kernel: ClassVar[str] = "dense"

    def _at(self, name: str, done: int, n: int) -> np.ndarray:
        arr = getattr(self, name)
        if name in self.time_arrays and arr.shape[0] > 1:
            arr = arr[done:done + n]
        return np.ascontiguousarray(arr)

    def advance(self, buf: Buffers, done: int, n: int) -> None:
        from ..kernels._langevin import affine_dense, affine_dense_groups

        # same numbers either way; without observables GROUP trajectories go side by side
        kernel = affine_dense if self.n_obs else affine_dense_groups
        Q = self._at("Q", done, n)
        q_diag = Q.shape[1] == Q.shape[2] and all(is_diag(q) for q in Q)
        CW, cb = self.current_weights()
        obs = (self._at("G", done, n), self._at("g", done, n), self.labels, self.heat_columns,
               self.work_on, self._at("WK", done, n), self._at("wk", done, n),
               self._at("w0", done, n), CW, cb)
        kernel((self._at("P", done, n), self._at("b", done, n), Q), q_diag, buf.steps(done, n),
               buf.stream(done, n), obs, *buf.written)


@dataclass(frozen=True, eq=False)
class NonlinearPlan(Plan):
    """Euler or Heun steps of ``dx = f(x, t) dt + L dW`` (kernel ``nonlinear_sde``)."""

    drift: Any = None
    potential: Any = None
    params: np.ndarray = field(default_factory=lambda: np.zeros(0))
    time_dependent: bool = False
    method_code: int = 0  # 0 Euler, 1 Heun
    L: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    diag_noise: bool = True
    G: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    builtin: str = ""  # "double_well": the built-in drift, advanced by its inlined kernel
    user_drift: Any = None  # the model's own drift (Numba), with ``drift_args`` arguments
    drift_args: int = 4

    kernel: ClassVar[str] = "nl"

    def advance(self, buf: Buffers, done: int, n: int) -> None:
        from ..kernels._sim_nonlinear import double_well_groups, nonlinear_groups, nonlinear_sde

        if self.method_code == 0 and not self.n_obs:
            # Euler without observables: GROUP trajectories side by side, same numbers
            if self.builtin == "double_well" and self.diag_noise:
                double_well_groups(self.params, self.h, math.sqrt(self.h) * np.diag(self.L),
                                   buf.steps(done, n), buf.stream(done, n), buf.x, buf.counters,
                                   buf.out_x, buf.fail)
                return
            from numba.core.errors import NumbaError

            try:  # the user's drift compiled inline into a kernel built for it
                nonlinear_groups(self.user_drift, self.drift_args, buf.x.shape[1])(
                    self.params, self.h, (self.L, self.diag_noise), buf.steps(done, n),
                    buf.stream(done, n), buf.x, buf.counters, buf.out_x, buf.fail)
                return
            except NumbaError:  # its source cannot be compiled again: the general kernel
                pass
        CW, cb = self.current_weights()
        obs = (self.G, self.labels, self.heat_columns, self.time_dependent, self.work_on, CW, cb)
        nonlinear_sde(self.drift, self.potential, self.params, self.h, self.method_code,
                      (self.L, self.diag_noise), buf.steps(done, n), buf.stream(done, n), obs,
                      *buf.written)


#: What a family builds and the engine runs: a :class:`Plan`, or the jump plan (which sits
#: below this package, in ``stochthermo._simulate_jump``, and so cannot subclass :class:`Plan`)
PlanLike: TypeAlias = Plan | JumpPlan


# --------------------------------------------------------------------------- families


@dataclass(frozen=True, eq=False)
class Family:
    """How to simulate one model type.

    Attributes
    ----------
    build : callable
        ``build(model, setup) -> Plan`` (a :data:`PlanLike`).
    start : callable
        ``start(model) -> ndarray (d,)``: the default initial state.
    stationary : callable or None
        ``stationary(model) -> (centre (ds,), covariance (ds, ds))`` of the exact stationary
        law in the kernel's state coordinates (enables ``x0="stationary"``).
    discrete : bool
        One step is one update of a map whose time step is ``model.lr`` (no ``dt``; the only
        method is ``"sgd"``, alias ``"exact"``).
    step_floats : callable
        ``step_floats(model) -> int``: floats the plan holds per step (time-dependent
        weights), for the memory estimate made before the plan is built.
    methods : dict or None
        ``{name: (strong order, weak order)}`` of the methods this family accepts; None means
        the continuous-time table ``stochthermo.simulation.METHODS``.
    """

    build: Callable[[Any, Setup], PlanLike]
    start: Callable[[Any], np.ndarray]
    stationary: Callable[[Any], tuple[np.ndarray, np.ndarray]] | None = None
    discrete: bool = False
    step_floats: Callable[[Any], int] = lambda model: 0
    methods: dict | None = None


#: model type -> :class:`Family` (looked up along the model's MRO)
PLANS: dict[type, Family] = {}


def register_plan(model_type: type, family: Family) -> None:
    """Make :func:`~stochthermo.simulate` accept instances of ``model_type``."""
    if not isinstance(model_type, type) or not isinstance(family, Family):
        raise ValidationError(
            f"register_plan needs a model class and a Family, got {short_repr(model_type)} "
            f"and {short_repr(family)}"
        )
    PLANS[model_type] = family


def family_of(model: Any) -> Family:
    """The :class:`Family` of ``model`` (most specific registered base class first)."""
    for cls in type(model).__mro__:
        if cls in PLANS:
            return PLANS[cls]
    names = [t.__name__ for t in PLANS]
    listed = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
    raise ValidationError(
        f"model={short_repr(model)} is not a supported model; pass a {listed}"
    )


def _no_work(model: Any, obs: tuple, why: str) -> None:
    if "work" in obs:
        raise ValidationError(f"observables contains 'work', but {why}")


_T = TypeVar("_T")


def _built(model: Any, name: str, value: _T | None) -> _T:
    """``value`` of the field ``name`` that the model's constructor normalised (never None)."""
    if value is None:
        raise ValidationError(f"model={short_repr(model)} has {name}=None; build it with its "
                              f"constructor, {type(model).__name__}(...)")
    return value


# --------------------------------------------------------------------------- linear Langevin


def linear_plan(model: LinearLangevin, s: Setup) -> Plan:
    """Diagonal plan when ``A`` and ``D`` are diagonal and no current is asked, else dense."""
    _no_work(model, s.obs,
             "a LinearLangevin has no protocol (work is 0); use DrivenTrap for a trap moved by "
             "a schedule, or a NonlinearLangevin with a time-dependent potential")
    d = model.dim
    A, D, c = model.A, model.D, model.x_star
    heat = wants_heat(s.obs)
    W, labels = (heat_weight(D, model.blocks, model.temperatures) if heat
                 else (np.zeros((0, 0)), np.zeros(d, dtype=np.int64)))  # W read only with heat
    common: dict[str, Any] = dict(ds=d, dsave=d, h=s.h, n_blocks=model.n_blocks,
                                  temps=model.temperatures, heat_on=heat, work_on=False)
    if not s.currents and is_diag(A) and is_diag(D):
        a = np.diag(A).copy()
        p, b, q = linear_diag(a, c, np.diag(D).copy(), s.h, s.method)
        gd = -np.diag(W) * a if heat else np.zeros(0)
        g = -gd * c if heat else np.zeros(0)
        return DiagonalPlan(m=d, p=p, b=b, q=q, gd=gd, g=g, labels=labels, **common)
    P, b, Q = linear_time_invariant(A, c, D, s.h, s.method)
    G, g = ((-(W @ A)[None], (W @ A @ c)[None]) if heat else (empty3(), np.zeros((0, 0))))
    return AffinePlan(m=Q.shape[1], currents=tuple(s.currents), P=P[None], b=b[None],
                      Q=Q[None], G=G, g=g, labels=labels, wk=np.zeros((0, d)), **common)


def _linear_stationary(model: LinearLangevin) -> tuple[np.ndarray, np.ndarray]:
    from .. import exact

    return model.x_star, exact.stationary_covariance(model)


# --------------------------------------------------------------------------- SGD


def sgd_plan(model: LinearizedSGD, s: Setup) -> Plan:
    """The exact SGD map; momentum runs on the augmented state ``(theta_n, theta_{n-1})``.

    An unstable map (spectral radius >= 1) is refused before anything runs, as in
    :func:`stochthermo.exact.stationary_covariance`.
    """
    _no_work(model, s.obs, "LinearizedSGD has no protocol; the data and optimizer act as a "
             "bath (use 'heat' for the parameter heat)")
    if model.sampling != "iid":
        raise ValidationError(
            f"simulate runs independent Gaussian batch noise; sampling={model.sampling!r} "
            "(anticorrelated batches within an epoch) is not simulated here: use "
            "stochthermo.exact.moments for its exact moments, or learn(..., method='shuffle')")
    model.check_stable_map()
    d, r = model.dim, model.lr
    P = model.update_matrix()
    ds = P.shape[0]
    theta = model.theta_star
    c = np.concatenate([theta, theta]) if ds != d else theta
    b = c - P @ c
    Q = np.zeros((ds, d))
    Q[:d] = r * psd_sqrt(model.noise_cov)
    heat = wants_heat(s.obs)
    lang = model.to_langevin()
    labels = np.arange(d, dtype=np.int64)
    W = np.zeros((0, 0))  # read only with heat
    if heat:
        W, labels = heat_weight(lang.D, lang.blocks, lang.temperatures)
    common: dict[str, Any] = dict(dsave=d, m=d, h=r, n_blocks=d, temps=lang.temperatures,
                                  heat_on=heat, work_on=False)
    if (model.momentum == 0.0 and not s.currents and is_diag(model.hessian)
            and is_diag(model.noise_cov)):
        gd = -np.diag(W) * np.diag(lang.A) if heat else np.zeros(0)
        g = -gd * theta if heat else np.zeros(0)
        return DiagonalPlan(ds=d, p=np.diag(P).copy(), b=b.copy(), q=np.diag(Q).copy(), gd=gd,
                            g=g, labels=labels, **common)
    G, g = empty3(), np.zeros((0, 0))
    if heat:
        G = np.zeros((1, d, ds))
        G[0, :, :d] = -(W @ lang.A)
        g = (W @ lang.A @ theta)[None]
    return AffinePlan(ds=ds, currents=_pad_currents(s.currents, d, ds), P=P[None], b=b[None],
                      Q=Q[None], G=G, g=g, labels=labels, wk=np.zeros((0, ds)), **common)


def _pad_currents(currents: tuple, d: int, ds: int) -> tuple:
    """Currents of ``theta`` as currents of the augmented state (zero on ``theta_{n-1}``)."""
    out = []
    for W_c, b_c in currents:
        Wp = np.zeros((ds, ds))
        Wp[:d, :d] = W_c
        bp = np.zeros(ds)
        bp[:d] = b_c
        out.append((Wp, bp))
    return tuple(out)


def _sgd_stationary(model: LinearizedSGD) -> tuple[np.ndarray, np.ndarray]:
    from .. import exact

    C = exact.stationary_covariance(model, augmented=True)
    return np.concatenate([model.theta_star] * (C.shape[0] // model.dim)), C


# --------------------------------------------------------------------------- driven trap


def _trap_steps(model: DrivenTrap, s: Setup, sc, cs):
    """Per-step ``P, b, Q`` of the trap for ``s.method`` (scale ``sc``, centre ``cs``)."""
    d, h, K, T = model.dim, s.h, model.stiffness, model.temperature
    eye = np.eye(d)
    sq = math.sqrt(2.0 * T * h)
    if s.method == "euler":
        A = sc[:-1, None, None] * K
        return eye - h * A, h * np.einsum("nij,nj->ni", A, cs[:-1]), (sq * eye)[None]
    if s.method == "heun":
        A0 = sc[:-1, None, None] * K
        A1 = sc[1:, None, None] * K
        A10 = A1 @ A0
        P = eye - 0.5 * h * (A0 + A1) + 0.5 * h * h * A10
        b = (0.5 * h * (np.einsum("nij,nj->ni", A0, cs[:-1]) + np.einsum("nij,nj->ni", A1, cs[1:]))
             - 0.5 * h * h * np.einsum("nij,nj->ni", A10, cs[:-1]))
        return P, b, sq * (eye - 0.5 * h * A1)
    lam, V = np.linalg.eigh(K)
    e = np.exp(-np.outer(sc[:-1], lam) * h)  # (n, d)
    P = np.einsum("ik,nk,jk->nij", V, e, V)
    var = T / (sc[:-1, None] * lam) * -np.expm1(-2.0 * np.outer(sc[:-1], lam) * h)
    Q = np.einsum("ik,nk,jk->nij", V, np.sqrt(var), V)
    return P, cs[:-1] - np.einsum("nij,nj->ni", P, cs[:-1]), Q


def _trap_work(model: DrivenTrap, sc, cs):
    """Work weights ``WK, wk, w0`` of each step: ``1/2 x'^T WK x' + wk . x' + w0``."""
    K = model.stiffness
    Kc = cs @ K  # (n+1, d), K symmetric
    sKc = sc[:, None] * Kc
    wk = -(sKc[1:] - sKc[:-1])
    quad = sc * np.einsum("ni,ni->n", cs, Kc)
    w0 = 0.5 * (quad[1:] - quad[:-1])
    WK = ((sc[1:] - sc[:-1])[:, None, None] * K) if model.moving_stiffness \
        else empty3(0, model.dim, model.dim)
    return WK, wk, w0


def trap_plan(model: DrivenTrap, s: Setup) -> Plan:
    """Time-dependent affine weights of a trap moved by its protocol (steps of this run)."""
    d, K = model.dim, model.stiffness
    times = (s.step0 + np.arange(s.n_steps + 1)) * s.h
    sc, cs = model.scale_at(times), model.centre_at(times)
    const = not (model.moving_centre or model.moving_stiffness)
    P, b, Q = _trap_steps(model, s, sc, cs)
    if not model.moving_stiffness:
        P, Q = P[:1], Q[:1]
    if const:
        b = b[:1]
    heat = wants_heat(s.obs)
    G, g = empty3(), np.zeros((0, 0))
    if heat:
        G = -sc[:-1, None, None] * K
        g = sc[:-1, None] * (cs[:-1] @ K)
        G = G if model.moving_stiffness else G[:1]
        g = g[:1] if const else g
    work = "work" in s.obs
    WK, wk, w0 = _trap_work(model, sc, cs) if work else (empty3(), np.zeros((0, d)),
                                                         np.zeros(0))
    return AffinePlan(ds=d, dsave=d, m=d, h=s.h, n_blocks=1, temps=np.array([model.temperature]),
                      heat_on=heat, work_on=work, currents=tuple(s.currents), P=P, b=b, Q=Q,
                      G=G, g=g, labels=np.zeros(d, dtype=np.int64), WK=WK, wk=wk, w0=w0,
                      time_arrays=("P", "b", "Q", "G", "g", "WK", "wk", "w0"))


# --------------------------------------------------------------------------- nonlinear


def _work_potential(model: NonlinearLangevin, obs: tuple) -> tuple[bool, Any]:
    """``(work asked for, the potential the kernel calls)``; work needs the model's potential."""
    from ..models.nonlinear import _builtin_functions

    work = "work" in obs
    if work and model._kernel_potential is None:
        raise ValidationError(
            "observables contains 'work', but the model has no potential; pass "
            "potential=U(x, t) to NonlinearLangevin so that work U(x, t') - U(x, t) is defined"
        )
    return work, model._kernel_potential or _builtin_functions()["no_potential"]


def nonlinear_plan(model: NonlinearLangevin, s: Setup) -> Plan:
    """Euler or Heun with the model's compiled drift (and potential, for work)."""
    from ..models.nonlinear import _builtin_functions, _n_args

    d = _built(model, "dim", model.dim)
    if s.method == "exact":
        raise ValidationError(
            "method='exact' needs a linear model (the exact OU transition); for a "
            "NonlinearLangevin use method='euler' or 'heun'"
        )
    work, potential = _work_potential(model, s.obs)
    heat = wants_heat(s.obs)
    G, labels = (heat_weight(model.D, model.blocks, model.temperatures) if heat
                 else (np.zeros((0, 0)), np.zeros(d, dtype=np.int64)))
    diag_noise = is_diag(model.D)
    L = np.diag(np.sqrt(2.0 * np.diag(model.D))) if diag_noise else psd_sqrt(2.0 * model.D)
    return NonlinearPlan(
        ds=d, dsave=d, m=L.shape[1], h=s.h, n_blocks=model.n_blocks, temps=model.temperatures,
        heat_on=heat, work_on=work, currents=tuple(s.currents), drift=model._kernel_drift,
        potential=potential, params=model.params, time_dependent=model.time_dependent,
        method_code=0 if s.method == "euler" else 1, L=np.ascontiguousarray(L),
        diag_noise=diag_noise, G=G, labels=labels,
        builtin="double_well" if model._kernel_drift is _builtin_functions()[
            "double_well_drift"] else "", user_drift=model.drift, drift_args=_n_args(model.drift))


# --------------------------------------------------------------------------- multiplicative

#: Methods for a state-dependent diagonal diffusion, with their (strong, weak) orders;
#: Milstein's strong order 1 needs diagonal noise (each ``D_ii`` a function of ``x_i`` only)
MULTIPLICATIVE_METHODS = {"euler": (0.5, 1.0), "milstein": (1.0, 1.0)}


@dataclass(frozen=True, eq=False)
class MultiplicativePlan(Plan):
    """Euler or Milstein steps of ``dx_i = F_i dt + sqrt(2 D_i(x)) dW_i`` (``multiplicative_sde``).

    Heat per block uses the force ``T_i (F - dD_i/dx_i) / D_i`` (``tv``: the temperature of
    each coordinate's block); see ``theory/simulation.md`` [SIM-multiplicative].
    """

    drift: Any = None
    diffusion: Any = None
    derivative: Any = None
    potential: Any = None
    params: np.ndarray = field(default_factory=lambda: np.zeros(0))
    time_dependent: bool = False
    method_code: int = 0  # 0 Euler, 1 Milstein
    stratonovich: bool = False
    tv: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    kernel: ClassVar[str] = "mult"

    def advance(self, buf: Buffers, done: int, n: int) -> None:
        from ..kernels._sim_multiplicative import multiplicative_sde

        n_traj = buf.x.shape[0]
        bad_step = np.full(n_traj, -1, dtype=np.int64)
        bad_x = np.zeros((n_traj, self.ds))
        bad_val = np.zeros((n_traj, 2))
        CW, cb = self.current_weights()
        has_deriv = self.derivative is not None
        codes = (self.method_code, self.stratonovich, has_deriv, self.time_dependent)
        obs = (self.tv, self.labels, self.heat_columns, self.heat_on, self.work_on, CW, cb)
        multiplicative_sde(self.drift, self.diffusion,
                           self.derivative if has_deriv else self.diffusion, self.potential,
                           self.params, self.h, codes, buf.steps(done, n), buf.stream(done, n),
                           obs, *buf.written, bad_step, bad_x, bad_val)
        if np.any(bad_step >= 0):
            self._raise_bad(buf, done, n, bad_step, bad_x, bad_val)

    def _raise_bad(self, buf: Buffers, done: int, n: int, bad_step: np.ndarray,
                   bad_x: np.ndarray, bad_val: np.ndarray) -> None:
        k = int(np.argmin(np.where(bad_step >= 0, bad_step, np.iinfo(np.int64).max)))
        step = int(bad_step[k])
        i, v = int(bad_val[k, 0]), float(bad_val[k, 1])
        need = "> 0 (heat and medium entropy divide by D)" if self.heat_on else ">= 0"
        state = np.array2string(bad_x[k], precision=6, threshold=8)
        raise SimulationError(
            f"diffusion returned D[{i}] = {v!r} at x = {state}, t = {step * self.h:.6g} "
            f"(step {step}, trajectory {k}); diffusion(x, t, out) must write a diagonal of "
            f"D(x) that is finite and {need} at every state the scheme visits. Keep D "
            "positive there (e.g. a floor, or a drift that keeps the state inside the domain), "
            "or lower dt. partial['x'] holds the states saved so far (NaN where nothing was "
            "written)",
            step=step, trajectory=k,
            partial={"x": buf.out_x, "observables": buf.out_obs, "bad_step": bad_step,
                     "bad_state": bad_x, "steps_done": done},
        )


def multiplicative_plan(model: StateDependentLangevin, s: Setup) -> Plan:
    """Euler or Milstein with the model's compiled drift, diffusion and derivative."""
    d = _built(model, "dim", model.dim)
    work, potential = _work_potential(model, s.obs)
    heat = wants_heat(s.obs)
    tv, labels = _temps_per_coord(model.blocks, model.temperatures, d)
    return MultiplicativePlan(
        ds=d, dsave=d, m=d, h=s.h, n_blocks=model.n_blocks, temps=model.temperatures,
        heat_on=heat, work_on=work, currents=tuple(s.currents), drift=model._kernel_drift,
        diffusion=model._kernel_diffusion, derivative=model._kernel_derivative,
        potential=potential, params=model.params, time_dependent=model.time_dependent,
        method_code=0 if s.method == "euler" else 1,
        stratonovich=model.convention == "stratonovich", tv=tv, labels=labels)


# --------------------------------------------------------------------------- the table

register_plan(LinearLangevin, Family(build=linear_plan, start=lambda m: m.x_star,
                                     stationary=_linear_stationary))
register_plan(LinearizedSGD, Family(build=sgd_plan, start=lambda m: m.theta_star,
                                    stationary=_sgd_stationary, discrete=True))
register_plan(DrivenTrap, Family(build=trap_plan, start=lambda m: m.centre_at([0.0])[0],
                                 step_floats=lambda m: 4 * m.dim * (m.dim + 1) + 4))
register_plan(NonlinearLangevin, Family(build=nonlinear_plan,
                                        start=lambda m: np.zeros(m.dim)))
register_plan(StateDependentLangevin, Family(build=multiplicative_plan,
                                             start=lambda m: np.zeros(m.dim),
                                             methods=MULTIPLICATIVE_METHODS))
register_plan(MarkovJump, Family(build=jump_plan, start=jump_start, methods=JUMP_METHODS))
