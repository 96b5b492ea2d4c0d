"""Run discovery: ``open_runs(root)`` finds trials (one folder each) and their checkpoints."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from ..errors import BridgeError, CorruptFileError, ShapeError
from ._checkpoint import open_checkpoint
from ._files import check_regular, inside, open_regular, printable
from ._layouts import classify, format_rank, trial_settings
from ._scalars import is_scalar_file
from ._writer import SHARD_MARKER

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from .._typing import PathLike

__all__ = ["Frame", "Trial", "Run", "FrameReader", "open_runs", "CHECKPOINT_SUFFIXES"]

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors", ".npz", ".npy", ".h5",
                       ".hdf5", ".tar")
_DIGITS = re.compile(r"(\d+)")
_BATCH = re.compile(r"(?:^|[_\-/])(?:bs|batch(?:_?size)?|b)[_=\-]?(\d+)(?:$|[_\-])", re.I)
_CONFIG_NAMES = ("config.json", "meta.json", "run.json", "hparams.json")
_MAX_CONFIG = 16 << 20
#: folder levels open_runs walks below its root
_MAX_WALK_DEPTH = 64


@dataclass(frozen=True)
class Frame:
    """One stored step: the file, and the member prefix inside a shard (None otherwise)."""

    step: int
    path: str
    member: str | None = None


@dataclass(frozen=True)
class Trial:
    """One training trial: a folder of checkpoints (or shards) and scalar logs."""

    name: str
    path: str
    frames: tuple
    scalar_files: tuple
    layout: MappingProxyType
    #: read limits (``max_bytes``, ``max_ratio``) passed to every checkpoint opened
    limits: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    #: ``(step, kept file, skipped file)`` where one step was stored in several files
    skipped: tuple = ()

    @property
    def steps(self) -> np.ndarray:
        return np.array([f.step for f in self.frames], dtype=np.int64)

    def __repr__(self) -> str:
        return (f"Trial(name={self.name!r}, frames={len(self.frames)}, "
                f"scalar_files={len(self.scalar_files)}, path={self.path!r})")

    def frame(self, step: int) -> Frame:
        for f in self.frames:
            if f.step == step:
                return f
        raise BridgeError(f"trial {self.path!r} has no checkpoint at step {step}")

    def read(self, frame: Frame, *, key: str | None = None, parts: Sequence[str] = ("p",)) -> dict:
        """Read a frame: ``{part: {name: array}}`` for parts ``p`` (params), ``g``, ``G``, ``o``."""
        with self.reader() as rd:
            return rd.read(frame, key=key, parts=parts)

    def reader(self, *, copy: bool = True) -> FrameReader:
        """A :class:`FrameReader` that keeps the last file open (shards are parsed once).

        ``copy=False``: arrays may be read-only views of memory-mapped files (the streaming
        pass of :func:`diagnose_run` reads this way, without copies).
        """
        return FrameReader(self.limits, copy=copy)


class FrameReader:
    """Reads frames, keeping the last file open and its shard members indexed by step.

    A shard written by :class:`~stochthermo.bridge.TrajectoryWriter` holds many steps; opening
    it once per step would parse its zip directory every time (quadratic in the number of
    steps). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, limits=None, *, copy: bool = True):
        self.limits = dict(limits or {})
        self.copy = copy
        self._stack: contextlib.ExitStack | None = None
        self._path = None
        self._ck = None
        self._index: dict | None = None

    def _open(self, path):
        if path == self._path:
            return self._ck
        self.close()
        stack = contextlib.ExitStack()
        self._ck = stack.enter_context(open_checkpoint(path, mmap=not self.copy,
                                                       **self.limits))
        self._stack, self._path, self._index = stack, path, None
        return self._ck

    def _members(self, ck, prefix):
        if self._index is None:
            index: dict = {}
            for name, ref in ck.tree.items():
                head, sep, rest = name.partition("/")
                if sep:
                    index.setdefault(head + "/", {})[rest] = ref
            self._index = index
        return self._index.get(prefix, {})

    def read(self, frame: Frame, *, key=None, parts=("p",)) -> dict:
        """``{part: {name: array}}`` of ``frame`` for parts ``p``, ``g``, ``G``, ``o``."""
        out: dict[str, dict[str, np.ndarray]] = {p: {} for p in parts}
        ck = self._open(frame.path)
        if frame.member is None:
            if "p" in parts:
                out["p"] = ck.materialize(ck.select(key), copy=self.copy)
            return out
        refs = {}
        for rest, ref in self._members(ck, frame.member).items():
            code, _, sub = rest.partition("/")
            if code in parts:
                refs[f"{code}/{sub or 'o'}"] = ref
        for name, arr in ck.materialize(refs, copy=self.copy).items():
            code, _, sub = name.partition("/")
            out[code][sub] = arr
        return out

    def close(self):
        if self._stack is not None:
            self._stack.close()
        self._stack = self._path = self._ck = self._index = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


@dataclass(frozen=True)
class Run:
    """Trials of one configuration (e.g. one batch size), sharing an initialisation."""

    name: str
    path: str
    trials: tuple
    steps: np.ndarray
    meta: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    dropped_steps: tuple = ()

    @property
    def batch_size(self) -> int | None:
        return self.meta.get("batch_size")

    @property
    def lr(self) -> float | None:
        return self.meta.get("lr")

    @property
    def stride(self) -> int:
        d = np.diff(self.steps)
        return int(np.gcd.reduce(d)) if d.size else 0

    def __repr__(self) -> str:
        span = f"{int(self.steps[0])}..{int(self.steps[-1])}" if len(self.steps) else "none"
        return (f"Run(name={self.name!r}, batch_size={self.batch_size!r}, lr={self.lr!r}, "
                f"trials={len(self.trials)}, steps={len(self.steps)} ({span}), "
                f"path={self.path!r})")


def _step_from_name(fname: str):
    stem = os.path.basename(fname)
    for suf in CHECKPOINT_SUFFIXES:
        if stem.endswith(suf):
            stem = stem[: -len(suf)]
            break
    nums = _DIGITS.findall(stem)
    if not nums:
        return None
    if len(nums[-1]) > 18:  # beyond int64: not a training step
        raise BridgeError(
            f"{fname}: the step {nums[-1][:30]}... in the file name has more than 18 digits; "
            "name checkpoints like 'step_000100.pt'"
        )
    return int(nums[-1])


def _vetted(full, root, follow_links):
    """The path to read ``full`` through: itself, or its target when it is an allowed link."""
    check_regular(full, what="checkpoint", root=root, follow_links=follow_links)
    return os.path.realpath(full) if os.path.islink(full) else full


def _vetted_log(full):
    return os.path.realpath(full) if os.path.islink(full) else full


def _trial_frames(files, key, root, follow_links, limits):
    """Frames of a trial from ``[(path, step or None)]``, one per step.

    Several files for one step (``step_0.pt`` beside ``step_0.safetensors``, Lightning's
    ``last.ckpt``) are resolved by :data:`~stochthermo.bridge._layouts.FORMAT_PREFERENCE`
    (a file named with its step before one without); returns ``(frames, skipped)`` with
    ``skipped`` the ``(step, kept, skipped)`` triples.
    """
    frames = []
    for path, given in files:
        f = os.path.basename(path)
        full = _vetted(path, root, follow_links)
        if given is not None:
            frames.append(Frame(int(given), full))
            continue
        if f.startswith("shard_") and f.endswith(".npz"):
            with open_checkpoint(full, **limits) as ck:
                if SHARD_MARKER not in ck.tree:
                    raise BridgeError(f"{full}: not a TrajectoryWriter shard")
                steps = ck.materialize({"steps": ck.tree[SHARD_MARKER]})["steps"]
                frames += _shard_frames(full, steps, ck.tree)
            continue
        step = _step_from_name(f)
        if step is None:
            with open_checkpoint(full, **limits) as ck:
                step = ck.stored_step()
        if step is None:
            raise BridgeError(
                f"{full}: no step in the file name and none stored in the file; name "
                "checkpoints like 'step_000100.pt' or store a 'step' entry"
            )
        frames.append(Frame(int(step), full))
    return _one_per_step(frames)


def _shard_frames(path, steps, tree):
    """The frames of a shard: its step list, checked against the members the shard holds.

    The list is a 1-d array of whole numbers, each step once, each with members
    ``s<step>/...``; a shard listing steps it does not hold is refused here, naming the step.
    """
    if steps.ndim != 1 or steps.dtype.kind not in "iu":
        raise CorruptFileError(
            f"{path}: the shard's step list ({SHARD_MARKER}) is {steps.dtype} of shape "
            f"{steps.shape}, not a 1-d array of whole numbers"
        )
    held = {str(name).partition("/")[0] for name in tree}
    out, seen = [], set()
    for step in steps.tolist():
        prefix = f"s{step:012d}"
        if step in seen or prefix not in held:
            why = "twice" if step in seen else f"but holds no members {prefix}/..."
            raise CorruptFileError(f"{path}: the shard lists step {step} {why}")
        seen.add(step)
        out.append(Frame(step, path, prefix + "/"))
    return out


def _one_per_step(frames):
    by_step: dict[int, list] = {}
    for fr in frames:
        by_step.setdefault(fr.step, []).append(fr)
    out, skipped = [], []
    for step in sorted(by_step):
        group = by_step[step]
        if len(group) > 1:
            def rank(fr, step=step):
                named = _step_from_name_or_none(fr.path) == step
                return (fr.member is not None, format_rank(fr.path), not named)

            group.sort(key=rank)
            if rank(group[0]) == rank(group[1]):
                raise BridgeError(
                    f"two checkpoints for step {step}: {group[0].path} and {group[1].path} "
                    "(same format; keep one, or put them in separate trial folders)"
                )
            skipped += [(step, group[0].path, fr.path) for fr in group[1:]]
        out.append(group[0])
    return out, skipped


def _step_from_name_or_none(path):
    try:
        return _step_from_name(path)
    except BridgeError:
        return None


def _layouts(frames, key, limits):
    """``{frame: layout}`` read from the headers only (each file opened once)."""
    by_path: dict[str, list] = {}
    for fr in frames:
        by_path.setdefault(fr.path, []).append(fr)
    out = {}
    for path, group in by_path.items():
        with open_checkpoint(path, **limits) as ck:
            index: dict = {}
            if any(fr.member is not None for fr in group):
                for k, v in ck.tree.items():
                    head, sep, rest = k.partition("/")
                    if sep and rest.startswith("p/"):
                        index.setdefault(head + "/", {})[rest[2:]] = v
            for fr in group:
                sel = ck.select(key) if fr.member is None else index.get(fr.member, {})
                out[fr] = {k: (tuple(v.shape), np.dtype(v.dtype)) for k, v in sel.items()}
    return out


def _check_layouts(frames, key, limits):
    """The first frame's layout, after checking every other frame has the same (headers only).

    A checkpoint whose parameters differ from the trial's first is reported here, before any
    tensor data of the run is read.
    """
    layouts = _layouts(frames, key, limits)
    ref = layouts[frames[0]]
    for fr in frames[1:]:
        got = layouts[fr]
        if got != ref:
            diff = sorted(set(got.items()) ^ set(ref.items()), key=str)[:4]
            raise ShapeError(
                f"checkpoint {fr.path} (step {fr.step}) does not hold the same parameters as "
                f"{frames[0].path} (step {frames[0].step}): differing entries {diff}; every "
                "checkpoint of a trial must store the same model"
            )
    return ref


def _read_config(folder, root, follow_links):
    for name in _CONFIG_NAMES:
        p = os.path.join(folder, name)
        if not os.path.lexists(p):
            continue
        with open_regular(p, what="run configuration", root=root,
                          follow_links=follow_links) as fh:
            raw = fh.read(_MAX_CONFIG + 1)
        if len(raw) > _MAX_CONFIG:
            raise CorruptFileError(
                f"{p}: the run configuration is larger than {_MAX_CONFIG >> 20} MiB; a "
                "config.json holds a few settings (batch_size, lr, ...)"
            )
        try:
            cfg = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise CorruptFileError(
                f"{p}: the run configuration is not UTF-8 text ({exc})"
            ) from None
        except ValueError as exc:
            raise CorruptFileError(
                f"{p}: the run configuration is not valid JSON ({exc}); fix or remove the file"
            ) from None
        except RecursionError:
            raise CorruptFileError(f"{p}: the run configuration is nested too deeply") from None
        if not isinstance(cfg, dict):
            raise CorruptFileError(
                f"{p}: the run configuration is a JSON {_json_kind(cfg)}, not an object; write "
                'it as {"batch_size": 32, "lr": 0.01, ...}'
            )
        return cfg, p
    return {}, None


def _json_kind(v) -> str:
    return {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(v), "number")


def _config_int(where, value):
    """A positive integer from a configuration value (int, integral float, digit string)."""
    v = value
    if isinstance(v, str) and v.strip().isdigit():
        v = int(v.strip())
    elif isinstance(v, float) and math.isfinite(v) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise BridgeError(
            f"{where} is {value!r}; it must be a positive integer such as 32 (fix the file, "
            "or override it with open_runs(..., meta={'batch_size': ...}))"
        )
    return v


def _config_float(where, value):
    """A positive finite number from a configuration value (number or numeric string)."""
    v = value
    if isinstance(v, str):
        try:
            v = float(v.strip())
        except ValueError:
            v = value
    if (isinstance(v, bool) or not isinstance(v, int | float)
            or not math.isfinite(v) or v <= 0):
        raise BridgeError(
            f"{where} is {value!r}; it must be a positive finite number such as 0.01 (fix the "
            "file, or override it with open_runs(..., meta={'lr': ...}))"
        )
    return float(v)


def _setting(keys, extra, cfg, cfg_path):
    """``(value, where)`` of the first of ``keys`` set in ``extra`` (meta=), else in the file."""
    for source, label in ((extra, "open_runs(meta=...)"), (cfg, cfg_path)):
        for k in keys:
            if source.get(k) is not None:
                return source[k], f"{label}: key {k!r}"
    return None, None


def _run_meta(folder, name, extra, root, follow_links, trial_cfg=None, trial_cfg_path=None):
    cfg, cfg_path = _read_config(folder, root, follow_links)
    if cfg_path is None and trial_cfg:
        # no config.json in the run folder: the framework's own record of the first trial
        # (trainer_state.json of a Hugging Face Trainer, hparams.yaml of Lightning)
        cfg, cfg_path = dict(trial_cfg), trial_cfg_path
    meta = dict(cfg)
    extra = dict(extra or {})
    bs, where = _setting(("batch_size", "batch"), extra, cfg, cfg_path)
    if bs is not None:
        bs = _config_int(where, bs)
    else:
        m = _BATCH.search(name)
        if m:
            bs = _config_int(f"the batch size in the name of run folder {folder!r}",
                             int(m.group(1)))
    lr, where = _setting(("lr", "learning_rate"), extra, cfg, cfg_path)
    if lr is not None:
        lr = _config_float(where, lr)
    meta.update(extra)
    meta["batch_size"] = bs
    meta["lr"] = lr
    if cfg_path is not None:
        meta.setdefault("config_file", cfg_path)
    return meta


def _is_ckpt(name):
    return name.endswith(CHECKPOINT_SUFFIXES) and not name.startswith(".")


def _find_checkpoints(root):
    """``{trial folder: {"files", "kind", "dirs"}}`` of the checkpoints under ``root``."""
    found: dict[str, dict] = {}
    base = os.path.join(root, "").count(os.sep)
    for dirpath, dirnames, filenames in os.walk(root):
        if dirnames and os.path.join(dirpath, "").count(os.sep) - base >= _MAX_WALK_DEPTH:
            # os.walk recurses once per level (RecursionError near 1000 levels)
            raise BridgeError(
                f"the folders under {root!r} are nested more than {_MAX_WALK_DEPTH} levels deep "
                f"(at {printable(dirpath)[:200]!r}...); a run folder is a few levels deep: "
                "runs, trials, checkpoint folders"
            )
        dirnames.sort()
        c = classify(dirpath, filenames, _is_ckpt)
        if c is None:
            continue
        tdir, items, kind = c
        if not inside(tdir, root):  # root is itself a framework's checkpoint folder
            tdir, kind = dirpath, "plain"
        entry = found.setdefault(tdir, {"files": [], "kind": kind, "dirs": []})
        entry["files"] += [(os.path.join(dirpath, f), step) for f, step in items]
        entry["dirs"].append(dirpath)
    if not found:
        raise BridgeError(
            f"no checkpoint files ({', '.join(CHECKPOINT_SUFFIXES)}) found under {root!r}"
        )
    return found


def _group_trials(found, root, follow_links):
    """Trials (with their settings and vetted scalar logs) grouped by run folder."""
    trial_dirs = []
    for tdir in sorted(found):
        entry = found[tdir]
        cfg, cfg_path, extra_logs = trial_settings(tdir, entry["kind"], entry["dirs"],
                                                   root=root, follow_links=follow_links)
        scalars = sorted(os.path.join(tdir, f) for f in os.listdir(tdir)
                         if is_scalar_file(f) and not os.path.isdir(os.path.join(tdir, f)))
        scalars += [p for p in extra_logs if p not in scalars]
        for f in scalars:
            check_regular(f, what="scalar log", root=root, follow_links=follow_links)
        trial_dirs.append((tdir, entry["files"], scalars, cfg, cfg_path))
    groups: dict[str, list] = {}
    for item in trial_dirs:
        dirpath = item[0]
        parent = dirpath if dirpath == root and len(trial_dirs) == 1 else os.path.dirname(dirpath)
        groups.setdefault(parent, []).append(item)
    return groups


def _check_same_model(trials):
    """``ShapeError`` when a trial's parameter shapes differ from the first trial's."""
    ref = trials[0]
    for t in trials[1:]:
        if {k: v[0] for k, v in t.layout.items()} != {k: v[0] for k, v in ref.layout.items()}:
            diff = sorted(set(t.layout.items()) ^ set(ref.layout.items()))[:4]
            raise ShapeError(
                f"trials disagree on parameter shapes: {t.frames[0].path} vs "
                f"{ref.frames[0].path} (differing entries: {diff}); every trial of a run "
                "must be the same model"
            )


def open_runs(root: PathLike, *, key: str | None = None, meta: Mapping[str, Any] | None = None,
              follow_links: bool = False, max_bytes: int | None = None,
              max_ratio: float | None = None) -> list[Run]:
    """Find the runs under ``root``: trials (one folder each) and their checkpoints.

    Parameters
    ----------
    root : str or os.PathLike
        A trial folder (holding checkpoint files), a run folder (holding trial folders), or a
        folder of run folders (e.g. ``bs1/``, ``bs10/``, ``bs100/``).
    key : str, optional
        Passed to :func:`read_checkpoint` to select the parameters inside wrappers.
    meta : dict, optional
        Values that override each run's configuration (``batch_size``, ``lr``, ...).
    follow_links : bool
        Read checkpoints, logs and configurations that are symbolic links to files outside
        ``root`` (refused by default). Linked folders are never walked.
    max_bytes, max_ratio : float, optional
        Per-file read limits passed to every checkpoint read (see :func:`read_checkpoint`;
        defaults 4 GiB and 200).

    Returns
    -------
    list of Run
        Sorted by name. A run's ``steps`` are the steps present in every trial; steps missing
        in some trial are listed in ``dropped_steps``. The step of a checkpoint is the last
        number in its file name, else the step stored in the file. The batch size and learning
        rate come from ``config.json`` (``meta.json``, ``run.json``, ``hparams.json``) in the run
        folder, else from the first trial's framework record (Hugging Face
        ``trainer_state.json``, Lightning ``hparams.yaml``), else the batch size from a folder
        name such as ``bs10``. Hugging Face Trainer output folders (``checkpoint-<step>/``)
        and Lightning log folders (``version_<n>/checkpoints/*.ckpt``) are trials; see
        :mod:`stochthermo.bridge._layouts`. Where one step is stored in several files, one is
        read by the documented preference (safetensors, NumPy, torch.save, HDF5; a file
        named with its step first) and ``meta["skipped_files"]`` says which were skipped.

    Raises
    ------
    ShapeError
        Trials, or checkpoints of one trial, whose parameter shapes disagree; the message
        names both files. Found from the files' headers, before any tensor data is read.
    UnsafeFileError
        A checkpoint, log or configuration that is a FIFO, device or socket, or a link out
        of ``root`` (without ``follow_links``); nothing is opened for reading.
    BridgeError
        An unreadable configuration file, or a ``batch_size``/``lr`` that is not a positive
        number; the message names the file and the key.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise BridgeError(f"root={root!r} is not a folder")
    if meta is not None and not isinstance(meta, dict | MappingProxyType):
        raise BridgeError(f"meta={meta!r} must be a dict such as {{'batch_size': 32}}")
    limits = MappingProxyType({"max_bytes": max_bytes, "max_ratio": max_ratio})
    found = _find_checkpoints(root)
    groups = _group_trials(found, root, follow_links)
    runs = []
    for run_dir, items in sorted(groups.items()):
        trials = []
        skipped_all = []
        for dirpath, files, scalars, _, _ in items:
            frames, skipped = _trial_frames(files, key, root, follow_links, limits)
            if not frames:
                continue
            skipped_all += skipped
            layout = _check_layouts(frames, key, limits)
            trials.append(Trial(
                name=printable(os.path.relpath(dirpath, run_dir) if dirpath != run_dir else
                              os.path.basename(dirpath)),
                path=dirpath,
                frames=tuple(frames),
                scalar_files=tuple(_vetted_log(s) for s in scalars),
                layout=MappingProxyType(layout),
                limits=limits,
                skipped=tuple(skipped),
            ))
        if not trials:  # only empty shards (a writer that never logged a step)
            raise BridgeError(
                f"run folder {run_dir!r} holds no checkpoint with a step: every trial's shards "
                "list no steps"
            )
        ref = trials[0]
        _check_same_model(trials)
        common = set(ref.steps.tolist())
        every = set()
        for t in trials:
            common &= set(t.steps.tolist())
            every |= set(t.steps.tolist())
        name = os.path.relpath(run_dir, root) if run_dir != root else os.path.basename(root)
        runs.append(Run(
            name=printable(name if name != "." else os.path.basename(os.path.abspath(root))),
            path=run_dir,
            trials=tuple(trials),
            steps=np.array(sorted(common), dtype=np.int64),
            meta=MappingProxyType({
                **_run_meta(run_dir, name, meta, root, follow_links, items[0][3], items[0][4]),
                **({"skipped_files": [f"step {st}: read {kept}, skipped {skip}"
                                      for st, kept, skip in skipped_all]}
                   if skipped_all else {})}),
            dropped_steps=tuple(sorted(every - common)),
        ))
    return runs


