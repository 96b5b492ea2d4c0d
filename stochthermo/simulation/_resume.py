"""Resuming a run: the state an :class:`~stochthermo.Ensemble` carries and the checks on it.

``simulate`` stores in ``meta["state"]`` the final state, the accumulated observables, every
trajectory's stream seed and position, the number of steps done and the observables asked
for; ``simulate(model, resume=ens, ...)`` continues the same streams, so the result equals the
corresponding part of one uninterrupted run, bit for bit. See ``theory/simulation.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import short_repr
from ..ensemble import Ensemble
from ..errors import ValidationError

__all__ = ["check_resume", "check_same_run", "resume_defaults", "resume_state", "state_of"]


def check_resume(resume: Any, model: Any) -> dict:
    """``resume.meta["state"]`` after checking that ``resume`` continues a run of ``model``."""
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


def resume_defaults(resume: Ensemble, *, n_traj, method, dt, seed, discrete: bool):
    """``n_traj, method, dt`` defaulted from the resumed run; a new seed is refused."""
    if n_traj is None:
        n_traj = resume.n_traj
    if method is None:
        method = resume.meta["method"]
    if dt is None and not discrete:
        dt = resume.dt
    if seed is not None:
        raise ValidationError(
            "seed= and resume= were both given; a resumed run continues the streams of "
            "the run it resumes, so leave seed out"
        )
    return n_traj, method, dt


def check_same_run(resume: Ensemble, state: dict, *, obs, currents, cur_names, method, h,
                   save_every, n_traj):
    """The observables, method, step, ``save_every`` and ``n_traj`` of the resumed run.

    Returns ``(obs, currents, cur_names, step0)``: observables default to the resumed ones.
    """
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
    return obs, currents, cur_names, int(state["steps_done"])


def resume_state(state: dict, x0: Any) -> tuple[np.ndarray, ...]:
    """``(seeds, counters, x, acc)`` copied from a resume state (``x0`` must be None)."""
    if x0 is not None:
        raise ValidationError("x0= and resume= were both given; a resumed run starts "
                              "where the resumed one stopped, so leave x0 out")
    return (np.array(state["seeds"], dtype=np.uint64),
            np.array(state["counters"], dtype=np.uint64),
            np.array(state["x"], dtype=np.float64),
            np.array(state["acc"], dtype=np.float64))


def state_of(buf: Any, *, steps_done: int, obs: tuple, cur_names: tuple,
             currents: list) -> dict:
    """The ``meta["state"]`` of a finished run (copies of the buffers)."""
    return {
        "x": buf.x.copy(), "acc": buf.acc.copy(), "seeds": buf.seeds.copy(),
        "counters": buf.counters.copy(), "steps_done": steps_done,
        "observables": obs, "current_names": cur_names,
        "currents": [(w.copy(), b.copy()) for w, b in currents],
    }
