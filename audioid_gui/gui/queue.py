"""The queue: what to hear next, first the tracks nobody can guess yet, then the model's doubts.

With no model (or while some class has never been heard) the queue *explores*: representative
tracks of the collection's different sounds, far from everything heard so far; such rows say
"explore" instead of a prediction.  Once a model exists, each row says what the model thinks (its
class and a confidence bar) and why it hesitates (the runner-up class and its probability).
*Label from Queue* shows the queue in the track table, in queue order, and plays the first: the
usual keys label it and auto-advance walks down the queue.
"""
from __future__ import annotations

from typing import Optional, Sequence

from PySide6.QtCore import QModelIndex, QRect, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.selection import STRATEGIES, QueueEntry
from .widgets import list_table

STRATEGY_TIPS = {
    "margin": "Smallest gap between the two likeliest classes (the usual choice)",
    "least-confidence": "Lowest probability of the predicted class",
    "entropy": "Most spread-out probabilities over all classes",
}
COLUMNS = ("#", "Track", "Predicted", "Confidence", "Runner-up")
TRACK_COLUMN, PREDICTED_COLUMN, CONFIDENCE_COLUMN, RUNNER_UP_COLUMN = 1, 2, 3, 4
FITTED_COLUMNS = (PREDICTED_COLUMN, CONFIDENCE_COLUMN, RUNNER_UP_COLUMN)  # the Track column takes what is left
COLUMN_PADDING = 20  # pixels beside a fitted column's widest text
CONFIDENCE_MIN_WIDTH = 96  # the confidence bar stays long enough to compare rows by eye
QUEUE_TITLE = "queue"  # the name of the queue when it is shown in the track table
CONFIDENCE_ROLE = Qt.ItemDataRole.UserRole + 1
EXPLORE_TIP = "No prediction: this track stands for a kind of sound nobody has labelled yet"


class ConfidenceBar(QStyledItemDelegate):
    """A thin bar under the percentage: red when unsure, green when sure."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().paint(painter, option, index)
        value = index.data(CONFIDENCE_ROLE)
        if value is None:
            return
        rect: QRect = option.rect.adjusted(4, option.rect.height() - 6, -4, -2)
        painter.save()
        painter.fillRect(rect, QColor(0, 0, 0, 25))
        color = QColor.fromHsvF(max(0.0, min(1.0, (value - 0.34) / 0.66)) * 0.33, 0.75, 0.85)
        painter.fillRect(QRect(rect.left(), rect.top(), int(rect.width() * value), rect.height()), color)
        painter.restore()


class QueueView(QWidget):
    show_tracks = Signal(str, object, bool)  # title, track ids in queue order, play the first
    ranking_changed = Signal()  # strategy, size or diversity changed: rank again

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.entries: list[QueueEntry] = []
        self.names: dict[int, str] = {}
        self.strategy = QComboBox()
        for name in STRATEGIES:
            self.strategy.addItem(name, name)
            self.strategy.setItemData(self.strategy.count() - 1, STRATEGY_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self.strategy.setToolTip("How the model's doubt is measured (once there is a model)")
        self.strategy.currentIndexChanged.connect(lambda _: self.ranking_changed.emit())
        self.size = QSpinBox()
        self.size.setRange(5, 1000)
        self.size.setValue(50)
        self.size.setPrefix("Top ")
        self.size.setToolTip("How many tracks the queue proposes at a time")
        self.size.valueChanged.connect(lambda _: self.ranking_changed.emit())
        self.diverse = QCheckBox("Diverse")
        self.diverse.setToolTip("Spread the model's doubts over different-sounding tracks instead of ten near-copies")
        self.diverse.toggled.connect(lambda _: self.ranking_changed.emit())
        self.start = QPushButton("Label from Queue")
        self.start.setToolTip("Show the queue in the track table and play its first track (Ctrl+Shift+Q)")
        self.start.clicked.connect(lambda: self.play_from(0))
        self.note = QLabel()  # what the list is, or why it is empty
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.RichText)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = list_table(COLUMNS, stretch=TRACK_COLUMN)
        self.table.setItemDelegateForColumn(CONFIDENCE_COLUMN, ConfidenceBar(self.table))
        # One line a track; a long name keeps its start and its end (a series' number, the format).
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for column in FITTED_COLUMNS:
            self.table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        self._fitting = False
        self._user_sized: set[int] = set()  # columns the user dragged: a refresh keeps their width
        self.table.horizontalHeader().sectionResized.connect(self._section_resized)
        self.table.cellDoubleClicked.connect(lambda row, _column: self.play_from(row))
        # A click on these leaves the keyboard with the track table, where the class keys label
        # (a combo with the focus would take them for a search of its items); Tab still reaches them.
        for widget in (self.strategy, self.diverse, self.start):
            widget.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Rank by"))
        controls.addWidget(self.strategy)
        controls.addWidget(self.size)
        controls.addWidget(self.diverse)
        controls.addStretch(1)
        controls.addWidget(self.start)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        self.set_entries([], {}, "")

    def set_entries(self, entries: Sequence[QueueEntry], names: dict[int, str], note: str = "") -> None:
        """Show the entries under ``note`` (what the list is, or why it is empty)."""
        self.entries, self.names = list(entries), names
        self.table.setRowCount(len(self.entries))
        for row, e in enumerate(self.entries):
            exploring = not e.predicted
            cells = (str(row + 1), names.get(e.track_id, str(e.track_id)), "—" if exploring else e.predicted,
                     "explore" if exploring else f"{e.confidence:.0%}",
                     f"{e.runner_up} {e.runner_up_probability:.0%}" if e.runner_up else "")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 0 or (column == CONFIDENCE_COLUMN and not exploring):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == CONFIDENCE_COLUMN and not exploring:
                    item.setData(CONFIDENCE_ROLE, e.confidence)
                if exploring and column in (PREDICTED_COLUMN, CONFIDENCE_COLUMN):
                    item.setForeground(QColor("gray"))
                    item.setToolTip(EXPLORE_TIP)
                if column == TRACK_COLUMN:
                    item.setToolTip(text)  # the whole name, when the column elides it
                self.table.setItem(row, column, item)
        self._fit_columns()
        self.set_note(note)
        self.start.setEnabled(bool(self.entries))

    def _fit_columns(self) -> None:
        """Prediction, confidence and runner-up as wide as their widest text, with room to breathe:
        the Track column's stretching must not squeeze what the model says about each track."""
        header, metrics = self.table.horizontalHeader(), self.table.fontMetrics()
        self._fitting = True
        for column in FITTED_COLUMNS:
            if column in self._user_sized:
                continue
            texts = (self.table.item(row, column).text() for row in range(self.table.rowCount()))
            widths = [metrics.horizontalAdvance(t) + COLUMN_PADDING for t in texts]
            width = max([header.sectionSizeHint(column), *widths])
            if column == CONFIDENCE_COLUMN:
                width = max(width, CONFIDENCE_MIN_WIDTH)
            header.resizeSection(column, width)
        self._fitting = False

    def _section_resized(self, column: int, _old: int, _new: int) -> None:
        if not self._fitting and column in FITTED_COLUMNS:
            self._user_sized.add(column)

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def set_model_controls(self, enabled: bool) -> None:
        """The ranking's strategy and diversity only mean something once a model predicts."""
        self.strategy.setEnabled(enabled)
        self.diverse.setEnabled(enabled)

    def drop(self, track_ids: Sequence[int]) -> bool:
        """Tracks just labelled by ear leave the queue at once (the ranking waits for a retrain or
        the next batch); True if some did.  The caller says what the shorter list is."""
        gone = set(track_ids)
        if not any(e.track_id in gone for e in self.entries):
            return False
        self.set_entries([e for e in self.entries if e.track_id not in gone], self.names, self.note.text())
        return True

    @property
    def exploring(self) -> bool:
        """Some entry comes from exploration (no prediction)."""
        return any(not e.predicted for e in self.entries)

    def play_from(self, row: int) -> None:
        ids = [e.track_id for e in self.entries[row:]]
        if ids:
            self.show_tracks.emit(QUEUE_TITLE, tuple(ids), True)

    def current_strategy(self) -> str:
        return self.strategy.currentData()
