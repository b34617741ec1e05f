"""Extraction speed: ``audioid scan`` against what the journal's notebook did, same files, same run.

    python bench/extract.py [--n 16] [--minutes 3] [--workers 2]

(a) baseline: ``librosa.load`` of the whole file, then one librosa call per feature, each computing
    its own spectrogram (one process, as in the notebook);
(b) ours: the project's extraction of the last 10 s, across worker processes, writing to a project;
(c) floor: decoding the segments alone, one process, no features, no project;
(d) the feature recipe's cost per file, one process, split into its three families.

Prints files/s for each and the ratio (b)/(a).  Files are synthesised once into bench/out/.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from audioid_gui.core.audio import SegmentSpec, decode_segment, probe
from audioid_gui.core.extraction import run_extraction
from audioid_gui.core.project import Project
from audioid_gui.core.tasks import Progress

OUT = Path(__file__).resolve().parent / "out" / "extract"
SR = 44_100


def make_files(n: int, minutes: float) -> list[Path]:
    """n stereo 44.1 kHz MP3s of `minutes` length: chords over noise, different in each file."""
    OUT.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        path = OUT / f"track{i:03d}_{minutes:g}min.mp3"
        files.append(path)
        if path.exists():
            continue
        rng = np.random.default_rng(i)
        t = np.arange(int(minutes * 60 * SR)) / SR
        base = 110 * 2 ** (rng.integers(0, 12) / 12)
        tones = sum(np.sin(2 * np.pi * base * r * t) for r in (1, 1.25, 1.5, 2))
        signal = 0.15 * tones + 0.05 * rng.standard_normal(len(t))
        stereo = np.stack([signal, np.roll(signal, 200)], axis=1).astype(np.float32)
        sf.write(path, stereo, SR, format="MP3")
        print(f"  made {path.name}", file=sys.stderr)
    return files


def baseline(path: Path) -> np.ndarray:
    """The notebook's way: whole file, one spectrogram per feature."""
    y, sr = librosa.load(path)
    parts = [
        librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13),
        librosa.feature.zero_crossing_rate(y),
        librosa.feature.spectral_contrast(y=y, sr=sr),
        librosa.feature.chroma_stft(y=y, sr=sr),
        librosa.feature.rms(y=y),
        librosa.feature.spectral_rolloff(y=y, sr=sr),
        librosa.feature.spectral_bandwidth(y=y, sr=sr),
        librosa.feature.spectral_centroid(y=y, sr=sr),
    ]
    return np.concatenate([p.mean(axis=1) for p in parts])


def feature_costs(segments: list[np.ndarray]) -> None:
    """Milliseconds per segment for each family of the feature recipe (after one warm-up)."""
    from audioid_gui.core.features import VERSION, FeatureExtractor, music_cues, speech_detector

    extractor = FeatureExtractor()
    extractor.extract(segments[0])
    spent = {"spectral": 0.0, "speech detector": 0.0, "music cues": 0.0}
    for samples in segments:
        started = time.perf_counter()
        _, frames = extractor._spectral.compute(samples)
        spectral = time.perf_counter()
        p, on_grid = extractor._detector.on_frames(samples, frames)
        speech_detector.summary(p, on_grid, frames)
        detector = time.perf_counter()
        music_cues.compute(frames, on_grid)
        spent["spectral"] += spectral - started
        spent["speech detector"] += detector - spectral
        spent["music cues"] += time.perf_counter() - detector
    total = sum(spent.values())
    parts = ", ".join(f"{name} {ms / len(segments) * 1000:.0f} ms" for name, ms in spent.items())
    print(f"(d) features, recipe {VERSION}: {total / len(segments) * 1000:.0f} ms per file ({parts})")


def timed(label: str, n: int, work) -> float:
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    print(f"{label:<44} {seconds:8.2f} s  {n / seconds:8.2f} files/s")
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    files = make_files(args.n, args.minutes)
    segment = SegmentSpec.parse("last:10")
    print(f"{args.n} files of {args.minutes:g} min, MP3 44.1 kHz stereo; segment {segment}; workers {args.workers}")

    baseline(files[0])  # warm librosa's caches and numba before timing either side
    a = timed("(a) baseline: whole-file load + per-feature", args.n, lambda: [baseline(f) for f in files])

    with tempfile.TemporaryDirectory() as tmp:
        with Project(Path(tmp) / "bench.audioid") as project:
            project.import_sources(files)

            first_result: list[float] = []

            def on_progress(p: Progress) -> None:
                if p.done == 1:
                    first_result.append(time.perf_counter())

            def ours() -> None:
                first_result.append(time.perf_counter())
                report = run_extraction(project, segment, workers=args.workers, progress=on_progress)
                assert report.extracted == args.n, report.errors
                first_result.append(time.perf_counter())

            b = timed(f"(b) ours: audioid scan, {args.workers} processes", args.n, ours)
            started, first, finished = first_result
            steady = (args.n - 1) / (finished - first)
            print(f"    of which worker start-up (until the first file is done): {first - started:.2f} s; "
                  f"after it: {steady:.1f} files/s")

    c = timed(
        "(c) floor: decode segments only, 1 process",
        args.n,
        lambda: [decode_segment(f, segment, duration=probe(f).duration) for f in files],
    )
    feature_costs([decode_segment(f, segment, duration=probe(f).duration) for f in files])
    print(f"\nspeed-up (b)/(a): {b / a:.1f}x including start-up, {steady / a:.0f}x once started   (target >= 10x)")
    print(f"decode floor with {args.workers} processes ~ {c * args.workers:.1f} files/s; "
          f"ours, once started, runs at {steady / (c * args.workers):.0%} of it (the rest: features and writes)")


if __name__ == "__main__":
    main()
