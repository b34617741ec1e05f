"""Starting the app, and what survives when it dies."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from audioid_gui.gui.main_window import MainWindow

from .conftest import REPO


def test_kill_while_labeling_loses_no_acknowledged_label(demo_project: Path) -> None:
    driver = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "label_driver.py"), str(demo_project)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    acknowledged = []
    for line in driver.stdout:
        if line.startswith("ACK "):
            acknowledged.append(line.split()[1:])
        if len(acknowledged) >= 45:
            break
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    db = sqlite3.connect(demo_project)
    names = {"M": "Music", "D": "Dialogue", "B": "Both"}
    history = db.execute(
        "SELECT l.track_id, c.name FROM labels l JOIN classes c ON c.id = l.class_id ORDER BY l.id"
    ).fetchall()
    assert len(history) >= len(acknowledged)
    assert [(int(t), names[k]) for t, k in acknowledged] == history[: len(acknowledged)]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_no_display_gives_instructions_not_a_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "audioid_gui"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "needs a display" in done.stderr and "xvfb-run" in done.stderr and "Traceback" not in done.stderr


def test_the_welcome_page_does_not_make_the_labeling_window_taller(window: MainWindow, demo_project: Path,
                                                                    tmp_path: Path) -> None:
    """A long list of recent projects sized the whole stack of pages: with the panels open the
    window no longer fitted a 1280×800 screen, status bar and all."""
    window.welcome.set_recent([str(tmp_path / f"project {i}.audioid") for i in range(12)])
    assert window.open_project(demo_project)
    for dock in (window.clusters_dock, window.model_dock, window.review_dock):
        dock.show()
    labeling = window.splitter.minimumSizeHint().height()
    assert window.pages.minimumSizeHint().height() <= labeling + 2
    window.close_project()  # the welcome page is back, whole
    assert window.pages.minimumSizeHint().height() >= window.welcome.minimumSizeHint().height()


def test_the_auto_advance_button_says_whether_it_is_on(window: MainWindow, qtbot) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QToolButton

    button = next(b for b in window.findChildren(QToolButton) if b.defaultAction() is window.act_auto_advance)
    assert button.text() == "Auto-advance: on"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert button.text() == "Auto-advance: off" and not window.act_auto_advance.isChecked()


def test_the_panel_tab_in_front_is_in_front_again_after_a_restart(window: MainWindow, demo_project: Path,
                                                                   qtbot) -> None:
    assert window.open_project(demo_project)
    for dock in (window.clusters_dock, window.model_dock, window.review_dock):
        dock.show()
    window.model_dock.raise_()
    qtbot.waitUntil(lambda: not window.model_dock.visibleRegion().isEmpty())
    assert window.clusters_dock.visibleRegion().isEmpty()  # tabbed behind it
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    assert again.open_project(demo_project)
    qtbot.waitUntil(lambda: not again.model_dock.visibleRegion().isEmpty())
    assert again.clusters_dock.visibleRegion().isEmpty() and again.review_dock.visibleRegion().isEmpty()
    again.close()
