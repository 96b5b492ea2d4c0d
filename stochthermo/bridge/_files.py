"""Opening untrusted files safely, and the per-file budget on amplified bytes.

Two guards shared by every reader of the bridge (``theory/bridge.md`` section 5 describes the
formats they protect):

* :func:`open_regular` opens only regular files: ``os.stat`` + ``stat.S_ISREG`` before the open,
  the open itself with ``O_NONBLOCK`` (a FIFO or a device named ``step_000010.pt`` can never
  block a reader), and ``fstat`` of the open descriptor afterwards (the file cannot be swapped
  between the check and the open). A symbolic link whose target lies outside the folder being
  read is refused unless ``follow_links=True``.
* :class:`ReadBudget` counts the bytes one read of one file produces: the arrays it returns
  (sizes known from the headers, charged before any data is read) and the records it
  decompresses. Beyond the file's own size it may produce at most ``min(max_bytes,
  max(max_ratio * file_size, RATIO_FLOOR))`` bytes (defaults 4 GiB, 200, 64 MiB), so large
  honest checkpoints read as before while zero-stride views that turn a few hundred bytes into
  gigabytes, overlapping byte ranges, or DEFLATE bombs raise
  :class:`~stochthermo.errors.ResourceError` before the memory is allocated.
"""

from __future__ import annotations

import os
import stat

from ..errors import BridgeError, ResourceError, UnsafeFileError, ValidationError

__all__ = [
    "FileMap",
    "open_regular",
    "check_regular",
    "inside",
    "ReadBudget",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_RATIO",
    "RATIO_FLOOR",
    "printable",
]

#: default cap on the amplified bytes (expanded views + decompressed records) of one file
DEFAULT_MAX_BYTES = 4 << 30
#: default cap on amplified bytes per byte of the file
DEFAULT_MAX_RATIO = 200
#: amplified bytes always allowed whatever the file's size (small expanded buffers)
RATIO_FLOOR = 64 << 20

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def printable(text: str) -> str:
    """``text`` (a file or folder name) with bytes that are not UTF-8 as U+FFFD.

    The OS hands such bytes back as surrogate escapes, which no file, figure or terminal can
    encode; names shown to people go through this, paths opened keep the real bytes.
    """
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        return text.encode("utf-8", "replace").decode("utf-8")


def _kind(mode) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def inside(path, folder) -> bool:
    """True when ``path`` (after resolving links) lies in ``folder`` (after resolving links)."""
    real = os.path.realpath(path)
    base = os.path.realpath(folder)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def check_regular(path, *, what: str = "file", root=None, follow_links: bool = False):
    """Raise unless ``path`` is a regular file (inside ``root`` unless ``follow_links``).

    ``root`` defaults to the file's own folder, so only a link pointing elsewhere is refused.
    Returns the ``os.stat_result`` of the file.
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise BridgeError(f"cannot open {what} {path!r}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(
            f"{what} {path!r} is {_kind(st.st_mode)}, not a regular file; refusing to read it "
            "(a pipe or device could block or never end)"
        )
    if not follow_links:
        folder = os.path.dirname(os.path.abspath(path)) if root is None else os.fspath(root)
        if not inside(path, folder):
            raise UnsafeFileError(
                f"{what} {path!r} is a link to {os.path.realpath(path)!r}, outside "
                f"{folder!r}; pass follow_links=True to read files linked from elsewhere"
            )
    return st


def open_regular(path, *, what: str = "file", root=None, follow_links: bool = False):
    """Open ``path`` for binary reading if it is a regular file; see :func:`check_regular`."""
    path = os.fspath(path)
    before = check_regular(path, what=what, root=root, follow_links=follow_links)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise BridgeError(f"cannot open {what} {path!r}: {exc.strerror or exc}") from None
    try:
        after = os.fstat(fd)
        if not stat.S_ISREG(after.st_mode) or (after.st_ino, after.st_dev) != (
                before.st_ino, before.st_dev):
            raise UnsafeFileError(
                f"{what} {path!r} changed into {_kind(after.st_mode)} while being opened; "
                "refusing to read it"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class FileMap:
    """A lazily created read-only memory map of an open regular file.

    Arrays made with :meth:`view` share the page cache (no copy); they stay valid while
    referenced, even after the file object is closed. A file truncated by another process
    while it is mapped can stop the process (SIGBUS), as with ``torch.load(mmap=True)``: the
    bridge maps files only for its own streaming pass, never in :func:`read_checkpoint`.
    """

    def __init__(self, fh):
        self.fh = fh
        self._mm = None

    def view(self, offset: int, nbytes: int):
        """``nbytes`` bytes at ``offset`` as a read-only uint8 array (no copy)."""
        import mmap

        import numpy as np

        if nbytes == 0:
            return np.empty(0, dtype=np.uint8)
        if self._mm is None:
            self._mm = mmap.mmap(self.fh.fileno(), 0, access=mmap.ACCESS_READ)
        if offset < 0 or offset + nbytes > len(self._mm):
            raise BridgeError(f"record [{offset}, {offset + nbytes}) runs past the file's end")
        return np.frombuffer(self._mm, dtype=np.uint8, count=nbytes, offset=offset)


def _size(n) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


class ReadBudget:
    """The bytes one read of one file may still produce.

    Parameters
    ----------
    path : str
        The file (named in the error).
    file_size : int
        Its size on disk.
    max_bytes : float, optional
        Absolute cap on the bytes produced beyond ``file_size`` (default 4 GiB).
    max_ratio : float, optional
        Cap on those bytes per byte of the file (default 200; at least ``RATIO_FLOOR`` is
        always allowed).

    Notes
    -----
    The allowance is ``file_size + min(max_bytes, max(max_ratio * file_size, RATIO_FLOOR))``:
    every byte a file stores may be returned once, and a bounded amount more (broadcast
    buffers saved as expanded views, compressed records).
    """

    def __init__(self, path, file_size, *, max_bytes=None, max_ratio=None):
        self.path = str(path)
        self.max_bytes = _cap("max_bytes", DEFAULT_MAX_BYTES if max_bytes is None else max_bytes)
        self.max_ratio = _cap("max_ratio", DEFAULT_MAX_RATIO if max_ratio is None else max_ratio)
        self.file_size = int(file_size)
        self.extra = min(self.max_bytes, max(self.max_ratio * self.file_size, RATIO_FLOOR))
        self.limit = self.file_size + self.extra
        self.used = 0

    def charge(self, nbytes: int, what: str):
        """Count ``nbytes`` more bytes for ``what``; raise ResourceError past the allowance."""
        nbytes = int(nbytes)
        if self.used + nbytes > self.limit:
            how = (f"max_bytes={self.max_bytes:g}" if self.extra == self.max_bytes else
                   f"max_ratio={self.max_ratio:g} times the file size"
                   if self.extra > RATIO_FLOOR else "the 64 MiB floor")
            raise ResourceError(
                f"{self.path}: {what} needs {nbytes} bytes ({_size(nbytes)}), but reading this "
                f"file of {self.file_size} bytes may produce at most {self.limit:.0f} bytes (its "
                f"size plus {_size(self.extra)}, set by {how}; {self.used} bytes already "
                "used). A small file that expands this much is probably hostile (zero-stride "
                "views, overlapping ranges, a compression bomb); if you trust it, pass a larger "
                "max_bytes= (default 4 GiB) or max_ratio= (default 200) to read_checkpoint or "
                "open_runs"
            )
        self.used += nbytes


def _cap(name, v):
    if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0 or v != v:
        raise ValidationError(f"{name}={v!r} must be a positive number")
    return v
