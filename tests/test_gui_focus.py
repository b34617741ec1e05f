"""The label keys reach the labels whatever a person touched before: a spin box in a panel, the
path filter, a command that shows a list to hear, a dialog."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QWidget

from audioid_gui.gui.main_window import MainWindow

from .conftest import labels_in_file

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def focused(window: MainWindow) -> QWidget:
    """Where a key typed now goes: the focused widget, or the window when nothing has focus."""
    return QApplication.focusWidget() or window


def press_d_labels_current(window: MainWindow, demo_project: Path, qtbot) -> None:
    """Press D where the keyboard is; the track that was current is then labelled Dialogue."""
    name = window.player.track.name if window.player.track else None
    assert name is not None
    before = len(labels_in_file(demo_project))
    qtbot.keyClick(focused(window), Qt.Key.Key_D)
    rows = labels_in_file(demo_project)
    assert len(rows) == before + 1 and rows[-1][:2] == (name, "Dialogue")


def open_demo(window: MainWindow, demo_project: Path, qtbot) -> None:
    assert window.open_project(demo_project)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


def click_into(box: QAbstractSpinBox, qtbot) -> None:
    """Click into a spin box's text, as a person does to type a number."""
    qtbot.waitUntil(lambda: box.isVisible() and box.isEnabled(), timeout=20_000)  # (a panel may be busy)
    qtbot.mouseClick(box.lineEdit(), Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() in (box, box.lineEdit())


def spin_boxes(window: MainWindow) -> dict[str, tuple[QAbstractSpinBox, object]]:
    """Spin boxes a person edits while labeling, each with the dock it lives in."""
    return {
        "cluster cut": (window.clusters.k, window.clusters_dock),
        "guided sample size": (window.clusters.sample_size, window.clusters_dock),
        "queue size": (window.model_panel.queue.size, window.model_dock),
        "review sample": (window.review_panel.sample, window.review_dock),
    }


@pytest.mark.parametrize("which", ["cluster cut", "guided sample size", "queue size", "review sample"])
def test_enter_in_a_panel_spin_box_gives_the_keys_back(window: MainWindow, demo_project: Path, qtbot,
                                                       which: str) -> None:
    open_demo(window, demo_project, qtbot)
    box, dock = spin_boxes(window)[which]
    dock.show()
    dock.raise_()
    click_into(box, qtbot)
    box.selectAll()
    qtbot.keyClicks(focused(window), "6")
    qtbot.keyClick(focused(window), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.table)
    assert box.value() == 6
    press_d_labels_current(window, demo_project, qtbot)


def test_a_class_key_typed_in_a_spin_box_labels(window: MainWindow, demo_project: Path, qtbot) -> None:
    open_demo(window, demo_project, qtbot)
    window.clusters_dock.show()
    box = window.clusters.sample_size
    value = box.value()
    click_into(box, qtbot)
    press_d_labels_current(window, demo_project, qtbot)
    assert box.value() == value


def test_undo_next_and_play_work_from_a_spin_box_and_digits_still_edit_it(window: MainWindow, demo_project: Path,
                                                                          qtbot) -> None:
    open_demo(window, demo_project, qtbot)
    window.model_dock.show()
    window.model_dock.raise_()
    box = window.model_panel.queue.size
    click_into(box, qtbot)
    press_d_labels_current(window, demo_project, qtbot)
    qtbot.keyClick(focused(window), Qt.Key.Key_Z, CTRL)  # the label is taken back
    assert labels_in_file(demo_project) == []
    current = window.table.current_track_id()
    qtbot.keyClick(focused(window), Qt.Key.Key_Right, CTRL)  # the next track
    assert window.table.current_track_id() != current
    triggered = []
    window.act_play.triggered.connect(lambda: triggered.append(True))
    qtbot.keyClick(focused(window), Qt.Key.Key_Space)
    assert triggered, "Space in a spin box should play or pause"
    assert QApplication.focusWidget() in (box, box.lineEdit())
    box.selectAll()
    qtbot.keyClicks(focused(window), "12")
    assert box.value() == 12


def test_the_path_filter_types_letters_and_enter_returns_to_the_list(window: MainWindow, demo_project: Path,
                                                                    qtbot) -> None:
    open_demo(window, demo_project, qtbot)
    qtbot.keyClick(focused(window), Qt.Key.Key_F, CTRL)
    assert QApplication.focusWidget() is window.filter_text
    qtbot.keyClicks(window.filter_text, "mp3")
    assert window.filter_text.text() == "mp3" and labels_in_file(demo_project) == []
    qtbot.keyClick(window.filter_text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.table)
    qtbot.waitUntil(lambda: window.count_label.text() == "17 tracks shown")
    press_d_labels_current(window, demo_project, qtbot)


def close_next_dialog(qtbot) -> None:
    """Press Escape on the next modal dialog, as a person closes it."""
    def close() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, close)
            return
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)

    QTimer.singleShot(0, close)


@pytest.mark.parametrize("command", ["classes", "tag writer", "shortcuts", "about"])
def test_closing_a_dialog_gives_the_keys_back(window: MainWindow, demo_project: Path, qtbot, command: str) -> None:
    open_demo(window, demo_project, qtbot)
    window.filter_text.setFocus()  # where a D would type, not label
    actions = {"classes": window.act_classes, "tag writer": window.act_write_tags,
               "shortcuts": window.act_shortcuts, "about": window.act_about}
    close_next_dialog(qtbot)
    actions[command].trigger()
    window.activateWindow()  # what the window manager does when a dialog closes
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.table)
    press_d_labels_current(window, demo_project, qtbot)
    assert window.filter_text.text() == ""


def test_guided_labeling_started_from_a_panel_takes_the_keys(window: MainWindow, demo_project: Path, qtbot) -> None:
    window.clusters.k.setValue(3)
    open_demo(window, demo_project, qtbot)
    window.clusters_dock.show()
    qtbot.waitUntil(lambda: window.clusters.clustering is not None, timeout=20_000)
    click_into(window.clusters.sample_size, qtbot)
    qtbot.keyClick(focused(window), Qt.Key.Key_G, CTRL)
    panel = window.clusters
    qtbot.waitUntil(lambda: panel.proposal is not None and window.table.current_track_id() in panel.proposal.sample)
    assert QApplication.focusWidget() is window.table
    press_d_labels_current(window, demo_project, qtbot)


def test_listen_in_the_review_panel_takes_the_keys(window: MainWindow, demo_project: Path, qtbot) -> None:
    open_demo(window, demo_project, qtbot)
    qtbot.keyClick(focused(window), Qt.Key.Key_R, CTRL | SHIFT)
    panel = window.review_panel
    panel.playlist.setCurrentIndex(panel.playlist.findData("orange_cluster"))
    panel.sample.setValue(3)
    qtbot.mouseClick(panel.draw_button, Qt.MouseButton.LeftButton)
    press_d_labels_current(window, demo_project, qtbot)
    window.filter_text.setFocus()
    qtbot.mouseClick(panel.listen_button, Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() is window.table
    press_d_labels_current(window, demo_project, qtbot)
    assert [source for *_, source in labels_in_file(demo_project)] == ["review", "review"]


def test_label_from_queue_takes_the_keys(window: MainWindow, demo_project: Path, qtbot) -> None:
    open_demo(window, demo_project, qtbot)
    window.model_panel.queue.size.setValue(5)
    qtbot.waitUntil(lambda: not window.model_panel.queue_pending, timeout=60_000)
    window.model_dock.show()
    window.model_panel.tabs.setCurrentWidget(window.model_panel.queue)
    click_into(window.model_panel.queue.size, qtbot)
    qtbot.keyClick(focused(window), Qt.Key.Key_Q, CTRL | SHIFT)
    assert QApplication.focusWidget() is window.table
    press_d_labels_current(window, demo_project, qtbot)


def test_a_chosen_list_shows_all_its_tracks_whatever_the_path_filter(window: MainWindow, demo_project: Path,
                                                                     qtbot) -> None:
    open_demo(window, demo_project, qtbot)
    window.model_panel.queue.size.setValue(5)
    qtbot.keyClicks(window.filter_text, "ogg")
    qtbot.waitUntil(lambda: window.count_label.text() == "13 tracks shown")
    qtbot.waitUntil(lambda: not window.model_panel.queue_pending, timeout=60_000)
    queue = [e.track_id for e in window.model_panel.queue.entries]
    assert any(window.model.row_of(t) is None for t in queue), "the filter hides some of the queue"
    qtbot.keyClick(focused(window), Qt.Key.Key_Q, CTRL | SHIFT)
    assert window.count_label.text() == "5 tracks shown"
    assert [window.model.track_id(r) for r in range(5)] == queue
    assert not window.filter_text.isEnabled() and window.filter_text.text() == "ogg"
    qtbot.keyClick(focused(window), Qt.Key.Key_F, CTRL)
    assert "choose one under Show to filter by path" in window.statusBar().currentMessage()
    window.quick_filter.setCurrentIndex(0)  # back to all tracks: the path filter works again
    assert window.count_label.text() == "13 tracks shown" and window.filter_text.isEnabled()


ACTIVE_ON_SHOW = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
app.setOrganizationName("AudioIDTest")
from audioid_gui.gui.main_window import MainWindow
window = MainWindow()
window.show()
QTimer.singleShot(2000, lambda: print("active" if window.isActiveWindow() else "inactive", flush=True))
QTimer.singleShot(2100, app.quit)
app.exec()
"""


def test_window_takes_the_keyboard_on_a_bare_x_server(tmp_path: Path) -> None:
    """With no window manager to hand out focus, the window activates itself when it appears."""
    import os
    import shutil
    import subprocess
    import sys

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    display = f":{100 + os.getpid() % 400}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "HOME": str(tmp_path),
               "XDG_CONFIG_HOME": str(tmp_path)}
        for _ in range(50):  # the server needs a moment to open its socket
            if Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
                break
            subprocess.run(["sleep", "0.1"])
        run = subprocess.run([sys.executable, "-c", ACTIVE_ON_SHOW], env=env, capture_output=True,
                             text=True, timeout=60)
        assert run.stdout.strip().endswith("active") and "inactive" not in run.stdout, run.stderr[-2000:]
    finally:
        server.terminate()
        server.wait()


def test_find_over_a_chosen_list_opens_the_show_list_and_typing_labels_nothing(window: MainWindow, demo_project: Path,
                                                                              qtbot) -> None:
    """A chosen list is not filtered by path: Ctrl+F says so and opens the Show list, and the
    word typed next (with class keys in it) labels no track."""
    open_demo(window, demo_project, qtbot)
    window.show_track_set("a few", [1, 2, 3])
    assert not window.filter_text.isEnabled()
    before = len(labels_in_file(demo_project))
    qtbot.keyClick(focused(window), Qt.Key.Key_F, CTRL)
    assert "choose one under Show" in window.statusBar().currentMessage()
    assert focused(window) is not window.table
    qtbot.keyClicks(focused(window), "mdb")
    assert len(labels_in_file(demo_project)) == before
    window.quick_filter.hidePopup()
