"""Turn the samples of one segment into a named feature vector.

The set is the journal's: 13 MFCC, zero-crossing rate, 7 spectral-contrast bands, 12 chroma bins,
RMS energy, spectral roll-off, bandwidth and centroid, and a harmonic-to-noise ratio; each as the
mean and the standard deviation over frames (speech is more dynamic than music, so the spread
tells as much as the level).

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

VERSION = "1"

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
FEATURE_NAMES: tuple[str, ...] = tuple(f"{row}_{stat}" for row in ROW_NAMES for stat in ("mean", "std"))


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
        hnr = self._harmonic_to_noise(power)

        rows = np.vstack([mfcc, zcr, contrast, chroma, rms, rolloff, bandwidth, centroid])
        stats = np.empty((len(ROW_NAMES), 2), dtype=np.float64)
        stats[:-1, 0] = rows.mean(axis=1)
        stats[:-1, 1] = rows.std(axis=1)
        stats[-1] = (hnr.mean(), hnr.std()) if hnr.size else (0.0, 0.0)
        return stats.astype(np.float32).ravel()

    def _harmonic_to_noise(self, power: np.ndarray) -> np.ndarray:
        """Per-frame harmonic-to-noise ratio in dB, from the autocorrelation that the power
        spectrum already holds (Wiener-Khinchin), so no second pass over the samples is needed.

        HNR = 10·log10(r / (1 − r)), r being the highest normalised autocorrelation at a lag
        within the pitch range.  Frames 60 dB below the loudest are left out: they have no pitch.
        """
        energy = power.sum(axis=0)
        voiced = energy > energy.max() * 1e-6
        autocorrelation = np.fft.irfft(power[:, voiced], n=N_FFT, axis=0)
        normalised = autocorrelation[self._lags] / autocorrelation[:1] / self._window_ac[:, None]
        r = np.clip(normalised.max(axis=0), 1e-6, 1 - 1e-6)
        return 10 * np.log10(r / (1 - r))
