"""``torch.save`` zip format (PyTorch >= 1.6): ``<prefix>/data.pkl`` plus ``<prefix>/data/<key>``.

Uncompressed storage records (what ``torch.save`` writes) are read straight from the file into
a NumPy buffer, after checking their CRC32; compressed ones are stream-decompressed through
:mod:`zipfile` with a running limit, after charging the size the zip directory declares to the
file's :class:`~stochthermo.bridge._files.ReadBudget` (so a DEFLATE bomb is refused up front).
"""

from __future__ import annotations

import posixpath
import struct
import zipfile
import zlib

import numpy as np

from ..errors import CorruptFileError, UnsafeFileError
from ._dtypes import native_order
from ._pickle import Storage, restricted_load

__all__ = ["is_torch_zip", "load_torch_zip", "open_zip"]

_MAX_PICKLE = 1 << 30


def is_torch_zip(head: bytes) -> bool:
    """True when the first bytes are a zip local-file header."""
    return head[:4] == b"PK\x03\x04"


def _check_names(path, names):
    for name in names:
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise UnsafeFileError(
                f"{path}: zip member name {name!r} points outside the archive; refusing the file"
            )


def open_zip(path, fh) -> zipfile.ZipFile:
    """Parse the zip directory of ``fh``; broken archives raise CorruptFileError."""
    try:
        return zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, KeyError, IndexError) as exc:
        raise CorruptFileError(f"{path}: not a readable zip archive ({exc})") from exc


def load_torch_zip(path, fh, *, zf=None, verify=False, budget=None, filemap=None):
    """Unpickle the checkpoint in the open binary file ``fh``; return its object tree.

    Storages are resolved lazily and read from ``fh`` when a tensor is materialised, so the
    file must stay open until then. ``verify`` checks each storage record's CRC-32.
    Decompressed records are charged to ``budget``. With ``filemap`` (a
    :class:`~stochthermo.bridge._files.FileMap`), uncompressed records are read-only views of
    the mapped file instead of copies (unless ``verify``).
    """
    zf = open_zip(path, fh) if zf is None else zf
    infos = zf.infolist()
    names = [i.filename for i in infos]
    _check_names(path, names)
    pkls = [n for n in names if n.endswith("data.pkl") and n.count("/") <= 1
            and posixpath.basename(n) == "data.pkl"]
    if len(pkls) != 1:
        raise CorruptFileError(
            f"{path}: a zip archive but not a torch.save checkpoint "
            f"(expected one '<name>/data.pkl' record, found {len(pkls)})"
        )
    prefix = pkls[0][: -len("data.pkl")]
    by_name = {i.filename: i for i in infos}
    big_endian = False
    if prefix + "byteorder" in by_name:
        order = _read_member(path, zf, prefix + "byteorder", 16, budget).strip()
        if order not in (b"little", b"big"):
            raise CorruptFileError(f"{path}: unknown byte order {order[:16]!r}")
        big_endian = order == b"big"
    data = _read_member(path, zf, pkls[0], _MAX_PICKLE, budget)
    file_size = fh.seek(0, 2)
    cache: dict[str, Storage] = {}

    def resolve(pid):
        _, stype, key, _location, numel = pid
        if key in cache:
            st = cache[key]
            if st.stype.itemsize * st.numel < stype.itemsize * numel:
                raise CorruptFileError(f"{path}: storage {key!r} referenced with two sizes")
            return st
        name = f"{prefix}data/{key}"
        info = by_name.get(name)
        if info is None:
            raise CorruptFileError(f"{path}: the storage record {name!r} is missing")
        nbytes = numel * stype.itemsize
        if info.file_size < nbytes:
            raise CorruptFileError(
                f"{path}: storage record {name!r} has {info.file_size} bytes but the tensor "
                f"needs {nbytes} (record too short)"
            )
        dtype = stype.dtype.newbyteorder(">" if big_endian else "<")

        def loader():
            if (filemap is not None and not verify and info.compress_type == zipfile.ZIP_STORED
                    and not info.flag_bits & 0x1):
                raw = filemap.view(_record_start(path, fh, info, file_size), nbytes)
            else:
                raw = _read_record(path, fh, zf, info, nbytes, file_size, verify, budget)
            return native_order(np.frombuffer(raw, dtype=dtype, count=numel) if numel
                                else np.empty(0, dtype))

        st = Storage(key, stype, numel, loader)
        cache[key] = st
        return st

    return restricted_load(data, resolve, pid_len=(5,), what=str(path))


def _read_member(path, zf, name, limit, budget=None):
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise CorruptFileError(f"{path}: record {name!r} is implausibly large ({info.file_size})")
    if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1:
        # read directly: torch.save(compute_crc32=False) stores CRC 0, which zipfile would
        # reject when it checks the CRC of a small record at its end
        fh = zf.fp
        size = fh.seek(0, 2)
        return bytearray(_stored_bytes(path, fh, info, size))
    if budget is not None and info.compress_type != zipfile.ZIP_STORED:
        budget.charge(info.file_size, f"decompressing record {name!r} ({info.compress_size} "
                      f"bytes compressed, {info.file_size} declared)")
    out = bytearray()
    try:
        with zf.open(info) as member:
            while True:
                block = member.read(min(1 << 20, info.file_size - len(out) + 1))
                if not block:
                    break
                out += block
                if len(out) > info.file_size:  # never more than the directory declared
                    raise CorruptFileError(
                        f"{path}: record {name!r} decompresses past its declared size "
                        f"{info.file_size}"
                    )
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error,
            NotImplementedError, RuntimeError) as exc:
        raise CorruptFileError(f"{path}: cannot read record {name!r} ({exc})") from exc
    return out


def _stored_bytes(path, fh, info, file_size):
    """The bytes of the uncompressed record ``info`` (no checksum)."""
    buf = _stored_array(path, fh, info, file_size)
    return buf.tobytes()


def _read_record(path, fh, zf, info, nbytes, file_size, verify, budget=None):
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        return _read_member(path, zf, info.filename, max(info.file_size, 0), budget)
    buf = _stored_array(path, fh, info, file_size)
    if verify and zlib.crc32(buf) != info.CRC:
        raise CorruptFileError(
            f"{path}: record {info.filename!r} fails its CRC-32 check"
            + (" (the file was saved without checksums: compute_crc32=False)"
               if info.CRC == 0 else "")
        )
    return buf[:nbytes]


def _stored_array(path, fh, info, file_size):
    start = _record_start(path, fh, info, file_size)
    # read the whole record (for the checksum); the tensor uses its first nbytes
    buf = np.empty(info.file_size, dtype=np.uint8)
    fh.seek(start)
    got = fh.readinto(buf)
    if got != info.file_size:
        raise CorruptFileError(f"{path}: record {info.filename!r} is truncated")
    return buf


def _record_start(path, fh, info, file_size) -> int:
    """Offset of the data of the uncompressed record ``info`` (checked to lie in the file)."""
    if not 0 <= info.header_offset <= file_size - 30:
        raise CorruptFileError(
            f"{path}: record {info.filename!r} starts outside the file (offset "
            f"{info.header_offset})"
        )
    fh.seek(info.header_offset)
    head = fh.read(30)
    if len(head) != 30 or head[:4] != b"PK\x03\x04":
        raise CorruptFileError(f"{path}: bad local header for record {info.filename!r}")
    n_name, n_extra = struct.unpack("<HH", head[26:30])
    # as zipfile.open checks: the local header names the record the directory points to (a
    # directory entry aimed at another record's header would read that record's bytes)
    flags = struct.unpack("<H", head[6:8])[0]
    name = fh.read(n_name).decode("utf-8" if flags & 0x800 else "cp437", "replace")
    if name != info.orig_filename:
        raise CorruptFileError(
            f"{path}: the zip directory points record {info.filename!r} at the local header "
            f"of {name[:80]!r}"
        )
    start = info.header_offset + 30 + n_name + n_extra
    if start + info.file_size > file_size:
        raise CorruptFileError(f"{path}: record {info.filename!r} runs past the end of the file")
    return start
