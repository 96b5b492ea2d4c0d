"""``stochthermo experiment fig4.1``: the paper's SGD-noise diagnostics of an MLP ensemble."""

from __future__ import annotations

HELP = "run a paper experiment (fig4.1) and write PNG panels and a JSON of the numbers"
DESCRIPTION = """\
fig4.1: a 4-layer MLP trained by SGD with batch sizes 1, 10, 100 and K trials sharing one
initialisation; panels (a) parameter realisations, (b) accuracy mean and variance, (c)
parameter-averaged noise variance with the max-gradient reference, (d) noise
autocorrelation. Data: scikit-learn's digits when installed, else a synthetic task; or
--data PATH (a .npz, or a folder of MNIST IDX files).

example: stochthermo experiment fig4.1 --out results/fig41 --quick
"""


def configure(p):
    """Add the options of the subcommand."""
    p.add_argument("name", choices=["fig4.1"], help="experiment to run")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--quick", action="store_true", help="small network, about a minute")
    p.add_argument("--data", default="auto", help="auto, digits, teacher, FILE.npz or IDX folder")
    p.add_argument("--width", type=int, default=None, help="hidden width (default 200; quick 64)")
    p.add_argument("--trials", type=int, default=None, help="trials per batch size")
    p.add_argument("--steps", type=int, default=None, help="SGD steps per batch size")
    p.add_argument("--lr", type=float, default=0.005,
                   help="learning rate (default 0.005; the checkpoint noise estimate picks up "
                   "a lag-1 correlation of about -lr x curvature)")
    p.add_argument("--batch-sizes", default="1,10,100",
                   help="comma-separated batch sizes, one ensemble each (default 1,10,100)")
    p.add_argument("--max-samples", type=int, default=None, help="subsample the data")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initialisation, the data split and the batches (default 0)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="what to print: a summary, or one JSON document on stdout "
                   "(default: table)")


def run(args) -> int:
    """Run the subcommand."""
    import sys
    from pathlib import Path

    from .._atomic import check_out_folder, staged_folder
    from .._progress import message_bar
    from ..cli import UsageError
    from ..learning._fig41 import fig41, single_thread_blas, write_json_atomic
    from ..plotting import fig41_data_from_result, save_fig41_panels

    bs = _batch_sizes(args.batch_sizes)
    for flag, value, low in (("--width", args.width, 1), ("--trials", args.trials, 1),
                             ("--steps", args.steps, 1), ("--max-samples", args.max_samples, 1),
                             ("--seed", args.seed, 0)):
        if value is not None and value < low:  # 0 is not "the default"
            raise UsageError(f"{flag} {value} must be an integer >= {low}"
                             + (" (leave it out for the default)" if flag != "--seed" else ""))
    check_out_folder(args.out, known=_known_names())  # refused now, not after the run
    width = (64 if args.quick else 200) if args.width is None else args.width
    trials = (8 if args.quick else 10) if args.trials is None else args.trials
    steps = (100 if args.quick else 200) if args.steps is None else args.steps
    with single_thread_blas():  # trials on Numba's threads, BLAS on one: no oversubscription
        res = fig41(data=args.data, hidden=(width,) * 3, batch_sizes=bs, n_trials=trials,
                    n_steps=steps, lr=args.lr, seed=args.seed, max_samples=args.max_samples,
                    progress=message_bar(lambda msg: print(msg, file=sys.stderr)))
    out = Path(args.out)
    settings = {"command": "experiment", "name": args.name, "seed": args.seed,
                "quick": args.quick, "data": args.data, "width": width, "trials": trials,
                "steps": steps, "lr": args.lr, "batch_sizes": list(bs),
                "max_samples": args.max_samples}
    # written into a staged folder that replaces --out whole once everything is there
    with staged_folder(out, manifest=settings, known=_known_names()) as stage:
        staged = save_fig41_panels(fig41_data_from_result(res), stage)
        write_json_atomic(res.to_dict(), stage / "fig41.json")
    paths = [out / p.name for p in staged]
    if args.format == "json":
        from ._format import emit_json

        emit_json({**res.to_dict(), "files": [str(p) for p in [*paths, out / "fig41.json"]]})
        return 0
    mv = res.mean_noise_variance()
    print(f"data {res.meta['data']}, {res.meta['n_params']} parameters")
    print(f"noise variance exponent: {res.exponent:.3f} ± {res.exponent_stderr:.3f} (1/|b|: -1)")
    for b in res.batch_sizes:
        print(f"  |b|={b:4d}  noise variance {mv[b]:.4g}  lag-1 autocorrelation "
              f"{res.autocorrelation[b][1]:+.3f}  final accuracy {res.accuracy_mean[b][-1]:.3f}")
    print("wrote " + ", ".join(str(p) for p in [*paths, out / "fig41.json"]))
    return 0


def _known_names():
    """What the experiment writes into --out (an older output of only these may be replaced)."""
    from ..plotting._fig41 import FIG41_FILES

    return (*FIG41_FILES, "fig41.json", "manifest.json")


#: the largest batch size taken (far beyond any data set; larger ones only exhaust memory)
MAX_BATCH_SIZE = 10**9


def _batch_sizes(text: str) -> tuple:
    """``--batch-sizes`` as a tuple of distinct positive ints, refused with one line otherwise."""
    from ..cli import UsageError
    from ._format import short_text

    items = text.split(",")
    if len(items) > 100:
        raise UsageError(f"--batch-sizes holds {len(items)} entries; pass a few distinct batch "
                         "sizes, e.g. 1,10,100")
    try:
        bs = tuple(int(b) for b in items)
    except ValueError:
        raise UsageError(f"--batch-sizes {short_text(text)} must be comma-separated "
                         "integers, e.g. 1,10,100") from None
    bad = [b for b in bs if not 1 <= b <= MAX_BATCH_SIZE]
    if bad:
        raise UsageError(f"--batch-sizes holds {_digits(bad[0])}; each batch size "
                         f"must be an integer from 1 to {MAX_BATCH_SIZE:.0e}, e.g. 1,10,100")
    if len(set(bs)) != len(bs):
        twice = next(b for b in bs if bs.count(b) > 1)
        raise UsageError(f"--batch-sizes {short_text(text)} names the batch size {twice} twice; "
                         "give each once (the noise-variance exponent is fitted across them)")
    return bs


def _digits(number: int, limit: int = 30) -> str:
    """A whole number for a message, cut to ``limit`` digits."""
    text = str(number)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} digits)"
