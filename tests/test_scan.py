"""Scanning a real, messy library: good files extracted, bad ones listed, nothing done twice."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from audioid_gui.core.extraction import run_extraction
from audioid_gui.core.features import FEATURE_NAMES, VERSION
from audioid_gui.core.project import Project
from audioid_gui.core.tasks import CancelToken

from .conftest import ALL_FORMATS, SR, run_cli, tone, two_part_signal, write_audio

BAD = {
    "empty.mp3": "probe",
    "truncated.mp3": "decode",
    "notes.mp3": "probe",
    "blip.wav": "features",
    "silence.flac": "features",
}


@pytest.fixture()
def messy_library(tmp_path: Path, format_library: dict[str, Path]) -> Path:
    """Every supported format, a non-ASCII name with spaces, and each kind of bad file."""
    root = tmp_path / "radio"
    (root / "good").mkdir(parents=True)
    for fmt, path in format_library.items():
        shutil.copy(path, root / "good" / f"clip.{fmt}")
    write_audio(root / "good" / "Ça va – ünïcode outro.mp3", two_part_signal(3, 10))
    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.mp3").write_bytes(b"")
    full = (root / "good" / "clip.mp3").read_bytes()
    (bad / "truncated.mp3").write_bytes(full[: len(full) // 2])
    (bad / "notes.mp3").write_text("not audio at all\n" * 100)
    write_audio(bad / "blip.wav", tone(0.5))
    write_audio(bad / "silence.flac", np.zeros(SR * 12, dtype=np.float32))
    (root / "cover.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 100)  # not audio: ignored, not an error
    (root / "week1.m3u").write_text("good/clip.mp3\ngood/gone.mp3\nhttp://stream.example/live\n", encoding="latin-1")
    (root / "broken.m3u8").write_bytes(bytes(range(256)) * 4)
    return root


def test_scan_extracts_every_good_file_and_lists_every_bad_one(messy_library: Path, tmp_path: Path) -> None:
    project_file = tmp_path / "week1.audioid"
    sources = [str(messy_library), str(messy_library / "week1.m3u"), str(messy_library / "broken.m3u8")]
    first = run_cli("scan", *sources, "--project", str(project_file), "--workers", "2")
    assert first.returncode == 1, first.stderr  # some files failed: said in the exit code too
    assert f"{len(ALL_FORMATS) + 1} extracted, {len(BAD)} failed" in first.stdout

    errors = run_cli("errors", "--project", str(project_file)).stdout.splitlines()
    by_name = {Path(line.split("\t")[0]).name: line.split("\t") for line in errors}
    for name, stage in BAD.items():
        assert by_name[name][1] == stage, by_name[name]
        assert by_name[name][2]  # a reason a person can read
    assert by_name["gone.mp3"][1:] == ["playlist", "listed in week1.m3u: not found (moved or deleted?)"]
    assert "not a text file" in by_name["broken.m3u8"][2]
    assert len(errors) == len(BAD) + 2

    status = run_cli("status", "--project", str(project_file)).stdout
    assert f"Tracks:     {len(ALL_FORMATS) + 1 + len(BAD)}" in status
    assert f"Extracted:  {len(ALL_FORMATS) + 1}" in status and f"Failed:     {len(BAD)}" in status

    again = run_cli("scan", *sources, "--project", str(project_file))
    assert "nothing to do" in again.stdout and "0 new, 0 changed" in again.stdout


def test_features_export_has_path_and_named_columns(messy_library: Path, tmp_path: Path) -> None:
    project_file = tmp_path / "p.audioid"
    run_cli("scan", str(messy_library / "good"), "--project", str(project_file), "--workers", "1")
    csv_file = tmp_path / "features.csv"
    done = run_cli("features", "--project", str(project_file), "--export", str(csv_file))
    assert done.returncode == 0, done.stderr
    header, *rows = csv_file.read_text(encoding="utf-8").splitlines()
    assert header.split(",") == ["path", *FEATURE_NAMES]
    assert header.startswith("path,mfcc_01_mean,mfcc_01_std,") and ",pitch_glide,vad_mean," in header
    assert len(rows) == len(ALL_FORMATS) + 1
    assert any("Ça va – ünïcode outro.mp3" in r for r in rows)


def test_changed_file_and_new_segment_are_redone_and_nothing_else(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    for i in range(3):
        write_audio(folder / f"c{i}.wav", tone(12, 300 + 100 * i))
    with Project(tmp_path / "p.audioid") as project:
        project.import_sources([folder])
        assert run_extraction(project, workers=1).extracted == 3
        write_audio(folder / "c1.wav", tone(13, 900))
        os.utime(folder / "c1.wav", (time.time() + 5, time.time() + 5))
        project.import_sources([folder])
        assert project.status(VERSION).stale == 1
        redo = run_extraction(project, workers=1)
        assert (redo.planned, redo.extracted) == (1, 1)
        project.segment = project.segment.parse("first:5")
        assert project.status(VERSION).stale == 3
        assert run_extraction(project, workers=1).extracted == 3
        assert project.feature_table(VERSION).matrix.shape == (3, len(FEATURE_NAMES))


def test_same_file_from_folder_and_playlist_is_one_track(tmp_path: Path) -> None:
    write_audio(tmp_path / "music" / "a.ogg", tone(2))
    (tmp_path / "list.m3u8").write_text("music/a.ogg\n./music/../music/a.ogg\n", encoding="utf-8")
    with Project(tmp_path / "p.audioid") as project:
        report = project.import_sources([tmp_path / "music", tmp_path / "list.m3u8", tmp_path / "music" / "a.ogg"])
        assert report.added == 1 and project.status(VERSION).tracks == 1
        assert project.playlists() == {"list": [str(tmp_path / "music" / "a.ogg")] * 2}


def test_file_deleted_between_listing_and_decoding_is_an_error_not_a_crash(tmp_path: Path) -> None:
    for name in ("stays.wav", "goes.wav"):
        write_audio(tmp_path / "in" / name, tone(11))
    with Project(tmp_path / "p.audioid") as project:
        project.import_sources([tmp_path / "in"])
        (tmp_path / "in" / "goes.wav").unlink()
        result = run_extraction(project, workers=2)
        assert (result.extracted, result.failed) == (1, 1)
        assert result.errors[0].stage == "open" and "not found" in result.errors[0].message
        (error,) = project.errors()  # what the project says of it now
        assert (error.stage, error.message) == ("gone", "file is gone (deleted or renamed)")


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    """Run the scan as an unprivileged user (root reads anything) over a file it may not read."""
    if os.geteuid() == 0:
        user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to drop root")
    else:
        user = []
    shared = Path(os.environ.get("TMPDIR", "/tmp")) / f"audioid-perm-{os.getpid()}"
    shutil.rmtree(shared, ignore_errors=True)
    shared.mkdir(mode=0o777)
    try:
        os.chmod(shared, 0o777)
        write_audio(shared / "open.wav", tone(11))
        write_audio(shared / "locked.wav", tone(11))
        os.chmod(shared / "locked.wav", 0)
        project = shared / "p.audioid"
        env = {**os.environ, "HOME": str(shared), "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = [*user, sys.executable, "-m", "audioid_gui.cli"]
        done = subprocess.run([*cmd, "scan", str(shared), "--project", str(project), "--workers", "1"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stderr
        assert "1 extracted, 1 failed" in done.stdout
        errors = subprocess.run([*cmd, "errors", "--project", str(project)], env=env, capture_output=True, text=True)
        assert "locked.wav\topen\tpermission denied" in errors.stdout
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _slow_library(folder: Path, n: int) -> None:
    base = folder / "base.flac"
    write_audio(base, two_part_signal(20, 10))
    for i in range(n):
        shutil.copy(base, folder / f"clip{i:03d}.flac")
    base.unlink()


def _extracted(project_file: Path) -> int:
    db = sqlite3.connect(project_file, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM features").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def _scan_until(project_file: Path, library: Path, extracted: int) -> subprocess.Popen:
    """Start `audioid scan` in its own process group and return once it has finished some files."""
    scan = subprocess.Popen(
        [sys.executable, "-m", "audioid_gui.cli", "scan", str(library), "--project", str(project_file),
         "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while _extracted(project_file) < extracted and time.monotonic() < deadline and scan.poll() is None:
        time.sleep(0.05)
    return scan


@pytest.mark.slow
def test_killed_scan_keeps_finished_work_and_the_rerun_does_only_the_rest(tmp_path: Path) -> None:
    _slow_library(tmp_path / "lib", 120)
    project_file = tmp_path / "p.audioid"
    scan = _scan_until(project_file, tmp_path / "lib", 10)
    os.killpg(scan.pid, signal.SIGKILL)
    scan.communicate()
    kept = _extracted(project_file)
    assert 10 <= kept < 120, "the scan should have been killed part-way"
    rerun = run_cli("scan", str(tmp_path / "lib"), "--project", str(project_file), "--workers", "2")
    assert f"{120 - kept} extracted, 0 failed" in rerun.stdout, rerun.stdout + rerun.stderr
    assert _extracted(project_file) == 120


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``: a scan's workers and helpers."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table in /proc")
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_scan_leaves_no_worker_running(tmp_path: Path, signum: int) -> None:
    """The signal goes to the scan alone, as `kill PID` sends it, not to its process group."""
    _slow_library(tmp_path / "lib", 60)
    scan = _scan_until(tmp_path / "p.audioid", tmp_path / "lib", 2)
    try:
        workers = _children(scan.pid)
        assert len(workers) >= 2, "the scan should be running its workers"
        os.kill(scan.pid, signum)
        assert scan.wait(timeout=30) == -signum
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _running(pid)], "workers outlived their scan"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(scan.pid, signal.SIGKILL)  # whatever is left, so that a failure leaks nothing
        scan.communicate()


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_says_a_rerun_resumes(tmp_path: Path) -> None:
    _slow_library(tmp_path / "lib", 120)
    project_file = tmp_path / "p.audioid"
    scan = _scan_until(project_file, tmp_path / "lib", 5)
    scan.send_signal(signal.SIGINT)
    out, err = scan.communicate(timeout=60)
    assert scan.returncode == 130
    assert "a re-run resumes" in err and "left for the next scan" in out
    assert 5 <= _extracted(project_file) < 120


def test_cancel_token_stops_an_extraction_between_files(tmp_path: Path) -> None:
    for i in range(6):
        write_audio(tmp_path / "in" / f"c{i}.wav", tone(11, 200 + 50 * i))
    token = CancelToken()
    seen = []

    def progress(p):  # cancel as soon as the second file is done, like a Cancel button would
        seen.append(p.done)
        if p.done == 2:
            token.cancel()

    with Project(tmp_path / "p.audioid") as project:
        project.import_sources([tmp_path / "in"])
        result = run_extraction(project, workers=1, progress=progress, cancel=token)
        assert result.cancelled and result.extracted == 2
        assert run_extraction(project, workers=1).extracted == 4
