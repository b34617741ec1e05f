"""Label efficiency: how many labels the uncertainty queue needs, against labeling at random.

    python bench/active_learning.py [--data demo synthetic corpus] [--batch 10] [--max-labels 400]

A simulated user answers truthfully.  Each run starts from 5 random labels per class, then
repeatedly labels a batch — the top of the queue (margin; and the diverse queue), or random
tracks — retrains the app's ensemble, and records its accuracy on a held-out 30 % of the tracks
that neither strategy may label.  Runs are repeated with different seeds and averaged.

Data sets:
- demo: the 30 bundled clips (a held-out third; batches of 1);
- synthetic: 3,000 vectors of 76 features, three classes of 50/30/20 %, "Both" lying between Music
  and Dialogue, most features uninformative;
- corpus: the radio-like corpus of ``bench/corpus.py`` (built on demand, about 5 minutes), its
  features extracted by the app into ``bench/out/corpus.audioid``.

Prints the mean curves, the labels each strategy needs to reach 90 % and 95 % accuracy, and, for
the corpus, the cross-validated accuracy with every label (the ceiling of the feature set).
Target: the queue reaches 95 % with at most half the labels random sampling needs.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from audioid_gui.core.learning import TrainingOptions, make_model, uncertainty

OUT = Path(__file__).parent / "out"
CLASSES = np.array(["Music", "Dialogue", "Both"])


# -- data sets ------------------------------------------------------------------------------------


def synthetic(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, informative = 3000, 12
    y = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    music, dialogue = rng.normal(size=informative) * 2.6, rng.normal(size=informative) * 2.6
    mix = rng.uniform(0.35, 0.65, size=(n, 1))  # a "Both" track leans to music or to speech
    both = mix * music + (1 - mix) * dialogue
    centre = np.where(y[:, None] == 0, music, np.where(y[:, None] == 1, dialogue, both))
    X = np.hstack([centre + rng.normal(size=(n, informative)), rng.normal(size=(n, 76 - informative))])
    return X, CLASSES[y]


def features_with_truth(project_path: Path, sources: list[Path], truth_csv: Path) -> tuple[np.ndarray, np.ndarray]:
    """Scan (once) and return the feature matrix with the true class of each row."""
    from audioid_gui.core.extraction import scan
    from audioid_gui.core.features import VERSION
    from audioid_gui.core.labels_io import read_label_file
    from audioid_gui.core.project import Project

    truth = dict(read_label_file(truth_csv))
    with Project(project_path) as project:
        status = project.status(VERSION)
        if not status.tracks or status.extracted + status.failed < status.tracks:  # new, or an older recipe
            started = time.perf_counter()
            scan(project, sources, workers=None)
            print(f"  (extracted {project.status(VERSION).extracted:,} clips in {time.perf_counter() - started:.0f} s)")
        table = project.feature_table(VERSION)
    keep = [i for i, p in enumerate(table.paths) if Path(p).name in truth]
    return table.matrix[keep].astype(np.float64), np.array([truth[Path(table.paths[i]).name] for i in keep])


def demo() -> tuple[np.ndarray, np.ndarray]:
    from audioid_gui.core.demo import DEMO_AUDIO

    root = Path(__file__).resolve().parents[1]
    return features_with_truth(OUT / "demo.audioid", [DEMO_AUDIO], root / "resources" / "demo_truth.csv")


def corpus(per_class: int) -> tuple[np.ndarray, np.ndarray]:
    from corpus import build  # bench/corpus.py

    truth = build(OUT / "corpus", per_class)
    return features_with_truth(OUT / "corpus.audioid", [OUT / "corpus" / "clips"], truth)


# -- the simulation -------------------------------------------------------------------------------


Chooser = Callable[[np.ndarray, np.ndarray, int, np.random.Generator], np.ndarray]


def by_margin(probabilities: np.ndarray, pool: np.ndarray, batch: int, _rng: np.random.Generator) -> np.ndarray:
    return pool[np.argsort(-uncertainty(probabilities, "margin"), kind="stable")[:batch]]


def at_random(_probabilities: np.ndarray, pool: np.ndarray, batch: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(pool, size=min(batch, len(pool)), replace=False)


def simulate(X: np.ndarray, y: np.ndarray, choose: Chooser, batch: int, max_labels: int, seed: int,
             diverse: bool = False) -> list[tuple[int, float]]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    test = order[: int(0.3 * len(y))]
    pool = order[int(0.3 * len(y)):]
    labelled = np.concatenate([rng.choice(pool[y[pool] == c], size=min(5, int(np.sum(y[pool] == c))), replace=False)
                               for c in np.unique(y)])
    curve = []
    while True:
        model = make_model(TrainingOptions(seed=seed), len(labelled)).fit(X[labelled], y[labelled])
        curve.append((len(labelled), float(np.mean(model.predict(X[test]) == y[test]))))
        rest = np.setdiff1d(pool, labelled)
        if len(labelled) >= max_labels or not len(rest):
            return curve
        probabilities = model.predict_proba(X[rest])
        if diverse:
            chosen = spread(X, rest, probabilities, batch, seed)
        else:
            chosen = choose(probabilities, rest, batch, rng)
        labelled = np.concatenate([labelled, chosen])


def spread(X: np.ndarray, rest: np.ndarray, probabilities: np.ndarray, batch: int, seed: int) -> np.ndarray:
    """The app's diverse queue, on row indices."""
    from audioid_gui.core.learning import Predictions, rank_queue
    from audioid_gui.core.project import FeatureTable

    ids = rest + 1
    predictions = Predictions(ids, list(range(probabilities.shape[1])), probabilities.astype(np.float32))
    table = FeatureTable(ids, [""] * len(ids), [], X[rest].astype(np.float32))
    return np.array([e.track_id - 1 for e in rank_queue(predictions, (), batch, "margin", table, seed)])


def needed(curve: list[tuple[int, float]], target: float) -> Optional[int]:
    return next((n for n, accuracy in curve if accuracy >= target), None)


def mean_curve(curves: list[list[tuple[int, float]]]) -> list[tuple[int, float]]:
    length = min(len(c) for c in curves)
    return [(curves[0][i][0], float(np.mean([c[i][1] for c in curves]))) for i in range(length)]


def run(name: str, X: np.ndarray, y: np.ndarray, batch: int, max_labels: int, repeats: int) -> None:
    counts = ", ".join(f"{(y == c).sum():,} {c}" for c in np.unique(y))
    print(f"\n== {name}: {len(y):,} tracks ({counts}), {X.shape[1]} features; batches of {batch}, "
          f"{repeats} runs averaged, accuracy on a held-out 30 %")
    if len(y) >= 100:
        print(f"ceiling: 5-fold cross-validated accuracy with all {len(y):,} labels: {ceiling(X, y):.1%}")
    started = time.perf_counter()
    strategies = {
        "queue (margin)": lambda s: simulate(X, y, by_margin, batch, max_labels, s),
        "queue (diverse)": lambda s: simulate(X, y, by_margin, batch, max_labels, s, diverse=True),
        "random": lambda s: simulate(X, y, at_random, batch, max_labels, s),
    }
    curves = {label: mean_curve([fn(seed) for seed in range(repeats)]) for label, fn in strategies.items()}
    marks = sorted({n for c in curves.values() for n, _ in c})
    step = max(1, len(marks) // 12)
    print("labels  " + "".join(f"{label:>18}" for label in curves))
    for n in marks[::step] + ([marks[-1]] if marks[-1] not in marks[::step] else []):
        print(f"{n:>6}  " + "".join(f"{dict(c).get(n, float('nan')):>17.1%} " for c in curves.values()))
    for target in (0.90, 0.95):
        reached = {label: needed(c, target) for label, c in curves.items()}
        text = "   ".join(f"{label}: {n if n is not None else f'not within {max_labels}'}" for label, n in reached.items())
        ratio = ""
        if reached["queue (margin)"] and reached["random"]:
            ratio = f"   -> queue needs {reached['queue (margin)'] / reached['random']:.0%} of random's labels"
        print(f"labels to reach {target:.0%}: {text}{ratio}")
    print(f"({time.perf_counter() - started:.0f} s)")


def ceiling(X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.model_selection import cross_val_score

    return float(np.mean(cross_val_score(make_model(TrainingOptions(), len(y)), X, y, cv=5)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=["demo", "synthetic", "corpus"],
                        choices=["demo", "synthetic", "corpus"])
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--max-labels", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=400, help="corpus size per class")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    for name in args.data:
        if name == "demo":
            X, y = demo()
            run("demo", X, y, 1, 21, args.repeats)
        elif name == "synthetic":
            X, y = synthetic()
            run("synthetic", X, y, args.batch, args.max_labels, args.repeats)
        else:
            X, y = corpus(args.per_class)
            run("corpus", X, y, args.batch, args.max_labels, args.repeats)


if __name__ == "__main__":
    main()
