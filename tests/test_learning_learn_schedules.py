"""Learning-rate and batch-size schedules in learn(...)."""

from __future__ import annotations

import numpy as np
import pytest

from stochthermo.errors import ValidationError
from stochthermo.learning import (
    GaussianLearner,
    GaussianMean,
    cosine_schedule,
    learn,
    step_decay,
)
from stochthermo.learning._batches import BatchStream


def _z(sample, exact):
    sample = np.asarray(sample)
    return (sample.mean(axis=0) - exact) / (sample.std(axis=0, ddof=1) / np.sqrt(len(sample)))


def _var_z(sample, exact):
    # variance of a normal sample: se = sqrt(2 / (n - 1)) * var
    v = np.asarray(sample).var(axis=0, ddof=1)
    return (v - exact) / (exact * np.sqrt(2.0 / (len(sample) - 1)))


@pytest.mark.parametrize("schedule", [step_decay(0.3, factor=0.5, every=8),
                                      cosine_schedule(0.3, 30, lr_min=0.01)])
def test_lr_schedule_in_learn_matches_closed_form(schedule):
    g = GaussianLearner(mu=1.0, data_std=1.0, model_std=1.0, lr=0.3, n_data=20, batch_size=2,
                        init_mean=0.0, init_var=0.2, lr_schedule=schedule)
    ens = learn(g.model(), g.draw_data, lr=schedule, batch_size=2, n_steps=30, n_datasets=3000,
                seed=5, method="gaussian", noise_cov=1.0, init="own", record=("params", "work"))
    ts = np.array([4, 12, 29])
    cf = g.closed_form(ts)
    th = ens.params[:, ts, 0]
    assert np.all(np.abs(_z(th, cf["mean_theta"])) < 3)
    assert np.all(np.abs(_var_z(th, cf["var_theta"])) < 3)
    assert np.all(np.abs(_z(ens.work[:, ts], cf["work"])) < 3)
    np.testing.assert_allclose(ens.lr_schedule, [schedule(t) for t in range(30)])
    np.testing.assert_allclose(ens.time[-1], sum(schedule(t) for t in range(30)))


def test_lr_array_equals_callable_and_constant():
    data = np.linspace(-1, 1, 10)
    kw = dict(batch_size=2, n_steps=12, n_trials=3, seed=2, record=("params", "work"))
    const = learn(GaussianMean(std=1.0), data, lr=0.1, **kw)
    arr = learn(GaussianMean(std=1.0), data, lr=np.full(12, 0.1), **kw)
    np.testing.assert_array_equal(const.params, arr.params)
    np.testing.assert_array_equal(const.work, arr.work)
    assert const.lr_schedule is None and arr.lr_schedule is not None
    sched = [0.1 * 0.9**t for t in range(12)]
    a = learn(GaussianMean(std=1.0), data, lr=np.array(sched), **kw)
    b = learn(GaussianMean(std=1.0), data, lr=lambda t: 0.1 * 0.9**t, **kw)
    np.testing.assert_array_equal(a.params, b.params)


def test_batch_size_schedule_sets_the_noise():
    # Gaussian-noise SGD with |b|_t: V_{t+1} = a^2 V_t + k^2 s_d^2 / |b|_t, checked against an
    # independent recursion
    sizes = np.array([1] * 10 + [4] * 10 + [16] * 10)
    r, s_d = 0.2, 1.0
    ens = learn(GaussianMean(std=1.0), np.zeros(50), lr=r, batch_size=sizes, n_steps=30,
                n_trials=4000, seed=7, method="gaussian", noise_cov=s_d**2, init=[0.0],
                record=("params",))
    V = np.zeros(31)
    for t in range(30):
        V[t + 1] = (1 - r) ** 2 * V[t] + r**2 * s_d**2 / sizes[t]
    ts = np.array([10, 20, 30])
    assert np.all(np.abs(_var_z(ens.params[:, ts, 0], V[ts])) < 3)
    assert np.all(np.abs(_z(ens.params[:, ts, 0], 0.0)) < 3)
    np.testing.assert_array_equal(ens.batch_schedule, sizes)


def test_batch_size_schedule_with_replacement_matches_recursion():
    # true mini-batches of the fixed data set b_i = +-1 (variance 1): Var = S_B / |b|_t
    data = np.tile([-1.0, 1.0], 10)
    sizes = lambda t: 1 if t < 15 else 5  # noqa: E731
    r = 0.2
    ens = learn(GaussianMean(std=1.0), data, lr=r, batch_size=sizes, n_steps=30,
                n_trials=4000, seed=8, init=[0.0], record=("params",))
    V = np.zeros(31)
    for t in range(30):
        V[t + 1] = (1 - r) ** 2 * V[t] + r**2 / sizes(t)
    ts = np.array([15, 30])
    assert np.all(np.abs(_var_z(ens.params[:, ts, 0], V[ts])) < 3)


def test_shuffle_with_batch_schedule_takes_disjoint_batches_per_epoch():
    N = 12
    sizes = np.array([3, 5, 4, 2, 6, 6, 1, 3, 3, 5, 4, 4])
    rngs = [np.random.default_rng(k) for k in range(3)]
    st = BatchStream("shuffle", rngs, rngs, rngs, n_data=N, batch_size=int(sizes.max()),
                     n_steps=len(sizes), block=5, xi_shape=(N,), gen_kind=None, gen_shape=(),
                     sizes=sizes)
    seen = [set() for _ in range(3)]
    used = 0
    for t, m in enumerate(sizes):
        d = st.at(t)
        assert d.idx.shape == (3, m) and d.m == m
        if used + m > N:  # a new epoch starts
            seen, used = [set() for _ in range(3)], 0
        for k in range(3):
            assert not (seen[k] & set(d.idx[k].tolist()))
            seen[k] |= set(d.idx[k].tolist())
        used += m


def test_bad_schedules():
    data = np.zeros(10)
    kw = dict(n_steps=5, seed=0)
    with pytest.raises(ValidationError, match="lr at step 2"):
        learn(GaussianMean(), data, lr=[0.1, 0.1, -1.0, 0.1, 0.1], batch_size=2, **kw)
    with pytest.raises(ValidationError, match="at least n_steps"):
        learn(GaussianMean(), data, lr=[0.1, 0.1], batch_size=2, **kw)
    with pytest.raises(ValidationError, match=r"lr\(0\) returned"):
        learn(GaussianMean(), data, lr=lambda t: "fast", batch_size=2, **kw)
    with pytest.raises(ValidationError, match="whole numbers"):
        learn(GaussianMean(), data, lr=0.1, batch_size=[1, 2.5, 1, 1, 1], **kw)
    with pytest.raises(ValidationError, match="largest batch"):
        learn(GaussianMean(), data, lr=0.1, batch_size=[1, 11, 1, 1, 1], method="shuffle",
              **kw)
    with pytest.raises(ValidationError, match="1-d array"):
        learn(GaussianMean(), data, lr=np.ones((5, 1)), batch_size=2, **kw)
    with pytest.raises(ValidationError, match="nan"):
        learn(GaussianMean(), data, lr=lambda t: float("nan"), batch_size=2, **kw)


def test_schedules_chunked_equal_unchunked():
    data = np.linspace(-1, 1, 12)
    kw = dict(lr=step_decay(0.2, factor=0.5, every=4), batch_size=np.array([1, 2, 3] * 4),
              n_steps=12, n_trials=5, seed=9, method="shuffle",
              record=("params", "work", "heat_theta"))
    whole = learn(GaussianMean(std=1.0), data, **kw)
    parts = learn(GaussianMean(std=1.0), data, chunk_size=2, **kw)
    np.testing.assert_array_equal(whole.params, parts.params)
    np.testing.assert_array_equal(whole.work, parts.work)
    np.testing.assert_array_equal(parts.lr_schedule, whole.lr_schedule)
