"""The track table: a QAbstractTableModel that pages rows out of the project file.

The model holds only the ordered list of track ids for the current filter and sort; the columns
of a row are fetched from SQLite in pages of ``PAGE`` rows when the view first paints them, and
kept in a bounded cache.  30,000 tracks cost 30,000 integers, not 30,000 objects per repaint.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Optional, Sequence

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ..core.library import readable
from ..core.project import Project, rows_of
from ..core.tracklist import NEEDS_PREDICTIONS, NameRanks, TrackFilter, TrackRow, track_ids, track_rows

log = logging.getLogger(__name__)

PAGE = 200
CACHE_PAGES = 50

COLUMNS: tuple[tuple[str, str], ...] = (
    ("Name", "name"),
    ("Folder", "folder"),
    ("Duration", "duration"),
    ("Label", "label"),
    ("Source", "source"),
    ("Genre tag", "genre"),
    ("Predicted", "predicted"),
    ("Confidence", "confidence"),
)


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


class TrackTableModel(QAbstractTableModel):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.project: Optional[Project] = None
        self.filter = TrackFilter()
        self.sort_key: Optional[str] = None
        self.descending = False
        self._ids: list[int] = []
        self._id_array = np.zeros(0, dtype=np.int64)
        self._id_order: Optional[np.ndarray] = None  # argsort of _id_array, made when first needed
        self._names = NameRanks()  # kept while the project is shown: its tracks are only ever added
        self._pages: OrderedDict[int, dict[int, TrackRow]] = OrderedDict()
        self._colors: dict[str, QColor] = {}

    # -- what to show ---------------------------------------------------------------------------

    def set_project(self, project: Optional[Project]) -> None:
        self.project = project
        self.filter = TrackFilter()
        self._names = NameRanks()  # a million names are ranked in the background while the list is read
        if project is not None:
            self._names.warm(project.path)
        self.refresh()

    def set_class_colors(self, colors: dict[str, str]) -> None:
        self._colors = {name: QColor(c) for name, c in colors.items()}
        self._emit_all_changed()

    def set_filter(self, flt: TrackFilter) -> None:
        self.filter = flt
        self.refresh()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sort_key = COLUMNS[column][1] if 0 <= column < len(COLUMNS) else None
        self.descending = order == Qt.SortOrder.DescendingOrder
        self.refresh()

    def refresh(self) -> None:
        """Re-run the query (new tracks, a new filter or sort).  Views keep their selection by id
        through ``row_of``."""
        self.layoutAboutToBeChanged.emit()
        old_persistent = self.persistentIndexList()
        old_ids = [self.track_id(i.row()) for i in old_persistent]
        self._ids = (track_ids(self.project, self.filter, self.sort_key, self.descending, self._names)
                     if self.project else [])
        self._id_order = None
        self._pages.clear()
        new_rows = [self.row_of(t) if t is not None else None for t in old_ids]
        self.changePersistentIndexList(
            old_persistent,
            [self.index(r, i.column()) if r is not None else QModelIndex() for i, r in zip(old_persistent, new_rows)],
        )
        self.layoutChanged.emit()

    def predictions_changed(self) -> None:
        """New predictions: the rows show them at once; the list itself is queried again only
        when its filter or sort depends on them, since fetching a million ids takes half a second
        of the GUI thread."""
        flt = self.filter
        if self.sort_key in NEEDS_PREDICTIONS or flt.predicted is not None or flt.below_confidence is not None:
            self.refresh()
            return
        self._pages.clear()
        self._emit_all_changed()

    def refresh_tracks(self, ids: Sequence[int]) -> None:
        """Some tracks changed (a label): refetch just their rows; the filter is not re-applied,
        so a row labelled under "Unlabelled" stays put until the next refresh."""
        for track_id in ids:
            row = self.row_of(track_id)
            if row is not None:
                self._pages.pop(row // PAGE, None)
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    # -- lookups --------------------------------------------------------------------------------

    def track_id(self, row: int) -> Optional[int]:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, track_id: int) -> Optional[int]:
        """The row showing a track, by a binary search in the ids' sort (made once per query):
        a dictionary of a million rows cost a Python object per row after every refresh."""
        if self._id_order is None:
            self._id_array = np.asarray(self._ids, dtype=np.int64)
            self._id_order = np.argsort(self._id_array, kind="stable")
        row = int(rows_of(self._id_array, [track_id], self._id_order)[0])
        return row if row >= 0 else None

    def track(self, row: int) -> Optional[TrackRow]:
        track_id = self.track_id(row)
        if track_id is None or self.project is None:
            return None
        page_number = row // PAGE
        page = self._pages.get(page_number)
        if page is None or track_id not in page:
            ids = self._ids[page_number * PAGE:(page_number + 1) * PAGE]
            page = track_rows(self.project, ids)
            self._pages[page_number] = page
            while len(self._pages) > CACHE_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_number)
        return page.get(track_id)

    # -- Qt model interface ---------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.track(index.row())
        if row is None:
            return None
        key = COLUMNS[index.column()][1]
        if role == Qt.ItemDataRole.DisplayRole:
            if key == "duration":
                return format_duration(row.duration)
            if key == "name" and row.error:
                return f"⚠ {readable(row.name)}"
            if key == "confidence":
                return f"{row.confidence:.0%}" if row.confidence is not None else ""
            if key in ("name", "folder"):
                return readable(getattr(row, key))  # a name that is not UTF-8 shows with U+FFFD
            return getattr(row, key) or ""
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{readable(row.path)}\n{row.error}" if row.error else readable(row.path)
        if role == Qt.ItemDataRole.ForegroundRole and row.error and key == "name":
            return QBrush(QColor("#c0392b"))
        if role == Qt.ItemDataRole.BackgroundRole and key == "label" and row.label in self._colors:
            color = QColor(self._colors[row.label])
            color.setAlpha(70)
            return QBrush(color)
        if role == Qt.ItemDataRole.TextAlignmentRole and key in ("duration", "confidence"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _emit_all_changed(self) -> None:
        if self._ids:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._ids) - 1, len(COLUMNS) - 1))


class TrackTableView(QTableView):
    """The table widget: rows of one height (so 30,000 rows scroll without measuring each),
    single-row selection, sortable headers."""

    current_track_changed = Signal(object)  # track id or None

    def __init__(self, model: TrackTableModel, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSortingEnabled(True)
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a folder's last part tells it apart
        self.setShowGrid(False)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        for column, width in enumerate((180, 110, 60, 76, 60, 70, 76)):
            self.setColumnWidth(column, width)
        self.selectionModel().currentRowChanged.connect(self._row_changed)

    def track_model(self) -> TrackTableModel:
        return self.model()  # type: ignore[return-value]

    def current_track_id(self) -> Optional[int]:
        index = self.currentIndex()
        return self.track_model().track_id(index.row()) if index.isValid() else None

    def select_track(self, track_id: Optional[int]) -> bool:
        row = self.track_model().row_of(track_id) if track_id is not None else None
        if row is None:
            return False
        self.select_row(row)
        return True

    def select_row(self, row: int) -> None:
        index = self.track_model().index(row, 0)
        self.setCurrentIndex(index)
        self.scrollTo(index)

    def step(self, delta: int) -> bool:
        """Move to the next (+1) or previous (-1) row; False at either end."""
        current = self.currentIndex().row() if self.currentIndex().isValid() else -1
        target = current + delta
        if not 0 <= target < self.track_model().rowCount():
            return False
        self.select_row(target)
        return True

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.current_track_changed.emit(self.track_model().track_id(current.row()) if current.isValid() else None)
