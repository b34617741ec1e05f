"""The tag writer on real files of every format: the genre changes, nothing else does, undo works."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mutagen
import numpy as np
import pytest

from audioid_gui.core.audio import SegmentSpec, decode_segment
from audioid_gui.core.extraction import scan
from audioid_gui.core.features import VERSION
from audioid_gui.core.project import Project
from audioid_gui.core.tags import PRIVATE_KEY, apply, new_genres, plan, read_tags, undo

from .conftest import ALL_FORMATS, REPO, run_cli

PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # a 10 kB "cover"


def add_existing_tags(path: Path) -> None:
    """Title, artist, a non-Latin comment and (where the format has them) a cover picture."""
    from mutagen.apev2 import APEv2File
    from mutagen.asf import ASF
    from mutagen.flac import FLAC, Picture
    from mutagen.id3 import APIC, COMM, ID3FileType, TIT2, TPE1
    from mutagen.mp4 import MP4, MP4Cover

    media = mutagen.File(path)
    if media.tags is None:
        media.add_tags()
    tags = media.tags
    if isinstance(media, ID3FileType) or type(media).__name__ in ("AIFF", "WAVE"):
        tags.add(TIT2(encoding=3, text=["Outro"]))
        tags.add(TPE1(encoding=3, text=["Станция"]))
        tags.add(COMM(encoding=3, lang="eng", desc="", text=["終わり"]))
        tags.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=PICTURE))
    elif isinstance(media, MP4):
        tags["\xa9nam"], tags["\xa9ART"] = ["Outro"], ["Станция"]
        tags["covr"] = [MP4Cover(PICTURE, imageformat=MP4Cover.FORMAT_PNG)]
    elif isinstance(media, ASF):
        tags["Title"], tags["Author"] = ["Outro"], ["Станция"]
    elif isinstance(media, APEv2File) or type(media).__name__ in ("WavPack", "Musepack", "MonkeysAudio"):
        tags["Title"], tags["Artist"] = "Outro", "Станция"
    else:
        tags["TITLE"], tags["ARTIST"] = ["Outro"], ["Станция"]
        if isinstance(media, FLAC):
            picture = Picture()
            picture.type, picture.mime, picture.data = 3, "image/png", PICTURE
            media.add_picture(picture)
    media.save()


def everything_but_genre(path: Path) -> dict[str, str]:
    """Every tag and picture as mutagen reads it, except the genre and our private field."""
    media = mutagen.File(path)
    skip = {"tcon", "genre", "©gen", "wm/genre", "gnre", PRIVATE_KEY.lower(), f"txxx:{PRIVATE_KEY}".lower(),
            f"----:com.audioid:{PRIVATE_KEY}".lower()}
    found = {str(k): repr(v) for k, v in (media.tags.items() if media.tags is not None else [])
             if str(k).lower() not in skip}
    for i, picture in enumerate(getattr(media, "pictures", [])):
        found[f"picture{i}"] = repr(picture.data)
    return found


@pytest.fixture()
def tagged_library(format_library: dict[str, Path], tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """A copy of one file per format, with existing tags, in a scanned project."""
    folder = tmp_path / "library"
    folder.mkdir()
    files = {}
    for fmt, source in format_library.items():
        files[fmt] = Path(shutil.copy(source, folder / source.name))
        add_existing_tags(files[fmt])
    project_file = tmp_path / "tags.audioid"
    with Project(project_file) as project:
        scan(project, [folder], workers=2)
    return project_file, files


def test_every_format_gets_the_genre_keeps_everything_else_and_undoes(tagged_library) -> None:
    project_file, files = tagged_library
    before_tags = {fmt: everything_but_genre(p) for fmt, p in files.items()}
    before_audio = {fmt: decode_segment(p, SegmentSpec.parse("whole")) for fmt, p in files.items()}
    with Project(project_file) as project:
        for path in project.track_paths():
            project.set_label(project.track_id(path), "Dialogue")
        result = apply(project, plan(project, private=True))
        assert result.errors == [] and result.written == len(ALL_FORMATS)
        for fmt, path in files.items():
            assert read_tags(path).genres == ["Dialogue"], fmt
            assert read_tags(path).private == "Dialogue", fmt
            assert everything_but_genre(path) == before_tags[fmt], fmt
            assert np.array_equal(decode_segment(path, SegmentSpec.parse("whole")), before_audio[fmt]), fmt
        status = project.status(VERSION)
        assert status.extracted == len(ALL_FORMATS) and status.stale == 0  # tags are not audio: no re-extraction
        restored = undo(project)
        assert restored.errors == [] and restored.written == len(ALL_FORMATS)
        for fmt, path in files.items():
            assert read_tags(path).genres == [] and read_tags(path).private is None, fmt
            assert everything_but_genre(path) == before_tags[fmt], fmt
            assert np.array_equal(decode_segment(path, SegmentSpec.parse("whole")), before_audio[fmt]), fmt
    assert not list(files["mp3"].parent.glob(".*audioid-tmp*"))


def test_modes_replace_append_fill() -> None:
    assert new_genres(["Jazz"], "Music", "replace") == ["Music"]
    assert new_genres(["Jazz"], "Music", "append") == ["Jazz", "Music"]
    assert new_genres(["Jazz", "music"], "Music", "append") == ["Jazz", "music"]
    assert new_genres(["Jazz"], "Music", "fill") == ["Jazz"]
    assert new_genres([], "Music", "fill") == ["Music"] and new_genres([" "], "Music", "fill") == ["Music"]


def test_the_id3_version_is_kept_and_appending_keeps_the_old_genre(tagged_library) -> None:
    from mutagen.id3 import ID3, TCON
    from mutagen.mp4 import MP4

    project_file, files = tagged_library
    tags = ID3(files["mp3"])
    tags.add(TCON(encoding=3, text=["Jazz"]))
    tags.save(v2_version=3)
    mp4 = MP4(files["m4a"])
    mp4.tags["\xa9gen"] = ["Metal"]
    mp4.save()
    with Project(project_file) as project:
        project.set_label(project.track_id(files["mp3"]), "Music")
        project.set_label(project.track_id(files["m4a"]), "Music")
        assert apply(project, plan(project, mode="append")).errors == []
    assert ID3(files["mp3"]).version[:2] == (2, 3) and read_tags(files["mp3"]).genres == ["Jazz", "Music"]
    assert MP4(files["m4a"]).tags["\xa9gen"] == ["Metal", "Music"]


def test_read_only_vanished_and_unreadable_files_are_reported_and_the_batch_goes_on(tagged_library) -> None:
    project_file, files = tagged_library
    files["flac"].chmod(0o444)
    files["ogg"].unlink()
    files["wav"].write_bytes(b"RIFF but not really")
    with Project(project_file) as project:
        for path in project.track_paths():
            project.set_label(project.track_id(path), "Both")
        result = apply(project, plan(project))
    problems = {Path(e.path).suffix: e.message for e in result.errors}
    assert set(problems) == {".flac", ".ogg", ".wav"}
    assert "read-only" in problems[".flac"] and "gone" in problems[".ogg"]
    assert result.written == len(ALL_FORMATS) - 3
    assert read_tags(files["flac"]).genres == [] and read_tags(files["mp3"]).genres == ["Both"]
    os.chmod(files["flac"], 0o644)


def test_only_sure_predictions_are_written(tagged_library) -> None:
    project_file, files = tagged_library
    with Project(project_file) as project:
        ids = [project.track_id(p) for p in project.track_paths()]
        probabilities = np.tile(np.array([0.95, 0.03, 0.02], dtype=np.float32), (len(ids), 1))
        probabilities[0] = [0.5, 0.3, 0.2]
        model = project.save_model(VERSION, "last:10", ["Music", "Dialogue", "Both"], {}, 0, b"")
        project.save_predictions(model, np.array(ids), ["Music", "Dialogue", "Both"], probabilities)
        the_plan = plan(project, min_confidence=0.9)
    assert len(the_plan.items) == len(ids) - 1 and the_plan.no_decision == 1
    assert all(i.source == "model" and i.new == ["Music"] for i in the_plan.items)


def test_tag_command_plans_applies_lists_and_undoes(tagged_library) -> None:
    project_file, files = tagged_library
    with Project(project_file) as project:
        project.set_label(project.track_id(files["mp3"]), "Music")
    project = str(project_file)
    dry = run_cli("tag", "--dry-run", "--project", project)
    assert dry.returncode == 0 and "(none) -> Music  [human]" in dry.stdout and read_tags(files["mp3"]).genres == []
    done = run_cli("tag", "--project", project)
    assert done.returncode == 0 and "wrote 1 file," in done.stdout and read_tags(files["mp3"]).genres == ["Music"]
    assert "1 file written" in run_cli("tag", "--history", "--project", project).stdout
    back = run_cli("tag", "--undo", "--project", project)
    assert back.returncode == 0 and "1 file restored" in back.stdout and read_tags(files["mp3"]).genres == []
    with Project(project_file) as p:
        p.set_label(p.track_id(files["flac"]), "Both")
    only_both = run_cli("tag", "--class", "Both", "--project", project)
    assert "wrote 1 file," in only_both.stdout and read_tags(files["mp3"]).genres == []
    assert read_tags(files["flac"]).genres == ["Both"]
    one = run_cli("tag", "--undo", "--file", str(files["flac"]), "--project", project)
    assert "1 file restored" in one.stdout and read_tags(files["flac"]).genres == []


def test_a_kill_mid_batch_damages_nothing_and_the_finished_part_undoes(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    source = REPO / "resources" / "demo" / "outro 01.mp3"
    for i in range(150):
        shutil.copy(source, folder / f"clip {i:03d}.mp3")
    project_file = tmp_path / "kill.audioid"
    assert run_cli("scan", str(folder), "--workers", "2", "--project", str(project_file)).returncode == 0
    with Project(project_file) as project:
        project.set_labels([project.track_id(p) for p in project.track_paths()], "Music")
    child = subprocess.Popen([sys.executable, "-m", "audioid_gui.cli", "tag", "--project", str(project_file)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(read_tags(p).genres == ["Music"] for p in sorted(folder.glob("clip *.mp3"))[:20]) >= 10:
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    tagged = [p for p in sorted(folder.glob("clip *.mp3")) if read_tags(p).genres == ["Music"]]
    assert 10 <= len(tagged) < 150
    for path in folder.glob("clip *.mp3"):  # every file opens and decodes, tagged or not
        assert len(decode_segment(path, SegmentSpec.parse("last:1"))) > 0
    back = run_cli("tag", "--undo", "--project", str(project_file))
    assert back.returncode == 0, back.stdout + back.stderr
    assert all(read_tags(p).genres == [] for p in folder.glob("clip *.mp3"))
    assert not list(folder.glob(".*audioid-tmp*"))  # nor a copy the kill left behind


def odd_mp3s(folder: Path) -> dict[str, Path]:
    """MP3s with tags as found in the wild."""
    from mutagen.apev2 import APEv2
    from mutagen.id3 import APIC, ID3, TIT2

    source = REPO / "resources" / "demo" / "outro 01.mp3"
    audio = source.read_bytes()
    made = {}
    made["no tags"] = folder / "no tags.mp3"
    made["no tags"].write_bytes(audio)
    v1 = b"TAG" + b"Old title".ljust(30, b"\0") + b"Old artist".ljust(30, b"\0") + b"\0" * 30 + b"1999" \
        + b"\0" * 30 + bytes([8])
    made["ID3v1 only"] = folder / "v1 only.mp3"
    made["ID3v1 only"].write_bytes(audio + v1)
    title = b"\x00Old v2.2 title"
    frame = b"TT2" + len(title).to_bytes(3, "big") + title
    size = len(frame)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    made["ID3v2.2"] = folder / "v22.mp3"
    made["ID3v2.2"].write_bytes(b"ID3\x02\x00\x00" + syncsafe + frame + audio)
    made["APEv2 and ID3"] = Path(shutil.copy(source, folder / "ape and id3.mp3"))
    tags = ID3()
    tags.add(TIT2(encoding=3, text=["Both tag kinds"]))
    tags.save(made["APEv2 and ID3"])
    ape = APEv2()
    ape["Title"] = "From the APE tag"
    ape.save(made["APEv2 and ID3"])
    made["huge picture"] = Path(shutil.copy(source, folder / "huge picture.mp3"))
    tags = ID3()
    tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="", data=os.urandom(8 * 1024 * 1024)))
    tags.save(made["huge picture"])
    return made


def test_files_with_odd_tags_are_written_safely(tmp_path: Path) -> None:
    from mutagen.apev2 import APEv2

    folder = tmp_path / "odd"
    folder.mkdir()
    files = odd_mp3s(folder)
    before_audio = {k: decode_segment(p, SegmentSpec.parse("whole")) for k, p in files.items()}
    project_file = tmp_path / "odd.audioid"
    with Project(project_file) as project:
        project.import_sources([folder])
        project.set_labels([project.track_id(p) for p in files.values()], "Music")
        result = apply(project, plan(project))
    assert result.errors == [] and result.written == len(files)
    for kind, path in files.items():
        assert read_tags(path).genres == ["Music"], kind
        assert np.array_equal(decode_segment(path, SegmentSpec.parse("whole")), before_audio[kind]), kind
    assert APEv2(files["APEv2 and ID3"])["Title"] == "From the APE tag"
    assert "Old v2.2 title" in str(mutagen.File(files["ID3v2.2"]).tags["TIT2"])
    assert len(mutagen.File(files["huge picture"]).tags.getall("APIC")[0].data) == 8 * 1024 * 1024


def test_a_full_disk_leaves_the_file_as_it_was(tagged_library, monkeypatch) -> None:
    import errno

    from audioid_gui.core import tags as tags_module

    project_file, files = tagged_library
    original = files["mp3"].read_bytes()

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tags_module, "_write_tags", full)
    with Project(project_file) as project:
        project.set_label(project.track_id(files["mp3"]), "Music")
        result = apply(project, plan(project))
        assert project.tag_changes(result.batch_id) == []  # journalled as failed, nothing to undo
    assert len(result.errors) == 1 and "No space left" in result.errors[0].message
    assert files["mp3"].read_bytes() == original
    assert not list(files["mp3"].parent.glob(".*audioid-tmp*"))
