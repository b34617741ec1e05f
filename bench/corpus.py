"""Build a development corpus that sounds like the end of radio broadcasts (not committed: large).

    python bench/corpus.py [--per-class 400] [--out bench/out/corpus]

- Music: the soundtracks of Debian's game data packages (supertux-data, hedgewars-data,
  freedroidrpg-data, xmoto-data; fetched with ``apt-get download``, only their .ogg files unpacked),
  cut at random places, at random levels.
- Dialogue: strings of sentences with pauses, spoken by espeak-ng with many voices, speeds and
  pitches, some through a telephone band, over room tone.
- Both: dialogue over a music bed ducked 10-22 dB below the voice; some clips start with the music
  at full level and duck it when the presenter starts talking, as outros do.
- Every clip gets a little background noise, most get a broadcast compressor, and each is written
  as MP3, Ogg, FLAC or M4A.

Writes ``DIR/clips/*.{mp3,ogg,flac,m4a}`` and ``DIR/truth.csv`` (file,label).  Needs root (apt) once
for the downloads and espeak-ng; re-running reuses what is there.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from audioid_gui.core.audio import ffmpeg_executable

SR = 22_050
SECONDS = 12.0
PACKAGES = ("supertux-data", "hedgewars-data", "freedroidrpg-data", "xmoto-data")
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
          "en-us-nyc"]
VARIANTS = ["", "+m1", "+m2", "+m3", "+m4", "+m5", "+m7", "+f1", "+f2", "+f3", "+f4", "+f5", "+klatt", "+croak"]
SUBJECTS = ["The council", "Our reporter", "The weather service", "A spokesperson for the station", "The coach",
            "Listeners in the north", "The festival organisers", "Police", "The mayor", "Our next guest"]
VERBS = ["said this morning that", "confirmed that", "told us that", "warned that", "announced that",
         "would like you to know that"]
CLAUSES = ["the bridge will stay closed until Friday", "tickets are still available at the door",
           "the rain should clear by the afternoon", "the new timetable starts next week",
           "the match has been moved to Sunday", "the library opens late on Thursdays",
           "traffic is heavy on the ring road", "the concert raised more than ten thousand pounds",
           "schools reopen after the holiday", "the harbour will be busy all weekend"]
LINES = ["You are listening to the late show.", "Stay with us, the news is next.", "That was the last song of the hour.",
         "Thanks for all your messages tonight.", "More after this short break.", "Good evening and welcome back.",
         "And now, the travel news.", "Here is the forecast for tomorrow.", "Call us on the usual number.",
         "We will be right back.", "It is just after ten o'clock.", "Let us go straight to the phones."]


def fetch_music(work: Path) -> list[Path]:
    """The .ogg files of the game packages that are long enough to be music (not sound effects)."""
    debs, music = work / "debs", work / "music"
    debs.mkdir(parents=True, exist_ok=True)
    music.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        if not list(debs.glob(f"{package}_*.deb")):
            subprocess.run(["apt-get", "download", package], cwd=debs, check=True, capture_output=True)
        target = music / package
        if not target.exists():
            target.mkdir()
            deb = next(debs.glob(f"{package}_*.deb"))
            tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
            subprocess.run(["tar", "-x", "-C", str(target), "--wildcards", "*.ogg"], stdin=tar.stdout, check=False)
            tar.wait()
    found = []
    for path in sorted(music.rglob("*.ogg")):
        try:
            if sf.info(path).duration >= 30:
                found.append(path)
        except RuntimeError:
            continue
    return found


def sentence(rng: np.random.Generator) -> str:
    if rng.random() < 0.4:
        return str(rng.choice(LINES))
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(CLAUSES)}."


def utterances(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A pool of spoken sentences in many voices, speeds and pitches."""
    pool = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "u.wav"
        for _ in range(count):
            voice = f"{rng.choice(VOICES)}{rng.choice(VARIANTS)}"
            text = " ".join(sentence(rng) for _ in range(int(rng.integers(1, 3))))
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(int(rng.integers(135, 205))), "-p",
                            str(int(rng.integers(30, 70))), "-w", str(wav), text], check=True, capture_output=True)
            samples, rate = sf.read(wav, dtype="float32")
            pool.append(soxr.resample(samples, rate, SR))
    return pool


def speech_track(pool: list[np.ndarray], rng: np.random.Generator, n: int) -> np.ndarray:
    """Sentences with pauses until the clip is full, sometimes through a telephone band."""
    out = np.zeros(n, dtype=np.float32)
    at = int(rng.uniform(0, 0.6) * SR)
    while at < n:
        u = pool[int(rng.integers(len(pool)))]
        u = u / (np.sqrt(np.mean(u**2)) + 1e-9) * 0.1
        take = min(len(u), n - at)
        out[at:at + take] += u[:take]
        at += take + int(rng.uniform(0.15, 1.0) * SR)
    if rng.random() < 0.15:
        spectrum = np.fft.rfft(out)
        freqs = np.fft.rfftfreq(n, 1 / SR)
        spectrum[(freqs < 300) | (freqs > 3400)] *= 0.05
        out = np.fft.irfft(spectrum, n).astype(np.float32)
    return out


def music_bed(files: list[Path], rng: np.random.Generator, n: int) -> np.ndarray:
    path = files[int(rng.integers(len(files)))]
    info = sf.info(path)
    start = rng.uniform(0, max(0.0, info.duration - SECONDS - 1))
    samples, rate = sf.read(path, start=int(start * info.samplerate), frames=int((SECONDS + 0.5) * info.samplerate),
                            dtype="float32", always_2d=True)
    mono = soxr.resample(samples.mean(axis=1), rate, SR)[:n]
    mono = np.pad(mono, (0, n - len(mono)))
    return mono / (np.sqrt(np.mean(mono**2)) + 1e-9) * 0.1


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)) + 1e-12)


def clip(kind: str, music: list[Path], pool: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    n = int(SECONDS * SR)
    if kind == "Music":
        out = music_bed(music, rng, n)
    elif kind == "Dialogue":
        out = speech_track(pool, rng, n)
    else:
        voice, bed = speech_track(pool, rng, n), music_bed(music, rng, n)
        duck_db = rng.uniform(10, 22)
        gain = np.full(n, rms(voice) / rms(bed) * 10 ** (-duck_db / 20), dtype=np.float32)
        if rng.random() < 0.3:  # the music plays out, then ducks when the talking starts
            first = int(np.argmax(np.abs(voice) > 0.01))
            gain[:first] = rms(voice) / rms(bed)
        out = voice + bed * gain
    noise = rng.standard_normal(n).astype(np.float32)
    noise = np.cumsum(noise) * 0.02 + noise  # a little more low end than white noise
    out = out + noise / rms(noise) * rms(out) * 10 ** (-rng.uniform(25, 50) / 20)
    if rng.random() < 0.8:
        out = broadcast(out, rng)
    out *= 10 ** (-rng.uniform(1, 12) / 20) / (np.max(np.abs(out)) + 1e-9)
    return out.astype(np.float32)


def broadcast(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Radio processing: a fast compressor (4-8:1 above a threshold 10-20 dB under the loudest
    50 ms) with make-up gain, which evens out speech and music levels as stations do."""
    frame = int(0.05 * SR)
    n = len(x) // frame * frame
    level = np.sqrt(np.mean(x[:n].reshape(-1, frame) ** 2, axis=1)) + 1e-9
    threshold = level.max() * 10 ** (-rng.uniform(10, 20) / 20)
    ratio = rng.uniform(4, 8)
    gain = np.where(level > threshold, (level / threshold) ** (1 / ratio - 1), 1.0)
    for i in range(1, len(gain)):  # release slowly: 0.2 of the way per frame
        gain[i] = min(gain[i], gain[i - 1] + 0.2 * (1 - gain[i - 1]))
    smooth = np.interp(np.arange(len(x)), np.arange(len(gain)) * frame + frame / 2, gain)
    return (x * smooth).astype(np.float32)


def write(path: Path, samples: np.ndarray) -> None:
    if path.suffix == ".m4a":
        wav = path.with_suffix(".wav")
        sf.write(wav, samples, SR, subtype="PCM_16")
        subprocess.run([ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac",
                        "-b:a", "96k", str(path)], check=True)
        wav.unlink()
    elif path.suffix == ".mp3":
        sf.write(path, samples, SR, format="MP3")
    elif path.suffix == ".ogg":
        sf.write(path, samples, SR, format="OGG", subtype="VORBIS")
    else:
        sf.write(path, samples, SR, format="FLAC")


def build(out: Path, per_class: int, seed: int = 0) -> Path:
    """Build (or reuse) the corpus; returns the truth CSV."""
    truth_file = out / "truth.csv"
    if truth_file.exists() and sum(1 for _ in truth_file.open()) - 1 == 3 * per_class:
        return truth_file
    shutil.rmtree(out / "clips", ignore_errors=True)
    if shutil.which("espeak-ng") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "espeak-ng"], check=True)
    rng = np.random.default_rng(seed)
    music = fetch_music(out)
    print(f"{len(music)} pieces of game music; synthesising speech…", flush=True)
    pool = utterances(max(120, per_class // 2), rng)
    clips = out / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(per_class):
        for kind in ("Music", "Dialogue", "Both"):
            suffix = rng.choice([".mp3", ".ogg", ".flac", ".m4a"], p=[0.4, 0.3, 0.15, 0.15])
            path = clips / f"{kind.lower()}_{i:04d}{suffix}"
            write(path, clip(kind, music, pool, rng))
            rows.append((path.name, kind))
        if (i + 1) % 50 == 0:
            print(f"  {3 * (i + 1):,} clips", flush=True)
    with truth_file.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "label"), *rows])
    return truth_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "corpus")
    args = parser.parse_args()
    print(f"Wrote {build(args.out, args.per_class)}")


if __name__ == "__main__":
    main()
