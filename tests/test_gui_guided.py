"""Guided labeling driven with keys: it stays with one cluster until that cluster's sample is heard,
and says which cluster it is on and how much of the sample is left."""
from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt

from audioid_gui.gui.main_window import MainWindow

from .test_gui_clusters import open_clusters

POSITION = re.compile(r"Cluster (\d+) of (\d+)</b> · (\d+) of (\d+) sample tracks? left")


def position(window: MainWindow) -> tuple[int, int, int, int]:
    """(cluster number, clusters, sample tracks left, sample size) as the panel shows them."""
    found = POSITION.search(window.clusters.guide_text.text())
    assert found, window.clusters.guide_text.text()
    number, clusters, left, goal = map(int, found.groups())
    return number, clusters, left, goal


def cluster_of(window: MainWindow, track_id: int) -> int:
    panel = window.clusters
    return next(c.number for c in panel.clusters if track_id in panel.clustering.track_ids[c.rows])


def press_dialogue(window: MainWindow, qtbot) -> int:
    """Label the current track Dialogue with its key, wait for the panel to take it in, and return
    the track's id."""
    panel = window.clusters
    track_id = window.table.current_track_id()
    before = panel.proposal
    qtbot.keyClick(window.table, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: panel.proposal is not before, timeout=3000)
    return track_id


def label_by_key(window: MainWindow, qtbot, track_id: int) -> None:
    window.table.select_row(window.model.row_of(track_id))
    qtbot.keyClick(window.table, Qt.Key.Key_D)


def test_key_presses_stay_with_one_cluster_until_its_sample_is_heard(window: MainWindow, demo_project: Path,
                                                                      qtbot) -> None:
    open_clusters(window, demo_project, qtbot)
    panel = window.clusters
    panel.k.setValue(10)
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    number, clusters, left, goal = position(window)
    assert clusters == 10 and left == goal == len(panel.clusters[number - 1].rows)
    for press in range(goal):
        assert cluster_of(window, press_dialogue(window, qtbot)) == number
        if press < goal - 1:
            assert position(window) == (number, 10, left - 1, goal)
            left -= 1


def test_samples_begun_in_several_clusters_are_finished_one_at_a_time(window: MainWindow, demo_project: Path,
                                                                      qtbot) -> None:
    """One track heard in each of three clusters of three before the loop starts: each cluster's
    sample is finished before the next is begun (this used to hop between them at every key)."""
    open_clusters(window, demo_project, qtbot)
    panel = window.clusters
    panel.k.setValue(10)
    threes = [c for c in panel.clusters if len(c.rows) == 3][:3]
    assert len(threes) == 3
    for cluster in threes:
        label_by_key(window, qtbot, int(panel.clustering.track_ids[cluster.rows[0]]))
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    visited = []
    for _ in range(3):
        number, _, left, goal = position(window)
        assert (left, goal) == (2, 3)
        assert cluster_of(window, press_dialogue(window, qtbot)) == number
        assert position(window)[:3] == (number, 10, 1)
        assert cluster_of(window, press_dialogue(window, qtbot)) == number
        visited.append(number)
    assert sorted(visited) == sorted(c.number for c in threes)
