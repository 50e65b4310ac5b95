"""Atomic file writes: a model file or checkpoint is never left half-written.

:func:`write_atomically` writes the new content to a temporary file in the destination's
directory, flushes it to the disk (:func:`os.fsync`), renames it onto the destination
(:func:`os.replace`) and flushes the directory, so the rename survives a power cut too.
A rename within one directory is atomic: at every moment the file at the destination is
either the complete old file or the complete new one. A full disk, a file size limit, a
missing permission or an exception raised by the caller's chunks leaves the old file
byte for byte as it was.

When the write fails inside Python (any exception, ``KeyboardInterrupt`` included) the
temporary file is removed before the exception propagates. A process killed with
``SIGKILL`` (or a power cut) leaves its temporary behind, named
``.<destination name>.<pid>.<random hex>.tmp``. The next :func:`write_atomically` to the
same destination removes those whose pid is not a running process; it never touches the
temporaries of a running process or of another destination. Pids are this machine's: on
a directory shared over the network a writer on another machine may lose its temporary,
and its write then fails with a :class:`~neuroback.errors.SaveError`, the old file
untouched.

The destination is resolved first, so for a symbolic link the file it points to is
replaced. The new file gets the default permissions (``0o666`` less the umask).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Final

from neuroback.errors import SaveError

__all__ = ["TEMP_SUFFIX", "write_atomically"]

TEMP_SUFFIX: Final = ".tmp"
"""The suffix of every temporary file :func:`write_atomically` creates."""

_HINTS: Final = {
    errno.ENOSPC: "The disk is full: free some space, or save somewhere else.",
    errno.EDQUOT: "The disk quota is used up: free some space, or save somewhere else.",
    errno.EFBIG: "The file exceeds the file size limit of this process (`ulimit -f`) or "
    "of the filesystem: raise the limit, or save somewhere else.",
    errno.EACCES: "There is no permission to create files in {directory}: save "
    "somewhere else, or fix the directory's permissions.",
    errno.EROFS: "{directory} is on a read-only filesystem: save somewhere else.",
}
_HINTS[errno.EPERM] = _HINTS[errno.EACCES]
_GENERIC_HINT: Final = (
    "The common causes are a full disk, a file size limit (`ulimit -f`) and no "
    "permission to create files in {directory}."
)


def write_atomically(
    path: str | os.PathLike[str], chunks: Iterable[bytes | bytearray | memoryview]
) -> Path:
    """Write ``chunks`` to ``path`` atomically, one by one; return the resolved path.

    Raises :class:`~neuroback.errors.SaveError` (an ``OSError`` with the cause's
    ``errno``) when the file cannot be written, or when the directory of ``path`` does
    not exist or ``path`` is a directory. Any other exception, raised by ``chunks`` for
    example, propagates unchanged. Either way the previous file at ``path`` is untouched
    and the temporary file is gone.
    """
    target = Path(path).resolve()
    _check_destination(target)
    _remove_stale_temporaries(target)
    name = f".{target.name}.{os.getpid()}.{secrets.token_hex(8)}{TEMP_SUFFIX}"
    temp = target.with_name(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(temp, flags | getattr(os, "O_BINARY", 0), 0o666)
        try:
            for chunk in chunks:
                view = memoryview(chunk).cast("B")
                while view:
                    view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise _os_failure(target, exc) from exc
        raise
    _fsync_directory(target.parent)
    return target


def _check_destination(target: Path) -> None:
    parent = target.parent
    try:
        parent_mode = os.stat(parent).st_mode
    except (FileNotFoundError, NotADirectoryError):
        message = (
            f"Cannot write {target}: its directory {parent} does not exist. Create it first "
            "(Path.mkdir(parents=True)), or save somewhere else."
        )
        raise _save_error(target, message, errno.ENOENT) from None
    except OSError as exc:
        raise _os_failure(target, exc) from exc
    if not stat.S_ISDIR(parent_mode):
        message = f"Cannot write {target}: {parent} is not a directory. Save somewhere else."
        raise _save_error(target, message, errno.ENOTDIR)
    if target.is_dir():
        message = (
            f"Cannot write {target}: it is a directory, not a file. Pass the path of a file, "
            f"for example {target / 'model.npz'}."
        )
        raise _save_error(target, message, errno.EISDIR)


def _os_failure(target: Path, exc: OSError) -> SaveError:
    name = errno.errorcode.get(exc.errno or 0, "no errno name")
    hint = _HINTS.get(exc.errno or 0, _GENERIC_HINT).format(directory=target.parent)
    message = (
        f"Could not write {target}: {exc.strerror or exc} ({name}). The previous file at "
        f"that path is untouched. {hint}"
    )
    return _save_error(target, message, exc.errno, exc.strerror)


def _save_error(
    target: Path, message: str, code: int | None, reason: str | None = None
) -> SaveError:
    error = SaveError(message)
    error.errno, error.filename = code, str(target)
    error.strerror = reason or (os.strerror(code) if code else None)
    return error


def _remove_stale_temporaries(target: Path) -> None:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        return
    pattern = re.compile(
        rf"\.{re.escape(target.name)}\.(\d{{1,10}})\.[0-9a-f]{{16}}" + re.escape(TEMP_SUFFIX)
    )
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match is not None and not _is_running(int(match[1])):
            with suppress(OSError):
                os.unlink(target.parent / name)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it runs, as another user
        pass
    return True


def _fsync_directory(directory: Path) -> None:
    # The new file is in place whatever happens here; a directory that cannot be opened
    # or flushed only leaves the rename less durable against a power cut.
    if not hasattr(os, "O_DIRECTORY"):  # Windows: directories cannot be flushed
        return
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
