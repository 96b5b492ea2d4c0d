import numba
import numpy as np
import pytest
from naive_sim import splitmix_normals
from scipy import stats

from stochthermo._rng import trajectory_seeds
from stochthermo.kernels._random import fill_normals
from stochthermo.simulation import _ziggurat_table, standard_normals


def test_ziggurat_table_closes():
    zig = _ziggurat_table()
    x = zig[0]
    assert x[1] == pytest.approx(3.6541528853610088, rel=1e-12)  # published 256-layer edge
    assert x[256] == 0.0 and np.all(np.diff(x[1:]) < 0)
    # every layer has the same area V = x_i (f(x_{i+1}) - f(x_i))
    f = zig[2]
    areas = x[1:255] * (f[2:256] - f[1:255])
    assert np.allclose(areas, areas[0], rtol=1e-9)


def test_kernel_matches_python_twin_bit_for_bit():
    zig = _ziggurat_table()
    seeds = trajectory_seeds(123, 3)
    ctr = np.zeros(3, dtype=np.uint64)
    out = np.empty((3, 3000))
    fill_normals(seeds, ctr, zig, out)
    for k in range(3):
        ref, c = splitmix_normals(int(seeds[k]), 3000, zig)
        np.testing.assert_array_equal(out[k], ref)
        assert int(ctr[k]) == c
        assert c > 3000  # slow path (tail / wedges) was exercised


def test_counter_continuation_and_thread_independence():
    zig = _ziggurat_table()
    seeds = trajectory_seeds(7, 5)
    whole = np.empty((5, 400))
    fill_normals(seeds, np.zeros(5, np.uint64), zig, whole)
    ctr = np.zeros(5, np.uint64)
    a, b = np.empty((5, 150)), np.empty((5, 250))
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        fill_normals(seeds, ctr, zig, a)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        fill_normals(seeds, ctr, zig, b)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(np.hstack([a, b]), whole)


def test_normal_distribution():
    z = standard_normals(2024, 16, 50_000).ravel()
    n = z.size
    assert abs(z.mean()) < 4 / np.sqrt(n)
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / n)
    assert abs(stats.skew(z)) < 4 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 4 * np.sqrt(24 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-4
    # tail beyond the base-layer edge r (sampled by the slow path)
    r = _ziggurat_table()[0, 1]
    p = 2 * stats.norm.sf(r)
    frac = np.mean(np.abs(z) > r)
    assert abs(frac - p) < 4 * np.sqrt(p / n)
    # null control: a uniform sample must fail the same KS test
    assert stats.kstest(np.linspace(-1, 1, 2000), "norm").pvalue < 1e-4


def test_streams_uncorrelated():
    z = standard_normals(5, 40, 20_000)
    c = np.corrcoef(z)
    off = c[~np.eye(40, dtype=bool)]
    assert np.max(np.abs(off)) < 5 / np.sqrt(20_000)
    lag = np.mean(z[:, 1:] * z[:, :-1])
    assert abs(lag) < 4 / np.sqrt(z[:, 1:].size)
