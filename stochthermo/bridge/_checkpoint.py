"""``read_checkpoint``: one entry point for every checkpoint format, chosen by content."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeGuard

import numpy as np

from ..errors import BridgeError, CorruptFileError, ResourceError, ValidationError
from ._arrays import ArrayRef
from ._files import FileMap, ReadBudget, open_regular
from ._pickle import TensorRef, brief, named

if TYPE_CHECKING:
    from .._typing import PathLike

__all__ = [
    "read_checkpoint",
    "checkpoint_layout",
    "open_checkpoint",
    "DEFAULT_KEYS",
    "STEP_KEYS",
]

#: wrapper keys searched (in order) for the parameters when ``key`` is not given
DEFAULT_KEYS = (
    "state_dict", "model_state_dict", "model_state", "model", "net", "network", "module",
    "params", "parameters", "weights", "param",
)
#: wrapper keys holding the training step
STEP_KEYS = ("step", "global_step", "iteration", "iter", "steps")

_MAX_DEPTH = 64
#: entries a checkpoint's containers may expand to (a state dict has thousands)
_MAX_ENTRIES = 1_000_000


def _is_ref(x) -> TypeGuard[TensorRef | ArrayRef]:
    return isinstance(x, TensorRef | ArrayRef)


class _Checkpoint:
    """An open checkpoint: its object tree (lazy tensors) and the file they are read from."""

    def __init__(self, path, tree, fh, fmt, meta=None, budget=None):
        self.path, self.tree, self.fh, self.format = path, tree, fh, fmt
        self.meta = dict(meta or {})
        self.budget = budget

    def materialize(self, refs: dict, copy: bool = True) -> dict:
        """Read the lazy arrays ``refs`` (``{name: ref}``) within the file's byte budget.

        ``copy=False`` (with a checkpoint opened with ``mmap=True``) may return read-only
        views of the mapped file.
        """
        return _materialize(self.path, refs, self.budget, copy)

    def select(self, key=None) -> dict:
        """``{name: lazy array}`` for the parameter mapping chosen by ``key``."""
        try:
            return _select(self.path, self.tree, key)
        except BridgeError as exc:
            raise named(exc, str(self.path)) from exc.__cause__

    def stored_step(self):
        """The training step stored in the file (wrapper key or metadata), or None."""
        for source in (self.tree, self.meta):
            if isinstance(source, Mapping):
                for k in STEP_KEYS:
                    v = source.get(k)
                    if _is_ref(v) and v.size == 1 and v.dtype.kind in "iu":
                        v = v.materialize().item()
                    if isinstance(v, np.ndarray) and v.size == 1:
                        v = v.item()
                    if isinstance(v, str) and 0 < len(v.strip()) <= 18 and v.strip().isdigit():
                        v = int(v)
                    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**62:
                        return v
        return None

    def close(self):
        self.fh.close()


@contextlib.contextmanager
def open_checkpoint(path, *, verify=False, max_bytes=None, max_ratio=None, follow_links=False,
                    root=None, mmap=False):
    """Context manager yielding an open :class:`_Checkpoint` (format sniffed from the bytes).

    Only regular files are opened (see :func:`~stochthermo.bridge._files.open_regular`); the
    checkpoint carries a :class:`~stochthermo.bridge._files.ReadBudget` built from
    ``max_bytes``/``max_ratio`` that every decompression and materialisation is charged to.
    With ``mmap=True`` uncompressed torch.save records and safetensors tensors are read
    through a memory map of the file (see :class:`~stochthermo.bridge._files.FileMap`).
    """
    from ._hdf5 import is_hdf5, load_hdf5
    from ._numpy import is_npy, load_npy, load_npz
    from ._safetensors import is_safetensors, load_safetensors
    from ._torch_legacy import is_torch_legacy, load_torch_legacy
    from ._torch_zip import is_torch_zip, load_torch_zip, open_zip

    path = os.fspath(path)
    fh = open_regular(path, what="checkpoint", root=root, follow_links=follow_links)
    try:
        budget = ReadBudget(path, os.fstat(fh.fileno()).st_size, max_bytes=max_bytes,
                            max_ratio=max_ratio)
        head = fh.read(64)
        fh.seek(0)
        if not head:
            raise CorruptFileError(f"{path}: the file is empty")
        meta = None
        if is_torch_zip(head):
            zf = open_zip(path, fh)
            names = zf.namelist()
            if names and all(n.endswith(".npy") for n in names):
                fh.seek(0)
                tree, fmt = load_npz(path, fh), "npz"
            else:
                tree, fmt = load_torch_zip(path, fh, zf=zf, verify=verify, budget=budget,
                                           filemap=FileMap(fh) if mmap else None), "torch-zip"
        elif is_torch_legacy(head):
            tree, fmt = load_torch_legacy(path, fh), "torch-legacy"
        elif is_npy(head):
            tree, fmt = load_npy(path, fh), "npy"
        elif is_hdf5(head):
            (tree, meta), fmt = load_hdf5(path, fh), "hdf5"
        elif is_safetensors(head):
            (tree, meta), fmt = load_safetensors(
                path, fh, filemap=FileMap(fh) if mmap else None), "safetensors"
        elif head[:2] == b"\x1f\x8b" or head[257:262] == b"ustar":
            raise CorruptFileError(f"{path}: compressed/tar checkpoints are not supported")
        else:
            raise CorruptFileError(
                f"{path}: unknown checkpoint format (not a torch.save zip or legacy file, "
                "safetensors, .npy/.npz or HDF5)"
            )
        ck = _Checkpoint(path, tree, fh, fmt, meta, budget)
    except BaseException:
        fh.close()
        raise
    try:
        yield ck
    finally:
        fh.close()


def _items(node):
    if isinstance(node, Mapping):
        return node.items()
    return enumerate(node)


def _flatten(node, prefix, out, depth=0, path=None, origin=None, visits=None):
    """``{joined name: ref}`` of every tensor under ``node`` (mappings, lists and tuples).

    Names join keys with ``.`` (list items by their index). Two tensors that would get the
    same name (``{1: a, "1": b}``, ``{"x.y": a, "x": {"y": b}}``) raise, naming both. A pickle
    can reference one container from many places, so a few hundred bytes can describe a tree
    of 2**60 paths: past :data:`_MAX_ENTRIES` entries visited, the file is refused.
    """
    if depth > _MAX_DEPTH:
        raise CorruptFileError("checkpoint nested too deeply")
    origin = {} if origin is None else origin
    visits = [0] if visits is None else visits
    for k, v in _items(node):
        visits[0] += 1
        if visits[0] > _MAX_ENTRIES:
            raise CorruptFileError(
                f"the checkpoint's containers expand to more than {_MAX_ENTRIES} entries (the "
                "same containers referenced over and over); not a checkpoint of parameters"
            )
        name = f"{prefix}{k}"
        where = (*(path or ()), k)
        if _is_ref(v):
            if name in out:
                raise BridgeError(
                    f"{_path_text(origin[name])} and {_path_text(where)} would both be "
                    f"returned as {name!r}; read them with key= (one entry at a time), or "
                    "save the checkpoint with distinct string keys"
                )
            out[name] = v
            origin[name] = where
        elif isinstance(v, Mapping | list | tuple):
            _flatten(v, name + ".", out, depth + 1, where, origin, visits)
    return out


def _path_text(where) -> str:
    return "the entry " + "".join(f"[{k!r}]" for k in where)


def _has_tensors(x, depth=0, seen=None) -> bool:
    """True when a tensor lies under ``x``.

    Each container is looked at once (``seen``, by identity): a pickle can reference one list
    from many places, and a container that holds itself counts as holding none through itself.
    """
    if _is_ref(x):
        return True
    if depth > _MAX_DEPTH or not isinstance(x, Mapping | list | tuple):
        return False
    seen = {} if seen is None else seen
    if id(x) in seen:
        return seen[id(x)]
    seen[id(x)] = False  # while being looked at
    items = x.values() if isinstance(x, Mapping) else x
    found = seen[id(x)] = any(_has_tensors(v, depth + 1, seen) for v in items)
    return found


def _select(path, tree, key):
    if _is_ref(tree):
        return {"tensor": tree}
    if isinstance(tree, list | tuple) and _has_tensors(tree):
        return _flatten(tree, "", {})
    if not isinstance(tree, Mapping):
        raise BridgeError(
            f"{path}: the checkpoint holds a {type(tree).__name__}, not a mapping of tensors"
        )
    if key is not None:
        node = tree
        parts = [key] if key in tree else str(key).split("/")
        for part in parts:
            if not isinstance(node, Mapping) or part not in node:
                keys = list(node)[:20] if isinstance(node, Mapping) else []
                raise ValidationError(
                    f"key={key!r} is not in {path} (keys at that level: {keys}); "
                    "pass one of them, or a 'a/b' path into nested wrappers"
                )
            node = node[part]
        if _is_ref(node):
            return {str(key): node}
        if not isinstance(node, Mapping | list | tuple) or not _has_tensors(node):
            raise ValidationError(f"key={key!r} in {path} holds no tensors")
        return _flatten(node, "", {})
    # default: the standard wrapper entry holding a mapping of tensors; else every tensor
    # (nested ones with dotted names) when some sit at the top; else the only entry holding
    # tensors
    top = [k for k, v in tree.items() if _is_ref(v)]
    nested = [k for k, v in tree.items() if not _is_ref(v) and _has_tensors(v)]
    for k in DEFAULT_KEYS:
        if k in nested and isinstance(tree[k], Mapping):
            return _flatten(tree[k], "", {})
    if top:
        return _flatten(tree, "", {})
    if len(nested) == 1:
        node = tree[nested[0]]
        return _flatten(node if isinstance(node, Mapping) else {nested[0]: node}, "", {})
    if not nested:
        raise BridgeError(f"{path}: the checkpoint holds no tensors")
    # the file is ambiguous (a BridgeError, like two tensors sharing a name), key= settles it
    raise BridgeError(
        f"{path}: several entries hold tensors ({brief(nested[:10])}) and none is a standard "
        f"parameter key ({', '.join(DEFAULT_KEYS[:4])}, ...); pass key= to choose one"
    )


def _materialize(path, refs: dict, budget=None, copy=True) -> dict:
    # every array's size is known from the headers: charge them all before reading any data,
    # so a file that expands past its budget is refused without allocating anything
    if budget is not None:
        for name, ref in refs.items():
            budget.charge(ref.nbytes, f"tensor {str(name)!r} ({ref.describe()})")
    out = {}
    try:
        for name, ref in refs.items():
            out[str(name)] = ref.materialize(copy)
    except BridgeError as exc:
        raise named(exc, str(path)) from exc.__cause__
    except ResourceError:  # a record decompressing past the budget (a ValueError too)
        raise
    except (OSError, ValueError, MemoryError, EOFError, KeyError) as exc:
        raise CorruptFileError(f"{path}: cannot read tensor data ({exc})") from exc
    return out


def read_checkpoint(path: PathLike, *, key: str | None = None, verify: bool = False,
                    max_bytes: int | None = None, max_ratio: float | None = None,
                    follow_links: bool = False) -> dict[str, np.ndarray]:
    """Read the parameters stored in a checkpoint file, without PyTorch and without pickle.

    Parameters
    ----------
    path : str or os.PathLike
        A ``torch.save`` file (zip or legacy format), a safetensors file, ``.npy``/``.npz``
        or HDF5 (needs the ``hdf5`` extra). The format is recognised from the file's bytes.
    key : str, optional
        Which entry of a wrapper holds the parameters (``"model"``, or ``"a/b"`` for nested
        wrappers). By default: the first of ``state_dict, model_state_dict, model_state,
        model, net, network, module, params, parameters, weights, param`` that holds a mapping
        of tensors; else, when tensors sit at the top level, every tensor of the file (nested
        ones too, e.g. ``{"w": t, "ema": {"w": t2}}`` gives ``w`` and ``ema.w``); else the only
        entry holding tensors (``{"model": [t1, t2]}`` gives ``model.0``, ``model.1``).
        No tensor is dropped silently: two tensors that would get the same name raise.
    verify : bool
        Also check the CRC-32 of every storage record of a ``torch.save`` zip file (costs
        about a third of the read time; like ``torch.load``, the default checks the structure
        and sizes only).
    max_bytes, max_ratio : float, optional
        The most bytes one read of this file may produce beyond the file's own size (arrays
        returned, expanded views, decompressed records): ``min(max_bytes, max(max_ratio *
        file_size, 64 MiB))``. Defaults: ``max_bytes`` 4 GiB, ``max_ratio`` 200. Raise them
        for a trusted file with large broadcast buffers or a very high compression ratio.
    follow_links : bool
        Read ``path`` even if it is a symbolic link to a file outside its own folder.

    Returns
    -------
    dict of str to numpy.ndarray
        Parameter name -> a new C-contiguous array holding exactly the stored values, in the
        stored dtype; bfloat16 and float8 are returned as float32 and complex32 as
        complex64, exactly. Nested mappings, lists and tuples are flattened with
        ``.``-joined names (list items by index). Benign non-tensor values that
        ``torch.load(weights_only=True)`` accepts (bytes, complex numbers, layouts, dtypes,
        qschemes) are read as inert values and skipped.

    Raises
    ------
    UnsafeFileError
        The pickle names a global outside the allow-list (tensor-rebuild functions, storage
        types, ``OrderedDict``, plain containers), a zip member name escapes the archive, or an
        array needs pickle. Nothing from the file is executed.
        A FIFO, device or other non-regular file, or a link out of the folder (without
        ``follow_links``), is refused before it is opened for reading.
    CorruptFileError
        Empty, truncated, malformed or (with ``verify``) checksum-failing files; missing or
        too-short storage records; array headers that promise more data than the file holds.
    ResourceError
        The file would expand past ``max_bytes``/``max_ratio`` (e.g. a few hundred bytes of
        zero-stride views asking for gigabytes, or a DEFLATE bomb); nothing was allocated.

    BridgeError
        Quantized, sparse, nested or meta tensors (no NumPy meaning; the message names the
        kind), two tensors that would be returned under the same name, or (without ``key``)
        several entries holding tensors, none of them a standard parameter key.
    ValidationError
        ``key`` is not in the file, or holds no tensors.

    Notes
    -----
    Non-contiguous tensors (views with strides and storage offsets) are rebuilt from their
    storage exactly as PyTorch would. The legacy format is read with pickle protocols 2 to 5;
    zip files saved with ``compute_crc32=False`` read as any other (``verify=True`` then
    reports the missing checksums). See ``theory/bridge.md`` for the file formats.

    Examples
    --------
    >>> sd = read_checkpoint("run/trial0/step_000100.pt")        # doctest: +SKIP
    >>> sd["net.0.weight"].shape                                   # doctest: +SKIP
    (200, 784)
    """
    with open_checkpoint(path, verify=verify, max_bytes=max_bytes, max_ratio=max_ratio,
                         follow_links=follow_links) as ck:
        return ck.materialize(ck.select(key))


def checkpoint_layout(path: PathLike, *, key: str | None = None,
                      follow_links: bool = False) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """``{name: (shape, dtype)}`` of the parameters in ``path``, without reading tensor data."""
    with open_checkpoint(path, follow_links=follow_links) as ck:
        return {str(k): (tuple(v.shape), np.dtype(v.dtype)) for k, v in ck.select(key).items()}
