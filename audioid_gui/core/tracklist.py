"""The track list as a person browses it: filtered, sorted, fetched a page at a time.

A table over 30,000 tracks must not copy them all into Python objects on every repaint.  So the
list is two queries: ``track_ids`` gives the ordered ids for a filter (one integer per row, cheap
to hold), and ``track_rows`` fetches the columns of just the rows on screen.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .audio import AnalysedSegment
from .library import loaded_path
from .project import Project

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
_NEEDS_LABELS = frozenset({"label", "source"})
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
              descending: bool = False) -> list[int]:
    """Ids of the tracks that pass the filter, in display order.

    Without a sort key: the chosen list's order, or playlist order, else by path.  A million
    tracks: SQLite hands the rows over in that order (an index scan, joining the labels and the
    predictions only when the filter or the sort asks for them), and a sort key orders them in
    NumPy, stably, so that equal keys keep that order: SQLite's sort of a million rows by the key
    and then the path took seconds.
    """
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
    if flt.unlabelled:
        where.append("c.name IS NULL")
    if flt.class_name is not None:
        where.append("c.name = ?")
        params.append(flt.class_name)
    if flt.predicted is not None:
        where.append("pr.class = ?")
        params.append(flt.predicted)
    if flt.below_confidence is not None:
        where.append("pr.confidence < ?")
        params.append(flt.below_confidence)
    if flt.failed:
        where.append("EXISTS (SELECT 1 FROM errors e WHERE e.track_id = t.id)")
    key = SORT_KEYS[sort] if sort is not None else "NULL"
    labels = flt.unlabelled or flt.class_name is not None or sort in _NEEDS_LABELS
    predictions = flt.predicted is not None or flt.below_confidence is not None or sort in NEEDS_PREDICTIONS
    tables = [_LABEL_JOIN if labels else "", _PREDICTION_JOIN if predictions else ""]
    sql = (f"SELECT t.id, {key} FROM tracks t {' '.join(tables)} {' '.join(joins)} "
           f"WHERE {' AND '.join(where)} ORDER BY {order}")
    rows = project.db.execute(sql, join_params + params).fetchall()
    if flt.playlist is not None or flt.ids is not None:  # a list may name a track twice: show it once
        first: dict[int, tuple] = {}
        for row in rows:
            first.setdefault(row[0], row)
        rows = list(first.values())
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    if sort is not None:
        ids = ids[_stable_order([row[1] for row in rows], descending)]
    elif descending:
        ids = ids[::-1]
    return ids.tolist()


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
