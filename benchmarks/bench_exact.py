"""Timing of the numeric closed forms (d = 500) and of the symbolic derivations.

Run: python benchmarks/bench_exact.py [--dim 500] [--repeat 3]
Prints median wall times; on a shared machine compare only numbers from one run.
"""

import argparse
import time

import numpy as np

import stochthermo as st
from stochthermo import exact


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dim", type=int, default=500)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-symbolic", action="store_true")
    args = p.parse_args()
    d = args.dim
    rng = np.random.default_rng(0)
    B = rng.normal(size=(d, d))
    W = rng.normal(size=(d, d))
    A = B @ B.T / d + 0.5 * np.eye(d) + 0.3 * (W - W.T) / np.sqrt(d)
    D = np.diag(rng.uniform(0.5, 2.0, d))
    model = st.LinearLangevin(A, D, blocks=[d // 2, d - d // 2])
    H = B @ B.T / d + 0.5 * np.eye(d)
    S = np.cov(rng.normal(size=(d, 3 * d)))
    sgd = st.LinearizedSGD(H, S, lr=0.5 / np.linalg.eigvalsh(H).max(), batch_size=16)
    rows = [
        ("model construction + validation", lambda: st.LinearLangevin(A, D, blocks=[d // 2] * 2)),
        ("stationary_covariance (fresh model)",
         lambda: exact.stationary_covariance(st.LinearLangevin(A, D))),
        ("stationary_covariance (cached)", lambda: exact.stationary_covariance(model)),
        ("entropy_production_rate", lambda: exact.entropy_production(model)),
        ("heat_rates (2 blocks)", lambda: exact.heat_rates(model)),
        ("information_flows (2 blocks)", lambda: exact.information_flow(model)),
        ("subsystem_entropy_production", lambda: exact.subsystem_entropy_production(model)),
        ("mutual_information (2 blocks)", lambda: exact.mutual_information(model)),
        ("detailed_balance", lambda: exact.detailed_balance(model)),
        ("SGD discrete covariance", lambda: exact.stationary_covariance(sgd)),
        ("summary, fresh model (everything)",
         lambda: exact.summary(st.LinearLangevin(A, D, blocks=[d // 2, d - d // 2]))),
    ]
    print(f"numeric closed forms, d = {d}, median of {args.repeat}")
    print(f"{'quantity':40s} {'seconds':>9s}")
    for name, fn in rows:
        print(f"{name:40s} {median_time(fn, args.repeat):9.3f}")
    if args.skip_symbolic:
        return
    from stochthermo.symbolic import derive_linear

    def general(n):
        a = "[" + ",".join("[" + ",".join(f"a{i}{j}" for j in range(n)) + "]"
                           for i in range(n)) + "]"
        dd = "[" + ",".join("[" + ",".join(f"d{i}" if i == j else "0" for j in range(n)) + "]"
                            for i in range(n)) + "]"
        der = derive_linear(a, dd)
        for q in der.names:
            der.expression(q)
        return der

    print("\nsymbolic derivations (every quantity), one run each")
    for n in (2, 3):
        t0 = time.perf_counter()
        general(n)
        print(f"general {n}x{n} drift, diagonal D: {time.perf_counter() - t0:7.2f} s")


if __name__ == "__main__":
    main()
