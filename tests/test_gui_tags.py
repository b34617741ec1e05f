"""The tag writer dialog: preview, write with a click, undo from the Edit menu."""
from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from audioid_gui.core.extraction import scan
from audioid_gui.core.project import Project
from audioid_gui.core.tags import read_tags
from audioid_gui.gui.main_window import MainWindow
from audioid_gui.gui.tag_writer import TagWriterDialog

from .conftest import REPO


def test_preview_write_and_undo(window: MainWindow, tmp_path: Path, qtbot, monkeypatch) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("outro 01.mp3", "outro 02.ogg", "outro 03.mp3"):
        shutil.copy(REPO / "resources" / "demo" / name, folder / name)
    project_file = tmp_path / "t.audioid"
    with Project(project_file) as project:
        scan(project, [folder], workers=1)
        project.set_label(project.track_id(folder / "outro 01.mp3"), "Music")
        project.set_label(project.track_id(folder / "outro 02.ogg"), "Dialogue")
    assert window.open_project(project_file)
    dialog = TagWriterDialog(window.project, [], window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.table.rowCount() == 2 and "<b>2</b> files to write" in dialog.counts.text()
    assert [dialog.table.item(r, 2).text() for r in range(2)] == ["Music", "Dialogue"]
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.result is not None and dialog.job is None, timeout=30_000)
    assert dialog.result.written == 2 and "Wrote 2 files" in dialog.log.toPlainText()
    assert read_tags(folder / "outro 01.mp3").genres == ["Music"]
    assert read_tags(folder / "outro 02.ogg").genres == ["Dialogue"]
    assert read_tags(folder / "outro 03.mp3").genres == []
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)  # Close
    window.refresh_tracks()
    assert {window.model.track(r).genre for r in range(3)} == {"Music", "Dialogue", None}

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.act_undo_tags.trigger()
    qtbot.waitUntil(lambda: read_tags(folder / "outro 01.mp3").genres == [], timeout=30_000)
    qtbot.waitUntil(lambda: read_tags(folder / "outro 02.ogg").genres == [], timeout=30_000)
