"""Edit the project's classes: names, shortcut keys, colours and the genre text to write; or start
from a preset (Music / Dialogue / Both, common genres)."""
from __future__ import annotations

from typing import Optional

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.classes import PRESETS, LabelClass, class_set_problems
from ..core.project import Project

ORIGINAL_NAME = 0x0100  # Qt.UserRole: the name a row had when the dialog opened (None: new row)


class ClassesDialog(QDialog):
    def __init__(self, project: Project, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.project = project
        self.setWindowTitle("Classes")
        self.resize(560, 360)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Name", "Key", "Colour", "Genre text written to tags"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.cellDoubleClicked.connect(self._cell_double_clicked)
        for c in project.classes():
            self._add_row(c, c.name)

        add = QPushButton("Add")
        add.clicked.connect(lambda: self._add_row(LabelClass("New class", None, "#7f8c8d", ""), None))
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_selected)
        self.presets = QComboBox()
        self.presets.addItems(PRESETS)
        use_preset = QPushButton("Use preset")
        use_preset.clicked.connect(self._use_preset)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        row = QHBoxLayout()
        for widget in (add, remove):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.presets)
        row.addWidget(use_preset)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Each class gets one key: press it to label the playing track. "
                                "Double-click a colour to change it."))
        layout.addWidget(self.table)
        layout.addLayout(row)
        layout.addWidget(buttons)

    def _add_row(self, c: LabelClass, original: Optional[str]) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        name = QTableWidgetItem(c.name)
        name.setData(ORIGINAL_NAME, original)
        self.table.setItem(row, 0, name)
        self.table.setItem(row, 1, QTableWidgetItem(c.key or ""))
        color = QTableWidgetItem(c.color)
        color.setBackground(QColor(c.color))
        self.table.setItem(row, 2, color)
        self.table.setItem(row, 3, QTableWidgetItem(c.genre))

    def _cell_double_clicked(self, row: int, column: int) -> None:
        if column != 2:
            return
        item = self.table.item(row, 2)
        chosen = QColorDialog.getColor(QColor(item.text()), self, "Class colour")
        if chosen.isValid():
            item.setText(chosen.name())
            item.setBackground(chosen)

    def _remove_selected(self) -> None:
        for row in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)

    def _use_preset(self) -> None:
        self.table.setRowCount(0)
        existing = {c.name for c in self.project.classes()}
        for c in PRESETS[self.presets.currentText()]:
            self._add_row(c, c.name if c.name in existing else None)

    def rows(self) -> list[tuple[Optional[str], LabelClass]]:
        result = []
        for row in range(self.table.rowCount()):
            text = [self.table.item(row, col).text().strip() if self.table.item(row, col) else "" for col in range(4)]
            original = self.table.item(row, 0).data(ORIGINAL_NAME) if self.table.item(row, 0) else None
            result.append((original, LabelClass(text[0], text[1].upper() or None, text[2] or "#7f8c8d", text[3] or text[0])))
        return result

    def accept(self) -> None:
        rows = self.rows()
        problems = class_set_problems([c for _, c in rows])
        try:
            if problems:
                raise ValueError("\n".join(problems))
            self.project.save_classes(rows)
        except ValueError as exc:
            QMessageBox.warning(self, "Classes not saved", str(exc))
            return
        super().accept()
