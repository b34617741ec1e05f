"""The Review panel driven by key presses: draw a sample of a demo playlist, answer it, read the report."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from audioid_gui.core.labels_io import read_label_file
from audioid_gui.gui.main_window import MainWindow
from audioid_gui.gui.review import NewestPredictions

from .conftest import REPO, labels_in_file

TRUTH = dict(read_label_file(REPO / "resources" / "demo_truth.csv"))
KEYS = {"Music": Qt.Key.Key_M, "Dialogue": Qt.Key.Key_D, "Both": Qt.Key.Key_B}


def test_review_a_demo_playlist_by_key_presses(window: MainWindow, demo_project: Path, qtbot) -> None:
    assert window.open_project(demo_project)
    if not window.review_dock.isVisible():
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    panel = window.review_panel
    panel.playlist.setCurrentIndex(panel.playlist.findData("orange_cluster"))
    panel.intended.setCurrentIndex(panel.intended.findData("Music"))
    panel.sample.setValue(6)
    qtbot.mouseClick(panel.draw_button, Qt.MouseButton.LeftButton)
    assert window.quick_filter.currentText() == "Chosen: review: orange_cluster (6)"
    assert QApplication.focusWidget() is window.table  # the class keys answer, not the button
    answered = []
    for _ in range(6):
        name = window.model.track(window.table.currentIndex().row()).name
        answered.append(name)
        qtbot.keyClick(window.table, KEYS[TRUTH[name]])
        # the chart follows each key, counted in the background
        qtbot.waitUntil(lambda: panel.result is not None and panel.result.answered == len(answered))
    rows = labels_in_file(demo_project)
    assert [(n, c) for n, c, _ in rows] == [(n, TRUTH[n]) for n in answered]
    assert {source for _, _, source in rows} == {"review"}
    counts = {r.name: r.count for r in panel.result.classes}
    assert counts == {c: sum(TRUTH[n] == c for n in answered) for c in ("Music", "Dialogue", "Both")}
    assert "Sample answered" in panel.summary.text() and "not Music" in panel.summary.text()
    assert len(panel.figure.axes[0].patches) == 5  # three classes and two groups, with whiskers
    assert_counts_above_whiskers(panel)
    assert not panel.listen_button.isEnabled() and panel.export_button.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the last answer
    qtbot.waitUntil(lambda: panel.result.answered == 5)
    assert panel.listen_button.isEnabled()
    window.filter_text.setFocus()  # the user was elsewhere...
    qtbot.mouseClick(panel.listen_button, Qt.MouseButton.LeftButton)  # ...and comes back to the sample
    assert QApplication.focusWidget() is window.table
    assert window.model.track(window.table.currentIndex().row()).name == answered[-1]


def assert_counts_above_whiskers(panel) -> None:
    """Each bar's count of answers reads on its own: above its whisker, inside the plot, and 100 %
    is not the plot's frame."""
    panel.canvas.draw()
    axes = panel.figure.axes[0]
    assert axes.get_ylim()[1] > 100 and max(axes.get_yticks()) <= 100
    bars = panel.result.classes + panel.result.groups
    assert [t.get_text() for t in axes.texts] == [str(b.count) for b in bars]
    frame = axes.get_window_extent()
    for i, (text, bar) in enumerate(zip(axes.texts, bars)):
        box = text.get_bbox_patch().get_window_extent()
        whisker_top = axes.transData.transform((i, bar.interval[1] * 100))[1]
        assert whisker_top < box.y0 and box.y1 < frame.y1


def test_a_cluster_can_be_reviewed_as_a_playlist(window: MainWindow, demo_project: Path, qtbot) -> None:
    assert window.open_project(demo_project)
    window.clusters_dock.show()
    qtbot.waitUntil(lambda: window.clusters.clustering is not None, timeout=20_000)
    cluster = window.clusters.clusters[0]
    menu = window.clusters.cluster_menu(cluster.ref)
    next(a for a in menu.actions() if a.text() == "Review as a Playlist").trigger()
    panel = window.review_panel
    assert window.review_dock.isVisible() and panel.playlist.currentData() == "cluster 1"
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.playlist == "cluster 1")
    assert panel.result.playlist_size == len(cluster.rows)
    assert "cluster 1" in window.project.playlist_names()


def _choose(panel, data) -> None:
    panel.playlist.setCurrentIndex(next(i for i in range(panel.playlist.count()) if panel.playlist.itemData(i) == data))


def _predict(project_file: Path, music_every: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Store a model's predictions: every ``music_every``-th track Music, the rest Dialogue.
    Returns (model id, track ids, which are Music)."""
    from audioid_gui.core.features import VERSION
    from audioid_gui.core.project import Project

    with Project(project_file) as project:
        ids = project.feature_vectors(VERSION).track_ids
        music = np.arange(len(ids)) % music_every == 0
        model_id = project.save_model(VERSION, str(project.segment), ["Music", "Dialogue"], {}, 4, b"")
        project.save_predictions(model_id, ids, ["Music", "Dialogue"],
                                 np.where(music[:, None], [0.8, 0.2], [0.3, 0.7]).astype(np.float32))
    return model_id, ids, music


def test_the_newest_models_list_of_a_class_is_made_in_the_background(window: MainWindow, demo_project: Path,
                                                                    qtbot) -> None:
    """A hidden panel lists nothing on open (at a million tracks that held the window 19 s); once
    shown, the newest model's Music becomes a playlist of exactly the tracks it predicts so, to
    draw a sample from.  A new model makes a new list, and the sample stays with the old one."""
    first, ids, music = _predict(demo_project, 3)
    window.review_dock.hide()
    assert window.open_project(demo_project)
    panel = window.review_panel
    before = set(window.project.playlist_names())
    _choose(panel, NewestPredictions("Music"))
    assert set(window.project.playlist_names()) == before  # nothing done while hidden
    window.review_dock.show()
    qtbot.waitUntil(lambda: panel.record is not None and panel.record.playlist == f"predicted Music, model {first}")
    assert window.project.playlist_track_ids(panel.record.playlist) == ids[music].tolist()
    panel.sample.setValue(3)
    qtbot.mouseClick(panel.draw_button, Qt.MouseButton.LeftButton)
    assert window.quick_filter.currentText() == f"Chosen: review: predicted Music, model {first} (3)"

    second, _, music = _predict(demo_project, 2)  # as a retrain in the background would
    window.model_panel.predictions_changed.emit()
    qtbot.waitUntil(lambda: panel.record is not None and panel.record.playlist == f"predicted Music, model {second}")
    assert window.project.playlist_track_ids(panel.record.playlist) == ids[music].tolist()
    assert not panel.record.items  # a new list, a new sample
    assert len(window.project.review(f"predicted Music, model {first}").items) == 3  # kept with the old list


def test_the_playlist_last_chosen_is_chosen_again_on_reopening(window: MainWindow, demo_project: Path, qtbot) -> None:
    _predict(demo_project, 3)
    assert window.open_project(demo_project)
    window.review_dock.show()
    panel = window.review_panel
    for choice in (panel.playlist.itemData(panel.playlist.count() - 1), "orange_cluster"):  # the newest model's, a file's
        assert panel.playlist.currentData() != choice
        _choose(panel, choice)
        window.close_project()
        assert panel.playlist.count() == 0
        assert window.open_project(demo_project)
        assert panel.playlist.currentData() == choice
