"""The uncertainty queue: the unlabelled tracks the model is least sure about, most unsure first.

Each row says what the model thinks (its class and a confidence bar) and why it hesitates (the
runner-up class and its probability).  *Label from Queue* shows the queue in the track table, in
queue order, and plays the first: the usual keys label it and auto-advance walks down the queue.
"""
from __future__ import annotations

from typing import Optional, Sequence

from PySide6.QtCore import QModelIndex, QRect, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.learning import STRATEGIES, QueueEntry
from .widgets import list_table

STRATEGY_TIPS = {
    "margin": "Smallest gap between the two likeliest classes (the usual choice)",
    "least-confidence": "Lowest probability of the predicted class",
    "entropy": "Most spread-out probabilities over all classes",
}
COLUMNS = ("#", "Track", "Predicted", "Confidence", "Runner-up")
QUEUE_TITLE = "uncertainty queue"  # the name of the queue when it is shown in the track table
CONFIDENCE_ROLE = Qt.ItemDataRole.UserRole + 1


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
        self.strategy.currentIndexChanged.connect(lambda _: self.ranking_changed.emit())
        self.size = QSpinBox()
        self.size.setRange(5, 1000)
        self.size.setValue(50)
        self.size.setPrefix("Top ")
        self.size.valueChanged.connect(lambda _: self.ranking_changed.emit())
        self.diverse = QCheckBox("Diverse")
        self.diverse.setToolTip("Spread the queue over different-sounding tracks instead of ten near-copies")
        self.diverse.toggled.connect(lambda _: self.ranking_changed.emit())
        self.start = QPushButton("Label from Queue")
        self.start.setToolTip("Show the queue in the track table and play its first track (Ctrl+Shift+Q)")
        self.start.clicked.connect(lambda: self.play_from(0))
        self.empty = QLabel()
        self.empty.setWordWrap(True)
        self.table = list_table(COLUMNS, stretch=1)
        self.table.setItemDelegateForColumn(3, ConfidenceBar(self.table))
        self.table.cellDoubleClicked.connect(lambda row, _column: self.play_from(row))
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
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        self.set_entries([], {}, "Train a model (Ctrl+R) to see which tracks it is least sure about.")

    def set_entries(self, entries: Sequence[QueueEntry], names: dict[int, str], empty_text: str = "") -> None:
        self.entries, self.names = list(entries), names
        self.table.setRowCount(len(self.entries))
        for row, e in enumerate(self.entries):
            cells = (str(row + 1), names.get(e.track_id, str(e.track_id)), e.predicted, f"{e.confidence:.0%}",
                     f"{e.runner_up} {e.runner_up_probability:.0%}" if e.runner_up else "")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column in (0, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 3:
                    item.setData(CONFIDENCE_ROLE, e.confidence)
                self.table.setItem(row, column, item)
        self.empty.setText(empty_text)
        self.empty.setVisible(not self.entries and bool(empty_text))
        self.start.setEnabled(bool(self.entries))

    def drop(self, track_ids: Sequence[int]) -> None:
        """Tracks just labelled by ear leave the queue at once (the ranking waits for a retrain)."""
        gone = set(track_ids)
        if any(e.track_id in gone for e in self.entries):
            self.set_entries([e for e in self.entries if e.track_id not in gone], self.names,
                             "Queue done: retrain (Ctrl+R) for the next one.")

    def play_from(self, row: int) -> None:
        ids = [e.track_id for e in self.entries[row:]]
        if ids:
            self.show_tracks.emit(QUEUE_TITLE, tuple(ids), True)

    def current_strategy(self) -> str:
        return self.strategy.currentData()
