"""Read audio files: what they are (probe) and the samples of one segment (decode).

Two decoders, tried in order:

* **libsndfile** (the ``soundfile`` wheel) for WAV, FLAC, Ogg Vorbis/Opus, MP3 and AIFF.  It seeks,
  so keeping the last 10 s of a 3-minute file decodes about 10 s, not 3 minutes.
* **ffmpeg** (the binary that the ``imageio-ffmpeg`` wheel ships, or one named by ``AUDIOID_FFMPEG``)
  for everything else: MP4/M4A/AAC, WMA, Monkey's Audio, WavPack, Musepack, TAK ...  It is asked to
  seek before it opens the input (``-ss`` before ``-i``), to down-mix and to resample, so that it too
  decodes only the segment.

Both give float32 samples; the feature extractor wants mono at 22,050 Hz.

``last:N`` means the last N seconds of *audible content*, not of the file: broadcast files often
end in seconds of silence, and the last 10 s of such a file would be mostly (or only) silence.  The
rule (``find_trailing_silence``): the file is cut into 50 ms frames counted back from its end; a
frame is audible when its RMS level (mono mix) reaches -60 dBFS.  When the file ends in at least
1 s of silence, the segment ends 0.25 s after the last audible frame (so a fade-out is kept whole);
otherwise it ends at the file's end, exactly as a plain "last N seconds" would.  The file's last N
seconds are decoded first, as they always were, so a file that does not end in silence costs
nothing more; when they end in silence, the search steps back in chunks of at most 60 s and gives
up 10 minutes before the end (a 3-hour file is never decoded in full): a file silent for longer
than that, or throughout, is analysed on its last N seconds as they are, which the feature
extractor then refuses as silent.

A header is not trusted with memory: a 4 KB file may declare 1,024 channels over a sparse gigabyte,
and decoding 10 s of it would take gigabytes.  Before anything is allocated, the channels, the
sample rate and the samples of the segment are held to ``MAX_CHANNELS``, ``MAX_SAMPLE_RATE`` and
``MAX_SEGMENT_SAMPLES``; a file over them is refused with the figures.  Only regular files are
opened at all: a named pipe would block every decoder forever.
"""
from __future__ import annotations

import functools
import logging
import math
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, NamedTuple, Optional

import numpy as np
import soundfile
import soxr

from .library import NotAFileError, regular_file_identity
from .wording import plural

log = logging.getLogger(__name__)

TARGET_SR = 22_050
FFMPEG_TIMEOUT_S = 120.0
# Decoding starts this much before a seek point and the extra is dropped: an MP3 frame may borrow
# bits from the frames before it (the bit reservoir), so the first frame after a seek can glitch.
SEEK_PREROLL_S = 0.25

# What one segment may cost (see the module's docstring).  8 channels is 7.1 surround; a sample rate
# over 768 kHz is no recording; 2**26 float32 samples are 256 MB: 10 s of 8 channels at 192 kHz, or a
# ``whole`` segment of 50 minutes of mono at the extractor's rate.
MAX_CHANNELS = 8
MAX_SAMPLE_RATE = 768_000
MAX_SEGMENT_SAMPLES = 2**26

SegmentKind = Literal["last", "first", "middle", "at", "whole"]
Window = tuple[float, Optional[float]]  # start and length in seconds (length None: to the end)

# Where the audible content ends (see the module's docstring).
AUDIBLE_FRAME_S = 0.05
AUDIBLE_DBFS = -60.0
FADE_KEPT_S = 0.25  # the segment ends this long after the last audible frame
MIN_SKIPPED_SILENCE_S = 1.0  # shorter trailing silence is left in: the segment stays as it always was
SILENCE_SEARCH_FIRST_S = 3.0  # what find_trailing_silence decodes first; the search's smallest step
SILENCE_SEARCH_CHUNK_S = 60.0  # the backwards search holds at most this much audio at once
SILENCE_SEARCH_LIMIT_S = 600.0  # and stops this far before the end of the file


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

    def window(self, duration: Optional[float], trailing_silence: float = 0.0) -> Optional[Window]:
        """Start and length in seconds (length None: to the end), or None if the duration is
        needed but unknown.  A file shorter than the segment gives what there is.

        ``trailing_silence``: seconds at the file's end that a ``last:N`` segment leaves out (what
        ``find_trailing_silence`` found, less the fade kept); other kinds ignore it."""
        if self.kind == "whole":
            return 0.0, None
        if self.kind == "first":
            return 0.0, self.seconds
        if duration is None:
            return None
        length = float(self.seconds or 0.0)
        latest_start = max(0.0, duration - length)
        if self.kind == "last" and trailing_silence > 0:
            end = max(0.0, duration - trailing_silence)
            start = max(0.0, end - length)
            return start, end - start
        if self.kind == "last":
            start = latest_start
        elif self.kind == "middle":
            start = latest_start / 2
        else:
            start = min(self.offset, latest_start)
        return start, length


DEFAULT_SEGMENT = SegmentSpec()


@dataclass(frozen=True)
class AnalysedSegment:
    """Where the analysed samples of a track lie in its file: what the player plays and the
    segment picture shows, recorded with the track's features."""

    start: float  # seconds into the file
    seconds: float
    trailing_silence: float = 0.0  # seconds of silence after the audible end that ``last:N`` skipped

    @property
    def end(self) -> float:
        return self.start + self.seconds


@dataclass(frozen=True)
class TrailingSilence:
    """What the backwards search for the end of the audible content found."""

    seconds: Optional[float]  # silence after the last audible frame; None: no audible frame found
    searched: float  # seconds searched back from the end
    whole_file: bool  # the search reached the file's start

    def skipped(self) -> float:
        """How much of the file's end ``last:N`` leaves out (0: none, the segment is as it always was)."""
        if self.seconds is None or self.seconds < MIN_SKIPPED_SILENCE_S:
            return 0.0
        return self.seconds - FADE_KEPT_S

    def no_sound_message(self) -> str:
        """Why there is nothing to analyse, for a file where no audible frame was found."""
        if self.whole_file:
            return f"the file is silent throughout (no 50 ms of it reach {AUDIBLE_DBFS:g} dBFS)"
        span = f"{self.searched / 60:.0f} min" if self.searched >= 120 else f"{self.searched:.0f} s"
        return (f"the file is silent for at least its last {span}, where the search for sound stops "
                f"(no 50 ms reach {AUDIBLE_DBFS:g} dBFS)")


@dataclass(frozen=True)
class DecodedSegment:
    """The samples of one segment and where they came from."""

    samples: np.ndarray
    sample_rate: int
    start: float  # seconds into the file
    trailing_silence: Optional[TrailingSilence] = None  # for ``last:N``: what the search found

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def placement(self) -> AnalysedSegment:
        skipped = self.trailing_silence.skipped() if self.trailing_silence is not None else 0.0
        return AnalysedSegment(self.start, self.seconds, skipped)

    @property
    def sound_found(self) -> bool:
        return self.trailing_silence is None or self.trailing_silence.seconds is not None


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

    require_regular_file(path)
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
        sf_info = soundfile.info(os.fsencode(path))  # bytes: soundfile cannot encode a name that is not UTF-8
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
    return read_segment(path, segment, duration=duration, sample_rate=sample_rate, channels=channels).samples


def read_segment(
    path: Path | str,
    segment: SegmentSpec = DEFAULT_SEGMENT,
    *,
    duration: Optional[float] = None,
    sample_rate: Optional[int] = TARGET_SR,
    channels: int = 1,
    skip_trailing_silence: bool = True,
) -> DecodedSegment:
    """``decode_segment``, and where in the file the samples lie.

    For ``last:N`` the last N seconds of the file are decoded as they always were; only when they
    end in silence is the end of the audible content searched (see the module's docstring) and the
    segment decoded again, ending there.  ``skip_trailing_silence=False`` keeps the file's last N
    seconds.
    """
    path = str(path)
    require_regular_file(path)
    raw = _complete(_decode(path, segment.window, duration, sample_rate, channels))
    silence: Optional[TrailingSilence] = None
    if segment.kind == "last" and skip_trailing_silence:
        silence = _search_trailing_silence(path, raw, raw.start + len(raw.samples) / raw.rate)
        skipped = silence.skipped()
        if skipped > 0:
            place = functools.partial(segment.window, trailing_silence=skipped)
            raw = _complete(_decode(path, place, duration, sample_rate, channels))
    samples, rate = raw.samples, raw.rate
    if sample_rate is not None and rate != sample_rate:
        samples = soxr.resample(samples, rate, sample_rate).astype(np.float32, copy=False)
        rate = sample_rate
    return DecodedSegment(samples[:, 0] if channels == 1 else samples, rate, raw.start, silence)


def require_regular_file(path: Path | str) -> None:
    """Refuse, before any decoder opens it, what is not a regular file this process can read.
    Raises AudioError(stage="open")."""
    try:
        regular_file_identity(path)
    except NotAFileError as exc:
        raise AudioError("open", str(exc.strerror)) from None
    except FileNotFoundError:
        raise AudioError("open", "file not found (moved or deleted?)") from None
    except PermissionError:
        raise AudioError("open", "permission denied: the file cannot be read") from None
    except OSError as exc:
        raise AudioError("open", f"cannot open: {exc.strerror or exc}") from None


def check_segment_size(frames: float, channels: int, rate: float) -> None:
    """Refuse a segment before its samples are allocated when the header asks for more than a
    worker may hold (see the module's docstring).  Raises AudioError(stage="decode")."""
    if channels > MAX_CHANNELS:
        raise AudioError("decode", f"the file declares {plural(channels, 'channel')}; at most {MAX_CHANNELS} "
                                   "are read (a damaged header, or not a recording)")
    if rate > MAX_SAMPLE_RATE:
        raise AudioError("decode", f"the file declares {rate:,.0f} samples a second; at most {MAX_SAMPLE_RATE:,} "
                                   "are read (a damaged header, or not a recording)")
    samples = frames * channels
    if samples > MAX_SEGMENT_SAMPLES:
        span = frames / rate if rate > 0 else 0.0
        length = f"{span / 60:,.0f} min" if span >= 120 else f"{span:,.1f} s"
        raise AudioError("decode", f"the segment would decode to {samples:,.0f} samples ({length} of "
                                   f"{plural(channels, 'channel')} at {rate:,.0f} Hz); at most {MAX_SEGMENT_SAMPLES:,} "
                                   "are decoded at once: choose a shorter segment")


def _complete(raw: "_Raw") -> "_Raw":
    """The decoded window, unless it is empty or much shorter than the file's header promises."""
    if len(raw.samples) == 0:
        raise AudioError("decode", "no audio where the file's header says there is some (truncated or damaged?)")
    got = len(raw.samples) / raw.rate
    if raw.expected is not None and got < 0.9 * raw.expected - 0.25:
        raise AudioError(
            "decode", f"truncated or damaged: the segment should hold {raw.expected:.1f} s but only {got:.1f} s decode"
        )
    return raw


def find_trailing_silence(path: Path | str, *, duration: Optional[float] = None) -> Optional[TrailingSilence]:
    """How long the silence at the end of a file lasts, by the rule in the module's docstring.
    None when the file cannot be decoded."""
    path = str(path)
    try:
        require_regular_file(path)
        raw = _decode(path, lambda total: None if total is None else (max(0.0, total - SILENCE_SEARCH_FIRST_S), None),
                      duration, TARGET_SR, 1)
    except AudioError:
        return None
    return _search_trailing_silence(path, raw, raw.start + len(raw.samples) / raw.rate) if len(raw.samples) else None


def _search_trailing_silence(path: str, raw: "_Raw", file_end: float) -> TrailingSilence:
    """Look for the last audible frame in ``raw`` (which ends at the file's end, ``file_end``
    seconds in), then further back: chunks that double up to ``SILENCE_SEARCH_CHUNK_S``, until an
    audible frame turns up, the file's start is reached, or ``SILENCE_SEARCH_LIMIT_S`` have been
    searched.  A chunk that cannot be decoded ends the search as if it held no sound."""
    floor = 10 ** (AUDIBLE_DBFS / 10)  # mean square of a -60 dBFS frame
    chunk = SILENCE_SEARCH_FIRST_S
    duration = raw.total if raw.total is not None else file_end
    while True:
        mono = raw.samples.mean(axis=1) if raw.samples.shape[1] > 1 else raw.samples[:, 0]
        frame = max(1, int(round(AUDIBLE_FRAME_S * raw.rate)))
        n = len(mono) // frame
        lead = len(mono) - n * frame  # frames are counted back from the chunk's end; these few go with the next chunk
        power = np.square(mono[lead:], dtype=np.float64).reshape(n, frame).mean(axis=1)
        audible = np.flatnonzero(power >= floor)
        if len(audible):
            audible_end = raw.start + (lead + (audible[-1] + 1) * frame) / raw.rate
            return TrailingSilence(max(0.0, float(file_end - audible_end)), float(file_end - raw.start), raw.start <= 0)
        end = raw.start + lead / raw.rate
        searched = float(file_end - end)
        if raw.start <= 0 or n == 0 or searched >= SILENCE_SEARCH_LIMIT_S:
            return TrailingSilence(None, float(file_end - raw.start), raw.start <= 0)
        chunk = min(2 * max(chunk, searched), SILENCE_SEARCH_CHUNK_S, SILENCE_SEARCH_LIMIT_S - searched)
        start = max(0.0, end - chunk)
        try:
            raw = _decode(path, lambda _total: (start, end - start), duration, TARGET_SR, 1)
        except AudioError as exc:
            log.debug("cannot look further back for sound in %s: %s", path, exc)
            return TrailingSilence(None, searched, False)
        if len(raw.samples) == 0:
            return TrailingSilence(None, searched, False)


class _Raw(NamedTuple):
    samples: np.ndarray  # (frames, channels) at ``rate``
    rate: int
    start: float  # seconds into the file
    expected: Optional[float]  # seconds the window should hold, by the file's header
    total: Optional[float]  # the file's length as the decoder saw it


def _decode(
    path: str,
    place: Callable[[Optional[float]], Optional[Window]],
    duration: Optional[float],
    sample_rate: Optional[int],
    channels: int,
) -> _Raw:
    """Decode the window that ``place`` picks for the file's length (None: length unknown)."""
    try:
        return _decode_with_libsndfile(path, place, channels)
    except _NotForLibsndfile:
        return _decode_with_ffmpeg(path, place, duration, sample_rate, channels)


def _expected_seconds(window: Optional[Window], duration: Optional[float]) -> Optional[float]:
    """How much audio a window should yield, by the file's own header; None if unknown."""
    if window is None or duration is None:
        return None
    start, length = window
    return max(0.0, duration - start) if length is None else min(length, max(0.0, duration - start))


class _NotForLibsndfile(Exception):
    """libsndfile cannot read this file (or found nothing where it should be): ask ffmpeg."""


def _decode_with_libsndfile(path: str, place: Callable[[Optional[float]], Optional[Window]], channels: int) -> _Raw:
    try:
        with soundfile.SoundFile(os.fsencode(path)) as f:
            rate = f.samplerate
            total = f.frames / rate if f.frames > 0 else None
            window = place(total)
            if window is None:
                raise _NotForLibsndfile()
            start, length = window
            first = int(round(start * rate))
            preroll = min(first, int(SEEK_PREROLL_S * rate))
            remaining = max(0, f.frames - first + preroll)
            frames = remaining if length is None else min(remaining, int(round(length * rate)) + preroll)
            check_segment_size(frames, f.channels, rate)
            f.seek(first - preroll)
            data = f.read(frames, dtype="float32", always_2d=True)[preroll:]
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        log.debug("libsndfile cannot decode %s: %s", path, exc)
        raise _NotForLibsndfile() from None
    if len(data) == 0:
        raise _NotForLibsndfile()
    return _Raw(_mix(data, channels), rate, first / rate, _expected_seconds(window, total), total)


def _mix(data: np.ndarray, channels: int) -> np.ndarray:
    """(frames, n) → (frames, channels): average down to mono, or keep the file's channels."""
    if channels == 1 and data.shape[1] != 1:
        return data.mean(axis=1, keepdims=True, dtype=np.float32)
    return data


def _decode_with_ffmpeg(
    path: str,
    place: Callable[[Optional[float]], Optional[Window]],
    duration: Optional[float],
    sample_rate: Optional[int],
    channels: int,
) -> _Raw:
    window = place(duration)
    start, length = window if window is not None else (0.0, None)
    expected = _expected_seconds(window, duration)
    rate = sample_rate or _ffmpeg_native_rate(path)
    samples = _run_ffmpeg(path, start, length, rate, channels, seek_input=True)
    if expected is not None and start > 0 and len(samples) / rate < expected - 0.05:
        # Some demuxers (Musepack, some VBR streams) land after the seek point: decode from the
        # start and let ffmpeg drop what comes before the segment, exactly.
        samples = _run_ffmpeg(path, start, length, rate, channels, seek_input=False)
    if window is None:
        # Duration was unknown, so the whole file was decoded: cut the segment now.
        duration = len(samples) / rate
        start, length = place(duration) or (0.0, None)
        first = int(start * rate)
        samples = samples[first: None if length is None else first + int(length * rate)]
    return _Raw(samples, rate, start, expected, duration)


def _run_ffmpeg(
    path: str, start: float, length: Optional[float], rate: int, channels: int, *, seek_input: bool
) -> np.ndarray:
    """Decode [start, start + length) to float32 (frames, channels) at ``rate``.

    A segment without a length (the file's length unknown) is decoded to at most one second past
    what ``MAX_SEGMENT_SAMPLES`` allows, so that a file with no end cannot fill the memory."""
    check_segment_size(rate * (length or 0.0), channels, rate)
    longest = MAX_SEGMENT_SAMPLES / channels / rate
    seek = ["-ss", f"{start:.3f}"] if start > 0 else []
    command = [ffmpeg_executable(), "-nostdin", "-hide_banner", "-loglevel", "error"]
    command += [*(seek if seek_input else []), "-i", path, *([] if seek_input else seek)]
    command += ["-t", f"{length if length is not None else longest + 1.0:.3f}"]
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
    check_segment_size(len(samples) // channels, channels, rate)
    return samples[: len(samples) - len(samples) % channels].reshape(-1, channels)


def _ffmpeg_native_rate(path: str) -> int:
    """The file's sample rate from its headers (mutagen first, as ffprobe is not shipped)."""
    rate = probe(path).sample_rate
    if not rate:
        raise AudioError("decode", "cannot tell the file's sample rate")
    return rate
