"""HDF5 files through the optional ``h5py`` package (extra ``hdf5``).

Datasets whose data lives in other files (external raw storage, virtual datasets) are refused:
HDF5 would open whatever path the checkpoint names, outside the run folder or a FIFO that never
ends. External links are not followed (``visititems`` does not visit them).
"""

from __future__ import annotations

from .._optional import require
from ..errors import BridgeError, CorruptFileError, UnsafeFileError
from ._arrays import ArrayRef

__all__ = ["is_hdf5", "load_hdf5"]


#: what h5py raises for a damaged file: HDF5's own errors come as OSError, RuntimeError
#: ("Object visitation failed (bad symbol table node signature)"), ValueError or KeyError
_ERRORS = (OSError, RuntimeError, ValueError, KeyError)


def is_hdf5(head: bytes) -> bool:
    """True for the HDF5 signature."""
    return head[:8] == b"\x89HDF\r\n\x1a\n"


def load_hdf5(path, fh):
    """Return ``({name: ArrayRef}, attrs)``: every numeric dataset, named by its path."""
    h5py = require("h5py", "hdf5", "reading HDF5 checkpoints")
    try:
        f = h5py.File(fh, "r")
    except _ERRORS as exc:
        raise CorruptFileError(f"{path}: unreadable HDF5 file ({exc})") from exc
    out = {}

    def read(obj, name):
        try:
            return obj[()]
        except _ERRORS as exc:
            raise CorruptFileError(f"{path}: cannot read HDF5 dataset {name!r} ({exc})") from exc

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and (obj.external or obj.is_virtual):
            where = ([str(e[0]) for e in obj.external] if obj.external else
                     sorted({str(m.file_name) for m in obj.virtual_sources()}))
            raise UnsafeFileError(
                f"{path}: HDF5 dataset {name!r} keeps its data in other files ({where[:3]}); "
                "refusing to read files named inside a checkpoint (they may lie outside the run "
                "folder, or be a pipe that never ends); save the data inside the file"
            )
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biufc":
            out[name.replace("/", ".")] = ArrayRef(obj.shape, obj.dtype,
                                                   lambda o=obj, n=name: read(o, n))

    try:
        f.visititems(visit)
        attrs = {k: f.attrs[k] for k in f.attrs}
    except BridgeError:  # ours, from visit (a ValueError too)
        raise
    except _ERRORS as exc:
        raise CorruptFileError(f"{path}: unreadable HDF5 file ({exc})") from exc
    return out, attrs
