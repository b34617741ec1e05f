"""The tag writer dialog: choose what to write, see every change before it happens, apply, undo.

The preview comes from the project (the genre as last read); when applying, each file is read
again, written through a verified copy and replaced atomically (``core.tags``), in a worker, with
progress and Cancel — Cancel stops between files, so every file is either old or new.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.project import Project
from ..core.tags import MODES, ApplyReport, Plan, apply, plan
from ..core.tasks import CancelToken, Progress, ProgressCallback
from .widgets import list_table
from .workers import Job

PREVIEW_ROWS = 2000  # a table of every file of 30,000 would only be scrolled past
MODE_TEXT = {"replace": "Replace the genre", "append": "Add to the genres", "fill": "Only fill empty genres"}


class TagWriterDialog(QDialog):
    def __init__(self, project: Project, shown_ids: Sequence[int], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Write genre tags")
        self.project = project
        self.shown_ids = list(shown_ids)
        self.plan: Optional[Plan] = None
        self.job: Optional[Job] = None
        self.result: Optional[ApplyReport] = None

        self.scope = QComboBox()
        self.scope.addItem("All tracks", None)
        self.scope.addItem(f"The {len(self.shown_ids):,} tracks shown in the table", "shown")
        for name in project.playlist_names():
            self.scope.addItem(f"Playlist: {name}", name)
        self.mode = QComboBox()
        for mode in MODES:
            self.mode.addItem(MODE_TEXT[mode], mode)
        self.confidence = QDoubleSpinBox()
        self.confidence.setRange(0, 100)
        self.confidence.setDecimals(0)
        self.confidence.setValue(90)
        self.confidence.setSuffix(" %")
        self.confidence.setToolTip("Tracks without a label get the model's class when it is at least this sure")
        self.private = QCheckBox("Also write the class and confidence to AUDIOID_CLASS")
        self.keep_mtime = QCheckBox("Keep the files' modification times")
        for widget in (self.scope, self.mode):
            widget.currentIndexChanged.connect(lambda _: self.refresh_plan())
        self.confidence.valueChanged.connect(lambda _: self.refresh_plan())
        self.private.toggled.connect(lambda _: self.refresh_plan())
        form = QFormLayout()
        form.addRow("Tracks", self.scope)
        form.addRow("Mode", self.mode)
        form.addRow("Model at least", self.confidence)
        form.addRow("", self.private)
        form.addRow("", self.keep_mtime)

        self.counts = QLabel()
        self.table = list_table(("File", "Genre now", "Genre after", "From", "Confidence"), stretch=0)
        self.progress = QProgressBar()
        self.progress.hide()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumHeight(110)
        self.log.hide()
        self.apply_button = QPushButton("Write Tags")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self.cancel_or_close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addStretch(0)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.counts)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.log)
        layout.addLayout(buttons)
        self.resize(860, 560)
        self.refresh_plan()

    def _scope_ids(self) -> Optional[list[int]]:
        data = self.scope.currentData()
        if data is None:
            return None
        if data == "shown":
            return self.shown_ids
        return self.project.playlist_track_ids(data) or []

    def refresh_plan(self) -> None:
        self.plan = plan(self.project, self._scope_ids(), self.mode.currentData(), self.confidence.value() / 100,
                         self.private.isChecked())
        items = self.plan.items
        self.table.setRowCount(min(len(items), PREVIEW_ROWS))
        for row, item in enumerate(items[:PREVIEW_ROWS]):
            cells = (Path(item.path).name, "; ".join(item.old) or "(none)", "; ".join(item.new),
                     item.source, f"{item.confidence:.0%}" if item.confidence is not None else "")
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if column == 0:
                    cell.setToolTip(item.path)
                self.table.setItem(row, column, cell)
        more = f" (the first {PREVIEW_ROWS:,} shown)" if len(items) > PREVIEW_ROWS else ""
        self.counts.setText(f"<b>{len(items):,}</b> files to write{more} · {self.plan.unchanged:,} already right · "
                            f"{self.plan.no_decision:,} neither labelled nor predicted surely enough")
        self.apply_button.setEnabled(bool(items))

    def start(self) -> None:
        if self.plan is None or not self.plan.items or self.job is not None:
            return
        the_plan, project_path, keep_mtime = self.plan, self.project.path, self.keep_mtime.isChecked()

        def task(progress: ProgressCallback, cancel: CancelToken) -> ApplyReport:
            with Project(project_path) as worker_project:
                return apply(worker_project, the_plan, progress, cancel, keep_mtime)

        self.job = Job("Writing tags", task)
        self.job.progress.connect(self._progress)
        self.job.succeeded.connect(self._done)
        self.job.failed.connect(lambda message: self._show_log(message))
        self.job.finished.connect(self._finished)
        for widget in (self.scope, self.mode, self.confidence, self.private, self.keep_mtime, self.apply_button):
            widget.setEnabled(False)
        self.progress.setRange(0, len(the_plan.items))
        self.progress.show()
        self.cancel_button.setText("Cancel")
        self.job.start()

    def _progress(self, p: Progress) -> None:
        if p.total:
            self.progress.setValue(p.done)
            self.progress.setFormat(f"{p.done:,} / {p.total:,}")

    def _done(self, result: ApplyReport) -> None:
        self.result = result
        lines = [f"Wrote {result.written:,} files; {result.unchanged:,} were already right; "
                 f"{len(result.errors):,} failed" + ("; stopped by Cancel" if result.cancelled else "")
                 + ". Edit ▸ Undo Last Tag Batch puts the old genres back."]
        lines += [f"{Path(e.path).name}: {e.message}" for e in result.errors]
        self._show_log("\n".join(lines))

    def _show_log(self, text: str) -> None:
        self.log.setPlainText(text)
        self.log.show()

    def _finished(self) -> None:
        self.job = None
        self.progress.setValue(self.progress.maximum())
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)

    def cancel_or_close(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.cancel_button.setText("Stopping…")
        else:
            self.accept()

    def reject(self) -> None:  # Escape and the window's close button: cancel a running batch first
        if self.job is not None:
            self.cancel_or_close()
            return
        super().reject()
