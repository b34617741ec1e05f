"""The tag writer dialog: preview, write with a click, undo from the Edit menu."""
from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from audioid_gui.core.extraction import scan
from audioid_gui.core.project import Project
from audioid_gui.core.tags import read_tags
from audioid_gui.gui.main_window import MainWindow
from audioid_gui.gui.tag_writer import TagWriterDialog

from .conftest import REPO, labelled_clips


def open_writer(window: MainWindow, tmp_path: Path, qtbot) -> tuple[TagWriterDialog, Path, set[int]]:
    """The tag writer over a new project of three clips, two labelled: (dialog, folder, labelled ids)."""
    project_file, folder = labelled_clips(tmp_path)
    assert window.open_project(project_file)
    labelled = {window.project.track_id(folder / name) for name in ("outro 01.mp3", "outro 02.ogg")}
    dialog = TagWriterDialog(window.project, [], window)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog, folder, labelled


def test_preview_write_and_undo(window: MainWindow, tmp_path: Path, qtbot, monkeypatch) -> None:
    dialog, folder, labelled = open_writer(window, tmp_path, qtbot)
    assert dialog.table.rowCount() == 2 and "<b>2</b> files to write" in dialog.counts.text()
    assert [dialog.table.item(r, 2).text() for r in range(2)] == ["Music", "Dialogue"]
    write_and_wait(dialog, qtbot, labelled)
    assert dialog.result.written == 2 and "Wrote 2 files" in dialog.log.toPlainText()
    assert read_tags(folder / "outro 01.mp3").genres == ["Music"]
    assert read_tags(folder / "outro 02.ogg").genres == ["Dialogue"]
    assert read_tags(folder / "outro 03.mp3").genres == []
    # The preview is planned again from what the files now hold, and the dialog can go on.
    assert "<b>0</b> files to write · 2 already right" in dialog.counts.text() and dialog.table.rowCount() == 0
    assert not dialog.apply_button.isEnabled() and dialog.undo_button.isEnabled()
    assert dialog.mode.isEnabled() and dialog.scope.isEnabled() and dialog.private.isEnabled()
    qtbot.mouseClick(dialog.private, Qt.MouseButton.LeftButton, pos=QPoint(8, dialog.private.height() // 2))
    assert dialog.private.isChecked() and genres_now(dialog) == ["Music", "Dialogue"]
    qtbot.mouseClick(dialog.private, Qt.MouseButton.LeftButton, pos=QPoint(8, dialog.private.height() // 2))

    with qtbot.waitSignal(dialog.tags_written, timeout=30_000) as undone:
        qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    assert set(undone.args[0]) == labelled
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
    assert "Restored 2 files" in dialog.log.toPlainText()
    assert read_tags(folder / "outro 01.mp3").genres == [] and read_tags(folder / "outro 02.ogg").genres == []
    assert "<b>2</b> files to write" in dialog.counts.text() and genres_now(dialog) == ["(none)", "(none)"]
    assert dialog.apply_button.isEnabled() and not dialog.undo_button.isEnabled()

    write_and_wait(dialog, qtbot, labelled)  # written again, then undone later from the window
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)  # Close
    window.refresh_tracks()
    assert {window.model.track(r).genre for r in range(3)} == {"Music", "Dialogue", None}

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.act_undo_tags.trigger()
    qtbot.waitUntil(lambda: read_tags(folder / "outro 01.mp3").genres == [], timeout=30_000)
    qtbot.waitUntil(lambda: read_tags(folder / "outro 02.ogg").genres == [], timeout=30_000)


def test_one_file_to_write_is_said_in_the_singular(window: MainWindow, tmp_path: Path, qtbot) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy(REPO / "resources" / "demo" / "outro 01.mp3", folder / "outro 01.mp3")
    project_file = tmp_path / "t.audioid"
    with Project(project_file) as project:
        scan(project, [folder], workers=1)
        project.set_label(project.track_id(folder / "outro 01.mp3"), "Music")
    assert window.open_project(project_file)
    dialog = TagWriterDialog(window.project, [window.project.track_id(folder / "outro 01.mp3")], window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert "<b>1</b> file to write" in dialog.counts.text()
    assert dialog.scope.itemText(1) == "The 1 track shown in the table"
    write_and_wait(dialog, qtbot, {window.project.track_id(folder / "outro 01.mp3")})
    assert dialog.log.toPlainText().startswith("Wrote 1 file;")


def write_and_wait(dialog: TagWriterDialog, qtbot, expected_ids: set[int]) -> None:
    """Click Write Tags; wait for the dialog to say which tracks changed and to be ready again."""
    with qtbot.waitSignal(dialog.tags_written, timeout=30_000) as written:
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert set(written.args[0]) == expected_ids
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)


def genres_now(dialog: TagWriterDialog) -> list[str]:
    return [dialog.table.item(row, 1).text() for row in range(dialog.table.rowCount())]


def test_an_undo_where_a_file_failed_can_be_tried_again(window: MainWindow, tmp_path: Path, qtbot) -> None:
    dialog, folder, labelled = open_writer(window, tmp_path, qtbot)
    write_and_wait(dialog, qtbot, labelled)
    stuck = folder / "outro 02.ogg"
    stuck.chmod(0o444)
    qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
    assert "Restored 1 file; 0 already as before; 1 failed." in dialog.log.toPlainText()
    assert "still changes 1 file" in dialog.log.toPlainText()
    assert dialog.undo_button.isEnabled() and read_tags(stuck).genres == ["Dialogue"]
    stuck.chmod(0o644)
    qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)
    assert read_tags(stuck).genres == [] and not dialog.undo_button.isEnabled()
