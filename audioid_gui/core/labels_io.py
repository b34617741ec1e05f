"""Labels in and out of a project as files: CSV (``path,label``) and the journal's JSON.

The journal's first labeling tool wrote ``{"file name": "Music"}``; a project should take those
labels in rather than make a person listen again.  Tracks are matched by path, else by file name
when that name is unique in the project; classes by name (any case) or by shortcut key.

A path may hold anything a file name can: commas, quotes, newlines (CSV quotes them, so the file is
parsed as CSV as a whole, never line by line) and bytes that are not UTF-8 (written and read back
as they are, with surrogate escapes, so that the label finds its file again).
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TextIO

from .library import NotAFileError, canonical_path, read_regular_file, readable
from .project import Project

log = logging.getLogger(__name__)

MAX_LABEL_FILE_BYTES = 256 * 1024 * 1024


class LabelFileError(Exception):
    """The file as a whole cannot be read as labels."""


@dataclass
class LabelImport:
    imported: int = 0
    unknown_tracks: list[str] = field(default_factory=list)
    ambiguous_tracks: list[str] = field(default_factory=list)
    unknown_classes: dict[str, int] = field(default_factory=dict)  # label text → how many rows


def export_labels(project: Project, path: Path) -> int:
    """Write the current label of every labelled track as CSV; returns the number of rows."""
    with open(path, "w", newline="", encoding="utf-8", errors="surrogateescape") as out:
        return write_labels(project, out)


def write_labels(project: Project, out: TextIO) -> int:
    """``export_labels`` into an open stream (standard output, for a pipe)."""
    labels = project.current_labels()
    writer = csv.writer(out)
    writer.writerow(["path", "label"])
    writer.writerows(labels.items())
    return len(labels)


_HEADERS = {(first, second) for first in ("path", "file", "filename", "file name", "name", "track")
            for second in ("label", "class", "genre", "category")}


def read_label_file(path: Path) -> list[tuple[str, str]]:
    """(track as written, label) pairs from a CSV or JSON file."""
    name = readable(Path(path).name)
    try:
        text = read_regular_file(path, MAX_LABEL_FILE_BYTES).decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    except NotAFileError as exc:
        raise LabelFileError(f"{name}: {exc.strerror}, so not a label file") from None
    except ValueError as exc:  # over the size limit
        raise LabelFileError(f"{name}: {exc}, not a label file") from None
    except OSError as exc:
        raise LabelFileError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    if Path(path).suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LabelFileError(f"{name}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise LabelFileError(f'{name}: expected an object {{"file name": "label"}}')
        return [(str(k), str(v)) for k, v in data.items()]
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r and any(cell.strip() for cell in r)]
    except csv.Error as exc:
        raise LabelFileError(f"{name}: not valid CSV ({exc})") from None
    if rows and len(rows[0]) >= 2 and (rows[0][0].strip().lower(), rows[0][1].strip().lower()) in _HEADERS:
        rows = rows[1:]
    bad = [r for r in rows if len(r) < 2]
    if bad:
        raise LabelFileError(f"{name}: expected two columns path,label; found {bad[0]!r}")
    return [(r[0].strip(), r[1].strip()) for r in rows]


class LabelMatcher:
    """Finds tracks and classes as people write them: a path (absolute, or relative to ``base``)
    else a file name; a class name or its key, in any case."""

    def __init__(self, project: Project, base: Path) -> None:
        self.base = base
        self.by_path = {p: i for i, p in project.paths_by_id().items()}
        self.by_name: dict[str, list[int]] = {}
        for track_path, track_id in self.by_path.items():
            self.by_name.setdefault(os.path.basename(track_path), []).append(track_id)
        self.classes: dict[str, str] = {}
        for c in project.classes():
            self.classes[c.name.lower()] = c.name
            if c.key:
                self.classes.setdefault(c.key.lower(), c.name)

    def tracks(self, written: str) -> list[int]:
        """Every track the text may mean: one, none, or several (a file name used twice)."""
        candidate = str(canonical_path(written if os.path.isabs(written) else self.base / written))
        if candidate in self.by_path:
            return [self.by_path[candidate]]
        return self.by_name.get(os.path.basename(written.replace("\\", "/")), [])

    def class_name(self, written: str) -> Optional[str]:
        return self.classes.get(written.strip().lower())


def import_labels(project: Project, path: Path, source: str = "import") -> LabelImport:
    """Apply a label file to the project: one transaction per class, unknown entries reported."""
    pairs = read_label_file(path)
    matcher = LabelMatcher(project, Path(path).resolve().parent)
    result = LabelImport()
    grouped: dict[str, list[int]] = {}
    for written, label in pairs:
        class_name = matcher.class_name(label)
        if class_name is None:
            result.unknown_classes[label] = result.unknown_classes.get(label, 0) + 1
            continue
        track_ids = matcher.tracks(written)
        if not track_ids:
            result.unknown_tracks.append(written)
        elif len(track_ids) > 1:
            result.ambiguous_tracks.append(written)
        else:
            grouped.setdefault(class_name, []).append(track_ids[0])
    for class_name, track_ids in grouped.items():
        project.set_labels(track_ids, class_name, source)
        result.imported += len(track_ids)
    return result
