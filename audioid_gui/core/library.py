"""Find audio files on disk and tell whether a file changed since we last looked.

A file's identity is (size, mtime): cheap to read for 30,000 files, and any edit that matters to
us (re-encoding, trimming, a tag write) changes at least one of them.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset(
    ".mp3 .mp2 .flac .ogg .oga .opus .spx .m4a .m4b .mp4 .aac .alac .wav .wave .aif .aiff .aifc "
    ".wma .asf .ape .wv .mpc .mp+ .tak .tta .dsf .caf .w64 .au .snd".split()
)
PLAYLIST_EXTENSIONS = frozenset({".m3u", ".m3u8", ".pls"})


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
    return Path(os.path.normpath(Path(path).expanduser().absolute()))


def is_audio(path: Path | str) -> bool:
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def is_playlist(path: Path | str) -> bool:
    return Path(path).suffix.lower() in PLAYLIST_EXTENSIONS


def find_audio_files(root: Path) -> Iterator[Path]:
    """Every audio file below ``root``, in a stable (sorted) order, hidden folders skipped.

    Folders that cannot be listed are logged and skipped: one unreadable folder must not stop
    the import of the other 29,999 files.
    """
    def on_error(exc: OSError) -> None:
        log.warning("cannot list %s: %s", exc.filename, exc.strerror)

    for folder, subfolders, files in os.walk(root, onerror=on_error):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and is_audio(name):
                yield Path(folder, name)
