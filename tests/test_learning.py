"""The model, its report and calibration, predictions, persistence, and what to hear next (the
cold-start and uncertainty queues)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator

from audioid_gui.core.features import VERSION
from audioid_gui.core.labels_io import read_label_file
from audioid_gui.core.learning import (
    MIN_LABELS_PER_CLASS,
    ModelFileError,
    PriorCorrected,
    TrainingError,
    TrainingOptions,
    evaluate,
    evaluate_model,
    load_model,
    retrain,
    training_set,
)
from audioid_gui.core.project import FeatureTable, Project
from audioid_gui.core.selection import Predictions, explore, propose, rank_queue, uncertainty

from .conftest import REPO, run_cli

TRUTH = dict(read_label_file(REPO / "resources" / "demo_truth.csv"))


def synthetic_project(path: Path, n: int = 300, overlap: float = 1.0, seed: int = 0) -> tuple[Project, np.ndarray]:
    """A project of n tracks (files never read) with 20-dimensional vectors of three overlapping
    classes, and the true class of each track id."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    centres = rng.normal(size=(3, 20)) * 1.5
    vectors = (centres[truth] + rng.normal(size=(n, 20)) * overlap).astype("<f4")
    project = Project(path)
    now = time.time()
    with project._write():
        for i in range(n):
            project.db.execute("INSERT INTO tracks(id, path, size, mtime, added_at) VALUES (?, ?, 1, 0, ?)",
                               (i + 1, f"/radio/clip{i:04d}.mp3", now))
            project.db.execute(
                "INSERT INTO features(track_id, extractor_version, segment, size, mtime, vector, extracted_at) "
                "VALUES (?, ?, ?, 1, 0, ?, ?)", (i + 1, VERSION, str(project.segment), vectors[i].tobytes(), now))
        project.db.execute("INSERT INTO feature_sets(extractor_version, names) VALUES (?, ?)",
                           (VERSION, str([f"f{i}" for i in range(20)]).replace("'", '"')))
    return project, truth


CLASSES = ["Music", "Dialogue", "Both"]


def label(project: Project, truth: np.ndarray, ids, source: str = "human") -> None:
    for track_id in ids:
        project.set_label(int(track_id), CLASSES[truth[track_id - 1]], source)


def test_training_reports_cross_validated_accuracy_per_class_and_confusion(demo_project: Path) -> None:
    with Project(demo_project) as project:
        for path in project.track_paths():
            project.set_label(project.track_id(path), TRUTH[Path(path).name])
        result = retrain(project)
        assert result.trained.counts == {"Music": 10, "Dialogue": 10, "Both": 10}
        assert len(result.predictions.track_ids) == 30
        names = {project.track_id(p): Path(p).name for p in project.track_paths()}
        assert [TRUTH[names[int(t)]] for t in result.predictions.track_ids] == result.predictions.predicted.tolist()
        report = evaluate_model(project, result.model_id)
        assert report.folds == 5 and report.accuracy == 1.0 and report.support == [10, 10, 10]
        assert report.confusion == [[10, 0, 0], [0, 10, 0], [0, 0, 10]]
        assert "5-fold cross-validated accuracy: 100.0% on 30 labels" in report.text()
        stored = project.models()
        assert stored[-1].report is not None and stored[-1].n_labels == 30


def test_predictions_name_the_right_class_and_are_replaced_by_the_next_model(tmp_path: Path) -> None:
    project, truth = synthetic_project(tmp_path / "p.audioid", overlap=0.6)
    with project:
        label(project, truth, range(1, 61))
        first = retrain(project)
        rest = first.predictions.track_ids > 60
        expected = np.array(CLASSES)[truth[first.predictions.track_ids[rest] - 1]]
        assert np.mean(first.predictions.predicted[rest] == expected) > 0.9
        label(project, truth, range(61, 91))
        second = retrain(project)
        stored = project.predictions()
        assert stored.model_id == second.model_id != first.model_id
        assert len(stored.track_ids) == 300 and stored.classes == CLASSES
        assert np.allclose(stored.probabilities.sum(axis=1), 1.0, atol=1e-5)
        assert [m.blob is not None for m in project.models(with_blob=True)] == [False, True]


def test_too_few_labels_are_refused_with_a_message(tmp_path: Path) -> None:
    project, truth = synthetic_project(tmp_path / "p.audioid")
    with project:
        table = project.feature_table(VERSION)
        with pytest.raises(TrainingError, match="at least two classes.*none yet"):
            training_set(project, table)
        music = [i for i in range(1, 301) if truth[i - 1] == 0]
        dialogue = [i for i in range(1, 301) if truth[i - 1] == 1]
        label(project, truth, music[:10])
        with pytest.raises(TrainingError, match="only Music"):
            training_set(project, table)
        label(project, truth, dialogue[: MIN_LABELS_PER_CLASS - 1])
        with pytest.raises(TrainingError, match=f"Dialogue has {MIN_LABELS_PER_CLASS - 1}"):
            training_set(project, table)
        label(project, truth, dialogue[MIN_LABELS_PER_CLASS - 1: MIN_LABELS_PER_CLASS])
        ts = training_set(project, table)
        assert ts.classes == ["Music", "Dialogue"] and any("Both" in note for note in ts.notes)


def test_training_starts_from_two_labels_per_class_and_says_the_model_is_young(tmp_path: Path) -> None:
    project, truth = synthetic_project(tmp_path / "p.audioid", overlap=0.5)
    with project:
        first_two = [[i for i in range(1, 301) if truth[i - 1] == k][:2] for k in range(3)]
        label(project, truth, [t for ids in first_two for t in ids])
        result = retrain(project)
        assert result.trained.counts == {"Music": 2, "Dialogue": 2, "Both": 2}
        assert any(note.startswith("The model is still young") for note in result.trained.notes)
        rest = ~np.isin(result.predictions.track_ids, [t for ids in first_two for t in ids])
        expected = np.array(CLASSES)[truth[result.predictions.track_ids[rest] - 1]]
        assert np.mean(result.predictions.predicted[rest] == expected) > 0.8
        report = evaluate_model(project, result.model_id)
        assert report.folds == 2 and "still young" in report.text()
        label(project, truth, range(1, 61))
        assert not any("young" in note for note in retrain(project).trained.notes)


def test_the_report_says_how_far_the_probabilities_can_be_trusted(tmp_path: Path) -> None:
    project, truth = synthetic_project(tmp_path / "p.audioid", overlap=1.2)
    with project:
        label(project, truth, range(1, 121))
        report = evaluate(training_set(project, project.feature_table(VERSION)))
        assert 0 <= report.ece <= 0.25 and 0 <= report.brier < 1
        assert "expected calibration error" in report.text() and "Brier score" in report.text()


def test_a_perfect_and_a_useless_model_have_the_calibration_they_deserve() -> None:
    from audioid_gui.core.learning import calibration

    truth = np.array(["A", "B"] * 50)
    perfect = np.where(truth[:, None] == np.array(["A", "B"]), 1.0, 0.0)
    assert calibration(perfect, truth, ["A", "B"]) == (0.0, 0.0)
    overconfident = 1.0 - perfect  # always sure, always wrong
    brier, ece = calibration(overconfident, truth, ["A", "B"])
    assert brier == pytest.approx(2.0) and ece == pytest.approx(1.0)


def test_folding_both_into_music_trains_music_against_dialogue(tmp_path: Path) -> None:
    project, truth = synthetic_project(tmp_path / "p.audioid")
    with project:
        label(project, truth, range(1, 91))
        options = TrainingOptions(grouping={"Both": "Music"})
        ts = training_set(project, project.feature_table(VERSION), options)
        assert ts.classes == ["Music", "Dialogue"]
        assert ts.counts["Music"] == int(np.sum(truth[:90] != 1))
        options.save(project)
        assert TrainingOptions.of(project).grouping == {"Both": "Music"}
        assert retrain(project, TrainingOptions.of(project)).predictions.classes == ["Music", "Dialogue"]


def test_cluster_labels_count_only_when_given_a_weight(tmp_path: Path) -> None:
    project, truth = synthetic_project(tmp_path / "p.audioid")
    with project:
        label(project, truth, range(1, 31))
        label(project, truth, range(31, 61), source="cluster")
        label(project, truth, range(61, 71), source="model")  # never trained on
        table = project.feature_table(VERSION)
        assert len(training_set(project, table).y) == 30
        weighted = training_set(project, table, TrainingOptions(cluster_weight=0.5))
        assert len(weighted.y) == 60 and sorted(set(weighted.weights.tolist())) == [0.5, 1.0]
        report = evaluate(weighted, TrainingOptions(cluster_weight=0.5, folds=3))
        assert report.folds == 3 and sum(report.support) == 60


def test_prior_correction_gives_a_rare_class_its_share() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(1)
    y = np.array([0] * 900 + [1] * 100)
    X = rng.normal(size=(1000, 3)) + y[:, None] * 1.0
    raw = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    corrected = PriorCorrected(HistGradientBoostingClassifier(max_iter=30, random_state=0)).fit(X, y)
    test = rng.normal(size=(2000, 3)) + np.repeat([0, 1], 1000)[:, None] * 1.0
    recall_raw = np.mean(raw.predict(test[1000:]) == 1)
    recall_corrected = np.mean(corrected.predict(test[1000:]) == 1)
    assert recall_corrected > recall_raw + 0.2
    assert np.allclose(corrected.predict_proba(test).sum(axis=1), 1.0)


def test_each_strategy_puts_the_unsure_first() -> None:
    p = np.array([[0.98, 0.01, 0.01],   # sure
                  [0.50, 0.49, 0.01],   # torn between two
                  [0.34, 0.33, 0.33],   # no idea at all
                  [0.60, 0.20, 0.20]])
    assert np.argsort(-uncertainty(p, "least-confidence")).tolist()[:2] == [2, 1]
    assert np.argmax(uncertainty(p, "margin")) in (1, 2) and uncertainty(p, "margin")[1] > uncertainty(p, "margin")[3]
    assert np.argmax(uncertainty(p, "entropy")) == 2
    assert np.argmin(uncertainty(p, "entropy")) == 0
    for strategy in ("least-confidence", "margin", "entropy"):
        assert np.all((uncertainty(p, strategy) >= 0) & (uncertainty(p, strategy) <= 1 + 1e-9))
    with pytest.raises(ValueError):
        uncertainty(p, "random")


def test_queue_skips_heard_tracks_and_a_diverse_batch_is_spread_out() -> None:
    n = 60
    rng = np.random.default_rng(2)
    probabilities = np.tile([0.9, 0.05, 0.05], (n, 1)).astype(np.float32)
    probabilities[:10] = [0.45, 0.44, 0.11]  # ten near-copies, all very unsure
    probabilities[10:15] = [0.55, 0.40, 0.05]  # five different tracks, a bit less unsure
    vectors = rng.normal(size=(n, 8)) * 5
    vectors[:10] = vectors[0] + rng.normal(size=(10, 8)) * 0.01
    predictions = Predictions(np.arange(1, n + 1), CLASSES, probabilities)
    features = FeatureTable(np.arange(1, n + 1), [f"/x/{i}" for i in range(n)], [f"f{i}" for i in range(8)],
                            vectors.astype(np.float32))
    plain = rank_queue(predictions, exclude=[1, 2], n=5)
    assert [e.track_id for e in plain] == [3, 4, 5, 6, 7]
    assert plain[0].predicted == "Music" and plain[0].runner_up == "Dialogue"
    assert plain[0].confidence == pytest.approx(0.45) and plain[0].runner_up_probability == pytest.approx(0.44)
    diverse = rank_queue(predictions, exclude=[1, 2], n=5, features=features)
    assert sum(e.track_id <= 10 for e in diverse) == 1 and len(diverse) == 5
    assert diverse[0].track_id <= 10  # still the most uncertain first


def test_a_stored_model_round_trips_and_untrusted_files_are_refused(tmp_path: Path) -> None:
    project, truth = synthetic_project(tmp_path / "p.audioid")
    with project:
        label(project, truth, range(1, 61))
        result = retrain(project)
        stored = project.latest_model()
        assert stored.id == result.model_id and stored.classes == CLASSES
        loaded = load_model(stored.blob, stored.classes, stored.grouping)
        table = project.feature_table(VERSION)
        assert np.allclose(loaded.probabilities(table.matrix.astype(np.float64)),
                           result.predictions.probabilities, atol=1e-6)
    with pytest.raises(ModelFileError, match="does not load"):
        load_model(sio.dumps(Strange()), CLASSES, {})
    with pytest.raises(ModelFileError, match="cannot be read"):
        load_model(b"PK\x03\x04 not really a model", CLASSES, {})


class Strange(BaseEstimator):
    """A type no model of ours contains: loading it must be refused."""


def test_train_predict_queue_and_label_commands(demo_project: Path, tmp_path: Path) -> None:
    project = str(demo_project)
    seen: dict[str, int] = {}
    partial = tmp_path / "some.csv"
    rows = []
    for name, cls in sorted(TRUTH.items()):
        if seen.get(cls, 0) < 6:
            seen[cls] = seen.get(cls, 0) + 1
            rows.append(f"{name},{cls}")
    partial.write_text("file,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    cold = run_cli("queue", "--n", "6", "--project", project)
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout.startswith("No model yet") and cold.stdout == run_cli("queue", "--n", "6", "--project", project).stdout
    explored = [Path(line.split("  ")[-1]).name for line in cold.stdout.splitlines()[2:]]
    assert len(explored) == 6 and all("explore" in line for line in cold.stdout.splitlines()[2:])
    assert len({TRUTH[name] for name in explored}) == 3  # every class among the first six
    assert "Imported 18" in run_cli("labels", "import", str(partial), "--source", "human", "--project", project).stdout
    trained = run_cli("train", "--folds", "3", "--project", project)
    assert trained.returncode == 0, trained.stderr
    assert "Trained on 18 labels (6 Music, 6 Dialogue, 6 Both)" in trained.stdout
    assert "3-fold cross-validated accuracy" in trained.stdout
    queue = run_cli("queue", "--n", "5", "--project", project)
    lines = queue.stdout.splitlines()[1:]  # under the header
    assert queue.returncode == 0 and len(lines) == 5 and all("outro" in line for line in lines)
    first = lines[0].split("  ")[-1]
    assert Path(first).name not in {r.split(",")[0] for r in rows}
    labelled = run_cli("label", Path(first).name, "b", "--project", project)
    assert labelled.returncode == 0 and labelled.stdout.strip().endswith("Both")
    predicted = run_cli("predict", "--export-m3u", str(tmp_path / "lists"), "--export-csv", str(tmp_path / "p.csv"),
                        "--min-confidence", "0.5", "--project", project)
    assert predicted.returncode == 0, predicted.stderr
    assert "30 tracks predicted" in predicted.stdout
    assert sorted(p.name for p in (tmp_path / "lists").iterdir()) == [
        "predicted_Both.m3u8", "predicted_Dialogue.m3u8", "predicted_Music.m3u8"]
    assert (tmp_path / "p.csv").read_text(encoding="utf-8").splitlines()[0] == \
        "path,predicted,confidence,Music,Dialogue,Both"
    thin = run_cli("train", "--fold", "Both=Music", "--fold", "Dialogue=Music", "--project", project)
    assert thin.returncode == 2 and "at least two classes" in thin.stderr
    unknown = run_cli("label", "nothing.mp3", "Music", "--project", project)
    assert unknown.returncode == 2 and "no track" in unknown.stderr


def blobs(sizes: tuple[int, ...] = (150, 90, 30), seed: int = 3) -> tuple[FeatureTable, np.ndarray]:
    """Well-separated groups of very different sizes, as a feature table, and each row's group."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    centres = rng.normal(size=(len(sizes), 12)) * 6
    vectors = (centres[truth] + rng.normal(size=(len(truth), 12))).astype(np.float32)
    ids = np.arange(1, len(truth) + 1)
    return FeatureTable(ids, [f"/x/{i}" for i in ids], [f"f{i}" for i in range(12)], vectors), truth


def test_the_cold_start_queue_is_deterministic_and_reaches_every_kind_of_sound_soon() -> None:
    table, truth = blobs()
    first = explore(table, [], 6)
    assert [e.track_id for e in first] == [e.track_id for e in explore(table, [], 6)]
    assert len({e.track_id for e in first}) == 6 and all(e.predicted == "" for e in first)
    assert set(truth[[e.track_id - 1 for e in first[:3]]]) == {0, 1, 2}  # the small group within 3 picks
    # What was heard pushes the next proposals away from it.
    heard = [int(t) for t in table.track_ids[truth == 0][:5]]
    after = explore(table, heard, 2)
    assert all(truth[e.track_id - 1] != 0 for e in after)


def test_the_queue_explores_until_every_class_is_heard_then_asks_the_model() -> None:
    table, truth = blobs()
    names = np.array(CLASSES)[truth]
    none = propose(table, {}, CLASSES, None, 4)
    assert none.exploring and none.unheard == CLASSES and len(none.entries) == 4
    heard = {int(t): names[t - 1] for t in table.track_ids[truth < 2][::40]}
    probabilities = np.tile([0.5, 0.5], (len(truth), 1)).astype(np.float32)
    model = Predictions(table.track_ids, CLASSES[:2], probabilities)
    half = propose(table, heard, CLASSES, model, 4)
    assert half.exploring and half.unheard == ["Both"]
    assert [bool(e.predicted) for e in half.entries] == [False, False, True, True]
    assert any(truth[e.track_id - 1] == 2 for e in half.entries if not e.predicted)
    heard[int(table.track_ids[truth == 2][0])] = "Both"
    settled = propose(table, heard, CLASSES, model, 4)
    assert not settled.exploring and all(e.predicted for e in settled.entries)


@pytest.mark.parametrize("model, labels", [("auto", 150), ("linear", 30), ("journal", 60)])
def test_each_model_round_trips_under_the_allow_list(tmp_path: Path, model: str, labels: int) -> None:
    project, truth = synthetic_project(tmp_path / "p.audioid", overlap=0.8)
    with project:
        label(project, truth, range(1, labels + 1))
        result = retrain(project, TrainingOptions(model=model))
        kinds = {type(step).__name__ for step in result.trained.model.named_steps["model"].__dict__.get(
            "estimators_", [result.trained.model.named_steps["model"]])}
        assert ("LogisticRegression" in kinds) == (model != "journal")
        stored = project.latest_model()
        loaded = load_model(stored.blob, stored.classes, stored.grouping)
        assert np.allclose(loaded.probabilities(project.feature_table(VERSION).matrix.astype(np.float64)),
                           result.predictions.probabilities, atol=1e-6)


def test_the_cold_start_queue_never_runs_dry_after_every_representative_is_heard() -> None:
    table, _ = blobs((20, 20, 20))
    heard = [e.track_id for e in explore(table, [], 60)]
    assert len(heard) == 60 and len(set(heard)) == 60  # past the 48 medoids, other tracks follow
    assert explore(table, heard, 5) == []  # everything heard: nothing left to propose


def test_the_learning_curve_tells_models_apart(tmp_path: Path) -> None:
    from audioid_gui.core.learning import learning_curve

    project, truth = synthetic_project(tmp_path / "p.audioid", overlap=0.8)
    with project:
        label(project, truth, range(1, 31))
        for model in ("auto", "journal", "journal"):  # the last: a retrain on the same labels
            options = TrainingOptions(model=model, folds=3)
            evaluate_model(project, retrain(project, options).model_id, options)
        assert [(p.n_labels, p.model) for p in learning_curve(project)] == [(30, "auto"), (30, "journal")]


def test_cross_validation_evaluates_the_kind_of_model_that_predicts(monkeypatch) -> None:
    """With ``auto`` and 110 labels the model that predicts is the vote with trees; the folds
    (88 labels each) must be that vote too, or the report measures a model nobody uses."""
    from audioid_gui.core import learning

    rng = np.random.default_rng(0)
    y = np.array(["Music", "Dialogue"] * 55)
    X = rng.normal(size=(110, 6)) + (y == "Music")[:, None]
    ts = learning.TrainingSet(np.arange(110), X, y, X, X[:0], [f"f{i}" for i in range(6)], None,
                              ["Music", "Dialogue"], {"Music": 55, "Dialogue": 55}, [])
    kinds: list[str] = []
    real = learning.make_model

    def spy(options, n_labels=1000):
        model = real(options, n_labels)
        kinds.append(type(model).__name__)
        return model

    monkeypatch.setattr(learning, "make_model", spy)
    learning.evaluate(ts, learning.TrainingOptions(folds=5))
    assert kinds and set(kinds) == {"VotingClassifier"}
