"""safetensors files: an 8-byte header length, a JSON header, then the raw little-endian data.

The format is simple enough to read with NumPy alone (and to validate completely before any
allocation), so the ``safetensors`` package is not needed; bfloat16 and the float8 types become
float32 (exactly, see :mod:`stochthermo.bridge._dtypes`). The tests check the values against
what the ``safetensors`` package itself reads.
"""

from __future__ import annotations

import json

import numpy as np

from ..errors import CorruptFileError, UnsafeFileError
from ._arrays import ArrayRef
from ._dtypes import WIDEN, read_native, widen

__all__ = ["is_safetensors", "load_safetensors"]

_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
    "C64": "<c8", "F8_E4M3": "u1", "F8_E5M2": "u1", "F8_E8M0": "u1",
}
#: safetensors dtypes stored narrower than NumPy has: the kind they are widened from
_NARROW = {"BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
           "F8_E8M0": "float8_e8m0fnu"}
_MAX_HEADER = 100_000_000


def is_safetensors(head: bytes) -> bool:
    """True when the first bytes look like a safetensors header."""
    if len(head) < 10:
        return False
    n = int.from_bytes(head[:8], "little")
    return 2 <= n <= _MAX_HEADER and head[8:9] == b"{"


def load_safetensors(path, fh, *, filemap=None):
    """Return ``({name: ArrayRef}, metadata)`` for the safetensors file open as ``fh``.

    With ``filemap`` (a :class:`~stochthermo.bridge._files.FileMap`) tensors of NumPy types
    are read-only views of the mapped file (no copy).
    """
    size = fh.seek(0, 2)
    fh.seek(0)
    head = fh.read(8)
    if len(head) != 8:
        raise CorruptFileError(f"{path}: truncated safetensors file")
    n = int.from_bytes(head, "little")
    if n > min(_MAX_HEADER, size - 8):
        raise CorruptFileError(f"{path}: safetensors header length {n} exceeds the file")
    try:
        header = json.loads(fh.read(n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptFileError(f"{path}: safetensors header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise CorruptFileError(f"{path}: safetensors header is not a JSON object")
    base = 8 + n
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise CorruptFileError(f"{path}: safetensors __metadata__ is not an object")
    out, ranges = {}, []
    for name, entry in header.items():
        try:
            code = _DTYPES[entry["dtype"]]
            shape = tuple(entry["shape"])
            begin, end = entry["data_offsets"]
        except KeyError as exc:
            if isinstance(entry, dict) and "dtype" in entry:
                raise UnsafeFileError(
                    f"{path}: tensor {name!r} has the unsupported dtype {entry['dtype']!r}"
                ) from None
            raise CorruptFileError(f"{path}: malformed entry for tensor {name!r}") from exc
        except (TypeError, ValueError) as exc:
            raise CorruptFileError(f"{path}: malformed entry for tensor {name!r}") from exc
        ints = (*shape, begin, end)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ints):
            raise CorruptFileError(f"{path}: malformed shape/offsets for tensor {name!r}")
        dtype = np.dtype(code)
        count = int(np.prod(shape, dtype=object))
        if end - begin != count * dtype.itemsize or base + end > size or begin > end:
            raise CorruptFileError(
                f"{path}: tensor {name!r} of shape {shape} ({entry['dtype']}) does not match its "
                f"byte range [{begin}, {end}) in a data section of {size - base} bytes"
            )
        narrow = _NARROW.get(entry["dtype"])

        def loader(start=base + begin, count=count, dtype=dtype, shape=shape, narrow=narrow):
            if filemap is not None and narrow is None and dtype.isnative:
                raw = filemap.view(start, count * dtype.itemsize)
                return np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)
            arr = read_native(fh, start, count, dtype, truncated=f"{path}: truncated tensor data")
            if narrow is not None:
                arr = widen(narrow, arr)
            return arr.reshape(shape)

        out[name] = ArrayRef(shape, WIDEN[narrow][1] if narrow else dtype.newbyteorder("="),
                             loader)
        ranges.append((begin, end, name))
    # like the safetensors package: byte ranges may not overlap (tensors sharing bytes would
    # let a small file be returned many times over)
    ranges.sort()
    for (_, end_a, a), (begin_b, _, b) in zip(ranges, ranges[1:], strict=False):
        if begin_b < end_a:
            raise CorruptFileError(
                f"{path}: the byte ranges of tensors {a!r} and {b!r} overlap; a safetensors "
                "file stores each tensor in its own range"
            )
    return out, meta
