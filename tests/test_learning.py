"""The ensemble, its report, predictions, persistence and the uncertainty queue."""
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
    Predictions,
    PriorCorrected,
    TrainingError,
    TrainingOptions,
    evaluate,
    evaluate_model,
    load_model,
    rank_queue,
    retrain,
    training_set,
    uncertainty,
)
from audioid_gui.core.project import FeatureTable, Project

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
        label(project, truth, dialogue[: MIN_LABELS_PER_CLASS - 2])
        with pytest.raises(TrainingError, match=f"Dialogue has {MIN_LABELS_PER_CLASS - 2}"):
            training_set(project, table)
        label(project, truth, dialogue[MIN_LABELS_PER_CLASS - 2: MIN_LABELS_PER_CLASS])
        ts = training_set(project, table)
        assert ts.classes == ["Music", "Dialogue"] and any("Both" in note for note in ts.notes)


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
    assert "Imported 18" in run_cli("labels", "import", str(partial), "--source", "human", "--project", project).stdout
    trained = run_cli("train", "--folds", "3", "--project", project)
    assert trained.returncode == 0, trained.stderr
    assert "Trained on 18 labels (6 Music, 6 Dialogue, 6 Both)" in trained.stdout
    assert "3-fold cross-validated accuracy" in trained.stdout
    queue = run_cli("queue", "--n", "5", "--project", project)
    lines = queue.stdout.splitlines()
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
