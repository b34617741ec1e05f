"""Playlist review: sampling, the report and its intervals, refined playlists, the m3u round trip."""
from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audioid_gui.core.clustering import wilson_interval
from audioid_gui.core.labels_io import read_label_file
from audioid_gui.core.learning import retrain
from audioid_gui.core.playlists import PlaylistEntry, one_line, read_playlist, write_m3u
from audioid_gui.core.project import Project
from audioid_gui.core.review import ReviewError, draw, open_review, pending, refined_playlists, report

from .conftest import REPO, run_cli

TRUTH = dict(read_label_file(REPO / "resources" / "demo_truth.csv"))
ORANGE = REPO / "sample_playlists" / "orange_cluster.m3u"


def answer(project: Project, track_ids) -> None:
    """Label sample tracks by ear with their true class, as a reviewer would."""
    for t in track_ids:
        path = project.db.execute("SELECT path FROM tracks WHERE id = ?", (t,)).fetchone()[0]
        project.set_label(t, TRUTH[Path(path).name], "review")


def test_a_sample_grows_without_repeats_and_survives_a_restart(demo_project: Path) -> None:
    with Project(demo_project) as project:
        record = open_review(project, "orange_cluster", seed=3)
        first = draw(project, record, 6)
        assert len(first) == len(set(first)) == 6 and pending(project, record) == first
        answer(project, first[:4])
        assert pending(project, record) == first[4:]
    with Project(demo_project) as project:  # the next day
        record = open_review(project, "orange_cluster")
        assert record.items == first and record.seed == 3
        more = draw(project, record, 100)  # more than is left: the rest of the playlist
        assert len(more) == 20 - 6 and not set(more) & set(first)
        assert draw(project, record, 5) == []
        assert sorted(record.items) == sorted(project.playlist_track_ids("orange_cluster"))


def test_the_same_seed_draws_the_same_sample(demo_project: Path, tmp_path: Path) -> None:
    other = tmp_path / "copy.audioid"
    other.write_bytes(demo_project.read_bytes())
    samples = []
    for path in (demo_project, other):
        with Project(path) as project:
            record = open_review(project, "green_cluster", seed=7)
            samples.append(draw(project, record, fraction=0.5))
    assert samples[0] == samples[1] and len(samples[0]) == 5


def test_report_counts_ratios_groups_and_the_wrong_estimate(demo_project: Path) -> None:
    with Project(demo_project) as project:
        record = open_review(project, "orange_cluster", intended="Music", seed=1)
        answer(project, draw(project, record, 20))
        result = report(project, record)
    assert result.playlist_size == 20 and result.answered == 20
    counts = {r.name: r.count for r in result.classes}
    assert counts == {"Music": 10, "Dialogue": 3, "Both": 7}  # how the demo playlist was made
    music_and_both = next(r for r in result.groups if r.name == "Music + Both")
    assert music_and_both.count == 17 and music_and_both.ratio == pytest.approx(0.85)
    value, low, high = result.wrong
    assert value == pytest.approx(10) and low < 10 < high
    assert "not Music: about 10 tracks of 20" in result.text()
    assert result.csv().splitlines()[1].startswith("class,Music,10,20,0.5000,")
    assert "| Music + Both | 17 | 85.0% |" in result.markdown()


def test_answers_by_model_or_cluster_do_not_count_and_the_model_is_compared(demo_project: Path) -> None:
    with Project(demo_project) as project:
        for path in project.track_paths():  # a model trained on every track, for the agreement line
            project.set_label(project.track_id(path), TRUTH[Path(path).name], "human")
        retrain(project)
        record = open_review(project, "green_cluster", seed=2)
        sample = draw(project, record, 4)
        project.set_labels(sample[:2], "Music", "cluster")  # not heard: still pending
        assert pending(project, record) == sample[:2]
        result = report(project, record)
    assert result.answered == 2 and result.model_agreement.total == 2 and result.model_agreement.count == 2


def test_bad_playlists_and_classes_get_messages(demo_project: Path, tmp_path: Path) -> None:
    with Project(demo_project) as project:
        with pytest.raises(ReviewError, match="No playlist named 'nope'.*orange_cluster"):
            open_review(project, "nope")
        with pytest.raises(ReviewError, match="No class 'Jazz'"):
            open_review(project, "orange_cluster", intended="Jazz")
        empty = tmp_path / "empty.m3u"
        empty.write_text("#EXTM3U\n", encoding="utf-8")
        project.import_sources([empty])
        with pytest.raises(ReviewError, match="empty"):
            draw(project, open_review(project, "empty"), 3)


def test_a_playlist_that_changed_between_sessions(demo_project: Path, tmp_path: Path) -> None:
    playlist = tmp_path / "changing.m3u8"
    demo = REPO / "resources" / "demo"
    names = sorted(TRUTH)[:6]
    write_m3u(playlist, [PlaylistEntry(demo / n) for n in names])
    with Project(demo_project) as project:
        project.import_sources([playlist])
        record = open_review(project, "changing", seed=0)
        answer(project, draw(project, record, 6))
        write_m3u(playlist, [PlaylistEntry(demo / n) for n in names[:3] + sorted(TRUTH)[10:12]])  # edited
        project.import_sources([playlist])
        record = open_review(project, "changing")
        result = report(project, record)
        assert result.playlist_size == 5 and result.drawn == 3 and result.answered == 3
        assert any("no longer in the playlist" in n for n in result.notes)
        assert len(draw(project, record, 10)) == 2  # only the two new entries are left to draw


def test_refined_playlists_take_ears_first_then_sure_predictions(demo_project: Path, tmp_path: Path) -> None:
    with Project(demo_project) as project:
        for path in project.track_paths()[:18]:
            project.set_label(project.track_id(path), TRUTH[Path(path).name], "human")
        retrain(project)
        heard = project.playlist_track_ids("orange_cluster")[0]
        project.set_label(heard, "Dialogue", "review")  # a reviewer's answer beats the model
        written = refined_playlists(project, "orange_cluster", tmp_path / "refined", min_confidence=0.0)
        heard_path = Path(project.db.execute("SELECT path FROM tracks WHERE id = ?", (heard,)).fetchone()[0])
    assert set(written) <= {"Music", "Dialogue", "Both"} and all(p.name.startswith("refined_") for p in written.values())
    everything = [e.path for p in written.values() for e in read_playlist(p).entries]
    assert sorted(everything) == sorted(set(everything)) and len(everything) == 20
    assert heard_path in [e.path for e in read_playlist(written["Dialogue"]).entries]
    text = written["Dialogue"].read_text(encoding="utf-8")
    assert "#EXTINF:14," in text and "../" in text  # duration kept, paths relative


def test_review_command_samples_and_reports(demo_project: Path, tmp_path: Path) -> None:
    project = str(demo_project)
    sampled = run_cli("review", "orange_cluster", "--sample", "5", "--seed", "4", "--project", project)
    assert sampled.returncode == 0, sampled.stderr
    paths = [line.strip() for line in sampled.stdout.splitlines()[1:]]
    assert len(paths) == 5 and all(Path(p).exists() for p in paths)
    for p in paths:
        assert run_cli("label", p, TRUTH[Path(p).name], "--source", "review", "--project", project).returncode == 0
    reported = run_cli("review", "orange_cluster", "--report", "--export-report", str(tmp_path / "r.md"),
                       "--project", project)
    assert "5 of 5 sampled tracks answered (20 in the playlist)" in reported.stdout
    assert (tmp_path / "r.md").read_text(encoding="utf-8").startswith("# Review of orange_cluster")
    new_file = run_cli("review", str(ORANGE), "--sample", "2", "--project", str(tmp_path / "fresh.audioid"))
    assert new_file.returncode == 0 and "2 sampled tracks to listen to" in new_file.stdout
    missing = run_cli("review", "nothing", "--project", project)
    assert missing.returncode == 2 and "No playlist named 'nothing'" in missing.stderr


# -- properties -----------------------------------------------------------------------------------

NAME_CHARS = string.ascii_letters + string.digits + " -_.,#()[]'&éüçø–"
file_names = st.text(NAME_CHARS, min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s not in (".", "..") and not s.endswith("."))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(names=st.lists(file_names, min_size=1, max_size=8, unique=True),
       titles=st.lists(st.text(min_size=0, max_size=40), min_size=8, max_size=8),
       durations=st.lists(st.one_of(st.none(), st.floats(0, 36000)), min_size=8, max_size=8),
       nested=st.booleans(), extension=st.sampled_from([".m3u", ".m3u8"]))
def test_m3u_round_trip(tmp_path_factory: pytest.TempPathFactory, names: list[str], titles: list[str],
                        durations: list, nested: bool, extension: str) -> None:
    """Whatever the file names and tags, writing a playlist and reading it back gives the same
    files, titles (on one line) and whole-second durations."""
    folder = tmp_path_factory.mktemp("lists")
    music = folder / "music" / "sub" if nested else folder
    entries = [PlaylistEntry(music / f"{n}.mp3", titles[i] or None, durations[i]) for i, n in enumerate(names)]
    playlist = folder / f"list{extension}"
    assert write_m3u(playlist, entries) == len(entries)
    back = read_playlist(playlist)
    assert not back.skipped
    assert [e.path for e in back.entries] == [e.path for e in entries]
    for written, read in zip(entries, back.entries):
        expected_title = one_line(written.title or written.path.stem)
        assert read.title == (expected_title or None)
        assert read.duration == (None if written.duration is None else float(round(written.duration)))


@settings(derandomize=True)
@given(n=st.integers(1, 10_000), data=st.data())
def test_wilson_interval_properties(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    low, high = wilson_interval(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0
    assert high - low <= 1.0
    mirror_low, mirror_high = wilson_interval(n - k, n)  # symmetric in success and failure
    assert mirror_low == pytest.approx(1 - high, abs=1e-12) and mirror_high == pytest.approx(1 - low, abs=1e-12)
    if n >= 4:
        bigger_low, bigger_high = wilson_interval(4 * k, 4 * n)  # more evidence, a narrower interval
        assert bigger_high - bigger_low < high - low


def test_wilson_interval_matches_the_textbook_values() -> None:
    assert wilson_interval(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)
    low, high = wilson_interval(81, 263)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert np.isfinite(wilson_interval(1, 1)).all()


def test_duplicates_urls_and_missing_entries_do_not_count(demo_project: Path, tmp_path: Path) -> None:
    demo = REPO / "resources" / "demo"
    messy = tmp_path / "messy.m3u"
    names = sorted(TRUTH)[:4]
    messy.write_text("\n".join(["#EXTM3U", str(demo / names[0]), str(demo / names[0]), "http://radio.example/live",
                                str(demo / "gone.mp3"), *(str(demo / n) for n in names[1:])]) + "\n",
                     encoding="utf-8")
    with Project(demo_project) as project:
        imported = project.import_sources([messy])
        assert any("gone.mp3" in e.path for e in imported.errors) and imported.notes
        record = open_review(project, "messy", seed=0)
        drawn = draw(project, record, 10)
        assert sorted(drawn) == sorted(set(drawn)) and len(drawn) == 4
        answer(project, drawn)
        assert report(project, record).playlist_size == 4
