"""Run by test_gui_app: label tracks in a real window, one key press at a time, and print an
acknowledgement for each label the window took (its undo stack grew: the label is committed)."""
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from audioid_gui.gui.main_window import MainWindow  # noqa: E402

app = QApplication([])
app.setOrganizationName("AudioIDTests")
app.setApplicationName("crash")
window = MainWindow()
window.act_auto_advance.setChecked(True)
window.act_autoplay.setChecked(False)
window.show()
window.open_project(Path(sys.argv[1]))
QTest.qWait(200)
keys = {"M": Qt.Key.Key_M, "D": Qt.Key.Key_D, "B": Qt.Key.Key_B}
while True:
    for letter, key in keys.items():
        track = window.table.current_track_id()
        if track is None:
            continue
        before = window.undo_stack.count()
        QTest.keyClick(window.table, key)
        if window.undo_stack.count() == before + 1:
            print(f"ACK {track} {letter}", flush=True)
        app.processEvents()
        QTest.qWait(20)
        if window.table.currentIndex().row() == window.model.rowCount() - 1:
            window.table.select_row(0)
