"""The player panel plays what the user asked for: every format from its segment's start, clip after
clip, silently where the machine has no sound device, and nothing of a project once it is closed."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtMultimedia import QMediaPlayer

from audioid_gui.core.audio import AnalysedSegment, SegmentSpec
from audioid_gui.core.tracklist import TrackRow
from audioid_gui.gui import player as player_module
from audioid_gui.gui.main_window import MainWindow
from audioid_gui.gui.player import NO_SOUND_DEVICE, PlayerPanel
from audioid_gui.gui.segment_view import frequency_height, time_ticks

from .conftest import ALL_FORMATS, stop_playback

SEGMENT = SegmentSpec()  # last:10: on the 14-s two-part files it starts at 4 s
# A clip that starts well is past its start within half a second; a stuck one never gets there, so
# the margin only absorbs a busy machine.
START_WITHIN_MS = 3_000


def row(path: Path, track_id: int = 1, analysed: Optional[AnalysedSegment] = None,
        tags: Optional[dict[str, str]] = None) -> TrackRow:
    """A probed (14-s) track as the table hands it to the player."""
    return TrackRow(track_id, str(path), 14.0, None, None, tags or {}, None, analysed=analysed)


@pytest.fixture()
def panel(qtbot):
    widget = PlayerPanel()
    qtbot.addWidget(widget)
    widget.resize(640, 420)
    widget.show()
    yield widget
    widget.stop()
    qtbot.waitUntil(lambda: widget.media.playbackState() == QMediaPlayer.PlaybackState.StoppedState)


def plays_past(player: PlayerPanel, seconds: float) -> bool:
    return player.is_playing() and player.media.position() > seconds * 1000 + 300


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_every_format_plays_on_from_its_segment_start(panel: PlayerPanel, format_library: dict[str, Path],
                                                      fmt: str, qtbot) -> None:
    panel.load(row(format_library["aiff"], 0), SEGMENT)  # it follows a clip playing, as in auto-advance
    qtbot.waitUntil(panel.is_playing, timeout=START_WITHIN_MS)
    panel.load(row(format_library[fmt]), SEGMENT)
    assert panel.segment_start == pytest.approx(4.0)
    qtbot.waitUntil(lambda: plays_past(panel, 4.0), timeout=START_WITHIN_MS)
    assert panel.media.position() < 9_000, "it started at the segment, not somewhere later"


def test_clips_loaded_while_the_previous_plays_each_play_from_their_start(
        panel: PlayerPanel, format_library: dict[str, Path], qtbot) -> None:
    for track_id, fmt in enumerate(("mp3", "ogg", "flac", "m4a", "opus"), start=1):
        panel.load(row(format_library[fmt], track_id), SEGMENT)
        qtbot.waitUntil(lambda: plays_past(panel, 4.0), timeout=START_WITHIN_MS)
        assert panel.track.id == track_id


def test_rapid_next_starts_the_last_clip_at_its_own_segment(panel: PlayerPanel, format_library: dict[str, Path],
                                                            qtbot) -> None:
    for track_id, fmt in enumerate(("ogg", "mp3", "wav", "ogg"), start=1):
        panel.load(row(format_library[fmt], track_id), SEGMENT)
        qtbot.wait(15)
    panel.load(row(format_library["mp3"], 9), SegmentSpec.parse("at:8:4"))
    qtbot.waitUntil(lambda: plays_past(panel, 8.0), timeout=START_WITHIN_MS)
    assert panel.media.position() < 12_000 and "0:08–0:12" in panel.segment_info.text()


def test_auto_advance_plays_each_demo_clip_from_its_segment(window: MainWindow, demo_project: Path, qtbot) -> None:
    window.act_autoplay.setChecked(True)
    window.open_project(demo_project)
    player = window.player
    for key in (Qt.Key.Key_M, Qt.Key.Key_D, Qt.Key.Key_B, Qt.Key.Key_M, Qt.Key.Key_D):
        name = player.track.name
        qtbot.waitUntil(lambda: plays_past(player, player.segment_start), timeout=START_WITHIN_MS)
        qtbot.keyClick(window.table, key)
        assert player.track.name != name
    qtbot.waitUntil(lambda: plays_past(player, player.segment_start), timeout=START_WITHIN_MS)
    stop_playback(window, qtbot)


def test_next_pressed_rapidly_plays_the_track_it_lands_on(window: MainWindow, demo_project: Path, qtbot) -> None:
    window.act_autoplay.setChecked(True)
    window.open_project(demo_project)
    fifth = window.model.track(4).name
    for _ in range(4):
        qtbot.keyClick(window.table, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
        qtbot.wait(10)
    player = window.player
    assert player.track.name == fifth
    qtbot.waitUntil(lambda: plays_past(player, player.segment_start), timeout=START_WITHIN_MS)
    assert player.media.position() < player.segment_end * 1000
    stop_playback(window, qtbot)


def play_first_segment_to_its_end(window: MainWindow, demo_project: Path, qtbot) -> PlayerPanel:
    """Open the demo with autoplay and let the first track's segment play out."""
    window.act_autoplay.setChecked(True)
    window.open_project(demo_project)
    player = window.player
    qtbot.waitUntil(lambda: plays_past(player, player.segment_start), timeout=START_WITHIN_MS)
    player.seek(player.segment_end - 0.4)
    qtbot.waitUntil(lambda: not player.is_playing(), timeout=3_000)
    return player


def test_space_after_the_segment_ended_plays_it_again_from_its_start(window: MainWindow, demo_project: Path,
                                                                      qtbot) -> None:
    player = play_first_segment_to_its_end(window, demo_project, qtbot)
    qtbot.keyClick(window.table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: plays_past(player, player.segment_start), timeout=START_WITHIN_MS)
    assert player.media.position() < (player.segment_start + 2) * 1000
    stop_playback(window, qtbot)


def test_a_list_to_hear_plays_its_first_track_even_when_it_is_the_one_that_just_ended(
        window: MainWindow, demo_project: Path, qtbot) -> None:
    """A sample or the queue whose first track is the one already loaded (and finished) must still
    play it: selecting the current row again changes nothing, so nothing used to start."""
    player = play_first_segment_to_its_end(window, demo_project, qtbot)
    current = window.table.current_track_id()
    window.show_track_set("a sample", [current, current + 1], play=True)
    qtbot.waitUntil(lambda: plays_past(player, player.segment_start), timeout=START_WITHIN_MS)
    assert player.track.id == current and player.media.position() < (player.segment_start + 2) * 1000
    stop_playback(window, qtbot)


def test_whole_file_plays_from_the_files_start_and_back_to_the_segment(panel: PlayerPanel,
                                                                        format_library: dict[str, Path], qtbot) -> None:
    panel.load(row(format_library["mp3"]), SEGMENT, autoplay=False)
    qtbot.waitUntil(lambda: panel.media.mediaStatus() in (QMediaPlayer.MediaStatus.LoadedMedia,
                                                         QMediaPlayer.MediaStatus.BufferedMedia), timeout=5_000)
    assert not panel.is_playing()
    qtbot.mouseClick(panel.whole_file, Qt.MouseButton.LeftButton, pos=QPoint(8, panel.whole_file.height() // 2))
    qtbot.waitUntil(lambda: panel.is_playing() and panel.media.position() > 200, timeout=START_WITHIN_MS)
    assert panel.media.position() < panel.segment_start * 1000  # from 0:00, not from the segment
    qtbot.mouseClick(panel.whole_file, Qt.MouseButton.LeftButton, pos=QPoint(8, panel.whole_file.height() // 2))
    qtbot.waitUntil(lambda: plays_past(panel, panel.segment_start), timeout=START_WITHIN_MS)


def test_without_a_sound_device_one_note_says_playback_is_silent(monkeypatch, format_library: dict[str, Path],
                                                                  qtbot) -> None:
    monkeypatch.setattr(player_module, "sound_device_available", lambda: False)
    silent = PlayerPanel()
    qtbot.addWidget(silent)
    silent.show()
    for track_id, fmt in enumerate(("wav", "mp3"), start=1):
        silent.load(row(format_library[fmt], track_id), SEGMENT)
        qtbot.waitUntil(lambda: plays_past(silent, 4.0), timeout=START_WITHIN_MS)
    assert silent.device_note.isVisible() and silent.device_note.text() == NO_SOUND_DEVICE
    assert not silent.message.isVisible(), "no error: the clip plays, only silently"
    silent.stop()
    qtbot.waitUntil(lambda: silent.media.playbackState() == QMediaPlayer.PlaybackState.StoppedState)

    monkeypatch.setattr(player_module, "sound_device_available", lambda: True)
    heard = PlayerPanel()
    qtbot.addWidget(heard)
    heard.show()
    assert not heard.device_note.isVisible()


def test_no_track_clears_everything_of_the_last_one(panel: PlayerPanel, format_library: dict[str, Path],
                                                    qtbot) -> None:
    analysed = AnalysedSegment(4.0, 10.0, trailing_silence=0.0)
    panel.load(row(format_library["flac"], analysed=analysed, tags={"genre": "Jazz"}), SEGMENT)
    qtbot.waitUntil(lambda: plays_past(panel, 4.0) and panel.view.picture is not None, timeout=5_000)
    panel.load(None, SegmentSpec())
    assert panel.title.text() == "No track"
    assert panel.tags.text() == "" and panel.segment_info.text() == "" and panel.current_label.text() == ""
    assert panel.view.picture is None and panel.view.playhead is None
    assert panel.time.text() == "0:00 / 0:00" and panel.slider.value() == 0
    qtbot.waitUntil(lambda: panel.media.playbackState() == QMediaPlayer.PlaybackState.StoppedState, timeout=2_000)
    qtbot.wait(300)
    assert panel.time.text() == "0:00 / 0:00"


def test_a_picture_still_drawing_never_shows_after_the_project_closed(panel: PlayerPanel,
                                                                       format_library: dict[str, Path],
                                                                       qtbot) -> None:
    panel.load(row(format_library["wav"]), SEGMENT)
    panel.load(None, SegmentSpec())
    qtbot.wait(1_000)
    assert panel.view.picture is None and panel.title.text() == "No track"


def test_show_label_refreshes_tags_and_segment_after_a_scan(panel: PlayerPanel, format_library: dict[str, Path],
                                                           qtbot) -> None:
    path = format_library["ogg"]
    panel.load(row(path), SEGMENT, autoplay=False)
    assert "not analysed yet" in panel.segment_info.text()
    scanned = row(path, analysed=AnalysedSegment(2.0, 10.0, trailing_silence=2.0), tags={"genre": "Dialogue"})
    panel.show_label(scanned)
    assert panel.segment_info.text() == "Analysed 0:02–0:12 · trailing silence 2.0 s skipped"
    assert "Dialogue" in panel.tags.text()
    qtbot.waitUntil(lambda: panel.view.picture is not None and panel.view.picture.start == pytest.approx(2.0),
                    timeout=5_000)
    qtbot.mouseClick(panel.play_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: plays_past(panel, 2.0), timeout=START_WITHIN_MS)
    assert panel.media.position() < 4_000, "it plays the analysed segment, not the old window"


def test_clicking_the_spectrogram_seeks_to_the_time_under_the_mouse(panel: PlayerPanel,
                                                                    format_library: dict[str, Path],
                                                                    qtbot) -> None:
    panel.load(row(format_library["wav"]), SEGMENT, autoplay=False)
    qtbot.waitUntil(lambda: panel.view.picture is not None, timeout=5_000)
    plot = panel.view.plot_rect()
    with qtbot.waitSignal(panel.view.seek_requested) as seek:
        qtbot.mouseClick(panel.view, Qt.MouseButton.LeftButton,
                         pos=QPoint(int(plot.left() + plot.width() / 2), int(plot.center().y())))
    assert seek.args[0] == pytest.approx(9.0, abs=0.1)  # the middle of 4–14 s


def test_spectrogram_axes_read_in_seconds_and_kilohertz() -> None:
    heights = [frequency_height(hz, 64) for hz in (500, 1000, 2000, 4000, 8000)]
    assert heights == sorted(heights) and 0 < heights[0] and heights[-1] < 1
    assert time_ticks(167.8, 10.0, 5) == pytest.approx([168, 170, 172, 174, 176])
    assert time_ticks(4.0, 10.0, 10) == pytest.approx(list(range(4, 15)))
