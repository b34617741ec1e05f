"""Genre writing speed: the safe writer against a bare mutagen loop.

    python bench/tags.py [--n 2000]

Makes n MP3 files with a 100 kB cover picture (copies of a demo clip), then writes the genre:

- baseline: a bare mutagen loop — open, set TCON, save in place (no copy, no verification, no
  journal, no undo);
- ours: ``tags.apply`` — read, copy beside the file, write the copy, re-read and compare every
  tag, journal in the project, atomic replace, update the project's record of the file.

Prints files/s for both and the ratio: what the safety costs.  Target: ours >= 100 files/s.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from mutagen.id3 import APIC, ID3, TCON, TIT2

from audioid_gui.core.demo import DEMO_AUDIO
from audioid_gui.core.project import Project
from audioid_gui.core.tags import apply, plan


def make_files(folder: Path, n: int) -> list[Path]:
    source = DEMO_AUDIO / "outro 01.mp3"
    first = folder / "clip 00000.mp3"
    shutil.copy(source, first)
    tags = ID3()
    tags.add(TIT2(encoding=3, text=["Outro"]))
    tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="cover", data=bytes(range(256)) * 400))
    tags.save(first)
    files = [first]
    for i in range(1, n):
        files.append(Path(shutil.copy(first, folder / f"clip {i:05d}.mp3")))
    return files


def bare_loop(files: list[Path]) -> float:
    started = time.perf_counter()
    for path in files:
        tags = ID3(path)
        tags.delall("TCON")
        tags.add(TCON(encoding=3, text=["Music"]))
        tags.save(path)
    return len(files) / (time.perf_counter() - started)


def ours(files: list[Path], project_file: Path) -> float:
    with Project(project_file) as project:
        project.import_sources([files[0].parent])
        project.set_labels([project.track_id(p) for p in project.track_paths()], "Dialogue")
        the_plan = plan(project)
        started = time.perf_counter()
        result = apply(project, the_plan)
        seconds = time.perf_counter() - started
        assert result.written == len(files) and not result.errors, result.errors[:3]
    return len(files) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "mp3"
        folder.mkdir()
        files = make_files(folder, args.n)
        size = files[0].stat().st_size / 1024
        base = bare_loop(files)
        safe = ours(files, Path(tmp) / "bench.audioid")
    print(f"{args.n:,} MP3 files of {size:.0f} kB with a 100 kB cover picture")
    print(f"baseline (bare mutagen, in place, no safety): {base:7.0f} files/s")
    print(f"ours (copy, write, verify, journal, replace):  {safe:7.0f} files/s   = {safe / base:.2f}x the baseline "
          "(target >= 100 files/s)")


if __name__ == "__main__":
    main()
