"""Speed of stochthermo.simulate against a vectorised NumPy loop, the RNG floor and peers.

Cases (Euler-Maruyama, states kept only at the end):
  (a) diagonal OU, d = 1000, 64 trajectories, 2000 steps
  (b) dense OU,    d = 50,   64 trajectories, 5000 steps
  (c) 1-d OU,      10,000 trajectories, 10,000 steps
Figures are ns per trajectory-step-dimension (median of repeats), all measured in this run.
RNG floor: drawing the same number of normals with the kernels' generator on all threads.
Peers (sdeint, sdepy) are timed on a reduced problem when installed; torchsde and diffrax are
not installed here. Usage: python benchmarks/bench_simulate.py [--quick]
"""

from __future__ import annotations

import sys
import time

import numba
import numpy as np

import stochthermo as st
from stochthermo._rng import trajectory_seeds
from stochthermo.kernels._random import fill_normals
from stochthermo.simulation import _ziggurat_table, simulate

QUICK = "--quick" in sys.argv
REPEATS = 3


def timeit(fn, repeats=REPEATS):
    fn_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        fn_times.append(time.perf_counter() - t0)
    return float(np.median(fn_times))


def numpy_loop(A, diag, Dd, n_traj, n_steps, dt, seed=0):
    rng = np.random.default_rng(seed)
    d = A.shape[0]
    x = np.zeros((n_traj, d))
    s = np.sqrt(2 * Dd * dt)
    if diag:
        a = np.diag(A) * dt
        for _ in range(n_steps):
            x -= a * x
            x += s * rng.standard_normal((n_traj, d))
    else:
        P = (np.eye(d) - A * dt).T
        for _ in range(n_steps):
            x = x @ P
            x += s * rng.standard_normal((n_traj, d))
    return x


def rng_floor(n_traj, n_per_traj):
    zig = _ziggurat_table()
    seeds = trajectory_seeds(0, n_traj)
    ctr = np.zeros(n_traj, np.uint64)
    chunk = max(1, min(n_per_traj, 2_000_000 // n_traj))
    out = np.empty((n_traj, chunk))

    def run():
        done = 0
        while done < n_per_traj:
            fill_normals(seeds, ctr, zig, out)
            done += chunk

    return run, chunk * -(-n_per_traj // chunk)


def case(name, A, Dd, n_traj, n_steps, dt=0.01):
    d = A.shape[0]
    diag = bool(np.all(A == np.diag(np.diag(A))))
    model = st.LinearLangevin(A, np.diag(Dd))
    units = n_traj * n_steps * d
    simulate(model, n_traj=2, n_steps=2, dt=dt, seed=0, save_every=2)  # compile / load
    t_st = timeit(lambda: simulate(model, n_traj=n_traj, n_steps=n_steps, dt=dt, seed=1,
                                   save_every=n_steps))
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    t_st1 = timeit(lambda: simulate(model, n_traj=n_traj, n_steps=n_steps, dt=dt, seed=1,
                                    save_every=n_steps), repeats=1)
    numba.set_num_threads(old)
    t_np = timeit(lambda: numpy_loop(A, diag, Dd, n_traj, n_steps, dt), repeats=2)
    run, drawn = rng_floor(n_traj, n_steps * d)
    run()
    t_rng = timeit(run) * units / (n_traj * drawn)
    return dict(name=name, units=units, st=t_st, st1=t_st1, np=t_np, rng=t_rng)


def rng_per_core():
    n_traj, n = 64, 100_000
    zig = _ziggurat_table()
    seeds = trajectory_seeds(0, n_traj)
    ctr = np.zeros(n_traj, np.uint64)
    out = np.empty((n_traj, n))
    fill_normals(seeds, ctr, zig, out)
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    t_ours = timeit(lambda: fill_normals(seeds, ctr, zig, out))
    numba.set_num_threads(old)
    g = np.random.default_rng(0)
    buf = np.empty(n_traj * n)
    t_np = timeit(lambda: g.standard_normal(out=buf))
    return t_ours / out.size * 1e9, t_np / buf.size * 1e9


def peers(n_traj=64, d=1000, n_steps=50, dt=0.01):
    """Time the peers on a reduced case (a) (fewer steps); returns {name: ns per update}."""
    res = {}
    a = np.ones(d)
    s = np.sqrt(2 * dt / dt)  # diffusion coefficient per unit time: sqrt(2 D), D = 1
    tspan = np.linspace(0.0, n_steps * dt, n_steps + 1)
    try:
        import sdeint

        def run_sdeint():
            G = np.diag(np.full(d, s))
            for _ in range(max(1, n_traj // 16)):  # sdeint runs one trajectory at a time
                sdeint.itoEuler(lambda x, t: -a * x, lambda x, t: G, np.zeros(d), tspan)

        t = timeit(run_sdeint, repeats=1)
        res["sdeint (itoEuler)"] = t / (max(1, n_traj // 16) * n_steps * d) * 1e9
    except ImportError:
        res["sdeint (itoEuler)"] = None
    try:
        import sdepy

        def run_sdepy():
            p = sdepy.ornstein_uhlenbeck_process(paths=n_traj, vshape=d, theta=0.0, k=1.0,
                                                 sigma=s, x0=0.0, steps=n_steps)
            p(tspan)

        run_sdepy()
        t = timeit(run_sdepy, repeats=2)
        res["sdepy (ornstein_uhlenbeck_process)"] = t / (n_traj * n_steps * d) * 1e9
    except ImportError:
        res["sdepy (ornstein_uhlenbeck_process)"] = None
    return res


def main():
    scale = 10 if QUICK else 1
    rng = np.random.default_rng(0)
    M = rng.standard_normal((50, 50)) / np.sqrt(50)
    dense = np.eye(50) + 0.3 * (M - M.T) + 0.1 * M @ M.T
    cases = [
        case("(a) diag OU d=1000, 64 x 2000", np.diag(np.linspace(0.5, 2.0, 1000)),
             np.full(1000, 1.0), 64, 2000 // scale),
        case("(b) dense OU d=50, 64 x 5000", dense, np.full(50, 1.0), 64, 5000 // scale),
        case("(c) 1-d OU, 10000 x 10000", np.array([[1.0]]), np.array([1.0]), 10000,
             10000 // scale),
    ]
    print(f"threads: {numba.get_num_threads()}   (ns per trajectory-step-dimension)")
    hdr = (f"{'case':34s} {'simulate':>9s} {'1 thread':>9s} {'NumPy':>8s} {'RNG floor':>9s} "
           f"{'NumPy/sim':>9s} {'sim/floor':>9s}")
    print(hdr)
    print("-" * len(hdr))
    for c in cases:
        u = c["units"]
        ns = {k: c[k] / u * 1e9 for k in ("st", "st1", "np", "rng")}
        print(f"{c['name']:34s} {ns['st']:9.2f} {ns['st1']:9.2f} {ns['np']:8.2f} "
              f"{ns['rng']:9.2f} {ns['np'] / ns['st']:9.2f} {ns['st'] / ns['rng']:9.2f}")
    ours, npg = rng_per_core()
    print(f"\nnormal variates, one core: ours {ours:.2f} ns, numpy Generator {npg:.2f} ns "
          f"(numpy/ours = {npg / ours:.2f})")
    print("\npeers on case (a) with 50 steps (ns per update; sdeint: 4 trajectories):")
    st_a = cases[0]["st"] / cases[0]["units"] * 1e9
    for name, v in peers().items():
        if v is None:
            print(f"  {name:38s} not installed")
        else:
            print(f"  {name:38s} {v:9.2f}   ({v / st_a:.1f}x simulate)")
    print("  torchsde, diffrax                      not installed (skipped)")


if __name__ == "__main__":
    main()
