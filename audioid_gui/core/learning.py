"""Active learning: the ensemble, its evaluation, predictions for every track, the uncertainty queue.

The model is the journal's ensemble — a random forest and gradient boosting, soft-voted with the
boosting weighted 2:1 — behind a scaler, in one scikit-learn Pipeline.  Boosting is
``HistGradientBoostingClassifier``: on 2,000 labels × 76 features it fits in about 1 s here where
``GradientBoostingClassifier`` takes 7 s.  Classes are balanced without sample weights (which make
the histogram booster 5× slower here): the forest uses balanced class weights, and the booster's
probabilities are divided by the training class shares (``PriorCorrected``), the Bayes correction
for a balanced loss.

Training reads labels given by ear (human, review, import); labels propagated from clusters may
join with a weight below one.  Class groups fold classes together (the journal's "Music vs
Dialogue", Both counted as Music).  Models are stored with skops, never pickle: loading a model file
cannot run code, and a file holding types outside ``TRUSTED_TYPES`` is refused.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Literal, Mapping, Optional, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, VotingClassifier
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .features import VERSION
from .project import FeatureTable, Project
from .tasks import Cancelled, CancelToken, Progress, ProgressCallback, report

MIN_LABELS_PER_CLASS = 5
STRATEGIES = ("margin", "least-confidence", "entropy")
Strategy = Literal["margin", "least-confidence", "entropy"]
# Types inside a saved model that skops does not trust by default, and that we do: our own wrapper
# and the tree structures of the two ensembles.  Anything else in a model file is refused.
TRUSTED_TYPES = (
    "audioid_gui.core.learning.PriorCorrected",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
)


class TrainingError(ValueError):
    """Training cannot start; the message says what to label first."""


class ModelFileError(ValueError):
    """A stored model cannot be loaded safely."""


@dataclass(frozen=True)
class TrainingOptions:
    forest_weight: float = 1.0
    boosting_weight: float = 2.0
    grouping: Mapping[str, str] = field(default_factory=dict)  # class -> the class it counts as
    cluster_weight: float = 0.0  # weight of labels propagated from clusters; 0 leaves them out
    folds: int = 5
    seed: int = 0

    def target(self, class_name: str) -> str:
        return self.grouping.get(class_name, class_name)

    @classmethod
    def of(cls, project: Project) -> "TrainingOptions":
        """The options this project trains with (remembered from the last change)."""
        text = project.setting("training")
        return cls(**json.loads(text)) if text else cls()

    def save(self, project: Project) -> None:
        project.set_setting("training", json.dumps(asdict(self)))


class PriorCorrected(ClassifierMixin, BaseEstimator):
    """A classifier whose probabilities are divided by the class shares it was trained on and
    renormalised: what a model trained on balanced classes would say, without sample weights."""

    def __init__(self, estimator: Optional[BaseEstimator] = None) -> None:
        self.estimator = estimator

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: Optional[np.ndarray] = None) -> "PriorCorrected":
        self.estimator_ = clone(self.estimator).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.estimator_.classes_
        weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        shares = np.array([weights[y == c].sum() for c in self.classes_])
        self.prior_ = shares / shares.sum()
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = self.estimator_.predict_proba(X) / self.prior_
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def make_model(options: TrainingOptions = TrainingOptions(), n_labels: int = 1000) -> Pipeline:
    """The ensemble.  The booster's leaves may hold fewer tracks while labels are few: with the
    default 20, thirty labels could not split at all and the booster would only echo the priors."""
    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=2, class_weight="balanced_subsample",
                                    n_jobs=-1, random_state=options.seed)
    boosting = PriorCorrected(HistGradientBoostingClassifier(
        max_iter=100, min_samples_leaf=int(np.clip(n_labels // 20, 2, 20)), early_stopping=False,
        random_state=options.seed))
    vote = VotingClassifier([("forest", forest), ("boosting", boosting)], voting="soft",
                            weights=[options.forest_weight, options.boosting_weight])
    return Pipeline([("scale", StandardScaler()), ("vote", vote)])


# -- the training set -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSet:
    track_ids: np.ndarray
    X: np.ndarray
    y: np.ndarray  # class names after grouping
    weights: Optional[np.ndarray]  # None when every label weighs 1
    classes: list[str]  # the model's classes, in the project's class order
    counts: dict[str, int]
    notes: list[str]


def training_set(project: Project, table: FeatureTable, options: TrainingOptions = TrainingOptions()) -> TrainingSet:
    """The labelled tracks that have features, as X and y; refuses when a class is too thin."""
    labels = project.track_labels()
    row_of = {int(t): i for i, t in enumerate(table.track_ids)}
    finite = np.isfinite(table.matrix).all(axis=1) if table.matrix.size else np.zeros(0, dtype=bool)
    rows, y, weights = [], [], []
    no_features = 0
    for track_id, label in labels.items():
        weight = 1.0 if label.heard else options.cluster_weight if label.source == "cluster" else 0.0
        if weight <= 0:
            continue
        row = row_of.get(track_id)
        if row is None or not finite[row]:
            no_features += 1
            continue
        rows.append(row)
        y.append(options.target(label.class_name))
        weights.append(weight)
    order = list(dict.fromkeys(options.target(c.name) for c in project.classes()))
    counts = {name: y.count(name) for name in order}
    notes = []
    if no_features:
        notes.append(f"{no_features:,} labelled tracks have no usable features yet and were left out")
    unused = [name for name, n in counts.items() if n == 0]
    if unused:
        notes.append(f"no labels yet for {', '.join(unused)}: the model cannot predict "
                     f"{'it' if len(unused) == 1 else 'them'}")
    thin = {name: n for name, n in counts.items() if 0 < n < MIN_LABELS_PER_CLASS}
    if thin:
        listing = ", ".join(f"{name} has {n}" for name, n in thin.items())
        raise TrainingError(f"Too few labels to train: {listing}. Label at least {MIN_LABELS_PER_CLASS} "
                            "tracks of every class you use (or fold the class into another).")
    classes = [name for name in order if counts[name]]
    if len(classes) < 2:
        have = f"only {classes[0]}" if classes else "none yet"
        raise TrainingError(f"Training needs labelled tracks of at least two classes ({have}). "
                            f"Label at least {MIN_LABELS_PER_CLASS} tracks of each.")
    rows_array = np.array(rows, dtype=np.int64)
    weight_array = np.array(weights)
    return TrainingSet(
        track_ids=np.asarray(table.track_ids)[rows_array],
        X=np.asarray(table.matrix, dtype=np.float64)[rows_array],
        y=np.array(y),
        weights=None if np.all(weight_array == 1.0) else weight_array,
        classes=classes,
        counts={name: counts[name] for name in classes},
        notes=notes,
    )


# -- training and evaluation ----------------------------------------------------------------------


@dataclass
class TrainedModel:
    model: Pipeline
    classes: list[str]
    grouping: dict[str, str]
    counts: dict[str, int]
    seconds: float
    notes: list[str]

    @property
    def n_labels(self) -> int:
        return sum(self.counts.values())

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """(tracks, classes) in ``self.classes`` order."""
        p = self.model.predict_proba(X)
        order = [list(self.model.classes_).index(c) for c in self.classes]
        return p[:, order]


def _fit(ts: TrainingSet, options: TrainingOptions, rows: Optional[np.ndarray] = None) -> Pipeline:
    rows = np.arange(len(ts.y)) if rows is None else rows
    model = make_model(options, len(rows))
    if ts.weights is None:
        return model.fit(ts.X[rows], ts.y[rows])
    return model.fit(ts.X[rows], ts.y[rows], vote__sample_weight=ts.weights[rows])


def train(ts: TrainingSet, options: TrainingOptions = TrainingOptions()) -> TrainedModel:
    started = time.perf_counter()
    model = _fit(ts, options)
    return TrainedModel(model, ts.classes, dict(options.grouping), ts.counts, time.perf_counter() - started,
                        list(ts.notes))


@dataclass(frozen=True)
class Report:
    """A stratified k-fold evaluation of the ensemble on the labels it was trained with."""

    n_labels: int
    folds: int
    accuracy: float
    classes: list[str]
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    confusion: list[list[int]]  # rows: true class, columns: predicted

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Report":
        return cls(**json.loads(text))

    def text(self) -> str:
        width = max(len(c) for c in self.classes) + 2
        lines = [f"{self.folds}-fold cross-validated accuracy: {self.accuracy:.1%} on {self.n_labels:,} labels", "",
                 f"{'':<{width}}precision  recall     F1  labels"]
        for i, name in enumerate(self.classes):
            lines.append(f"{name:<{width}}{self.precision[i]:9.1%} {self.recall[i]:7.1%} {self.f1[i]:6.1%} "
                         f"{self.support[i]:7,}")
        lines += ["", "confusion (rows: true, columns: predicted)",
                  " " * width + "".join(f"{c[:8]:>9}" for c in self.classes)]
        for name, row in zip(self.classes, self.confusion):
            lines.append(f"{name:<{width}}" + "".join(f"{n:>9,}" for n in row))
        return "\n".join(lines)


def evaluate(ts: TrainingSet, options: TrainingOptions = TrainingOptions(),
             progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> Report:
    """Stratified k-fold cross-validation (k lowered to the smallest class when it has fewer)."""
    progress = report(progress)
    folds = max(2, min(options.folds, min(ts.counts.values())))
    predicted = np.empty(len(ts.y), dtype=ts.y.dtype)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=options.seed)
    for i, (train_rows, test_rows) in enumerate(splitter.split(ts.X, ts.y)):
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        progress(Progress(i, folds, f"cross-validating, fold {i + 1} of {folds}"))
        predicted[test_rows] = _fit(ts, options, train_rows).predict(ts.X[test_rows])
    progress(Progress(folds, folds, "cross-validated"))
    precision, recall, f1, support = precision_recall_fscore_support(ts.y, predicted, labels=ts.classes,
                                                                     zero_division=0)
    return Report(
        n_labels=len(ts.y), folds=folds, accuracy=float(np.mean(predicted == ts.y)), classes=list(ts.classes),
        precision=precision.tolist(), recall=recall.tolist(), f1=f1.tolist(), support=support.tolist(),
        confusion=confusion_matrix(ts.y, predicted, labels=ts.classes).tolist(),
    )


# -- persistence ----------------------------------------------------------------------------------


def model_bytes(trained: TrainedModel) -> bytes:
    """The fitted model as a (deflated: about 4x smaller) skops file."""
    import zipfile

    import skops.io as sio

    return sio.dumps(trained.model, compression=zipfile.ZIP_DEFLATED, compresslevel=1)


def load_model(blob: bytes, classes: Sequence[str], grouping: Mapping[str, str]) -> TrainedModel:
    """A stored model, refusing any type that could run code on loading."""
    import skops.io as sio

    try:
        untrusted = set(sio.get_untrusted_types(data=blob))
        strange = untrusted - set(TRUSTED_TYPES)
        if strange:
            raise ModelFileError(f"The stored model holds types this app does not load: {', '.join(sorted(strange))}")
        model = sio.loads(blob, trusted=sorted(untrusted))
    except ModelFileError:
        raise
    except Exception as exc:  # a damaged blob: any error of the format reader
        raise ModelFileError(f"The stored model cannot be read ({exc}); retrain to replace it.") from exc
    return TrainedModel(model, list(classes), dict(grouping), {}, 0.0, [])


# -- predictions and the queue --------------------------------------------------------------------


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


def predict(trained: TrainedModel, table: FeatureTable) -> Predictions:
    """Class probabilities for every track with usable features."""
    finite = np.isfinite(table.matrix).all(axis=1)
    X = np.asarray(table.matrix, dtype=np.float64)[finite]
    probabilities = trained.probabilities(X).astype(np.float32) if len(X) else np.zeros((0, len(trained.classes)),
                                                                                        dtype=np.float32)
    return Predictions(np.asarray(table.track_ids)[finite], list(trained.classes), probabilities)


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


@dataclass(frozen=True)
class QueueEntry:
    track_id: int
    score: float  # uncertainty, higher = less sure
    predicted: str
    confidence: float
    runner_up: str
    runner_up_probability: float


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
    chosen = ranked[:n]
    order = np.argsort(-predictions.probabilities[chosen], axis=1)
    names = predictions.classes
    return [
        QueueEntry(int(predictions.track_ids[r]), float(scores[r]), names[o[0]],
                   float(predictions.probabilities[r, o[0]]), names[o[1]] if len(o) > 1 else "",
                   float(predictions.probabilities[r, o[1]]) if len(o) > 1 else 0.0)
        for r, o in zip(chosen, order)
    ]


def _spread(pool: np.ndarray, scores: np.ndarray, track_ids: np.ndarray, features: FeatureTable, n: int,
            seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    row_of = {int(t): i for i, t in enumerate(features.track_ids)}
    X = np.asarray(features.matrix, dtype=np.float64)[[row_of[int(track_ids[r])] for r in pool]]
    X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    groups = KMeans(n_clusters=n, n_init=1, random_state=seed).fit_predict(X)
    best = [pool[groups == g][np.argmax(scores[pool[groups == g]])] for g in np.unique(groups)]
    return np.array(sorted(best, key=lambda r: -scores[r]))


# -- one retraining, as the GUI and the CLI run it ------------------------------------------------


@dataclass
class Retrained:
    model_id: int
    trained: TrainedModel
    predictions: Predictions
    seconds: float


def retrain(project: Project, options: TrainingOptions = TrainingOptions(),
            progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> Retrained:
    """Train on the project's labels, predict every track, and store both."""
    progress = report(progress)
    started = time.perf_counter()
    progress(Progress(0, 3, "reading labels and features"))
    table = project.feature_table(VERSION)
    ts = training_set(project, table, options)
    progress(Progress(1, 3, f"training on {len(ts.y):,} labels"))
    trained = train(ts, options)
    if cancel is not None and cancel.cancelled:
        raise Cancelled()
    progress(Progress(2, 3, f"predicting {len(table.track_ids):,} tracks"))
    predictions = predict(trained, table)
    model_id = project.save_model(VERSION, str(project.segment), trained.classes, trained.grouping,
                                  trained.n_labels, model_bytes(trained))
    project.save_predictions(model_id, predictions.track_ids, predictions.classes, predictions.probabilities)
    progress(Progress(3, 3, "done"))
    return Retrained(model_id, trained, Predictions(predictions.track_ids, predictions.classes,
                                                     predictions.probabilities, model_id),
                     time.perf_counter() - started)


def evaluate_model(project: Project, model_id: int, options: TrainingOptions = TrainingOptions(),
                   progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> Report:
    """Cross-validate the ensemble on the labels the model was trained with, and store the report."""
    result = evaluate(training_set(project, project.feature_table(VERSION), options), options, progress, cancel)
    project.set_model_report(model_id, result.to_json())
    return result
