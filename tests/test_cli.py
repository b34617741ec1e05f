"""The ``audioid`` command as a user types it."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import soundfile as sf

from audioid_gui.core import store

from .conftest import REPO, run_cli, tone, write_audio


def test_demo_builds_a_ready_project_and_status_reports_it(tmp_path: Path) -> None:
    done = run_cli("demo", "--project", str(tmp_path / "demo.audioid"))
    assert done.returncode == 0, done.stderr
    assert "30 extracted, 0 failed" in done.stdout
    assert "green_cluster" in done.stdout and "orange_cluster" in done.stdout
    status = run_cli("status", "--project", str(tmp_path / "demo.audioid")).stdout
    assert "Tracks:     30" in status and "Extracted:  30" in status and "Playlists:  2" in status


def test_project_defaults_to_the_environment_then_the_current_folder(tmp_path: Path) -> None:
    write_audio(tmp_path / "in" / "a.wav", tone(3))
    run_cli("scan", "in", "--workers", "1", cwd=tmp_path)
    assert (tmp_path / "audioid.sqlite").exists()
    env_project = tmp_path / "from_env.audioid"
    run_cli("scan", "in", "--workers", "1", cwd=tmp_path, env={"AUDIOID_PROJECT": str(env_project)})
    assert "Tracks:     1" in run_cli("status", env={"AUDIOID_PROJECT": str(env_project)}).stdout


def test_missing_newer_or_foreign_project_gives_a_message_not_a_traceback(tmp_path: Path) -> None:
    missing = run_cli("status", "--project", str(tmp_path / "nope.audioid"))
    assert missing.returncode == 2 and "no project at" in missing.stderr and "Traceback" not in missing.stderr
    newer = tmp_path / "newer.audioid"
    run_cli("status", "--project", str(newer))
    run_cli("scan", str(tmp_path), "--project", str(newer), "--workers", "1")
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version={store.SCHEMA_VERSION + 5}")
    db.close()
    refused = run_cli("status", "--project", str(newer))
    assert refused.returncode == 2 and "newer AudioID" in refused.stderr and "Traceback" not in refused.stderr


def test_bad_segment_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("scan", str(tmp_path), "--segment", "end:10", "--project", str(tmp_path / "p.audioid"))
    assert done.returncode == 2 and "segment 'end:10' not understood" in done.stderr


def test_export_clips_cuts_the_segment_of_each_track(tmp_path: Path) -> None:
    write_audio(tmp_path / "in" / "long.flac", tone(25, 440, 44_100), sr=44_100)
    write_audio(tmp_path / "in" / "other.m4a", tone(15, 440))
    project = str(tmp_path / "p.audioid")
    run_cli("scan", str(tmp_path / "in"), "--project", project, "--workers", "1")
    done = run_cli("export-clips", "--project", project, "--out", str(tmp_path / "clips"), "--format", "flac")
    assert done.returncode == 0, done.stderr
    clips = sorted((tmp_path / "clips").iterdir())
    assert [c.name for c in clips] == ["long.last-10s.flac", "other.last-10s.flac"]
    info = sf.info(clips[0])
    assert abs(info.duration - 10) < 0.05 and info.samplerate == 44_100


def test_features_export_to_stdout(tmp_path: Path) -> None:
    write_audio(tmp_path / "in" / "a.ogg", tone(4))
    project = str(tmp_path / "p.audioid")
    run_cli("scan", str(tmp_path / "in"), "--project", project, "--workers", "1")
    out = run_cli("features", "--project", project, "--export", "-").stdout.splitlines()
    assert len(out) == 2 and out[1].startswith(str(tmp_path / "in" / "a.ogg"))


def test_sample_playlists_point_at_the_bundled_clips() -> None:
    for playlist in (REPO / "sample_playlists").glob("*.m3u*"):
        for line in playlist.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                assert not Path(line).is_absolute()
                assert (playlist.parent / line).is_file(), line


def test_labels_round_trip_through_csv_and_the_journals_json(tmp_path: Path) -> None:
    write_audio(tmp_path / "in" / "one.wav", tone(2))
    write_audio(tmp_path / "in" / "two.wav", tone(2))
    project = str(tmp_path / "p.audioid")
    run_cli("scan", str(tmp_path / "in"), "--project", project, "--workers", "1")
    (tmp_path / "journal.json").write_text('{"one.wav": "Music", "two.wav": "D", "gone.wav": "Music", "one.wav ": "Jazz"}')
    done = run_cli("labels", "import", str(tmp_path / "journal.json"), "--project", project)
    assert "Imported 2 labels" in done.stdout and "not in the project: gone.wav" in done.stdout
    assert "unknown class 'Jazz'" in done.stdout
    run_cli("labels", "export", str(tmp_path / "out.csv"), "--project", project)
    rows = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert rows == ["path,label", f"{tmp_path / 'in' / 'one.wav'},Music", f"{tmp_path / 'in' / 'two.wav'},Dialogue"]
    other = str(tmp_path / "q.audioid")
    run_cli("scan", str(tmp_path / "in"), "--project", other, "--workers", "1")
    assert "Imported 2 labels" in run_cli("labels", "import", str(tmp_path / "out.csv"), "--project", other).stdout
    assert "Labelled:   2   (2 by ear, 0 from clusters)" in run_cli("status", "--project", other).stdout
