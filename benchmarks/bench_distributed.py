"""Dask scale-out: speed-up on a LocalCluster and client memory with reduce="moments".

Run:  python benchmarks/bench_distributed.py [--quick]

Prints two tables of ratios measured in one run:
1. wall time of a large ensemble (and of a learn() sweep) on a 2-worker LocalCluster versus
   one process (Numba on all cores, and Numba on one thread);
2. peak memory on the client (tracemalloc) as the ensemble grows, reduce="moments" versus
   gathering the trajectories.
"""

import argparse
import os
import time
import tracemalloc

import numpy as np

import stochthermo as st
from stochthermo import distributed as sd
from stochthermo.learning import MLPClassifier, learn

MODEL = st.LinearLangevin([[1.0, 0.6, 0.0], [-0.6, 1.0, 0.0], [0.0, 0.0, 2.0]],
                          np.diag([1.0, 1.0, 2.0]), blocks=[[0, 1], [2]],
                          temperatures=[1.0, 2.0])


def best_of(fn, repeat):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def mlp_data(rng):
    U = rng.normal(size=(200, 8))
    return U, (U[:, 0] + U[:, 1] > 0).astype(np.int64) + (U[:, 2] > 1).astype(np.int64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    import numba
    from distributed import Client, LocalCluster

    n_traj = 2**15 if args.quick else 2**17
    sim = dict(n_traj=n_traj, n_steps=2000, dt=0.001, seed=1, save_every=100,
               observables=("heat",), method="heun", reduce="moments")
    # warm the compiled kernels in this process
    st.simulate(MODEL, **dict(sim, n_traj=sd.LEAF, n_steps=100))
    rep = 1 if args.quick else 2

    t_proc = best_of(lambda: st.simulate(MODEL, **sim), rep)
    n_thr = numba.get_num_threads()
    numba.set_num_threads(1)
    t_proc1 = best_of(lambda: st.simulate(MODEL, **sim), rep)
    numba.set_num_threads(n_thr)

    lkw = dict(lr=0.05, batch_size=8, n_steps=100 if args.quick else 200, n_trials=16,
               n_datasets=2, seed=3, record=("loss", "work", "heat"))
    mlp = MLPClassifier(n_in=8, n_classes=3, hidden=(32,), activation="tanh")
    t_learn = best_of(lambda: learn(mlp, mlp_data, **lkw), 1)

    rows = []
    # Dask workers: 2 processes x 1 thread, Numba limited to 1 thread per worker
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0",
                      silence_logs=40, env={"NUMBA_NUM_THREADS": "1",
                                            "OMP_NUM_THREADS": "1"}) as cluster, \
            Client(cluster) as client:
        client.run(lambda: st.simulate(MODEL, **dict(sim, n_traj=sd.LEAF, n_steps=100)))
        ref = st.simulate(MODEL, **sim)
        got = st.simulate(MODEL, client=client, **sim)
        identical = bool(np.array_equal(ref.mean, got.mean) and np.array_equal(ref.m2, got.m2))
        t_dask = best_of(lambda: st.simulate(MODEL, client=client, **sim), rep)
        learn(mlp, mlp_data, client=client, **dict(lkw, n_steps=2))  # warm
        t_dlearn = best_of(lambda: learn(mlp, mlp_data, client=client, **lkw), 1)

        rows.append((f"simulate 1 process, Numba {n_thr} threads", t_proc, 1.0))
        rows.append(("simulate 1 process, Numba 1 thread", t_proc1, t_proc / t_proc1))
        rows.append(("simulate Dask 2 workers x 1 thread", t_dask, t_proc / t_dask))
        rows.append(("learn 1 process (NumPy)", t_learn, 1.0))
        rows.append(("learn Dask 2 workers x 1 thread", t_dlearn, t_learn / t_dlearn))

        print(f"\n1. wall time ({os.cpu_count()} cores; simulate: n_traj={n_traj}, 2000 Heun "
              f"steps, d=3, reduce='moments'; learn: MLP 8-32-3, 32 trials, "
              f"{lkw['n_steps']} steps)")
        print(f"{'configuration':44s} {'seconds':>9s} {'speed-up':>9s}")
        for name, t, r in rows:
            print(f"{name:44s} {t:9.3f} {r:9.2f}")
        print(f"Dask result bit-identical to one process: {identical}")
        print(f"Dask vs 1-thread process: {t_proc1 / t_dask:.2f}x")

        print("\n2. peak client memory (tracemalloc), 200 steps saved every 10, d=3, "
              "chunk_size=4096")
        print(f"{'n_traj':>8s} {'moments MiB':>12s} {'gather MiB':>11s} {'ratio':>7s}")
        mem = dict(n_steps=200, dt=0.01, seed=2, save_every=10, observables=("heat",),
                   chunk_size=4096)
        sizes = [2**13, 2**15, 2**17] if args.quick else [2**13, 2**15, 2**17, 2**19]
        for n in sizes:
            peaks = []
            for reduce in ("moments", None):
                if reduce is None and n > 2**17:
                    peaks.append(np.nan)
                    continue
                tracemalloc.start()
                res = st.simulate(MODEL, n_traj=n, client=client, reduce=reduce, **mem)
                peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
                tracemalloc.stop()
                del res
            print(f"{n:8d} {peaks[0]:12.2f} {peaks[1]:11.2f} {peaks[1] / peaks[0]:7.1f}")


if __name__ == "__main__":
    main()
