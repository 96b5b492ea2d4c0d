"""Run discovery: ``open_runs(root)`` finds trials (one folder each) and their checkpoints."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ..errors import BridgeError, ShapeError
from ._checkpoint import open_checkpoint
from ._scalars import is_scalar_file
from ._writer import SHARD_MARKER

__all__ = ["Frame", "Trial", "Run", "open_runs", "CHECKPOINT_SUFFIXES"]

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors", ".npz", ".npy", ".h5",
                       ".hdf5", ".tar")
_DIGITS = re.compile(r"(\d+)")
_BATCH = re.compile(r"(?:^|[_\-/])(?:bs|batch(?:_?size)?|b)[_=\-]?(\d+)(?:$|[_\-])", re.I)
_CONFIG_NAMES = ("config.json", "meta.json", "run.json", "hparams.json")


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

    @property
    def steps(self) -> np.ndarray:
        return np.array([f.step for f in self.frames], dtype=np.int64)

    def frame(self, step: int) -> Frame:
        for f in self.frames:
            if f.step == step:
                return f
        raise BridgeError(f"trial {self.path!r} has no checkpoint at step {step}")

    def read(self, frame: Frame, *, key=None, parts=("p",)) -> dict:
        """Read a frame: ``{part: {name: array}}`` for parts ``p`` (params), ``g``, ``G``, ``o``."""
        from ._checkpoint import _materialize

        out = {p: {} for p in parts}
        with open_checkpoint(frame.path) as ck:
            if frame.member is None:
                if "p" in parts:
                    out["p"] = _materialize(frame.path, ck.select(key))
                return out
            pre = frame.member
            for name, ref in ck.tree.items():
                if not name.startswith(pre):
                    continue
                rest = name[len(pre):]
                code, _, sub = rest.partition("/")
                if code in parts:
                    out[code][sub or "o"] = ref.materialize()
        return out


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
    def batch_size(self):
        return self.meta.get("batch_size")

    @property
    def lr(self):
        return self.meta.get("lr")

    @property
    def stride(self) -> int:
        d = np.diff(self.steps)
        return int(np.gcd.reduce(d)) if d.size else 0


def _step_from_name(fname: str):
    stem = os.path.basename(fname)
    for suf in CHECKPOINT_SUFFIXES:
        if stem.endswith(suf):
            stem = stem[: -len(suf)]
            break
    nums = _DIGITS.findall(stem)
    return int(nums[-1]) if nums else None


def _trial_frames(folder, files, key):
    frames = []
    for f in files:
        full = os.path.join(folder, f)
        if f.startswith("shard_") and f.endswith(".npz"):
            with open_checkpoint(full) as ck:
                if SHARD_MARKER not in ck.tree:
                    raise BridgeError(f"{full}: not a TrajectoryWriter shard")
                steps = ck.tree[SHARD_MARKER].materialize()
            frames += [Frame(int(s), full, f"s{int(s):012d}/") for s in steps]
            continue
        step = _step_from_name(f)
        if step is None:
            with open_checkpoint(full) as ck:
                step = ck.stored_step()
        if step is None:
            raise BridgeError(
                f"{full}: no step in the file name and none stored in the file; name "
                "checkpoints like 'step_000100.pt' or store a 'step' entry"
            )
        frames.append(Frame(int(step), full))
    frames.sort(key=lambda fr: fr.step)
    for a, b in zip(frames, frames[1:], strict=False):
        if a.step == b.step:
            raise BridgeError(f"two checkpoints for step {a.step}: {a.path} and {b.path}")
    return frames


def _layout(frame: Frame, key):
    with open_checkpoint(frame.path) as ck:
        if frame.member is None:
            sel = ck.select(key)
        else:
            pre = frame.member + "p/"
            sel = {k[len(pre):]: v for k, v in ck.tree.items() if k.startswith(pre)}
        return {k: (tuple(v.shape), np.dtype(v.dtype)) for k, v in sel.items()}


def _read_config(folder):
    for name in _CONFIG_NAMES:
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            try:
                with open(p, encoding="utf-8") as fh:
                    cfg = json.load(fh)
            except (OSError, ValueError) as exc:
                raise BridgeError(f"{p}: unreadable run configuration ({exc})") from exc
            return cfg if isinstance(cfg, dict) else {}
    return {}


def _run_meta(folder, name, extra):
    cfg = _read_config(folder)
    meta = dict(cfg)
    bs = cfg.get("batch_size", cfg.get("batch"))
    if bs is None:
        m = _BATCH.search(name)
        bs = int(m.group(1)) if m else None
    lr = cfg.get("lr", cfg.get("learning_rate"))
    meta["batch_size"] = int(bs) if bs is not None else None
    meta["lr"] = float(lr) if lr is not None else None
    meta.update(extra or {})
    return meta


def _is_ckpt(name):
    return name.endswith(CHECKPOINT_SUFFIXES) and not name.startswith(".")


def open_runs(root, *, key=None, meta=None) -> list[Run]:
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

    Returns
    -------
    list of Run
        Sorted by name. A run's ``steps`` are the steps present in every trial; steps missing
        in some trial are listed in ``dropped_steps``. The step of a checkpoint is the last
        number in its file name, else the step stored in the file. The batch size and learning
        rate come from ``config.json`` (``meta.json``, ``run.json``, ``hparams.json``) in the run
        folder, else the batch size from a folder name such as ``bs10``.

    Raises
    ------
    ShapeError
        Trials whose parameter shapes disagree; the message names both files.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise BridgeError(f"root={root!r} is not a folder")
    trial_dirs = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if any(_is_ckpt(f) for f in filenames):
            trial_dirs.append((dirpath, sorted(f for f in filenames if _is_ckpt(f)),
                               sorted(f for f in filenames if is_scalar_file(f))))
    if not trial_dirs:
        raise BridgeError(
            f"no checkpoint files ({', '.join(CHECKPOINT_SUFFIXES)}) found under {root!r}"
        )
    groups: dict[str, list] = {}
    for dirpath, files, scalars in trial_dirs:
        parent = dirpath if dirpath == root and len(trial_dirs) == 1 else os.path.dirname(dirpath)
        groups.setdefault(parent, []).append((dirpath, files, scalars))
    runs = []
    for run_dir, items in sorted(groups.items()):
        trials = []
        for dirpath, files, scalars in items:
            frames = _trial_frames(dirpath, files, key)
            if not frames:
                continue
            trials.append(Trial(
                name=os.path.relpath(dirpath, run_dir) if dirpath != run_dir else
                os.path.basename(dirpath),
                path=dirpath,
                frames=tuple(frames),
                scalar_files=tuple(os.path.join(dirpath, s) for s in scalars),
                layout=MappingProxyType(_layout(frames[0], key)),
            ))
        ref = trials[0]
        for t in trials[1:]:
            if {k: v[0] for k, v in t.layout.items()} != {k: v[0] for k, v in ref.layout.items()}:
                diff = sorted(set(t.layout.items()) ^ set(ref.layout.items()))[:4]
                raise ShapeError(
                    f"trials disagree on parameter shapes: {t.frames[0].path} vs "
                    f"{ref.frames[0].path} (differing entries: {diff}); every trial of a run "
                    "must be the same model"
                )
        common = set(ref.steps.tolist())
        every = set()
        for t in trials:
            common &= set(t.steps.tolist())
            every |= set(t.steps.tolist())
        name = os.path.relpath(run_dir, root) if run_dir != root else os.path.basename(root)
        runs.append(Run(
            name=name if name != "." else os.path.basename(os.path.abspath(root)),
            path=run_dir,
            trials=tuple(trials),
            steps=np.array(sorted(common), dtype=np.int64),
            meta=MappingProxyType(_run_meta(run_dir, name, meta)),
            dropped_steps=tuple(sorted(every - common)),
        ))
    return runs


