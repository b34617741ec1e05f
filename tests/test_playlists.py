"""Playlists as they come in the wild: every entry becomes a path or a note, never a crash."""
from __future__ import annotations

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
