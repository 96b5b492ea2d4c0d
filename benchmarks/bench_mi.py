# ruff: noqa: B023  (the timed lambdas are called immediately, inside their loop iteration)
"""KSG mutual information: stochthermo vs scikit-learn and NPEET (npeet-plus), speed and accuracy.

Usage: python benchmarks/bench_mi.py [--quick]

Two tasks on correlated Gaussians with a known answer:
  pairs: d scalar features x_i against a scalar target y (what sklearn's
         mutual_info_regression computes), truth -1/2 ln(1 - rho_i^2) per feature;
  joint: I(X; Y) with X, Y in R^d, corr(x_i, y_i) = rho (sklearn cannot do this),
         truth -d/2 ln(1 - rho^2).
Timings are single runs with time.perf_counter, one thread everywhere (workers=1); ratios are
measured in the same run. Accuracy is |estimate - truth| (nats).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _time(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="N = 1e3, 1e4 only")
    args = ap.parse_args(argv)
    from stochthermo.estimate import mutual_information

    try:
        from sklearn.feature_selection import mutual_info_regression
    except ImportError:
        mutual_info_regression = None
    try:
        import npeet_plus
    except ImportError:
        npeet_plus = None
    sizes = [1_000, 10_000] if args.quick else [10_000, 100_000]
    k = 3
    # warm up the Numba kernel (compile / cache load) outside the timings
    w = np.random.default_rng(0).standard_normal((200, 2))
    mutual_information(w[:, 0], w[:, 1], n_blocks=0)

    rows = []
    for d in (1, 5):
        for n in sizes:
            rng = np.random.default_rng(n + d)
            # pairs task: feature i has correlation rho_i with the target
            rho = np.linspace(0.3, 0.8, d) if d > 1 else np.array([0.6])
            y = rng.standard_normal(n)
            X = np.column_stack([r * y + np.sqrt(1 - r * r) * rng.standard_normal(n) for r in rho])
            truth = -0.5 * np.log1p(-(rho**2))
            t_ours, ours = _time(
                lambda: np.array(
                    [mutual_information(X[:, i], y, k=k, n_blocks=0).value for i in range(d)]
                )
            )
            t_bar, _ = _time(lambda: [mutual_information(X[:, i], y, k=k) for i in range(d)])
            row = {
                "task": "pairs",
                "d": d,
                "n": n,
                "ours": t_ours,
                "ours_err": np.abs(ours - truth).max(),
                "ours_bar": t_bar,
            }
            if mutual_info_regression is not None:
                t_sk, sk = _time(
                    lambda: mutual_info_regression(X, y, n_neighbors=k, random_state=0)
                )
                row.update(sklearn=t_sk, sklearn_err=np.abs(sk - truth).max())
            if npeet_plus is not None:
                t_np, npv = _time(
                    lambda: np.array(
                        [
                            npeet_plus.mi(X[:, i : i + 1], y[:, None], k=k, base=np.e)
                            for i in range(d)
                        ]
                    )
                )
                row.update(npeet=t_np, npeet_err=np.abs(npv - truth).max())
            rows.append(row)
            if d > 1:
                r = 0.4
                Xj = rng.standard_normal((n, d))
                Yj = r * Xj + np.sqrt(1 - r * r) * rng.standard_normal((n, d))
                tj = -0.5 * d * np.log1p(-r * r)
                t_ours, ours = _time(lambda: mutual_information(Xj, Yj, k=k, n_blocks=0).value)
                t_bar, _ = _time(lambda: mutual_information(Xj, Yj, k=k))
                row = {
                    "task": "joint",
                    "d": d,
                    "n": n,
                    "ours": t_ours,
                    "ours_err": abs(ours - tj),
                    "ours_bar": t_bar,
                }
                if npeet_plus is not None:
                    t_np, npv = _time(lambda: npeet_plus.mi(Xj, Yj, k=k, base=np.e))
                    row.update(npeet=t_np, npeet_err=abs(npv - tj))
                rows.append(row)
            print(_fmt(rows[-1]), flush=True)

    print()
    print(
        "| task | d | N | stochthermo s (err) | with error bar s | scikit-learn s (err) | "
        "NPEET s (err) | sklearn/ours | NPEET/ours |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        sk = f"{r['sklearn']:.3f} ({r['sklearn_err']:.4f})" if "sklearn" in r else "n/a"
        npv = f"{r['npeet']:.3f} ({r['npeet_err']:.4f})" if "npeet" in r else "n/a"
        rs = f"{r['sklearn'] / r['ours']:.1f}x" if "sklearn" in r else "-"
        rn = f"{r['npeet'] / r['ours']:.1f}x" if "npeet" in r else "-"
        print(
            f"| {r['task']} | {r['d']} | {r['n']:,} | {r['ours']:.3f} ({r['ours_err']:.4f}) | "
            f"{r['ours_bar']:.3f} | {sk} | {npv} | {rs} | {rn} |"
        )


def _fmt(r):
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items())


if __name__ == "__main__":
    main()
