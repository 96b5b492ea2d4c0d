"""Hostile requests to simulate and learn: huge outputs, unstable maps, empty or bad data.

Each request here used to run (for minutes, or into NumPy's MemoryError), simulate to 1e59, or
fail with a foreign error; now it fails before any work with our own error naming the request
and a way out.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import stochthermo as st
from stochthermo import _memory
from stochthermo.errors import (
    ResourceError,
    SimulationError,
    UnstableModelError,
    ValidationError,
)
from stochthermo.learning import GaussianMean, LinearRegression, SoftmaxRegression, learn
from stochthermo.models.nonlinear import NonlinearLangevin

OU = st.LinearLangevin([[1.0, 0.0], [0.0, 2.0]], np.eye(2))
DATA = np.random.default_rng(0).normal(size=20)
GIB4 = 4 * 2**30


def _fails_fast(fn, error=ResourceError, match=None, seconds=1.0):
    t0 = time.perf_counter()
    with pytest.raises(error, match=match) as info:
        fn()
    assert time.perf_counter() - t0 < seconds
    return str(info.value)


# ---------------------------------------------------------------- memory guards: simulate


def test_simulate_asking_for_hundreds_of_tib_fails_at_once_with_our_error():
    msg = _fails_fast(lambda: st.simulate(OU, n_traj=10**6, n_steps=6 * 10**7, dt=0.01))
    assert "TiB" in msg and "n_traj=1000000" in msg and "n_steps=60000000" in msg
    for way_out in ("save_every", "reduce='moments'", "simulate_to_store", "max_bytes"):
        assert way_out in msg


def test_simulate_budget_is_the_keyword_and_counts_observables():
    kw = dict(n_traj=100, n_steps=100, dt=0.01, seed=1)
    x_only = 100 * 101 * 2 * 8
    st.simulate(OU, max_bytes=10 * x_only, **kw)  # control: within the budget it runs
    with pytest.raises(ResourceError, match="max_bytes"):
        st.simulate(OU, max_bytes=x_only // 2, **kw)
    with pytest.raises(ResourceError):  # heat adds columns: the same budget no longer fits
        st.simulate(OU, max_bytes=int(1.5 * x_only) + 1, observables=("heat",), **kw)
    st.simulate(OU, max_bytes=int(1.5 * x_only) + 1, save_every=10, observables=("heat",),
                **kw)  # saving fewer points is the documented way out


def test_simulate_chunked_and_trap_requests_are_guarded_too():
    _fails_fast(lambda: st.simulate(OU, n_traj=10**6, n_steps=10**7, dt=0.01, chunk_size=1000))
    trap = st.models.nonlinear.dragged_trap(1.0, 1.0)
    # a moving trap holds per-step weights: n_steps alone can exhaust memory
    _fails_fast(lambda: st.simulate(trap, n_traj=1, n_steps=10**10, save_every=10**10,
                                    dt=0.01, max_bytes=GIB4))


def test_default_budget_is_half_the_physical_memory(monkeypatch):
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert _memory.default_budget() == total // 2
    monkeypatch.setattr(_memory, "default_budget", lambda: 1000)
    msg = _fails_fast(lambda: st.simulate(OU, n_traj=10, n_steps=10, dt=0.01))
    assert "half of this machine's memory" in msg


def test_max_bytes_must_be_a_count():
    with pytest.raises(ValidationError, match="max_bytes"):
        st.simulate(OU, n_traj=2, n_steps=2, dt=0.01, max_bytes=-5)
    with pytest.raises(ValidationError, match="max_bytes"):
        st.simulate(OU, n_traj=2, n_steps=2, dt=0.01, max_bytes=True)


# ---------------------------------------------------------------- memory guards: learn


def test_learn_with_1e8_steps_fails_at_once():
    msg = _fails_fast(lambda: learn(GaussianMean(), DATA, lr=0.1, batch_size=2,
                                    n_steps=10**8, n_trials=4, max_bytes=GIB4))
    assert "n_steps=100000000" in msg
    for way_out in ("record_every", "record=", "param_subset"):
        assert way_out in msg


def test_learn_with_a_million_trials_fails_at_once():
    msg = _fails_fast(lambda: learn(GaussianMean(), DATA, lr=0.1, batch_size=2, n_steps=1000,
                                    n_trials=10**6, max_bytes=GIB4))
    assert "n_trials=1000000" in msg


def test_learn_guard_comes_before_drawing_datasets_and_on_the_chunked_path():
    calls = []

    def data(rng):
        calls.append(1)
        return rng.normal(size=10)

    _fails_fast(lambda: learn(GaussianMean(), data, n_datasets=10**5, n_trials=10, lr=0.1,
                              batch_size=2, n_steps=10**4, max_bytes=GIB4))
    assert calls == []
    _fails_fast(lambda: learn(GaussianMean(), DATA, lr=0.1, batch_size=2, n_steps=10**6,
                              n_trials=10**4, chunk_size=100, max_bytes=GIB4))


def test_learn_budget_control_and_record_every_way_out():
    kw = dict(lr=0.1, batch_size=2, n_steps=1000, n_trials=10, seed=0)
    with pytest.raises(ResourceError):
        learn(GaussianMean(), DATA, max_bytes=200_000, **kw)
    ens = learn(GaussianMean(), DATA, max_bytes=200_000, record=("params", "loss"),
                record_every=100, **kw)
    assert ens.params.shape == (10, 11, 1)


def test_learn_budget_message_names_what_would_shrink_the_request():
    kw = dict(lr=0.1, batch_size=2, n_steps=10**5, n_trials=10, seed=0)
    # mostly per-step arrays (work, heat, the energy): record_every would not help
    with pytest.raises(ResourceError, match="quantities work, heat are kept at every") as e:
        learn(GaussianMean(), DATA, max_bytes=10**6, record_every=1000, **kw)
    assert "a larger record_every" not in str(e.value)
    # mostly the recorded grid: a coarser grid would help
    with pytest.raises(ResourceError, match="a larger record_every"):
        learn(GaussianMean(), DATA, max_bytes=10**6, record=("params", "loss"), **kw)


# ---------------------------------------------------------------- unstable SGD map


def test_simulate_refuses_an_unstable_sgd_map_like_exact():
    sgd = st.LinearizedSGD([[1.0]], [[1.0]], lr=5.0, batch_size=1)  # map 1 - 5 = -4
    with pytest.raises(UnstableModelError) as info:
        st.simulate(sgd, n_traj=2, n_steps=50, seed=0)
    msg = str(info.value)
    assert "spectral radius 4" in msg and "2" in msg  # largest stable lr = 2 / H = 2
    with pytest.raises(UnstableModelError):
        st.exact.stationary_covariance(sgd)
    ok = st.LinearizedSGD([[1.0]], [[1.0]], lr=1.9, batch_size=1)  # control: radius 0.9
    assert np.isfinite(st.simulate(ok, n_traj=2, n_steps=50, seed=0).x).all()


# ---------------------------------------------------------------- learn on bad data


@pytest.mark.parametrize("model, data", [
    (GaussianMean(), np.zeros(0)),
    (GaussianMean(dim=2), np.zeros((0, 2))),
    (LinearRegression(n_in=2), (np.zeros((0, 2)), np.zeros(0))),
    (SoftmaxRegression(n_in=2, n_classes=2), (np.zeros((0, 2)), np.zeros(0, dtype=int))),
    (GaussianMean(), []),
])
def test_learn_on_empty_data_says_so(model, data):
    with pytest.raises(ValidationError, match="no samples|empty list"):
        learn(model, data, lr=0.1, batch_size=1, n_steps=3, seed=0)


@pytest.mark.parametrize("model, data, where", [
    (GaussianMean(), np.array([1.0, np.nan, 2.0]), "sample 1"),
    (LinearRegression(n_in=2), (np.array([[1.0, 0.0], [0.0, np.inf]]), np.zeros(2)), "inputs"),
    (LinearRegression(n_in=2), (np.ones((2, 2)), np.array([0.0, np.nan])), "targets"),
    (SoftmaxRegression(n_in=2, n_classes=2), (np.array([[np.nan, 1.0], [0.0, 1.0]]),
                                              np.array([0, 1])), "inputs"),
])
def test_learn_names_non_finite_data_as_bad_data(model, data, where):
    with pytest.raises(ValidationError, match="non-finite") as info:
        learn(model, data, lr=0.1, batch_size=1, n_steps=3, seed=0)
    assert where in str(info.value) and "diverge" in str(info.value)


@pytest.mark.parametrize("key", ["n_steps", "n_trials", "batch_size", "record_every",
                                 "n_datasets", "eval_every"])
def test_learn_refuses_counts_given_as_bools(key):
    kw = dict(lr=0.1, batch_size=2, n_steps=3, seed=0)
    kw[key] = True
    with pytest.raises(ValidationError, match="boolean"):
        learn(GaussianMean(), DATA, **kw)


@pytest.mark.parametrize("key", ["n_traj", "n_steps", "save_every"])
def test_simulate_refuses_counts_given_as_bools(key):
    kw = dict(n_traj=2, n_steps=2, dt=0.01, seed=0)
    kw[key] = True
    with pytest.raises(ValidationError, match="boolean"):
        st.simulate(OU, **kw)


# ---------------------------------------------------------------- partial results


def test_simulation_error_partial_is_nan_where_nothing_was_written():
    def drift(x, t, out):
        out[0] = x[0] ** 3  # blows up from x0 = 2 within a few steps

    model = NonlinearLangevin(drift, 1e-6, dim=1)
    with pytest.raises(SimulationError) as info:
        st.simulate(model, n_traj=3, n_steps=400, dt=0.05, x0=[2.0], seed=0)
    err = info.value
    assert f"step {err.step}" in str(err) and "of 400" in str(err)
    x = err.partial["x"]
    saved = err.step - 1  # the rows saved before the failing step
    assert np.isfinite(x[err.trajectory, :saved]).all()
    assert np.isnan(x[err.trajectory, err.step:]).all()  # never garbage from np.empty


def test_learn_divergence_partial_is_nan_after_the_failure():
    with pytest.raises(SimulationError) as info, np.errstate(over="ignore", invalid="ignore"):
        learn(GaussianMean(), DATA, lr=50.0, batch_size=2, n_steps=2000, seed=0,
              record=("params", "batch_loss"))
    err = info.value
    assert f"after {err.step} of 2000 steps" in str(err)
    params = err.partial["params"]
    assert np.isnan(params[:, err.step + 1:]).all()
    assert np.isfinite(params[:, : err.step + 1]).all()
    assert np.isnan(err.partial["batch_loss"][:, err.step + 1:]).all()
