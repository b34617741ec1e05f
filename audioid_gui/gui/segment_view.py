"""A picture of the analysed segment: mel spectrogram with the waveform over it, and a playhead.

Clicking the picture seeks there.  The picture is computed off the GUI thread (core.preview); this
widget only paints arrays it is given.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..core.preview import SegmentPicture


@lru_cache(maxsize=1)
def _palette() -> np.ndarray:
    """256 RGB colours of matplotlib's 'magma', dark for quiet, bright for loud."""
    from matplotlib import colormaps

    return (colormaps["magma"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


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

    def paintEvent(self, _: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = QRectF(self.rect())
        painter.fillRect(rect, QColor("#1d1d24"))
        if self.picture is None or self._image is None:
            painter.setPen(QColor("#b8b8c8"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(rect, self._image)
        self._draw_waveform(painter, rect)
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

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.picture is not None and event.button() == Qt.MouseButton.LeftButton and self.width() > 0:
            fraction = min(1.0, max(0.0, event.position().x() / self.width()))
            self.seek_requested.emit(self.picture.start + fraction * self.picture.seconds)
