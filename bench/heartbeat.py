"""How long the GUI event loop goes without running a timer: the stall a person would feel."""
from __future__ import annotations

import time
from typing import Callable, Optional

from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication


def heartbeat_stall(app: QApplication, seconds: float = 0.0, during: Optional[Callable[[], None]] = None,
                    until: Optional[Callable[[], bool]] = None) -> float:
    """Longest gap between 10 ms timer ticks, in ms, after starting ``during`` (if any): for
    ``seconds``, or until ``until()`` is true."""
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer(interval=10)
    timer.timeout.connect(tick)
    timer.start()
    if during is not None:
        during()
    end = time.perf_counter() + seconds
    while (until is not None and not until()) or time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    return max(gaps) if gaps else 0.0
