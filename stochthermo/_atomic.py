"""Atomic file writes: a temporary file in the target folder, then ``os.replace``.

An interruption leaves either the old file or the new one, never a partial file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic", "savefig_atomic", "replacing"]


@contextlib.contextmanager
def replacing(path, *, suffix: str = ".tmp"):
    """Yield a temporary path beside ``path``; on success it atomically becomes ``path``.

    The temporary file gets the usual permissions (``0666`` less the umask) rather than
    ``mkstemp``'s ``0600``; on any error it is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path, data, mode: str = "w") -> Path:
    """Write ``data`` (str for ``mode="w"``, bytes for ``"wb"``) to ``path`` atomically."""
    with replacing(path) as tmp, open(tmp, mode) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def savefig_atomic(fig, path, **kwargs) -> Path:
    """``fig.savefig`` through a temporary file and an atomic rename; returns the path."""
    path = Path(path)
    kwargs.setdefault("format", path.suffix[1:].lower() or "png")
    with replacing(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, **kwargs)
    return path
