"""The :class:`LearningEnsemble` returned by :func:`~stochthermo.learning.learn`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from .._frozen import settle
from .._validation import choose_method
from ..errors import ShapeError, ValidationError
from ..results import Estimate
from ._ppm import PPM

__all__ = ["LearningEnsemble"]


def _freeze(m: Mapping | None) -> MappingProxyType:
    return MappingProxyType(dict(m or {}))


@dataclass(frozen=True, eq=False)
class LearningEnsemble:
    """Result of :func:`learn`: an ensemble of SGD trajectories of one PPM.

    Trials are indexed ``k = dataset * n_trials + trial``; ``data_of[k]`` is the training set
    of trial ``k``. Step-resolved arrays have shape ``(K, n_steps)`` (entry ``t`` belongs to the
    move ``theta_t -> theta_{t+1}``); recorded arrays have shape ``(K, n_rec, ...)`` on the
    step grid ``steps``. Arrays not asked for in ``record`` are ``None``.

    Attributes
    ----------
    model : PPM
    steps : ndarray (n_rec,)
        Recorded step numbers (0 and ``n_steps`` included).
    params : ndarray (K, n_rec, d_rec) or None
        Parameters at the recorded steps (``d_rec`` = ``len(param_subset)`` or d).
    samples : ndarray (K, n_rec, ...) or None
        ``samples[:, j]`` is ``X_{steps[j]+1} ~ p(. | theta_{steps[j]})``.
    loss, accuracy, output_entropy, grad_max : ndarray (K, n_rec) or None
        Full training-set loss ``U_B``, accuracy (classifiers), output entropy on the probe
        set, ``max_i |d_i U(theta)|`` on the evaluation data; NaN between evaluation steps
        (``eval_every``).
    batch_loss, work, heat, kl, kl_fisher, heat_theta : ndarray (K, n_steps) or None
        Mini-batch loss, work ``w_t``, heat ``q_t`` absorbed by X, ``KL(p_t || p_{t+1})``, its
        Fisher approximation, and the parameters' heat (midpoint rule).
    energy : ndarray (K, n_steps + 1) or None
        ``u_t = E_{theta_t}(x_{t+1})``; first law ``u_{t+1} - u_t = w_t + q_t``.
    dataset_mean : ndarray (n_datasets, ...)
        Mean of each training set's targets (for :class:`GaussianMean`, the sufficient statistic
        ``Bbar`` of B).
    probe : ndarray or None
        Probe inputs on which X is generated (conditional models).
    lr, batch_size : float, int
        The (first step's) learning rate and batch size.
    lr_schedule, batch_schedule : ndarray (n_steps,) or None
        Learning rate and batch size of every step when ``learn`` was given a schedule
        (None when constant).
    """

    model: PPM
    steps: np.ndarray
    lr: float
    batch_size: int
    n_trials: int
    n_datasets: int
    data_of: np.ndarray
    dataset_mean: np.ndarray
    params: np.ndarray | None = None
    samples: np.ndarray | None = None
    loss: np.ndarray | None = None
    accuracy: np.ndarray | None = None
    output_entropy: np.ndarray | None = None
    grad_max: np.ndarray | None = None
    batch_loss: np.ndarray | None = None
    work: np.ndarray | None = None
    heat: np.ndarray | None = None
    energy: np.ndarray | None = None
    kl: np.ndarray | None = None
    kl_fisher: np.ndarray | None = None
    heat_theta: np.ndarray | None = None
    probe: np.ndarray | None = None
    param_subset: np.ndarray | None = None
    lr_schedule: np.ndarray | None = None
    batch_schedule: np.ndarray | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    #: fields with one row per trial (first axis ``K``), concatenated by :meth:`concat`
    PER_TRIAL: ClassVar[tuple[str, ...]] = (
        "data_of", "params", "samples", "loss", "accuracy", "output_entropy", "grad_max",
        "batch_loss", "work", "heat", "energy", "kl", "kl_fisher", "heat_theta",
    )

    def __post_init__(self) -> None:
        settle(self, meta=_freeze(self.meta))
        for name in ("params", "samples", "loss", "accuracy", "work", "heat", "energy", "kl"):
            v = getattr(self, name)
            if v is not None:
                v.setflags(write=False)

    @classmethod
    def concat(cls, parts: Sequence[LearningEnsemble], *,
               meta: Mapping | None = None) -> LearningEnsemble:
        """Stack ensembles of consecutive trials (chunks of one run) along the trial axis.

        Every field in :attr:`PER_TRIAL` is concatenated (a single part keeps its arrays);
        the others (model, step grid, lr, dataset means, probe, ...) come from the first part,
        which all parts must share. ``meta`` defaults to the first part's.
        """
        parts = list(parts)
        if not parts:
            raise ValidationError("LearningEnsemble.concat needs at least one ensemble")
        first = parts[0]
        for p in parts[1:]:
            if not np.array_equal(p.steps, first.steps) or p.lr != first.lr:
                raise ShapeError(
                    "LearningEnsemble.concat needs parts of one run (same steps and lr); got "
                    f"{p.steps.shape[0]} recorded steps at lr={p.lr} vs "
                    f"{first.steps.shape[0]} at lr={first.lr}"
                )
        values = {f.name: getattr(first, f.name) for f in fields(cls)}
        for name in cls.PER_TRIAL:
            if values[name] is not None and len(parts) > 1:
                values[name] = np.concatenate([getattr(p, name) for p in parts])
        values["meta"] = first.meta if meta is None else meta
        return cls(**values)

    def __repr__(self) -> str:
        recorded = [f.name for f in fields(self) if isinstance(getattr(self, f.name), np.ndarray)
                    and f.name not in ("steps", "data_of", "dataset_mean")]
        steps = (f"{int(self.steps[0])}..{int(self.steps[-1])}" if self.steps.size else "none")
        model = repr(self.model)
        model = model if len(model) <= 80 else model[:77] + "..."
        return (f"LearningEnsemble(model={model}, n_datasets={self.n_datasets}, "
                f"n_trials={self.n_trials}, steps {steps} ({self.steps.size} recorded), "
                f"lr={self.lr!r}, batch_size={self.batch_size!r}, recorded={recorded})")

    @property
    def n_total(self) -> int:
        """Number of trajectories ``K = n_datasets * n_trials``."""
        return int(self.data_of.shape[0])

    @property
    def n_steps(self) -> int:
        """Number of SGD steps."""
        return int(self.steps[-1])

    @property
    def time(self) -> np.ndarray:
        """Recorded times ``t = lr * step`` (``sum_{s < step} lr_s`` under a schedule)."""
        if self.lr_schedule is None:
            return self.lr * self.steps
        cum = np.concatenate([[0.0], np.cumsum(self.lr_schedule)])
        return cum[self.steps]

    def _need(self, name: str) -> np.ndarray:
        v = getattr(self, name)
        if v is None:
            raise ValidationError(
                f"this ensemble did not record {name!r}; rerun learn(..., record=(..., "
                f"{name!r}))"
            )
        return v

    def first_law_residual(self) -> np.ndarray:
        """Per trajectory ``|u_T - u_0 - sum_t (w_t + q_t)|`` (zero up to round-off)."""
        u = self._need("energy")
        w, q = self._need("work"), self._need("heat")
        return np.abs(u[:, -1] - u[:, 0] - (w + q).sum(axis=1))

    def kinetic_energy(self) -> np.ndarray:
        """``K_t = |theta_t - theta_{t-1}|^2 / (2 lr_{t-1})`` at every step, shape (K, n_steps + 1).

        The heavy-ball velocity variable ``u_t = theta_t - theta_{t-1} = -lr v_t`` with mass
        ``1 / lr`` (``K_0 = 0``: the velocity starts at 0). Needs every step's parameters
        (``record_every=1``, no ``param_subset``). ``theory/learning.md`` section 2.
        """
        th = self._every_step_params()
        u2 = (np.diff(th, axis=1) ** 2).sum(axis=2)
        rates = self._rates()
        return np.concatenate([np.zeros((th.shape[0], 1)), u2 / (2.0 * rates)], axis=1)

    def parameter_first_law_residual(self) -> np.ndarray:
        """Per trajectory ``|Delta U_B + Delta K + sum_t q_Theta,t - W_lr|`` (parameter side).

        Round-off for a quadratic loss. ``U_B`` is the recorded ``loss`` (``eval_every=1``),
        ``K`` the kinetic energy with momentum (0 without), ``q_Theta`` the recorded
        ``heat_theta`` (heat given to the noise reservoir) and
        ``W_lr = sum_t |u_t|^2 / 2 (1 / lr_t - 1 / lr_{t-1})`` the work of a learning-rate
        schedule on the mass (0 for a constant rate). The midpoint rule makes the balance
        exact for a quadratic loss, up to O(|delta|^3) per step otherwise.
        """
        U = self._need("loss")
        q = self._need("heat_theta")
        if np.isnan(U).any():
            raise ValidationError("the loss was not evaluated at every recorded step; rerun "
                                  "learn(..., eval_every=1)")
        if self.meta.get("momentum", 0.0) > 0:
            th = self._every_step_params()
            u2 = (np.diff(th, axis=1) ** 2).sum(axis=2)
            rates = self._rates()
            K = u2 / (2.0 * rates)
            dK = K[:, -1]
            inv = 1.0 / rates
            w_lr = (u2[:, :-1] / 2.0 * (inv[1:] - inv[:-1])).sum(axis=1)
        else:
            dK, w_lr = 0.0, 0.0
        return np.abs(U[:, -1] - U[:, 0] + dK + q.sum(axis=1) - w_lr)

    def _rates(self) -> np.ndarray:
        n = self.n_steps
        return (np.full(n, self.lr) if self.lr_schedule is None
                else np.asarray(self.lr_schedule, dtype=float))

    def _every_step_params(self) -> np.ndarray:
        th = self._need("params")
        if self.param_subset is not None or self.steps.shape[0] != self.n_steps + 1:
            raise ValidationError(
                "the kinetic energy needs every parameter at every step: rerun learn(..., "
                "record_every=1) without param_subset")
        return np.asarray(th, dtype=float)

    def conditional_entropy_production(self, method: str = "exact") -> Estimate:
        """Ensemble mean of ``Sigma_cond = sum_t KL(p_theta_t || p_theta_{t+1})``.

        Parameters
        ----------
        method : {"exact", "fisher", "work"}
            Exact KL, its Fisher approximation ``1/2 delta^T F delta``, or the sampled work
            ``sum_t w_t`` (whose mean is the same quantity).

        Notes
        -----
        ``<w_t> = E KL(p_t || p_{t+1})`` (``theory/learning.md``, section "Work and heat").
        The standard error treats trials sharing a training set as one cluster.
        """
        name = choose_method("method", method, {"exact": "kl", "fisher": "kl_fisher",
                                                "work": "work"})
        per = self._need(name).sum(axis=1)
        return _cluster_mean(per, self.data_of, f"conditional_ep_{method}")


def _cluster_mean(values, data_of, method) -> Estimate:
    """Mean over trajectories; stderr from per-dataset means (clusters)."""
    values = np.asarray(values, dtype=float)
    n_ds = int(data_of.max()) + 1
    if n_ds >= 2:
        sums = np.zeros((n_ds,) + values.shape[1:])
        np.add.at(sums, data_of, values)
        counts = np.bincount(data_of, minlength=n_ds).reshape((-1,) + (1,) * (values.ndim - 1))
        cm = sums / counts
        se = cm.std(axis=0, ddof=1) / np.sqrt(n_ds)
    else:
        se = values.std(axis=0, ddof=1) / np.sqrt(values.shape[0])
    return Estimate(values.mean(axis=0), se, method, {"n": int(values.shape[0])})
