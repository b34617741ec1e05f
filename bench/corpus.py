"""Build a development corpus that sounds like the end of radio broadcasts (not committed: large).

    python bench/corpus.py [--kind real|synthetic] [--per-class N] [--out DIR] [--seed 0]

Two kinds share the mixing (ducking, room noise, broadcast compressor, trailing silence) and the
writer; they differ in where the sounds come from.

``real`` (default, ``bench/out/real_corpus``, 100 clips per class, 10-20 s each) reads the real
recordings of ``../shared/dev-audio/`` beside the checkout in place (their licences forbid copying
them into the repository; ``AUDIOID_DEV_AUDIO`` names another folder):

- Music: half instrumental (dev-audio instrumentals, and for about a third the Debian game music
  below), half sung (``vocal_music/``); sources shorter than the clip are looped with a crossfade.
- Dialogue: excerpts of 1-3 speakers from ``speech/`` with pauses, or for about a third one
  continuous excerpt of a long (> 30 s) broadcast, phone or interview recording; some through a
  telephone band.
- Both: such a dialogue track over an instrumental or sung bed ducked 10-22 dB below the voice;
  some clips start with the music at full level and duck it when the presenter starts, as outros do.
- About 10 % end with 1-4 s of near-silence (-70 dBFS), as real broadcast files often do.
- Written as MP3, Ogg Vorbis, FLAC, M4A, WAV or Opus.

``synthetic`` (the easy second set, ``bench/out/corpus``, 400 clips per class, 12 s each):

- Music: the soundtracks of Debian's game data packages (supertux-data, hedgewars-data,
  freedroidrpg-data, xmoto-data; fetched with ``apt-get download``, only their .ogg files unpacked),
  cut at random places, at random levels.
- Dialogue: strings of sentences with pauses, spoken by espeak-ng with many voices, speeds and
  pitches, some through a telephone band.
- Both: dialogue over a music bed, ducked as above.
- Written as MP3, Ogg, FLAC or M4A.

Every clip gets a little background noise and most get a broadcast compressor.  Writes
``DIR/clips/<class>_<nnnn>.<ext>``, ``DIR/truth.csv`` (file,label) and ``DIR/sources.csv``
(file,label,kind,sources: what a clip is made of, ``+``-joined, and the source files used,
``;``-separated, so that a benchmark can group clips by source).  Deterministic from the seed.
Needs root (apt) once for the game music and espeak-ng; re-running reuses a corpus of the right size.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import soundfile as sf
import soxr

from audioid_gui.core.audio import SegmentSpec, decode_segment, ffmpeg_executable

SR = 22_050
SECONDS = 12.0  # synthetic clips
REAL_SECONDS = (10.0, 20.0)
CLASSES = ("Music", "Dialogue", "Both")
OUT = Path(__file__).parent / "out"
GAME_MUSIC = OUT / "game_music"  # one download shared by both kinds and any --out
DEV_AUDIO = Path(__file__).resolve().parents[2] / "shared" / "dev-audio"
# Not pure speech, so never a Dialogue voice: most of it has a jingle or music bed under the talk
# (the pauses stay within 3 dB of the speech, and the spectrum holds still as music does).
NOT_DIALOGUE = {"speech_whisper-timestamped_radio_short.mp3"}
LONG_RECORDING_S = 30.0
SYNTHETIC_FORMATS = {".mp3": 0.4, ".ogg": 0.3, ".flac": 0.15, ".m4a": 0.15}
REAL_FORMATS = {".mp3": 0.3, ".ogg": 0.15, ".flac": 0.15, ".m4a": 0.15, ".wav": 0.1, ".opus": 0.15}
OPUS_RATE = 48_000  # Opus encodes only 8, 12, 16, 24 or 48 kHz
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


class Clip(NamedTuple):
    """One finished clip and what it is made of (for sources.csv)."""

    samples: np.ndarray
    kind: str  # "+"-joined parts, e.g. "speech+sung+outro"
    sources: list[str]


class Track(NamedTuple):
    """An unmixed voice or music track and the file names it came from."""

    samples: np.ndarray
    parts: list[str]
    sources: list[str]


# ---------------------------------------------------------------------------------------------
# Shared: levels, noise, telephone band, ducking, compressor, finishing and writing


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)) + 1e-12)


def normalise(x: np.ndarray, level: float = 0.1) -> np.ndarray:
    """Same RMS for every source, so that the mixing gains mean the same dB whatever the recording."""
    return (x / rms(x) * level).astype(np.float32)


def telephone(x: np.ndarray) -> np.ndarray:
    """Keep 300-3,400 Hz (the rest 26 dB down), as a phone-in caller sounds."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    spectrum[(freqs < 300) | (freqs > 3400)] *= 0.05
    return np.fft.irfft(spectrum, len(x)).astype(np.float32)


def room_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with a little more low end than white noise, like room tone or tape hiss."""
    noise = rng.standard_normal(n).astype(np.float32)
    noise = np.cumsum(noise) * 0.02 + noise
    return noise / rms(noise)


def fade(x: np.ndarray, seconds: float = 0.015) -> np.ndarray:
    """Short fades at both ends, so that cutting a recording anywhere does not click."""
    k = min(int(seconds * SR), len(x) // 2)
    if k == 0:
        return x
    ramp = np.linspace(0, 1, k, dtype=np.float32)
    x = x.copy()
    x[:k] *= ramp
    x[-k:] *= ramp[::-1]
    return x


def duck(voice: Track, bed: Track, rng: np.random.Generator) -> Track:
    """Voice over a music bed 10-22 dB below it; in 30 % the music first plays at the voice's level
    for 2-6 s and ducks (over half a second) when the presenter starts, as radio outros do."""
    n = len(voice.samples)
    duck_db = rng.uniform(10, 22)
    ducked = rms(voice.samples) / rms(bed.samples) * 10 ** (-duck_db / 20)
    gain = np.full(n, ducked, dtype=np.float32)
    samples, parts = voice.samples, voice.parts + bed.parts
    if rng.random() < 0.3:
        lead = min(int(rng.uniform(2, 6) * SR), n // 2)
        full = rms(voice.samples) / rms(bed.samples)
        samples = np.concatenate([np.zeros(lead, np.float32), samples])[:n]
        gain = np.interp(np.arange(n), [0, lead - SR // 2, lead], [full, full, ducked]).astype(np.float32)
        parts = parts + ["outro"]
    return Track(samples + bed.samples * gain, parts, voice.sources + bed.sources)


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


def finish(track: Track, rng: np.random.Generator, tail: int = 0) -> Clip:
    """Background noise 25-50 dB under the programme, the compressor on 80 %, a random peak level
    (-1 to -12 dBFS), then ``tail`` samples of -70 dBFS noise: the dead air at the end of many files."""
    out = track.samples
    out = out + room_noise(len(out), rng) * rms(out) * 10 ** (-rng.uniform(25, 50) / 20)
    if rng.random() < 0.8:
        out = broadcast(out, rng)
    out *= 10 ** (-rng.uniform(1, 12) / 20) / (np.max(np.abs(out)) + 1e-9)
    parts = track.parts
    if tail:
        out = np.concatenate([fade(out, 0.2), room_noise(tail, rng) * 10 ** (-70 / 20)])
        parts = parts + ["tail"]
    return Clip(out.astype(np.float32), "+".join(parts), track.sources)


def write(path: Path, samples: np.ndarray) -> None:
    """Encode as the suffix says.  Opus goes at 48 kHz (the decoders give 22,050 Hz back on request);
    M4A, and Opus where libsndfile lacks it, go through the app's own ffmpeg."""
    codec = {".m4a": ["-c:a", "aac", "-b:a", "96k"], ".opus": ["-c:a", "libopus", "-b:a", "64k", "-ar", "48000"]}
    if path.suffix == ".m4a" or (path.suffix == ".opus" and "OPUS" not in sf.available_subtypes("OGG")):
        subprocess.run([ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(SR),
                        "-ac", "1", "-i", "-", *codec[path.suffix], str(path)],
                       input=samples.astype("<f4").tobytes(), check=True)
    elif path.suffix == ".opus":
        sf.write(path, soxr.resample(samples, SR, OPUS_RATE), OPUS_RATE, format="OGG", subtype="OPUS")
    elif path.suffix == ".mp3":
        sf.write(path, samples, SR, format="MP3")
    elif path.suffix == ".ogg":
        sf.write(path, samples, SR, format="OGG", subtype="VORBIS")
    elif path.suffix == ".wav":
        sf.write(path, samples, SR, subtype="PCM_16")
    else:
        sf.write(path, samples, SR, format="FLAC")


def write_corpus(out: Path, per_class: int, make: Callable[[str, np.random.Generator], Clip],
                 formats: dict[str, float], rng: np.random.Generator) -> Path:
    """Make and write ``per_class`` clips of each class, interleaved; returns the truth CSV."""
    clips = out / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(per_class):
        for label in CLASSES:
            suffix = rng.choice(list(formats), p=list(formats.values()))
            path = clips / f"{label.lower()}_{i:04d}{suffix}"
            made = make(label, rng)
            write(path, made.samples)
            rows.append((path.name, label, made.kind, ";".join(made.sources)))
        if (i + 1) % 50 == 0:
            print(f"  {3 * (i + 1):,} clips", flush=True)
    with (out / "sources.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "label", "kind", "sources"), *rows])
    truth_file = out / "truth.csv"
    with truth_file.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "label"), *(row[:2] for row in rows)])
    return truth_file


# ---------------------------------------------------------------------------------------------
# Game music (both kinds)


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


def music_bed(files: list[Path], rng: np.random.Generator, n: int) -> Track:
    """A random stretch of a random piece of game music (all are 30 s or longer)."""
    path = files[int(rng.integers(len(files)))]
    info = sf.info(path)
    start = rng.uniform(0, max(0.0, info.duration - n / SR - 1))
    samples, rate = sf.read(path, start=int(start * info.samplerate), frames=int((n / SR + 0.5) * info.samplerate),
                            dtype="float32", always_2d=True)
    mono = soxr.resample(samples.mean(axis=1), rate, SR)[:n]
    mono = np.pad(mono, (0, n - len(mono)))
    package = next((part for part in path.parts if part in PACKAGES), "")
    return Track(normalise(mono), ["instrumental"], [f"debian:{package}/{path.name}"])


# ---------------------------------------------------------------------------------------------
# Synthetic kind: espeak-ng sentences over game music


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


def speech_track(pool: list[np.ndarray], rng: np.random.Generator, n: int) -> Track:
    """Sentences with pauses until the clip is full, sometimes through a telephone band."""
    out = np.zeros(n, dtype=np.float32)
    at = int(rng.uniform(0, 0.6) * SR)
    while at < n:
        u = normalise(pool[int(rng.integers(len(pool)))])
        take = min(len(u), n - at)
        out[at:at + take] += u[:take]
        at += take + int(rng.uniform(0.15, 1.0) * SR)
    if rng.random() < 0.15:
        return Track(telephone(out), ["tts", "phone"], ["espeak-ng"])
    return Track(out, ["tts"], ["espeak-ng"])


def synthetic_maker(music: list[Path], pool: list[np.ndarray]) -> Callable[[str, np.random.Generator], Clip]:
    """The synthetic kind's clip maker: 12 s of game music, espeak-ng speech, or both ducked."""
    def make(label: str, rng: np.random.Generator) -> Clip:
        n = int(SECONDS * SR)
        if label == "Music":
            return finish(music_bed(music, rng, n), rng)
        if label == "Dialogue":
            return finish(speech_track(pool, rng, n), rng)
        return finish(duck(speech_track(pool, rng, n), music_bed(music, rng, n), rng), rng)
    return make


# ---------------------------------------------------------------------------------------------
# Real kind: the recordings of dev-audio, read in place


class Source(NamedTuple):
    name: str
    samples: np.ndarray  # mono, SR, leading and trailing silence trimmed


def dev_audio_root() -> Path:
    root = Path(os.environ.get("AUDIOID_DEV_AUDIO") or DEV_AUDIO)
    if not all((root / folder).is_dir() for folder in ("speech", "vocal_music", "instrumental")):
        raise SystemExit(f"No development audio at {root} (expected speech/, vocal_music/ and instrumental/ "
                         f"there); set AUDIOID_DEV_AUDIO to the folder that holds them.")
    return root


def trim(x: np.ndarray) -> np.ndarray:
    """Drop leading and trailing stretches 40 dB under the loudest 50 ms, so that an excerpt or a
    loop never lands in a recording's dead air (a clip's silences are the ones put there)."""
    frame = int(0.05 * SR)
    n = len(x) // frame
    level = np.sqrt(np.mean(x[:n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(level > level.max() * 0.01)
    return x[loud[0] * frame:(loud[-1] + 1) * frame] if len(loud) else x


def load_dev_audio(root: Path) -> dict[str, list[Source]]:
    """Every recording of each folder, decoded once by the app's own decoder (ffmpeg for M4A)."""
    return {folder: [Source(path.name, trim(decode_segment(path, SegmentSpec("whole", None))))
                     for path in sorted((root / folder).iterdir()) if path.suffix.lower() not in (".md", ".tsv")]
            for folder in ("speech", "vocal_music", "instrumental")}


def loop_excerpt(x: np.ndarray, n: int, rng: np.random.Generator, crossfade: float = 0.08) -> np.ndarray:
    """n samples from a random place; a recording shorter than that is continued with further
    stretches of itself joined by an equal-power crossfade, rather than padded with silence."""
    if len(x) >= n:
        start = int(rng.integers(0, len(x) - n + 1))
        return x[start:start + n]
    k = int(crossfade * SR)
    t = np.linspace(0, np.pi / 2, k, dtype=np.float32)
    out = x[int(rng.integers(0, len(x) // 2)):]
    while len(out) < n:
        piece = x[int(rng.integers(0, len(x) // 2)):]
        out = np.concatenate([out[:-k], out[-k:] * np.cos(t) + piece[:k] * np.sin(t), piece[k:]])
    return out[:n]


class RealSounds:
    """Makes the real corpus' clips from the dev-audio recordings (and game music, if any)."""

    def __init__(self, library: dict[str, list[Source]], game_music: list[Path]) -> None:
        self.speech = [s for s in library["speech"] if s.name not in NOT_DIALOGUE]
        self.long = [s for s in self.speech if len(s.samples) > LONG_RECORDING_S * SR]
        self.sung = library["vocal_music"]
        self.instrumental = library["instrumental"]
        self.game_music = game_music

    def music(self, rng: np.random.Generator, n: int, sung: bool) -> Track:
        if sung:
            source = self.sung[int(rng.integers(len(self.sung)))]
        elif self.game_music and rng.random() < 1 / 3:
            return music_bed(self.game_music, rng, n)
        else:
            source = self.instrumental[int(rng.integers(len(self.instrumental)))]
        return Track(normalise(loop_excerpt(source.samples, n, rng)), ["sung" if sung else "instrumental"],
                     [source.name])

    def dialogue(self, rng: np.random.Generator, n: int) -> Track:
        """A third: one stretch of a long real recording with its own pauses.  Otherwise 1.5-6 s
        excerpts of 1-3 speakers (each at its own level) with 0.15-1 s pauses.  15 % by telephone."""
        if rng.random() < 1 / 3:
            source = self.long[int(rng.integers(len(self.long)))]
            out, parts, used = normalise(fade(loop_excerpt(source.samples, n, rng))), ["long_speech"], {source.name}
        else:
            count = int(rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25]))
            speakers = [self.speech[int(i)] for i in rng.choice(len(self.speech), count, replace=False)]
            levels = 0.1 * 10 ** (rng.uniform(-3, 3, count) / 20)
            out, parts, used = np.zeros(n, dtype=np.float32), ["speech"], set()
            at = int(rng.uniform(0, 0.6) * SR)
            while at < n:
                who = int(rng.integers(count))
                excerpt = fade(loop_excerpt(speakers[who].samples, int(rng.uniform(1.5, 6) * SR), rng))
                take = min(len(excerpt), n - at)
                out[at:at + take] = normalise(excerpt, levels[who])[:take]
                used.add(speakers[who].name)
                at += take + int(rng.uniform(0.15, 1.0) * SR)
        if rng.random() < 0.15:
            out, parts = telephone(out), parts + ["phone"]
        return Track(out, parts, sorted(used))

    def make(self, label: str, rng: np.random.Generator) -> Clip:
        n = int(rng.uniform(*REAL_SECONDS) * SR)
        tail = int(rng.uniform(1, 4) * SR) if rng.random() < 0.1 else 0
        n -= tail
        if label == "Music":
            track = self.music(rng, n, sung=rng.random() < 0.5)
        elif label == "Dialogue":
            track = self.dialogue(rng, n)
        else:
            voice = self.dialogue(rng, n)
            track = duck(voice, self.music(rng, n, sung=rng.random() < 0.5), rng)
        return finish(track, rng, tail)


# ---------------------------------------------------------------------------------------------


def build(out: Path, per_class: int, seed: int = 0, kind: str = "synthetic") -> Path:
    """Build (or reuse) the corpus; returns the truth CSV.  ``kind`` defaults to synthetic here
    because bench/active_learning.py builds its ``corpus`` data set through this call."""
    truth_file = out / "truth.csv"
    if truth_file.exists() and sum(1 for _ in truth_file.open()) - 1 == 3 * per_class:
        return truth_file
    shutil.rmtree(out / "clips", ignore_errors=True)
    rng = np.random.default_rng(seed)
    if kind == "synthetic":
        if shutil.which("espeak-ng") is None:
            subprocess.run(["apt-get", "install", "-y", "-qq", "espeak-ng"], check=True)
        music = fetch_music(GAME_MUSIC)
        print(f"{len(music)} pieces of game music; synthesising speech…", flush=True)
        make = synthetic_maker(music, utterances(max(120, per_class // 2), rng))
        return write_corpus(out, per_class, make, SYNTHETIC_FORMATS, rng)
    root = dev_audio_root()
    try:
        music = fetch_music(GAME_MUSIC)
    except (OSError, subprocess.CalledProcessError, StopIteration) as exc:
        print(f"Note: no game music ({exc}); instrumental clips use the dev-audio instrumentals only.", flush=True)
        music = []
    sounds = RealSounds(load_dev_audio(root), music)
    print(f"{len(sounds.speech)} speech ({len(sounds.long)} long), {len(sounds.sung)} sung and "
          f"{len(sounds.instrumental)} instrumental recordings from {root}; {len(music)} pieces of game music",
          flush=True)
    return write_corpus(out, per_class, sounds.make, REAL_FORMATS, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["real", "synthetic"], default="real")
    parser.add_argument("--per-class", type=int, help="clips per class (default: 100 real, 400 synthetic)")
    parser.add_argument("--out", type=Path, help="default: bench/out/real_corpus or bench/out/corpus")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    per_class = args.per_class or (100 if args.kind == "real" else 400)
    out = args.out or OUT / ("real_corpus" if args.kind == "real" else "corpus")
    print(f"Wrote {build(out, per_class, args.seed, args.kind)}")


if __name__ == "__main__":
    main()
