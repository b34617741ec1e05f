"""Read and write playlists: m3u (Latin-1 by tradition), m3u8 (UTF-8) and pls.

Playlists found in the wild are messy: relative and absolute paths, ``#EXTINF`` lines, Windows
back-slashes, ``file://`` URLs, stream URLs, entries whose file is gone, ``~user`` paths for users
this machine lacks, names longer than a file system allows, lines naming a password file.  Reading
never fails on an entry: each one becomes an importable audio file, an error (it names something
here that cannot be a track, said in a sentence) or a note (a stream, or a file of another machine).
"""
from __future__ import annotations

import configparser
import logging
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PureWindowsPath
from typing import Iterable, Optional
from urllib.parse import unquote, urlparse

from .library import NotAFileError, canonical_path, canonical_text, not_audio_reason, read_regular_file, readable, unimportable_reason

log = logging.getLogger(__name__)

MAX_PLAYLIST_BYTES = 64 * 1024 * 1024
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]+://")
_WINDOWS_DRIVE = re.compile(r"^[a-zA-Z]:[\\/]")
_PLS_KEY = re.compile(r"^(file|title|length)(.*)$")
_PLS_NUMBER = re.compile(r"^[0-9]+$")


class PlaylistError(Exception):
    """The playlist as a whole cannot be read (not text, unreadable, too large)."""


@dataclass(frozen=True)
class PlaylistEntry:
    path: Path | str  # text where a million are written: a Path each cost 10 µs
    title: Optional[str] = None
    duration: Optional[float] = None


@dataclass
class Playlist:
    """What a playlist says: ``entries`` name audio files (``importable`` tells which of them
    can be imported now); each entry that cannot name one is one of ``errors`` (the path or line
    as written, and a sentence naming the playlist); ``skipped`` are entries that name no file of
    this machine (streams, another machine's files), with why."""

    name: str
    source: Path
    entries: list[PlaylistEntry] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path or line, why), one per bad entry
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entry as written, why)

    @cached_property
    def folder(self) -> str:
        """Where relative entries start from."""
        return str(canonical_path(self.source.parent))

    def importable(self) -> tuple[list[PlaylistEntry], list[tuple[str, str]]]:
        """The entries whose file can become a track now, and an error (path, sentence) for each
        of the others: gone, a named pipe, a folder, a name too long to exist.  Never raises and
        never opens a file."""
        present: list[PlaylistEntry] = []
        problems: list[tuple[str, str]] = []
        for entry in self.entries:
            why = unimportable_reason(entry.path)
            if why is None:
                present.append(entry)
            else:
                problems.append((str(entry.path), _listed_in(self, why)))
        return present, problems


def read_playlist(path: Path) -> Playlist:
    """Parse an m3u, m3u8 or pls file.  Relative entries are resolved against its folder."""
    path = Path(path)
    try:
        raw = read_regular_file(path, MAX_PLAYLIST_BYTES)
    except NotAFileError as exc:
        raise PlaylistError(f"{readable(path.name)}: {exc.strerror}, so not a playlist") from None
    except ValueError as exc:
        raise PlaylistError(f"{readable(path.name)}: {exc}, not a playlist") from None
    except OSError as exc:
        raise PlaylistError(f"{readable(path.name)}: cannot read it ({exc.strerror or exc})") from None
    text = _decode_text(raw, path)
    playlist = Playlist(name=path.stem, source=path)
    if path.suffix.lower() == ".pls":
        _parse_pls(text, playlist)
    else:
        _parse_m3u(text, playlist)
    return playlist


def _decode_text(raw: bytes, path: Path) -> str:
    """UTF-8 for .m3u8 and .pls; for .m3u, UTF-8 if it decodes, else Latin-1 (the m3u tradition).

    Bytes that are not UTF-8 in an .m3u8 or .pls are kept as surrogate escapes, exactly as
    ``os.fsdecode`` gives a file name that is not UTF-8: such an entry still finds its file."""
    sample = raw[:4096]
    if b"\x00" in sample or (sample and sum(b < 9 or 13 < b < 32 for b in sample) > len(sample) // 20):
        raise PlaylistError(f"{readable(path.name)}: not a text file, so not a playlist")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if path.suffix.lower() == ".m3u":
            return raw.decode("latin-1")
        return raw.decode("utf-8", "surrogateescape")


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
    return _seconds(length.split()[0] if length.strip() else None), (title.strip() or None)


def _seconds(text: Optional[str]) -> Optional[float]:
    """A playlist's length field in seconds; None when absent, negative (the "unknown" of m3u
    and pls) or not a number."""
    try:
        seconds = float(text) if text is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def _parse_pls(text: str, playlist: Playlist) -> None:
    """The ``[playlist]`` section's FileN/TitleN/LengthN keys, in the order of N.

    A number with a title or length but no file, a number given twice (File1 and File01), or a
    key numbered with other than ASCII digits is one error each; the rest imports."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise PlaylistError(f"{readable(playlist.source.name)}: not a valid .pls file ({exc.message})") from None
    section = next((s for s in parser.sections() if s.lower() == "playlist"), None)
    if section is None:
        raise PlaylistError(f"{readable(playlist.source.name)}: no [playlist] section, not a .pls file")
    numbered: dict[int, dict[str, str]] = {}
    for key, value in parser.items(section):
        match = _PLS_KEY.match(key)
        if match is None:
            continue  # NumberOfEntries, Version and keys of other players
        kind, number = match.groups()
        if not _PLS_NUMBER.match(number):
            _add_error(playlist, f"{key}={value}", f"the key {key} is not numbered like File1, File2 ...: skipped")
            continue
        fields = numbered.setdefault(int(number), {})
        if kind in fields:
            _add_error(playlist, f"{key}={value}", f"a second {kind.capitalize()}{int(number)}: the first is kept")
            continue
        fields[kind] = value
    for n in sorted(numbered):
        fields = numbered[n]
        if "file" not in fields:
            given = " and ".join(f"{kind.capitalize()}{n}" for kind in ("title", "length") if kind in fields)
            _add_error(playlist, f"entry {n}", f"{given} but no File{n}: skipped")
            continue
        _add_entry(playlist, fields["file"].strip(), fields.get("title"), _seconds(fields.get("length")))


def _listed_in(playlist: Playlist, why: str) -> str:
    return f"listed in {readable(playlist.source.name)}: {why}"


def _add_error(playlist: Playlist, written: str, why: str) -> None:
    playlist.errors.append((written, _listed_in(playlist, why)))


def _add_entry(playlist: Playlist, written: str, title: Optional[str], duration: Optional[float]) -> None:
    """Sort one entry into the playlist's entries, errors or skipped notes."""
    try:
        path = _entry_path(written, playlist.folder)
    except _Elsewhere as exc:
        playlist.skipped.append((written, str(exc)))
        return
    except _BadEntry as exc:
        _add_error(playlist, written, str(exc))
        return
    why = not_audio_reason(path)
    if why is None:
        playlist.entries.append(PlaylistEntry(Path(path), title, duration))
    else:
        _add_error(playlist, path, why)


class _Elsewhere(Exception):
    """The entry names no file of this machine (a stream, another machine, a Windows drive):
    a note, not an error."""


class _BadEntry(Exception):
    """The entry cannot be turned into a path on this machine; the message says why."""


def _entry_path(written: str, base: str) -> str:
    """A playlist line → an absolute, normalised path (as ``canonical_path`` makes them).
    Raises _Elsewhere or _BadEntry."""
    if written.lower().startswith("file://"):
        try:
            parsed = urlparse(written)
        except ValueError as exc:
            raise _BadEntry(f"the file URL cannot be read ({exc})") from None
        written = unquote(parsed.path, errors="surrogateescape")
        if parsed.netloc and parsed.netloc != "localhost":
            raise _Elsewhere(f"a file on another machine ({parsed.netloc}) cannot be read")
    elif _URL.match(written):
        raise _Elsewhere("a stream URL, not a file: skipped")
    if _WINDOWS_DRIVE.match(written):
        raise _Elsewhere("a Windows path with a drive letter; re-export the playlist with relative paths")
    if "\\" in written:
        written = PureWindowsPath(written).as_posix()
    if written.startswith("~"):
        written = os.path.expanduser(written)
        if written.startswith("~"):  # os.path's way of saying it knows no such user
            user = readable(written[1:].split("/", 1)[0])
            raise _BadEntry(f"there is no user {user!r} on this machine, so ~{user} leads nowhere")
    if "\x00" in written:
        raise _BadEntry("the name holds a NUL character, which no file name can")
    return os.path.normpath(os.path.join(base, written))


def one_line(text: str) -> str:
    """A tag as one printable line: control characters (a NUL, a newline in a tag) become spaces."""
    if text.isprintable():  # nearly every title: no character to look at one by one
        return " ".join(text.split())
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def write_m3u(path: Path, entries: Iterable[PlaylistEntry], *, relative: bool = True) -> int:
    """Write an extended m3u (UTF-8; the ``.m3u8`` extension says so to other players).

    With ``relative`` the entries are written relative to the playlist's folder when possible, so
    that the playlist and its files can move together.  Returns the number of entries written.
    Each entry is worked out as text: as Path objects, exporting a million predictions took 23 s
    instead of 8.
    """
    path = Path(path)
    folder = _Folder(canonical_text(path.parent))  # once: a million entries share it
    lines = ["#EXTM3U"]
    for entry in entries:
        seconds = -1 if entry.duration is None else int(round(entry.duration))
        title = one_line(entry.title or os.path.splitext(os.path.basename(entry.path))[0])
        lines.append(f"#EXTINF:{seconds},{title}")
        target = canonical_text(entry.path)
        written = folder.relative(target) if relative else target
        if os.sep != "/":
            written = written.replace(os.sep, "/")
        lines.append(f"./{written}" if written.startswith("#") else written)  # not a comment line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return (len(lines) - 1) // 2


class _Folder:
    """A canonical folder that canonical paths are written relative to."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.inside = text.rstrip(os.sep) + os.sep  # what the paths of files inside it start with
        self.drive = os.path.splitdrive(text)[0]
        self.parts = [part for part in text.split(os.sep) if part]

    def relative(self, target: str) -> str:
        """``os.path.relpath(target, folder)`` for a canonical ``target``, without making both
        absolute and normal again for every entry; ``target`` itself where no relative path
        leads (another drive on Windows)."""
        if target.startswith(self.inside):
            return target[len(self.inside):].lstrip(os.sep)
        if os.path.splitdrive(target)[0] != self.drive:
            try:
                return os.path.relpath(target, self.text)
            except ValueError:
                return target
        parts = [part for part in target.split(os.sep) if part]
        shared = 0
        for mine, theirs in zip(self.parts, parts):
            if mine != theirs:
                break
            shared += 1
        return os.sep.join([os.pardir] * (len(self.parts) - shared) + parts[shared:]) or os.curdir
