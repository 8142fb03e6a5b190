"""Library management and settings dialogs."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.workers import Worker, start
from indexer import Library, Settings, display_path

MODEL_CHOICES = ("MobileCLIP2-S0:dfndr2b", "MobileCLIP2-S2:dfndr2b", "MobileCLIP2-B:dfndr2b",
                 "MobileCLIP-S1:datacompdr", "ViT-B-32:laion2b_s34b_b79k")


class LibraryDialog(QDialog):
    """Folders with their state, and the files that could not be indexed (with reasons)."""

    folders_changed = Signal()
    retry_requested = Signal()

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.setWindowTitle("Library")
        self.resize(760, 460)
        tabs = QTabWidget()
        self.folders = QTableWidget(0, 5)
        self.folders.setHorizontalHeaderLabels(["Folder", "Photos", "Videos", "Errors", "State"])
        self.folders.horizontalHeader().setStretchLastSection(True)
        self.folders.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        add, remove = QPushButton("Add folder…"), QPushButton("Remove")
        add.clicked.connect(self._add)
        remove.clicked.connect(self._remove)
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addWidget(self.folders)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        row.addWidget(QLabel("Removing a folder forgets it in Glimpse; your files are not touched."))
        lay.addLayout(row)
        tabs.addTab(page, "Folders")
        self.errors = QTableWidget(0, 2)
        self.errors.setHorizontalHeaderLabels(["File", "Why it could not be indexed"])
        self.errors.horizontalHeader().setStretchLastSection(True)
        retry = QPushButton("Retry failed files")
        retry.clicked.connect(self._retry)
        epage = QWidget()
        el = QVBoxLayout(epage)
        el.addWidget(self.errors)
        el.addWidget(retry, 0, Qt.AlignmentFlag.AlignLeft)
        tabs.addTab(epage, "Errors")
        self.model_line = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel_switch = QPushButton("Abandon the switch")
        self.cancel_switch.setToolTip("Drop what was re-embedded for the new model; the library stays as it was")
        self.cancel_switch.clicked.connect(lambda: self._write(partial(self.library.cancel_switch, wait=True),
                                                               self.folders_changed, "Abandoning the switch…"))
        self.prune = QPushButton("Free the old model's space")
        self.prune.clicked.connect(lambda: self._write(partial(self.library.switch.prune, wait=True),
                                                       self.folders_changed, "Deleting the old model's vectors…"))
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_line, 1)
        model_row.addWidget(self.cancel_switch)
        model_row.addWidget(self.prune)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        v = QVBoxLayout(self)
        v.addLayout(model_row)
        v.addWidget(tabs)
        v.addWidget(close)
        self.tabs = tabs
        self._roots: list[str] = []
        self.refresh()

    def refresh(self) -> None:
        """Counts and errors are SQL over the whole library: read in a worker, shown when they arrive."""
        self.loaded = False
        w = Worker(lambda: (self.library.status(), self.library.errors()))
        w.signals.result.connect(lambda got: self._show(*got))
        self._loading = start(w)

    def _show(self, st, errs) -> None:
        self.loaded = True
        self._show_models(st.models)
        self._roots = [root.path for root in st.roots]  # exact paths: the table shows readable ones
        self.folders.setRowCount(len(st.roots))
        for r, root in enumerate(st.roots):
            for c, val in enumerate([display_path(root.path), root.photos, root.videos, root.errors,
                                     "online" if root.online else "offline (kept until it returns)"]):
                self.folders.setItem(r, c, QTableWidgetItem(str(val)))
        self.folders.resizeColumnToContents(0)
        self.errors.setRowCount(len(errs))
        for r, e in enumerate(errs):
            self.errors.setItem(r, 0, QTableWidgetItem(display_path(e.path)))
            self.errors.setItem(r, 1, QTableWidgetItem(e.error or ""))
        self.errors.resizeColumnToContents(0)
        self.tabs.setTabText(1, f"Errors ({len(errs)})")

    def _show_models(self, ms) -> None:
        """Active model, a switch's progress, and the space each model's vectors take."""
        if ms is None or ms.active is None:
            self.model_line.setText("Model: chosen when the first folder is indexed")
        else:
            parts = [f"<b>Model:</b> {ms.active_spec}"]
            if ms.target:
                parts.append(f"switching to <b>{ms.target_spec}</b>: {ms.covered}/{ms.total} files "
                             f"({100 * ms.covered / max(ms.total, 1):.0f} %) re-embedded")
            if len(ms.space) > 1:
                parts.append("space: " + ", ".join(f"{m.split('#')[0]} {b / 1e6:.1f} MB" for m, b in ms.space))
            self.model_line.setText(" · ".join(parts))
        self.cancel_switch.setVisible(bool(ms and ms.target))
        self.prune.setVisible(bool(ms and ms.kept))

    def _add(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to Glimpse")
        if folder:
            self._write(partial(self.library.add_root, folder), self.folders_changed, "Adding the folder…")

    def _remove(self) -> None:
        row = self.folders.currentRow()
        if row >= 0:
            self._write(partial(self.library.remove_root, self._roots[row], wait=True), self.folders_changed,
                        "Removing the folder (after the indexing that is running)…")

    def _retry(self) -> None:
        self._write(partial(self.library.retry_errors, wait=True), self.retry_requested,
                    "Marking failed files for another try…")

    def _write(self, fn, done: Signal, busy: str) -> None:
        """A change to the library, off the UI thread: it waits its turn behind indexing."""
        self.setEnabled(False)
        self.setWindowTitle(f"Library — {busy}")
        w = Worker(fn)
        w.signals.error.connect(lambda e: QMessageBox.warning(self, "Glimpse", e))
        w.signals.result.connect(lambda _: done.emit())
        w.signals.finished.connect(self._written)
        self._pending = start(w)

    def _written(self) -> None:
        self.setEnabled(True)
        self.setWindowTitle("Library")
        self.refresh()


class SettingsDialog(QDialog):
    """Model, precision, threads, exclusions and folder watching."""

    def __init__(self, settings: Settings, watch: bool, poll: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.model = QComboBox(editable=True)
        self.model.addItems(list(MODEL_CHOICES))
        self.model.setCurrentText(settings.model)
        self.model.setToolTip("Any open_clip model: NAME:TAG, hf-hub:ORG/REPO or local-dir:FOLDER.\n"
                              "Changing it needs a new library (vectors of different models do not mix).")
        self.precision = QComboBox()
        self.precision.addItems(["int8", "fp32"])
        self.precision.setCurrentText(settings.precision)
        self.threads = QSpinBox(minimum=0, maximum=64, value=settings.threads, specialValueText="automatic")
        self.exclude = QLineEdit(", ".join(settings.exclude), placeholderText="e.g. */raw/*, *.tmp.jpg")
        self.read_text = QCheckBox("Read text in pictures (signs, receipts, slides), after indexing",
                                   checked=settings.read_text)
        self.read_text_video = QCheckBox("Also in videos (slower)", checked=settings.read_text_video)
        self.read_text_video.setEnabled(settings.read_text)
        self.read_text.toggled.connect(self.read_text_video.setEnabled)
        self.regions = QCheckBox("Find small things in large photos (they index ~6× slower)",
                                 checked=settings.regions)
        self.regions.setToolTip("Also embeds five to seven overlapping parts of every large photo, so a heron in a "
                                "corner or a logo on a mug can be found.\nTurning it off frees their space.")
        self.watch = QCheckBox("Watch folders for changes", checked=watch)
        self.poll = QDoubleSpinBox(minimum=10, maximum=86400, value=poll, suffix=" s", decimals=0)
        form = QFormLayout(self)
        form.addRow("Model", self.model)
        form.addRow("Precision", self.precision)
        form.addRow("Threads", self.threads)
        form.addRow("Exclude", self.exclude)
        form.addRow("Text", self.read_text)
        form.addRow("", self.read_text_video)
        form.addRow("Small things", self.regions)
        form.addRow("Folders", self.watch)
        form.addRow("Also rescan every", self.poll)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        form.addRow(buttons)

    def values(self) -> dict[str, object]:
        return {"model": self.model.currentText().strip(), "precision": self.precision.currentText(),
                "threads": self.threads.value(),
                "exclude": tuple(p.strip() for p in self.exclude.text().split(",") if p.strip()),
                "read_text": self.read_text.isChecked(),
                "read_text_video": self.read_text.isChecked() and self.read_text_video.isChecked(),
                "regions": self.regions.isChecked()}
