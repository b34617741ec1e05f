"""Read and write playlists: m3u (Latin-1 by tradition), m3u8 (UTF-8) and pls.

Playlists found in the wild are messy: relative and absolute paths, ``#EXTINF`` lines, Windows
back-slashes, ``file://`` URLs, stream URLs, entries whose file is gone.  Reading never fails on an
entry: each one becomes either a path or a note saying why it was skipped.
"""
from __future__ import annotations

import configparser
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Iterable, Optional
from urllib.parse import unquote, urlparse

from .library import canonical_path

log = logging.getLogger(__name__)

MAX_PLAYLIST_BYTES = 64 * 1024 * 1024
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]+://")
_WINDOWS_DRIVE = re.compile(r"^[a-zA-Z]:[\\/]")


class PlaylistError(Exception):
    """The playlist as a whole cannot be read (not text, unreadable, too large)."""


@dataclass(frozen=True)
class PlaylistEntry:
    path: Path
    title: Optional[str] = None
    duration: Optional[float] = None


@dataclass
class Playlist:
    name: str
    source: Path
    entries: list[PlaylistEntry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entry as written, why)


def read_playlist(path: Path) -> Playlist:
    """Parse an m3u, m3u8 or pls file.  Relative entries are resolved against its folder."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_PLAYLIST_BYTES:
            raise PlaylistError(f"{path.name}: larger than {MAX_PLAYLIST_BYTES // 2**20} MB, not a playlist")
        raw = path.read_bytes()
    except OSError as exc:
        raise PlaylistError(f"{path.name}: cannot read it ({exc.strerror or exc})") from None
    text = _decode_text(raw, path)
    playlist = Playlist(name=path.stem, source=path)
    if path.suffix.lower() == ".pls":
        _parse_pls(text, playlist)
    else:
        _parse_m3u(text, playlist)
    return playlist


def _decode_text(raw: bytes, path: Path) -> str:
    """UTF-8 for .m3u8 and .pls; for .m3u, UTF-8 if it decodes, else Latin-1 (the m3u tradition)."""
    sample = raw[:4096]
    if b"\x00" in sample or (sample and sum(b < 9 or 13 < b < 32 for b in sample) > len(sample) // 20):
        raise PlaylistError(f"{path.name}: not a text file, so not a playlist")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if path.suffix.lower() == ".m3u":
            return raw.decode("latin-1")
        return raw.decode("utf-8", "replace")


def _parse_m3u(text: str, playlist: Playlist) -> None:
    title: Optional[str] = None
    duration: Optional[float] = None
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.upper().startswith("#EXTINF:"):
                duration, title = _parse_extinf(line[len("#EXTINF:"):])
            continue
        _add_entry(playlist, line, title, duration)
        title, duration = None, None


def _parse_extinf(rest: str) -> tuple[Optional[float], Optional[str]]:
    length, _, title = rest.partition(",")
    try:
        seconds: Optional[float] = float(length.split()[0]) if length.strip() else None
    except ValueError:
        seconds = None
    if seconds is not None and seconds < 0:
        seconds = None
    return seconds, (title.strip() or None)


def _parse_pls(text: str, playlist: Playlist) -> None:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise PlaylistError(f"{playlist.source.name}: not a valid .pls file ({exc.message})") from None
    section = next((s for s in parser.sections() if s.lower() == "playlist"), None)
    if section is None:
        raise PlaylistError(f"{playlist.source.name}: no [playlist] section, not a .pls file")
    items = dict(parser.items(section))
    numbers = sorted(int(k[4:]) for k in items if k.startswith("file") and k[4:].isdigit())
    for n in numbers:
        length = items.get(f"length{n}")
        try:
            seconds = float(length) if length is not None and float(length) >= 0 else None
        except ValueError:
            seconds = None
        _add_entry(playlist, items[f"file{n}"].strip(), items.get(f"title{n}"), seconds)


def _add_entry(playlist: Playlist, written: str, title: Optional[str], duration: Optional[float]) -> None:
    path = _entry_path(written, playlist.source.parent)
    if isinstance(path, str):
        playlist.skipped.append((written, path))
    else:
        playlist.entries.append(PlaylistEntry(path, title, duration))


def _entry_path(written: str, base: Path) -> Path | str:
    """A playlist line → an absolute path, or a string saying why it is not one."""
    if written.lower().startswith("file://"):
        parsed = urlparse(written)
        written = unquote(parsed.path)
        if parsed.netloc and parsed.netloc != "localhost":
            return f"a file on another machine ({parsed.netloc}) cannot be read"
    elif _URL.match(written):
        return "a stream URL, not a file: skipped"
    if _WINDOWS_DRIVE.match(written):
        return "a Windows path with a drive letter; re-export the playlist with relative paths"
    if "\\" in written:
        written = PureWindowsPath(written).as_posix()
    path = Path(written).expanduser()
    if not path.is_absolute():
        path = base / path
    return canonical_path(path)


def one_line(text: str) -> str:
    """A tag as one printable line: control characters (a NUL, a newline in a tag) become spaces."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def write_m3u(path: Path, entries: Iterable[PlaylistEntry], *, relative: bool = True) -> int:
    """Write an extended m3u (UTF-8; the ``.m3u8`` extension says so to other players).

    With ``relative`` the entries are written relative to the playlist's folder when possible, so
    that the playlist and its files can move together.  Returns the number of entries written.
    """
    path = Path(path)
    lines = ["#EXTM3U"]
    for entry in entries:
        seconds = -1 if entry.duration is None else int(round(entry.duration))
        title = one_line(entry.title or entry.path.stem)
        lines.append(f"#EXTINF:{seconds},{title}")
        target = canonical_path(entry.path)
        if relative:
            try:
                target = Path(os.path.relpath(target, canonical_path(path.parent)))
            except ValueError:  # another drive on Windows
                pass
        written = target.as_posix()
        lines.append(f"./{written}" if written.startswith("#") else written)  # not a comment line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return (len(lines) - 1) // 2
