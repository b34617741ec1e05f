"""What a failed read or write means, in words a user can act on.

SQLite and the operating system report a full disk, a file size limit, a damaged page or a
read-only folder as codes ("database or disk is full", "disk I/O error", ``Errno 28``).  The user
needs to hear which folder, what to do about it, and that nothing was lost.  This module only
classifies and words; ``store`` turns the result into the exceptions the app raises.
"""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Optional

# Errors of a write that found no room: a full disk, a used-up quota, the file size limit.
NO_ROOM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# SQLite says SQLITE_FULL only for ENOSPC; a quota or a size limit reaches it as a plain I/O error.
# Such an error on a disk with less than this left is taken for a full disk.
LOW_SPACE = 1 << 20
SQLITE_HEADER = b"SQLite format 3\x00"


def size_text(n: int) -> str:
    """``512 bytes``, ``40 KB``, ``3.1 MB``, ``12 GB``: enough precision to act on."""
    units = ("bytes", "KB", "MB", "GB", "TB")
    value, unit = float(n), 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{n:,} bytes"
    return f"{value:.1f} {units[unit]}" if value < 10 else f"{value:,.0f} {units[unit]}"


def file_size_limit() -> Optional[int]:
    """The largest file this process may write (``ulimit -f``), or None when there is no limit."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def no_room(folder: Path, exc: Optional[BaseException] = None) -> Optional[str]:
    """Why nothing more can be written in ``folder`` (a clause: "the disk holding X is full ..."),
    or None when there seems to be room and ``exc`` does not say otherwise."""
    try:
        free: Optional[int] = shutil.disk_usage(_existing(folder)).free
    except OSError:
        free = None
    if free is not None and free < LOW_SPACE:
        return f"the disk holding {folder} is full ({size_text(free)} free)"
    limit = file_size_limit()
    if limit is not None:
        return f"files may not grow past {size_text(limit)} here (the file size limit, `ulimit -f`)"
    if (isinstance(exc, OSError) and exc.errno in NO_ROOM_ERRNOS) or _sqlite_name(exc) == "SQLITE_FULL":
        return f"the disk holding {folder} is full, or your quota there is used up"
    return None


def _existing(folder: Path) -> Path:
    """The nearest folder that exists: ``disk_usage`` needs one."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def _sqlite_name(exc: Optional[BaseException]) -> str:
    return getattr(exc, "sqlite_errorname", "") or ""


def is_no_room(exc: BaseException, folder: Path) -> bool:
    """Whether ``exc`` is a write that found no room in ``folder``."""
    if isinstance(exc, OSError):
        return exc.errno in NO_ROOM_ERRNOS
    name = _sqlite_name(exc)
    return name == "SQLITE_FULL" or (name.startswith("SQLITE_IOERR") and no_room(folder, exc) is not None)


def is_damage(exc: BaseException, path: Path) -> bool:
    """Whether ``exc`` says that the SQLite file at ``path`` is damaged (rather than foreign)."""
    name = _sqlite_name(exc)
    if name.startswith("SQLITE_CORRUPT"):
        return True
    return name == "SQLITE_NOTADB" and starts_like_sqlite(path)


def starts_like_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def is_io_error(exc: BaseException) -> bool:
    return _sqlite_name(exc).startswith("SQLITE_IOERR")


def folder_not_writable(folder: Path) -> bool:
    """Whether files cannot be created in ``folder``: a read-only mount or missing permission."""
    return folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK)

