r"""Ensembles of Markov jump trajectories (Gillespie), with thermodynamics along each path.

:func:`simulate_jump` validates, turns ``seed`` into one counter-based stream per trajectory
(``stochthermo._rng``), builds the edge tables of the model, runs the Numba kernel
``stochthermo.kernels._gillespie.gillespie`` and wraps the result in a :class:`JumpEnsemble`.
Derivations: ``theory/jump.md`` [JP-gill], [JP-stoch].
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._frozen import settle
from ._progress import progress_bar
from ._rng import seed_repr, trajectory_seeds
from ._validation import positive_float, positive_int, short_repr
from .errors import ModelError, ResourceError, ShapeError, ValidationError
from .models.jump import BipartiteJump, MarkovJump
from .results import _freeze

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._typing import ArrayLike, ProgressLike, SeedLike

__all__ = ["JumpEnsemble", "simulate_jump", "OBSERVABLES"]

#: Observables accumulated along each path (all cumulative over ``[0, t_max]``).
OBSERVABLES = ("entropy_flow", "information_flow", "residence", "n_jumps")

#: Refuse runs expected to need more jumps than this (about an hour on two cores).
MAX_EXPECTED_JUMPS = 5e10
#: Refuse outputs larger than this many bytes.
MAX_OUTPUT_BYTES = 4 * 2**30


@dataclass(frozen=True)
class JumpEnsemble:
    """An ensemble of jump trajectories.

    Attributes
    ----------
    states : numpy.ndarray of int64, shape (n_traj, n_time)
        Joint state index at each time of ``times`` (bipartite: ``x * ny + y``).
    times : numpy.ndarray, shape (n_time,)
        Regular sampling grid ``0, dt, ..., t_max``.
    counts : numpy.ndarray of int64, shape (n_traj, n_states, n_states)
        ``counts[k, i, j]``: number of jumps ``j -> i`` of trajectory ``k`` in ``[0, t_max]``.
    observables : Mapping[str, numpy.ndarray]
        Accumulated along each path over ``[0, t_max]``, first axis ``n_traj``:
        ``'entropy_flow'`` (n_traj, n_reservoirs), ``'information_flow'`` (n_traj, 2) for
        bipartite models (stochastic information flows into X and Y, reference law: the
        stationary one), ``'residence'`` (n_traj, n_states) time spent in each state,
        ``'n_jumps'`` (n_traj,).
    meta : Mapping
        ``t_max``, ``n_states``, ``nx``/``ny`` (bipartite) or None, seed, start, versions.
    """

    states: np.ndarray
    times: np.ndarray
    counts: np.ndarray
    observables: Any = field(default_factory=dict)
    meta: Any = field(default_factory=dict)

    def __post_init__(self):
        states = np.asarray(self.states)
        counts = np.asarray(self.counts)
        if states.ndim != 2 or states.dtype.kind not in "iu":
            raise ShapeError(f"states must be an integer array (n_traj, n_time), got "
                             f"{states.dtype} {states.shape}")
        if self.times is None or np.asarray(self.times).shape != (states.shape[1],):
            raise ShapeError(f"times must have shape ({states.shape[1]},)")
        n = counts.shape[-1] if counts.ndim == 3 else -1
        if counts.shape != (states.shape[0], n, n):
            raise ShapeError(f"counts must have shape (n_traj, n, n) with n_traj="
                             f"{states.shape[0]}, got {counts.shape}")
        for k, v in dict(self.observables or {}).items():
            if np.asarray(v).shape[:1] != (states.shape[0],):
                raise ShapeError(f"observable {k!r} must have first axis n_traj={states.shape[0]}")
        settle(self, observables=_freeze(self.observables), meta=_freeze(self.meta))

    @property
    def n_traj(self) -> int:
        """Number of trajectories."""
        return self.states.shape[0]

    @property
    def n_states(self) -> int:
        """Number of states of the model."""
        return self.counts.shape[1]

    @property
    def t_max(self) -> float:
        """Duration of every trajectory."""
        return float(self.meta["t_max"])

    def __repr__(self) -> str:
        return (f"JumpEnsemble(n_traj={self.n_traj}, n_time={self.states.shape[1]}, "
                f"n_states={self.n_states}, t_max={self.t_max:.6g}, "
                f"observables={sorted(self.observables)})")


def edge_tables(model: MarkovJump, reference=None):
    r"""CSR out-edge tables and per-edge observable increments of ``model``.

    Returns ``(ptr, targets, cumrates, edge_obs, obs_columns)``; ``edge_obs`` has one column
    per reservoir (entropy flow :math:`\ln W_{ij}/W_{ji}` of a jump ``j -> i``) and, for a
    bipartite model, two more: the stochastic information flow into X (x-jumps) and into Y
    [JP-stoch], computed with ``reference`` (default: the stationary distribution).
    """
    W = model.W
    n = model.n_states
    n_res = model.n_reservoirs
    bip = isinstance(model, BipartiteJump)
    if isinstance(model, BipartiteJump):
        from ._exact_jump import _stationary

        ny = model.ny
        p = _stationary(model) if reference is None else np.asarray(reference, dtype=np.float64)
        pg = p.reshape(model.nx, ny)
        lp = np.log(p)
        lpx = np.log(pg.sum(axis=1))
        lpy = np.log(pg.sum(axis=0))
    ptr = np.zeros(n + 1, dtype=np.int64)
    targets, cum, rows = [], [], []
    for j in range(n):
        dest = np.flatnonzero(W[:, j] > 0)
        ptr[j + 1] = ptr[j] + dest.size
        targets.append(dest)
        cum.append(np.cumsum(W[dest, j]))
        obs = np.zeros((dest.size, n_res + (2 if bip else 0)))
        lnw = np.log(W[dest, j]) - np.log(W[j, dest])
        obs[np.arange(dest.size), model.reservoirs[dest, j]] = lnw
        if bip:
            xj, yj = divmod(j, ny)
            xi, yi = np.divmod(dest, ny)
            is_x = yi == yj
            # ln p(y|x_new) - ln p(y|x_old) on x-jumps; ln p(x|y_new) - ln p(x|y_old) on y-jumps
            dlx = (lp[dest] - lpx[xi]) - (lp[j] - lpx[xj])
            dly = (lp[dest] - lpy[yi]) - (lp[j] - lpy[yj])
            obs[:, n_res] = np.where(is_x, dlx, 0.0)
            obs[:, n_res + 1] = np.where(is_x, 0.0, dly)
        rows.append(obs)
    cols = [f"entropy_flow[{r}]" for r in range(n_res)]
    if bip:
        cols += ["information_flow[x]", "information_flow[y]"]
    return (ptr, np.concatenate(targets).astype(np.int64), np.concatenate(cum),
            np.ascontiguousarray(np.concatenate(rows)), cols)


def _start(model: MarkovJump, x0, p0, n_traj):
    """(start indices with -1 = draw, cumulative p0, description) for the run."""
    n = model.n_states
    if x0 is not None and p0 is not None:
        raise ValidationError("give x0= (a state) or p0= (a distribution to draw from), not both")
    if p0 is not None:
        from ._exact_jump import _as_distribution

        dist = _as_distribution(model, p0, "p0", allow_stack=False)
        return np.full(n_traj, -1, dtype=np.int64), np.cumsum(dist), "p0"
    if x0 is None or (isinstance(x0, str) and x0 == "stationary"):
        from ._exact_jump import _stationary

        return np.full(n_traj, -1, dtype=np.int64), np.cumsum(_stationary(model)), "stationary"
    if isinstance(x0, str):
        raise ValidationError(f"x0={x0!r} is not understood; pass 'stationary', a state index, "
                              "an (x, y) pair for a bipartite model, or one index per trajectory")
    if isinstance(x0, tuple) and isinstance(model, BipartiteJump) and len(x0) == 2:
        x, y = x0
        if not (isinstance(x, numbers.Integral) and isinstance(y, numbers.Integral)
                and 0 <= int(x) < model.nx and 0 <= int(y) < model.ny):
            raise ValidationError(f"x0={x0!r} must be a pair (x, y) with 0 <= x < {model.nx} "
                                  f"and 0 <= y < {model.ny}")
        return np.full(n_traj, model.index(int(x), int(y)), dtype=np.int64), np.ones(n), f"{x0}"
    arr = np.asarray(x0)
    if arr.dtype.kind not in "iu" or arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != n_traj):
        raise ValidationError(
            f"x0={short_repr(x0)} must be a state index (int), 'stationary', an (x, y) pair, or "
            f"{n_traj} integer indices (one per trajectory); for a distribution use p0="
        )
    if np.any((arr < 0) | (arr >= n)):
        raise ValidationError(f"x0={short_repr(x0)} holds indices outside 0..{n - 1}")
    return (np.ascontiguousarray(np.broadcast_to(arr, (n_traj,)).astype(np.int64)), np.ones(n),
            "given")


def _grid(t_max, n_steps, dt):
    if t_max is not None and n_steps is not None and dt is not None:
        raise ValidationError("give t_max= (with optional dt= or n_steps=) or n_steps= with dt=, "
                              "not all three")
    if t_max is None:
        if n_steps is None or dt is None:
            raise ValidationError("give the duration: t_max=, or n_steps= and dt= "
                                  "(t_max = n_steps * dt)")
        n_steps = positive_int("n_steps", n_steps)
        dt = positive_float("dt", dt)
        return n_steps * dt, n_steps, dt
    t_max = positive_float("t_max", t_max)
    if dt is not None:
        dt = positive_float("dt", dt)
        n_steps = int(round(t_max / dt))
        if n_steps < 1 or abs(n_steps * dt - t_max) > 1e-9 * t_max:
            raise ValidationError(f"t_max={t_max!r} is not a whole number of dt={dt!r}; "
                                  f"choose dt = t_max / n for an integer n")
        return t_max, n_steps, dt
    n_steps = 100 if n_steps is None else positive_int("n_steps", n_steps)
    return t_max, n_steps, t_max / n_steps


def simulate_jump(model: Any, *, n_traj: int, t_max: float | None = None,
                  n_steps: int | None = None, dt: float | None = None, seed: SeedLike | None = None,
                  x0: ArrayLike | None = None, p0: ArrayLike | None = None,
                  observables: Sequence[str] = OBSERVABLES, chunk_size: int | None = None,
                  progress: ProgressLike = False, _traj_offset: int = 0) -> JumpEnsemble:
    r"""Simulate ``n_traj`` independent trajectories of a jump process (Gillespie).

    Parameters
    ----------
    model : MarkovJump or BipartiteJump
    n_traj : int
        Number of trajectories (>= 1).
    t_max : float, optional
        Duration of each trajectory. The states are sampled on ``n_steps + 1`` regular times
        from 0 to ``t_max`` (default ``n_steps = 100``, or spacing ``dt`` if given).
    n_steps, dt : int, float, optional
        Alternatively the grid: ``t_max = n_steps * dt``.
    seed : int, numpy.random.Generator, SeedSequence or None
        One independent counter-based stream per trajectory: the result is the same for any
        number of threads and any ``chunk_size``.
    x0 : int, (x, y), array of int (n_traj,) or 'stationary', optional
        Initial state(s). Default: drawn from the stationary distribution (each trajectory from
        its own stream).
    p0 : array_like, shape (n,) or (nx, ny), optional
        Initial distribution to draw from instead of ``x0``.
    observables : sequence of str, optional
        Subset of ``OBSERVABLES`` to keep (default all that exist for the model).
    chunk_size : int, optional
        Run the trajectories in chunks of this size (memory, progress); bit-identical.
    progress : bool or callable, optional
        A bar over trajectories: True for tqdm (extra ``progress``) or a tqdm-like factory
        (see :mod:`stochthermo._progress`).

    Returns
    -------
    JumpEnsemble

    Raises
    ------
    ValidationError
        Bad arguments (``n_traj < 1``, ``t_max <= 0``, unknown observable, bad start).
    ModelError
        ``'information_flow'`` asked of a model that is not bipartite.
    ResourceError
        The run would need more than ~5e10 jumps or more than 4 GiB of output.

    Notes
    -----
    Direct method [JP-gill]: waiting time :math:`\tau = -\ln u / r(s)`, next state ``i`` with
    probability :math:`W_{is} / r(s)`. Along each path the kernel adds
    :math:`\ln(W_{ij}/W_{ji})` to the entropy flow of the jump's reservoir and, for a bipartite
    model, :math:`\ln p(y|x_i) - \ln p(y|x_j)` to the information flow into X on each x-jump
    (into Y on y-jumps) [JP-stoch]; divided by ``t_max`` and averaged over a stationary
    ensemble, these estimate ``environment_entropy_flows`` and ``information_flows``.

    Examples
    --------
    >>> import stochthermo as st
    >>> m = st.BipartiteJump.sensor(w=1.0, a=4.0, b=0.5)
    >>> ens = st.simulate_jump(m, n_traj=4, t_max=10.0, seed=1)
    >>> ens.states.shape, ens.counts.shape
    ((4, 101), (4, 4, 4))
    """
    if not isinstance(model, MarkovJump):
        raise ValidationError(f"model={short_repr(model)} is not a jump model; pass a "
                              "MarkovJump or BipartiteJump (Langevin models: stochthermo.simulate)")
    n_traj = positive_int("n_traj", n_traj)
    t_max, n_steps, dt = _grid(t_max, n_steps, dt)
    bip = isinstance(model, BipartiteJump)
    obs = _jump_observables(observables, bip)
    n = model.n_states
    chunk = n_traj if chunk_size is None else min(positive_int("chunk_size", chunk_size), n_traj)
    _check_jump_size(model, n_traj, n_steps, t_max)
    start, p0cum, start_kind = _start(model, x0, p0, n_traj)
    ptr, targets, cumrates, edge_obs, cols = edge_tables(model)

    states = np.empty((n_traj, n_steps + 1), dtype=np.int64)
    counts = np.zeros((n_traj, n, n), dtype=np.int64)
    acc = np.zeros((n_traj, edge_obs.shape[1]))
    resid = np.zeros((n_traj, n))
    nj = np.zeros(n_traj, dtype=np.int64)

    from .kernels._gillespie import gillespie

    bar = progress_bar(progress, total=n_traj, desc="simulate_jump", unit="traj")
    if bar is not None:
        if chunk_size is None:
            chunk = max(1, n_traj // 20)
    try:
        for lo in range(0, n_traj, chunk):
            hi = min(lo + chunk, n_traj)
            seeds = trajectory_seeds(seed, hi - lo, offset=_traj_offset + lo)
            gillespie(start[lo:hi], p0cum, seeds, ptr, targets, cumrates, edge_obs, t_max, dt,
                      states[lo:hi], counts[lo:hi], acc[lo:hi], resid[lo:hi], nj[lo:hi])
            if bar is not None:
                bar.update(hi - lo)
    finally:
        if bar is not None:
            bar.close()

    n_res = model.n_reservoirs
    out = _jump_outputs(obs, acc, resid, nj, n_res)

    meta = _jump_meta(model, t_max, dt, start_kind, seed, _traj_offset)
    times = np.arange(n_steps + 1) * dt
    return JumpEnsemble(states=states, times=times, counts=counts, observables=out, meta=meta)



def _jump_observables(observables, bip):
    """Validated tuple of observable names.

    ``information_flow`` is dropped from the default set for a model that is not bipartite.
    """
    if isinstance(observables, str):
        observables = (observables,)
    try:
        obs = tuple(observables)
    except TypeError:
        raise ValidationError(f"observables={short_repr(observables)} must be a sequence of "
                              f"names among {OBSERVABLES}") from None
    for name in obs:
        if name not in OBSERVABLES:
            raise ValidationError(f"unknown observable {name!r}; valid choices are "
                                  f"{', '.join(map(repr, OBSERVABLES))}")
    if "information_flow" in obs and not bip:
        if observables is OBSERVABLES:
            obs = tuple(o for o in obs if o != "information_flow")
        else:
            raise ModelError("'information_flow' needs a bipartite model (BipartiteJump)")
    return obs


def _check_jump_size(model, n_traj, n_steps, t_max):
    """``ResourceError`` when the output or the expected number of jumps is too large."""
    n = model.n_states
    out_bytes = 8 * n_traj * (n_steps + 1 + n * n + n + 4 + model.n_reservoirs)
    if out_bytes > MAX_OUTPUT_BYTES:
        raise ResourceError(
            f"the output would take {out_bytes / 2**30:.1f} GiB (n_traj={n_traj}, n_steps="
            f"{n_steps}, {n} states: counts alone are n_traj * n^2); lower n_traj or n_steps, "
            "or run several smaller ensembles"
        )
    from ._exact_jump import _stationary

    mean_rate = float(_stationary(model) @ model.exit_rates)
    expected = n_traj * t_max * mean_rate
    if expected > MAX_EXPECTED_JUMPS:
        raise ResourceError(
            f"about {expected:.3g} jumps expected (n_traj * t_max * mean exit rate "
            f"{mean_rate:.3g}); at most {MAX_EXPECTED_JUMPS:.0e} per call. Lower t_max or n_traj"
        )


def _jump_outputs(obs, acc, resid, nj, n_res):
    """The requested per-trajectory observables from the kernel's accumulators."""
    out = {}
    if "entropy_flow" in obs:
        out["entropy_flow"] = np.ascontiguousarray(acc[:, :n_res])
    if "information_flow" in obs:
        out["information_flow"] = np.ascontiguousarray(acc[:, n_res:n_res + 2])
    if "residence" in obs:
        out["residence"] = resid
    if "n_jumps" in obs:
        out["n_jumps"] = nj
    return out


def _jump_meta(model, t_max, dt, start_kind, seed, traj_offset):
    """Provenance of a Gillespie ensemble."""
    bip = isinstance(model, BipartiteJump)
    n, n_res = model.n_states, model.n_reservoirs
    import numba

    from . import __version__

    meta = {
        "method": "gillespie",
        "model_type": type(model).__name__,
        "model": repr(model),
        "n_states": n,
        "nx": model.nx if bip else None,
        "ny": model.ny if bip else None,
        "n_reservoirs": n_res,
        "t_max": t_max,
        "dt": dt,
        "start": start_kind,
        "seed": seed_repr(seed),
        "traj_offset": traj_offset,
        "versions": {"stochthermo": __version__, "numpy": np.__version__,
                     "numba": numba.__version__},
    }
    return meta



# --------------------------------------------------------------------------- fixed-step plan
# ``stochthermo.simulate(model, n_traj=..., n_steps=..., dt=...)`` for jump models: the same
# Gillespie paths on a fixed step grid, as a plan of the simulation engine (state index in the
# Ensemble's ``x``, entropy flow per reservoir as ``heat`` at temperature 1).


@dataclass(frozen=True, eq=False)
class JumpPlan:
    """Plan of a jump model for the fixed-step engine of :func:`stochthermo.simulate`.

    The kernel state is ``(state index, time of the next jump)`` (``ds = 2``); the saved state
    is the index (``dsave = 1``). With ``heat`` or ``medium_entropy`` asked for, one
    accumulated column per reservoir holds the entropy flow into it (``temps`` are 1, so the
    ``heat`` observable is that entropy flow) [JP-stoch].
    """

    h: float
    n_blocks: int
    temps: np.ndarray
    heat_on: bool
    p0cum: np.ndarray
    ptr: np.ndarray
    targets: np.ndarray
    cumrates: np.ndarray
    edge_obs: np.ndarray
    ds: int = 2
    dsave: int = 1
    m: int = 0
    work_on: bool = False
    currents: tuple = ()

    kernel = "gillespie"

    @property
    def n_obs(self) -> int:
        """Accumulated columns: the entropy flow into each reservoir when heat is on."""
        return self.n_blocks if self.heat_on else 0

    @property
    def heat_columns(self) -> int:
        """Columns holding heat (entropy flow at temperature 1)."""
        return self.n_obs

    def advance(self, buf, done: int, n: int) -> None:
        """Advance every trajectory by ``n`` steps of length ``h``."""
        from .kernels._gillespie import gillespie_steps

        n, save_every, slot0, step_abs0 = buf.steps(done, n)
        if step_abs0 == 0:
            s0 = buf.x[:, 0]
            bad = (s0 != -1.0) & ((s0 < 0) | (s0 >= self.p0cum.size) | (s0 != np.round(s0)))
            if np.any(bad):
                raise ValidationError(
                    f"x0 holds {s0[bad][0]!r}, not a state index in 0..{self.p0cum.size - 1}; "
                    "pass state indices (or leave x0 out: a draw from the stationary law)"
                )
        gillespie_steps(buf.x, buf.acc, buf.seeds, buf.counters, buf.out_x, buf.out_obs,
                        buf.fail, self.p0cum, self.ptr, self.targets, self.cumrates,
                        self.edge_obs, self.h, n, save_every, slot0, step_abs0)


#: Methods the engine accepts for a jump model: its default name, and the exact sampler.
JUMP_METHODS = {"gillespie": (float("inf"), float("inf")), "euler": (float("inf"), float("inf"))}


def jump_plan(model: MarkovJump, setup) -> JumpPlan:
    """Build the :class:`JumpPlan` of ``model`` (``setup``: the engine's validated request)."""
    if "work" in setup.obs:
        raise ValidationError("observables contains 'work', but a jump model has no protocol "
                              "(work is 0); ask for 'heat' or 'medium_entropy'")
    if setup.method not in JUMP_METHODS:
        raise ValidationError(f"method={setup.method!r}: a jump model is sampled exactly "
                              "(Gillespie) whatever the step; leave method out")
    if setup.currents:
        raise ValidationError("LinearCurrent observables apply to Langevin models; for a jump "
                              "model use stochthermo.simulate_jump (counted transitions)")
    from ._exact_jump import _stationary

    heat = "heat" in setup.obs or "medium_entropy" in setup.obs
    ptr, targets, cumrates, edge_obs, _ = edge_tables(model)
    n_res = model.n_reservoirs
    edge_obs = np.ascontiguousarray(edge_obs[:, :n_res] if heat else edge_obs[:, :0])
    return JumpPlan(h=setup.h, n_blocks=n_res, temps=np.ones(n_res), heat_on=heat,
                    p0cum=np.cumsum(_stationary(model)), ptr=ptr, targets=targets,
                    cumrates=cumrates, edge_obs=edge_obs)


def jump_start(model: MarkovJump) -> np.ndarray:
    """Default start of ``simulate``: ``-1``, a draw from the stationary law in the kernel."""
    return np.array([-1.0])
