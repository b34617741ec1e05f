"""Label efficiency on real recordings: the user's path through the app, against labeling at random.

    python bench/active_learning.py [--data real synthetic-corpus vectors] [--seeds 5] [--max-labels 90]
                                    [--model auto|linear|journal] [--old]

A simulated user starts from an empty project and answers truthfully, exactly as the app offers:
the queue proposes batches of 3 (with no model yet: representative tracks far from everything
heard, ``selection.propose``; then the diverse uncertainty queue), and the model is retrained
whenever the app allows it (``learning.MIN_LABELS_PER_CLASS`` labels of every class heard so far,
and two classes).  The same is run with the user labeling random tracks (batches of 3).  After 15,
30 and 60 labels it records the accuracy on every track nobody labelled — 3 classes, and music vs
dialogue (Both counted as music) — and the expected calibration error of those predictions; and
how many labels it took to reach 90 %.

Each seed is a different project: a random 90 % of the corpus, and the seed of k-means and of the
model.  Mean ± standard deviation over the seeds.

``--old`` adds the path as it was before feature recipe 3 and the few-label model: the 83 values
of recipes 1-2, the journal's ensemble, training only from 5 labels per class (which the user had to
find by ear: 5 random tracks of each class), then the plain margin queue.

Data sets:
- real: ``bench/corpus.py --kind real`` — real speech, songs and instrumentals from
  ``../shared/dev-audio`` mixed as radio does (300 clips); features extracted by ``audioid scan``
  into ``bench/out/real_corpus.audioid``.  The targets apply here: at 30 labels ≥ 0.92 (3 classes)
  and ≥ 0.95 (music vs dialogue); the queue reaches 0.90 with at most half random's labels.
- synthetic-corpus: the easy second set (espeak-ng speech over game music), 100 clips per class;
- vectors: 3,000 synthetic vectors with an overlapping "Both" (no audio), to check the model where
  trees have the edge.
Also printed: the 5-fold cross-validated accuracy with every label (the ceiling of the features),
and the same with the folds split by source recording: the corpus makes ~100 clips from each few
dozen recordings, so a clip's neighbours often share its source; the by-source figure is what to
expect on recordings unlike any the model was taught with.
"""
from __future__ import annotations

import argparse
import csv
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from audioid_gui.core.learning import MIN_LABELS_PER_CLASS, TrainedModel, TrainingOptions, calibration, fit_scaled
from audioid_gui.core.project import FeatureTable
from audioid_gui.core.selection import Predictions, propose, rank_queue

OUT = Path(__file__).parent / "out"
CLASSES = ["Music", "Dialogue", "Both"]
MARKS = (15, 30, 60)
BATCH = 3
OLD_COLUMNS = 83  # recipes 1-2: the journal's 76 values and 7 speech cues, first in the vector
OLD_START_PER_CLASS = 5


# -- data sets ------------------------------------------------------------------------------------

Data = tuple[np.ndarray, np.ndarray, list[str], Optional[np.ndarray]]  # X, truth, names, source of each row


def vectors(seed: int = 0) -> Data:
    rng = np.random.default_rng(seed)
    n, informative = 3000, 12
    y = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    music, dialogue = rng.normal(size=informative) * 2.6, rng.normal(size=informative) * 2.6
    mix = rng.uniform(0.35, 0.65, size=(n, 1))  # a "Both" track leans to music or to speech
    both = mix * music + (1 - mix) * dialogue
    centre = np.where(y[:, None] == 0, music, np.where(y[:, None] == 1, dialogue, both))
    X = np.hstack([centre + rng.normal(size=(n, informative)), rng.normal(size=(n, 94 - informative))])
    return X, np.array(CLASSES)[y], [f"f{i}" for i in range(X.shape[1])], None


def scanned(project_path: Path, clips: Path, truth_csv: Path) -> Data:
    """Scan (once; again after the extractor changes) and return the features with each row's truth
    and, where the corpus says (``sources.csv``), the recording each clip was made from first."""
    from audioid_gui.core.extraction import scan
    from audioid_gui.core.features import VERSION
    from audioid_gui.core.project import Project

    truth = {row[0]: row[1] for row in list(csv.reader(truth_csv.open(encoding="utf-8")))[1:]}
    with Project(project_path) as project:
        status = project.status(VERSION)
        if not status.tracks or status.extracted + status.failed < status.tracks:
            started = time.perf_counter()
            scan(project, [clips], workers=None)
            print(f"  (extracted {project.status(VERSION).extracted:,} clips in {time.perf_counter() - started:.0f} s)")
        table = project.feature_table(VERSION)
    keep = [i for i, p in enumerate(table.paths) if Path(p).name in truth]
    names = [Path(table.paths[i]).name for i in keep]
    listing = truth_csv.with_name("sources.csv")
    sources = None
    if listing.exists():
        first = {row[0]: row[3].split(";")[0] for row in list(csv.reader(listing.open(encoding="utf-8")))[1:]}
        sources = np.array([first[name] for name in names])
    return table.matrix[keep].astype(np.float64), np.array([truth[name] for name in names]), table.names, sources


def corpus(kind: str) -> Data:
    from corpus import build  # bench/corpus.py

    folder = OUT / ("real_corpus" if kind == "real" else "corpus")
    truth = build(folder, 100, kind=kind)
    return scanned(OUT / f"{folder.name}.audioid", folder / "clips", truth)


# -- the user's path ------------------------------------------------------------------------------


@dataclass
class Walk:
    """What one simulated user saw: per label count, accuracy (3 classes, music vs dialogue) and
    expected calibration error on the never-labelled tracks (NaN before the first model)."""

    labels: list[int]
    accuracy: list[float]
    music_dialogue: list[float]
    ece: list[float]

    def at(self, n: int, values: list[float]) -> float:
        return next((v for m, v in zip(self.labels, values) if m >= n), float("nan"))

    def reached(self, target: float) -> Optional[int]:
        return next((m for m, a in zip(self.labels, self.accuracy) if a >= target), None)


def can_train(y: list[str], per_class: int) -> bool:
    counts = Counter(y)
    return len(counts) >= 2 and min(counts.values()) >= per_class


def walk(X: np.ndarray, y: np.ndarray, names: list[str], options: TrainingOptions, strategy: str, seed: int, max_labels: int,
         old: bool = False) -> Walk:
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(y), int(0.9 * len(y)), replace=False))
    X, y = X[keep], y[keep]
    ids = np.arange(len(y))
    table = FeatureTable(ids, [""] * len(ids), names, X.astype(np.float32))
    labelled: list[int] = []
    if old:  # before: the first 5 of each class had to be found by ear, blindly
        labelled = [int(i) for c in CLASSES for i in rng.choice(np.flatnonzero(y == c), OLD_START_PER_CLASS, False)]
    predictions: Optional[Predictions] = None
    result = Walk([], [], [], [])
    folded = np.where(y == "Dialogue", "Dialogue", "Music")
    while len(labelled) < max_labels:
        if strategy == "random":
            rest = np.setdiff1d(ids, labelled)
            labelled += [int(i) for i in rng.choice(rest, min(BATCH, len(rest)), replace=False)]
        elif old and predictions is not None:
            labelled += [e.track_id for e in rank_queue(predictions, labelled, BATCH, "margin")]
        elif not old:
            heard = {i: str(y[i]) for i in labelled}
            labelled += [e.track_id for e in propose(table, heard, CLASSES, predictions, BATCH, diverse=True,
                                                     seed=seed).entries]
        if not can_train(list(y[labelled]), OLD_START_PER_CLASS if old else MIN_LABELS_PER_CLASS):
            continue
        model = fit_scaled(options, X, names, X[labelled], y[labelled], unlabelled=np.delete(X, labelled, axis=0))
        classes = [c for c in CLASSES if c in set(y[labelled])]
        p = TrainedModel(model, classes, {}, {}, 0.0, []).probabilities(X)
        predictions = Predictions(ids, classes, p.astype(np.float32))
        open_rows = np.setdiff1d(ids, labelled)
        guess = np.array(classes)[p.argmax(axis=1)][open_rows]
        result.labels.append(len(labelled))
        result.accuracy.append(float(np.mean(guess == y[open_rows])))
        result.music_dialogue.append(float(np.mean(np.where(guess == "Dialogue", "Dialogue", "Music")
                                                   == folded[open_rows])))
        result.ece.append(calibration(p[open_rows], y[open_rows], classes)[1])
    return result


def ceiling(X: np.ndarray, y: np.ndarray, names: list[str], options: TrainingOptions,
            sources: Optional[np.ndarray] = None) -> tuple[float, float]:
    """5-fold cross-validated accuracy with every label: 3 classes, and music vs dialogue.  With
    ``sources``, the folds keep each recording's clips together: accuracy on recordings never heard
    in training (the corpus reuses its sources, so the plain figure flatters)."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    guess = np.empty(len(y), dtype=y.dtype)
    splits = (GroupKFold(5).split(X, y, sources) if sources is not None
              else StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    for train, test in splits:
        classes = sorted(set(y[train]))
        model = TrainedModel(fit_scaled(options, X, names, X[train], y[train], unlabelled=X[test]), classes, {}, {}, 0.0,
                             [])
        guess[test] = np.array(classes)[model.probabilities(X[test]).argmax(axis=1)]
    fold = lambda a: np.where(a == "Dialogue", "D", "M")  # noqa: E731
    return float(np.mean(guess == y)), float(np.mean(fold(guess) == fold(y)))


def summary(paths: list[Walk], n: int) -> str:
    acc = [p.at(n, p.accuracy) for p in paths]
    md = [p.at(n, p.music_dialogue) for p in paths]
    ece = [p.at(n, p.ece) for p in paths]
    return (f"{np.nanmean(acc):.3f} ± {np.nanstd(acc):.3f}  m/d {np.nanmean(md):.3f} ± {np.nanstd(md):.3f}  "
            f"ECE {np.nanmean(ece):.3f}")


def labels_to(paths: list[Walk], target: float, max_labels: int) -> tuple[str, float]:
    reached = [p.reached(target) for p in paths]
    values = [r if r is not None else np.inf for r in reached]
    text = ", ".join(str(r) if r is not None else f">{max_labels}" for r in reached)
    return text, float(np.median(values))


def run(name: str, data: Data, options: TrainingOptions, seeds: int, max_labels: int, old: bool) -> None:
    X, y, names, sources = data
    counts = ", ".join(f"{(y == c).sum():,} {c}" for c in CLASSES)
    print(f"\n== {name}: {len(y):,} tracks ({counts}); {seeds} seeds, batches of {BATCH}")
    variants = [("recipe 3, " + options.model, X, names, options, False)]
    if old:
        variants.append(("before (83 values, journal)", X[:, :OLD_COLUMNS], names[:OLD_COLUMNS],
                         TrainingOptions(model="journal"), True))
    for label, matrix, columns, opts, is_old in variants:
        started = time.perf_counter()
        three, two = ceiling(matrix, y, columns, opts)
        print(f"-- {label}, {matrix.shape[1]} features; ceiling (5-fold CV, all labels): {three:.3f} 3-class, "
              f"{two:.3f} music vs dialogue")
        if sources is not None:
            three, two = ceiling(matrix, y, columns, opts, sources)
            print(f"   on recordings never heard in training (folds by source, {len(set(sources))} sources): "
                  f"{three:.3f} 3-class, {two:.3f} music vs dialogue")
        walks = {s: [walk(matrix, y, columns, opts, s, seed, max_labels, is_old) for seed in range(seeds)]
                 for s in ("queue", "random")}
        for strategy, paths in walks.items():
            print(f"   {strategy:<6} " + "   ".join(f"{n}: {summary(paths, n)}" for n in MARKS if n <= max_labels))
        queue_text, queue_median = labels_to(walks["queue"], 0.90, max_labels)
        random_text, random_median = labels_to(walks["random"], 0.90, max_labels)
        ratio = f" -> queue needs {queue_median / random_median:.0%} of random's labels" \
            if np.isfinite(queue_median) and np.isfinite(random_median) else ""
        print(f"   labels to 0.90 — queue: {queue_text} (median {queue_median:g}); random: {random_text} "
              f"(median {random_median:g}){ratio}   ({time.perf_counter() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=["real"], choices=["real", "synthetic-corpus", "vectors"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-labels", type=int, default=90)
    parser.add_argument("--model", default="auto", choices=["auto", "linear", "journal"])
    parser.add_argument("--old", action="store_true", help="also run the path as it was before recipe 3")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    OUT.mkdir(exist_ok=True)
    options = TrainingOptions(model=args.model)
    for name in args.data:
        data = vectors() if name == "vectors" else corpus("real" if name == "real" else "synthetic")
        run(name, data, options, args.seeds, args.max_labels, args.old and name != "vectors")


if __name__ == "__main__":
    main()
