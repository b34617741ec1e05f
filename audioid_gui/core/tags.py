"""Write each track's class into its file as genre text — never damaging a file, always undoable.

The one module that changes the user's audio files.  For every file: copy it to a temporary file
beside the original, write the copy, re-open it and check that the genre is the new one and that
no other tag changed, journal the old values in the project, then atomically replace the original
(``os.replace``: a reader sees the old file or the new one, never half of either).  A file that
fails any step is reported and left as it was; the batch goes on.  Undo writes the journalled
values back the same way.

Formats (mutagen): ID3 (MP3, AIFF, WAV, DSF, TrueAudio; ``TCON``), Vorbis comments (FLAC, Ogg
Vorbis/Opus/Speex/FLAC; ``GENRE``), MP4 (``©gen``, replacing a numeric ``gnre``), ASF/WMA
(``WM/Genre``) and APEv2 (Monkey's Audio, WavPack, Musepack, TAK, OptimFROG; ``Genre``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Sequence

from .project import Project
from .tasks import CancelToken, ItemError, Progress, ProgressCallback, report

Mode = Literal["replace", "append", "fill"]
MODES = ("replace", "append", "fill")
PRIVATE_KEY = "AUDIOID_CLASS"  # where the class and confidence go when asked (TXXX, Vorbis, freeform)
TEMP_SUFFIX = ".audioid-tmp"


class TagError(Exception):
    """One file could not be tagged; the message says why, the file is unchanged."""


# -- what each tag format calls a genre -----------------------------------------------------------


class _Format:
    """Reads and writes the genre (and our private field) of one family of tag formats, and lists
    every other tag so that a write can prove it touched nothing else."""

    genre_keys: tuple[str, ...] = ()
    private_key = PRIVATE_KEY

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
    def genres(self, tags: Any) -> list[str]:
        frame = tags.get("TCON")
        values = list(frame.genres) if frame is not None else []
        if getattr(tags, "version", (2, 4, 0))[1] < 4:  # ID3v2.3 has one text: several genres are "A/B"
            values = [part.strip() for value in values for part in value.split("/") if part.strip()]
        return values

    def set_genres(self, tags: Any, values: list[str]) -> None:
        from mutagen.id3 import TCON

        tags.delall("TCON")
        if values:
            tags.add(TCON(encoding=3, text=values))

    def private(self, tags: Any) -> Optional[str]:
        frame = tags.get(f"TXXX:{self.private_key}")
        return str(frame.text[0]) if frame is not None and frame.text else None

    def set_private(self, tags: Any, value: Optional[str]) -> None:
        from mutagen.id3 import TXXX

        tags.delall(f"TXXX:{self.private_key}")
        if value is not None:
            tags.add(TXXX(encoding=3, desc=self.private_key, text=[value]))

    def others(self, tags: Any) -> dict[str, str]:
        return {key: _fingerprint(frame.data if hasattr(frame, "data") else repr(frame))
                for key, frame in tags.items() if key != "TCON" and key != f"TXXX:{self.private_key}"}


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
    raise TagError(f"{type(media).__name__} files are not supported for tagging; left untouched")


@dataclass(frozen=True)
class FileTags:
    genres: list[str]
    private: Optional[str]
    others: dict[str, str]  # every other tag, fingerprinted
    id3_version: Optional[int]  # 3 or 4 for ID3 files that have a tag
    audio: tuple  # length, sample rate, channels: what mutagen sees of the stream


def read_tags(path: Path) -> FileTags:
    import mutagen

    if not Path(path).is_file():
        raise TagError("the file is gone (moved or deleted since it was imported)")
    try:
        media = mutagen.File(path)
    except Exception as exc:  # every mutagen error means the same here: cannot read its tags
        raise TagError(f"cannot read its tags ({exc})") from None
    if media is None:
        raise TagError("not an audio file mutagen knows; left untouched")
    fmt = _format_of(media)
    tags = media.tags
    info = media.info
    audio = (round(getattr(info, "length", 0) or 0, 3), getattr(info, "sample_rate", None),
             getattr(info, "channels", None))
    if tags is None:
        return FileTags([], None, {}, None, audio)
    version = tags.version[1] if isinstance(fmt, _Id3) and hasattr(tags, "version") else None
    return FileTags(fmt.genres(tags), fmt.private(tags), fmt.others(tags), version, audio)


def _write_tags(path: Path, genres: list[str], private: Optional[str], keep_private: bool) -> None:
    import mutagen

    media = mutagen.File(path)
    if media is None:
        raise TagError("not an audio file mutagen knows; left untouched")
    fmt = _format_of(media)
    if media.tags is None:
        media.add_tags()
    version = getattr(media.tags, "version", (2, 4, 0))
    fmt.set_genres(media.tags, genres)
    if not keep_private:
        fmt.set_private(media.tags, private)
    if isinstance(fmt, _Id3):
        # Keep the file's ID3 version (2.2 has no writer: it becomes 2.3, what most players read).
        media.save(v2_version=4 if version[1] == 4 else 3)
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
    if stored is not None:
        for t, row in zip(stored.track_ids.tolist(), stored.probabilities):
            best = int(row.argmax())
            predicted[t] = (stored.classes[best], float(row[best]))
    rows = project.db.execute("SELECT id, path, tags FROM tracks ORDER BY path").fetchall()
    wanted = set(track_ids) if track_ids is not None else None
    result = Plan(mode=mode, private=private)
    for track_id, path, tags_json in rows:
        if wanted is not None and track_id not in wanted:
            continue
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
        old_text = (json.loads(tags_json) if tags_json else {}).get("genre")
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


def _private_text(item: PlanItem) -> str:
    return item.class_name if item.confidence is None else f"{item.class_name} ({item.confidence:.2f})"


def safe_write(path: Path, change: Callable[[FileTags], tuple[list[str], Optional[str], bool]],
               keep_mtime: bool = False) -> tuple[FileTags, FileTags]:
    """Write a copy, verify it, then replace the original with it.

    ``change(current) -> (genres, private, keep_private)``.  Returns the tags before and after.
    Raises TagError; the original is untouched unless the final ``os.replace`` happened.
    """
    path = Path(path)
    before = read_tags(path)
    genres, private, keep_private = change(before)
    temp = path.with_name(f".{path.name}{TEMP_SUFFIX}")
    try:
        try:
            shutil.copy2(path, temp)  # keeps permissions and times
        except OSError as exc:
            raise TagError(f"cannot write beside the file ({exc.strerror or exc})") from None
        try:
            _write_tags(temp, genres, private, keep_private)
        except TagError:
            raise
        except Exception as exc:  # mutagen's errors, and OSError (disk full)
            raise TagError(f"writing the tag failed ({exc}); the file is unchanged") from None
        after = read_tags(temp)
        problem = _verify(before, after, genres, private, keep_private)
        if problem:
            raise TagError(f"verification failed ({problem}); the file is unchanged")
        # Read-only by its mode bits too: even for root, a file someone protected stays untouched.
        if not os.access(path, os.W_OK) or not path.stat().st_mode & stat.S_IWUSR:
            raise TagError("the file is read-only; left unchanged")
        if keep_mtime:
            times = path.stat()
            os.utime(temp, ns=(times.st_atime_ns, times.st_mtime_ns))
        os.replace(temp, path)
        return before, after
    finally:
        temp.unlink(missing_ok=True)


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


def apply(project: Project, the_plan: Plan, progress: Optional[ProgressCallback] = None,
          cancel: Optional[CancelToken] = None, keep_mtime: bool = False) -> ApplyReport:
    """Write the plan, file by file; each file is either old or new, whatever happens.  The old
    values are journalled before a file is replaced, so a batch cut short can still be undone."""
    progress = report(progress)
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
            safe_write(Path(item.path), change, keep_mtime)
            project.finish_tag_change(entry, item.track_id, new)
            result.written += 1
        except TagError as exc:
            if entry is not None:
                project.mark_tag_change(entry, "failed", str(exc))
            result.errors.append(ItemError(item.path, "tag", str(exc)))
    progress(Progress(len(the_plan.items), len(the_plan.items), "done"))
    return result


def undo(project: Project, batch_id: Optional[int] = None, progress: Optional[ProgressCallback] = None,
         cancel: Optional[CancelToken] = None, only: Optional[Sequence[str]] = None) -> ApplyReport:
    """Put back the genres (and private field) a batch replaced — the newest batch by default;
    with ``only``, just those files (the batch stays open for the others)."""
    progress = report(progress)
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
                project.mark_tag_change(entry.id, "undone", "already as before")
                result.unchanged += 1
                continue
            safe_write(Path(entry.path), lambda _now, e=entry: (list(e.old_genres), e.old_private, False))
            project.finish_tag_change(entry.id, entry.track_id, list(entry.old_genres), "undone")
            result.written += 1
        except TagError as exc:
            result.errors.append(ItemError(entry.path, "undo", str(exc)))
    if only is None:
        project.close_tag_batch(batch_id)
    progress(Progress(len(entries), len(entries), "done"))
    return result
