"""The dendrogram: the top of the cluster tree on a matplotlib canvas, with a cut line to drag.

Branches are coloured by the majority class of the labels given by ear beneath them (grey where
nobody has listened yet); a leaf is named by its track, or says how many tracks it holds; the
clusters of the current cut carry the numbers the cluster table lists them by.  Click a branch to
select its tracks, right-click it for the cluster commands, drag the dashed line to cut the tree
into more or fewer clusters; the toolbar zooms and pans, the mouse wheel zooms across.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.backend_bases import MouseButton, MouseEvent
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.transforms import ScaledTranslation
from PySide6.QtCore import QPoint, QTimer, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ..core.clustering import Branch, Cluster, Clustering, LabelState, Ref, dendrogram_branches
from ..core.wording import plural

UNHEARD = "#9aa0a6"
# While a dock is being laid out the canvas can be momentarily tiny; matplotlib then skips the
# layout for that frame and says so.  The next paint lays it out again.
warnings.filterwarnings("ignore", message="constrained_layout not applied", category=UserWarning)
GRAB_PIXELS = 6  # how close to the cut line a press must be to drag it
LEAF_NAME_CHARS = 12  # a track's file name under its leaf is cut to this many characters
NAMED_LEAVES_MIN_HEIGHT = 220  # a shorter canvas drops the leaf names, which would flatten the tree
CUT_RED = "#c0392b"
CUT_TEXT_RAISE_PT = 6  # the "N clusters" text above the cut line, clear of the boxes on it
NAME_BAND_MARGIN_PT = 2  # between the leaf names and the canvas's bottom edge
MAX_NAME_BAND = 0.6  # of the canvas's height at most, whatever the names


class DendrogramView(QWidget):
    cut_changed = Signal(int)  # the user dragged the cut line: this many clusters
    branch_clicked = Signal(object)  # Ref
    branch_menu = Signal(object, QPoint)  # Ref, global position for a context menu

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.figure = Figure(figsize=(6, 3), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumSize(240, 100)
        self.axes = self.figure.add_subplot()
        self.toolbar = NavigationToolbar2QT(self.canvas, self)
        self.toolbar.setIconSize(self.toolbar.iconSize() * 0.8)
        self.shown = QSpinBox()
        self.shown.setRange(2, 200)
        self.shown.setValue(40)
        self.shown.setPrefix("Show top ")
        self.shown.setSuffix(" clusters")
        self.shown.setToolTip("How many clusters the dendrogram draws as leaves")
        self.shown.valueChanged.connect(lambda _: self.redraw())
        self.hint = QLabel("Drag the dashed line to cut; click a branch to select its tracks")
        self.hint.setStyleSheet("color: palette(mid);")
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.toolbar)
        controls.addStretch(1)
        controls.addWidget(self.hint)
        controls.addWidget(self.shown)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.canvas, 1)

        self.clustering: Optional[Clustering] = None
        self.labels: Optional[LabelState] = None
        self.colors: dict[str, str] = {}
        self.branches: list[Branch] = []
        self.cut_k = 3
        self.cut_clusters: list[Cluster] = []
        self.selected: Optional[int] = None
        self._dragging = False
        self.number_labels: list = []  # the text artists that number the clusters of the cut
        # A new tree, cut or message is drawn on a later turn of the event loop than the one that
        # made it: making it and drawing it (0.07 s) in one turn kept a key press waiting longer
        # than a tenth of a second at the end of each clustering.
        self._draw_timer = QTimer(self, singleShot=True, interval=1)
        self._draw_timer.timeout.connect(self.canvas.draw_idle)
        self._set_up_axes()
        self._leaves_named = False
        self.canvas.mpl_connect("button_press_event", self._pressed)
        self.canvas.mpl_connect("motion_notify_event", self._moved)
        self.canvas.mpl_connect("button_release_event", self._released)
        self.canvas.mpl_connect("scroll_event", self._scrolled)
        self.canvas.mpl_connect("resize_event", self._resized)
        self.show_message("No clustering yet")

    # -- content --------------------------------------------------------------------------------

    def set_clustering(self, clustering: Optional[Clustering], labels: Optional[LabelState],
                       colors: dict[str, str], cut_k: int) -> None:
        self.clustering, self.labels, self.colors = clustering, labels, colors
        self.selected = None
        self._take_cut(cut_k, ())
        self.redraw()

    def set_labels(self, labels: LabelState) -> None:
        self.labels = labels
        self.redraw(keep_view=True)

    def set_cut(self, k: int, clusters: Sequence[Cluster] = ()) -> None:
        """Cut into k clusters; ``clusters`` are the numbered clusters to mark when they are not
        simply the cut into k (after a split)."""
        self._take_cut(k, clusters)
        self._place_cut_line()
        self._draw_timer.start()

    def _take_cut(self, k: int, clusters: Sequence[Cluster]) -> None:
        self.cut_k = k
        if clusters or self.clustering is None:
            self.cut_clusters = list(clusters)
        else:
            self.cut_clusters = self.clustering.cut(k=k)

    def select(self, node: Optional[int]) -> None:
        """Highlight the branch of this top-tree node (None: no highlight)."""
        self.selected = node
        self.redraw(keep_view=True)

    def show_message(self, text: str) -> None:
        """An empty plot with a short text: no clustering yet, or why there is none."""
        self._show_tree(False)
        self._message.set_text(text)
        for label in self.number_labels:
            label.remove()
        self.number_labels = []
        self.figure.get_layout_engine().set(rect=(0, 0, 1, 1))
        self._draw_timer.start()

    def redraw(self, keep_view: bool = False) -> None:
        """Draw the tree again (new labels, a new selection, another number of leaves) into the
        artists already there: clearing the axes made matplotlib build every tick and its label
        anew, 35 ms of each label refresh and of the end of every clustering."""
        if self.clustering is None:
            self.show_message("No clustering yet: press Cluster")
            return
        limits = (self.axes.get_xlim(), self.axes.get_ylim()) if keep_view and self._tree_shown else None
        self._show_tree(True)
        ax = self.axes
        self.branches = dendrogram_branches(self.clustering, self.shown.value())
        self._tree.set_segments([[(b.x, b.bottom), (b.x, b.top), (b.parent_x, b.top)] for b in self.branches])
        self._tree.set_color(self._branch_colors())
        self._tree.set_linewidth([3.2 if b.node == self.selected else 1.4 for b in self.branches])
        leaves = sorted((b for b in self.branches if b.is_leaf), key=lambda b: b.x)
        self._leaves_named = self._room_for_names()
        ax.set_xticks([b.x for b in leaves])
        ax.set_xticklabels([self._leaf_label(b.node) for b in leaves] if self._leaves_named else [],
                           rotation=90, fontsize=7)
        self._keep_room_for_names()
        ax.set_ylabel(f"{self.clustering.method} distance", fontsize=8)
        top = max(b.top for b in self.branches) if self.branches else 1.0
        ax.set_xlim(-0.8, len(leaves) - 0.2)
        ax.set_ylim(0, top * 1.05 or 1.0)
        if limits is not None:
            ax.set_xlim(limits[0])
            ax.set_ylim(limits[1])
        self._place_cut_line()
        self._draw_timer.start()

    def _set_up_axes(self) -> None:
        """The artists every tree and message is drawn with, made once: clearing the axes for each
        tree made matplotlib build the ticks anew, 35 ms of the end of every clustering.  The
        ticks of as many leaves as are shown are made here too, while the window opens."""
        ax = self.axes
        self._tree = LineCollection([], capstyle="round")
        ax.add_collection(self._tree)
        ax.tick_params(axis="y", labelsize=7)
        ax.format_coord = self._describe_point
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        self._cut_line = ax.axhline(0, color=CUT_RED, linestyle="--", linewidth=1.2)
        # Above the numbered boxes that sit on the line, so that the rightmost one does not hide it.
        raised = ScaledTranslation(0, CUT_TEXT_RAISE_PT / 72, self.figure.dpi_scale_trans)
        self._cut_text = ax.text(1.0, 0, "", transform=ax.get_yaxis_transform() + raised, ha="right", va="bottom",
                                 color=CUT_RED, fontsize=8, in_layout=False,  # inside the axes
                                 bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1))
        self._message = ax.text(0.5, 0.5, "", ha="center", va="center", color=UNHEARD, transform=ax.transAxes,
                                wrap=True)
        ax.xaxis.get_major_ticks(self.shown.value())
        self._tree_shown = True
        self._show_tree(False)

    def _show_tree(self, shown: bool) -> None:
        """The tree, its axes and its cut line, or (not shown) the message in their place."""
        if shown == self._tree_shown:
            return
        self._tree_shown = shown
        self.axes.set_axis_on() if shown else self.axes.set_axis_off()
        for artist in (self._tree, self._cut_line, self._cut_text):
            artist.set_visible(shown)
        self._message.set_visible(not shown)

    def _keep_room_for_names(self) -> None:
        """Keep a band under the axes as tall as the longest leaf name, measured once per tree
        and size: the layout engine measured every name twice on each draw, a fifth of a draw
        that the end of a clustering and each label refresh wait for."""
        names = self.axes.get_xticklabels()
        band = 0.0
        if names and self._leaves_named:
            renderer = self.canvas.get_renderer()
            tick = self.axes.xaxis.get_major_ticks()[0]
            band = (max(name.get_window_extent(renderer).height for name in names)
                    + (tick.get_tick_padding() + tick.get_pad() + NAME_BAND_MARGIN_PT) * self.figure.dpi / 72)
        for name in names:
            name.set_in_layout(False)
        share = min(band / max(self.figure.bbox.height, 1.0), MAX_NAME_BAND)
        self.figure.get_layout_engine().set(rect=(0, share, 1, 1 - share))

    def _room_for_names(self) -> bool:
        return self.canvas.height() >= NAMED_LEAVES_MIN_HEIGHT

    def _resized(self, _event) -> None:
        if self.clustering is not None and self._leaves_named != self._room_for_names():
            self.redraw(keep_view=True)
        elif self._tree_shown:
            self._keep_room_for_names()  # as many pixels as before: another share of the height

    def _node_name(self, node: int) -> str:
        """A node of one track is named by its file; a node of many says how many."""
        assert self.clustering is not None
        rows = self.clustering.rows((node,))
        if len(rows) > 1:
            return plural(len(rows), "track")
        return Path(self.clustering.features.paths[int(rows[0])]).name

    def _leaf_label(self, node: int) -> str:
        name = self._node_name(node)
        return name if len(name) <= LEAF_NAME_CHARS else name[:LEAF_NAME_CHARS - 1] + "…"

    def _describe_point(self, x: float, y: float) -> str:
        """What the toolbar says under the mouse: the height, and the branch there if any."""
        px, py = self.axes.transData.transform((x, y))
        branch = self.branch_at(px, py)
        return f"height {y:.3g}" + (f" · {self._node_name(branch.node)}" if branch is not None else "")

    def _branch_colors(self) -> list[str]:
        assert self.clustering is not None
        if self.labels is None:
            return [UNHEARD] * len(self.branches)
        counts = self.clustering.node_counts(self.labels.heard, len(self.labels.classes))
        names = self.labels.classes
        return [
            self.colors.get(names[int(np.argmax(counts[b.node]))], UNHEARD) if counts[b.node].any() else UNHEARD
            for b in self.branches
        ]

    def _cut_height(self, k: int) -> float:
        """A height between the merges that a cut into k clusters keeps and undoes."""
        assert self.clustering is not None
        heights = np.sort(self.clustering.linkage[:, 2])
        if not len(heights):
            return 0.0
        k = max(1, min(k, len(heights) + 1))
        below = heights[-k] if k <= len(heights) else 0.0
        above = heights[-k + 1] if k > 1 else heights[-1] * 1.04
        return float((below + above) / 2)

    def _place_cut_line(self) -> None:
        if not self._tree_shown or self.clustering is None:
            return
        height = self._cut_height(self.cut_k)
        self._move_cut_line(height)
        self._number_clusters(height)

    def _move_cut_line(self, height: float) -> None:
        self._cut_line.set_ydata([height, height])
        self._cut_text.set_position((1.0, height))
        self._cut_text.set_text(f"{plural(self.cut_k, 'cluster')} ")

    def _number_clusters(self, height: float) -> None:
        """Put each cluster's table number on its branch, where the cut crosses it.  Clusters
        below the drawn leaves, or inside a micro-cluster, have no branch of their own to carry it."""
        for text in self.number_labels:
            text.remove()
        at = {b.node: b for b in self.branches}
        self.number_labels = []
        for cluster in self.cut_clusters:
            branch = at.get(cluster.ref[0]) if len(cluster.ref) == 1 else None
            if branch is None:
                continue
            y = min(max(height, branch.bottom), branch.top)
            self.number_labels.append(self.axes.text(
                branch.x, y, str(cluster.number), ha="center", va="center", fontsize=7, color=CUT_RED,
                in_layout=False,
                bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor=CUT_RED, linewidth=0.8)))

    # -- mouse ----------------------------------------------------------------------------------

    def _navigating(self) -> bool:
        return bool(self.toolbar.mode)  # zoom or pan mode of the toolbar owns the mouse

    def _near_cut_line(self, event: MouseEvent) -> bool:
        if not self._tree_shown or event.y is None:
            return False
        line_y = self.axes.transData.transform((0, self._cut_line.get_ydata()[0]))[1]
        return abs(event.y - line_y) <= GRAB_PIXELS * self.canvas.device_pixel_ratio

    def _pressed(self, event: MouseEvent) -> None:
        if self.clustering is None or self._navigating() or event.inaxes is not self.axes:
            return
        if event.button == MouseButton.LEFT and self._near_cut_line(event):
            self._dragging = True
            return
        branch = self.branch_at(event.x, event.y)
        if branch is None:
            return
        ref: Ref = (branch.node,)
        if event.button == MouseButton.RIGHT:
            self.branch_menu.emit(ref, QCursor.pos())
        elif event.button == MouseButton.LEFT:
            self.branch_clicked.emit(ref)

    def _moved(self, event: MouseEvent) -> None:
        if self._dragging and event.ydata is not None and self.clustering is not None:
            self.cut_k = self.clustering.clusters_for_height(max(event.ydata, 0.0))
            self._move_cut_line(event.ydata)
            for text in self.number_labels:  # the numbers belong to the cut being replaced
                text.set_visible(False)
            self.canvas.draw_idle()

    def _released(self, _event: MouseEvent) -> None:
        if self._dragging:
            self._dragging = False
            self._place_cut_line()
            self.canvas.draw_idle()
            self.cut_changed.emit(self.cut_k)

    def _scrolled(self, event: MouseEvent) -> None:
        if event.inaxes is not self.axes or event.xdata is None:
            return
        factor = 0.8 if event.button == "up" else 1.25
        left, right = self.axes.get_xlim()
        self.axes.set_xlim(event.xdata - (event.xdata - left) * factor, event.xdata + (right - event.xdata) * factor)
        self.canvas.draw_idle()

    def branch_at(self, px: float, py: float) -> Optional[Branch]:
        """The branch nearest to a point in canvas pixels (within a few pixels), if any."""
        best, best_distance = None, 8.0 * self.canvas.device_pixel_ratio
        to_pixels = self.axes.transData.transform
        for branch in self.branches:
            (x, bottom), (_, top), (parent_x, _) = to_pixels([(branch.x, branch.bottom), (branch.x, branch.top),
                                                              (branch.parent_x, branch.top)])
            vertical = abs(px - x) if bottom <= py <= top else np.inf
            across = abs(py - top) if min(x, parent_x) <= px <= max(x, parent_x) else np.inf
            distance = min(vertical, across)
            if distance < best_distance:
                best, best_distance = branch, distance
        return best

    def branch_position(self, node: int, along: float = 0.5) -> tuple[float, float]:
        """Canvas pixel position of a point ``along`` the way up a node's vertical line."""
        branch = next(b for b in self.branches if b.node == node)
        x, y = self.axes.transData.transform((branch.x, branch.bottom + along * (branch.top - branch.bottom)))
        return float(x), float(y)
