"""Saved searches ("smart albums") beside the results, each with its count of new matches,
and a "Recent" menu of the last searches. Both come from the library (``Library.searches``)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QInputDialog, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from indexer import SavedSearch


class SavedPanel(QWidget):
    """A list of saved searches: click one to run it again; "Save this search…" adds the current one."""

    open_requested = Signal(str)  # a saved search's name
    save_requested = Signal(str)  # the name to save the current search as

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.itemActivated.connect(lambda it: self.open_requested.emit(it.data(Qt.ItemDataRole.UserRole)))
        self.list.itemClicked.connect(lambda it: self.open_requested.emit(it.data(Qt.ItemDataRole.UserRole)))
        self.save_button = QPushButton("Save this search…")
        self.save_button.clicked.connect(self._ask_name)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("<b>Saved searches</b>"))
        lay.addWidget(self.list, 1)
        lay.addWidget(self.save_button)
        self.setMaximumWidth(240)

    def show_counts(self, rows: list[tuple[SavedSearch, int]]) -> None:
        self.list.clear()
        for saved, new in rows:
            it = QListWidgetItem(f"{saved.name}" + (f"  ·  {new} new" if new else ""))
            it.setData(Qt.ItemDataRole.UserRole, saved.name)
            it.setToolTip(saved.query.describe())
            if new:
                font = it.font()
                font.setBold(True)
                it.setFont(font)
            self.list.addItem(it)
        self.setVisible(bool(rows) or self.isVisible())

    def _ask_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Save this search", "Name:")
        if ok and name.strip():
            self.save_requested.emit(name.strip())
