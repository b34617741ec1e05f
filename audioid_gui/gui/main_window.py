"""The main window: menus, the track table, the player, the status bar; wires views to the Project.

Every command is a QAction defined in ``_build_actions`` (one place for texts and shortcuts); the
menus, the toolbar, the class buttons and the keyboard-shortcuts help all show those actions.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, QSize, QStandardPaths, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
    QShowEvent,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..core.audio import SegmentSpec
from ..core.demo import demo_sources
from ..core.distributed import SETTING as DASK_SETTING
from ..core.distributed import ClusterError, DaskScheduler, require_distributed
from ..core.extraction import ScanReport, scan
from ..core.labels_io import LabelFileError, export_labels, import_labels
from ..core.library import is_playlist, readable
from ..core.project import Project
from ..core.store import ProjectFileError
from ..core.tags import ApplyReport
from ..core.tags import undo as undo_tags
from ..core.tasks import CancelToken, ProgressCallback
from ..core.tracklist import TrackFilter
from ..core.wording import plural
from .classes_dialog import ClassesDialog
from .cluster_view import ClusterPanel
from .model_view import ModelPanel
from .queue import QUEUE_TITLE
from .review import ReviewPanel
from .tag_writer import TagWriterDialog
from .job_status import JobStatus
from .player import PlayerPanel
from .track_table import TrackTableModel, TrackTableView
from .welcome import WelcomePage
from .workers import Job

log = logging.getLogger(__name__)

PROJECT_FILTER = "AudioID projects (*.audioid *.sqlite);;All files (*)"
MAX_RECENT = 8
DOCK_SHARE = 0.5  # of the window's height, at least, for a bottom panel when it opens
# Where each kind of file dialog opens next (the import folder is shared with the Review panel).
IMPORT_DIR, LABELS_DIR, PROJECT_DIR = "lastImportDir", "lastLabelsDir", "lastProjectDir"
TABLE_REFRESH_DURING_SCAN_S = 1.0
CHOSEN_UNFILTERED = "A chosen list shows all its tracks; the path filter applies to the other lists"


class LabelCommand(QUndoCommand):
    """Label tracks as one undoable step; undo deletes exactly the history rows this step added.

    A ``counted`` step (a label given by key) counts towards the session's pace, and stops
    counting when undone, so the counter never claims labels that are no longer there."""

    def __init__(self, window: "MainWindow", track_ids: Sequence[int], class_name: Optional[str],
                 source: str = "human", counted: bool = False) -> None:
        what = class_name or "unlabelled"
        super().__init__(f"label {plural(len(track_ids), 'track')} {what}"
                         + (f" ({source})" if source != "human" else ""))
        self.window = window
        self.track_ids = list(track_ids)
        self.class_name = class_name
        self.source = source
        self.counted = counted and class_name is not None
        self.label_ids: list[int] = []

    def redo(self) -> None:
        try:
            self.label_ids = self.window.project.set_labels(self.track_ids, self.class_name, self.source)
        except Exception:  # a full disk, a damaged file: nothing was labelled, so nothing to undo
            self.setObsolete(True)
            raise
        if self.counted:
            self.window.session.add(len(self.track_ids))
        self.window.tracks_relabelled(self.track_ids)

    def undo(self) -> None:
        self.window.project.remove_labels(self.label_ids)
        if self.counted:
            self.window.session.remove(len(self.track_ids))
        self.window.tracks_relabelled(self.track_ids)
        self.window.table.select_track(self.track_ids[0])


class SessionCounter:
    """Labels given since the project was opened, and the pace once there is enough to measure.

    One label a second after opening is not "60 per minute": the pace waits for a few labels
    over half a minute or more."""

    PACE_AFTER_LABELS = 2
    PACE_AFTER_S = 30.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.count = 0
        self.first: Optional[float] = None

    def add(self, n: int) -> None:
        if self.first is None:
            self.first = self.clock()
        self.count += n

    def remove(self, n: int) -> None:
        self.count = max(0, self.count - n)

    def text(self) -> str:
        if not self.count or self.first is None:
            return "This session: nothing labelled yet"
        text = f"This session: {self.count:,} labelled"
        elapsed = self.clock() - self.first
        if self.count >= self.PACE_AFTER_LABELS and elapsed >= self.PACE_AFTER_S:
            text += f" · {self.count / (elapsed / 60):.1f} per minute"
        return text


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.settings = QSettings()
        self.project: Optional[Project] = None
        self.undo_stack = QUndoStack(self)
        self.session = SessionCounter()
        self.class_actions: list[QAction] = []
        self._last_table_refresh = 0.0

        self.model = TrackTableModel(self)
        self.table = TrackTableView(self.model)
        self.table.current_track_changed.connect(self._current_track_changed)
        self.player = PlayerPanel()
        self.player.next_requested.connect(lambda: self.table.step(+1))
        self.player.previous_requested.connect(lambda: self.table.step(-1))

        self.filter_text = QLineEdit()
        self.filter_text.setPlaceholderText("Filter by path…  (Ctrl+F)")
        self.filter_text.setClearButtonEnabled(True)
        self._filter_timer = QTimer(self, singleShot=True, interval=200)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.filter_text.textChanged.connect(lambda _: self._filter_timer.start())
        self.quick_filter = QComboBox()
        self.quick_filter.setMinimumWidth(230)
        self.quick_filter.currentIndexChanged.connect(lambda _: self._apply_filter())
        self.count_label = QLabel()
        self.confidence_filter = QSpinBox()
        self.confidence_filter.setRange(1, 100)
        self.confidence_filter.setValue(100)
        self.confidence_filter.setPrefix("below ")
        self.confidence_filter.setSuffix(" % confidence")
        self.confidence_filter.setToolTip("Only the tracks the model predicts with less confidence than this")
        self.confidence_filter.valueChanged.connect(lambda _: self._filter_timer.start())

        table_side = QWidget()
        table_layout = QVBoxLayout(table_side)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.table)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(table_side)
        self.splitter.addWidget(self.player)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        self.welcome = WelcomePage()
        self.welcome.new_requested.connect(self.new_project_dialog)
        self.welcome.open_requested.connect(self.open_project_dialog)
        self.welcome.demo_requested.connect(self.open_demo)
        self.welcome.recent_requested.connect(lambda path: self.open_project(Path(path)))
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.splitter)
        self.setCentralWidget(self.pages)

        self.session_label = QLabel()
        # Each job that changes tracks or tags (a scan, a restore of genres) refreshes the table when
        # it ends; the others leave it alone: re-reading a million rows after every training or
        # clustering held the window still for a second.
        self.jobs = JobStatus()
        # Permanent widgets sit right of the status messages, which therefore never cover them.
        self.count_label.setContentsMargins(12, 0, 4, 0)
        self.statusBar().addPermanentWidget(self.session_label)
        self.statusBar().addPermanentWidget(self.count_label)
        self.statusBar().addPermanentWidget(self.jobs)

        self.clusters = ClusterPanel(self.jobs)
        self.clusters.show_tracks.connect(self.show_track_set)
        self.clusters.label_tracks.connect(self.label_cluster)
        self.clusters.review_requested.connect(self._review_tracks)
        self.clusters_dock = self._dock("Clusters", "clustersDock", self.clusters)
        self.model_panel = ModelPanel(self.jobs)
        self.model_panel.show_tracks.connect(self.show_track_set)
        self.model_panel.predictions_changed.connect(self._predictions_changed)
        self.model_panel.queue_changed.connect(self._queue_changed)
        self.model_dock = self._dock("Model", "modelDock", self.model_panel)
        self.review_panel = ReviewPanel()
        self.review_panel.show_tracks.connect(self.show_track_set)
        self.review_panel.import_requested.connect(self._review_file)
        self.review_dock = self._dock("Review", "reviewDock", self.review_panel)
        self.tabifyDockWidget(self.clusters_dock, self.model_dock)
        self.tabifyDockWidget(self.model_dock, self.review_dock)
        self._review_import = False  # the running import was asked for by the Review panel
        self._docks_visible: dict[str, bool] = {}  # per dock, while no project is open
        self._docks_in_front: list[str] = []  # the docks on top of their tab group, likewise
        self._track_set: Optional[tuple[str, tuple[int, ...]]] = None  # the chosen tracks filter
        self._play_chosen = False

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self.setAcceptDrops(True)
        QApplication.instance().installEventFilter(self)  # see eventFilter: the label keys' way back
        self.resize(1280, 780)
        self._restore_settings()
        self._show_project_state()

    # -- where the keys go -----------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Keep the label keys working after a person has touched something else in the window.

        A spin box swallows keys it has little use for (letters, Space, Ctrl+Z, Ctrl+Right), so
        such a key that is one of the window's shortcuts (a class, undo, play, next) acts there as
        everywhere; digits, arrows and Delete still edit the number.  Enter or Escape in a spin box
        or the path filter, and the close of a dialog of this window, hand the keyboard back to the
        track table.  Text fields keep their letters."""
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride and self._is_spin_box(watched) and self._window_key(event):
            event.ignore()  # not overridden: the window's action fires
            return True
        if kind == QEvent.Type.KeyPress and self._finishes_edit(watched, event):
            QTimer.singleShot(0, self.focus_labels)
        elif kind == QEvent.Type.Hide and isinstance(watched, QDialog) and self._owns(watched.parentWidget()):
            QTimer.singleShot(0, self.focus_labels)
        return False

    def focus_labels(self) -> None:
        """Give the keyboard to the track table, where the label keys and arrows work."""
        if self.project is not None and self.pages.currentWidget() is self.splitter:
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def _owns(self, widget: Optional[QObject]) -> bool:
        """Whether the widget lies in this window or one of its (possibly floating) docks."""
        while widget is not None:
            if widget is self:
                return True
            if isinstance(widget, QDialog):
                return False
            widget = widget.parent()
        return False

    def _is_spin_box(self, watched: QObject) -> bool:
        box = watched if isinstance(watched, QAbstractSpinBox) else watched.parent()
        return isinstance(box, QAbstractSpinBox) and self._owns(box)

    def _window_key(self, event: QKeyEvent) -> bool:
        """Whether the key is one of the window's shortcuts that a spin box would take and waste:
        a letter, Space, or a combination with Ctrl or Alt (not a digit, an arrow or Delete)."""
        chord = event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        if not (chord or event.text().isalpha() or event.key() == Qt.Key.Key_Space):
            return False
        pressed = QKeySequence(event.keyCombination())
        return any(pressed in action.shortcuts() for action in self.actions())

    def _finishes_edit(self, watched: QObject, event: QKeyEvent) -> bool:
        keys = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape)
        if event.key() not in keys or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        return watched is self.filter_text or self._is_spin_box(watched)

    # -- actions, menus, toolbar ----------------------------------------------------------------

    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        dock.hide()
        dock.toggleViewAction().toggled.connect(lambda shown: self._dock_opened(dock) if shown else None)
        return dock

    def _dock_opened(self, dock: QDockWidget) -> None:
        QTimer.singleShot(0, lambda: self._give_room(dock))  # once the layout has placed it

    def _give_room(self, dock: QDockWidget) -> None:
        """A panel opens with room to work (a dendrogram, a chart, a table), taken from the player,
        whose picture reads well at its minimum height; a panel the person made larger stays."""
        spare = self.pages.height() - self.pages.minimumSizeHint().height()  # what the centre can give
        wanted = min(int(self.height() * DOCK_SHARE), dock.height() + max(0, spare))
        if dock.isVisible() and not dock.isFloating() and dock.height() < wanted:
            self.resizeDocks([dock], [wanted], Qt.Orientation.Vertical)

    def _docks(self) -> list[QDockWidget]:
        return [self.clusters_dock, self.model_dock, self.review_dock]

    def _front_docks(self) -> list[str]:
        """The shown docks that no other tab hides."""
        return [dock.objectName() for dock in self._docks()
                if dock.isVisible() and not dock.visibleRegion().isEmpty()]

    def _dock_action(self, dock: QDockWidget, text: str, shortcut: str) -> QAction:
        """A checkable action that brings the panel to the front, or closes it when it is in front
        already: a panel open behind another tab is what a person wants to see, not to lose."""
        action = self._action(text, lambda: self._show_or_close(dock, action), shortcut, checkable=True)
        dock.toggleViewAction().toggled.connect(action.setChecked)  # checked while the panel is open
        return action

    def _show_or_close(self, dock: QDockWidget, action: QAction) -> None:
        if dock.isVisible() and not dock.visibleRegion().isEmpty():  # (a tab behind another shows nothing)
            dock.close()
        else:
            dock.show()
            dock.raise_()
        action.setChecked(not dock.isHidden())  # the click toggled the check; the panel decides

    def _action(self, text: str, slot: Callable, shortcut: Optional[str | QKeySequence] = None,
                tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work wherever the focus is in the window
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_new = a("&New Project…", self.new_project_dialog, QKeySequence.StandardKey.New)
        self.act_open = a("&Open Project…", self.open_project_dialog, QKeySequence.StandardKey.Open)
        self.act_add_folder = a("Add &Folder…", self.add_folder_dialog, "Ctrl+Shift+O",
                                "Import a folder (with its sub-folders) and extract features")
        self.act_add_playlist = a("Add &Playlist…", self.add_playlist_dialog, "Ctrl+Shift+P",
                                  "Import m3u/m3u8/pls playlists and their tracks")
        self.act_scan_options = a("&Scan Options…", self.scan_options_dialog, None,
                                  "Where features are extracted: this computer, or a Dask cluster")
        self.act_export_labels = a("&Export Labels…", self.export_labels_dialog, "Ctrl+E", "Write path,label CSV")
        self.act_import_labels = a("&Import Labels…", self.import_labels_dialog, "Ctrl+I",
                                   "Read labels from CSV (path,label) or the journal's JSON")
        self.act_write_tags = a("Write Genre &Tags…", self.write_tags_dialog, "Ctrl+T",
                                "Write each track's class into its file as genre, with a preview")
        self.act_undo_tags = a("Undo Last &Tag Batch", self.undo_tag_batch, None,
                               "Put back the genres the last tag batch replaced")
        self.act_quit = a("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence("Ctrl+Z"))
        self.act_redo = self.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addActions([self.act_undo, self.act_redo])
        self.act_clear_label = a("&Clear Label", lambda: self.label_current(None), "Delete",
                                 "Remove the playing track's label")
        self.act_classes = a("C&lasses…", self.edit_classes, "Ctrl+Shift+K", "Names, keys, colours, genre text")
        self.act_play = a("&Play / Pause", self.player.toggle, "Space")
        self.act_next = a("&Next Track", lambda: self.table.step(+1), "Ctrl+Right")
        self.act_previous = a("P&revious Track", lambda: self.table.step(-1), "Ctrl+Left")
        self.act_whole = a("Play &Whole File", self._whole_file_toggled, "Ctrl+L",
                           "Play the whole file from its start instead of the analysed segment", checkable=True)
        self.player.whole_file.toggled.connect(self.act_whole.setChecked)
        self.act_auto_advance = a("&Auto-advance After Labeling", lambda: None, "Ctrl+Shift+A",
                                  "After a label, go to the next track and play it", checkable=True)
        # The toolbar button says its state in words: a checked flat button looks much like an
        # unchecked one.
        self.act_auto_advance.toggled.connect(
            lambda on: self.act_auto_advance.setIconText(f"Auto-advance: {'on' if on else 'off'}"))
        self.act_auto_advance.setIconText("Auto-advance: off")
        self.act_autoplay = a("Play on &Select", lambda: None, None, "Start playing a track when it is selected",
                              checkable=True)
        self.act_find = a("&Find…", self._find, "Ctrl+F")
        self.act_focus_table = a("Focus Track &List", lambda: self.table.setFocus(), "Escape")
        self.act_show_clusters = self._dock_action(self.clusters_dock, "Show &Clusters Panel", "Ctrl+K")
        self.act_show_model = self._dock_action(self.model_dock, "Show &Model Panel", "Ctrl+U")
        self.act_show_review = self._dock_action(self.review_dock, "Show Re&view Panel", "Ctrl+Shift+R")
        self.act_retrain = a("&Retrain Model", self._retrain, "Ctrl+R",
                             "Train on the labels given by ear and predict every track, in the background")
        self.act_label_queue = a("Label from &Queue", self._label_from_queue, "Ctrl+Shift+Q",
                                 "Show the tracks to hear next (the model's doubts; with no model, tracks "
                                 "that stand for the collection's sounds) and play the first")
        self.act_cluster = a("&Cluster Tracks", self._cluster_now, "Ctrl+Shift+C",
                             "Cluster every track with features (hierarchical, in the background)")
        self.act_guided = a("&Guided Labeling", self._guided_toggled, "Ctrl+G",
                            "Listen to samples of clusters and label whole clusters that agree", checkable=True)
        self.clusters.guide_button.toggled.connect(self.act_guided.setChecked)
        self.act_accept_cluster = a("&Label Whole Cluster", self.clusters.accept_offer, "Ctrl+Return",
                                    "Guided labeling: accept the offer to label the sampled cluster")
        self.act_split_cluster = a("&Split Cluster Instead", self.clusters.decline_offer, "Ctrl+Shift+Return",
                                   "Guided labeling: look inside the cluster instead of labeling it whole")
        for action in (self.act_accept_cluster, self.act_split_cluster):  # only while an offer stands
            action.setEnabled(False)
            self.clusters.offer_changed.connect(action.setEnabled)
        self.act_shortcuts = a("&Keyboard Shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self.act_about = a("&About", self.show_about)
        self.project_actions = [self.act_add_folder, self.act_add_playlist, self.act_export_labels,
                                self.act_import_labels, self.act_classes, self.act_clear_label,
                                self.act_show_clusters, self.act_cluster, self.act_guided, self.act_show_model,
                                self.act_retrain, self.act_label_queue, self.act_show_review, self.act_write_tags,
                                self.act_undo_tags, self.act_scan_options]

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addActions([self.act_new, self.act_open])
        self.recent_menu = file.addMenu("Open &Recent")
        file.addSeparator()
        file.addActions([self.act_add_folder, self.act_add_playlist, self.act_scan_options])
        file.addSeparator()
        file.addActions([self.act_import_labels, self.act_export_labels])
        file.addSeparator()
        file.addAction(self.act_write_tags)
        file.addSeparator()
        file.addAction(self.act_quit)
        edit = bar.addMenu("&Edit")
        edit.addActions([self.act_undo, self.act_redo, self.act_undo_tags])
        edit.addSeparator()
        self.label_menu = edit.addMenu("&Label As")
        edit.addAction(self.act_clear_label)
        edit.addSeparator()
        edit.addActions([self.act_classes, self.act_find])
        view = bar.addMenu("&View")
        view.addActions([self.act_auto_advance, self.act_autoplay, self.act_whole])
        view.addSeparator()
        view.addActions([self.act_show_clusters, self.act_show_model, self.act_show_review])
        clusters = bar.addMenu("&Clusters")
        clusters.addActions([self.act_show_clusters, self.act_cluster])
        clusters.addSeparator()
        clusters.addActions([self.act_guided, self.act_accept_cluster, self.act_split_cluster])
        model = bar.addMenu("&Model")
        model.addActions([self.act_show_model, self.act_retrain, self.act_label_queue])
        model.addSeparator()
        model.addAction(self.act_show_review)
        playback = bar.addMenu("&Playback")
        playback.addActions([self.act_play, self.act_previous, self.act_next])
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.act_shortcuts, self.act_about])

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.addActions([self.act_add_folder, self.act_add_playlist])
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Show "))
        toolbar.addWidget(self.quick_filter)
        self.confidence_filter_action = toolbar.addWidget(self.confidence_filter)
        self.confidence_filter_action.setVisible(False)  # only with a "Predicted:" filter
        toolbar.addWidget(QLabel("  "))
        toolbar.addWidget(self.filter_text)
        toolbar.addSeparator()
        toolbar.addAction(self.act_auto_advance)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    def _rebuild_class_actions(self) -> None:
        for action in self.class_actions:
            self.removeAction(action)
            action.deleteLater()
        self.label_menu.clear()
        self.class_actions = []
        if self.project is None:
            return
        classes = self.project.classes()
        for c in classes:
            text = f"{c.name}  ({c.key})" if c.key else c.name
            action = self._action(text, lambda _=False, name=c.name: self.label_current(name), c.key,
                                  f"Label the playing track {c.name}")
            action.setData(c.name)
            self.class_actions.append(action)
        self.label_menu.addActions(self.class_actions)
        colors = {c.name: c.color for c in classes}
        self.player.set_label_actions(self.class_actions, colors)
        self.model.set_class_colors(colors)

    def _rebuild_quick_filters(self) -> None:
        current = self.quick_filter.currentData()
        self.quick_filter.blockSignals(True)
        self.quick_filter.clear()
        self.quick_filter.addItem("All tracks", ("all", None))
        self.quick_filter.addItem("Unlabelled", ("unlabelled", None))
        self.quick_filter.addItem("Failed", ("failed", None))
        if self.project is not None:
            for c in self.project.classes():
                self.quick_filter.addItem(f"Label: {c.name}", ("class", c.name))
            for name in self.project.playlist_names():
                self.quick_filter.addItem(f"Playlist: {name}", ("playlist", name))
            for name in self.project.predicted_classes():
                self.quick_filter.addItem(f"Predicted: {name}", ("predicted", name))
        if self._track_set is not None:
            title, ids = self._track_set
            self.quick_filter.addItem(f"Chosen: {title} ({len(ids):,})", ("ids", title))
        index = self._quick_filter_index(current)
        self.quick_filter.setCurrentIndex(max(0, index))
        self.quick_filter.blockSignals(False)

    def _quick_filter_index(self, data: object) -> int:
        """The item with this data (QComboBox.findData compares Python tuples by identity)."""
        return next((i for i in range(self.quick_filter.count()) if self.quick_filter.itemData(i) == data), -1)

    # -- projects -------------------------------------------------------------------------------

    def open_initial_project(self, path: Optional[Path]) -> None:
        """The project named on the command line (created if new), else the last one used."""
        if path is not None:
            self.open_project(path, create=True)
            return
        last = self.settings.value("lastProject", "", str)
        if last and Path(last).exists():
            self.open_project(Path(last))

    def open_project(self, path: Path, create: bool = False) -> bool:
        if self.project is not None and self.project.path.resolve() == path.resolve():
            return True
        try:
            project = Project(path, create=create, writer=True)
        except ProjectFileError as exc:
            QMessageBox.critical(self, "Cannot open the project", str(exc))
            return False
        self.close_project()
        self.project = project
        self.session = SessionCounter()
        self.undo_stack.clear()
        self.model.set_project(project)
        self._track_set = None
        self._rebuild_class_actions()
        self._rebuild_quick_filters()
        self.clusters.set_project(project, {c.name: c.color for c in project.classes()})
        self._remember_recent(path)
        self.model_panel.set_project(project)
        self.review_panel.set_project(project, {c.name: c.color for c in project.classes()})
        for dock in self._docks():
            dock.setVisible(self._docks_visible.get(dock.objectName(), False))
        for dock in self._docks():
            if dock.objectName() in self._docks_in_front:
                dock.raise_()  # the tab that was in front is in front again
        self._show_project_state()
        if self.model.rowCount():
            self.table.select_row(0)
        return True

    def close_project(self) -> None:
        if self.project is not None:
            self._docks_visible = {dock.objectName(): dock.isVisible() for dock in self._docks()}
            self._docks_in_front = self._front_docks()
        self.jobs.cancel()
        self.player.stop()
        self.player.load(None, SegmentSpec())  # no track of the old project may linger
        self.undo_stack.clear()
        if self.project is not None:
            self.project.close()
            self.project = None
        self._track_set = None
        self.model.set_project(None)
        self._rebuild_quick_filters()
        self.clusters.set_project(None, {})
        self.model_panel.set_project(None)
        self.review_panel.set_project(None, {})
        self._rebuild_class_actions()
        self._show_project_state()

    def _show_page(self, page: QWidget) -> None:
        """Show one page of the centre.  The welcome page, when not shown, must not count towards
        the window's minimum size: a stack takes the largest of its pages', and the welcome page
        with its list of recent projects made the window taller than a 1280×800 screen."""
        policy = QSizePolicy.Policy.Preferred if page is self.welcome else QSizePolicy.Policy.Ignored
        self.welcome.setSizePolicy(policy, policy)
        self.pages.setCurrentWidget(page)

    def _show_project_state(self) -> None:
        has_project = self.project is not None
        self._show_page(self.splitter if has_project else self.welcome)
        if not has_project:
            for dock in self._docks():
                dock.hide()
        for action in self.project_actions:
            action.setEnabled(has_project)
        self.toolbar.setVisible(has_project)
        title = "AudioID Labeler"
        self.setWindowTitle(f"{self.project.path.name} — {title}" if has_project else title)
        self.welcome.set_recent(self._recent())
        self._rebuild_recent_menu()
        self._update_counts()

    def _recent(self) -> list[str]:
        value = self.settings.value("recentProjects", [], list) or []
        return [p for p in value if isinstance(p, str) and Path(p).exists()]

    def _remember_recent(self, path: Path) -> None:
        absolute = str(path.resolve())
        recent = [absolute, *[p for p in self._recent() if p != absolute]][:MAX_RECENT]
        self.settings.setValue("recentProjects", recent)
        self.settings.setValue("lastProject", absolute)

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self._recent():
            self.recent_menu.addAction(path, lambda p=path: self.open_project(Path(p)))
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    def new_project_dialog(self) -> None:
        default = Path(self._last_dir(PROJECT_DIR)) / "labels.audioid"
        path, _ = QFileDialog.getSaveFileName(self, "New project", str(default), PROJECT_FILTER)
        if path:
            self._remember_dir(PROJECT_DIR, path)
            path_obj = Path(path) if Path(path).suffix else Path(path + ".audioid")
            self.open_project(path_obj, create=True)

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self._last_dir(PROJECT_DIR), PROJECT_FILTER)
        if path:
            self._remember_dir(PROJECT_DIR, path)
            self.open_project(Path(path))

    def open_demo(self) -> None:
        folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
        folder.mkdir(parents=True, exist_ok=True)
        if self.open_project(folder / "demo.audioid", create=True):
            self.start_scan(demo_sources(copy_to=folder / "demo library"), "Building the demo project")

    # -- importing ------------------------------------------------------------------------------

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of audio files", self._last_dir(IMPORT_DIR))
        if folder:
            self._remember_dir(IMPORT_DIR, folder)
            self.start_scan([Path(folder)])

    def add_playlist_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add playlists", self._last_dir(IMPORT_DIR),
                                                "Playlists (*.m3u *.m3u8 *.pls);;All files (*)")
        if paths:
            self._remember_dir(IMPORT_DIR, paths[0])
            self.start_scan([Path(p) for p in paths])

    def scan_options_dialog(self) -> None:
        """Name a Dask scheduler (and where its workers mount the audio) for this project's scans;
        an empty address keeps extraction on this computer."""
        if self.project is None:
            return
        remembered = DaskScheduler.from_setting(self.project.setting(DASK_SETTING))
        dialog = QDialog(self)
        dialog.setWindowTitle("Scan options")
        address = QLineEdit(remembered.address if remembered else "")
        address.setPlaceholderText("tcp://host:8786 — empty: this computer's cores")
        path_map = QLineEdit("; ".join(f"{here}={there}" for here, there in remembered.path_map) if remembered else "")
        path_map.setPlaceholderText("/mnt/radio=/data/radio (several: separate with ;)")
        problem = QLabel()
        problem.setWordWrap(True)
        problem.setTextFormat(Qt.TextFormat.PlainText)  # paths are text, never markup
        problem.setStyleSheet("color: #b3261e; font-weight: bold")
        problem.hide()  # until there is something wrong to say
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(dialog.reject)
        buttons.accepted.connect(lambda: self._save_scan_options(dialog, address.text(), path_map.text(), problem))
        form = QFormLayout(dialog)
        form.addRow("Dask scheduler:", address)
        form.addRow("Workers' path map:", path_map)
        note = QLabel("The workers read the audio from shared storage and send back features; "
                      "labels, model and everything else stay in the project file here.")
        note.setWordWrap(True)
        form.addRow(note)
        form.addRow(problem)
        form.addRow(buttons)
        dialog.setMinimumWidth(520)
        dialog.exec()

    def _save_scan_options(self, dialog: QDialog, address: str, path_map: str, problem: QLabel) -> None:
        """Remember the scheduler when it can be used; otherwise say why and keep the dialog open."""
        try:
            scheduler = DaskScheduler.parse(address, path_map.split(";")) if address.strip() else None
            if scheduler is not None:
                require_distributed("A Dask scheduler")
        except (ValueError, ClusterError) as exc:
            problem.setText(str(exc))
            problem.show()
            dialog.adjustSize()  # room for the words
            return
        self.project.set_setting(DASK_SETTING, scheduler.to_setting() if scheduler else "")
        where = f"on the Dask cluster at {scheduler.address}" if scheduler else "on this computer"
        self.statusBar().showMessage(f"Scans extract features {where}", 10000)
        dialog.accept()

    def _last_dir(self, key: str) -> str:
        """Where a file dialog opens: the folder last used for this kind of file, else the open
        (or last) project's folder — where a person keeps the files of a project — else home."""
        remembered = self.settings.value(key, "", str)
        if remembered and Path(remembered).is_dir():
            return remembered
        project = self.project.path if self.project is not None else Path(self.settings.value("lastProject", "", str))
        return str(project.parent) if project.parent.is_dir() and project.name else str(Path.home())

    def _remember_dir(self, key: str, chosen: str) -> None:
        """The next dialog of this kind opens beside what was chosen (a file, or a folder: its
        siblings are what comes next)."""
        self.settings.setValue(key, str(Path(chosen).parent))

    def start_scan(self, sources: Sequence[Path], title: str = "Importing") -> None:
        """Import and extract in the background; the table fills as tracks arrive."""
        if self.project is None:
            return
        project_path = self.project.path
        scheduler = DaskScheduler.from_setting(self.project.setting(DASK_SETTING))

        def task(progress: ProgressCallback, cancel: CancelToken) -> ScanReport:
            with Project(project_path) as worker_project:  # this thread's own connection
                return scan(worker_project, sources, progress=progress, cancel=cancel, scheduler=scheduler)

        job = Job(title if scheduler is None else f"{title} (extracting on {scheduler.address})", task)
        job.progress.connect(self._scan_progress)
        job.succeeded.connect(self._scan_done)
        job.failed.connect(self._scan_failed)
        self.jobs.submit(job)

    def _scan_failed(self, message: str) -> None:
        self.refresh_tracks()
        QMessageBox.warning(self, "Import failed", message)

    def _scan_progress(self, _progress: object) -> None:
        now = time.monotonic()
        if now - self._last_table_refresh >= TABLE_REFRESH_DURING_SCAN_S:
            self._last_table_refresh = now
            self.refresh_tracks()

    def _scan_done(self, report: ScanReport) -> None:
        self.refresh_tracks()
        self._rebuild_quick_filters()
        if report.extracted.extracted:
            self.clusters.features_changed()
            self.model_panel.features_changed()
        if self._review_import and report.imported.playlists:
            self.review_panel.reload_playlists(select=report.imported.playlists[0])
            self.review_dock.show()
        self._review_import = False
        imported, extracted = report.imported, report.extracted
        problems = len(imported.errors) + extracted.failed
        text = (f"Imported {plural(imported.added, 'new track')}; features for {extracted.extracted:,}"
                + (f"; {plural(problems, 'problem')} (Show: Failed)" if problems else "")
                + ("; stopped early — add the folder again to resume" if extracted.cancelled else ""))
        # Problems stay said until the next message: they are the only word on what failed.
        self.statusBar().showMessage(text, 0 if problems or extracted.cancelled else 15000)
        if self.table.current_track_id() is None and self.model.rowCount():
            self.table.select_row(0)

    def refresh_tracks(self) -> None:
        """Re-read the list (new tracks, new tags, new predictions), and the player's view of
        the track it holds: its label and genre line may have changed under it."""
        if self.project is None:
            return
        self.model.refresh()
        self._update_counts()
        self._refresh_player_track()

    def _refresh_player_track(self) -> None:
        index = self.table.currentIndex()
        row = self.model.track(index.row()) if index.isValid() else None
        if row is not None:
            self.player.show_label(row)  # (the player ignores a row of a track it no longer holds)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        if self.project is None:
            projects = [p for p in paths if p.suffix in (".audioid", ".sqlite")]
            if projects:
                self.open_project(projects[0])
            else:
                QMessageBox.information(self, "No project open", "Open or create a project first, then drop "
                                        "folders and playlists on the window to import them.")
            return
        event.acceptProposedAction()
        kinds = "playlists" if all(is_playlist(p) for p in paths) else "files"
        self.start_scan(paths, f"Importing dropped {kinds}")

    # -- labeling -------------------------------------------------------------------------------

    def label_current(self, class_name: Optional[str]) -> None:
        """Label the track that is showing, at once, then (auto-advance) play the next one.

        The track is read from the table at the moment of the key press, and the advance is
        synchronous, so keys pressed faster than playback starts each land on their own track.
        """
        track_id = self.table.current_track_id()
        if self.project is None or track_id is None:
            return
        self.undo_stack.push(LabelCommand(self, [track_id], class_name, self.review_panel.label_source(track_id),
                                          counted=True))
        if self.act_auto_advance.isChecked() and class_name is not None:
            if not self.table.step(+1):
                self.statusBar().showMessage("That was the last track of the list.", 5000)

    def label_cluster(self, track_ids: Sequence[int], class_name: str) -> None:
        """Label many tracks on the word of a cluster (source: cluster), as one undoable step."""
        if self.project is not None and track_ids:
            self.undo_stack.push(LabelCommand(self, track_ids, class_name, "cluster"))
            self.statusBar().showMessage(f"Labelled {plural(len(track_ids), 'track')} {class_name} "
                                         "(Ctrl+Z undoes it)", 8000)

    def show_track_set(self, title: str, ids: Sequence[int], play: bool = False) -> None:
        """Show only these tracks in the table (a cluster, a sample), and play the first if asked;
        a list to hear takes the keyboard, so that the next key press labels its first track."""
        self._track_set = (title, tuple(ids))
        self._play_chosen = play
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the list's own order
        self._rebuild_quick_filters()
        self.quick_filter.setCurrentIndex(self._quick_filter_index(("ids", title)))
        self._apply_filter()
        if play and self.model.rowCount():
            if self.table.current_track_id() == self.model.track_id(0):
                self._current_track_changed(self.model.track_id(0))  # current already: no change to hear
            else:
                self.table.select_row(0)
        self._play_chosen = False
        if play:
            self.focus_labels()

    def tracks_relabelled(self, track_ids: Sequence[int]) -> None:
        self.clusters.labels_changed()
        self.model_panel.labels_changed(track_ids)
        self.review_panel.labels_changed()
        self.model.refresh_tracks(track_ids)
        if self.table.current_track_id() in track_ids:
            self._refresh_player_track()
        self._update_counts()

    def _current_track_changed(self, track_id: Optional[int]) -> None:
        if self.project is None or track_id is None:
            self.player.load(None, SegmentSpec())
            return
        if self.player.track is not None and self.player.track.id == track_id and not self._play_chosen:
            return  # the list around it changed (a refresh, a new queue): it plays on undisturbed
        row = self.model.track(self.model.row_of(track_id))
        self.player.load(row, self.project.segment, autoplay=self.act_autoplay.isChecked() or self._play_chosen)

    def edit_classes(self) -> None:
        if self.project is None:
            return
        if ClassesDialog(self.project, self).exec() == QDialog.DialogCode.Accepted:
            self._rebuild_class_actions()
            self._rebuild_quick_filters()
            self.clusters.set_colors({c.name: c.color for c in self.project.classes()})
            self.refresh_tracks()

    def _apply_filter(self) -> None:
        """Show what the quick filter and the path filter choose.  A chosen list (a queue, a
        sample to hear, a cluster) shows all its tracks: the path filter, typed for browsing,
        would hide some without a word, so it rests (greyed) while such a list shows."""
        kind, value = self.quick_filter.currentData() or ("all", None)
        chosen = kind == "ids"
        self.filter_text.setEnabled(not chosen)
        self.filter_text.setToolTip(CHOSEN_UNFILTERED if chosen else "")
        flt = TrackFilter(
            text="" if chosen else self.filter_text.text().strip(),
            ids=self._track_set[1] if chosen and self._track_set is not None else None,
            predicted=value if kind == "predicted" else None,
            below_confidence=(self.confidence_filter.value() / 100
                              if kind == "predicted" and self.confidence_filter.value() < 100 else None),
            unlabelled=kind == "unlabelled",
            failed=kind == "failed",
            class_name=value if kind == "class" else None,
            playlist=value if kind == "playlist" else None,
        )
        self.confidence_filter_action.setVisible(kind == "predicted")
        current = None if self._play_chosen else self.table.current_track_id()
        self.model.set_filter(flt)
        if not self.table.select_track(current) and self.model.rowCount() and not self._play_chosen:
            self.table.select_row(0)
        self._update_counts()

    def _find(self) -> None:
        if not self.filter_text.isEnabled():
            self.statusBar().showMessage(f"{CHOSEN_UNFILTERED}: choose one under Show to filter by path.", 8000)
            # The Show list opens to choose from: what is typed next must not reach the table,
            # where a letter may be a class key.
            self.quick_filter.setFocus()
            self.quick_filter.showPopup()
            return
        self.filter_text.setFocus()
        self.filter_text.selectAll()

    def _update_counts(self) -> None:
        self.count_label.setText(f"{plural(self.model.rowCount(), 'track')} shown" if self.project else "")
        self.session_label.setText(self.session.text() if self.project else "")

    def _retrain(self) -> None:
        self.model_dock.show()
        self.model_dock.raise_()
        self.model_panel.retrain()

    def _label_from_queue(self) -> None:
        self.model_dock.show()
        self.model_dock.raise_()
        self.model_panel.tabs.setCurrentWidget(self.model_panel.queue)
        message = self.model_panel.label_from_queue()  # plays now, or as soon as the queue is chosen
        if message:
            self.statusBar().showMessage(message, 8000)
        self.focus_labels()

    def _predictions_changed(self) -> None:
        self.model.predictions_changed()  # re-queries only if the filter or sort depends on them
        self._update_counts()
        self._refresh_player_track()
        self._rebuild_quick_filters()
        self.review_panel.reload_playlists()

    def _review_tracks(self, name: str, track_ids: Sequence[int]) -> None:
        """Review a cluster (or any chosen tracks) like a playlist: saved as one, then opened."""
        if self.project is None:
            return
        self.project.set_playlist(name, track_ids)
        self._rebuild_quick_filters()
        self.review_panel.reload_playlists(select=name)
        self.review_dock.show()
        self.review_dock.raise_()
        self.focus_labels()

    def _review_file(self, path: Path) -> None:
        """Import (and scan) a playlist file so that the Review panel can open it."""
        self._review_import = True
        self.start_scan([path], f"Importing {path.name} to review")

    def _queue_changed(self, ids: tuple[int, ...]) -> None:
        """A new queue (a retrain, the next explored batch): if the table shows the queue, show the
        new one, keeping the track being heard (first, so the next key press moves on into the new
        queue) — unless that track is labelled already: then the new queue plays from its start."""
        if self._track_set is None or self._track_set[0] != QUEUE_TITLE or self.project is None:
            return
        current = self.table.current_track_id()
        label = self.project.current_label(current) if current is not None else None
        showing = self.quick_filter.currentData() == ("ids", QUEUE_TITLE)  # not another list meanwhile
        if showing and ids and current not in ids and label is not None and label.heard:
            self.show_track_set(QUEUE_TITLE, ids, True)
            return
        if current is not None and current not in ids:
            ids = (current, *ids)
        self._track_set = (QUEUE_TITLE, ids)
        self._rebuild_quick_filters()
        self._apply_filter()

    def _cluster_now(self) -> None:
        self.clusters_dock.show()
        self.clusters.recluster()

    def _guided_toggled(self, on: bool) -> None:
        self.clusters_dock.show()
        if on != self.clusters.guide_button.isChecked():
            self.clusters.guide_button.setChecked(on)
        if on and not self.clusters.guide_button.isChecked():
            self.act_guided.setChecked(False)
            self.statusBar().showMessage("Cluster the tracks first (Ctrl+Shift+C), then start guided labeling.", 8000)
        self.focus_labels()

    def _whole_file_toggled(self, checked: bool) -> None:
        self.player.whole_file.setChecked(checked)

    # -- labels in and out ----------------------------------------------------------------------

    def export_labels_dialog(self) -> None:
        if self.project is None:
            return
        default = Path(self._last_dir(LABELS_DIR)) / f"{self.project.path.stem} labels.csv"
        path, _ = QFileDialog.getSaveFileName(self, "Export labels", str(default), "CSV (*.csv)")
        if path:
            self._remember_dir(LABELS_DIR, path)
            try:
                n = export_labels(self.project, Path(path))
            except OSError as exc:
                QMessageBox.warning(self, "Labels not exported", f"Cannot write {path}: {exc.strerror or exc}")
                return
            self.statusBar().showMessage(f"Wrote {plural(n, 'label')} to {path}", 8000)

    def import_labels_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import labels", self._last_dir(LABELS_DIR),
                                              "Labels (*.csv *.json);;All files (*)")
        if not path or self.project is None:
            return
        self._remember_dir(LABELS_DIR, path)
        try:
            result = import_labels(self.project, Path(path))
        except LabelFileError as exc:
            QMessageBox.warning(self, "Labels not imported", str(exc))
            return
        self.refresh_tracks()
        self.model_panel.refresh_queue()  # tracks now heard leave it
        lines = [f"Imported {plural(result.imported, 'label')}."]
        if result.unknown_tracks:
            lines.append(f"{plural(len(result.unknown_tracks), 'entry', 'entries')} naming no track of this project.")
        if result.ambiguous_tracks:
            lines.append(f"{plural(len(result.ambiguous_tracks), 'name')} matching several tracks (give their paths).")
        for label, n in result.unknown_classes.items():
            lines.append(f"{plural(n, 'row')} with the unknown class {label!r}.")
        QMessageBox.information(self, "Labels imported", "\n".join(lines))

    # -- tags in the files ---------------------------------------------------------------------

    def write_tags_dialog(self) -> None:
        if self.project is None:
            return
        shown = [self.model.track_id(r) for r in range(self.model.rowCount())]
        dialog = TagWriterDialog(self.project, shown, self)
        dialog.tags_written.connect(lambda _ids: self.refresh_tracks())  # the table and player follow at once
        dialog.exec()

    def undo_tag_batch(self) -> None:
        if self.project is None:
            return
        batch = self.project.last_tag_batch()
        if batch is None:
            self.statusBar().showMessage("No tag batch to undo.", 6000)
            return
        files = plural(self.project.changed_files(batch), "file")
        answer = QMessageBox.question(self, "Undo the last tag batch",
                                      f"Put back the genres that the last tag batch replaced in {files}?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        project_path = self.project.path

        def task(progress: ProgressCallback, cancel: CancelToken) -> ApplyReport:
            with Project(project_path) as worker_project:
                return undo_tags(worker_project, batch, progress, cancel)

        job = Job("Restoring genres", task)
        job.finished.connect(self.refresh_tracks)  # a failed undo may have restored some files
        job.succeeded.connect(self._tags_undone)
        job.failed.connect(lambda message: QMessageBox.warning(self, "Undo failed", message))
        self.jobs.submit(job)

    def _tags_undone(self, result: ApplyReport) -> None:
        text = (f"Restored {plural(result.written, 'file')}; {result.unchanged:,} "
                f"{'was' if result.unchanged == 1 else 'were'} already as before")
        if result.remaining:
            text += (f"; the batch still changes {plural(result.remaining, 'file')} "
                     "(Edit ▸ Undo Last Tag Batch tries them again)")
        if result.errors:
            QMessageBox.warning(self, "Some files were not restored", text + ".\n\n" + "\n".join(
                f"{readable(Path(e.path).name)}: {e.message}" for e in result.errors[:30]))
        else:
            self.statusBar().showMessage(text + ".", 10000)

    # -- help -----------------------------------------------------------------------------------

    def show_shortcuts(self) -> None:
        actions = [a for a in self.actions() if not a.shortcut().isEmpty()]
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        table = QTableWidget(len(actions), 2, dialog)
        table.setHorizontalHeaderLabels(["Command", "Key"])
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a list to read; Escape or Close leaves
        for row, action in enumerate(actions):
            table.setItem(row, 0, QTableWidgetItem(action.text().replace("&", "")))
            table.setItem(row, 1, QTableWidgetItem(action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        layout.addWidget(close)
        margins = layout.contentsMargins().left() * 2
        around = QSize(margins, margins + close.sizeHint().height() + layout.spacing())
        dialog.resize(self._fit_on_screen(table, around))
        dialog.exec()

    def _fit_on_screen(self, table: QTableWidget, around: QSize) -> QSize:
        """The size that shows the whole table and what is ``around`` it, or as much as fits on
        the screen (the table then scrolls)."""
        frame = table.frameWidth() * 2
        width = sum(table.columnWidth(c) for c in range(table.columnCount())) + frame
        width += table.verticalScrollBar().sizeHint().width() + 24  # room for a scroll bar, and air
        height = table.horizontalHeader().sizeHint().height() + frame
        height += sum(table.rowHeight(r) for r in range(table.rowCount()))
        return (QSize(width, height) + around).boundedTo(self.screen().availableGeometry().size() * 0.9)

    def show_about(self) -> None:
        from .. import __version__

        QMessageBox.about(self, "About AudioID Labeler",
                          f"<b>AudioID Labeler</b> {__version__}<br>Label thousands of short audio clips fast, "
                          "then write the answer into their tags.")

    # -- settings -------------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        splitter = self.settings.value("splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)
        state = self.settings.value("windowState")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        header = self.settings.value("tableHeader")
        if isinstance(header, QByteArray):
            self.table.horizontalHeader().restoreState(header)
        self._docks_visible = {dock.objectName(): self.settings.value(f"{dock.objectName()}Visible", False, bool)
                               for dock in self._docks()}
        self._docks_in_front = self.settings.value("docksInFront", [], list)
        self.act_auto_advance.setChecked(self.settings.value("autoAdvance", True, bool))
        self.act_autoplay.setChecked(self.settings.value("autoplay", True, bool))
        self.player.volume.setValue(self.settings.value("volume", 80, int))

    def _save_settings(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.setValue("windowState", self.saveState())
        for dock in self._docks():
            visible = dock.isVisible() if self.project else self._docks_visible.get(dock.objectName(), False)
            self.settings.setValue(f"{dock.objectName()}Visible", visible)
        self.settings.setValue("docksInFront", self._front_docks() if self.project else self._docks_in_front)
        self.model_panel.save_settings()
        self.clusters.save_settings()
        self.settings.setValue("tableHeader", self.table.horizontalHeader().saveState())
        self.settings.setValue("autoAdvance", self.act_auto_advance.isChecked())
        self.settings.setValue("autoplay", self.act_autoplay.isChecked())
        self.settings.setValue("volume", self.player.volume.value())
        self.settings.sync()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        """Take the keyboard when the window first appears: without a window manager (a bare X
        server, a kiosk) nobody else gives it focus, and the first M or D would go nowhere."""
        super().showEvent(event)
        if not event.spontaneous():
            QTimer.singleShot(0, self._take_focus)

    def _take_focus(self) -> None:
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._save_settings()
        self.close_project()
        super().closeEvent(event)
