"""The journal's feature set and the speech cues of recipe 2, from one STFT.

The set is the journal's: 13 MFCC, zero-crossing rate, 7 spectral-contrast bands, 12 chroma bins,
RMS energy, spectral roll-off, bandwidth and centroid, and a harmonic-to-noise ratio; each as the
mean and the standard deviation over frames (speech is more dynamic than music, so the spread
tells as much as the level).  Seven speech features follow (``SPEECH_NAMES``): the share of the
loudness modulation at syllable rate (2-8 Hz), the share of low-energy frames, spectral flux, and
the voicing ratio and pitch movement of the voiced frames.

Everything spectral comes from one STFT.  The journal's notebook called librosa once per feature,
and each call computed its own spectrogram; here the filter banks are built once per process and
every feature reads the same magnitude spectrogram — and so do the cues of the other modules,
which receive the frames computed here as a ``Frames``.
"""
from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import scipy.fft

N_FFT = 2048
HOP = 512
N_MELS = 128
N_MFCC = 13
HNR_PITCH_RANGE_HZ = (60.0, 400.0)  # where a voice's or an instrument's fundamental usually lies
VOICED_R = 0.5  # normalised autocorrelation above which a frame counts as voiced (HNR > 0 dB)
SYLLABLE_BAND_HZ = (2.0, 8.0)
MODULATION_BAND_HZ = (0.5, 20.0)


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
NAMES: tuple[str, ...] = tuple(f"{row}_{stat}" for row in ROW_NAMES for stat in ("mean", "std")) + SPEECH_NAMES


@dataclass(frozen=True)
class Frames:
    """What one STFT gave, frame by frame (hop ``HOP``), for the cues computed after it."""

    magnitude: np.ndarray  # (bins, frames)
    power: np.ndarray  # (bins, frames)
    log_mel: np.ndarray  # (mels, frames), dB
    chroma_power: np.ndarray  # (12, frames), not normalised
    rms: np.ndarray  # (frames,)
    voiced: np.ndarray  # (frames,) bool; silent frames are not voiced
    semitones: np.ndarray  # (frames,) pitch of each frame in semitones (NaN where not voiced)
    freqs: np.ndarray  # (bins,) Hz
    sample_rate: int


class SpectralFeatures:
    """Builds the filter banks once; ``compute`` is then cheap and deterministic."""

    names = NAMES

    def __init__(self, sample_rate: int) -> None:
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

    def compute(self, samples: np.ndarray) -> tuple[np.ndarray, Frames]:
        """samples: mono float32 → (vector ordered as ``names``, the frames behind it)."""
        stft = librosa.stft(samples, n_fft=N_FFT, hop_length=HOP, window=self._window, center=True)
        magnitude = np.abs(stft)
        power = magnitude**2
        sr = self.sample_rate

        log_mel = librosa.power_to_db(self._mel @ power)
        mfcc = scipy.fft.dct(log_mel, axis=0, type=2, norm="ortho")[:N_MFCC]
        zcr = librosa.feature.zero_crossing_rate(samples, frame_length=N_FFT, hop_length=HOP)
        contrast = librosa.feature.spectral_contrast(S=magnitude, sr=sr, n_fft=N_FFT, hop_length=HOP)
        chroma_power = self._chroma @ power
        chroma = librosa.util.normalize(chroma_power, norm=np.inf, axis=0)
        rms = librosa.feature.rms(S=magnitude, frame_length=N_FFT)
        rolloff = librosa.feature.spectral_rolloff(S=magnitude, sr=sr, freq=self._freqs)
        centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr, freq=self._freqs)
        bandwidth = librosa.feature.spectral_bandwidth(
            S=magnitude, sr=sr, freq=self._freqs, centroid=centroid
        )
        loud, r, lag = self._periodicity(power)
        hnr = 10 * np.log10(r / (1 - r))

        rows = np.vstack([mfcc, zcr, contrast, chroma, rms, rolloff, bandwidth, centroid])
        stats = np.empty((len(ROW_NAMES), 2), dtype=np.float64)
        stats[:-1, 0] = rows.mean(axis=1)
        stats[:-1, 1] = rows.std(axis=1)
        stats[-1] = (hnr.mean(), hnr.std()) if hnr.size else (0.0, 0.0)
        speech = self._speech(rms[0], magnitude, r, lag)

        voiced = np.zeros(power.shape[1], dtype=bool)
        voiced[loud] = r > VOICED_R
        semitones = np.full(power.shape[1], np.nan)
        semitones[loud] = 12 * np.log2(sr / lag)
        semitones[~voiced] = np.nan
        frames = Frames(magnitude, power, log_mel, chroma_power, rms[0], voiced, semitones, self._freqs, sr)
        return np.concatenate([stats.ravel(), speech]), frames

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

    def _periodicity(self, power: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which frames are loud, and per loud frame: the highest normalised autocorrelation r at a
        lag within the pitch range, and that lag in (fractional) samples — from the autocorrelation the power
        spectrum already holds (Wiener-Khinchin), so no second pass over the samples is needed.

        The harmonic-to-noise ratio is then 10·log10(r / (1 − r)).  Frames 60 dB below the
        loudest are left out: they have no pitch.
        """
        energy = power.sum(axis=0)
        loud = energy > energy.max() * 1e-6
        autocorrelation = np.fft.irfft(power[:, loud], n=N_FFT, axis=0)
        normalised = autocorrelation[self._lags] / autocorrelation[:1] / self._window_ac[:, None]
        best = np.argmax(normalised, axis=0)
        columns = np.arange(normalised.shape[1])
        r = np.clip(normalised[best, columns], 1e-6, 1 - 1e-6)
        # A parabola through the peak and its neighbours places it between lags: whole-sample lags
        # step by a sixth of a semitone at 200 Hz, too coarse to tell a held note from a glide.
        inner = np.clip(best, 1, len(normalised) - 2)
        before, at, after = (normalised[inner + k, columns] for k in (-1, 0, 1))
        curvature = before - 2 * at + after
        shift = np.where(curvature < 0, 0.5 * (before - after) / np.where(curvature < 0, curvature, -1.0), 0.0)
        lag = inner + np.clip(shift, -0.5, 0.5) + self._lags.start
        return loud, r, lag.astype(np.float64)
