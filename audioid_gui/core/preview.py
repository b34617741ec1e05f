"""What the player draws for a track: the waveform envelope and a mel spectrogram of its segment.

Computed off the GUI thread from the same decoded segment the features come from, so the picture
shows exactly what the model hears.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import librosa
import numpy as np

from .audio import TARGET_SR, AnalysedSegment, SegmentSpec, read_segment

N_MELS = 64


@dataclass(frozen=True)
class SegmentPicture:
    start: float  # seconds into the file where the segment begins
    seconds: float
    envelope: np.ndarray  # (2, columns): min and max of the samples in each column, -1..1
    mel_db: np.ndarray  # (N_MELS, frames): 0 (quiet) .. 1 (loudest), low frequencies first


def segment_picture(path: Path | str, segment: SegmentSpec, duration: Optional[float],
                    analysed: Optional[AnalysedSegment] = None, columns: int = 600) -> SegmentPicture:
    """Draw the part of the file the features were taken from (``analysed``, recorded at
    extraction), or, for a track not extracted yet, the segment's last N seconds of the file as
    the player plays them.  Raises AudioError like ``decode_segment``."""
    if analysed is not None:
        decoded = read_segment(path, SegmentSpec("at", analysed.seconds, analysed.start), duration=duration)
    else:
        decoded = read_segment(path, segment, duration=duration, skip_trailing_silence=False)
    samples = decoded.samples
    per_column = max(1, len(samples) // columns)
    usable = samples[: per_column * (len(samples) // per_column)].reshape(-1, per_column)
    envelope = np.stack([usable.min(axis=1), usable.max(axis=1)])
    mel = librosa.feature.melspectrogram(y=samples, sr=TARGET_SR, n_fft=1024, hop_length=512, n_mels=N_MELS)
    mel_db = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    return SegmentPicture(decoded.start, decoded.seconds, envelope, (mel_db + 80.0) / 80.0)
