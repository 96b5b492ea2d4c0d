"""Legacy ``torch.save`` format (``_use_new_zipfile_serialization=False``).

Layout: pickled magic number, protocol version, system info; the main pickle (persistent ids
``('storage', type, key, location, numel, view)``); a pickled list of storage keys; then for
each key an int64 item count followed by the raw items.
"""

from __future__ import annotations

from ..errors import CorruptFileError
from ._dtypes import read_native
from ._pickle import Storage, brief, restricted_load

__all__ = ["is_torch_legacy", "load_torch_legacy"]

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL = 1001


def is_torch_legacy(head: bytes) -> bool:
    """True for a pickle stream that starts with the legacy torch magic number.

    ``torch.save(..., pickle_protocol=p)`` writes ``PROTO p``; from protocol 4 on, a ``FRAME``
    opcode with its 8-byte length follows; then the magic number as a 10-byte ``LONG1``.
    """
    if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
        return False
    i = 2
    if head[1] >= 4 and head[2:3] == b"\x95":
        i += 9
    return head[i:i + 2] == b"\x8a\x0a" and int.from_bytes(head[i + 2:i + 12], "little") == _MAGIC


def load_torch_legacy(path, fh):
    """Unpickle a legacy checkpoint from the open binary file ``fh``; return its object tree."""
    file_size = fh.seek(0, 2)
    fh.seek(0)
    what = str(path)
    if restricted_load(fh, what=what) != _MAGIC:
        raise CorruptFileError(f"{path}: not a legacy torch checkpoint (bad magic number)")
    if restricted_load(fh, what=what) != _PROTOCOL:
        raise CorruptFileError(f"{path}: unsupported legacy protocol version")
    info = restricted_load(fh, what=what)
    little = info.get("little_endian", True) if isinstance(info, dict) else True
    order = "<" if little else ">"
    storages: dict[str, Storage] = {}
    offsets: dict[str, int] = {}

    def resolve(pid):
        _, stype, key, _location, numel, view = pid
        if view is not None:
            if (not isinstance(view, tuple) or len(view) != 3
                    or not all(isinstance(v, int) and v >= 0 for v in view[1:])):
                raise CorruptFileError(f"{path}: malformed storage view {brief(view)}")
            view_key, off, size = view
            root = resolve(("storage", stype, key, _location, numel, None))
            if off + size > root.numel:
                raise CorruptFileError(f"{path}: storage view runs past its storage")
            return Storage(
                f"{view_key}", stype, size, lambda r=root, o=off, s=size: r.array()[o:o + s]
            )
        if key in storages:
            return storages[key]
        dtype = stype.dtype.newbyteorder(order)

        def loader():
            if key not in offsets:
                raise CorruptFileError(f"{path}: the storage record {key!r} is missing")
            return read_native(fh, offsets[key], numel, dtype,
                               truncated=f"{path}: storage record {key!r} is truncated")

        st = Storage(key, stype, numel, loader)
        storages[key] = st
        return st

    tree = restricted_load(fh, resolve, pid_len=(6,), what=what)
    keys = restricted_load(fh, what=what)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CorruptFileError(f"{path}: malformed storage key list")
    pos = fh.tell()
    for key in keys:
        st = storages.get(key)
        if st is None:
            raise CorruptFileError(f"{path}: storage record {key!r} is not used by any tensor")
        fh.seek(pos)
        head = fh.read(8)
        if len(head) != 8:
            raise CorruptFileError(f"{path}: storage record {key!r} is missing (file truncated)")
        count = int.from_bytes(head, "little" if little else "big", signed=True)
        nbytes = count * st.stype.itemsize
        if count < st.numel:
            raise CorruptFileError(
                f"{path}: storage record {key!r} holds {count} items, the tensor needs "
                f"{st.numel} (record too short)"
            )
        if pos + 8 + nbytes > file_size:
            raise CorruptFileError(f"{path}: storage record {key!r} runs past the end of the file")
        offsets[key] = pos + 8
        pos += 8 + nbytes
    return tree
