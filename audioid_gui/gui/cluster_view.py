"""The Clusters panel: cluster the project, cut the tree, and label clusters — by hand or guided.

The panel owns the current clustering, the current cut (a list of clusters, refined by splitting)
and the guided-labeling loop.  It never writes labels itself: it asks the main window, which
records every step on the undo stack, and it shows tracks by asking the main window to filter the
track table.  Label changes reach it through ``labels_changed``; it refreshes a moment later, so a
burst of key presses costs one refresh.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QPoint, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.clustering import (
    METHODS,
    Cluster,
    Clustering,
    GuidedLabeling,
    LabelState,
    Proposal,
    Ref,
    TooFewTracks,
    class_groups,
    cluster_features,
    cluster_groups,
    cluster_stats,
    export_playlists,
    write_playlist,
)
from ..core.features import VERSION
from ..core.project import Project
from ..core.tasks import CancelToken, ProgressCallback
from ..core.wording import plural
from .dendrogram import DendrogramView
from .job_status import JobStatus
from .widgets import list_table
from .workers import Job

LABEL_REFRESH_MS = 300  # after the last label change; a burst of key presses refreshes once
COLUMNS = ("#", "Tracks", "Heard", "Majority", "Purity (95 % interval)", "Labelled")
GUIDE_INTRO = ("Listen to a few tracks of each cluster; label whole clusters whose sample agrees. "
               "Uses the clusters of the current cut.")
GUIDE_WIDTH = 420  # the guided-labeling box beside the cluster table
TREE_AND_TABLE = (3, 2)  # how the panel's height is shared between the tree and the cluster table


@dataclass
class Clustered:
    """A clustering job's result: the tree, the labels' state over it, and what it took."""

    clustering: Clustering
    labels: LabelState
    seconds: float


def label_state(project: Project, clustering: Clustering) -> LabelState:
    return LabelState.of(clustering, project.track_labels(), [c.name for c in project.classes()])


class ClusterPanel(QWidget):
    show_tracks = Signal(str, object, bool)  # title, track ids (a tuple, in order), play the first
    label_tracks = Signal(object, str)  # track ids, class name: one undoable "cluster" step
    review_requested = Signal(str, object)  # a playlist name for these track ids, to review by ear
    offer_changed = Signal(bool)  # guided labeling offers (or no longer offers) to label a cluster whole

    def __init__(self, jobs: JobStatus, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.settings = QSettings()
        self.project: Optional[Project] = None
        self.colors: dict[str, str] = {}
        self.clustering: Optional[Clustering] = None
        self.labels: Optional[LabelState] = None
        self.clusters: list[Cluster] = []
        self.guided: Optional[GuidedLabeling] = None
        self.proposal: Optional[Proposal] = None
        self._shown_sample: set[int] = set()
        self._job: Optional[Job] = None
        self._stale = False

        self.method = QComboBox()
        self.method.addItems(METHODS)
        self.method.setToolTip("Linkage: how the distance between two clusters is measured (Ward: the "
                               "increase in within-cluster variance; the usual choice)")
        self.use_pca = QCheckBox("PCA to")
        self.pca = QSpinBox()
        self.pca.setRange(50, 99)
        self.pca.setSuffix(" % of variance")
        self.use_pca.toggled.connect(self.pca.setEnabled)
        self.variance_button = QPushButton("Variance…")
        self.variance_button.setToolTip("How much of the variance the first principal components explain")
        self.variance_button.clicked.connect(self.show_variance_curve)
        self.cluster_button = QPushButton("Cluster")
        self.cluster_button.setToolTip("Cluster every track with features (Ctrl+Shift+C)")
        self.cluster_button.clicked.connect(self.recluster)
        self.k = QSpinBox()
        self.k.setRange(1, 2000)
        self.k.setPrefix("Cut into ")
        self.k.valueChanged.connect(self._k_changed)
        self.k.valueChanged.connect(self._name_k)
        self.export_button = QPushButton("Export Playlists")
        export_menu = QMenu(self.export_button)
        export_menu.addAction("One Playlist per Cluster…", lambda: self.export_dialog(by_class=False))
        export_menu.addAction("One Playlist per Class…", lambda: self.export_dialog(by_class=True))
        self.export_button.setMenu(export_menu)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Linkage"))
        controls.addWidget(self.method)
        controls.addWidget(self.use_pca)
        controls.addWidget(self.pca)
        controls.addWidget(self.variance_button)
        controls.addWidget(self.cluster_button)
        controls.addWidget(self.summary, 1)
        controls.addWidget(self.k)
        controls.addWidget(self.export_button)

        self.dendrogram = DendrogramView()
        self.dendrogram.cut_changed.connect(self._cut_dragged)
        self.dendrogram.branch_clicked.connect(self._branch_clicked)
        self.dendrogram.branch_menu.connect(self._open_menu)

        self.table = list_table(COLUMNS, stretch=2)
        # Rows as tall as a line of text: ten clusters fit where Qt's default row shows six.
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.setMinimumHeight(90)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.table.itemSelectionChanged.connect(self._row_selected)

        self.guide_box = self._build_guide_box()
        self.guide_box.setFixedWidth(GUIDE_WIDTH)
        below = QWidget()
        below_layout = QHBoxLayout(below)
        below_layout.setContentsMargins(0, 0, 0, 0)
        below_layout.addWidget(self.table, 1)
        below_layout.addWidget(self.guide_box)
        # The tree above, the clusters below: the tree needs the height to be read, the table
        # only a line per cluster.
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.dendrogram)
        self.splitter.addWidget(below)
        for index, share in enumerate(TREE_AND_TABLE):
            self.splitter.setStretchFactor(index, share)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(self.splitter, 1)

        self._refresh_timer = QTimer(self, singleShot=True, interval=LABEL_REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh_labels)
        self._label_changes = self._label_changes_seen = 0  # label changes, and those a job started after
        self._restore_settings()
        self._name_k(self.k.value())
        self._show_state()

    def _build_guide_box(self) -> QGroupBox:
        box = QGroupBox("Guided labeling")
        self.sample_size = QSpinBox()
        self.sample_size.setRange(3, 50)
        self.sample_size.setPrefix("Sample ")
        self.sample_size.setSuffix(" tracks")
        self.sample_size.setToolTip("How many tracks of a cluster to hear before offering to label it whole")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(50, 100)
        self.threshold.setDecimals(0)
        self.threshold.setPrefix("Accept at ")
        self.threshold.setSuffix(" % agreement")
        self.threshold.setToolTip("A sample that disagrees is doubled; the cluster is offered when this "
                                  "share of it agrees")
        self.guide_button = QPushButton("Start")
        self.guide_button.setCheckable(True)
        self.guide_button.toggled.connect(self._guide_toggled)
        self.guide_text = QLabel(GUIDE_INTRO)
        self.guide_text.setWordWrap(True)
        # Three lines whatever the panel's height: a wrapped label does not ask for its lines, and
        # the tree above would take them (the intro and "Cluster 3 of 10 …" were cut off).
        self.guide_text.setMinimumHeight(3 * self.guide_text.fontMetrics().lineSpacing() + 4)
        self.guide_text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.guide_text.setTextFormat(Qt.TextFormat.RichText)
        self.accept_button = QPushButton("Label Cluster")
        self.accept_button.setToolTip("Label the undecided tracks of this cluster (Ctrl+Return)")
        self.accept_button.clicked.connect(self.accept_offer)
        self.decline_button = QPushButton("Split Instead")
        self.decline_button.setToolTip("Do not label it whole: look inside it (Ctrl+Shift+Return)")
        self.decline_button.clicked.connect(self.decline_offer)
        row = QHBoxLayout()
        row.addWidget(self.sample_size)
        row.addWidget(self.threshold)
        row.addStretch(1)
        answer = QHBoxLayout()
        answer.addWidget(self.guide_button)
        answer.addStretch(1)
        answer.addWidget(self.decline_button)
        answer.addWidget(self.accept_button)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addWidget(self.guide_text, 1)
        layout.addLayout(answer)
        return box

    # -- project --------------------------------------------------------------------------------

    def set_project(self, project: Optional[Project], colors: dict[str, str]) -> None:
        self.cancel_job()
        self._job = None  # a result still on its way belongs to the project before
        self.project, self.colors = project, colors
        self.clustering = self.labels = None
        self.clusters = []
        self.stop_guided()
        self.guide_text.setText(GUIDE_INTRO)
        self.dendrogram.set_clustering(None, None, colors, self.k.value())
        self.summary.setText("")
        self._fill_table()
        self._show_state()

    def set_colors(self, colors: dict[str, str]) -> None:
        self.colors = colors
        self.refresh_labels()

    def features_changed(self) -> None:
        """New features arrived (a scan ended): cluster again now if the panel is in view, else
        when it is shown."""
        if self.isVisible():
            self.recluster()
        else:
            self._stale = True

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self.project is not None and (self.clustering is None or self._stale) and self._job is None:
            QTimer.singleShot(0, self.recluster)

    # -- clustering -----------------------------------------------------------------------------

    def recluster(self) -> None:
        if self.project is None or self._job is not None:
            return
        self._stale = False
        project_path = self.project.path
        method = self.method.currentText()
        pca = self.pca.value() / 100 if self.use_pca.isChecked() else None

        def task(progress: ProgressCallback, cancel: CancelToken) -> Clustered | TooFewTracks:
            """Too few analysed tracks is where every project starts, not a failure: it comes back
            as the result, for the panel to say what to do.  The labels' state over the new tree
            is worked out here too (a million tracks: 0.03 s the window need not spend)."""
            started = time.perf_counter()
            with Project(project_path) as worker_project:
                table = worker_project.feature_table(VERSION)
                try:
                    clustering = cluster_features(table, method, pca, progress=progress, cancel=cancel)
                except TooFewTracks as exc:
                    return exc
                labels = label_state(worker_project, clustering)
            return Clustered(clustering, labels, time.perf_counter() - started)

        self._label_changes_seen = self._label_changes
        self._job = Job("Clustering", task)
        self._job.succeeded.connect(self._clustered)
        self._job.failed.connect(self._cluster_failed)
        self._job.finished.connect(self._job_finished)
        self.summary.setText("Clustering…")
        self.dendrogram.show_message("Clustering…")
        self.cluster_button.setEnabled(False)
        self.save_settings()
        self.jobs.submit(self._job)

    def cancel_job(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _job_finished(self) -> None:
        if self.sender() is not self._job:
            return
        if self._job.cancelled:
            self.summary.setText("Clustering cancelled; press Cluster to run it again.")
            self.dendrogram.redraw()  # the tree there was before, or the word that there is none
        self._job = None
        self._show_state()

    def _clustered(self, result: Clustered | TooFewTracks) -> None:
        if self.sender() is not self._job or self.project is None:
            return
        self.stop_guided()
        if isinstance(result, TooFewTracks):
            self._show_too_few(result)
            return
        clustering, seconds = result.clustering, result.seconds
        self.clustering = clustering
        prepared = clustering.features
        reduced = f", PCA {prepared.components} dims" if prepared.components else ""
        text = (f"{clustering.method.capitalize()} · {plural(len(clustering), 'track')}{reduced}"
                f"{' (via micro-clusters)' if clustering.micro else ''} · {seconds:.1f} s")
        if prepared.excluded:
            text += f" · <span style='color:#c0392b'>{len(prepared.excluded):,} left out: broken features</span>"
        self.summary.setText(text)
        self.labels = result.labels
        if self._label_changes != self._label_changes_seen:  # labelled while the job ran
            self.labels_changed()
        self.k.setMaximum(clustering.tree.n_leaves)
        self.clusters = clustering.cut(k=self.k.value())
        self.dendrogram.set_clustering(clustering, self.labels, self.colors, len(self.clusters))
        self._fill_table()
        self.guide_text.setText(GUIDE_INTRO)
        self._show_state()

    def _show_too_few(self, reason: TooFewTracks) -> None:
        """Say what to do to get clusters, where there is nothing yet to cluster."""
        self.clustering = self.labels = None
        self.clusters = []
        self._fill_table()
        if reason.analysed == 0:
            head = "No analysed tracks yet"
            text = f"{head}: import a folder (Ctrl+Shift+O) and let the feature extraction finish."
        else:
            head = f"Only {plural(reason.analysed, 'analysed track')}"
            text = (f"{head} so far; clustering needs two or more. Import more tracks, or let the "
                    "feature extraction finish.")
        if reason.broken:
            text += f" {plural(reason.broken, 'track')} with broken features left out."
        self.summary.setText(text + " The clusters appear here then.")
        self.dendrogram.set_clustering(None, None, self.colors, self.k.value())
        self.dendrogram.show_message(head)
        self.guide_text.setText("Guided labeling starts from the clusters, once there are some.")

    def _cluster_failed(self, message: str) -> None:
        if self.sender() is not self._job:
            return
        self.summary.setText(f"<span style='color:#c0392b'>{message}</span>")
        self.dendrogram.set_clustering(None, None, self.colors, self.k.value())
        self.dendrogram.show_message(message.split(": ", 1)[-1])

    def _label_state(self) -> Optional[LabelState]:
        if self.project is None or self.clustering is None:
            return None
        return label_state(self.project, self.clustering)

    def show_variance_curve(self) -> None:
        """The explained-variance curve of the features, to choose how far PCA may reduce them."""
        if self.clustering is None:
            return
        explained = self.clustering.features.explained
        fraction = self.pca.value() / 100
        needed = int(np.searchsorted(explained, fraction - 1e-9)) + 1
        dialog = QDialog(self)
        dialog.setWindowTitle("Explained variance")
        figure = Figure(figsize=(5, 3.2), layout="constrained")
        axes = figure.add_subplot()
        components = np.arange(1, len(explained) + 1)
        axes.plot(components, explained * 100, marker=".", color="#2e86de")
        axes.axhline(fraction * 100, color="#c0392b", linestyle="--", linewidth=1)
        axes.axvline(needed, color="#c0392b", linestyle=":", linewidth=1)
        axes.set_xlabel("principal components")
        axes.set_ylabel("variance explained (%)")
        axes.set_ylim(0, 101)
        axes.set_title(f"{needed} of {len(explained)} components explain {fraction:.0%}", fontsize=10)
        layout = QVBoxLayout(dialog)
        layout.addWidget(FigureCanvasQTAgg(figure))
        dialog.resize(560, 380)
        dialog.exec()

    # -- labels ---------------------------------------------------------------------------------

    def labels_changed(self) -> None:
        self._label_changes += 1
        self._refresh_timer.start()

    def refresh_labels(self) -> None:
        self._refresh_timer.stop()
        self.labels = self._label_state()
        if self.labels is None:
            return
        self.dendrogram.colors = self.colors
        self.dendrogram.set_labels(self.labels)
        self._fill_table(keep_selection=True)
        self._update_guided()

    # -- the cut --------------------------------------------------------------------------------

    def _k_changed(self, k: int) -> None:
        if self.clustering is None:
            return
        self.stop_guided()
        self.clusters = self.clustering.cut(k=k)
        self.dendrogram.set_cut(len(self.clusters))
        self._fill_table()

    def _name_k(self, k: int) -> None:
        """"Cut into 1 cluster", "Cut into 2 clusters"."""
        self.k.setSuffix(" cluster" if k == 1 else " clusters")

    def _cut_dragged(self, k: int) -> None:
        self.k.setValue(k)

    def split(self, number: int) -> None:
        if self.clustering is None:
            return
        self.stop_guided()
        self.clusters = self.clustering.split(self.clusters, number)
        self.k.blockSignals(True)
        self.k.setValue(min(len(self.clusters), self.k.maximum()))
        self.k.blockSignals(False)
        self._name_k(self.k.value())
        self.dendrogram.set_cut(len(self.clusters), self.clusters)
        self._fill_table()
        self._select_row(number - 1)

    def _fill_table(self, keep_selection: bool = False) -> None:
        selected = self._selected_cluster() if keep_selection else None
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.clusters))
        for row, cluster in enumerate(self.clusters):
            stats = cluster_stats(cluster.rows, self.labels) if self.labels is not None else None
            heard = " · ".join(f"{name} {n}" for name, n in stats.heard.items()) if stats else ""
            cells = (str(cluster.number), f"{len(cluster.rows):,}", heard or "—",
                     stats.majority if stats and stats.majority else "—",
                     stats.purity_text() if stats else "", f"{stats.labelled:,}" if stats else "")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column in (0, 1, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 3 and stats and stats.majority in self.colors:
                    color = QColor(self.colors[stats.majority])
                    color.setAlpha(70)
                    item.setBackground(QBrush(color))
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        if selected is not None and selected <= len(self.clusters):
            self.table.selectRow(selected - 1)

    def _selected_cluster(self) -> Optional[int]:
        rows = self.table.selectionModel().selectedRows()
        return self.clusters[rows[0].row()].number if rows and rows[0].row() < len(self.clusters) else None

    def _select_row(self, row: int) -> None:
        if 0 <= row < self.table.rowCount():
            self.table.selectRow(row)

    def _row_selected(self) -> None:
        number = self._selected_cluster()
        if number is None:
            return
        cluster = self.clusters[number - 1]
        self.dendrogram.select(cluster.ref[0] if len(cluster.ref) == 1 else None)
        self._show(f"cluster {cluster.number}", cluster.rows)

    def _branch_clicked(self, ref: Ref) -> None:
        for i, cluster in enumerate(self.clusters):
            if cluster.ref == ref:
                self._select_row(i)
                return
        self.table.clearSelection()
        self.dendrogram.select(ref[0])
        assert self.clustering is not None
        self._show(f"branch of {plural(self.clustering.size(ref), 'track')}", self.clustering.rows(ref))

    def _show(self, title: str, rows: np.ndarray, play: bool = False) -> None:
        assert self.clustering is not None
        # Rows are in path order (the feature table's), so a cluster reads like the folder listing.
        self.show_tracks.emit(title, tuple(self.clustering.track_ids[np.sort(rows)].tolist()), play)

    # -- cluster commands -----------------------------------------------------------------------

    def _table_menu(self, position: QPoint) -> None:
        row = self.table.rowAt(position.y())
        if 0 <= row < len(self.clusters):
            self._open_menu(self.clusters[row].ref, self.table.viewport().mapToGlobal(position))

    def _open_menu(self, ref: Ref, where: QPoint) -> None:
        menu = self.cluster_menu(ref)
        if menu is not None:
            menu.exec(where)

    def cluster_menu(self, ref: Ref) -> Optional[QMenu]:
        """Play a sample, label, export, split: the commands for one cluster or branch."""
        if self.clustering is None or self.project is None:
            return None
        rows = self.clustering.rows(ref)
        menu = QMenu(self)
        menu.addAction(f"Play a Random Sample of {min(self.sample_size.value(), len(rows))}",
                       lambda: self.play_sample(rows))
        label_menu = menu.addMenu(f"Label These {plural(len(rows), 'Track')} As")
        for c in self.project.classes():
            label_menu.addAction(c.name, lambda name=c.name: self.label_rows(rows, name))
        menu.addAction("Export as Playlist…", lambda: self.export_one(ref, rows))
        name = f"cluster {self._number_of(ref)}" if self._number_of(ref) else f"branch {ref[-1]}"
        menu.addAction("Review as a Playlist", lambda: self.review_requested.emit(
            name, self.clustering.track_ids[np.sort(rows)].tolist()))
        split = menu.addAction("Split", lambda: self.split(self._number_of(ref)))
        split.setEnabled(self._number_of(ref) > 0 and bool(self.clustering.children(ref)))
        return menu

    def _number_of(self, ref: Ref) -> int:
        return next((c.number for c in self.clusters if c.ref == ref), 0)

    def play_sample(self, rows: np.ndarray) -> None:
        rng = np.random.default_rng()
        sample = rng.choice(rows, size=min(self.sample_size.value(), len(rows)), replace=False)
        self._show("random sample", sample, play=True)

    def label_rows(self, rows: np.ndarray, class_name: str) -> None:
        """Label a cluster by hand: every track not labelled by ear gets the class."""
        if self.labels is None or self.clustering is None:
            return
        open_rows = rows[self.labels.heard[rows] < 0]
        if len(open_rows):
            self.label_tracks.emit(self.clustering.track_ids[open_rows].tolist(), class_name)

    def export_one(self, ref: Ref, rows: np.ndarray) -> None:
        if self.clustering is None:
            return
        name = f"cluster_{self._number_of(ref) or ref[-1]:02d}.m3u8"
        path, _ = QFileDialog.getSaveFileName(self, "Export cluster as playlist",
                                              str(Path(self._export_dir()) / name), "Playlists (*.m3u8 *.m3u)")
        if not path:
            return
        self.settings.setValue("clusterExportDir", str(Path(path).parent))
        clustering = self.clustering

        def write() -> list[Path]:
            write_playlist(clustering, rows, Path(path))
            return [Path(path)]

        self._report_written(write)

    def export_dialog(self, by_class: bool) -> None:
        if self.clustering is None or self.labels is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Folder for the playlists", self._export_dir())
        if not folder:
            return
        self.settings.setValue("clusterExportDir", folder)
        groups = class_groups(self.clusters, self.labels) if by_class else cluster_groups(self.clusters)
        self._report_written(lambda: export_playlists(self.clustering, groups, Path(folder)))

    def _report_written(self, write: Callable[[], list[Path]]) -> None:
        try:
            written = write()
        except OSError as exc:
            self.summary.setText(f"<span style='color:#c0392b'>Playlists not written: {exc.strerror or exc}</span>")
            return
        where = written[0].parent if written else ""
        self.summary.setText(f"Wrote {plural(len(written), 'playlist')} to {where}")

    def _export_dir(self) -> str:
        return self.settings.value("clusterExportDir", str(Path.home()), str)

    # -- guided labeling ------------------------------------------------------------------------

    def _guide_toggled(self, on: bool) -> None:
        if on:
            self.start_guided()
        else:
            self.stop_guided()

    def start_guided(self) -> None:
        if self.clustering is None or self.labels is None:
            self.guide_button.setChecked(False)
            return
        self.guided = GuidedLabeling(self.clustering, [c.ref for c in self.clusters],
                                     sample_size=self.sample_size.value(), threshold=self.threshold.value() / 100)
        self._shown_sample = set()
        self.guide_button.setChecked(True)
        self.guide_button.setText("Stop")
        self.save_settings()
        self.refresh_labels()  # the labels of the last moment, not those of the last refresh

    def stop_guided(self) -> None:
        self.guided = self.proposal = None
        self.guide_button.blockSignals(True)
        self.guide_button.setChecked(False)
        self.guide_button.blockSignals(False)
        self.guide_button.setText("Start")
        self._show_state()

    def _update_guided(self) -> None:
        if self.guided is None or self.labels is None or self.clustering is None:
            return
        p = self.proposal = self.guided.propose(self.labels)
        self._highlight(p.ref)
        if p.kind == "done":
            self.stop_guided()
            total = sum(len(c.rows) for c in self.clusters)
            self.guide_text.setText(f"<b>Done:</b> all {plural(total, 'track')} of "
                                    f"{plural(len(self.clusters), 'cluster')} are labelled.")
            return
        assert p.stats is not None and p.sample_stats is not None
        heard = ", ".join(f"{n} {name}" for name, n in p.sample_stats.heard.items()) or "nothing yet"
        where = (f"{plural(p.open_clusters, 'cluster')} with "
                 f"{plural(p.open_tracks, 'undecided track')} to go")
        if p.kind == "listen":
            self.guide_text.setText(
                f"{self._position(p)} · {len(p.sample)} of {plural(p.sample_goal, 'sample track')} left<br>"
                f"<b>Listen</b> and label each with its key. Sample so far: {heard}.<br>"
                f"<span style='color:gray'>{where}</span>")
            if not set(p.sample) <= self._shown_sample:  # a new sample: show it and play the first
                self._shown_sample = set(p.sample)
                self.show_tracks.emit("guided sample", p.sample, True)
        else:
            low, _ = p.sample_stats.interval or (0.0, 1.0)
            self.guide_text.setText(
                f"{self._position(p)} · sample complete<br>"
                f"<b>The random sample agrees:</b> {heard} (purity at least {low:.0%}, 95 % interval). "
                f"Label its other {plural(len(p.to_label), 'track')} <b>{p.class_name}</b>?<br>"
                f"<span style='color:gray'>{where}</span>")
            self.accept_button.setText(f"Label {plural(len(p.to_label), 'Track')} as {p.class_name}")
        self._show_state()

    def _position(self, p: Proposal) -> str:
        """Which cluster of the cut the loop is on, by its number in the table, and which part of
        it once the loop has looked inside."""
        cluster = self.clusters[p.root]
        text = f"<b>Cluster {cluster.number} of {len(self.clusters)}</b>"
        if p.ref != cluster.ref and p.stats is not None:
            text += f" (a branch of {p.stats.size:,} of its {plural(len(cluster.rows), 'track')})"
        return text

    def _highlight(self, ref: Optional[Ref]) -> None:
        """Mark the cluster the guided loop is on, in the dendrogram and in the table."""
        node = ref[0] if ref is not None and len(ref) == 1 else None
        if node != self.dendrogram.selected:
            self.dendrogram.select(node)
        row = next((i for i, c in enumerate(self.clusters) if c.ref == ref), None)
        self.table.blockSignals(True)  # marking is not choosing: the sample stays in the track table
        if row is None:
            self.table.clearSelection()
        else:
            self.table.selectRow(row)
        self.table.blockSignals(False)

    def accept_offer(self) -> None:
        p = self.proposal
        if p is None or p.kind != "accept" or p.class_name is None:
            return
        self.label_tracks.emit(list(p.to_label), p.class_name)
        self.refresh_labels()

    def decline_offer(self) -> None:
        p = self.proposal
        if self.guided is None or p is None or p.ref is None or p.kind != "accept":
            return
        self.guided.decline(p.ref)
        self._update_guided()

    # -- state ----------------------------------------------------------------------------------

    def _show_state(self) -> None:
        ready = self.clustering is not None
        self.variance_button.setEnabled(ready)
        self.cluster_button.setEnabled(self.project is not None and self._job is None)
        self.k.setEnabled(ready)
        self.export_button.setEnabled(ready)
        self.guide_button.setEnabled(ready)
        offer = self.proposal is not None and self.proposal.kind == "accept"
        self.accept_button.setVisible(offer)
        self.decline_button.setVisible(offer)
        self.offer_changed.emit(offer)
        self.sample_size.setEnabled(self.guided is None)
        self.threshold.setEnabled(self.guided is None)

    def _restore_settings(self) -> None:
        self.method.setCurrentText(self.settings.value("clusterMethod", "ward", str))
        self.use_pca.setChecked(self.settings.value("clusterUsePca", False, bool))
        self.pca.setEnabled(self.use_pca.isChecked())
        self.pca.setValue(self.settings.value("clusterPca", 80, int))
        self.k.setValue(self.settings.value("clusterK", 3, int))
        self.sample_size.setValue(self.settings.value("guidedSample", 8, int))
        self.threshold.setValue(self.settings.value("guidedThreshold", 90, int))
        self.dendrogram.shown.setValue(self.settings.value("dendrogramShown", 40, int))
        if not self.splitter.restoreState(self.settings.value("clusterSplitter", b"")):
            self.splitter.setSizes([share * 100 for share in TREE_AND_TABLE])

    def save_settings(self) -> None:
        self.settings.setValue("clusterMethod", self.method.currentText())
        self.settings.setValue("clusterUsePca", self.use_pca.isChecked())
        self.settings.setValue("clusterPca", self.pca.value())
        self.settings.setValue("clusterK", self.k.value())
        self.settings.setValue("guidedSample", self.sample_size.value())
        self.settings.setValue("guidedThreshold", int(self.threshold.value()))
        self.settings.setValue("dendrogramShown", self.dendrogram.shown.value())
        self.settings.setValue("clusterSplitter", self.splitter.saveState())
