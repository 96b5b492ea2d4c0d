r"""Narrow floating-point types NumPy lacks, widened exactly.

bfloat16 and the five float8 formats of PyTorch (and safetensors) come back as float32, whose
range and precision hold every one of their values exactly; complex32 (two float16) comes back
as complex64. The float8 decode tables are built from the formats' definitions:

==============  ====  =========  ======================================================
format          bias  exponent   special values
==============  ====  =========  ======================================================
float8_e4m3fn   7     4 bits     no infinities; S.1111.111 is NaN; max 448
float8_e5m2     15    5 bits     IEEE-like: S.11111.00 is +-inf, S.11111.xx NaN
float8_e4m3fnuz 8     4 bits     no infinities, no -0; the code 0x80 is the only NaN
float8_e5m2fnuz 16    5 bits     no infinities, no -0; the code 0x80 is the only NaN
float8_e8m0fnu  127   8 bits     no sign, no mantissa: 2^(e - 127); 0xFF is NaN
==============  ====  =========  ======================================================

Subnormals (exponent field 0) are ``(-1)^s 2^(1 - bias) m / 2^mbits``. The tests compare every
table with the ``ml_dtypes`` package and with the values PyTorch itself writes.

Every stored item reaches the widening in native byte order: :func:`read_native` reads raw
items from a file and :func:`native_order` swaps the bytes of a big- or little-endian array.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import CorruptFileError

if TYPE_CHECKING:
    from typing import Any

__all__ = ["WIDEN", "widen", "wide_dtype", "FLOAT8_FORMATS", "native_order", "read_native"]

#: name -> (exponent bits, mantissa bits, bias, kind of special values)
FLOAT8_FORMATS = {
    "float8_e4m3fn": (4, 3, 7, "fn"),
    "float8_e5m2": (5, 2, 15, "ieee"),
    "float8_e4m3fnuz": (4, 3, 8, "fnuz"),
    "float8_e5m2fnuz": (5, 2, 16, "fnuz"),
    "float8_e8m0fnu": (8, 0, 127, "e8m0"),
}

_TABLES: dict[str, np.ndarray] = {}


def _table(name: str) -> np.ndarray:
    """The 256 float32 values of the float8 format ``name``, indexed by the byte."""
    if name in _TABLES:
        return _TABLES[name]
    ebits, mbits, bias, kind = FLOAT8_FORMATS[name]
    out = np.empty(256, dtype=np.float32)
    for code in range(256):
        if kind == "e8m0":
            out[code] = np.nan if code == 0xFF else np.float32(2.0 ** (code - bias))
            continue
        sign = -1.0 if code >> 7 else 1.0
        e = (code >> mbits) & ((1 << ebits) - 1)
        m = code & ((1 << mbits) - 1)
        top = (1 << ebits) - 1
        if kind == "fnuz" and code == 0x80:
            v = np.nan
        elif kind == "fn" and e == top and m == (1 << mbits) - 1:
            v = np.nan
        elif kind == "ieee" and e == top:
            v = sign * np.inf if m == 0 else np.nan
        elif e == 0:
            v = sign * 2.0 ** (1 - bias) * (m / (1 << mbits))
        else:
            v = sign * 2.0 ** (e - bias) * (1 + m / (1 << mbits))
        out[code] = v
    out.setflags(write=False)
    _TABLES[name] = out
    return out


def _bf16(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.uint32) << np.uint32(16)).view(np.float32)


def _c32(raw: np.ndarray) -> np.ndarray:
    flat = np.ascontiguousarray(raw).reshape(-1)
    halves = flat.view("<f2").astype(np.float32)
    return halves.view(np.complex64).reshape(raw.shape)


#: kind -> (stored NumPy dtype, returned dtype)
WIDEN = {
    "bfloat16": (np.dtype("<u2"), np.dtype(np.float32)),
    "complex32": (np.dtype("<u4"), np.dtype(np.complex64)),
    **{name: (np.dtype("u1"), np.dtype(np.float32)) for name in FLOAT8_FORMATS},
}


def wide_dtype(kind: str) -> np.dtype:
    """The dtype an array of the narrow type ``kind`` is returned in."""
    return WIDEN[kind][1]


def widen(kind: str, raw: np.ndarray) -> np.ndarray:
    """Exact values of ``raw`` (the stored items, native order) of the narrow type ``kind``."""
    if kind == "bfloat16":
        return _bf16(raw)
    if kind == "complex32":
        return _c32(raw)
    return _table(kind)[raw.view(np.uint8)]


def native_order(arr: np.ndarray) -> np.ndarray:
    """``arr`` with its items in the machine's byte order (the same array when they already are)."""
    if not arr.dtype.isnative:
        arr = arr.byteswap().view(arr.dtype.newbyteorder("="))
    return arr


def read_native(fh: Any, start: int, count: int, dtype: np.dtype, *,
                truncated: str) -> np.ndarray:
    """``count`` items of ``dtype`` stored from byte ``start`` of ``fh``, in native byte order.

    A new 1-d array; :class:`~stochthermo.errors.CorruptFileError` with the message
    ``truncated`` when the file ends before the last item.
    """
    fh.seek(start)
    arr = np.empty(count, dtype=dtype)
    got = fh.readinto(arr.data.cast("B")) if count else 0
    if got != count * dtype.itemsize:
        raise CorruptFileError(truncated)
    return native_order(arr)
