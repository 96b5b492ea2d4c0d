"""Log what the theory needs from a PyTorch training loop, then analyse it.

A small MLP is trained by SGD on a synthetic classification task, several trials per batch
size sharing one initialisation. At chosen steps the loop hands stochthermo's
``TrajectoryWriter`` the parameters, the mini-batch gradient used for the step, the full-batch
gradient at the same parameters (their difference is the SGD noise, measured exactly) and the
logits on a fixed probe set (work, heat, conditional entropy production). Only this example
imports torch; the writer takes any array with ``__array__`` or ``__dlpack__``.

    python examples/pytorch/record_training.py [--out DIR] [--quick]

writes the runs under DIR/pytorch_record/runs and the analysis (Fig. 4.1 panels, summary.json,
report.html) under DIR/pytorch_record/analysis (default DIR: examples/out under the current
directory).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from stochthermo.bridge import TrajectoryWriter
from stochthermo.cli import main as stochthermo_main


def make_data(n=512, n_in=10, n_classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_in, generator=g)
    teacher = torch.randn(n_in, n_classes, generator=g)
    return x, (x @ teacher).argmax(dim=1)


def gradients(net, x, y):
    """``{name: gradient}`` of the mean cross-entropy on (x, y) at the current parameters."""
    net.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    return {k: p.grad.detach().clone() for k, p in net.named_parameters()}


def train_trial(folder, init_state, x, y, probe, *, batch_size, lr, n_steps, grad_every, seed):
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, 3))
    net.load_state_dict(init_state)  # trials share the initialisation
    g = torch.Generator().manual_seed(seed)
    with TrajectoryWriter(folder, grad_steps=grad_every) as w:
        for step in range(n_steps + 1):
            idx = torch.randint(0, len(y), (batch_size,), generator=g)  # with replacement
            mini = gradients(net, x[idx], y[idx])
            if w.wants_gradients(step):
                full = gradients(net, x, y)  # the same parameters, the whole training set
                with torch.no_grad():
                    logits = net(probe)
                    loss = torch.nn.functional.cross_entropy(net(x), y).item()
                w.write(step, net.state_dict(), grads=mini, full_grads=full, outputs=logits,
                        scalars={"loss": loss})
            with torch.no_grad():
                for name, p in net.named_parameters():
                    p -= lr * mini[name]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples/out"),
                    help="output folder (default examples/out)")
    ap.add_argument("--quick", action="store_true", help="few steps and trials")
    args = ap.parse_args(argv)
    out = args.out / "pytorch_record"
    n_steps, n_trials, lr = (30, 4, 0.1) if args.quick else (300, 8, 0.1)
    torch.manual_seed(0)
    x, y = make_data()
    probe = x[:64]
    init = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, 3)).state_dict()
    for bs in (4, 32):
        run = out / "runs" / f"bs{bs}"
        run.mkdir(parents=True, exist_ok=True)
        (run / "config.json").write_text(json.dumps({"batch_size": bs, "lr": lr}))
        for j in range(n_trials):
            train_trial(run / f"trial{j}", init, x, y, probe, batch_size=bs, lr=lr,
                        n_steps=n_steps, grad_every=5, seed=1000 * bs + j)
    code = stochthermo_main(["analyze", str(out / "runs"), "--out", str(out / "analysis"),
                             "--no-progress"])
    if code:
        raise SystemExit(code)
    summary = json.loads((out / "analysis" / "summary.json").read_text())
    for r in summary["runs"]:
        m = r["logged_noise_var"]
        print(f"{r['name']}: noise variance from logged gradients "
              f"{m['value']:.3g} +- {m['stderr']:.3g} per parameter and step")
    b = summary.get("batch_scaling_logged")
    if b:
        print(f"logged noise ~ batch_size^alpha, alpha = {b['value']:.3f} +- {b['stderr']:.3f}"
              " (theory: -1)")
    print(f"wrote the runs to {out / 'runs'} and the analysis to {out / 'analysis'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
