"""The SGD training engine: :func:`learn`.

``learn`` reads as validate -> problem -> guard -> recorder and batch stream -> loop ->
ensemble: :func:`_options` checks the scalar arguments, :func:`_problem` stacks the training
sets and picks the trials of this run, the :class:`~._recorder.Recorder` owns the outputs,
the :class:`~._batches.BatchStream` the random inputs, and :data:`~._batches.GRADIENTS` maps
the method to the stochastic gradient of a step. Chunked and Dask runs go through
:mod:`._chunked`, which calls ``learn`` per chunk of trials. ``theory/learning.md``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._memory import check_memory
from .._rng import as_seed_sequence, seed_repr, trajectory_seeds
from .._validation import (
    as_float_array,
    choose_method,
    nonnegative_float,
    positive_float,
    positive_int,
    short_repr,
)
from ..errors import ShapeError, SimulationError, ValidationError
from ._batches import GRADIENTS, BatchStream, Problem
from ._chunked import learn_chunked
from ._ensemble import LearningEnsemble
from ._ppm import PPM
from ._recorder import GENERATED, STEP_ARRAYS, Recorder, output_bytes
from ._schedule import StepSchedule, step_schedule

__all__ = ["learn", "LearningEnsemble", "RECORDABLE", "METHODS"]

#: what ``learn(..., record=...)`` can keep
RECORDABLE = (
    "params", "loss", "accuracy", "samples", "batch_loss", "work", "heat", "energy", "kl",
    "kl_fisher", "heat_theta", "output_entropy", "grad_max",
)
#: mini-batch schemes of :func:`learn` (the gradient of each: ``_batches.GRADIENTS``)
METHODS = {
    "replacement": "mini-batches drawn with replacement, i.i.d. across steps",
    "shuffle": "without replacement: each trial reshuffles the data every epoch",
    "gaussian": "full-batch gradient plus Gaussian noise of covariance Sigma_g / batch_size",
}
_HINTS = ("record fewer quantities (record=...), on a coarser grid (a larger record_every), "
          "keep fewer parameters (param_subset=...), or run fewer trials or steps")


def _child(ss: np.random.SeedSequence, j: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(entropy=ss.entropy, spawn_key=tuple(ss.spawn_key) + (j,))


@dataclass(frozen=True)
class Options:
    """Validated options of one :func:`learn` call.

    ``lr`` and ``batch_size`` are the first step's values (the values, when constant);
    ``schedule`` holds every step's.
    """

    lr: float
    batch_size: int
    n_steps: int
    n_trials: int
    n_datasets: int
    record_every: int
    eval_every: int
    momentum: float
    method: str
    record: tuple
    schedule: StepSchedule


def _options(model, *, lr, batch_size, n_steps, n_trials, n_datasets, record_every,
             eval_every, momentum, method, record) -> Options:
    if not isinstance(model, PPM):
        raise ValidationError(
            f"model={short_repr(model)} is not a PPM; use GaussianMean, LinearRegression, "
            "SoftmaxRegression or MLPClassifier"
        )
    n_steps = positive_int("n_steps", n_steps)
    sched = step_schedule(lr, batch_size, n_steps)
    opts = Options(
        lr=sched.lr0, batch_size=sched.batch_max,
        n_steps=n_steps, n_trials=positive_int("n_trials", n_trials),
        n_datasets=positive_int("n_datasets", n_datasets),
        record_every=positive_int("record_every", record_every),
        eval_every=positive_int("eval_every", eval_every),
        momentum=nonnegative_float("momentum", momentum), method=method,
        record=(record,) if isinstance(record, str) else tuple(record), schedule=sched)
    if opts.momentum >= 1:
        raise ValidationError(f"momentum={opts.momentum!r} must be < 1")
    choose_method("method", method, METHODS)
    for r in opts.record:
        if r not in RECORDABLE:
            raise ValidationError(
                f"unknown record entry {r!r}; valid entries are {', '.join(RECORDABLE)}"
            )
    if "accuracy" in opts.record and not model.classifier:
        raise ValidationError("record='accuracy' needs a classifier (SoftmaxRegression, MLP)")
    return opts


def _step_grid(n_steps: int, record_every: int) -> np.ndarray:
    steps = np.arange(0, n_steps + 1, record_every, dtype=np.int64)
    return steps if steps[-1] == n_steps else np.append(steps, n_steps)


def _guard(opts: Options, K: int, d_rec: int, sample_size: int, max_bytes) -> None:
    n_rec = opts.n_steps // opts.record_every + 2
    def size(n_steps: int) -> int:
        return output_bytes(K=K, n_steps=n_steps, n_rec=n_rec, d_rec=d_rec, record=opts.record,
                            sample_size=sample_size)

    total = size(opts.n_steps)
    per_step = total - size(0)  # bytes not thinned by record_every
    names = ", ".join(n for n in opts.record if n in STEP_ARRAYS or n in ("work", "heat", "energy"))
    if 10 * per_step > 9 * total:
        hints = (f"the step-resolved quantities {names} are kept at every step, whatever "
                 "record_every: leave them out of record=, or run fewer trials or steps")
    elif per_step:
        hints = _HINTS.replace("(record=...)", f"(record=...; {names} are kept at every step)")
    else:
        hints = _HINTS
    check_memory(
        f"learn(n_trials={opts.n_trials}, n_datasets={opts.n_datasets}, "
        f"n_steps={opts.n_steps}, record_every={opts.record_every}, parameters kept={d_rec}, "
        f"record={opts.record})", total, max_bytes=max_bytes, hints=hints)


def _n_datasets_of(data, n_datasets: int) -> int:
    return len(data) if isinstance(data, list) and n_datasets == 1 else n_datasets


# --------------------------------------------------------------------------- data


def _draw_datasets(data, n_datasets, ss):
    if callable(data):
        seeds = trajectory_seeds(ss, n_datasets)
        return [data(np.random.default_rng(int(s))) for s in seeds]
    if isinstance(data, list):
        if n_datasets not in (1, len(data)):
            raise ValidationError(
                f"n_datasets={n_datasets} but data is a list of {len(data)} training sets; "
                "leave n_datasets at 1 or make them equal"
            )
        if not data:
            raise ValidationError("data is an empty list; pass at least one training set")
        return list(data)
    if n_datasets != 1:
        raise ValidationError(
            f"n_datasets={n_datasets} needs several training sets: pass data as a callable "
            "data(rng) -> training set, or as a list of training sets"
        )
    return [data]


def _check_finite(name: str, arr: np.ndarray) -> None:
    """Refuse NaN or inf in stacked data ``(n_ds, N, ...)``, naming the set and the sample."""
    if arr.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(arr.reshape(arr.shape[0], arr.shape[1], -1)).all(axis=2)
    if bad.any():
        ds, row = (int(v[0]) for v in np.nonzero(bad))
        raise ValidationError(
            f"data {name} contain non-finite values (NaN or inf): {int(bad.sum())} sample(s), "
            f"the first in training set {ds} at sample {row}; remove or replace them before "
            "training (this is bad data, not a divergence of SGD)"
        )


def _stack_datasets(model: PPM, datasets):
    checked = [model.check_data(d) for d in datasets]
    n = {c[1].shape[0] for c in checked}
    if len(n) != 1:
        raise ValidationError(
            f"all training sets must have the same size, got sizes {sorted(n)}; draw them with "
            "a fixed N"
        )
    if n == {0}:
        raise ValidationError(
            "data holds no samples (a training set of size 0); pass at least one sample, and "
            "at least batch_size for method='shuffle'"
        )
    Ys = np.ascontiguousarray(np.stack([c[1] for c in checked]))
    inputs = [c[0] for c in checked if c[0] is not None]  # one model: all or none have inputs
    Us = np.ascontiguousarray(np.stack(inputs)) if inputs else None
    _check_finite("targets" if Us is not None else "values", Ys)
    if Us is not None:
        _check_finite("inputs", Us)
    return Us, Ys


def _probe(model: PPM, probe, Us, N: int):
    if model.generative:
        return None
    if probe is None:
        return np.ascontiguousarray(Us[0, : min(64, N)])
    probe_arr = as_float_array("probe", probe, ndim=(1, 2))
    if probe_arr.ndim == 1:
        probe_arr = probe_arr[:, None]
    if probe_arr.shape[1] != Us.shape[2]:
        raise ShapeError(f"probe must have shape (P, {Us.shape[2]}), got {probe_arr.shape}")
    return probe_arr


def _trials_of(K_all: int, trials) -> tuple[int, int]:
    """``(k0, k1)``: the trials of this call (a chunk of a distributed run, or all)."""
    if trials is None:
        return 0, K_all
    k0, k1 = int(trials[0]), int(trials[1])
    if not 0 <= k0 < k1 <= K_all:
        raise ValidationError(f"_trials={trials!r} must satisfy 0 <= start < stop <= {K_all}")
    return k0, k1


def _initial_params(model: PPM, init, root, K: int, K_all: int, k0: int) -> np.ndarray:
    d = model.n_params
    if isinstance(init, str):
        if init == "shared":
            th0 = np.tile(model.init_params(np.random.default_rng(_child(root, 1))), (K, 1))
        elif init == "own":
            seeds = trajectory_seeds(_child(root, 1), K, offset=k0)
            th0 = np.stack([model.init_params(np.random.default_rng(int(s))) for s in seeds])
        else:
            raise ValidationError(f"unknown init={init!r}; valid choices are 'shared', 'own' "
                                  "or an array of parameters")
    else:
        th0 = as_float_array("init", init, ndim=(1, 2))
        if th0.shape == (d,):
            th0 = np.tile(th0, (K_all, 1))
        if th0.shape != (K_all, d):
            raise ShapeError(f"init must have shape ({d},) or ({K_all}, {d}), got {th0.shape}")
        th0 = th0[k0:k0 + K]
    return np.ascontiguousarray(th0, dtype=np.float64)


def _noise_cholesky(method: str, noise_cov, d: int):
    """Cholesky factor of a given gradient-noise covariance (``method="gaussian"``), or None."""
    if method != "gaussian" or noise_cov is None:
        return None
    if isinstance(noise_cov, numbers.Real):
        return np.sqrt(positive_float("noise_cov", noise_cov)) * np.eye(d)
    cov = as_float_array("noise_cov", noise_cov, ndim=2)
    if cov.shape != (d, d):
        raise ShapeError(f"noise_cov must have shape ({d}, {d}), got {cov.shape}")
    return np.linalg.cholesky(cov + 1e-300 * np.eye(d))


def _problem(model: PPM, data, opts: Options, root, trials, probe, noise_cov):
    """``(Problem, K_all, k0)``: stacked training sets and the trials of this call."""
    datasets = _draw_datasets(data, opts.n_datasets, _child(root, 0))
    Us, Ys = _stack_datasets(model, datasets)
    n_ds, N = Ys.shape[0], Ys.shape[1]
    if opts.method == "shuffle" and opts.batch_size > N:
        raise ValidationError(f"batch_size={opts.batch_size} exceeds the training-set size {N}"
                              + ("" if opts.schedule.constant_batch else
                                 " (the largest batch of the batch-size schedule)"))
    K_all = n_ds * opts.n_trials
    k0, k1 = _trials_of(K_all, trials)
    data_of = np.repeat(np.arange(n_ds, dtype=np.int64), opts.n_trials)[k0:k1]
    prob = Problem(model=model, Us=Us, Ys=Ys, data_of=data_of, probe=_probe(model, probe, Us, N),
                   chol=_noise_cholesky(opts.method, noise_cov, model.n_params),
                   batch_size=opts.batch_size,
                   full_idx=np.tile(np.arange(N, dtype=np.int64), (k1 - k0, 1)))
    return prob, K_all, k0


def _stream(prob: Problem, opts: Options, root, K_all: int, k0: int, gen: bool) -> BatchStream:
    """Per-trial streams (keyed by the global trial index) in blocks sized on the whole run."""
    K = prob.data_of.shape[0]

    def streams(j):
        return [np.random.default_rng(int(s))
                for s in trajectory_seeds(_child(root, j), K, offset=k0)]

    noise_shape = prob.model.noise_shape(prob.probe)
    # block length from the whole run's K, so that a chunk of trials draws its random numbers
    # in the same blocks as the whole run (bounded-integer draws are block-dependent)
    block = int(max(1, min(opts.n_steps, 2**21 // max(
        1, K_all * max(opts.batch_size, int(np.prod(noise_shape)))))))
    rng_idx, rng_gen, rng_xi = streams(2), streams(3), streams(4)
    return BatchStream(opts.method, rng_idx, rng_gen, rng_xi, n_data=prob.N,
                       batch_size=opts.batch_size, n_steps=opts.n_steps, block=block,
                       xi_shape=(prob.model.n_params,) if prob.chol is not None else (prob.N,),
                       gen_kind=prob.model.noise_kind if gen else None, gen_shape=noise_shape,
                       sizes=opts.schedule.batch_array())


# --------------------------------------------------------------------------- the loop


def _run(prob: Problem, opts: Options, theta: np.ndarray, rec: Recorder,
         stream: BatchStream) -> None:
    """SGD steps ``theta_{t+1} = theta_t - lr_t v_{t+1}``, ``v_{t+1} = beta v_t + g_t``."""
    gradient = GRADIENTS[opts.method]
    sched = opts.schedule
    rec.start(theta, stream.first_generation() if rec.gen else None)
    vel = np.zeros_like(theta)
    for t in range(opts.n_steps):
        draws = stream.at(t)
        g, bl = gradient(prob, theta, draws)
        rec.batch_loss(t, bl)
        vel = opts.momentum * vel + g if opts.momentum > 0 else g
        lr_t = sched.lr_at(t)
        new = theta - lr_t * vel
        if not np.all(np.isfinite(new)):
            k = int(np.argmax(~np.isfinite(new).all(axis=1)))
            raise SimulationError(
                f"SGD diverged at step {t} in trial {k}: the parameters left the finite numbers "
                f"after {t} of {opts.n_steps} steps; "
                + (f"lower lr={opts.lr!r}. " if sched.constant_lr else
                   f"lower the lr schedule ({lr_t!r} at this step). ")
                + "partial holds the "
                "arrays recorded so far (NaN where nothing was written)",
                step=t, trajectory=k, partial=rec.arrays(),
            )
        rec.move(t, theta, new, draws.gen, lr_t)
        theta = new


def learn(
    model: PPM,
    data: Any,
    *,
    lr: float,
    batch_size: int,
    n_steps: int,
    n_trials: int = 1,
    n_datasets: int = 1,
    seed: Any = None,
    method: str = "replacement",
    momentum: float = 0.0,
    init: Any = "shared",
    noise_cov: Any = None,
    probe: Any = None,
    record: Any = ("params", "loss", "work", "heat"),
    record_every: int = 1,
    param_subset: Any = None,
    eval_data: Any = None,
    eval_every: int = 1,
    client: Any = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    retries: int = 2,
    max_bytes: int | None = None,
    _trials: tuple[int, int] | None = None,
) -> LearningEnsemble:
    r"""Train an ensemble of copies of ``model`` by SGD, with lagged generation of X.

    ``theta_{t+1} = theta_t - lr_t * v_{t+1}``, ``v_{t+1} = momentum * v_t + g_t``, with ``g_t``
    the mini-batch gradient of ``U_b`` (``method="replacement"`` or ``"shuffle"``) or
    ``grad U_B + xi_t``, ``xi_t ~ N(0, Sigma_g / batch_size)`` (``method="gaussian"``). After
    every step ``X_{t+2} ~ p(. | theta_{t+1})`` is drawn (on ``probe`` for conditional models).

    Parameters
    ----------
    model : PPM
        :class:`GaussianMean`, :class:`LinearRegression`, :class:`SoftmaxRegression` or
        :class:`MLPClassifier`.
    data : dataset, list of datasets, or callable
        One training set (an array for :class:`GaussianMean`, a pair ``(inputs, targets)``
        otherwise), a list of training sets, or ``data(rng) -> training set`` which is called
        ``n_datasets`` times (ensemble over B).
    lr : float, callable or array
        Learning rate ``r``; a schedule is a callable ``lr(t)`` of the step ``t = 0 ..
        n_steps - 1`` (e.g. :func:`step_decay`, :func:`cosine_schedule`) or an array with one
        rate per step (at least ``n_steps`` entries). Every value must be positive and finite.
    batch_size : int, callable or array
        Mini-batch size ``|b|``, or a schedule of whole numbers (callable of the step or
        array). Under ``method="shuffle"`` each step takes the next ``|b|_t`` points of the
        epoch's permutation, and a new epoch starts when fewer remain; under
        ``method="gaussian"`` the noise covariance is ``Sigma_g / |b|_t``.
    n_steps : int
        Number of SGD steps.
    n_trials : int
        Trials per training set (different mini-batch orders and generated samples).
    n_datasets : int
        Number of training sets when ``data`` is a callable.
    seed : int, Generator or None
        Root of every random stream (datasets, initialisation, mini-batches, generation,
        Gaussian noise each get their own per-trial streams, so results do not depend on
        chunking or thread count).
    method : {"replacement", "shuffle", "gaussian"}
        Mini-batch scheme (see :data:`METHODS`).
    momentum : float
        Heavy-ball coefficient in [0, 1).
    init : {"shared", "own"} or array
        ``"shared"``: all trials start from one draw of ``model.init_params``; ``"own"``: each
        trial draws its own; an array ``(d,)`` or ``(K, d)`` gives the start explicitly.
    noise_cov : float or array (d, d), optional
        For ``method="gaussian"``: the per-sample gradient covariance ``Sigma_g`` (a float
        means ``Sigma_g = noise_cov * I``). Default: the empirical covariance of the per-sample
        gradients at the current parameters on the trial's training set.
    probe : array, optional
        Probe inputs (conditional models): X is the vector of outputs sampled at them.
        Default: the first 64 inputs of the first training set.
    record : sequence of str
        Subset of :data:`RECORDABLE`.
    record_every : int
        Stride of the recorded step grid (step ``n_steps`` is always recorded).
    param_subset : array of int, optional
        Indices of the parameters to keep in ``params`` (large networks).
    eval_data : dataset, optional
        Data on which ``accuracy`` and ``grad_max`` are measured (default: each trial's
        training set).
    eval_every : int
        ``loss``, ``accuracy`` and ``grad_max`` are evaluated only at recorded steps that are
        multiples of ``eval_every`` (and at the last step); NaN elsewhere.
    client : dask.distributed.Client, optional
        Run the trials in chunks on a Dask cluster (extra ``distributed``); every trial keeps
        its own streams, so the result is bit-identical to the single-process run.
    scheduler : {"dask"} or str, optional
        ``"dask"``: the running default Dask client; an address ``"tcp://host:port"``: a client
        connected to that scheduler for this call.
    chunk_size : int, optional
        Trials per task (default about ``K / (4 * workers)``); without a client the chunks run
        one after the other in this process.
    retries : int
        Times Dask re-runs a chunk whose task raised.
    max_bytes : int, optional
        Memory budget of the recorded arrays (default: half of the machine's physical memory).
        Their bytes are estimated before anything runs (trials x (recorded steps x (parameters
        kept + evaluations) + steps x step-resolved quantities) x 8); a larger request raises
        ``ResourceError``.

    Returns
    -------
    LearningEnsemble

    Raises
    ------
    ResourceError
        The recorded arrays would exceed ``max_bytes``; nothing was started. Record less
        (``record=``), on a coarser grid (``record_every``), keep fewer parameters
        (``param_subset``) or run fewer trials.
    ValidationError
        Bad arguments, counts given as booleans, an empty training set, or non-finite values
        (NaN, inf) in the data.
    SimulationError
        The parameters left the finite numbers (lr too large); the message says at which step
        and ``partial`` holds the arrays recorded so far (NaN where nothing was written).

    Notes
    -----
    Work ``w_t = E_{theta_{t+1}}(x_{t+1}) - E_{theta_t}(x_{t+1})``, heat
    ``q_t = E_{theta_{t+1}}(x_{t+2}) - E_{theta_{t+1}}(x_{t+1})``, parameter heat (midpoint)
    ``q_Theta,t = -1/2 (grad U_B(theta_t) + grad U_B(theta_{t+1})) . (theta_{t+1} - theta_t)``;
    with momentum it also gives up the kinetic energy gained,
    ``- (|u_{t+1}|^2 - |u_t|^2) / (2 lr_t)``, ``u_{t+1} = theta_{t+1} - theta_t`` (mass
    ``1 / lr``), so that ``U_B + K`` obeys the first law per trajectory
    (:meth:`LearningEnsemble.parameter_first_law_residual`).
    See ``theory/learning.md``.

    Examples
    --------
    >>> from stochthermo.learning import GaussianMean, learn
    >>> import numpy as np
    >>> ens = learn(GaussianMean(std=1.0), np.zeros(10), lr=0.1, batch_size=2, n_steps=5,
    ...             n_trials=3, seed=0)
    >>> ens.params.shape
    (3, 6, 1)
    """
    if client is not None or scheduler is not None or chunk_size is not None:
        opts = _options(model, lr=lr, batch_size=batch_size, n_steps=n_steps,
                        n_trials=n_trials, n_datasets=n_datasets, record_every=record_every,
                        eval_every=eval_every, momentum=momentum, method=method, record=record)
        _guard(opts, _n_datasets_of(data, opts.n_datasets) * opts.n_trials,
               model.n_params if param_subset is None else np.size(param_subset), 1, max_bytes)
        return learn_chunked(
            learn, model, data, client=client, scheduler=scheduler, chunk_size=chunk_size,
            retries=retries, seed=seed, n_trials=n_trials, n_datasets=n_datasets, lr=lr,
            batch_size=batch_size, n_steps=n_steps, method=method, momentum=momentum,
            init=init, noise_cov=noise_cov, probe=probe, record=record,
            record_every=record_every, param_subset=param_subset, eval_data=eval_data,
            eval_every=eval_every, max_bytes=max_bytes)
    opts = _options(model, lr=lr, batch_size=batch_size, n_steps=n_steps, n_trials=n_trials,
                    n_datasets=n_datasets, record_every=record_every, eval_every=eval_every,
                    momentum=momentum, method=method, record=record)
    sub = None if param_subset is None else np.asarray(param_subset, dtype=np.int64)
    d_rec = model.n_params if sub is None else sub.shape[0]
    K_guess = _n_datasets_of(data, opts.n_datasets) * opts.n_trials
    if _trials is not None:
        K_guess = int(_trials[1]) - int(_trials[0])
    _guard(opts, K_guess, d_rec, 1, max_bytes)  # before any data is drawn
    root = as_seed_sequence(seed)
    prob, K_all, k0 = _problem(model, data, opts, root, _trials, probe, noise_cov)
    K = prob.data_of.shape[0]
    _guard(opts, K, d_rec, int(np.prod(model.noise_shape(prob.probe))), max_bytes)
    theta = _initial_params(model, init, root, K, K_all, k0)
    eval_arr = None
    if set(opts.record) & {"accuracy", "grad_max"} and eval_data is not None:
        eval_arr = model.check_data(eval_data)
    steps = _step_grid(opts.n_steps, opts.record_every)
    rec = Recorder(prob, opts.record, steps, n_steps=opts.n_steps, eval_every=opts.eval_every,
                   param_subset=sub, eval_arr=eval_arr, momentum=opts.momentum)
    stream = _stream(prob, opts, root, K_all, k0, gen=bool(set(opts.record) & GENERATED))
    _run(prob, opts, theta, rec, stream)
    Ys = prob.Ys
    ds_mean = Ys.mean(axis=1) if Ys.dtype.kind == "f" else np.full(Ys.shape[0], np.nan)
    return LearningEnsemble(
        model=model, steps=steps, lr=opts.lr, batch_size=opts.schedule.batch0,
        lr_schedule=opts.schedule.lr_array(), batch_schedule=opts.schedule.batch_array(),
        n_trials=opts.n_trials, n_datasets=Ys.shape[0], data_of=prob.data_of,
        dataset_mean=ds_mean, probe=prob.probe, param_subset=sub, **rec.arrays(),
        meta={"method": opts.method, "momentum": opts.momentum, "seed": seed_repr(seed),
              "init": init if isinstance(init, str) else "array", "record": opts.record,
              "n_data": prob.N, "model": repr(model)},
    )
