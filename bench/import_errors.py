"""How long importing a playlist of missing files takes, against reading that playlist alone.

    python bench/import_errors.py [--sizes 20000 200000]

A playlist exported on another machine can name tens of thousands of files this one lacks; each
becomes one error record.  Recording them was quadratic once (a transaction and an unindexed check
per entry: 15 s for 20,000).  For each size, an m3u8 of that many missing entries is written and
three figures are printed, measured in the same run on the same machine:

- reading the playlist (``read_playlist``): the baseline, parsing every line;
- checking its entries (``Playlist.importable``): one stat per entry;
- importing it into a fresh project (``Project.import_sources``): all of the above, then every
  error recorded, and the import reported.

Target: the import a small multiple of the reading, growing linearly with the size (200,000
entries in seconds), and a second import of the same playlist (every error already recorded) no
slower than the first.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

from audioid_gui.core.playlists import read_playlist
from audioid_gui.core.project import Project


def seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def missing_playlist(folder: Path, size: int) -> Path:
    """An m3u8 of ``size`` entries, none of which exists."""
    path = folder / f"missing {size}.m3u8"
    path.write_text("#EXTM3U\n" + "".join(f"gone/{i // 1000:03d}/{i:07d}.mp3\n" for i in range(size)),
                    encoding="utf-8")
    return path


def measure(folder: Path, size: int) -> None:
    playlist = missing_playlist(folder, size)
    reading = seconds(lambda: read_playlist(playlist))
    checking = seconds(lambda: read_playlist(playlist).importable())
    with Project(folder / f"bench {size}.audioid") as project:
        first = seconds(lambda: project.import_sources([playlist]))
        again = seconds(lambda: project.import_sources([playlist]))
        recorded = project.db.execute("SELECT count(*) FROM errors").fetchone()[0]
    assert recorded == size, f"{recorded:,} error records for {size:,} missing entries"
    for name, value in (("read", reading), ("read + check", checking), ("import", first), ("import again", again)):
        print(f"{size:>9,} entries  {name:<14}{value:8.2f} s  {value / reading:6.1f}x reading")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            measure(Path(folder), size)


if __name__ == "__main__":
    main()
