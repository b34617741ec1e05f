"""Project: the one façade over a project file.

The CLI, the tests and the GUI all go through this class; nothing else writes SQL.  One Project
holds one SQLite connection, so each thread opens its own Project on the same file.  Every write
is one short transaction: killing the process at any moment loses at most the item in progress.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import sqlite3
import stat
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from . import store
from .audio import DEFAULT_SEGMENT, AnalysedSegment, AudioInfo, SegmentSpec
from .classes import LabelClass, class_set_problems
from .library import (FileIdentity, canonical_path, find_audio_files, identity, is_audio, is_playlist, loaded_path,
                      readable, stat_failure_reason, stored_path)
from .playlists import PlaylistError, read_playlist
from .tasks import CancelToken, ItemError, Progress, ProgressCallback, report

log = logging.getLogger(__name__)

PROJECT_ENV = "AUDIOID_PROJECT"
DEFAULT_PROJECT_NAME = "audioid.sqlite"
LABEL_SOURCES = ("human", "cluster", "review", "import", "model")
HEARD_SOURCES = frozenset({"human", "review", "import"})  # labels a person gave by listening
GONE_STAGE = "gone"
GONE_MESSAGE = "file is gone (deleted or renamed)"
FEATURE_CHUNK = 20_000  # feature vectors read per step when the whole table is loaded


def default_project_path() -> Path:
    """``$AUDIOID_PROJECT``, else ``audioid.sqlite`` in the current folder."""
    return Path(os.environ.get(PROJECT_ENV) or DEFAULT_PROJECT_NAME)


def _file_mode(source: Path) -> int | str:
    """What ``source`` is (its ``st_mode``), or why it cannot be looked at: a source given on the
    command line may be anything, a path past PATH_MAX included."""
    try:
        return os.stat(source).st_mode
    except FileNotFoundError:
        return "no such file or folder"
    except OSError as exc:
        return stat_failure_reason(exc)


def _still_there(path: str) -> bool:
    """False only when the file is known to be gone: a folder that cannot be searched says nothing
    either way (its files are reported when they are opened)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:  # permission denied on a folder of the path, say: not known to be gone
        return True
    return True


def _plain_files(folder: str) -> tuple[bool, Optional[frozenset[str]]]:
    """Whether ``folder`` is there, and the names in it that are no symbolic link (a link may
    point nowhere); None when it cannot be listed (no permission, a path too long): then each
    file says for itself."""
    try:
        with os.scandir(folder or ".") as entries:
            return True, frozenset(entry.name for entry in entries if not entry.is_symlink())
    except (FileNotFoundError, NotADirectoryError):
        return False, frozenset()
    except OSError:
        return True, None


@dataclass(frozen=True)
class TrackRef:
    """What a background job needs to know of a track."""

    id: int
    path: str
    size: Optional[int]
    mtime: Optional[float]
    duration: Optional[float]


@dataclass(frozen=True)
class TrackLabel:
    class_name: str
    source: str

    @property
    def heard(self) -> bool:
        """Given by someone who listened (not propagated from a cluster, not guessed by a model)."""
        return self.source in HEARD_SOURCES


@dataclass(frozen=True)
class ErrorRecord:
    path: str
    stage: str
    message: str
    created_at: float


@dataclass(frozen=True)
class ProjectStatus:
    tracks: int
    extracted: int  # features of the current recipe and segment, from the file as it is now
    stale: int  # features exist, but of another recipe or segment, or the file changed since
    pending: int  # never extracted, and no recorded failure
    failed: int  # the last attempt failed and the file has not changed since
    labelled: int
    per_class: dict[str, int]
    by_ear: dict[str, int]  # of per_class, the labels a person gave by listening (HEARD_SOURCES)
    playlists: int
    other_errors: int  # problems not tied to a track: playlist entries pointing nowhere ...
    segment: str
    extractor_version: str


@dataclass(frozen=True)
class GoneTracks:
    """Tracks whose file is no longer where it was imported from: their features and labels stay
    in the project (and in its counts), but no tag can be written to them."""

    tracks: int
    extracted: int  # of them, with features of the current recipe and segment
    labelled: int


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    playlists: list[str] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cancelled: bool = False
    seen: set[int] = field(default_factory=set, repr=False)  # tracks already counted in this import


@dataclass(frozen=True)
class ReviewRecord:
    id: int
    playlist: str
    intended: Optional[str]
    seed: int
    items: list[int]  # track ids drawn so far, in drawing order


@dataclass(frozen=True)
class TagChange:
    id: int
    track_id: Optional[int]
    path: str
    old_genres: list[str]
    old_private: Optional[str]
    new_genres: list[str]
    state: str


@dataclass(frozen=True)
class TagBatch:
    id: int
    created_at: float
    mode: str
    description: str
    undone_at: Optional[float]
    written: int
    changed: int  # files that still hold (or may hold) what the batch wrote


@dataclass(frozen=True)
class ModelRecord:
    id: int
    created_at: float
    classes: list[str]
    grouping: dict[str, str]
    n_labels: int
    report: Optional[str]  # JSON of the cross-validated report, once computed
    blob: Optional[bytes]  # only the newest model keeps its file


@dataclass(frozen=True)
class StoredPredictions:
    model_id: int
    track_ids: np.ndarray
    classes: list[str]
    probabilities: np.ndarray  # (tracks, classes) float32


@dataclass(frozen=True)
class FeatureTable:
    """The current vectors of every track that has them, in path order (the order clustering
    and its playlists show)."""

    track_ids: np.ndarray
    paths: list[str]
    names: list[str]
    matrix: np.ndarray  # (tracks, features) float32


@dataclass(frozen=True)
class FeatureVectors:
    """The same vectors without their paths, in track-id order: all that training and
    prediction need.  A million tracks read in 4 s, where their paths, decoded and sorted, took
    4 s more."""

    track_ids: np.ndarray
    matrix: np.ndarray  # (tracks, features) float32
    names: list[str]


def listed_ints(text: Optional[str]) -> np.ndarray:
    """The integers of a ``group_concat`` (None when it had no rows): a million ids come back as
    one text in 0.2-0.6 s, where fetching them row by row took 0.7-1.3 s."""
    return np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, dtype=np.int64)


FINITE_ROWS_AT_ONCE = 4_096


def finite_rows(matrix: np.ndarray) -> np.ndarray:
    """Which rows of a feature matrix hold only finite numbers (a broken vector holds NaN),
    a block at a time: checking a million vectors in one call made a 0.1 GB array of flags."""
    finite = np.ones(len(matrix), dtype=bool)
    for first in range(0, len(matrix), FINITE_ROWS_AT_ONCE):
        finite[first:first + FINITE_ROWS_AT_ONCE] = np.isfinite(matrix[first:first + FINITE_ROWS_AT_ONCE]).all(axis=1)
    return finite


PREDICTION_ROWS_AT_ONCE = 16_384


def _prediction_rows(model_id: int, track_ids: np.ndarray, names: np.ndarray,
                     probabilities: np.ndarray) -> Iterator[tuple[int, int, str, float, bytes]]:
    """The rows of the predictions table, made a block at a time: a list of a million values
    in one call holds Python's lock for 0.1 s, and a background write of predictions froze the
    window that long."""
    for start in range(0, len(track_ids), PREDICTION_ROWS_AT_ONCE):
        block = probabilities[start:start + PREDICTION_ROWS_AT_ONCE]
        best = np.argmax(block, axis=1)
        yield from zip(track_ids[start:start + PREDICTION_ROWS_AT_ONCE].tolist(), itertools.repeat(model_id),
                       names[best].tolist(), block[np.arange(len(best)), best].astype(float).tolist(),
                       map(np.ndarray.tobytes, block))


def _ids_and_vectors(cursor: sqlite3.Cursor, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The ids and float32 vectors of rows of (id, vector blob), a chunk of rows at a time:
    no Python object per row outlives its chunk, and no single call makes a million of them
    (which holds Python's lock long enough to freeze the window while a job reads in the
    background)."""
    ids: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    while rows := cursor.fetchmany(FEATURE_CHUNK):
        ids.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
        blocks.append(np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), width))
    # Copied into the result a chunk at a time: one copy of them all touched 0.45 GB of fresh
    # memory at once (a million tracks), and the window waited for the memory it asked for meanwhile.
    matrix = np.empty((sum(len(block) for block in blocks), width), dtype=np.float32)
    at = 0
    for block in blocks:
        matrix[at:at + len(block)] = block
        at += len(block)
    return (np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)), matrix


def rows_of(track_ids: np.ndarray, wanted: Sequence[int], order: Optional[np.ndarray] = None) -> np.ndarray:
    """The row of each wanted track in ``track_ids`` (unique ids in any order), −1 where it is
    absent: a sort and a binary search, where a dictionary of every track cost a Python object
    per track (a second for a million) to look up a few thousand labels.  ``order``: the ids'
    ``argsort``, for a caller that looks up often in the same ids."""
    track_ids = np.asarray(track_ids, dtype=np.int64)
    wanted = np.asarray(wanted, dtype=np.int64)
    if not len(track_ids):
        return np.full(len(wanted), -1, dtype=np.int64)
    order = np.argsort(track_ids, kind="stable") if order is None else order
    at = np.minimum(np.searchsorted(track_ids[order], wanted), len(track_ids) - 1)
    return np.where(track_ids[order[at]] == wanted, order[at], -1)


# The tracks whose vector of a version and segment comes from their file as it is now.
_CURRENT_FEATURES = ("FROM features f JOIN tracks t ON t.id = f.track_id WHERE f.extractor_version = ? "
                     "AND f.segment = ? AND f.size IS t.size AND f.mtime IS t.mtime")


class Project:
    """An open project file."""

    def __init__(self, path: Path | str, *, create: bool = True, writer: bool = False, read_only: bool = False) -> None:
        """``writer=True`` claims the project for this program (the GUI, a scan): a second
        claimant is refused with ProjectLockedError.  Helper threads of the same program open
        without claiming.  ``read_only=True`` (commands that only look: status, errors, a dry run)
        claims nothing either, so it works while another program writes; the connection refuses
        every write (``PRAGMA query_only``), so such a command cannot change the project by mistake."""
        if writer and read_only:
            raise ValueError("a project is opened either as its writer or read-only")
        self.path = Path(path)
        self.read_only = read_only
        self._lock = store.WriterLock(self.path) if writer else None
        try:
            self.db = store.connect(self.path, create=create and not read_only, read_only=read_only)
            # A writing open refuses a damaged file; a read-only one reads what it can, and this
            # says what the caller should warn about.
            self.damage = store.damage(self.db, self.path) if read_only else None
            if read_only:
                self.db.execute("PRAGMA query_only=ON")
        except BaseException:
            self._release_lock()
            raise

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def close(self) -> None:
        try:
            self.db.close()
        finally:
            self._release_lock()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One short write transaction; rolled back if anything (even Ctrl-C) interrupts it, the
        commit included.  A full disk or a damaged page raises the matching ``store`` error, whose
        message a user can act on; the project is then as it was before the transaction."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:  # SQLite may have rolled back already (a full disk)
                    self.db.execute("ROLLBACK")
                raise
        except Exception as exc:
            problem = store.explain(exc, self.path)
            if problem is None:
                raise
            raise problem from exc

    # -- settings -------------------------------------------------------------------------------

    def _meta(self, key: str) -> Optional[str]:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        with self._write():
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def setting(self, key: str) -> Optional[str]:
        """A project-wide setting (JSON text by convention), None when never set."""
        return self._meta(f"setting.{key}")

    def set_setting(self, key: str, value: str) -> None:
        self._set_meta(f"setting.{key}", value)

    @property
    def segment(self) -> SegmentSpec:
        """The segment that features are taken from; ``last:10`` until the user picks another."""
        text = self._meta("segment")
        return SegmentSpec.parse(text) if text else DEFAULT_SEGMENT

    @segment.setter
    def segment(self, spec: SegmentSpec) -> None:
        self._set_meta("segment", str(spec))

    # -- import ---------------------------------------------------------------------------------

    def import_sources(
        self,
        sources: Iterable[Path | str],
        progress: Optional[ProgressCallback] = None,
        cancel: Optional[CancelToken] = None,
    ) -> ImportReport:
        """Add folders (recursively), playlists and single files.  Each problem becomes an error
        record; the import goes on.  Importing a file twice yields one track."""
        progress = report(progress)
        result = ImportReport()
        batch: list[Path] = []
        found = 0

        def flush() -> None:
            self._add_files(batch, result)
            batch.clear()

        def unlisted(folder: str, why: str) -> None:
            result.errors.append(ItemError(folder, "import", why))

        for source in sources:
            source = canonical_path(source)
            if cancel is not None and cancel.cancelled:
                result.cancelled = True
                break
            mode = _file_mode(source)
            if isinstance(mode, str):
                result.errors.append(ItemError(str(source), "import", mode))
            elif stat.S_ISDIR(mode):
                for file in find_audio_files(source, unlisted):
                    batch.append(file)
                    found += 1
                    if len(batch) >= 500:
                        flush()
                        progress(Progress(found, 0, f"found {found:,} files"))
                    if cancel is not None and cancel.cancelled:
                        result.cancelled = True
                        break
            elif is_playlist(source) and stat.S_ISREG(mode):
                flush()
                self._import_playlist(source, result)
            elif is_audio(source) and stat.S_ISREG(mode):
                batch.append(source)
                found += 1
            else:
                result.errors.append(ItemError(str(source), "import", "not an audio file, folder or playlist"))
        flush()
        self.record_path_errors(result.errors)
        progress(Progress(found, 0, f"found {found:,} audio files"))
        return result

    def _import_playlist(self, source: Path, result: ImportReport) -> None:
        """Import the entries that can be tracks; each one that cannot (gone, not audio, a pipe, a
        name no file system allows) is one error with its sentence, and the rest imports."""
        try:
            playlist = read_playlist(source)
        except PlaylistError as exc:
            result.errors.append(ItemError(str(source), "playlist", str(exc)))
            return
        present, problems = playlist.importable()
        result.errors.extend(ItemError(path, "playlist", why) for path, why in [*playlist.errors, *problems])
        result.notes.extend(f"{readable(source.name)}: {readable(written)}: {why}" for written, why in playlist.skipped)
        ids = self._add_files([entry.path for entry in present], result)
        result.playlists.append(self._save_playlist(playlist.name, source, ids))

    def _add_files(self, paths: Sequence[Path], result: ImportReport) -> list[int]:
        """Insert new tracks, refresh the identity of changed ones; returns ids in input order."""
        ids: list[int] = []
        now = time.time()
        with self._write():
            for path in paths:
                try:
                    ident: Optional[FileIdentity] = identity(path)
                except OSError as exc:
                    result.errors.append(ItemError(str(path), "import", stat_failure_reason(exc)))
                    continue
                key = stored_path(path)
                row = self.db.execute("SELECT id, size, mtime FROM tracks WHERE path = ?", (key,)).fetchone()
                if row is None:
                    cursor = self.db.execute(
                        "INSERT INTO tracks(path, size, mtime, added_at) VALUES (?, ?, ?, ?)",
                        (key, ident.size, ident.mtime, now),
                    )
                    ids.append(int(cursor.lastrowid))
                    result.seen.add(ids[-1])
                    result.added += 1
                    continue
                ids.append(row[0])
                if row[0] in result.seen:
                    continue
                result.seen.add(row[0])
                if (row[1], row[2]) == (ident.size, ident.mtime):
                    result.unchanged += 1
                else:
                    self.db.execute(
                        "UPDATE tracks SET size = ?, mtime = ? WHERE id = ?", (ident.size, ident.mtime, row[0])
                    )
                    result.updated += 1
        return ids

    def _save_playlist(self, name: str, source: Path, track_ids: Sequence[int]) -> str:
        """Remember a playlist as a named track list; re-importing the same file replaces it."""
        with self._write():
            row = self.db.execute("SELECT id, name FROM playlists WHERE source_path = ?", (stored_path(source),)).fetchone()
            if row is not None:
                playlist_id, name = row
                self.db.execute("DELETE FROM playlist_tracks WHERE playlist_id = ?", (playlist_id,))
                self.db.execute("UPDATE playlists SET imported_at = ? WHERE id = ?", (time.time(), playlist_id))
            else:
                taken = {r[0] for r in self.db.execute("SELECT name FROM playlists")}
                base = name = readable(name)
                n = 2
                while name in taken:
                    name, n = f"{base} ({n})", n + 1
                playlist_id = self.db.execute(
                    "INSERT INTO playlists(name, source_path, imported_at) VALUES (?, ?, ?)",
                    (name, stored_path(source), time.time()),
                ).lastrowid
            self.db.executemany(
                "INSERT INTO playlist_tracks(playlist_id, position, track_id) VALUES (?, ?, ?)",
                [(playlist_id, i, t) for i, t in enumerate(track_ids)],
            )
        return name

    def set_playlist(self, name: str, track_ids: Sequence[int]) -> None:
        """A playlist the app made (no file behind it): created, or its tracks replaced."""
        with self._write():
            playlist_id = self._empty_playlist(name)
            self.db.executemany("INSERT INTO playlist_tracks(playlist_id, position, track_id) VALUES (?, ?, ?)",
                                [(playlist_id, i, t) for i, t in enumerate(track_ids)])

    def set_playlist_of_prediction(self, name: str, class_name: str) -> int:
        """A playlist of the tracks the model predicts as ``class_name``, in track order; returns
        its length.  One statement inside SQLite: reading every prediction into Python and
        writing the chosen ones back held the window for 19 s at a million tracks."""
        with self._write():
            playlist_id = self._empty_playlist(name)
            return self.db.execute(
                "INSERT INTO playlist_tracks(playlist_id, position, track_id) "
                "SELECT ?, row_number() OVER (ORDER BY track_id) - 1, track_id FROM predictions WHERE class = ?",
                (playlist_id, class_name)).rowcount

    def _empty_playlist(self, name: str) -> int:
        """The id of the app-made playlist ``name``: created, or emptied of its tracks."""
        row = self.db.execute("SELECT id FROM playlists WHERE name = ?", (name,)).fetchone()
        if row is None:
            return self.db.execute("INSERT INTO playlists(name, imported_at) VALUES (?, ?)",
                                   (name, time.time())).lastrowid
        self.db.execute("DELETE FROM playlist_tracks WHERE playlist_id = ?", (row[0],))
        return row[0]

    def playlist_names(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT name FROM playlists ORDER BY name")]

    def playlists(self) -> dict[str, list[str]]:
        """Every playlist of the project with the paths of its tracks, in playlist order."""
        lists: dict[str, list[str]] = {}
        for name, path in self.db.execute(
            "SELECT p.name, t.path FROM playlists p LEFT JOIN playlist_tracks pt ON pt.playlist_id = p.id "
            "LEFT JOIN tracks t ON t.id = pt.track_id ORDER BY p.name, pt.position"
        ):
            lists.setdefault(name, [])
            if path is not None:
                lists[name].append(loaded_path(path))
        return lists

    def playlist_track_ids(self, name: str) -> Optional[list[int]]:
        """The tracks of a playlist in its order, each once; None if there is no such playlist."""
        row = self.db.execute("SELECT id FROM playlists WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        ids = [r[0] for r in self.db.execute(
            "SELECT track_id FROM playlist_tracks WHERE playlist_id = ? ORDER BY position", (row[0],))]
        return list(dict.fromkeys(ids))

    def playlist_by_source(self, source: Path | str) -> Optional[str]:
        row = self.db.execute("SELECT name FROM playlists WHERE source_path = ?",
                              (stored_path(canonical_path(source)),)).fetchone()
        return row[0] if row else None

    # -- reviews --------------------------------------------------------------------------------

    def review(self, playlist: str, intended: Optional[str] = None, seed: Optional[int] = None,
               create: bool = True) -> Optional[ReviewRecord]:
        """The review of a playlist (created on first use); ``intended``/``seed`` update it."""
        row = self.db.execute("SELECT id FROM playlists WHERE name = ?", (playlist,)).fetchone()
        if row is None:
            return None
        playlist_id = row[0]
        with self._write():
            existing = self.db.execute("SELECT id FROM reviews WHERE playlist_id = ?", (playlist_id,)).fetchone()
            if existing is None and create:
                self.db.execute("INSERT INTO reviews(playlist_id, intended, seed, created_at) VALUES (?, ?, ?, ?)",
                                (playlist_id, intended, seed or 0, time.time()))
            elif existing is not None:
                if intended is not None:
                    self.db.execute("UPDATE reviews SET intended = ? WHERE id = ?", (intended or None, existing[0]))
                if seed is not None:
                    self.db.execute("UPDATE reviews SET seed = ? WHERE id = ?", (seed, existing[0]))
        found = self.db.execute("SELECT id, intended, seed FROM reviews WHERE playlist_id = ?", (playlist_id,)).fetchone()
        if found is None:
            return None
        items = [r[0] for r in self.db.execute(
            "SELECT track_id FROM review_items WHERE review_id = ? ORDER BY position", (found[0],))]
        return ReviewRecord(found[0], playlist, found[1], found[2], items)

    def add_review_items(self, review_id: int, track_ids: Sequence[int]) -> None:
        with self._write():
            start = self.db.execute("SELECT coalesce(max(position) + 1, 0) FROM review_items WHERE review_id = ?",
                                    (review_id,)).fetchone()[0]
            self.db.executemany("INSERT INTO review_items(review_id, position, track_id) VALUES (?, ?, ?)",
                                [(review_id, start + i, t) for i, t in enumerate(track_ids)])

    # -- the tag writer's journal ---------------------------------------------------------------

    def start_tag_batch(self, mode: str, description: str) -> int:
        """A new batch, or the newest one of this mode that a killed run left unfinished (and
        nobody undid since): a re-run goes on with it, so that one undo restores both runs."""
        with self._write():
            row = self.db.execute(
                "SELECT id, mode FROM tag_batches WHERE finished_at IS NULL AND undone_at IS NULL "
                "ORDER BY id DESC LIMIT 1").fetchone()
            if row is not None and row[1] == mode:
                return int(row[0])
            return int(self.db.execute("INSERT INTO tag_batches(created_at, mode, description) VALUES (?, ?, ?)",
                                       (time.time(), mode, description)).lastrowid)

    def finish_tag_batch(self, batch_id: int) -> None:
        """The batch's run got to its end, or the user stopped it: a later run starts a new one."""
        with self._write():
            self.db.execute("UPDATE tag_batches SET finished_at = ? WHERE id = ?", (time.time(), batch_id))

    def journal_tag_change(self, batch_id: int, track_id: Optional[int], path: str, old_genres: Sequence[str],
                           old_private: Optional[str], new_genres: Sequence[str]) -> int:
        """Record a file's old values before it is replaced (committed at once: a kill after the
        replace still leaves the way back)."""
        with self._write():
            return int(self.db.execute(
                "INSERT INTO tag_journal(batch_id, track_id, path, old_genres, old_private, new_genres, state) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                (batch_id, track_id, stored_path(path), json.dumps(list(old_genres)), old_private,
                 json.dumps(list(new_genres))),
            ).lastrowid)

    def finish_tag_change(self, entry_id: int, track_id: Optional[int], genres: Sequence[str],
                          state: str = "done") -> None:
        """The file now holds ``genres``.  Its size and time changed but not its audio: the track's
        identity and its feature vectors follow the file, so nothing is re-extracted."""
        with self._write():
            self.db.execute("UPDATE tag_journal SET state = ? WHERE id = ?", (state, entry_id))
            if track_id is None:
                return
            row = self.db.execute("SELECT path, size, mtime, tags FROM tracks WHERE id = ?", (track_id,)).fetchone()
            if row is None:
                return
            path, size, mtime, tags_json = row
            try:
                ident = identity(loaded_path(path))
            except OSError:
                return
            tags = json.loads(tags_json) if tags_json else {}
            if genres:
                tags["genre"] = "; ".join(genres)
            else:
                tags.pop("genre", None)
            self.db.execute("UPDATE features SET size = ?, mtime = ? WHERE track_id = ? AND size IS ? AND mtime IS ?",
                            (ident.size, ident.mtime, track_id, size, mtime))
            self.db.execute(
                "UPDATE tracks SET size = ?, mtime = ?, tags = ?, "
                "probed_size = CASE WHEN probed_size IS ? AND probed_mtime IS ? THEN ? ELSE probed_size END, "
                "probed_mtime = CASE WHEN probed_size IS ? AND probed_mtime IS ? THEN ? ELSE probed_mtime END "
                "WHERE id = ?",
                (ident.size, ident.mtime, json.dumps(tags, ensure_ascii=False), size, mtime, ident.size,
                 size, mtime, ident.mtime, track_id),
            )

    def keep_tag_original(self, entry_id: int, original: Optional[bytes]) -> None:
        """The bytes a write is about to replace, committed before the file is replaced."""
        with self._write():
            self.db.execute("UPDATE tag_journal SET original = ? WHERE id = ?", (original, entry_id))

    def tag_original(self, entry_id: int) -> Optional[bytes]:
        """The bytes a write replaced (``tags.TagRegion``), when kept: read one entry at a time,
        as undo needs them, since a batch's worth can be large."""
        row = self.db.execute("SELECT original FROM tag_journal WHERE id = ?", (entry_id,)).fetchone()
        return row[0] if row else None

    def changed_files(self, batch_id: int) -> int:
        """How many files still hold (or may hold) what the batch wrote."""
        return self.db.execute("SELECT count(*) FROM tag_journal WHERE batch_id = ? AND state IN ('pending', 'done')",
                               (batch_id,)).fetchone()[0]

    def mark_tag_change(self, entry_id: int, state: str, message: str = "") -> None:
        with self._write():
            self.db.execute("UPDATE tag_journal SET state = ?, message = ? WHERE id = ?", (state, message, entry_id))

    def tag_changes(self, batch_id: int) -> list[TagChange]:
        """The changes of a batch that reached (or may have reached) the files, newest first."""
        return [
            TagChange(r[0], r[1], loaded_path(r[2]), json.loads(r[3]), r[4], json.loads(r[5]), r[6])
            for r in self.db.execute(
                "SELECT id, track_id, path, old_genres, old_private, new_genres, state FROM tag_journal "
                "WHERE batch_id = ? AND state IN ('pending', 'done') ORDER BY id DESC", (batch_id,))
        ]

    def last_tag_batch(self) -> Optional[int]:
        """The newest batch that still has files holding what it wrote."""
        row = self.db.execute("SELECT max(batch_id) FROM tag_journal WHERE state IN ('pending', 'done')").fetchone()
        return row[0] if row else None

    def close_tag_batch(self, batch_id: int) -> None:
        """Mark a batch undone — only once none of its files holds what it wrote any more, so
        that an undo where some files failed leaves the batch to undo again."""
        with self._write():
            self.db.execute(
                "UPDATE tag_batches SET undone_at = ? WHERE id = ? AND NOT EXISTS "
                "(SELECT 1 FROM tag_journal WHERE batch_id = ? AND state IN ('pending', 'done'))",
                (time.time(), batch_id, batch_id))

    def pending_tag_changes(self) -> list[TagChange]:
        """Changes journalled by a run that stopped before it recorded the outcome."""
        return [change for (batch_id,) in self.db.execute(
                    "SELECT DISTINCT batch_id FROM tag_journal WHERE state = 'pending'").fetchall()
                for change in self.tag_changes(batch_id) if change.state == "pending"]

    def tag_batches(self) -> list[TagBatch]:
        return [TagBatch(*r) for r in self.db.execute(
            "SELECT b.id, b.created_at, b.mode, b.description, b.undone_at, "
            "(SELECT count(*) FROM tag_journal j WHERE j.batch_id = b.id AND j.state IN ('done', 'undone')), "
            "(SELECT count(*) FROM tag_journal j WHERE j.batch_id = b.id AND j.state IN ('pending', 'done')) "
            "FROM tag_batches b ORDER BY b.id")]

    # -- errors ---------------------------------------------------------------------------------

    def record_error(self, track_id: Optional[int], path: str, stage: str, message: str) -> None:
        """Keep one current error per track (the last attempt), and each other problem once."""
        with self._write():
            if track_id is not None:
                self.db.execute("DELETE FROM errors WHERE track_id = ?", (track_id,))
                self.db.execute(
                    "INSERT INTO errors(track_id, path, stage, message, size, mtime, created_at) "
                    "SELECT id, path, ?, ?, size, mtime, ? FROM tracks WHERE id = ?",
                    (stage, message, time.time(), track_id),
                )
            else:
                self.record_path_errors([ItemError(path, stage, message)])

    def record_path_errors(self, errors: Sequence[ItemError]) -> None:
        """Keep each problem not tied to a track (a playlist entry, a folder) once, the first
        message kept: all in one transaction, each check a lookup in ``errors_by_path`` (which
        only serves a query that asks for ``track_id IS NULL``), so that a playlist of 200,000
        missing entries is recorded in seconds."""
        if not errors:
            return
        now = time.time()
        with self._write():
            self.db.executemany(
                "INSERT INTO errors(path, stage, message, created_at) SELECT ?1, ?2, ?3, ?4 "
                "WHERE NOT EXISTS (SELECT 1 FROM errors WHERE track_id IS NULL AND path = ?1 AND stage = ?2)",
                [(stored_path(e.path), e.stage, e.message, now) for e in errors],
            )

    def errors(self) -> list[ErrorRecord]:
        """Every recorded problem and every track whose file is gone, by path.  The gone ones are
        found now, by one stat each (a file deleted or renamed since the scan leaves no record of
        its own); what was recorded of such a track's file earlier is no longer news."""
        gone = self._gone_tracks()
        now = time.time()
        return sorted(
            [*(ErrorRecord(loaded_path(path), stage, message, created_at)
               for track_id, path, stage, message, created_at in self.db.execute(
                   "SELECT track_id, path, stage, message, created_at FROM errors")
               if track_id not in gone),
             *(ErrorRecord(path, GONE_STAGE, GONE_MESSAGE, now) for path in gone.values())],
            key=lambda e: (e.path, e.stage),
        )

    def _gone_tracks(self) -> dict[int, str]:
        """Path by track id of the tracks whose file is no longer there (deleted, renamed, its
        folder moved).  One listing per folder rather than one stat per file: a million tracks
        lie in a few hundred folders, and on a network share each stat is a round trip.  A name
        the listing lacks, or that is a link, is looked at on its own.  Paths are grouped by
        the text before their last separator, and a folder that is not there gives all its
        tracks at once: os.path.dirname and basename for each path had a million take 3.8 s, now 2.3 s."""
        by_head: dict[str, list[tuple[int, str]]] = {}
        for track_id, stored in self.db.execute("SELECT id, path FROM tracks"):
            path = loaded_path(stored)
            by_head.setdefault(path.rpartition(os.sep)[0], []).append((track_id, path))
        gone: dict[int, str] = {}
        for head, tracks in by_head.items():
            there, listed = _plain_files(os.path.dirname(tracks[0][1]))
            if not there:
                gone.update(tracks)
                continue
            gone.update((track_id, path) for track_id, path in tracks
                        if (listed is None or path[len(head) + 1:] not in listed) and not _still_there(path))
        return gone

    def gone_tracks(self, version: str) -> GoneTracks:
        """How many tracks are gone from disk, and how many of them count as extracted (with
        ``version``'s features) and as labelled.  The gone ones are matched against the ids of
        every current vector and every labelled track, each list read in one pass: probing
        features and labels for each gone track took 3.6 s when a million were gone."""
        gone = np.fromiter(self._gone_tracks(), dtype=np.int64)
        if not len(gone):
            return GoneTracks(0, 0, 0)
        extracted = listed_ints(self.db.execute(f"SELECT group_concat(f.track_id) {_CURRENT_FEATURES}",
                                                (version, str(self.segment))).fetchone()[0])
        labelled = listed_ints(self.db.execute(
            "SELECT group_concat(track_id) FROM labels "
            "WHERE id IN (SELECT max(id) FROM labels GROUP BY track_id) AND class_id IS NOT NULL").fetchone()[0])
        return GoneTracks(len(gone), int(np.isin(gone, extracted).sum()), int(np.isin(gone, labelled).sum()))

    def forget_track_errors(self) -> int:
        """Let the next extraction retry every track that failed before."""
        with self._write():
            return self.db.execute("DELETE FROM errors WHERE track_id IS NOT NULL").rowcount

    # -- features -------------------------------------------------------------------------------

    def pending_extraction(self, version: str, segment: SegmentSpec) -> list[TrackRef]:
        """Tracks without current features: never extracted, changed on disk, or extracted with
        another recipe or segment.  A track whose last attempt failed is skipped until its file
        changes (or the failures are forgotten)."""
        rows = self.db.execute(
            """
            SELECT t.id, t.path, t.size, t.mtime,
                   CASE WHEN t.probed_size IS t.size AND t.probed_mtime IS t.mtime THEN t.duration END
            FROM tracks t
            WHERE NOT EXISTS (SELECT 1 FROM features f WHERE f.track_id = t.id AND f.extractor_version = ?
                              AND f.segment = ? AND f.size IS t.size AND f.mtime IS t.mtime)
              AND NOT EXISTS (SELECT 1 FROM errors e WHERE e.track_id = t.id
                              AND e.size IS t.size AND e.mtime IS t.mtime)
            ORDER BY t.id
            """,
            (version, str(segment)),
        )
        return [TrackRef(track_id, loaded_path(path), *rest) for track_id, path, *rest in rows]

    def has_current_features(self, version: str) -> bool:
        """Whether any track has a vector of ``version`` and the project's segment, from its file
        as it is now: what a job asks before it reads them all, answered at the first such track
        instead of by counting a million (``status``)."""
        return bool(self.db.execute(f"SELECT EXISTS (SELECT 1 {_CURRENT_FEATURES})", (version, str(self.segment)),
                                    ).fetchone()[0])

    def current_feature_count(self, version: str) -> int:
        """How many tracks have current features (see ``has_current_features``), without reading them."""
        return self.db.execute(f"SELECT count(*) {_CURRENT_FEATURES}", (version, str(self.segment))).fetchone()[0]

    def set_feature_names(self, version: str, names: Sequence[str]) -> None:
        with self._write():
            self.db.execute(
                "INSERT OR REPLACE INTO feature_sets(extractor_version, names) VALUES (?, ?)",
                (version, json.dumps(list(names))),
            )

    def save_probe(self, track_id: int, ident: FileIdentity, info: AudioInfo) -> None:
        with self._write():
            self._store_probe(track_id, ident, info)

    def _store_probe(self, track_id: int, ident: FileIdentity, info: AudioInfo) -> None:
        self.db.execute(
            "UPDATE tracks SET size = ?, mtime = ?, duration = ?, format = ?, sample_rate = ?, channels = ?, "
            "tags = ?, probed_size = ?, probed_mtime = ? WHERE id = ?",
            (
                ident.size, ident.mtime, info.duration, info.format, info.sample_rate, info.channels,
                json.dumps(info.tags, ensure_ascii=False), ident.size, ident.mtime, track_id,
            ),
        )

    def save_features(
        self,
        track_id: int,
        ident: FileIdentity,
        info: AudioInfo,
        vector: np.ndarray,
        version: str,
        segment: SegmentSpec,
        analysed: Optional[AnalysedSegment] = None,
    ) -> None:
        """Store a track's metadata and vector in one transaction, and clear its old failure.
        ``analysed``: where in the file the vector's samples lie (the player plays that part)."""
        with self._write():
            self._store_probe(track_id, ident, info)
            self.db.execute(
                "INSERT OR REPLACE INTO features(track_id, extractor_version, segment, size, mtime, vector, "
                "extracted_at, segment_start, segment_seconds, trailing_silence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    track_id, version, str(segment), ident.size, ident.mtime,
                    np.asarray(vector, dtype="<f4").tobytes(), time.time(),
                    *((analysed.start, analysed.seconds, analysed.trailing_silence) if analysed else (None,) * 3),
                ),
            )
            self.db.execute("DELETE FROM errors WHERE track_id = ?", (track_id,))

    def analysed_segments(self, track_ids: Sequence[int]) -> dict[int, AnalysedSegment]:
        """Where the project's segment lies in each track's file, as recorded by the newest
        extraction from the file as it is now.  Tracks never extracted (or changed since) are
        left out: the caller falls back to ``SegmentSpec.window``."""
        found: dict[int, AnalysedSegment] = {}
        segment = str(self.segment)
        for first in range(0, len(track_ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = list(track_ids[first:first + 500])
            rows = self.db.execute(
                f"SELECT f.track_id, f.segment_start, f.segment_seconds, f.trailing_silence "
                f"FROM features f JOIN tracks t ON t.id = f.track_id "
                f"WHERE f.track_id IN ({','.join('?' * len(chunk))}) AND f.segment = ? "
                f"AND f.size IS t.size AND f.mtime IS t.mtime AND f.segment_start IS NOT NULL "
                f"ORDER BY f.extracted_at",
                [*chunk, segment],
            )
            for track_id, start, seconds, silence in rows:  # the newest extraction comes last and wins
                found[track_id] = AnalysedSegment(start, seconds, silence or 0.0)
        return found

    def feature_table(self, version: str, segment: Optional[SegmentSpec] = None) -> FeatureTable:
        """The current vectors of every track that has one, as one matrix, in path order.

        The vectors are read in the order they lie in the file (``feature_vectors``; read in path
        order, each was a seek elsewhere: 11 s for a million tracks, against 1.3 s), and put in
        the order of the paths' index.  Sorting the paths here instead held Python's lock for
        1.7 s, a stall of the window while a job read them."""
        vectors = self.feature_vectors(version, segment)
        ids: list[int] = []
        stored: list[str | bytes] = []
        cursor = self.db.execute("SELECT id, path FROM tracks ORDER BY path")
        while rows := cursor.fetchmany(FEATURE_CHUNK):
            ids.extend(r[0] for r in rows)
            stored.extend(r[1] for r in rows)
        rows = rows_of(vectors.track_ids, ids)
        with_vector = np.flatnonzero(rows >= 0)
        order = rows[with_vector]
        return FeatureTable(track_ids=vectors.track_ids[order],
                            paths=[loaded_path(stored[i]) for i in with_vector.tolist()],
                            names=vectors.names, matrix=vectors.matrix[order])

    def feature_vectors(self, version: str, segment: Optional[SegmentSpec] = None) -> FeatureVectors:
        """The current vectors of every track that has one, in track-id order, without paths.
        A chunk of rows at a time, its vectors joined into one buffer, so that no Python object
        per vector outlives its chunk."""
        segment = segment or self.segment
        row = self.db.execute("SELECT names FROM feature_sets WHERE extractor_version = ?", (version,)).fetchone()
        names = json.loads(row[0]) if row else []
        cursor = self.db.execute(
            "SELECT t.id, f.vector FROM features f JOIN tracks t ON t.id = f.track_id "
            "WHERE f.extractor_version = ? AND f.segment = ? AND f.size IS t.size AND f.mtime IS t.mtime "
            "ORDER BY f.track_id",
            (version, str(segment)),
        )
        return FeatureVectors(*_ids_and_vectors(cursor, len(names)), names)

    # -- classes and labels ---------------------------------------------------------------------

    def classes(self) -> list[LabelClass]:
        return [
            LabelClass(*row)
            for row in self.db.execute("SELECT name, key, color, genre FROM classes ORDER BY position")
        ]

    def save_classes(self, rows: Sequence[tuple[Optional[str], LabelClass]]) -> None:
        """Replace the class set.  Each row pairs a class with the name it had (None: new), so
        that a rename keeps its labels.  A class that labels tracks (in its history) cannot be
        removed."""
        problems = class_set_problems([c for _, c in rows])
        if problems:
            raise ValueError(" ".join(problems))
        kept = {old for old, _ in rows if old is not None}
        with self._write():
            ids = {}
            for class_id, name, uses in self.db.execute(
                "SELECT c.id, c.name, count(l.id) FROM classes c LEFT JOIN labels l ON l.class_id = c.id GROUP BY c.id"
            ).fetchall():
                ids[name] = class_id
                if name in kept:
                    continue
                if uses:
                    raise ValueError(f"{name!r} labels tracks ({uses:,} label records); relabel them first.")
                self.db.execute("DELETE FROM classes WHERE id = ?", (class_id,))
            # Park the kept classes on unique placeholder names and no keys, so that swapping two
            # names or keys does not trip the UNIQUE constraints half-way.
            self.db.execute("UPDATE classes SET name = '~' || id, key = NULL")
            for position, (old, c) in enumerate(rows):
                values = (c.name.strip(), (c.key or "").upper() or None, c.color, c.genre.strip() or c.name.strip(), position)
                if old is None:
                    self.db.execute("INSERT INTO classes(name, key, color, genre, position) VALUES (?, ?, ?, ?, ?)", values)
                else:
                    self.db.execute(
                        "UPDATE classes SET name = ?, key = ?, color = ?, genre = ?, position = ? WHERE id = ?",
                        (*values, ids[old]),
                    )

    def set_labels(self, track_ids: Sequence[int], class_name: Optional[str], source: str = "human") -> list[int]:
        """Label tracks in one transaction (None clears their label) and return the new history
        rows, so that the whole step can be undone with ``remove_labels``.

        History is kept: a track's newest row is its label.
        """
        if source not in LABEL_SOURCES:
            raise ValueError(f"unknown label source {source!r}")
        class_id = None
        if class_name is not None:
            row = self.db.execute("SELECT id FROM classes WHERE name = ?", (class_name,)).fetchone()
            if row is None:
                raise ValueError(f"no class named {class_name!r} in this project")
            class_id = row[0]
        now = time.time()
        with self._write():
            return [
                int(self.db.execute(
                    "INSERT INTO labels(track_id, class_id, source, created_at) VALUES (?, ?, ?, ?)",
                    (track_id, class_id, source, now),
                ).lastrowid)
                for track_id in track_ids
            ]

    def set_label(self, track_id: int, class_name: Optional[str], source: str = "human") -> int:
        return self.set_labels([track_id], class_name, source)[0]

    def remove_labels(self, label_ids: Sequence[int]) -> None:
        """Take labeling steps back: the tracks' previous labels become current again."""
        with self._write():
            self.db.executemany("DELETE FROM labels WHERE id = ?", [(i,) for i in label_ids])

    def current_label(self, track_id: int) -> Optional[TrackLabel]:
        row = self.db.execute(
            "SELECT c.name, l.source FROM labels l LEFT JOIN classes c ON c.id = l.class_id "
            "WHERE l.track_id = ? ORDER BY l.id DESC LIMIT 1",
            (track_id,),
        ).fetchone()
        return TrackLabel(row[0], row[1]) if row and row[0] is not None else None

    def current_labels(self) -> dict[str, str]:
        """Path → class name of every labelled track."""
        return {loaded_path(path): name for path, name in self.db.execute(
            "SELECT t.path, c.name FROM tracks t JOIN labels l ON l.track_id = t.id "
            "JOIN classes c ON c.id = l.class_id "
            "WHERE l.id = (SELECT max(id) FROM labels WHERE track_id = t.id) ORDER BY t.path"
        )}

    def track_labels(self) -> dict[int, TrackLabel]:
        """Track id → current class and where it came from, for every labelled track."""
        return {
            track_id: TrackLabel(name, source)
            for track_id, name, source in self.db.execute(
                "SELECT l.track_id, c.name, l.source FROM labels l JOIN classes c ON c.id = l.class_id "
                "WHERE l.id IN (SELECT max(id) FROM labels GROUP BY track_id)"
            )
        }

    def heard_track_ids(self) -> list[int]:
        """Tracks whose current label was given by ear: never worth asking about again."""
        return [t for t, label in self.track_labels().items() if label.heard]

    def paths_by_id(self) -> dict[int, str]:
        return {track_id: loaded_path(path) for track_id, path in self.db.execute("SELECT id, path FROM tracks")}

    def track_paths(self) -> list[str]:
        return sorted(loaded_path(row[0]) for row in self.db.execute("SELECT path FROM tracks"))

    def track_id(self, path: Path | str) -> Optional[int]:
        row = self.db.execute("SELECT id FROM tracks WHERE path = ?", (stored_path(canonical_path(path)),)).fetchone()
        return row[0] if row else None

    # -- models and predictions ---------------------------------------------------------------

    def save_model(self, version: str, segment: str, classes: Sequence[str], grouping: dict[str, str],
                   n_labels: int, blob: bytes) -> int:
        """Record a trained model; older models keep their record (the learning curve) but not
        their file, so a project does not grow by megabytes per training."""
        with self._write():
            self.db.execute("UPDATE models SET blob = NULL WHERE blob IS NOT NULL")
            return int(self.db.execute(
                "INSERT INTO models(created_at, extractor_version, segment, classes, grouping, n_labels, blob) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.time(), version, segment, json.dumps(list(classes)), json.dumps(grouping), n_labels, blob),
            ).lastrowid)

    def set_model_report(self, model_id: int, report_json: str) -> None:
        with self._write():
            self.db.execute("UPDATE models SET report = ? WHERE id = ?", (report_json, model_id))

    def models(self, with_blob: bool = False) -> list[ModelRecord]:
        """Every training so far, oldest first (the newest alone has its file)."""
        blob = "blob" if with_blob else "NULL"
        return [
            ModelRecord(r[0], r[1], json.loads(r[2]), json.loads(r[3]), r[4], r[5], r[6])
            for r in self.db.execute(
                f"SELECT id, created_at, classes, grouping, n_labels, report, {blob} FROM models ORDER BY id"
            )
        ]

    def latest_model(self) -> Optional[ModelRecord]:
        row = self.db.execute("SELECT max(id) FROM models WHERE blob IS NOT NULL").fetchone()[0]
        return next((m for m in self.models(with_blob=True) if m.id == row), None) if row else None

    def save_predictions(self, model_id: int, track_ids: np.ndarray, classes: Sequence[str],
                         probabilities: np.ndarray) -> None:
        """Replace every prediction by this model's.

        A million rows: written in track order, each lands at the end of the table's B-tree (in
        path order they took 15 s); and the foreign keys are checked once for all, by one join
        after the inserts (0.2 s), instead of two lookups per row (2.4 s).  SQLite only turns
        them off outside a transaction, hence the pragma around it."""
        order = np.argsort(np.asarray(track_ids), kind="stable")
        track_ids, probabilities = np.asarray(track_ids)[order], np.asarray(probabilities, dtype="<f4")[order]
        self.db.execute("PRAGMA foreign_keys = OFF")
        try:
            with self._write():
                if self.db.execute("SELECT 1 FROM models WHERE id = ?", (model_id,)).fetchone() is None:
                    raise ValueError(f"no model {model_id} in the project")
                self.db.execute("DELETE FROM predictions")
                self.db.executemany(
                    "INSERT INTO predictions(track_id, model_id, class, confidence, probabilities) VALUES (?, ?, ?, ?, ?)",
                    _prediction_rows(model_id, track_ids, np.array(classes), probabilities))
                strays = self.db.execute("SELECT count(*) FROM predictions p LEFT JOIN tracks t ON t.id = p.track_id "
                                         "WHERE t.id IS NULL").fetchone()[0]
                if strays:
                    raise ValueError(f"{strays:,} predictions are of tracks not in the project")
        finally:
            self.db.execute("PRAGMA foreign_keys = ON")

    def predicting_model(self) -> Optional[int]:
        """The id of the model whose predictions are stored (None before the first training)."""
        row = self.db.execute("SELECT model_id FROM predictions LIMIT 1").fetchone()
        return row[0] if row else None

    def predicted_classes(self) -> list[str]:
        """The classes of the model whose predictions are stored (none before the first training)."""
        row = self.db.execute("SELECT m.classes FROM models m WHERE m.id = (SELECT model_id FROM predictions LIMIT 1)"
                              ).fetchone()
        return json.loads(row[0]) if row else []

    def predicted_class_of(self, track_ids: Sequence[int]) -> dict[int, str]:
        """The class the model predicts for each of these tracks that it predicts: a few answers
        of a review need their few rows, not all predictions (3.7 s for a million)."""
        return dict(self.db.execute(
            "SELECT p.track_id, p.class FROM json_each(?) chosen JOIN predictions p ON p.track_id = chosen.value",
            (json.dumps([int(t) for t in track_ids]),)))

    def predictions(self) -> Optional[StoredPredictions]:
        """The current predictions, with the classes of the model that made them."""
        model_id = self.predicting_model()
        if model_id is None:
            return None
        classes = json.loads(self.db.execute("SELECT classes FROM models WHERE id = ?", (model_id,)).fetchone()[0])
        cursor = self.db.execute("SELECT track_id, probabilities FROM predictions ORDER BY track_id")
        track_ids, probabilities = _ids_and_vectors(cursor, len(classes))
        return StoredPredictions(model_id, track_ids, classes, probabilities)

    # -- summary --------------------------------------------------------------------------------

    def _extraction_counts(self, version: str) -> tuple[int, int, int, int, int]:
        """How many tracks there are, and of them extracted, stale, pending and failed (see
        ProjectStatus).  Counted per table rather than by probing features and errors for every
        track: SQLite walked the tracks in path order (their covering index), so each probe
        landed elsewhere in the file, 5.2 s for a million tracks; one pass over the features,
        one over their index and a lookup per error take 0.7 s.  Current features are some
        features, so stale is what the others have; a failure counts where features are not
        current, and is pending no more where there are none at all."""
        tracks = self.db.execute("SELECT count(*) FROM tracks").fetchone()[0]
        extracted = self.current_feature_count(version)
        with_any = self.db.execute(
            "SELECT count(*) FROM (SELECT DISTINCT track_id FROM features) f JOIN tracks t ON t.id = f.track_id"
        ).fetchone()[0]
        failed, failed_without_any = self.db.execute(
            """
            SELECT count(*), sum(NOT EXISTS (SELECT 1 FROM features f WHERE f.track_id = t.id))
            FROM tracks t
            WHERE t.id IN (SELECT track_id FROM errors)
              AND EXISTS (SELECT 1 FROM errors e WHERE e.track_id = t.id AND e.size IS t.size AND e.mtime IS t.mtime)
              AND NOT EXISTS (SELECT 1 FROM features f WHERE f.track_id = t.id AND f.extractor_version = ?
                              AND f.segment = ? AND f.size IS t.size AND f.mtime IS t.mtime)
            """,
            (version, str(self.segment)),
        ).fetchone()
        pending = tracks - with_any - int(failed_without_any or 0)
        return tracks, extracted, with_any - extracted, pending, failed

    def status(self, version: str) -> ProjectStatus:
        segment = str(self.segment)
        tracks, extracted, stale, pending, failed = self._extraction_counts(version)
        per_class = {c.name: 0 for c in self.classes()}
        by_ear = dict(per_class)
        for name, source, n in self.db.execute(
            "SELECT c.name, l.source, count(*) FROM labels l JOIN classes c ON c.id = l.class_id "
            "WHERE l.id IN (SELECT max(id) FROM labels GROUP BY track_id) GROUP BY c.name, l.source"
        ):
            per_class[name] += n
            if source in HEARD_SOURCES:
                by_ear[name] += n
        return ProjectStatus(
            tracks=tracks,
            extracted=extracted,
            stale=stale,
            pending=pending,
            failed=failed,
            labelled=sum(per_class.values()),
            per_class=per_class,
            by_ear=by_ear,
            playlists=self.db.execute("SELECT count(*) FROM playlists").fetchone()[0],
            other_errors=self.db.execute("SELECT count(*) FROM errors WHERE track_id IS NULL").fetchone()[0],
            segment=segment,
            extractor_version=version,
        )
