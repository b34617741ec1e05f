"""The labeling desk, driven as a person drives it: keys, clicks, the real player."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtMultimedia import QMediaPlayer
from PySide6.QtWidgets import QApplication, QMessageBox

from audioid_gui.core.project import Project
from audioid_gui.core.store import ProjectLockedError
from audioid_gui.gui.main_window import MainWindow

from .conftest import labels_in_file, stop_playback, tone, write_audio


def names_in_view(w: MainWindow, n: int) -> list[str]:
    return [w.model.track(r).name for r in range(n)]


def test_keys_label_the_playing_track_and_advance(window: MainWindow, demo_project: Path, qtbot) -> None:
    assert window.open_project(demo_project)
    first_four = names_in_view(window, 4)
    assert window.table.currentIndex().row() == 0
    for key in (Qt.Key.Key_M, Qt.Key.Key_D, Qt.Key.Key_B):
        qtbot.keyClick(window.table, key)
    assert labels_in_file(demo_project) == [
        (first_four[0], "Music", "human"), (first_four[1], "Dialogue", "human"), (first_four[2], "Both", "human")
    ]
    assert window.table.currentIndex().row() == 3
    assert window.player.track.name == first_four[3]
    assert "3 labelled" in window.session_label.text()
    assert window.model.track(0).label == "Music"


def test_undo_and_redo_labels(window: MainWindow, demo_project: Path, qtbot) -> None:
    window.open_project(demo_project)
    names = names_in_view(window, 2)
    qtbot.keyClick(window.table, Qt.Key.Key_M)
    qtbot.keyClick(window.table, Qt.Key.Key_D)
    qtbot.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert labels_in_file(demo_project) == [(names[0], "Music", "human")]
    assert window.table.currentIndex().row() == 1, "undo goes back to the track it took the label from"
    qtbot.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert labels_in_file(demo_project) == []
    qtbot.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert labels_in_file(demo_project) == [(names[0], "Music", "human"), (names[1], "Dialogue", "human")]


def test_keys_faster_than_playback_each_land_on_their_own_track(window: MainWindow, demo_project: Path, qtbot) -> None:
    window.open_project(demo_project)
    names = names_in_view(window, 10)
    keys = "MDBMDBMDBM"
    for key in keys:  # no event processing in between: playback cannot have started
        qtbot.keyClick(window.table, getattr(Qt.Key, f"Key_{key}"))
    expected = {"M": "Music", "D": "Dialogue", "B": "Both"}
    assert labels_in_file(demo_project) == [(n, expected[k], "human") for n, k in zip(names, keys)]


def test_playback_starts_at_the_segment_and_moves(window: MainWindow, demo_project: Path, qtbot) -> None:
    window.act_autoplay.setChecked(True)
    window.open_project(demo_project)
    player = window.player
    qtbot.waitUntil(player.is_playing, timeout=10_000)
    segment_start_ms = player.segment_start * 1000
    assert segment_start_ms == pytest.approx(4000, abs=50)  # 14-s clips, last 10 s
    qtbot.waitUntil(lambda: player.media.position() > segment_start_ms + 300, timeout=10_000)
    qtbot.waitUntil(lambda: player.view.picture is not None, timeout=10_000)
    qtbot.keyClick(window.table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not player.is_playing(), timeout=5_000)
    stop_playback(window, qtbot)


def test_whole_file_plays_from_the_start(window: MainWindow, demo_project: Path, qtbot) -> None:
    window.act_autoplay.setChecked(True)
    window.open_project(demo_project)
    qtbot.keyClick(window.table, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.player.whole_file.isChecked()
    qtbot.keyClick(window.table, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.player.is_playing, timeout=10_000)
    assert window.player.media.position() < 3000
    stop_playback(window, qtbot)


def _library_with_trouble(root: Path) -> Path:
    for name in ("a fine clip.wav", "b vanishes.wav", "d fine too.wav"):
        write_audio(root / "lib" / name, tone(12, 440))
    (root / "lib" / "c broken.mp3").write_text("this is not audio\n" * 200)
    project_file = root / "trouble.audioid"
    from audioid_gui.core.extraction import scan

    with Project(project_file) as project:
        scan(project, [root / "lib"], workers=1)
    (root / "lib" / "b vanishes.wav").unlink()
    return project_file


def test_missing_and_unplayable_files_say_so_and_can_still_be_labelled(window: MainWindow, tmp_path: Path, qtbot) -> None:
    window.act_autoplay.setChecked(True)
    project_file = _library_with_trouble(tmp_path)
    window.open_project(project_file)
    assert names_in_view(window, 4) == ["a fine clip.wav", "b vanishes.wav", "c broken.mp3", "d fine too.wav"]
    window.act_auto_advance.setChecked(False)
    window.table.select_row(1)
    assert "moved or deleted" in window.player.message.text() and window.player.message.isVisible()
    qtbot.keyClick(window.table, Qt.Key.Key_D)
    window.table.select_row(2)
    qtbot.waitUntil(lambda: "cannot be played" in window.player.message.text().lower() or
                    "cannot play" in window.player.message.text().lower(), timeout=10_000)
    assert "⚠" in window.model.data(window.model.index(2, 0))  # the table marks the failed file
    qtbot.keyClick(window.table, Qt.Key.Key_B)
    qtbot.keyClick(window.table, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.player.is_playing, timeout=10_000)
    assert window.player.track.name == "d fine too.wav" and not window.player.message.isVisible()
    assert labels_in_file(project_file) == [("b vanishes.wav", "Dialogue", "human"), ("c broken.mp3", "Both", "human")]
    stop_playback(window, qtbot)


def test_a_project_open_elsewhere_is_refused(window: MainWindow, demo_project: Path, qtbot, monkeypatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    holder = Project(demo_project, writer=True)
    try:
        assert not window.open_project(demo_project)
        assert "open in another AudioID window" in shown[0]
        assert window.project is None
    finally:
        holder.close()
    assert window.open_project(demo_project)
    with pytest.raises(ProjectLockedError):
        Project(demo_project, writer=True)


def test_a_project_from_a_newer_version_is_refused(window: MainWindow, demo_project: Path, monkeypatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    db = sqlite3.connect(demo_project)
    db.execute("PRAGMA user_version = 99")
    db.close()
    assert not window.open_project(demo_project)
    assert "newer AudioID" in shown[0]


def test_filters_and_sorting(window: MainWindow, demo_project: Path, qtbot) -> None:
    window.open_project(demo_project)
    assert window.model.rowCount() == 30
    qtbot.keyClick(window.table, Qt.Key.Key_M)
    qtbot.keyClicks(window.filter_text, "caf")
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=3000)
    window.filter_text.clear()
    window.quick_filter.setCurrentIndex(window.quick_filter.findText("Label: Music"))
    assert window.model.rowCount() == 1
    window.quick_filter.setCurrentIndex(window.quick_filter.findText("Playlist: green_cluster"))
    assert window.model.rowCount() == 10 and window.model.track(0).name == "outro 11.mp3"
    window.quick_filter.setCurrentIndex(window.quick_filter.findText("All tracks"))
    window.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert window.model.track(0).name == "outro 30.ogg"


def test_import_runs_in_the_background_and_fills_the_table(window: MainWindow, tmp_path: Path, qtbot) -> None:
    for i in range(6):
        write_audio(tmp_path / "incoming" / f"clip {i}.wav", tone(11, 300 + 50 * i))
    window.open_project(tmp_path / "new.audioid", create=True)
    assert window.model.rowCount() == 0
    window.start_scan([tmp_path / "incoming"])
    assert window.jobs.busy() and window.jobs.cancel_button.isVisible()
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=60_000)
    assert window.model.rowCount() == 6
    assert "features for 6" in window.statusBar().currentMessage()


def test_cancel_stops_an_import(window: MainWindow, tmp_path: Path, qtbot) -> None:
    for i in range(40):
        write_audio(tmp_path / "many" / f"clip {i:02d}.flac", tone(11, 200 + 10 * i))
    window.open_project(tmp_path / "new.audioid", create=True)
    window.start_scan([tmp_path / "many"])
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=30_000)
    qtbot.mouseClick(window.jobs.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=30_000)
    db = sqlite3.connect(tmp_path / "new.audioid")
    extracted = db.execute("SELECT count(*) FROM features").fetchone()[0]
    assert extracted < 40
    assert "stopped early" in window.statusBar().currentMessage()


def test_dropping_a_folder_imports_it(window: MainWindow, tmp_path: Path, qtbot) -> None:
    write_audio(tmp_path / "dropped" / "x.wav", tone(3))
    window.open_project(tmp_path / "new.audioid", create=True)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "dropped"))])
    event = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: not window.jobs.busy() and window.model.rowCount() == 1, timeout=60_000)


def test_settings_are_remembered(qtbot, qapp: QApplication, demo_project: Path) -> None:
    qapp.setOrganizationName("AudioIDTests")
    qapp.setApplicationName("settings")
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.open_project(demo_project)
    first.act_auto_advance.setChecked(False)
    first.player.volume.setValue(35)
    first.resize(700, 520)
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    second.open_initial_project(None)
    assert second.project is not None and second.project.path.resolve() == demo_project.resolve()
    assert not second.act_auto_advance.isChecked() and second.player.volume.value() == 35
    assert (second.size().width(), second.size().height()) == (700, 520)
    assert [a.text() for a in second.recent_menu.actions()] == [str(demo_project.resolve())]
    second.close()


def test_classes_dialog_adds_a_class_with_its_key(window: MainWindow, demo_project: Path, qtbot) -> None:
    from audioid_gui.gui.classes_dialog import ClassesDialog

    window.open_project(demo_project)
    dialog = ClassesDialog(window.project, window)
    dialog._add_row(window.project.classes()[0].__class__("Jingle", "J", "#ff00ff", "Jingle"), None)
    dialog.accept()
    window._rebuild_class_actions()
    name = names_in_view(window, 1)[0]
    qtbot.keyClick(window.table, Qt.Key.Key_J)
    assert labels_in_file(demo_project) == [(name, "Jingle", "human")]
    assert window.player.label_row.count() == 4


def test_welcome_page_without_a_project(window: MainWindow) -> None:
    assert window.pages.currentWidget() is window.welcome
    assert not window.act_add_folder.isEnabled()
    assert window.player.media.playbackState() == QMediaPlayer.PlaybackState.StoppedState


def test_player_plays_and_draws_the_recorded_segment_before_trailing_silence(window: MainWindow, tmp_path: Path,
                                                                           qtbot) -> None:
    import numpy as np

    from audioid_gui.core.extraction import scan

    from .conftest import SR, two_part_signal

    silent_tail = np.concatenate([two_part_signal(4.0, 10.0), np.zeros(6 * SR, dtype=np.float32)])
    write_audio(tmp_path / "lib" / "a outro.wav", silent_tail)
    project_file = tmp_path / "tails.audioid"
    with Project(project_file) as project:
        scan(project, [tmp_path / "lib"], workers=1)
    write_audio(tmp_path / "lib" / "b not scanned.wav", silent_tail)  # listed, never extracted
    with Project(project_file) as project:
        project.import_sources([tmp_path / "lib"])
    window.act_autoplay.setChecked(True)
    window.open_project(project_file)
    player = window.player
    rows = {window.model.track(r).name: r for r in range(window.model.rowCount())}
    window.table.select_row(rows["a outro.wav"])
    assert player.track.name == "a outro.wav"
    assert player.segment_start == pytest.approx(4.25, abs=0.06)
    assert player.segment_end == pytest.approx(14.25, abs=0.06)
    assert "Analysed 0:04–0:14" in player.segment_info.text()
    assert "trailing silence 5.7 s skipped" in player.segment_info.text()
    qtbot.waitUntil(lambda: player.view.picture is not None, timeout=10_000)
    assert player.view.picture.start == pytest.approx(player.segment_start, abs=0.01)
    assert player.view.picture.seconds == pytest.approx(10.0, abs=0.05)
    qtbot.waitUntil(player.is_playing, timeout=10_000)
    qtbot.waitUntil(lambda: player.media.position() >= 4200, timeout=10_000)  # it seeked to the segment
    assert player.media.position() < 14_250
    # Not extracted (nor probed) yet: the file's last 10 s, as before, in the player and the
    # picture alike; the file's length comes from the picture's decoding.
    window.table.select_row(rows["b not scanned.wav"])
    assert player.track.name == "b not scanned.wav"
    qtbot.waitUntil(lambda: player.view.picture is not None and player.view.picture.start > 9, timeout=10_000)
    assert player.segment_start == pytest.approx(10.0, abs=0.06) and player.segment_end == pytest.approx(20.0, abs=0.06)
    assert player.view.picture.start == pytest.approx(player.segment_start, abs=0.01)
    assert "Segment 0:10–0:20 (not analysed yet)" in player.segment_info.text()
    qtbot.waitUntil(lambda: player.media.position() >= 9950, timeout=10_000)
    stop_playback(window, qtbot)


def test_the_session_pace_waits_for_enough_labels_and_undo_takes_them_back(window: MainWindow, demo_project: Path,
                                                                         qtbot) -> None:
    from audioid_gui.gui.main_window import SessionCounter

    now = [100.0]
    counter = SessionCounter(clock=lambda: now[0])
    counter.add(1)
    now[0] += 1
    assert counter.text() == "This session: 1 labelled"  # not "60.0 per minute"
    counter.add(1)
    now[0] += 59
    assert counter.text() == "This session: 2 labelled · 2.0 per minute"

    window.open_project(demo_project)
    qtbot.keyClick(window.table, Qt.Key.Key_M)
    window.statusBar().showMessage("A message of the moment")
    assert window.session_label.text() == "This session: 1 labelled" and window.session_label.isVisible()
    qtbot.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.session_label.text() == "This session: nothing labelled yet"
    qtbot.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.session_label.text() == "This session: 1 labelled"


def test_a_new_project_shows_nothing_of_the_last_one(window: MainWindow, demo_project: Path, tmp_path: Path,
                                                      qtbot) -> None:
    window.open_project(demo_project)
    window.show_track_set("a few", [window.model.track_id(r) for r in range(3)], play=True)
    assert window.player.track is not None
    assert window.open_project(tmp_path / "new.audioid", create=True)
    assert window.player.track is None and window.player.title.text() == "No track"
    assert window.model.rowCount() == 0 and window.count_label.text() == "0 tracks shown"
    assert not any(window.quick_filter.itemText(i).startswith("Chosen") for i in range(window.quick_filter.count()))


def test_panel_shortcuts_bring_a_panel_behind_a_tab_to_the_front(window: MainWindow, demo_project: Path,
                                                                 qtbot) -> None:
    window.open_project(demo_project)

    def in_front(dock) -> bool:
        return dock.isVisible() and not dock.visibleRegion().isEmpty()

    keys = {"clusters": (Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier),
            "model": (Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)}
    qtbot.keyClick(window.table, *keys["clusters"])
    qtbot.keyClick(window.table, *keys["model"])
    qtbot.waitUntil(lambda: in_front(window.model_dock) and not in_front(window.clusters_dock))
    qtbot.keyClick(window.table, *keys["clusters"])  # open behind the Model tab: to the front
    qtbot.waitUntil(lambda: in_front(window.clusters_dock) and not in_front(window.model_dock))
    assert window.act_show_clusters.isChecked() and window.act_show_model.isChecked()
    qtbot.keyClick(window.table, *keys["clusters"])  # in front: closed
    qtbot.waitUntil(lambda: window.clusters_dock.isHidden() and in_front(window.model_dock))
    assert not window.act_show_clusters.isChecked()


def test_a_panel_opens_with_room_to_work(window: MainWindow, demo_project: Path, qtbot) -> None:
    window.resize(1280, 800)
    window.open_project(demo_project)
    qtbot.keyClick(window.table, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.clusters_dock.height() >= 0.4 * window.height())


def test_undoing_a_tag_batch_says_how_many_files_and_updates_the_player(window: MainWindow, tmp_path: Path, qtbot,
                                                                        monkeypatch) -> None:
    from audioid_gui.core.tags import apply, plan

    from .conftest import labelled_clips

    project_file, folder = labelled_clips(tmp_path)
    with Project(project_file) as project:
        assert apply(project, plan(project)).written == 2
    window.open_project(project_file)
    assert window.player.track.name == "outro 01.mp3"
    assert "genre</b>: Music" in window.player.tags.text()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda _parent, _title, text: asked.append(text)
                        or QMessageBox.StandardButton.Yes)
    window.act_undo_tags.trigger()
    assert asked == ["Put back the genres that the last tag batch replaced in 2 files?"]
    qtbot.waitUntil(lambda: "Music" not in window.player.tags.text(), timeout=30_000)


def test_file_dialogs_open_in_the_projects_folder_then_where_last_used(window: MainWindow, demo_project: Path,
                                                                       tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    window.open_project(demo_project)
    opened_in = []
    chosen = tmp_path / "elsewhere" / "labels.csv"
    chosen.parent.mkdir()
    chosen.write_text("path,label\n")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda _parent, _title, folder, _filter: (
        opened_in.append(folder) or (str(chosen), "")))
    monkeypatch.setattr(QMessageBox, "information", lambda *a: None)
    window.act_import_labels.trigger()
    window.act_import_labels.trigger()
    assert opened_in == [str(demo_project.parent), str(chosen.parent)]


def test_the_shortcuts_dialog_shows_its_text_whole(window: MainWindow, demo_project: Path, qtbot) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QTableWidget

    window.open_project(demo_project)
    seen = {}

    def read_and_close() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, read_and_close)
            return
        table = dialog.findChild(QTableWidget)
        metrics = table.fontMetrics()
        seen["clipped"] = [table.item(r, c).text() for r in range(table.rowCount()) for c in range(2)
                           if metrics.horizontalAdvance(table.item(r, c).text()) > table.columnWidth(c)]
        seen["sideways"] = table.horizontalScrollBar().isVisible()
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)

    QTimer.singleShot(0, read_and_close)
    qtbot.keyClick(window.table, Qt.Key.Key_F1)
    assert seen == {"clipped": [], "sideways": False}


def test_the_folder_column_keeps_the_end_of_long_folders(window: MainWindow) -> None:
    assert window.table.textElideMode() == Qt.TextElideMode.ElideMiddle
