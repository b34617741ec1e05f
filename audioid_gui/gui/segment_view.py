"""A picture of the analysed segment: mel spectrogram with the waveform over it, and a playhead.

A time axis (the file's minutes and seconds) and a frequency axis (kHz, on the mel scale the
picture is drawn in) frame it, so it reads as a spectrogram.  Clicking the picture seeks there.
The picture is computed off the GUI thread (core.preview); this widget only paints arrays it is
given.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional

import librosa
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..core.audio import TARGET_SR
from ..core.preview import SegmentPicture

FREQUENCY_TICKS_KHZ = (0.5, 1, 2, 4, 8)
TIME_STEPS_S = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)
AXIS_LEFT, AXIS_BOTTOM, TICK = 30, 15, 3  # pixels
BACKGROUND, INK = QColor("#1d1d24"), QColor("#b8b8c8")


@lru_cache(maxsize=1)
def _palette() -> np.ndarray:
    """256 RGB colours of matplotlib's 'magma', dark for quiet, bright for loud."""
    from matplotlib import colormaps

    return (colormaps["magma"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


def frequency_height(hz: float, bands: int) -> float:
    """Where ``hz`` sits, 0 (bottom) .. 1 (top), in a picture of ``bands`` mel bands spanning 0 Hz
    to the Nyquist frequency as ``core.preview`` computes them: band i is centred on the
    (i + 1)-th of bands + 2 points equally spaced in mel, and drawn as the i-th of ``bands`` rows."""
    spacing = float(librosa.hz_to_mel(TARGET_SR / 2)) / (bands + 1)
    return (float(librosa.hz_to_mel(hz)) / spacing - 0.5) / bands


def time_ticks(start: float, seconds: float, most: int) -> list[float]:
    """At most ``most`` round times (0.5, 1, 2, 5, 10 … s apart) within start .. start + seconds."""
    if seconds <= 0 or most < 1:
        return []
    step = next((s for s in TIME_STEPS_S if seconds / s <= most), TIME_STEPS_S[-1])
    first = math.ceil(start / step - 1e-9) * step
    return [t for t in np.arange(first, start + seconds + 1e-9, step)]


def time_text(seconds: float) -> str:
    """"3:14", or "3:14.5" between whole seconds."""
    minutes, rest = divmod(seconds, 60)
    whole = abs(rest - round(rest)) < 1e-6
    return f"{int(minutes)}:{round(rest):02d}" if whole else f"{int(minutes)}:{rest:04.1f}"


class SegmentView(QWidget):
    seek_requested = Signal(float)  # seconds into the file

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.picture: Optional[SegmentPicture] = None
        self._image: Optional[QImage] = None
        self.placeholder = "No track"
        self.playhead: Optional[float] = None  # seconds into the file

    def show_picture(self, picture: Optional[SegmentPicture], placeholder: str = "") -> None:
        self.picture = picture
        self.placeholder = placeholder
        self._image = None
        if picture is not None:
            levels = np.clip(picture.mel_db[::-1] * 255, 0, 255).astype(np.uint8)  # high frequencies on top
            rgb = np.ascontiguousarray(_palette()[levels])
            height, width, _ = rgb.shape
            self._image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
        self.update()

    def set_playhead(self, seconds: Optional[float]) -> None:
        self.playhead = seconds
        self.update()

    def plot_rect(self) -> QRectF:
        """Where the picture itself lies: the widget less the axes' margins."""
        return QRectF(self.rect()).adjusted(AXIS_LEFT, 0, 0, -AXIS_BOTTOM)

    def paintEvent(self, _: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(QRectF(self.rect()), BACKGROUND)
        if self.picture is None or self._image is None:
            painter.setPen(INK)
            painter.drawText(QRectF(self.rect()), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.placeholder)
            return
        rect = self.plot_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(rect, self._image)
        self._draw_waveform(painter, rect)
        self._draw_axes(painter, rect)
        if self.playhead is not None and self.picture.seconds > 0:
            x = rect.left() + (self.playhead - self.picture.start) / self.picture.seconds * rect.width()
            if rect.left() <= x <= rect.right():
                painter.setPen(QPen(QColor("#ffffff"), 2))
                painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))

    def _draw_waveform(self, painter: QPainter, rect: QRectF) -> None:
        low, high = self.picture.envelope
        n = len(low)
        if n < 2:
            return
        xs = rect.left() + np.arange(n) / (n - 1) * rect.width()
        middle, half = rect.center().y(), rect.height() * 0.45
        top = [QPointF(x, middle - v * half) for x, v in zip(xs, high)]
        bottom = [QPointF(x, middle - v * half) for x, v in zip(xs[::-1], low[::-1])]
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(120, 200, 255, 90))
        painter.drawPolygon(QPolygonF(top + bottom))

    def _draw_axes(self, painter: QPainter, rect: QRectF) -> None:
        font = QFont(self.font())
        font.setPointSizeF(7.5)
        painter.setFont(font)
        painter.setPen(INK)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        self._draw_frequency_axis(painter, rect)
        self._draw_time_axis(painter, rect)

    def _draw_frequency_axis(self, painter: QPainter, rect: QRectF) -> None:
        bands = self.picture.mel_db.shape[0]
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for khz in FREQUENCY_TICKS_KHZ:
            height = frequency_height(khz * 1000, bands)
            if not 0 <= height <= 1:
                continue
            y = rect.bottom() - height * rect.height()
            painter.drawLine(QPointF(rect.left() - TICK, y), QPointF(rect.left(), y))
            painter.drawText(QRectF(0, y - 8, rect.left() - TICK - 2, 16), right, f"{khz:g}")
        # The unit goes in the free corner under the axis, clear of the top tick's label.
        painter.drawText(QRectF(0, rect.bottom() + 2, rect.left() - TICK - 2, 12),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, "kHz")

    def _draw_time_axis(self, painter: QPainter, rect: QRectF) -> None:
        start, seconds = self.picture.start, self.picture.seconds
        metrics = painter.fontMetrics()
        most = max(1, int(rect.width() // 60))
        free_from = 0.0  # where the last label ended: a label that would overlap it is left out
        for t in time_ticks(start, seconds, most):
            x = rect.left() + (t - start) / seconds * rect.width()
            painter.drawLine(QPointF(x, rect.bottom()), QPointF(x, rect.bottom() + TICK))
            text = time_text(t)
            width = metrics.horizontalAdvance(text) + 4
            left = min(max(x - width / 2, rect.left() - 2), self.width() - width)  # clear of the unit
            if left < free_from:
                continue
            painter.drawText(QRectF(left, rect.bottom() + TICK, width, AXIS_BOTTOM - TICK),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)
            free_from = left + width

    def mousePressEvent(self, event: QMouseEvent) -> None:
        rect = self.plot_rect()
        if self.picture is not None and event.button() == Qt.MouseButton.LeftButton and rect.width() > 0:
            fraction = min(1.0, max(0.0, (event.position().x() - rect.left()) / rect.width()))
            self.seek_requested.emit(self.picture.start + fraction * self.picture.seconds)
