"""Retrain + re-predict + re-rank on a 30,000-track project with 2,000 labels, and the GUI meanwhile.

    python bench/retrain.py [--tracks 30000] [--labels 2000]

The project file is real (SQLite, written by the app's own code); the vectors are synthetic (three
overlapping classes, as many dimensions as the extractor's vector).  Prints:

- baseline: the journal's ensemble as its notebook built it (RandomForest + GradientBoosting,
  VotingClassifier, soft, 1:2), fit on the same labels and predicting the same tracks;
- ours: ``learning.retrain`` (fit, predict 30,000 tracks, store the model and the predictions) and
  ``rank_queue`` (margin, top 50), with the ratio against the baseline;
- the cross-validated report that follows a training (5 folds), for information;
- the longest event-loop stall of a window while ``retrain`` runs in the worker, against the idle
  heartbeat measured in the same run;
- the retrain again while every core is kept busy (as a scan's worker processes do), with the
  app's bounded thread pools and with them opened to every core, each against its idle time.

Targets: retrain + re-predict + re-rank < 3 s; no stall > 100 ms; under load, within a few times the
idle time.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_app = None


def build_project(path: Path, tracks: int, labels: int, seed: int = 0) -> np.ndarray:
    from audioid_gui.core.features import FEATURE_NAMES, VERSION
    from audioid_gui.core.project import Project

    rng = np.random.default_rng(seed)
    truth = rng.choice(3, size=tracks, p=[0.5, 0.3, 0.2])
    centres = rng.normal(size=(3, len(FEATURE_NAMES)))
    vectors = (centres[truth] + rng.normal(size=(tracks, len(FEATURE_NAMES))) * 3.0).astype("<f4")
    names = ["Music", "Dialogue", "Both"]
    with Project(path) as project:
        project.set_feature_names(VERSION, FEATURE_NAMES)
        segment, now = str(project.segment), time.time()
        db = project.db
        db.execute("BEGIN")
        db.executemany("INSERT INTO tracks(id, path, size, mtime, added_at) VALUES (?, ?, 1, 0, ?)",
                       [(i + 1, f"/radio/clip{i:05d}.mp3", now) for i in range(tracks)])
        db.executemany("INSERT INTO features(track_id, extractor_version, segment, size, mtime, vector, extracted_at) "
                       "VALUES (?, ?, ?, 1, 0, ?, ?)",
                       [(i + 1, VERSION, segment, vectors[i].tobytes(), now) for i in range(tracks)])
        db.execute("COMMIT")
        chosen = rng.choice(tracks, size=labels, replace=False)
        for k in range(3):
            project.set_labels([int(i) + 1 for i in chosen if truth[i] == k], names[k])
    return truth


def journal_baseline(path: Path) -> float:
    """The notebook's ensemble on the same labels, predicting every track (nothing stored)."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier, VotingClassifier

    from audioid_gui.core.features import VERSION
    from audioid_gui.core.learning import training_set
    from audioid_gui.core.project import Project

    with Project(path) as project:
        table = project.feature_table(VERSION)
        ts = training_set(project, table)
    started = time.perf_counter()
    model = VotingClassifier([("rf", RandomForestClassifier(n_estimators=100, random_state=0)),
                              ("gb", GradientBoostingClassifier(random_state=0))], voting="soft", weights=[1, 2])
    model.fit(ts.X, ts.y)
    model.predict_proba(table.matrix)
    return time.perf_counter() - started


def ours(path: Path) -> tuple[float, float, float]:
    from audioid_gui.core.learning import retrain
    from audioid_gui.core.project import Project
    from audioid_gui.core.selection import rank_queue

    with Project(path) as project:
        started = time.perf_counter()
        result = retrain(project)
        trained = time.perf_counter() - started
        heard = list(project.track_labels())
        rank_started = time.perf_counter()
        rank_queue(result.predictions, heard, 50, "margin")
        ranked = time.perf_counter() - rank_started
        cv_started = time.perf_counter()
        from audioid_gui.core.learning import evaluate_model

        report = evaluate_model(project, result.model_id)
        print(f"  (cross-validated report: {report.accuracy:.1%} accuracy, {time.perf_counter() - cv_started:.1f} s "
              "in the job that follows)")
    return trained, ranked, trained + ranked


def spin(_: int) -> None:
    """Keep one core busy with numerical work, as an extraction worker does."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    x = np.random.default_rng(0).standard_normal(200_000)
    while True:
        np.sort(x)


def under_load(path: Path) -> None:
    """Retrain idle and with every core busy, with the bounded pools and with unbounded ones."""
    import multiprocessing

    from audioid_gui.core import learning
    from audioid_gui.core.extraction import default_workers
    from audioid_gui.core.project import Project

    def timed() -> float:
        with Project(path) as project:
            started = time.perf_counter()
            learning.retrain(project)
            return time.perf_counter() - started

    bounded = learning.TRAINING_THREADS
    for label, threads in (("bounded (the app)", bounded), ("unbounded", os.cpu_count() or 2)):
        learning.TRAINING_THREADS = threads
        idle = timed()
        busy = multiprocessing.get_context("spawn").Pool(default_workers())
        busy.map_async(spin, range(default_workers()))
        time.sleep(1.0)
        try:
            loaded = timed()
        finally:
            busy.terminate()
            busy.join()
        print(f"retrain with {threads} thread(s), {label}: idle {idle:.2f} s, with {default_workers()} busy "
              f"processes {loaded:.2f} s ({loaded / idle:.1f}x)")
    learning.TRAINING_THREADS = bounded


def gui_stall(path: Path) -> tuple[float, float]:
    sys.path.insert(0, str(Path(__file__).parent))
    from heartbeat import heartbeat_stall
    from PySide6.QtWidgets import QApplication, QLabel

    from audioid_gui.core.learning import retrain
    from audioid_gui.core.project import Project
    from audioid_gui.gui.workers import Job

    global _app  # the application must outlive every widget and job, to the end of the process
    app = _app = QApplication.instance() or QApplication([])
    window = QLabel("retraining")
    window.show()
    idle = heartbeat_stall(app, 3.0)

    def task(progress, cancel):
        with Project(path) as project:
            return retrain(project, progress=progress, cancel=cancel)

    job, done = Job("Training", task), []
    job.finished.connect(lambda: done.append(True))
    busy = heartbeat_stall(app, during=job.start, until=lambda: bool(done))
    window.close()
    return idle, busy


def main() -> None:
    from audioid_gui.core.features import FEATURE_NAMES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=30_000)
    parser.add_argument("--labels", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.audioid"
        build_project(path, args.tracks, args.labels)
        print(f"{args.tracks:,} tracks, {args.labels:,} labels, {len(FEATURE_NAMES)} features")
        base = journal_baseline(path)
        print(f"baseline (notebook ensemble: fit + predict, nothing stored): {base:6.2f} s")
        trained, ranked, total = ours(path)
        print(f"ours: retrain (fit + predict + store model and predictions) {trained:.2f} s + re-rank {ranked * 1000:.0f} ms"
              f" = {total:.2f} s (target < 3 s); {base / total:.1f}x the baseline's speed")
        idle, busy = gui_stall(path)
        print(f"longest event-loop stall while retraining in the worker: {busy:.0f} ms (idle baseline {idle:.0f} ms; "
              "target < 100 ms)")
        under_load(path)


if __name__ == "__main__":
    main()
