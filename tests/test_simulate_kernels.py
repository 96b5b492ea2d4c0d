"""The grouped kernels give the numbers of the one-trajectory kernels, bit for bit.

The grouped kernels (``GROUP`` trajectories side by side, normals drawn a segment ahead) only
change how the work is laid out; every trajectory must do the same arithmetic on the same
normals of its own stream. Compared here on raw kernel calls, with trajectories that blow up
at different steps (state, observables and counter left as after the failing step), some that
had already failed, a trajectory count that is not a multiple of ``GROUP``, saves inside and
across segments, and pre-drawn noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from stochthermo._rng import trajectory_seeds
from stochthermo.kernels._langevin import (
    GROUP,
    affine_dense,
    affine_dense_groups,
    affine_diag,
    affine_diag_groups,
)
from stochthermo.simulation import _ziggurat_table

ZIG = _ziggurat_table()


def _diag_inputs(d, n_traj, n, save_every, heat, blow_up, pre_failed, noise):
    rng = np.random.default_rng(d * 100 + n_traj)
    p = rng.uniform(0.5, 0.99, d)
    if blow_up:
        p[0] = -2.0  # |x_0| doubles per step: overflow after ~1000 steps from 1
    b = rng.normal(size=d) * 0.1
    q = rng.uniform(0.1, 0.5, d)
    labels = np.arange(d, dtype=np.int64) % 2
    n_obs = min(d, 2) if heat else 0
    hw = ((rng.normal(size=d), rng.normal(size=d), labels) if heat
          else (np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)))
    x = rng.normal(size=(n_traj, d))
    if blow_up:
        x[:, 0] = 10.0 ** (20.0 * np.arange(n_traj) % 300)
    fail = np.full(n_traj, -1, dtype=np.int64)
    if pre_failed:
        fail[1::5] = 3
    n_saved = n // save_every + 1
    nz = rng.normal(size=(n_traj, n, d)) if noise else np.zeros((0, 0, 0))
    return dict(weights=(p, b, q), steps=(n, save_every, 1, 7),
                stream=(trajectory_seeds(5, n_traj), ZIG, nz), heat=hw,
                arrays=dict(x=x, counters=np.arange(n_traj, dtype=np.uint64) * 3,
                            acc=rng.normal(size=(n_traj, n_obs)),
                            out_x=np.full((n_traj, n_saved, d), np.nan),
                            out_obs=np.full((n_traj, n_saved, n_obs), np.nan), fail=fail))


def _run(kernel, inp):
    arr = {k: v.copy() for k, v in inp["arrays"].items()}
    kernel(inp["weights"], inp["steps"], inp["stream"], inp["heat"], arr["x"], arr["counters"],
           arr["acc"], arr["out_x"], arr["out_obs"], arr["fail"])
    return arr


@pytest.mark.parametrize("d, n_traj, n, save_every, heat, blow_up, pre_failed, noise", [
    (1, 2 * GROUP + 3, 700, 7, False, False, False, False),
    (1, GROUP - 1, 600, 600, False, True, True, False),
    (1, 3 * GROUP, 1500, 5, True, True, False, False),
    (3, GROUP + 5, 400, 400, True, True, True, False),
    (2, GROUP + 1, 300, 1, False, True, False, False),
    (3, GROUP + 2, 60, 4, True, False, True, True),
])
def test_diag_groups_equal_one_trajectory_kernel(d, n_traj, n, save_every, heat, blow_up,
                                                  pre_failed, noise):
    inp = _diag_inputs(d, n_traj, n, save_every, heat, blow_up, pre_failed, noise)
    one = _run(affine_diag, inp)
    grouped = _run(affine_diag_groups, inp)
    for name in one:
        assert np.array_equal(one[name], grouped[name], equal_nan=True), name
    if blow_up:  # the failures are really exercised, at different steps
        new = one["fail"][inp["arrays"]["fail"] < 0]
        assert np.sum(new >= 0) >= 2 and len(set(new[new >= 0])) >= 2
    if not noise:  # the streams advanced
        assert np.any(one["counters"] != inp["arrays"]["counters"])


def _dense_inputs(ds, m, n_traj, n, save_every, time_dep, q_diag, blow_up, noise):
    rng = np.random.default_rng(ds * 10 + m)
    nt = n if time_dep else 1
    P = 0.9 * np.eye(ds) + 0.05 * rng.normal(size=(nt, ds, ds))
    if blow_up:
        P[:, 0, 0] = -2.0
    b = 0.1 * rng.normal(size=(n if time_dep else 1, ds))
    Q = 0.3 * rng.normal(size=(nt, ds, m))
    if q_diag:
        Q = np.broadcast_to(np.diag(rng.uniform(0.1, 0.5, ds)), (nt, ds, ds)).copy()
    e3 = np.zeros((0, 0, 0))
    obs = (e3, np.zeros((0, 0)), np.zeros(ds, dtype=np.int64), 0, False, e3, np.zeros((0, ds)),
           np.zeros(0), np.zeros((0, ds, ds)), np.zeros((0, ds)))
    x = rng.normal(size=(n_traj, ds))
    if blow_up:
        x[:, 0] = 1e300 / 2.0 ** (np.arange(n_traj) * n // (2 * n_traj))  # fail at ~k n / 2n
    fail = np.full(n_traj, -1, dtype=np.int64)
    fail[2::7] = 1
    n_saved = n // save_every + 1
    nz = rng.normal(size=(n_traj, n, Q.shape[2])) if noise else e3
    return dict(args=((P, b, Q), q_diag, (n, save_every, 1, 0),
                      (trajectory_seeds(9, n_traj), ZIG, nz), obs),
                arrays=dict(x=x, counters=np.zeros(n_traj, dtype=np.uint64),
                            acc=np.zeros((n_traj, 0)),
                            out_x=np.full((n_traj, n_saved, ds - 1), np.nan),
                            out_obs=np.zeros((n_traj, n_saved, 0)), fail=fail))


@pytest.mark.parametrize("ds, m, n_traj, n, save_every, time_dep, q_diag, blow_up, noise", [
    (3, 3, GROUP + 5, 300, 10, False, True, True, False),
    (11, 11, 2 * GROUP + 1, 120, 120, False, False, True, False),
    (9, 4, GROUP - 3, 50, 5, True, False, False, False),
    (4, 4, GROUP + 2, 40, 1, True, True, True, True),
])
def test_dense_groups_equal_one_trajectory_kernel(ds, m, n_traj, n, save_every, time_dep,
                                                   q_diag, blow_up, noise):
    inp = _dense_inputs(ds, m, n_traj, n, save_every, time_dep, q_diag, blow_up, noise)
    res = []
    for kernel in (affine_dense, affine_dense_groups):
        arr = {k: v.copy() for k, v in inp["arrays"].items()}
        kernel(*inp["args"], arr["x"], arr["counters"], arr["acc"], arr["out_x"],
               arr["out_obs"], arr["fail"])
        res.append(arr)
    for name in res[0]:
        assert np.array_equal(res[0][name], res[1][name], equal_nan=True), name
    new = res[0]["fail"][inp["arrays"]["fail"] < 0]
    if blow_up:
        assert len(set(new[new >= 0])) >= 2
    assert np.all(np.isfinite(res[0]["out_x"][res[0]["fail"] < 0, 1:]))  # the others ran on


def _nl_inputs(d, n_traj, n, save_every, blow_up, noise):
    rng = np.random.default_rng(d + n_traj)
    x = rng.normal(size=(n_traj, d))
    if blow_up:  # the cubic drift throws these out within a few steps, at different steps
        x[::3, 0] = 3.0 + 0.5 * np.arange(len(x[::3]))
    fail = np.full(n_traj, -1, dtype=np.int64)
    fail[4::9] = 2
    n_saved = n // save_every + 1
    e3 = np.zeros((0, 0, 0))
    nz = rng.normal(size=(n_traj, n, d)) if noise else e3
    return dict(steps=(n, save_every, 1, 11), stream=(trajectory_seeds(3, n_traj), ZIG, nz),
                arrays=dict(x=x, counters=np.full(n_traj, 5, dtype=np.uint64),
                            acc=np.zeros((n_traj, 0)),
                            out_x=np.full((n_traj, n_saved, d), np.nan),
                            out_obs=np.zeros((n_traj, n_saved, 0)), fail=fail))


def _nl_reference(drift, params, h, L, inp):
    from stochthermo.kernels._sim_nonlinear import nonlinear_sde
    from stochthermo.models.nonlinear import _builtin_functions

    arr = {k: v.copy() for k, v in inp["arrays"].items()}
    d = L.shape[0]
    e3 = np.zeros((0, 0, 0))
    obs = (np.zeros((0, 0)), np.zeros(d, dtype=np.int64), 0, False, False, e3, np.zeros((0, d)))
    nonlinear_sde(drift, _builtin_functions()["no_potential"], params, h, 0,
                  (L, bool(np.all(L == np.diag(np.diag(L))))), inp["steps"], inp["stream"], obs,
                  arr["x"], arr["counters"], arr["acc"], arr["out_x"], arr["out_obs"],
                  arr["fail"])
    return arr


@pytest.mark.parametrize("d, n_traj, n, save_every, blow_up, noise", [
    (1, 2 * GROUP + 5, 600, 6, True, False),
    (3, GROUP - 2, 90, 90, True, False),
    (2, GROUP + 3, 40, 4, False, True),
])
def test_double_well_groups_equal_general_kernel(d, n_traj, n, save_every, blow_up, noise):
    from stochthermo.kernels._sim_nonlinear import double_well_groups
    from stochthermo.models.nonlinear import _builtin_functions

    h, params = 0.05, np.array([0.7, 0.2])
    L = np.diag(np.linspace(0.5, 1.5, d))
    inp = _nl_inputs(d, n_traj, n, save_every, blow_up, noise)
    ref = _nl_reference(_builtin_functions()["double_well_drift"], params, h, L, inp)
    arr = {k: v.copy() for k, v in inp["arrays"].items()}
    double_well_groups(params, h, np.sqrt(h) * np.diag(L), inp["steps"], inp["stream"],
                       arr["x"], arr["counters"], arr["out_x"], arr["fail"])
    for name in ref:
        assert np.array_equal(ref[name], arr[name], equal_nan=True), name
    new = ref["fail"][inp["arrays"]["fail"] < 0]
    if blow_up:
        assert len(set(new[new >= 0])) >= 2


@pytest.mark.parametrize("dim", [2, 0])  # built for d = 2 (a compile-time constant), any d
def test_user_drift_groups_equal_general_kernel(dim):
    import numba

    from stochthermo.kernels._sim_nonlinear import nonlinear_groups

    @numba.njit
    def drift(x, t, p, out):  # coupled, time-dependent, cubic: blows up from large |x|
        out[0] = -p[0] * x[0] ** 3 - x[1] + np.sin(t)
        out[1] = x[0] - p[1] * x[1]

    h, params = 0.02, np.array([8.0, 1.0])
    L = np.array([[0.8, 0.0], [0.3, 0.6]])  # correlated noise
    for blow_up, noise in ((True, False), (False, True)):
        inp = _nl_inputs(2, 2 * GROUP + 3, 300, 5, blow_up, noise)
        ref = _nl_reference(drift, params, h, L, inp)
        arr = {k: v.copy() for k, v in inp["arrays"].items()}
        nonlinear_groups(drift, 4, dim)(params, h, (L, False), inp["steps"], inp["stream"],
                                        arr["x"], arr["counters"], arr["out_x"], arr["fail"])
        for name in ref:
            assert np.array_equal(ref[name], arr[name], equal_nan=True), name
        new = ref["fail"][inp["arrays"]["fail"] < 0]
        assert (len(set(new[new >= 0])) >= 2) == blow_up


def test_grouped_nonlinear_kernels_follow_the_numpy_twin():
    """Pre-drawn noise: the grouped Euler kernels against tests/naive_sim.langevin_path."""
    import numba
    from naive_sim import langevin_path

    from stochthermo.kernels._sim_nonlinear import double_well_groups, nonlinear_groups

    @numba.njit
    def tilted(x, t, out):
        out[0] = -x[0] ** 3 + x[0] + 0.3 * np.cos(t) - 0.2 * x[1]
        out[1] = -x[1] + 0.5 * x[0]

    n_traj, n, h = GROUP + 4, 200, 0.01
    rng = np.random.default_rng(8)
    noise = rng.normal(size=(n_traj, n, 2))
    x0 = rng.normal(size=(n_traj, 2))
    L = np.diag([0.9, 1.3])
    params = np.array([0.6, 0.1])
    cases = (
        (lambda x, t: -4.0 * params[0] * x * (x * x - 1.0) + params[1],
         lambda *a: double_well_groups(params, h, np.sqrt(h) * np.diag(L), *a)),
        (lambda x, t: np.stack([-x[:, 0] ** 3 + x[:, 0] + 0.3 * np.cos(t) - 0.2 * x[:, 1],
                                -x[:, 1] + 0.5 * x[:, 0]], axis=1),
         lambda *a: nonlinear_groups(tilted, 3, 2)(params, h, (L, True), *a)),
    )
    for drift_np, run in cases:
        x = x0.copy()
        out_x = np.full((n_traj, n // 50 + 1, 2), np.nan)
        fail = np.full(n_traj, -1, dtype=np.int64)
        run((n, 50, 1, 0), (trajectory_seeds(0, n_traj), ZIG, noise), x,
            np.zeros(n_traj, dtype=np.uint64), out_x, fail)
        path = langevin_path(drift_np, L, x0, h, noise, "euler")
        assert np.all(fail == -1)
        np.testing.assert_allclose(out_x[:, 1:], path[:, 50::50], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(x, path[:, -1], rtol=1e-12, atol=1e-13)
        assert not np.allclose(x, x0)  # the twin is not compared with an unmoved state


def test_user_drift_falls_back_to_the_general_kernel(monkeypatch):
    """A drift whose source cannot be compiled again runs on nonlinear_sde: same numbers."""
    import numba

    import stochthermo as st
    from stochthermo.kernels import _sim_nonlinear
    from stochthermo.models.nonlinear import NonlinearLangevin

    @numba.njit
    def drift(x, t, out):
        out[0] = x[0] - x[0] ** 3

    model = NonlinearLangevin(drift, 0.5, dim=1)
    kw = dict(n_traj=GROUP + 3, n_steps=40, dt=0.01, seed=4, save_every=8)
    grouped = st.simulate(model, **kw)
    calls = []

    def refuse(drift, n_args, dim):
        calls.append((n_args, dim))
        raise numba.core.errors.TypingError("cannot compile this drift again")

    monkeypatch.setattr(_sim_nonlinear, "nonlinear_groups", refuse)
    general = st.simulate(model, **kw)
    assert calls == [(3, 1)]
    assert np.array_equal(grouped.x, general.x)
    assert np.array_equal(grouped.meta["state"]["counters"], general.meta["state"]["counters"])


def test_grouped_runs_do_not_depend_on_threads_or_chunks():
    """Groups are cut differently by chunks and threads; every trajectory's numbers are not."""
    import numba

    import stochthermo as st
    from stochthermo.models.nonlinear import double_well

    dense = st.LinearLangevin([[1.0, 0.6, 0.0], [-0.4, 1.5, 0.2], [0.0, 0.3, 0.8]], np.eye(3))
    models = (st.LinearLangevin([[1.2]], [[0.7]]), dense, double_well(0.5, 0.8))
    kw = dict(n_traj=2 * GROUP + 7, n_steps=60, dt=0.01, seed=21, save_every=12)
    threads = numba.get_num_threads()
    for model in models:
        whole = st.simulate(model, **kw)
        chunked = st.simulate(model, chunk_size=GROUP // 2 + 1, **kw)
        numba.set_num_threads(1)
        try:
            one = st.simulate(model, **kw)
        finally:
            numba.set_num_threads(threads)
        for other in (chunked, one):
            assert np.array_equal(whole.x, other.x)
        assert np.all(np.isfinite(whole.x)) and np.std(whole.x[:, -1]) > 0
