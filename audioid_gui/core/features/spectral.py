"""Turn the samples of one segment into a named feature vector.

The set is the journal's: 13 MFCC, zero-crossing rate, 7 spectral-contrast bands, 12 chroma bins,
RMS energy, spectral roll-off, bandwidth and centroid, and a harmonic-to-noise ratio; each as the
mean and the standard deviation over frames (speech is more dynamic than music, so the spread
tells as much as the level).  Seven speech features follow (``SPEECH_NAMES``): the share of the
loudness modulation at syllable rate (2-8 Hz), the share of low-energy frames, spectral flux, and
the voicing ratio and pitch movement of the voiced frames.

Everything spectral comes from one STFT.  The journal's notebook called librosa once per feature,
and each call computed its own spectrogram; here the filter banks are built once per process and
every feature reads the same magnitude spectrogram.

``VERSION`` names the recipe.  Change it whenever a vector would come out different, so that stored
vectors of the old recipe count as stale and get re-extracted.
"""
from __future__ import annotations

import logging

import librosa
import numpy as np
import scipy.fft

from .audio import TARGET_SR

log = logging.getLogger(__name__)

VERSION = "2"  # 2: speech features (syllable-rate modulation, low-energy share, flux, voicing, pitch)

N_FFT = 2048
HOP = 512
N_MELS = 128
N_MFCC = 13
MIN_SECONDS = 1.0
SILENCE_PEAK = 10 ** (-80 / 20)  # a segment whose loudest sample is below -80 dBFS holds nothing to hear
HNR_PITCH_RANGE_HZ = (60.0, 400.0)  # where a voice's or an instrument's fundamental usually lies


class FeatureError(Exception):
    """The segment cannot give a meaningful vector (too short, silent)."""


def _row_names() -> list[str]:
    return (
        [f"mfcc_{i:02d}" for i in range(1, N_MFCC + 1)]
        + ["zcr"]
        + [f"contrast_{i}" for i in range(1, 8)]
        + [f"chroma_{p}" for p in ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")]
        + ["rms", "rolloff", "bandwidth", "centroid", "hnr"]
    )


ROW_NAMES: tuple[str, ...] = tuple(_row_names())
# What makes speech speech, beyond the journal's set: syllables come at about 4 a second, speech
# pauses between phrases, its spectrum changes faster than sustained notes, and its voiced parts
# glide in pitch where instruments hold theirs.
SPEECH_NAMES: tuple[str, ...] = ("modulation_4hz", "low_energy_ratio", "flux_mean", "flux_std", "voiced_ratio",
                                 "pitch_std", "pitch_glide")
FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"{row}_{stat}" for row in ROW_NAMES for stat in ("mean", "std")) + SPEECH_NAMES
)
VOICED_R = 0.5  # normalised autocorrelation above which a frame counts as voiced (HNR > 0 dB)
SYLLABLE_BAND_HZ = (2.0, 8.0)
MODULATION_BAND_HZ = (0.5, 20.0)


class FeatureExtractor:
    """Builds the filter banks once; ``extract`` is then cheap and deterministic."""

    version = VERSION
    names = FEATURE_NAMES

    def __init__(self, sample_rate: int = TARGET_SR) -> None:
        self.sample_rate = sample_rate
        self._window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann, as librosa's stft
        self._mel = librosa.filters.mel(sr=sample_rate, n_fft=N_FFT, n_mels=N_MELS)
        self._chroma = librosa.filters.chroma(sr=sample_rate, n_fft=N_FFT)
        self._freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=N_FFT)
        low, high = HNR_PITCH_RANGE_HZ
        self._lags = slice(int(sample_rate / high), int(sample_rate / low) + 1)
        # The window's own autocorrelation, to undo its taper (Boersma 1993).
        window_ac = np.fft.irfft(np.abs(np.fft.rfft(self._window)) ** 2)
        self._window_ac = (window_ac / window_ac[0])[self._lags]

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
        stft = librosa.stft(samples, n_fft=N_FFT, hop_length=HOP, window=self._window, center=True)
        magnitude = np.abs(stft)
        power = magnitude**2
        sr = self.sample_rate

        log_mel = librosa.power_to_db(self._mel @ power)
        mfcc = scipy.fft.dct(log_mel, axis=0, type=2, norm="ortho")[:N_MFCC]
        zcr = librosa.feature.zero_crossing_rate(samples, frame_length=N_FFT, hop_length=HOP)
        contrast = librosa.feature.spectral_contrast(S=magnitude, sr=sr, n_fft=N_FFT, hop_length=HOP)
        chroma = librosa.util.normalize(self._chroma @ power, norm=np.inf, axis=0)
        rms = librosa.feature.rms(S=magnitude, frame_length=N_FFT)
        rolloff = librosa.feature.spectral_rolloff(S=magnitude, sr=sr, freq=self._freqs)
        centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr, freq=self._freqs)
        bandwidth = librosa.feature.spectral_bandwidth(
            S=magnitude, sr=sr, freq=self._freqs, centroid=centroid
        )
        r, lag = self._periodicity(power)
        hnr = 10 * np.log10(r / (1 - r))

        rows = np.vstack([mfcc, zcr, contrast, chroma, rms, rolloff, bandwidth, centroid])
        stats = np.empty((len(ROW_NAMES), 2), dtype=np.float64)
        stats[:-1, 0] = rows.mean(axis=1)
        stats[:-1, 1] = rows.std(axis=1)
        stats[-1] = (hnr.mean(), hnr.std()) if hnr.size else (0.0, 0.0)
        speech = self._speech(rms[0], magnitude, r, lag)
        return np.concatenate([stats.ravel(), speech]).astype(np.float32)

    def _speech(self, envelope: np.ndarray, magnitude: np.ndarray, r: np.ndarray, lag: np.ndarray) -> np.ndarray:
        """The SPEECH_NAMES values, in order."""
        # Syllable rate: the share of the loudness envelope's modulation that lies at 2-8 Hz.
        wobble = (envelope - envelope.mean()) * np.hanning(len(envelope))
        spectrum = np.abs(np.fft.rfft(wobble)) ** 2
        freqs = np.fft.rfftfreq(len(envelope), HOP / self.sample_rate)
        band = spectrum[(freqs >= SYLLABLE_BAND_HZ[0]) & (freqs <= SYLLABLE_BAND_HZ[1])].sum()
        total = spectrum[(freqs >= MODULATION_BAND_HZ[0]) & (freqs <= MODULATION_BAND_HZ[1])].sum()
        modulation = band / total if total > 0 else 0.0
        low_energy = float(np.mean(envelope < 0.5 * envelope.mean()))
        # Spectral flux of the loudness-normalised spectrum: how fast the timbre changes.
        shape = magnitude / (magnitude.sum(axis=0, keepdims=True) + 1e-12)
        flux = np.maximum(np.diff(shape, axis=1), 0).sum(axis=0) if shape.shape[1] > 1 else np.zeros(1)
        # Voicing and pitch, from the autocorrelation peak of the loud frames.
        voiced = r > VOICED_R
        voiced_ratio = float(voiced.mean()) if voiced.size else 0.0
        semitones = 12 * np.log2(self.sample_rate / lag[voiced]) if voiced.any() else np.zeros(0)
        # Robust spread (interquartile range / 1.349): octave slips of a few frames must not count.
        pitch_std = float(np.subtract(*np.percentile(semitones, [75, 25])) / 1.349) if semitones.size > 1 else 0.0
        both = voiced[1:] & voiced[:-1]
        steps = np.abs(np.diff(12 * np.log2(self.sample_rate / lag)))[both] if both.any() else np.zeros(0)
        glide = float(np.median(steps)) if steps.size else 0.0
        return np.array([modulation, low_energy, flux.mean(), flux.std(), voiced_ratio, pitch_std, glide])

    def _periodicity(self, power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per loud frame: the highest normalised autocorrelation r at a lag within the pitch
        range, and that lag in samples — from the autocorrelation the power spectrum already
        holds (Wiener-Khinchin), so no second pass over the samples is needed.

        The harmonic-to-noise ratio is then 10·log10(r / (1 − r)).  Frames 60 dB below the
        loudest are left out: they have no pitch.
        """
        energy = power.sum(axis=0)
        loud = energy > energy.max() * 1e-6
        autocorrelation = np.fft.irfft(power[:, loud], n=N_FFT, axis=0)
        normalised = autocorrelation[self._lags] / autocorrelation[:1] / self._window_ac[:, None]
        best = np.argmax(normalised, axis=0)
        r = np.clip(normalised[best, np.arange(normalised.shape[1])], 1e-6, 1 - 1e-6)
        return r, (best + self._lags.start).astype(np.float64)
