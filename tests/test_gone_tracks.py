"""Tracks whose file went away, and folders no path can reach: said by `status` and `errors`."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from audioid_gui.core.features import VERSION
from audioid_gui.core.project import GONE_MESSAGE, GoneTracks, Project

from .conftest import labelled_clips, run_cli, tone, write_audio


def test_deleted_and_renamed_tracks_are_counted_and_listed(tmp_path: Path) -> None:
    project, folder = labelled_clips(tmp_path)
    (folder / "outro 01.mp3").unlink()  # labelled Music
    (folder / "outro 03.mp3").rename(folder / "renamed.mp3")  # not labelled

    status = run_cli("status", "--project", str(project)).stdout.splitlines()
    assert "Gone:       2 tracks whose file was deleted or renamed   (see `audioid errors`)" in status
    assert "Extracted:  3   (2 of them gone from disk)" in status
    assert "Labelled:   2   (2 by ear, 0 from clusters)   (1 of them gone from disk)" in status

    errors = run_cli("errors", "--project", str(project)).stdout
    assert errors == (f"{folder}/outro 01.mp3\tgone\t{GONE_MESSAGE}\n"
                      f"{folder}/outro 03.mp3\tgone\t{GONE_MESSAGE}\n")
    assert GONE_MESSAGE == "file is gone (deleted or renamed)"


def test_a_file_that_comes_back_is_no_longer_gone(tmp_path: Path) -> None:
    project_file, folder = labelled_clips(tmp_path)
    shutil.move(folder, tmp_path / "away")
    with Project(project_file) as project:
        assert project.gone_tracks(VERSION) == GoneTracks(tracks=3, extracted=3, labelled=2)
        shutil.move(tmp_path / "away", folder)
        assert project.gone_tracks(VERSION) == GoneTracks(0, 0, 0) and project.errors() == []
    status = run_cli("status", "--project", str(project_file)).stdout
    assert "Gone:" not in status and "gone from disk" not in status


def _deep_folder(top: Path, depth: int) -> Path:
    """``depth`` nested folders of 200-character names, made relative to each other (no path that
    long can be given to mkdir), a clip in the first.  Returns the first folder."""
    write_audio(top / "shallow.wav", tone(1))
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for level in range(depth):
            name = f"{level:02d}" + "d" * 198
            os.mkdir(name, dir_fd=fd)
            deeper = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = deeper
        with open(os.open("lost.wav", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as clip:
            clip.write((top / "shallow.wav").read_bytes())
    finally:
        os.close(fd)
    return top


def test_folder_past_path_max_is_an_error_record_not_a_warning(tmp_path: Path) -> None:
    top = _deep_folder(tmp_path / "library", 25)  # 25 x 201 bytes: past Linux's 4,096
    project = str(tmp_path / "p.audioid")
    done = run_cli("scan", str(top), "--project", project, "--workers", "1", timeout=120)
    assert "Imported: 1 new" in done.stdout, done.stdout + done.stderr
    assert "cannot list" not in done.stderr and "Traceback" not in done.stderr
    errors = run_cli("errors", "--project", project).stdout.splitlines()
    assert len(errors) == 1, errors
    path, stage, message = errors[0].split("\t")
    assert path.startswith(str(top)) and len(os.fsencode(path)) > 4096
    assert (stage, message) == ("import", "a folder that cannot be listed: its path is longer than the system "
                                          "allows (PATH_MAX); shorten the names of its folders")
    assert "(+1 import problem)" in run_cli("status", "--project", project).stdout
