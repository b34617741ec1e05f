"""Turn the samples of one segment into a named feature vector.

Three families, computed in one pass over one STFT:

- ``spectral``: the journal's set (MFCC, zero-crossing rate, spectral contrast, chroma, RMS,
  roll-off, bandwidth, centroid, harmonic-to-noise ratio; mean and spread of each) and the speech
  cues of recipe 2 (syllable-rate modulation, pauses, flux, voicing, pitch movement);
- ``speech_detector``: a pretrained voice-activity model's speech probabilities, summarised, and
  what fills the pauses of speech (room noise, or a music bed going on);
- ``music_cues``: beat, sustained tones and percussion, tonality, sung versus spoken pitch,
  polyphony.

``VERSION`` names the recipe.  Change it whenever a vector would come out different, so that stored
vectors of the old recipe count as stale and get re-extracted.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..audio import TARGET_SR
from . import music_cues, speech_detector
from .spectral import SPEECH_NAMES, SpectralFeatures

# 3: a pretrained speech detector's summary, the bed under speech pauses, beat, sustained tones,
#    tonality, sung-vs-spoken pitch; pitch lags placed between samples.
VERSION = "3"
MIN_SECONDS = 1.0
SILENCE_PEAK = 10 ** (-80 / 20)  # a segment whose loudest sample is below -80 dBFS holds nothing to hear
FEATURE_NAMES: tuple[str, ...] = SpectralFeatures.names + speech_detector.NAMES + music_cues.NAMES
# The cues built for this question (speech detector, pauses, beat, tones, bass) count this many times
# as much as the journal's timbre statistics in a linear model: with 30 labels an equal footing
# spreads the model over 83 timbre values that partly tell one recording from another rather than
# one class from another.  Measured on real recordings at 30 labels (bench/active_learning.py):
# 1x 0.92, 2x 0.93, 3x 0.94, 4x 0.92.
CUE_WEIGHT = 3.0
CUE_NAMES = frozenset(speech_detector.NAMES + music_cues.NAMES)


def column_weights(names: Sequence[str]) -> np.ndarray:
    """How much each named column counts after standardisation (see ``CUE_WEIGHT``)."""
    return np.array([CUE_WEIGHT if name in CUE_NAMES else 1.0 for name in names])

__all__ = ["CUE_WEIGHT", "FEATURE_NAMES", "MIN_SECONDS", "SPEECH_NAMES", "VERSION", "FeatureError",
           "FeatureExtractor", "column_weights"]


class FeatureError(Exception):
    """The segment cannot give a meaningful vector (too short, silent)."""


class FeatureExtractor:
    """Builds the filter banks and loads the speech detector once; ``extract`` is then cheap and
    deterministic (the same samples always give the same vector)."""

    version = VERSION
    names = FEATURE_NAMES

    def __init__(self, sample_rate: int = TARGET_SR) -> None:
        self.sample_rate = sample_rate
        self._spectral = SpectralFeatures(sample_rate)
        self._detector = speech_detector.SpeechDetector()

    def extract(self, samples: np.ndarray) -> np.ndarray:
        """samples: mono float32 at ``sample_rate`` → float32 vector ordered as ``names``."""
        seconds = len(samples) / self.sample_rate
        if seconds < MIN_SECONDS:
            raise FeatureError(f"too short to analyse: {seconds:.2f} s (needs at least {MIN_SECONDS:g} s)")
        peak = float(np.max(np.abs(samples)))
        if not np.isfinite(peak):
            raise FeatureError("the decoded audio holds invalid (NaN or infinite) samples")
        if peak < SILENCE_PEAK:
            raise FeatureError("the segment is silent (nothing above -80 dBFS)")
        samples = samples.astype(np.float32, copy=False)
        spectral, frames = self._spectral.compute(samples)
        p, on_grid = self._detector.on_frames(samples, frames)
        vector = np.concatenate([spectral, speech_detector.summary(p, on_grid, frames),
                                 music_cues.compute(frames, on_grid)])
        return vector.astype(np.float32)
