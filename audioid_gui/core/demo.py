"""Where the bundled demo library lives: clips the project synthesised itself, and playlists over
them, so that a new user (and every test) has something real to open."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_AUDIO = REPO_ROOT / "resources" / "demo"
DEMO_PLAYLISTS = REPO_ROOT / "sample_playlists"


def demo_sources() -> list[Path]:
    """The demo folder and every playlist over it, ready for ``Project.import_sources``."""
    if not DEMO_AUDIO.is_dir():
        raise FileNotFoundError(
            f"The demo clips are not at {DEMO_AUDIO}; run from a checkout of the project (pip install -e .)"
        )
    return [DEMO_AUDIO, *sorted(DEMO_PLAYLISTS.glob("*.m3u*"))]
