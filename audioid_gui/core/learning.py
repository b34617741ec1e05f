"""Active learning: the model, its evaluation, and predictions for every track.

Three models can be chosen (``TrainingOptions.model``):

- ``auto`` (the default): a regularised logistic regression, self-trained on the unlabelled
  tracks, while labels are few; from ``AUTO_TREES_FROM`` labels on, a logistic regression
  soft-voted with the journal's forest and boosting.
  Measured on real recordings (``bench/active_learning.py``), the trees starve below ~100 labels
  (0.73 where logistic regression reaches 0.87 at 30 random labels; in a vote they pulled the
  queue's 30-label accuracy from 0.93 to 0.84), while on data whose classes are not linearly
  separable they win once labels are many (0.92 vs 0.81 at 100 labels); the vote, the linear
  member weighted like the boosting, is within a point of the better of the two from 100 on.
- ``linear``: logistic regression alone (self-trained below ``AUTO_TREES_FROM`` labels);
- ``journal``: the journal's ensemble — a random forest and gradient boosting, soft-voted 1:2.

Features are standardised over every track of the project, not only the labelled ones: with 30
labels, the labelled tracks alone give a poor estimate of each feature's spread, and the
unlabelled tracks are free information about it (measured: 0.927 → 0.940 after 30 labels).  The
cues made for this question then count
``features.CUE_WEIGHT`` times as much as the journal's timbre statistics (a prior that only the
linear member feels; trees do not care about scale).  Boosting is ``HistGradientBoostingClassifier``;
classes are balanced by class weights (logistic regression, forest) or, for the booster, by
dividing its probabilities by the training class shares (``PriorCorrected``: balancing it with
sample weights made it 5× slower).

Training reads labels given by ear (human, review, import); labels propagated from clusters may
join with a weight below one.  Class groups fold classes together (the journal's "Music vs
Dialogue", Both counted as Music).  Training starts at ``MIN_LABELS_PER_CLASS`` labels per class;
below ``YOUNG_LABELS_PER_CLASS`` the model says it is still young.  Training and prediction run
with bounded thread pools, so a retrain never fights a scan's worker processes for the cores.
Models are stored with skops, never pickle: loading a model file cannot run code, and a file
holding types outside ``TRUSTED_TYPES`` is refused.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Literal, Mapping, Optional, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .features import VERSION, column_weights
from .project import FeatureTable, FeatureVectors, Project, finite_rows, rows_of
from .selection import Predictions
from .tasks import Cancelled, CancelToken, Progress, ProgressCallback, report

MIN_LABELS_PER_CLASS = 2
YOUNG_LABELS_PER_CLASS = 10
MODELS = ("auto", "linear", "journal")
AUTO_TREES_FROM = 100  # ``auto`` adds the trees to the vote from this many labels on
ModelKind = Literal["auto", "linear", "journal"]
LINEAR_C = 0.3  # inverse strength of the logistic regression's L2 penalty on standardised features
# Self-training while labels are few (``self_train``): how sure a prediction must be to join as a
# label, what it weighs against a label given by ear, how many rounds, how many tracks at most.
SELF_TRAINING_CONFIDENCE = 0.9
SELF_TRAINING_WEIGHT = 0.3
SELF_TRAINING_ROUNDS = 2
SELF_TRAINING_MAX = 5_000
# Threads for training: half the cores.  Unbounded, OpenMP's spinning threads made a retrain 35-60x
# slower while a scan kept every core busy; the forest's joblib threads likewise.
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
TRAINING_THREADS = max(1, CORES // 2)
PREDICT_THREADS = CORES  # single-threaded blocks, one per core (see ``TrainedModel.probabilities``)
# Types inside a saved model that skops does not trust by default, and that we do: our own wrapper
# and the tree structures of the two ensembles.  Anything else in a model file is refused.
TRUSTED_TYPES = (
    "audioid_gui.core.learning.PriorCorrected",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
)


# A saved model unpacks to about four times its stored size (deflate, level 1); a file claiming far
# more is a zip bomb.  The largest real model seen, a forest on 30,000 tracks, unpacks to 17 MB.
SCALER_SAMPLE = 200_000  # tracks the scaler learns from at most (``_scaler_sample``)
PREDICT_BLOCK = 4_096  # tracks predicted at a time: 3.6 MB of features, at home in the cache
MAX_MODEL_EXPANSION = 100
MAX_MODEL_BYTES = 2 << 30
NOT_A_MODEL = "The saved model is damaged or not a model: retrain to replace it"


YOUNG_NOTE = "The model is still young"
ENOUGH_TO_TRAIN = (f"every class you label has {MIN_LABELS_PER_CLASS} labels (two classes at least; "
                   "a class with none is left out)")


def enough_to_train(counts: Mapping[str, int]) -> bool:
    """Whether labels given by ear in these numbers per class let a model train (see
    ``training_set``, which says why not when they do not)."""
    used = [n for n in counts.values() if n > 0]
    return len(used) >= 2 and min(used) >= MIN_LABELS_PER_CLASS


def young_classes(counts: Mapping[str, int]) -> dict[str, int]:
    """The classes a model trained on these label counts knows too little of (see
    ``YOUNG_LABELS_PER_CLASS``); classes with no labels are not in the model at all."""
    return {name: n for name, n in counts.items() if 0 < n < YOUNG_LABELS_PER_CLASS}


class TrainingError(ValueError):
    """Training cannot start; the message says what to label first."""


class ModelFileError(ValueError):
    """A stored model cannot be loaded safely."""


@dataclass(frozen=True)
class TrainingOptions:
    model: ModelKind = "auto"
    linear_weight: float = 2.0  # the vote's weights (``auto``; ``journal`` leaves the linear member out)
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
        if not text:
            return cls()
        known = {k: v for k, v in json.loads(text).items() if k in cls.__dataclass_fields__}
        return cls(**known)

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


def make_model(options: TrainingOptions = TrainingOptions(), n_labels: int = 1000) -> BaseEstimator:
    """The classifier (without its scaler: ``fit_scaled`` adds the one fitted on every track).

    The booster's leaves may hold fewer tracks while labels are few: with the default 20, thirty
    labels could not split at all and the booster would only echo the priors."""
    if options.model not in MODELS:
        raise ValueError(f"unknown model {options.model!r}; choose one of {', '.join(MODELS)}")
    linear = LogisticRegression(C=LINEAR_C, class_weight="balanced", max_iter=5000)
    if options.model == "linear" or (options.model == "auto" and n_labels < AUTO_TREES_FROM):
        return linear
    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=2, class_weight="balanced_subsample",
                                    n_jobs=TRAINING_THREADS, random_state=options.seed)
    boosting = PriorCorrected(HistGradientBoostingClassifier(
        max_iter=100, min_samples_leaf=int(np.clip(n_labels // 20, 2, 20)), early_stopping=False,
        random_state=options.seed))
    members = [("forest", forest, options.forest_weight), ("boosting", boosting, options.boosting_weight)]
    if options.model == "auto":
        members.insert(0, ("linear", linear, options.linear_weight))
    return VotingClassifier([(name, estimator) for name, estimator, _ in members], voting="soft",
                            weights=[weight for *_, weight in members])


def fit_scaled(options: TrainingOptions, population: np.ndarray, names: Sequence[str], X: np.ndarray,
               y: np.ndarray, weights: Optional[np.ndarray] = None,
               unlabelled: Optional[np.ndarray] = None, n_labels: Optional[int] = None) -> Pipeline:
    """The model fitted on (X, y), behind a scaler fitted on ``population`` (every track's
    features) that also weights the named columns: one pipeline that takes raw feature vectors.

    ``n_labels`` (default: ``len(y)``) chooses the kind of model: a cross-validation fold passes
    the number of all labels, so that it evaluates the kind of model that will predict.

    While the model is the linear one alone, it is self-trained on ``unlabelled`` tracks (see
    ``self_train``)."""
    scaler = StandardScaler().fit(_scaler_sample(population))
    scaler.scale_ = scaler.scale_ / column_weights(names)
    model = make_model(options, len(y) if n_labels is None else n_labels)
    with threadpool_limits(TRAINING_THREADS):
        if isinstance(model, LogisticRegression) and unlabelled is not None and len(unlabelled):
            model = self_train(model, scaler.transform(X), y, weights, scaler.transform(unlabelled), options.seed)
        elif weights is None:
            model.fit(scaler.transform(X), y)
        else:
            model.fit(scaler.transform(X), y, sample_weight=weights)
    return Pipeline([("scale", scaler), ("model", model)])


def _scaler_sample(population: np.ndarray) -> np.ndarray:
    """The tracks the scaler learns each feature's mean and spread from: all of them, or a fixed
    random ``SCALER_SAMPLE`` of a bigger project, which knows them to a fraction of a percent
    (the sampling error of a mean is the spread / √200,000 = 0.2 % of it) in 0.7 s, where a
    million tracks took 3.7 s of every training."""
    if len(population) <= SCALER_SAMPLE:
        return population
    rows = np.sort(np.random.default_rng(0).choice(len(population), SCALER_SAMPLE, replace=False))
    return population[rows]


def self_train(model: LogisticRegression, X: np.ndarray, y: np.ndarray, weights: Optional[np.ndarray],
               unlabelled: np.ndarray, seed: int = 0) -> LogisticRegression:
    """Fit on the labels, then twice more with the unlabelled tracks the model is at least
    ``SELF_TRAINING_CONFIDENCE`` sure of added as labels of weight ``SELF_TRAINING_WEIGHT``.

    A user has 30 labels and 30,000 unlabelled clips: the confident predictions pull the boundary
    into the gaps between the groups of tracks.  Measured on real recordings from an empty project
    (``bench/active_learning.py``, 20 runs), it lifts accuracy after 30 labels from 0.940 to 0.947
    and after 15 from 0.866 to 0.874; label spreading on a k-nearest-neighbour graph did not help.  At most
    ``SELF_TRAINING_MAX`` tracks join per round (a fixed random choice), to bound the time."""
    weights = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    fitted = clone(model).fit(X, y, sample_weight=weights)
    rng = np.random.default_rng(seed)
    for _ in range(SELF_TRAINING_ROUNDS):
        probabilities = fitted.predict_proba(unlabelled)
        sure = np.flatnonzero(probabilities.max(axis=1) >= SELF_TRAINING_CONFIDENCE)
        if not len(sure):
            break
        if len(sure) > SELF_TRAINING_MAX:
            sure = np.sort(rng.choice(sure, SELF_TRAINING_MAX, replace=False))
        guessed = fitted.classes_[probabilities[sure].argmax(axis=1)]
        fitted = clone(model).fit(np.vstack([X, unlabelled[sure]]), np.concatenate([y, guessed]),
                                  sample_weight=np.concatenate([weights, np.full(len(sure), SELF_TRAINING_WEIGHT)]))
    return fitted


# -- the training set -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSet:
    track_ids: np.ndarray
    X: np.ndarray
    y: np.ndarray  # class names after grouping
    population: np.ndarray  # every track's usable features (float32): what the scaler learns from
    labelled_rows: np.ndarray  # the rows of ``population`` that are in the training set
    names: list[str]  # the feature columns' names
    weights: Optional[np.ndarray]  # None when every label weighs 1
    classes: list[str]  # the model's classes, in the project's class order
    counts: dict[str, int]
    notes: list[str]

    @property
    def unlabelled(self) -> np.ndarray:
        """The usable features of the tracks not in the training set: a copy of nearly all of
        ``population`` (0.4 GB for a million tracks), made only for the model that self-trains."""
        return np.delete(self.population, self.labelled_rows, axis=0)


def training_set(project: Project, table: FeatureTable | FeatureVectors, options: TrainingOptions = TrainingOptions()) -> TrainingSet:
    """The labelled tracks that have features, as X and y; refuses when a class is too thin."""
    labels = project.track_labels()
    label_rows = rows_of(table.track_ids, list(labels)).tolist()
    finite = finite_rows(table.matrix)
    rows, y, weights = [], [], []
    no_features = 0
    for label, row in zip(labels.values(), label_rows):
        weight = 1.0 if label.heard else options.cluster_weight if label.source == "cluster" else 0.0
        if weight <= 0:
            continue
        if row < 0 or not finite[row]:
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
                            "tracks of every class you use (or fold the class into another); "
                            "the queue proposes tracks to hear.")
    classes = [name for name in order if counts[name]]
    if len(classes) < 2:
        have = f"only {classes[0]}" if classes else "none yet"
        raise TrainingError(f"Training needs labelled tracks of at least two classes ({have}). "
                            f"Label at least {MIN_LABELS_PER_CLASS} tracks of each; the queue proposes "
                            "tracks to hear.")
    if options.model == "journal" and sum(counts.values()) < AUTO_TREES_FROM:
        notes.append(f"The journal's ensemble starves below about {AUTO_TREES_FROM} labels: on real recordings, "
                     "after 30 labels, it was right on 0.78 of the tracks where logistic regression (Auto) was "
                     "right on 0.91. Auto is the better choice until then.")
    young = young_classes(counts)
    if young:
        listing = ", ".join(f"{name} {n}" for name, n in young.items())
        notes.append(f"{YOUNG_NOTE} ({listing} labels): its predictions will change as you "
                     f"label more. Label from the queue until every class has {YOUNG_LABELS_PER_CLASS}.")
    rows_array = np.array(rows, dtype=np.int64)
    weight_array = np.array(weights)
    # The population stays float32 (the scaler sums in float64 all the same): a float64 copy of a
    # million vectors was 0.9 GB and 2 s.
    matrix = np.asarray(table.matrix)
    population = matrix if finite.all() else matrix[finite]
    return TrainingSet(
        track_ids=np.asarray(table.track_ids)[rows_array],
        X=matrix[rows_array].astype(np.float64),
        y=np.array(y),
        population=population,
        labelled_rows=np.cumsum(finite)[rows_array] - 1,  # a row's place among the finite rows
        names=list(table.names),
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
        """(tracks, classes) in ``self.classes`` order.

        A block of tracks at a time: each of the booster's 300 trees walks all the rows it is
        given, and a block stays in the processor's cache for all of them where a million rows
        (0.9 GB) were read from memory 300 times.  The blocks are shared by ``PREDICT_THREADS``
        plain threads, each running its block single-threaded: the trees release the GIL, and no
        OpenMP team spins waiting for cores a scan is using.  A million tracks on 2 cores: 26 s
        in one thread, 14 s in two (the booster's own two OpenMP threads per block: 19 s); 11 s
        in two on a faster machine."""
        if not len(X):
            p = self.model.predict_proba(X)
        else:
            def block(first: int) -> np.ndarray:  # float64 a block at a time, not a 0.9 GB copy
                return self.model.predict_proba(np.asarray(X[first:first + PREDICT_BLOCK], dtype=np.float64))

            firsts = range(0, len(X), PREDICT_BLOCK)
            with threadpool_limits(1), ThreadPoolExecutor(min(PREDICT_THREADS, len(firsts))) as pool:
                p = np.concatenate(list(pool.map(block, firsts)))
        order = [list(self.model.classes_).index(c) for c in self.classes]
        return p[:, order]


def _fit(ts: TrainingSet, options: TrainingOptions, rows: Optional[np.ndarray] = None) -> Pipeline:
    rows = np.arange(len(ts.y)) if rows is None else rows
    weights = None if ts.weights is None else ts.weights[rows]
    self_trains = isinstance(make_model(options, len(ts.y)), LogisticRegression)
    return fit_scaled(options, ts.population, ts.names, ts.X[rows], ts.y[rows], weights,
                      ts.unlabelled if self_trains else None, n_labels=len(ts.y))


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
    # How far the probabilities can be trusted (None in reports of older versions):
    brier: Optional[float] = None  # mean squared distance of the probabilities from the truth, 0 = perfect
    ece: Optional[float] = None  # expected calibration error: average |confidence − accuracy| over 10 bins
    notes: list[str] = field(default_factory=list)
    model: str = ""  # which of MODELS was evaluated ("" in reports of older versions)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Report":
        values = json.loads(text)
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

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
        if self.ece is not None and self.brier is not None:
            lines += ["", f"calibration: a prediction made with confidence c is right about c of the time, "
                          f"give or take {self.ece:.1%} (expected calibration error); Brier score {self.brier:.3f}"]
        lines += [""] + self.notes if self.notes else []
        return "\n".join(lines)


def evaluate(ts: TrainingSet, options: TrainingOptions = TrainingOptions(),
             progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> Report:
    """Stratified k-fold cross-validation (k lowered to the smallest class when it has fewer)."""
    progress = report(progress)
    folds = max(2, min(options.folds, min(ts.counts.values())))
    probabilities = np.empty((len(ts.y), len(ts.classes)))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=options.seed)
    for i, (train_rows, test_rows) in enumerate(splitter.split(ts.X, ts.y)):
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        progress(Progress(i, folds, f"cross-validating, fold {i + 1} of {folds}"))
        model = _fit(ts, options, train_rows)
        trained = TrainedModel(model, ts.classes, {}, {}, 0.0, [])
        probabilities[test_rows] = trained.probabilities(ts.X[test_rows])
    progress(Progress(folds, folds, "cross-validated"))
    predicted = np.array(ts.classes)[np.argmax(probabilities, axis=1)]
    precision, recall, f1, support = precision_recall_fscore_support(ts.y, predicted, labels=ts.classes,
                                                                     zero_division=0)
    brier, ece = calibration(probabilities, ts.y, ts.classes)
    return Report(
        n_labels=len(ts.y), folds=folds, accuracy=float(np.mean(predicted == ts.y)), classes=list(ts.classes),
        precision=precision.tolist(), recall=recall.tolist(), f1=f1.tolist(), support=support.tolist(),
        confusion=confusion_matrix(ts.y, predicted, labels=ts.classes).tolist(), brier=brier, ece=ece,
        notes=[n for n in ts.notes if n.startswith(YOUNG_NOTE)], model=options.model,
    )


def calibration(probabilities: np.ndarray, truth: np.ndarray, classes: Sequence[str],
                bins: int = 10) -> tuple[float, float]:
    """(Brier score, expected calibration error) of out-of-sample probabilities.

    Brier: the mean over tracks of the squared distance between the probability vector and the
    one-hot truth (0 is perfect, 2 the worst).  ECE: tracks binned by their top probability; the
    gap between the bin's mean confidence and its accuracy, averaged with the bins' sizes as
    weights — what the tag writer's confidence threshold relies on."""
    onehot = (np.asarray(truth)[:, None] == np.asarray(classes)[None, :]).astype(float)
    brier = float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1)))
    confidence = probabilities.max(axis=1)
    right = onehot[np.arange(len(onehot)), probabilities.argmax(axis=1)] == 1
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    ece = sum(abs(confidence[which == b].mean() - right[which == b].mean()) * np.mean(which == b)
              for b in range(bins) if np.any(which == b))
    return brier, float(ece)


# -- persistence ----------------------------------------------------------------------------------


def model_bytes(trained: TrainedModel) -> bytes:
    """The fitted model as a (deflated: about 4x smaller) skops file."""
    import zipfile

    import skops.io as sio

    return sio.dumps(trained.model, compression=zipfile.ZIP_DEFLATED, compresslevel=1)


def load_model(blob: bytes, classes: Sequence[str], grouping: Mapping[str, str]) -> TrainedModel:
    """A stored model, refusing any type that could run code on loading, a file that would unpack
    to far more than a model does (a zip bomb), and a file that loads but is no model of ours."""
    import skops.io as sio

    try:
        _check_unpacked_size(blob)
        untrusted = set(sio.get_untrusted_types(data=blob))
        strange = untrusted - set(TRUSTED_TYPES)
        if strange:
            raise ModelFileError(f"The stored model holds types this app does not load: {', '.join(sorted(strange))}")
        model = sio.loads(blob, trusted=sorted(untrusted))
    except ModelFileError:
        raise
    except Exception as exc:  # a damaged blob: any error of the format reader
        raise ModelFileError(f"The stored model cannot be read ({exc}); retrain to replace it.") from exc
    _check_is_model(model, classes)
    return TrainedModel(model, list(classes), dict(grouping), {}, 0.0, [])


def _check_unpacked_size(blob: bytes) -> None:
    """Refuse before unpacking anything when the members would unpack past the limits.  The sizes
    come from the zip's directory; ``zipfile`` never yields more than a member declares, so a
    file that lies about them fails its checksum instead of filling the memory."""
    import io
    import zipfile

    from .faults import size_text

    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        unpacked = sum(member.file_size for member in archive.infolist())
    if unpacked > MAX_MODEL_BYTES or unpacked > MAX_MODEL_EXPANSION * max(len(blob), 1 << 20):
        raise ModelFileError(f"{NOT_A_MODEL} (its {size_text(len(blob))} would unpack to {size_text(unpacked)})")


def _check_is_model(model: object, classes: Sequence[str]) -> None:
    """What ``TrainedModel`` uses: a fitted pipeline that gives probabilities for the classes."""
    fitted = getattr(model, "classes_", None) if isinstance(model, Pipeline) else None
    if fitted is None or not hasattr(model, "predict_proba") or not set(classes) <= set(map(str, fitted)):
        raise ModelFileError(f"{NOT_A_MODEL} (it holds a {type(model).__name__})")


# -- predictions ---------------------------------------------------------------------------------


def predict(trained: TrainedModel, table: FeatureTable | FeatureVectors) -> Predictions:
    """Class probabilities for every track with usable features."""
    finite = finite_rows(table.matrix)
    X = table.matrix if finite.all() else table.matrix[finite]
    probabilities = trained.probabilities(X).astype(np.float32) if len(X) else np.zeros((0, len(trained.classes)),
                                                                                        dtype=np.float32)
    return Predictions(np.asarray(table.track_ids)[finite], list(trained.classes), probabilities)


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
    table = project.feature_vectors(VERSION)
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


@dataclass(frozen=True)
class CurvePoint:
    n_labels: int
    accuracy: float
    model: str  # "" for trainings evaluated before the model could be chosen


def learning_curve(project: Project) -> list[CurvePoint]:
    """The cross-validated accuracy of every evaluated training, oldest first.  Trainings of
    different models are told apart, so that a switch of model is not read as progress."""
    reports = [(m.n_labels, Report.from_json(m.report)) for m in project.models() if m.report]
    points = [CurvePoint(n, report.accuracy, report.model) for n, report in reports]
    # A retrain on the same labels is no new point of the curve: the newest evaluation stands.
    return [p for p, after in zip(points, [*points[1:], None])
            if after is None or (after.n_labels, after.model) != (p.n_labels, p.model)]


def evaluate_model(project: Project, model_id: int, options: TrainingOptions = TrainingOptions(),
                   progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> Report:
    """Cross-validate the ensemble on the labels the model was trained with, and store the report."""
    result = evaluate(training_set(project, project.feature_vectors(VERSION), options), options, progress, cancel)
    project.set_model_report(model_id, result.to_json())
    return result
