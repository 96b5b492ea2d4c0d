"""Numba compilation on first use: the first call of each kernel family from an empty cache.

Each family runs in a fresh Python process whose ``NUMBA_CACHE_DIR`` points at a new empty
folder, so nothing compiled earlier (by the tests, a demo, another user) is reused. Per family
three times are reported:

* ``cold``: the first call in a process with an empty cache (compilation + run),
* ``cached``: the first call in a second process sharing that cache (loading + run),
* ``run``: the second call in the cold process (the work alone).

``cold - run`` is the compile cost a first-time user pays; ``cached - run`` what every later
process pays to load the compiled code; ``cpu`` is the compile cost in CPU seconds of the cold
process (Numba compiles on one thread), which a busy machine inflates less than wall time.
The import of stochthermo and of the family's public module is timed separately (``import``).
Other times are wall-clock seconds on this machine, which may be shared with other work:
compare families within one run, not across machines.

Usage: python benchmarks/bench_compile.py [--family NAME ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

#: family -> (setup code, call code): the call is timed twice in the same process
FAMILIES = {
    "langevin-exact": (
        "import stochthermo as st\n"
        "m = st.LinearLangevin([[1.0, 0.5], [-0.5, 1.0]], [[1.0, 0.0], [0.0, 0.5]])",
        "st.simulate(m, n_traj=8, n_steps=200, dt=0.01, method='exact', seed=1, "
        "x0='stationary', observables=('heat', 'medium_entropy'))",
    ),
    "langevin-euler": (
        "import stochthermo as st\n"
        "m = st.LinearLangevin([[1.0, 0.5], [-0.5, 1.0]], [[1.0, 0.0], [0.0, 0.5]])",
        "st.simulate(m, n_traj=8, n_steps=200, dt=0.01, method='euler', seed=1)",
    ),
    "sgd-map": (
        "import stochthermo as st\n"
        "m = st.LinearizedSGD([[2.0, 0.6], [0.6, 1.0]], [[1.0, 0.0], [0.0, 0.25]], 0.05, 8)",
        "st.simulate(m, n_traj=8, n_steps=200, method='sgd', seed=1)",
    ),
    "nonlinear": (
        "import stochthermo as st\n"
        "m = st.double_well(1.0, 1.0)",
        "st.simulate(m, n_traj=8, n_steps=200, dt=0.01, method='euler', seed=1)",
    ),
    "mlp-sgd": (
        "from stochthermo.learning import fig41",
        "fig41(data='teacher', hidden=(8, 8, 8), batch_sizes=(1, 10), n_trials=3, n_steps=5, "
        "max_samples=60, n_eval=32, n_noise_params=20, seed=1)",
    ),
    "knn-mi": (
        "import numpy as np\n"
        "import stochthermo as st\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.normal(size=(400, 1)); y = x + rng.normal(size=(400, 1))",
        "st.estimate.mutual_information(x, y, method='knn', k=3)",
    ),
    "gillespie": (
        "import stochthermo as st\n"
        "m = st.BipartiteJump.sensor(1.0, 2.0, 0.5)",
        "st.simulate_jump(m, n_traj=16, t_max=5.0, seed=1)",
    ),
}

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
{setup}
t1 = time.perf_counter()
c1 = time.process_time()
{call}
t2 = time.perf_counter()
c2 = time.process_time()
{call}
t3 = time.perf_counter()
c3 = time.process_time()
json.dump({{"import": t1 - t0, "first": t2 - t1, "second": t3 - t2,
           "first_cpu": c2 - c1, "second_cpu": c3 - c2}}, sys.stdout)
"""


def _child(code: str, cache: str, threads: str | None) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, MPLBACKEND="Agg")
    if threads:
        env["NUMBA_NUM_THREADS"] = threads
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(name: str, *, threads: str | None = None) -> dict:
    """Cold, cached and run times of one family (each in fresh processes)."""
    setup, call = FAMILIES[name]
    code = _CHILD.format(setup=setup, call=textwrap.dedent(call))
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        cold = _child(code, cache, threads)
        warm = _child(code, cache, threads)
    return {"family": name, "import": cold["import"], "cold": cold["first"],
            "cached": warm["first"], "run": cold["second"],
            "compile": cold["first"] - cold["second"],
            "load": warm["first"] - warm["second"],
            "compile_cpu": cold["first_cpu"] - cold["second_cpu"]}


def main(argv=None) -> int:
    """Time every (or the chosen) kernel family and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", action="append", choices=sorted(FAMILIES),
                    help="only this family (repeatable); default: all")
    ap.add_argument("--threads", default=None, help="NUMBA_NUM_THREADS for the children")
    ap.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = ap.parse_args(argv)
    names = args.family or list(FAMILIES)
    rows = []
    print(f"{'family':16s}{'import':>8s}{'cold':>8s}{'cached':>8s}{'run':>8s}"
          f"{'compile':>9s}{'load':>8s}{'cpu':>8s}   [s]")
    for name in names:
        r = measure(name, threads=args.threads)
        rows.append(r)
        print(f"{name:16s}{r['import']:8.2f}{r['cold']:8.2f}{r['cached']:8.2f}{r['run']:8.2f}"
              f"{r['compile']:9.2f}{r['load']:8.2f}{r['compile_cpu']:8.2f}", flush=True)
    total = sum(r["compile"] for r in rows)
    print(f"total compile time of the families above: {total:.1f} s "
          f"({os.cpu_count()} CPUs visible; the machine may be shared)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
