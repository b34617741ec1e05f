"""What music has and speech lacks: a beat, sustained tones, chords, held notes.

- **Pulse** (Scheirer & Slaney 1997, their best single music cue): how strongly the onset envelope
  repeats at a tempo of 60-200 beats per minute.
- **Harmonic/percussive split** (median filtering, Fitzgerald 2010) with a long time kernel: the
  share of energy in tones that hold for most of a second (a music bed goes on under speech, where
  a voice's harmonics glide away), and the percussive share.
- **Tonality**: how much of the chroma sits in its strongest pitch class, and how alike the chroma
  stays from one moment to the next (chords hold; speech formants wander).
- **Sung or spoken**: singing holds its pitch on notes and stays voiced for long stretches; speech
  glides and breaks into syllables.  From the pitch track of the spectral module.
- **Polyphony**: how many sustained spectral peaks sound at once.
"""
from __future__ import annotations

import functools

import numpy as np
import scipy.ndimage

from .spectral import HOP, Frames

TEMPO_BPM = (60.0, 200.0)
SUSTAIN_SECONDS = 0.7  # a tone must hold about this long to count as sustained
PERCUSSIVE_SEMITONES = 9  # the frequency span of the percussive median filter
SPLIT_BAND_HZ = (60.0, 5000.0)
PLATEAU_SEMITONES = 0.3
CHROMA_LAG_SECONDS = 0.1
PEAK_BAND_HZ = (100.0, 2000.0)
PEAK_FLOOR_DB = 30.0
NAMES: tuple[str, ...] = (
    "pulse", "pulse_contrast", "sustained_share", "sustained_in_speech", "percussive_share", "sustained_peaks",
    "chroma_peak", "chroma_stability", "pitch_plateau", "voiced_run", "bass_sustained_in_speech", "subbass_in_speech",
)


def compute(frames: Frames, speech_p: np.ndarray) -> np.ndarray:
    """The NAMES values, in order; ``speech_p`` is the speech probability per STFT frame."""
    frame_rate = frames.sample_rate / HOP
    loud = frames.rms > frames.rms.max() * 10 ** (-50 / 20)
    return np.array([
        *_pulse(frames.log_mel, frame_rate),
        *_split(frames, frame_rate, speech_p > 0.5),
        *_tonality(frames.chroma_power[:, loud], frame_rate),
        *_sung(frames.voiced, frames.semitones, frame_rate),
        *_bass(frames, frame_rate, speech_p > 0.5),
    ])


def _bass(frames: Frames, frame_rate: float, speech: np.ndarray) -> tuple[float, float]:
    """Under speech, a music bed shows in the bass: a sustained low line and energy below the
    voice's fundamental."""
    in_speech = speech if speech.any() else np.ones_like(speech)
    bands, centres = _semitone_bands(frames.power.shape[0], frames.sample_rate)
    low = (bands @ frames.power)[centres <= 250][:, in_speech]
    time_kernel = max(3, int(round(SUSTAIN_SECONDS * frame_rate)) | 1)
    held = scipy.ndimage.median_filter(low, size=(1, time_kernel), mode="reflect")
    sustained = float(np.minimum(held, low).sum() / (low.sum() + 1e-12))
    power = frames.power[:, in_speech]
    sub = power[(frames.freqs >= 30) & (frames.freqs <= 90)].sum()
    return sustained, float(10 * np.log10((sub + 1e-12) / (power.sum() + 1e-12)))


def _pulse(log_mel: np.ndarray, frame_rate: float) -> tuple[float, float]:
    """Peak of the onset envelope's normalised autocorrelation within the tempo range, and how far
    it stands above the average there."""
    onset = np.maximum(np.diff(log_mel, axis=1), 0).mean(axis=0)
    onset = onset - onset.mean()
    if len(onset) < 4 or not onset.any():
        return 0.0, 0.0
    ac = np.correlate(onset, onset, mode="full")[len(onset) - 1:]
    ac = ac / ac[0]
    low, high = (int(round(60 / bpm * frame_rate)) for bpm in reversed(TEMPO_BPM))
    span = ac[low: min(high + 1, len(ac))]
    if span.size == 0:
        return 0.0, 0.0
    return float(span.max()), float(span.max() - span.mean())


@functools.lru_cache(maxsize=4)
def _semitone_bands(n_bins: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """A (bands, bins) matrix summing the linear STFT bins into semitone-wide bands over
    SPLIT_BAND_HZ (each bin split by how much of it a band covers), and the bands' centres.

    The median filters below run on about 80 bands instead of 460 bins: five times cheaper, and a
    note is one band wide whatever its pitch."""
    low, high = SPLIT_BAND_HZ
    n_bands = int(np.floor(12 * np.log2(high / low)))
    edges = low * 2 ** ((np.arange(n_bands + 1) - 0.5) / 12)
    bin_hz = sample_rate / 2 / (n_bins - 1)
    bin_low = np.arange(n_bins) * bin_hz - bin_hz / 2
    overlap = np.minimum(edges[1:, None], bin_low[None, :] + bin_hz) - np.maximum(edges[:-1, None], bin_low[None, :])
    return np.clip(overlap, 0, None) / bin_hz, low * 2 ** (np.arange(n_bands) / 12)


def _split(frames: Frames, frame_rate: float, speech: np.ndarray) -> tuple[float, float, float, float]:
    """Sustained share, the same within speech frames, percussive share, sustained peaks."""
    bands, centres = _semitone_bands(frames.power.shape[0], frames.sample_rate)
    power = bands @ frames.power
    time_kernel = max(3, int(round(SUSTAIN_SECONDS * frame_rate)) | 1)
    harmonic = scipy.ndimage.median_filter(power, size=(1, time_kernel), mode="reflect")
    percussive = scipy.ndimage.median_filter(power, size=(PERCUSSIVE_SEMITONES, 1), mode="reflect")
    total = harmonic**2 + percussive**2 + 1e-24
    sustained_power = power * harmonic**2 / total
    percussive_power = power * percussive**2 / total
    energy = power.sum() + 1e-12
    in_speech = speech if speech.any() else np.ones_like(speech)
    sustained_in_speech = sustained_power[:, in_speech].sum() / (power[:, in_speech].sum() + 1e-12)
    # Sustained peaks: local maxima of the sustained spectrum, within 30 dB of the frame's loudest.
    held = 10 * np.log10(sustained_power[(centres >= PEAK_BAND_HZ[0]) & (centres <= PEAK_BAND_HZ[1])] + 1e-12)
    is_peak = (held[1:-1] > held[:-2]) & (held[1:-1] >= held[2:]) & (held[1:-1] > held.max(axis=0) - PEAK_FLOOR_DB)
    loud = frames.rms > frames.rms.max() * 10 ** (-50 / 20)
    peaks = float(is_peak[:, loud].sum(axis=0).mean()) if loud.any() else 0.0
    return float(sustained_power.sum() / energy), float(sustained_in_speech), float(percussive_power.sum() / energy), peaks


def _tonality(chroma: np.ndarray, frame_rate: float) -> tuple[float, float]:
    if chroma.shape[1] == 0:
        return 0.0, 0.0
    peak = float(np.mean(chroma.max(axis=0) / (chroma.sum(axis=0) + 1e-12)))
    lag = max(1, int(round(CHROMA_LAG_SECONDS * frame_rate)))
    if chroma.shape[1] <= lag:
        return peak, 0.0
    unit = chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + 1e-12)
    return peak, float(np.mean(np.sum(unit[:, lag:] * unit[:, :-lag], axis=0)))


def _sung(voiced: np.ndarray, semitones: np.ndarray, frame_rate: float) -> tuple[float, float]:
    """Share of voiced pitch steps that hold within a third of a semitone, and the median length of
    voiced runs in seconds."""
    steps = np.abs(np.diff(semitones))
    steps = steps[np.isfinite(steps)]
    plateau = float(np.mean(steps < PLATEAU_SEMITONES)) if steps.size else 0.0
    edges = np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]]))
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    return plateau, float(np.median(runs) / frame_rate) if runs.size else 0.0
