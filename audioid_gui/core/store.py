"""The project file: one SQLite database, its schema and its migrations.

Why SQLite: a project must survive a crash at any moment (a label is committed the moment its key
is pressed) and hold 30,000+ tracks with their feature vectors in one file that a user can copy.
WAL mode lets the GUI read while a background job writes.  The schema version lives in
``PRAGMA user_version``; each migration moves a file one version forward, so an old project opens
in a new app, and a project from a newer app is refused rather than damaged.
"""
from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Callable

from .classes import DEFAULT_CLASSES

log = logging.getLogger(__name__)

APPLICATION_ID = 0x41554944  # "AUID": marks the file as ours, so we never migrate a stranger's database


class ProjectFileError(Exception):
    """The file cannot be used as a project; the message says why in words a user understands."""


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


# MIGRATIONS[i] takes a file from version i to version i + 1.  Append; never edit a released step.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7]
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path | str, *, create: bool = True) -> sqlite3.Connection:
    """Open (and if needed create or migrate) a project file and return a ready connection.

    Every thread opens its own connection: sqlite3 connections must not cross threads.
    """
    path = Path(path)
    if not path.exists() and not create:
        raise ProjectFileError(f"No project file at {path}")
    if path.exists() and path.is_dir():
        raise ProjectFileError(f"{path} is a folder, not a project file")
    if not path.parent.exists():
        raise ProjectFileError(f"The folder {path.parent} does not exist")
    try:
        db = sqlite3.connect(str(path), timeout=10.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise ProjectFileError(f"Cannot open {path}: {exc}") from exc
    try:
        _prepare(db, path)
    except BaseException:
        db.close()
        raise
    return db


def _prepare(db: sqlite3.Connection, path: Path) -> None:
    try:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise ProjectFileError(f"{path} is not a project file ({exc})") from exc
    if tables and app_id != APPLICATION_ID:
        raise ProjectFileError(f"{path} is an SQLite database, but not an AudioID project")
    if version > SCHEMA_VERSION:
        raise ProjectFileError(
            f"{path} was written by a newer AudioID Labeler (project format {version}; "
            f"this version reads up to {SCHEMA_VERSION}). Update the app to open it."
        )
    db.create_function("basename", 1, os.path.basename, deterministic=True)  # sort by file name
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable against app crashes, fast commits
    db.execute("PRAGMA foreign_keys=ON")
    if version < SCHEMA_VERSION:
        _migrate(db, version, path)


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
        db.execute("ROLLBACK")
        raise


class ProjectLockedError(ProjectFileError):
    """Another running app instance writes this project."""


class WriterLock:
    """One writer per project: a second app instance gets a clear refusal instead of two programs
    interleaving labels.  The lock is an ``flock`` on a file beside the project, so the operating
    system releases it when its holder exits, even by SIGKILL: no stale lock to clean up.
    """

    def __init__(self, project_path: Path) -> None:
        self.path = project_path.with_name(project_path.name + ".lock")
        self._fd: int | None = None
        try:
            import fcntl
        except ImportError:  # not a POSIX system: run without the guard
            log.warning("no file locking on this platform; do not open %s twice", project_path)
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ProjectFileError(f"Cannot open {project_path}: {exc.strerror or exc}") from None
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
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
