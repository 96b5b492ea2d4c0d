"""On-disk ensembles: bit-identical to in-memory runs, resumable, read lazily by estimators."""

import tracemalloc

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")

import stochthermo as st  # noqa: E402
from stochthermo import estimate  # noqa: E402
from stochthermo.errors import ValidationError  # noqa: E402
from stochthermo.simulation import _chunked  # noqa: E402
from stochthermo.store import open_store, simulate_to_store  # noqa: E402

MODEL = st.LinearLangevin([[1.0, 0.8], [-0.8, 1.0]], [[1.0, 0.0], [0.0, 0.3]])
KW = dict(n_steps=200, dt=0.01, method="exact", x0="stationary", observables=("heat",),
          save_every=2)


@pytest.mark.parametrize("chunk_size", [7, 64, 1000])
def test_store_is_bit_identical_to_memory(tmp_path, chunk_size):
    s = simulate_to_store(MODEL, tmp_path / "r.zarr", n_traj=150, seed=5, chunk_size=chunk_size,
                          **KW)
    e = st.simulate(MODEL, n_traj=150, seed=5, **KW)
    np.testing.assert_array_equal(np.asarray(s.x[:]), e.x)
    np.testing.assert_array_equal(np.asarray(s.observables["heat"][:]), e.observables["heat"])
    np.testing.assert_array_equal(s.t, e.t)
    loaded = s.load(slice(10, 20))
    np.testing.assert_array_equal(loaded.x, e.x[10:20])


def test_estimators_read_the_store_lazily(tmp_path):
    s = simulate_to_store(MODEL, tmp_path / "r.zarr", n_traj=4000, seed=1, chunk_size=128, **KW)
    e = s.load()
    a = estimate.entropy_production(s, method="linear")
    b = estimate.entropy_production(e, method="linear")
    assert a.value == b.value and a.stderr == b.stderr
    assert a.zscore(st.exact.entropy_production(MODEL)) == pytest.approx(0, abs=3)
    fa = estimate.information_flow(s, blocks=[1, 1])
    fb = estimate.information_flow(e, blocks=[1, 1])
    np.testing.assert_array_equal(fa.value, fb.value)
    del e
    tracemalloc.start()
    estimate.entropy_production(s, method="linear", n_groups=32)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.3 * (4000 * s.n_time * 2 * 8)  # one group at a time, not the ensemble


def test_interrupted_store_resumes_with_only_the_missing_chunks(tmp_path, monkeypatch):
    path = tmp_path / "r.zarr"
    real = _chunked.simulate_chunk
    calls = []
    crash = [True]

    def flaky(*args):
        calls.append(args[2])
        if crash[0] and len(calls) == 3:
            raise RuntimeError("interrupted")
        return real(*args)

    monkeypatch.setattr(_chunked, "simulate_chunk", flaky)
    with pytest.raises(RuntimeError, match="interrupted"):
        simulate_to_store(MODEL, path, n_traj=100, seed=9, chunk_size=20, **KW)
    with pytest.raises(ValidationError, match="unfinished"):
        open_store(path)
    calls.clear()
    crash[0] = False
    s = simulate_to_store(MODEL, path, n_traj=100, seed=9, chunk_size=20, **KW)
    assert calls == [40, 60, 80]  # the two finished chunks were kept
    e = st.simulate(MODEL, n_traj=100, seed=9, **KW)
    np.testing.assert_array_equal(np.asarray(s.x[:]), e.x)


def test_store_refuses_another_run(tmp_path):
    path = tmp_path / "r.zarr"
    simulate_to_store(MODEL, path, n_traj=20, seed=3, chunk_size=10, **KW)
    with pytest.raises(ValidationError, match="different run"):
        simulate_to_store(MODEL, path, n_traj=30, seed=3, chunk_size=10, **KW)
    other = st.LinearLangevin([[1.0, 0.8], [-0.8, 1.0]], [[1.0, 0.0], [0.0, 0.31]])
    with pytest.raises(ValidationError, match="different run"):
        simulate_to_store(other, path, n_traj=20, seed=3, chunk_size=10, **KW)
    with pytest.raises(ValidationError, match="another seed"):
        simulate_to_store(MODEL, path, n_traj=20, seed=4, chunk_size=10, **KW)
    with pytest.raises(ValidationError, match="not a stochthermo store"):
        open_store(tmp_path / "nothing.zarr")


def test_store_on_dask(tmp_path):
    dd = pytest.importorskip("distributed")
    with dd.Client(processes=False, n_workers=1, threads_per_worker=2,
                   dashboard_address=":0") as client:
        s = simulate_to_store(MODEL, tmp_path / "r.zarr", n_traj=90, seed=2, chunk_size=16,
                              client=client, **KW)
    e = st.simulate(MODEL, n_traj=90, seed=2, **KW)
    np.testing.assert_array_equal(np.asarray(s.x[:]), e.x)
