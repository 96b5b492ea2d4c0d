"""The paper's Fig. 4.1 experiment: SGD noise diagnostics of an MLP ensemble.

K trials share one initialisation and one training set; they differ only in the mini-batch
order. From checkpoints alone the noise is ``eta_k(t) = -(Delta theta_k(t) - <Delta theta(t)>)/lr``
(deviation of a trial's increment from the ensemble-mean increment); panel (c) is
``(1/d) sum_i Var_k[eta_i(t)]`` per batch size (expected ~ 1/|b|), panel (d) the normalised
autocorrelation ``sum_i C_ii(t, t + lag) / sum_i C_ii(t, t)`` averaged over t (white: 0 for
lag >= 1). The parameter average runs over a random subset of ``n_noise_params`` parameters
(an unbiased estimate of the average over all of them). See ``theory/learning.md``.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._atomic import write_atomic
from .._progress import progress_bar
from .._validation import positive_float, positive_int
from ..errors import CorruptFileError, ValidationError
from ..estimators._stats import loglog_fit, sgd_noise_deviations
from ..results import to_jsonable
from ._engine import learn
from ._ppm import MLPClassifier

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from .._typing import ArrayLike, PathLike, ProgressLike, SeedLike

__all__ = ["load_dataset", "teacher_student", "Fig41Result", "fig41", "noise_statistics"]


def teacher_student(n: int = 2000, n_in: int = 32, n_classes: int = 10, *,
                    seed: SeedLike = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic classification task: labels are the arg-max of a random teacher network."""
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((n, n_in))
    W1 = rng.standard_normal((n_in, 64)) / np.sqrt(n_in)
    W2 = rng.standard_normal((64, n_classes)) / 8.0
    y = (np.tanh(U @ W1) @ W2).argmax(axis=1)
    return U, y.astype(np.int64)


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits (1797 8x8 images, pixels scaled to [0, 1]) and their labels.

    Read straight from the CSV that scikit-learn installs, without importing scikit-learn
    (its import takes seconds); the values are those of ``sklearn.datasets.load_digits()``,
    which is the fallback when the file is not where it is expected.
    """
    spec = importlib.util.find_spec("sklearn")
    roots = [] if spec is None else list(spec.submodule_search_locations or ())
    for root in roots:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                table = np.loadtxt(fh, delimiter=",")
            if table.ndim == 2 and table.shape[1] == 65:
                return table[:, :-1] / 16.0, table[:, -1].astype(np.int64)
    from .._optional import require

    datasets = require("sklearn.datasets", "data", "the digits data set")
    d = datasets.load_digits()
    return d.data / 16.0, d.target.astype(np.int64)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0:
        raise CorruptFileError(f"{path} is not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code != 0x08:
        raise CorruptFileError(f"{path}: only unsigned-byte IDX files are supported")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise CorruptFileError(f"{path} is truncated: expected {int(np.prod(dims))} values, "
                               f"found {data.size}")
    return data.reshape(dims)


def load_dataset(source: PathLike = "auto", *, max_samples: int | None = None,
                 seed: SeedLike = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """Load a classification training set ``(U (N, n_in) in [0, 1] or standardised, y (N,))``.

    Parameters
    ----------
    source : str or path
        ``"auto"`` (scikit-learn's digits if installed, else the teacher-student task),
        ``"digits"``, ``"teacher"``, a ``.npz`` file (arrays ``x_train``/``y_train`` or
        ``X``/``y``) or a folder holding MNIST-style IDX files (``*images*idx3*`` and
        ``*labels*idx1*``, optionally gzipped).
    max_samples : int, optional
        Keep a random subset of this size.
    """
    name = str(source)
    if name == "auto":
        name = "digits" if importlib.util.find_spec("sklearn") is not None else "teacher"
    if name == "digits":
        U, y = _digits()
        label = "digits"
    elif name == "teacher":
        U, y = teacher_student(seed=seed)
        label = "teacher-student"
    else:
        p = Path(os.fspath(source))
        if p.is_dir():
            imgs = sorted(p.glob("*images*idx3*"))
            labs = sorted(p.glob("*labels*idx1*"))
            train_i = [q for q in imgs if "train" in q.name] or imgs
            train_l = [q for q in labs if "train" in q.name] or labs
            if not train_i or not train_l:
                raise ValidationError(f"no IDX image/label files found in {p}")
            U = _read_idx(train_i[0]).reshape(-1, 0 + int(np.prod(_read_idx(train_i[0]).shape[1:])))
            y = _read_idx(train_l[0]).astype(np.int64)
            U = U / 255.0
        elif p.suffix == ".npz" and p.is_file():
            U, y = _read_npz(p)
        else:
            raise ValidationError(
                f"data={source!r} is neither 'auto', 'digits', 'teacher', a .npz file nor a "
                "folder of IDX files"
            )
        label = str(p)
    if U.shape[0] != y.shape[0]:
        raise ValidationError(f"{label}: {U.shape[0]} inputs but {y.shape[0]} labels")
    _check_labels(y, label)
    if max_samples is not None and U.shape[0] > max_samples:
        keep = np.random.default_rng(seed).choice(U.shape[0], max_samples, replace=False)
        U, y = U[np.sort(keep)], y[np.sort(keep)]
    return np.ascontiguousarray(U, dtype=np.float64), y, label


#: most classes a training set may have (the output layer is n_hidden x n_classes)
MAX_CLASSES = 10_000


def _read_npz(p: Path) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (flattened per sample, scaled to [0, 1] if they look like pixels) and labels."""
    import zipfile

    try:
        with np.load(p, allow_pickle=False) as z:
            keys = set(z.files)
            for ku, ky in (("x_train", "y_train"), ("X", "y"), ("x", "y")):
                if ku in keys and ky in keys:
                    U, y = z[ku], z[ky]
                    break
            else:
                raise ValidationError(
                    f"{p} must hold arrays x_train/y_train or X/y, found {sorted(keys)}"
                )
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValidationError(
            f"{p} cannot be read as a NumPy .npz of numeric arrays ({type(exc).__name__}: "
            f"{str(exc)[:200]}); save it with np.savez(path, x_train=..., y_train=...)"
        ) from None
    for name, a in (("inputs", U), ("labels", y)):
        if a.dtype.kind not in "biuf" or a.ndim == 0 or a.shape[0] == 0:
            raise ValidationError(
                f"{p}: the {name} must be a non-empty numeric array with samples first, not "
                f"dtype {a.dtype} and shape {a.shape}"
            )
    U = U.reshape(U.shape[0], -1).astype(np.float64)
    if not np.isfinite(U).all():
        raise ValidationError(f"{p}: the inputs hold NaN or infinite values; clean them first")
    if U.max(initial=0) > 1.5:
        U = U / U.max()
    y = np.asarray(y).reshape(-1)
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and np.array_equal(y, np.round(y))):
        raise ValidationError(
            f"{p}: the labels must be class indices 0, 1, ..., K-1; they hold non-integer "
            "values (relabel with np.unique(y, return_inverse=True)[1])"
        )
    return U, y.astype(np.int64)


def _check_labels(y: np.ndarray, label: str) -> None:
    lo, hi = int(y.min()), int(y.max())
    if lo >= 0 and hi < 1:
        raise ValidationError(f"{label}: every label is {hi}; a classifier needs two classes")
    if lo < 0 or hi >= MAX_CLASSES:
        what = f"a negative label ({lo})" if lo < 0 else f"the label {hi}"
        raise ValidationError(
            f"{label}: the labels must be class indices 0, 1, ..., K-1 with 2 <= K <= "
            f"{MAX_CLASSES}, but there is {what}; relabel with "
            "np.unique(y, return_inverse=True)[1]"
        )


@contextlib.contextmanager
def single_thread_blas() -> Iterator[bool]:
    """A context in which BLAS (the matrix products of these kernels) runs on one thread.

    The ensemble kernels spread their trials over Numba's threads; a multi-threaded BLAS
    inside each gradient then competes with them for the cores (on a busy 2-core machine the
    Fig. 4.1 experiment ran several times slower than with one BLAS thread). Inside this
    context ``kernels._mlp.mlp_grad_ensemble_serial`` also uses every Numba thread, since
    nothing nests.
    Uses ``threadpoolctl`` (a dependency); should it be missing, nothing changes. Yields
    whether BLAS was limited. OpenBLAS's one-thread matrix product sums in another order than
    its multi-threaded one: the numbers can differ in the last bits (~1e-17) from those of a
    multi-threaded BLAS, and equal those of a 1-core machine.
    """
    from ..kernels import _mlp

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield False
        return
    # Numba's np.dot calls SciPy's BLAS: load it now, threadpoolctl limits loaded libraries only
    import scipy.linalg.cython_blas  # noqa: F401

    with threadpool_limits(limits=1, user_api="blas"):
        previous = _mlp._ONE_BLAS_THREAD[0]
        _mlp._ONE_BLAS_THREAD[0] = True
        try:
            yield True
        finally:
            _mlp._ONE_BLAS_THREAD[0] = previous


def noise_statistics(params: ArrayLike, lr: float,
                     max_lag: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Noise variance and autocorrelation from checkpoints of trials sharing their start.

    Parameters
    ----------
    params : ndarray (K, n_time, d)
        Parameters of K trials at consecutive steps.
    lr : float
        Learning rate per saved step (time per step).

    Returns
    -------
    variance : ndarray (n_time - 1,)
        ``(1/d) sum_i Var_k[eta_i(t)]`` in gradient units, ``eta = grad U_B - grad U_b``
        estimated as ``(increment - ensemble-mean increment) / lr``
        (``estimate.sgd_noise(params, lr=lr)``; ``theory/sgd.md``).
    autocorr : ndarray (max_lag + 1,)
        ``sum_{t,i} C_ii(t, t+lag) / sum_{t,i} C_ii(t, t)`` over the steps where both exist.
    """
    eta = sgd_noise_deviations(np.asarray(params), lr)[0]  # (K, T, d)
    K = eta.shape[0]
    var = (eta**2).sum(axis=0).mean(axis=-1) / (K - 1)
    ac = np.empty(max_lag + 1)
    T = eta.shape[1]
    for lag in range(max_lag + 1):
        if lag >= T:  # no pair of steps this far apart
            ac[lag] = np.nan
            continue
        num = (eta[:, lag:] * eta[:, : T - lag]).sum()
        den = np.sqrt((eta[:, lag:] ** 2).sum() * (eta[:, : T - lag] ** 2).sum())
        ac[lag] = num / den
    return var, ac


@dataclass(frozen=True)
class Fig41Result:
    """Numbers behind the four panels of Fig. 4.1 (one entry per batch size)."""

    batch_sizes: tuple
    steps: np.ndarray
    eval_steps: np.ndarray
    shown_params: dict  # bs -> (K, n_time, n_show)
    accuracy_mean: dict  # bs -> (n_eval,)
    accuracy_var: dict
    noise_variance: dict  # bs -> (n_time - 1,)
    grad_max: dict  # bs -> (n_eval,) ensemble mean of max_i |d_i U_B|
    autocorrelation: dict  # bs -> (max_lag + 1,)
    exponent: float
    exponent_stderr: float
    meta: Any = field(default_factory=dict)

    def mean_noise_variance(self) -> dict:
        """Time-averaged noise variance per batch size."""
        return {b: float(np.mean(v)) for b, v in self.noise_variance.items()}

    def __repr__(self) -> str:
        return (f"Fig41Result(batch_sizes={self.batch_sizes}, steps={len(self.steps)}, "
                f"exponent={self.exponent:.4g} ± {self.exponent_stderr:.2g}, "
                f"data={self.meta.get('data', '')!r}, n_params={self.meta.get('n_params')})")

    def to_dict(self) -> dict:
        """JSON-friendly numbers."""
        return to_jsonable({
            "batch_sizes": self.batch_sizes, "steps": self.steps, "eval_steps": self.eval_steps,
            "accuracy_mean": self.accuracy_mean, "accuracy_var": self.accuracy_var,
            "noise_variance": self.noise_variance, "mean_noise_variance":
            self.mean_noise_variance(), "grad_max": self.grad_max,
            "autocorrelation": self.autocorrelation, "noise_exponent": self.exponent,
            "noise_exponent_stderr": self.exponent_stderr, "meta": dict(self.meta),
        })


def fig41(*, data: PathLike = "auto", hidden: Sequence[int] = (200, 200, 200),
          activation: str = "relu", batch_sizes: Sequence[int] = (1, 10, 100), n_trials: int = 10,
          n_steps: int = 200, lr: float = 0.005, seed: int = 0, n_noise_params: int = 2000,
          n_show: int = 4, n_eval: int = 256, eval_every: int = 10, max_samples: int | None = None,
          max_lag: int = 5, progress: ProgressLike | None = None) -> Fig41Result:
    """Run the Fig. 4.1 experiment: MLP, SGD, several batch sizes, trials sharing their start.

    Parameters
    ----------
    data : str or path
        See :func:`load_dataset`.
    hidden : tuple of int
        Hidden widths (``(200, 200, 200)``: a 4-layer MLP as in the paper).
    batch_sizes : tuple of int
    n_trials : int
        K trials per batch size, one shared initialisation and training set.
    n_steps, lr : int, float
    seed : int
        Seeds the dataset (see :func:`load_dataset`), the shared start, the parameter and
        evaluation subsets, and (with the batch size's position) each batch size's run.
    n_noise_params : int
        Size of the random parameter subset used for the noise statistics.
    n_eval : int
        Size of the evaluation subset for accuracy and ``max_i |d_i U_B|``.
    eval_every : int
    progress : bool or callable, optional
        A bar over the batch sizes (its description names the one running): True for tqdm
        or a tqdm-like factory (see :mod:`stochthermo._progress`).

    Returns
    -------
    Fig41Result
    """
    n_trials = positive_int("n_trials", n_trials)
    if n_trials < 3:
        raise ValidationError(f"n_trials={n_trials} must be >= 3 for ensemble variances")
    n_steps = positive_int("n_steps", n_steps)
    lr = positive_float("lr", lr)
    U, y, label = load_dataset(data, max_samples=max_samples, seed=seed)
    n_classes = int(y.max()) + 1
    model = MLPClassifier(n_in=U.shape[1], n_classes=n_classes, hidden=tuple(hidden),
                          activation=activation)
    rng = np.random.default_rng(seed)
    theta0 = model.init_params(rng)
    subset = np.sort(rng.choice(model.n_params, min(n_noise_params, model.n_params),
                                replace=False))
    ev = np.sort(rng.choice(U.shape[0], min(n_eval, U.shape[0]), replace=False))
    show = subset[np.linspace(0, subset.size - 1, n_show).astype(int)]
    out: dict[str, dict[int, np.ndarray]] = {
        k: {} for k in ("shown", "acc_m", "acc_v", "noise", "gmax", "ac")}
    steps: np.ndarray | None = None
    eval_steps: np.ndarray | None = None
    bar = progress_bar(progress, total=len(batch_sizes), desc="fig41", unit="batch size",
                       legacy="message")
    for j, b in enumerate(batch_sizes):
        b = positive_int("batch_sizes", b)
        if bar is not None:
            bar.set_description(f"batch size {b}")
        ens = learn(model, (U, y), lr=lr, batch_size=b, n_steps=n_steps, n_trials=n_trials,
                    seed=np.random.SeedSequence([seed, j]), init=theta0,
                    record=("params", "accuracy", "grad_max"), param_subset=subset,
                    eval_data=(U[ev], y[ev]), eval_every=eval_every)
        params, acc = ens._need("params"), ens._need("accuracy")
        steps = ens.steps
        ok = ~np.isnan(acc[0])
        eval_steps = steps[ok]
        var, ac = noise_statistics(params, lr, max_lag=max_lag)
        pos = np.searchsorted(subset, show)
        out["shown"][b] = params[:, :, pos]
        out["acc_m"][b] = acc[:, ok].mean(axis=0)
        out["acc_v"][b] = acc[:, ok].var(axis=0, ddof=1)
        out["noise"][b] = var
        out["gmax"][b] = ens._need("grad_max")[:, ok].mean(axis=0)
        out["ac"][b] = ac
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if steps is None or eval_steps is None:
        raise ValidationError("batch_sizes is empty; pass the batch sizes to compare")
    means = np.array([np.mean(out["noise"][b]) for b in batch_sizes])
    sems = np.array([np.std(out["noise"][b], ddof=1) / np.sqrt(len(out["noise"][b]))
                     for b in batch_sizes])
    slope, se, _ = loglog_fit(np.array(batch_sizes, float), means, sems)
    return Fig41Result(
        batch_sizes=tuple(int(b) for b in batch_sizes), steps=steps, eval_steps=eval_steps,
        shown_params=out["shown"], accuracy_mean=out["acc_m"], accuracy_var=out["acc_v"],
        noise_variance=out["noise"], grad_max=out["gmax"], autocorrelation=out["ac"],
        exponent=slope, exponent_stderr=se,
        meta={"data": label, "n_data": int(U.shape[0]), "hidden": list(hidden), "lr": lr,
              "n_trials": n_trials, "n_steps": n_steps, "n_params": model.n_params,
              "n_noise_params": int(subset.size), "seed": seed, "activation": activation},
    )


def write_json_atomic(obj: Any, path: PathLike) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (temporary file, then rename)."""
    return write_atomic(path, json.dumps(obj, indent=1))
