"""What the window shows before a project is open: start a project, open one, or try the demo."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget


class WelcomePage(QWidget):
    new_requested = Signal()
    open_requested = Signal()
    demo_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        title = QLabel("<h1>AudioID Labeler</h1>")
        text = QLabel(
            "Sort thousands of short clips into Music, Dialogue and Both (or your own genres): "
            "import a folder, listen, press <b>M</b>, <b>D</b> or <b>B</b>, and the next clip starts. "
            "Drop folders and playlists on the window to import them."
        )
        text.setWordWrap(True)
        buttons = []
        for caption, signal in (
            ("New project…", self.new_requested),
            ("Open project…", self.open_requested),
            ("Try the demo project", self.demo_requested),
        ):
            button = QPushButton(caption)
            button.setMinimumHeight(36)
            button.clicked.connect(signal)
            buttons.append(button)
        self.recent = QListWidget()
        self.recent.setMaximumHeight(160)
        self.recent.itemActivated.connect(lambda item: self.recent_requested.emit(item.data(Qt.ItemDataRole.UserRole)))

        column = QVBoxLayout()
        column.addWidget(title)
        column.addWidget(text)
        column.addSpacing(12)
        for button in buttons:
            column.addWidget(button)
        column.addSpacing(12)
        self.recent_title = QLabel("<b>Recent projects</b> (double-click to open)")
        column.addWidget(self.recent_title)
        column.addWidget(self.recent)
        column.addStretch(1)
        holder = QWidget()
        holder.setLayout(column)
        holder.setFixedWidth(480)
        outer = QVBoxLayout(self)
        outer.addWidget(holder, 0, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        outer.setContentsMargins(24, 48, 24, 24)

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(f"{Path(path).name}    —    {Path(path).parent}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.recent.addItem(item)
        self.recent.setVisible(bool(paths))
        self.recent_title.setVisible(bool(paths))
