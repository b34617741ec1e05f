"""The track list as a person browses it: filtered, sorted, fetched a page at a time.

A table over 30,000 tracks must not copy them all into Python objects on every repaint.  So the
list is two queries: ``track_ids`` gives the ordered ids for a filter (one integer per row, cheap
to hold), and ``track_rows`` fetches the columns of just the rows on screen.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from . import store
from .audio import AnalysedSegment
from .library import loaded_path
from .project import Project, listed_ints

log = logging.getLogger(__name__)

# A track's current label is its newest label row (the index labels_by_track makes this a seek).
_LABEL_JOIN = """
    LEFT JOIN labels l ON l.id = (SELECT max(id) FROM labels WHERE track_id = t.id)
    LEFT JOIN classes c ON c.id = l.class_id
"""
_PREDICTION_JOIN = "LEFT JOIN predictions pr ON pr.track_id = t.id"
_FROM = f"FROM tracks t {_LABEL_JOIN} {_PREDICTION_JOIN}"

SORT_KEYS = {
    "name": "basename(t.path)",
    "folder": "t.path",
    "duration": "t.duration",
    "label": "c.name",
    "source": "CASE WHEN c.name IS NULL THEN NULL ELSE l.source END",
    "genre": "json_extract(t.tags, '$.genre')",
    "predicted": "pr.class",
    "confidence": "pr.confidence",
}
_NEEDS_LABELS = frozenset({"source"})  # the sort keys read with a join of each row's label
NEEDS_PREDICTIONS = frozenset({"predicted", "confidence"})  # the sort keys that a new model changes


@dataclass(frozen=True)
class TrackFilter:
    """What the table shows: a text that the path must contain, and at most one quick filter."""

    text: str = ""
    ids: Optional[tuple[int, ...]] = None  # a chosen list, shown in its order: a cluster, a sample, the queue
    predicted: Optional[str] = None  # the model predicts this class …
    below_confidence: Optional[float] = None  # … with less than this confidence
    unlabelled: bool = False
    class_name: Optional[str] = None
    playlist: Optional[str] = None
    failed: bool = False


@dataclass(frozen=True)
class TrackRow:
    id: int
    path: str
    duration: Optional[float]
    label: Optional[str]
    source: Optional[str]
    tags: dict[str, str]
    error: Optional[str]
    predicted: Optional[str] = None
    confidence: Optional[float] = None
    analysed: Optional[AnalysedSegment] = None  # where the features' samples lie; None: not extracted yet

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def folder(self) -> str:
        return os.path.dirname(self.path)

    @property
    def genre(self) -> Optional[str]:
        return self.tags.get("genre")


def track_ids(project: Project, flt: TrackFilter = TrackFilter(), sort: Optional[str] = None,
              descending: bool = False, names: Optional[NameRanks] = None) -> list[int]:
    """Ids of the tracks that pass the filter, in display order.

    Without a sort key: the chosen list's order, or playlist order, else by path.  A sort key
    orders them in NumPy, stably, so that equal keys keep that order.  A million tracks: SQLite
    hands the ids over as one text (a million Python tuples took 0.7 s, the text 0.2 s), and the
    label filters and the name, label and confidence sorts look their values up in arrays (``names``
    keeps the name ranks between sorts) instead of joining them to every row, which took 1 to 4 s.
    """
    looked_up = _LOOKED_UP.get(sort) if sort is not None else None
    ids, keys = _listed(project, flt, None if looked_up else sort)
    shown = _label_filter(project, flt, ids)
    if shown is not None:
        ids, keys = ids[shown], None if keys is None else [keys[r] for r in np.flatnonzero(shown)]
    if looked_up is not None:
        values, present = looked_up(project, ids, names or NameRanks())
        ids = ids[_ranked(values, present, descending)]
    elif keys is not None:
        ids = ids[_stable_order(keys, descending)]
    elif descending:
        ids = ids[::-1]
    return ids.tolist()


def _listed(project: Project, flt: TrackFilter, sort: Optional[str]) -> tuple[np.ndarray, Optional[list]]:
    """The ids that pass the filter's conditions on the path, the predictions and the errors, in
    the list's or the path order, each once; with a ``sort`` key, the keys of these rows too."""
    joins, join_params = [], []  # joins come before WHERE in the SQL, and so do their parameters
    where, params = ["1"], []
    order = "t.path"
    if flt.ids is not None:
        joins.append("JOIN json_each(?) chosen ON chosen.value = t.id")
        join_params.append(json.dumps(list(flt.ids)))
        order = "chosen.key"
    if flt.playlist is not None:
        joins.append("JOIN playlist_tracks pt ON pt.track_id = t.id "
                     "JOIN playlists p ON p.id = pt.playlist_id AND p.name = ?")
        join_params.append(flt.playlist)
        order = "pt.position"
    if flt.text:
        where.append("instr(lower(t.path), lower(?)) > 0")
        params.append(flt.text)
    if flt.predicted is not None:
        where.append("pr.class = ?")
        params.append(flt.predicted)
    if flt.below_confidence is not None:
        where.append("pr.confidence < ?")
        params.append(flt.below_confidence)
    if flt.failed:
        where.append("EXISTS (SELECT 1 FROM errors e WHERE e.track_id = t.id)")
    predictions = flt.predicted is not None or flt.below_confidence is not None or sort in NEEDS_PREDICTIONS
    tables = [_LABEL_JOIN if sort in _NEEDS_LABELS else "", _PREDICTION_JOIN if predictions else ""]
    key = f", {SORT_KEYS[sort]}" if sort is not None else ""
    select = (f"SELECT t.id{key} FROM tracks t {' '.join(tables)} {' '.join(joins)} "
              f"WHERE {' AND '.join(where)} ORDER BY {order}")
    keys = None
    if sort is None:
        ids = listed_ints(project.db.execute(f"SELECT group_concat(id) FROM ({select})", join_params + params).fetchone()[0])
    else:
        rows = project.db.execute(select, join_params + params).fetchall()
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        keys = [row[1] for row in rows]
    if flt.playlist is not None or flt.ids is not None:  # a list may name a track twice: show it once
        first = np.sort(np.unique(ids, return_index=True)[1])
        ids, keys = ids[first], None if keys is None else [keys[r] for r in first]
    return ids, keys


def _current_classes(project: Project) -> tuple[np.ndarray, np.ndarray]:
    """The labelled tracks and the class id of each one's newest label; a track whose
    newest label cleared it is not among them."""
    tracks, classes = (listed_ints(text) for text in project.db.execute(
        "SELECT group_concat(track_id), group_concat(coalesce(class_id, -1)) "
        "FROM (SELECT track_id, class_id FROM labels ORDER BY track_id, id)").fetchone())
    newest = np.ones(len(tracks), dtype=bool)
    newest[:-1] = tracks[1:] != tracks[:-1]
    newest &= classes != -1
    return tracks[newest], classes[newest]


def _label_filter(project: Project, flt: TrackFilter, ids: np.ndarray) -> Optional[np.ndarray]:
    """Which of ``ids`` the unlabelled and the class filter keep; None when neither is on."""
    if not flt.unlabelled and flt.class_name is None:
        return None
    tracks, classes = _current_classes(project)
    shown = np.ones(len(ids), dtype=bool)
    if flt.unlabelled:
        shown &= ~np.isin(ids, tracks)
    if flt.class_name is not None:
        class_id = project.db.execute("SELECT id FROM classes WHERE name = ?", (flt.class_name,)).fetchone()
        shown &= np.isin(ids, tracks[classes == class_id[0]] if class_id else tracks[:0])
    return shown


def _lookup(ids: np.ndarray, tracks: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values of ``ids`` among ``tracks`` (each once, in any order), and which ids are there at
    all.  Track ids are dense, so a table indexed by id is small, and a million look-ups in it take
    10 ms where a binary search took 0.2 s."""
    if not len(tracks) or not len(ids):
        return np.zeros(len(ids), dtype=values.dtype), np.zeros(len(ids), dtype=bool)
    size = max(int(tracks.max()), int(ids.max())) + 1
    if size > 4 * (len(tracks) + len(ids)):  # ids far apart: search instead of a mostly empty table
        order = np.argsort(tracks)
        at = order[np.minimum(np.searchsorted(tracks, ids, sorter=order), len(tracks) - 1)]
        return values[at], tracks[at] == ids
    at = np.full(size, -1, dtype=np.int64)
    at[tracks] = np.arange(len(tracks))
    found = at[ids]
    return values[found], found >= 0


def _label_values(project: Project, ids: np.ndarray, _names: NameRanks) -> tuple[np.ndarray, np.ndarray]:
    """The rank of each track's class name among the class names; unlabelled tracks have none."""
    by_name = np.array([c for _, c in sorted(project.db.execute("SELECT name, id FROM classes"))], dtype=np.int64)
    tracks, classes = _current_classes(project)
    by_id = np.argsort(by_name)
    return _lookup(ids, tracks, by_id[np.searchsorted(by_name[by_id], classes)])


def _confidence_values(project: Project, ids: np.ndarray, _names: NameRanks) -> tuple[np.ndarray, np.ndarray]:
    """Each track's confidence, in units of 2**-53: exact for a probability of at least 0.5 and for
    any that a float32 holds (a model's are), and read as integers, since SQLite writes a million
    floats as text in 0.6 s and NumPy reads them back in 0.3 s."""
    tracks, values = project.db.execute(
        "SELECT group_concat(track_id), group_concat(CAST(confidence * 9007199254740992 AS INTEGER)) "
        "FROM predictions").fetchone()
    return _lookup(ids, listed_ints(tracks), listed_ints(values))


def _name_values(project: Project, ids: np.ndarray, names: NameRanks) -> tuple[np.ndarray, np.ndarray]:
    return names.values(project, ids)


_NO_RANKS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


class NameRanks:
    """Every track's place in file-name order, kept between sorts.  Ranking a million names takes
    1.3 s, so ``warm`` ranks them on a thread of its own, with a connection of its own, as soon as
    the project is shown, and a sort by name then only looks them up (0.1 s); one that comes before
    they are ready waits for the rest.  A project never renames or removes a track, so the ranks
    stay right as tracks are added: a track they do not know makes a sort rank all names again."""

    def __init__(self) -> None:
        self._tracks, self._ranks = _NO_RANKS
        self._warming: Optional[tuple[threading.Thread, list]] = None

    def warm(self, path: Path) -> None:
        """Rank the names of the tracks of the project at ``path`` in the background."""
        self._tracks, self._ranks = _NO_RANKS
        made: list = []

        def rank() -> None:
            try:
                db = store.connect(path, create=False, read_only=True)
                try:
                    made.append(_name_ranks(db))
                finally:
                    db.close()
            except Exception as exc:  # the next sort by name ranks them itself, and says what is wrong
                log.warning("could not rank the track names in the background: %s", exc)

        self._warming = (threading.Thread(target=rank, name="name ranks", daemon=True), made)
        self._warming[0].start()

    def values(self, project: Project, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._warming is not None:
            thread, made = self._warming
            thread.join()
            self._warming = None
            if made:
                self._tracks, self._ranks = made[0]
        ranks, known = _lookup(ids, self._tracks, self._ranks)
        if not known.all():
            self._tracks, self._ranks = _name_ranks(project.db)
            ranks, known = _lookup(ids, self._tracks, self._ranks)
        return ranks, known


def _name_ranks(db: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray]:
    """All tracks and the rank of each one's file name (equal names, equal ranks).  The
    names are compared as the UTF-8 of their text, which orders as the text does; a name that is
    not UTF-8 as the file system decodes it (its stray bytes as surrogates, passed through)."""
    tracks, paths = db.execute(
        "SELECT group_concat(id), CAST(group_concat(path, char(0)) AS BLOB) FROM tracks").fetchone()
    if tracks is None:
        return _NO_RANKS
    text = paths if paths.isascii() else os.fsdecode(paths).encode("utf-8", "surrogatepass")
    names = np.array([path.rpartition(b"/")[2] for path in text.split(b"\0")], dtype=bytes)
    order = np.argsort(names, kind="stable")
    in_order = names[order]
    ranks = np.empty(len(names), dtype=np.int64)
    ranks[order] = np.cumsum(np.concatenate([[0], in_order[1:] != in_order[:-1]]))
    return listed_ints(tracks), ranks


def _ranked(values: np.ndarray, present: np.ndarray, descending: bool) -> np.ndarray:
    """The positions of the present ``values`` (numbers) sorted ascending or descending, equal ones
    in their given order, then the positions of the absent ones, whichever the direction."""
    rows = np.flatnonzero(present)
    keys = values[rows]
    ranked = rows[np.argsort(-keys if descending else keys, kind="stable")]
    return np.concatenate([ranked, np.flatnonzero(~present)])


_LOOKED_UP = {"name": _name_values, "label": _label_values, "confidence": _confidence_values}


def _stable_order(keys: list, descending: bool) -> np.ndarray:
    """The positions of ``keys`` sorted ascending or descending, equal keys in their given order,
    and NULLs last whichever the direction, like every file manager."""
    present = np.array([k is not None for k in keys], dtype=bool)
    rows = np.flatnonzero(present)
    values = _comparable([keys[r] for r in rows])
    if descending:  # reversed, sorted ascending, reversed back: descending with ties kept in order
        ranked = rows[::-1][np.argsort(values[::-1], kind="stable")[::-1]]
    else:
        ranked = rows[np.argsort(values, kind="stable")]
    return np.concatenate([ranked, np.flatnonzero(~present)])


def _comparable(values: list) -> np.ndarray:
    """Numbers as numbers; anything else as text, a name that is not UTF-8 (stored as bytes)
    decoded as the file system does, so that one array holds them all."""
    if all(isinstance(v, (int, float)) for v in values):
        return np.array(values, dtype=np.float64)
    return np.array([os.fsdecode(v) if isinstance(v, bytes) else str(v) for v in values], dtype=str)


def track_rows(project: Project, ids: Sequence[int]) -> dict[int, TrackRow]:
    """The displayed columns of the given tracks."""
    rows: dict[int, TrackRow] = {}
    for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
        chunk = list(ids[start:start + 500])
        marks = ",".join("?" * len(chunk))
        analysed = project.analysed_segments(chunk)
        for r in project.db.execute(
            f"SELECT t.id, t.path, t.duration, c.name, CASE WHEN c.name IS NULL THEN NULL ELSE l.source END, "
            f"t.tags, (SELECT e.stage || ': ' || e.message FROM errors e WHERE e.track_id = t.id LIMIT 1), "
            f"pr.class, pr.confidence {_FROM} WHERE t.id IN ({marks})",
            chunk,
        ):
            rows[r[0]] = TrackRow(r[0], loaded_path(r[1]), r[2], r[3], r[4], json.loads(r[5]) if r[5] else {}, r[6], r[7], r[8],
                                  analysed.get(r[0]))
    return rows
