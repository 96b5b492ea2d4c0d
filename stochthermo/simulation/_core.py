r"""Ensembles of Langevin and SGD trajectories, with thermodynamics accumulated along each path.

One entry point, :func:`simulate`, returns an :class:`~stochthermo.Ensemble`. The heavy lifting
is done by Numba kernels in ``stochthermo.kernels`` (affine updates for every linear model,
a first-class-function kernel for user drifts); this module validates, seeds, builds the
update matrices and wraps the result. Derivations: ``theory/simulation.md``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._optional import require
from .._rng import seed_repr, trajectory_seeds
from .._validation import (
    as_float_array,
    as_square_matrix,
    as_vector,
    choose_method,
    positive_float,
    positive_int,
    short_repr,
)
from ..ensemble import Ensemble
from ..errors import ModelError, ShapeError, SimulationError, ValidationError
from ..models.linear import LinearizedSGD, LinearLangevin
from ..models.nonlinear import DrivenTrap, NonlinearLangevin

__all__ = ["run_local", "LinearCurrent", "METHODS", "standard_normals"]

#: Integration methods of continuous-time models, with their (strong, weak) orders for
#: additive noise. ``exact`` applies to linear models only.
METHODS = {"euler": (1.0, 1.0), "heun": (1.0, 2.0), "exact": (math.inf, math.inf)}
_SGD_METHODS = {"sgd": "sgd", "exact": "sgd"}
_BUILTIN_OBS = ("heat", "work", "medium_entropy")


@dataclass(frozen=True)
class LinearCurrent:
    r"""A time-integrated current :math:`J = \int (W x + b) \circ dx` (Stratonovich).

    Parameters
    ----------
    name : str
        Key of the result in ``Ensemble.observables``.
    weight : array_like, shape (d, d), optional
        ``W`` (default 0).
    offset : array_like, shape (d,), optional
        ``b`` (default 0). ``weight=None, offset=e_i`` gives the displacement of coordinate i;
        ``W = [[0, -1], [1, 0]]`` gives twice the area swept (angular momentum-like current).

    Notes
    -----
    Discretised as :math:`\sum_n (W \bar x_n + b) \cdot (x_{n+1} - x_n)` with the midpoint
    :math:`\bar x_n`, which is exact Stratonovich calculus for a linear weight.
    """

    name: str
    weight: Any = None
    offset: Any = None

    def arrays(self, d: int):
        """``(W, b)`` as float arrays of shapes ``(d, d)`` and ``(d,)``."""
        W = np.zeros((d, d)) if self.weight is None else as_square_matrix(
            f"LinearCurrent({self.name!r}).weight", self.weight, dim=d)
        b = np.zeros(d) if self.offset is None else as_vector(
            f"LinearCurrent({self.name!r}).offset", self.offset, d)
        return W, b


# --------------------------------------------------------------------------- random numbers


@functools.lru_cache(maxsize=1)
def _ziggurat_table(n_layers: int = 256) -> np.ndarray:
    """Tables of a 256-layer ziggurat for exp(-x^2/2) (see ``kernels/_random.py``)."""
    from scipy.special import erfc

    def f(x):
        return math.exp(-0.5 * x * x)

    def area(r):
        return r * f(r) + math.sqrt(math.pi / 2.0) * erfc(r / math.sqrt(2.0))

    def resid(r):
        v, x = area(r), r
        for _ in range(1, n_layers - 1):
            a = f(x) + v / x
            if a >= 1.0:
                return 1.0
            x = math.sqrt(-2.0 * math.log(a))
        return f(x) + v / x - 1.0

    lo, hi = 2.0, 5.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if resid(mid) > 0:
            lo = mid
        else:
            hi = mid
    r = hi
    v = area(r)
    x = np.empty(n_layers + 1)
    x[0], x[1] = v / f(r), r
    for i in range(1, n_layers - 1):
        x[i + 1] = math.sqrt(-2.0 * math.log(f(x[i]) + v / x[i]))
    x[n_layers] = 0.0
    tab = np.zeros((3, n_layers + 1))
    tab[0] = x
    tab[1, :n_layers] = x[1:] / x[:n_layers]
    tab[2] = np.exp(-0.5 * x * x)
    tab.setflags(write=False)
    return tab


def standard_normals(seed, n_traj: int, n: int, *, counters=None) -> np.ndarray:
    """Draw ``n`` standard normals for each of ``n_traj`` trajectory streams.

    The same streams the simulation kernels use: ``standard_normals(seed, K, n)[k]`` are the
    first ``n`` variates of trajectory ``k`` of ``simulate(..., seed=seed)``.

    Parameters
    ----------
    seed : int, Generator, SeedSequence or None
    n_traj, n : int
    counters : numpy.ndarray of uint64, optional
        Stream positions to start from (advanced in place).

    Returns
    -------
    numpy.ndarray, shape (n_traj, n)
    """
    from ..kernels._random import fill_normals

    n_traj = positive_int("n_traj", n_traj)
    n = positive_int("n", n)
    seeds = trajectory_seeds(seed, n_traj)
    ctr = np.zeros(n_traj, dtype=np.uint64) if counters is None else counters
    out = np.empty((n_traj, n))
    fill_normals(seeds, ctr, _ziggurat_table(), out)
    return out


# --------------------------------------------------------------------------- linear algebra


def _psd_sqrt(S: np.ndarray) -> np.ndarray:
    """Symmetric square root ``L = L^T``, ``L L^T = S``, of a symmetric PSD ``S`` (eigh, robust)."""
    S = 0.5 * (S + S.T)
    w, V = np.linalg.eigh(S)
    w = np.clip(w, 0.0, None)
    return (V * np.sqrt(w)) @ V.T


def _is_diag(M: np.ndarray) -> bool:
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


def _heat_weight(D, blocks, temps, what="heat"):
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


# --------------------------------------------------------------------------- plans


@dataclass
class _Plan:
    kind: str  # "diag", "dense" or "nl"
    ds: int  # state dimension used by the kernel
    dsave: int  # saved dimension
    m: int  # noise dimension
    h: float  # time per step (lr for SGD)
    arrays: dict
    n_blocks: int
    temps: np.ndarray
    work_on: bool
    heat_on: bool
    currents: list
    time_arrays: tuple = ()  # names of per-step arrays (sliced by chunk)


def _empty3(a=0, b=0, c=0):
    return np.zeros((a, b, c))


def _linear_time_invariant(A, c, D, h, method):
    """``P, b, Q`` ((d,d), (d,), (d,m)) of one step of ``dx = -A (x - c) dt + sqrt(2D) dW``."""
    d = A.shape[0]
    eye = np.eye(d)
    L = _psd_sqrt(2.0 * D)
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
        Q = _psd_sqrt(C - P @ C @ P.T)
    b = c - P @ c
    return P, b, Q


def _linear_diag(a, c, Dd, h, method):
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


def _plan_linear(model: LinearLangevin, h, method, obs, currents, force_dense=False):
    d = model.dim
    want_heat = "heat" in obs or "medium_entropy" in obs
    if "work" in obs:
        raise ValidationError(
            "observables contains 'work', but a LinearLangevin has no protocol (work is 0); "
            "use DrivenTrap for a trap moved by a schedule, or a NonlinearLangevin with a "
            "time-dependent potential"
        )
    A, D, c = model.A, model.D, model.x_star
    diag = (not force_dense and not currents and _is_diag(A) and _is_diag(D))
    n_blocks = model.n_blocks
    if want_heat:
        W, labels = _heat_weight(D, model.blocks, model.temperatures)
    else:
        labels = np.zeros(d, dtype=np.int64)
    if diag:
        a, Dd = np.diag(A).copy(), np.diag(D).copy()
        p, b, q = _linear_diag(a, c, Dd, h, method)
        if want_heat:
            gd = -np.diag(W) * a
            g = -gd * c
        else:
            gd = g = np.zeros(0)
        arrays = dict(p=p, b=b, q=q, gd=gd, g=g, labels=labels)
        return _Plan("diag", d, d, d, h, arrays, n_blocks, model.temperatures, False,
                     want_heat, [])
    P, b, Q = _linear_time_invariant(A, c, D, h, method)
    if want_heat:
        G = -(W @ A)[None]
        g = (W @ A @ c)[None]
    else:
        G, g = _empty3(), np.zeros((0, 0))
    arrays = dict(P=P[None], b=b[None], Q=Q[None], G=G, g=g, labels=labels,
                  WK=_empty3(), wk=np.zeros((0, d)), w0=np.zeros(0))
    return _Plan("dense", d, d, Q.shape[1], h, arrays, n_blocks, model.temperatures, False,
                 want_heat, currents)


def _plan_sgd(model: LinearizedSGD, obs, currents):
    d = model.dim
    r = model.lr
    beta = model.momentum
    if "work" in obs:
        raise ValidationError(
            "observables contains 'work', but LinearizedSGD has no protocol; the data and "
            "optimizer act as a bath (use 'heat' for the parameter heat)"
        )
    P = model.update_matrix()
    ds = P.shape[0]
    theta = model.theta_star
    c = np.concatenate([theta, theta]) if ds != d else theta
    b = c - P @ c
    Q = np.zeros((ds, d))
    Q[:d] = r * _psd_sqrt(model.noise_cov)
    want_heat = "heat" in obs or "medium_entropy" in obs
    lang = model.to_langevin()
    labels = np.arange(d, dtype=np.int64)
    temps = lang.temperatures
    if want_heat:
        W, labels = _heat_weight(lang.D, lang.blocks, temps)
    diag = beta == 0.0 and not currents and _is_diag(model.hessian) and _is_diag(model.noise_cov)
    if diag:
        if want_heat:
            a = np.diag(lang.A)
            gd = -np.diag(W) * a
            g = -gd * theta
        else:
            gd = g = np.zeros(0)
        arrays = dict(p=np.diag(P).copy(), b=b.copy(), q=np.diag(Q).copy(), gd=gd, g=g,
                      labels=labels)
        return _Plan("diag", d, d, d, r, arrays, d, temps, False, want_heat, [])
    if want_heat:
        G = np.zeros((1, d, ds))
        G[0, :, :d] = -(W @ lang.A)
        g = (W @ lang.A @ theta)[None]
    else:
        G, g = _empty3(), np.zeros((0, 0))
    cur = []
    for W_c, b_c in currents:
        Wp = np.zeros((ds, ds))
        Wp[:d, :d] = W_c
        bp = np.zeros(ds)
        bp[:d] = b_c
        cur.append((Wp, bp))
    arrays = dict(P=P[None], b=b[None], Q=Q[None], G=G, g=g, labels=labels,
                  WK=_empty3(), wk=np.zeros((0, ds)), w0=np.zeros(0))
    return _Plan("dense", ds, d, d, r, arrays, d, temps, False, want_heat, cur)


def _plan_trap(model: DrivenTrap, h, method, obs, currents, step0, n):
    d = model.dim
    K = model.stiffness
    T = model.temperature
    times = (step0 + np.arange(n + 1)) * h
    s = model.scale_at(times)
    cs = model.centre_at(times)
    const = not (model.moving_centre or model.moving_stiffness)
    eye = np.eye(d)
    sq = math.sqrt(2.0 * T * h)
    if method == "euler":
        A = s[:-1, None, None] * K
        P = eye - h * A
        b = h * np.einsum("nij,nj->ni", A, cs[:-1])
        Q = (sq * eye)[None]
    elif method == "heun":
        A0 = s[:-1, None, None] * K
        A1 = s[1:, None, None] * K
        A10 = A1 @ A0
        P = eye - 0.5 * h * (A0 + A1) + 0.5 * h * h * A10
        b = (0.5 * h * (np.einsum("nij,nj->ni", A0, cs[:-1]) + np.einsum("nij,nj->ni", A1, cs[1:]))
             - 0.5 * h * h * np.einsum("nij,nj->ni", A10, cs[:-1]))
        Q = sq * (eye - 0.5 * h * A1)
    else:
        lam, V = np.linalg.eigh(K)
        e = np.exp(-np.outer(s[:-1], lam) * h)  # (n, d)
        P = np.einsum("ik,nk,jk->nij", V, e, V)
        var = T / (s[:-1, None] * lam) * -np.expm1(-2.0 * np.outer(s[:-1], lam) * h)
        Q = np.einsum("ik,nk,jk->nij", V, np.sqrt(var), V)
        b = cs[:-1] - np.einsum("nij,nj->ni", P, cs[:-1])
    if not model.moving_stiffness:
        P = P[:1]
        Q = Q[:1]
    if const:
        b = b[:1]
    want_heat = "heat" in obs or "medium_entropy" in obs
    if want_heat:
        G = -s[:-1, None, None] * K
        g = s[:-1, None] * (cs[:-1] @ K)
        if not model.moving_stiffness:
            G = G[:1]
        if const:
            g = g[:1]
    else:
        G, g = _empty3(), np.zeros((0, 0))
    work_on = "work" in obs
    if work_on:
        Kc = cs @ K  # (n+1, d), K symmetric
        sKc = s[:, None] * Kc
        wk = -(sKc[1:] - sKc[:-1])
        quad = s * np.einsum("ni,ni->n", cs, Kc)
        w0 = 0.5 * (quad[1:] - quad[:-1])
        WK = ((s[1:] - s[:-1])[:, None, None] * K) if model.moving_stiffness else _empty3(0, d, d)
    else:
        WK, wk, w0 = _empty3(), np.zeros((0, d)), np.zeros(0)
    arrays = dict(P=P, b=b, Q=Q, G=G, g=g, labels=np.zeros(d, dtype=np.int64), WK=WK, wk=wk,
                  w0=w0)
    return _Plan("dense", d, d, d, h, arrays, 1, np.array([T]), work_on, want_heat, currents,
                 time_arrays=("P", "b", "Q", "G", "g", "WK", "wk", "w0"))


def _plan_nonlinear(model: NonlinearLangevin, h, method, obs, currents):
    d = model.dim
    if method == "exact":
        raise ValidationError(
            "method='exact' needs a linear model (the exact OU transition); for a "
            "NonlinearLangevin use method='euler' or 'heun'"
        )
    work_on = "work" in obs
    if work_on and model._kernel_potential is None:
        raise ValidationError(
            "observables contains 'work', but the model has no potential; pass "
            "potential=U(x, t) to NonlinearLangevin so that work U(x, t') - U(x, t) is defined"
        )
    want_heat = "heat" in obs or "medium_entropy" in obs
    if want_heat:
        G, labels = _heat_weight(model.D, model.blocks, model.temperatures)
    else:
        G, labels = np.zeros((0, 0)), np.zeros(d, dtype=np.int64)
    L = _psd_sqrt(2.0 * model.D)
    diag_noise = _is_diag(model.D)
    if diag_noise:
        L = np.diag(np.sqrt(2.0 * np.diag(model.D)))
    arrays = dict(L=np.ascontiguousarray(L), diag_noise=diag_noise, G=G, labels=labels,
                  method=0 if method == "euler" else 1)
    return _Plan("nl", d, d, L.shape[1], h, arrays, model.n_blocks, model.temperatures,
                 work_on, want_heat, currents)


# --------------------------------------------------------------------------- helpers


def _parse_observables(observables, d):
    if isinstance(observables, (str, LinearCurrent)):
        observables = (observables,)
    try:
        items = list(observables)
    except TypeError:
        raise ValidationError(
            f"observables={short_repr(observables)} must be a sequence of names "
            f"({', '.join(map(repr, _BUILTIN_OBS))}) and LinearCurrent objects"
        ) from None
    names, currents, cur_names = [], [], []
    for it in items:
        if isinstance(it, str):
            if it not in _BUILTIN_OBS:
                raise ValidationError(
                    f"unknown observable {it!r}; valid names are "
                    f"{', '.join(map(repr, _BUILTIN_OBS))}, or pass a LinearCurrent"
                )
            if it not in names:
                names.append(it)
        elif isinstance(it, LinearCurrent):
            if it.name in _BUILTIN_OBS or it.name in cur_names:
                raise ValidationError(
                    f"LinearCurrent name {it.name!r} is taken; give every current its own name"
                )
            cur_names.append(it.name)
            currents.append(it.arrays(d))
        else:
            raise ValidationError(
                f"observables item {short_repr(it)} is neither a name nor a LinearCurrent"
            )
    return tuple(names), currents, tuple(cur_names)


def _initial_state(model, x0, n_traj, plan, seeds, counters, kind):
    d = model.dim
    ds = plan.ds
    if isinstance(x0, str):
        if x0 != "stationary":
            raise ValidationError(f"x0={x0!r}: the only named start is 'stationary'")
        if kind not in ("linear", "sgd"):
            raise ValidationError(
                "x0='stationary' needs a linear model with a known stationary law "
                "(LinearLangevin or LinearizedSGD); pass an array instead"
            )
        from .. import exact
        from ..kernels._random import fill_normals

        if kind == "sgd":
            C = exact.stationary_covariance(model, augmented=True)
            centre = model.theta_star
        else:
            C = exact.stationary_covariance(model)
            centre = model.x_star
        centre = np.concatenate([centre] * (ds // d))
        L = _psd_sqrt(C)
        z = np.empty((n_traj, ds))
        fill_normals(seeds, counters, _ziggurat_table(), z)
        return centre + z @ L.T
    if x0 is None:
        if kind == "linear":
            base = model.x_star
        elif kind == "sgd":
            base = model.theta_star
        elif kind == "trap":
            base = model.centre_at([0.0])[0]
        else:
            base = np.zeros(d)
        x = np.broadcast_to(base, (n_traj, d)).copy()
    else:
        arr = as_float_array("x0", x0, ndim=(0, 1, 2))
        if arr.ndim == 0 and d == 1:
            arr = arr.reshape(1)
        if arr.ndim == 1:
            if arr.shape != (d,):
                raise ShapeError(
                    f"x0 has shape {arr.shape}, but the model has dimension {d}; pass shape "
                    f"({d},) for a common start or ({n_traj}, {d}) for one per trajectory"
                )
            x = np.broadcast_to(arr, (n_traj, d)).copy()
        elif arr.ndim == 2 and arr.shape == (n_traj, d):
            x = arr.copy()
        else:
            raise ShapeError(
                f"x0 has shape {arr.shape}; pass shape ({d},) for a common start or "
                f"({n_traj}, {d}) for one per trajectory"
            )
    if ds != d:  # SGD momentum: theta_{-1} = theta_0
        x = np.concatenate([x, x], axis=1)
    return np.ascontiguousarray(x)


def _check_resume(resume, model, kind):
    if not isinstance(resume, Ensemble):
        raise ValidationError(f"resume={short_repr(resume)} must be an Ensemble from simulate()")
    state = resume.meta.get("state")
    if state is None:
        raise ValidationError(
            "resume= needs an Ensemble returned by simulate() (its meta['state'] holds the "
            "random-stream positions); this one has none"
        )
    if resume.meta.get("model_type") != type(model).__name__ or resume.dim != model.dim:
        raise ValidationError(
            f"resume= comes from a {resume.meta.get('model_type')} of dimension {resume.dim}, "
            f"but model is a {type(model).__name__} of dimension {model.dim}; resume with the "
            "same model"
        )
    return state


# --------------------------------------------------------------------------- entry point


def run_local(model, *, n_traj=None, n_steps, dt=None, method=None, x0=None, save_every=1,
              seed=None, observables=(), progress=None, resume=None, _noise=None,
              _traj_offset=0):
    """:func:`~stochthermo.simulate` in this process (no chunks): the arguments are its own."""
    if isinstance(model, LinearizedSGD):
        kind = "sgd"
    elif isinstance(model, LinearLangevin):
        kind = "linear"
    elif isinstance(model, DrivenTrap):
        kind = "trap"
    elif isinstance(model, NonlinearLangevin):
        kind = "nl"
    else:
        raise ValidationError(
            f"model={short_repr(model)} is not a supported model; pass a LinearLangevin, "
            "LinearizedSGD, DrivenTrap or NonlinearLangevin"
        )
    state = _check_resume(resume, model, kind) if resume is not None else None
    if state is not None:
        if n_traj is None:
            n_traj = resume.n_traj
        if method is None:
            method = resume.meta["method"]
        if dt is None and kind != "sgd":
            dt = resume.dt
        if seed is not None:
            raise ValidationError(
                "seed= and resume= were both given; a resumed run continues the streams of "
                "the run it resumes, so leave seed out"
            )
    if n_traj is None:
        raise ValidationError("n_traj is required (the number of trajectories, >= 1)")
    n_traj = positive_int("n_traj", n_traj)
    n_steps = positive_int("n_steps", n_steps)
    save_every = positive_int("save_every", save_every)
    if n_steps % save_every:
        raise ValidationError(
            f"n_steps={n_steps} is not a multiple of save_every={save_every}; choose "
            f"n_steps={(n_steps // save_every + 1) * save_every} or another save_every"
        )
    if kind == "sgd":
        if dt is not None:
            raise ValidationError(
                f"dt={dt!r} was given, but a LinearizedSGD has no dt: one step is one SGD "
                f"update and time is t = lr * n (lr = {model.lr}); leave dt out"
            )
        method = choose_method("method", "sgd" if method is None else method, _SGD_METHODS)
        h = model.lr
    else:
        if dt is None:
            raise ValidationError("dt is required for a continuous-time model (a number > 0)")
        h = positive_float("dt", dt)
        method = "euler" if method is None else method
        choose_method("method", method, METHODS)
    obs, currents, cur_names = _parse_observables(observables, model.dim)
    if state is not None:
        if not obs and not currents:
            obs = tuple(state["observables"])
            cur_names = tuple(state["current_names"])
            currents = [tuple(wb) for wb in state["currents"]]
        if obs != tuple(state["observables"]) or cur_names != tuple(state["current_names"]):
            raise ValidationError(
                "observables differ from those of the resumed run "
                f"({state['observables']} + currents {state['current_names']}); pass the same "
                "ones or leave observables out"
            )
        if method != resume.meta["method"] or h != resume.dt:
            raise ValidationError(
                f"method={method!r}, dt={h!r} differ from the resumed run's "
                f"({resume.meta['method']!r}, {resume.dt!r}); a resumed run keeps both"
            )
        if resume.meta.get("save_every") != save_every:
            raise ValidationError(
                f"save_every={save_every} differs from the resumed run's "
                f"{resume.meta.get('save_every')}; pass save_every={resume.meta.get('save_every')}"
            )
        if n_traj != resume.n_traj:
            raise ValidationError(
                f"n_traj={n_traj} differs from the resumed run's {resume.n_traj}"
            )
        step0 = int(state["steps_done"])
    else:
        step0 = 0

    if kind == "linear":
        plan = _plan_linear(model, h, method, obs, currents)
    elif kind == "sgd":
        plan = _plan_sgd(model, obs, currents)
    elif kind == "trap":
        plan = _plan_trap(model, h, method, obs, currents, step0, n_steps)
    else:
        plan = _plan_nonlinear(model, h, method, obs, currents)

    zig = _ziggurat_table()
    if state is not None:
        seeds = np.array(state["seeds"], dtype=np.uint64)
        counters = np.array(state["counters"], dtype=np.uint64)
        if x0 is not None:
            raise ValidationError("x0= and resume= were both given; a resumed run starts "
                                  "where the resumed one stopped, so leave x0 out")
        x = np.array(state["x"], dtype=np.float64)
        acc = np.array(state["acc"], dtype=np.float64)
    else:
        seeds = trajectory_seeds(seed, n_traj, offset=_traj_offset)
        counters = np.zeros(n_traj, dtype=np.uint64)
        x = _initial_state(model, x0, n_traj, plan, seeds, counters, kind)
        n_obs = (plan.n_blocks if plan.heat_on else 0) + int(plan.work_on) + len(plan.currents)
        acc = np.zeros((n_traj, n_obs))
    n_obs = acc.shape[1]
    n_saved = n_steps // save_every + 1
    out_x = np.empty((n_traj, n_saved, plan.dsave))
    out_x[:, 0] = x[:, : plan.dsave]
    out_obs = np.empty((n_traj, n_saved, n_obs))
    out_obs[:, 0] = acc
    fail = np.full(n_traj, -1, dtype=np.int64)

    noise = np.zeros((0, 0, 0))
    if _noise is not None:
        noise = np.ascontiguousarray(_noise, dtype=np.float64)
        if noise.shape != (n_traj, n_steps, plan.m):
            raise ShapeError(f"_noise must have shape {(n_traj, n_steps, plan.m)}")

    if progress:
        tqdm = require("tqdm", "progress", "progress bars").tqdm
        per = max(1, n_steps // save_every // 100) * save_every
        bar = tqdm(total=n_steps, unit="step", desc=f"simulate[{method}]")
    else:
        per, bar = n_steps, None
    if _noise is not None:
        per = n_steps

    a = plan.arrays
    nb_k = plan.n_blocks if plan.heat_on else 0  # heat columns in the accumulator
    if plan.kind != "diag":
        CW = np.ascontiguousarray(np.array([w for w, _ in plan.currents]).reshape(
            len(plan.currents), plan.ds, plan.ds))
        cb = np.ascontiguousarray(np.array([b for _, b in plan.currents]).reshape(
            len(plan.currents), plan.ds))
    try:
        done = 0
        while done < n_steps:
            n = min(per, n_steps - done)
            slot0 = done // save_every + 1
            nz = noise[:, done:done + n] if noise.shape[0] else noise
            if plan.kind == "diag":
                from ..kernels._langevin import affine_diag

                affine_diag(x, a["p"], a["b"], a["q"], n, save_every, slot0, step0 + done,
                            seeds, counters, zig, nz, out_x, a["gd"], a["g"], a["labels"],
                            nb_k, acc, out_obs, fail)
            elif plan.kind == "dense":
                from ..kernels._langevin import affine_dense

                def sl(name, a=a, done=done, n=n):
                    arr = a[name]
                    if name in plan.time_arrays and arr.shape[0] > 1:
                        arr = arr[done:done + n]
                    return np.ascontiguousarray(arr)

                Qs = sl("Q")
                q_diag = Qs.shape[1] == Qs.shape[2] and all(_is_diag(q) for q in Qs)
                affine_dense(x, sl("P"), sl("b"), Qs, q_diag, n, save_every, slot0, step0 + done,
                             seeds, counters, zig, nz, out_x, sl("G"), sl("g"), a["labels"],
                             nb_k, plan.work_on, sl("WK"), sl("wk"), sl("w0"), CW, cb,
                             acc, out_obs, fail)
            else:
                from ..kernels._sim_nonlinear import nonlinear_sde
                from ..models.nonlinear import _builtin_functions

                pot = model._kernel_potential or _builtin_functions()["no_potential"]
                nonlinear_sde(model._kernel_drift, pot, model.params, x, h, a["method"], n,
                              save_every, slot0, step0 + done, a["L"],
                              a["diag_noise"], seeds, counters, zig, nz, out_x, a["G"],
                              a["labels"], nb_k, model.time_dependent, plan.work_on,
                              CW, cb, acc, out_obs, fail)
            if np.any(fail >= 0):
                k = int(np.argmin(np.where(fail >= 0, fail, np.iinfo(np.int64).max)))
                raise SimulationError(
                    f"trajectory {k} left the finite numbers (inf/NaN) at step {int(fail[k])} "
                    f"(t = {fail[k] * h:.6g}) with method={method!r}, dt={h!r}; the scheme is "
                    "unstable at this step size or the drift blows up: lower dt, use "
                    "method='exact' for a linear model, or check the drift",
                    step=int(fail[k]), trajectory=k,
                    partial={"x": out_x, "fail_step": fail.copy()},
                )
            done += n
            if bar is not None:
                bar.update(n)
    finally:
        if bar is not None:
            bar.close()

    t = (step0 + save_every * np.arange(n_saved)) * h
    out = {}
    col = 0
    if plan.heat_on:
        heat = out_obs[:, :, : plan.n_blocks]
        col = plan.n_blocks
        if "heat" in obs:
            out["heat"] = np.ascontiguousarray(heat)
        if "medium_entropy" in obs:
            out["medium_entropy"] = heat @ (1.0 / plan.temps)
    if plan.work_on:
        out["work"] = out_obs[:, :, col].copy()
        col += 1
    for i, name in enumerate(cur_names):
        out[name] = out_obs[:, :, col + i].copy()

    import numba

    from .. import __version__

    meta = {
        "method": method,
        "model_type": type(model).__name__,
        "model": repr(model),
        "seed": seed_repr(seed) if state is None else resume.meta.get("seed"),
        "kernel": plan.kind,
        "save_every": save_every,
        "step0": step0,
        "time_unit": "lr * step" if kind == "sgd" else "dt * step",
        "versions": {"stochthermo": __version__, "numpy": np.__version__,
                     "numba": numba.__version__},
        "state": {
            "x": x.copy(), "acc": acc.copy(), "seeds": seeds.copy(),
            "counters": counters.copy(), "steps_done": step0 + n_steps,
            "observables": obs, "current_names": cur_names,
            "currents": [(w.copy(), b.copy()) for w, b in currents],
        },
    }
    return Ensemble(x=out_x, t=t, dt=h, observables=out, meta=meta)

