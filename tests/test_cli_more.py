"""The ``audioid`` command as scripts use it: where --project goes, what it exits with, what it
prints, that looking works while the window writes, and how soon it starts; and the time left
that the command and the window's job status show."""
from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from audioid_gui.core.project import Project
from audioid_gui.core.tasks import Estimate, Mark, Pace, Progress, estimate

from .conftest import labelled_clips, run_cli, tone, write_audio


def scanned(tmp_path: Path, *names: str) -> tuple[str, list[Path]]:
    """A project over a few short tones, scanned; its path and the audio files."""
    files = [write_audio(tmp_path / "in" / name, tone(3, 300 + 100 * i)) for i, name in enumerate(names)]
    project = str(tmp_path / "p.audioid")
    assert run_cli("scan", str(tmp_path / "in"), "--project", project, "--workers", "1").returncode == 0
    return project, files


# -- --project before or after the command ----------------------------------------------------------


def test_project_option_goes_before_or_after_the_command_and_after_wins(tmp_path: Path) -> None:
    project, _ = scanned(tmp_path, "a.wav", "b.wav")
    before = run_cli("--project", project, "status")
    assert before.returncode == 0, before.stderr
    assert "Tracks:     2" in before.stdout
    both = run_cli("--project", str(tmp_path / "elsewhere.audioid"), "status", "--project", project)
    assert both.returncode == 0 and "Tracks:     2" in both.stdout
    wrong_after = run_cli("--project", project, "status", "--project", str(tmp_path / "nope.audioid"))
    assert wrong_after.returncode == 2 and "no project at" in wrong_after.stderr


# -- exit codes -------------------------------------------------------------------------------------


def test_help_lists_the_exit_codes() -> None:
    text = run_cli("--help").stdout
    assert "exit status:" in text
    for code in ("0 ", "1 ", "2 ", "130"):
        assert f"\n  {code}" in text


def test_scanning_a_folder_that_does_not_exist_fails(tmp_path: Path) -> None:
    done = run_cli("scan", str(tmp_path / "nonexistent"), "--project", str(tmp_path / "p.audioid"))
    assert done.returncode == 1
    assert "no such file or folder" in done.stdout and "Traceback" not in done.stderr


def test_a_tag_run_where_a_file_vanished_fails_and_names_it(tmp_path: Path) -> None:
    project, (kept, vanished) = scanned(tmp_path, "kept.flac", "vanished.flac")
    for file in (kept, vanished):
        assert run_cli("label", str(file), "Music", "--project", project).returncode == 0
    vanished.unlink()
    done = run_cli("tag", "--project", project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "wrote 1 file," in done.stdout and "vanished.flac" in done.stdout


def test_a_usage_mistake_exits_2(tmp_path: Path) -> None:
    project, _ = scanned(tmp_path, "a.wav")
    assert run_cli("label", "a.wav", "Jazz", "--project", project).returncode == 2
    assert run_cli("cluster", "--method", "nope", "--project", project).returncode == 2


# -- reading while the window writes --------------------------------------------------------------


def test_reading_commands_work_while_the_window_writes_and_writing_ones_say_it_is_in_use(
        demo_project: Path, tmp_path: Path) -> None:
    project = str(demo_project)
    with Project(demo_project, writer=True) as window:
        first = window.track_paths()[0]
        window.set_label(window.track_id(first), "Dialogue")
        status = run_cli("status", "--project", project)
        assert status.returncode == 0, status.stderr
        assert "Labelled:   1 " in status.stdout
        for args in (["errors"], ["queue", "--n", "3"], ["features", "--export", str(tmp_path / "f.csv")],
                     ["tag", "--dry-run"], ["tag", "--history"], ["labels", "export", str(tmp_path / "l.csv")]):
            done = run_cli(*args, "--project", project)
            assert done.returncode == 0, (args, done.stderr)
        assert len((tmp_path / "f.csv").read_text(encoding="utf-8").splitlines()) == 31
        dry = run_cli("tag", "--dry-run", "--project", project).stdout
        assert f"(none) -> Dialogue  [human]  {first}" in dry
        refused = run_cli("label", first, "Music", "--project", project)
        assert refused.returncode == 2
        assert "open in another AudioID window or command" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert window.current_label(window.track_id(first)).class_name == "Dialogue"


def test_a_read_only_project_refuses_writes(demo_project: Path) -> None:
    with Project(demo_project, read_only=True) as looking:
        assert looking.status("3").tracks == 30
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            looking.set_label(looking.track_id(looking.track_paths()[0]), "Music")
    with Project(demo_project) as again:
        assert again.status("3").labelled == 0


# -- what the commands print ------------------------------------------------------------------------


def test_status_tells_labels_by_ear_from_cluster_labels_and_the_remembered_options(demo_project: Path) -> None:
    project = str(demo_project)
    assert run_cli("cluster", "--k", "3", "--assign", "1=Music", "--project", project).returncode == 0
    with Project(demo_project) as p:
        p.set_label(p.track_id(p.track_paths()[-1]), "Dialogue")
    assert run_cli("train", "--cluster-weight", "0.5", "--fold", "Both=Music", "--no-evaluate",
                   "--project", project).returncode == 2  # too few labels by ear: the options stay
    status = run_cli("status", "--project", project).stdout
    lines = status.splitlines()
    labelled = next(line for line in lines if line.startswith("Labelled:"))
    assert "(1 by ear, 10 from clusters)" in labelled or "(1 by ear, 9 from clusters)" in labelled
    music = next(line for line in lines if line.strip().startswith("Music")).split()
    assert music[1] == "0" and int(music[2]) >= 9  # the cluster's labels, none heard
    dialogue = next(line for line in lines if line.strip().startswith("Dialogue")).split()
    assert dialogue[1] == "1"
    assert "--cluster-weight 0.5" in status and "--fold Both=Music" in status and "--model auto" in status
    train_help = run_cli("train", "--help").stdout
    for option in ("--cluster-weight", "--folds", "--fold", "--model"):
        assert "remembered" in option_help(train_help, option), option


def option_help(help_text: str, option: str) -> str:
    """The help of one option, as one line."""
    entries = re.split(r"\n  (?=-)", help_text.split("options:", 1)[1])
    return " ".join(next(e for e in entries if e.split()[:1] == [option]).split())


def test_no_errors_is_said_on_stdout(tmp_path: Path) -> None:
    project, _ = scanned(tmp_path, "a.wav")
    done = run_cli("errors", "--project", project)
    assert done.stdout.strip() == "No errors." and done.stderr == ""


def test_cluster_help_names_only_commands_that_exist() -> None:
    text = " ".join(run_cli("cluster", "--help").stdout.split())
    assert "labels history" not in text
    assert "`audioid label`" in text and "--cluster-weight" in text
    assert run_cli("label", "--help").returncode == 0


def test_queue_names_its_columns(demo_project: Path) -> None:
    lines = run_cli("queue", "--n", "3", "--project", str(demo_project)).stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("#"))
    assert lines[header].split() == ["#", "model's", "guess", "/", "runner-up", "track"]
    entries = lines[header + 1:]
    assert len(entries) == 3 and all(e.split()[1] == "explore" and "outro" in e for e in entries)


# -- start-up -------------------------------------------------------------------------------------


HEAVY = ("numpy", "scipy", "sklearn", "librosa", "soundfile", "onnxruntime", "matplotlib")


def modules_loaded_by(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nprint(sorted(sys.modules))"],
                          capture_output=True, text=True, check=True)
    loaded = set(eval(done.stdout.strip().splitlines()[-1]))
    return [m for m in HEAVY if m in loaded]


def test_the_command_line_starts_without_the_numeric_stack() -> None:
    assert modules_loaded_by("from audioid_gui import cli\ncli.build_parser().parse_args(['status'])") == []


def test_labeling_from_a_script_loads_no_model_or_analysis_library(tmp_path: Path) -> None:
    project, (file,) = scanned(tmp_path, "a.wav")
    loaded = modules_loaded_by(f"from audioid_gui.cli import main\nmain(['label', {str(file)!r}, 'Music', "
                               f"'--project', {project!r}])")
    assert not {"scipy", "sklearn", "librosa", "onnxruntime", "matplotlib"} & set(loaded)


# -- time left ------------------------------------------------------------------------------------


def test_time_left_is_measured_from_the_first_finished_file_not_from_the_start() -> None:
    # Workers take 20 s to start, then do 2 files a second: 30 files take 35 s, not 14 minutes.
    first = Mark(at=20.0, done=1)
    assert estimate(None, Mark(20.0, 1), 30) is None  # nothing finished before: no figure
    assert estimate(first, Mark(20.5, 2), 30) is None  # too few files yet to tell a pace
    later = estimate(first, Mark(22.0, 5), 30)
    assert later == Estimate(rate=2.0, seconds_left=12.5)
    assert later.left_text() == "12s"
    assert estimate(first, Mark(22.0, 5), 0) is None  # total unknown


def test_pace_follows_progress_reports_and_starts_over_for_a_new_phase() -> None:
    now = [0.0]
    pace = Pace(clock=lambda: now[0])
    for at, done in ((0.0, 0), (20.0, 1), (21.0, 3)):
        now[0] = at
        assert pace(Progress(done, 100)) is None
    now[0] = 22.0
    assert pace(Progress(5, 100)) == Estimate(rate=2.0, seconds_left=47.5)
    now[0] = 23.0
    assert pace(Progress(1, 10)) is None  # another phase: its own first file
    assert Estimate(1.0, 7 * 60).left_text() == "7m" and Estimate(1.0, 5400).left_text() == "1.5h"


def test_the_windows_job_status_shows_time_left_only_once_files_have_finished(qtbot) -> None:
    from audioid_gui.gui.job_status import JobStatus
    from audioid_gui.gui.workers import Job

    now = [0.0]
    status = JobStatus(clock=lambda: now[0])
    qtbot.addWidget(status)
    status.show()
    release = threading.Event()
    job = Job("Extracting features", lambda progress, cancel: release.wait(30))
    status.submit(job)
    try:
        for at, done in ((0.0, 0), (20.0, 1), (21.0, 3)):  # 20 s of worker start-up, then 2 files/s
            now[0] = at
            job.progress.emit(Progress(done, 30, "outro.mp3"))
            assert status.bar.format() == f"{done} / 30"
        now[0] = 22.0
        job.progress.emit(Progress(5, 30, "outro.mp3"))
        assert status.bar.format() == "5 / 30 · 12s left"
        bar_at = status.bar.x()
        job.progress.emit(Progress(6, 30, "a very long file name of a broadcast recorded in 2019 (part 2).flac"))
        assert status.bar.x() == bar_at  # the bar does not jump with the length of the name
        assert status.text.text().endswith(".flac") and "…" in status.text.text()
    finally:
        release.set()
    qtbot.waitUntil(lambda: not status.busy())


# -- set-up ---------------------------------------------------------------------------------------


@pytest.fixture()
def dev(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """dev.py as a module, with an apt-get on PATH that cannot take its lock."""
    import importlib.util

    from .conftest import REPO

    fake = tmp_path / "bin" / "apt-get"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho \"$@\" >> \"$(dirname \"$0\")/calls\"\n"
                    "echo 'E: Could not get lock /var/lib/dpkg/lock-frontend' >&2\nexit 100\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    spec = importlib.util.spec_from_file_location("dev_script", REPO / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_setup_says_what_failed_when_apt_cannot_take_its_lock(dev, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    monkeypatch.setattr(dev, "is_root", lambda: True)
    assert dev.apt_install(["libxcb-cursor0", "libegl1"]) is False
    out = capsys.readouterr().out
    assert "`apt-get install` failed" in out
    assert "\n[dev]     apt-get install -y libegl1 libxcb-cursor0\n" in out and "sudo" not in out
    calls = (tmp_path / "bin" / "calls").read_text().splitlines()
    assert all("DPkg::Lock::Timeout=120" in call for call in calls) and len(calls) == 2


def test_setup_suggests_sudo_only_to_someone_who_is_not_root(dev, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(dev, "is_root", lambda: False)
    assert dev.apt_install(["libegl1"]) is False
    assert "sudo apt-get install -y libegl1" in capsys.readouterr().out


def test_undo_refuses_a_dry_run_and_a_batch_that_does_not_exist(tmp_path: Path) -> None:
    """`tag --undo --dry-run` once restored a file from a read-only project and then crashed;
    `--undo 99` said "0 files restored" and succeeded."""
    project, folder = labelled_clips(tmp_path)
    assert run_cli("tag", "--project", str(project)).returncode == 0
    written = (folder / "outro 01.mp3").read_bytes()
    dry = run_cli("tag", "--undo", "--dry-run", "--project", str(project))
    assert dry.returncode == 2 and "cannot be a dry run" in dry.stderr and "Traceback" not in dry.stderr
    assert (folder / "outro 01.mp3").read_bytes() == written
    missing = run_cli("tag", "--undo", "99", "--project", str(project))
    assert missing.returncode == 2 and "no tag batch 99" in missing.stderr
    assert run_cli("tag", "--undo", "1", "--project", str(project)).returncode == 0
    again = run_cli("tag", "--undo", "1", "--project", str(project))
    assert again.returncode == 0 and "changes no file any more" in again.stdout


def test_a_finished_progress_bar_says_how_long_it_took() -> None:
    import io

    from audioid_gui.cli import ProgressBar
    from audioid_gui.core.tasks import Progress

    out = io.StringIO()
    bar = ProgressBar(stream=out)
    bar(Progress(0, 3, ""))
    bar(Progress(3, 3, ""))
    assert "3/3  done in" in out.getvalue() and "eta ?" not in out.getvalue().splitlines()[-1]
