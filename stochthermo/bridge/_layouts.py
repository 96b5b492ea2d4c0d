"""Folder layouts of training frameworks: which files of a trial are checkpoints, and its settings.

Three layouts are recognised while :func:`~stochthermo.bridge.open_runs` walks a folder:

* **plain loops**: a trial folder holding checkpoint files (``step_000100.pt``, shards of
  :class:`~stochthermo.bridge.TrajectoryWriter`, ...).
* **Hugging Face Trainer** (``output_dir``): one folder ``checkpoint-<step>`` per save, holding
  the weights (``model.safetensors``, else ``pytorch_model.bin``), ``trainer_state.json``
  (``log_history``: the logged scalars; ``train_batch_size``) and files that are not weights
  (``optimizer.pt``, ``scheduler.pt``, ``rng_state*.pth``, ``training_args.bin``: skipped). The
  trial is ``output_dir``; the step comes from the folder name.
* **PyTorch Lightning** (``lightning_logs/version_<n>``): ``checkpoints/*.ckpt`` (named like
  ``epoch=2-step=500.ckpt``; weights under ``state_dict``), ``metrics.csv`` and
  ``hparams.yaml`` beside ``checkpoints/``. The trial is ``version_<n>``.

``hparams.yaml`` is read with :func:`yaml.safe_load` when PyYAML is installed, else with a
small parser of top-level ``key: value`` lines (numbers, booleans, plain strings); nothing in it
can construct objects.
"""

from __future__ import annotations

import json
import math
import os
import re

from ..errors import CorruptFileError
from ._files import open_regular

__all__ = ["classify", "trial_settings", "FORMAT_PREFERENCE", "format_rank", "HF_STATE",
           "read_hparams_yaml"]

_HF_CKPT = re.compile(r"^checkpoint-(\d{1,18})$")
#: weight files of a Trainer checkpoint folder, in order of preference
_HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.pt", "pytorch_model.pt")
_HF_NOT_WEIGHTS = re.compile(
    r"^(optimizer|scheduler|scaler|training_args|rng_state(_\d+)?)\.(pt|pth|bin)$")
HF_STATE = "trainer_state.json"
_MAX_TEXT = 16 << 20

#: when one step of a trial is stored in several files, the first suffix here wins: formats
#: without pickle first (memory-mappable safetensors, then NumPy), then torch.save files,
#: then HDF5
FORMAT_PREFERENCE = (".safetensors", ".npz", ".npy", ".pt", ".pth", ".bin", ".ckpt", ".tar",
                     ".h5", ".hdf5")


def format_rank(path: str) -> int:
    """Position of ``path``'s suffix in :data:`FORMAT_PREFERENCE` (lower is preferred)."""
    for i, suf in enumerate(FORMAT_PREFERENCE):
        if path.endswith(suf):
            return i
    return len(FORMAT_PREFERENCE)


def classify(dirpath: str, filenames, is_ckpt):
    """``(trial_dir, [(file name, step or None)], kind)`` for a walked folder, or None.

    ``kind`` is ``"hf"``, ``"lightning"`` or ``"plain"``; the step is given where the layout
    fixes it (a Trainer checkpoint folder's name).
    """
    base = os.path.basename(os.path.normpath(dirpath))
    parent = os.path.dirname(os.path.normpath(dirpath))
    m = _HF_CKPT.match(base)
    if m:
        for name in _HF_WEIGHTS:
            if name in filenames:
                return parent, [(name, int(m.group(1)))], "hf"
        weights = [f for f in filenames if is_ckpt(f) and not _HF_NOT_WEIGHTS.match(f)
                   and not f.endswith(".index.json")]
        if not weights:
            return None
        return parent, [(f, int(m.group(1))) for f in sorted(weights)], "hf"
    ckpts = sorted(f for f in filenames if is_ckpt(f))
    if not ckpts:
        return None
    if base == "checkpoints" and (
            os.path.basename(parent).startswith("version_")
            or os.path.exists(os.path.join(parent, "hparams.yaml"))
            or os.path.exists(os.path.join(parent, "metrics.csv"))):
        return parent, [(f, None) for f in ckpts], "lightning"
    return dirpath, [(f, None) for f in ckpts], "plain"


def _read_text(path, what, root, follow_links) -> str:
    with open_regular(path, what=what, root=root, follow_links=follow_links) as fh:
        raw = fh.read(_MAX_TEXT + 1)
    if len(raw) > _MAX_TEXT:
        raise CorruptFileError(f"{path}: the {what} is larger than {_MAX_TEXT >> 20} MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{path}: the {what} is not UTF-8 text ({exc})") from None


def _scalar(text: str):
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "~", ""):
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        v = float(t)
    except ValueError:
        return t
    return v if math.isfinite(v) else t


def read_hparams_yaml(path, *, root=None, follow_links=False) -> dict:
    """Top-level settings of a Lightning ``hparams.yaml`` (never constructs objects)."""
    text = _read_text(path, "hparams.yaml", root, follow_links)
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CorruptFileError(f"{path}: not valid YAML ({str(exc)[:200]})") from None
        except RecursionError:
            raise CorruptFileError(f"{path}: nested too deeply") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise CorruptFileError(f"{path}: hparams.yaml is not a mapping of settings")
        return {str(k): v for k, v in data.items()}
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line[:1] in " \t-":
            continue  # nested blocks and lists are not settings we read
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out[key.strip()] = _scalar(value.split(" #")[0])
    return out


def read_trainer_state(path, *, root=None, follow_links=False) -> dict:
    """``trainer_state.json`` of a Hugging Face Trainer checkpoint (a JSON object)."""
    text = _read_text(path, "trainer state", root, follow_links)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CorruptFileError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise CorruptFileError(f"{path}: nested too deeply") from None
    if not isinstance(data, dict):
        raise CorruptFileError(f"{path}: trainer_state.json is not a JSON object")
    return data


def _hf_step(folder: str) -> int:
    """Step of a Trainer checkpoint folder, from its name ``checkpoint-<step>``."""
    m = _HF_CKPT.match(os.path.basename(folder))
    if m is None:
        raise CorruptFileError(f"{folder}: not a Trainer checkpoint folder (checkpoint-<step>)")
    return int(m.group(1))


def trial_settings(trial_dir, kind, frames_dirs, *, root=None, follow_links=False):
    """``(settings, source path, scalar log paths)`` of a framework trial.

    Hugging Face: ``trainer_state.json`` of the latest checkpoint folder (``train_batch_size``;
    the first ``learning_rate`` in ``log_history``; ``log_history`` is the scalar log).
    Lightning: ``hparams.yaml`` (``batch_size``, ``lr``/``learning_rate``) and ``metrics.csv``.
    """
    if kind == "hf":
        states = [os.path.join(d, HF_STATE) for d in sorted(frames_dirs, key=_hf_step)
                  if os.path.lexists(os.path.join(d, HF_STATE))]
        if not states:
            return {}, None, []
        path = states[-1]
        state = read_trainer_state(path, root=root, follow_links=follow_links)
        cfg = {}
        if state.get("train_batch_size") is not None:
            cfg["batch_size"] = state["train_batch_size"]
        hist = state.get("log_history")
        if isinstance(hist, list):
            for rec in hist:
                if isinstance(rec, dict) and rec.get("learning_rate") is not None:
                    cfg["lr"] = rec["learning_rate"]
                    break
        return cfg, path, [path]
    if kind == "lightning":
        hp = os.path.join(trial_dir, "hparams.yaml")
        cfg, src = {}, None
        if os.path.lexists(hp):
            raw = read_hparams_yaml(hp, root=root, follow_links=follow_links)
            for k in ("batch_size", "lr", "learning_rate"):
                if raw.get(k) is not None:
                    cfg[k] = raw[k]
            src = hp
        return cfg, src, []
    return {}, None, []
