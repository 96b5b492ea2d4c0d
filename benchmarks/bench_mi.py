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

Also timed (median of 5): the default call with its error bar at N = 2e4 (the call users
time) against scikit-learn's value-only call, and a KSG built on SciPy's cKDTree alone
(joint query with p=inf, marginal counts by query_ball_point(p=inf, return_length=True))
against stochthermo's counting (sorted binary search in 1-d, own KD-tree range counts in
multi-d), at equal results.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _time(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _median_time(fn, repeats=5):
    ts = []
    for _ in range(repeats):
        t, out = _time(fn)
        ts.append(t)
    return float(np.median(ts)), out


def ksg_scipy(x, y, k):
    """KSG estimator 1 with SciPy's cKDTree only (the baseline for our counting kernels)."""
    from scipy.spatial import cKDTree
    from scipy.special import digamma

    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean(0)) / y.std(0)
    joint = np.hstack([x, y])
    eps = cKDTree(joint).query(joint, k=[k + 1], p=np.inf)[0][:, 0]
    r = np.nextafter(eps, 0)  # query_ball_point counts d <= r; KSG counts d < eps
    nx = cKDTree(x).query_ball_point(x, r, p=np.inf, return_length=True)
    ny = cKDTree(y).query_ball_point(y, r, p=np.inf, return_length=True)
    return float(digamma(k) + digamma(len(x)) - np.mean(digamma(nx) + digamma(ny)))


def headline(k=3, n=20_000):
    """Default call (error bar included) vs scikit-learn's value-only call, N = 2e4, d = 1."""
    from stochthermo.estimate import mutual_information

    rng = np.random.default_rng(1)
    rho = 0.6
    x = rng.standard_normal(n)
    y = rho * x + np.sqrt(1 - rho * rho) * rng.standard_normal(n)
    truth = -0.5 * np.log1p(-rho * rho)
    out = {}
    out["default"], est = _median_time(lambda: mutual_information(x, y, k=k))
    out["value"], _ = _median_time(lambda: mutual_information(x, y, k=k, n_blocks=0))
    out["scipy"], v_sc = _median_time(lambda: ksg_scipy(x[:, None], y[:, None], k))
    try:
        from sklearn.feature_selection import mutual_info_regression

        out["sklearn"], v_sk = _median_time(
            lambda: mutual_info_regression(x[:, None], y, n_neighbors=k, random_state=0)
        )
        v_sk = float(v_sk[0])
    except ImportError:
        v_sk = None
    print(
        f"N = {n:,}, rho = {rho}, truth {truth:.4f}: stochthermo {est.value:.4f} +- "
        f"{est.stderr:.4f}, SciPy-only KSG {v_sc:.4f}"
        + ("" if v_sk is None else f", scikit-learn {v_sk:.4f}")
    )
    print("| call (median of 5, one thread) | seconds | / scikit-learn |")
    print("|---|---|---|")
    names = {
        "default": "stochthermo default call, error bar included",
        "value": "stochthermo value only (n_blocks=0)",
        "scipy": "KSG on SciPy cKDTree only (value)",
        "sklearn": "scikit-learn mutual_info_regression (value)",
    }
    for key, label in names.items():
        if key in out:
            ratio = f"{out[key] / out['sklearn']:.2f}" if "sklearn" in out else "-"
            print(f"| {label} | {out[key]:.3f} | {ratio} |")
    print()


def counting(k=3):
    """Marginal neighbour counts: stochthermo's kernels vs cKDTree.query_ball_point (1 thread)."""
    from scipy.spatial import cKDTree

    from stochthermo.estimators._information import _count

    print("| marginal counts, N, dim | stochthermo s | cKDTree query_ball_point s | SciPy/ours |"
          " equal |")
    print("|---|---|---|---|---|")
    for n, d in ((20_000, 1), (100_000, 1), (20_000, 2), (20_000, 5), (100_000, 3)):
        rng = np.random.default_rng(d)
        x = rng.standard_normal((n, d))
        y = 0.4 * x + rng.standard_normal((n, d))
        joint = np.hstack([x, y])
        eps = cKDTree(joint).query(joint, k=[k + 1], p=np.inf)[0][:, 0]
        _count(x[:200], eps[:200], 1)  # compile / cache load
        t_o, c_o = _median_time(lambda: _count(x, eps, 1), 3)
        t_s, c_s = _median_time(
            lambda: cKDTree(x).query_ball_point(x, np.nextafter(eps, 0), p=np.inf,
                                                return_length=True), 3)
        print(f"| {n:,}, {d} | {t_o:.4f} | {t_s:.4f} | {t_s / t_o:.1f}x | "
              f"{bool(np.array_equal(c_o, c_s))} |")
    print()


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
    mutual_information(w[:, :2], w[:, :2] + w[:, 1:], n_blocks=0)
    headline(k)
    counting(k)

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
