"""The SIGKILL campaign against the tag writer: kill ``audioid tag`` and ``tag --undo`` at random
points, and check after every kill that no file and no label was harmed.

    python bench/faults.py [--files 200] [--kills 20] [--seed 0] [--keep]

Builds a corpus in a temporary folder (never in the repository): the real recordings of
``../shared/dev-audio/`` (copied there, with the tags their sources gave them) and synthesized
clips up to ``--files``, as MP3, Ogg Vorbis, Opus, FLAC, M4A, WAV, AIFF, WMA and WavPack; two thirds
of the clips get a title, artist, album and track number (some a genre, some a cover picture), the
rest no tag at all.  Each file's bytes and decoded audio are fingerprinted.  Then ``audioid scan``
makes a project, ``audioid labels import`` labels every file, and a clean ``tag`` and ``tag --undo``
measure how long a run takes.

The campaign goes in rounds until ``--kills`` SIGKILLs have landed.  A round tags every file —
0-2 runs killed at a random moment (spread over the run's expected length, past the first half of
its startup), then one run to the end — and undoes it the same way: 0-2 killed undos, then one
``tag --undo`` to the end.  After every run each file must be either exactly as it was (bytes) or
fully tagged (the same decoded audio, the same other tags, the genre its label says); after every
run to the end the project must record the genre each file really holds.  "Files left changed
after one undo" counts the files that still hold the new genre after a round's first undo that
ran to the end: a person who tagged, was interrupted, tagged again and undid once expects every
file back.  Each round ends by running ``tag --undo`` until there is nothing left to undo.  At the
end every file must be byte for byte what it was, nothing the runs wrote may be left in the
folder, and every label must still be in the project.

Prints the table and exits 1 when any must-be-zero figure is not zero.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import soundfile as sf

from audioid_gui.core.audio import ffmpeg_executable
from audioid_gui.core.wording import plural

DEV_AUDIO = Path(__file__).resolve().parents[2] / "shared" / "dev-audio"
DEV_AUDIO_FOLDERS = ("speech", "vocal_music", "instrumental")
CLASSES = ("Music", "Dialogue", "Both")
# How libsndfile writes a format, else how the app's ffmpeg encodes it.
SOUNDFILE_FORMATS = {".mp3": dict(format="MP3"), ".ogg": dict(format="OGG", subtype="VORBIS"),
                     ".flac": dict(format="FLAC"), ".wav": dict(subtype="PCM_16"),
                     ".aiff": dict(format="AIFF", subtype="PCM_16")}
FFMPEG_FORMATS = {".m4a": ["-c:a", "aac", "-b:a", "96k"], ".opus": ["-c:a", "libopus", "-b:a", "48k", "-ar", "48000"],
                  ".wma": ["-c:a", "wmav2", "-b:a", "96k"], ".wv": ["-c:a", "wavpack"]}
SYNTH_FORMATS = (".mp3", ".ogg", ".flac", ".m4a", ".wav", ".opus", ".mp3", ".aiff", ".wma", ".wv", ".flac", ".m4a")
GENRE_KEYS = {"tcon", "genre", "\xa9gen", "gnre", "wm/genre"}  # every format's genre, as mutagen names it
MAX_KILLS_PER_PHASE = 2
UNDO_RUNS_MAX = 20  # a round's clean-up gives up after this many undos


# -- the corpus -----------------------------------------------------------------------------------


def dev_audio_files() -> list[Path]:
    """The real recordings, if the development audio is there (``AUDIOID_DEV_AUDIO`` names another
    folder); the corpus is all synthesized without them."""
    root = Path(os.environ.get("AUDIOID_DEV_AUDIO") or DEV_AUDIO)
    return sorted(path for folder in DEV_AUDIO_FOLDERS if (root / folder).is_dir()
                  for path in (root / folder).iterdir() if path.suffix.lower() not in (".md", ".tsv"))


def synth_samples(rng: np.random.Generator, rate: int) -> np.ndarray:
    """3-10 s of a few drifting tones over noise, mono or stereo: enough sound for every encoder."""
    n = int(rng.uniform(3, 10) * rate)
    t = np.arange(n) / rate
    voices = [np.sin(2 * np.pi * rng.uniform(80, 2000) * t * (1 + rng.uniform(-0.02, 0.02) * t / t[-1]))
              for _ in range(int(rng.integers(1, 4)))]
    mono = np.sum(voices, axis=0) / len(voices) * 0.4 + rng.standard_normal(n) * 0.02
    if rng.random() < 0.5:
        return mono.astype(np.float32)
    return np.stack([mono, np.roll(mono, int(rng.integers(1, 200)))], axis=1).astype(np.float32)


def write_audio(path: Path, samples: np.ndarray, rate: int) -> None:
    """Encode as the suffix says, with libsndfile or the app's ffmpeg."""
    if path.suffix in SOUNDFILE_FORMATS:
        sf.write(path, samples, rate, **SOUNDFILE_FORMATS[path.suffix])
        return
    channels = samples.shape[1] if samples.ndim == 2 else 1
    subprocess.run([ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(rate),
                    "-ac", str(channels), "-i", "-", *FFMPEG_FORMATS[path.suffix], str(path)],
                   input=samples.astype("<f4").tobytes(), check=True)


def add_tags(path: Path, i: int, rng: np.random.Generator) -> None:
    """A title, artist, album and track number as a tagger would leave them; every third file also
    a genre, every fourth a cover picture; MP3, WAV and AIFF alternate between ID3v2.3 and v2.4."""
    import mutagen

    media = mutagen.File(path)
    if media.tags is None:
        media.add_tags()
    genre = "Radio" if i % 3 == 0 else None
    picture = rng.bytes(int(rng.integers(2_000, 60_000))) if i % 4 == 0 else None
    fill = {".mp3": _id3, ".wav": _id3, ".aiff": _id3, ".m4a": _mp4, ".wma": _asf, ".wv": _ape}.get(path.suffix, _vorbis)
    fill(media, (f"Clip {i}", f"Station {i % 7}", f"Night show {i % 5}"), i, genre, picture)
    if path.suffix in (".mp3", ".wav", ".aiff"):
        media.save(v2_version=3 if i % 2 else 4)
    else:
        media.save()


def _id3(media: Any, text: tuple[str, str, str], i: int, genre: Optional[str], picture: Optional[bytes]) -> None:
    from mutagen.id3 import APIC, COMM, TALB, TCON, TIT2, TPE1, TRCK

    for frame, value in zip((TIT2, TPE1, TALB), text):
        media.tags.add(frame(encoding=3, text=[value]))
    media.tags.add(TRCK(encoding=3, text=[str(i)]))
    media.tags.add(COMM(encoding=3, lang="eng", desc="", text=["recorded off air"]))
    if genre:
        media.tags.add(TCON(encoding=3, text=[genre]))
    if picture:
        media.tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="cover", data=picture))


def _vorbis(media: Any, text: tuple[str, str, str], i: int, genre: Optional[str], picture: Optional[bytes]) -> None:
    from mutagen.flac import FLAC, Picture

    for key, value in zip(("TITLE", "ARTIST", "ALBUM"), text):
        media.tags[key] = value
    media.tags["TRACKNUMBER"] = str(i)
    if genre:
        media.tags["GENRE"] = genre
    if picture and isinstance(media, FLAC):
        cover = Picture()
        cover.type, cover.mime, cover.data = 3, "image/jpeg", picture
        media.add_picture(cover)


def _mp4(media: Any, text: tuple[str, str, str], i: int, genre: Optional[str], picture: Optional[bytes]) -> None:
    from mutagen.mp4 import MP4Cover

    for key, value in zip(("\xa9nam", "\xa9ART", "\xa9alb"), text):
        media.tags[key] = [value]
    media.tags["trkn"] = [(i, 0)]
    if genre:
        media.tags["\xa9gen"] = [genre]
    if picture:
        media.tags["covr"] = [MP4Cover(picture, MP4Cover.FORMAT_JPEG)]


def _asf(media: Any, text: tuple[str, str, str], i: int, genre: Optional[str], picture: Optional[bytes]) -> None:
    for key, value in zip(("Title", "Author", "WM/AlbumTitle"), text):
        media.tags[key] = [value]
    media.tags["WM/TrackNumber"] = [str(i)]
    if genre:
        media.tags["WM/Genre"] = [genre]


def _ape(media: Any, text: tuple[str, str, str], i: int, genre: Optional[str], picture: Optional[bytes]) -> None:
    for key, value in zip(("Title", "Artist", "Album"), text):
        media.tags[key] = value
    media.tags["Track"] = str(i)
    if genre:
        media.tags["Genre"] = genre


def make_corpus(folder: Path, n: int, rng: np.random.Generator) -> list[Path]:
    """``n`` files: real recordings (up to a quarter), then synthesized clips, two thirds of them
    tagged.  A few names carry spaces and accents, as people's files do.  The copies are the user's
    own files, writable, whatever the mode of the recordings they come from."""
    folder.mkdir(parents=True)
    files = []
    for source in dev_audio_files()[:n // 4]:
        files.append(Path(shutil.copyfile(source, folder / source.name)))
        files[-1].chmod(0o644)
    for i in range(n - len(files)):
        suffix = SYNTH_FORMATS[i % len(SYNTH_FORMATS)]
        name = f"émission d'été {i:04d}{suffix}" if i % 10 == 9 else f"clip {i:04d}{suffix}"
        rate = int(rng.choice([22_050, 44_100, 48_000]))
        path = folder / name
        write_audio(path, synth_samples(rng, rate), rate)
        if i % 3:
            add_tags(path, i, rng)
        files.append(path)
    return files


# -- what a file holds ----------------------------------------------------------------------------


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decoded_audio(path: Path) -> str:
    """A hash of the decoded audio of the file's first stream, as ffmpeg decodes it."""
    run = subprocess.run([ffmpeg_executable(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
                          "-f", "f32le", "-"], capture_output=True, check=False)
    if run.returncode != 0:
        raise ValueError(run.stderr.decode("utf-8", "replace").strip() or "ffmpeg cannot decode it")
    return sha(run.stdout)


def read_tags(path: Path) -> tuple[list[str], dict[str, str]]:
    """The genre and a fingerprint of every other tag, as mutagen reads them: independent of the
    app's own reader, which is what is being checked."""
    import mutagen

    media = mutagen.File(path)
    if media is None:
        raise ValueError("mutagen does not recognise it")
    genres: list[str] = []
    others: dict[str, list[str]] = {}
    for key, value in (media.tags.items() if media.tags is not None else []):
        values = getattr(value, "text", value)
        values = [str(v) for v in values] if isinstance(values, list) else [str(values)]
        if key.lower() in GENRE_KEYS:
            genres.extend(values)
        else:
            others.setdefault(key, []).append(sha(repr(value).encode("utf-8", "surrogateescape")))
    return genres, {key: ",".join(sorted(found)) for key, found in others.items()}


@dataclass(frozen=True)
class Snapshot:
    """A file as it was before the campaign."""

    data: str
    audio: str
    genres: list[str]
    others: dict[str, str]


def snapshot(path: Path) -> Snapshot:
    genres, others = read_tags(path)
    return Snapshot(sha(path.read_bytes()), decoded_audio(path), genres, others)


ORIGINAL, TAGGED, RESTORED = "as it was", "tagged", "tags as before, bytes not"
NO_GENRE = "(none)"  # how ``tag --dry-run`` shows a file without a genre


class Inspector:
    """Tells what state each file of the corpus is in.  A file whose bytes were seen before is not
    decoded again: the campaign puts each file through the same few states many times."""

    def __init__(self, before: dict[Path, Snapshot], genre_of: dict[Path, str]) -> None:
        self.before = before
        self.genre_of = genre_of
        self.seen: dict[tuple[Path, str], str] = {}

    def state(self, path: Path) -> str:
        """ORIGINAL, TAGGED, RESTORED, or why the file is damaged."""
        try:
            data = sha(path.read_bytes())
        except OSError as exc:
            return f"damaged: cannot be read ({exc.strerror})"
        if data == self.before[path].data:
            return ORIGINAL
        if (path, data) not in self.seen:
            self.seen[path, data] = self._judge(path)
        return self.seen[path, data]

    def _judge(self, path: Path) -> str:
        old = self.before[path]
        try:
            genres, others = read_tags(path)
            audio = decoded_audio(path)
        except Exception as exc:  # any failure to read is what the campaign looks for
            return f"damaged: unreadable ({exc})"
        if audio != old.audio:
            return "damaged: the decoded audio changed"
        if others != old.others:
            changed = sorted(k for k in {*others, *old.others} if others.get(k) != old.others.get(k))
            return f"damaged: other tags changed ({', '.join(changed)})"
        if genres == [self.genre_of.get(path)]:
            return TAGGED
        if genres == old.genres:
            return RESTORED
        return f"damaged: the genre reads {genres!r}"

    def genres(self, path: Path) -> list[str]:
        try:
            return read_tags(path)[0]
        except Exception:  # an unreadable file is counted as damaged by ``state``
            return []

    def census(self) -> dict[Path, str]:
        return {path: self.state(path) for path in self.before}


# -- running the command --------------------------------------------------------------------------


@dataclass
class Run:
    """One ``audioid`` run: whether a SIGKILL ended it, how long it ran, what it said."""

    args: tuple[str, ...]
    killed: bool
    seconds: float
    code: Optional[int]
    output: str


class Cli:
    """``audioid --project P ...`` as a subprocess, each run's output kept in a log file."""

    def __init__(self, project: Path, logs: Path) -> None:
        script = Path(sys.executable).with_name("audioid")
        self.command = [str(script)] if script.exists() else [sys.executable, "-m", "audioid_gui"]
        self.project = project
        self.logs = logs
        self.count = 0
        self.env = {**os.environ, "XDG_CONFIG_HOME": str(logs / "config"), "XDG_DATA_HOME": str(logs / "data")}

    def run(self, *args: str, kill_after: Optional[float] = None) -> Run:
        """Run to the end, or SIGKILL the process after ``kill_after`` seconds if still running."""
        self.count += 1
        log_file = self.logs / f"{self.count:03d} {' '.join(args).replace('/', '_')[:60]}.log"
        with log_file.open("w+", encoding="utf-8", errors="replace") as out:
            started = time.perf_counter()
            process = subprocess.Popen([*self.command, "--project", str(self.project), *args], stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
                                       cwd=self.logs)
            try:
                process.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
            seconds = time.perf_counter() - started
            out.seek(0)
            output = out.read()
        return Run(args, process.returncode == -signal.SIGKILL, seconds, process.returncode, output)

    def check(self, *args: str) -> Run:
        """Run to the end, which must not be a usage error or a crash (see ``failures``)."""
        run = self.run(*args)
        failures(run)
        return run


def failures(run: Run) -> list[str]:
    """The files a run to the end reported as failed (exit 1, a line ``  /path: reason`` each).  A
    usage error or a crash (exit 2, a traceback) ends the benchmark: after it, nothing the
    campaign measures means anything."""
    if run.code not in (0, 1) or "Traceback" in run.output:
        raise SystemExit(f"`audioid {' '.join(run.args)}` failed (exit {run.code}):\n{run.output}")
    return [line.strip() for line in run.output.splitlines() if line.startswith("  /")]


# -- the campaign ---------------------------------------------------------------------------------


@dataclass
class Timing:
    """How long runs take, to spread the kills over a run: a run with nothing to do, and each file.
    The quickest pace seen counts (other work on the machine only slows a run down), so that a kill
    seldom comes after the run has ended."""

    startup: float
    per_file_tag: float
    per_file_undo: float

    def expected(self, undo: bool, files: int) -> float:
        """How long a run with ``files`` to do takes.  Kills fall between half the startup (before
        that, the command is still loading its modules and has touched nothing) and this."""
        return self.startup + files * (self.per_file_undo if undo else self.per_file_tag)

    def learn(self, undo: bool, files: int, seconds: float) -> None:
        """A run to the end that wrote ``files`` files took ``seconds``."""
        if files:
            pace = max(0.0, seconds - self.startup) / files
            if undo:
                self.per_file_undo = min(self.per_file_undo, pace)
            else:
                self.per_file_tag = min(self.per_file_tag, pace)


@dataclass
class Tally:
    """What the campaign found, for the table."""

    kills_tag: int = 0
    kills_undo: int = 0
    kills_midway: int = 0  # with some of the run's files done, not all
    rounds: int = 0
    damaged: dict[Path, str] = field(default_factory=dict)  # the first harm seen, and when
    left_changed: int = 0
    rounds_left_changed: int = 0
    failed_files: list[str] = field(default_factory=list)  # what unkilled runs reported as failed
    out_of_step: dict[Path, str] = field(default_factory=dict)  # the project's record is not the file
    undo_runs: list[int] = field(default_factory=list)  # per round: undos to the end until nothing was left

    @property
    def kills(self) -> int:
        return self.kills_tag + self.kills_undo


class Campaign:
    """Rounds of killed and finished tag and undo runs, each followed by a look at every file."""

    def __init__(self, cli: Cli, inspector: Inspector, rng: np.random.Generator, timing: Timing) -> None:
        self.cli = cli
        self.inspector = inspector
        self.rng = rng
        self.timing = timing
        self.tally = Tally()

    def look(self, when: str) -> Counter:
        """Every file's state after a run; the first harm to each file is kept with ``when``."""
        states = self.inspector.census()
        for path, state in states.items():
            if state.startswith("damaged") and path not in self.tally.damaged:
                self.tally.damaged[path] = f"{state[len('damaged: '):]} (after {when})"
        return Counter(state if not state.startswith("damaged") else "damaged" for state in states.values())

    def phase(self, undo: bool, kills: int) -> tuple[list[str], Counter]:
        """``kills`` runs killed at random moments, then one to the end; one note per run, and the
        files' states after the last."""
        args = ("tag", "--undo") if undo else ("tag",)
        name = "undo" if undo else "tag"
        files = len(self.inspector.before)
        notes: list[str] = []
        tagged = files if undo else 0  # a phase starts with every file to do
        for _ in range(kills):
            left = tagged if undo else files - tagged
            delay = float(self.rng.uniform(self.timing.startup / 2, self.timing.expected(undo, left)))
            run = self.cli.run(*args, kill_after=delay)
            if not run.killed:  # it ended before the kill: that was the run to the end
                break
            if undo:
                self.tally.kills_undo += 1
            else:
                self.tally.kills_tag += 1
            counts = self.look(f"{name} killed at {delay:.2f} s")
            self.tally.kills_midway += 0 < abs(counts[TAGGED] - tagged) < left
            tagged = counts[TAGGED]
            notes.append(f"killed at {run.seconds:.1f} s ({counts[TAGGED]:,} tagged)")
        else:
            run = self.cli.run(*args)
        self.tally.failed_files += [f"{name}: {line}" for line in failures(run)]
        counts = self.look(f"a {name} run to the end")
        self.timing.learn(undo, abs(counts[TAGGED] - tagged), run.seconds)
        self.check_record(f"a {name} run to the end")
        notes.append(f"to the end in {run.seconds:.1f} s ({counts[TAGGED]:,} tagged)")
        return notes, counts

    def check_record(self, when: str) -> None:
        """The project must know what each file holds: the genre it records (the "old" side of
        ``tag --dry-run``, or the new genre for a file it counts as already right) is the file's."""
        planned = plan_of(self.cli)
        for path in self.inspector.before:
            if path not in planned and path not in self.inspector.genre_of:
                continue  # its label's genre is the one it always had: never written
            recorded = planned[path][0] if path in planned else self.inspector.genre_of[path]
            actual = "; ".join(self.inspector.genres(path)) or NO_GENRE
            if recorded != actual and path not in self.tally.out_of_step:
                self.tally.out_of_step[path] = f"records {recorded!r}, the file holds {actual!r} (after {when})"

    def round(self, kills_left: int) -> str:
        """Tag and undo, each with 0-2 kills; at least one for the kind killed less so far (a kill
        that comes after the run has ended is no kill, and undo runs are the shorter).  Returns a
        log line."""
        tag_kills, undo_kills = self.rng.integers(0, MAX_KILLS_PER_PHASE + 1, size=2).tolist()
        if self.tally.kills_undo < self.tally.kills_tag:
            undo_kills = max(undo_kills, 1)
        else:
            tag_kills = max(tag_kills, 1)
        tag_kills = min(tag_kills, kills_left)
        undo_kills = min(undo_kills, kills_left - tag_kills)
        self.tally.rounds += 1
        tag_notes, _ = self.phase(False, tag_kills)
        undo_notes, counts = self.phase(True, undo_kills)
        left = counts[TAGGED]
        self.tally.left_changed += left
        self.tally.rounds_left_changed += bool(left)
        self.tally.undo_runs.append(self.undo_all())
        return (f"round {self.tally.rounds}: tag {'; '.join(tag_notes)} | undo {'; '.join(undo_notes)}"
                f" -> {plural(left, 'file')} left changed")

    def undo_all(self) -> int:
        """``tag --undo`` until there is nothing to undo; how many of those runs still found
        something to undo (0 when the round's undo restored every batch)."""
        for runs in range(1, UNDO_RUNS_MAX + 1):
            run = self.cli.run("tag", "--undo")
            self.tally.failed_files += [f"undo: {line}" for line in failures(run)]
            if "Nothing to undo." in run.output:
                self.look("undoing until nothing was left")
                return runs - 1
        return UNDO_RUNS_MAX

    def go(self, target: int) -> Tally:
        while self.tally.kills < target:
            print(self.round(target - self.tally.kills), flush=True)
        return self.tally


# -- setting up and measuring ---------------------------------------------------------------------


def plan_of(cli: Cli) -> dict[Path, tuple[str, str]]:
    """What ``tag --dry-run`` would write (``old -> new  [source]  path`` per file): the genre the
    project records for each file, and the one it would write."""
    run = cli.check("tag", "--dry-run")
    planned = {}
    for line in run.output.splitlines():
        if " -> " in line and "]  " in line:
            old, _, rest = line.partition(" -> ")
            planned[Path(line.rsplit("]  ", 1)[1])] = (old, rest.split("  [", 1)[0])
    return planned


def label_rows(cli: Cli, out: Path) -> set[tuple[str, str]]:
    cli.check("labels", "export", str(out))
    with out.open(newline="", encoding="utf-8", errors="surrogateescape") as f:
        return {(row[0], row[1]) for row in list(csv.reader(f))[1:]}


def calibrate(cli: Cli, inspector: Inspector, files: int) -> tuple[Timing, int]:
    """A clean tag and undo: how long runs take, and how many files the clean undo did not give
    back byte for byte (without any kill: what undo alone does)."""
    tag = cli.check("tag")
    idle = min(cli.check("tag").seconds for _ in range(3))  # everything is tagged: nothing to do
    if Counter(inspector.census().values())[TAGGED] != files:
        raise SystemExit(f"a clean `audioid tag` did not tag every file:\n{tag.output[-3000:]}")
    undo = cli.check("tag", "--undo")
    not_exact = sum(state != ORIGINAL for state in inspector.census().values())
    timing = Timing(idle, max(0.0, tag.seconds - idle) / files, max(0.0, undo.seconds - idle) / files)
    return timing, not_exact


def stray_files(folder: Path, files: list[Path]) -> list[str]:
    """Anything in the corpus folder that is not one of its files: a copy a run left behind."""
    known = {path.name for path in files}
    return sorted(name for name in os.listdir(folder) if name not in known)


def duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def print_table(rows: list[tuple[str, Any, bool]]) -> bool:
    """The figures, the must-be-zero ones marked; returns whether all of those are zero."""
    width = max(len(label) for label, _, _ in rows)
    ok = True
    for label, value, must_be_zero in rows:
        mark = ""
        if must_be_zero:
            mark = "  must be 0" if value == 0 else "  MUST BE 0"
            ok = ok and value == 0
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        print(f"  {label:<{width}}  {shown:>8}{mark}")
    return ok


def prepare(work: Path, n: int, rng: np.random.Generator) -> tuple[Cli, dict[Path, Snapshot]]:
    """The corpus, fingerprinted, and a project that labels every file of it."""
    started = time.perf_counter()
    folder = work / "audio"
    files = make_corpus(folder, n, rng)
    before = {path: snapshot(path) for path in files}
    formats = Counter(path.suffix.lstrip(".") for path in files)
    print(f"{plural(n, 'file')} in {folder}: {', '.join(f'{k} {v}' for k, v in formats.most_common())} "
          f"({duration(time.perf_counter() - started)})", flush=True)
    logs = work / "runs"
    logs.mkdir()
    cli = Cli(work / "faults.audioid", logs)
    cli.check("scan", str(folder))
    label_file = work / "labels.csv"
    with label_file.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("path", "label"), *((str(p), CLASSES[int(rng.integers(3))]) for p in files)])
    cli.check("labels", "import", str(label_file))
    return cli, before


def print_details(tally: Tally, not_exact: list[Path], stray: list[str], most: int = 20) -> None:
    """Which files make up the must-be-zero figures that are not, and why."""
    details = [*(f"damaged: {path.name}: {why}" for path, why in tally.damaged.items()),
               *(f"failed: {line}" for line in tally.failed_files),
               *(f"recorded wrongly: {path.name}: {why}" for path, why in tally.out_of_step.items()),
               *(f"not byte-identical: {path.name}" for path in not_exact),
               *(f"stray: {name}" for name in stray)]
    for line in details[:most]:
        print(f"  {line}")
    if len(details) > most:
        print(f"  … and {len(details) - most:,} more")


def campaign(work: Path, n: int, kills: int, rng: np.random.Generator) -> bool:
    """Prepare, calibrate, kill; print the table.  Whether every must-be-zero figure is zero."""
    started = time.perf_counter()
    cli, before = prepare(work, n, rng)
    labels_before = label_rows(cli, work / "labels before.csv")
    inspector = Inspector(before, {path: new for path, (_, new) in plan_of(cli).items()})
    timing, clean_not_exact = calibrate(cli, inspector, n)
    print(f"A run with nothing to do takes {timing.startup:.1f} s; tag {timing.per_file_tag * 1000:.0f} ms "
          f"and undo {timing.per_file_undo * 1000:.0f} ms a file", flush=True)
    campaign_started = time.perf_counter()
    tally = Campaign(cli, inspector, rng, timing).go(kills)
    labels_lost = len(labels_before - label_rows(cli, work / "labels after.csv"))
    not_exact = [path for path, old in before.items() if old.data != sha(path.read_bytes())]
    stray = stray_files(work / "audio", list(before))
    print()
    print(f"SIGKILL campaign: {plural(n, 'file')}, {plural(tally.kills, 'kill')} in {plural(tally.rounds, 'round')}")
    ok = print_table([
        ("kills", tally.kills, False),
        ("  during tag", tally.kills_tag, False),
        ("  during tag --undo", tally.kills_undo, False),
        ("  with some of the run's files done, not all", tally.kills_midway, False),
        ("files damaged (audio or other tags changed, unreadable)", len(tally.damaged), True),
        ("labels lost", labels_lost, True),
        (f"files left changed after one undo (in {plural(tally.rounds_left_changed, 'round')})",
         tally.left_changed, True),
        ("undos needed past the first, most in a round", max(tally.undo_runs, default=0), False),
        ("files an unkilled run reported as failed", len(tally.failed_files), True),
        ("files the project records wrongly after a run to the end", len(tally.out_of_step), True),
        ("files not byte-identical at the end", len(not_exact), True),
        ("stray files left in the folder", len(stray), True),
        ("files not byte-identical after a clean tag + undo", clean_not_exact, False),
        ("time: corpus, project and clean runs", duration(campaign_started - started), False),
        ("time: campaign", duration(time.perf_counter() - campaign_started), False),
    ])
    print_details(tally, not_exact, stray)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (corpus, project, run logs)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    work = Path(tempfile.mkdtemp(prefix="audioid-faults-"))
    try:
        ok = campaign(work, args.files, args.kills, rng)
    finally:
        if args.keep:
            print(f"Kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
