"""The in-process simulation: validate -> plan -> allocate -> loop -> assemble.

:func:`run_local` is :func:`stochthermo.simulate` without chunking (the chunked and Dask paths
call it per chunk). It never tests model types: the model's :class:`~._plans.Family` (from
the table :data:`~._plans.PLANS`) builds the plan that advances the trajectories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._memory import check_memory
from .._progress import progress_bar
from .._rng import seed_repr, trajectory_seeds
from .._validation import choose_method, positive_float, positive_int
from ..ensemble import Ensemble
from ..errors import ShapeError, SimulationError, ValidationError
from ._observables import assemble_observables, parse_observables, wants_heat
from ._plans import Buffers, Family, PlanLike, Setup, family_of
from ._random import ziggurat_table
from ._resume import check_resume, check_same_run, resume_defaults, resume_state, state_of
from ._start import initial_state

if TYPE_CHECKING:
    from .._typing import ProgressLike

__all__ = ["METHODS", "Request", "output_bytes", "run_local", "simulate_guard"]

#: Integration methods of continuous-time models, with their (strong, weak) orders for
#: additive noise. ``exact`` applies to linear models only.
METHODS = {"euler": (1.0, 1.0), "heun": (1.0, 2.0), "exact": (math.inf, math.inf)}
_SGD_METHODS = {"sgd": "sgd", "exact": "sgd"}
_HINTS = ("save fewer points (a larger save_every), fewer trajectories, reduce='moments' "
          "(per-time moments instead of trajectories), or stochthermo.store.simulate_to_store "
          "(trajectories written to disk chunk by chunk)")


@dataclass(frozen=True)
class Request:
    """A validated request: counts, step, method and observables of one run."""

    n_traj: int
    n_steps: int
    save_every: int
    h: float
    method: str
    obs: tuple
    currents: tuple
    cur_names: tuple
    step0: int

    @property
    def n_saved(self) -> int:
        return self.n_steps // self.save_every + 1


def output_bytes(model: Any, family: Family, n_traj: int, n_steps: int, save_every: int,
                 obs: tuple, n_currents: int) -> int:
    """Upper estimate of the bytes a run allocates: saved states, observables, weights.

    Per trajectory and saved time: ``d`` states, the accumulated columns (heat per block,
    work, currents; at most ``d + 1 + n_currents``) and their named copies; plus the plan's
    per-step weights (time-dependent protocols).
    """
    d = int(model.dim)
    n_saved = n_steps // save_every + 1
    cols = (d if wants_heat(obs) else 0) + int("work" in obs) + n_currents
    named = (d if "heat" in obs else 0) + int("medium_entropy" in obs) + int("work" in obs) \
        + n_currents
    per_point = d + cols + named
    return 8 * (n_traj * n_saved * per_point + n_traj * 2 * (2 * d + cols)
                + (n_steps + 1) * family.step_floats(model))


def _guard(model, family: Family, n_traj: int, n_steps: int, save_every: int, obs: tuple,
           cur_names: tuple, max_bytes: int | None) -> None:
    check_memory(
        f"simulate(n_traj={n_traj}, n_steps={n_steps}, save_every={save_every}, "
        f"dim={model.dim}, observables={obs + cur_names})",
        output_bytes(model, family, n_traj, n_steps, save_every, obs, len(cur_names)),
        max_bytes=max_bytes, hints=_HINTS)


def simulate_guard(model: Any, *, n_traj: int, n_steps: int, save_every: int = 1,
                   observables: Any = (), max_bytes: int | None = None, **_: Any) -> None:
    """The memory check of ``simulate`` for a whole request (before it is cut in chunks)."""
    family = family_of(model)
    n_traj, n_steps, save_every = _counts(n_traj, n_steps, save_every)
    obs, _currents, cur_names = parse_observables(observables, model.dim)
    _guard(model, family, n_traj, n_steps, save_every, obs, cur_names, max_bytes)


def _counts(n_traj, n_steps, save_every) -> tuple[int, int, int]:
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
    return n_traj, n_steps, save_every


def _step_and_method(model, family: Family, dt, method) -> tuple[float, str]:
    if family.discrete:
        if dt is not None:
            raise ValidationError(
                f"dt={dt!r} was given, but a {type(model).__name__} has no dt: one step is one "
                f"update and time is t = lr * n (lr = {model.lr}); leave dt out"
            )
        return model.lr, choose_method("method", "sgd" if method is None else method,
                                       _SGD_METHODS)
    if dt is None:
        raise ValidationError("dt is required for a continuous-time model (a number > 0)")
    h = positive_float("dt", dt)
    methods = family.methods or METHODS
    method = next(iter(methods)) if method is None else method  # a family's first is its default
    choose_method("method", method, methods)
    return h, method


def _validate(model, family: Family, resume, state, *, n_traj, n_steps, dt, method,
              save_every, seed, observables) -> Request:
    if state is not None:
        n_traj, method, dt = resume_defaults(resume, n_traj=n_traj, method=method, dt=dt,
                                             seed=seed, discrete=family.discrete)
    n_traj, n_steps, save_every = _counts(n_traj, n_steps, save_every)
    h, method = _step_and_method(model, family, dt, method)
    obs, currents, cur_names = parse_observables(observables, model.dim)
    step0 = 0
    if state is not None:
        obs, currents, cur_names, step0 = check_same_run(
            resume, state, obs=obs, currents=currents, cur_names=cur_names, method=method,
            h=h, save_every=save_every, n_traj=n_traj)
    return Request(n_traj, n_steps, save_every, h, method, obs, tuple(currents), cur_names,
                   step0)


def _allocate(model, family: Family, plan: PlanLike, req: Request, state, *, x0, seed,
              traj_offset: int, noise) -> Buffers:
    """Streams, start and output arrays (outputs NaN until written)."""
    n_traj = req.n_traj
    if state is not None:
        seeds, counters, x, acc = resume_state(state, x0)
    else:
        seeds = trajectory_seeds(seed, n_traj, offset=traj_offset)
        counters = np.zeros(n_traj, dtype=np.uint64)
        x = initial_state(model, family, plan, x0, n_traj, seeds, counters)
        acc = np.zeros((n_traj, plan.n_obs))
    out_x = np.full((n_traj, req.n_saved, plan.dsave), np.nan)
    out_x[:, 0] = x[:, : plan.dsave]
    out_obs = np.full((n_traj, req.n_saved, acc.shape[1]), np.nan)
    out_obs[:, 0] = acc
    nz = np.zeros((0, 0, 0))
    if noise is not None:
        nz = np.ascontiguousarray(noise, dtype=np.float64)
        if nz.shape != (n_traj, req.n_steps, plan.m):
            raise ShapeError(f"_noise must have shape {(n_traj, req.n_steps, plan.m)}")
    return Buffers(x=x, acc=acc, seeds=seeds, counters=counters, zig=ziggurat_table(),
                   noise=nz, out_x=out_x, out_obs=out_obs,
                   fail=np.full(n_traj, -1, dtype=np.int64), save_every=req.save_every,
                   step0=req.step0)


def _check_finite(buf: Buffers, req: Request, done: int) -> None:
    fail = buf.fail
    if not np.any(fail >= 0):
        return
    k = int(np.argmin(np.where(fail >= 0, fail, np.iinfo(np.int64).max)))
    last = req.step0 + done
    raise SimulationError(
        f"trajectory {k} left the finite numbers (inf/NaN) at step {int(fail[k])} "
        f"(t = {fail[k] * req.h:.6g}) with method={req.method!r}, dt={req.h!r}; the scheme is "
        "unstable at this step size or the drift blows up: lower dt, use "
        "method='exact' for a linear model, or check the drift. The run got to step "
        f"{last} of {req.step0 + req.n_steps} before the failure was checked; "
        "partial['x'] holds the saved states (NaN where nothing was written)",
        step=int(fail[k]), trajectory=k,
        partial={"x": buf.out_x, "observables": buf.out_obs, "fail_step": fail.copy(),
                 "steps_done": done},
    )


def _loop(plan: PlanLike, buf: Buffers, req: Request, progress, fixed_noise: bool) -> None:
    """Advance in calls of ``per`` steps (one call unless a progress bar is shown)."""
    n_steps, save_every = req.n_steps, req.save_every
    per = n_steps
    bar = progress_bar(progress, total=n_steps, desc=f"simulate[{req.method}]", unit="step")
    if bar is not None:
        if not fixed_noise:  # pre-drawn noise is consumed in one call
            per = max(1, n_steps // save_every // 100) * save_every
    try:
        done = 0
        while done < n_steps:
            n = min(per, n_steps - done)
            plan.advance(buf, done, n)
            _check_finite(buf, req, done + n)
            done += n
            if bar is not None:
                bar.update(n)
    finally:
        if bar is not None:
            bar.close()


def _assemble(model, family: Family, plan: PlanLike, buf: Buffers, req: Request, seed,
              resume) -> Ensemble:
    import numba

    from .. import __version__

    t = (req.step0 + req.save_every * np.arange(req.n_saved)) * req.h
    out = assemble_observables(buf.out_obs, obs=req.obs, current_names=req.cur_names,
                               n_blocks=plan.n_blocks, temps=plan.temps, heat_on=plan.heat_on,
                               work_on=plan.work_on)
    meta = {
        "method": req.method,
        "model_type": type(model).__name__,
        "model": repr(model),
        "seed": seed_repr(seed) if resume is None else resume.meta.get("seed"),
        "kernel": plan.kernel,
        "save_every": req.save_every,
        "step0": req.step0,
        "time_unit": "lr * step" if family.discrete else "dt * step",
        "versions": {"stochthermo": __version__, "numpy": np.__version__,
                     "numba": numba.__version__},
        "state": state_of(buf, steps_done=req.step0 + req.n_steps, obs=req.obs,
                          cur_names=req.cur_names, currents=list(req.currents)),
    }
    return Ensemble(x=buf.out_x, t=t, dt=req.h, observables=out, meta=meta)


def run_local(model: Any, *, n_traj: int | None = None, n_steps: int, dt: float | None = None,
              method: str | None = None, x0: Any = None, save_every: int = 1, seed: Any = None,
              observables: Any = (), progress: ProgressLike = None,
              resume: Ensemble | None = None, max_bytes: int | None = None,
              _noise: Any = None, _traj_offset: int = 0) -> Ensemble:
    """:func:`~stochthermo.simulate` in this process (no chunks); the arguments are its own."""
    family = family_of(model)
    state = check_resume(resume, model) if resume is not None else None
    req = _validate(model, family, resume, state, n_traj=n_traj, n_steps=n_steps, dt=dt,
                    method=method, save_every=save_every, seed=seed, observables=observables)
    _guard(model, family, req.n_traj, req.n_steps, req.save_every, req.obs, req.cur_names,
           max_bytes)
    plan = family.build(model, Setup(req.h, req.method, req.obs, req.currents, req.step0,
                                     req.n_steps))
    buf = _allocate(model, family, plan, req, state, x0=x0, seed=seed,
                    traj_offset=_traj_offset, noise=_noise)
    _loop(plan, buf, req, progress, _noise is not None)
    return _assemble(model, family, plan, buf, req, seed, resume)
