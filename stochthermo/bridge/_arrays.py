"""Lazy array references shared by the non-pickle formats."""

from __future__ import annotations

import numpy as np

__all__ = ["ArrayRef"]


class ArrayRef:
    """An array described by ``shape`` and ``dtype`` and read by ``loader()`` on demand."""

    __slots__ = ("shape", "dtype", "_loader")

    def __init__(self, shape, dtype, loader):
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self._loader = loader

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def materialize(self) -> np.ndarray:
        """Read the array (a new, writeable, C-contiguous array in native byte order)."""
        arr = np.asarray(self._loader())
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if not arr.flags.c_contiguous or not arr.flags.writeable:
            arr = np.array(arr, order="C", copy=True)
        return arr

    def __repr__(self):
        return f"ArrayRef(shape={self.shape}, dtype={self.dtype})"
