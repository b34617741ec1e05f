"""The Review panel: hear a random sample of a playlist and see what it holds, live.

Pick a playlist (or the tracks the model predicts as one class), say what it should hold, draw a
sample and press *Listen*: the sample plays in the track table and the usual keys answer it (those
labels are recorded as ``review``).  The bar chart of the class shares, with their 95 % intervals,
redraws on every key press; when the sample is answered, the report and refined playlists can be
exported.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.project import Project, ReviewRecord
from ..core.review import ReviewError, ReviewReport, draw, open_review, pending, refined_playlists, report
from ..core.tasks import CancelToken, ProgressCallback
from ..core.wording import plural
from .workers import Job

REFRESH_MS = 100
PREDICTED_PREFIX = "predicted "
CHART_TOP = 118  # % at the chart's top: room above a whisker that reaches 100 % for its count


@dataclass(frozen=True)
class NewestPredictions:
    """The Playlist box's entry for the tracks the newest model predicts as one class.  Chosen,
    they are saved as a playlist named after the class and the model (a new model, a new list:
    a sample drawn from an older model's list stays with it) and that playlist opens."""

    class_name: str

    def playlist(self, model_id: int) -> str:
        return f"{PREDICTED_PREFIX}{self.class_name}, model {model_id}"


class ReviewPanel(QWidget):
    show_tracks = Signal(str, object, bool)  # title, track ids, play the first
    import_requested = Signal(object)  # a playlist file to import (the main window scans it)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.settings = QSettings()
        self.project: Optional[Project] = None
        self.colors: dict[str, str] = {}
        self.record: Optional[ReviewRecord] = None
        self.result: Optional[ReviewReport] = None
        self._report_job: Optional[Job] = None
        self._report_stale = False  # a refresh was asked for while the panel was hidden
        self._listing_job: Optional[Job] = None  # saving a predicted class as a playlist
        self._open_stale = False  # a playlist was chosen while the panel was hidden

        self.playlist = QComboBox()
        self.playlist.setMinimumWidth(180)
        self.playlist.currentIndexChanged.connect(lambda _: self._open_current())
        self.open_file = QPushButton("Open Playlist…")
        self.open_file.clicked.connect(self._open_file)
        self.intended = QComboBox()
        self.intended.setToolTip("The class this playlist should hold: the report then estimates how many "
                                 "of its tracks are something else")
        self.intended.currentIndexChanged.connect(lambda _: self._intended_changed())
        self.sample = QSpinBox()
        self.sample.setRange(1, 10_000)
        self.sample.setValue(20)
        self.sample.setPrefix("Sample ")
        self.seed = QSpinBox()
        self.seed.setRange(0, 1_000_000)
        self.seed.setPrefix("seed ")
        self.seed.setToolTip("The same seed draws the same sample")
        self.draw_button = QPushButton("Draw")
        self.draw_button.setToolTip("Add this many tracks, never drawn before, to the sample")
        self.draw_button.clicked.connect(self.draw_more)
        self.listen_button = QPushButton("Listen")
        self.listen_button.setToolTip("Play the sample's unanswered tracks; answer each with its key")
        self.listen_button.clicked.connect(self.listen)
        self.progress = QLabel()
        self.figure = Figure(figsize=(5, 2.4), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumSize(240, 160)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.export_button = QPushButton("Export Report…")
        self.export_button.clicked.connect(self.export_report)
        self.refine_button = QPushButton("Write Refined Playlists…")
        self.refine_button.setToolTip("refined_<class>.m3u: tracks labelled by ear, then tracks the model "
                                      "predicts at least this sure")
        self.refine_button.clicked.connect(self.write_refined)
        self.min_confidence = QDoubleSpinBox()
        self.min_confidence.setRange(0, 100)
        self.min_confidence.setDecimals(0)
        self.min_confidence.setValue(90)
        self.min_confidence.setPrefix("model ≥ ")
        self.min_confidence.setSuffix(" %")
        # A click on these leaves the keyboard where it was: the class keys answer the sample in the
        # track table, which the window focuses when the sample is shown (a combo with the focus
        # would take them for a search of its items).  Tab still reaches them.
        for widget in (self.playlist, self.open_file, self.intended, self.draw_button, self.listen_button,
                       self.export_button, self.refine_button):
            widget.setFocusPolicy(Qt.FocusPolicy.TabFocus)

        top = QHBoxLayout()
        for widget in (QLabel("Playlist"), self.playlist, self.open_file, QLabel("should hold"), self.intended):
            top.addWidget(widget)
        top.addStretch(1)
        sample_row = QHBoxLayout()
        for widget in (self.sample, self.seed, self.draw_button, self.listen_button, self.progress):
            sample_row.addWidget(widget)
        sample_row.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        for widget in (self.export_button, self.min_confidence, self.refine_button):
            bottom.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(sample_row)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(bottom)
        self._refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self.set_project(None, {})

    # -- project and playlist -------------------------------------------------------------------

    def set_project(self, project: Optional[Project], colors: dict[str, str]) -> None:
        self.project, self.colors = project, colors
        self.record = self.result = None
        self.reload_playlists(select=self._last_choice())

    def _choice_key(self) -> str:
        """Where the settings keep the playlist last chosen in this project."""
        assert self.project is not None
        return f"reviewPlaylist/{hashlib.sha1(str(self.project.path.resolve()).encode()).hexdigest()}"

    def _last_choice(self) -> Optional[str | NewestPredictions]:
        if self.project is None:
            return None
        kind, _, name = self.settings.value(self._choice_key(), "", str).partition(":")
        return NewestPredictions(name) if kind == "newest" else name if kind == "playlist" else None

    def _remember_choice(self, choice: Optional[str | NewestPredictions]) -> None:
        if self.project is not None and choice:
            kept = f"newest:{choice.class_name}" if isinstance(choice, NewestPredictions) else f"playlist:{choice}"
            self.settings.setValue(self._choice_key(), kept)

    def reload_playlists(self, select: Optional[str | NewestPredictions] = None) -> None:
        """The project's playlists, plus the newest model's list of each class it predicts."""
        current = select or self.playlist.currentData()
        self.playlist.blockSignals(True)
        self.playlist.clear()
        self.intended.blockSignals(True)
        self.intended.clear()
        self.intended.addItem("(any class)", "")
        if self.project is not None:
            for name in self.project.playlist_names():
                self.playlist.addItem(name, name)
            for name in self.project.predicted_classes():
                self.playlist.addItem(f"{PREDICTED_PREFIX}{name} (newest model)", NewestPredictions(name))
            for c in self.project.classes():
                self.intended.addItem(c.name, c.name)
        index = next((i for i in range(self.playlist.count()) if self.playlist.itemData(i) == current), 0)
        self.playlist.setCurrentIndex(index if self.playlist.count() else -1)
        self.playlist.blockSignals(False)
        self.intended.blockSignals(False)
        self._open_current()

    def _open_current(self) -> None:
        """Open the chosen playlist's review.  The newest model's list of a class is saved first,
        off the GUI thread (at a million tracks it holds hundreds of thousands of them), and only
        once the panel is shown."""
        choice = self.playlist.currentData()
        self._remember_choice(choice)
        self.record = None
        self._cancel(self._listing_job)
        self._listing_job = None
        self._open_stale = False
        name = self._playlist_of(choice)
        if self.project is not None and name:
            if isinstance(choice, NewestPredictions) and name not in self.project.playlist_names():
                self._open_stale = not self.isVisible()
                if not self._open_stale:
                    self._list_prediction(name, choice.class_name)
                    return
            else:
                try:
                    self.record = open_review(self.project, name)
                except ReviewError as exc:
                    self.summary.setText(str(exc))
        if self.record is not None:
            self.seed.setValue(self.record.seed)
            self.intended.blockSignals(True)
            self.intended.setCurrentIndex(max(0, self.intended.findData(self.record.intended or "")))
            self.intended.blockSignals(False)
        self.refresh()

    def _playlist_of(self, choice: Optional[str | NewestPredictions]) -> Optional[str]:
        """The name of the playlist an entry of the Playlist box stands for."""
        if not isinstance(choice, NewestPredictions):
            return choice
        model_id = self.project.predicting_model() if self.project is not None else None
        return choice.playlist(model_id) if model_id is not None else None

    def _list_prediction(self, name: str, class_name: str) -> None:
        """Save the tracks the newest model predicts as one class as the playlist ``name``, to
        review like any other, then open it."""
        assert self.project is not None
        project_path = self.project.path

        def task(_progress: ProgressCallback, _cancel: CancelToken) -> int:
            with Project(project_path, create=False) as project:  # this thread's own connection
                if class_name not in project.predicted_classes():
                    raise ReviewError("No predictions for that class: retrain the model first.")
                return project.set_playlist_of_prediction(name, class_name)

        self.refresh()  # nothing to draw from until the list is saved
        self.summary.setText(f"Listing the tracks predicted {class_name}…")
        job = Job(f"Listing {name}", task)
        job.succeeded.connect(self._prediction_listed)
        job.failed.connect(self._prediction_failed)
        self._listing_job = job
        job.start()

    def _prediction_listed(self) -> None:
        if self.sender() is self._listing_job:  # still the chosen playlist
            self._listing_job = None
            self.reload_playlists()  # the saved list joins the others; the newest model's stays chosen

    def _prediction_failed(self, message: str) -> None:
        if self.sender() is self._listing_job:
            self._listing_job = None
            self.summary.setText(message)

    @staticmethod
    def _cancel(job: Optional[Job]) -> None:
        if job is not None:
            job.cancel()

    def _open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Review a playlist", self.settings.value("lastImportDir", "", str),
                                              "Playlists (*.m3u *.m3u8 *.pls);;All files (*)")
        if path:
            self.import_requested.emit(Path(path))

    def _intended_changed(self) -> None:
        if self.project is not None and self.record is not None:
            self.record = self.project.review(self.record.playlist, self.intended.currentData() or "")
            self.refresh()

    # -- sampling and listening -----------------------------------------------------------------

    def draw_more(self) -> None:
        if self.project is None or self.record is None:
            return
        if self.seed.value() != self.record.seed and not self.record.items:
            self.record = self.project.review(self.record.playlist, seed=self.seed.value())
        try:
            drawn = draw(self.project, self.record, self.sample.value())
        except ReviewError as exc:
            self.summary.setText(str(exc))
            return
        if len(drawn) < self.sample.value():
            self.summary.setText(f"Only {plural(len(drawn), 'more track')} could be drawn: the sample now holds "
                                 "the whole playlist.")
        self.refresh()
        self.listen()

    def listen(self) -> None:
        if self.project is None or self.record is None:
            return
        waiting = pending(self.project, self.record)
        self.listen_button.setEnabled(bool(waiting))
        if waiting:
            self.show_tracks.emit(f"review: {self.record.playlist}", tuple(waiting), True)

    def label_source(self, track_id: int) -> str:
        """Answers to the sample count as review labels; any other key press stays a human label."""
        if self.project is not None and self.record is not None and track_id in self.record.items:
            return "review"
        return "human"

    def labels_changed(self) -> None:
        if self.record is not None:
            self._refresh_timer.start()

    # -- the report -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Count the answers again, off the GUI thread: at a million tracks the report reads a
        playlist that may hold most of them, which opening the project and each answer's key press
        spent waiting for (4.5 s, when it also read every prediction).  The last report stays until
        the new one arrives.  A hidden panel neither
        counts nor draws until it is shown: opening a project drew its empty chart for 0.3 s."""
        self._refresh_timer.stop()
        self._cancel(self._report_job)
        self._report_job = None
        self._report_stale = not self.isVisible()
        if self._report_stale:
            self.result = None
            return
        ready = self.project is not None and self.record is not None
        for widget in (self.draw_button, self.sample, self.seed, self.intended):
            widget.setEnabled(ready)
        self.refine_button.setEnabled(ready)
        self.export_button.setEnabled(False)
        if not ready:
            self._show_report(None, [])
            return
        self.seed.setEnabled(not self.record.items)
        self.summary.setText("Counting the answers…")
        project_path, record = self.project.path, replace(self.record, items=list(self.record.items))

        def task(_progress: ProgressCallback, cancel: CancelToken) -> Optional[tuple[ReviewReport, list[int]]]:
            if cancel.cancelled:  # a newer refresh was asked for before this one started
                return None
            with Project(project_path, create=False) as project:  # this thread's own connection
                return report(project, record), pending(project, record)

        job = Job("Review report", task)
        job.succeeded.connect(self._report_ready)
        job.failed.connect(self._report_failed)
        self._report_job = job
        job.start()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._open_stale:
            self._open_current()
        elif self._report_stale:
            self.refresh()

    def _report_ready(self, counted: Optional[tuple[ReviewReport, list[int]]]) -> None:
        if self.sender() is self._report_job and counted is not None:  # not for a playlist left behind
            self._report_job = None
            self._show_report(*counted)

    def _report_failed(self, message: str) -> None:
        if self.sender() is self._report_job:
            self._report_job = None
            self.summary.setText(message)

    def _show_report(self, result: Optional[ReviewReport], waiting: list[int]) -> None:
        self.result = result
        self.listen_button.setEnabled(bool(waiting))
        self.export_button.setEnabled(bool(result and result.answered))
        if result is None:
            self.progress.setText("")
            self.summary.setText("Import a playlist (or train a model) to review one.")
            self._draw(None)
            return
        r = result
        self.progress.setText(f"{r.answered:,} of {r.drawn:,} answered · {r.playlist_size:,} in the playlist")
        if r.drawn and not waiting:
            self.summary.setText("<b>Sample answered.</b> " + self._verdict(r))
        elif r.drawn:
            self.summary.setText(f"{len(waiting):,} to go. " + self._verdict(r))
        else:
            self.summary.setText("Draw a sample to start.")
        self._draw(r)

    def _verdict(self, r: ReviewReport) -> str:
        parts = [f"{c.name} {c.ratio:.0%}" for c in r.classes if c.count]
        if r.wrong is not None:
            value, low, high = r.wrong
            parts.append(f"about {value:,.0f} of {plural(r.playlist_size, 'track')} are not {r.intended} "
                         f"({low:,.0f}–{high:,.0f})")
        if r.model_agreement is not None and r.model_agreement.total:
            parts.append(f"model agrees on {r.model_agreement.ratio:.0%}")
        return " · ".join(parts)

    def _draw(self, r: Optional[ReviewReport]) -> None:
        self.figure.clear()
        axes = self.figure.add_subplot()
        if r is None or not r.answered:
            axes.set_axis_off()
            axes.text(0.5, 0.5, "No answers yet", ha="center", va="center", color="#9aa0a6", transform=axes.transAxes)
            self.canvas.draw_idle()
            return
        bars = r.classes + r.groups
        shares = [b.ratio * 100 for b in bars]
        low = [(b.ratio - b.interval[0]) * 100 for b in bars]
        high = [(b.interval[1] - b.ratio) * 100 for b in bars]
        colors = [self.colors.get(b.name, "#9aa0a6") for b in bars]
        x = np.arange(len(bars))
        axes.bar(x, shares, color=colors, alpha=0.85, yerr=[low, high], capsize=4, ecolor="#333333")
        # Each bar's count of answers sits just above its whisker, on a box of its own, so neither
        # the whisker nor the bar's colour can hide it.
        for i, b in enumerate(bars):
            axes.annotate(f"{b.count:,}", (i, b.interval[1] * 100), xytext=(0, 3), textcoords="offset points",
                          ha="center", va="bottom", fontsize=8, color="#333333",
                          bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="#cccccc", linewidth=0.5))
        axes.set_xticks(x, [b.name for b in bars], fontsize=8)
        axes.set_yticks(range(0, 101, 20))
        axes.set_ylim(0, CHART_TOP)
        axes.set_ylabel("% of answers (95 % interval)", fontsize=8)
        axes.tick_params(axis="y", labelsize=7)
        if len(r.groups):
            axes.axvline(len(r.classes) - 0.5, color="#cccccc", linewidth=1)
        self.canvas.draw_idle()

    # -- export ---------------------------------------------------------------------------------

    def export_report(self) -> None:
        if self.result is None:
            return
        default = str(Path(self.settings.value("reviewExportDir", str(Path.home()), str))
                      / f"review {self.result.playlist}.md")
        path, _ = QFileDialog.getSaveFileName(self, "Export the review", default, "Markdown (*.md);;CSV (*.csv)")
        if not path:
            return
        self.settings.setValue("reviewExportDir", str(Path(path).parent))
        text = self.result.csv() if path.lower().endswith(".csv") else self.result.markdown()
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            self.summary.setText(f"Not written: {exc.strerror or exc}")
            return
        self.summary.setText(f"Wrote {path}")

    def write_refined(self) -> None:
        if self.project is None or self.record is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Folder for the refined playlists",
                                                  self.settings.value("reviewExportDir", str(Path.home()), str))
        if not folder:
            return
        self.settings.setValue("reviewExportDir", folder)
        try:
            written = refined_playlists(self.project, self.record.playlist, Path(folder),
                                        self.min_confidence.value() / 100)
        except (ReviewError, OSError) as exc:
            self.summary.setText(f"Not written: {exc}")
            return
        self.summary.setText(f"Wrote {', '.join(p.name for p in written.values()) or 'nothing'} to {folder}")
