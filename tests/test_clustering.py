"""Clustering, cuts, statistics and guided labeling, on synthetic blobs and on the demo project."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.cluster import hierarchy as sch

from audioid_gui.core.clustering import (
    METHODS,
    Clustering,
    ClusteringError,
    GuidedLabeling,
    LabelState,
    TooFewTracks,
    class_groups,
    cluster_features,
    cluster_groups,
    cluster_stats,
    export_playlists,
    prepare,
    weighted_linkage,
    wilson_interval,
)
from audioid_gui.core.features import VERSION
from audioid_gui.core.labels_io import read_label_file
from audioid_gui.core.project import FeatureTable, Project, TrackLabel

from .conftest import REPO, run_cli

CLASSES = ["Music", "Dialogue", "Both"]


def blobs(n: int, k: int = 3, dim: int = 12, spread: float = 6.0, seed: int = 0) -> tuple[FeatureTable, np.ndarray]:
    """n vectors around k well-separated centres, with features on very different scales (as
    MFCC means and ZCR are), and the true blob of each."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)) * spread
    truth = rng.permutation(np.arange(n) % k)
    matrix = (centres[truth] + rng.normal(size=(n, dim))) * np.logspace(-2, 2, dim)
    table = FeatureTable(
        track_ids=np.arange(1, n + 1), paths=[f"/music/clip {i:05d}.mp3" for i in range(n)],
        names=[f"f{i}" for i in range(dim)], matrix=matrix.astype(np.float32),
    )
    return table, truth


def same_partition(clusters, truth: np.ndarray) -> bool:
    found = np.zeros(len(truth), dtype=int)
    for c in clusters:
        found[c.rows] = c.number
    pairs = {(a, b) for a, b in zip(found.tolist(), truth.tolist())}
    return len(pairs) == len(set(found.tolist())) == len(set(truth.tolist()))


def oracle_labels(clustering: Clustering, truth: np.ndarray, rows: np.ndarray, source: str) -> dict[int, TrackLabel]:
    return {int(clustering.track_ids[r]): TrackLabel(CLASSES[truth[r]], source) for r in rows}


@pytest.mark.parametrize("method", METHODS)
def test_weighted_linkage_with_unit_weights_is_scipys_linkage(method: str) -> None:
    points = np.random.default_rng(3).normal(size=(50, 4))
    ours, scipys = weighted_linkage(points, np.ones(50), method), sch.linkage(points, method)
    assert np.allclose(ours[:, 2], scipys[:, 2])
    assert sch.is_valid_linkage(ours)


@pytest.mark.parametrize("method", ["ward", "average", "centroid"])
def test_a_weighted_point_counts_as_that_many_tracks(method: str) -> None:
    """Five points of weight 1–4 cluster like the same points repeated: after the free merges of
    the copies, the merge heights are the same."""
    rng = np.random.default_rng(5)
    points, weights = rng.normal(size=(5, 3)), np.array([1, 2, 3, 4, 2])
    repeated = sch.linkage(np.repeat(points, weights, axis=0), method)
    assert np.allclose(weighted_linkage(points, weights, method)[:, 2], repeated[-4:, 2])


@pytest.mark.parametrize("method", ["ward", "average", "complete"])
def test_known_blobs_are_recovered_exactly_and_through_micro_clusters(method: str) -> None:
    table, truth = blobs(600)
    exact = cluster_features(table, method)
    micro = cluster_features(table, method, exact_limit=100, micro=60)
    assert not exact.micro and micro.micro
    assert same_partition(exact.cut(k=3), truth)
    assert same_partition(micro.cut(k=3), truth)
    assert sorted(len(c.rows) for c in micro.cut(k=3)) == sorted(np.bincount(truth).tolist())


def test_cuts_by_height_and_by_count_agree_and_clusters_read_left_to_right() -> None:
    table, _ = blobs(300, k=4)
    clustering = cluster_features(table)
    heights = np.sort(clustering.linkage[:, 2])
    between = (heights[-3] + heights[-4]) / 2  # a height that crosses the top three merges
    by_height, by_count = clustering.cut(height=between), clustering.cut(k=4)
    assert [c.ref for c in by_height] == [c.ref for c in by_count]
    dendrogram_leaves = sch.dendrogram(clustering.linkage, no_plot=True)["leaves"]
    first_seen = [min(dendrogram_leaves.index(r) for r in c.rows) for c in by_count]
    assert first_seen == sorted(first_seen)
    assert [len(c.rows) for c in clustering.cut(k=1)] == [300]
    assert len(clustering.cut(k=10_000)) == 300  # no more clusters than tracks
    assert sum(len(c.rows) for c in clustering.cut(k=7)) == 300


def test_every_cluster_splits_into_its_children_down_to_single_tracks() -> None:
    table, _ = blobs(400)
    clustering = cluster_features(table, exact_limit=100, micro=30)  # leaves hold about 13 tracks
    stack, singles = [clustering.root], 0
    while stack:
        ref = stack.pop()
        children = clustering.children(ref)
        if not children:
            assert clustering.size(ref) == 1
            singles += 1
            continue
        assert sorted(np.concatenate([clustering.rows(c) for c in children]).tolist()) == sorted(
            clustering.rows(ref).tolist())
        assert all(clustering.height(c) <= clustering.height(ref) + 1e-9 for c in children)
        stack.extend(children)
    assert singles == 400
    three = clustering.cut(k=3)
    split = clustering.split(three, 2)
    assert len(split) == 4 and [c.number for c in split] == [1, 2, 3, 4]
    assert set(np.concatenate([split[1].rows, split[2].rows]).tolist()) == set(three[1].rows.tolist())


def test_bad_vectors_are_left_out_and_reported() -> None:
    table, _ = blobs(20)
    table.matrix[3, 0] = np.nan
    table.matrix[7, 5] = np.inf
    prepared = prepare(table)
    assert prepared.excluded == [table.paths[3], table.paths[7]]
    assert len(prepared.track_ids) == 18 and 4 not in prepared.track_ids and 8 not in prepared.track_ids
    assert np.allclose(prepared.data.mean(axis=0), 0) and np.allclose(prepared.data.std(axis=0), 1)


def test_too_few_or_identical_vectors_get_a_clear_message() -> None:
    table, _ = blobs(3)
    one = FeatureTable(table.track_ids[:1], table.paths[:1], table.names, table.matrix[:1])
    with pytest.raises(ClusteringError, match="at least two tracks"):
        cluster_features(one)
    broken = FeatureTable(table.track_ids, table.paths, table.names, np.full_like(table.matrix, np.nan))
    with pytest.raises(ClusteringError, match="at least two tracks.*3 more have broken values") as too_few:
        cluster_features(broken)
    assert isinstance(too_few.value, TooFewTracks) and (too_few.value.analysed, too_few.value.broken) == (0, 3)
    same = FeatureTable(table.track_ids, table.paths, table.names, np.ones_like(table.matrix))
    with pytest.raises(ClusteringError, match="identical"):
        cluster_features(same)
    with pytest.raises(ClusteringError, match="Unknown linkage"):
        cluster_features(table, "fastest")


def test_pca_keeps_the_components_that_explain_the_asked_variance() -> None:
    table, truth = blobs(300, dim=20)
    prepared = prepare(table, pca=0.8)
    assert prepared.explained[prepared.components - 1] >= 0.8 > prepared.explained[prepared.components - 2]
    assert prepared.data.shape == (300, prepared.components)
    assert np.all(np.diff(prepared.explained) >= -1e-12) and prepared.explained[-1] == pytest.approx(1.0)
    assert prepare(table, pca=4).data.shape == (300, 4)
    assert same_partition(Clustering(prepared).cut(k=3), truth)


def test_cluster_statistics_count_only_labels_given_by_ear() -> None:
    table, truth = blobs(90)
    clustering = cluster_features(table)
    rows = clustering.cut(k=3)[0].rows
    labels = oracle_labels(clustering, truth, rows[:9], "human")
    labels[int(clustering.track_ids[rows[9]])] = TrackLabel("Dialogue", "review")
    labels[int(clustering.track_ids[rows[10]])] = TrackLabel("Dialogue", "model")  # a guess, not a listen
    stats = cluster_stats(rows, LabelState.of(clustering, labels, CLASSES))
    majority = CLASSES[truth[rows[0]]]
    assert stats.size == 30 and stats.labelled == 11 and stats.heard_total == 10
    assert stats.majority == majority
    expected = 9 / 10 if majority != "Dialogue" else 1.0
    assert stats.purity == pytest.approx(expected)
    low, high = stats.interval
    assert low < expected <= high


def test_wilson_interval() -> None:
    low, high = wilson_interval(8, 8)
    assert low == pytest.approx(0.676, abs=0.001) and high == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.404, abs=0.001) and high == pytest.approx(0.596, abs=0.001)


def run_guided(clustering: Clustering, truth: np.ndarray, guided: GuidedLabeling,
               labels: dict[int, TrackLabel]) -> tuple[int, int]:
    """Walk the loop as a person would, answering every listen with the truth and accepting every
    offer.  Returns (tracks listened to, clusters labelled whole)."""
    row_of = {int(t): r for r, t in enumerate(clustering.track_ids)}
    listened = accepted = 0
    for _ in range(10_000):
        proposal = guided.propose(LabelState.of(clustering, labels, CLASSES))
        if proposal.kind == "done":
            return listened, accepted
        if proposal.kind == "listen":
            assert proposal.sample and all(labels.get(t) is None or labels[t].source == "cluster"
                                           for t in proposal.sample)
            labels.update(oracle_labels(clustering, truth, np.array([row_of[t] for t in proposal.sample]), "human"))
            listened += len(proposal.sample)
        else:
            assert proposal.kind == "accept" and proposal.to_label
            for t in proposal.to_label:
                labels[t] = TrackLabel(proposal.class_name, "cluster")
            accepted += 1
    raise AssertionError("the guided loop did not finish")


def test_guided_labeling_labels_every_blob_right_after_a_few_dozen_listens() -> None:
    table, truth = blobs(3000, k=3)
    clustering = cluster_features(table, exact_limit=500, micro=200)
    labels: dict[int, TrackLabel] = {}
    listened, accepted = run_guided(clustering, truth, GuidedLabeling(clustering, sample_size=8), labels)
    assert len(labels) == 3000
    assert all(labels[int(t)].class_name == CLASSES[truth[r]] for r, t in enumerate(clustering.track_ids))
    assert listened <= 60 and accepted >= 3


def test_guided_labeling_descends_into_mixed_clusters_and_never_overrides_an_ear() -> None:
    """Four blobs, two of them Music: the root sample disagrees, so the loop splits and ends with
    every track labelled right; a track labelled by ear before keeps its (wrong) label."""
    table, truth = blobs(800, k=4)
    truth = np.where(truth == 3, 0, truth)
    clustering = cluster_features(table, "average")
    wrong_on_purpose = int(clustering.track_ids[0])
    labels = {wrong_on_purpose: TrackLabel("Both" if truth[0] != 2 else "Dialogue", "human")}
    listened, _ = run_guided(clustering, truth, GuidedLabeling(clustering), labels)
    assert labels[wrong_on_purpose].source == "human"
    wrong = [r for r, t in enumerate(clustering.track_ids) if labels[int(t)].class_name != CLASSES[truth[r]]]
    assert wrong == [0]
    assert listened < 80


def test_a_declined_offer_splits_the_cluster() -> None:
    table, truth = blobs(200, k=2)
    clustering = cluster_features(table)
    guided = GuidedLabeling(clustering, roots=[c.ref for c in clustering.cut(k=2)], sample_size=5)
    labels: dict[int, TrackLabel] = {}
    first = guided.propose(LabelState.of(clustering, labels, CLASSES))
    assert first.kind == "listen" and len(first.sample) == 5 and first.open_clusters == 2
    row_of = {int(t): r for r, t in enumerate(clustering.track_ids)}
    labels.update(oracle_labels(clustering, truth, np.array([row_of[t] for t in first.sample]), "human"))
    offer = guided.propose(LabelState.of(clustering, labels, CLASSES))
    assert offer.kind == "accept" and offer.ref == first.ref and len(offer.to_label) == offer.stats.size - 5
    guided.decline(offer.ref)
    after = guided.propose(LabelState.of(clustering, labels, CLASSES))
    assert after.ref in clustering.children(offer.ref) and after.open_clusters == 3


def test_labelling_the_sample_in_hand_never_moves_the_loop_to_another_cluster() -> None:
    """Samples begun in several clusters of the same size (labels given before the loop started):
    each key press must stay with the cluster the loop is on until its sample is heard, whatever
    the sizes of the others come to be."""
    table, truth = blobs(120, k=6)
    clustering = cluster_features(table)
    cut = clustering.cut(k=6)
    row_of = {int(t): r for r, t in enumerate(clustering.track_ids)}
    labels = {int(clustering.track_ids[c.rows[0]]): TrackLabel("Dialogue", "human") for c in cut}
    guided = GuidedLabeling(clustering, roots=[c.ref for c in cut], sample_size=6)
    visits: list[int] = []
    while (proposal := guided.propose(LabelState.of(clustering, labels, CLASSES))).kind != "done":
        assert cut[proposal.root].ref == proposal.ref and proposal.sample_goal == 6
        if proposal.kind == "accept":
            labels.update({t: TrackLabel(proposal.class_name, "cluster") for t in proposal.to_label})
            continue
        assert len(proposal.sample) == 6 - proposal.sample_stats.heard_total
        track = proposal.sample[0]
        assert row_of[track] in cut[proposal.root].rows
        labels[track] = TrackLabel("Dialogue", "human")
        visits.append(proposal.root)
    runs = [root for i, root in enumerate(visits) if i == 0 or visits[i - 1] != root]
    assert sorted(runs) == list(range(6)), visits  # one run per cluster
    assert 6 * 5 <= len(visits) <= 6 * 6  # a label given before counts only if it is in the sample


def test_labels_picked_by_hand_are_no_sample_of_their_cluster() -> None:
    """Twenty tracks labelled Dialogue through a path filter, in a cluster that also holds songs:
    the loop must not offer the cluster on their word; its random sample hears the songs too."""
    table, truth = blobs(200, k=2, spread=0.5)  # two sounds too close to part at the top
    truth = np.where(np.arange(200) % 4 == 0, 0, 1)  # a quarter Music, the rest Dialogue
    clustering = cluster_features(table)
    row_of = {int(t): r for r, t in enumerate(clustering.track_ids)}
    picked = [int(t) for r, t in enumerate(clustering.track_ids) if truth[r] == 1][:20]
    labels = {t: TrackLabel("Dialogue", "human") for t in picked}
    guided = GuidedLabeling(clustering, sample_size=8)
    first = guided.propose(LabelState.of(clustering, labels, CLASSES))
    assert first.kind == "listen" and not set(first.sample) & set(picked)
    listened, _ = run_guided(clustering, truth, guided, labels)
    assert listened >= 8
    wrong = [t for t, label in labels.items() if label.class_name != CLASSES[truth[row_of[t]]]]
    assert len(wrong) < 0.3 * 200  # the songs were heard: not every track is called Dialogue


def test_a_cluster_whose_sample_disagrees_is_split_before_the_loop_moves_on() -> None:
    """Cluster A (two sounds: Music and Dialogue) is in hand; cluster B's sample was begun before.
    When A's sample turns out mixed, the loop descends into A's halves and settles them before it
    goes back to B: one cut cluster at a time, as the panel's "Cluster 1 of 2" promises."""
    rng = np.random.default_rng(1)
    vectors = np.vstack([rng.normal(0, 0.05, (15, 4)), rng.normal(0, 0.05, (15, 4)) + [1, 0, 0, 0],
                         rng.normal(0, 0.05, (30, 4)) + 20]).astype(np.float32)
    truth = np.array([0] * 15 + [1] * 15 + [0] * 30)  # A: Music then Dialogue; B: Music
    ids = np.arange(1, 61)
    table = FeatureTable(ids, [f"/x/{i}.wav" for i in ids], [f"f{i}" for i in range(4)], vectors)
    clustering = cluster_features(table)
    cut = clustering.cut(k=2)
    a = next(i for i, c in enumerate(cut) if clustering.track_ids[c.rows].min() == 1)
    # B begun with two tracks, A in hand with three Music tracks (so far unanimous).
    labels = {t: TrackLabel("Music", "human") for t in (41, 42, 1, 2, 3)}
    guided = GuidedLabeling(clustering, roots=[c.ref for c in cut], sample_size=4)
    row_of = {int(t): r for r, t in enumerate(clustering.track_ids)}
    visits: list[int] = []
    while (proposal := guided.propose(LabelState.of(clustering, labels, CLASSES))).kind != "done":
        visits.append(proposal.root)
        if proposal.kind == "accept":
            labels.update({t: TrackLabel(proposal.class_name, "cluster") for t in proposal.to_label})
        elif proposal.root == a and not any(labels[t].class_name == "Dialogue" for t in labels if t <= 30):
            labels[16] = TrackLabel("Dialogue", "human")  # A's next sample track says Dialogue
        else:
            labels.update(oracle_labels(clustering, truth, np.array([row_of[proposal.sample[0]]]), "human"))
    assert visits[0] == a
    runs = [root for i, root in enumerate(visits) if i == 0 or visits[i - 1] != root]
    assert runs == [a, 1 - a], visits  # all of A, then all of B
    assert all(labels[int(t)].class_name == CLASSES[truth[r]] for r, t in enumerate(clustering.track_ids))


def test_accepting_a_cluster_in_a_project_is_one_undoable_step(demo_project: Path) -> None:
    truth = dict(read_label_file(REPO / "resources" / "demo_truth.csv"))
    with Project(demo_project) as project:
        clustering = cluster_features(project.feature_table(VERSION))
        heard_id = int(clustering.track_ids[0])
        project.set_label(heard_id, "Both", "human")
        before = project.current_labels()
        guided = GuidedLabeling(clustering, sample_size=4)
        names = {int(t): Path(p).name for t, p in zip(clustering.track_ids, clustering.features.paths)}
        for _ in range(50):
            proposal = guided.propose(LabelState.of(clustering, project.track_labels(), CLASSES))
            if proposal.kind != "listen":
                break
            for t in proposal.sample:
                project.set_label(t, truth[names[t]], "human")
        assert proposal.kind == "accept"
        label_ids = project.set_labels(proposal.to_label, proposal.class_name, "cluster")
        assert heard_id not in proposal.to_label and project.current_label(heard_id).class_name == "Both"
        assert all(project.current_label(t).source == "cluster" for t in proposal.to_label)
        project.remove_labels(label_ids)
        assert all(project.current_label(t) is None for t in proposal.to_label)
        assert project.current_label(heard_id).source == "human"
        assert set(before.items()) <= set(project.current_labels().items())


def test_clusters_and_classes_export_as_playlists(tmp_path: Path) -> None:
    table, truth = blobs(60)
    clustering = cluster_features(table)
    clusters = clustering.cut(k=3)
    written = export_playlists(clustering, cluster_groups(clusters), tmp_path / "clusters")
    assert [p.name for p in written] == ["cluster_01.m3u8", "cluster_02.m3u8", "cluster_03.m3u8"]
    lines = written[0].read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 1 + 2 * len(clusters[0].rows)
    labels = LabelState.of(clustering, oracle_labels(clustering, truth, clusters[0].rows[:3], "human"), CLASSES)
    by_class = export_playlists(clustering, class_groups(clusters, labels), tmp_path / "classes")
    assert sorted(p.name for p in by_class) == sorted([f"{CLASSES[truth[clusters[0].rows[0]]]}.m3u8", "unchecked.m3u8"])


def test_cluster_command_prints_the_table_exports_and_assigns(demo_project: Path, tmp_path: Path) -> None:
    project = str(demo_project)
    imported = run_cli("labels", "import", str(REPO / "resources" / "demo_truth.csv"), "--source", "human",
                       "--project", project)
    assert "Imported 30 labels" in imported.stdout and "unknown" not in imported.stdout
    done = run_cli("cluster", "--k", "3", "--export-m3u", str(tmp_path / "lists"), "--project", project)
    assert done.returncode == 0, done.stderr
    assert "Ward linkage over 30 tracks" in done.stdout
    rows = [line.split() for line in done.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 3 and sorted(r[0] for r in rows) == ["1", "2", "3"]
    assert all(r[-2] == "100%" for r in rows)  # the demo's three kinds separate cleanly
    assert sorted(p.name for p in (tmp_path / "lists").iterdir()) == [f"cluster_0{i}.m3u8" for i in (1, 2, 3)]
    bad = run_cli("cluster", "--k", "3", "--assign", "7=Music", "--project", project)
    assert bad.returncode == 2 and "N from 1 to 3" in bad.stderr
    assert run_cli("cluster", "--method", "nope", "--project", project).returncode == 2
    fresh = tmp_path / "empty.audioid"
    Project(fresh).close()
    empty = run_cli("cluster", "--project", str(fresh))
    assert empty.returncode == 2 and "at least two tracks" in empty.stderr and "Traceback" not in empty.stderr
