"""The feature vector: the journal's set, the speech detector and the music cues, named,
deterministic, and telling speech from music on synthetic and on real recordings."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from audioid_gui.core.audio import SegmentSpec, decode_segment
from audioid_gui.core.features import FEATURE_NAMES, SPEECH_NAMES, FeatureError, FeatureExtractor, music_cues
from audioid_gui.core.features import speech_detector

from .conftest import REPO, SR, tone


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor()


def test_vector_has_the_journal_feature_set_as_named_means_and_spreads(extractor: FeatureExtractor) -> None:
    vector = extractor.extract(tone(10))
    assert vector.dtype == np.float32 and vector.shape == (len(FEATURE_NAMES),) and len(set(FEATURE_NAMES)) == 111
    rows = {name.rsplit("_", 1)[0] for name in FEATURE_NAMES[:76]}
    assert FEATURE_NAMES[76:83] == SPEECH_NAMES
    assert FEATURE_NAMES[83:] == speech_detector.NAMES + music_cues.NAMES
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


DEV_AUDIO = Path(os.environ.get("AUDIOID_DEV_AUDIO") or Path(__file__).resolve().parents[2] / "shared" / "dev-audio")
SPEECH_DETECTOR = [FEATURE_NAMES.index(n) for n in speech_detector.NAMES]


def named(vector: np.ndarray) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, vector.tolist()))


def test_quiet_noise_very_short_and_clipped_input_give_finite_repeatable_vectors(extractor: FeatureExtractor) -> None:
    rng = np.random.default_rng(4)
    quiet = (10 ** (-70 / 20) * rng.standard_normal(SR * 10)).astype(np.float32)  # just above "silent"
    shortest = speech_like(1.0)
    clipped = np.clip(speech_like(10) * 40, -1.0, 1.0)  # a voice driven hard into the limiter
    overdriven = speech_like(10) * 30  # decoders can give samples beyond ±1
    for samples in (quiet, shortest, clipped, overdriven):
        vector = extractor.extract(samples)
        assert np.all(np.isfinite(vector))
        assert np.array_equal(vector, extractor.extract(samples.copy()))
    assert named(extractor.extract(quiet))["vad_mean"] < 0.2
    with pytest.raises(FeatureError, match="too short"):
        extractor.extract(speech_like(0.99))


def test_the_speech_detector_is_reset_between_clips(extractor: FeatureExtractor) -> None:
    """The detector is recurrent: what it heard before must not colour the next clip."""
    voice, chord = speech_like(10), tone(10, 220) + tone(10, 330)
    alone = extractor.extract(chord)
    extractor.extract(voice)
    assert np.array_equal(extractor.extract(chord)[SPEECH_DETECTOR], alone[SPEECH_DETECTOR])


def dev_audio(folder: str, name: str) -> np.ndarray:
    path = DEV_AUDIO / folder / name
    if not path.exists():
        pytest.skip(f"the real recordings are not beside the checkout ({DEV_AUDIO})")
    return decode_segment(path, SegmentSpec.parse("last:10"))


def test_on_real_recordings_speech_fires_the_detector_and_music_holds_its_tones(extractor: FeatureExtractor) -> None:
    speech = named(extractor.extract(dev_audio("speech", "speech_whisper_jfk.flac")))
    reading = named(extractor.extract(dev_audio("speech", "speech_Resemblyzer_1998-15444-0000.flac")))
    piano = named(extractor.extract(dev_audio("instrumental", "instr_libtsm_BeethovenPiano.flac")))
    jazz = named(extractor.extract(dev_audio("instrumental", "instr_libtsm_Jazz.flac")))
    for voice in (speech, reading):
        for music in (piano, jazz):
            assert voice["vad_mean"] > 0.5 > music["vad_mean"]
            assert voice["pause_level"] < music["pause_level"]  # speech pauses fall towards silence
            assert voice["chroma_stability"] < music["chroma_stability"]
    assert jazz["pulse"] > max(speech["pulse"], reading["pulse"])  # a beat
