"""Cut the analysed segment of each track into a file of its own.

The journal's first script chopped the last 10 s of every broadcast into clips to listen to and to
share; this is that script as a batch job.  Clips keep the source's sample rate and channels, and
are encoded by pydub through the same ffmpeg that decodes the formats libsndfile cannot read.
"""
from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .audio import AudioError, SegmentSpec, decode_segment, ffmpeg_executable, probe
from .tasks import CancelToken, ItemError, Progress, ProgressCallback, report

log = logging.getLogger(__name__)

CLIP_FORMATS = ("mp3", "ogg", "flac", "wav")


@dataclass
class ClipReport:
    written: list[Path] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    cancelled: bool = False


def clip_name(source: Path, segment: SegmentSpec, fmt: str) -> str:
    """``outro.mp3`` + ``last:10`` → ``outro.last-10s.mp3``."""
    tag = re.sub(r"[^a-z0-9.]+", "-", str(segment).replace(":", "-")) + ("" if segment.kind == "whole" else "s")
    return f"{source.stem}.{tag}.{fmt}"


def export_clip(source: Path, segment: SegmentSpec, target: Path, fmt: str = "mp3") -> Path:
    """Write one clip.  Raises AudioError; never leaves a half-written clip under ``target``."""
    with warnings.catch_warnings():  # pydub warns at import if no ffmpeg is on PATH: we name ours below
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment

    info = probe(source)
    channels = info.channels or 2
    samples = decode_segment(source, segment, duration=info.duration, sample_rate=info.sample_rate, channels=channels)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    clip = AudioSegment(pcm.tobytes(), sample_width=2, frame_rate=info.sample_rate or 44_100, channels=channels)
    AudioSegment.converter = ffmpeg_executable()
    partial = target.with_name(target.name + ".part")
    try:
        clip.export(str(partial), format=fmt, bitrate="192k" if fmt == "mp3" else None).close()
        partial.replace(target)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        raise AudioError("export", f"cannot write {target.name}: {exc}") from None
    return target


def export_clips(
    sources: Sequence[str],
    out_dir: Path,
    segment: SegmentSpec,
    fmt: str = "mp3",
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> ClipReport:
    """Export the segment of every source into ``out_dir``; names that collide get ``-2``, ``-3``..."""
    if fmt not in CLIP_FORMATS:
        raise ValueError(f"clip format {fmt!r} not supported; choose one of {', '.join(CLIP_FORMATS)}")
    progress = report(progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ClipReport()
    used: set[str] = set()
    for done, source in enumerate(sources, start=1):
        if cancel is not None and cancel.cancelled:
            result.cancelled = True
            break
        name = clip_name(Path(source), segment, fmt)
        stem, n = name[: -len(fmt) - 1], 2
        while name in used:
            name, n = f"{stem}-{n}.{fmt}", n + 1
        used.add(name)
        try:
            result.written.append(export_clip(Path(source), segment, out_dir / name, fmt))
        except AudioError as exc:
            result.errors.append(ItemError(source, exc.stage, str(exc)))
        except OSError as exc:
            result.errors.append(ItemError(source, "export", exc.strerror or str(exc)))
        progress(Progress(done, len(sources), Path(source).name))
    return result
