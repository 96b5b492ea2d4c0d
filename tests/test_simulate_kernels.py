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
from stochthermo.kernels._langevin import GROUP, affine_diag, affine_diag_groups
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
