"""``.npy`` and ``.npz`` files, read with ``allow_pickle=False``."""

from __future__ import annotations

import math
import tokenize
import zipfile
import zlib

import numpy as np

from ..errors import BridgeError, CorruptFileError, UnsafeFileError
from ._arrays import ArrayRef

__all__ = ["is_npy", "load_npy", "load_npz"]


def is_npy(head: bytes) -> bool:
    """True for the ``.npy`` magic string."""
    return head[:6] == b"\x93NUMPY"


def _wrap(path, fn):
    try:
        return fn()
    except BridgeError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise UnsafeFileError(
                f"{path}: holds Python objects that need pickle; refusing to load them"
            ) from exc
        raise CorruptFileError(f"{path}: malformed NumPy file ({exc})") from exc
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError, MemoryError,
            RuntimeError, UnicodeDecodeError, NotImplementedError, zlib.error,
            tokenize.TokenError, SyntaxError) as exc:
        # zlib.error: a damaged compressed member; TokenError, SyntaxError: a header NumPy
        # cannot tokenize or parse
        raise CorruptFileError(f"{path}: malformed NumPy file ({exc})") from exc


def _header(fh):
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unsupported .npy version {version}")
    if dtype.hasobject:
        raise ValueError("object arrays need pickle")
    # NumPy's header parser accepts any ints: refuse what no array can have, so a layout read
    # from the headers alone never reports a negative or impossible shape
    if any(isinstance(s, bool) or s < 0 for s in shape):
        raise ValueError(f"shape {shape} has a negative or boolean dimension")
    if math.prod(max(s, 1) for s in shape) * dtype.itemsize >= 2**63:
        raise ValueError(f"shape {shape} of {dtype} is larger than any array can be")
    return shape, dtype


def _check_size(path, what, shape, dtype, available):
    """The header's promise must fit in the bytes that follow it (checked before reading)."""
    n = 1
    for s in shape:
        n *= int(s)
    need = n * dtype.itemsize
    if need > available:
        raise CorruptFileError(
            f"{path}: {what} declares shape {tuple(shape)} of {dtype} ({need} bytes) but only "
            f"{available} bytes of data follow its header (truncated or malformed file)"
        )


def load_npy(path, fh):
    """Return ``{"array": ArrayRef}`` for an ``.npy`` file."""
    def header():
        size = fh.seek(0, 2)
        fh.seek(0)
        shape, dtype = _header(fh)
        _check_size(path, "the array", shape, dtype, size - fh.tell())
        return shape, dtype

    shape, dtype = _wrap(path, header)

    def loader():
        fh.seek(0)
        return _wrap(path, lambda: np.lib.format.read_array(fh, allow_pickle=False))

    return {"array": ArrayRef(shape, dtype, loader)}


def load_npz(path, fh):
    """Return ``{name: ArrayRef}`` for the members of an ``.npz`` file."""
    npz = _wrap(path, lambda: np.load(fh, allow_pickle=False))
    out = {}
    for name in npz.files:
        def header(name=name):
            member = name + ".npy" if name + ".npy" in npz.zip.namelist() else name
            info = npz.zip.getinfo(member)
            with npz.zip.open(member) as m:
                shape, dtype = _header(m)
                _check_size(path, f"member {member!r}", shape, dtype,
                            info.file_size - m.tell())
                return shape, dtype

        out[name] = ArrayRef(None, None, lambda name=name: _wrap(path, lambda: npz[name]),
                             header=lambda header=header: _wrap(path, header))
    return out
