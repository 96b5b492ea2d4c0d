"""The SGD training engine: :func:`learn` and the :class:`LearningEnsemble` it returns."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

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
from ._ensemble import LearningEnsemble
from ._ppm import PPM

__all__ = ["learn", "LearningEnsemble", "RECORDABLE", "METHODS"]

#: what ``learn(..., record=...)`` can keep
RECORDABLE = (
    "params", "loss", "accuracy", "samples", "batch_loss", "work", "heat", "energy", "kl",
    "kl_fisher", "heat_theta", "output_entropy", "grad_max",
)
#: mini-batch schemes of :func:`learn`
METHODS = {
    "replacement": "mini-batches drawn with replacement, i.i.d. across steps",
    "shuffle": "without replacement: each trial reshuffles the data every epoch",
    "gaussian": "full-batch gradient plus Gaussian noise of covariance Sigma_g / batch_size",
}


def _child(ss: np.random.SeedSequence, j: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(entropy=ss.entropy, spawn_key=tuple(ss.spawn_key) + (j,))


# ---------------------------------------------------------------------------------------------
def _stack_datasets(model: PPM, datasets):
    checked = [model.check_data(d) for d in datasets]
    n = {c[1].shape[0] for c in checked}
    if len(n) != 1:
        raise ValidationError(
            f"all training sets must have the same size, got sizes {sorted(n)}; draw them with "
            "a fixed N"
        )
    Ys = np.ascontiguousarray(np.stack([c[1] for c in checked]))
    Us = None if checked[0][0] is None else np.ascontiguousarray(np.stack([c[0] for c in checked]))
    return Us, Ys


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
        return list(data)
    if n_datasets != 1:
        raise ValidationError(
            f"n_datasets={n_datasets} needs several training sets: pass data as a callable "
            "data(rng) -> training set, or as a list of training sets"
        )
    return [data]


def _index_chunk(rngs, method, n_data, m, n, states):
    K = len(rngs)
    out = np.empty((K, n, m), dtype=np.int64)
    if method == "replacement":
        for k in range(K):
            out[k] = rngs[k].integers(0, n_data, size=(n, m))
        return out
    for k in range(K):
        perm, pos = states[k]
        for i in range(n):
            if perm is None or pos + m > n_data:
                perm, pos = rngs[k].permutation(n_data), 0
            out[k, i] = perm[pos:pos + m]
            pos += m
        states[k] = (perm, pos)
    return out


def _noise_chunk(rngs, kind, shape, n):
    out = np.empty((len(rngs), n, *shape))
    for k, r in enumerate(rngs):
        out[k] = r.standard_normal((n, *shape)) if kind == "normal" else r.random((n, *shape))
    return out


def learn(
    model: PPM,
    data,
    *,
    lr,
    batch_size,
    n_steps,
    n_trials=1,
    n_datasets=1,
    seed=None,
    method="replacement",
    momentum=0.0,
    init="shared",
    noise_cov=None,
    probe=None,
    record=("params", "loss", "work", "heat"),
    record_every=1,
    param_subset=None,
    eval_data=None,
    eval_every=1,
    client=None,
    scheduler=None,
    chunk_size=None,
    retries=2,
    _trials=None,
) -> LearningEnsemble:
    r"""Train an ensemble of copies of ``model`` by SGD, with lagged generation of X.

    ``theta_{t+1} = theta_t - lr * v_{t+1}``, ``v_{t+1} = momentum * v_t + g_t``, with ``g_t``
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
    lr : float
        Learning rate ``r``.
    batch_size : int
        Mini-batch size ``|b|``.
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

    Returns
    -------
    LearningEnsemble

    Notes
    -----
    Work ``w_t = E_{theta_{t+1}}(x_{t+1}) - E_{theta_t}(x_{t+1})``, heat
    ``q_t = E_{theta_{t+1}}(x_{t+2}) - E_{theta_{t+1}}(x_{t+1})``, parameter heat (midpoint)
    ``q_Theta,t = -1/2 (grad U_B(theta_t) + grad U_B(theta_{t+1})) . (theta_{t+1} - theta_t)``.
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
        from ._chunked import learn_chunked

        return learn_chunked(
            learn, model, data, client=client, scheduler=scheduler, chunk_size=chunk_size,
            retries=retries, seed=seed, n_trials=n_trials, n_datasets=n_datasets, lr=lr,
            batch_size=batch_size, n_steps=n_steps, method=method, momentum=momentum,
            init=init, noise_cov=noise_cov, probe=probe, record=record,
            record_every=record_every, param_subset=param_subset, eval_data=eval_data,
            eval_every=eval_every)
    if not isinstance(model, PPM):
        raise ValidationError(
            f"model={short_repr(model)} is not a PPM; use GaussianMean, LinearRegression, "
            "SoftmaxRegression or MLPClassifier"
        )
    lr = positive_float("lr", lr)
    m = positive_int("batch_size", batch_size)
    n_steps = positive_int("n_steps", n_steps)
    n_trials = positive_int("n_trials", n_trials)
    n_datasets = positive_int("n_datasets", n_datasets)
    record_every = positive_int("record_every", record_every)
    eval_every = positive_int("eval_every", eval_every)
    momentum = nonnegative_float("momentum", momentum)
    if momentum >= 1:
        raise ValidationError(f"momentum={momentum!r} must be < 1")
    choose_method("method", method, METHODS)
    if isinstance(record, str):
        record = (record,)
    record = tuple(record)
    for r in record:
        if r not in RECORDABLE:
            raise ValidationError(
                f"unknown record entry {r!r}; valid entries are {', '.join(RECORDABLE)}"
            )
    if "accuracy" in record and not model.classifier:
        raise ValidationError("record='accuracy' needs a classifier (SoftmaxRegression, MLP)")

    root = as_seed_sequence(seed)
    datasets = _draw_datasets(data, n_datasets, _child(root, 0))
    Us, Ys = _stack_datasets(model, datasets)
    n_ds, N = Ys.shape[0], Ys.shape[1]
    if method == "shuffle" and m > N:
        raise ValidationError(f"batch_size={m} exceeds the training-set size {N}")
    K = n_ds * n_trials
    data_of = np.repeat(np.arange(n_ds, dtype=np.int64), n_trials)
    # trials [k0, k1) only (a chunk of a distributed run): streams keyed by the global index
    K_all, k0 = K, 0
    if _trials is not None:
        k0, k1 = int(_trials[0]), int(_trials[1])
        if not 0 <= k0 < k1 <= K:
            raise ValidationError(f"_trials={_trials!r} must satisfy 0 <= start < stop <= {K}")
        K, data_of = k1 - k0, data_of[k0:k1]
    d = model.n_params

    # probe set
    if model.generative:
        probe_arr = None
    else:
        if probe is None:
            probe_arr = np.ascontiguousarray(Us[0, : min(64, N)])
        else:
            probe_arr = as_float_array("probe", probe, ndim=(1, 2))
            if probe_arr.ndim == 1:
                probe_arr = probe_arr[:, None]
            if probe_arr.shape[1] != Us.shape[2]:
                raise ShapeError(
                    f"probe must have shape (P, {Us.shape[2]}), got {probe_arr.shape}"
                )

    # initialisation
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
    theta = np.ascontiguousarray(th0, dtype=np.float64)

    # noise covariance for the Gaussian variant
    chol = None
    if method == "gaussian" and noise_cov is not None:
        if isinstance(noise_cov, numbers.Real):
            chol = np.sqrt(positive_float("noise_cov", noise_cov)) * np.eye(d)
        else:
            cov = as_float_array("noise_cov", noise_cov, ndim=2)
            if cov.shape != (d, d):
                raise ShapeError(f"noise_cov must have shape ({d}, {d}), got {cov.shape}")
            chol = np.linalg.cholesky(cov + 1e-300 * np.eye(d))

    def streams(j):
        return [np.random.default_rng(int(s))
                for s in trajectory_seeds(_child(root, j), K, offset=k0)]

    rng_idx, rng_gen, rng_xi = streams(2), streams(3), streams(4)
    idx_states = [(None, 0)] * K

    steps = np.arange(0, n_steps + 1, record_every, dtype=np.int64)
    if steps[-1] != n_steps:
        steps = np.append(steps, n_steps)
    rec_pos = {int(s): j for j, s in enumerate(steps)}
    n_rec = steps.shape[0]
    sub = None if param_subset is None else np.asarray(param_subset, dtype=np.int64)
    d_rec = d if sub is None else sub.shape[0]

    want = set(record)
    gen = bool(want & {"work", "heat", "energy", "samples"})
    out: dict[str, Any] = {}
    if "params" in want:
        out["params"] = np.empty((K, n_rec, d_rec))
    for name in ("loss", "accuracy", "output_entropy", "grad_max"):
        if name in want:
            out[name] = np.full((K, n_rec), np.nan)
    for name in ("batch_loss", "work", "heat", "kl", "kl_fisher", "heat_theta"):
        if name in want:
            out[name] = np.empty((K, n_steps))
    energy = np.empty((K, n_steps + 1)) if gen else None
    samples = None
    eval_arr = None
    if want & {"accuracy", "grad_max"} and eval_data is not None:
        eval_arr = model.check_data(eval_data)

    full_idx = np.tile(np.arange(N, dtype=np.int64), (K, 1))

    def full_grads(th):
        return model.indexed_grads(th, Us, Ys, full_idx, data_of)

    def record_at(j, th, x, full_loss=None):
        if "params" in out:
            out["params"][:, j] = th if sub is None else th[:, sub]
        if samples is not None:
            samples[:, j] = x
        if steps[j] % eval_every and steps[j] != n_steps:
            return
        if "grad_max" in out:
            if eval_arr is None:
                gm = np.abs(full_grads(th)[0]).max(axis=1)
            else:
                n_ev = eval_arr[1].shape[0]
                Ue = None if eval_arr[0] is None else eval_arr[0][None]
                gm = np.abs(model.indexed_grads(
                    th, Ue, eval_arr[1][None], np.tile(np.arange(n_ev), (K, 1)),
                    np.zeros(K, dtype=np.int64))[0]).max(axis=1)
            out["grad_max"][:, j] = gm
        if "loss" in out:
            out["loss"][:, j] = full_grads(th)[1] if full_loss is None else full_loss
        if "accuracy" in out:
            if eval_arr is None:
                for ds in range(n_ds):
                    sel = data_of == ds
                    if not sel.any():
                        continue
                    out["accuracy"][sel, j] = model.accuracy(th[sel], (Us[ds], Ys[ds]))
            else:
                out["accuracy"][:, j] = model.accuracy(th, eval_arr)
        if "output_entropy" in out:
            out["output_entropy"][:, j] = model.output_entropy(th, probe_arr)

    noise_shape = model.noise_shape(probe_arr)
    # time-chunk length from the whole run's K, so that a chunk of trials draws its random
    # numbers in the same blocks as the whole run (bounded-integer draws are block-dependent)
    chunk = int(max(1, min(n_steps, 2**21 // max(1, K_all * max(m, int(np.prod(noise_shape)))))))
    x = None
    if gen:
        z0 = _noise_chunk(rng_gen, model.noise_kind, noise_shape, 1)[:, 0]
        x = model.generate(theta, z0, probe_arr)
        energy[:, 0] = model.energy(theta, x, probe_arr)
        if "samples" in want:
            samples = np.empty((K, n_rec, *np.shape(x)[1:]), dtype=np.asarray(x).dtype)
    G_old = None
    if "heat_theta" in want:
        G_old, L_old = full_grads(theta)
        record_at(0, theta, x, L_old)
    else:
        record_at(0, theta, x)
    vel = np.zeros_like(theta)
    idx = gz = xz = None
    for t in range(n_steps):
        c = t % chunk
        if c == 0:
            n_here = min(chunk, n_steps - t)
            if method == "gaussian":
                xshape = (d,) if chol is not None else (N,)
                xz = _noise_chunk(rng_xi, "normal", xshape, n_here)
            else:
                idx = _index_chunk(rng_idx, method, N, m, n_here, idx_states)
            if gen:
                gz = _noise_chunk(rng_gen, model.noise_kind, noise_shape, n_here)
        if method == "gaussian":
            g, bl = full_grads(theta)
            if chol is not None:
                g = g + xz[:, c] @ chol.T / np.sqrt(m)
            else:
                for k in range(K):
                    ds = data_of[k]
                    dat = Ys[ds] if model.generative else (Us[ds], Ys[ds])
                    G = model.per_sample_grads(theta[k], dat)
                    g[k] += (xz[k, c] @ (G - G.mean(axis=0))) / np.sqrt(N * m)
        else:
            g, bl = model.indexed_grads(theta, Us, Ys, np.ascontiguousarray(idx[:, c]), data_of)
        if "batch_loss" in out:
            out["batch_loss"][:, t] = bl
        vel = momentum * vel + g if momentum > 0 else g
        new = theta - lr * vel
        if not np.all(np.isfinite(new)):
            k = int(np.argmax(~np.isfinite(new).all(axis=1)))
            raise SimulationError(
                f"SGD diverged at step {t} in trial {k}; lower lr={lr!r}", step=t, trajectory=k,
                partial=out,
            )
        if "kl" in out:
            out["kl"][:, t] = model.kl(theta, new, probe_arr)
        if "kl_fisher" in out:
            out["kl_fisher"][:, t] = model.fisher_quadratic(theta, new - theta, probe_arr)
        L_new = None
        if "heat_theta" in out:
            G_new, L_new = full_grads(new)
            out["heat_theta"][:, t] = -0.5 * ((G_old + G_new) * (new - theta)).sum(axis=1)
            G_old = G_new
        if gen:
            e_mid = model.energy(new, x, probe_arr)
            w = e_mid - energy[:, t]
            x = model.generate(new, gz[:, c], probe_arr)
            energy[:, t + 1] = model.energy(new, x, probe_arr)
            if "work" in out:
                out["work"][:, t] = w
            if "heat" in out:
                out["heat"][:, t] = energy[:, t + 1] - e_mid
        theta = new
        j = rec_pos.get(t + 1)
        if j is not None:
            record_at(j, theta, x, L_new)

    ds_mean = Ys.mean(axis=1) if Ys.dtype.kind == "f" else np.full(n_ds, np.nan)
    return LearningEnsemble(
        model=model, steps=steps, lr=lr, batch_size=m, n_trials=n_trials, n_datasets=n_ds,
        data_of=data_of, dataset_mean=ds_mean,
        params=out.get("params"), samples=samples, loss=out.get("loss"),
        accuracy=out.get("accuracy"), output_entropy=out.get("output_entropy"),
        grad_max=out.get("grad_max"),
        batch_loss=out.get("batch_loss"), work=out.get("work"), heat=out.get("heat"),
        energy=energy if "energy" in want or "work" in want or "heat" in want else None,
        kl=out.get("kl"), kl_fisher=out.get("kl_fisher"), heat_theta=out.get("heat_theta"),
        probe=probe_arr, param_subset=sub,
        meta={"method": method, "momentum": momentum, "seed": seed_repr(seed),
              "init": init if isinstance(init, str) else "array", "record": record,
              "n_data": N, "model": repr(model)},
    )
