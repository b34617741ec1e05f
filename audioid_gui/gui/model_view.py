"""The Model panel: retrain in the background, the uncertainty queue, and the model's report.

Retraining (Ctrl+R, or by itself every N new labels) runs as a job while the user keeps labeling.
When it ends, the track table's Predicted column and the queue refresh; then a second job
cross-validates the model and the Report tab shows accuracy, per-class precision/recall/F1, the
confusion matrix and the learning curve over all trainings so far.
"""
from __future__ import annotations

import time
from typing import Optional, Sequence

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.learning import (
    Predictions,
    Report,
    Retrained,
    TrainingOptions,
    evaluate_model,
    rank_queue,
    retrain,
)
from ..core.features import VERSION
from ..core.project import Project
from ..core.tasks import CancelToken, ProgressCallback
from ..core.tracklist import track_rows
from .job_status import JobStatus
from .queue import QueueView
from .workers import Job

JOURNAL_FOLD = {"Both": "Music"}  # the journal's "Music vs Dialogue": speech over music counts as music


class ReportView(QWidget):
    """Accuracy and per-class figures as text; the confusion matrix and learning curve as plots."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.text = QLabel("No evaluation yet: it runs after each training.")
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.text.setFont(mono)
        self.figure = Figure(figsize=(6, 2.6), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumSize(240, 160)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.text)
        splitter.addWidget(self.canvas)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def show_report(self, report: Optional[Report], history: Sequence[tuple[int, float]]) -> None:
        self.figure.clear()
        if report is None:
            self.text.setText("No evaluation yet: it runs after each training.")
            self.canvas.draw_idle()
            return
        self.text.setText(report.text())
        confusion, curve = self.figure.subplots(1, 2, width_ratios=[1, 1.3])
        matrix = np.array(report.confusion)
        shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        confusion.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for (i, j), n in np.ndenumerate(matrix):
            confusion.text(j, i, f"{n:,}", ha="center", va="center", fontsize=8,
                           color="white" if shares[i, j] > 0.6 else "black")
        ticks = range(len(report.classes))
        confusion.set_xticks(ticks, [c[:10] for c in report.classes], fontsize=7, rotation=30)
        confusion.set_yticks(ticks, [c[:10] for c in report.classes], fontsize=7)
        confusion.set_xlabel("predicted", fontsize=8)
        confusion.set_ylabel("true", fontsize=8)
        if history:
            labels, accuracy = zip(*history)
            curve.plot(labels, [a * 100 for a in accuracy], marker="o", color="#2e86de")
        curve.xaxis.set_major_locator(MaxNLocator(integer=True))
        curve.set_xlabel("labels trained on", fontsize=8)
        curve.set_ylabel("CV accuracy (%)", fontsize=8)
        curve.set_ylim(min([50.0, *(a * 100 - 5 for _, a in history)]), 101)
        curve.tick_params(labelsize=7)
        curve.grid(alpha=0.3)
        curve.set_title("learning curve", fontsize=9)
        self.canvas.draw_idle()


class ModelPanel(QWidget):
    show_tracks = Signal(str, object, bool)  # forwarded from the queue
    predictions_changed = Signal()
    queue_changed = Signal(object)  # the queue's track ids, most unsure first

    def __init__(self, jobs: JobStatus, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.settings = QSettings()
        self.project: Optional[Project] = None
        self._job: Optional[Job] = None
        self._new_labels = 0

        self.retrain_button = QPushButton("Retrain")
        self.retrain_button.setToolTip("Train on every label given by ear and predict every track (Ctrl+R)")
        self.retrain_button.clicked.connect(self.retrain)
        self.fold = QComboBox()
        self.fold.setToolTip("Which classes the model tells apart")
        self.fold.currentIndexChanged.connect(self._fold_changed)
        self.auto = QCheckBox("Retrain every")
        self.auto_every = QSpinBox()
        self.auto_every.setRange(5, 1000)
        self.auto_every.setSuffix(" new labels")
        self.status = QLabel()
        self.status.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(self.retrain_button)
        header.addWidget(self.fold)
        header.addWidget(self.auto)
        header.addWidget(self.auto_every)
        header.addWidget(self.status, 1)

        self.queue = QueueView()
        self.queue.show_tracks.connect(self.show_tracks)
        self.queue.ranking_changed.connect(self.refresh_queue)
        self.report = ReportView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.queue, "Uncertainty queue")
        self.tabs.addTab(self.report, "Report")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(header)
        layout.addWidget(self.tabs, 1)
        self.auto.setChecked(self.settings.value("autoRetrain", False, bool))
        self.auto_every.setValue(self.settings.value("autoRetrainEvery", 50, int))
        self.set_project(None)

    # -- project --------------------------------------------------------------------------------

    def set_project(self, project: Optional[Project]) -> None:
        if self._job is not None:
            self._job.cancel()
        self._job = None
        self.project = project
        self._new_labels = 0
        self._fill_folds()
        self.refresh_queue()
        self._show_model()
        self.retrain_button.setEnabled(project is not None)

    def _fill_folds(self) -> None:
        self.fold.blockSignals(True)
        self.fold.clear()
        self.fold.addItem("Every class", {})
        names = {c.name for c in self.project.classes()} if self.project else set()
        if {"Music", "Dialogue", "Both"} <= names:
            self.fold.addItem("Music vs Dialogue (Both as Music)", JOURNAL_FOLD)
        if self.project is not None:
            grouping = dict(TrainingOptions.of(self.project).grouping)
            if grouping and grouping != JOURNAL_FOLD:
                self.fold.addItem("Folded: " + ", ".join(f"{a} as {b}" for a, b in grouping.items()), grouping)
            self.fold.setCurrentIndex(next((i for i in range(self.fold.count()) if self.fold.itemData(i) == grouping), 0))
        self.fold.blockSignals(False)

    def _fold_changed(self) -> None:
        if self.project is None:
            return
        options = TrainingOptions.of(self.project)
        TrainingOptions(**{**options.__dict__, "grouping": dict(self.fold.currentData() or {})}).save(self.project)
        self.status.setText("Classes changed: retrain (Ctrl+R) to use them.")

    def save_settings(self) -> None:
        self.settings.setValue("autoRetrain", self.auto.isChecked())
        self.settings.setValue("autoRetrainEvery", self.auto_every.value())

    # -- training -------------------------------------------------------------------------------

    def retrain(self) -> None:
        if self.project is None or self._job is not None:
            return
        project_path = self.project.path
        options = TrainingOptions.of(self.project)

        def task(progress: ProgressCallback, cancel: CancelToken) -> Retrained:
            with Project(project_path) as worker_project:
                return retrain(worker_project, options, progress, cancel)

        self._start(Job("Training the model", task), self._trained)
        self._new_labels = 0
        self.status.setText("Training…")

    def _start(self, job: Job, on_success) -> None:
        self._job = job
        job.succeeded.connect(on_success)
        job.failed.connect(self._failed)
        job.finished.connect(self._finished)
        self.retrain_button.setEnabled(False)
        self.jobs.submit(job)

    def _finished(self) -> None:
        if self.sender() is self._job:
            self._job = None
            self.retrain_button.setEnabled(self.project is not None)

    def _failed(self, message: str) -> None:
        if self.sender() is self._job:
            self.status.setText(f"<span style='color:#c0392b'>{message}</span>")

    def _trained(self, result: Retrained) -> None:
        if self.sender() is not self._job or self.project is None:
            return
        self.status.setText(f"Model {result.model_id}: {result.trained.n_labels:,} labels, "
                            f"{len(result.predictions.track_ids):,} tracks predicted in {result.seconds:.1f} s; "
                            "evaluating…")
        self.predictions_changed.emit()
        self.refresh_queue(result.predictions)
        project_path, model_id = self.project.path, result.model_id
        options = TrainingOptions.of(self.project)

        def evaluate(progress: ProgressCallback, cancel: CancelToken) -> Report:
            with Project(project_path) as worker_project:
                return evaluate_model(worker_project, model_id, options, progress, cancel)

        # The job that just succeeded is finishing; the evaluation queues behind it.
        self._job = None
        self._start(Job("Evaluating the model", evaluate), self._evaluated)

    def _evaluated(self, _report: Report) -> None:
        if self.sender() is self._job:
            self._show_model()

    def _show_model(self) -> None:
        models = self.project.models() if self.project is not None else []
        history = [(m.n_labels, Report.from_json(m.report).accuracy) for m in models if m.report]
        latest = next((m for m in reversed(models) if m.report), None)
        self.report.show_report(Report.from_json(latest.report) if latest else None, history)
        if not models:
            self.status.setText("No model yet: label a few tracks of each class, then Retrain (Ctrl+R).")
            return
        model = models[-1]
        accuracy = (f", cross-validated accuracy {Report.from_json(model.report).accuracy:.1%}"
                    if model.report else "")
        age = _age(time.time() - model.created_at)
        self.status.setText(f"Model {model.id}: {model.n_labels:,} labels{accuracy}; trained {age} ago")

    # -- labels and the queue -------------------------------------------------------------------

    def labels_changed(self, track_ids: Sequence[int]) -> None:
        if self.project is None:
            return
        heard = [t for t in track_ids if (label := self.project.current_label(t)) and label.heard]
        self.queue.drop(heard)
        self._new_labels += len(heard)
        if self.auto.isChecked() and self._new_labels >= self.auto_every.value() and self._job is None:
            self.retrain()

    def refresh_queue(self, predictions: Optional[Predictions] = None) -> None:
        if self.project is None:
            self.queue.set_entries([], {}, "")
            return
        if predictions is None:
            stored = self.project.predictions()
            if stored is None:
                self.queue.set_entries([], {}, "Train a model (Ctrl+R) to see which tracks it is least sure about.")
                return
            predictions = Predictions(stored.track_ids, stored.classes, stored.probabilities, stored.model_id)
        heard = self.project.heard_track_ids()
        features = self.project.feature_table(VERSION) if self.queue.diverse.isChecked() else None
        entries = rank_queue(predictions, heard, self.queue.size.value(), self.queue.current_strategy(), features)
        rows = track_rows(self.project, [e.track_id for e in entries])
        self.queue.set_entries(entries, {t: r.name for t, r in rows.items()},
                               "Every predicted track is labelled by ear: nothing left to ask.")
        self.queue_changed.emit(tuple(e.track_id for e in entries))


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
