"""What to hear next: the first tracks of a project nobody has labelled yet, and then the tracks
the model is least sure about.

**Cold start.**  With 30,000 unknown clips and no model, picking the first tracks blindly wastes the
user's ears on whatever happens to come first.  ``explore`` groups the tracks by sound (k-means on
the standardised features) and proposes the representative track (medoid) of groups far from
everything already labelled, largest groups first among equals: the first dozen answers cover the
collection's main kinds of sound, and a class nobody has heard yet is found quickly.  It is
deterministic (a fixed seed).

**Uncertainty.**  Once a model exists, ``rank_queue`` orders the unlabelled tracks by how unsure it
is (margin, least confidence or entropy), optionally spread over different-sounding groups.

``propose`` is the one call the CLI, the window and the benchmark make: exploration while a class
of the project has never been heard (or there is no model), uncertainty after.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Literal, Mapping, Optional, Sequence

import numpy as np

from .features import VERSION, column_weights
from .project import FeatureTable, Project, finite_rows, rows_of

STRATEGIES = ("margin", "least-confidence", "entropy")
Strategy = Literal["margin", "least-confidence", "entropy"]
EXPLORE_GROUPS = 48  # groups of sound the cold start draws its representatives from
KMEANS_SAMPLE = 20_000  # k-means learns its centres on at most this many tracks
FALLBACK_CANDIDATES = 2_000  # tracks considered once every medoid has been heard


@dataclass(frozen=True)
class Predictions:
    track_ids: np.ndarray
    classes: list[str]
    probabilities: np.ndarray  # (tracks, classes) float32
    model_id: Optional[int] = None

    @property
    def predicted(self) -> np.ndarray:
        return np.array(self.classes)[np.argmax(self.probabilities, axis=1)]

    @property
    def confidence(self) -> np.ndarray:
        return self.probabilities.max(axis=1)


@dataclass(frozen=True)
class QueueEntry:
    track_id: int
    score: float  # uncertainty, higher = less sure (exploration: distance to what was heard)
    predicted: str  # "" when the entry comes from exploration without a model
    confidence: float
    runner_up: str
    runner_up_probability: float


def standardised(matrix: np.ndarray, names: Sequence[str] = ()) -> np.ndarray:
    """Zero mean, unit variance per column over the given tracks (constant columns stay 0), then
    each named column weighted as the model weights it (``features.column_weights``), so that
    "far" and "alike" mean what they mean to the model."""
    X = np.asarray(matrix, dtype=np.float64)
    spread = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    return X * column_weights(names) if len(names) == X.shape[1] else X


# -- cold start -----------------------------------------------------------------------------------


def explore(features: FeatureTable, heard: Sequence[int], n: int, seed: int = 0) -> list[QueueEntry]:
    """n representative tracks, each far from the tracks already heard and from each other.

    The candidates are the medoids of up to ``EXPLORE_GROUPS`` k-means groups; they are taken
    farthest-first (the next is the one whose nearest heard or chosen track is farthest), the
    distance weighted by the square root of the group's share so that a big group beats a
    handful of outliers at the same distance.  Once every medoid has been heard, a fixed random
    choice of other tracks takes their place, so the queue never runs dry.
    """
    finite = finite_rows(features.matrix)
    ids = np.asarray(features.track_ids)[finite]
    if not len(ids) or n <= 0:
        return []
    X = standardised(features.matrix[finite], features.names)
    heard_rows = np.flatnonzero(np.isin(ids, np.asarray(list(heard), dtype=np.int64)))
    medoids, sizes = _medoids(X, min(EXPLORE_GROUPS, len(ids)), seed)
    candidates, weight = medoids[~np.isin(medoids, heard_rows)], np.sqrt(sizes / sizes.sum())[~np.isin(medoids, heard_rows)]
    if len(candidates) < n:
        rest = np.setdiff1d(np.arange(len(ids)), np.concatenate([heard_rows, candidates]))
        rest = np.random.default_rng(seed).permutation(rest)[:FALLBACK_CANDIDATES]
        candidates = np.concatenate([candidates, rest])
        weight = np.concatenate([weight, np.full(len(rest), weight.min() if len(weight) else 1.0)])
    nearest = _nearest_distance(X[candidates], X[heard_rows]) if len(heard_rows) else np.full(len(candidates), np.inf)
    chosen: list[QueueEntry] = []
    open_rows = list(range(len(candidates)))
    while open_rows and len(chosen) < n:
        if not len(heard_rows) and not chosen:  # nothing heard yet: start with the biggest group
            score = weight[open_rows]
        else:
            score = nearest[open_rows] * weight[open_rows]
        best = open_rows.pop(int(np.argmax(score)))
        distance = float(nearest[best]) if np.isfinite(nearest[best]) else 0.0
        chosen.append(QueueEntry(int(ids[candidates[best]]), distance, "", 0.0, "", 0.0))
        nearest = np.minimum(nearest, np.linalg.norm(X[candidates] - X[candidates[best]], axis=1))
    return chosen


def _medoids(X: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row of the track nearest each k-means centre, and each group's size."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(seed)
    sample = X if len(X) <= KMEANS_SAMPLE else X[rng.choice(len(X), KMEANS_SAMPLE, replace=False)]
    with warnings.catch_warnings():  # identical vectors leave fewer distinct groups than asked: fine here
        warnings.simplefilter("ignore", ConvergenceWarning)
        kmeans = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(sample)
    groups = kmeans.predict(X)
    medoids, sizes = [], []
    for g in range(k):
        rows = np.flatnonzero(groups == g)
        if not len(rows):
            continue
        medoids.append(rows[np.argmin(np.linalg.norm(X[rows] - kmeans.cluster_centers_[g], axis=1))])
        sizes.append(len(rows))
    return np.array(medoids), np.array(sizes)


def _nearest_distance(points: np.ndarray, others: np.ndarray, block: int = 2_000) -> np.ndarray:
    """For each point, the distance to its nearest neighbour among ``others`` (in blocks, so that
    30,000 heard tracks never make one huge matrix)."""
    nearest = np.full(len(points), np.inf)
    squared = (points**2).sum(axis=1)[:, None]
    for start in range(0, len(others), block):
        part = others[start:start + block]
        d2 = squared + (part**2).sum(axis=1)[None, :] - 2 * points @ part.T
        nearest = np.minimum(nearest, np.sqrt(np.maximum(d2, 0).min(axis=1)))
    return nearest


# -- uncertainty ----------------------------------------------------------------------------------


def uncertainty(probabilities: np.ndarray, strategy: Strategy = "margin") -> np.ndarray:
    """How unsure the model is about each track, higher = less sure, in [0, 1]."""
    p = np.asarray(probabilities, dtype=np.float64)
    if strategy == "least-confidence":
        return 1.0 - p.max(axis=1)
    if strategy == "margin":
        top2 = -np.sort(-p, axis=1)[:, :2]
        return 1.0 - (top2[:, 0] - top2[:, 1])
    if strategy == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.nansum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
        return h / np.log(p.shape[1])
    raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def rank_queue(predictions: Predictions, exclude: Sequence[int] = (), n: int = 20, strategy: Strategy = "margin",
               features: Optional[FeatureTable] = None, seed: int = 0) -> list[QueueEntry]:
    """The n tracks the model is least sure about, skipping ``exclude`` (tracks labelled by ear).

    With ``features``, the batch is diverse: the 10·n most uncertain tracks are grouped into n
    clusters (k-means on their standardised features) and the most uncertain of each is taken, so
    that ten near-identical clips do not fill one batch.
    """
    if not len(predictions.track_ids) or n <= 0:
        return []
    scores = uncertainty(predictions.probabilities, strategy)
    open_rows = np.flatnonzero(~np.isin(predictions.track_ids, np.asarray(list(exclude), dtype=np.int64)))
    ranked = open_rows[np.argsort(-scores[open_rows], kind="stable")]
    if features is not None and len(ranked) > n:
        ranked = _spread(ranked[: 10 * n], scores, predictions.track_ids, features, n, seed)
    return [_entry(predictions, r, float(scores[r])) for r in ranked[:n]]


def _entry(predictions: Predictions, row: int, score: float) -> QueueEntry:
    order = np.argsort(-predictions.probabilities[row])
    names, p = predictions.classes, predictions.probabilities[row]
    second = len(order) > 1
    return QueueEntry(int(predictions.track_ids[row]), score, names[order[0]], float(p[order[0]]),
                      names[order[1]] if second else "", float(p[order[1]]) if second else 0.0)


def _spread(pool: np.ndarray, scores: np.ndarray, track_ids: np.ndarray, features: FeatureTable, n: int,
            seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    X = standardised(np.asarray(features.matrix)[rows_of(features.track_ids, track_ids[pool])], features.names)
    groups = KMeans(n_clusters=n, n_init=1, random_state=seed).fit_predict(X)
    best = [pool[groups == g][np.argmax(scores[pool[groups == g]])] for g in np.unique(groups)]
    return np.array(sorted(best, key=lambda r: -scores[r]))


# -- the one call ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    entries: list[QueueEntry]
    exploring: bool  # True: representatives of unheard kinds of sound, not the model's doubts
    unheard: list[str]  # classes of the project nobody has labelled by ear yet


def propose(features: FeatureTable | Callable[[], FeatureTable], heard: dict[int, str], classes: Sequence[str],
            predictions: Optional[Predictions], n: int, strategy: Strategy = "margin", diverse: bool = False,
            seed: int = 0) -> Proposal:
    """What the user should hear next: representatives far from everything heard while there is
    no model, half of them while a class is still unheard, then the model's least sure tracks.
    ``heard``: track id → class (after any folding) of the labels given by ear.  ``features``
    may be a function that reads them: a model's doubts alone need no features, and reading a
    million tracks' took 8 s."""
    table = features if isinstance(features, FeatureTable) else None

    def feature_table() -> FeatureTable:
        nonlocal table
        if table is None:
            table = features()  # type: ignore[operator]
        return table

    unheard = [c for c in classes if c not in set(heard.values())]
    if predictions is None:
        return Proposal(explore(feature_table(), list(heard), n, seed), True, unheard)
    # A class may be missing from the collection altogether: while one is unheard, half the batch
    # keeps exploring and half asks what the young model doubts, so labeling never stalls.
    far = explore(feature_table(), list(heard), (n + 1) // 2, seed) if unheard else []
    taken = list(heard) + [e.track_id for e in far]
    doubts = rank_queue(predictions, taken, n - len(far), strategy, feature_table() if diverse else None, seed)
    return Proposal(far + doubts, bool(far), unheard)


def propose_for(project: Project, predictions: Optional[Predictions], n: int, strategy: Strategy = "margin",
                diverse: bool = False, grouping: Optional[Mapping[str, str]] = None) -> Proposal:
    """``propose`` over a project: its tracks with current features, its labels given by ear and
    its classes, folded as the model is trained (``grouping``: class → the class it counts as)."""
    grouping = grouping or {}
    heard = {track_id: grouping.get(label.class_name, label.class_name)
             for track_id, label in project.track_labels().items() if label.heard}
    classes = list(dict.fromkeys(grouping.get(c.name, c.name) for c in project.classes()))
    return propose(lambda: project.feature_table(VERSION), heard, classes, predictions, n, strategy, diverse)
