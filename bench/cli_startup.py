"""How long an ``audioid`` command takes from start to exit, against bare Python start-up.

    python bench/cli_startup.py [--runs 10]

A script that labels 10 tracks runs ``audioid label`` 10 times, so each command's start-up is paid
10 times: it should cost little more than the interpreter's own.  Each command runs ``--runs``
times in a fresh process over a small project (the demo clips, imported without features); the
mean wall time is printed beside two baselines measured in the same run on the same machine:

- ``python -c pass``: the floor, what any Python command costs;
- ``python -c "import numpy, sklearn"``: what a command paid when it imported the numeric stack
  whether it needed it or not.

Target: ``--help`` at the floor; the commands that open a project pay for numpy (which the
project module imports) and nothing heavier, well below the numeric-stack baseline.  ``status``
also pays for the feature module, whose version it reports.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from audioid_gui.core.demo import demo_sources
from audioid_gui.core.project import Project

CLI = [sys.executable, "-m", "audioid_gui.cli"]


def mean_seconds(command: Sequence[str], runs: int) -> float:
    """Mean wall time of ``command`` in fresh processes, after one unmeasured warm-up run (so the
    file cache is the same for every figure)."""
    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.mean(times)


def small_project(folder: Path) -> tuple[Path, str]:
    """A project holding the demo clips (imported, not extracted) and the path of one of them."""
    path = folder / "bench.audioid"
    with Project(path) as project:
        project.import_sources(demo_sources())
        return path, project.track_paths()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project, track = small_project(Path(folder))
        at = ["--project", str(project)]
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import numpy, sklearn'": [sys.executable, "-c", "import numpy, sklearn"],
            "audioid --help": [*CLI, "--help"],
            "audioid status": [*CLI, "status", *at],
            "audioid label": [*CLI, "label", track, "Music", *at],
            "audioid errors": [*CLI, "errors", *at],
        }
        print(f"mean of {args.runs} runs each, fresh process per run")
        floor = heavy = 0.0
        for name, command in commands.items():
            seconds = mean_seconds(command, args.runs)
            floor = floor or seconds
            heavy = heavy or (seconds if "sklearn" in name else 0.0)
            against = f"{seconds / floor:5.1f}x python" + (f"  {seconds / heavy:5.2f}x numpy+sklearn" if heavy else "")
            print(f"{name:<36}{seconds:7.3f} s   {against}")


if __name__ == "__main__":
    main()
