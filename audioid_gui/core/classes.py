"""The classes a project sorts tracks into: names, shortcut keys, colours and the genre text to write.

Classes are data, not code: a project starts with Music / Dialogue / Both, and users may define
genres instead.  Each class has one shortcut key so that labeling is one key press per track.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelClass:
    """One class of a project's class set."""

    name: str
    key: str | None
    color: str
    genre: str


DEFAULT_CLASSES: tuple[LabelClass, ...] = (
    LabelClass("Music", "M", "#2e86de", "Music"),
    LabelClass("Dialogue", "D", "#e67e22", "Dialogue"),
    LabelClass("Both", "B", "#27ae60", "Both"),
)
