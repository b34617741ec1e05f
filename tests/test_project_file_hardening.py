"""The project file under faults: a full disk, a damaged page, files that are not projects, a
read-only folder, a second path to the same file, a planted model.  Each ends in a sentence a
user can act on; nothing is created, migrated or written behind the user's back."""
from __future__ import annotations

import errno
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from audioid_gui.core import store
from audioid_gui.core.project import Project

from .conftest import REPO, labels_in_file, run_cli

NO_ROOM = "No room to write"


@contextmanager
def small_disk(folder: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``folder``, unmounted afterwards; skips where mounting is not
    allowed (the file-size-limit test covers a full disk there)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Write zeros into ``folder`` until its disk is full; returns the file to delete to free it."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out:
        for chunk in (1 << 16, 1 << 12, 1 << 9):
            try:
                while out.write(b"\0" * chunk):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def integrity(project_file: Path) -> str:
    db = sqlite3.connect(f"file:{project_file}?mode=ro", uri=True)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def first_track(project_file: Path) -> str:
    with Project(project_file, read_only=True) as project:
        return project.track_paths()[0]


def untouched(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def assert_said(done: subprocess.CompletedProcess, code: int, words: str) -> None:
    assert done.returncode == code, done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr


# -- 13: a full disk --------------------------------------------------------------------------------


def test_on_a_full_disk_commands_say_so_and_resume_when_space_is_freed(demo_project: Path, tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        project = Path(shutil.copy(demo_project, disk / "p.audioid"))
        track = first_track(project)
        filler = fill(disk)
        before = project.read_bytes()

        assert_said(run_cli("label", track, "Music", "--project", str(project)), 2, NO_ROOM)
        assert "the disk holding" in run_cli("label", track, "Music", "--project", str(project)).stderr
        assert run_cli("status", "--project", str(project)).returncode == 0  # reading needs no room
        assert_said(run_cli("labels", "export", str(disk / "labels.csv"), "--project", str(project)), 1, NO_ROOM)
        assert project.read_bytes() == before and integrity(project) == "ok"

        filler.unlink()
        assert run_cli("label", track, "Music", "--project", str(project)).returncode == 0
        assert labels_in_file(project) == [(Path(track).name, "Music", "human")]


def test_a_write_on_a_full_disk_is_rolled_back_and_the_same_project_writes_again(demo_project: Path,
                                                                                  tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        with Project(shutil.copy(demo_project, disk / "p.audioid"), writer=True) as project:
            tracks = [project.track_id(p) for p in project.track_paths()]
            filler = fill(disk)
            with pytest.raises(store.DiskFullError, match="the disk holding .* is full"):
                for track in tracks:  # the first labels may still fit in the pages the log has
                    project.set_label(track, "Music")
            given = len(project.current_labels())
            assert given < len(tracks)
            filler.unlink()
            project.set_label(tracks[given], "Dialogue")
            assert len(project.current_labels()) == given + 1
        assert integrity(project.path) == "ok"


def run_cli_under_file_size_limit(limit: int, *args: str) -> subprocess.CompletedProcess:
    """``audioid ARGS`` where no file may grow past ``limit`` bytes (``ulimit -f``); SIGXFSZ is
    ignored, so that a write past the limit fails with EFBIG instead of killing the process."""
    start = (f"import resource, runpy, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
             f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY)); "
             "runpy.run_module('audioid_gui.cli', run_name='__main__', alter_sys=True)")
    return subprocess.run([sys.executable, "-c", start, *args], capture_output=True, text=True, timeout=300)


def test_a_scan_that_meets_the_file_size_limit_stops_with_a_sentence_and_resumes(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    shutil.copytree(REPO / "resources" / "demo", clips)
    project = tmp_path / "p.audioid"
    first = sorted(clips.iterdir())[:4]
    assert run_cli("scan", *map(str, first), "--workers", "1", "--project", str(project)).returncode == 0
    limited = run_cli_under_file_size_limit(project.stat().st_size, "scan", str(clips), "--workers", "1",
                                            "--project", str(project))
    assert_said(limited, 1, "the file size limit")
    assert integrity(project) == "ok"
    with Project(project, read_only=True) as looking:
        stopped_at = looking.status("3").extracted
    assert 4 <= stopped_at < 30
    assert run_cli("scan", str(clips), "--workers", "1", "--project", str(project)).returncode == 0
    with Project(project, read_only=True) as looking:
        assert looking.status("3").extracted == 30


def test_a_label_key_on_a_full_disk_shows_one_message_and_gives_no_label(window, demo_project: Path,
                                                                         tmp_path: Path, qtbot,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from audioid_gui.gui.app import install_fault_reporter

    with small_disk(tmp_path / "disk") as disk:
        project = Path(shutil.copy(demo_project, disk / "p.audioid"))
        assert window.open_project(project)
        monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # given back after the test
        reporter = install_fault_reporter(window)
        filler = fill(disk)
        for _ in range(40):  # the log's free pages take the first few
            qtbot.keyClick(window.table, Qt.Key.Key_M)
            if reporter.box is not None:
                break
        box = reporter.box
        assert box is not None and box.isVisible()
        assert box.icon() == QMessageBox.Icon.Critical
        assert "No room" in box.text() and str(disk) in box.text() and "Nothing was lost" in box.text()
        assert box.text().startswith(NO_ROOM)  # the binding's "Error calling Python override" stays out
        given = len(labels_in_file(project))
        assert window.session_label.text() == session_text(given)
        qtbot.keyClick(window.table, Qt.Key.Key_M)  # another failure while the box shows: no second box
        assert [w for w in window.findChildren(QMessageBox) if w.isVisible()] == [box]
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        assert not box.isVisible()
        assert len(labels_in_file(project)) == given and window.session_label.text() == session_text(given)
        assert window.undo_stack.count() == given  # Edit ▸ Undo offers no label that was never given
        filler.unlink()
        window.close_project()
        assert integrity(project) == "ok"


def session_text(labels: int) -> str:
    """What the status bar says after ``labels`` labels this session."""
    from audioid_gui.gui.main_window import SessionCounter

    counter = SessionCounter()
    if labels:
        counter.add(labels)
    return counter.text()


# -- 14: a damaged page -----------------------------------------------------------------------------


def damage_features(project_file: Path) -> None:
    """Overwrite the first page of the features table with garbage, as a failing disk might."""
    db = sqlite3.connect(project_file)
    root, = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'features'").fetchone()
    page_size, = db.execute("PRAGMA page_size").fetchone()
    db.close()
    with open(project_file, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(os.urandom(page_size))


def test_a_damaged_project_refuses_writes_and_its_labels_can_still_be_exported(demo_project: Path,
                                                                                tmp_path: Path) -> None:
    with Project(demo_project) as project:
        paths = project.track_paths()
        project.set_label(project.track_id(paths[0]), "Music")
        project.set_label(project.track_id(paths[1]), "Dialogue")
    damage_features(demo_project)
    before = untouched(demo_project)

    assert_said(run_cli("label", paths[2], "Both", "--project", str(demo_project)), 2, "is damaged")
    assert "labels export" in run_cli("label", paths[2], "Both", "--project", str(demo_project)).stderr
    status = run_cli("status", "--project", str(demo_project))
    assert status.returncode in (1, 2) and "is damaged" in status.stderr and "Traceback" not in status.stderr
    exported = run_cli("labels", "export", str(tmp_path / "saved.csv"), "--project", str(demo_project))
    assert exported.returncode == 0, exported.stderr
    assert "Wrote 2 labels" in exported.stdout and "is damaged" in exported.stderr
    assert "Music" in (tmp_path / "saved.csv").read_text() and "Dialogue" in (tmp_path / "saved.csv").read_text()
    assert untouched(demo_project) == before
    with pytest.raises(store.ProjectDamagedError):
        Project(demo_project, writer=True)


# -- 15: read-only commands never create or migrate -------------------------------------------------


def test_read_only_commands_refuse_an_empty_or_foreign_file_without_touching_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.audioid"
    empty.touch()
    foreign = tmp_path / "foreign.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("PRAGMA user_version = 2")
    db.close()
    for path, words in ((empty, "is empty"), (foreign, "not an AudioID project")):
        before = untouched(path)
        assert_said(run_cli("status", "--project", str(path)), 2, words)
        assert_said(run_cli("labels", "export", str(tmp_path / "x.csv"), "--project", str(path)), 2, words)
        assert untouched(path) == before
    assert_said(run_cli("label", "x.mp3", "Music", "--project", str(foreign)), 2, "not an AudioID project")
    assert_said(run_cli("label", "x.mp3", "Music", "--project", str(empty)), 2, "is empty")  # creates nothing
    assert empty.stat().st_size == 0
    assert untouched(foreign)[0] == before[0]


def test_an_old_project_is_upgraded_only_by_a_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.audioid"
    with monkeypatch.context() as m:
        m.setattr(store, "MIGRATIONS", store.MIGRATIONS[:3])
        m.setattr(store, "SCHEMA_VERSION", 3)
        Project(path).close()
    before = untouched(path)
    assert_said(run_cli("status", "--project", str(path)), 2, "open it in the window to upgrade it")
    assert untouched(path) == before
    with Project(path, writer=True):
        pass
    assert run_cli("status", "--project", str(path)).returncode == 0


# -- 16: a read-only folder -------------------------------------------------------------------------


def test_in_a_read_only_folder_reading_works_and_writers_say_why_not(demo_project: Path, tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "4m") as disk:
        project = Path(shutil.copy(demo_project, disk / "p.audioid"))
        track = first_track(project)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        status = run_cli("status", "--project", str(project))
        assert status.returncode == 0 and "Tracks:     30" in status.stdout, status.stderr
        exported = run_cli("labels", "export", str(tmp_path / "l.csv"), "--project", str(project))
        assert exported.returncode == 0, exported.stderr
        refused = run_cli("label", track, "Music", "--project", str(project))
        assert_said(refused, 2, f"The folder {disk} is read-only")
        assert "Commands that only read: status" in refused.stderr


# -- 17: one lock per file, whatever the path -------------------------------------------------------


def test_the_writer_lock_holds_through_a_symbolic_link(demo_project: Path, tmp_path: Path) -> None:
    link = tmp_path / "elsewhere" / "same.audioid"
    link.parent.mkdir()
    link.symlink_to(demo_project)
    track = first_track(demo_project)
    with Project(demo_project, writer=True):
        assert_said(run_cli("label", track, "Music", "--project", str(link)), 2, "open in another AudioID window")
        with pytest.raises(store.ProjectLockedError):
            Project(link, writer=True)
    assert labels_in_file(demo_project) == []


# -- 18: a planted model --------------------------------------------------------------------------


def plant_model(project_file: Path, blob: bytes) -> None:
    """Make ``blob`` the newest model, with no stored predictions: the commands must load it."""
    from audioid_gui.core.features import VERSION

    with Project(project_file) as project:
        project.save_model(VERSION, str(project.segment), ["Music", "Dialogue", "Both"], {}, 6, blob)
        project.db.execute("DELETE FROM predictions")


def zip_bomb(unpacked_mb: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("schema.json", "w") as member:
            for _ in range(unpacked_mb):
                member.write(b"\0" * (1 << 20))
    return out.getvalue()


def test_a_planted_zip_bomb_or_non_model_is_refused_and_the_queue_goes_on(demo_project: Path) -> None:
    from audioid_gui.core.learning import ModelFileError, load_model

    bomb = zip_bomb(300)
    with pytest.raises(ModelFileError, match="damaged or not a model: retrain"):
        load_model(bomb, ["Music"], {})
    not_a_model = sio.dumps(Pipeline([("scale", StandardScaler())]))
    with pytest.raises(ModelFileError, match="damaged or not a model: retrain"):
        load_model(not_a_model, ["Music"], {})

    for blob in (bomb, not_a_model):
        plant_model(demo_project, blob)
        assert_said(run_cli("predict", "--project", str(demo_project)), 2, "damaged or not a model: retrain")
        queue = run_cli("queue", "--n", "3", "--project", str(demo_project))
        assert queue.returncode == 0 and "damaged or not a model" in queue.stderr, queue.stderr
        assert "tracks stand for the collection's different sounds" in queue.stdout  # as before any training
        assert "Traceback" not in queue.stderr
