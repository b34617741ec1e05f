"""The project file: one SQLite database, its schema and its migrations.

Why SQLite: a project must survive a crash at any moment (a label is committed the moment its key
is pressed) and hold 30,000+ tracks with their feature vectors in one file that a user can copy.
WAL mode lets the GUI read while a background job writes.  The schema version lives in
``PRAGMA user_version``; each migration moves a file one version forward, so an old project opens
in a new app, and a project from a newer app is refused rather than damaged.
"""
from __future__ import annotations

import errno
import logging
import os
import sqlite3
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import quote

from . import faults
from .classes import DEFAULT_CLASSES

log = logging.getLogger(__name__)

APPLICATION_ID = 0x41554944  # "AUID": marks the file as ours, so we never migrate a stranger's database


class ProjectFileError(Exception):
    """The file cannot be used as a project; the message says why in words a user understands."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        # The words to show, kept apart: Qt's bindings prefix the exception's text ("Error calling
        # Python override of ...") when it crosses a C++ call on its way to the window's handler.
        self.message = message


class DiskFullError(ProjectFileError):
    """No room to write.  The write was rolled back, so the project is as it was before it, and the
    same step succeeds once space is freed."""


class ProjectDamagedError(ProjectFileError):
    """Pages of the file are damaged: nothing more is written to it, while what is still readable
    (the labels above all) can be exported."""


class ProjectReadOnlyError(ProjectFileError):
    """The project cannot be written where it lies; commands that only read still work."""


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Execute SQL statements one by one inside the caller's transaction.

    ``executescript`` would commit the open transaction first, which would make a failed migration
    leave a half-migrated file behind.
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement!r}")


def _v1(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE tracks (
            id          INTEGER PRIMARY KEY,
            path        TEXT NOT NULL UNIQUE,
            size        INTEGER,
            mtime       REAL,
            duration    REAL,
            format      TEXT,
            sample_rate INTEGER,
            channels    INTEGER,
            tags        TEXT,              -- JSON object of the file's existing tags (genre, title, ...)
            probed_size  INTEGER,          -- identity of the file when duration/format/tags were read
            probed_mtime REAL,
            added_at    REAL NOT NULL
        );
        CREATE TABLE features (
            track_id          INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            extractor_version TEXT NOT NULL,
            segment           TEXT NOT NULL,
            size              INTEGER NOT NULL,   -- identity of the file the vector was computed from
            mtime             REAL NOT NULL,
            vector            BLOB NOT NULL,      -- float32, little-endian
            extracted_at      REAL NOT NULL,
            PRIMARY KEY (track_id, extractor_version, segment)
        );
        CREATE TABLE feature_sets (
            extractor_version TEXT PRIMARY KEY,
            names             TEXT NOT NULL       -- JSON list: the column name of every vector entry
        );
        CREATE TABLE classes (
            id       INTEGER PRIMARY KEY,
            name     TEXT NOT NULL UNIQUE,
            key      TEXT UNIQUE,
            color    TEXT NOT NULL,
            genre    TEXT NOT NULL,
            position INTEGER NOT NULL
        );
        CREATE TABLE labels (
            id         INTEGER PRIMARY KEY,
            track_id   INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            class_id   INTEGER REFERENCES classes(id),   -- NULL: the label was cleared
            source     TEXT NOT NULL,                    -- human, cluster, review, import, model
            created_at REAL NOT NULL
        );
        CREATE INDEX labels_by_track ON labels(track_id, id);
        CREATE TABLE errors (
            id         INTEGER PRIMARY KEY,
            track_id   INTEGER REFERENCES tracks(id) ON DELETE CASCADE,
            path       TEXT NOT NULL,
            stage      TEXT NOT NULL,
            message    TEXT NOT NULL,
            size       INTEGER,          -- identity of the file when it failed: a changed file is retried
            mtime      REAL,
            created_at REAL NOT NULL
        );
        CREATE INDEX errors_by_track ON errors(track_id);
        CREATE TABLE playlists (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            source_path TEXT,
            imported_at REAL NOT NULL
        );
        CREATE TABLE playlist_tracks (
            playlist_id INTEGER NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
            position    INTEGER NOT NULL,
            track_id    INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            PRIMARY KEY (playlist_id, position)
        );
        """,
    )
    db.executemany(
        "INSERT INTO classes(name, key, color, genre, position) VALUES (?, ?, ?, ?, ?)",
        [(c.name, c.key, c.color, c.genre, i) for i, c in enumerate(DEFAULT_CLASSES)],
    )


def _v2(db: sqlite3.Connection) -> None:
    """Models and their predictions (active learning)."""
    _run_script(
        db,
        """
        CREATE TABLE models (
            id                INTEGER PRIMARY KEY,
            created_at        REAL NOT NULL,
            extractor_version TEXT NOT NULL,
            segment           TEXT NOT NULL,
            classes           TEXT NOT NULL,   -- JSON list: the classes the model predicts
            grouping          TEXT NOT NULL,   -- JSON object: class -> the class it was folded into
            n_labels          INTEGER NOT NULL,
            report            TEXT,            -- JSON: cross-validated evaluation, filled in after training
            blob              BLOB             -- skops file of the fitted model; only the newest keeps one
        );
        CREATE TABLE predictions (
            track_id      INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            model_id      INTEGER NOT NULL REFERENCES models(id),
            class         TEXT NOT NULL,
            confidence    REAL NOT NULL,
            probabilities BLOB NOT NULL       -- float32 per class of the model, in its order
        );
        """,
    )


def _v3(db: sqlite3.Connection) -> None:
    """Playlist reviews: the random sample drawn from each playlist, kept across sessions."""
    _run_script(
        db,
        """
        CREATE TABLE reviews (
            id          INTEGER PRIMARY KEY,
            playlist_id INTEGER NOT NULL UNIQUE REFERENCES playlists(id) ON DELETE CASCADE,
            intended    TEXT,               -- the class the playlist should hold, if the user said
            seed        INTEGER NOT NULL,
            created_at  REAL NOT NULL
        );
        CREATE TABLE review_items (
            review_id INTEGER NOT NULL REFERENCES reviews(id) ON DELETE CASCADE,
            position  INTEGER NOT NULL,       -- drawing order
            track_id  INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            PRIMARY KEY (review_id, position)
        );
        """,
    )


def _v4(db: sqlite3.Connection) -> None:
    """The tag writer's journal: what each file's genre was before a batch, to undo it."""
    _run_script(
        db,
        """
        CREATE TABLE tag_batches (
            id          INTEGER PRIMARY KEY,
            created_at  REAL NOT NULL,
            mode        TEXT NOT NULL,
            description TEXT NOT NULL,
            undone_at   REAL
        );
        CREATE TABLE tag_journal (
            id          INTEGER PRIMARY KEY,
            batch_id    INTEGER NOT NULL REFERENCES tag_batches(id) ON DELETE CASCADE,
            track_id    INTEGER REFERENCES tracks(id) ON DELETE SET NULL,
            path        TEXT NOT NULL,
            old_genres  TEXT NOT NULL,      -- JSON list, as read from the file just before writing
            old_private TEXT,
            new_genres  TEXT NOT NULL,      -- JSON list
            state       TEXT NOT NULL,      -- pending (journalled, not yet replaced), done, failed, undone
            message     TEXT
        );
        CREATE INDEX tag_journal_by_batch ON tag_journal(batch_id);
        """,
    )


def _v5(db: sqlite3.Connection) -> None:
    """Where each feature vector's samples lie in the file, now that ``last:N`` means the last N
    seconds of audible content rather than of the file.

    Vectors computed under the old meaning of ``last:N`` are re-keyed ``file-end:N`` (the last N
    seconds of the file): no current segment matches that key, so they count as stale and the next
    scan re-extracts them, while nothing is thrown away.  Failures of the features stage are
    forgotten, so that files the old rule found silent (those ending in 10 s of silence or more)
    get another try.
    """
    _run_script(
        db,
        """
        ALTER TABLE features ADD COLUMN segment_start REAL;      -- seconds into the file where the samples begin
        ALTER TABLE features ADD COLUMN segment_seconds REAL;    -- how long they last
        ALTER TABLE features ADD COLUMN trailing_silence REAL;   -- silence at the file's end that last:N left out
        UPDATE features SET segment = 'file-end:' || substr(segment, 6) WHERE segment LIKE 'last:%';
        DELETE FROM errors WHERE track_id IS NOT NULL AND stage = 'features';
        """,
    )


def _v6(db: sqlite3.Connection) -> None:
    """The bytes a tag write replaced (``tags.TagRegion``), so that undo gives the file back byte
    for byte — a file that had no tag block has none again.  NULL where the change was too big to
    keep or was journalled before this column existed: those are undone by writing the old values."""
    _run_script(
        db,
        """
        ALTER TABLE tag_journal ADD COLUMN original BLOB;
        CREATE INDEX tag_journal_by_state ON tag_journal(state, batch_id);  -- what is still changed
        """,
    )


def _v7(db: sqlite3.Connection) -> None:
    """Problems not tied to a track (a playlist entry that is missing, a name that cannot be
    read) are kept once per path and stage: the index makes that check a lookup, so importing a
    playlist of 200,000 missing entries stays linear."""
    _run_script(
        db,
        """
        CREATE INDEX errors_by_path ON errors(path, stage) WHERE track_id IS NULL;
        """,
    )


def _v8(db: sqlite3.Connection) -> None:
    """When a tag batch ran to its end (or was stopped by the user).  A batch without it was
    killed, and the next run continues it: one undo then restores the killed run and its re-run
    together, instead of leaving the files the killed run wrote to a second undo."""
    _run_script(
        db,
        """
        ALTER TABLE tag_batches ADD COLUMN finished_at REAL;
        UPDATE tag_batches SET finished_at = created_at;
        """,
    )


# MIGRATIONS[i] takes a file from version i to version i + 1.  Append; never edit a released step.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8]
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path | str, *, create: bool = True, read_only: bool = False) -> sqlite3.Connection:
    """Open a project file and return a ready connection.

    A writing open creates the project when ``create`` allows, migrates an older one, and refuses
    a damaged one.  A read-only open changes nothing, not even the file's time: it refuses what is
    not a project of the current format (never creating or migrating one), works in a folder it
    cannot write, and leaves damage for the caller to report (``damage``), so that what is still
    readable can be exported.  Every thread opens its own connection: sqlite3 connections must not
    cross threads.
    """
    path = Path(path)
    _check_place(path, create=create and not read_only)
    if not read_only:
        refusal = unwritable(path)
        if refusal is not None:
            raise refusal
    try:
        db = _open_read_only(path) if read_only else _open(str(path))
    except sqlite3.DatabaseError as exc:
        raise explain(exc, path) or ProjectFileError(f"{path} is not a project file ({exc})") from exc
    try:
        _prepare(db, path, read_only=read_only, create=create and not read_only)
    except BaseException as exc:
        db.close()
        problem = explain(exc, path) if isinstance(exc, Exception) else None
        if problem is None:
            raise
        raise problem from exc
    return db


def _check_place(path: Path, create: bool) -> None:
    if not path.exists() and not create:
        raise ProjectFileError(f"No project file at {path}")
    if path.exists() and path.is_dir():
        raise ProjectFileError(f"{path} is a folder, not a project file")
    if not path.parent.exists():
        raise ProjectFileError(f"The folder {path.parent} does not exist")


def _open(target: str, uri: bool = False) -> sqlite3.Connection:
    try:
        return sqlite3.connect(target, timeout=10.0, isolation_level=None, uri=uri)
    except sqlite3.Error as exc:
        raise ProjectFileError(f"Cannot open {target}: {exc}") from exc


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write, in a folder that may not be writable or have no room.

    A WAL project needs its ``-shm`` file beside it even to read.  When that file cannot be
    created (a read-only folder, a full disk), no other program has the project open either (an
    open project always has one), so the file is read alone, as immutable: safe as long as no
    ``-wal`` holds changes not yet in the file, which is checked."""
    if path.stat().st_size == 0:
        raise ProjectFileError(_empty_text(path))
    target = "file:" + quote(os.fsencode(path.absolute()))
    db = _open(target + "?mode=ro", uri=True)
    try:
        db.execute("PRAGMA schema_version").fetchone()
        return db
    except sqlite3.DatabaseError as exc:
        db.close()
        if not _wants_shm(path, exc):
            raise
        if _wal_holds_changes(path):
            raise ProjectFileError(
                f"{path} cannot be read here: no -shm file can be made beside it (its folder is read-only or "
                "full), and its log file holds changes not yet in the project. Open it once where it can "
                "be written, or free some space."
            ) from exc
    log.info("reading %s as immutable: no -shm file can be made beside it", path)
    return _open(target + "?mode=ro&immutable=1", uri=True)


def _wants_shm(path: Path, exc: sqlite3.Error) -> bool:
    """Whether a read-only open failed for want of a ``-shm`` file: it cannot be opened or made."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name != "SQLITE_CANTOPEN" and not name.startswith("SQLITE_IOERR"):
        return False
    folder = path.resolve().parent
    return faults.folder_not_writable(folder) or faults.no_room(folder, exc) is not None


def _wal_holds_changes(path: Path) -> bool:
    wal = path.resolve().with_name(path.resolve().name + "-wal")
    return wal.exists() and wal.stat().st_size > 0


def _empty_text(path: Path) -> str:
    return f"{path} is empty, not an AudioID project yet; importing folders into it (`audioid scan`) makes it one"


def _prepare(db: sqlite3.Connection, path: Path, *, read_only: bool, create: bool) -> None:
    """Check what the file is and set the connection up; a writing open makes a project of an
    empty file when ``create`` allows, and migrates an old one."""
    app_id, version, tables = _inspect(db, path)
    fresh = not tables and not version and app_id in (0, APPLICATION_ID)
    if fresh and not create:
        raise ProjectFileError(_empty_text(path))
    if not fresh and app_id != APPLICATION_ID:
        raise ProjectFileError(f"{path} is an SQLite database, but not an AudioID project")
    if version > SCHEMA_VERSION:
        raise ProjectFileError(
            f"{path} was written by a newer AudioID Labeler (project format {version}; "
            f"this version reads up to {SCHEMA_VERSION}). Update the app to open it."
        )
    if read_only and version < SCHEMA_VERSION:
        raise ProjectFileError(
            f"{path} is in an older project format ({version}; this version uses {SCHEMA_VERSION}). "
            "Run any writing command or open it in the window to upgrade it; commands that only read "
            "work after that."
        )
    db.create_function("basename", 1, os.path.basename, deterministic=True)  # sort by file name
    if read_only:
        return
    if not fresh and not _checked_already(path):
        problem = damage(db, path)
        if problem is not None:
            raise problem
        _remember_checked(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable against app crashes, fast commits
    db.execute("PRAGMA foreign_keys=ON")
    if version < SCHEMA_VERSION:
        _migrate(db, version, path)


def _inspect(db: sqlite3.Connection, path: Path) -> tuple[int, int, int]:
    """(application id, format version, number of schema objects), or why the file is no project."""
    try:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        problem = explain(exc, path)
        if problem is not None:
            raise problem from exc
        raise ProjectFileError(f"{path} is not a project file ({exc})") from exc
    return app_id, version, tables


# The file (device, inode) → its (size, modification time) when this process last found it
# undamaged.  The quick check reads the whole file: 30 ms for 30,000 tracks, 1.7 s for a million
# (730 MB).  The window checks on opening; the helper threads of its background jobs then open the
# same, unchanged file and need not read it all again.  Any write to the file since (a checkpoint
# of our own, or a failing disk's damage) changes its time, and the next open checks again.
_CHECKED: dict[tuple[int, int], tuple[int, int]] = {}


def _identity(path: Path) -> Optional[tuple[tuple[int, int], tuple[int, int]]]:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_dev, status.st_ino), (status.st_size, status.st_mtime_ns)


def _checked_already(path: Path) -> bool:
    found = _identity(path)
    return found is not None and _CHECKED.get(found[0]) == found[1]


def _remember_checked(path: Path) -> None:
    found = _identity(path)
    if found is not None:
        _CHECKED[found[0]] = found[1]


def damage(db: sqlite3.Connection, path: Path) -> Optional[ProjectDamagedError]:
    """The damage SQLite's quick check finds, or None.  The check reads every page once but skips
    matching indexes against their tables: about 30 ms warm (0.3 s from a cold disk cache) on a
    30,000-track project of 24 MB, 1.7 s on a million tracks (730 MB): linear in the file's size,
    which is why a process checks an unchanged file once (``_CHECKED``)."""
    try:
        rows = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
    except sqlite3.DatabaseError as exc:
        if not faults.is_damage(exc, path):
            raise
        rows = [str(exc)]
    if rows == ["ok"]:
        return None
    detail = " ".join(" ".join(rows).split())
    return ProjectDamagedError(_damaged_text(path, detail[:160] + ("..." if len(detail) > 160 else "")))


def _damaged_text(path: Path, detail: str) -> str:
    return (f"{path} is damaged ({detail}), so nothing more is written to it. Its labels can still be "
            f"saved, as far as they are readable: `audioid labels export labels.csv --project {path}`; "
            "then build a new project from your folders (`audioid scan`) and bring them back with "
            "`audioid labels import labels.csv`.")


def unwritable(path: Path) -> Optional[ProjectReadOnlyError]:
    """Why a program cannot write the project at ``path``, or None.  A writer needs the file
    and its folder: SQLite keeps the ``-wal`` and ``-shm`` files, and the lock, beside it."""
    folder = path.resolve().parent  # SQLite writes beside the real file, links resolved
    if faults.folder_not_writable(folder):
        return ProjectReadOnlyError(f"The folder {folder} is read-only, and writing {path.name} needs files "
                                    "beside it there. Copy the project to a folder you can write; reading "
                                    "works where it is.")
    if path.exists() and not os.access(path, os.W_OK):
        return ProjectReadOnlyError(f"{path} is read-only. Make it writable, or copy it; reading works as it is.")
    return None


def explain(exc: BaseException, path: Path) -> Optional[ProjectFileError]:
    """The error to show for ``exc``, a low-level failure while using the project at ``path`` or
    writing a file beside it (an OSError names its file), or None when ``exc`` is no such failure:
    a bug, which should surface as one."""
    if isinstance(exc, ProjectFileError):
        return None
    if isinstance(exc, OSError):
        return _no_room_for_file(exc, path) if exc.errno in faults.NO_ROOM_ERRNOS else None
    if not isinstance(exc, sqlite3.Error):
        return None
    folder = path.resolve().parent
    if faults.is_no_room(exc, folder):
        return DiskFullError(_no_room_text(path.name, faults.no_room(folder, exc) or f"the disk holding {folder} is full"))
    if faults.is_damage(exc, path):
        return ProjectDamagedError(_damaged_text(path, str(exc)))
    if faults.is_io_error(exc):
        return ProjectFileError(f"{path} could not be read or written: the disk reported an error ({exc}). "
                                "The last step was not saved; check the disk, then try again.")
    return None


def _migrate(db: sqlite3.Connection, version: int, path: Path) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        # Re-read inside the write lock: another process may have migrated meanwhile.
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for step in range(version, SCHEMA_VERSION):
            log.info("migrating %s from format %d to %d", path, step, step + 1)
            MIGRATIONS[step](db)
        db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back already (a full disk)
            db.execute("ROLLBACK")
        raise


class ProjectLockedError(ProjectFileError):
    """Another running app instance writes this project."""


class WriterLock:
    """One writer per project: a second app instance gets a clear refusal instead of two programs
    interleaving labels.  The lock is an ``flock`` on a file beside the project, so the operating
    system releases it when its holder exits, even by SIGKILL: no stale lock to clean up.  The lock
    belongs to the real file, links resolved, so that a second path to the same project (a symbolic
    link) meets the same lock.
    """

    def __init__(self, project_path: Path) -> None:
        project_path = Path(project_path).resolve()
        self.path = project_path.with_name(project_path.name + ".lock")
        self._fd: int | None = None
        try:
            import fcntl
        except ImportError:  # not a POSIX system: run without the guard
            log.warning("no file locking on this platform; do not open %s twice", project_path)
            return
        refusal = unwritable(project_path)
        if refusal is not None:
            raise refusal
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _lock_failure(exc, project_path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (process {holder})" if holder.isdigit() else ""
            raise ProjectLockedError(
                f"{project_path.name} is open in another AudioID window or command{who}. "
                "Close it there first: two programs writing one project could lose labels."
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        except OSError as exc:
            os.close(fd)
            raise _lock_failure(exc, project_path) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _no_room_for_file(exc: OSError, project_path: Path) -> DiskFullError:
    """A file write that found no room: the file it names, or (a failed flush names none) the
    project's folder when that one is full, or the system's words."""
    target = Path(os.fsdecode(exc.filename)) if exc.filename else None
    folder = (target or project_path).resolve().parent
    reason = faults.no_room(folder, exc) if target or faults.no_room(folder) else None
    return DiskFullError(_no_room_text(target.name if target else "", reason or (exc.strerror or str(exc)).lower()))


def _no_room_text(name: str, reason: str) -> str:
    what = f"write {name}" if name else "write"
    return (f"No room to {what}: {reason}. Nothing was lost: what was saved before is intact, only this "
            "last step was not saved. Free some space and do it again; it carries on from where it stopped.")


def _lock_failure(exc: OSError, project_path: Path) -> ProjectFileError:
    """Why the lock file beside the project could not be made: no room, a read-only place, or
    the system's own words."""
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return unwritable(project_path) or ProjectReadOnlyError(
            f"The folder {project_path.parent} is read-only: {project_path.name} cannot be written there.")
    return explain(exc, project_path) or ProjectFileError(f"Cannot open {project_path}: {exc.strerror or exc}")
