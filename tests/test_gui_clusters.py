"""The Clusters panel driven as a person drives it: the cut line, branch clicks, guided labeling."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt

from audioid_gui.core.labels_io import read_label_file
from audioid_gui.core.project import Project
from audioid_gui.gui.main_window import MainWindow

from .conftest import REPO, labels_in_file

TRUTH = dict(read_label_file(REPO / "resources" / "demo_truth.csv"))
KEYS = {"Music": Qt.Key.Key_M, "Dialogue": Qt.Key.Key_D, "Both": Qt.Key.Key_B}


def open_clusters(window: MainWindow, project: Path, qtbot) -> None:
    """Open a project and show the Clusters panel (Ctrl+K; the window remembers it was open), which
    clusters in the background."""
    window.clusters.k.setValue(3)
    assert window.open_project(project)
    if not window.clusters_dock.isVisible():
        qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.clusters_dock.isVisible()
    qtbot.waitUntil(lambda: window.clusters.clustering is not None, timeout=20_000)


def canvas_point(window: MainWindow, x: float, y: float) -> QPoint:
    """A matplotlib display point (pixels from the bottom left) as a Qt point on the canvas."""
    canvas = window.clusters.dendrogram.canvas
    ratio = canvas.device_pixel_ratio
    return QPoint(round(x / ratio), round(canvas.height() - y / ratio))


def test_dragging_the_cut_line_recuts_the_tree(window: MainWindow, demo_project: Path, qtbot) -> None:
    open_clusters(window, demo_project, qtbot)
    panel = window.clusters
    assert panel.table.rowCount() == 3 and "Ward · 30 tracks" in panel.summary.text()
    assert sorted(int(panel.table.item(r, 1).text()) for r in range(3)) == [10, 10, 10]
    view = panel.dendrogram
    view.canvas.draw()
    line_y = view.axes.transData.transform((0, view._cut_line.get_ydata()[0]))[1]
    left = view.axes.bbox.x0 + 40
    low = view.axes.transData.transform((0, view.clustering.linkage[-7, 2] * 0.98))[1]
    canvas = view.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=canvas_point(window, left, line_y))
    qtbot.mouseMove(canvas, canvas_point(window, left, low))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=canvas_point(window, left, low))
    assert panel.k.value() == 8 and panel.table.rowCount() == 8
    assert sum(int(panel.table.item(r, 1).text()) for r in range(8)) == 30
    assert sorted(int(t.get_text()) for t in view.number_labels) == list(range(1, 9))
    panel.k.setValue(2)
    assert view.cut_k == 2 and panel.table.rowCount() == 2
    panel.k.setValue(1)
    assert panel.k.text() == "Cut into 1 cluster" and [t.get_text() for t in view.number_labels] == ["1"]


def test_a_click_on_a_branch_shows_its_tracks(window: MainWindow, demo_project: Path, qtbot) -> None:
    open_clusters(window, demo_project, qtbot)
    panel = window.clusters
    second = panel.clusters[1]
    view = panel.dendrogram
    line_y = view.axes.transData.transform((0, view._cut_line.get_ydata()[0]))[1]
    x, y = max((view.branch_position(second.ref[0], along) for along in (0.2, 0.5, 0.8)),
               key=lambda point: abs(point[1] - line_y))  # a press near the cut line grabs the line
    qtbot.mouseClick(panel.dendrogram.canvas, Qt.MouseButton.LeftButton, pos=canvas_point(window, x, y))
    assert panel.table.currentRow() == 1
    assert window.model.rowCount() == 10
    assert window.quick_filter.currentText() == "Chosen: cluster 2 (10)"
    shown = {window.model.track_id(r) for r in range(10)}
    assert shown == set(panel.clustering.track_ids[second.rows].tolist())
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.table.visualItemRect(panel.table.item(2, 0)).center())
    assert window.quick_filter.currentText() == "Chosen: cluster 3 (10)"


def test_labeling_a_cluster_is_one_step_that_undo_takes_back(window: MainWindow, demo_project: Path, qtbot) -> None:
    open_clusters(window, demo_project, qtbot)
    panel = window.clusters
    first = window.model.track(0)
    qtbot.keyClick(window.table, Qt.Key.Key_D)  # one track labelled by ear first
    qtbot.waitUntil(lambda: panel.labels is not None and panel.labels.heard.max() >= 0)
    cluster = next(c for c in panel.clusters if first.id in panel.clustering.track_ids[c.rows])
    menu = panel.cluster_menu(cluster.ref)
    label_as = next(a for a in menu.actions() if a.text().startswith("Label These 10 Tracks As"))
    next(a for a in label_as.menu().actions() if a.text() == "Music").trigger()
    rows = labels_in_file(demo_project)
    assert rows[0] == (first.name, "Dialogue", "human")
    assert len(rows) == 10 and all(r[1:] == ("Music", "cluster") for r in rows[1:])
    qtbot.waitUntil(lambda: panel.table.item(cluster.number - 1, 5).text() == "10")
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert labels_in_file(demo_project) == [(first.name, "Dialogue", "human")]
    qtbot.waitUntil(lambda: panel.table.item(cluster.number - 1, 5).text() == "1")


def test_guided_labeling_walks_the_demo_with_keys(window: MainWindow, demo_project: Path, qtbot) -> None:
    """Start with Ctrl+G, answer each sample track with its key, accept offers with Ctrl+Return:
    every track ends up labelled right after listening to 12 of the 30."""
    open_clusters(window, demo_project, qtbot)
    panel = window.clusters
    panel.sample_size.setValue(4)
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert panel.guided is not None and window.act_guided.isChecked()
    listened = accepted = 0
    for _ in range(60):
        qtbot.waitUntil(lambda: panel.proposal is None or panel.proposal.kind != "listen"
                        or window.table.current_track_id() in panel.proposal.sample)
        proposal = panel.proposal
        if proposal is None:
            break
        if proposal.kind == "listen":
            assert window.quick_filter.currentText().startswith("Chosen: guided sample")
            track = window.model.track(window.table.currentIndex().row())
            qtbot.keyClick(window.table, KEYS[TRUTH[track.name]])
            listened += 1
        else:
            assert panel.accept_button.isVisible() and proposal.class_name in panel.accept_button.text()
            qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
            accepted += 1
        qtbot.waitUntil(lambda: panel.proposal is not proposal, timeout=3000)
    assert "Done" in panel.guide_text.text()
    assert listened == 12 and accepted == 3
    with Project(demo_project) as project:
        assert project.current_labels() == {p: TRUTH[Path(p).name] for p in project.track_paths()}
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the last accept, whole
    assert sum(1 for r in labels_in_file(demo_project) if r[2] == "cluster") == 12


def test_a_project_without_features_says_what_to_do(window: MainWindow, tmp_path: Path, qtbot) -> None:
    """An empty project is where everyone starts: no failure, no "done", but what to do first."""
    assert window.open_project(tmp_path / "empty.audioid", create=True)
    if not window.clusters_dock.isVisible():
        qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    panel = window.clusters
    qtbot.waitUntil(lambda: "No analysed tracks yet" in panel.summary.text(), timeout=10_000)
    assert "import a folder" in panel.summary.text() and "fail" not in panel.summary.text().lower()
    assert panel.clustering is None and not panel.guide_button.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert panel.guided is None and not window.act_guided.isChecked()
    assert "Done" not in panel.guide_text.text() and "once there are some" in panel.guide_text.text()


def test_the_tree_names_its_tracks_and_numbers_the_clusters_as_the_table_does(window: MainWindow,
                                                                               demo_project: Path, qtbot) -> None:
    window.resize(1280, 1000)
    open_clusters(window, demo_project, qtbot)
    panel, view = window.clusters, window.clusters.dendrogram
    panel.splitter.setSizes([700, 300])
    qtbot.waitUntil(lambda: bool(view.axes.get_xticklabels()[0].get_text()))
    view.canvas.draw()
    names = {tick.get_text(): x for tick, x in zip(view.axes.get_xticklabels(), view.axes.get_xticks())}
    assert len(names) == 30 and "outro 01.mp3" in names and "outro 07 – …" in names
    numbers = {int(t.get_text()): t.get_position()[0] for t in view.number_labels}
    assert sorted(numbers) == [1, 2, 3]
    for cluster in panel.clusters:  # each number stands over the leaves of its cluster's tracks
        files = [Path(panel.clustering.features.paths[r]).name for r in cluster.rows]
        xs = [x for name, x in names.items() if any(f.startswith(name.rstrip("…")) for f in files)]
        assert len(xs) == len(files) and min(xs) <= numbers[cluster.number] <= max(xs)
    x, y = view.branch_position(next(b.node for b in view.branches if b.is_leaf), 0.5)
    qtbot.mouseMove(view.canvas, canvas_point(window, x, y))
    qtbot.waitUntil(lambda: view.toolbar.locLabel.text().startswith("height "))
    assert "outro " in view.toolbar.locLabel.text() and "(x, y)" not in view.toolbar.locLabel.text()
    panel.splitter.setSizes([120, 880])  # too short for names: the tree keeps the room
    qtbot.waitUntil(lambda: not any(t.get_text() for t in view.axes.get_xticklabels()))
