"""Start the GUI: check that there is a screen, set up QApplication, open the main window."""
from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Optional, Sequence

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox, QWidget

    from ..core.store import ProjectFileError

log = logging.getLogger(__name__)

ORGANIZATION = "AudioID"
APPLICATION = "AudioID Labeler"
# Qt's media back-end narrates every file it opens; the player shows real problems itself.
QUIET_QT_LOGS = "qt.multimedia.*=false\nqt.multimedia.ffmpeg.*=false"


def display_problem() -> Optional[str]:
    """Why Qt could not open a window here, in words, or None.  Checked before Qt starts, since
    Qt's own answer is an abort with a traceback-like dump."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "AudioID Labeler needs a display, and this session has none (DISPLAY is not set).\n"
        "On a machine without a screen, run it on a virtual one:\n"
        "    sudo apt-get install xvfb\n"
        "    xvfb-run -a audioid-gui [PROJECT]        (or: xvfb-run -a python3 dev.py run)\n"
        "Batch work needs no display at all: see `audioid --help`."
    )


class FaultReporter:
    """Says in a message box what a failed write or read of the project means (a full disk, a
    damaged page), wherever in the window it happened.  Installed as ``sys.excepthook``: an
    exception that leaves a Qt slot ends there, so one place covers every key press and menu.
    The write that failed was rolled back, so the box is all the user needs; anything else is a
    bug, logged with its traceback."""

    def __init__(self, window: "QWidget") -> None:
        self.window = window
        self.box: Optional["QMessageBox"] = None

    def __call__(self, kind: type[BaseException], exc: BaseException, tb: Optional[TracebackType]) -> None:
        from ..core.store import ProjectFileError

        problem = exc if isinstance(exc, ProjectFileError) else self._explain(exc)
        if problem is None:
            log.error("unexpected error", exc_info=(kind, exc, tb))
            return
        log.warning("%s", problem.message)
        self._show(problem)

    def _explain(self, exc: BaseException) -> Optional["ProjectFileError"]:
        from ..core.store import explain

        if not isinstance(exc, (OSError, sqlite3.Error)):
            return None
        project = getattr(self.window, "project", None)
        return explain(exc, project.path if project is not None else Path.cwd())

    def _show(self, problem: "ProjectFileError") -> None:
        """One box at a time: keys pressed while it shows go to it, and a burst of failures (a
        full disk under a scan) does not stack boxes."""
        from PySide6.QtWidgets import QMessageBox

        from ..core.store import DiskFullError, ProjectDamagedError

        if self.box is None:
            self.box = QMessageBox(QMessageBox.Icon.Critical, "", "", QMessageBox.StandardButton.Ok, self.window)
        elif self.box.isVisible():
            return
        self.box.setWindowTitle("Not saved: no room on the disk" if isinstance(problem, DiskFullError)
                                else "The project file is damaged" if isinstance(problem, ProjectDamagedError)
                                else "Problem with the project file")
        self.box.setText(problem.message)
        self.box.open()


def install_fault_reporter(window: "QWidget") -> FaultReporter:
    """Route what the window's slots let escape through a ``FaultReporter``, for the app's life."""
    reporter = FaultReporter(window)
    sys.excepthook = reporter
    return reporter


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="audioid-gui", description="Open the AudioID Labeler window.")
    parser.add_argument("project", nargs="?", type=Path, help="a project file to open (created if new)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2

    from PySide6.QtCore import QLoggingCategory
    from PySide6.QtWidgets import QApplication

    from ..core import heap
    from .main_window import MainWindow

    QLoggingCategory.setFilterRules(QUIET_QT_LOGS)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    window = MainWindow()
    install_fault_reporter(window)
    window.show()
    heap.settle()  # start-up's objects out of the garbage collector's passes
    window.open_initial_project(args.project)
    return app.exec()
