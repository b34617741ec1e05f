"""The Dask engine's overhead: the local process pool against a local Dask cluster, same files, same machine.

    python bench/cluster_scan.py [--n 24] [--minutes 3] [--workers 2] [--memory-tracks 24,480,1920]

(a) local: ``audioid scan``'s process pool with ``--workers`` processes;
(b) cluster: ``dask scheduler`` and ``dask worker --nworkers N --nthreads 1`` started on loopback
    as the README says (each in its own processes, like LocalCluster's workers, but with the
    scheduler out of this process too), already running and warm when the scan starts, as a
    cluster is; reached through ``--dask``;
(c) the client's memory: what this process holds (tracemalloc) when the first file is done, and
    its peak after, during cluster scans of each ``--memory-tracks`` count of tracks (links to
    the same files, the first second of each): the tasks in flight are bounded, so the peak should
    not follow the count.  (The list of pending tracks, built before, is the project's and grows
    with it, as in a local scan.)

Prints files/s for each (whole scan, and after the first file is done) and the ratio (b)/(a)
(target >= 0.8x).  Files are the MP3s bench/extract.py synthesises into bench/out/extract/.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from distributed import Client

from audioid_gui.core.audio import SegmentSpec
from audioid_gui.core.distributed import DaskScheduler
from audioid_gui.core.extraction import run_extraction
from audioid_gui.core.project import Project
from audioid_gui.core.tasks import Progress
from extract import make_files

DASK = Path(sys.executable).with_name("dask")


def scan(files: list[Path], project_file: Path, segment: str = "last:10", traced: bool = False,
         **options) -> tuple[float, float, tuple[int, int]]:
    """Import ``files`` into a new project and extract them: (files/s overall, files/s after the
    first file, and with ``traced`` what this process held when the first file was done and the
    most it held after, in bytes of Python allocations)."""
    marks: list[float] = []
    held: list[int] = [0]

    def on_progress(p: Progress) -> None:
        if p.done == 1:
            marks.append(time.perf_counter())
            if traced:  # the list of pending tracks is built; from here on, the tasks in flight
                held[0] = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()

    with Project(project_file) as project:
        project.import_sources(files)
        project.segment = SegmentSpec.parse(segment)
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        report = run_extraction(project, progress=on_progress, **options)
        finished = time.perf_counter()
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        tracemalloc.stop()
    assert report.extracted == len(files), report.errors
    return len(files) / (finished - started), (len(files) - 1) / (finished - marks[0]), (held[0], peak)


@contextmanager
def dask_cluster(workers: int, folder: Path) -> Iterator[str]:
    """``dask scheduler`` and ``dask worker`` on loopback; yields the scheduler's address once
    ``workers`` workers have joined, stops both after."""
    info = folder / "scheduler.json"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", info], **quiet)
    worker = subprocess.Popen([DASK, "worker", "--scheduler-file", info, "--nworkers", str(workers),
                               "--nthreads", "1", "--no-dashboard"], **quiet)
    try:
        while not info.exists():
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        with Client(address, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=60)


def linked(files: list[Path], n: int, folder: Path) -> list[Path]:
    """``n`` tracks that are links to ``files`` in turn: a longer list without more audio on disk."""
    folder.mkdir()
    made = []
    for i in range(n):
        link = folder / f"link{i:05d}.mp3"
        os.symlink(files[i % len(files)], link)
        made.append(link)
    return made


def row(label: str, rates: tuple[float, float, tuple[int, int]]) -> None:
    print(f"{label:<48} {rates[0]:7.2f} files/s   after the first file: {rates[1]:7.2f} files/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-tracks", default="24,480,1920", help="track counts, comma-separated")
    args = parser.parse_args()
    files = make_files(args.n, args.minutes)
    print(f"{args.n} files of {args.minutes:g} min, MP3 44.1 kHz stereo; {args.workers} processes on each side")

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        local = scan(files, tmp / "local.audioid", workers=args.workers)
        row(f"(a) local process pool, {args.workers} processes", local)
        with dask_cluster(args.workers, tmp) as address:
            scheduler = DaskScheduler(address)
            scan(files[:args.workers * 2], tmp / "warm.audioid", scheduler=scheduler)  # workers import and compile
            remote = scan(files, tmp / "cluster.audioid", scheduler=scheduler)
            row(f"(b) Dask, {args.workers} workers x 1 thread", remote)
            peaks = {n: scan(linked(files, n, tmp / f"links{n}"), tmp / f"memory{n}.audioid", "first:1", True,
                             scheduler=scheduler)[2]
                     for n in map(int, args.memory_tracks.split(","))}
    print(f"\nratio (b)/(a): {remote[0] / local[0]:.2f}x overall, {remote[1] / local[1]:.2f}x after the first file"
          f"   (target >= 0.8x)")
    print("(c) client's Python memory during a cluster scan, held when the first file is done (the pending list, "
          "connection buffers) -> peak after:")
    for n, (held, peak) in peaks.items():
        print(f"    {n:>6,} tracks: {held / 2**20:5.1f} MB -> {peak / 2**20:5.1f} MB  "
              f"(in flight: {(peak - held) / 2**20:+.1f} MB)")


if __name__ == "__main__":
    main()
