"""Gillespie jumps per second on the 4-state sensor: the Numba kernel against a NumPy loop.

The kernel (``stochthermo.simulate_jump``, all observables on) runs with 1 thread and with all
threads; the baseline is a vectorised NumPy loop that advances every trajectory by one jump per
iteration (exponential waiting times and the next state drawn from NumPy's ``Generator`` for the
whole ensemble at once, entropy flow accumulated), which is the fastest plain-NumPy route.
Figures are jumps per second (median of repeats), measured in this run.
Usage: python benchmarks/bench_jump.py [--quick]
"""

from __future__ import annotations

import sys
import time

import numba
import numpy as np

import stochthermo as st

QUICK = "--quick" in sys.argv
REPEATS = 3


def timeit(fn, repeats=REPEATS):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def numpy_loop(model, n_traj, n_jumps, seed=0):
    """Every trajectory makes ``n_jumps`` jumps; returns the total number of jumps."""
    rng = np.random.default_rng(seed)
    W = np.asarray(model.W)
    n = W.shape[0]
    exit_rate = W.sum(axis=0)
    cum = np.cumsum(W, axis=0) / exit_rate  # cum[i, j]: P(next <= i | from j)
    lnw = np.where(W > 0, np.log(np.where(W > 0, W, 1.0)) - np.log(np.where(W.T > 0, W.T, 1.0)),
                   0.0)
    s = rng.integers(0, n, n_traj)
    t = np.zeros(n_traj)
    flow = np.zeros(n_traj)
    for _ in range(n_jumps):
        t += rng.exponential(1.0 / exit_rate[s])
        u = rng.random(n_traj)
        nxt = (cum[:, s] < u[None, :]).sum(axis=0)
        flow += lnw[nxt, s]
        s = nxt
    return n_traj * n_jumps


def main():
    model = st.BipartiteJump.sensor(w=1.0, a=4.0, b=0.5)
    mean_rate = float(st.exact.stationary_distribution(model) @ model.exit_rates)
    n_traj = 2000 if QUICK else 8000
    t_max = (2e6 if QUICK else 2e7) / (n_traj * mean_rate)

    def kernel():
        ens = st.simulate_jump(model, n_traj=n_traj, t_max=t_max, n_steps=10, seed=1)
        return int(ens.observables["n_jumps"].sum())

    kernel()  # compile
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        t1, jumps = timeit(kernel)
    finally:
        numba.set_num_threads(old)
    tn, jumps_n = timeit(kernel)
    assert jumps == jumps_n  # same streams, same paths
    nj = 100 if QUICK else 400
    tnp, jumps_np = timeit(lambda: numpy_loop(model, n_traj, nj), repeats=2)
    r1, rn, rnp = jumps / t1, jumps / tn, jumps_np / tnp
    print(f"4-state sensor (w=1, a=4, b=0.5), {n_traj} trajectories, {jumps:.3g} jumps")
    print(f"  kernel, 1 thread          : {r1:10.3g} jumps/s")
    print(f"  kernel, {old} threads{'':<{10 - len(str(old))}}: {rn:10.3g} jumps/s")
    print(f"  vectorised NumPy loop     : {rnp:10.3g} jumps/s")
    print(f"  speed-up vs NumPy: {r1 / rnp:.1f}x (1 thread), {rn / rnp:.1f}x ({old} threads)")


if __name__ == "__main__":
    main()
