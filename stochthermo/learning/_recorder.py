"""What :func:`learn` keeps: the output arrays of one run and how each step writes them.

The :class:`Recorder` allocates every requested array up front (NaN until written, so a run
stopped by an error hands back arrays whose unwritten slots are visibly empty), keeps the
lagged sample X and its energy, writes the step-resolved quantities (batch loss, work, heat,
KL, parameter heat) after each move and the recorded quantities (parameters, loss, accuracy,
...) on the recorded step grid. Formulas: ``theory/learning.md``, section "Work and heat".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._batches import Problem

__all__ = ["Recorder", "output_bytes"]

#: step-resolved arrays (K, n_steps)
STEP_ARRAYS = ("batch_loss", "work", "heat", "kl", "kl_fisher", "heat_theta")
#: arrays on the recorded grid (K, n_rec), evaluated every ``eval_every`` steps
EVAL_ARRAYS = ("loss", "accuracy", "output_entropy", "grad_max")
#: what needs the lagged sample X
GENERATED = frozenset({"work", "heat", "energy", "samples"})


def output_bytes(*, K: int, n_steps: int, n_rec: int, d_rec: int, record: tuple,
                 sample_size: int = 1) -> int:
    """Bytes of the arrays a run of ``K`` trials records (float64)."""
    want = set(record)
    per_trial = n_rec * d_rec * ("params" in want)
    per_trial += n_rec * sum(name in want for name in EVAL_ARRAYS)
    per_trial += n_steps * sum(name in want for name in STEP_ARRAYS)
    if want & GENERATED:
        per_trial += n_steps + 1 + n_rec * sample_size * ("samples" in want)
    return 8 * K * per_trial


def _started(state: np.ndarray | None) -> np.ndarray:
    """State that :meth:`Recorder.start` sets before the first move."""
    if state is None:
        raise RuntimeError("Recorder.start must run before Recorder.move")
    return state


class Recorder:
    """Output arrays of one run of :func:`learn`, written step by step.

    Parameters
    ----------
    prob : Problem
    record : tuple of str
    steps : ndarray (n_rec,)
        Recorded step grid.
    n_steps, eval_every : int
    param_subset : ndarray of int or None
    eval_arr : tuple or None
        Checked evaluation data ``(U, Y)`` for accuracy and ``grad_max``.
    momentum : float
        Heavy-ball coefficient; when > 0 the parameter heat includes the change of the kinetic
        energy ``|theta_{t+1} - theta_t|^2 / (2 lr_t)`` (``theory/learning.md`` section 2).
    """

    def __init__(self, prob: Problem, record: tuple, steps: np.ndarray, *, n_steps: int,
                 eval_every: int, param_subset: np.ndarray | None, eval_arr: Any,
                 momentum: float = 0.0) -> None:
        K, d = prob.data_of.shape[0], prob.model.n_params
        self.prob, self.want, self.steps = prob, set(record), steps
        self.n_steps, self.eval_every, self.sub, self.eval_arr = (n_steps, eval_every,
                                                                  param_subset, eval_arr)
        self.rec_pos = {int(s): j for j, s in enumerate(steps)}
        n_rec = steps.shape[0]
        self.out: dict[str, np.ndarray] = {}
        if "params" in self.want:
            d_rec = d if param_subset is None else param_subset.shape[0]
            self.out["params"] = np.full((K, n_rec, d_rec), np.nan)
        for name in EVAL_ARRAYS:
            if name in self.want:
                self.out[name] = np.full((K, n_rec), np.nan)
        for name in STEP_ARRAYS:
            if name in self.want:
                self.out[name] = np.full((K, n_steps), np.nan)
        self.gen = bool(self.want & GENERATED)
        # the energy u_t of the lagged sample X: allocated exactly when X is generated
        self.energy: np.ndarray | None = np.full((K, n_steps + 1), np.nan) if self.gen else None
        self.samples: np.ndarray | None = None
        self.x: np.ndarray | None = None  # the current sample X (set by start when generating)
        self.G_old: np.ndarray | None = None  # full gradients at theta_t (with "heat_theta")
        self.momentum = momentum
        # theta_t - theta_{t-1} (None at the start: the velocity is 0)
        self.prev_step: np.ndarray | None = None

    # ------------------------------------------------------------------ start
    def start(self, theta: np.ndarray, gen_noise: np.ndarray | None) -> None:
        """Draw ``X_1`` (if generating) and record step 0."""
        prob = self.prob
        if self.energy is not None:  # generating X
            self.x = prob.model.generate(theta, gen_noise, prob.probe)
            self.energy[:, 0] = prob.model.energy(theta, self.x, prob.probe)
            if "samples" in self.want:
                x = np.asarray(self.x)
                fill = np.nan if x.dtype.kind in "fc" else 0  # integer samples: 0
                self.samples = np.full((theta.shape[0], self.steps.shape[0], *x.shape[1:]),
                                       fill, dtype=x.dtype)
        if "heat_theta" in self.want:
            self.G_old, loss = prob.full_grads(theta)
            self.record(0, theta, loss)
        else:
            self.record(0, theta)

    # ------------------------------------------------------------------ per step
    def batch_loss(self, t: int, value: np.ndarray) -> None:
        if "batch_loss" in self.out:
            self.out["batch_loss"][:, t] = value

    def move(self, t: int, theta: np.ndarray, new: np.ndarray,
             gen_noise: np.ndarray | None, lr_t: float = 1.0) -> None:
        """Write the quantities of the move ``theta_t -> theta_{t+1}``; record at ``t + 1``.

        Work ``w_t = E_new(x_{t+1}) - E_old(x_{t+1})``, then ``x_{t+2} ~ p(. | new)`` and heat
        ``q_t = E_new(x_{t+2}) - E_new(x_{t+1})``; parameter heat by the midpoint rule, minus
        the kinetic energy gained, ``(|u_{t+1}|^2 - |u_t|^2) / (2 lr_t)`` with
        ``u_{t+1} = theta_{t+1} - theta_t``, when there is momentum.
        """
        prob, out, probe = self.prob, self.out, self.prob.probe
        model = prob.model
        if "kl" in out:
            out["kl"][:, t] = model.kl(theta, new, probe)
        if "kl_fisher" in out:
            out["kl_fisher"][:, t] = model.fisher_quadratic(theta, new - theta, probe)
        loss_new = None
        if "heat_theta" in out:
            G_new, loss_new = prob.full_grads(new)
            step = new - theta
            q = -0.5 * ((_started(self.G_old) + G_new) * step).sum(axis=1)
            if self.momentum > 0:
                prev = 0.0 if self.prev_step is None else (self.prev_step**2).sum(axis=1)
                q = q - ((step**2).sum(axis=1) - prev) / (2.0 * lr_t)
                self.prev_step = step
            out["heat_theta"][:, t] = q
            self.G_old = G_new
        if self.energy is not None:  # generating X
            e_mid = model.energy(new, _started(self.x), probe)
            w = e_mid - self.energy[:, t]
            self.x = model.generate(new, gen_noise, probe)
            self.energy[:, t + 1] = model.energy(new, self.x, probe)
            if "work" in out:
                out["work"][:, t] = w
            if "heat" in out:
                out["heat"][:, t] = self.energy[:, t + 1] - e_mid
        j = self.rec_pos.get(t + 1)
        if j is not None:
            self.record(j, new, loss_new)

    # ------------------------------------------------------------------ recorded grid
    def record(self, j: int, th: np.ndarray, full_loss: np.ndarray | None = None) -> None:
        """Parameters and samples at grid point ``j``; evaluations when it is due."""
        out = self.out
        if "params" in out:
            out["params"][:, j] = th if self.sub is None else th[:, self.sub]
        if self.samples is not None:
            self.samples[:, j] = self.x
        step = self.steps[j]
        if step % self.eval_every and step != self.n_steps:
            return
        if "grad_max" in out:
            out["grad_max"][:, j] = self._grad_max(th)
        if "loss" in out:
            out["loss"][:, j] = self.prob.full_grads(th)[1] if full_loss is None else full_loss
        if "accuracy" in out:
            self._accuracy(j, th)
        if "output_entropy" in out:
            out["output_entropy"][:, j] = self.prob.model.output_entropy(th, self.prob.probe)

    def _grad_max(self, th: np.ndarray) -> np.ndarray:
        prob = self.prob
        if self.eval_arr is None:
            return np.abs(prob.full_grads(th)[0]).max(axis=1)
        K = th.shape[0]
        n_ev = self.eval_arr[1].shape[0]
        Ue = None if self.eval_arr[0] is None else self.eval_arr[0][None]
        return np.abs(prob.model.indexed_grads(
            th, Ue, self.eval_arr[1][None], np.tile(np.arange(n_ev), (K, 1)),
            np.zeros(K, dtype=np.int64))[0]).max(axis=1)

    def _accuracy(self, j: int, th: np.ndarray) -> None:
        prob, acc = self.prob, self.out["accuracy"]
        if self.eval_arr is not None:
            acc[:, j] = prob.model.accuracy(th, self.eval_arr)
            return
        for ds in range(prob.Ys.shape[0]):
            sel = prob.data_of == ds
            if sel.any():
                acc[sel, j] = prob.model.accuracy(th[sel], prob.dataset(ds))

    # ------------------------------------------------------------------ results
    def arrays(self) -> dict[str, np.ndarray | None]:
        """The recorded arrays by field name of :class:`LearningEnsemble` (None if not kept)."""
        keep_energy = bool(self.want & {"energy", "work", "heat"})
        names = ("params", *EVAL_ARRAYS, *STEP_ARRAYS)
        arrays: dict[str, np.ndarray | None] = {name: self.out.get(name) for name in names}
        arrays["samples"] = self.samples
        arrays["energy"] = self.energy if keep_energy else None
        return arrays
