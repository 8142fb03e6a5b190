"""``Library``: the one object the CLI and the GUI talk to.

A library is a directory (``library.db``, SQLite, the truth; ``ann/``, the hnswlib cache;
``settings.json``) or a PostgreSQL database (base/location.py). The model loads on the first
search or index, so opening a library is instant. Its parts: ``core.py`` (the shared state and
the one lock order), ``searching.py`` and ``switch.py`` (``Library.switch``, a model switch).
"""

from __future__ import annotations

import threading
from pathlib import Path

from indexer.base import atomic
from indexer.base.config import Settings, library_location, model_cache_dir, prepare_library_folder
from indexer.base.errors import LibraryBusy, LibraryError
from indexer.base.location import Location
from indexer.base.paths import display
from indexer.base.progress import AfterPass, Phase, ProgressFn
from indexer.indexing.pipeline import IndexReport, Pipeline
from indexer.indexing.region_pass import RegionPass, RegionReport
from indexer.indexing.status import Status, library_status
from indexer.indexing.text_pass import TextPass, TextReport
from indexer.library.core import Core
from indexer.library.searching import LibrarySearch
from indexer.library.switch import ModelSwitch
from indexer.library.views import Views
from indexer.model.encoder import Encoder
from indexer.search.query import Query
from indexer.search.rank import Hit
from indexer.search.saved import Searches
from indexer.search.searcher import Results
from indexer.store.database import FileRow, RootRow, TextRow


class Library:
    """A Glimpse library on disk. Thread-safe; close it when done."""

    def __init__(self, location: Location, settings: Settings, isolated: bool = False) -> None:
        self._core = core = Core(location, settings, isolated)
        self.location, self.folder = location, location.folder
        self.store, self.writing = core.store, core.writing
        self.searching = LibrarySearch(core)  # searches beyond ``search``: by vector, similar, duplicates
        self.switch = ModelSwitch(core)  # changing the model while search keeps working
        self.searches = Searches(self.store, self.search)  # recent and saved searches (search/saved.py)
        self.views = Views(self.folder, self.store, core.looks)  # thumbnails and preview pictures
        self._reader = None  # the OCR models, loaded by the first text pass

    @classmethod
    def open(cls, folder: Path | str | None = None, isolated: bool = False, **overrides: object) -> Library:
        """Open (creating if needed) the library in ``folder`` (default: the user's), or the one in the
        PostgreSQL database a ``postgresql://`` address names (base/location.py).

        ``isolated`` decodes files in worker processes (``base/isolation.py``): a process that must not
        die of a file — the app — uses it; the CLI journals instead and is started again after a crash.

        ``overrides`` change settings (e.g. ``model=...``). They are saved with the library
        only once the model they name has loaded and matches the library's vectors: a
        refused or unloadable ``--model`` must not become the library's setting.
        """
        location = library_location(folder)
        folder = location.folder
        try:
            prepare_library_folder(folder)
        except OSError as e:
            raise LibraryError(f"cannot create the library folder {display(str(folder))}: {e.strerror or e}") from e
        settings_file = folder / "settings.json"
        try:
            saved = Settings.from_json(settings_file.read_text()) if settings_file.exists() else Settings()
        except (ValueError, TypeError) as e:
            raise LibraryError(f"the library's settings file {settings_file} is damaged ({e}); "
                               "fix or delete it (defaults are used without it)") from e
        if not settings_file.exists():
            atomic.write_text(settings_file, saved.to_json())
        lib = cls(location, saved, isolated)
        saved = saved.with_shared(lib.store.get_meta("settings"))  # a server library's: its computers share them
        settings = saved.replace(**{k: v for k, v in overrides.items() if v is not None})
        active = lib.store.get_meta("model_spec")
        if active and overrides.get("model") is None and saved.model != active:
            # a switch flipped the model but the process ended before settings.json said so
            settings, saved = settings.replace(model=active), saved.replace(model=active)
            atomic.write_text(settings_file, saved.to_json())
        lib._core.start_with(settings, saved)
        for old in (folder / "ann").glob("ann*"):  # the index of one model lived here before switching existed
            if old.is_file():
                old.unlink(missing_ok=True)
        return lib

    def close(self) -> None:
        ann = self._core.loaded_ann
        if ann is not None and ann.dirty:
            try:
                with self.writing():
                    ann.catch_up(self.store)
                    ann.save()
            except LibraryBusy:
                pass  # the writer saves its own, newer index
        self._core.close_guards()
        with self._core.lock:
            self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # the model, the index, the settings ----------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self._core.settings

    @property
    def model_id(self) -> str | None:
        return self._core.model_id

    @property
    def embedder(self) -> Encoder:
        """The active model, loaded on first use; refuses a model other than the library's."""
        return self._core.embedder

    @property
    def ann(self):
        return self._core.ann

    def change_model(self, spec: str, wait: bool = False, cancel: threading.Event | None = None):
        """Use ``spec`` from now on: at once on a library with nothing embedded yet, else by a switch
        (``switch.start``) that ``switch.reembed()`` carries out while search keeps working."""
        if self.model_id is None or not self.store.vector_count():
            self.update_settings(model=spec)
            return self.switch.state()
        return self.switch.start(spec, wait, cancel)

    def update_settings(self, **changes: object) -> Settings:
        """Change and save settings. A new model needs a new (or empty) library."""
        core = self._core
        new = core.settings.replace(**changes)
        old = core.settings
        if new.model != old.model and self.model_id is not None and self.store.vector_count():
            raise LibraryError(f"this library's photos were indexed with another model; change it with "
                               f"`glimpse model use {new.model}` (Settings → Model in the app), which re-embeds "
                               "them in the background while search keeps working")
        with self.writing(wait=True):
            new_model = new.model != old.model and self.model_id is not None  # nothing embedded yet
            if new_model:
                self.store.switch_active("", {}, ("model", "dim", "model_spec"))  # the next model to load is it
            if old.regions and not new.regions and self.model_id is not None:
                self.store.drop_regions()  # their space back; turning regions on again makes them anew
            with core.lock:
                core.changed(embedder=(new.model, new.precision, new.threads) != (old.model, old.precision, old.threads),
                             ann=new_model)  # the searcher is measured again for the new settings
                core.settings = new
            core.save_settings()
        return new

    # roots ------------------------------------------------------------------------------
    def roots(self) -> list[RootRow]:
        return self.store.roots()

    def add_root(self, path: Path | str) -> RootRow:
        p = Path(path).expanduser().resolve()
        if not p.is_dir():
            raise LibraryError(f"{display(str(p))} is not a folder")
        for r in self.store.roots():
            if p.is_relative_to(r.path):
                return r  # already covered by a root
        return self.store.add_root(str(p))

    def remove_root(self, path: Path | str, wait: bool = False, cancel: threading.Event | None = None) -> int:
        """Forget a folder and its vectors (the photos themselves are never touched)."""
        p = str(Path(path).expanduser().resolve())
        root = next((r for r in self.store.roots() if r.path == p), None)
        if root is None:
            raise LibraryError(f"{display(p)} is not one of this library's folders")
        with self.writing(wait, cancel):
            dropped = self.store.remove_root(root.id)
            self.ann.catch_up(self.store)
            self.ann.save()
        return len(dropped)

    # indexing ---------------------------------------------------------------------------
    def index(self, paths: list[Path | str] | None = None, on_progress: ProgressFn | None = None,
              cancel: threading.Event | None = None, pause: threading.Event | None = None, settle: float = 0.0,
              wait: bool = False, allow_mass_delete: bool = False) -> IndexReport:
        """Add ``paths`` as roots (if given) and bring the index up to date with the disk.

        ``settle`` leaves files modified in the last seconds for a later run; a root
        where most files vanished at once keeps them unless ``allow_mass_delete``.
        """
        wanted = [self.add_root(p) for p in paths or []]
        with self.writing(wait, cancel):
            self._core.follow()
            roots = wanted or self.store.roots()
            ann = self.ann
            ann.catch_up(self.store)  # another process may have written since we opened
            set_aside = self._core.recover()  # a file that crashed an earlier run: an error row
            self._core.guard.start()  # decoding workers (the app's) load while the folders are crawled
            pipe = Pipeline(self.store, ann, self.embedder, self.settings, on_progress, cancel, pause, settle,
                            allow_mass_delete, self.switch.encoders_for_indexing(), guard=self._core.guard,
                            set_aside=set_aside)
            report = pipe.run(roots)
            self._core.inflight.clear()  # a run that ended leaves no journal behind
            if not report.cancelled:  # a whole crawl: the problems it met are the roots' problems now
                self.store.set_problems([r.id for r in roots], [
                    (str(p.path), p.reason, next((r.id for r in roots if p.path.is_relative_to(r.path)), None))
                    for p in pipe.problems])
        return report

    def passes(self) -> list[AfterPass]:
        """The passes after indexing, in the order they run: a model switch's re-embedding (search
        quality first), then regions, then reading text."""
        out: list[AfterPass] = []
        if self.switch.under_way:
            out.append(AfterPass(Phase.REEMBEDDING, self.switch.reembed, lambda: self.switch.state().left))
        if self.settings.regions:
            out.append(AfterPass(Phase.REGIONS, self.find_regions))
        if self.settings.read_text:
            out.append(AfterPass(Phase.TEXT, self.read_text, self.text_pending))
        return out

    def find_regions(self, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                     pause: threading.Event | None = None, wait: bool = False,
                     should_yield=lambda: False) -> RegionReport:
        """The regions pass: region vectors for indexed large photos without them (``indexing/region_pass.py``).

        New photos get theirs while indexed; this covers a library that had regions off. Does
        nothing when ``Settings.regions`` is off.
        """
        if not self.settings.regions:
            return RegionReport()
        with self.writing(wait, cancel):
            self._core.follow()
            self._core.recover()
            return RegionPass(store=self.store, embedder=self.embedder, settings=self.settings, guard=self._core.guard,
                              on_progress=on_progress,
                              cancel=cancel or threading.Event(), pause=pause or threading.Event(),
                              should_yield=should_yield).run()

    def text_kinds(self) -> tuple[str, ...]:
        return ("photo", "video") if self.settings.read_text_video else ("photo",)

    def read_text(self, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                  pause: threading.Event | None = None, wait: bool = False,
                  should_yield=lambda: False) -> TextReport:
        """The text pass: read the words in every indexed picture not read yet (``indexing/text_pass.py``).

        Run it after ``index()``; it resumes where a previous pass stopped and does nothing
        when ``Settings.read_text`` is off.
        """
        if not self.settings.read_text:
            return TextReport()
        from indexer.media.ocr import TextReader, reader_version

        with self.writing(wait, cancel):  # one writer: the OCR models are loaded once, outside the library lock
            self._core.recover()
            if self._reader is None:
                self._reader = TextReader(self.settings.threads, cache=model_cache_dir())
            return TextPass(store=self.store, reader=self._reader, reader_id=reader_version(), kinds=self.text_kinds(),
                            guard=self._core.guard,
                            on_progress=on_progress, cancel=cancel or threading.Event(),
                            pause=pause or threading.Event(), should_yield=should_yield).run()

    def text_pending(self) -> int:
        """Indexed pictures whose words have not been read yet (0 when reading text is off)."""
        from indexer.media.ocr import reader_version

        return self.store.text_pending_count(reader_version(), self.text_kinds()) if self.settings.read_text else 0

    def text_of(self, path: str) -> list[TextRow] | None:
        """The lines read in one file, or None when it has not been read (yet)."""
        row = self.store.file(path)
        if row is None:
            raise LibraryError(f"{display(path)} is not in this library")
        lines = self.store.text_of(row.id)
        return lines if lines or self.store.was_text_read(row.id) else None

    # searching (the rest: ``Library.searching``) -----------------------------------------
    def search(self, query: Query) -> Results:
        """Photos and video moments for ``query``, most relevant first (``search/searcher.py``)."""
        return self.searching.search(query)

    def similar(self, path: str, limit: int = 20) -> list[Hit]:
        """More like this: neighbours of an indexed file's own vector."""
        return self.searching.similar(path, limit)

    # status -----------------------------------------------------------------------------
    def status(self) -> Status:
        return library_status(self.store, self.location.shown, self.switch.state(), self.text_pending())

    def file_info(self, path: str) -> FileRow | None:
        """What the library knows about one file (metadata for a preview)."""
        return self.store.file(path)

    def errors(self) -> list[FileRow]:
        return self.store.files(status="error")

    def retry_errors(self, wait: bool = False, cancel: threading.Event | None = None) -> int:
        """Mark failed files for another attempt on the next ``index()``."""
        with self.writing(wait, cancel):
            return self.store.mark_errors_for_retry()
