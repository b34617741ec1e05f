"""The track table's order: the look-ups that make a million tracks sort in under a second must
give what sorting the plain rows gives (ties in path order, empty values last both ways)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pytest
from PySide6.QtCore import Qt

from audioid_gui.core.features import VERSION
from audioid_gui.core.library import loaded_path
from audioid_gui.core.project import Project
from audioid_gui.core.tracklist import NameRanks, TrackFilter, track_ids
from audioid_gui.gui.track_table import COLUMNS, TrackTableModel

from .test_scale import synthetic_project

FILTERS = [TrackFilter(), TrackFilter(unlabelled=True), TrackFilter(class_name="Music"),
           TrackFilter(text="B/"), TrackFilter(ids=(9, 3, 9, 40, 1)), TrackFilter(class_name="Nobody")]


def _varied_project(path: Path) -> Project:
    """Names repeated across folders, a name that is not UTF-8, labels given, changed and cleared,
    and predictions for most tracks, some of equal confidence."""
    rng = np.random.default_rng(3)
    folders = ["/m/A", "/m/B", "/m/B/sub", "/m/Ä"]
    names = ["01 intro.mp3", "b.mp3", "a.mp3", "Zed.mp3", "é.mp3", "01 intro.ogg"]
    paths: list[str | bytes] = [f"{folder}/{name}" for folder in folders for name in names]
    paths.append(os.fsencode("/m/B/") + b"caf\xe9.mp3")
    paths = [paths[i] for i in rng.permutation(len(paths))]  # ids in no particular order
    project, _ = synthetic_project(path, paths)
    ids = np.arange(1, len(paths) + 1)
    project.set_labels(ids[rng.random(len(ids)) < 0.4].tolist(), "Music")
    project.set_labels(ids[rng.random(len(ids)) < 0.3].tolist(), "Dialogue")
    project.set_labels(ids[rng.random(len(ids)) < 0.15].tolist(), None)
    predicted = ids[rng.random(len(ids)) < 0.8]
    probabilities = rng.choice([0.55, 0.7, 0.9], size=len(predicted)).astype(np.float32)
    model_id = project.save_model(VERSION, str(project.segment), ["Music", "Dialogue"], {}, 4, b"")
    project.save_predictions(model_id, predicted, ["Music", "Dialogue"], np.c_[probabilities, 1 - probabilities])
    return project


def _plainly(project: Project, flt: TrackFilter, key: Callable[[int], Optional[object]], descending: bool) -> list[int]:
    """The order the plain way: every row in path order (or the chosen list's), filtered and sorted
    in Python, stably, empty values last."""
    if flt.ids is not None:
        rows = list(dict.fromkeys(flt.ids))
        rows = [t for t in rows if project.db.execute("SELECT 1 FROM tracks WHERE id = ?", (t,)).fetchone()]
    else:
        rows = [t for t, in project.db.execute("SELECT id FROM tracks ORDER BY path")]
    paths = dict(project.db.execute("SELECT id, path FROM tracks"))
    labels = project.track_labels()
    rows = [t for t in rows if (not flt.text or flt.text.lower() in loaded_path(paths[t]).lower())
            and (not flt.unlabelled or t not in labels)
            and (flt.class_name is None or (t in labels and labels[t].class_name == flt.class_name))]
    present = [t for t in rows if key(t) is not None]
    return sorted(present, key=key, reverse=descending) + [t for t in rows if key(t) is None]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: repr(f)[12:60])
def test_every_sort_and_filter_gives_the_plain_order(tmp_path: Path, flt: TrackFilter, descending: bool) -> None:
    with _varied_project(tmp_path / "p.audioid") as project:
        paths = dict(project.db.execute("SELECT id, path FROM tracks"))
        labels = project.track_labels()
        confidence = dict(project.db.execute("SELECT track_id, confidence FROM predictions"))
        keys = {"name": lambda t: os.path.basename(loaded_path(paths[t])),
                "label": lambda t: labels[t].class_name if t in labels else None,
                "confidence": confidence.get}
        for sort, key in keys.items():
            assert track_ids(project, flt, sort, descending) == _plainly(project, flt, key, descending), sort
        assert track_ids(project, flt, None, descending) == _plainly(project, flt, lambda t: 0, descending)[
                                                            ::-1 if descending else 1]


def test_ranked_names_take_in_tracks_added_after_them(tmp_path: Path) -> None:
    project, _ = synthetic_project(tmp_path / "p.audioid", ["/x/c.mp3", "/y/a.mp3"])
    with project:
        names = NameRanks()
        assert track_ids(project, sort="name", names=names) == [2, 1]
        project.db.execute("INSERT INTO tracks(id, path, size, mtime, added_at) VALUES (3, '/z/b.mp3', 1, 1.0, 0)")
        assert track_ids(project, sort="name", names=names) == [2, 3, 1]


def test_the_table_sorted_by_name_shows_new_tracks_in_place_after_a_refresh(tmp_path: Path, qtbot) -> None:
    project, _ = synthetic_project(tmp_path / "p.audioid", ["/x/c.mp3", "/y/a.mp3", "/y/e.mp3"])
    with project:
        model = TrackTableModel()
        model.set_project(project)
        model.sort([key for _, key in COLUMNS].index("name"))

        def shown() -> list[str]:
            return [model.data(model.index(row, 0)) for row in range(model.rowCount())]

        assert shown() == ["a.mp3", "c.mp3", "e.mp3"]
        project.db.execute("INSERT INTO tracks(id, path, size, mtime, added_at) VALUES (4, '/z/b.mp3', 1, 1.0, 0)")
        model.refresh()
        assert shown() == ["a.mp3", "b.mp3", "c.mp3", "e.mp3"]
        model.sort([key for _, key in COLUMNS].index("name"), Qt.SortOrder.DescendingOrder)
        assert shown() == ["e.mp3", "c.mp3", "b.mp3", "a.mp3"]
