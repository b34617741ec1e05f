"""Labeling-desk responsiveness on a 30,000-track project.

    python bench/gui.py [--tracks 30000]

Prints: time to first window shown, time to open the project, key-press-to-next-track-playing
latency (median and worst of 20), and the longest stall of the event loop (a 10 ms heartbeat)
while a scan of 200 files runs in the background.  Baseline for the stall: the same heartbeat with
nothing running, measured in the same run.  Targets: window < 2 s, open < 1 s, next < 150 ms,
no stall > 100 ms.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.*=false")

STARTED = time.perf_counter()
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from audioid_gui.core.demo import DEMO_AUDIO  # noqa: E402
from audioid_gui.core.project import Project  # noqa: E402
from heartbeat import heartbeat_stall  # noqa: E402  (bench/heartbeat.py)


def build_project(folder: Path, n: int) -> Path:
    """n tracks: symlinks to the demo clips (real, playable files), inserted in one transaction."""
    clips = sorted(DEMO_AUDIO.iterdir())
    links = folder / "links"
    links.mkdir()
    path = folder / "big.audioid"
    with Project(path) as project:
        rows = []
        for i in range(n):
            link = links / f"track{i:05d}{clips[i % len(clips)].suffix}"
            link.symlink_to(clips[i % len(clips)])
            rows.append((str(link), 1000, 0.0, 14.0, time.time()))
        project.db.execute("BEGIN")
        project.db.executemany("INSERT INTO tracks(path, size, mtime, duration, added_at) VALUES (?,?,?,?,?)", rows)
        project.db.execute("COMMIT")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracks", type=int, default=30_000)
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    app.setOrganizationName("AudioIDBench")
    app.setApplicationName("gui")
    from audioid_gui.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    app.processEvents()
    shown = time.perf_counter() - STARTED
    with tempfile.TemporaryDirectory() as tmp:
        project_path = build_project(Path(tmp), args.tracks)
        t0 = time.perf_counter()
        window.open_project(project_path)
        app.processEvents()
        opened = time.perf_counter() - t0
        window.act_auto_advance.setChecked(True)
        window.act_autoplay.setChecked(True)
        latencies = []
        for _ in range(20):
            t0 = time.perf_counter()
            QTest.keyClick(window.table, Qt.Key.Key_M)
            while not window.player.is_playing() and time.perf_counter() - t0 < 5:
                app.processEvents()
            latencies.append((time.perf_counter() - t0) * 1000)
            QTest.qWait(150)
        window.player.stop()
        idle = heartbeat_stall(app, 3.0)
        incoming = Path(tmp) / "incoming"
        incoming.mkdir()
        for i in range(200):
            shutil.copy(sorted(DEMO_AUDIO.iterdir())[i % 30], incoming / f"new{i:03d}{sorted(DEMO_AUDIO.iterdir())[i % 30].suffix}")
        busy = heartbeat_stall(app, 12.0, lambda: window.start_scan([incoming]))
        window.jobs.cancel()
        while window.jobs.busy():
            app.processEvents()
        window.close()
    print(f"tracks in project:            {args.tracks:,}")
    print(f"first window shown:           {shown:.2f} s   (target < 2 s)")
    print(f"open project:                 {opened * 1000:.0f} ms  (target < 1000 ms)")
    print(f"key press -> next playing:    median {statistics.median(latencies):.0f} ms, worst {max(latencies):.0f} ms"
          f"  (target < 150 ms)")
    print(f"longest event-loop stall:     idle {idle:.0f} ms, during a scan {busy:.0f} ms  (target < 100 ms); "
          f"ratio {busy / max(idle, 1):.1f}x idle")


if __name__ == "__main__":
    main()
