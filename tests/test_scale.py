"""What keeps a project of a million tracks usable, checked on small inputs: the shortcuts taken
for speed (whole-array lookups, chunked reads, sorts outside SQLite, folder listings, k-means on
a sample) must give what the plain way gave."""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from audioid_gui.core import clustering, project as project_module
from audioid_gui.core.clustering import Clustering, GuidedLabeling, LabelState, PreparedFeatures
from audioid_gui.core.features import FEATURE_NAMES, VERSION
from audioid_gui.core.project import Project, TrackLabel, rows_of
from audioid_gui.core.tags import plan
from audioid_gui.core.tracklist import TrackFilter, track_ids
from audioid_gui.gui.track_table import COLUMNS, TrackTableModel, TrackTableView


def synthetic_project(path: Path, paths: list[str | bytes], seed: int = 0) -> tuple[Project, np.ndarray]:
    """Tracks at ``paths`` (track id = position + 1) with current feature vectors, written
    straight into the store as ``bench/million.py`` does.  Returns the project and the vectors."""
    project = Project(path)
    project.set_feature_names(VERSION, FEATURE_NAMES)
    vectors = np.random.default_rng(seed).normal(size=(len(paths), len(FEATURE_NAMES))).astype(np.float32)
    segment = str(project.segment)
    with project.db:
        project.db.execute("BEGIN")
        for i, (track_path, vector) in enumerate(zip(paths, vectors)):
            project.db.execute("INSERT INTO tracks(id, path, size, mtime, added_at) VALUES (?, ?, 1, 1.0, 0)",
                               (i + 1, track_path))
            project.db.execute("INSERT INTO features(track_id, extractor_version, segment, size, mtime, vector, "
                               "extracted_at) VALUES (?, ?, ?, 1, 1.0, ?, 0)", (i + 1, VERSION, segment,
                                                                                vector.tobytes()))
    return project, vectors


def test_rows_of_finds_each_track_and_says_minus_one_for_the_absent() -> None:
    assert rows_of(np.array([30, 10, 20]), [20, 99, 30, 10]).tolist() == [2, -1, 0, 1]
    assert rows_of(np.array([], dtype=np.int64), [5]).tolist() == [-1]


def test_feature_table_read_in_chunks_holds_every_vector_in_path_order(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(project_module, "FEATURE_CHUNK", 3)
    paths = [f"/archive/clip-{i:02d}.mp3" for i in (7, 3, 9, 1, 5, 2, 8)]
    project, vectors = synthetic_project(tmp_path / "p.audioid", paths)
    with project:
        table = project.feature_table(VERSION)
    order = np.argsort(paths)
    assert table.paths == sorted(paths)
    assert table.track_ids.tolist() == (order + 1).tolist()
    assert np.array_equal(table.matrix, vectors[order]) and table.matrix.flags.writeable


def test_training_reads_the_same_vectors_in_track_order_without_their_paths(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(project_module, "FEATURE_CHUNK", 3)
    project, vectors = synthetic_project(tmp_path / "p.audioid", [f"/archive/clip-{i}.mp3" for i in (7, 3, 9, 1, 5)])
    with project:
        table = project.feature_vectors(VERSION)
    assert table.track_ids.tolist() == [1, 2, 3, 4, 5] and np.array_equal(table.matrix, vectors)


def _clustering_of(track_ids: list[int], points: np.ndarray) -> Clustering:
    features = PreparedFeatures(np.array(track_ids), [f"/c/{t}.mp3" for t in track_ids], points, [],
                                np.ones(points.shape[1]), None)
    return Clustering(features)


def test_label_state_puts_each_label_on_its_track_whatever_the_row_order() -> None:
    result = _clustering_of([40, 10, 30, 20], np.arange(8, dtype=float).reshape(4, 2))
    labels = {10: TrackLabel("Music", "human"), 20: TrackLabel("Dialogue", "cluster"),
              30: TrackLabel("Genre gone", "human"), 99: TrackLabel("Music", "human")}
    state = LabelState.of(result, labels, ["Music", "Dialogue", "Both"])
    assert state.current.tolist() == [-1, 0, -1, 1]
    assert state.heard.tolist() == [-1, 0, -1, -1]
    assert state.settled.tolist() == [False, True, False, True]


def test_guided_sample_is_the_clusters_first_tracks_in_the_random_order() -> None:
    rng = np.random.default_rng(1)
    result = _clustering_of(list(range(1, 301)), rng.normal(size=(300, 3)))
    guide = GuidedLabeling(result, sample_size=8, seed=5)
    proposal = guide.propose(LabelState.of(result, {}, ["Music", "Dialogue"]))
    rows = result.rows(proposal.ref)
    first = rows[np.argsort(np.random.default_rng(5).permutation(300)[rows])][:8]
    assert proposal.kind == "listen" and list(proposal.sample) == (first + 1).tolist()


def test_micro_clusters_learnt_on_a_sample_still_place_every_track(monkeypatch) -> None:
    monkeypatch.setattr(clustering, "MICRO_SAMPLE", 300)
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], 700)
    points = np.array([[0, 0], [40, 0], [0, 40]], dtype=float)[truth] + rng.normal(size=(2100, 2))
    result = Clustering(PreparedFeatures(np.arange(2100), [""] * 2100, points, [], np.ones(2), None),
                       exact_limit=200, micro=60)
    assert result.micro and result.tree.n_leaves <= 60
    clusters = result.cut(k=3)
    assert sorted(len(c.rows) for c in clusters) == [700, 700, 700]
    assert all(len(set(truth[c.rows])) == 1 for c in clusters)


def test_gone_tracks_come_from_folder_listings_and_links_are_looked_at(tmp_path: Path) -> None:
    here, moved = tmp_path / "here", tmp_path / "moved"
    here.mkdir(), moved.mkdir()
    for name in ("kept.mp3", "deleted.mp3", "target.mp3"):
        (here / name).write_bytes(b"x")
    (moved / "clip.mp3").write_bytes(b"x")
    (here / "link.mp3").symlink_to(here / "target.mp3")
    (here / "dangling.mp3").symlink_to(tmp_path / "nowhere.mp3")
    names = ["kept.mp3", "deleted.mp3", "link.mp3", "dangling.mp3"]
    project, _ = synthetic_project(tmp_path / "p.audioid", [str(here / n) for n in names] + [str(moved / "clip.mp3")])
    (here / "deleted.mp3").unlink()
    moved.rename(tmp_path / "elsewhere")
    with project:
        gone = project.gone_tracks(VERSION)
        listed = {e.path for e in project.errors() if e.stage == "gone"}
    assert gone.tracks == 3 and gone.extracted == 3
    assert listed == {str(here / "deleted.mp3"), str(here / "dangling.mp3"), str(moved / "clip.mp3")}


def _labelled_sorting_project(tmp_path: Path) -> Project:
    paths = [f"/a/{name}" for name in ("d.mp3", "b.mp3", "c.mp3", "a.mp3", "e.mp3")]
    project, _ = synthetic_project(tmp_path / "p.audioid", paths)
    project.set_labels([1, 2], "Music")
    project.set_labels([3], "Dialogue")
    project.set_labels([2], None)  # cleared: unlabelled again
    return project


def test_sorting_keeps_equal_keys_in_path_order_and_nulls_last_both_ways(tmp_path: Path) -> None:
    with _labelled_sorting_project(tmp_path) as project:  # a.mp3=4, b=2, c=3, d=1, e=5
        assert track_ids(project) == [4, 2, 3, 1, 5]
        assert track_ids(project, sort="label") == [3, 1, 4, 2, 5]
        assert track_ids(project, sort="label", descending=True) == [1, 3, 4, 2, 5]
        assert track_ids(project, sort="name", descending=True) == [5, 1, 3, 2, 4]
        assert track_ids(project, TrackFilter(unlabelled=True)) == [4, 2, 5]
        assert track_ids(project, TrackFilter(ids=(5, 1, 5, 3)), sort="label") == [3, 1, 5]


def test_a_name_that_is_not_utf8_sorts_among_the_others(tmp_path: Path) -> None:
    project, _ = synthetic_project(tmp_path / "p.audioid", ["/a/b.mp3", os.fsencode("/a/") + b"c\xff.mp3", "/a/a.mp3"])
    with project:
        assert track_ids(project, sort="name") == [3, 1, 2]


def test_clicking_the_confidence_header_sorts_with_unpredicted_tracks_last(tmp_path: Path, qtbot) -> None:
    project, _ = synthetic_project(tmp_path / "p.audioid", [f"/a/{i}.mp3" for i in range(1, 6)])
    model_id = project.save_model(VERSION, str(project.segment), ["Music", "Dialogue"], {}, 4, b"")
    project.save_predictions(model_id, np.array([1, 2, 3, 4]), ["Music", "Dialogue"],
                             np.array([[0.6, 0.4], [0.9, 0.1], [0.2, 0.8], [0.3, 0.7]], dtype=np.float32))
    model = TrackTableModel()
    view = TrackTableView(model)
    qtbot.addWidget(view)
    view.resize(900, 300)
    view.show()
    model.set_project(project)
    header = view.horizontalHeader()
    column = [key for _, key in COLUMNS].index("confidence")
    where = QPoint(header.sectionViewportPosition(column) + header.sectionSize(column) // 2, header.height() // 2)

    def shown() -> list[str]:
        return [model.data(model.index(row, column)) for row in range(model.rowCount())]

    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert shown() == ["60%", "70%", "80%", "90%", ""]
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert shown() == ["90%", "80%", "70%", "60%", ""]
    project.close()


def test_tag_plan_takes_the_models_sure_predictions_and_the_labels(tmp_path: Path) -> None:
    project, _ = synthetic_project(tmp_path / "p.audioid", [f"/a/{i}.mp3" for i in range(1, 5)])
    with project:
        project.db.execute("UPDATE tracks SET tags = ? WHERE id = 2", (json.dumps({"genre": "Music"}),))
        model_id = project.save_model(VERSION, str(project.segment), ["Music", "Dialogue"], {}, 4, b"")
        project.save_predictions(model_id, np.array([1, 2, 3, 4]), ["Music", "Dialogue"],
                                 np.array([[0.95, 0.05], [0.97, 0.03], [0.4, 0.6], [0.5, 0.5]], dtype=np.float32))
        project.set_labels([4], "Both")
        result = plan(project, min_confidence=0.9)
    assert [(i.track_id, i.class_name, i.source, i.confidence) for i in result.items] == [
        (1, "Music", "model", pytest.approx(0.95)), (4, "Both", "human", None)]
    assert result.unchanged == 1 and result.no_decision == 1


def test_an_unchanged_file_is_checked_for_damage_once_per_process_and_again_once_written(tmp_path: Path,
                                                                                        monkeypatch) -> None:
    from audioid_gui.core import store

    path = tmp_path / "p.audioid"
    synthetic_project(path, ["/a/1.mp3"])[0].close()
    checks = []
    real_damage = store.damage
    monkeypatch.setattr(store, "damage", lambda db, p: checks.append(p) or real_damage(db, p))
    Project(path, writer=True).close()
    with Project(path) as helper:  # a background job's own connection: the file is as it was checked
        assert helper.classes()
    assert len(checks) == 1
    root, = sqlite3.connect(path).execute("SELECT rootpage FROM sqlite_master WHERE name = 'features'").fetchone()
    with open(path, "r+b") as f:  # a failing disk overwrites a page
        f.seek((root - 1) * 4096)
        f.write(os.urandom(4096))
    with pytest.raises(store.ProjectDamagedError):
        Project(path)


def test_new_predictions_show_in_the_table_without_losing_the_place(tmp_path: Path, qtbot) -> None:
    project, _ = synthetic_project(tmp_path / "p.audioid", [f"/a/{i}.mp3" for i in range(1, 4)])
    model = TrackTableModel()
    view = TrackTableView(model)
    qtbot.addWidget(view)
    view.show()
    model.set_project(project)
    view.select_row(2)
    column = [key for _, key in COLUMNS].index("predicted")
    assert model.data(model.index(2, column)) == ""
    model_id = project.save_model(VERSION, str(project.segment), ["Music", "Dialogue"], {}, 4, b"")
    project.save_predictions(model_id, np.array([1, 2, 3]), ["Music", "Dialogue"],
                             np.array([[0.6, 0.4], [0.9, 0.1], [0.2, 0.8]], dtype=np.float32))
    model.predictions_changed()
    assert [model.data(model.index(row, column)) for row in range(3)] == ["Music", "Music", "Dialogue"]
    assert view.current_track_id() == 3
    project.close()


def test_feature_table_puts_names_that_are_not_utf8_after_the_others_as_sqlite_does(tmp_path: Path) -> None:
    odd = os.fsencode("/a/") + b"b\xff.mp3"
    project, vectors = synthetic_project(tmp_path / "p.audioid", [odd, "/a/z.mp3", "/a/a.mp3"])
    with project:
        table = project.feature_table(VERSION)
    assert table.track_ids.tolist() == [3, 2, 1] and table.paths[2] == os.fsdecode(odd)
    assert np.array_equal(table.matrix, vectors[[2, 1, 0]])
