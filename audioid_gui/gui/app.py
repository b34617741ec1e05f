"""Start the GUI: check that there is a screen, set up QApplication, open the main window."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

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

    from .main_window import MainWindow

    QLoggingCategory.setFilterRules(QUIET_QT_LOGS)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    window = MainWindow()
    window.show()
    window.open_initial_project(args.project)
    return app.exec()
