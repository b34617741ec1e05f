"""The project file: created with its schema, refused when foreign or from a newer version."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from audioid_gui.core import store
from audioid_gui.core.audio import AudioInfo
from audioid_gui.core.library import identity
from audioid_gui.core.project import Project


def test_new_project_has_schema_wal_and_the_default_classes(tmp_path: Path) -> None:
    with Project(tmp_path / "p.audioid") as project:
        assert [(c.name, c.key) for c in project.classes()] == [("Music", "M"), ("Dialogue", "D"), ("Both", "B")]
        assert project.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert project.db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert str(project.segment) == "last:10"


def test_project_from_a_newer_version_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "future.audioid"
    Project(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={store.SCHEMA_VERSION + 1}")
    db.close()
    before = path.read_bytes()
    with pytest.raises(store.ProjectFileError, match="newer AudioID"):
        Project(path)
    assert path.read_bytes() == before


def test_a_foreign_database_or_a_text_file_is_not_a_project(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE invoices(id)")
    db.close()
    with pytest.raises(store.ProjectFileError, match="not an AudioID project"):
        Project(other)
    text = tmp_path / "notes.audioid"
    text.write_text("hello " * 1000)
    with pytest.raises(store.ProjectFileError, match="not a project file"):
        Project(text)


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.audioid"
    Project(path).close()
    version = store.SCHEMA_VERSION

    def broken_step(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done(x)")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "MIGRATIONS", [*store.MIGRATIONS, broken_step])
    monkeypatch.setattr(store, "SCHEMA_VERSION", len(store.MIGRATIONS))
    with pytest.raises(RuntimeError):
        Project(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == version
    assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'half_done'").fetchall()


def test_a_first_format_project_is_migrated_with_its_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.audioid"
    with monkeypatch.context() as m:
        m.setattr(store, "MIGRATIONS", store.MIGRATIONS[:1])
        m.setattr(store, "SCHEMA_VERSION", 1)
        audio = tmp_path / "a.mp3"
        audio.write_bytes(b"x")
        with Project(path) as old:
            old.import_sources([audio])
            old.set_label(old.track_id(audio), "Both")
    with Project(path) as project:
        assert project.db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert project.current_label(project.track_id(audio)).class_name == "Both"
        assert project.models() == [] and project.predictions() is None


def test_labels_keep_history_and_the_newest_counts(tmp_path: Path) -> None:
    audio = tmp_path / "a.mp3"
    audio.write_bytes(b"x")
    with Project(tmp_path / "p.audioid") as project:
        project.import_sources([audio])
        track = project.track_id(audio)
        project.set_label(track, "Music")
        project.set_label(track, "Both")
        status = project.status("1")
        assert status.labelled == 1 and status.per_class["Both"] == 1 and status.per_class["Music"] == 0
        assert project.db.execute("SELECT count(*) FROM labels").fetchone()[0] == 2
        with pytest.raises(ValueError, match="no class"):
            project.set_label(track, "Jazz")


def test_an_empty_database_of_another_program_is_not_stamped_as_a_project(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("PRAGMA user_version = 3")  # what a newer schema of ours would also say
    db.close()
    before = other.read_bytes()
    for read_only in (False, True):
        with pytest.raises(store.ProjectFileError, match="not an AudioID project"):
            Project(other, read_only=read_only)
    assert other.read_bytes() == before


def test_a_read_only_open_leaves_the_project_file_as_it_was(tmp_path: Path) -> None:
    """SQLite may leave its empty shared-memory and log files beside the project (a writer removes
    them on closing); the project file itself keeps its bytes and its time."""
    path = tmp_path / "p.audioid"
    Project(path).close()
    before = path.read_bytes(), path.stat().st_mtime_ns
    with Project(path, read_only=True) as looking:
        assert looking.damage is None and looking.classes()
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert {p.name for p in tmp_path.iterdir()} <= {"p.audioid", "p.audioid-shm", "p.audioid-wal"}
    assert not (tmp_path / "p.audioid-wal").exists() or not (tmp_path / "p.audioid-wal").stat().st_size


def test_status_counts_each_track_once_by_its_features_and_failures(tmp_path: Path) -> None:
    """Extracted, stale, pending and failed as the status line shows them: a failure counts only
    where the vector is not current, and a failure of the file as it was before is pending again."""
    names = ["current", "stale", "failed", "stale_failed", "failed_before", "new"]
    files = []
    for name in names:
        files.append(tmp_path / f"{name}.mp3")
        files[-1].write_bytes(b"x")
    info = AudioInfo(duration=1.0, format="mp3", sample_rate=44100, channels=1)
    with Project(tmp_path / "p.audioid") as project:
        project.import_sources(files)
        ids = {name: project.track_id(path) for name, path in zip(names, files)}
        for name, version in (("current", "1"), ("stale", "0"), ("stale_failed", "0")):
            project.save_features(ids[name], identity(files[names.index(name)]), info, np.zeros(4), version,
                                  project.segment)
        for name in ("failed", "stale_failed", "failed_before"):
            project.record_error(ids[name], str(files[names.index(name)]), "features", "cannot decode")
        project.db.execute("UPDATE errors SET size = size + 1 WHERE track_id = ?", (ids["failed_before"],))
        status = project.status("1")
    assert (status.tracks, status.extracted, status.stale, status.pending, status.failed) == (6, 1, 2, 2, 2)
