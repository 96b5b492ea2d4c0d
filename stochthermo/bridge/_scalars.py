"""Scalar logs: CSV, JSON lines and TensorBoard event files.

The TensorBoard reader parses the TFRecord framing (length, masked CRC32C of the length, data,
masked CRC32C of the data), verifies both checksums, and decodes just enough of the ``Event``
protocol buffer to find scalar summaries (``simple_value`` or a scalar ``TensorProto``). The
optional ``tensorboard`` package can be used instead (``backend="tensorboard"``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import struct
import warnings
from typing import TYPE_CHECKING

import numpy as np

from .._validation import choose_method
from ..errors import BridgeError, CorruptFileError
from ._files import check_regular, open_regular

if TYPE_CHECKING:
    from .._typing import PathLike

__all__ = ["read_scalars", "crc32c", "masked_crc32c", "is_scalar_file", "SCALAR_PATTERNS"]

SCALAR_PATTERNS = (".csv", ".jsonl", ".ndjson")
_STEP_COLUMNS = ("step", "global_step", "iteration", "iter", "steps", "_step")
#: a Hugging Face Trainer's state: its ``log_history`` is the scalar log
TRAINER_STATE = "trainer_state.json"


def is_scalar_file(name: str) -> bool:
    """True for file names :func:`read_scalars` understands."""
    base = os.path.basename(name)
    return base.endswith(SCALAR_PATTERNS) or "tfevents" in base or base == TRAINER_STATE


# ---- CRC32C (Castagnoli), table driven --------------------------------------------------------

def _make_table():
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _make_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``."""
    c = 0xFFFFFFFF
    t = _TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C used by TFRecord files."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ---- minimal protocol-buffer decoding ---------------------------------------------------------

def _varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise CorruptFileError("malformed protocol buffer (varint)")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf):
    """Yield ``(field_number, wire_type, value)``; value is int or bytes (memoryview)."""
    i, n = 0, len(buf)
    while i < n:
        tag, i = _varint(buf, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 1:
            if i + 8 > n:
                raise CorruptFileError("malformed protocol buffer (fixed64)")
            v, i = buf[i:i + 8], i + 8
        elif wire == 2:
            ln, i = _varint(buf, i)
            if i + ln > n:
                raise CorruptFileError("malformed protocol buffer (length)")
            v, i = buf[i:i + ln], i + ln
        elif wire == 5:
            if i + 4 > n:
                raise CorruptFileError("malformed protocol buffer (fixed32)")
            v, i = buf[i:i + 4], i + 4
        else:
            raise CorruptFileError(f"malformed protocol buffer (wire type {wire})")
        yield field, wire, v


def _tensor_scalar(buf):
    """The value of a scalar ``TensorProto`` (float/double/int), or None."""
    dtype = 0
    vals = []
    content = None
    for f, w, v in _fields(buf):
        if f == 1 and w == 0:
            dtype = v
        elif f == 4 and w == 2:
            content = bytes(v)
        elif f == 5:  # float_val
            vals += _repeated(v, w, "f")
        elif f == 6:  # double_val
            vals += _repeated(v, w, "d")
        elif f in (7, 10) and w == 0:
            vals.append(v)
    if vals:
        return float(vals[0])
    codes = {1: "<f4", 2: "<f8", 3: "<i4", 9: "<i8", 19: "<f2"}
    if content is not None and dtype in codes:
        code = np.dtype(codes[dtype])
        if len(content) == code.itemsize:
            return float(np.frombuffer(content, dtype=code)[0])
    return None


def _repeated(v, wire, code):
    """The items of a repeated ``float``/``double`` field: packed, or one fixed-width item."""
    size, fixed = (4, 5) if code == "f" else (8, 1)
    if wire == 2 and len(v) % size == 0:
        return list(struct.unpack(f"<{len(v) // size}{code}", v))
    if wire == fixed:
        return [struct.unpack(f"<{code}", v)[0]]
    raise CorruptFileError(
        f"malformed protocol buffer ({'float' if code == 'f' else 'double'}_val of wire type "
        f"{wire}" + (f" and {len(v)} bytes)" if wire == 2 else ")")
    )


def _event_scalars(data, out):
    step = 0
    values = []
    for f, w, v in _fields(data):
        if f == 2 and w == 0:
            step = v - (1 << 64) if v >= 1 << 63 else v
        elif f == 5 and w == 2:  # summary
            for sf, sw, sv in _fields(v):
                if sf != 1 or sw != 2:
                    continue
                tag, val = None, None
                for vf, vw, vv in _fields(sv):
                    if vf == 1 and vw == 2:
                        tag = bytes(vv).decode("utf-8", "replace")
                    elif vf == 2 and vw == 5:
                        val = struct.unpack("<f", vv)[0]
                    elif vf == 8 and vw == 2:
                        val = _tensor_scalar(vv)
                if tag is not None and val is not None:
                    values.append((tag, val))
    for tag, val in values:
        out.setdefault(tag, []).append((step, val))


def _read_tfevents_builtin(path):
    out: dict = {}
    with open_regular(path, what="scalar log") as fh:
        data = fh.read()
    i, n = 0, len(data)
    if n == 0:
        raise CorruptFileError(f"{path}: the event file is empty")
    while i < n:
        if i + 12 > n:
            _truncated_tail(path, i, n, out)
            break
        head = data[i:i + 8]
        (length,) = struct.unpack("<Q", head)
        (crc_len,) = struct.unpack("<I", data[i + 8:i + 12])
        if masked_crc32c(head) != crc_len:
            raise CorruptFileError(f"{path}: record length at byte {i} fails its CRC32C check")
        start, end = i + 12, i + 12 + length
        if end + 4 > n:
            _truncated_tail(path, i, n, out)
            break
        payload = data[start:end]
        (crc_data,) = struct.unpack("<I", data[end:end + 4])
        if masked_crc32c(payload) != crc_data:
            raise CorruptFileError(f"{path}: record at byte {i} fails its CRC32C check")
        try:
            _event_scalars(memoryview(payload), out)
        except CorruptFileError as exc:  # the decoder's message, with the file and the record
            raise CorruptFileError(f"{path}: record at byte {i}: {exc}") from None
        i = end + 4
    return out


def _truncated_tail(path, i, n, out):
    """A record cut short at the end of the file (a writer still running, or a crash).

    Like TensorBoard, keep every complete record before it, and say so; a file without a
    single complete record is refused.
    """
    if i == 0:
        raise CorruptFileError(f"{path}: truncated record at byte 0 (no complete record)")
    warnings.warn(
        f"{path}: the last record (bytes {i} to {n}) is incomplete, as when the writer is "
        f"still running; returned the {i} bytes of complete records before it",
        RuntimeWarning, stacklevel=4,
    )


def _read_tfevents_tensorboard(path):
    import warnings

    from .._optional import require

    require("tensorboard", "tensorboard", "reading TensorBoard files with the tensorboard package")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tensorboard.backend.event_processing import event_accumulator as ea

        acc = ea.EventAccumulator(os.fspath(path), size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
        try:
            acc.Reload()
        except Exception as exc:  # noqa: BLE001 - the package raises many types
            raise CorruptFileError(f"{path}: tensorboard cannot read the file ({exc})") from exc
        out = {}
        tags = acc.Tags()
        for tag in tags.get("scalars", []):
            out[tag] = [(e.step, float(e.value)) for e in acc.Scalars(tag)]
        for tag in tags.get("tensors", []):
            if tag in out:
                continue
            rows = []
            for e in acc.Tensors(tag):
                v = _tensor_scalar(memoryview(e.tensor_proto.SerializeToString()))
                if v is not None:
                    rows.append((e.step, v))
            if rows:
                out[tag] = rows
    return out


def _number(text):
    text = text.strip()
    if not text:
        return None
    try:
        v = float(text)
    except ValueError:
        return None
    return v


def _text(path):
    """A scalar log opened as text, after checking it is a regular file."""
    return io.TextIOWrapper(open_regular(path, what="scalar log"), encoding="utf-8",
                            newline="")


def _read_csv(path):
    with _text(path) as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise CorruptFileError(f"{path}: the CSV file is empty") from None
        rows = list(reader)
    return _from_table(path, header, rows, lambda row, j: _number(row[j]) if j < len(row) else None)


def _from_table(path, header, rows, get):
    lower = [h.lower() for h in header]
    step_col = next((lower.index(c) for c in _STEP_COLUMNS if c in lower), None)
    out: dict = {}
    if "tag" in lower and "value" in lower:
        jt, jv = lower.index("tag"), lower.index("value")
        for k, row in enumerate(rows):
            val = get(row, jv)
            step = get(row, step_col) if step_col is not None else k
            if isinstance(row, list):  # a short (ragged) row has no tag
                tag = row[jt] if jt < len(row) else None
            else:
                tag = row.get(header[jt])
            if val is None or step is None or tag is None:
                continue
            out.setdefault(str(tag).strip(), []).append((_step(path, k, step), val))
        return out
    for k, row in enumerate(rows):
        step = get(row, step_col) if step_col is not None else k
        if step is None:
            continue
        for j, name in enumerate(header):
            if j == step_col or not name:
                continue
            val = get(row, j)
            if val is not None:
                out.setdefault(name, []).append((_step(path, k, step), val))
    return out


def _step(path, row, value) -> int:
    """A step number from a log row: a finite, whole, non-negative number."""
    if not math.isfinite(value) or not float(value).is_integer() or value < 0 or value > 2**62:
        raise CorruptFileError(
            f"{path}: row {row + 1} has the step {value!r}; steps must be whole numbers >= 0"
        )
    return int(value)


def _read_trainer_state(path):
    from ._layouts import read_trainer_state

    hist = read_trainer_state(path).get("log_history")
    if not isinstance(hist, list):
        raise CorruptFileError(f"{path}: trainer_state.json has no log_history list")
    return _records_table(path, [r for r in hist if isinstance(r, dict)])


def _read_jsonl(path):
    records = []
    with _text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise CorruptFileError(f"{path}:{lineno}: not valid JSON ({exc})") from exc
            except RecursionError:
                raise CorruptFileError(f"{path}:{lineno}: nested too deeply") from None
            if isinstance(rec, dict):
                records.append(rec)
    return _records_table(path, records)


def _records_table(path, records):
    header = []
    for rec in records:
        for k in rec:
            if k not in header:
                header.append(k)

    def get(rec, j):
        if j is None:
            return None
        v = rec.get(header[j])
        if isinstance(v, bool) or not isinstance(v, int | float):
            return None
        return float(v)

    return _from_table(path, header, records, get)


def _finish(raw):
    out = {}
    for tag, rows in raw.items():
        steps = np.array([r[0] for r in rows], dtype=np.int64)
        vals = np.array([r[1] for r in rows], dtype=np.float64)
        order = np.argsort(steps, kind="stable")
        out[tag] = (steps[order], vals[order])
    return out


_TB_BACKENDS = {"builtin": _read_tfevents_builtin, "tensorboard": _read_tfevents_tensorboard}


def read_scalars(path: PathLike, *,
                 backend: str = "builtin") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read a scalar log: ``{tag: (steps, values)}`` sorted by step.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV file (a ``step`` column plus one column per tag, or long format with ``step``,
        ``tag``, ``value`` columns; Lightning's ``metrics.csv``), a JSON-lines file (one
        object per line, same two layouts), a TensorBoard event file (``*tfevents*``), a
        Hugging Face ``trainer_state.json`` (its ``log_history``), or a folder: every such
        file in it, the first file naming a tag wins.
    backend : {"builtin", "tensorboard"}
        How TensorBoard files are read: the built-in record reader (verifies the masked
        CRC32C of every record) or the ``tensorboard`` package (extra ``tensorboard``).

    Returns
    -------
    dict of str to (numpy.ndarray, numpy.ndarray)
        Steps (int64) and values (float64) per tag. TensorBoard stores scalars as float32,
        so their values are float32 numbers widened to float64. Rows whose value is NaN (a
        diverged loss, ``nan`` in a CSV cell, ``NaN`` in JSON) are kept as NaN; empty or
        non-numeric cells are skipped.

    Warns
    -----
    RuntimeWarning
        A TensorBoard file whose last record is incomplete (a writer still running): every
        complete record before it is returned.
    """
    reader = choose_method("backend", backend, _TB_BACKENDS)
    path = os.fspath(path)
    if os.path.isdir(path):
        out: dict = {}
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            if is_scalar_file(name) and not os.path.isdir(full):
                check_regular(full, what="scalar log", root=path)
                for tag, v in read_scalars(full, backend=backend).items():
                    out.setdefault(tag, v)
        return out
    if not os.path.lexists(path):
        raise BridgeError(f"scalar log {path!r} does not exist")
    check_regular(path, what="scalar log")
    base = os.path.basename(path)
    try:
        if "tfevents" in base:
            raw = reader(path)
        elif base == TRAINER_STATE:
            raw = _read_trainer_state(path)
        elif base.endswith(".csv"):
            raw = _read_csv(path)
        elif base.endswith((".jsonl", ".ndjson", ".json")):
            raw = _read_jsonl(path)
        else:
            raise BridgeError(
                f"{path}: unknown scalar log type; use .csv, .jsonl or a TensorBoard "
                "events.out.tfevents.* file"
            )
    except (UnicodeDecodeError, csv.Error, OverflowError) as exc:
        raise CorruptFileError(f"{path}: unreadable scalar log ({exc})") from exc
    return _finish(raw)
