"""Make the bundled demo library: 30 fourteen-second clips that the project synthesised itself.

* music: chords, bass, a plucked melody and drums, synthesised with numpy;
* dialogue: sentences written for this demo, spoken by espeak-ng (Debian: ``apt-get install
  espeak-ng``), over a little room tone;
* both: dialogue over quieter music, as a presenter talking over an outro.

Everything here is generated, so the clips carry no third-party rights.  The output is committed
(resources/demo, sample_playlists, resources/demo_truth.csv); run this only to rebuild it:

    python tools/make_demo_clips.py
"""
from __future__ import annotations

import csv
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from audioid_gui.core.playlists import PlaylistEntry, write_m3u

SR = 22_050
SECONDS = 14.0
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "demo"
PLAYLISTS = ROOT / "sample_playlists"

SENTENCES = [
    "That was the last song of the hour. Stay with us, the news is coming up right after this short break.",
    "Good evening and welcome back. Tonight we talk about the harvest, the weather, and the village fair.",
    "Traffic on the ring road is slow near the bridge, so allow a few extra minutes for your drive home.",
    "Our guest this afternoon has spent twenty years building boats by hand. Welcome to the programme.",
    "If you missed the beginning of the story, you can listen again on our website at any time this week.",
    "Tomorrow will start cloudy with some rain in the north, clearing in the afternoon with light winds.",
    "Thank you for all the messages you sent in. Let us read a few of them before the top of the hour.",
    "The council meets again on Thursday to vote on the new library, and we will be there to report.",
    "This is the late show. I am your host, and for the next two hours we are taking your calls.",
    "Before we go, a reminder that the concert in the park has moved to Sunday because of the storm.",
]
VOICES = ["en-us+m3", "en-gb+f3", "en-us+m1", "en+f2", "en-gb+m4", "en-us+f4", "en+m2", "en-gb+f1", "en-us+m7", "en+f5"]


def _envelope(n: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / SR
    return np.minimum(1.0, t / attack) * np.exp(-t / decay)


def _tone(freq: float, n: int, harmonics: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SR
    phase = rng.uniform(0, 2 * np.pi, harmonics)
    return sum(np.sin(2 * np.pi * freq * (h + 1) * t + phase[h]) / (h + 1) ** 1.5 for h in range(harmonics))


def _pluck(freq: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Karplus-Strong string: a noise burst through a damped delay line."""
    period = max(2, int(SR / freq))
    line = rng.uniform(-1, 1, period)
    out = np.empty(n)
    for i in range(n):
        out[i] = line[i % period]
        line[i % period] = 0.996 * 0.5 * (line[i % period] + line[(i + 1) % period])
    return out


def music(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(SECONDS * SR)
    out = np.zeros(n)
    bpm = rng.choice([84, 96, 104, 112, 120, 128])
    beat = int(SR * 60 / bpm)
    root = 110 * 2 ** (rng.integers(0, 12) / 12)
    progression = [[0, 4, 7], [7, 11, 14], [9, 12, 16], [5, 9, 12]]
    bar = beat * 4
    for b, start in enumerate(range(0, n, bar)):
        chord = progression[b % 4]
        length = min(bar, n - start)
        pad = sum(_tone(root * 2 ** (s / 12), length, 6, rng) for s in chord)
        out[start:start + length] += 0.12 * pad * _envelope(length, 0.05, 3.0)
        bass = _tone(root / 2 * 2 ** (chord[0] / 12), length, 3, rng)
        out[start:start + length] += 0.25 * bass * _envelope(length, 0.01, 0.8)
    scale = [0, 2, 4, 7, 9, 12, 14, 16]
    for start in range(0, n, beat // 2):
        if rng.random() < 0.7:
            length = min(beat, n - start)
            note = root * 2 * 2 ** (rng.choice(scale) / 12)
            out[start:start + length] += 0.18 * _pluck(note, length, rng) * _envelope(length, 0.002, 0.4)
    for i, start in enumerate(range(0, n, beat)):
        length = min(beat, n - start)
        t = np.arange(length) / SR
        if i % 2 == 0:
            out[start:start + length] += 0.5 * np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
        else:
            out[start:start + length] += 0.2 * rng.standard_normal(length) * np.exp(-t * 25)
        hat = min(beat // 2, n - start)
        out[start:start + hat] += 0.05 * np.diff(rng.standard_normal(hat + 1)) * np.exp(-np.arange(hat) / SR * 60)
    return out / np.max(np.abs(out)) * 0.8


def speech(index: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        text = SENTENCES[index % len(SENTENCES)] + " " + SENTENCES[(index + 3) % len(SENTENCES)]
        subprocess.run(
            ["espeak-ng", "-v", VOICES[index % len(VOICES)], "-s", str(150 + 7 * index % 30), "-w", str(wav), text],
            check=True,
        )
        voice, rate = sf.read(wav, dtype="float32")
    voice = soxr.resample(voice, rate, SR)
    n = int(SECONDS * SR)
    out = np.zeros(n)
    start = int(0.3 * SR)
    take = min(len(voice), n - start)
    out[start:start + take] = voice[:take]
    room = np.random.default_rng(1000 + index).standard_normal(n) * 0.003
    return (out / np.max(np.abs(out)) * 0.8) + room


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    truth = []
    formats = ["mp3", "ogg"]
    for i in range(10):
        kinds = {
            "Music": music(i),
            "Dialogue": speech(i),
            "Both": 0.75 * speech(i + 5) + 0.3 * music(100 + i),
        }
        for k, (label, samples) in enumerate(kinds.items()):
            number = 3 * i + k + 1
            name = f"outro {number:02d}.{formats[(i + k) % 2]}" if number % 7 else f"outro {number:02d} – café.mp3"
            path = OUT / name
            samples = np.clip(samples, -1, 1).astype(np.float32)
            if path.suffix == ".mp3":
                sf.write(path, samples, SR, format="MP3", compression_level=0.6)
            else:
                sf.write(path, samples, SR, format="OGG", subtype="VORBIS", compression_level=0.6)
            truth.append((name, label))
    with open(ROOT / "resources" / "demo_truth.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "label"), *truth])
    # Like the journal's first clusters: mostly right, not pure (the review view measures that).
    by_label = {lab: [OUT / n for n, l in truth if l == lab] for lab in ("Music", "Dialogue", "Both")}
    orange = by_label["Music"] + by_label["Both"][:7] + by_label["Dialogue"][:3]
    green = by_label["Dialogue"][3:] + by_label["Both"][7:]
    PLAYLISTS.mkdir(exist_ok=True)
    write_m3u(PLAYLISTS / "orange_cluster.m3u", [PlaylistEntry(p) for p in orange])
    write_m3u(PLAYLISTS / "green_cluster.m3u8", [PlaylistEntry(p) for p in green])


if __name__ == "__main__":
    main()
