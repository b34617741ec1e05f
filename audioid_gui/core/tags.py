"""Write each track's class into its file as genre text — never damaging a file, always undoable.

The one module that changes the user's audio files.  For every file: copy it to a temporary file
beside the original, write the copy, re-open it and check that the genre is the new one and that
no other tag changed, journal the old values in the project, then atomically replace the original
(``os.replace``: a reader sees the old file or the new one, never half of either).  A file that
fails any step is reported and left as it was; the batch goes on.  Undo writes the journalled
values back the same way.

The new file must be the old one in all but its tag: a symbolic link is followed to the file it
names (the link stays a link), the copy takes the original's owner, group, mode, times and extended
attributes, and a file whose owner cannot be kept, or that has other hard links, is refused with
the reason.  Every reason is a sentence a user can act on.

Formats (mutagen): ID3 (MP3, AIFF, WAV, DSF, TrueAudio; ``TCON``), Vorbis comments (FLAC, Ogg
Vorbis/Opus/Speex/FLAC; ``GENRE``), MP4 (``©gen``, replacing a numeric ``gnre``), ASF/WMA
(``WM/Genre``) and APEv2 (Monkey's Audio, WavPack, Musepack, TAK, OptimFROG; ``Genre``).
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Literal, Optional, Sequence

import numpy as np

from .heap import collector_paused
from .library import loaded_path
from .project import Project, TagChange
from .tasks import CancelToken, ItemError, Progress, ProgressCallback, report

Mode = Literal["replace", "append", "fill"]
MODES = ("replace", "append", "fill")
PRIVATE_KEY = "AUDIOID_CLASS"  # where the class and confidence go when asked (TXXX, Vorbis, freeform)
TEMP_MARK = ".audioid-tmp"  # in the name of the copy being written, before the original's extension
NAME_MAX = 255  # bytes in one file name on the file systems the app meets (ext4, XFS, Btrfs, APFS, NTFS)
REGION_MAX = 64 << 10  # the most bytes of a file's old tag kept for a byte-exact undo (in the project)
SPANS_MAX = 64  # and in how many pieces at most
CHUNK = 1 << 20

log = logging.getLogger(__name__)


class TagError(Exception):
    """One file could not be tagged; the message says why, the file is unchanged."""


# -- what each tag format calls a genre -----------------------------------------------------------


class _Format:
    """Reads and writes the genre (and our private field) of one family of tag formats, and lists
    every other tag so that a write can prove it touched nothing else."""

    genre_keys: tuple[str, ...] = ()
    private_key = PRIVATE_KEY
    # Whether the tag is a block added to a stream that is complete without it (ID3, APEv2), rather
    # than a part of the container (Vorbis comments, MP4 atoms, ASF objects).
    optional_block = False

    def genres(self, tags: Any) -> list[str]:
        for key in self.genre_keys:
            if key in tags:
                return [str(v) for v in tags[key]]
        return []

    def set_genres(self, tags: Any, values: list[str]) -> None:
        for key in self.genre_keys:
            _remove(tags, key)
        if values:
            tags[self.genre_keys[0]] = values

    def private(self, tags: Any) -> Optional[str]:
        value = tags.get(self.private_key)
        return str(value[0]) if value else None

    def set_private(self, tags: Any, value: Optional[str]) -> None:
        _remove(tags, self.private_key)
        if value is not None:
            tags[self.private_key] = [value]

    def others(self, tags: Any) -> dict[str, str]:
        ours = {k.lower() for k in (*self.genre_keys, self.private_key)}
        return {k: _fingerprint(v) for k, v in tags.items() if k.lower() not in ours}


class _Id3(_Format):
    """ID3v2 in the version the file already has (v2.2 and ID3v1-only files are saved as v2.3,
    files without a tag get v2.4)."""

    optional_block = True

    def genres(self, tags: Any) -> list[str]:
        frame = tags.get("TCON")
        values = list(frame.genres) if frame is not None else []
        if _id3_save_version(tags) < 4:  # ID3v2.3 has one text: several genres are "A/B"
            values = [part.strip() for value in values for part in value.split("/") if part.strip()]
        return values

    def set_genres(self, tags: Any, values: list[str]) -> None:
        from mutagen.id3 import TCON

        tags.delall("TCON")
        if values:
            tags.add(TCON(encoding=3, text=values if _id3_save_version(tags) == 4 else ["/".join(values)]))

    def private(self, tags: Any) -> Optional[str]:
        frame = tags.get(f"TXXX:{self.private_key}")
        return str(frame.text[0]) if frame is not None and frame.text else None

    def set_private(self, tags: Any, value: Optional[str]) -> None:
        from mutagen.id3 import TXXX

        tags.delall(f"TXXX:{self.private_key}")
        if value is not None:
            tags.add(TXXX(encoding=3, desc=self.private_key, text=[value]))

    def others(self, tags: Any) -> dict[str, str]:
        """Each other frame as the bytes a save writes for it: mutagen normalises some values on
        save (text encodings a version lacks, for one), so only a difference in these bytes is a
        real change.  (``save_frame`` is mutagen's own renderer, not exported: the one way to
        see a frame as a save sees it.)"""
        from mutagen.id3._tags import save_frame
        from mutagen.id3._util import ID3SaveConfig

        config = ID3SaveConfig(_id3_save_version(tags), None)
        ours = ("TCON", f"TXXX:{self.private_key}")
        found = {key: _fingerprint(save_frame(frame, config=config)) for key, frame in tags.items() if key not in ours}
        unknown = getattr(tags, "unknown_frames", None)
        if unknown:
            found["frames mutagen does not know"] = _fingerprint(b"".join(unknown))
        return found


def _id3_save_version(tags: Any) -> int:
    """The ID3v2 minor version a tag is written in: its own for v2.3 and v2.4; v2.2 (which mutagen
    cannot write) and ID3v1 become v2.3, what most players read."""
    return 4 if tags.version[:2] == (2, 4) else 3


class _Vorbis(_Format):
    genre_keys = ("GENRE",)  # Vorbis comment keys are case-insensitive in mutagen's dict view


class _Mp4(_Format):
    genre_keys = ("\xa9gen", "gnre")
    private_key = f"----:com.audioid:{PRIVATE_KEY}"

    def genres(self, tags: Any) -> list[str]:
        if "\xa9gen" in tags:
            return [str(v) for v in tags["\xa9gen"]]
        if "gnre" in tags:  # the legacy numeric genre: an index into the ID3v1 list, plus one
            from mutagen.id3 import TCON

            return [TCON.GENRES[n - 1] for n in tags["gnre"] if 0 < n <= len(TCON.GENRES)]
        return []

    def private(self, tags: Any) -> Optional[str]:
        value = tags.get(self.private_key)
        return bytes(value[0]).decode("utf-8", "replace") if value else None

    def set_private(self, tags: Any, value: Optional[str]) -> None:
        from mutagen.mp4 import MP4FreeForm

        _remove(tags, self.private_key)
        if value is not None:
            tags[self.private_key] = [MP4FreeForm(value.encode("utf-8"))]


class _Asf(_Format):
    genre_keys = ("WM/Genre",)

    def genres(self, tags: Any) -> list[str]:
        return [str(v) for v in tags.get("WM/Genre", [])]

    def private(self, tags: Any) -> Optional[str]:
        values = tags.get(self.private_key, [])
        return str(values[0]) if values else None


class _Ape(_Format):
    genre_keys = ("Genre",)
    optional_block = True

    def genres(self, tags: Any) -> list[str]:
        for key in tags.keys():
            if key.lower() == "genre":
                return list(tags[key])
        return []

    def set_genres(self, tags: Any, values: list[str]) -> None:
        for key in [k for k in tags.keys() if k.lower() == "genre"]:
            del tags[key]
        if values:
            tags["Genre"] = values

    def private(self, tags: Any) -> Optional[str]:
        for key in tags.keys():
            if key.upper() == self.private_key:
                return str(tags[key])
        return None

    def set_private(self, tags: Any, value: Optional[str]) -> None:
        for key in [k for k in tags.keys() if k.upper() == self.private_key]:
            del tags[key]
        if value is not None:
            tags[self.private_key] = value

    def others(self, tags: Any) -> dict[str, str]:
        return {k: _fingerprint(bytes(v.value) if hasattr(v, "value") and isinstance(v.value, bytes) else str(v))
                for k, v in tags.items() if k.lower() != "genre" and k.upper() != self.private_key}


def _remove(tags: Any, key: str) -> None:
    """``del tags[key]`` if present (mutagen's tag dicts do not all take ``pop(key, default)``)."""
    if key in tags:
        del tags[key]


def _fingerprint(value: Any) -> str:
    text = value if isinstance(value, (bytes, bytearray)) else repr(value).encode("utf-8", "replace")
    return hashlib.sha1(bytes(text)).hexdigest()


def _format_of(media: Any) -> _Format:
    from mutagen.apev2 import APEv2File
    from mutagen.asf import ASF
    from mutagen.id3 import ID3FileType
    from mutagen.mp4 import MP4

    kind = type(media).__module__
    if isinstance(media, MP4):
        return _Mp4()
    if isinstance(media, ASF):
        return _Asf()
    if isinstance(media, APEv2File) or kind.endswith(("monkeysaudio", "wavpack", "musepack", "tak", "optimfrog")):
        return _Ape()
    if isinstance(media, ID3FileType) or kind.endswith(("aiff", "wave", "dsf", "trueaudio", "dsdiff")):
        return _Id3()
    if kind.endswith(("flac", "oggvorbis", "oggopus", "oggspeex", "oggflac")):
        return _Vorbis()
    raise TagError(f"{type(media).__name__} files are not supported for tagging; it was left untouched.")


@dataclass(frozen=True)
class FileTags:
    genres: list[str]
    private: Optional[str]
    others: dict[str, str]  # every other tag, fingerprinted
    id3_version: Optional[int]  # 3 or 4 for ID3 files that have a tag
    audio: tuple  # length, sample rate, channels: what mutagen sees of the stream


def read_tags(path: Path) -> FileTags:
    """The genre, private field and a fingerprint of every other tag, as a save would keep them."""
    _regular_file(Path(path))
    media = _open(Path(path))
    fmt = _format_of(media)
    tags = media.tags
    info = media.info
    audio = (round(getattr(info, "length", 0) or 0, 3), getattr(info, "sample_rate", None),
             getattr(info, "channels", None))
    if tags is None:
        return FileTags([], None, {}, None, audio)
    version = _id3_save_version(tags) if isinstance(fmt, _Id3) else None
    return FileTags(fmt.genres(tags), fmt.private(tags), fmt.others(tags), version, audio)


def _open(path: Path) -> Any:
    """The file as mutagen reads it, an ID3 tag frame for frame as stored.  mutagen's default
    reading turns a v2.3 tag into v2.4 frames (and drops the few v2.4 has no place for); saved back
    as v2.3, those frames would no longer be the ones the file had."""
    import mutagen

    try:
        media = mutagen.File(path)
        if media is not None and isinstance(_format_of(media), _Id3):
            media = type(media)(path, translate=False)
            if media.tags is not None and media.tags.version[:2] not in ((2, 3), (2, 4)):
                media.tags.update_to_v23()
    except TagError:
        raise
    except Exception as exc:  # every mutagen error means the same here: cannot read its tags
        raise TagError(f"Its tags cannot be read ({_reason(exc)}); it was left untouched.") from None
    if media is None:
        raise TagError("It is not an audio file mutagen knows; it was left untouched.")
    return media


def _write_tags(path: Path, genres: list[str], private: Optional[str], keep_private: bool) -> None:
    """Write the genre (and private field) into the file at ``path``.

    An optional tag block (ID3, APEv2) left with nothing in it is removed instead of saved empty:
    an MP3, WAV or AIFF that had no tag before a batch is byte for byte itself again after its
    undo.  (An empty block the file had before is removed too; it held nothing.)
    """
    media = _open(path)
    fmt = _format_of(media)
    if media.tags is None:
        media.add_tags()
    fmt.set_genres(media.tags, genres)
    if not keep_private:
        fmt.set_private(media.tags, private)
    if fmt.optional_block and not media.tags and not getattr(media.tags, "unknown_frames", None):
        media.delete()
    elif isinstance(fmt, _Id3):
        media.save(v2_version=_id3_save_version(media.tags), v23_sep=None)  # multiple values stay as stored
    else:
        media.save()


# -- planning -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanItem:
    track_id: int
    path: str
    old: list[str]  # as last read by the app (the file is read again when writing)
    new: list[str]
    class_name: str
    genre: str  # the class's genre text
    source: str  # the label's source, or "model"
    confidence: Optional[float]


@dataclass
class Plan:
    items: list[PlanItem] = field(default_factory=list)
    unchanged: int = 0
    no_decision: int = 0  # neither labelled nor predicted surely enough
    mode: Mode = "replace"
    private: bool = False


def new_genres(old: Sequence[str], genre: str, mode: Mode) -> list[str]:
    if mode == "replace":
        return [genre]
    if mode == "fill":
        return list(old) if any(g.strip() for g in old) else [genre]
    if genre.lower() in (g.lower() for g in old):
        return list(old)
    return [*old, genre]


@collector_paused()  # a million items to build, none in a cycle
def plan(project: Project, track_ids: Optional[Sequence[int]] = None, mode: Mode = "replace",
         min_confidence: float = 0.9, private: bool = False, classes: Optional[Sequence[str]] = None) -> Plan:
    """What would be written: each track's label (any source but the model's), else the model's
    prediction when at least ``min_confidence`` sure; genre text from the class set.  ``classes``
    keeps only the tracks decided as one of them."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    genre_of = {c.name: c.genre or c.name for c in project.classes()}
    labels = project.track_labels()
    stored = project.predictions()
    predicted: dict[int, tuple[str, float]] = {}
    if stored is not None:  # in whole arrays: a call per track took seconds for a million
        best = np.array(stored.classes)[stored.probabilities.argmax(axis=1)].tolist()
        sure = stored.probabilities.max(axis=1).astype(float).tolist()
        predicted = dict(zip(stored.track_ids.tolist(), zip(best, sure)))
    # Each track's genre read out of its tags by SQLite, not by parsing every tag set in Python
    # (0.5 s of a million tracks' plan).
    rows = project.db.execute("SELECT id, path, json_extract(tags, '$.genre') FROM tracks ORDER BY path").fetchall()
    wanted = set(track_ids) if track_ids is not None else None
    result = Plan(mode=mode, private=private)
    for track_id, stored, old_text in rows:
        if wanted is not None and track_id not in wanted:
            continue
        path = loaded_path(stored)
        label = labels.get(track_id)
        if label is not None and label.source != "model":
            class_name, source, confidence = label.class_name, label.source, None
        elif track_id in predicted and predicted[track_id][1] >= min_confidence and predicted[track_id][0] in genre_of:
            class_name, source, confidence = predicted[track_id][0], "model", predicted[track_id][1]
        else:
            result.no_decision += 1
            continue
        if classes is not None and class_name not in classes:
            continue
        old = [g.strip() for g in old_text.split(";")] if old_text else []
        genre = genre_of.get(class_name, class_name)
        new = new_genres(old, genre, mode)
        if new == old and not private:
            result.unchanged += 1
            continue
        result.items.append(PlanItem(track_id, path, old, new, class_name, genre, source, confidence))
    return result


# -- applying -------------------------------------------------------------------------------------


@dataclass
class ApplyReport:
    batch_id: Optional[int] = None
    written: int = 0
    unchanged: int = 0
    errors: list[ItemError] = field(default_factory=list)
    cancelled: bool = False
    remaining: int = 0  # after an undo: files of the batch that still hold what it wrote


def _private_text(item: PlanItem) -> str:
    return item.class_name if item.confidence is None else f"{item.class_name} ({item.confidence:.2f})"


def safe_write(path: Path, change: Callable[[FileTags], tuple[list[str], Optional[str], bool]],
               keep_mtime: bool = False, original: Optional[TagRegion] = None,
               on_verified: Optional[Callable[[Optional[TagRegion]], None]] = None) -> tuple[FileTags, FileTags]:
    """Write a copy, verify it, then replace the original with it.

    ``change(current) -> (genres, private, keep_private)``.  Returns the tags before and after.
    ``original``, the region an earlier write replaced, is put back byte for byte while the file
    is still as that write left it (else the tags are written as usual).  ``on_verified`` hears,
    just before the replace, which bytes this write replaces (None when too many to keep), for a
    byte-exact undo.  Raises TagError (and nothing else: a batch goes on whatever one file does);
    the original is untouched unless the final ``os.replace`` happened.
    """
    target, status = _writable_target(Path(path))
    before = read_tags(target)
    genres, private, keep_private = change(before)
    temp = _temp_path(target)
    try:
        region = original if original is not None and original.matches(target) else None
        _copy_beside(target, status, temp, region)
        if region is None:
            _write_tags_of(temp, genres, private, keep_private)
        after = read_tags(temp)
        problem = _verify(before, after, genres, private, keep_private)
        if problem:
            raise TagError(f"Verification failed ({problem}); the file is unchanged.")
        if keep_mtime:
            os.utime(temp, ns=(status.st_atime_ns, status.st_mtime_ns))
        if on_verified is not None:
            try:
                on_verified(TagRegion.between(target, temp))
            except sqlite3.Error as exc:  # the journal: without it, no undo, so no write
                raise TagError(f"The project could not record the file's old tag ({exc}); "
                               "the file is unchanged.") from None
        os.replace(temp, target)
        return before, after
    except OSError as exc:  # the replace either happened whole or not at all
        raise TagError(f"The written copy could not take the file's place ({_reason(exc)}); "
                       "the file is unchanged.") from None
    finally:
        _discard(temp)


def _write_tags_of(temp: Path, genres: list[str], private: Optional[str], keep_private: bool) -> None:
    """``_write_tags`` with every error it can meet turned into a reason."""
    try:
        _write_tags(temp, genres, private, keep_private)
    except TagError:
        raise
    except Exception as exc:  # mutagen's errors, struct's size limits, and OSError (disk full)
        raise TagError(f"Writing the tag failed ({_reason(exc)}); the file is unchanged.") from None


Span = tuple[int, int, bytes]  # where in the written file, how many bytes there, the bytes they replaced


@dataclass(frozen=True)
class TagRegion:
    """The bytes one write replaced: in which spans of the written file, what they were, and a
    digest of what took their place (to know the file is still as written).  A tag lives in one
    place (ID3 at the start, APEv2 at the end, a container's metadata where it is) plus, in RIFF and
    IFF files, a size field in the header; so this is usually a few kilobytes, and undo gives the
    file back exactly, padding and frame order included.  A change that moves more than
    REGION_MAX bytes (a cover picture stored after the genre) is not kept: the project would grow
    by the pictures of a whole collection; such a file's undo writes the old values instead."""

    spans: tuple[Span, ...]
    new_digest: str
    file_size: int

    @classmethod
    def between(cls, before: Path, after: Path) -> Optional[TagRegion]:
        """How ``after`` differs from ``before``; None when that is more than REGION_MAX bytes."""
        sizes = before.stat().st_size, after.stat().st_size
        with open(before, "rb") as old, open(after, "rb") as new:
            found = [spans for spans in (_moved_spans(old, new, *sizes), _aligned_spans(old, new, *sizes))
                     if spans is not None]
            if not found:
                return None
            spans = min(found, key=lambda spans: sum(len(s[2]) for s in spans))
            return cls(tuple(spans), _digest(new, spans), sizes[1])

    def matches(self, path: Path) -> bool:
        """Whether ``path`` still holds what the write left."""
        with open(path, "rb") as file:
            return (os.fstat(file.fileno()).st_size == self.file_size
                    and _digest(file, self.spans) == self.new_digest)

    def copy(self, source: BinaryIO, out: BinaryIO) -> None:
        """Write ``source`` (the written file) to ``out`` as it was before the write."""
        position = 0
        for offset, length, old in self.spans:
            _copy_bytes(source, out, offset - position)
            out.write(old)
            source.seek(offset + length)
            position = offset + length
        shutil.copyfileobj(source, out, CHUNK)

    def to_bytes(self) -> bytes:
        """One blob for the journal: a JSON line, then the old bytes."""
        head = {"spans": [[offset, length, len(old)] for offset, length, old in self.spans],
                "new_digest": self.new_digest, "file_size": self.file_size}
        return json.dumps(head).encode("ascii") + b"\n" + b"".join(old for _, _, old in self.spans)

    @classmethod
    def from_bytes(cls, blob: bytes) -> TagRegion:
        line, _, rest = blob.partition(b"\n")
        head = json.loads(line)
        spans, at = [], 0
        for offset, length, size in head["spans"]:
            spans.append((offset, length, rest[at:at + size]))
            at += size
        return cls(tuple(spans), head["new_digest"], head["file_size"])


def _digest(file: BinaryIO, spans: Sequence[Span]) -> str:
    digest = hashlib.sha256()
    for offset, length, _ in spans:
        file.seek(offset)
        digest.update(file.read(length))
    return digest.hexdigest()


def _moved_spans(old: BinaryIO, new: BinaryIO, size_old: int, size_new: int) -> Optional[list[Span]]:
    """One span between the common start and the common end: a tag that grew or shrank in place,
    moving what follows it (ID3 before an MP3 stream, FLAC metadata, an MP4 ``moov`` first)."""
    old.seek(0)
    new.seek(0)
    start = _common_prefix(old, new)
    end = _common_suffix(old, new, size_old, size_new, min(size_old, size_new) - start)
    if size_old - start - end > REGION_MAX:
        return None
    old.seek(start)
    return [(start, size_new - start - end, old.read(size_old - start - end))]


def _aligned_spans(old: BinaryIO, new: BinaryIO, size_old: int, size_new: int) -> Optional[list[Span]]:
    """The bytes that differ where both files have them, then what one has past the other's end:
    a size field in a header plus a chunk added or dropped at the end (WAV, AIFF)."""
    import numpy as np

    spans: list[Span] = []
    kept = 0
    old.seek(0)
    new.seek(0)
    for base in range(0, min(size_old, size_new), CHUNK):
        x, y = old.read(CHUNK), new.read(CHUNK)
        n = min(len(x), len(y))
        differ = np.frombuffer(x, np.uint8, n) != np.frombuffer(y, np.uint8, n)
        edges = np.flatnonzero(np.diff(np.concatenate(([False], differ, [False])).astype(np.int8)))
        for first, stop in zip(edges[::2].tolist(), edges[1::2].tolist()):
            spans.append((base + first, stop - first, x[first:stop]))
            kept += stop - first
        if kept > REGION_MAX or len(spans) > SPANS_MAX:
            return None
    if size_old > size_new:
        old.seek(size_new)
        spans.append((size_new, 0, old.read(size_old - size_new)))
    elif size_new > size_old:
        spans.append((size_old, size_new - size_old, b""))
    if kept + max(0, size_old - size_new) > REGION_MAX:
        return None
    return _joined(spans)


def _joined(spans: list[Span]) -> list[Span]:
    """Adjacent spans as one (a difference that crosses a chunk boundary)."""
    joined: list[Span] = []
    for span in spans:
        if joined and joined[-1][0] + joined[-1][1] == span[0]:
            offset, length, old = joined.pop()
            span = (offset, length + span[1], old + span[2])
        joined.append(span)
    return joined


def _common_prefix(a: BinaryIO, b: BinaryIO) -> int:
    done = 0
    while True:
        x, y = a.read(CHUNK), b.read(CHUNK)
        same = _first_difference(x, y)
        done += same
        if same < CHUNK:
            return done


def _common_suffix(a: BinaryIO, b: BinaryIO, size_a: int, size_b: int, limit: int) -> int:
    """Bytes the two files end with alike, at most ``limit`` (so as not to count the prefix twice)."""
    done = 0
    while done < limit:
        n = min(CHUNK, limit - done)
        a.seek(size_a - done - n)
        b.seek(size_b - done - n)
        same = _first_difference(a.read(n)[::-1], b.read(n)[::-1])
        done += same
        if same < n:
            break
    return done


def _first_difference(x: bytes, y: bytes) -> int:
    """The length of the common start of ``x`` and ``y`` (a binary search of C comparisons)."""
    low, high = 0, min(len(x), len(y))
    while low < high:
        middle = (low + high + 1) // 2
        if x[low:middle] == y[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _regular_file(path: Path) -> os.stat_result:
    """The status of the file ``path`` names, if it is a regular file: a pipe or a device named like
    a track would block or never end when read."""
    try:
        status = path.stat()
    except FileNotFoundError:
        raise TagError("The file is gone (moved or deleted since it was imported).") from None
    except OSError as exc:  # a loop of symbolic links, a name too long, a folder it cannot enter
        raise TagError(f"The file cannot be reached ({_reason(exc)}).") from None
    if not stat.S_ISREG(status.st_mode):
        raise TagError("It is not a regular file (a folder, a pipe or a device); it was left untouched.")
    return status


def _writable_target(path: Path) -> tuple[Path, os.stat_result]:
    """The real file behind ``path`` and its status, or the reason it must not be replaced.

    A symbolic link is resolved so that the tag reaches the file it names and the link stays a
    link.  A file with other hard links is refused rather than written in place: only a replace
    is safe against a crash or a full disk (a file rewritten in place can be left half old, half
    new), and a replace gives a new file to this name alone, splitting it from the others.
    Read-only by its mode bits counts too: even for root, a file someone protected stays as it is.
    """
    status = _regular_file(path)
    target = Path(os.path.realpath(path))
    if status.st_nlink > 1:
        raise TagError(f"The file has {status.st_nlink} hard links and writing it would split them; "
                       "it was left untouched.")
    if not os.access(target, os.W_OK) or not status.st_mode & stat.S_IWUSR:
        raise TagError("The file is read-only; it was left untouched.")
    return target, status


def _temp_path(target: Path) -> Path:
    """A hidden name beside ``target`` that ends in its extension (mutagen tells some formats by
    it) and fits in one file name: a long name is replaced by its hash."""
    suffix = target.suffix if len(os.fsencode(target.suffix)) <= 16 else ""
    name = f".{target.name}{TEMP_MARK}{suffix}"
    if len(os.fsencode(name)) > NAME_MAX:
        name = f".{hashlib.sha1(os.fsencode(target.name)).hexdigest()}{TEMP_MARK}{suffix}"
    return target.with_name(name)


def _copy_beside(source: Path, status: os.stat_result, temp: Path, region: Optional[TagRegion] = None) -> None:
    """Copy ``source`` to ``temp`` (with ``region``'s old bytes in place of its new ones), with its
    owner, group, mode, times and extended attributes.

    The copy is private until complete (mode 600) and never written through a link planted at
    its name.  A copy that cannot take the owner and group is refused: replacing the original
    with it would hand the file to whoever runs the app.
    """
    _discard(temp)  # a copy left behind by a killed run
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out, open(source, "rb") as original:
            if region is None:
                shutil.copyfileobj(original, out, CHUNK)
            else:
                region.copy(original, out)
        made = temp.stat()
        if (made.st_uid, made.st_gid) != (status.st_uid, status.st_gid):
            _give_to_owner(temp, status)
        shutil.copystat(source, temp)  # after chown, which clears set-user-ID bits
    except OSError as exc:
        raise TagError(f"The copy to write cannot be made beside the file ({_reason(exc)}); "
                       "the file is unchanged.") from None


def _copy_bytes(source: BinaryIO, out: BinaryIO, count: int) -> None:
    while count > 0:
        data = source.read(min(CHUNK, count))
        if not data:
            raise OSError(errno.EIO, "the file got shorter while it was copied")
        out.write(data)
        count -= len(data)


def _give_to_owner(temp: Path, status: os.stat_result) -> None:
    try:
        os.chown(temp, status.st_uid, status.st_gid)
    except OSError:
        raise TagError("Its owner and group could not be kept (only its owner or an administrator can); "
                       "it was left untouched.") from None


def _discard(temp: Path) -> None:
    """Remove a copy that did not take the file's place.  Never raises: a folder that became
    read-only must not stop the batch, which reports the file itself."""
    try:
        if os.path.lexists(temp):
            temp.unlink()
    except OSError as exc:
        log.warning("could not remove %s: %s", temp, exc)


def _reason(exc: BaseException) -> str:
    """An exception as words for the user: the system's own message for file errors; for the
    errors whose text says nothing to a user (struct's size limits, text codecs, mutagen's empty
    messages), what they mean."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, struct.error):
        return "the file is too large for its format's size fields (over 4 GB)"
    if isinstance(exc, UnicodeError):
        return "one of its tags holds text its format cannot store, so it cannot be written back as it is"
    if exc.args and isinstance(exc.args[0], BaseException):  # mutagen wraps the error it met
        return _reason(exc.args[0])
    return str(exc).strip(" ;:") or "the tag data is damaged or cut short"


def _verify(before: FileTags, after: FileTags, genres: list[str], private: Optional[str], keep_private: bool) -> str:
    if after.genres != genres:
        return f"the genre reads {after.genres!r}, not {genres!r}"
    if not keep_private and after.private != private:
        return "the private field did not read back"
    if after.others != before.others:
        changed = sorted(set(after.others.items()) ^ set(before.others.items()))
        return f"other tags changed: {', '.join(sorted({k for k, _ in changed}))}"
    if after.audio != before.audio:
        return "the audio stream reads differently"
    return ""


def _discard_leftover_copy(entry: TagChange) -> None:
    """Remove the copy a killed run was writing beside this entry's file, if any."""
    _discard(_temp_path(Path(os.path.realpath(entry.path))))


def settle_interrupted(project: Project) -> None:
    """Bring the journal back in step with the files after a run that was killed between
    journalling a file and recording the outcome: read each such file and record what it holds
    (so the project shows the file's real genre, and undo knows what is left), and remove the
    copy it was writing."""
    for entry in project.pending_tag_changes():
        _discard_leftover_copy(entry)
        if entry.new_genres == entry.old_genres:
            continue  # only the private field changed: undo will tell by reading the file
        try:
            genres = read_tags(Path(entry.path)).genres
        except TagError:
            continue  # unreadable now: stays pending, undo reports it
        if genres == entry.new_genres:
            project.finish_tag_change(entry.id, entry.track_id, entry.new_genres)
        elif genres == entry.old_genres:
            project.mark_tag_change(entry.id, "failed", "The run stopped before this file was written.")


def apply(project: Project, the_plan: Plan, progress: Optional[ProgressCallback] = None,
          cancel: Optional[CancelToken] = None, keep_mtime: bool = False) -> ApplyReport:
    """Write the plan, file by file; each file is either old or new, whatever happens.  The old
    values (and the bytes the write replaces) are journalled before a file is replaced, so a batch
    cut short can still be undone.  A run after a killed one continues its batch (see
    ``Project.start_tag_batch``)."""
    progress = report(progress)
    settle_interrupted(project)
    result = ApplyReport(batch_id=project.start_tag_batch(the_plan.mode, f"{len(the_plan.items):,} files"))
    for i, item in enumerate(the_plan.items):
        if cancel is not None and cancel.cancelled:
            result.cancelled = True
            break
        progress(Progress(i, len(the_plan.items), Path(item.path).name))
        private = _private_text(item) if the_plan.private else None

        def change(current: FileTags, item: PlanItem = item, private: Optional[str] = private
                   ) -> tuple[list[str], Optional[str], bool]:
            return new_genres(current.genres, item.genre, the_plan.mode), private, not the_plan.private

        entry = None
        try:
            before = read_tags(Path(item.path))
            new = change(before)[0]
            if new == before.genres and (not the_plan.private or before.private == private):
                result.unchanged += 1
                continue
            entry = project.journal_tag_change(result.batch_id, item.track_id, item.path, before.genres,
                                               before.private, new)
            safe_write(Path(item.path), change, keep_mtime,
                       on_verified=lambda region, entry=entry: project.keep_tag_original(
                           entry, region.to_bytes() if region is not None else None))
            project.finish_tag_change(entry, item.track_id, new)
            result.written += 1
        except TagError as exc:
            if entry is not None:
                project.mark_tag_change(entry, "failed", str(exc))
            result.errors.append(ItemError(item.path, "tag", str(exc)))
    project.finish_tag_batch(result.batch_id)
    progress(Progress(len(the_plan.items), len(the_plan.items), "done"))
    return result


def undo(project: Project, batch_id: Optional[int] = None, progress: Optional[ProgressCallback] = None,
         cancel: Optional[CancelToken] = None, only: Optional[Sequence[str]] = None) -> ApplyReport:
    """Put back what a batch replaced — the newest batch with files still changed by default; with
    ``only``, just those files.  Each file gets its old bytes back where they were kept and the
    file is still as the batch left it, else its old genre and private field.  The batch counts as
    undone only once none of its files holds what it wrote (``ApplyReport.remaining`` says how
    many still do)."""
    progress = report(progress)
    settle_interrupted(project)
    batch_id = batch_id or project.last_tag_batch()
    result = ApplyReport(batch_id=batch_id)
    if batch_id is None:
        return result
    entries = project.tag_changes(batch_id)
    if only is not None:
        wanted = {str(Path(p).resolve()) for p in only}
        entries = [e for e in entries if str(Path(e.path).resolve()) in wanted]
    for i, entry in enumerate(entries):
        if cancel is not None and cancel.cancelled:
            result.cancelled = True
            break
        progress(Progress(i, len(entries), Path(entry.path).name))
        try:
            current = read_tags(Path(entry.path))
            if current.genres == entry.old_genres and current.private == entry.old_private:
                _discard_leftover_copy(entry)
                project.finish_tag_change(entry.id, entry.track_id, list(entry.old_genres), "undone")
                result.unchanged += 1
                continue
            kept = project.tag_original(entry.id)
            original = TagRegion.from_bytes(kept) if kept else None
            safe_write(Path(entry.path), lambda _now, e=entry: (list(e.old_genres), e.old_private, False),
                       original=original)
            project.finish_tag_change(entry.id, entry.track_id, list(entry.old_genres), "undone")
            result.written += 1
        except TagError as exc:
            result.errors.append(ItemError(entry.path, "undo", str(exc)))
    project.close_tag_batch(batch_id)
    result.remaining = project.changed_files(batch_id)
    progress(Progress(len(entries), len(entries), "done"))
    return result
