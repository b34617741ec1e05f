"""The feature vector: the journal's set, named, deterministic, and telling speech from music."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from audioid_gui.core.audio import SegmentSpec, decode_segment
from audioid_gui.core.features import FEATURE_NAMES, SPEECH_NAMES, FeatureError, FeatureExtractor

from .conftest import REPO, SR, tone


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor()


def test_vector_has_the_journal_feature_set_as_named_means_and_spreads(extractor: FeatureExtractor) -> None:
    vector = extractor.extract(tone(10))
    assert vector.dtype == np.float32 and vector.shape == (83,) and len(FEATURE_NAMES) == 83
    rows = {name.rsplit("_", 1)[0] for name in FEATURE_NAMES[:76]}
    assert FEATURE_NAMES[76:] == SPEECH_NAMES
    assert {f"mfcc_{i:02d}" for i in range(1, 14)} <= rows
    assert {"zcr", "rms", "rolloff", "bandwidth", "centroid", "hnr"} <= rows
    assert sum(r.startswith("contrast_") for r in rows) == 7 and sum(r.startswith("chroma_") for r in rows) == 12
    assert np.all(np.isfinite(vector))


def test_same_samples_give_the_same_vector(extractor: FeatureExtractor) -> None:
    noise = (0.1 * np.random.default_rng(0).standard_normal(SR * 10)).astype(np.float32)
    assert np.array_equal(extractor.extract(noise), extractor.extract(noise.copy()))
    assert np.array_equal(extractor.extract(noise), FeatureExtractor().extract(noise))


def test_a_steady_tone_is_more_harmonic_than_noise(extractor: FeatureExtractor) -> None:
    named = lambda v: dict(zip(FEATURE_NAMES, v))  # noqa: E731
    pure = named(extractor.extract(tone(10, 220)))
    noise = named(extractor.extract((0.2 * np.random.default_rng(1).standard_normal(SR * 10)).astype(np.float32)))
    assert pure["hnr_mean"] > noise["hnr_mean"] + 20
    assert pure["zcr_mean"] < noise["zcr_mean"]
    assert abs(pure["centroid_mean"] - 220) < 60


def test_silence_and_too_short_clips_are_refused_with_reasons(extractor: FeatureExtractor) -> None:
    with pytest.raises(FeatureError, match="silent"):
        extractor.extract(np.zeros(SR * 10, dtype=np.float32))
    with pytest.raises(FeatureError, match="too short"):
        extractor.extract(tone(0.5))


def test_demo_music_and_dialogue_differ_in_the_expected_direction(extractor: FeatureExtractor) -> None:
    """Speech is more dynamic than music: its loudness varies more from frame to frame."""
    truth = dict(list(csv.reader(open(REPO / "resources" / "demo_truth.csv", encoding="utf-8")))[1:])
    spread: dict[str, list[float]] = {"Music": [], "Dialogue": []}
    for name, label in truth.items():
        if label in spread:
            samples = decode_segment(REPO / "resources" / "demo" / name, SegmentSpec.parse("last:10"))
            named = dict(zip(FEATURE_NAMES, extractor.extract(samples)))
            spread[label].append(named["rms_std"] / named["rms_mean"])
    assert np.median(spread["Dialogue"]) > np.median(spread["Music"])


def speech_like(seconds: float = 10, seed: int = 0) -> np.ndarray:
    """A voice-like test signal: a harmonic tone whose pitch glides, switched on and off in
    syllables about four times a second, with phrase pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    pitch = 140 * 2 ** (3 * np.sin(2 * np.pi * 0.7 * t) / 12)
    phase = 2 * np.pi * np.cumsum(pitch) / SR
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    syllables = (np.sin(2 * np.pi * 4.2 * t) > -0.2).astype(float)
    phrases = (np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 6)) > -0.6).astype(float)
    return (0.2 * voice * syllables * phrases + 0.001 * rng.standard_normal(len(t))).astype(np.float32)


def test_speech_features_tell_a_voice_from_a_held_chord(extractor: FeatureExtractor) -> None:
    named = lambda v: dict(zip(FEATURE_NAMES, v))  # noqa: E731
    voice = named(extractor.extract(speech_like()))
    chord = named(extractor.extract(tone(10, 220) + tone(10, 277) + tone(10, 330)))
    assert voice["modulation_4hz"] > chord["modulation_4hz"] + 0.3
    assert voice["low_energy_ratio"] > chord["low_energy_ratio"] + 0.2
    assert voice["pitch_std"] > chord["pitch_std"] + 1 and voice["pitch_glide"] > chord["pitch_glide"]
    assert voice["flux_mean"] > chord["flux_mean"]
    assert 0 <= voice["voiced_ratio"] <= 1 and 0 <= chord["modulation_4hz"] <= 1
