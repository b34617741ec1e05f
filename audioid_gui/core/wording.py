"""How numbers read in messages: "1 track", "2,345 tracks" — one rule for the window and the CLI."""
from __future__ import annotations

from typing import Optional


def plural(n: int, singular: str, plural_form: Optional[str] = None) -> str:
    """``n`` with thousands separators and the noun agreeing with it ("1 cluster", "0 clusters",
    "1,200 clusters"). Irregular nouns pass their plural ("1 copy", "3 copies")."""
    word = singular if n == 1 else (plural_form or singular + "s")
    return f"{n:,} {word}"
