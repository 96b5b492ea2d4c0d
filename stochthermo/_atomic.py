"""Atomic file writes: a temporary file in the target folder, then ``os.replace``.

An interruption leaves either the old file or the new one, never a partial file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["write_atomic", "savefig_atomic", "replacing", "staged_folder", "check_out_folder",
           "check_out_file", "MANIFEST"]


@contextlib.contextmanager
def replacing(path, *, suffix: str = ".tmp"):
    """Yield a temporary path beside ``path``; on success it atomically becomes ``path``.

    The temporary file gets the usual permissions (``0666`` less the umask) rather than
    ``mkstemp``'s ``0600``; on any error it is removed and ``path`` is left untouched.
    """
    path = Path(path)
    _refuse_special(path)
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


def _refuse_special(path: Path, label: str = "") -> None:
    """Refuse to rename over an existing path that is not a regular file or a folder.

    An atomic write replaces the directory entry: over ``/dev/null`` (as root), a named pipe
    or a socket it would put a plain file in its place.
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError:  # unreadable: the write itself reports it
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise FileExistsError(
            f"{label}{str(path)!r} exists and is not a regular file (a device, pipe or socket); "
            "an output is written beside it and renamed over it, so give the name of a new or "
            "regular file"
        )


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


#: written last into a staged output folder: the run's settings and a SHA-256 per file
MANIFEST = "manifest.json"


def _sha256(path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _replaceable(out: Path, known) -> bool:
    """Whether ``out`` may be swapped away: empty, a previous output, or only known names."""
    entries = os.listdir(out)
    return (not entries or MANIFEST in entries
            or all(e in known for e in entries))


#: bytes a temporary name adds to the final name while an output is written
#: (``.<name>.partial-XXXXXXXX`` for folders, ``.<name>.XXXXXXXX<suffix>`` for files)
_TEMP_EXTRA = 24


def _check_name(out) -> Path:
    """``out`` as an absolute path, refused if no file system can hold the name."""
    from .errors import ValidationError

    text = os.fspath(out)
    if "\x00" in str(text):
        raise ValidationError(f"--out {str(text)!r} contains a NUL character; give a plain path")
    path = Path(os.path.abspath(text))
    # the last name also carries the temporary name's prefix and suffix while it is written
    limits = [255] * (len(path.parts) - 1) + [255 - _TEMP_EXTRA]
    long = [(p, n) for p, n in zip(path.parts, limits, strict=True) if len(os.fsencode(p)) > n]
    if long or len(os.fsencode(str(path))) > 4095 - _TEMP_EXTRA:
        what = (f"the name {long[0][0][:40]!r}... is longer than {long[0][1]} bytes" if long
                else "the path is too long")
        raise ValidationError(f"--out {str(path)[:80]!r}...: {what}; give a shorter path")
    return path


def check_out_folder(out, *, known=()) -> Path:
    """The absolute ``out``, after the checks :func:`staged_folder` makes; raises otherwise.

    Commands call it before any work, so a bad ``--out`` is refused at once rather than after
    the computation: ``out`` must not be the current folder or hold it; an existing ``out``
    must be a folder that is empty, holds a manifest of an earlier run, or holds only the
    names in ``known``; the nearest existing folder above it must be a folder this process
    can write into; the name must be one a file system can hold (no NUL, components of at
    most 255 bytes).
    """
    out = _check_name(out)
    cwd = Path(os.getcwd())
    if out == cwd or out in cwd.parents:
        raise FileExistsError(
            f"--out {str(out)!r} is the current folder or holds it; choose a subfolder"
        )
    if out.exists() and (not out.is_dir() or not _replaceable(out, set(known))):
        what = "is not a folder" if not out.is_dir() else "holds files of its own"
        raise FileExistsError(
            f"--out {str(out)!r} {what} (no {MANIFEST} of an earlier run); choose a new or "
            "empty folder so that nothing in it is replaced"
        )
    _check_creatable(out)
    return out


def check_out_file(out) -> Path:
    """The absolute ``out`` for a file output, refused at once if it cannot be written there.

    ``out`` must not be an existing folder, and the nearest existing folder above it must be
    one this process can write into (missing folders in between are created when writing).
    """
    out = _check_name(out)
    if out.is_dir():
        raise IsADirectoryError(f"--out {str(out)!r} is a folder; give a file name")
    _refuse_special(out, "--out ")
    _check_creatable(out)
    return out


def _check_creatable(out: Path) -> None:
    above = out.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise FileExistsError(
            f"--out {str(out)!r} cannot be created: {str(above)!r} is not a folder"
        )
    if not os.access(above, os.W_OK | os.X_OK):
        raise PermissionError(
            f"--out {str(out)!r} cannot be created: no permission to write into {str(above)!r}"
        )


@contextlib.contextmanager
def staged_folder(out, *, manifest=None, known=()):
    """Yield a temporary folder beside ``out``; on success it replaces ``out`` whole.

    Everything is written into ``.<name>.partial-XXXX`` next to ``out``; then a
    :data:`MANIFEST` (``manifest`` plus the SHA-256 of every file) is written into it last,
    the old ``out`` is renamed away, the new folder renamed in, and the old one removed. An
    interruption (exception, ``KeyboardInterrupt``) removes the partial folder and leaves the
    old ``out`` as it was, so no folder ever mixes files of two runs or looks complete when
    it is not.

    An existing ``out`` is replaced only if it is empty, holds a manifest of an earlier run,
    or holds nothing but the names in ``known`` (an output written before manifests
    existed); otherwise ``FileExistsError`` names it, so a folder of other files (``--out .``)
    is never swapped away.
    """
    import json
    import shutil

    out = check_out_folder(out, known=known)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        yield tmp
        if manifest is not None:
            files = {str(p.relative_to(tmp).as_posix()): _sha256(p)
                     for p in sorted(tmp.rglob("*")) if p.is_file()}
            write_atomic(tmp / MANIFEST,
                         json.dumps(dict(manifest, files=files), indent=1, default=str))
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
            os.rmdir(old)
            os.rename(out, old)
        try:
            os.rename(tmp, out)
        except BaseException:
            if old is not None:
                os.rename(old, out)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
