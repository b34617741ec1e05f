"""Where the bundled demo library lives: clips the project synthesised itself, and playlists over
them, so that a new user (and every test) has something real to open."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_AUDIO = REPO_ROOT / "resources" / "demo"
DEMO_PLAYLISTS = REPO_ROOT / "sample_playlists"


def demo_sources(copy_to: Optional[Path] = None) -> list[Path]:
    """The demo folder and every playlist over it, ready for ``Project.import_sources``.

    With ``copy_to``, the clips and playlists are copied there first (once) and the copies are
    returned: a user's demo project may then write tags into its files without touching the
    project's own.
    """
    if not DEMO_AUDIO.is_dir():
        raise FileNotFoundError(
            f"The demo clips are not at {DEMO_AUDIO}; run from a checkout of the project (pip install -e .)"
        )
    audio, playlists = DEMO_AUDIO, DEMO_PLAYLISTS
    if copy_to is not None:
        # Same layout as the checkout, so the playlists' relative entries point at the copies.
        audio, playlists = Path(copy_to) / "resources" / "demo", Path(copy_to) / "sample_playlists"
        for source, target in ((DEMO_AUDIO, audio), (DEMO_PLAYLISTS, playlists)):
            if not target.is_dir():
                shutil.copytree(source, target)
    return [audio, *sorted(playlists.glob("*.m3u*"))]
