"""The player panel: real playback (QMediaPlayer + QAudioOutput) of the current track, starting at
the analysed segment, with a picture of that segment, the file's tags and one button per class.

Playback starts at the segment (by default the last 10 s of audible content: the part the features
describe) and stops at its end, unless "Whole file" is on.  Where the segment lies was recorded when
the features were extracted; for a track not extracted yet it is the segment's plain window (the
file's last 10 s), and the picture shows the same part.

Starting at the segment needs care: ``setSource`` on a playing player reports the *previous*
source's ``LoadedMedia`` before the new one starts loading, and a seek plus ``play()`` on that
report leaves the new clip stuck at 0:00.  So the start is applied only once the player reports a
loaded state for the source this panel asked for (``_start_when_ready``).
"""
from __future__ import annotations

import logging
import os
from typing import Optional

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QAction
from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.audio import AnalysedSegment, SegmentSpec
from ..core.preview import SegmentPicture, segment_picture
from ..core.tasks import CancelToken
from ..core.tracklist import TrackRow
from .segment_view import SegmentView
from .track_table import format_duration
from .workers import Job

log = logging.getLogger(__name__)

_LOADED = (QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferingMedia,
           QMediaPlayer.MediaStatus.BufferedMedia)
NO_SOUND_DEVICE = "No sound device found: playback runs silently; labeling works as usual."


def sound_device_available() -> bool:
    """Whether the system offers an audio output; without one the player still runs (silently)."""
    return not QMediaDevices.defaultAudioOutput().isNull()


class PlayerPanel(QWidget):
    previous_requested = Signal()
    next_requested = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.track: Optional[TrackRow] = None
        self.segment = SegmentSpec()
        self.segment_start = 0.0
        self.segment_end: Optional[float] = None
        self._pending_start: Optional[float] = None  # seek + play once the media has loaded
        self._source = QUrl()  # what this panel asked the player for; reports about others are stale
        self._window_unknown = False  # the segment's place awaits the picture (the file's length is unknown)
        self._autoplay = False
        self._picture_job: Optional[Job] = None

        self.audio = QAudioOutput(self)
        self.media = QMediaPlayer(self)
        self.media.setAudioOutput(self.audio)
        self.media.mediaStatusChanged.connect(self._media_status)
        self.media.durationChanged.connect(lambda _ms: self._show_position(self.media.position()))
        self.media.positionChanged.connect(self._position)
        self.media.playbackStateChanged.connect(self._update_play_button)
        self.media.errorOccurred.connect(self._media_error)

        self.title = QLabel("No track")
        self.title.setObjectName("trackTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel()
        self.message.setObjectName("playerMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        self.device_note = QLabel(NO_SOUND_DEVICE)
        self.device_note.setObjectName("soundDeviceNote")
        self.device_note.setStyleSheet("color: gray;")
        self.device_note.setWordWrap(True)
        self._devices = QMediaDevices(self)
        self._devices.audioOutputsChanged.connect(self._sound_devices_changed)
        self.view = SegmentView()
        self.view.seek_requested.connect(self.seek)

        self.play_button = self._tool_button(QStyle.StandardPixmap.SP_MediaPlay, "Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle)
        previous = self._tool_button(QStyle.StandardPixmap.SP_MediaSkipBackward, "Previous track (Ctrl+Left)")
        previous.clicked.connect(self.previous_requested)
        following = self._tool_button(QStyle.StandardPixmap.SP_MediaSkipForward, "Next track (Ctrl+Right)")
        following.clicked.connect(self.next_requested)
        self.segment_info = QLabel()
        self.segment_info.setObjectName("segmentInfo")
        self.segment_info.setToolTip(
            "The part of the file the features describe, and which plays unless \"Whole file\" is on"
        )
        self.whole_file = QCheckBox("Whole file")
        self.whole_file.setToolTip("Play the whole file from its start instead of the analysed segment (Ctrl+L)")
        self.whole_file.toggled.connect(self._replay_from_start)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.sliderMoved.connect(lambda ms: self.media.setPosition(ms))
        self.time = QLabel("0:00 / 0:00")
        self.time.setMinimumWidth(90)
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self.volume.setValue(80)
        self.volume.setMaximumWidth(90)
        self.volume.setToolTip("Volume")
        self.volume.valueChanged.connect(lambda v: self.audio.setVolume(v / 100))
        self.audio.setVolume(0.8)

        transport = QHBoxLayout()
        for widget in (previous, self.play_button, following):
            transport.addWidget(widget)
        transport.addWidget(self.slider, 1)
        transport.addWidget(self.time)
        speaker = QLabel()
        speaker.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaVolume).pixmap(16, 16))
        transport.addWidget(speaker)
        transport.addWidget(self.volume)

        self.tags = QLabel()
        self.tags.setObjectName("tags")
        self.tags.setWordWrap(True)
        self.tags.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label_row = QHBoxLayout()
        self.current_label = QLabel()
        self.current_label.setObjectName("currentLabel")

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.message)
        layout.addWidget(self.device_note)
        layout.addWidget(self.view, 1)
        layout.addLayout(transport)
        options = QHBoxLayout()
        options.addWidget(self.whole_file)
        options.addWidget(self.segment_info)
        options.addStretch(1)
        options.addWidget(self.current_label)
        layout.addLayout(options)
        layout.addWidget(self.tags)
        layout.addLayout(self.label_row)
        self._sound_devices_changed()

    def _tool_button(self, icon: QStyle.StandardPixmap, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(self.style().standardIcon(icon))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        return button

    # -- the class buttons ----------------------------------------------------------------------

    def set_label_actions(self, actions: list[QAction], colors: dict[str, str]) -> None:
        """One big button per class, each triggering the same action as its shortcut key."""
        while self.label_row.count():
            item = self.label_row.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for action in actions:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setMinimumHeight(44)
            color = colors.get(action.data(), "#888888")
            button.setStyleSheet(
                f"QToolButton {{ background: {color}; color: white; font-weight: bold; border-radius: 6px; }}"
                f"QToolButton:pressed {{ background: #333; }}"
            )
            self.label_row.addWidget(button)

    # -- loading a track ------------------------------------------------------------------------

    def load(self, track: Optional[TrackRow], segment: SegmentSpec, autoplay: bool = True) -> None:
        """Show and (if autoplay) play a track.  A missing file still shows, so it can be labelled.
        ``None`` (no project, no selection) empties the panel, so nothing of a closed project stays."""
        self._cancel_picture()
        self.track = track
        self.segment = segment
        self._pending_start = None
        self._show_message("")
        self._show_position(0)
        self.view.set_playhead(None)
        if track is None:
            self._clear()
            return
        self.title.setText(f"<b>{track.name}</b><br><span style='color:gray'>{track.folder}</span>")
        self._show_row(track)
        self._place_segment(track)
        if not os.path.exists(track.path):
            self._window_unknown = False
            self.segment_info.setText(self._segment_text(track) if track.analysed is not None else "")
            self._set_source(QUrl())
            self.view.show_picture(None, "File not found")
            self._show_message(
                "This file was moved or deleted since it was imported. You can still label it."
            )
            return
        self.segment_info.setText(self._segment_text(track))
        self._pending_start = self._play_from()
        self._autoplay = autoplay
        self._set_source(QUrl.fromLocalFile(track.path))
        self.view.show_picture(None, "Drawing the segment…")
        self._draw_picture(track, segment)

    def show_label(self, track: TrackRow) -> None:
        """Show the current track's row anew (its label, tags and analysed segment) after a label,
        a tag write or undo, or a scan changed it.  Playback goes on; it moves only to follow an
        analysed segment that moved away from it."""
        if self.track is None or track.id != self.track.id:
            return  # a row of a track no longer shown
        moved = track.analysed != self.track.analysed
        self.track = track
        self._show_row(track)
        present = os.path.exists(track.path)
        if moved:
            self._place_segment(track)
            if present:
                self._follow_segment()
                self._draw_picture(track, self.segment)
        if present or track.analysed is not None:
            self.segment_info.setText(self._segment_text(track))

    def _clear(self) -> None:
        self.title.setText("No track")
        self.segment_info.setText("")
        self.tags.setText("")
        self.current_label.setText("")
        self.segment_start, self.segment_end = 0.0, None
        self._window_unknown = False
        self._set_source(QUrl())
        self.view.show_picture(None, "Select a track, or add a folder (Ctrl+Shift+O)")

    def _show_row(self, track: TrackRow) -> None:
        self.current_label.setText(
            f"Label: <b>{track.label}</b> <span style='color:gray'>({track.source})</span>" if track.label else "Unlabelled"
        )
        self.tags.setText(self._tags_text(track))

    def _place_segment(self, track: TrackRow) -> None:
        """Where the segment lies: as analysed, else the spec's window over the file's length (not
        known before the file is probed: then the picture's decoding tells, see ``_adopt_window``)."""
        if track.analysed is not None:
            self._window_unknown = False
            self.segment_start, self.segment_end = track.analysed.start, track.analysed.end
        else:
            window = self.segment.window(track.duration)
            self._window_unknown = window is None
            self.segment_start, length = window or (0.0, None)
            self.segment_end = None if length is None else self.segment_start + length

    def _follow_segment(self) -> None:
        """Playback follows a segment that moved (learnt from the picture, or from a scan): a start
        still to come goes there, and so does a paused player or one playing outside it."""
        if self.whole_file.isChecked():
            return
        end = self.segment_end if self.segment_end is not None else float("inf")
        if self._pending_start is not None:
            self._pending_start = self.segment_start
        elif not self.is_playing() or not self.segment_start <= self.media.position() / 1000 < end:
            self.seek(self.segment_start)

    def _play_from(self) -> float:
        return 0.0 if self.whole_file.isChecked() else self.segment_start

    def _tags_text(self, track: TrackRow) -> str:
        shown = [f"<b>{k}</b>: {v}" for k, v in track.tags.items()]
        if track.error:
            shown.append(f"<span style='color:#c0392b'>{track.error}</span>")
        return " · ".join(shown) if shown else "<span style='color:gray'>No tags</span>"

    def _segment_text(self, track: TrackRow) -> str:
        """Which part plays: "Analysed 3:12–3:22 · trailing silence 4.1 s skipped"."""
        analysed: Optional[AnalysedSegment] = track.analysed
        if analysed is None and track.error:
            return "<span style='color:gray'>Not analysed: the file failed (its reason is under the tags)</span>"
        if analysed is None:
            if self._window_unknown:
                return "<span style='color:gray'>Segment: finding it… (not analysed yet)</span>"
            if self.segment_end is None:
                return "<span style='color:gray'>Segment: whole file (not analysed yet)</span>"
            span = f"{format_duration(self.segment_start)}–{format_duration(self.segment_end)}"
            return f"<span style='color:gray'>Segment {span} (not analysed yet)</span>"
        text = f"Analysed {format_duration(analysed.start)}–{format_duration(analysed.end)}"
        if analysed.trailing_silence >= 0.05:
            text += f" · trailing silence {analysed.trailing_silence:.1f} s skipped"
        return text

    def _draw_picture(self, track: TrackRow, segment: SegmentSpec) -> None:
        self._cancel_picture()
        def task(_progress: object, cancel: CancelToken) -> Optional[SegmentPicture]:
            # Arrow keys held down queue many pictures: draw only the one still wanted.
            if cancel.cancelled:
                return None
            return segment_picture(track.path, segment, track.duration, track.analysed)

        job = Job("Segment picture", task)
        job.succeeded.connect(self._picture_ready)
        job.failed.connect(self._picture_failed)
        self._picture_job = job
        job.start()

    def _cancel_picture(self) -> None:
        """Forget the picture being drawn: it belongs to a track (or project) left behind."""
        if self._picture_job is not None:
            self._picture_job.cancel()
            self._picture_job = None

    def _picture_ready(self, picture: Optional[SegmentPicture]) -> None:
        if self.sender() is self._picture_job and picture is not None:  # not for a track left behind
            self.view.show_picture(picture)
            if self._window_unknown:
                self._adopt_window(picture.start, picture.start + picture.seconds)

    def _adopt_window(self, start: float, end: float) -> None:
        """A track not probed yet has no known length, so where its segment lies is learnt from the
        picture's decoding: playback moves there, unless the user chose the whole file."""
        self._window_unknown = False
        self.segment_start, self.segment_end = start, end
        if self.track is not None:
            self.segment_info.setText(self._segment_text(self.track))
        self._follow_segment()

    def _picture_failed(self, message: str) -> None:
        if self.sender() is self._picture_job:
            if self._window_unknown:  # nothing learnt: the whole file plays, as the label now says
                self._window_unknown = False
                if self.track is not None:
                    self.segment_info.setText(self._segment_text(self.track))
            reason = message.split(": ", 1)[-1]
            self.view.show_picture(None, f"Cannot draw this segment:\n{reason}")

    # -- playback -------------------------------------------------------------------------------

    def toggle(self) -> None:
        """Play or pause; a clip that has played to its end starts again at its segment."""
        if self.is_playing():
            self.media.pause()
        elif self._pending_start is not None:  # still loading: it plays as soon as it can
            self._autoplay = True
        elif self.media.source().isValid():
            if self._finished():
                self.seek(self._play_from())
            self.media.play()

    def _replay_from_start(self) -> None:
        """Switching between the whole file and the segment plays the choice from its start: the
        whole file from 0:00, the segment from where it lies."""
        if self._pending_start is not None:  # still loading: it starts at the new choice's start
            self._pending_start, self._autoplay = self._play_from(), True
        elif self.media.source().isValid():
            self.seek(self._play_from())
            self.media.play()

    def _finished(self) -> bool:
        if self.media.mediaStatus() == QMediaPlayer.MediaStatus.EndOfMedia:
            return True
        return (not self.whole_file.isChecked() and self.segment_end is not None
                and self.media.position() >= self.segment_end * 1000)

    def seek(self, seconds: float) -> None:
        self.media.setPosition(int(seconds * 1000))

    def is_playing(self) -> bool:
        return self.media.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    def _set_source(self, url: QUrl) -> None:
        self._source = url
        self.media.setSource(url)
        self._start_when_ready()  # the same file again: no new status comes, it is loaded already

    def _start_when_ready(self) -> None:
        """Seek to the segment and play, once the player has loaded the source this panel asked
        for: a report still about the previous source (or one from before loading began) would
        lose the seek and leave the clip stuck at its start."""
        if self._pending_start is None or self.media.source() != self._source or \
                self.media.mediaStatus() not in _LOADED:
            return
        start, self._pending_start = self._pending_start, None
        if start > 0:
            self.seek(start)
        if self._autoplay:
            self.media.play()

    def _media_status(self, status: QMediaPlayer.MediaStatus) -> None:
        if status == QMediaPlayer.MediaStatus.InvalidMedia and self.media.source() == self._source:
            self._show_message("This file cannot be played. You can still label it, or go on to the next one.")
        else:
            self._start_when_ready()

    def _position(self, ms: int) -> None:
        self._show_position(ms)
        seconds = ms / 1000
        self.view.set_playhead(seconds if self._source.isValid() else None)
        if (not self.whole_file.isChecked() and self.segment_end is not None and seconds >= self.segment_end
                and self.is_playing()):
            self.media.pause()

    def _show_position(self, ms: int) -> None:
        duration = max(0, self.media.duration()) if self._source.isValid() else 0
        self.slider.setMaximum(duration)
        if not self.slider.isSliderDown():
            self.slider.setValue(ms)
        self.time.setText(f"{format_duration(ms / 1000)} / {format_duration(duration / 1000)}")

    def _update_play_button(self, state: QMediaPlayer.PlaybackState) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if state == QMediaPlayer.PlaybackState.PlayingState \
            else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def _media_error(self, _error: QMediaPlayer.Error, text: str) -> None:
        log.info("playback error on %s: %s", self.media.source().toLocalFile(), text)
        if self.media.source() != self._source:
            return  # about the track left behind
        self._show_message(f"Cannot play this file: {text or 'unknown error'}. You can still label it.")

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.message.setStyleSheet("color: #c0392b;" if text else "")

    def _sound_devices_changed(self) -> None:
        """Without a sound device the clips play silently: say so once, in the panel (not per
        clip), and follow a device that appears later."""
        available = sound_device_available()
        self.device_note.setVisible(not available)
        if available:
            self.audio.setDevice(QMediaDevices.defaultAudioOutput())

    def stop(self) -> None:
        self._pending_start = None
        self._set_source(QUrl())  # also stops; a separate stop() first can deadlock a loading back-end
