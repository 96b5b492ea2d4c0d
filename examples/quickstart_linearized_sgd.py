"""Quickstart: SGD near a minimum as a Langevin process, closed forms against simulation.

SGD on a quadratic loss with Hessian H and per-sample gradient covariance Sigma that do not
commute. Its stationary state breaks detailed balance: a persistent probability current
circulates around the minimum and entropy is produced at a constant rate. We

1. print the closed forms (stationary covariance of the exact discrete SGD map, the current
   matrix M, the entropy production rate),
2. simulate an ensemble of SGD runs,
3. estimate the covariance and the entropy production rate from the trajectories, with error
   bars, and compare them with the closed forms,
4. draw the trajectories and the stationary density with its current.

Usage: python examples/quickstart_linearized_sgd.py [--out DIR] [--quick]
Writes quickstart_trajectories.png and quickstart_density_current.png into DIR (default
examples/out under the current directory).
"""

import argparse
from pathlib import Path

import numpy as np
import scipy.linalg as sla

import stochthermo as st
from stochthermo import exact
from stochthermo.estimate import entropy_production


def embedded_rate(model):
    """Entropy production of the OU process that has exactly the SGD map's transitions.

    The discrete map theta' = F theta + noise is the time-lr transition of an OU process with
    A = -log(F) / lr and the same stationary covariance C (so D = (A C + C A^T) / 2); this is
    what a trajectory estimator sees. It differs from the continuous limit (A = H,
    D = lr Sigma / (2 |b|)) by O(lr).
    """
    A = -np.real(sla.logm(model.update_matrix())) / model.lr
    C = exact.stationary_covariance(model)
    return exact.entropy_production(st.LinearLangevin(A, 0.5 * (A @ C + C @ A.T)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples/out"), help="output folder")
    ap.add_argument("--quick", action="store_true", help="smaller ensemble (CI)")
    args = ap.parse_args()
    from stochthermo.plotting import plot_stationary_density, plot_trajectories, savefig_atomic

    H = [[2.0, 0.6], [0.6, 1.0]]
    Sigma = [[1.0, 0.0], [0.0, 0.25]]
    model = st.LinearizedSGD(H, Sigma, lr=0.05, batch_size=4)
    print(model)

    # 1. closed forms
    db = exact.detailed_balance(model)
    C = exact.stationary_covariance(model)
    print("\nclosed forms")
    print(f"  [H, Sigma] / (|H| |Sigma|)   = {db.commutator:.3f}  (detailed balance: {db.holds})")
    def mat(a):
        return np.array2string(a, precision=5, separator=", ", prefix=" " * 33)

    print(f"  stationary covariance (map)  = {mat(C)}")
    print(f"  continuous-limit covariance  = "
          f"{mat(exact.stationary_covariance(model, continuous=True))}")
    print(f"  current matrix M             = {mat(exact.current_matrix(model))}")
    sigma_cont = exact.entropy_production(model)
    sigma_map = embedded_rate(model)
    print(f"  entropy production rate      = {sigma_map:.4f} nats per unit time (t = lr n); "
          f"continuous limit {sigma_cont:.4f}")

    # 2. simulation from the stationary law
    n_traj, n_steps = (200, 1000) if args.quick else (800, 4000)
    ens = st.simulate(model, n_traj=n_traj, n_steps=n_steps, x0="stationary", seed=1)

    # 3. estimates with error bars
    y = ens.x - ens.x.reshape(-1, 2).mean(axis=0)
    per_traj = np.einsum("kti,ktj->kij", y, y) / ens.n_time
    C_hat = per_traj.mean(axis=0)
    C_se = per_traj.std(axis=0, ddof=1) / np.sqrt(n_traj)
    ep = entropy_production(ens, method="linear")
    print(f"\nsimulation: {n_traj} runs x {n_steps} SGD steps")
    print(f"{'quantity':22s}{'estimate':>22s}{'exact':>12s}{'z':>8s}")
    for (i, j) in ((0, 0), (0, 1), (1, 1)):
        z = (C_hat[i, j] - C[i, j]) / C_se[i, j]
        print(f"{f'C[{i},{j}]':22s}{f'{C_hat[i, j]:.5f} ± {C_se[i, j]:.5f}':>22s}"
              f"{C[i, j]:12.5f}{z:8.2f}")
    print(f"{'sigma [nats/time]':22s}{f'{ep.value:.4f} ± {ep.stderr:.4f}':>22s}"
          f"{sigma_map:12.4f}{ep.zscore(sigma_map):8.2f}")

    # 4. figures: a transient from a point, and the stationary density with its current
    args.out.mkdir(parents=True, exist_ok=True)
    start = st.simulate(model, n_traj=300, n_steps=600, x0=[0.25, -0.2], seed=2)
    axes = plot_trajectories(start, coords=(0, 1), model=model, n_show=15)
    p1 = savefig_atomic(axes[0].figure, args.out / "quickstart_trajectories.png")
    ax = plot_stationary_density(model, samples=ens)
    p2 = savefig_atomic(ax.figure, args.out / "quickstart_density_current.png")
    print(f"\nwrote {p1} and {p2}")


if __name__ == "__main__":
    main()
