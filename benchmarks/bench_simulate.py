"""Speed of stochthermo.simulate against a vectorised NumPy loop, the RNG floor and peers.

Cases (Euler-Maruyama, states kept only at the end, D = 1 / T = 1):
  (a) diagonal OU, d = 1000, 64 trajectories, 2000 steps
  (b) dense OU,    d = 50,   64 trajectories, 5000 steps
  (c) 1-d OU,      10,000 trajectories, 10,000 steps
  (d) double well  dx = (x - x^3) dt + sqrt(2T) dW, 10,000 trajectories, 10,000 steps, as the
      built-in model (stochthermo.models.nonlinear.double_well) and as a user drift given as a
      Numba function (NonlinearLangevin)
Figures are ns per update (trajectory-step-dimension), minimum of repeats, all from this run.
stochthermo runs on 1 thread and on all of Numba's threads (numba.set_num_threads). The RNG
floor is the time to draw the same normals with the kernels' own generator on one thread (and
on all threads). Peers (sdeint, sdepy, torchsde, diffrax), each on one thread, are timed on the
same cases at reduced sizes (stated in the output; per-update figures are comparable because
every solver's cost is linear in trajectories x steps); a peer that is not installed is listed
as such. Usage:

    python benchmarks/bench_simulate.py [--quick] [--no-peers] [--cases acd] [--repeats N]
        [--one-thread]

``--cases`` keeps only the cases whose letters are given; ``--repeats`` sets the number of
timings per figure (the minimum is reported); ``--one-thread`` skips the all-threads timings.
"""

from __future__ import annotations

import os

# one thread for the peers' own thread pools (set before they are imported)
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

import stochthermo as st  # noqa: E402
from stochthermo._rng import trajectory_seeds  # noqa: E402
from stochthermo.kernels._random import fill_normals  # noqa: E402
from stochthermo.models.nonlinear import NonlinearLangevin, double_well  # noqa: E402
from stochthermo.simulation import _ziggurat_table, simulate  # noqa: E402


def _arg(flag, default):
    if flag in sys.argv:
        i = sys.argv.index(flag)
        if i + 1 < len(sys.argv):
            return sys.argv[i + 1]
    return default


QUICK = "--quick" in sys.argv
PEERS = "--no-peers" not in sys.argv
CASES = _arg("--cases", "abcd")
ONE_THREAD = "--one-thread" in sys.argv  # skip the all-threads timings (while iterating)
REPEATS = int(_arg("--repeats", "3"))
DT = 0.01
ALL_THREADS = numba.get_num_threads()


def timeit(fn, repeats=REPEATS):
    fn_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        fn_times.append(time.perf_counter() - t0)
    return float(np.min(fn_times))  # the machine is shared: the least disturbed run


@numba.njit(cache=True)
def user_double_well(x, t, out):
    """A user drift: f(x) = x - x^3 per coordinate."""
    for i in range(x.shape[0]):
        out[i] = x[i] - x[i] * x[i] * x[i]


# ----------------------------------------------------------------------------- cases
def make_cases(scale):
    rng = np.random.default_rng(0)
    M = rng.standard_normal((50, 50)) / np.sqrt(50)
    dense = np.eye(50) + 0.3 * (M - M.T) + 0.1 * M @ M.T
    return [
        dict(key="a", name=f"(a) diag OU d=1000, 64 x {2000 // scale}",
             A=np.diag(np.linspace(0.5, 2.0, 1000)), n_traj=64, n_steps=2000 // scale),
        dict(key="b", name=f"(b) dense OU d=50, 64 x {5000 // scale}", A=dense, n_traj=64,
             n_steps=5000 // scale),
        dict(key="c", name=f"(c) 1-d OU, 10^4 x {10_000 // scale}", A=np.array([[1.0]]),
             n_traj=10_000, n_steps=10_000 // scale),
        dict(key="d", name=f"(d) double well, 10^4 x {10_000 // scale}", A=None, n_traj=10_000,
             n_steps=10_000 // scale),
    ]


def drift_np(c):
    """Vectorised drift x (n, d) -> (n, d) of a case, for the NumPy loop and the peers."""
    if c["key"] == "d":
        return lambda x: x - x * x * x
    A = c["A"]
    if c["key"] in ("a", "c"):
        a = np.diag(A).copy()
        return lambda x: -a * x
    AT = A.T.copy()
    return lambda x: -(x @ AT)


def numpy_loop(c, n_traj, n_steps, seed=0):
    rng = np.random.default_rng(seed)
    d = 1 if c["A"] is None else c["A"].shape[0]
    f = drift_np(c)
    x = np.zeros((n_traj, d))
    s = np.sqrt(2 * DT)
    if c["key"] in ("a", "c"):  # in-place affine update, the fastest NumPy form
        a = 1.0 - np.diag(c["A"]) * DT
        for _ in range(n_steps):
            x *= a
            x += s * rng.standard_normal((n_traj, d))
    elif c["key"] == "b":
        P = (np.eye(d) - c["A"] * DT).T
        for _ in range(n_steps):
            x = x @ P
            x += s * rng.standard_normal((n_traj, d))
    else:
        for _ in range(n_steps):
            x += f(x) * DT + s * rng.standard_normal((n_traj, d))
    return x


def rng_floor(n_traj, n_per_traj, threads):
    """Seconds to draw n_traj x n_per_traj normals with the kernels' generator."""
    zig = _ziggurat_table()
    seeds = trajectory_seeds(0, n_traj)
    ctr = np.zeros(n_traj, np.uint64)
    chunk = max(1, min(n_per_traj, 2_000_000 // n_traj))
    out = np.empty((n_traj, chunk))
    fill_normals(seeds, ctr, zig, out)

    def run():
        done = 0
        while done < n_per_traj:
            fill_normals(seeds, ctr, zig, out)
            done += chunk

    numba.set_num_threads(threads)
    try:
        t = timeit(run)
    finally:
        numba.set_num_threads(ALL_THREADS)
    return t * n_per_traj / (chunk * -(-n_per_traj // chunk))


def models_of(c):
    if c["key"] == "d":
        return {"built-in": double_well(barrier=0.25, temperature=1.0),
                "user Numba drift": NonlinearLangevin(user_double_well, 1.0, dim=1)}
    d = c["A"].shape[0]
    return {"": st.LinearLangevin(c["A"], np.eye(d))}


def time_simulate(model, c, threads, repeats):
    run = lambda: simulate(model, n_traj=c["n_traj"], n_steps=c["n_steps"], dt=DT,  # noqa: E731
                           seed=1, save_every=c["n_steps"])
    numba.set_num_threads(threads)
    try:
        simulate(model, n_traj=2, n_steps=2, dt=DT, seed=0, save_every=2)  # compile / load
        return timeit(run, repeats)
    finally:
        numba.set_num_threads(ALL_THREADS)


def run_case(c):
    d = 1 if c["A"] is None else c["A"].shape[0]
    units = c["n_traj"] * c["n_steps"] * d
    ns = lambda t: t / units * 1e9  # noqa: E731
    row = {"name": c["name"], "sim": {}}
    for label, model in models_of(c).items():
        t1 = time_simulate(model, c, 1, REPEATS)
        tn = np.nan if ONE_THREAD else time_simulate(model, c, ALL_THREADS, REPEATS)
        row["sim"][label] = (ns(t1), ns(tn))
    row["np"] = ns(timeit(lambda: numpy_loop(c, c["n_traj"], c["n_steps"]),
                          repeats=max(2, REPEATS - 1)))
    row["rng1"] = ns(rng_floor(c["n_traj"], c["n_steps"] * d, 1))
    row["rngN"] = np.nan if ONE_THREAD else ns(rng_floor(c["n_traj"], c["n_steps"] * d,
                                                         ALL_THREADS))
    return row


def rng_per_core():
    n_traj, n = 64, 100_000
    zig = _ziggurat_table()
    seeds = trajectory_seeds(0, n_traj)
    ctr = np.zeros(n_traj, np.uint64)
    out = np.empty((n_traj, n))
    fill_normals(seeds, ctr, zig, out)
    numba.set_num_threads(1)
    try:
        t_ours = timeit(lambda: fill_normals(seeds, ctr, zig, out))
    finally:
        numba.set_num_threads(ALL_THREADS)
    g = np.random.default_rng(0)
    buf = np.empty(n_traj * n)
    t_np = timeit(lambda: g.standard_normal(out=buf))
    return t_ours / out.size * 1e9, t_np / buf.size * 1e9


# ----------------------------------------------------------------------------- peers
# reduced sizes (trajectories, steps) per peer and case; the dimension is the case's own
PEER_SIZES = {
    "sdeint": {"a": (2, 50), "b": (4, 500), "c": (4, 2000), "d": (4, 2000)},
    "sdepy": {"a": (64, 200), "b": (64, 200), "c": (10_000, 500), "d": (10_000, 500)},
    "torchsde": {"a": (64, 200), "b": (64, 500), "c": (10_000, 200), "d": (10_000, 200)},
    "diffrax": {"a": (64, 200), "b": (64, 500), "c": (10_000, 500), "d": (10_000, 500)},
}


def _dim(c):
    return 1 if c["A"] is None else c["A"].shape[0]


def peer_sdeint(c, n_traj, n_steps):
    import sdeint

    d = _dim(c)
    f = drift_np(c)
    G = np.sqrt(2.0) * np.eye(d)
    tspan = np.linspace(0.0, n_steps * DT, n_steps + 1)

    def run():  # sdeint integrates one trajectory at a time
        for _ in range(n_traj):
            sdeint.itoEuler(lambda x, t: f(x[None, :])[0], lambda x, t: G, np.zeros(d), tspan)

    return run


def peer_sdepy(c, n_traj, n_steps):
    import sdepy

    d = _dim(c)
    tl = np.linspace(0.0, n_steps * DT, n_steps + 1)
    if c["key"] in ("a", "c"):
        k = np.diag(c["A"]).copy()[:, None]  # sdepy's state is (d, paths)

        def run():
            sdepy.ornstein_uhlenbeck_process(paths=n_traj, vshape=d, theta=0.0, k=k,
                                             sigma=np.sqrt(2.0), x0=0.0, steps=n_steps)(tl)

        return run
    if c["key"] == "b":
        A = c["A"].copy()

        @sdepy.integrate(q=0, sources={"dt", "dw"})
        def dense_ou(t, x):
            # sdepy's state is (d, paths): drift -A x per path
            return {"dt": -(A @ x), "dw": np.sqrt(2.0)}

        return lambda: dense_ou(x0=0.0, vshape=d, paths=n_traj, steps=n_steps)(tl)

    @sdepy.integrate(q=0, sources={"dt", "dw"})
    def dwell(t, x):
        return {"dt": x - x**3, "dw": np.sqrt(2.0)}

    return lambda: dwell(x0=0.0, paths=n_traj, steps=n_steps)(tl)


def peer_torchsde(c, n_traj, n_steps):
    import torch
    import torchsde

    torch.set_num_threads(1)
    d = _dim(c)
    key = c["key"]
    A = None if c["A"] is None else torch.tensor(c["A"], dtype=torch.float64)
    a = None if c["A"] is None else torch.diag(A)

    class SDE(torch.nn.Module):
        noise_type = "diagonal"
        sde_type = "ito"

        def f(self, t, y):
            if key in ("a", "c"):
                return -a * y
            if key == "b":
                return -(y @ A.T)
            return y - y**3

        def g(self, t, y):
            return torch.full_like(y, np.sqrt(2.0))

    sde = SDE()
    y0 = torch.zeros(n_traj, d, dtype=torch.float64)
    ts = torch.tensor([0.0, n_steps * DT], dtype=torch.float64)

    def run():
        with torch.no_grad():
            torchsde.sdeint(sde, y0, ts, method="euler", dt=DT)

    return run


def peer_diffrax(c, n_traj, n_steps):
    import jax

    jax.config.update("jax_enable_x64", True)
    import diffrax
    import jax.numpy as jnp
    import lineax

    d = _dim(c)
    key = c["key"]
    if key in ("a", "c"):
        a = jnp.asarray(np.diag(c["A"]))
        drift = lambda t, y, args: -a * y  # noqa: E731
    elif key == "b":
        AT = jnp.asarray(c["A"].T)
        drift = lambda t, y, args: -(y @ AT)  # noqa: E731
    else:
        drift = lambda t, y, args: y - y**3  # noqa: E731
    sig = lineax.DiagonalLinearOperator(jnp.full(d, np.sqrt(2.0)))
    t1 = n_steps * DT

    def one(k):
        bm = diffrax.UnsafeBrownianPath(shape=(d,), key=k)
        terms = diffrax.MultiTerm(diffrax.ODETerm(drift),
                                  diffrax.ControlTerm(lambda t, y, args: sig, bm))
        sol = diffrax.diffeqsolve(terms, diffrax.Euler(), 0.0, t1, dt0=DT, y0=jnp.zeros(d),
                                  saveat=diffrax.SaveAt(t1=True), max_steps=n_steps + 8,
                                  adjoint=diffrax.DirectAdjoint())
        return sol.ys

    solve = jax.jit(jax.vmap(one))
    keys = jax.random.split(jax.random.PRNGKey(0), n_traj)
    solve(keys).block_until_ready()  # compile outside the timing
    return lambda: solve(keys).block_until_ready()


PEER_FUNCS = {"sdeint": peer_sdeint, "sdepy": peer_sdepy, "torchsde": peer_torchsde,
              "diffrax": peer_diffrax}


def run_peers(cases):
    """{peer: {case key: ns per update or a reason}} on one thread each."""
    res = {}
    for peer, fn in PEER_FUNCS.items():
        res[peer] = {}
        for c in cases:
            n_traj, n_steps = PEER_SIZES[peer][c["key"]]
            try:
                run = fn(c, n_traj, n_steps)
                run()  # warm-up (imports, compilation, caches)
                t = timeit(run, repeats=2)
                res[peer][c["key"]] = t / (n_traj * n_steps * _dim(c)) * 1e9
            except ImportError:
                res[peer][c["key"]] = "not installed"
            except Exception as exc:  # a peer failing must not stop the run; say why
                res[peer][c["key"]] = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
            print(f"  {peer} {c['key']} ({n_traj} x {n_steps}): {res[peer][c['key']]}",
                  flush=True)
    return res


# ----------------------------------------------------------------------------- report
def main():
    scale = 10 if QUICK else 1
    cases = [c for c in make_cases(scale) if c["key"] in CASES]
    print(f"Numba threads: {ALL_THREADS}; os.cpu_count() = {os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for c in cases:
        rows.append(run_case(c))
        print("  done", c["name"], flush=True)
    peers = run_peers(cases) if PEERS else {}

    print("\nns per update (trajectory-step-dimension); ratios = other / stochthermo on 1 thread")
    print(f"| case | stochthermo 1 thr | stochthermo {ALL_THREADS} thr | RNG floor 1 thr | "
          f"RNG floor {ALL_THREADS} thr | NumPy loop | sim(1 thr)/floor(1 thr) | NumPy/sim(1) | "
          f"NumPy/sim({ALL_THREADS}) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        for label, (s1, sn) in r["sim"].items():
            name = r["name"] + (f", {label}" if label else "")
            print(f"| {name} | {s1:.2f} | {sn:.2f} | {r['rng1']:.2f} | {r['rngN']:.2f} | "
                  f"{r['np']:.2f} | {s1 / r['rng1']:.2f} | {r['np'] / s1:.2f} | "
                  f"{r['np'] / sn:.2f} |")
    if peers:
        print("\npeers, one thread, ns per update (size run: trajectories x steps); "
              "ratio = peer / stochthermo on 1 thread")
        print("| peer | " + " | ".join(c["name"].split(",")[0] for c in cases) + " |")
        print("|---|" + "---|" * len(cases))
        for peer, vals in peers.items():
            cells = []
            for r, c in zip(rows, cases):
                v = vals[c["key"]]
                n_traj, n_steps = PEER_SIZES[peer][c["key"]]
                if isinstance(v, str):
                    cells.append(v)
                else:
                    s1 = next(iter(r["sim"].values()))[0]
                    cells.append(f"{v:.1f} ({v / s1:.1f}x; {n_traj} x {n_steps})")
            print(f"| {peer} | " + " | ".join(cells) + " |")
    ours, npg = rng_per_core()
    print(f"\nnormal variates, one core: ours {ours:.2f} ns, numpy Generator {npg:.2f} ns "
          f"(numpy/ours = {npg / ours:.2f})")


if __name__ == "__main__":
    main()
