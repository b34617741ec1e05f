"""The status-bar corner that shows the background job: what it does, how far, and Cancel.

Jobs run one at a time, in the order they were asked for; the rest wait in a queue, so a second
folder dropped during a scan is imported after it instead of competing for the same cores.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Callable, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ..core.tasks import Pace, Progress
from .workers import Job

TEXT_CHARS = 44  # the width of the job's text, in characters: "Analysing: a long file na…e.flac"


class JobStatus(QWidget):
    """The status bar's job line: one job runs at a time, the rest wait their turn."""

    def __init__(self, parent: Optional[QWidget] = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.queue: deque[Job] = deque()
        self.current: Optional[Job] = None
        self.clock = clock
        self.pace = Pace(clock)
        self.text = QLabel()
        # A fixed width: file names of every length pass through it, and the bar and Cancel
        # button beside it must not jump sideways with each one.
        self.text.setFixedWidth(self.text.fontMetrics().horizontalAdvance("x") * TEXT_CHARS)
        self.bar = QProgressBar()
        # Wide enough for the longest text it shows, so the time left is never cut off.
        self.bar.setFixedWidth(self.bar.fontMetrics().horizontalAdvance("000,000 / 000,000 · 00m left") + 24)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the files in progress; finished work is kept")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self._show(False)

    def submit(self, job: Job) -> None:
        job.progress.connect(self._progress)
        job.finished.connect(self._finished)
        self.queue.append(job)
        if self.current is None:
            self._next()

    def cancel(self) -> None:
        """Cancel the running job and drop the waiting ones."""
        self.queue.clear()
        if self.current is not None:
            self.current.cancel()
            self._say(f"{self.current.title}: stopping…")
            self.cancel_button.setEnabled(False)

    def busy(self) -> bool:
        return self.current is not None

    def _next(self) -> None:
        if not self.queue:
            self.current = None
            self._show(False)
            return
        self.current = self.queue.popleft()
        self.pace = Pace(self.clock)
        self._say(f"{self.current.title}…")
        self.bar.setRange(0, 0)  # busy indicator until the job knows its total
        self.cancel_button.setEnabled(True)
        self._show(True)
        self.current.start()

    def _progress(self, p: Progress) -> None:
        if self.current is None:
            return
        estimate = self.pace(p)
        if p.total:
            self.bar.setRange(0, p.total)
            self.bar.setValue(p.done)
            left = f" · {estimate.left_text()} left" if estimate else ""
            self.bar.setFormat(f"{p.done:,} / {p.total:,}{left}")
        else:
            self.bar.setRange(0, 0)
        if not self.current.cancelled:
            self._say(f"{self.current.title}: {p.message}" if p.message else self.current.title)

    def _finished(self) -> None:
        self._next()

    def _say(self, text: str) -> None:
        """Show ``text`` in the fixed width, cut in the middle when too long (whole in the tooltip)."""
        width = self.text.width() - 4
        self.text.setText(self.text.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, width))
        self.text.setToolTip(text)

    def _show(self, visible: bool) -> None:
        for widget in (self.text, self.bar, self.cancel_button):
            widget.setVisible(visible)
