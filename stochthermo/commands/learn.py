"""``stochthermo learn``: the linear-Gaussian lagged learner, closed forms and simulation."""

from __future__ import annotations

HELP = "closed forms (and optionally a simulation) of the linear-Gaussian lagged learner"
DESCRIPTION = """\
Print M-info, L-info, I(X;Theta), work, heat, information flows and sigma^X of the
linear-Gaussian lagged learner (theory/learning.md, section 4) at the given steps; with --simulate,
also their estimates from an ensemble of SGD runs (value ± standard error).

example: stochthermo learn --lr 0.1 --batch-size 2 --n-data 10 --steps 1,5,20 --simulate 2000
"""


def configure(p):
    """Add the options of the subcommand."""
    p.add_argument("--mu", type=float, default=1.0, help="target mean (default 1)")
    p.add_argument("--data-std", type=float, default=1.0, help="target std s_d (default 1)")
    p.add_argument("--n-data", type=int, default=10, help="training-set size N (default 10)")
    p.add_argument("--batch-size", type=int, default=2, help="mini-batch size m (default 2)")
    p.add_argument("--model-std", type=float, default=1.0, help="model width s (default 1)")
    p.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    p.add_argument("--init-mean", type=float, default=0.0,
                   help="mean of the initial parameter theta_0 (default 0)")
    p.add_argument("--init-var", type=float, default=1.0,
                   help="variance of the initial parameter theta_0 (default 1)")
    p.add_argument("--steps", default="0,1,5,20", help="comma-separated steps (default 0,1,5,20)")
    p.add_argument("--simulate", type=int, default=0, metavar="N_DATASETS",
                   help="also simulate with this many training sets")
    p.add_argument("--method", default="gaussian", choices=["gaussian", "minibatch", "shuffle"],
                   help="how --simulate draws mini-batches: gaussian (the Gaussian-noise "
                   "limit), minibatch (with replacement) or shuffle (epochs without "
                   "replacement); default gaussian")
    p.add_argument("--seed", type=int, default=0, help="random seed of --simulate (default 0)")
    p.add_argument("--json", metavar="FILE", help="write the numbers as JSON (atomically)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="what to print: a table, or one JSON document on stdout (default: "
                   "table)")


def run(args) -> int:
    """Run the subcommand."""
    import numpy as np

    from ..cli import UsageError
    from ..errors import InsufficientDataError
    from ..learning import CLOSED_FORM_KEYS, GaussianLearner
    from ..learning._fig41 import write_json_atomic
    from ._format import check_out_file_arg, emit_json, warning_lines

    steps = _steps(args.steps)
    if args.json:
        check_out_file_arg(args.json, "--json")  # refused now, not after the work
    try:  # extreme scales overflow in Python floats or make a matrix singular
        g = GaussianLearner(mu=args.mu, data_std=args.data_std, n_data=args.n_data,
                            batch_size=args.batch_size, model_std=args.model_std, lr=args.lr,
                            init_mean=args.init_mean, init_var=args.init_var)
        cf = g.closed_form(steps)
    except (ArithmeticError, np.linalg.LinAlgError) as exc:
        given = (f"--mu {args.mu} --data-std {args.data_std} --model-std {args.model_std} "
                 f"--lr {args.lr} --init-mean {args.init_mean} --init-var {args.init_var}")
        raise UsageError(
            f"the closed forms overflow or divide by zero at {given} ({type(exc).__name__}); "
            "give moderate values (scales between about 1e-100 and 1e100)") from None
    keys = [*CLOSED_FORM_KEYS, "sigma_x_kl", "info_flow_x_accumulated"]
    est = None
    if args.simulate:
        ens = g.simulate(int(steps.max()) + 1, n_datasets=args.simulate, method=args.method,
                         seed=args.seed)
        try:
            est = g.estimate(ens, steps)
        except InsufficientDataError as exc:  # the input asked for too few training sets
            raise UsageError(str(exc).replace("simulate more training sets (n_datasets)",
                                              f"pass a larger --simulate than {args.simulate}")
                             ) from None
    out = {"steps": steps.tolist(), "closed_form": {k: cf[k].tolist() for k in keys}}
    if est is not None:
        out["simulated"] = {k: {"value": np.asarray(e.value).tolist(),
                                "stderr": np.asarray(e.stderr).tolist(),
                                "method": e.method, "warnings": list(e.warnings)}
                            for k, e in est.items()}
    if args.json:
        write_json_atomic(out, args.json)
    if args.format == "json":
        emit_json(out)
        return 0
    print("linear-Gaussian lagged learner: closed form at each step"
          + ("; 'simulated' rows: estimate ± 1 s.e. from the ensemble" if est else ""))
    print(f"{'quantity':24s}" + "".join(f"{'t=' + str(t):>24s}" for t in steps))
    for k in keys:
        row = f"{k:24s}" + "".join(f"{v:24.6g}" for v in cf[k])
        print(row)
        if est is not None and k in est:
            e = est[k]
            print(f"{'  simulated':24s}" + "".join(
                f"{f'{v:.4g} ± {s:.2g}':>24s}" for v, s in zip(e.value, e.stderr, strict=True)))
            for line in warning_lines(e.warnings, indent="    "):
                print(line)
    if args.json:
        print(f"wrote {args.json}")
    return 0


#: at most this many steps in --steps (the table has a column per step)
MAX_STEPS = 1000


def _steps(text: str):
    """The steps of ``--steps`` as int64, refused with a one-line message when malformed."""
    import numpy as np

    from ..cli import UsageError
    from ._format import short_text

    items = [s.strip() for s in text.split(",") if s.strip()]
    if len(items) > MAX_STEPS:
        raise UsageError(f"--steps holds {len(items)} steps; pass at most {MAX_STEPS} (one "
                         "column each), e.g. --steps 0,1,5,20")
    try:
        values = [int(s) for s in items]
    except ValueError:
        raise UsageError(f"--steps {short_text(text)} must be comma-separated integers, e.g. "
                         "--steps 0,1,5,20") from None
    if not values:
        raise UsageError(f"--steps {short_text(text)} holds no step; pass e.g. --steps 0,1,5,20")
    bad = [v for v in values if v < 0 or v > np.iinfo(np.int64).max]
    if bad:
        raise UsageError(f"--steps holds the step {_digits(bad[0])}; steps are "
                         "whole numbers >= 0 (step 0 is the initial parameter), e.g. "
                         "--steps 0,1,5,20")
    return np.array(values, dtype=np.int64)


def _digits(number: int, limit: int = 30) -> str:
    """A whole number for a message, cut to ``limit`` digits."""
    text = str(number)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} digits)"
