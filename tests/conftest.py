"""Shared test helpers: every test makes its own audio, in real formats, on real disk."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioid_gui.core.audio import ffmpeg_executable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep the tests' window settings and demo projects out of the user's own.
_SANDBOX = Path(tempfile.mkdtemp(prefix="audioid-tests-"))
os.environ["XDG_CONFIG_HOME"] = str(_SANDBOX / "config")
os.environ["XDG_DATA_HOME"] = str(_SANDBOX / "data")
os.environ["QT_LOGGING_RULES"] = "qt.multimedia.*=false"

SR = 22_050
REPO = Path(__file__).resolve().parents[1]

# Formats libsndfile writes itself, and those we make with the ffmpeg the app ships with.
SOUNDFILE_FORMATS = {
    "wav": dict(format="WAV", subtype="PCM_16"),
    "flac": dict(format="FLAC"),
    "ogg": dict(format="OGG", subtype="VORBIS"),
    "mp3": dict(format="MP3"),
    "aiff": dict(format="AIFF", subtype="PCM_16"),
}
FFMPEG_FORMATS = {
    "m4a": ["-c:a", "aac", "-b:a", "96k"],
    "wma": ["-c:a", "wmav2", "-b:a", "96k"],
    "wv": ["-c:a", "wavpack"],
    "opus": ["-c:a", "libopus", "-b:a", "48k"],
}
# Formats nothing on pip encodes: tiny files made once with Debian's mpcenc (musepack-tools) and
# speexenc (speex) from the same two-part signal, and committed.
COMMITTED_FORMATS = {"mpc": REPO / "tests" / "data" / "two_part.mpc", "spx": REPO / "tests" / "data" / "two_part.spx"}
ALL_FORMATS = [*SOUNDFILE_FORMATS, *FFMPEG_FORMATS, *COMMITTED_FORMATS]


def tone(seconds: float, freq: float = 440.0, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def two_part_signal(head_s: float, tail_s: float, sr: int = SR) -> np.ndarray:
    """220 Hz for head_s seconds, then 1760 Hz for tail_s: tells which part a decoder returned."""
    return np.concatenate([tone(head_s, 220.0, sr), tone(tail_s, 1760.0, sr)])


def dominant_frequency(samples: np.ndarray, sr: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / sr)[np.argmax(spectrum)])


def write_audio(path: Path, samples: np.ndarray, sr: int = SR) -> Path:
    """Write samples as the format the extension names (via libsndfile or ffmpeg)."""
    fmt = path.suffix.lstrip(".").lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in SOUNDFILE_FORMATS:
        sf.write(path, samples, sr, **SOUNDFILE_FORMATS[fmt])
        return path
    wav = path.with_suffix(".src.wav")
    sf.write(wav, samples, sr, subtype="PCM_16")
    rate = ["-ar", "48000"] if fmt == "opus" else []
    subprocess.run(
        [ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), *rate, *FFMPEG_FORMATS[fmt], str(path)],
        check=True,
    )
    wav.unlink()
    return path


@pytest.fixture(scope="session")
def format_library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One 14-second two-part file per supported format (4 s low tone, then 10 s high tone)."""
    folder = tmp_path_factory.mktemp("formats")
    signal = two_part_signal(4.0, 10.0)
    made = {fmt: write_audio(folder / f"two_part.{fmt}", signal) for fmt in [*SOUNDFILE_FORMATS, *FFMPEG_FORMATS]}
    for fmt, committed in COMMITTED_FORMATS.items():
        made[fmt] = Path(shutil.copy(committed, folder / committed.name))
    return made


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo project with features, built once; tests get copies (see ``demo_project``)."""
    from audioid_gui.core.demo import demo_sources
    from audioid_gui.core.extraction import scan
    from audioid_gui.core.project import Project

    path = tmp_path_factory.mktemp("template") / "demo.audioid"
    with Project(path) as project:
        scan(project, demo_sources(), workers=2)
    return path


@pytest.fixture()
def demo_project(demo_template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "demo.audioid"
    shutil.copy(demo_template, copy)
    return copy


@pytest.fixture()
def window(qtbot, qapp):
    """The main window as a person starts it the first time (no settings left by another test),
    with auto-advance on."""
    import shiboken6
    from PySide6.QtCore import QSettings

    from audioid_gui.gui.main_window import MainWindow

    qapp.setOrganizationName("AudioIDTests")
    qapp.setApplicationName("labeling")
    QSettings().clear()
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.act_auto_advance.setChecked(True)
    # Only the tests about playback play: a media back-end torn down mid-playback, forty times in
    # a row, is more than the tests are about.
    w.act_autoplay.setChecked(False)
    yield w
    if shiboken6.isValid(w):
        stop_playback(w, qtbot)
    if shiboken6.isValid(w):
        w.close()


def labels_in_file(project_file: Path) -> list[tuple[str, str | None, str]]:
    """(file name, class, source) of every label row, oldest first, read straight from SQLite."""
    db = sqlite3.connect(project_file)
    rows = db.execute(
        "SELECT t.path, c.name, l.source FROM labels l JOIN tracks t ON t.id = l.track_id "
        "LEFT JOIN classes c ON c.id = l.class_id ORDER BY l.id"
    ).fetchall()
    db.close()
    return [(Path(p).name, c, s) for p, c, s in rows]


def stop_playback(w, qtbot) -> None:
    """End a playback test with the player stopped: the media back-end is not torn down mid-song."""
    from PySide6.QtMultimedia import QMediaPlayer

    w.player.stop()
    qtbot.waitUntil(lambda: w.player.media.playbackState() == QMediaPlayer.PlaybackState.StoppedState)
    qtbot.wait(100)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real ``audioid`` command in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "audioid_gui.cli", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


def labelled_clips(tmp_path: Path) -> tuple[Path, Path]:
    """Three demo clips analysed in a new project, the first labelled Music and the second
    Dialogue: the smallest project a tag write has something to do in.  Returns (project, folder)."""
    from audioid_gui.core.extraction import scan
    from audioid_gui.core.project import Project

    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("outro 01.mp3", "outro 02.ogg", "outro 03.mp3"):
        shutil.copy(REPO / "resources" / "demo" / name, folder / name)
    project_file = tmp_path / "t.audioid"
    with Project(project_file) as project:
        scan(project, [folder], workers=1)
        project.set_label(project.track_id(folder / "outro 01.mp3"), "Music")
        project.set_label(project.track_id(folder / "outro 02.ogg"), "Dialogue")
    return project_file, folder
