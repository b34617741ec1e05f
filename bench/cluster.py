"""Hierarchical clustering at scale: our clustering against SciPy's exact Ward, and the dendrogram.

    python bench/cluster.py [--n 30000] [--dim 60] [--baseline-n 20000] [--big 100000]

Data: a mixture of 12 Gaussian clusters of different sizes and spreads in ``dim`` dimensions (the
shape of standardised audio features).  Each measurement runs in a fresh process, so its peak
memory (max RSS) is its own.  Prints wall time and peak memory of:

- baseline: ``scipy.cluster.hierarchy.linkage(X, "ward")`` at ``--baseline-n`` (SciPy needs the
  n²/2 distance matrix: 1.6 GB at 20,000, 3.6 GB at 30,000, and several minutes);
- ours at the same n (ratio against the baseline), with the agreement of the two 12-cluster cuts
  (adjusted Rand index, 1 = identical);
- ours at ``--n`` and at ``--big``;
- the dendrogram: redraw of the 30,000-track tree (median of 10), and the longest stall of the
  event loop while the clustering runs in the background worker.

Targets: 30,000 tracks in < 10 s and < 1 GB; dendrogram redraw < 300 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

CLUSTERS = 12
_app = None


def mixture(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(CLUSTERS, 2.0))
    truth = rng.choice(CLUSTERS, size=n, p=weights)
    centres = rng.normal(size=(CLUSTERS, dim)) * 2.5
    spread = rng.uniform(0.6, 1.6, size=CLUSTERS)
    return (centres[truth] + rng.normal(size=(n, dim)) * spread[truth][:, None]).astype(np.float32), truth


def table_of(matrix: np.ndarray):
    from audioid_gui.core.project import FeatureTable

    n = len(matrix)
    return FeatureTable(np.arange(n), [f"/clips/{i}.mp3" for i in range(n)],
                        [f"f{i}" for i in range(matrix.shape[1])], matrix)


def run_one(kind: str, n: int, dim: int) -> dict:
    """One measurement, in this (fresh) process."""
    from scipy.cluster import hierarchy as sch

    matrix, _ = mixture(n, dim)
    started = time.perf_counter()
    if kind == "scipy":
        data = (matrix - matrix.mean(axis=0)) / matrix.std(axis=0)
        labels = sch.fcluster(sch.linkage(data, "ward"), CLUSTERS, "maxclust")
    else:
        from audioid_gui.core.clustering import cluster_features

        clustering = cluster_features(table_of(matrix))
        labels = np.zeros(n, dtype=int)
        for c in clustering.cut(k=CLUSTERS):
            labels[c.rows] = c.number
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "labels": labels.tolist()}


def measure(kind: str, n: int, dim: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--one", kind, "--n", str(n), "--dim", str(dim)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def gui_figures(n: int, dim: int) -> tuple[float, float, float]:
    """Dendrogram redraw (median of 10, ms), the longest event-loop stall while clustering in the
    worker (ms), and the same heartbeat's longest gap with nothing running (ms)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from heartbeat import heartbeat_stall  # bench/heartbeat.py
    from PySide6.QtWidgets import QApplication

    from audioid_gui.core.clustering import LabelState, cluster_features
    from audioid_gui.core.project import TrackLabel
    from audioid_gui.gui.dendrogram import DendrogramView
    from audioid_gui.gui.workers import Job

    global _app  # the application must outlive every widget, to the end of the process
    app = _app = QApplication.instance() or QApplication([])
    matrix, truth = mixture(n, dim)
    table = table_of(matrix)

    idle = heartbeat_stall(app, 3.0)
    job, done = Job("Clustering", lambda progress, cancel: cluster_features(table, progress=progress, cancel=cancel)), []
    job.finished.connect(lambda: done.append(True))
    stall = heartbeat_stall(app, during=job.start, until=lambda: bool(done))
    clustering = cluster_features(table)
    view = DendrogramView()
    view.resize(900, 420)
    view.show()
    classes = ["Music", "Dialogue", "Both"]
    some = {int(t): TrackLabel(classes[truth[r] % 3], "human") for r, t in enumerate(clustering.track_ids[::50])}
    state = LabelState.of(clustering, some, classes)
    view.set_clustering(clustering, state, {"Music": "#2e86de", "Dialogue": "#e67e22", "Both": "#27ae60"}, 12)
    times = []
    for _ in range(10):
        started = time.perf_counter()
        view.set_labels(state)  # recolour from the labels and draw again, as after a label change
        view.canvas.draw()
        times.append((time.perf_counter() - started) * 1000)
    view.close()
    view.deleteLater()
    app.processEvents()
    return statistics.median(times), stall, idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=30_000)
    parser.add_argument("--dim", type=int, default=60)
    parser.add_argument("--baseline-n", type=int, default=20_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--one", choices=["scipy", "ours"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.n, args.dim)))
        return
    from sklearn.metrics import adjusted_rand_score

    print(f"{CLUSTERS}-component Gaussian mixture, {args.dim} dimensions; each run in its own process")
    base = measure("scipy", args.baseline_n, args.dim)
    ours = measure("ours", args.baseline_n, args.dim)
    agreement = adjusted_rand_score(base["labels"], ours["labels"])
    truth = mixture(args.baseline_n, args.dim)[1]
    print(f"baseline scipy ward   n={args.baseline_n:>7,}: {base['seconds']:7.2f} s  {base['peak_mb']:7.0f} MB peak")
    print(f"ours (same data)      n={args.baseline_n:>7,}: {ours['seconds']:7.2f} s  {ours['peak_mb']:7.0f} MB peak"
          f"   = {base['seconds'] / ours['seconds']:.1f}x faster, {base['peak_mb'] / ours['peak_mb']:.1f}x less memory")
    print(f"  12-cluster cuts: ours vs scipy ARI {agreement:.3f}; vs the true mixture: ours "
          f"{adjusted_rand_score(truth, ours['labels']):.3f}, scipy {adjusted_rand_score(truth, base['labels']):.3f}")
    for n in (args.n, args.big):
        result = measure("ours", n, args.dim)
        target = "  (target < 10 s, < 1024 MB)" if n == args.n else ""
        print(f"ours                  n={n:>7,}: {result['seconds']:7.2f} s  {result['peak_mb']:7.0f} MB peak{target}")
    redraw, stall, idle = gui_figures(args.n, args.dim)
    print(f"dendrogram redraw, n={args.n:,}: median {redraw:.0f} ms (target < 300 ms)")
    print(f"longest event-loop stall while clustering {args.n:,} in the worker: {stall:.0f} ms "
          f"(idle baseline in this run: {idle:.0f} ms)")


if __name__ == "__main__":
    main()
