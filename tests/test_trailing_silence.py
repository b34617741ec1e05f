"""``last:N`` is the last N seconds of audible content: trailing silence is skipped, not analysed."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from audioid_gui.core import audio, store
from audioid_gui.core.audio import SegmentSpec, decode_segment, find_trailing_silence, probe, read_segment
from audioid_gui.core.extraction import run_extraction
from audioid_gui.core.features import VERSION
from audioid_gui.core.project import Project

from .conftest import ALL_FORMATS, SR, dominant_frequency, tone, two_part_signal, write_audio

LAST_10 = SegmentSpec.parse("last:10")


def with_silence(seconds: float) -> np.ndarray:
    """4 s of 220 Hz, 10 s of 1760 Hz, then ``seconds`` of digital silence."""
    return np.concatenate([two_part_signal(4.0, 10.0), np.zeros(int(seconds * SR), dtype=np.float32)])


def frame_levels_db(samples: np.ndarray, frame_s: float = 0.05) -> np.ndarray:
    frame = int(frame_s * SR)
    n = len(samples) // frame
    power = np.square(samples[: n * frame].astype(np.float64)).reshape(n, frame).mean(axis=1)
    return 10 * np.log10(power + 1e-20)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg", "m4a"])
def test_six_seconds_of_trailing_silence_are_skipped(tmp_path: Path, fmt: str) -> None:
    path = write_audio(tmp_path / f"outro.{fmt}", with_silence(6.0))
    decoded = read_segment(path, LAST_10, duration=probe(path).duration)
    placed = decoded.placement
    # The sound ends at 14 s; the segment ends a quarter second after it, and lasts 10 s.
    assert placed.end == pytest.approx(14.25, abs=0.12)
    assert placed.start == pytest.approx(4.25, abs=0.12)
    assert placed.trailing_silence == pytest.approx(5.75, abs=0.12)
    assert decoded.seconds == pytest.approx(10.0, abs=0.05)
    # Samples of the sound, not of the silence: everything before the kept fade is the loud tone.
    levels = frame_levels_db(decoded.samples[: -int(0.4 * SR)])
    assert levels.min() > -20
    assert abs(dominant_frequency(decoded.samples) - 1760) < 20


def test_fifteen_seconds_of_trailing_silence_are_extracted_not_an_error(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "long tail.flac", with_silence(15.0))
    with Project(tmp_path / "p.audioid") as project:
        project.import_sources([path])
        report = run_extraction(project, workers=1)
        assert (report.extracted, report.failed) == (1, 0), report.errors
        placed = project.analysed_segments([project.track_id(path)])[project.track_id(path)]
    assert placed.start == pytest.approx(4.25, abs=0.06) and placed.seconds == pytest.approx(10.0, abs=0.01)
    assert placed.trailing_silence == pytest.approx(14.75, abs=0.06)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_a_file_without_trailing_silence_gives_the_same_samples_as_before(format_library: dict[str, Path],
                                                                           fmt: str) -> None:
    path = format_library[fmt]
    duration = probe(path).duration
    decoded = read_segment(path, LAST_10, duration=duration)
    file_end = read_segment(path, LAST_10, duration=duration, skip_trailing_silence=False)
    assert np.array_equal(decoded.samples, file_end.samples)
    assert decoded.placement.trailing_silence == 0.0 and decoded.start == file_end.start


def test_less_than_a_second_of_trailing_silence_changes_nothing(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "short pause.wav", with_silence(0.8))
    decoded = read_segment(path, LAST_10)
    assert decoded.trailing_silence is not None and decoded.trailing_silence.seconds == pytest.approx(0.8, abs=0.06)
    assert np.array_equal(decoded.samples, read_segment(path, LAST_10, skip_trailing_silence=False).samples)
    assert decoded.placement.end == pytest.approx(14.8, abs=0.01)


def test_sound_shorter_than_the_segment_gives_the_sound_and_no_silence(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "jingle.wav", np.concatenate([tone(3.0), np.zeros(SR * 20, dtype=np.float32)]))
    decoded = read_segment(path, LAST_10)
    assert decoded.start == 0.0 and decoded.seconds == pytest.approx(3.25, abs=0.06)


def test_first_middle_and_at_segments_ignore_trailing_silence(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "outro.wav", with_silence(6.0))
    for text in ("first:3", "middle:4", "at:15:3", "whole"):
        spec = SegmentSpec.parse(text)
        assert np.array_equal(decode_segment(path, spec), read_segment(path, spec, skip_trailing_silence=False).samples)


def test_a_silent_file_stays_an_error_and_says_so(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "silence.flac", np.zeros(SR * 12, dtype=np.float32))
    with Project(tmp_path / "p.audioid") as project:
        project.import_sources([path])
        report = run_extraction(project, workers=1)
        assert (report.extracted, report.failed) == (0, 1)
        error = project.errors()[0]
    assert error.stage == "features"
    assert "silent throughout" in error.message and "-60 dBFS" in error.message


def test_the_search_for_sound_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file silent for longer than the search limit is not decoded in full."""
    monkeypatch.setattr(audio, "SILENCE_SEARCH_LIMIT_S", 40.0)
    monkeypatch.setattr(audio, "SILENCE_SEARCH_CHUNK_S", 16.0)
    left_running = np.concatenate([tone(30.0), np.zeros(SR * 120, dtype=np.float32)])
    path = write_audio(tmp_path / "left running.wav", left_running)
    windows: list[tuple[float, float | None]] = []
    decode = audio._decode

    def recording(path: str, place, duration, sample_rate, channels):  # type: ignore[no-untyped-def]
        raw = decode(path, place, duration, sample_rate, channels)
        windows.append((raw.start, len(raw.samples) / raw.rate))
        return raw

    monkeypatch.setattr(audio, "_decode", recording)
    found = find_trailing_silence(path)
    assert found is not None and found.seconds is None and not found.whole_file
    assert 40.0 <= found.searched <= 41.0
    assert sum(seconds for _, seconds in windows) <= 41.0 and max(seconds for _, seconds in windows) <= 16.0
    assert "at least its last 40 s" in found.no_sound_message()
    # The segment then is the file's last 10 s, which the feature extractor refuses as silent.
    windows.clear()
    decoded = read_segment(path, LAST_10)
    assert decoded.start == pytest.approx(140.0) and not decoded.sound_found


def test_features_of_the_old_file_end_rule_are_stale_after_the_upgrade(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A project from before: its last:10 vectors were taken from the file's end, so they are
    re-extracted; a file that failed as silent is tried again."""
    path = write_audio(tmp_path / "outro.wav", with_silence(12.0))
    other = write_audio(tmp_path / "first.wav", tone(12.0))
    project_file = tmp_path / "old.audioid"
    with monkeypatch.context() as m:
        m.setattr(store, "MIGRATIONS", store.MIGRATIONS[:4])
        m.setattr(store, "SCHEMA_VERSION", 4)
        with Project(project_file) as old:
            old.import_sources([path, other])
            db = old.db
            db.execute("INSERT INTO features(track_id, extractor_version, segment, size, mtime, vector, extracted_at) "
                       "SELECT id, ?, 'last:10', size, mtime, x'00000000', 0 FROM tracks WHERE path = ?",
                       (VERSION, str(other)))
            db.execute("INSERT INTO features(track_id, extractor_version, segment, size, mtime, vector, extracted_at) "
                       "SELECT id, ?, 'first:5', size, mtime, x'00000000', 0 FROM tracks WHERE path = ?",
                       (VERSION, str(other)))
            old.record_error(old.track_id(path), str(path), "features",
                             "the segment is silent (nothing above -80 dBFS)")
    with Project(project_file) as project:
        assert project.db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        segments = {row[0] for row in project.db.execute("SELECT segment FROM features")}
        assert segments == {"file-end:10", "first:5"}
        assert {Path(t.path).name for t in project.pending_extraction(VERSION, LAST_10)} == {"outro.wav", "first.wav"}
        assert project.pending_extraction(VERSION, SegmentSpec.parse("first:5"))[0].path == str(path)
        assert project.errors() == []
        assert project.analysed_segments([project.track_id(other)]) == {}


def test_analysed_segment_follows_the_file_as_it_is_now(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "outro.wav", with_silence(6.0))
    with Project(tmp_path / "p.audioid") as project:
        project.import_sources([path])
        run_extraction(project, workers=1)
        track = project.track_id(path)
        assert project.analysed_segments([track])[track].end == pytest.approx(14.25, abs=0.06)
        write_audio(path, tone(12.0))  # the file changes on disk: what was recorded no longer holds
        project.import_sources([path])
        assert project.analysed_segments([track]) == {}
        with sqlite3.connect(tmp_path / "p.audioid") as db:
            assert db.execute("SELECT count(*) FROM features WHERE segment_start IS NOT NULL").fetchone()[0] == 1
