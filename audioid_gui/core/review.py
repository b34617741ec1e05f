"""Playlist review: hear a random sample of a playlist, measure what it holds, refine it.

The journal checked each cluster and each predicted class by playing a random sample of an m3u
and counting answers ("M: 0.21 D: 0.33 B: 0.46 — Music & Both: 67%").  Here a review belongs to a
playlist and lives in the project: the sample is drawn in a seeded random order, never draws a
track twice, grows on demand, and survives restarts.  The answers are ordinary labels given by ear
(source ``review``), so they count for training as well.

Ratios come with Wilson 95 % intervals; with an intended class, the number of wrong tracks in the
whole playlist is estimated with its interval.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .clustering import wilson_interval
from .learning import TrainingOptions
from .playlists import PlaylistEntry, write_m3u
from .project import Project, ReviewRecord
from .tracklist import track_rows


class ReviewError(ValueError):
    """The review cannot go on; the message says why."""


@dataclass(frozen=True)
class Ratio:
    name: str
    count: int
    total: int

    @property
    def ratio(self) -> float:
        return self.count / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.count, self.total)


@dataclass
class ReviewReport:
    playlist: str
    playlist_size: int
    drawn: int  # sample tracks drawn so far (still in the playlist)
    answered: int  # of those, labelled by ear
    classes: list[Ratio]
    groups: list[Ratio]
    intended: Optional[str] = None
    wrong: Optional[tuple[float, float, float]] = None  # estimated wrong tracks in the playlist: value, low, high
    model_agreement: Optional[Ratio] = None
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"{self.playlist}: {self.answered:,} of {self.drawn:,} sampled tracks answered "
                 f"({self.playlist_size:,} in the playlist)"]
        for r in self.classes + self.groups:
            low, high = r.interval
            lines.append(f"  {r.name:<18}{r.count:>5,}  {r.ratio:6.1%}   95% interval {low:.1%}–{high:.1%}")
        if self.wrong is not None:
            value, low, high = self.wrong
            lines.append(f"  not {self.intended}: about {value:,.0f} tracks of {self.playlist_size:,} "
                         f"(95% interval {low:,.0f}–{high:,.0f})")
        if self.model_agreement is not None and self.model_agreement.total:
            a = self.model_agreement
            lines.append(f"  the model agrees with the reviewer on {a.count} of {a.total} ({a.ratio:.0%})")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def rows(self) -> list[tuple[str, str, int, int, float, float, float]]:
        """(kind, name, count, answered, ratio, low, high) for CSV and Markdown."""
        out = [("class", r.name, r.count, r.total, r.ratio, *r.interval) for r in self.classes]
        out += [("group", r.name, r.count, r.total, r.ratio, *r.interval) for r in self.groups]
        return out

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["kind", "name", "count", "answered", "ratio", "low95", "high95"])
        for kind, name, count, total, ratio, low, high in self.rows():
            writer.writerow([kind, name, count, total, f"{ratio:.4f}", f"{low:.4f}", f"{high:.4f}"])
        return buffer.getvalue()

    def markdown(self) -> str:
        lines = [f"# Review of {self.playlist}", "",
                 f"{self.answered:,} of {self.drawn:,} sampled tracks answered; {self.playlist_size:,} tracks "
                 "in the playlist.", "", "| | count | share | 95 % interval |", "|---|---:|---:|---|"]
        for _, name, count, _, ratio, low, high in self.rows():
            lines.append(f"| {name} | {count} | {ratio:.1%} | {low:.1%} – {high:.1%} |")
        if self.wrong is not None:
            value, low, high = self.wrong
            lines += ["", f"Tracks that are not {self.intended}: about {value:,.0f} "
                          f"(95 % interval {low:,.0f} – {high:,.0f})."]
        if self.model_agreement is not None and self.model_agreement.total:
            a = self.model_agreement
            lines += ["", f"The model agrees with the reviewer on {a.count} of {a.total} tracks ({a.ratio:.0%})."]
        return "\n".join(lines) + "\n"


def default_groups(class_names: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The journal's grouping when the project has its classes: music at all, speech at all."""
    names = set(class_names)
    groups = {}
    if {"Music", "Both"} <= names:
        groups["Music + Both"] = ("Music", "Both")
    if {"Dialogue", "Both"} <= names:
        groups["Dialogue + Both"] = ("Dialogue", "Both")
    return groups


def open_review(project: Project, playlist: str, intended: Optional[str] = None,
                seed: Optional[int] = None) -> ReviewRecord:
    if intended and intended not in {c.name for c in project.classes()}:
        raise ReviewError(f"No class {intended!r}; the project has: {', '.join(c.name for c in project.classes())}")
    record = project.review(playlist, intended, seed)
    if record is None:
        have = ", ".join(project.playlist_names()) or "none yet"
        raise ReviewError(f"No playlist named {playlist!r} in this project (it has: {have}). "
                          "Give the playlist file to import it.")
    return record


def draw(project: Project, record: ReviewRecord, size: Optional[int] = None,
         fraction: Optional[float] = None) -> list[int]:
    """Add tracks to the sample — ``size`` of them, or a ``fraction`` of the playlist — never one
    drawn before; fewer when the playlist runs out.  Returns the newly drawn track ids."""
    tracks = project.playlist_track_ids(record.playlist) or []
    if not tracks:
        raise ReviewError(f"The playlist {record.playlist!r} is empty: nothing to review.")
    wanted = size if size is not None else int(np.ceil((fraction or 0) * len(tracks)))
    drawn = set(record.items)
    order = np.random.default_rng(record.seed).permutation(len(tracks))
    new = [tracks[i] for i in order if tracks[i] not in drawn][:max(0, wanted)]
    if new:
        project.add_review_items(record.id, new)
        record.items.extend(new)
    return new


def pending(project: Project, record: ReviewRecord) -> list[int]:
    """Sample tracks still in the playlist that nobody has labelled by ear yet, in drawing order."""
    in_playlist = set(project.playlist_track_ids(record.playlist) or [])
    labels = project.track_labels()
    return [t for t in record.items
            if t in in_playlist and (t not in labels or not labels[t].heard)]


def report(project: Project, record: ReviewRecord) -> ReviewReport:
    tracks = project.playlist_track_ids(record.playlist) or []
    in_playlist = set(tracks)
    sample = [t for t in record.items if t in in_playlist]
    labels = project.track_labels()
    answers = {t: labels[t].class_name for t in sample if t in labels and labels[t].heard}
    names = [c.name for c in project.classes()]
    total = len(answers)
    values = list(answers.values())
    result = ReviewReport(
        playlist=record.playlist, playlist_size=len(tracks), drawn=len(sample), answered=total,
        classes=[Ratio(n, values.count(n), total) for n in names],
        groups=[Ratio(g, sum(values.count(n) for n in members), total)
                for g, members in default_groups(names).items()],
        intended=record.intended,
    )
    gone = len(record.items) - len(sample)
    if gone:
        result.notes.append(f"{gone:,} sampled tracks are no longer in the playlist and are left out")
    if record.intended and total:
        wrong = total - values.count(record.intended)
        low, high = wilson_interval(wrong, total)
        n = len(tracks)
        result.wrong = (n * wrong / total, n * low, n * high)
    predicted = project.predicted_class_of(list(answers)) if answers else {}
    if predicted:
        options = TrainingOptions.of(project)
        compared = [t for t in answers if t in predicted]
        agree = sum(predicted[t] == options.target(answers[t]) for t in compared)
        result.model_agreement = Ratio("model agrees", agree, len(compared))
    return result


def refined_playlists(project: Project, playlist: str, folder: Path, min_confidence: float = 0.9) -> dict[str, Path]:
    """One ``refined_<class>.m3u`` per class: each track of the playlist goes to the class it was
    labelled by ear, else to the class the model predicts with at least ``min_confidence``; tracks
    neither heard nor predicted surely enough are left out.  Entries keep duration and
    "artist - title", with paths relative to the playlists."""
    tracks = project.playlist_track_ids(playlist)
    if tracks is None:
        raise ReviewError(f"No playlist named {playlist!r} in this project.")
    labels = project.track_labels()
    stored = project.predictions()
    predicted: dict[int, tuple[str, float]] = {}
    if stored is not None:
        best = stored.probabilities.argmax(axis=1)
        for t, b, p in zip(stored.track_ids.tolist(), best, stored.probabilities.max(axis=1)):
            predicted[t] = (stored.classes[b], float(p))
    rows = track_rows(project, tracks)
    groups: dict[str, list[PlaylistEntry]] = {}
    for t in tracks:
        label = labels.get(t)
        if label is not None and label.heard:
            name = label.class_name
        elif t in predicted and predicted[t][1] >= min_confidence:
            name = predicted[t][0]
        else:
            continue
        row = rows[t]
        artist, title = row.tags.get("artist"), row.tags.get("title")
        shown = f"{artist} - {title}" if artist and title else title or None
        groups.setdefault(name, []).append(PlaylistEntry(Path(row.path), shown, row.duration))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, entries in groups.items():
        path = folder / f"refined_{''.join(ch if ch.isalnum() or ch in '-_' else '_' for ch in name)}.m3u"
        write_m3u(path, entries)
        written[name] = path
    return written
