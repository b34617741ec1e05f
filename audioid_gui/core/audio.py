"""Read audio files: what they are (probe) and the samples of one segment (decode).

Two decoders, tried in order:

* **libsndfile** (the ``soundfile`` wheel) for WAV, FLAC, Ogg Vorbis/Opus, MP3 and AIFF.  It seeks,
  so keeping the last 10 s of a 3-minute file decodes about 10 s, not 3 minutes.
* **ffmpeg** (the binary that the ``imageio-ffmpeg`` wheel ships, or one named by ``AUDIOID_FFMPEG``)
  for everything else: MP4/M4A/AAC, WMA, Monkey's Audio, WavPack, Musepack, TAK ...  It is asked to
  seek before it opens the input (``-ss`` before ``-i``), to down-mix and to resample, so that it too
  decodes only the segment.

Both give float32 samples; the feature extractor wants mono at 22,050 Hz.
"""
from __future__ import annotations

import functools
import logging
import math
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import soundfile
import soxr

log = logging.getLogger(__name__)

TARGET_SR = 22_050
FFMPEG_TIMEOUT_S = 120.0
# Decoding starts this much before a seek point and the extra is dropped: an MP3 frame may borrow
# bits from the frames before it (the bit reservoir), so the first frame after a seek can glitch.
SEEK_PREROLL_S = 0.25

SegmentKind = Literal["last", "first", "middle", "at", "whole"]


class AudioError(Exception):
    """A file could not be read; ``stage`` says at which step (open, probe, decode)."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


@dataclass(frozen=True)
class SegmentSpec:
    """Which part of a file to analyse: ``last:10`` (default), ``first:N``, ``middle:N``,
    ``at:OFFSET:N`` or ``whole``.

    The journal found the last 10 seconds of a radio clip to be the telling part (the outro
    music), hence the default.
    """

    kind: SegmentKind = "last"
    seconds: Optional[float] = 10.0
    offset: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "SegmentSpec":
        parts = text.strip().lower().split(":")
        kind = parts[0]
        try:
            numbers = [float(p) for p in parts[1:]]
        except ValueError:
            raise ValueError(f"segment {text!r}: numbers expected after the colon") from None
        if any(not math.isfinite(n) or n < 0 for n in numbers):
            raise ValueError(f"segment {text!r}: seconds must be positive numbers")
        if kind == "whole" and not numbers:
            return cls("whole", None)
        if kind in ("last", "first", "middle") and len(numbers) == 1 and numbers[0] > 0:
            return cls(kind, numbers[0])  # type: ignore[arg-type]
        if kind == "at" and len(numbers) == 2 and numbers[1] > 0:
            return cls("at", numbers[1], numbers[0])
        raise ValueError(
            f"segment {text!r} not understood; use last:N, first:N, middle:N, at:OFFSET:N or whole"
        )

    def __str__(self) -> str:
        if self.kind == "whole":
            return "whole"
        if self.kind == "at":
            return f"at:{self.offset:g}:{self.seconds:g}"
        return f"{self.kind}:{self.seconds:g}"

    @property
    def needs_duration(self) -> bool:
        return self.kind in ("last", "middle", "at")

    def window(self, duration: Optional[float]) -> Optional[tuple[float, Optional[float]]]:
        """Start and length in seconds (length None: to the end), or None if the duration is
        needed but unknown.  A file shorter than the segment gives what there is."""
        if self.kind == "whole":
            return 0.0, None
        if self.kind == "first":
            return 0.0, self.seconds
        if duration is None:
            return None
        length = float(self.seconds or 0.0)
        latest_start = max(0.0, duration - length)
        if self.kind == "last":
            start = latest_start
        elif self.kind == "middle":
            start = latest_start / 2
        else:
            start = min(self.offset, latest_start)
        return start, length


DEFAULT_SEGMENT = SegmentSpec()


@dataclass(frozen=True)
class AudioInfo:
    """What a file is, read from its headers without decoding it."""

    duration: Optional[float]
    format: str
    sample_rate: Optional[int]
    channels: Optional[int]
    tags: dict[str, str] = field(default_factory=dict)


# The tags worth showing next to a track, and the names different formats give them.
_TAG_ALIASES = {
    "title": "title", "tit2": "title", "©nam": "title",
    "artist": "artist", "tpe1": "artist", "author": "artist", "©art": "artist",
    "album": "album", "talb": "album", "wm/albumtitle": "album", "©alb": "album",
    "genre": "genre", "tcon": "genre", "wm/genre": "genre", "©gen": "genre",
    "date": "date", "year": "date", "tdrc": "date", "wm/year": "date", "©day": "date",
}


def _text_tags(tags: object) -> dict[str, str]:
    found: dict[str, str] = {}
    if tags is None:
        return found
    try:
        items = list(tags.items())  # type: ignore[attr-defined]
    except Exception:  # some tag containers (e.g. broken ID3) cannot even be listed
        return found
    for key, value in items:
        name = _TAG_ALIASES.get(str(key).lower())
        if name is None or name in found:
            continue
        values = value if isinstance(value, list) else getattr(value, "text", [value])
        text = "; ".join(str(v) for v in values if isinstance(v, (str, int, float)) or hasattr(v, "value"))
        if text:
            found[name] = text[:500]
    return found


def probe(path: Path | str) -> AudioInfo:
    """Read duration, format, sample rate, channels and the common text tags.

    mutagen knows every tag format we will write; libsndfile is asked when mutagen does not know
    the file (e.g. a WAV with an unusual header).  Raises AudioError(stage="probe").
    """
    import mutagen  # imported here: worker processes that only decode never pay for it

    reasons = []
    try:
        media = mutagen.File(path)
    except Exception as exc:  # mutagen raises many kinds, all meaning "not readable as audio"
        media = None
        reasons.append(f"mutagen: {exc}")
    if media is not None and getattr(media, "info", None) is not None:
        info = media.info
        length = getattr(info, "length", None)
        return AudioInfo(
            duration=float(length) if length and length > 0 else None,
            format=type(media).__name__,
            sample_rate=getattr(info, "sample_rate", None) or None,
            channels=getattr(info, "channels", None) or None,
            tags=_text_tags(media.tags),
        )
    try:
        sf_info = soundfile.info(str(path))
    except Exception:  # libsndfile's own words here are misleading ("possibly a pipe?")
        reasons.append("libsndfile: unknown format")
        raise AudioError("probe", "not a readable audio file (" + "; ".join(reasons) + ")") from None
    return AudioInfo(
        duration=sf_info.duration if sf_info.duration > 0 else None,
        format=sf_info.format,
        sample_rate=sf_info.samplerate,
        channels=sf_info.channels,
    )


@functools.lru_cache(maxsize=1)
def ffmpeg_executable() -> str:
    """The ffmpeg to run: ``AUDIOID_FFMPEG`` if set, else the one shipped in the imageio-ffmpeg wheel."""
    explicit = os.environ.get("AUDIOID_FFMPEG")
    if explicit:
        return explicit
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def decode_segment(
    path: Path | str,
    segment: SegmentSpec = DEFAULT_SEGMENT,
    *,
    duration: Optional[float] = None,
    sample_rate: Optional[int] = TARGET_SR,
    channels: int = 1,
) -> np.ndarray:
    """Decode one segment of a file to float32 samples, shape (frames,) for mono or
    (frames, channels).  ``sample_rate=None`` keeps the file's rate.

    ``duration`` (from ``probe``) lets ffmpeg seek straight to a ``last:N`` segment.
    Raises AudioError(stage="decode").
    """
    path = str(path)
    try:
        samples, rate, expected = _decode_with_libsndfile(path, segment, channels)
    except _NotForLibsndfile:
        samples, rate, expected = _decode_with_ffmpeg(path, segment, duration, sample_rate, channels)
    if len(samples) == 0:
        raise AudioError("decode", "no audio where the file's header says there is some (truncated or damaged?)")
    got = len(samples) / rate
    if expected is not None and got < 0.9 * expected - 0.25:
        raise AudioError(
            "decode", f"truncated or damaged: the segment should hold {expected:.1f} s but only {got:.1f} s decode"
        )
    if sample_rate is not None and rate != sample_rate:
        samples = soxr.resample(samples, rate, sample_rate).astype(np.float32, copy=False)
    return samples[:, 0] if channels == 1 else samples


def _expected_seconds(window: Optional[tuple[float, Optional[float]]], duration: Optional[float]) -> Optional[float]:
    """How much audio a window should yield, by the file's own header; None if unknown."""
    if window is None or duration is None:
        return None
    start, length = window
    return max(0.0, duration - start) if length is None else min(length, max(0.0, duration - start))


class _NotForLibsndfile(Exception):
    """libsndfile cannot read this file (or found nothing where it should be): ask ffmpeg."""


def _decode_with_libsndfile(
    path: str, segment: SegmentSpec, channels: int
) -> tuple[np.ndarray, int, Optional[float]]:
    try:
        with soundfile.SoundFile(path) as f:
            rate = f.samplerate
            total = f.frames / rate if f.frames > 0 else None
            window = segment.window(total)
            if window is None:
                raise _NotForLibsndfile()
            start, length = window
            first = int(round(start * rate))
            preroll = min(first, int(SEEK_PREROLL_S * rate))
            f.seek(first - preroll)
            frames = -1 if length is None else int(round(length * rate)) + preroll
            data = f.read(frames, dtype="float32", always_2d=True)[preroll:]
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        log.debug("libsndfile cannot decode %s: %s", path, exc)
        raise _NotForLibsndfile() from None
    if len(data) == 0:
        raise _NotForLibsndfile()
    return _mix(data, channels), rate, _expected_seconds(window, total)


def _mix(data: np.ndarray, channels: int) -> np.ndarray:
    """(frames, n) → (frames, channels): average down to mono, or keep the file's channels."""
    if channels == 1 and data.shape[1] != 1:
        return data.mean(axis=1, keepdims=True, dtype=np.float32)
    return data


def _decode_with_ffmpeg(
    path: str,
    segment: SegmentSpec,
    duration: Optional[float],
    sample_rate: Optional[int],
    channels: int,
) -> tuple[np.ndarray, int, Optional[float]]:
    window = segment.window(duration)
    start, length = window if window is not None else (0.0, None)
    expected = _expected_seconds(window, duration)
    rate = sample_rate or _ffmpeg_native_rate(path)
    samples = _run_ffmpeg(path, start, length, rate, channels, seek_input=True)
    if expected is not None and start > 0 and len(samples) / rate < expected - 0.05:
        # Some demuxers (Musepack, some VBR streams) land after the seek point: decode from the
        # start and let ffmpeg drop what comes before the segment, exactly.
        samples = _run_ffmpeg(path, start, length, rate, channels, seek_input=False)
    if window is None and segment.needs_duration:
        # Duration was unknown, so the whole file was decoded: cut the segment now.
        start, length = segment.window(len(samples) / rate) or (0.0, None)
        first = int(start * rate)
        samples = samples[first: None if length is None else first + int(length * rate)]
    return samples, rate, expected


def _run_ffmpeg(
    path: str, start: float, length: Optional[float], rate: int, channels: int, *, seek_input: bool
) -> np.ndarray:
    """Decode [start, start + length) to float32 (frames, channels) at ``rate``."""
    seek = ["-ss", f"{start:.3f}"] if start > 0 else []
    command = [ffmpeg_executable(), "-nostdin", "-hide_banner", "-loglevel", "error"]
    command += [*(seek if seek_input else []), "-i", path, *([] if seek_input else seek)]
    if length is not None:
        command += ["-t", f"{length:.3f}"]
    command += ["-vn", "-map", "0:a:0", "-ac", str(channels), "-ar", str(rate), "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise AudioError("decode", f"ffmpeg took longer than {FFMPEG_TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise AudioError("decode", f"cannot run ffmpeg ({exc})") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = reason[-1] if reason else f"exit code {done.returncode}"
        raise AudioError("decode", f"ffmpeg cannot decode it: {detail.replace(path, '<file>')}")
    samples = np.frombuffer(done.stdout, dtype="<f4")
    return samples[: len(samples) - len(samples) % channels].reshape(-1, channels)


def _ffmpeg_native_rate(path: str) -> int:
    """The file's sample rate from its headers (mutagen first, as ffprobe is not shipped)."""
    rate = probe(path).sample_rate
    if not rate:
        raise AudioError("decode", "cannot tell the file's sample rate")
    return rate
