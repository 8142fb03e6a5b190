"""Getting the window a model: loading it at start, and the pages and actions for when it is
missing (import a downloaded folder, download it), and applying Settings (a new model on an
indexed library is a background switch)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from desktop.workers import Worker, start
from indexer import download_model, import_model, settle_collector

if TYPE_CHECKING:
    from desktop.window import MainWindow


class ModelSetup:
    """The window's model life cycle; every engine call in a ``Worker``."""

    def __init__(self, window: MainWindow) -> None:
        self.win = window
        self.library = window.library
        self.failed = False  # the model could not be loaded: its explanation stays until one loads

    def load(self) -> None:
        self.win.status.say(f"Loading model {self.library.settings.model}…")
        w = Worker(self.library.searching.prepare)  # everything the first search needs, so that it answers at once
        w.signals.result.connect(self._loaded)
        w.signals.error.connect(self._failed)
        start(w)

    def _loaded(self, _: object) -> None:
        win = self.win
        if win.runner.closing:
            return
        win.model_ready, self.failed = True, False
        win.results.reset_start_button()  # "Import a model folder…" no more: adding folders is what comes next
        settle_collector()  # start-up's objects out of later full collections, which freeze every thread
        win.status.say("Ready")
        w = Worker(self.library.roots)
        w.signals.result.connect(lambda roots: roots and not win.runner.closing and win.start_indexing())  # catch up
        start(w)
        if win.bar.has_query():
            win.run_search()

    def _failed(self, err: str) -> None:
        win = self.win
        if win.runner.closing:
            return
        self.failed = True
        win.status.say("The model could not be loaded")
        win.results.show_message(f"<h3>The model is not available</h3><p>{_html(err)}</p>"
                         "<p>Import a model folder (open_clip_config.json + weights) to continue.</p>"
                         "<p>Or, when online, use <i>Glimpse → Download the model</i>.</p>", button=True)
        win.results.set_start_button("Import a model folder…", self.pick_and_import)

    def pick_and_import(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.win, "Choose a downloaded open_clip model folder")
        if folder:
            self.import_model(Path(folder))

    def import_model(self, folder: Path) -> None:
        """Copy a downloaded model into the model cache and use it (in the background)."""
        self.win.status.say(f"Importing the model in {folder}…")
        w = Worker(import_model, folder)
        w.signals.result.connect(self._use)
        w.signals.error.connect(
            lambda e: self.win.results.show_message(f"<h3>That model could not be imported</h3><p>{_html(e)}</p>"))
        start(w)

    def download(self) -> None:
        """Fetch this library's model (progress is busy-only: the hub reports to a terminal)."""
        spec = self.library.settings.model
        self.win.status.busy(f"Downloading {spec}… (once; after that Glimpse works offline)")
        w = Worker(download_model, spec)
        w.signals.result.connect(lambda _: (self.win.status.idle(), self.load()))
        w.signals.error.connect(lambda e: (self.win.status.idle(), self._failed(e)))
        start(w)

    def _use(self, spec: str) -> None:
        w = Worker(self.library.change_model, spec, True)  # waits its turn behind indexing
        w.signals.error.connect(lambda e: self.win.results.show_message(f"<h3>Model imported</h3><p>{_html(e)}</p>"))
        w.signals.result.connect(self._applied)
        start(w)

    def apply_settings(self, values: dict) -> None:
        model = str(values.pop("model"))
        w = Worker(self._apply, values, model)  # waits its turn behind indexing
        w.signals.error.connect(self.win.status.say)
        w.signals.result.connect(self._applied)
        start(w)

    def _apply(self, values: dict, model: str):
        """Off the UI thread: settings, then a model change (a switch when the library has vectors)."""
        self.library.update_settings(**values)
        return self.library.change_model(model, wait=True) if model != self.library.settings.model else None

    def _applied(self, state) -> None:
        win = self.win
        if state is not None and state.target is not None:  # a switch: the watcher re-embeds, search goes on
            win.status.switch_target = state.target_spec
            win.status.say(f"Switching to {state.target_spec}: re-embedding in the background; "
                           "search keeps using the current model until it is done")
            win.start_indexing()
            return
        win.model_ready, self.failed = False, False  # another model: what failed is no longer what to do first
        win.runner.show_start_page()
        self.load()  # the model reloads; its start catches up with indexing and reads text if now asked


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
