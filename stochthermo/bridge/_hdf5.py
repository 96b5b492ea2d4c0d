"""HDF5 files through the optional ``h5py`` package (extra ``hdf5``)."""

from __future__ import annotations

from .._optional import require
from ..errors import CorruptFileError
from ._arrays import ArrayRef

__all__ = ["is_hdf5", "load_hdf5"]


def is_hdf5(head: bytes) -> bool:
    """True for the HDF5 signature."""
    return head[:8] == b"\x89HDF\r\n\x1a\n"


def load_hdf5(path, fh):
    """Return ``({name: ArrayRef}, attrs)``: every numeric dataset, named by its path."""
    h5py = require("h5py", "hdf5", "reading HDF5 checkpoints")
    try:
        f = h5py.File(fh, "r")
    except (OSError, ValueError) as exc:
        raise CorruptFileError(f"{path}: unreadable HDF5 file ({exc})") from exc
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biufc":
            out[name.replace("/", ".")] = ArrayRef(obj.shape, obj.dtype, lambda o=obj: o[()])

    try:
        f.visititems(visit)
        attrs = {k: f.attrs[k] for k in f.attrs}
    except (OSError, ValueError, KeyError) as exc:
        raise CorruptFileError(f"{path}: unreadable HDF5 file ({exc})") from exc
    return out, attrs
