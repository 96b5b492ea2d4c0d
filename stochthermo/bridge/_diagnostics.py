"""Streaming diagnostics of training runs (theory.md section 6, the paper's Fig. 4.1).

One pass over the checkpoints; the state kept between steps is one parameter vector per trial
(plus a few single-trial work vectors and a fixed random subset of noise coordinates per lag for the
autocorrelation), so memory grows with trials x parameters, never with the number of
checkpoints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from .. import _executor
from .._memory import default_budget, format_bytes
from .._progress import progress_bar, shared_bar
from .._rng import as_seed_sequence
from .._validation import nonnegative_int, positive_float, positive_int
from ..errors import (
    EstimationError,
    InsufficientDataError,
    ResourceError,
    ShapeError,
    ValidationError,
)
from ..estimators._stats import loglog_fit
from ..results import Estimate
from ._accumulators import IncrementNoise, LoggedNoise, NoiseAutocorr, OutputThermo
from ._mlp import mlp_forward
from ._packing import pack, unpack
from ._scalars import read_scalars
from ._validity import (
    MAX_BIAS,
    MAX_GROWTH,
    IncrementValidity,
    in_window,
    interval_passes,
    valid_window,
)

if TYPE_CHECKING:
    from typing import Any

    from .._typing import ArrayLike, ProgressLike, SeedLike

__all__ = ["RunDiagnostics", "Diagnostics", "diagnose_run", "diagnose", "fit_batch_scaling"]


@dataclass(frozen=True)
class RunDiagnostics:
    """Diagnostics of one run (trials sharing an initialisation and a batch size).

    Attributes
    ----------
    name : str
    batch_size, lr : int or None, float or None
    steps : ndarray (n_ckpt,)
        Checkpoint steps used (present in every trial).
    interval : ndarray (n_ckpt - 1,)
        Steps between consecutive checkpoints.
    indices : tuple of str
        ``name[flat index]`` of the tracked parameters.
    trajectories : ndarray (n_trials, n_ckpt, n_indices)
        Tracked parameters (panel a).
    noise_var, noise_var_stderr : ndarray (n_ckpt - 1,)
        Parameter-averaged ensemble variance of the increment deviation per step of SGD,
        ``(1/d) sum_i Var_trials[delta_i] / k`` (k = interval), with its standard error;
        this is ``lr^2 (1/d) sum_i Var[eta_i]`` (panel c).
    drift_max : ndarray (n_ckpt - 1,)
        ``max_i |mean increment_i| / k``: ``lr max_i |d_i U_B|`` (panel c reference line).
    autocorr, autocorr_stderr : ndarray (max_lag + 1,)
        Normalised noise autocorrelation averaged over parameters and steps (panel d).
    noise_var_logged : ndarray (n_ckpt,) or None
        ``(1/d) sum_i mean_trials (G_i - g_i)^2`` from logged full-batch G and mini-batch g
        gradients (units of gradient squared; NaN where not logged). This measures the noise
        exactly at any time, whether or not the trials have separated: ``lr^2`` times it is
        ``lr^2 tr(Sigma_g) / (d |b|)``, the per-step noise variance of ``noise_var``.
    noise_var_logged_stderr : ndarray (n_ckpt,) or None
        Its standard error (spread over trials).
    scalars : mapping tag -> (steps, mean, var, n_trials)
        Ensemble mean and variance over trials of each logged scalar (panel b).
    thermo : mapping or None
        From a probe set (or logged outputs): ``work``, ``heat``, ``sigma_cond`` (ensemble
        means over trials, per interval) and their standard errors, ``entropy`` per checkpoint.
    temperature : Estimate or None
        ``T_eff = mean_t noise_var / (2 lr)`` over the valid window when ``lr`` is known
        (theory.md section 2); its ``warnings`` say when no window was left.
    rho, rho_null_sd, spread, growth : ndarray (n_ckpt - 1,) or None
        Validity statistics per interval (see :mod:`stochthermo.bridge._validity`): the
        correlation of the trials' increment deviations with their displacements from the
        ensemble mean, its spread under the null, the ensemble spread at the interval's start
        and its ratio to the noise accumulated before it.
    valid : ndarray of bool (n_ckpt - 1,) or None
        The interval's ensemble-increment estimate is still noise.
    window : (int, int) or None
        The longest step range whose intervals all pass; the time averages, the temperature
        and (across runs, the common window) the batch-size exponent use only it.
    """

    name: str
    batch_size: int | None
    lr: float | None
    steps: np.ndarray
    interval: np.ndarray
    indices: tuple
    trajectories: np.ndarray
    noise_var: np.ndarray
    noise_var_stderr: np.ndarray
    drift_max: np.ndarray
    autocorr: np.ndarray
    autocorr_stderr: np.ndarray
    noise_var_logged: np.ndarray | None
    scalars: MappingProxyType
    thermo: MappingProxyType | None
    temperature: Estimate | None
    meta: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    rho: np.ndarray | None = None
    rho_null_sd: np.ndarray | None = None
    spread: np.ndarray | None = None
    growth: np.ndarray | None = None
    valid: np.ndarray | None = None
    window: tuple | None = None
    noise_var_logged_stderr: np.ndarray | None = None

    def logged_noise_var(self) -> Estimate | None:
        """Per-step noise variance from the logged gradients, averaged over the checkpoints.

        ``lr^2 mean_n noise_var_logged[n]`` (parameter units, comparable with
        ``noise_var``) when ``lr`` is known, else in gradient units; None without logged
        gradients. The standard error combines the per-checkpoint ones.
        """
        v = self.noise_var_logged
        if v is None or not np.isfinite(v).any():
            return None
        ok = np.isfinite(v)
        se = self.noise_var_logged_stderr
        scale = 1.0 if self.lr is None else self.lr ** 2
        err = (float(np.sqrt(np.nansum(se[ok] ** 2)) / ok.sum()) if se is not None
               else math.nan)
        return Estimate(scale * float(v[ok].mean()), scale * err, "logged-gradients",
                        {"n_checkpoints": int(ok.sum()),
                         "units": "parameter" if self.lr is not None else "gradient"})

    def mean_noise_var(self, window: str | tuple[int, int] | None = "valid") -> Estimate:
        """Time average of ``noise_var`` with a standard error from its spread.

        Parameters
        ----------
        window : "valid", "all" or (int, int)
            Average over the intervals inside the run's valid window (default), over all
            intervals, or inside the given step range. When the window is empty the average
            runs over all intervals and the estimate carries a warning.
        """
        v_all = self.noise_var
        if v_all.size == 0:
            raise InsufficientDataError(f"run {self.name!r} has fewer than two checkpoints")
        warnings: tuple[str, ...] = ()
        if isinstance(window, str) and window == "all":
            mask = np.ones(v_all.size, dtype=bool)
        else:
            win = self.window if isinstance(window, str) and window == "valid" else window
            if (isinstance(window, str) and window == "valid" and win is None
                    and self.valid is None):
                mask = np.ones(v_all.size, dtype=bool)
            else:
                mask = in_window(self.steps, win)
            if not mask.any():
                mask = np.isfinite(v_all)
                warnings = (
                    f"run {self.name!r}: no interval in which the ensemble-increment estimate "
                    "is still noise (the trials separated: drift differences dominate the "
                    "increment deviations); averaged over all intervals, which overstates the "
                    "noise",
                )
        mask &= np.isfinite(v_all)
        if not mask.any():
            return Estimate(math.nan, math.nan, "ensemble-increment", {"n_intervals": 0},
                            warnings=(*warnings, f"run {self.name!r}: no finite noise "
                                      "variance (the parameters are not finite)"))
        v, se_n = v_all[mask], self.noise_var_stderr[mask]
        se = (float(np.std(v, ddof=1) / math.sqrt(v.size)) if v.size > 1
              else float(se_n[0]))
        idx = np.flatnonzero(mask)
        meta = {"n_intervals": int(v.size), "window": [int(self.steps[idx[0]]),
                                                       int(self.steps[idx[-1] + 1])]}
        return Estimate(float(v.mean()), se, "ensemble-increment", meta, warnings=warnings)

    def __repr__(self) -> str:
        n_trials = self.trajectories.shape[0] if self.trajectories is not None else 0
        return (f"RunDiagnostics(name={self.name!r}, batch_size={self.batch_size!r}, "
                f"lr={self.lr!r}, trials={n_trials}, checkpoints={len(self.steps)}, "
                f"tracked={len(self.indices)}, scalars={sorted(self.scalars)[:8]})")

    def to_dict(self) -> dict:
        """JSON-friendly summary."""
        def arr(x):
            return None if x is None else np.asarray(x).tolist()

        out = {
            "name": self.name, "batch_size": self.batch_size, "lr": self.lr,
            "n_trials": int(self.trajectories.shape[0]), "steps": arr(self.steps),
            "interval": arr(self.interval), "indices": list(self.indices),
            "noise_var": arr(self.noise_var), "noise_var_stderr": arr(self.noise_var_stderr),
            "drift_max": arr(self.drift_max), "autocorr": arr(self.autocorr),
            "autocorr_stderr": arr(self.autocorr_stderr),
            "noise_var_logged": arr(self.noise_var_logged),
            "noise_var_logged_stderr": arr(self.noise_var_logged_stderr),
            "scalars": {k: {"steps": arr(s), "mean": arr(m), "var": arr(v)}
                        for k, (s, m, v, _) in self.scalars.items()},
            "thermo": None if self.thermo is None else {k: arr(v) for k, v in self.thermo.items()},
            "temperature": None if self.temperature is None else self.temperature.to_dict(),
            "validity": None if self.valid is None else {
                "rho": arr(self.rho), "rho_null_sd": arr(self.rho_null_sd),
                "spread": arr(self.spread), "growth": arr(self.growth),
                "valid": arr(self.valid)},
            "window": None if self.window is None else list(self.window),
            "meta": {k: (v if isinstance(v, str | int | float | bool | type(None)) else str(v))
                     for k, v in self.meta.items()},
        }
        if self.noise_var.size:
            out["mean_noise_var"] = self.mean_noise_var().to_dict()
        logged = self.logged_noise_var()
        if logged is not None:
            out["logged_noise_var"] = logged.to_dict()
        return out


@dataclass(frozen=True)
class Diagnostics:
    """Diagnostics of several runs and the batch-size scaling of their noise."""

    runs: tuple
    batch_scaling: Estimate | None
    #: the longest step range in which every run's noise estimate passes (None: no window)
    window: tuple | None = None
    #: failed validity checks, one sentence each
    warnings: tuple = ()
    #: the exponent fitted on the noise measured from logged gradients (when every run has them)
    batch_scaling_logged: Estimate | None = None

    def __repr__(self) -> str:
        scaling = "None" if self.batch_scaling is None else format(self.batch_scaling, ".3g")
        return (f"Diagnostics(runs={[r.name for r in self.runs]}, batch_scaling={scaling}, "
                f"window={self.window!r}, warnings={len(self.warnings)})")

    def to_dict(self) -> dict:
        """JSON-friendly summary."""
        return {"runs": [r.to_dict() for r in self.runs],
                "batch_scaling": None if self.batch_scaling is None
                else self.batch_scaling.to_dict(),
                "window": None if self.window is None else list(self.window),
                "warnings": list(self.warnings),
                "batch_scaling_logged": None if self.batch_scaling_logged is None
                else self.batch_scaling_logged.to_dict()}


def _param_names(layout):
    return [k for k, (shape, dtype) in layout.items() if np.dtype(dtype).kind in "fc"
            and int(np.prod(shape, dtype=np.int64)) > 0]


def _segments(sd, names, layout, path):
    """``[(offset, flat array)]`` of the parameters ``names`` in ``sd`` (views, no copies)."""
    segs, pos = [], 0
    for name in names:
        a = sd.get(name)
        shape = layout[name][0]
        if a is None or a.shape != shape:
            got = None if a is None else a.shape
            raise ShapeError(
                f"{path}: parameter {name!r} has shape {got}, but the run's first checkpoint "
                f"has {shape}; all checkpoints of a run must be the same model"
            )
        segs.append((pos, a.reshape(-1)))
        pos += a.size
    return segs


def _gather(segs, flat_idx):
    """Values at the flat indices ``flat_idx`` of the concatenated segments."""
    starts = np.array([off for off, _ in segs], dtype=np.int64)
    which = np.searchsorted(starts, flat_idx, side="right") - 1
    return np.array([segs[w][1][i - segs[w][0]] for w, i in zip(which, flat_idx, strict=True)],
                    dtype=np.float64)


def _resolve_indices(indices, names, layout, d, n_default=5):
    offsets, pos = {}, 0
    for name in names:
        offsets[name] = pos
        pos += int(np.prod(layout[name][0], dtype=np.int64))
    if indices is None:
        flat = np.unique(np.linspace(0, d - 1, min(n_default, d)).astype(np.int64))
    else:
        picked: list[int] = []
        for item in indices:
            if isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], str):
                name, i = item
                if name not in offsets:
                    raise ValidationError(f"indices names {name!r}, not a parameter of the run")
                size = int(np.prod(layout[name][0], dtype=np.int64))
                i = int(np.ravel_multi_index(i, layout[name][0])) if isinstance(
                    i, tuple | list) else int(i)
                if not 0 <= i < size:
                    raise ValidationError(f"index {i} is outside {name!r} of size {size}")
                picked.append(offsets[name] + i)
            else:
                i = nonnegative_int("indices[...]", item)
                if i >= d:
                    raise ValidationError(f"flat index {i} >= number of parameters {d}")
                picked.append(i)
        flat = np.array(picked, dtype=np.int64)
    labels = []
    for f in flat:
        for name in names:
            size = int(np.prod(layout[name][0], dtype=np.int64))
            if f < offsets[name] + size:
                labels.append(f"{name}[{int(f - offsets[name])}]")
                break
    return flat, tuple(labels)


def _ensemble_scalars(trials):
    per = [read_scalars(f) for t in trials for f in t.scalar_files[:1]]
    if len(per) != len(trials) or not per:
        return {}
    out = {}
    for tag in per[0]:
        if not all(tag in p for p in per):
            continue
        common = set(per[0][tag][0].tolist())
        for p in per[1:]:
            common &= set(p[tag][0].tolist())
        steps = np.array(sorted(common), dtype=np.int64)
        if steps.size == 0:
            continue
        vals = np.stack([p[tag][1][np.searchsorted(p[tag][0], steps)] for p in per])
        var = vals.var(axis=0, ddof=1) if len(per) > 1 else np.full(steps.size, np.nan)
        out[tag] = (steps, vals.mean(axis=0), var, len(per))
    return out


@dataclass(frozen=True, eq=False)
class _RunLayout:
    """What a run's first checkpoint says: parameter names, size, dtype and tracked indices."""

    names: list
    layout: dict
    d: int
    dtype: np.dtype
    flat_idx: np.ndarray
    labels: tuple
    steps: np.ndarray
    sub: np.ndarray


def _run_layout(run, indices, autocorr_params: int, seed) -> _RunLayout:
    layout = run.trials[0].layout
    names = _param_names(layout)
    if not names:
        raise ValidationError(f"run {run.name!r} has no floating-point parameters")
    d = int(sum(np.prod(layout[n][0], dtype=np.int64) for n in names))
    dtype = np.result_type(*[layout[n][1] for n in names], np.float32)
    if dtype.kind == "c":
        raise ValidationError("complex parameters are not supported by the noise diagnostics")
    if dtype.itemsize > 8:  # long double (NumPy's float96/float128): accumulated in float64
        dtype = np.dtype(np.float64)
    flat_idx, labels = _resolve_indices(indices, names, layout, d)
    steps = np.asarray(run.steps)
    if steps.size < 2:
        raise InsufficientDataError(f"run {run.name!r} has fewer than two common checkpoints")
    rng = np.random.default_rng(as_seed_sequence(seed))
    k_sub = min(d, autocorr_params)
    sub = np.sort(rng.choice(d, size=k_sub, replace=False)) if k_sub < d else np.arange(d)
    return _RunLayout(names, layout, d, dtype, flat_idx, labels, steps, sub)


def _read_checkpoint(run, lay: _RunLayout, n: int, *, key, probe_x, activation, traj,
                     noise: IncrementNoise, logged: LoggedNoise, thermo: OutputThermo,
                     progress, readers) -> None:
    """Feed checkpoint ``n`` of every trial to the accumulators."""
    step = int(lay.steps[n])
    for j, trial in enumerate(run.trials):
        frame = trial.frame(step)
        got = readers[j].read(frame, key=key, parts=("p", "g", "G", "o"))
        segs = _segments(got["p"], lay.names, lay.layout, frame.path)
        traj[j, n] = _gather(segs, lay.flat_idx)
        noise.add(j, segs, first=n == 0)
        logged.add(got, lay.names)
        logits = None
        if probe_x is not None:
            logits = mlp_forward(got["p"], probe_x, activation=activation)
        elif got.get("o"):
            logits = np.asarray(got["o"]["o"], dtype=np.float64)
        if logits is not None:
            thermo.add(j, n, logits)
        del got
        if progress is not None:
            progress(1)
    logged.close(n)


def _probe_inputs(probe) -> np.ndarray:
    """``probe`` as float64 inputs; anything but an array of numbers is refused."""
    arr = np.asarray(probe)
    if arr.dtype.kind not in "biuf":
        raise ValidationError(
            f"probe has {arr.dtype} values, not numbers; pass an array of numbers, one row per "
            "probe input"
        )
    return arr.astype(np.float64)


def diagnose_run(run: Any, *, indices: ArrayLike | None = None, probe: ArrayLike | None = None,
                 activation: str = "relu", key: str | None = None, max_lag: int = 10,
                 autocorr_params: int = 4096, lr: float | None = None, seed: SeedLike = 0,
                 progress: ProgressLike | None = None, max_bias: float = MAX_BIAS,
                 max_growth: float = MAX_GROWTH) -> RunDiagnostics:
    """Stream once over a run's checkpoints and compute the Fig. 4.1 diagnostics.

    Parameters
    ----------
    run : Run
        From :func:`open_runs`; its trials must share the initialisation.
    indices : sequence, optional
        Parameters to track: flat indices into the concatenated floating-point parameters, or
        ``(name, index)`` pairs. Default: five spread evenly.
    probe : array_like, shape (n_probe, n_in), optional
        Inputs for the NumPy MLP forward pass; enables ``thermo`` (work, heat, conditional
        entropy production). Logged outputs (``TrajectoryWriter(outputs=...)``) are used
        instead when present and ``probe`` is None.
    activation : {"relu", "tanh", "identity"}
        Between-layer activation of the MLP.
    max_lag : int
        Largest lag (in checkpoints) of the noise autocorrelation.
    autocorr_params : int
        Size of the random subset of parameters (chosen with ``seed``) kept per lag for the
        autocorrelation, which bounds its memory.
    lr : float, optional
        Learning rate (overrides the run's configuration); needed for ``temperature``.
    progress : bool or callable, optional
        A bar over the checkpoint frames read: True for tqdm or a tqdm-like factory (see
        :mod:`stochthermo._progress`); a callable of the count still works one release, with a
        ``DeprecationWarning``.
    max_bias, max_growth : float
        Validity thresholds of each interval (see :mod:`stochthermo.bridge._validity`): the
        largest tolerated lower bound ``rho^2/(1-rho^2)`` on the relative bias of the noise
        estimate, and the largest tolerated ratio of the ensemble spread to the accumulated
        noise.

    Returns
    -------
    RunDiagnostics

    Notes
    -----
    With trials sharing the initialisation, the increment of trial j over an interval of k
    steps is ``delta_j = -lr sum grad U_B + lr sum eta``; its deviation from the ensemble mean
    increment estimates the noise term. ``noise_var = (1/(d k)) sum_i (1/(T-1)) sum_j
    (delta_ji - mean_j delta_ji)^2`` estimates ``lr^2 (1/d) sum_i Var[eta_i]`` (exact at the
    first interval, where all trials sit at the same point). Once the trials separate, the
    deviations hold drift differences ``-lr k H x_j`` as well; each interval is tested for
    that (``valid``) and the time averages use the valid ``window`` only. See
    ``theory/bridge.md`` and :mod:`stochthermo.bridge._validity`.
    """
    n_tr = len(run.trials)
    if n_tr < 2:
        raise InsufficientDataError(
            f"run {run.name!r} has {n_tr} trial; the ensemble noise estimate needs at least 2 "
            "trials sharing an initialisation"
        )
    max_lag = nonnegative_int("max_lag", max_lag)
    autocorr_params = positive_int("autocorr_params", autocorr_params)
    lr = positive_float("lr", lr) if lr is not None else run.lr
    max_bias = positive_float("max_bias", max_bias)
    max_growth = positive_float("max_growth", max_growth)
    lay = _run_layout(run, indices, autocorr_params, seed)
    n_ck = lay.steps.size
    interval = np.diff(lay.steps).astype(np.float64)
    validity = IncrementValidity(n_tr, lay.d, lay.dtype)
    noise = IncrementNoise(n_tr, lay.d, lay.dtype, lay.sub, validity=validity)
    # the autocorrelation keeps (max_lag + 1) x trials x subset deviations and per-lag sums
    need = 8 * (max_lag + 1) * (n_tr * (lay.sub.size + 1) + 4)
    if need > default_budget():
        raise ResourceError(
            f"max_lag={max_lag} would need about {format_bytes(need)} for the noise "
            f"autocorrelation of run {run.name!r}, more than half of this machine's memory "
            f"(nothing was started); max_lag must be smaller: the run has {interval.size} "
            f"intervals, so lags past {max(interval.size - 1, 0)} are never reached"
        )
    acorr = NoiseAutocorr(max_lag, n_tr, lay.sub.size, interval)
    logged = LoggedNoise(n_ck, n_tr)
    thermo = OutputThermo(n_tr, n_ck)
    traj = np.full((n_tr, n_ck, lay.flat_idx.size), np.nan)
    noise_var, noise_se, drift_max = (np.full(n_ck - 1, np.nan) for _ in range(3))
    rho, rho_sd, spread, growth = (np.full(n_ck - 1, np.nan) for _ in range(4))
    probe_x = None if probe is None else _probe_inputs(probe)
    bar = progress_bar(progress, total=n_ck * n_tr, desc=f"diagnose[{run.name}]", unit="ckpt",
                       legacy="count")
    with contextlib.ExitStack() as stack:
        if bar is not None:
            stack.callback(bar.close)
        readers = [stack.enter_context(t.reader(copy=False)) for t in run.trials]
        for n in range(n_ck):
            _read_checkpoint(run, lay, n, key=key, probe_x=probe_x, activation=activation,
                             traj=traj, noise=noise, logged=logged, thermo=thermo,
                             progress=None if bar is None else bar.update, readers=readers)
            if n == 0:
                continue
            noise_var[n - 1], noise_se[n - 1], drift_max[n - 1], e_sub = noise.close(
                interval[n - 1])
            rho[n - 1], rho_sd[n - 1], spread[n - 1], growth[n - 1] = validity.close(
                noise.total, noise.sum_y)
            acorr.add(n, e_sub)
    autocorr, autocorr_se = acorr.result()
    valid = interval_passes(rho, rho_sd, growth, max_bias=max_bias, max_growth=max_growth)
    valid &= np.isfinite(noise_var)  # no noise estimate: nothing to trust in that interval
    result = RunDiagnostics(
        name=run.name, batch_size=run.batch_size, lr=lr, steps=lay.steps, interval=interval,
        indices=lay.labels, trajectories=traj, noise_var=noise_var, noise_var_stderr=noise_se,
        drift_max=drift_max, autocorr=autocorr, autocorr_stderr=autocorr_se,
        noise_var_logged=logged.result(), noise_var_logged_stderr=logged.result_stderr(),
        scalars=MappingProxyType(_ensemble_scalars(run.trials)), thermo=thermo.result(),
        temperature=None,
        meta=MappingProxyType({"n_params": lay.d, "n_trials": n_tr,
                               "autocorr_params": lay.sub.size,
                               "dropped_steps": len(run.dropped_steps),
                               "dtype": str(lay.dtype), "max_bias": max_bias,
                               "max_growth": max_growth}),
        rho=rho, rho_null_sd=rho_sd, spread=spread, growth=growth, valid=valid,
        window=valid_window([(lay.steps, valid)]),
    )
    return _with_temperature(result)


def _with_temperature(r: RunDiagnostics, window="valid", warnings=()) -> RunDiagnostics:
    """``r`` with ``T_eff = mean noise_var / (2 lr)`` over ``window`` (None without ``lr``)."""
    if r.lr is None or r.noise_var.size == 0:
        return r
    m = r.mean_noise_var(window)
    temp = Estimate(m.value / (2 * r.lr), m.stderr / (2 * r.lr), "noise_var/(2 lr)",
                    {"lr": r.lr, "batch_size": r.batch_size, **m.meta},
                    warnings=(*m.warnings, *warnings))
    return dataclasses.replace(r, temperature=temp)


def fit_batch_scaling(batch_sizes: ArrayLike, values: ArrayLike,
                      stderr: ArrayLike | None = None) -> Estimate:
    """Fit ``value ~ c |b|^alpha`` across runs; return the exponent ``alpha``.

    Parameters
    ----------
    batch_sizes, values : array_like (n_runs,)
        Batch sizes and (positive) noise variances or temperatures.
    stderr : array_like (n_runs,), optional
        Standard errors of ``values``: weighted least squares on ``log value`` with weights
        ``(value / stderr)^2``, and the exponent's standard error from the weights. Without
        them, ordinary least squares with the residual-based standard error (needs 3 runs).

    Returns
    -------
    Estimate
        ``value`` = exponent (theory: -1 for ``Var eta = Sigma_g / |b|``), ``meta`` holds the
        prefactor ``c``.
    """
    b = np.asarray(batch_sizes, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if b.shape != v.shape or b.ndim != 1:
        raise ShapeError(f"batch_sizes {b.shape} and values {v.shape} must be equal 1-d arrays")
    if b.size < 2 or np.unique(b).size < 2:
        raise InsufficientDataError("the batch-size fit needs at least two distinct batch sizes")
    if np.any(b <= 0) or np.any(v <= 0) or not np.all(np.isfinite(v)):
        raise EstimationError(f"batch sizes and values must be positive (got {b}, {v})")
    alpha, se, log_c = loglog_fit(b, v, stderr)
    method = "ols-loglog" if stderr is None else "wls-loglog"
    return Estimate(alpha, se, method,
                    {"prefactor": float(math.exp(log_c)), "batch_sizes": b.tolist(),
                     "values": v.tolist()})


def diagnose(runs: Any, *, progress: ProgressLike | None = None, client: Any = None,
             scheduler: str | None = None, **kwargs: Any) -> Diagnostics:
    """:func:`diagnose_run` on every run, then the batch-size scaling of the noise variance.

    The scaling is fitted on the time-averaged ``noise_var`` of runs whose batch size is known
    (at least two distinct ones); otherwise ``batch_scaling`` is None.

    With ``client=`` (a ``dask.distributed.Client``, extra ``distributed``) or
    ``scheduler="dask"``, every run is one task on the cluster (workers must see the files at
    the same paths) and only the diagnostics come back; the result is identical to the
    in-process one. See :mod:`stochthermo._executor`. ``progress``: as in
    :func:`diagnose_run`, one bar over all runs.
    """
    runs = _check_runs(runs)
    bar = progress_bar(progress, total=sum(len(r.steps) * len(r.trials) for r in runs),
                       desc="diagnose", unit="ckpt", legacy="count")
    try:
        if client is not None or scheduler is not None:
            return _diagnose_on_cluster(runs, client=client, scheduler=scheduler,
                                        progress=None if bar is None else bar.update, **kwargs)
        out = tuple(diagnose_run(r, progress=shared_bar(bar), **kwargs) for r in runs)
    finally:
        if bar is not None:
            bar.close()
    return _batch_scaling_of(out)


def _diagnose_chunk(packed_run, kw: dict):
    """Worker task: :func:`diagnose_run` of one (packed) run, packed for the trip back."""
    return pack(diagnose_run(unpack(packed_run), **kw))


def _diagnose_on_cluster(runs, *, client=None, scheduler=None, retries: int = 2,
                         progress=None, **kwargs) -> Diagnostics:
    """One task per run on a Dask cluster; only the small :class:`RunDiagnostics` come back.

    Workers must see the checkpoint files at the same paths (a shared file system).
    ``progress`` is called with the number of checkpoint frames of a run when it is done.
    """
    runs = _check_runs(runs)
    cl, owned = _executor.get_client(client, scheduler)
    try:
        out: list = [None] * len(runs)

        def keep(i, res):
            out[i] = unpack(res)
            if progress is not None:
                progress(len(runs[i].steps) * len(runs[i].trials))

        _executor.run_tasks(cl, _diagnose_chunk, [(pack(r), kwargs) for r in runs],
                            retries=retries, on_result=keep)
    finally:
        if owned:
            cl.close()
    return _batch_scaling_of(tuple(out))


def _check_runs(runs) -> list:
    """``runs`` as a list of :class:`Run` (a single Run is accepted)."""
    from ._runs import Run

    if isinstance(runs, Run):
        return [runs]
    runs = list(runs)
    for r in runs:
        if not isinstance(r, Run):
            raise ValidationError(f"runs must hold Run objects from open_runs(), got {type(r)}")
    return runs


def _batch_scaling_of(out: tuple) -> Diagnostics:
    """Diagnostics of the runs ``out`` with the batch-size scaling fitted across them.

    The exponent and the temperatures use the common valid window of the runs (the longest
    step range in which every run's estimate passes); without one, all intervals, with a
    warning.
    """
    have = [r for r in out if r.noise_var.size and r.valid is not None]
    window = valid_window([(r.steps, r.valid) for r in have]) if have else None
    warnings = []
    if have and window is None:
        warnings.append(
            "no step range in which every run's ensemble-increment noise estimate is still "
            "noise (the trials separate: drift differences dominate); the temperatures and "
            "the batch-size exponent below average over all intervals and are not "
            "trustworthy"
        )
    win = "all" if window is None else window
    ids = {id(r) for r in have}
    out = tuple(_with_temperature(r, win, warnings) if id(r) in ids else r for r in out)
    known = [r for r in out if r.batch_size is not None and r.noise_var.size]
    scaling = None
    if len({r.batch_size for r in known}) >= 2:
        pairs = [(r.batch_size, r.mean_noise_var(win if r.valid is not None else "all"))
                 for r in known]
        pairs = [(b, e) for b, e in pairs if math.isfinite(e.value) and e.value > 0]
        if len({b for b, _ in pairs}) >= 2:
            scaling = fit_batch_scaling([b for b, _ in pairs], [e.value for _, e in pairs],
                                        [e.stderr for _, e in pairs])
            meta = {**scaling.meta, "window": None if window is None else list(window)}
            scaling = dataclasses.replace(scaling, meta=meta, warnings=tuple(warnings))
    logged = [(r.batch_size, r.logged_noise_var()) for r in known]
    logged = [(b, e) for b, e in logged if e is not None and e.value > 0
              and math.isfinite(e.value)]
    scaling_logged = None
    if len({b for b, _ in logged}) >= 2 and len(logged) == len(known):
        se = [e.stderr for _, e in logged]
        scaling_logged = fit_batch_scaling(
            [b for b, _ in logged], [e.value for _, e in logged],
            se if all(math.isfinite(x) and x > 0 for x in se) else None)
    return Diagnostics(out, scaling, window, tuple(warnings), scaling_logged)
