"""Playlists as they come in the wild: every entry becomes a path or a note, never a crash."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from audioid_gui.core.playlists import PlaylistEntry, PlaylistError, read_playlist, write_m3u


@pytest.fixture()
def music_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "music"
    (folder / "sub").mkdir(parents=True)
    for name in ["a.mp3", "b.flac", "sub/c.ogg", "Zoë and Ça.mp3"]:
        (folder / name).write_bytes(b"x")
    return folder


def test_extended_m3u_with_relative_absolute_and_windows_paths(music_dir: Path) -> None:
    playlist = music_dir / "mix.m3u"
    playlist.write_text(
        "#EXTM3U\n"
        "#EXTINF:12,Artist - First\n"
        "a.mp3\n"
        f"{music_dir / 'b.flac'}\n"
        "\n"
        "sub\\c.ogg\n"
        "http://radio.example/stream\n"
        "C:\\Users\\me\\Music\\d.mp3\n",
        encoding="utf-8",
    )
    result = read_playlist(playlist)
    assert [e.path for e in result.entries] == [music_dir / "a.mp3", music_dir / "b.flac", music_dir / "sub" / "c.ogg"]
    assert result.entries[0].title == "Artist - First" and result.entries[0].duration == 12
    reasons = dict(result.skipped)
    assert "stream URL" in reasons["http://radio.example/stream"]
    assert "drive letter" in reasons["C:\\Users\\me\\Music\\d.mp3"]


def test_m3u_in_latin1_and_m3u8_in_utf8(music_dir: Path) -> None:
    (music_dir / "old.m3u").write_bytes("Zoë and Ça.mp3\n".encode("latin-1"))
    (music_dir / "new.m3u8").write_bytes("\ufeffZoë and Ça.mp3\n".encode("utf-8"))
    for name in ("old.m3u", "new.m3u8"):
        assert read_playlist(music_dir / name).entries[0].path == music_dir / "Zoë and Ça.mp3"


def test_file_urls_are_paths(music_dir: Path) -> None:
    (music_dir / "urls.m3u8").write_text(f"file://{music_dir}/Zo%C3%AB%20and%20%C3%87a.mp3\n", encoding="utf-8")
    assert read_playlist(music_dir / "urls.m3u8").entries[0].path == music_dir / "Zoë and Ça.mp3"


def test_pls_playlists(music_dir: Path) -> None:
    (music_dir / "list.pls").write_text(
        "[playlist]\nFile1=a.mp3\nTitle1=First\nLength1=10\nFile2=sub/c.ogg\nNumberOfEntries=2\nVersion=2\n"
    )
    result = read_playlist(music_dir / "list.pls")
    assert [e.path.name for e in result.entries] == ["a.mp3", "c.ogg"]
    assert result.entries[0].title == "First"


def test_binary_file_is_not_a_playlist(tmp_path: Path) -> None:
    bogus = tmp_path / "cover.m3u"
    bogus.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(PlaylistError, match="not a text file"):
        read_playlist(bogus)


def test_written_playlist_reads_back_with_relative_paths(music_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "lists" / "refined.m3u8"
    out.parent.mkdir()
    entries = [PlaylistEntry(music_dir / "a.mp3", "A", 10.4), PlaylistEntry(music_dir / "Zoë and Ça.mp3")]
    assert write_m3u(out, entries) == 2
    assert "../music/a.mp3" in out.read_text(encoding="utf-8")
    assert [e.path for e in read_playlist(out).entries] == [e.path for e in entries]


def test_each_entry_is_written_as_relpath_would_and_reads_back(tmp_path: Path) -> None:
    """Files inside the playlist's folder, beside it, above it, at the root, under a name that
    starts like the folder's, given as text or with ``..`` in them: each line is the path
    ``os.path.relpath`` gives, and the playlist reads back as the same files."""
    out = tmp_path / "a" / "lists" / "p.m3u8"
    out.parent.mkdir(parents=True)
    files = [tmp_path / "a" / "lists" / "in.mp3", tmp_path / "a" / "lists" / "sub" / "deep.mp3",
             tmp_path / "a" / "beside.mp3", tmp_path / "b" / "c" / "far.mp3", tmp_path / "a" / "lists2" / "x.mp3",
             Path("/root-level.mp3"), tmp_path / "a" / "lists" / ".." / "up.mp3"]
    entries = [PlaylistEntry(f if i % 2 else str(f)) for i, f in enumerate(files)]
    assert write_m3u(out, entries) == len(files)
    lines = [line for line in out.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert lines == [os.path.relpath(os.path.normpath(f), out.parent) for f in files]
    assert [e.path for e in read_playlist(out).entries] == [Path(os.path.normpath(f)) for f in files]


def _errors(playlist_file: Path) -> dict[str, str]:
    return dict(read_playlist(playlist_file).errors)


def test_each_hostile_m3u_entry_is_one_error_and_the_rest_imports(music_dir: Path) -> None:
    """~user of nobody, a name past NAME_MAX, a password file, a folder, a NUL (after the first
    4 KB, which would make it a binary file): one error each, from reading or from the check of
    the files before an import."""
    (music_dir / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (music_dir / "notes.txt").write_text("not audio\n")
    (music_dir / "folder.mp3").mkdir()
    too_long = "x" * 300 + ".mp3"
    playlist = music_dir / "hostile.m3u8"
    playlist.write_text(
        "#" * 4096 + "\n"
        f"a.mp3\n~nosuchuser/x.mp3\n{too_long}\nshadow\nnotes.txt\nfolder.mp3\nb.flac\ngone.mp3\nwith\x00nul.mp3\n",
        encoding="utf-8",
    )
    result = read_playlist(playlist)
    assert dict(result.errors) == {
        "~nosuchuser/x.mp3":
            "listed in hostile.m3u8: there is no user 'nosuchuser' on this machine, so ~nosuchuser leads nowhere",
        str(music_dir / "shadow"):
            "listed in hostile.m3u8: not an audio file (it has no audio extension): not imported",
        str(music_dir / "notes.txt"):
            "listed in hostile.m3u8: not an audio file (its extension .txt is not an audio format): not imported",
        "with\x00nul.mp3": "listed in hostile.m3u8: the name holds a NUL character, which no file name can",
    }
    assert not result.skipped
    present, problems = result.importable()
    assert [e.path.name for e in present] == ["a.mp3", "b.flac"]
    assert problems == [
        (str(music_dir / too_long),
         "listed in hostile.m3u8: the name is longer than the file system allows, so no such file can exist"),
        (str(music_dir / "folder.mp3"), "listed in hostile.m3u8: a folder, not an audio file: never opened"),
        (str(music_dir / "gone.mp3"), "listed in hostile.m3u8: not found (moved or deleted?)"),
    ]


def test_pls_with_missing_and_odd_file_numbers_keeps_the_good_entries(music_dir: Path) -> None:
    (music_dir / "odd.pls").write_text(
        "[playlist]\nFile01=a.mp3\nTitle2=No file here\nLength2=30\nFile²=b.flac\nFile١=sub/c.ogg\n"
        "File3=sub/c.ogg\nLength3=x\nFile1=b.flac\nNumberOfEntries=4\n",
        encoding="utf-8",
    )
    result = read_playlist(music_dir / "odd.pls")
    assert [(e.path.name, e.duration) for e in result.entries] == [("a.mp3", None), ("c.ogg", None)]
    assert result.errors == [
        ("file²=b.flac", "listed in odd.pls: the key file² is not numbered like File1, File2 ...: skipped"),
        ("file١=sub/c.ogg", "listed in odd.pls: the key file١ is not numbered like File1, File2 ...: skipped"),
        ("file1=b.flac", "listed in odd.pls: a second File1: the first is kept"),
        ("entry 2", "listed in odd.pls: Title2 and Length2 but no File2: skipped"),
    ]


def test_many_missing_entries_are_each_one_error(tmp_path: Path) -> None:
    (tmp_path / "big.m3u8").write_text("".join(f"gone/{i:06d}.mp3\n" for i in range(20_000)), encoding="utf-8")
    present, problems = read_playlist(tmp_path / "big.m3u8").importable()
    assert len(problems) == 20_000 and not present
    assert problems[-1] == (str(tmp_path / "gone" / "019999.mp3"), "listed in big.m3u8: not found (moved or deleted?)")


def test_entry_not_in_utf8_finds_its_file(tmp_path: Path) -> None:
    """An m3u8 written by a tool that kept the file system's bytes names a Latin-1 file name."""
    name = os.fsdecode(b"caf\xe9.mp3")
    (tmp_path / name).write_bytes(b"x")
    (tmp_path / "old.m3u8").write_bytes(b"#EXTM3U\ncaf\xe9.mp3\n")
    assert [e.path for e in read_playlist(tmp_path / "old.m3u8").importable()[0]] == [tmp_path / name]
