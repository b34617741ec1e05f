"""Decoding: every format we will tag must decode, and only the chosen segment comes back."""
from __future__ import annotations

from pathlib import Path

import mutagen
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audioid_gui.core.audio import (
    TARGET_SR,
    AudioError,
    SegmentSpec,
    decode_segment,
    probe,
)

from .conftest import ALL_FORMATS, SR, dominant_frequency, tone, write_audio


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_last_ten_seconds_of_every_format_decode_to_mono_22050(format_library: dict[str, Path], fmt: str) -> None:
    samples = decode_segment(format_library[fmt], SegmentSpec.parse("last:10"), duration=probe(format_library[fmt]).duration)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) / TARGET_SR - 10.0) < 0.15
    # The file is 4 s of 220 Hz then 10 s of 1760 Hz: the last 10 s must be the high tone only.
    assert abs(dominant_frequency(samples) - 1760) < 20
    low_part = np.abs(np.fft.rfft(samples))[int(200 * len(samples) / TARGET_SR):int(240 * len(samples) / TARGET_SR)]
    assert low_part.max() < 0.05 * np.abs(np.fft.rfft(samples)).max()


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_probe_reads_duration_and_format(format_library: dict[str, Path], fmt: str) -> None:
    info = probe(format_library[fmt])
    assert info.duration == pytest.approx(14.0, abs=0.2)
    assert info.channels == 1
    assert info.format


@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a"])
def test_first_and_at_segments_pick_the_right_part(format_library: dict[str, Path], fmt: str) -> None:
    path = format_library[fmt]
    duration = probe(path).duration
    first = decode_segment(path, SegmentSpec.parse("first:3"), duration=duration)
    assert abs(len(first) / SR - 3) < 0.1 and abs(dominant_frequency(first) - 220) < 10
    later = decode_segment(path, SegmentSpec.parse("at:6:2"), duration=duration)
    assert abs(len(later) / SR - 2) < 0.1 and abs(dominant_frequency(later) - 1760) < 20


def test_seeked_segment_equals_the_tail_of_a_full_decode(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    signal = (0.3 * rng.standard_normal(SR * 20)).astype(np.float32)
    path = write_audio(tmp_path / "noise.flac", signal)
    tail = decode_segment(path, SegmentSpec.parse("last:10"))
    whole = decode_segment(path, SegmentSpec.parse("whole"))
    np.testing.assert_allclose(tail, whole[-len(tail):], atol=1e-4)


def test_mp3_seek_is_glitch_free(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "long.mp3", tone(30, 440))
    tail = decode_segment(path, SegmentSpec.parse("last:10"), duration=probe(path).duration)
    whole = decode_segment(path, SegmentSpec.parse("whole"))
    # Align on the best lag (encoder delay), then compare.
    n = len(tail)
    candidates = [np.max(np.abs(tail[:n - 50] - whole[len(whole) - n + lag: len(whole) - 50 + lag])) for lag in range(-40, 41)]
    assert min(candidates) < 0.02


def test_a_file_shorter_than_the_segment_gives_what_there_is(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "short.ogg", tone(3.0))
    samples = decode_segment(path, SegmentSpec.parse("last:10"), duration=probe(path).duration)
    assert abs(len(samples) / SR - 3.0) < 0.1


def test_stereo_44100_is_mixed_down_and_resampled(tmp_path: Path) -> None:
    left, right = tone(12, 440, 44_100), tone(12, 440, 44_100)
    path = write_audio(tmp_path / "stereo.flac", np.stack([left, right], axis=1), sr=44_100)
    samples = decode_segment(path, SegmentSpec.parse("last:10"))
    assert samples.ndim == 1 and abs(len(samples) - 10 * TARGET_SR) < 50
    assert abs(dominant_frequency(samples) - 440) < 5


def test_decode_keeps_native_rate_and_channels_on_request(tmp_path: Path) -> None:
    stereo = np.stack([tone(5, 440, 44_100), tone(5, 660, 44_100)], axis=1)
    path = write_audio(tmp_path / "stereo.m4a", stereo, sr=44_100)
    samples = decode_segment(path, SegmentSpec.parse("first:2"), sample_rate=None, channels=2)
    assert samples.shape[1] == 2 and abs(len(samples) - 2 * 44_100) < 2048


def test_text_file_named_mp3_is_a_clear_probe_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("shopping list: milk, eggs\n" * 50)
    with pytest.raises(AudioError) as error:
        probe(path)
    assert error.value.stage == "probe" and "not a readable audio file" in str(error.value)


def test_probe_reads_existing_tags(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "tagged.flac", tone(2))
    media = mutagen.File(path)
    media["genre"] = "Talk Radio"
    media["title"] = "Évening news"
    media.save()
    tags = probe(path).tags
    assert tags["genre"] == "Talk Radio" and tags["title"] == "Évening news"


@given(
    kind=st.sampled_from(["last", "first", "middle"]),
    seconds=st.floats(min_value=0.5, max_value=600, allow_nan=False).map(lambda x: round(x, 2)),
)
def test_segment_text_round_trips(kind: str, seconds: float) -> None:
    spec = SegmentSpec.parse(f"{kind}:{seconds:g}")
    assert SegmentSpec.parse(str(spec)) == spec


@given(duration=st.floats(min_value=0.1, max_value=10_000), seconds=st.floats(min_value=0.1, max_value=600),
       offset=st.floats(min_value=0, max_value=10_000))
def test_segment_window_stays_inside_the_file(duration: float, seconds: float, offset: float) -> None:
    for spec in (SegmentSpec("last", seconds), SegmentSpec("middle", seconds), SegmentSpec("at", seconds, offset)):
        start, length = spec.window(duration)
        assert 0 <= start <= max(0.0, duration - min(seconds, duration)) + 1e-9
        assert length == seconds


@pytest.mark.parametrize("text", ["", "last", "last:0", "last:-3", "at:5", "whole:3", "end:10", "last:ten", "last:nan"])
def test_bad_segment_specs_are_refused_with_a_message(text: str) -> None:
    with pytest.raises(ValueError, match="segment"):
        SegmentSpec.parse(text)
