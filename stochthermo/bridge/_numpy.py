"""``.npy`` and ``.npz`` files, read with ``allow_pickle=False``."""

from __future__ import annotations

import zipfile

import numpy as np

from ..errors import CorruptFileError, UnsafeFileError
from ._arrays import ArrayRef

__all__ = ["is_npy", "load_npy", "load_npz"]


def is_npy(head: bytes) -> bool:
    """True for the ``.npy`` magic string."""
    return head[:6] == b"\x93NUMPY"


def _wrap(path, fn):
    try:
        return fn()
    except ValueError as exc:
        if "pickle" in str(exc):
            raise UnsafeFileError(
                f"{path}: holds Python objects that need pickle; refusing to load them"
            ) from exc
        raise CorruptFileError(f"{path}: malformed NumPy file ({exc})") from exc
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError, MemoryError,
            RuntimeError, UnicodeDecodeError, NotImplementedError) as exc:
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
    return shape, dtype


def load_npy(path, fh):
    """Return ``{"array": ArrayRef}`` for an ``.npy`` file."""
    def header():
        fh.seek(0)
        return _header(fh)

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
            with npz.zip.open(member) as m:
                return _header(m)

        out[name] = ArrayRef(None, None, lambda name=name: _wrap(path, lambda: npz[name]),
                             header=lambda header=header: _wrap(path, header))
    return out
