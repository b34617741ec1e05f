"""The Model panel: retrain in the background, the queue of tracks to hear next, and the model's report.

The Queue tab works from the first minute: with no model it proposes tracks that stand for the
collection's different sounds (``core.selection``), later the tracks the model is least sure about.
The queue is computed by a job (k-means over every track's features takes a second or more on a
large collection), so the window never waits for it; a result that arrives for a project left
behind, or after a newer refresh was asked for, is dropped.

Retraining (Ctrl+R, or by itself every N new labels) runs as a job while the user keeps labeling.
When it ends, the track table's Predicted column and the queue refresh; then a second job
cross-validates the model and the Report tab shows accuracy, per-class precision/recall/F1, the
calibration, the confusion matrix and the learning curve over all trainings so far.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from threadpoolctl import threadpool_limits

from ..core.features import VERSION
from ..core.learning import (
    AUTO_TREES_FROM,
    ENOUGH_TO_TRAIN,
    CurvePoint,
    TRAINING_THREADS,
    YOUNG_LABELS_PER_CLASS,
    Report,
    Retrained,
    TrainingOptions,
    enough_to_train,
    evaluate_model,
    learning_curve,
    retrain,
    young_classes,
)
from ..core.project import ModelRecord, Project
from ..core.selection import Predictions, Proposal, propose_for
from ..core.tasks import Cancelled, CancelToken, ProgressCallback
from ..core.tracklist import track_rows
from ..core.wording import plural
from .job_status import JobStatus
from .queue import QueueView
from .workers import Job

log = logging.getLogger(__name__)

JOURNAL_FOLD = {"Both": "Music"}  # the journal's "Music vs Dialogue": speech over music counts as music
MODEL_CHOICES = (  # (TrainingOptions.model, shown name, what it is)
    ("auto", "Auto (recommended)",
     f"Logistic regression while labels are few; from {AUTO_TREES_FROM} labels on it votes together with "
     "the journal's random forest and gradient boosting"),
    ("linear", "Logistic regression",
     "A regularised linear model: sound from the first few labels, and the fastest to train"),
    ("journal", "Journal ensemble (RF + boosting)",
     "The journal's random forest and gradient boosting, soft-voted 1:2: strong with many labels, "
     "weak with few"),
)
MODEL_NAMES = {kind: name for kind, name, _ in MODEL_CHOICES}
AGE_REFRESH_MS = 15_000  # "trained N min ago" keeps up while the panel shows the model
QUEUE_REFRESH_DELAY_MS = 200  # a spin box held down asks for one queue, not twenty
YOUNG_COLOR = "#d35400"
CURVE_HEADROOM = 0.08  # of the learning curve's y range, kept free above 100 %
ERROR_COLOR = "#c0392b"


class ReportView(QWidget):
    """Accuracy, per-class figures and calibration as text; the confusion matrix and learning curve
    as plots."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.text = QLabel("No evaluation yet: it runs after each training.")
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.text.setWordWrap(True)  # the table lines are short; the calibration line and notes wrap
        self.text.setContentsMargins(4, 4, 4, 4)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.text.setFont(mono)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.text)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.figure = Figure(figsize=(6, 2.6), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumSize(240, 160)
        self._draw_pending = False
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.scroll)
        self.splitter.addWidget(self.canvas)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def show_report(self, report: Optional[Report], history: Sequence[CurvePoint]) -> None:
        self.figure.clear()
        if report is None:
            self.text.setText("No evaluation yet: it runs after each training.")
            self._redraw()
            return
        text = report.text()
        self.text.setText(text)
        # The figures and the confusion table keep their lines; the calibration and the notes wrap.
        prose = set(report.notes)
        table = [line for line in text.splitlines() if line not in prose and not line.startswith("calibration")]
        margins = self.text.contentsMargins()
        self.scroll.setMinimumWidth(max(self.text.fontMetrics().horizontalAdvance(line) for line in table)
                                    + margins.left() + margins.right()
                                    + self.scroll.verticalScrollBar().sizeHint().width() + 4)
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
        kinds = list(dict.fromkeys(p.model for p in history))
        for kind, color in zip(kinds, ("#2e86de", "#e67e22", "#27ae60", "#8e44ad")):
            points = [p for p in history if p.model == kind]
            curve.plot([p.n_labels for p in points], [p.accuracy * 100 for p in points], marker="o", color=color,
                       clip_on=False, label=MODEL_NAMES.get(kind or "journal", kind))
        if len(kinds) > 1:  # a switch of model is not progress: one line per model
            curve.legend(fontsize=7, loc="lower right")
        curve.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len({p.n_labels for p in history}) == 1:  # one training: one tick, not fractions of a label
            curve.set_xticks([history[0].n_labels])
        curve.set_xlabel("labels trained on", fontsize=8)
        curve.set_ylabel("CV accuracy (%)", fontsize=8)
        # Room above 100 % so that a perfect score (a common one while labels are few) is not drawn
        # on the frame; no tick says more than 100.
        bottom = min([50.0, *(p.accuracy * 100 - 5 for p in history)])
        curve.set_yticks([t for t in MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(bottom, 100)
                          if bottom <= t <= 100])
        curve.set_ylim(bottom, 100 + CURVE_HEADROOM * (100 - bottom))
        curve.tick_params(labelsize=7)
        curve.grid(alpha=0.3)
        curve.set_title("learning curve", fontsize=9)
        self._redraw()

    def _redraw(self) -> None:
        """Draw the plots now if they are seen, else when they are shown: a hidden panel drew them
        while a project opened, 0.3 s of a million-track project's open."""
        self._draw_pending = not self.isVisible()
        if not self._draw_pending:
            self.canvas.draw_idle()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._draw_pending:
            self._redraw()


@dataclass(frozen=True)
class QueueResult:
    """What the queue job found: the proposal, the tracks' names, and what the project had."""

    proposal: Proposal
    names: dict[int, str]
    has_model: bool
    has_features: bool  # some track has current features


def compute_queue(project_path: Path, predictions: Optional[Predictions], n: int, strategy: str, diverse: bool,
                  cancel: CancelToken) -> QueueResult:
    """The queue job's work, on its own connection to the project."""
    if cancel.cancelled:  # a newer refresh was asked for before this one started
        raise Cancelled()
    with Project(project_path, create=False) as project:
        if not project.has_current_features(VERSION):
            return QueueResult(Proposal([], True, []), {}, predictions is not None, False)
        if predictions is None:
            stored = project.predictions()
            if stored is not None:
                predictions = Predictions(stored.track_ids, stored.classes, stored.probabilities, stored.model_id)
        with threadpool_limits(TRAINING_THREADS):
            proposal = propose_for(project, predictions, n, strategy, diverse,
                                   TrainingOptions.of(project).grouping)
        if cancel.cancelled:
            raise Cancelled()
        rows = track_rows(project, [e.track_id for e in proposal.entries])
        return QueueResult(proposal, {t: r.name for t, r in rows.items()}, predictions is not None, True)


def young_note(counts: Mapping[str, int]) -> str:
    """One line for a model trained on few labels of some class; "" for a grown-up one."""
    young = young_classes(counts)
    if not young:
        return ""
    listing = ", ".join(f"{name} {n}" for name, n in young.items())
    return f"Young model ({listing} labels): predictions will change as you label more."


class ModelPanel(QWidget):
    show_tracks = Signal(str, object, bool)  # forwarded from the queue
    predictions_changed = Signal()
    queue_changed = Signal(object)  # the queue's track ids, in the order to hear them

    def __init__(self, jobs: JobStatus, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        # Seconds since the epoch, as the models' times are stored; replaceable, so that the age
        # can be checked without waiting minutes for it.
        self.clock: Callable[[], float] = time.time
        self.settings = QSettings()
        self.project: Optional[Project] = None
        self._job: Optional[Job] = None  # training or evaluation (through the job queue)
        self._queue_job: Optional[Job] = None  # the newest queue computation (runs beside a scan)
        self._queue: Optional[QueueResult] = None  # what the queue shows
        self._heard_while_ranking: set[int] = set()
        self._play_when_ready = False
        self._new_labels = 0
        self._model: Optional[ModelRecord] = None  # the newest model, for the status line
        self._young: dict[int, str] = {}  # model id → its young-model note, known from training
        self._status_is_model = False  # the status line shows the model (and may age)

        self.retrain_button = QPushButton("Retrain")
        self.retrain_button.setToolTip("Train on every label given by ear and predict every track (Ctrl+R)")
        self.retrain_button.clicked.connect(self.retrain)
        self.fold = QComboBox()
        self.fold.setToolTip("Which classes the model tells apart")
        self.fold.currentIndexChanged.connect(self._fold_changed)
        self.model_choice = QComboBox()
        for kind, name, tip in MODEL_CHOICES:
            self.model_choice.addItem(name, kind)
            self.model_choice.setItemData(self.model_choice.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.model_choice.setToolTip("Which model learns from the labels:\n"
                                     + "\n".join(f"{name}: {tip}" for _, name, tip in MODEL_CHOICES))
        self.model_choice.currentIndexChanged.connect(self._model_changed)
        self.auto = QCheckBox("Retrain every")
        self.auto_every = QSpinBox()
        self.auto_every.setRange(5, 1000)
        self.auto_every.setSuffix(" new labels")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A click on these leaves the keyboard with the track table (a combo with the focus would
        # take the class keys for a search of its items); Tab still reaches them.
        for widget in (self.retrain_button, self.fold, self.model_choice, self.auto):
            widget.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        header = QHBoxLayout()
        header.addWidget(self.retrain_button)
        header.addWidget(self.fold)
        header.addWidget(self.model_choice)
        header.addWidget(self.auto)
        header.addWidget(self.auto_every)
        header.addStretch(1)

        self.queue = QueueView()
        self.queue.show_tracks.connect(self.show_tracks)
        self._queue_timer = QTimer(self, singleShot=True, interval=QUEUE_REFRESH_DELAY_MS)
        self._queue_timer.timeout.connect(self.refresh_queue)
        self.queue.ranking_changed.connect(self._queue_timer.start)
        self.report = ReportView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.queue, "Queue")
        self.tabs.addTab(self.report, "Report")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(header)
        layout.addWidget(self.status)  # a row of its own: it can be two lines long
        layout.addWidget(self.tabs, 1)
        self.age_timer = QTimer(self, interval=AGE_REFRESH_MS)
        self.age_timer.timeout.connect(self._refresh_age)
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
        self._young = {}
        self._fill_choices()
        self.refresh_queue()
        self._show_model()
        for widget in (self.retrain_button, self.fold, self.model_choice):
            widget.setEnabled(project is not None)

    def _fill_choices(self) -> None:
        """The fold and model combos, showing the project's training options."""
        self.fold.blockSignals(True)
        self.fold.clear()
        self.fold.addItem("Every class", {})
        names = {c.name for c in self.project.classes()} if self.project else set()
        if {"Music", "Dialogue", "Both"} <= names:
            self.fold.addItem("Music vs Dialogue (Both as Music)", JOURNAL_FOLD)
        options = TrainingOptions.of(self.project) if self.project is not None else TrainingOptions()
        grouping = dict(options.grouping)
        if grouping and grouping != JOURNAL_FOLD:
            self.fold.addItem("Folded: " + ", ".join(f"{a} as {b}" for a, b in grouping.items()), grouping)
        self.fold.setCurrentIndex(next((i for i in range(self.fold.count()) if self.fold.itemData(i) == grouping), 0))
        self.fold.blockSignals(False)
        self.model_choice.blockSignals(True)
        self.model_choice.setCurrentIndex(max(0, self.model_choice.findData(options.model)))
        self.model_choice.blockSignals(False)

    def _save_option(self, **changes: object) -> None:
        options = TrainingOptions.of(self.project)
        TrainingOptions(**{**options.__dict__, **changes}).save(self.project)

    def _fold_changed(self) -> None:
        if self.project is None:
            return
        self._save_option(grouping=dict(self.fold.currentData() or {}))
        self._set_status("Classes changed: retrain (Ctrl+R) to use them.")
        self.refresh_queue()  # which classes count as heard depends on the fold

    def _model_changed(self) -> None:
        if self.project is None:
            return
        self._save_option(model=self.model_choice.currentData())
        self._set_status(f"Model changed to {self.model_choice.currentText()}: retrain (Ctrl+R) to use it.")

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
        self._set_status("Training…")

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
            self._set_status(f"<span style='color:{ERROR_COLOR}'>{_escape(message)}</span>")

    def _trained(self, result: Retrained) -> None:
        if self.sender() is not self._job or self.project is None:
            return
        note = young_note(result.trained.counts)
        self._young[result.model_id] = note
        self._set_status(f"Model {result.model_id}: {plural(result.trained.n_labels, 'label')}, "
                         f"{plural(len(result.predictions.track_ids), 'track')} predicted in {result.seconds:.1f} s; "
                         "evaluating…" + self._young_html(note))
        self.refresh_queue(result.predictions)
        self.predictions_changed.emit()
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
        history = learning_curve(self.project) if self.project is not None else []
        latest = next((m for m in reversed(models) if m.report), None)
        self.report.show_report(Report.from_json(latest.report) if latest else None, history)
        self._model = models[-1] if models else None
        if self.project is not None and self._model is not None:
            self._status_is_model = True
            self._refresh_age()
            self._sync_age_timer()
        elif self.project is not None:
            self._show_label_counts()
        else:
            self._set_status("")

    def _show_label_counts(self) -> None:
        """Before the first model: how far each class is from the labels training needs."""
        grouping = TrainingOptions.of(self.project).grouping
        counts = {grouping.get(c.name, c.name): 0 for c in self.project.classes()}
        for label in self.project.track_labels().values():
            if label.heard:
                name = grouping.get(label.class_name, label.class_name)
                counts[name] = counts.get(name, 0) + 1
        listing = ", ".join(f"{_escape(name)} {n}" for name, n in counts.items())
        then = ("enough to train: Retrain (Ctrl+R)." if enough_to_train(counts)
                else f"Retrain (Ctrl+R) once {ENOUGH_TO_TRAIN}.")
        self._set_status(f"No model yet. Labelled by ear: {listing} — {then}")

    def _refresh_age(self) -> None:
        """The model's status line, with its age as of now."""
        model = self._model
        if not self._status_is_model or model is None:
            return
        report = Report.from_json(model.report) if model.report else None
        accuracy = f", cross-validated accuracy {report.accuracy:.1%}" if report else ""
        note = young_note(dict(zip(report.classes, report.support))) if report else self._young.get(model.id, "")
        self.status.setText(f"Model {model.id}: {plural(model.n_labels, 'label')}{accuracy}; "
                            f"trained {_age(self.clock() - model.created_at)}"
                            + self._young_html(note))
        self.status.setToolTip(f"Label from the queue until every class has {YOUNG_LABELS_PER_CLASS} labels."
                               if note else "")

    def _set_status(self, html: str) -> None:
        """A message in place of the model's status line (it stops aging until the model shows again)."""
        self._status_is_model = False
        self._sync_age_timer()
        self.status.setText(html)
        self.status.setToolTip("")

    def _sync_age_timer(self) -> None:
        """The age ticks only while someone can see it: the panel shown, with the model's line."""
        if self.isVisible() and self._status_is_model:
            if not self.age_timer.isActive():
                self.age_timer.start()
        else:
            self.age_timer.stop()

    @staticmethod
    def _young_html(note: str) -> str:
        return f"<br><span style='color:{YOUNG_COLOR}'>{_escape(note)}</span>" if note else ""

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self._refresh_age()
        self._sync_age_timer()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 (Qt's name)
        super().hideEvent(event)
        self._sync_age_timer()

    # -- labels and the queue -------------------------------------------------------------------

    def labels_changed(self, track_ids: Sequence[int]) -> None:
        if self.project is None:
            return
        heard = [t for t in track_ids if (label := self.project.current_label(t)) and label.heard]
        self._heard_while_ranking.update(heard)
        if self.queue.drop(heard):
            self._queue_dropped()
        self._new_labels += len(heard)
        if self._model is None and not self._status_is_model and self._job is None:
            self._show_label_counts()
        if self.auto.isChecked() and self._new_labels >= self.auto_every.value() and self._job is None:
            self.retrain()

    def _queue_dropped(self) -> None:
        """Labelled tracks left the queue: say what is left; an explored batch that is done makes
        way for the next one at once, so the user can keep pressing keys."""
        result = self._queue
        if result is None:
            return
        if self.queue.entries:
            self.queue.set_note(self._queue_note(result, self.queue.entries))
        elif result.proposal.exploring:
            self.refresh_queue()
            self.queue.set_note("Batch done: choosing the next tracks to hear…")
        else:
            self.queue.set_note("Queue done: retrain (Ctrl+R) for the next one.")

    def features_changed(self) -> None:
        """New features arrived (a scan ended): more tracks to propose."""
        self.refresh_queue()

    def refresh_queue(self, predictions: Optional[Predictions] = None) -> None:
        """Compute the queue in the background (with these predictions, else the stored ones)."""
        self._queue_timer.stop()
        if self._queue_job is not None:
            self._queue_job.cancel()
            self._queue_job = None
        if self.project is None:
            self._queue = None
            self._play_when_ready = False
            self.queue.set_entries([], {}, "")
            return
        project_path, n = self.project.path, self.queue.size.value()
        strategy, diverse = self.queue.current_strategy(), self.queue.diverse.isChecked()

        def task(_progress: ProgressCallback, cancel: CancelToken) -> QueueResult:
            return compute_queue(project_path, predictions, n, strategy, diverse, cancel)

        job = Job("Choosing tracks to hear", task)
        job.succeeded.connect(self._queue_ready)
        job.failed.connect(self._queue_failed)
        self._queue_job = job
        self._heard_while_ranking = set()
        if not self.queue.entries:
            self.queue.set_note("Choosing tracks to hear…")
        job.start()

    def _queue_ready(self, result: QueueResult) -> None:
        if self.sender() is not self._queue_job or self.project is None:
            return  # a project left behind, or a newer refresh is on its way
        self._queue_job = None
        self._queue = result
        entries = [e for e in result.proposal.entries if e.track_id not in self._heard_while_ranking]
        self.queue.set_entries(entries, result.names, self._queue_note(result, entries))
        self.queue.set_model_controls(result.has_model)
        self.queue_changed.emit(tuple(e.track_id for e in entries))
        if self._play_when_ready and entries:
            self.queue.play_from(0)
        self._play_when_ready = False

    def _queue_failed(self, message: str) -> None:
        if self.sender() is self._queue_job:
            self._queue_job = None
            self._play_when_ready = False
            self.queue.set_entries([], {}, f"<span style='color:{ERROR_COLOR}'>{_escape(message)}</span>")

    @property
    def queue_pending(self) -> bool:
        """A queue is being chosen (the one shown will be replaced)."""
        return self._queue_job is not None

    def label_from_queue(self) -> Optional[str]:
        """Play the queue from its first track; or, while it is being chosen, as soon as it is
        there.  Returns a message for the user when there is nothing to play."""
        if self.queue.entries:
            self.queue.play_from(0)
            return None
        if self._queue_job is not None:
            self._play_when_ready = True
            return None
        return self.queue.note.text() or "The queue is empty."

    @staticmethod
    def _queue_note(result: QueueResult, entries: Sequence) -> str:
        if not result.has_features:
            return "No features yet: add a folder (Ctrl+Shift+O)."
        if not result.has_model:
            if not entries:
                return ("Nothing left to explore: every kind of sound in the collection has been heard. "
                        f"Retrain (Ctrl+R) once {ENOUGH_TO_TRAIN}.")
            return ("No model yet: these tracks stand for the collection's different sounds. Label them "
                    f"(Label from Queue, Ctrl+Shift+Q); Retrain (Ctrl+R) once {ENOUGH_TO_TRAIN}.")
        if not entries:
            return "Every predicted track is labelled by ear: nothing left to ask."
        exploring = sum(not e.predicted for e in entries)
        if exploring:
            rest = " The rest are the tracks the model is least sure about." if exploring < len(entries) else ""
            first = "the first track is" if exploring == 1 else f"the first {plural(exploring, 'track')} are"
            return (f"Nobody has labelled {_or(result.proposal.unheard)} yet: {first} unlike anything heard "
                    f"so far.{rest}")
        return "The tracks the model is least sure about, most unsure first."


def _or(names: Sequence[str]) -> str:
    names = [_escape(n) for n in names] or ["a class"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _age(seconds: float) -> str:
    """How long ago, as coarsely as the status line is refreshed: "just now" rather than a count of
    seconds that would be stale before it is read."""
    if seconds < 60:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{plural(round(seconds / 86400), 'day')} ago"
