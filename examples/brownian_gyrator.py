"""The Brownian gyrator: heat and information flows between two baths, exact vs simulated.

Two coordinates in the harmonic potential U = x^T K x / 2 with a coupling k12, each coupled to
its own bath (temperatures T1 and T2, mobility 1, D = diag(T1, T2)). When T1 != T2 and the
coupling is on, heat flows from the hot to the cold bath through the particle, the stationary
state carries a circulating probability current (the "gyration") and each coordinate learns
about the other at a rate given by the information flow. We sweep T2 / T1 and compare with the
closed forms of ``stochthermo.exact``:

- heat into bath i per unit time ``Q_i`` (simulation: the Stratonovich heat observable),
- information flow into subsystem i ``Idot_i = -tr_i(M)`` (estimate: fitted linear model),
- the subsystem second law ``sigma_i = Q_i / T_i - Idot_i >= 0``.

Usage: python examples/brownian_gyrator.py [--out DIR] [--quick]
Writes gyrator_flows.png, gyrator_density_current.png and gyrator.json into DIR (default
examples/out under the current directory).
"""

import argparse
import json
from pathlib import Path

import numpy as np

import stochthermo as st
from stochthermo import exact
from stochthermo.estimate import information_flow
from stochthermo.results import Estimate

K = np.array([[1.0, 0.5], [0.5, 1.0]])
T1 = 1.0


def gyrator(T2):
    """The gyrator with bath temperatures (T1, T2)."""
    return st.LinearLangevin(K, np.diag([T1, T2]), blocks=[1, 1], temperatures=[T1, T2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples/out"), help="output folder")
    ap.add_argument("--quick", action="store_true", help="fewer points and trajectories (CI)")
    args = ap.parse_args()
    from stochthermo.plotting import plot_information, plot_stationary_density, savefig_atomic

    ratios = np.linspace(1.0, 4.0, 4 if args.quick else 7)
    n_traj, n_steps, dt = (150, 1000, 0.02) if args.quick else (400, 4000, 0.02)
    heat_th, flow_th, heat_est, flow_est = [], [], [], []
    print(f"{'T2/T1':>6s} {'Q1 exact':>9s} {'Q1 simulated':>16s} {'Q2 exact':>9s} "
          f"{'Q2 simulated':>16s} {'Idot1 exact':>11s} {'Idot1 estimate':>16s}")
    for k, r in enumerate(ratios):
        m = gyrator(r * T1)
        heat_th.append(exact.heat_rates(m))
        flow_th.append(exact.information_flow(m))
        ens = st.simulate(m, n_traj=n_traj, n_steps=n_steps, dt=dt, method="exact",
                          x0="stationary", observables=("heat",),
                          seed=np.random.SeedSequence([11, k]))
        # stationary start: the mean heat grows linearly, rate = total / duration
        q = ens.observables["heat"][:, -1, :] / (ens.t[-1] - ens.t[0])
        heat_est.append(Estimate(q.mean(axis=0), q.std(axis=0, ddof=1) / np.sqrt(n_traj),
                                 "heat observable"))
        flow_est.append(information_flow(ens, blocks=[1, 1]))
        h, f = heat_est[-1], flow_est[-1]
        print(f"{r:6.2f} {heat_th[-1][0]:9.4f} {f'{h.value[0]:.4f}±{h.stderr[0]:.4f}':>16s} "
              f"{heat_th[-1][1]:9.4f} {f'{h.value[1]:.4f}±{h.stderr[1]:.4f}':>16s} "
              f"{flow_th[-1][0]:11.4f} {f'{f.value[0]:.4f}±{f.stderr[0]:.4f}':>16s}")
    heat_th, flow_th = np.array(heat_th), np.array(flow_th)
    fine = np.linspace(ratios[0], ratios[-1], 60)
    heat_fine = np.array([exact.heat_rates(gyrator(r * T1)) for r in fine])
    flow_fine = np.array([exact.information_flow(gyrator(r * T1)) for r in fine])

    def column(ests, i):
        return Estimate(np.array([e.value[i] for e in ests]),
                        np.array([e.stderr[i] for e in ests]))

    import matplotlib.pyplot as plt

    from stochthermo.plotting import style

    with style():
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.0))
    plot_information(ratios, {
        "Q1": {"theory": (fine, heat_fine[:, 0]), "simulation": column(heat_est, 0)},
        "Q2": {"theory": (fine, heat_fine[:, 1]), "simulation": column(heat_est, 1)},
    }, ax=a1, xlabel="bath temperature ratio T₂ / T₁", ylabel="heat rate into bath  [T₁/time]",
        title="heat flows (coupling k₁₂ = 0.5)",
        labels={"Q1": "heat into bath 1, $\\dot Q_1$", "Q2": "heat into bath 2, $\\dot Q_2$"})
    plot_information(ratios, {
        "I1": {"theory": (fine, flow_fine[:, 0]), "simulation": column(flow_est, 0)},
        "I2": {"theory": (fine, flow_fine[:, 1]), "simulation": column(flow_est, 1)},
    }, ax=a2, xlabel="bath temperature ratio T₂ / T₁", ylabel="information flow  [nats/time]",
        title="information flows (they sum to 0)",
        labels={"I1": "into $x_1$, $\\dot I_1$", "I2": "into $x_2$, $\\dot I_2$"})
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    p1 = savefig_atomic(fig, args.out / "gyrator_flows.png")
    hot = gyrator(ratios[-1] * T1)
    ax = plot_stationary_density(hot, samples=ens)
    ax.set_title(f"Brownian gyrator, T₂/T₁ = {ratios[-1]:g}: density and current\n"
                 f"σ = {exact.entropy_production(hot):.3g} nats/time")
    p2 = savefig_atomic(ax.figure, args.out / "gyrator_density_current.png")
    sub = exact.subsystem_entropy_production(hot)
    print(f"subsystem entropy production at T2/T1 = {ratios[-1]:g}: {np.round(sub, 4)} "
          f"(= Q_i/T_i - Idot_i = "
          f"{np.round(heat_th[-1] / np.array([T1, ratios[-1] * T1]) - flow_th[-1], 4)})")
    numbers = {"T2_over_T1": ratios.tolist(), "heat_exact": heat_th.tolist(),
               "heat_simulated": [h.to_dict() for h in heat_est],
               "info_flow_exact": flow_th.tolist(),
               "info_flow_estimated": [f.to_dict() for f in flow_est]}
    (args.out / "gyrator.json").write_text(json.dumps(numbers, indent=1, default=str))
    print(f"wrote {p1}, {p2} and {args.out / 'gyrator.json'}")


if __name__ == "__main__":
    main()
