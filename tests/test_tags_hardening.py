"""The tag writer on hostile ground: links, owners, long names, read-only folders, odd tags, and
files it must refuse.  Each file ends written, or untouched with a reason in plain words, and the
batch goes on."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import mutagen
import pytest

from audioid_gui.core.audio import ffmpeg_executable
from audioid_gui.core.project import Project
from audioid_gui.core.tags import ApplyReport, TagRegion, apply, plan, read_tags, safe_write, undo

from .conftest import REPO

DEMO_MP3 = REPO / "resources" / "demo" / "outro 01.mp3"
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (to give files away, mount, set flags)")


def tag_all(project_file: Path, files: list[Path], class_name: str = "Music") -> ApplyReport:
    """Import ``files`` into a project, label them all, and write the labels into the files."""
    with Project(project_file) as project:
        project.import_sources(files)
        project.set_labels([project.track_id(p) for p in files], class_name)
        return apply(project, plan(project))


def undo_last(project_file: Path) -> ApplyReport:
    with Project(project_file) as project:
        return undo(project)


def copy_of_demo(folder: Path, name: str = "clip.mp3") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(DEMO_MP3, folder / name))


def leftovers(folder: Path) -> list[Path]:
    return list(folder.glob(".*audioid-tmp*"))


def assert_sentence(message: str) -> None:
    assert message[0].isupper() and message.endswith("."), message
    assert "()" not in message and ";)" not in message and "format requires" not in message, message


# -- links, owner, group and mode ---------------------------------------------------------------


def test_a_symlinked_track_is_tagged_through_the_link_which_stays_a_link(tmp_path: Path) -> None:
    real = copy_of_demo(tmp_path / "store")
    link = tmp_path / "library" / "linked.mp3"
    link.parent.mkdir()
    link.symlink_to(real)
    project_file = tmp_path / "p.audioid"
    result = tag_all(project_file, [link])
    assert result.errors == [] and result.written == 1
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert read_tags(real).genres == ["Music"]
    assert undo_last(project_file).errors == []
    assert link.is_symlink() and read_tags(real).genres == []
    assert leftovers(real.parent) == [] and leftovers(link.parent) == []


def test_a_hard_linked_track_is_refused_with_the_reason_and_the_batch_goes_on(tmp_path: Path) -> None:
    first = copy_of_demo(tmp_path / "lib", "a first.mp3")
    os.link(first, tmp_path / "elsewhere.mp3")
    second = copy_of_demo(tmp_path / "lib", "b second.mp3")
    original = first.read_bytes()
    result = tag_all(tmp_path / "p.audioid", [first, second])
    assert result.written == 1 and [Path(e.path) for e in result.errors] == [first]
    assert "2 hard links" in result.errors[0].message
    assert_sentence(result.errors[0].message)
    assert first.stat().st_nlink == 2 and first.read_bytes() == original
    assert read_tags(second).genres == ["Music"]


def test_a_pipe_named_like_a_track_is_refused_without_blocking(tmp_path: Path) -> None:
    track = copy_of_demo(tmp_path / "lib", "track.mp3")
    project_file = tmp_path / "p.audioid"
    with Project(project_file) as project:
        project.import_sources([track])
    track.unlink()
    os.mkfifo(track)  # the imported track's name now names a pipe
    with Project(project_file) as project:
        project.set_label(project.track_id(track), "Music")
        result = apply(project, plan(project))
    assert result.written == 0 and "not a regular file" in result.errors[0].message
    assert_sentence(result.errors[0].message)


@pytest.fixture()
def shared_folder() -> Iterator[Path]:
    """A folder every user may write in, reachable by every user (pytest's own are private)."""
    folder = Path(tempfile.mkdtemp(prefix="audioid-shared-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder)


@AS_ROOT
def test_owner_group_and_mode_are_kept_by_tagging_and_undo(tmp_path: Path) -> None:
    track = copy_of_demo(tmp_path / "lib")
    os.chown(track, 4321, 8765)
    track.chmod(0o640)
    project_file = tmp_path / "p.audioid"

    def owner_and_mode() -> tuple[int, int, int]:
        status = track.stat()
        return status.st_uid, status.st_gid, status.st_mode & 0o7777

    assert tag_all(project_file, [track]).written == 1 and read_tags(track).genres == ["Music"]
    assert owner_and_mode() == (4321, 8765, 0o640)
    assert undo_last(project_file).written == 1 and read_tags(track).genres == []
    assert owner_and_mode() == (4321, 8765, 0o640)


@AS_ROOT
def test_a_user_who_cannot_keep_the_owner_is_refused(shared_folder: Path) -> None:
    """A file someone else owns but the writer may write (mode 666): replacing it would hand it to
    the writer, so the file is left as it is."""
    track = copy_of_demo(shared_folder)
    os.chown(track, 4321, 4321)
    track.chmod(0o666)
    original = track.read_bytes()
    script = ("import sys; from pathlib import Path; from audioid_gui.core.tags import TagError, safe_write\n"
              "try:\n    safe_write(Path(sys.argv[1]), lambda now: (['Music'], None, True))\n"
              "except TagError as exc:\n    print(exc)\n")
    run = subprocess.run([sys.executable, "-c", script, str(track)], cwd=REPO,
                         user=65534, group=65534, capture_output=True, text=True, timeout=60)
    assert "owner and group could not be kept" in run.stdout, run.stdout + run.stderr
    assert track.read_bytes() == original and track.stat().st_uid == 4321
    assert leftovers(track.parent) == []


# -- names near the limit, folders where no copy can be made ------------------------------------


def test_a_name_near_the_length_limit_is_tagged_and_undone(tmp_path: Path) -> None:
    name = "é" * 60 + "x" * 126 + ".mp3"  # 250 bytes: the copy's name cannot simply be longer
    assert len(os.fsencode(name)) == 250
    track = copy_of_demo(tmp_path / "lib", name)
    project_file = tmp_path / "p.audioid"
    assert tag_all(project_file, [track]).errors == [] and read_tags(track).genres == ["Music"]
    assert undo_last(project_file).errors == [] and read_tags(track).genres == []
    assert leftovers(track.parent) == []


def test_an_untagged_mpeg_2_5_mp3_is_tagged(tmp_path: Path) -> None:
    """mutagen knows such a stream only by its name's extension, which the copy must keep."""
    track = tmp_path / "lib" / "8 kHz.mp3"
    track.parent.mkdir()
    subprocess.run([ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=8000:duration=2", "-c:a", "libmp3lame", "-b:a", "16k",
                    "-write_xing", "0", "-id3v2_version", "0", "-map_metadata", "-1", str(track)], check=True)
    assert track.read_bytes()[:2] == b"\xff\xe3"  # MPEG 2.5, layer III, no tag
    result = tag_all(tmp_path / "p.audioid", [track])
    assert result.errors == [] and read_tags(track).genres == ["Music"]


@AS_ROOT
def test_a_folder_where_no_copy_can_be_made_fails_that_file_and_the_batch_goes_on(tmp_path: Path) -> None:
    locked = copy_of_demo(tmp_path / "a locked", "in locked folder.mp3")
    free = copy_of_demo(tmp_path / "b free", "in free folder.mp3")
    original = locked.read_bytes()
    if subprocess.run(["chattr", "+i", str(locked.parent)], capture_output=True).returncode != 0:
        pytest.skip("this file system has no immutable flag")
    try:
        result = tag_all(tmp_path / "p.audioid", [locked, free])
    finally:
        subprocess.run(["chattr", "-i", str(locked.parent)], check=True)
    assert result.written == 1 and read_tags(free).genres == ["Music"]
    assert [Path(e.path) for e in result.errors] == [locked] and locked.read_bytes() == original
    assert "cannot be made beside the file" in result.errors[0].message
    assert_sentence(result.errors[0].message)
    with Project(tmp_path / "p.audioid") as project:
        assert project.tag_changes(result.batch_id)[0].path == str(free)  # nothing left pending


@AS_ROOT
def test_a_read_only_mount_fails_each_file_and_the_batch_goes_on(tmp_path: Path) -> None:
    mount = tmp_path / "a mount"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        on_mount = [copy_of_demo(mount, f"clip {i}.mp3") for i in range(3)]
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        free = copy_of_demo(tmp_path / "b free", "after.mp3")
        result = tag_all(tmp_path / "p.audioid", [*on_mount, free])
        assert sorted(Path(e.path) for e in result.errors) == on_mount
        for error in result.errors:
            assert "read-only" in error.message
            assert_sentence(error.message)
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    assert result.written == 1 and read_tags(free).genres == ["Music"]


# -- undo gives back a file without a tag block ---------------------------------------------------


def test_a_file_without_tags_has_none_again_after_tag_and_undo(tmp_path: Path, format_library) -> None:
    """Through the journal, every format comes back byte for byte."""
    folder = tmp_path / "lib"
    folder.mkdir()
    bare = {fmt: Path(shutil.copy(format_library[fmt], folder / format_library[fmt].name))
            for fmt in ("wav", "aiff", "wv", "m4a")}
    bare["mp3"] = folder / "bare.mp3"
    bare["mp3"].write_bytes(DEMO_MP3.read_bytes()[id3_size(DEMO_MP3):])  # the stream without its tag
    for path in bare.values():
        if mutagen.File(path).tags is not None:
            mutagen.File(path).delete()
    original = {fmt: path.read_bytes() for fmt, path in bare.items()}
    project_file = tmp_path / "p.audioid"
    result = tag_all(project_file, list(bare.values()))
    assert result.errors == [] and all(read_tags(p).genres == ["Music"] for p in bare.values())
    assert undo_last(project_file).errors == []
    for fmt, path in bare.items():
        assert not mutagen.File(path).tags, fmt
        assert path.read_bytes() == original[fmt], fmt


def test_every_tagged_format_is_undone_byte_for_byte_through_the_journal(tmp_path: Path, format_library) -> None:
    from .test_tags import add_existing_tags

    folder = tmp_path / "lib"
    folder.mkdir()
    files = [Path(shutil.copy(source, folder / source.name)) for source in format_library.values()]
    for path in files:
        add_existing_tags(path)
    original = {path: path.read_bytes() for path in files}
    project_file = tmp_path / "p.audioid"
    assert tag_all(project_file, files).errors == []
    assert undo_last(project_file).errors == []
    assert [path.name for path in files if path.read_bytes() != original[path]] == []


# -- the journal's bookkeeping --------------------------------------------------------------------


def test_an_undo_with_failed_files_leaves_the_batch_to_undo_again(tmp_path: Path) -> None:
    first, second = copy_of_demo(tmp_path / "lib", "a.mp3"), copy_of_demo(tmp_path / "lib", "b.mp3")
    project_file = tmp_path / "p.audioid"
    batch = tag_all(project_file, [first, second]).batch_id
    second.chmod(0o444)
    partly = undo_last(project_file)
    assert partly.written == 1 and len(partly.errors) == 1 and partly.remaining == 1
    assert read_tags(second).genres == ["Music"]
    with Project(project_file) as project:
        assert project.last_tag_batch() == batch
        assert [b.changed for b in project.tag_batches()] == [1]
    second.chmod(0o644)
    rest = undo_last(project_file)
    assert rest.batch_id == batch and rest.written == 1 and rest.remaining == 0
    assert read_tags(second).genres == []
    with Project(project_file) as project:
        assert project.last_tag_batch() is None and project.tag_batches()[0].undone_at is not None


def test_a_batch_killed_after_the_replace_is_settled_from_the_file(tmp_path: Path) -> None:
    """A kill between replacing a file and recording it leaves a pending entry: the next run reads
    the file, so the project shows its real genre and undo restores it."""
    track = copy_of_demo(tmp_path / "lib")
    project_file = tmp_path / "p.audioid"
    with Project(project_file) as project:
        project.import_sources([track])
        track_id = project.track_id(track)
        batch = project.start_tag_batch("replace", "1 file")
        project.journal_tag_change(batch, track_id, str(track), [], None, ["Music"])
        safe_write(track, lambda now: (["Music"], None, True))  # ... and the process dies here
    with Project(project_file) as project:
        apply(project, plan(project))  # any later run settles the journal first
        assert project.tag_changes(batch)[0].state == "done"
        genre = project.db.execute("SELECT tags FROM tracks WHERE id = ?", (track_id,)).fetchone()[0]
        assert '"genre": "Music"' in genre
    assert undo_last(project_file).written == 1 and read_tags(track).genres == []


def test_a_batch_killed_before_the_replace_leaves_the_file_as_it_was_and_no_copy(tmp_path: Path) -> None:
    """Killed while the copy was being written: the next run removes the copy and records the
    file as not changed (it still holds its old genre)."""
    track = copy_of_demo(tmp_path / "lib")
    original = track.read_bytes()
    project_file = tmp_path / "p.audioid"
    with Project(project_file) as project:
        project.import_sources([track])
        batch = project.start_tag_batch("replace", "1 file")
        project.journal_tag_change(batch, project.track_id(track), str(track), [], None, ["Music"])
    half_written = track.with_name(f".{track.name}.audioid-tmp.mp3")
    half_written.write_bytes(original[: len(original) // 2])  # ... and the process dies here
    assert leftovers(track.parent) == [half_written]
    with Project(project_file) as project:
        project.set_labels([project.track_id(track)], "Dialogue")
        undo(project)  # any later run settles the journal first
        assert project.tag_changes(batch) == []  # nothing of it reached the file
        assert project.pending_tag_changes() == []
    assert leftovers(track.parent) == [] and track.read_bytes() == original


def test_a_journal_that_cannot_record_the_old_tag_stops_that_file_only(tmp_path: Path) -> None:
    import sqlite3

    from audioid_gui.core.tags import TagError

    track = copy_of_demo(tmp_path / "lib")
    original = track.read_bytes()

    def locked(_region: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(TagError) as failure:
        safe_write(track, lambda now: (["Music"], None, True), on_verified=locked)
    assert_sentence(str(failure.value))
    assert "could not record" in str(failure.value) and track.read_bytes() == original
    assert leftovers(track.parent) == []


def test_a_rerun_after_a_killed_batch_continues_it_and_one_undo_restores_both(tmp_path: Path) -> None:
    from .conftest import run_cli

    first, second = copy_of_demo(tmp_path / "lib", "a.mp3"), copy_of_demo(tmp_path / "lib", "b.mp3")
    project_file = tmp_path / "p.audioid"
    with Project(project_file) as project:
        project.import_sources([first, second])
        project.set_labels([project.track_id(first), project.track_id(second)], "Music")
        killed = project.start_tag_batch("replace", "2 files")  # wrote the first file, then was killed
        entry = project.journal_tag_change(killed, project.track_id(first), str(first), [], None, ["Music"])
        safe_write(first, lambda now: (["Music"], None, True))
        project.finish_tag_change(entry, project.track_id(first), ["Music"])
        rerun = apply(project, plan(project)).batch_id  # the re-run writes only the second
        assert rerun == killed and apply(project, plan(project)).batch_id != killed  # a finished one is not
    history = run_cli("tag", "--history", "--project", str(project_file))
    assert "2 files still changed" in history.stdout
    once = run_cli("tag", "--undo", str(killed), "--project", str(project_file))
    assert once.returncode == 0 and f"Batch {killed}: 2 files restored" in once.stdout and "also" not in once.stdout
    assert read_tags(first).genres == [] and read_tags(second).genres == []
    assert "Nothing to undo." in run_cli("tag", "--undo", "--project", str(project_file)).stdout


def test_each_undo_says_which_other_batches_still_change_files(tmp_path: Path) -> None:
    from .conftest import run_cli

    first, second = copy_of_demo(tmp_path / "lib", "a.mp3"), copy_of_demo(tmp_path / "lib", "b.mp3")
    project_file = tmp_path / "p.audioid"
    earlier = tag_all(project_file, [first]).batch_id
    later = tag_all(project_file, [second]).batch_id
    once = run_cli("tag", "--undo", "--project", str(project_file))
    assert once.returncode == 0 and f"Batch {later}: 1 file restored" in once.stdout
    assert f"Batch {earlier} also still changes 1 file" in once.stdout
    assert read_tags(second).genres == [] and read_tags(first).genres == ["Music"]
    twice = run_cli("tag", "--undo", "--project", str(project_file))
    assert f"Batch {earlier}: 1 file restored" in twice.stdout and read_tags(first).genres == []
    assert "Nothing to undo." in run_cli("tag", "--undo", "--project", str(project_file)).stdout


@pytest.mark.parametrize("with_tags", [False, True], ids=["untagged", "tagged"])
def test_the_replaced_region_puts_every_format_back_byte_for_byte(tmp_path: Path, format_library,
                                                                   with_tags: bool) -> None:
    """What the journal keeps of each write (``TagRegion``) undoes it exactly: padding, frame
    order and container layout included."""
    from .test_tags import add_existing_tags

    for fmt, source in format_library.items():
        track = Path(shutil.copy(source, tmp_path / source.name))
        if with_tags:
            add_existing_tags(track)
        original = track.read_bytes()
        kept: list[bytes] = []
        safe_write(track, lambda now: (["Music"], "Music", False), on_verified=lambda r: kept.append(r.to_bytes()))
        assert read_tags(track).genres == ["Music"] and track.read_bytes() != original, fmt
        region = TagRegion.from_bytes(kept[0])
        assert sum(len(old) for _, _, old in region.spans) < 64 * 1024, fmt  # the tag, not the audio
        safe_write(track, lambda now: ([], None, False), original=region)
        assert track.read_bytes() == original, fmt


def test_a_file_changed_since_the_write_is_undone_by_its_tags(tmp_path: Path) -> None:
    """When another program rewrote the file after the batch, its old bytes no longer fit: undo
    sets the old genre back instead, keeping what the other program wrote."""
    from mutagen.id3 import ID3, TIT2

    track = copy_of_demo(tmp_path)
    kept: list[TagRegion] = []
    safe_write(track, lambda now: (["Music"], None, True), on_verified=kept.append)
    tags = ID3(track)
    tags.add(TIT2(encoding=3, text=["Renamed elsewhere"]))
    tags.save()
    safe_write(track, lambda now: ([], None, True), original=kept[0])
    assert read_tags(track).genres == [] and str(ID3(track)["TIT2"]) == "Renamed elsewhere"


def id3_size(path: Path) -> int:
    """Bytes an ID3v2 tag takes at the start of a file (0 without one)."""
    head = path.read_bytes()[:10]
    if head[:3] != b"ID3":
        return 0
    return 10 + sum(b << (7 * (3 - i)) for i, b in enumerate(head[6:10]))


# -- a tag mutagen normalises is not a tag that changed ------------------------------------------


def test_a_v23_tag_with_several_artists_and_a_year_is_written_and_kept_as_stored(tmp_path: Path) -> None:
    from mutagen.id3 import ID3, TIT2, TPE1, TYER

    track = copy_of_demo(tmp_path / "lib")
    mutagen.File(track).delete()
    tags = ID3()
    tags.add(TPE1(encoding=0, text=["jzig", "piman"]))  # two values, as ID3v2.3 files carry them
    tags.add(TIT2(encoding=0, text=["Silence"]))
    tags.add(TYER(encoding=0, text=["2004"]))
    tags.save(track, v2_version=3, v23_sep=None)
    project_file = tmp_path / "p.audioid"
    result = tag_all(project_file, [track])
    assert result.errors == [] and read_tags(track).genres == ["Music"]
    stored = ID3(track, translate=False)
    assert stored.version[:2] == (2, 3) and stored["TPE1"].text == ["jzig", "piman"]
    assert str(stored["TYER"]) == "2004" and "TDRC" not in stored  # a v2.3 year stays a v2.3 year
    assert undo_last(project_file).errors == [] and "TCON" not in ID3(track)


# -- every reason is a sentence ----------------------------------------------------------------


def test_a_tag_with_a_bogus_size_is_reported_in_words(tmp_path: Path) -> None:
    track = tmp_path / "lib" / "bogus size.mp3"
    track.parent.mkdir()
    track.write_bytes(b"ID3\x03\x00\x00\x7f\x7f\x7f\x7f" + DEMO_MP3.read_bytes()[id3_size(DEMO_MP3):])
    result = tag_all(tmp_path / "p.audioid", [track])
    assert len(result.errors) == 1 and "damaged or cut short" in result.errors[0].message
    assert_sentence(result.errors[0].message)


def test_a_file_too_large_for_its_format_is_reported_in_words(tmp_path: Path, monkeypatch) -> None:
    """What mutagen raises for a WAV over 4 GB, whose RIFF sizes are 32-bit."""
    from audioid_gui.core import tags as tags_module

    def too_large(*_args, **_kwargs):
        struct.pack("<I", 5 * 1024 ** 3)

    monkeypatch.setattr(tags_module, "_write_tags", too_large)
    track = copy_of_demo(tmp_path / "lib")
    result = tag_all(tmp_path / "p.audioid", [track])
    assert len(result.errors) == 1 and "over 4 GB" in result.errors[0].message
    assert_sentence(result.errors[0].message)
    assert leftovers(track.parent) == []


def test_a_cover_picture_is_not_copied_into_the_project_and_undo_still_restores(tmp_path: Path) -> None:
    """Adding the genre frame moves a 200 KB picture stored after it; keeping those bytes for a
    byte-exact undo would grow the project by every cover of a collection."""
    from mutagen.id3 import APIC, ID3

    track = copy_of_demo(tmp_path / "lib")
    tags = ID3()
    tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="cover", data=os.urandom(200_000)))
    tags.save(track)
    project_file = tmp_path / "p.audioid"
    assert tag_all(project_file, [track]).written == 1
    with Project(project_file) as project:
        kept = project.db.execute("SELECT max(length(original)) FROM tag_journal").fetchone()[0]
    assert kept is None or kept < 64 * 1024
    assert undo_last(project_file).written == 1
    assert read_tags(track).genres == [] and len(ID3(track).getall("APIC")[0].data) == 200_000
