"""A project of 1,000,000 tracks: is it still usable?

    python bench/million.py [--tracks 1000000] [--baseline 30000] [--rebuild] [--only open,sort,...]

Builds (once; cached under ``--cache``, never in the repository) a synthetic project written
directly through the store: tracks at paths like ``/archive/station-07/2019/clip-0123456.mp3``,
feature vectors of the current extractor version (a mixture of Gaussian groups, so that
clustering and training have something to find), about 2,000 labels given by ear over the three
default classes, and the predictions of a model.  No audio: nothing here plays or scans.

Every figure runs in a fresh process, so its peak memory (max RSS) is its own, on the big project
and on a ``--baseline`` one built the same way; the growth column is big / baseline, to be read
against the size ratio (33x for 1,000,000 over 30,000): near it is linear, far above it is not.

Targets (issue 14): open < 3 s, sort and filter < 1 s, cluster < 60 s and < 4 GB,
retrain + predict + rank < 30 s, no GUI stall > 100 ms during a background job.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

HERE = Path(__file__).resolve().parent
CLASSES = ("Music", "Dialogue", "Both")
GROUPS = 12
HUMAN_LABELS = 2_000
STATIONS = 40
CHUNK = 100_000


# -- the synthetic project --------------------------------------------------------------------------


def track_path(i: int) -> str:
    return f"/archive/station-{i % STATIONS:02d}/{2015 + i % 7}/clip-{i:07d}.mp3"


def build(path: Path, n: int, seed: int = 0) -> None:
    """Write ``n`` tracks, their vectors, labels and predictions, a chunk per transaction."""
    from audioid_gui.core.features import FEATURE_NAMES, VERSION
    from audioid_gui.core.project import Project

    rng = np.random.default_rng(seed)
    dim = len(FEATURE_NAMES)
    centres = rng.normal(size=(GROUPS, dim)).astype(np.float32) * 2.5
    group_class = np.arange(GROUPS) % len(CLASSES)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    with Project(path) as project:
        project.set_feature_names(VERSION, FEATURE_NAMES)
        segment = str(project.segment)
        db = project.db
        truth = np.empty(n, dtype=np.int64)
        for first in range(0, n, CHUNK):
            ids = np.arange(first, min(n, first + CHUNK))
            groups = rng.integers(0, GROUPS, size=len(ids))
            truth[ids] = group_class[groups]
            vectors = centres[groups] + rng.normal(size=(len(ids), dim)).astype(np.float32)
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO tracks(id, path, size, mtime, duration, format, sample_rate, channels, tags, "
                "probed_size, probed_mtime, added_at) VALUES (?, ?, ?, 1.6e9, ?, 'mp3', 44100, 2, ?, ?, 1.6e9, 1.6e9)",
                ((int(i) + 1, track_path(int(i)), 100_000 + int(i), 10.0 + int(i) % 50,
                  json.dumps({"genre": "Radio"}) if i % 3 == 0 else None, 100_000 + int(i)) for i in ids))
            db.executemany(
                "INSERT INTO features(track_id, extractor_version, segment, size, mtime, vector, extracted_at) "
                "VALUES (?, ?, ?, ?, 1.6e9, ?, 1.6e9)",
                ((int(i) + 1, VERSION, segment, 100_000 + int(i), v.astype("<f4").tobytes())
                 for i, v in zip(ids, vectors)))
            db.execute("COMMIT")
            print(f"  built {first + len(ids):,} of {n:,} tracks ({time.perf_counter() - started:.0f} s)", flush=True)
        heard = rng.choice(n, size=min(HUMAN_LABELS, n), replace=False)
        for c, name in enumerate(CLASSES):
            project.set_labels([int(i) + 1 for i in heard[truth[heard] == c]], name, "human")
        probabilities = rng.dirichlet(np.ones(len(CLASSES)), size=n).astype(np.float32)
        model_id = project.save_model(VERSION, segment, CLASSES, {}, len(heard), b"")
        project.save_predictions(model_id, np.arange(1, n + 1), CLASSES, probabilities)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"  built {path} in {time.perf_counter() - started:.0f} s", flush=True)


def cached_project(cache: Path, n: int, rebuild: bool) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"tracks-{n}.audioid"
    done = cache / f"tracks-{n}.built"
    if rebuild or not done.exists():
        done.unlink(missing_ok=True)
        print(f"building a {n:,}-track project in {path} ...", flush=True)
        build(path, n)
        done.touch()
    return path


# -- the figures: each runs in its own process ------------------------------------------------------


def _open(path: Path):
    from audioid_gui.core.project import Project

    return Project(path, writer=True)


def fig_open(path: Path) -> dict[str, float]:
    """Project(...) and the table model's first load (the window's open, without the window)."""
    from PySide6.QtWidgets import QApplication

    from audioid_gui.gui.track_table import TrackTableModel

    _app = QApplication.instance() or QApplication([])
    t0 = time.perf_counter()
    project = _open(path)
    opened = time.perf_counter() - t0
    model = TrackTableModel()
    model.set_project(project)
    model.data(model.index(0, 0))
    return {"open: Project(...)": opened, "open: Project + table model": time.perf_counter() - t0}


def fig_table(path: Path) -> dict[str, float]:
    """Sort by a column and filter by text and by a quick filter, as the table's model does."""
    from PySide6.QtWidgets import QApplication

    from audioid_gui.core.tracklist import TrackFilter
    from audioid_gui.gui.track_table import COLUMNS, TrackTableModel

    _app = QApplication.instance() or QApplication([])
    model = TrackTableModel()
    model.set_project(_open(path))
    keys = [key for _, key in COLUMNS]
    figures = {}
    # The first sort by name comes right after the open, while the names are still being ranked in
    # the background; "again" is every later one.
    for figure, key in (("sort by name", "name"), ("sort by name again", "name"), ("sort by label", "label"),
                        ("sort by confidence", "confidence")):
        figures[figure] = _timed(lambda: (model.sort(keys.index(key)), model.data(model.index(0, 0))))
    model.sort(-1)
    figures["filter: text"] = _timed(lambda: (model.set_filter(TrackFilter(text="station-07/2019")),
                                              model.data(model.index(0, 0))))
    figures["filter: unlabelled"] = _timed(lambda: (model.set_filter(TrackFilter(unlabelled=True)),
                                                    model.data(model.index(0, 0))))
    figures["filter: labelled Music"] = _timed(lambda: (model.set_filter(TrackFilter(class_name="Music")),
                                                        model.data(model.index(0, 0))))
    return figures


def fig_status(path: Path) -> dict[str, float]:
    from audioid_gui.core.features import VERSION

    project = _open(path)
    return {"status": _timed(lambda: project.status(VERSION)),
            "gone-track count": _timed(lambda: project.gone_tracks(VERSION))}


def fig_cluster(path: Path) -> dict[str, float]:
    """Feature table, clustering, the label state and a guided-labeling proposal, and the export of
    one playlist per cluster."""
    from audioid_gui.core.clustering import GuidedLabeling, LabelState, cluster_features, cluster_groups, export_playlists
    from audioid_gui.core.features import VERSION

    project = _open(path)
    holder: dict = {}
    figures = {"feature table": _timed(lambda: holder.setdefault("table", project.feature_table(VERSION))),
               "cluster": _timed(lambda: holder.setdefault("c", cluster_features(holder["table"])))}
    clustering = holder["c"]
    figures["label state"] = _timed(lambda: holder.setdefault("labels", LabelState.of(
        clustering, project.track_labels(), [c.name for c in project.classes()])))
    figures["guided proposal"] = _timed(lambda: GuidedLabeling(clustering).propose(holder["labels"]))
    with tempfile.TemporaryDirectory() as folder:
        figures["cluster export m3u"] = _timed(
            lambda: export_playlists(clustering, cluster_groups(clustering.cut(k=GROUPS)), Path(folder)))
    return figures


def fig_learn(path: Path) -> dict[str, float]:
    """Retrain + predict + store, then rank the queue: the Retrain button's whole job."""
    from audioid_gui.core.learning import retrain
    from audioid_gui.core.selection import propose_for

    project = _open(path)
    holder: dict = {}
    figures = {"retrain + predict": _timed(lambda: holder.setdefault("r", retrain(project)))}
    figures["queue (rank 20)"] = _timed(lambda: propose_for(project, holder["r"].predictions, 20))
    figures["retrain + predict + rank"] = figures["retrain + predict"] + figures["queue (rank 20)"]
    return figures


def fig_export(path: Path) -> dict[str, float]:
    """The tag writer's plan and ``audioid predict --export-m3u``."""
    from audioid_gui import cli
    from audioid_gui.core import tags

    project = _open(path)
    figures = {"tag plan": _timed(lambda: tags.plan(project, min_confidence=0.5))}
    project.close()
    with tempfile.TemporaryDirectory() as folder, open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet
        try:
            figures["predict export m3u"] = _timed(lambda: cli.main(
                ["predict", "--export-m3u", folder, "--min-confidence", "0.5", "--project", str(path)]))
        finally:
            sys.stdout = stdout
    return figures


def fig_gui(path: Path) -> dict[str, float]:
    """The window: open the project, then the longest event-loop stall while clustering and while
    retraining run in the background (each until done), against the idle heartbeat."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(HERE))
    from heartbeat import heartbeat_stall  # bench/heartbeat.py
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    app.setOrganizationName("AudioIDBench")
    app.setApplicationName("million")
    from audioid_gui.core import heap
    from audioid_gui.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    heap.settle()  # as the app does on starting
    app.processEvents()
    t0 = time.perf_counter()
    window.open_project(path)
    app.processEvents()
    figures = {"window: open project": time.perf_counter() - t0,
               "stall idle (ms)": heartbeat_stall(app, 2.0)}
    for name, start in (("cluster", window.act_cluster.trigger), ("retrain", window.act_retrain.trigger)):
        deadline = time.perf_counter() + 600
        figures[f"stall during {name} (ms)"] = heartbeat_stall(
            app, 0.5, start, until=lambda: not window.jobs.busy() or time.perf_counter() > deadline)
    window.close()
    return figures


FIGURES: dict[str, Callable[[Path], dict[str, float]]] = {
    "open": fig_open, "table": fig_table, "status": fig_status, "cluster": fig_cluster,
    "learn": fig_learn, "export": fig_export, "gui": fig_gui,
}

# figure → (target, unit); stalls in ms, the rest in seconds
TARGETS: dict[str, float] = {
    "open: Project + table model": 3.0, "window: open project": 3.0,
    "sort by name": 1.0, "sort by name again": 1.0, "sort by label": 1.0, "sort by confidence": 1.0,
    "filter: text": 1.0, "filter: unlabelled": 1.0, "filter: labelled Music": 1.0,
    "cluster": 60.0, "retrain + predict + rank": 30.0,
    "stall during cluster (ms)": 100.0, "stall during retrain (ms)": 100.0,
}
MEMORY_TARGETS = {"cluster": 4.0}  # GB of peak RSS of the figure's process


def _timed(step: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def measure_here(figure: str, path: Path) -> None:
    """Run one figure in this process and print its results and peak memory as JSON."""
    results = FIGURES[figure](path)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"figures": results, "peak_gb": peak_gb}))


def measure(figure: str, path: Path) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_LOGGING_RULES="qt.multimedia.*=false")
    done = subprocess.run([sys.executable, __file__, "--measure", figure, "--project", str(path)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        return {"figures": {f"{figure}: FAILED": float("nan")}, "peak_gb": float("nan")}
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(big: int, small: int, results: dict[str, tuple[dict, Optional[dict]]]) -> None:
    print(f"\n{'figure':<30}{big:>12,}{'target':>9}{'ok?':>5}{small:>12,}{'growth':>9}   (size ratio {big / small:.0f}x)")
    for figure, (at_big, at_small) in results.items():
        for name, seconds in at_big["figures"].items():
            target = TARGETS.get(name)
            base = at_small["figures"].get(name) if at_small else None
            ok = "" if target is None else "yes" if seconds < target else "NO"
            growth = f"{seconds / base:.0f}x" if base else ""
            print(f"{name:<30}{seconds:>12.2f}{target if target else '':>9}{ok:>5}"
                  f"{base if base is not None else float('nan'):>12.2f}{growth:>9}")
        memory_target = MEMORY_TARGETS.get(figure)
        ok = "" if memory_target is None else "yes" if at_big["peak_gb"] < memory_target else "NO"
        base_gb = at_small["peak_gb"] if at_small else float("nan")
        print(f"{'  peak memory ' + figure + ' (GB)':<30}{at_big['peak_gb']:>12.2f}"
              f"{memory_target or '':>9}{ok:>5}{base_gb:>12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=30_000, help="0: no baseline")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "audioid-million")
    parser.add_argument("--rebuild", action="store_true", help="build the projects again")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--only", default=",".join(FIGURES), help=f"figures to measure: {','.join(FIGURES)}")
    parser.add_argument("--measure", choices=FIGURES, help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure_here(args.measure, args.project)
        return
    big = cached_project(args.cache, args.tracks, args.rebuild)
    small = cached_project(args.cache, args.baseline, args.rebuild) if args.baseline else None
    if args.build_only:
        return
    results = {}
    for figure in args.only.split(","):
        print(f"measuring {figure} ...", flush=True)
        results[figure] = (measure(figure, big), measure(figure, small) if small else None)
    print_table(args.tracks, args.baseline or args.tracks, results)


if __name__ == "__main__":
    main()
