"""A sensor learning a fluctuating signal: information flow, efficiency and dissipation.

The 4-state bipartite jump process of ``theory/jump.md`` [JP-sensor]: a binary signal y flips at
rate w; a binary sensor x copies it at rate a and loses it at rate b. The sensor is the learner:
its information flow Idot_X (how fast its jumps make it more informative about the signal) is
paid for by the entropy it sends into its reservoir, Sdot_X_env, and the learning efficiency
eta_X = Idot_X / Sdot_X_env <= 1. We sweep the signal rate w and compare the closed forms
(``stochthermo.symbolic.derive_sensor``, compiled) with Gillespie ensembles: the path averages
of the entropy and information flows and the plug-in estimates from counted transitions.

Usage: python examples/sensor_learning.py [--out DIR] [--quick]
Writes sensor_learning.png and sensor_learning.json into DIR (default examples/out under the
current directory).
"""

import argparse
import json
from pathlib import Path

import numpy as np

import stochthermo as st
from stochthermo.symbolic import derive_sensor

A, B = 4.0, 0.5


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples/out"), help="output folder")
    ap.add_argument("--quick", action="store_true", help="fewer points and trajectories (CI)")
    args = ap.parse_args()
    from stochthermo.plotting import savefig_atomic, style

    ws = np.geomspace(0.05, 20.0, 5 if args.quick else 9)
    n_traj, t_max = (200, 20.0) if args.quick else (2000, 50.0)
    d = derive_sensor()
    print("closed forms in w, a, b:")
    for name in ("information_flows", "entropy_production_rate", "learning_efficiency"):
        print(f"  {name}: {d.expression(name)}")
    f_flow, f_ep, f_eta = (d.compile(n) for n in ("information_flows",
                                                   "entropy_production_rate",
                                                   "learning_efficiency"))
    fine = np.geomspace(ws[0], ws[-1], 200)
    theory = {"Idot_X": f_flow(a=A, b=B, w=fine)[:, 0], "sigma": f_ep(a=A, b=B, w=fine),
              "eta_X": f_eta(a=A, b=B, w=fine)}
    rows = []
    print(f"{'w':>7s} {'Idot_X exact':>12s} {'Idot_X path':>18s} {'Idot_X plug-in':>18s} "
          f"{'sigma exact':>11s} {'sigma plug-in':>18s} {'eta exact':>9s}")
    for k, w in enumerate(ws):
        m = st.BipartiteJump.sensor(w, A, B)
        ens = st.simulate_jump(m, n_traj=n_traj, t_max=t_max, n_steps=10,
                               seed=np.random.SeedSequence([16, k]))
        path = st.estimate.information_flow(ens, method="path")
        plug = st.estimate.information_flow(ens)
        ep = st.estimate.entropy_production(ens)
        env = st.estimate.entropy_production(ens, method="path")
        exact = {"Idot_X": float(st.exact.information_flow(m)[0]),
                 "sigma": st.exact.entropy_production(m),
                 "eta_X": st.exact.learning_efficiency(m)}
        # efficiency from the path averages: ratio of the two mean flows (delta-method error)
        ix, sx = path.value[0], env.value
        eta = ix / sx
        eta_se = abs(eta) * np.hypot(path.stderr[0] / ix, env.stderr / sx)
        rows.append({"w": w, "exact": exact, "path_flow": path.to_dict(),
                     "plugin_flow": plug.to_dict(), "plugin_ep": ep.to_dict(),
                     "eta_sim": [eta, eta_se]})
        print(f"{w:7.3f} {exact['Idot_X']:12.4f} "
              f"{f'{path.value[0]:.4f}±{path.stderr[0]:.4f}':>18s} "
              f"{f'{plug.value[0]:.4f}±{plug.stderr[0]:.4f}':>18s} {exact['sigma']:11.4f} "
              f"{f'{ep.value:.4f}±{ep.stderr:.4f}':>18s} {exact['eta_X']:9.4f}")

    import matplotlib.pyplot as plt

    with style():
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.0))
    a1.plot(fine, theory["sigma"], color="C3", label=r"entropy production $\sigma$ (theory)")
    a1.plot(fine, theory["Idot_X"], color="C0", label=r"information flow $\dot I^X$ (theory)")
    a1.errorbar(ws, [r["plugin_ep"]["value"] for r in rows],
                yerr=[r["plugin_ep"]["stderr"] for r in rows], fmt="s", color="C3", ms=4,
                label=r"$\sigma$ plug-in from counted jumps")
    a1.errorbar(ws, [r["plugin_flow"]["value"][0] for r in rows],
                yerr=[r["plugin_flow"]["stderr"][0] for r in rows], fmt="o", color="C0", ms=4,
                label=r"$\dot I^X$ plug-in from counted jumps")
    a1.set_xscale("log")
    a1.set_xlabel("signal flip rate w")
    a1.set_ylabel("rate  [nats / time]")
    a1.set_title(f"sensor a = {A:g}, b = {B:g}")
    a1.legend(fontsize=8)
    a2.plot(fine, theory["eta_X"], color="C2", label=r"$\eta_X = \dot I^X / \dot S^X_{env}$")
    a2.errorbar(ws, [r["eta_sim"][0] for r in rows], yerr=[r["eta_sim"][1] for r in rows],
                fmt="o", color="C2", ms=4, label="simulation (path averages)")
    a2.axhline(1.0, color="0.5", lw=0.8, ls="--")
    a2.set_xscale("log")
    a2.set_ylim(0, 1.05)
    a2.set_xlabel("signal flip rate w")
    a2.set_ylabel("learning efficiency")
    a2.set_title("the second law of the sensor caps it at 1")
    a2.legend(fontsize=8)
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    path = savefig_atomic(fig, args.out / "sensor_learning.png")
    (args.out / "sensor_learning.json").write_text(json.dumps(rows, indent=1, default=str))
    print(f"wrote {path} and {args.out / 'sensor_learning.json'}")


if __name__ == "__main__":
    main()
