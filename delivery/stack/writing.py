"""Writing a stack file without losing anyone's data.

- `locked` serializes the tool's own edits of one file: two `promote`s started at once run one
  after the other, the second reading what the first wrote (an `flock` on the file's directory,
  so no lock file is left in the repository).
- `replace` writes through a symlink to its target (the link stays a link), keeps the target's
  permissions, writes a temporary file next to it, fsyncs and renames it over the target, and
  first refuses when the target's bytes are no longer the ones the edit was computed from (an
  editor or another tool changed it meanwhile): the user's change is never overwritten.
- A full or read-only disk leaves the file as it was and is one clear error.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from delivery.errors import DeliveryError, UnavailableError, UsageError

LOCK_TIMEOUT = 30.0
_UNAVAILABLE = {errno.ENOSPC, errno.EDQUOT, errno.EIO}


def target_of(path: Path) -> Path:
    """The file an edit of `path` writes: the end of its symlink chain."""
    return Path(os.path.realpath(path))


def os_error(action: str, path: Path, exc: OSError) -> DeliveryError:
    """An OSError as the delivery error a user reads: exit 3 for a full disk or an I/O error,
    exit 2 for everything the user can fix (permissions, read-only file system, a missing dir)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    kind = UnavailableError if exc.errno in _UNAVAILABLE else UsageError
    return kind(f"cannot {action} {path}: {reason}")


@contextlib.contextmanager
def locked(target: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    try:
        fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise os_error("open the directory of", target, exc) from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UnavailableError(
                        f"{target.name}: another edit has held its lock for {timeout:g}s; retry when it is done"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def replace(target: Path, expected: bytes, data: bytes) -> None:
    """Atomically replace `target`'s bytes `expected` by `data`; refuse if they changed."""
    try:
        current = target.read_bytes()
    except OSError as exc:
        raise os_error("read", target, exc) from None
    if current != expected:
        raise UsageError(
            f"{target.name} changed while this command was editing it (another editor or command): "
            "nothing written; run the command again on the new content"
        )
    tmp = None
    try:
        mode = target.stat().st_mode & 0o7777
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
        _fsync_dir(target.parent)
    except OSError as exc:
        raise os_error("write", target, exc) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _fsync_dir(directory: Path) -> None:
    # The rename is durable once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
