"""The player panel: real playback (QMediaPlayer + QAudioOutput) of the current track, starting at
the analysed segment, with a picture of that segment, the file's tags and one button per class.

Playback starts at the segment (by default the last 10 s of audible content: the part the features
describe) and stops at its end, unless "Whole file" is on.  Where the segment lies was recorded when
the features were extracted; for a track not extracted yet it is the segment's plain window (the
file's last 10 s), and the picture shows the same part.
"""
from __future__ import annotations

import logging
import os
from typing import Optional

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QAction
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer
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
        self._window_unknown = False  # the segment's place awaits the picture (the file's length is unknown)
        self._autoplay = False
        self._picture_job: Optional[Job] = None

        self.audio = QAudioOutput(self)
        self.media = QMediaPlayer(self)
        self.media.setAudioOutput(self.audio)
        self.media.mediaStatusChanged.connect(self._media_status)
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
        self.whole_file.setToolTip("Play the whole file instead of the analysed segment (W)")
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
        """Show and (if autoplay) play a track.  A missing file still shows, so it can be labelled."""
        self.track = track
        self.segment = segment
        self._pending_start = None
        self._window_unknown = False
        self.view.set_playhead(None)
        self._show_message("")
        if track is None:
            self.title.setText("No track")
            self.segment_info.setText("")
            self.tags.setText("")
            self.current_label.setText("")
            self.media.setSource(QUrl())
            self.view.show_picture(None, "Select a track, or add a folder (Ctrl+Shift+O)")
            return
        self.title.setText(f"<b>{track.name}</b><br><span style='color:gray'>{track.folder}</span>")
        self.show_label(track)
        self.tags.setText(self._tags_text(track))
        if track.analysed is not None:
            self.segment_start, self.segment_end = track.analysed.start, track.analysed.end
        else:
            window = segment.window(track.duration)
            self._window_unknown = window is None
            self.segment_start, length = window or (0.0, None)
            self.segment_end = None if length is None else self.segment_start + length
        self.segment_info.setText(self._segment_text(track))
        if not os.path.exists(track.path):
            self._window_unknown = False
            self.segment_info.setText(self._segment_text(track) if track.analysed is not None else "")
            self.media.setSource(QUrl())
            self.view.show_picture(None, "File not found")
            self._show_message(
                "This file was moved or deleted since it was imported. You can still label it."
            )
            return
        self._pending_start = self.segment_start if not self.whole_file.isChecked() else 0.0
        self._autoplay = autoplay
        self.media.setSource(QUrl.fromLocalFile(track.path))
        self.view.show_picture(None, "Drawing the segment…")
        self._draw_picture(track, segment)

    def show_label(self, track: TrackRow) -> None:
        self.current_label.setText(
            f"Label: <b>{track.label}</b> <span style='color:gray'>({track.source})</span>" if track.label else "Unlabelled"
        )

    def _tags_text(self, track: TrackRow) -> str:
        shown = [f"<b>{k}</b>: {v}" for k, v in track.tags.items()]
        if track.error:
            shown.append(f"<span style='color:#c0392b'>{track.error}</span>")
        return " · ".join(shown) if shown else "<span style='color:gray'>No tags</span>"

    def _segment_text(self, track: TrackRow) -> str:
        """Which part plays: "Analysed 3:12–3:22 · trailing silence 4.1 s skipped"."""
        analysed: Optional[AnalysedSegment] = track.analysed
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
        if self._picture_job is not None:
            self._picture_job.cancel()
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
        if self.whole_file.isChecked():
            return
        loaded = self.media.mediaStatus() in (QMediaPlayer.MediaStatus.LoadedMedia,
                                              QMediaPlayer.MediaStatus.BufferingMedia,
                                              QMediaPlayer.MediaStatus.BufferedMedia)
        if self._pending_start is not None or not loaded:  # a seek before the media has loaded is lost
            self._pending_start = start
        elif not start <= self.media.position() / 1000 < end:
            self.seek(start)

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
        if self.media.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.media.pause()
        elif self.media.source().isValid():
            self.media.play()

    def seek(self, seconds: float) -> None:
        self.media.setPosition(int(seconds * 1000))

    def is_playing(self) -> bool:
        return self.media.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    def _media_status(self, status: QMediaPlayer.MediaStatus) -> None:
        if status in (QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferedMedia) and \
                self._pending_start is not None:
            start, self._pending_start = self._pending_start, None
            if start > 0:
                self.media.setPosition(int(start * 1000))
            if self._autoplay:
                self.media.play()
        elif status == QMediaPlayer.MediaStatus.InvalidMedia:
            self._show_message("This file cannot be played. You can still label it, or go on to the next one.")

    def _position(self, ms: int) -> None:
        seconds = ms / 1000
        self.slider.setMaximum(max(0, self.media.duration()))
        if not self.slider.isSliderDown():
            self.slider.setValue(ms)
        self.time.setText(f"{format_duration(seconds)} / {format_duration(self.media.duration() / 1000)}")
        self.view.set_playhead(seconds)
        if (not self.whole_file.isChecked() and self.segment_end is not None and seconds >= self.segment_end
                and self.is_playing()):
            self.media.pause()

    def _update_play_button(self, state: QMediaPlayer.PlaybackState) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if state == QMediaPlayer.PlaybackState.PlayingState \
            else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def _media_error(self, _error: QMediaPlayer.Error, text: str) -> None:
        log.info("playback error on %s: %s", self.track.path if self.track else None, text)
        self._show_message(f"Cannot play this file: {text or 'unknown error'}. You can still label it.")

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.message.setStyleSheet("color: #c0392b;" if text else "")

    def stop(self) -> None:
        self.media.setSource(QUrl())  # also stops; a separate stop() first can deadlock a loading back-end
