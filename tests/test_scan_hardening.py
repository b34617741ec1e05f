"""Hostile input to scan and import: pipes, lying headers, odd names, odd playlists, odd label files.

Each ends in a clear message for that one item while the rest goes on; nothing blocks.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import struct
from pathlib import Path
from typing import Iterator

import pytest

from audioid_gui.core import audio
from audioid_gui.core.audio import AudioError, SegmentSpec, decode_segment, find_trailing_silence, probe
from audioid_gui.core.clips import export_clip
from audioid_gui.core.extraction import extract_track
from audioid_gui.core.features import VERSION
from audioid_gui.core.labels_io import LabelFileError, export_labels, import_labels, read_label_file
from audioid_gui.core.library import find_audio_files, loaded_path, readable, stored_path
from audioid_gui.core.playlists import PlaylistError, read_playlist
from audioid_gui.core.project import Project, TrackRef

from .conftest import run_cli, tone, write_audio

PIPE_MESSAGE = "a named pipe (FIFO), not a regular file: never opened"


class Blocked(BaseException):
    """Raised in a test that blocked: not an Exception, so that no ``except Exception`` of the code
    under test can swallow it."""


@pytest.fixture()
def never_blocks() -> Iterator[None]:
    """Fail, rather than hang the run, if the code under test blocks on a pipe: after 30 s, and
    every second after that (each blocked ``open`` is interrupted in turn)."""
    def stuck(*_: object) -> None:
        raise Blocked("blocked for 30 s: a named pipe was opened")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.setitimer(signal.ITIMER_REAL, 30, 1)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _track(path: Path) -> TrackRef:
    return TrackRef(1, str(path), 0, 0.0, None)


# -- named pipes and files that are no audio --------------------------------------------------------


def test_named_pipe_called_mp3_is_reported_and_every_scan_ends(tmp_path: Path) -> None:
    library = tmp_path / "radio"
    write_audio(library / "outro.wav", tone(11))
    os.mkfifo(library / "stuck.mp3")
    project = str(tmp_path / "p.audioid")
    first = run_cli("scan", str(library), "--project", project, "--workers", "2", timeout=120)
    assert "1 extracted, 1 failed" in first.stdout, first.stderr
    assert f"stuck.mp3\topen\t{PIPE_MESSAGE}" in run_cli("errors", "--project", project).stdout
    again = run_cli("scan", str(library), "--project", project, "--workers", "2", timeout=120)
    assert "nothing to do" in again.stdout, again.stderr


def test_decoders_refuse_a_named_pipe_without_opening_it(tmp_path: Path, never_blocks: None) -> None:
    pipe = tmp_path / "stuck.mp3"
    os.mkfifo(pipe)
    for read in (probe, decode_segment, lambda p: export_clip(p, SegmentSpec(), tmp_path / "clip.mp3")):
        with pytest.raises(AudioError, match="named pipe") as refused:
            read(pipe)
        assert refused.value.stage == "open"
    assert find_trailing_silence(pipe) is None
    assert extract_track(_track(pipe), SegmentSpec()).message == PIPE_MESSAGE


def test_named_pipe_in_a_playlist_is_an_error_and_never_opened(tmp_path: Path, never_blocks: None) -> None:
    write_audio(tmp_path / "a.wav", tone(1))
    os.mkfifo(tmp_path / "stuck.mp3")
    (tmp_path / "pipes.m3u").write_text("stuck.mp3\na.wav\n")
    present, problems = read_playlist(tmp_path / "pipes.m3u").importable()
    assert [e.path.name for e in present] == ["a.wav"]
    assert problems == [(str(tmp_path / "stuck.mp3"),
                         "listed in pipes.m3u: a named pipe (FIFO), not an audio file: never opened")]


def test_named_pipe_as_a_playlist_or_label_file_is_refused(tmp_path: Path, never_blocks: None) -> None:
    os.mkfifo(tmp_path / "list.m3u")
    os.mkfifo(tmp_path / "labels.csv")
    with pytest.raises(PlaylistError, match=r"list.m3u: a named pipe \(FIFO\), not a regular file"):
        read_playlist(tmp_path / "list.m3u")
    with pytest.raises(LabelFileError, match=r"labels.csv: a named pipe \(FIFO\), not a regular file"):
        read_label_file(tmp_path / "labels.csv")


def test_password_file_in_a_playlist_is_an_error_not_a_track(tmp_path: Path) -> None:
    write_audio(tmp_path / "music" / "a.wav", tone(1))
    secret = tmp_path / "etc" / "shadow"
    secret.parent.mkdir()
    secret.write_text("root:*:19000:0:99999:7:::\n")
    (tmp_path / "mix.m3u").write_text(f"music/a.wav\n{secret}\n")
    with Project(tmp_path / "p.audioid") as project:
        report = project.import_sources([tmp_path / "mix.m3u"])
        assert report.added == 1 and project.track_paths() == [str(tmp_path / "music" / "a.wav")]
        assert [(e.path, e.stage, e.message) for e in project.errors()] == [
            (str(secret), "playlist", "listed in mix.m3u: not an audio file (it has no audio extension): not imported")]


# -- headers that ask for too much ------------------------------------------------------------------


def _lying_wav(path: Path, channels: int, rate: int, apparent_bytes: int) -> Path:
    """A WAV whose header declares ``channels`` over a sparse file: 4 KB on disk, a gigabyte apparent."""
    block = channels * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, 16)
    data = b"data" + struct.pack("<I", 0xFFFFFFF0) + b"\x01\x02" * 2000
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + data
    path.write_bytes(b"RIFF" + struct.pack("<I", 0xFFFFFFF8) + body)
    os.truncate(path, apparent_bytes)
    return path


def test_header_declaring_1024_channels_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = _lying_wav(tmp_path / "bomb.wav", 1024, 44_100, 2**30)
    outcome = extract_track(_track(bomb), SegmentSpec())
    assert (outcome.stage, outcome.message) == (
        "decode", "the file declares 1,024 channels; at most 8 are read (a damaged header, or not a recording)")


def test_whole_segment_of_a_long_file_is_refused_with_its_size(tmp_path: Path) -> None:
    """A mono file of 3 h 22 min (sparse): ``whole`` would decode 535 million samples."""
    long = _lying_wav(tmp_path / "long.wav", 1, 44_100, 2**30 + 4096)
    with pytest.raises(AudioError, match=r"would decode to [0-9,]+ samples \(203 min of 1 channel at 44,100 Hz\)"
                                         r"; at most 67,108,864 are decoded at once: choose a shorter segment"):
        decode_segment(long, SegmentSpec.parse("whole"))


@pytest.mark.parametrize("fmt", ["wav", "m4a"])  # libsndfile, then ffmpeg
def test_segment_over_the_sample_cap_is_refused_by_either_decoder(
        fmt: str, format_library: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio, "MAX_SEGMENT_SAMPLES", 8 * audio.TARGET_SR)
    assert len(decode_segment(format_library[fmt], SegmentSpec.parse("first:4"))) == 4 * audio.TARGET_SR
    with pytest.raises(AudioError, match="choose a shorter segment") as refused:
        decode_segment(format_library[fmt], SegmentSpec.parse("whole"), sample_rate=None, channels=1)
    assert refused.value.stage == "decode"


# -- names and labels ---------------------------------------------------------------------------------


def test_readable_shows_bytes_that_are_not_utf8_as_replacement_characters() -> None:
    assert readable(os.fsdecode(b"/radio/caf\xe9 outro.mp3")) == "/radio/caf\ufffd outro.mp3"
    assert readable(Path("/radio/Zoë.mp3")) == "/radio/Zoë.mp3"
    assert readable("lone \ud800 surrogate") == "lone ? surrogate"


def test_paths_not_in_utf8_keep_their_bytes_through_sqlite(tmp_path: Path) -> None:
    name = os.fsdecode(b"/radio/caf\xe9.mp3")
    db = sqlite3.connect(tmp_path / "t.db")
    db.execute("CREATE TABLE tracks (path TEXT NOT NULL UNIQUE)")
    db.executemany("INSERT INTO tracks VALUES (?)", [(stored_path(name),), (stored_path("/radio/Zoë.mp3"),)])
    assert sorted(loaded_path(p) for (p,) in db.execute("SELECT path FROM tracks")) == sorted([name, "/radio/Zoë.mp3"])
    assert db.execute("SELECT count(*) FROM tracks WHERE path = ?", (stored_path(name),)).fetchone() == (1,)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO tracks VALUES (?)", (stored_path(name),))


def test_name_not_in_utf8_is_found_and_can_be_opened(tmp_path: Path) -> None:
    write_audio(tmp_path / "good.wav", tone(11))
    odd = tmp_path / os.fsdecode(b"caf\xe9.wav")
    os.link(tmp_path / "good.wav", odd)
    found = list(find_audio_files(tmp_path, lambda folder, why: None))
    assert found == [odd, tmp_path / "good.wav"]
    assert extract_track(_track(odd), SegmentSpec()).vector is not None


def test_folder_with_a_name_not_in_utf8_imports_every_file(tmp_path: Path) -> None:
    for name in ("a.wav", "b.wav"):
        write_audio(tmp_path / "in" / name, tone(1))
    os.link(tmp_path / "in" / "a.wav", tmp_path / "in" / os.fsdecode(b"caf\xe9.wav"))
    with Project(tmp_path / "p.audioid") as project:
        assert project.import_sources([tmp_path / "in"]).added == 3
        assert project.status(VERSION).tracks == 3


def test_labels_of_paths_with_newlines_commas_and_quotes_survive_export_and_import(tmp_path: Path) -> None:
    names = ["line\nbreak.wav", 'comma, "quoted".wav', "plain.wav"]
    for name in names:
        write_audio(tmp_path / "in" / name, tone(1))
    exported = tmp_path / "labels.csv"
    with Project(tmp_path / "first.audioid") as first:
        first.import_sources([tmp_path / "in"])
        ids = {os.path.basename(p): i for i, p in first.paths_by_id().items()}
        first.set_labels([ids["line\nbreak.wav"], ids["plain.wav"]], "Music")
        first.set_labels([ids['comma, "quoted".wav']], "Dialogue")
        assert export_labels(first, exported) == 3
        labelled = first.current_labels()
    assert dict(read_label_file(exported)) == labelled
    assert labelled[str(tmp_path / "in" / "line\nbreak.wav")] == "Music"
    with Project(tmp_path / "second.audioid") as second:
        second.import_sources([tmp_path / "in"])
        result = import_labels(second, exported)
        assert (result.imported, result.unknown_tracks, result.unknown_classes) == (3, [], {})
        assert second.current_labels() == labelled


def test_named_pipe_track_is_refused_by_the_tag_writer(tmp_path: Path) -> None:
    """A pipe imported as a track and labelled: ``tag`` says why it left it, and ends."""
    write_audio(tmp_path / "in" / "a.wav", tone(1))
    os.mkfifo(tmp_path / "in" / "stuck.mp3")
    project = tmp_path / "p.audioid"
    with Project(project) as opened:
        opened.import_sources([tmp_path / "in"])
        opened.set_labels(list(opened.paths_by_id()), "Music")
    done = run_cli("tag", "--project", str(project), timeout=120)
    assert "stuck.mp3" in done.stdout and "not a regular file" in done.stdout, done.stdout + done.stderr
    assert "Traceback" not in done.stderr


# -- playlists through the project ----------------------------------------------------------------


def test_each_bad_playlist_entry_is_one_error_record_and_the_rest_imports(tmp_path: Path) -> None:
    write_audio(tmp_path / "music" / "a.wav", tone(1))
    write_audio(tmp_path / "music" / "b.wav", tone(1))
    (tmp_path / "music" / "folder.mp3").mkdir()
    long_name = "x" * 300 + ".mp3"
    (tmp_path / "odd.m3u8").write_text(
        f"music/a.wav\n~nosuchuser/x.mp3\nmusic/{long_name}\nmusic/folder.mp3\nmusic/gone.mp3\nmusic/b.wav\n"
        "http://radio.example/stream.mp3\n", encoding="utf-8")
    with Project(tmp_path / "p.audioid") as project:
        report = project.import_sources([tmp_path / "odd.m3u8"])
        assert report.added == 2 and report.playlists == ["odd"]
        assert project.playlists() == {"odd": [str(tmp_path / "music" / "a.wav"), str(tmp_path / "music" / "b.wav")]}
        assert report.notes == ["odd.m3u8: http://radio.example/stream.mp3: a stream URL, not a file: skipped"]
        assert sorted((e.path, e.message) for e in project.errors()) == sorted([
            ("~nosuchuser/x.mp3", "listed in odd.m3u8: there is no user 'nosuchuser' on this machine, "
                                  "so ~nosuchuser leads nowhere"),
            (str(tmp_path / "music" / long_name),
             "listed in odd.m3u8: the name is longer than the file system allows, so no such file can exist"),
            (str(tmp_path / "music" / "folder.mp3"), "listed in odd.m3u8: a folder, not an audio file: never opened"),
            (str(tmp_path / "music" / "gone.mp3"), "listed in odd.m3u8: not found (moved or deleted?)"),
        ])


def test_twenty_thousand_missing_entries_are_recorded_once_each(tmp_path: Path) -> None:
    """One record per entry, and none twice when the playlist is imported again."""
    (tmp_path / "big.m3u8").write_text("".join(f"gone/{i:06d}.mp3\n" for i in range(20_000)), encoding="utf-8")
    with Project(tmp_path / "p.audioid") as project:
        for _ in range(2):
            assert len(project.import_sources([tmp_path / "big.m3u8"]).errors) == 20_000
        errors = project.errors()
    assert len(errors) == 20_000 and len({e.path for e in errors}) == 20_000
    assert errors[0].message == "listed in big.m3u8: not found (moved or deleted?)"
    done = run_cli("scan", str(tmp_path / "big.m3u8"), "--project", str(tmp_path / "p.audioid"))
    assert done.stdout.count("listed in big.m3u8") == 20 and "... and 19,980 more: see `audioid errors`" in done.stdout


# -- names that are not UTF-8, through the command line -------------------------------------------


def test_name_not_in_utf8_is_scanned_labelled_and_shown_readably(tmp_path: Path) -> None:
    write_audio(tmp_path / "in" / "good.wav", tone(11))
    odd = tmp_path / "in" / os.fsdecode(b"caf\xe9.wav")
    os.link(tmp_path / "in" / "good.wav", odd)
    os.mkfifo(tmp_path / "in" / os.fsdecode(b"pipe \xff.mp3"))
    project = str(tmp_path / "p.audioid")
    done = run_cli("scan", str(tmp_path / "in"), "--project", project, "--workers", "1", timeout=120)
    assert "2 extracted, 1 failed" in done.stdout and "Traceback" not in done.stderr, done.stderr
    assert f"open: {tmp_path}/in/pipe \ufffd.mp3: {PIPE_MESSAGE}" in done.stdout
    errors = run_cli("errors", "--project", project)
    assert errors.stdout == f"{tmp_path}/in/pipe \ufffd.mp3\topen\t{PIPE_MESSAGE}\n", errors.stderr
    with Project(project) as opened:
        opened.set_label(opened.track_id(odd), "Music")
        assert opened.current_labels() == {str(odd): "Music"}
    exported = tmp_path / "labels.csv"
    assert run_cli("labels", "export", str(exported), "--project", project).returncode == 0
    with Project(tmp_path / "again.audioid") as again:
        again.import_sources([tmp_path / "in"])
        assert run_cli("labels", "import", str(exported), "--project", str(again.path)).returncode == 0
        assert again.current_labels() == {str(odd): "Music"}


def test_track_table_shows_a_name_not_in_utf8_readably(tmp_path: Path, qtbot) -> None:
    from PySide6.QtCore import Qt

    from audioid_gui.core.extraction import run_extraction
    from audioid_gui.gui.track_table import TrackTableModel, TrackTableView

    write_audio(tmp_path / "in" / "good.wav", tone(11))
    os.link(tmp_path / "in" / "good.wav", tmp_path / "in" / os.fsdecode(b"caf\xe9.wav"))
    os.mkfifo(tmp_path / "in" / os.fsdecode(b"pipe \xff.mp3"))
    project = Project(tmp_path / "p.audioid")
    project.import_sources([tmp_path / "in"])
    run_extraction(project, workers=1)
    model = TrackTableModel()
    view = TrackTableView(model)
    qtbot.addWidget(view)
    view.resize(640, 160)
    model.set_project(project)
    view.show()
    qtbot.waitExposed(view)
    qtbot.keyClick(view, Qt.Key.Key_Down)  # the keys walk the rows as usual
    shown = {model.data(model.index(row, 0)) for row in range(model.rowCount())}
    assert shown == {"caf\ufffd.wav", "good.wav", "⚠ pipe \ufffd.mp3"}
    pipe_row = next(row for row in range(model.rowCount()) if "pipe" in model.data(model.index(row, 0)))
    assert model.data(model.index(pipe_row, 0), Qt.ItemDataRole.ToolTipRole) == (
        f"{tmp_path}/in/pipe \ufffd.mp3\nopen: {PIPE_MESSAGE}")
    assert model.data(model.index(pipe_row, 1)) == f"{tmp_path}/in"
    project.close()
