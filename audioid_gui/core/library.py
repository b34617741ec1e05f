"""Find audio files on disk and tell whether a file changed since we last looked.

A file's identity is (size, mtime): cheap to read for 30,000 files, and any edit that matters to
us (re-encoding, trimming, a tag write) changes at least one of them.

Only regular files are ever opened: a named pipe called ``x.mp3`` would block a reader forever, and
a device could answer with endless bytes.  File names are kept as the file system gives them; a
name that is not valid UTF-8 arrives with surrogate escapes (``os.fsdecode``), is stored as bytes
(``stored_path``) and shown with replacement characters (``readable``).
"""
from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset(
    ".mp3 .mp2 .flac .ogg .oga .opus .spx .m4a .m4b .mp4 .aac .alac .wav .wave .aif .aiff .aifc "
    ".wma .asf .ape .wv .mpc .mp+ .tak .tta .dsf .caf .w64 .au .snd".split()
)
PLAYLIST_EXTENSIONS = frozenset({".m3u", ".m3u8", ".pls"})
NAME_MAX = 255  # bytes in one file name, on every file system Linux and macOS mount by default


class NotAFileError(OSError):
    """The path names something that is not a regular file (a folder, a named pipe, a device)."""


@dataclass(frozen=True)
class FileIdentity:
    size: int
    mtime: float


def identity(path: Path | str) -> FileIdentity:
    """Raises OSError (FileNotFoundError, PermissionError ...) when the file cannot be stat'ed."""
    st = os.stat(path)
    return FileIdentity(st.st_size, st.st_mtime)


def canonical_path(path: Path | str) -> Path:
    """Absolute, with ``.`` and ``..`` folded but symlinks kept: the same file imported from a
    folder and from a playlist becomes the same track."""
    return Path(canonical_text(path))


def canonical_text(path: Path | str) -> str:
    """``canonical_path`` as text, without the four Path objects it makes: writing a playlist
    of a million entries made them for every entry."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def extension(path: Path | str) -> str:
    """``.mp3`` for ``Song.MP3``; os.path rather than pathlib, as a 200,000-line playlist asks."""
    return os.path.splitext(os.fspath(path))[1].lower()


def is_audio(path: Path | str) -> bool:
    return extension(path) in AUDIO_EXTENSIONS


def is_playlist(path: Path | str) -> bool:
    return extension(path) in PLAYLIST_EXTENSIONS


def readable(path: Path | str | bytes) -> str:
    """A path as a person can read it: bytes that are not UTF-8 become U+FFFD, never an error
    when printed or drawn.  Takes the bytes ``stored_path`` keeps, too."""
    if isinstance(path, bytes):
        return path.decode("utf-8", "replace")
    text = os.fspath(path)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that no file system produced
        return text.encode("utf-8", "replace").decode("utf-8")


def stored_path(path: Path | str) -> str | bytes:
    """The value that keeps a path in SQLite losslessly: the text itself, or its file-system
    bytes when the name is not valid UTF-8 (SQLite keeps them as a BLOB; equality and UNIQUE work)."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text)
    return text


def loaded_path(value: str | bytes) -> str:
    """The path that ``stored_path`` stored, as the file system names it."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _require_regular(mode: int, path: Path | str) -> None:
    if not stat.S_ISREG(mode):
        raise NotAFileError(errno.EINVAL, f"{_kind(mode)}, not a regular file: never opened", os.fspath(path))


def _open_regular(path: Path | str) -> tuple[int, os.stat_result]:
    """A read-only descriptor of a regular file, got without ever blocking: stat first (a named
    pipe is refused before any open), then a non-blocking open and fstat of what was opened (in
    case the path was swapped for a pipe meanwhile).  The caller closes it."""
    _require_regular(os.stat(path).st_mode, path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        _require_regular(st.st_mode, path)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def regular_file_identity(path: Path | str) -> FileIdentity:
    """The identity of a regular file that this process may read (proved by opening it).
    Raises NotAFileError for anything but a regular file, else OSError as ``open`` does."""
    fd, st = _open_regular(path)
    os.close(fd)
    return FileIdentity(st.st_size, st.st_mtime)


def read_regular_file(path: Path | str, limit: int) -> bytes:
    """The bytes of a small regular file (a playlist, a label file).  Raises NotAFileError for a
    pipe or device (which could block or never end), ValueError when it is over ``limit`` bytes,
    else OSError."""
    fd, _ = _open_regular(path)
    with os.fdopen(fd, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // 2**20} MB")
    return data


def not_audio_reason(path: Path | str) -> Optional[str]:
    """Why ``path`` is not named like an audio file, as a sentence; None when it is."""
    if is_audio(path):
        return None
    suffix = extension(path)
    what = f"its extension {readable(suffix)} is not an audio format" if suffix else "it has no audio extension"
    return f"not an audio file ({what}): not imported"


def unimportable_reason(path: Path | str) -> Optional[str]:
    """Why ``path`` cannot become a track, as a sentence; None when it can (a regular file with an
    audio extension).  Never raises: a bad playlist entry is one error record, not a crash."""
    named = not_audio_reason(path)
    if named is not None:
        return named
    try:
        mode = os.stat(path).st_mode
    except ValueError:  # os.stat's word for a NUL in the name
        return "the name holds a NUL character, which no file name can"
    except OSError as exc:
        return stat_failure_reason(exc)
    if not stat.S_ISREG(mode):
        return f"{_kind(mode)}, not an audio file: never opened"
    return None


def stat_failure_reason(exc: OSError) -> str:
    """Why a path could not be looked at, as a sentence a person can act on."""
    if exc.errno == errno.ENAMETOOLONG:
        return _too_long(exc.filename)
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "not found (moved or deleted?)"
    if exc.errno == errno.EACCES:
        return "permission denied on a folder of its path"
    if exc.errno == errno.ELOOP:
        return "a symbolic link that loops or goes too deep"
    return f"cannot be read ({exc.strerror or exc})"


def _too_long(path: Path | str | bytes | None) -> str:
    """Which limit a path that is too long passes: one name's, or the whole path's."""
    names = os.fsencode(path or "").split(b"/")
    if max(len(name) for name in names) > NAME_MAX:
        return "the name is longer than the file system allows, so no such file can exist"
    return "its path is longer than the system allows (PATH_MAX); shorten the names of its folders"


def find_audio_files(root: Path, on_error: Callable[[str, str], None]) -> Iterator[Path]:
    """Every audio file below ``root``, in a stable (sorted) order, hidden folders skipped.

    A folder that cannot be listed (unreadable, or its path past PATH_MAX) is handed to
    ``on_error`` with why, and skipped: one such folder must not stop the import of the other
    29,999 files.  Names come as the file system has them (surrogate escapes for bytes that are not
    UTF-8), so that a file can always be opened again by its path.
    """
    def listing_failed(exc: OSError) -> None:
        on_error(os.fspath(exc.filename or root), f"a folder that cannot be listed: {stat_failure_reason(exc)}")

    for folder, subfolders, files in os.walk(os.fspath(root), onerror=listing_failed):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and is_audio(name):
                yield Path(folder, name)
