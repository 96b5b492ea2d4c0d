"""``stochthermo analyze ROOT --out DIR``: Fig. 4.1 panels and a JSON summary of training runs."""

from __future__ import annotations

HELP = "diagnose training runs (checkpoints + scalar logs): Fig. 4.1 panels and a JSON summary"
DESCRIPTION = """\
Read every run under ROOT (a folder of run folders such as bs1/ bs10/ bs100/, each holding one
folder per trial with its checkpoints and scalar logs), stream once over the checkpoints and
write to DIR:

  panel_a_trajectories.png   a few parameters' trajectories across trials
  panel_b_accuracy.png       accuracy (or loss) ensemble mean and variance per step
  panel_c_noise.png          parameter-averaged SGD noise variance per batch size, with
                             max_i |mean increment_i| as a reference line
  panel_d_autocorr.png       noise autocorrelation averaged over parameters
  summary.json               all numbers, including the batch-size exponent, the validity
                             window and any warnings
  report.html                one self-contained page: runs, validity window, noise per
                             interval, temperature against lr/|b|, the panels and the
                             thermodynamic quantities when probe outputs exist

Runs logged with TrajectoryWriter(grads=..., full_grads=...) also get the noise measured
exactly from the logged mini-batch and full-batch gradients (and its batch-size exponent).

Each interval between checkpoints is tested for whether the ensemble-increment estimate is
still noise (trials that separate add drift differences); the temperature and the batch-size
exponent use only the longest step range where every run passes (the "window"). When no
window is left, analyze says so in a warning (stderr, summary.json and --format json).

DIR is replaced whole when the analysis is complete (files are written into a temporary
folder beside it first), so an interrupted run leaves the previous output untouched.

PyTorch is not needed: torch.save files are read with an allow-list unpickler.
"""


def configure(parser):
    """Add the subcommand's arguments."""
    parser.add_argument("root", metavar="ROOT", help="folder holding the runs")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="'json' also prints the summary on stdout")
    parser.add_argument("--key", default=None, help="checkpoint wrapper key of the parameters")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (for T_eff)")
    parser.add_argument("--probe", default=None, metavar="NPY",
                        help=".npy file of probe inputs for work/heat/entropy production")
    parser.add_argument("--activation", default="relu", choices=("relu", "tanh", "identity"),
                        help="hidden-layer activation of the network the checkpoints hold, used "
                        "with --probe (default relu)")
    parser.add_argument("--max-lag", type=int, default=10,
                        help="largest lag of the noise autocorrelation, in checkpoints "
                        "(default 10)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random parameter subsample (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


PANEL_FILES = ("panel_a_trajectories.png", "panel_b_accuracy.png", "panel_c_noise.png",
               "panel_d_autocorr.png")
#: what analyze writes into --out (an older output holding only these may be replaced)
OUTPUT_NAMES = (*PANEL_FILES, "summary.json", "manifest.json", "report.html")


def write_panels(diag, out_dir) -> list[str]:
    """Draw the four Fig. 4.1 panels of ``diag`` (a :class:`Diagnostics`) into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    from ..plotting import fig41_data_from_diagnostics, save_fig41_panels

    data = fig41_data_from_diagnostics(diag)
    paths = save_fig41_panels(data, out_dir, names=PANEL_FILES)
    return [str(p) for p in paths]


def _diagnose(args):
    """Open the runs under ``args.root`` and diagnose them (with a progress bar unless told)."""
    import sys

    import numpy as np

    from .._progress import shared_bar
    from ..bridge import diagnose, open_runs, read_checkpoint
    from ..errors import BridgeError

    runs = open_runs(args.root, key=args.key)
    total = sum(len(r.steps) * len(r.trials) for r in runs)
    bar = None
    if not args.no_progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="ckpt", desc="analyze", file=sys.stderr,
                       disable=None)
        except ImportError:
            bar = None
    probe = None
    if args.probe:  # read like a checkpoint: a regular .npy file, no pickle, size-checked
        probe = np.asarray(next(iter(read_checkpoint(args.probe).values())))
        if probe.dtype.kind not in "biuf":
            raise BridgeError(f"{args.probe}: the probe inputs are {probe.dtype} values, not "
                              "numbers; save a 2-d array of inputs, one row per probe input")
    try:
        diag = diagnose(runs, key=args.key, lr=args.lr, probe=probe,
                        activation=args.activation, max_lag=args.max_lag, seed=args.seed,
                        progress=shared_bar(bar))
    finally:
        if bar is not None:
            bar.close()
    return diag


def _draw_panels(diag, out_dir):
    """``(panel paths, note)``: the panels, or none and a warning saying why.

    Values a diverged run reaches (every noise estimate infinite, an axis span past the float64
    range) can leave matplotlib unable to place an axis even after the panels leave out what no
    axis can hold (``plotting._fig41._drawable``); the analysis is still written, without the
    panels.
    """
    import contextlib
    import os

    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        return write_panels(diag, out_dir), None
    except (ValueError, OverflowError) as exc:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)
        for name in PANEL_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(out_dir, name))
        return [], (f"the Fig. 4.1 panels were not drawn: matplotlib cannot place these values "
                    f"on an axis ({type(exc).__name__}: {str(exc)[:200]}); summary.json and "
                    "report.html hold every number")


def _write_outputs(diag, args):
    """Panels, ``summary.json`` and ``report.html`` into ``args.out``.

    Returns the panel paths and the summary as strict JSON-able data.
    """
    import json
    import os

    from .._atomic import staged_folder
    from ..bridge._files import printable
    from ..bridge._writer import atomic_write_bytes
    from ..results import to_jsonable

    # written into a staged folder that replaces --out whole once everything is there (the
    # settings are in summary.json already, so no separate manifest)
    with staged_folder(args.out, known=OUTPUT_NAMES) as stage:
        panels, note = _draw_panels(diag, stage)
        summary = diag.to_dict()
        summary["panels"] = [os.path.basename(p) for p in panels]
        if note is not None:
            summary["warnings"] = [*summary["warnings"], note]
        # strict JSON: NaN and infinities become null (the same document as --format json)
        plain = to_jsonable(summary)
        text = json.dumps(plain, indent=1, allow_nan=False)
        atomic_write_bytes(os.path.join(stage, "summary.json"), text.encode())
        from ..bridge._report import analysis_report

        page = analysis_report(diag, panels, root=printable(str(args.root)),
                               notes=[note] if note else [])
        atomic_write_bytes(os.path.join(stage, "report.html"), page.encode())
    return panels, plain, note


def _print_summary(diag, panels, args):
    """The human-readable summary on stdout."""
    win = "all" if diag.window is None else diag.window
    for r in diag.runs:
        m = r.mean_noise_var(win) if r.valid is not None else r.mean_noise_var("all")
        t = "" if r.temperature is None else f", T_eff = {r.temperature:.3g}"
        print(f"{r.name}: {r.meta['n_trials']} trials, {r.steps.size} checkpoints, "
              f"noise var {m:.3g}{t}")
        logged = r.logged_noise_var()
        if logged is not None:
            print(f"  noise var from logged gradients {logged:.3g} "
                  f"({logged.meta['units']} units)")
    if diag.window is not None:
        print(f"valid window: steps {diag.window[0]} to {diag.window[1]} (the ensemble "
              "noise estimate passes its validity tests in every run)")
    if diag.batch_scaling is not None:
        print(f"noise variance ~ batch_size^alpha, alpha = {diag.batch_scaling:.3g}")
        for w in diag.batch_scaling.warnings:
            if w not in diag.warnings:  # said once below
                print(f"  warning: {w}")
    if diag.batch_scaling_logged is not None:
        print(f"logged-gradient noise ~ batch_size^alpha, alpha = "
              f"{diag.batch_scaling_logged:.3g}")
    for r in diag.runs:
        if r.temperature is not None:
            for w in r.temperature.warnings:
                if w not in diag.warnings:  # said once below
                    print(f"  warning ({r.name}, T_eff): {w}")
    for w in diag.warnings:
        print(f"warning: {w}")
    from ..bridge._files import printable

    print(f"wrote {len(panels)} panels, summary.json and report.html to "
          f"{printable(str(args.out))}")


def run(args) -> int:
    """Run the analysis."""
    from .._atomic import check_out_folder

    check_out_folder(args.out, known=OUTPUT_NAMES)  # refused now, not after the pass
    diag = _diagnose(args)
    panels, plain, note = _write_outputs(diag, args)
    if args.format == "json":
        from ._format import emit_json

        for w in diag.warnings:  # on stderr while --format json runs
            print(f"warning: {w}")
        if note is not None:
            print(f"warning: {note}")
        emit_json(plain)
    else:
        _print_summary(diag, panels, args)
        if note is not None:
            print(f"warning: {note}")
    return 0
