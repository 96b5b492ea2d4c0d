"""Lazy array references shared by the non-pickle formats."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ArrayRef"]


class ArrayRef:
    """An array described by ``shape`` and ``dtype`` and read by ``loader()`` on demand."""

    __slots__ = ("_shape", "_dtype", "_loader", "_header")

    def __init__(self, shape, dtype, loader, *, header=None):
        # with ``header`` (a callable returning ``(shape, dtype)``), both are read on first use,
        # so listing the members of a large archive does not parse every member's header
        self._header = header
        self._shape = None if shape is None else tuple(int(s) for s in shape)
        self._dtype = None if dtype is None else np.dtype(dtype)
        self._loader = loader

    def _resolve(self) -> tuple[tuple[int, ...], np.dtype]:
        if self._shape is None or self._dtype is None:
            shape, dtype = self._header()
            self._shape = tuple(int(s) for s in shape)
            self._dtype = np.dtype(dtype)
        return self._shape, self._dtype

    @property
    def shape(self) -> tuple:
        return self._resolve()[0]

    @property
    def dtype(self) -> np.dtype:
        return self._resolve()[1]

    @property
    def size(self) -> int:
        return math.prod(self.shape)  # Python integers: a hostile header cannot overflow it

    @property
    def nbytes(self) -> int:
        """Bytes of the materialised array, from the header (before any data is read)."""
        return self.size * self.dtype.itemsize

    def describe(self) -> str:
        """Shape and dtype, for messages."""
        return f"shape {self.shape}, {self.dtype}"

    def materialize(self, copy: bool = True) -> np.ndarray:
        """Read the array: C-contiguous, in native byte order.

        A new writeable array, unless ``copy=False`` allows a read-only view of a mapped file.
        """
        arr = np.asarray(self._loader())
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if not arr.flags.c_contiguous or (copy and not arr.flags.writeable):
            arr = np.array(arr, order="C", copy=True)
        return arr

    def __repr__(self):
        return f"ArrayRef(shape={self.shape}, dtype={self.dtype})"
