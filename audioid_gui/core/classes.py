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

GENRE_PRESET: tuple[LabelClass, ...] = tuple(
    LabelClass(name, key, color, name)
    for name, key, color in (
        ("Rock", "1", "#c0392b"),
        ("Pop", "2", "#e84393"),
        ("Jazz", "3", "#8e44ad"),
        ("Classical", "4", "#2980b9"),
        ("Electronic", "5", "#16a085"),
        ("Hip-Hop", "6", "#d35400"),
        ("Country", "7", "#b7950b"),
        ("Folk", "8", "#7f8c8d"),
        ("Speech", "9", "#34495e"),
    )
)
PRESETS: dict[str, tuple[LabelClass, ...]] = {
    "Music / Dialogue / Both": DEFAULT_CLASSES,
    "Common genres": GENRE_PRESET,
}


def class_set_problems(classes: list[LabelClass]) -> list[str]:
    """What is wrong with a class set, in words for the user; empty when it can be saved."""
    problems = []
    names = [c.name.strip() for c in classes]
    if not classes:
        problems.append("A project needs at least one class.")
    if any(not n for n in names):
        problems.append("Every class needs a name.")
    for name in sorted({n for n in names if n and names.count(n) > 1}):
        problems.append(f"The name {name!r} is used twice.")
    keys = [c.key.upper() for c in classes if c.key]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"The key {key!r} is used by two classes.")
    for c in classes:
        if c.key and (len(c.key) != 1 or not c.key.isalnum()):
            problems.append(f"{c.name}: a shortcut is one letter or digit, not {c.key!r}.")
    return problems
