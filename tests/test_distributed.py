"""Chunked and Dask runs: bit-identical to one process, reductions, worker loss, missing extra."""

import dataclasses
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import stochthermo as st
from stochthermo import distributed as sd
from stochthermo.errors import MissingDependencyError, ValidationError
from stochthermo.learning import GaussianMean, LearningEnsemble, SoftmaxRegression, learn

MODEL = st.LinearLangevin([[1.0, 0.6, 0.0], [-0.6, 1.0, 0.0], [0.0, 0.0, 2.0]],
                          np.diag([1.0, 1.0, 2.0]), blocks=[[0, 1], [2]],
                          temperatures=[1.0, 2.0])
SIM = dict(n_steps=60, dt=0.01, seed=7, observables=("heat", "medium_entropy"))


def same_ensemble(a, b):
    assert np.array_equal(a.x, b.x)
    assert np.array_equal(a.t, b.t)
    assert set(a.observables) == set(b.observables)
    for k in a.observables:
        assert np.array_equal(a.observables[k], b.observables[k]), k
    for k in ("x", "acc", "seeds", "counters"):
        assert np.array_equal(a.meta["state"][k], b.meta["state"][k]), k
    assert a.meta["seed"] == b.meta["seed"]


def same_moments(a, b):
    assert a.count == b.count
    assert np.array_equal(a.t, b.t)
    assert np.array_equal(a.mean, b.mean)
    assert np.array_equal(a.m2, b.m2)
    assert dict(a.columns) == dict(b.columns)


LEARN = dict(lr=0.05, batch_size=3, n_steps=12, n_trials=4, n_datasets=2, seed=4,
             record=("params", "loss", "work", "heat", "energy", "kl", "batch_loss",
                     "accuracy"), init="own")


def softmax_data(rng):
    U = rng.normal(size=(15, 3))
    return U, rng.integers(0, 4, size=15)


def same_learning(a, b):
    """Every field of the ensemble (a field added later is compared too)."""
    for f in dataclasses.fields(LearningEnsemble):
        if f.name in ("model", "meta"):
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert (x is None) == (y is None), f.name
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y, equal_nan=True), f.name
        else:
            assert x == y, f.name
    assert repr(a.model) == repr(b.model)
    assert dict(a.meta) == dict(b.meta)


# ------------------------------------------------------------------ without Dask


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(MissingDependencyError, match=r"stochthermo\[distributed\]"):
        st.simulate(MODEL, n_traj=4, client=object(), **SIM)
    with pytest.raises(MissingDependencyError, match="distributed"):
        learn(GaussianMean(std=1.0), np.zeros(5), lr=0.1, batch_size=2, n_steps=2,
              scheduler="dask")
    from stochthermo.bridge import diagnose

    with pytest.raises(MissingDependencyError, match="distributed"):
        diagnose([], client=object())
    # reductions and chunking alone need no Dask
    assert st.simulate(MODEL, n_traj=4, reduce="moments", **SIM).count == 4


@pytest.mark.parametrize("chunk", [1, 7, 99, 100, 1000])
def test_in_process_chunks_are_bit_identical(chunk):
    ref = st.simulate(MODEL, n_traj=100, **SIM)
    same_ensemble(ref, st.simulate(MODEL, n_traj=100, chunk_size=chunk, **SIM))


def test_per_trajectory_start_and_stationary_start_are_chunked():
    x0 = np.random.default_rng(0).normal(size=(50, 3))
    for kw in ({"x0": x0}, {"x0": "stationary"}, {"x0": [1.0, 2.0, 3.0]}):
        ref = st.simulate(MODEL, n_traj=50, **kw, **SIM)
        same_ensemble(ref, st.simulate(MODEL, n_traj=50, chunk_size=16, **kw, **SIM))


def test_generator_and_none_seeds_resolve_once():
    a = st.simulate(MODEL, n_traj=20, chunk_size=3, **dict(SIM, seed=np.random.default_rng(5)))
    b = st.simulate(MODEL, n_traj=20, **dict(SIM, seed=np.random.default_rng(5)))
    same_ensemble(a, b)
    # seed=None: chunks must share one fresh root, so trajectories are all distinct
    c = st.simulate(MODEL, n_traj=20, chunk_size=3, **dict(SIM, seed=None))
    assert np.unique(c.meta["state"]["seeds"]).size == 20


def test_sgd_chunks_are_bit_identical():
    m = st.LinearizedSGD(np.diag([1.0, 3.0]), np.eye(2), lr=0.1, batch_size=4, momentum=0.5)
    kw = dict(n_traj=30, n_steps=40, seed=2, observables=("heat",))
    same_ensemble(st.simulate(m, **kw), st.simulate(m, chunk_size=4, **kw))
    r = st.simulate(m, chunk_size=4, reduce="moments", **kw)
    same_moments(r, sd.ensemble_moments(st.simulate(m, **kw)))
    assert np.array_equal(r.t, st.simulate(m, **kw).t)


def test_moments_reduction_matches_numpy_and_is_chunk_independent():
    n = 3 * sd.LEAF + 17
    ens = st.simulate(MODEL, n_traj=n, **SIM)
    full = sd.ensemble_moments(ens)
    for chunk in (1, sd.LEAF, 2 * sd.LEAF + 1, n):
        same_moments(full, st.simulate(MODEL, n_traj=n, chunk_size=chunk, reduce="moments",
                                       **SIM))
    z = np.concatenate([ens.x, ens.observables["heat"],
                        ens.observables["medium_entropy"][..., None]], axis=2)
    assert np.allclose(full.mean, z.mean(axis=0), rtol=1e-12, atol=1e-14)
    for t in (1, 30, 60):
        assert np.allclose(full.m2[t] / (n - 1), np.cov(z[:, t].T), rtol=1e-11, atol=1e-14)
    assert np.allclose(full.mean_of("medium_entropy")[:, 0], ens.observables[
        "medium_entropy"].mean(axis=0), rtol=1e-12, atol=1e-14)
    assert full.covariance("heat").shape == (61, 2, 2)
    assert full.stderr("x").shape == (61, 3)
    with pytest.raises(ValidationError, match="not in this reduction"):
        full.mean_of("work")


def test_moments_pin_the_stationary_covariance():
    """From the stationary law the reduced covariance stays at the closed form (within 5 se)."""
    from stochthermo import exact

    n = 4 * sd.LEAF
    r = st.simulate(MODEL, n_traj=n, n_steps=100, dt=0.01, seed=11, x0="stationary",
                    method="exact", chunk_size=sd.LEAF, reduce="moments")
    C = exact.stationary_covariance(MODEL)
    v = r.variance("x")[-1]
    se_var = np.sqrt(2.0 / (n - 1)) * np.diag(C)  # Gaussian variance estimator
    assert np.all(np.abs(v - np.diag(C)) < 5 * se_var)
    assert np.all(np.abs(r.mean_of("x")[-1]) < 5 * r.stderr("x")[-1])
    # null control: a wrong covariance (x 1.5) is rejected by the same criterion
    assert np.any(np.abs(v - 1.5 * np.diag(C)) > 5 * se_var)


def test_chan_merge_is_stable_far_from_zero():
    rng = np.random.default_rng(3)
    z = 1e9 + rng.normal(size=(1000, 1, 2))
    acc = None
    for a, b in sd.chunk_bounds(1000, 97):
        part = sd._leaf_moments(z[a:b])
        acc = part if acc is None else sd.merge_moments(acc, part)
    n, mean, m2 = acc
    dev = z - z.mean(axis=0)
    ref = np.einsum("kti,ktj->tij", dev, dev)
    assert n == 1000
    assert np.allclose(m2, ref, rtol=1e-6)
    # the naive one-pass formula loses everything at this offset (control)
    naive = np.einsum("kti,ktj->tij", z, z) - n * mean[..., :, None] * mean[..., None, :]
    assert not np.allclose(naive, ref, rtol=1e-2)


@pytest.mark.parametrize("chunk", [1, 3, 5])
def test_learn_trial_chunks_are_bit_identical(chunk):
    ref = learn(SoftmaxRegression(n_in=3, n_classes=4), softmax_data, **LEARN)
    got = learn(SoftmaxRegression(n_in=3, n_classes=4), softmax_data, chunk_size=chunk, **LEARN)
    same_learning(ref, got)


def test_chunked_errors():
    with pytest.raises(ValidationError, match="reduce="):
        st.simulate(MODEL, n_traj=4, reduce="median", **SIM)
    ens = st.simulate(MODEL, n_traj=4, **SIM)
    with pytest.raises(ValidationError, match="resume="):
        st.simulate(MODEL, n_steps=10, resume=ens, chunk_size=2)
    with pytest.raises(ValidationError, match="chunk_size"):
        st.simulate(MODEL, n_traj=4, chunk_size=0, **SIM)


# ------------------------------------------------------------------ on a LocalCluster

@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=":0", silence_logs=50)
    c = distributed.Client(cluster)
    c.run(_warm)  # import and load the compiled kernels once per worker
    yield c
    c.close()
    cluster.close()


def _warm():
    st.simulate(MODEL, n_traj=2, n_steps=2, dt=0.01, seed=0)


def test_dask_simulate_gather_and_moments_bit_identical(client):
    n = 2 * sd.LEAF + 5
    ref = st.simulate(MODEL, n_traj=n, **SIM)
    for chunk in (None, 64, 200):
        same_ensemble(ref, st.simulate(MODEL, n_traj=n, client=client, chunk_size=chunk, **SIM))
    ref_m = sd.ensemble_moments(ref)
    for chunk in (None, 1, sd.LEAF):
        same_moments(ref_m, st.simulate(MODEL, n_traj=n, client=client, chunk_size=chunk,
                                        reduce="moments", **SIM))


def test_dask_learn_bit_identical(client):
    ref = learn(SoftmaxRegression(n_in=3, n_classes=4), softmax_data, **LEARN)
    for chunk in (None, 3):
        got = learn(SoftmaxRegression(n_in=3, n_classes=4), softmax_data, client=client,
                    chunk_size=chunk, **LEARN)
        same_learning(ref, got)
    # one training set given as an array, scattered to the workers
    kw = dict(lr=0.1, batch_size=2, n_steps=8, n_trials=6, seed=1, method="shuffle")
    data = np.random.default_rng(0).normal(size=(10, 1))
    same_learning(learn(GaussianMean(std=1.0), data, **kw),
                  learn(GaussianMean(std=1.0), data, client=client, chunk_size=2, **kw))


def test_dask_diagnose_identical(client, tmp_path):
    from test_bridge_diagnostics import write_ensemble

    from stochthermo.bridge import diagnose, open_runs

    write_ensemble(str(tmp_path), batch_sizes=(1, 10), n_trials=6, n_steps=5, log_grads=True)
    runs = open_runs(tmp_path)
    ref = diagnose(runs, max_lag=2)
    ticks = []

    class Bar:  # a tqdm-like factory: progress=Bar
        def __init__(self, **kwargs):
            pass

        def update(self, n=1):
            ticks.append(n)

        def close(self):
            pass

    got = diagnose(runs, max_lag=2, client=client, progress=Bar)
    assert got.to_dict() == ref.to_dict()
    for a, b in zip(ref.runs, got.runs):
        assert np.array_equal(a.trajectories, b.trajectories)
        assert np.array_equal(a.noise_var, b.noise_var)
    assert sum(ticks) == sum(len(r.steps) * len(r.trials) for r in runs)


def test_dask_scheduler_keyword(client):
    kw = dict(n_traj=40, chunk_size=16, **SIM)
    ref = st.simulate(MODEL, **dict(kw, chunk_size=None))
    same_ensemble(ref, st.simulate(MODEL, scheduler="dask", **kw))  # default client
    same_ensemble(ref, st.simulate(MODEL, scheduler=client.scheduler.address, **kw))
    with pytest.raises(ValidationError, match="not a dask.distributed.Client"):
        st.simulate(MODEL, client="tcp://nowhere:1", **kw)
    with pytest.raises(ValidationError, match="neither 'dask' nor an address"):
        st.simulate(MODEL, scheduler="local", **kw)


def test_worker_killed_mid_run_result_still_identical(client):
    """SIGKILL one worker process while chunks run; Dask reruns its chunks on the other."""
    kw = dict(n_traj=16 * sd.LEAF, n_steps=4000, dt=0.001, seed=5, save_every=400,
              observables=("heat",), method="heun")
    ref = st.simulate(MODEL, chunk_size=sd.LEAF, reduce="moments", **kw)  # in process
    pids = client.run(os.getpid)
    out, err = {}, []

    def run():
        try:
            out["r"] = st.simulate(MODEL, client=client, chunk_size=sd.LEAF, reduce="moments",
                                   **kw)
        except BaseException as exc:  # pragma: no cover - reported below
            err.append(exc)

    th = threading.Thread(target=run)
    th.start()
    victim = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and victim is None:
        busy = {w: t for w, t in client.processing().items() if t}
        if len(busy) == 2:
            victim = sorted(busy)[0]
        else:
            time.sleep(0.01)
    assert victim is not None, "the run never kept both workers busy"
    running_at_kill = th.is_alive()
    os.kill(pids[victim], signal.SIGKILL)
    th.join(60)
    assert running_at_kill and not th.is_alive()
    assert not err, err
    same_moments(ref, out["r"])
    client.wait_for_workers(2, timeout=30)
    assert set(client.run(os.getpid).values()) != set(pids.values())  # a worker was replaced


# ------------------------------------------------------------------ merges owned by the results


def test_ensemble_concat_stacks_trajectories_and_refuses_other_grids():
    whole = st.simulate(MODEL, n_traj=5, **SIM)
    parts = [st.Ensemble(x=whole.x[a:b], t=whole.t, dt=whole.dt,
                         observables={k: v[a:b] for k, v in whole.observables.items()})
             for a, b in ((0, 2), (2, 5))]
    joined = st.Ensemble.concat(parts, meta={"note": 1})
    assert np.array_equal(joined.x, whole.x) and dict(joined.meta) == {"note": 1}
    for k in whole.observables:
        assert np.array_equal(joined.observables[k], whole.observables[k])
    other = st.Ensemble(x=whole.x[:2, :-1], t=whole.t[:-1], dt=whole.dt)
    with pytest.raises(st.errors.ShapeError, match="same time grid"):
        st.Ensemble.concat([parts[0], other])
    with pytest.raises(ValidationError):
        st.Ensemble.concat([])


def test_learning_concat_of_trial_chunks_is_the_whole_run():
    whole = learn(SoftmaxRegression(n_in=3, n_classes=4), softmax_data, **LEARN)
    parts = [learn(SoftmaxRegression(n_in=3, n_classes=4), softmax_data, _trials=(a, b),
                   **LEARN) for a, b in ((0, 3), (3, 8))]
    joined = LearningEnsemble.concat(parts, meta=whole.meta)
    same_learning(joined, whole)


def test_executor_and_distributed_do_not_import_the_features():
    """The executor runs any picklable task; the features hand it their chunk functions."""
    import subprocess
    import sys as _sys

    code = ("import sys, stochthermo._executor, stochthermo.distributed; "
            "print([m for m in sys.modules if m.startswith(('stochthermo.simulation', "
            "'stochthermo.learning', 'stochthermo.bridge', 'stochthermo.store'))])")
    out = subprocess.run([_sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
