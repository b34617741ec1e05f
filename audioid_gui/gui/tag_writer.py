"""The tag writer dialog: choose what to write, see every change before it happens, apply, undo.

The preview comes from the project (the genre as last read); when applying, each file is read
again, written through a verified copy and replaced atomically (``core.tags``), in a worker, with
progress and Cancel — Cancel stops between files, so every file is either old or new.  When a
write (or its undo, from the same dialog) ends, the preview is planned again from the project, so
"Genre now" says what the files hold, and ``tags_written`` tells the window which tracks changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from PySide6.QtCore import Signal
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

from ..core.library import readable
from ..core.project import Project
from ..core.tags import MODES, ApplyReport, Plan, apply, plan, undo
from ..core.tasks import CancelToken, Progress, ProgressCallback
from ..core.wording import plural
from .widgets import list_table
from .workers import Job

PREVIEW_ROWS = 2000  # a table of every file of 30,000 would only be scrolled past
MODE_TEXT = {"replace": "Replace the genre", "append": "Add to the genres", "fill": "Only fill empty genres"}


@dataclass(frozen=True)
class TagRun:
    """What a write or an undo did, and to which tracks' files (for the window to show them anew)."""

    report: ApplyReport
    track_ids: tuple[int, ...]


TagWork = Callable[[Project, ProgressCallback, CancelToken], TagRun]
Conclude = Callable[[ApplyReport], str]  # keeps what a finished run means for the dialog; returns its summary


def _touched(project: Project, batch_id: Optional[int]) -> tuple[int, ...]:
    """The tracks whose files a batch changed (or may have, if it stopped mid-file)."""
    changes = project.tag_changes(batch_id) if batch_id is not None else []
    return tuple(c.track_id for c in changes if c.track_id is not None)


def _bold_count(n: int, noun: str) -> str:
    """The count that matters most in the preview's line, in bold, its noun agreeing with it."""
    number, words = plural(n, noun).split(" ", 1)
    return f"<b>{number}</b> {words}"


def _summary(verb: str, report: ApplyReport, unchanged: str) -> str:
    """The log's first line after a write or an undo."""
    stopped = "; stopped by Cancel" if report.cancelled else ""
    remaining = (f" The batch still changes {plural(report.remaining, 'file')}: undo it again to retry them."
                 if verb == "Restored" and report.remaining else "")
    return (f"{verb} {plural(report.written, 'file')}; {report.unchanged:,} {unchanged}; "
            f"{len(report.errors):,} failed{stopped}.{remaining}")


class TagWriterDialog(QDialog):
    tags_written = Signal(object)  # the ids of the tracks whose files a write or an undo changed

    def __init__(self, project: Project, shown_ids: Sequence[int], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Write genre tags")
        self.project = project
        self.shown_ids = list(shown_ids)
        self.plan: Optional[Plan] = None
        self.job: Optional[Job] = None
        self.result: Optional[ApplyReport] = None
        self.batch_id: Optional[int] = None  # the batch this dialog wrote, while it can be undone here
        self._conclude: Optional[Conclude] = None  # for the running job

        self.scope = QComboBox()
        self.scope.addItem("All tracks", None)
        self.scope.addItem(f"The {plural(len(self.shown_ids), 'track')} shown in the table", "shown")
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
        self.undo_button = QPushButton("Undo This Batch")
        self.undo_button.setToolTip("Put back the genres this dialog's last write replaced")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo_batch)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self.cancel_or_close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addStretch(0)
        buttons.addWidget(self.undo_button)
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
        self.counts.setText(f"{_bold_count(len(items), 'file')} to write{more} · "
                            f"{self.plan.unchanged:,} already right · "
                            f"{self.plan.no_decision:,} neither labelled nor predicted surely enough")
        self.apply_button.setEnabled(bool(items))

    def start(self) -> None:
        """Write the previewed plan (each file is read again first)."""
        if self.plan is None or not self.plan.items or self.job is not None:
            return
        the_plan, keep_mtime = self.plan, self.keep_mtime.isChecked()

        def work(project: Project, progress: ProgressCallback, cancel: CancelToken) -> TagRun:
            report = apply(project, the_plan, progress, cancel, keep_mtime)
            return TagRun(report, _touched(project, report.batch_id))

        self._run("Writing tags", work, self._written)

    def undo_batch(self) -> None:
        """Put back what this dialog's last write replaced, as Edit ▸ Undo Last Tag Batch would."""
        if self.batch_id is None or self.job is not None:
            return
        batch_id = self.batch_id

        def work(project: Project, progress: ProgressCallback, cancel: CancelToken) -> TagRun:
            touched = _touched(project, batch_id)  # read first: undone changes leave the open journal
            return TagRun(undo(project, batch_id, progress, cancel), touched)

        self._run("Restoring genres", work, self._undone)

    def _run(self, title: str, work: TagWork, conclude: Conclude) -> None:
        """Run a write or an undo in a worker, the controls held until it ends."""
        project_path = self.project.path

        def task(progress: ProgressCallback, cancel: CancelToken) -> TagRun:
            with Project(project_path) as worker_project:
                return work(worker_project, progress, cancel)

        self._conclude = conclude
        self.job = Job(title, task)
        self.job.progress.connect(self._progress)
        self.job.succeeded.connect(self._done)
        self.job.failed.connect(self._show_log)
        self.job.finished.connect(self._finished)
        self._set_controls_enabled(False)
        self.progress.setRange(0, 0)  # until the first progress says how many files
        self.progress.show()
        self.cancel_button.setText("Cancel")
        self.job.start()

    def _set_controls_enabled(self, enabled: bool) -> None:
        for widget in (self.scope, self.mode, self.confidence, self.private, self.keep_mtime):
            widget.setEnabled(enabled)
        self.apply_button.setEnabled(enabled and self.plan is not None and bool(self.plan.items))
        self.undo_button.setEnabled(enabled and self.batch_id is not None)

    def _progress(self, p: Progress) -> None:
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
            self.progress.setFormat(f"{p.done:,} / {p.total:,}")

    def _done(self, run: TagRun) -> None:
        self.result = run.report
        lines = [self._conclude(run.report)]
        lines += [f"{readable(Path(e.path).name)}: {e.message}" for e in run.report.errors]
        self._show_log("\n".join(lines))
        if run.track_ids:
            self.tags_written.emit(run.track_ids)

    def _written(self, report: ApplyReport) -> str:
        self.batch_id = report.batch_id if report.written else None
        undo_hint = " Undo This Batch (or, later, Edit ▸ Undo Last Tag Batch) puts the old genres back."
        return _summary("Wrote", report, "already right") + (undo_hint if report.written else "")

    def _undone(self, report: ApplyReport) -> str:
        # A stopped undo, or one where files failed, can go on.
        self.batch_id = report.batch_id if report.cancelled or report.remaining else None
        return _summary("Restored", report, "already as before")

    def _show_log(self, text: str) -> None:
        self.log.setPlainText(text)
        self.log.show()

    def _finished(self) -> None:
        """The batch is over: the preview shows the files as they are now, and can be written again."""
        self.job = None
        self.progress.hide()
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)
        self.refresh_plan()
        self._set_controls_enabled(True)

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
