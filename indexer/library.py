"""``Library``: the one object the CLI and the GUI talk to.

A library is a directory: ``library.db`` (SQLite, the truth), ``ann/`` (the hnswlib
cache), ``settings.json``. The model is loaded lazily on the first search or index,
so opening a library and listing its roots is instant.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from indexer import atomic
from indexer.ann import AnnIndex
from indexer.config import Settings, default_library_dir, prepare_library_folder
from indexer.duplicates import duplicate_groups
from indexer.encoder import Encoder
from indexer.errors import LibraryBusy, LibraryError, ModelMismatch
from indexer.ordering import order
from indexer.passes import ProgressFn
from indexer.paths import display
from indexer.pipeline import IndexReport, Pipeline
from indexer.query import Query
from indexer.rank import Hit
from indexer.reembed import ReembedPass, ReembedReport
from indexer.regionpass import RegionPass, RegionReport
from indexer.saved import Searches
from indexer.searching import Results, Searcher, fresh
from indexer.status import Status, library_status
from indexer.store import FileRow, RootRow, Store, TextRow
from indexer.switching import ModelRecords, ModelState
from indexer.textpass import TextPass, TextReport
from indexer.writelock import WriteLock

log = logging.getLogger(__name__)


class Library:
    """A Glimpse library on disk. Thread-safe; close it when done."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        self.folder = folder
        self.settings = settings
        self.store = Store(folder / "library.db")
        self.models = ModelRecords(self.store, folder)
        self._embedder = None
        self._ann: AnnIndex | None = None
        self._lock = threading.RLock()
        self.writing = WriteLock(folder / "write.lock")
        self._bank_texts: tuple[str, ...] | None = None
        self._searcher: Searcher | None = None  # the active model's search state (sample, bars, bank)
        self._unsaved = False  # settings given to open() that wait for the model to prove them
        self._reader = None  # the OCR models, loaded by the first text pass
        self._target = None  # a model switch's target encoder, loaded by the first re-embedding pass
        self.searches = Searches(self.store, self.search)  # recent and saved searches (saved.py)

    @classmethod
    def open(cls, folder: Path | str | None = None, **overrides: object) -> Library:
        """Open (creating if needed) the library in ``folder`` (default: the user's).

        ``overrides`` change settings (e.g. ``model=...``). They are saved with the library
        only once the model they name has loaded and matches the library's vectors: a
        refused or unloadable ``--model`` must not become the library's setting.
        """
        folder = Path(folder).expanduser() if folder else default_library_dir()
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
        lib = cls(folder, saved.replace(**{k: v for k, v in overrides.items() if v is not None}))
        active = lib.store.get_meta("model_spec")
        if active and overrides.get("model") is None and saved.model != active:
            # a switch flipped the model but the process ended before settings.json said so
            lib.settings, saved = lib.settings.replace(model=active), saved.replace(model=active)
            atomic.write_text(settings_file, saved.to_json())
        lib._unsaved = lib.settings != saved
        for old in (folder / "ann").glob("ann*"):  # the index of one model lived here before switching existed
            if old.is_file():
                old.unlink(missing_ok=True)
        return lib

    def close(self) -> None:
        with self._lock:
            if self._ann is not None and self._ann.dirty:
                try:
                    with self.writing():
                        self._ann.catch_up(self.store)
                        self._ann.save()
                except LibraryBusy:
                    pass  # the writer saves its own, newer index
            self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # model and index ------------------------------------------------------------------
    @property
    def model_id(self) -> str | None:
        return self.store.get_meta("model")

    def _load_encoder(self, spec: str) -> Encoder:
        """A model with this library's precision and threads (loaded lazily: torch is heavy)."""
        from indexer.model import Embedder

        return Embedder(spec, self.settings.threads, self.settings.precision, export_apart=True)

    @property
    def embedder(self) -> Encoder:
        """The model, loaded on first use; refuses a model other than the library's."""
        with self._lock:
            if self._embedder is None:
                emb = self._load_encoder(self.settings.model)
                recorded = self.model_id
                if recorded is None:
                    self.store.switch_active(emb.id, {"model": emb.id, "dim": str(emb.dim),
                                                      "model_spec": self.settings.model}, ())
                elif recorded != emb.id:
                    raise ModelMismatch(
                        f"this library uses model '{recorded}', not '{emb.id}'. To change it, run "
                        f"`glimpse model use {self.settings.model}` (or Settings → Model in the app): "
                        "search keeps working while the library is re-embedded.")
                self._embedder = emb
                if self._unsaved:  # the model loaded and fits: now the settings that named it are valid
                    self._save_settings()
            return self._embedder

    @property
    def ann(self) -> AnnIndex:
        with self._lock:
            if self._ann is None:
                if self.model_id is None:
                    self.embedder  # noqa: B018 - records the library's model and its dimension
                model = self.store.model
                self._ann = AnnIndex.open(self.models.ann_dir(model), int(self.store.get_meta("dim")), self.store, model)
            return self._ann

    # changing the model (switching.py keeps the records) ------------------------------------------
    def model_state(self) -> ModelState:
        return self.models.state(self.settings.model)

    @property
    def switching(self) -> bool:
        return self.models.target is not None

    def start_switch(self, spec: str, wait: bool = False, cancel: threading.Event | None = None) -> ModelState:
        """Start changing the library's model to ``spec``; search keeps using the active model.

        The new model is loaded (exported once) now; ``reembed()`` then embeds every file with
        it in the background and makes it the active model when it covers the library.
        Asking for the active model again abandons a switch under way.
        """
        self.embedder  # noqa: B018 - the active model is recorded before a second one is added
        emb = self._load_encoder(spec)
        if emb.id == self.model_id:
            self.cancel_switch(wait, cancel)
            return self.model_state()
        with self.writing(wait, cancel):
            self.models.begin(emb.id, spec, emb.dim)
            with self._lock:
                self._target = emb
        return self.model_state()

    def change_model(self, spec: str, wait: bool = False, cancel: threading.Event | None = None) -> ModelState:
        """Use ``spec`` from now on: at once on a library with nothing embedded yet, else by a switch
        (``start_switch``) that ``reembed()`` carries out while search keeps working."""
        if self.model_id is None or not self.store.vector_count():
            self.update_settings(model=spec)
            return self.model_state()
        return self.start_switch(spec, wait, cancel)

    def cancel_switch(self, wait: bool = False, cancel: threading.Event | None = None) -> bool:
        """Abandon a switch: its vectors are dropped and the library is exactly as before it."""
        with self.writing(wait, cancel):
            target = self.models.target
            if target is None:
                return False
            self.models.forget(target)
            with self._lock:
                self._target = None
            self.ann.catch_up(self.store)
            self.ann.save()
        return True

    def reembed(self, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                pause: threading.Event | None = None, wait: bool = False,
                should_yield=lambda: False) -> ReembedReport | None:
        """A switch's background pass; when the new model covers every file it becomes the active one.

        Resumable: each pass embeds what is still missing. None when no switch is under way.
        """
        with self.writing(wait, cancel):
            target = self.models.target
            if target is None:
                return None
            report = ReembedPass(store=self.store, embedder=self._target_embedder(), model=target,
                                 settings=self.settings, on_progress=on_progress, cancel=cancel or threading.Event(),
                                 pause=pause or threading.Event(), should_yield=should_yield).run()
            if report.remaining == 0 and not report.cancelled:
                self._flip(target)
        return report

    def _switch_encoders(self) -> tuple:
        """During a switch, the target model for indexing to embed new files with too. If it cannot
        be loaded now, indexing goes on with the active model: the switch's pass embeds them later."""
        target = self.models.target
        if target is None:
            return ()
        try:
            return ((target, self._target_embedder()),)
        except Exception as e:  # noqa: BLE001 - the switch reports it; indexing must not stop for it
            log.warning("indexing without the new model %s: %s", self.models.target_spec, e)
            return ()

    def _target_embedder(self) -> Encoder:
        with self._lock:
            if self._target is None:
                self._target = self._load_encoder(self.models.target_spec)
            return self._target

    def _flip(self, target: str) -> None:
        """The target covers the library: its index is built first, then one transaction makes it active."""
        ann, spec, dim = self.models.target_index(target)
        with self._lock:  # no search runs half on the old model, half on the new
            self.models.flip(target, spec, dim)
            self._embedder, self._target, self._ann = self._target, None, ann
            self._searcher = None
            self.settings = self.settings.replace(model=spec)
            self._save_settings()

    def prune_models(self, wait: bool = False, cancel: threading.Event | None = None) -> tuple[int, int]:
        """Delete the vectors earlier models left behind: (vectors deleted, bytes the library file shrank by)."""
        with self.writing(wait, cancel):
            if not self.models.kept():
                return 0, 0
            before = self.store.size_bytes()
            dropped = self.models.prune()
            self.ann.catch_up(self.store)
            self.ann.save()
            self.store.compact()
            return dropped, max(0, before - self.store.size_bytes())

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
            roots = wanted or self.store.roots()
            ann = self.ann
            ann.catch_up(self.store)  # another process may have written since we opened
            pipe = Pipeline(self.store, ann, self.embedder, self.settings, on_progress, cancel, pause, settle,
                            allow_mass_delete, self._switch_encoders())
            report = pipe.run(roots)
            for prob in pipe.problems:
                self.store.put_problem(str(prob.path), prob.reason)
        return report

    def passes(self) -> list[tuple[str, Callable[..., object]]]:
        """The passes after indexing, in the order they run: a model switch's re-embedding (search
        quality first), then reading text. Each takes ``(on_progress, cancel, pause, wait=,
        should_yield=)``, resumes where an earlier run stopped, and returns its report."""
        out: list[tuple[str, Callable[..., object]]] = []
        if self.switching:
            out.append(("re-embedding", self.reembed))
        if self.settings.regions:
            out.append(("finding regions", self.find_regions))
        if self.settings.read_text:
            out.append(("reading text", self.read_text))
        return out

    def find_regions(self, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                     pause: threading.Event | None = None, wait: bool = False,
                     should_yield=lambda: False) -> RegionReport:
        """The regions pass: region vectors for indexed large photos without them (``regionpass.py``).

        New photos get theirs while indexed; this covers a library that had regions off. Does
        nothing when ``Settings.regions`` is off.
        """
        if not self.settings.regions:
            return RegionReport()
        embedder = self.embedder
        with self.writing(wait, cancel):
            return RegionPass(store=self.store, embedder=embedder, settings=self.settings, on_progress=on_progress,
                              cancel=cancel or threading.Event(), pause=pause or threading.Event(),
                              should_yield=should_yield).run()

    def text_kinds(self) -> tuple[str, ...]:
        return ("photo", "video") if self.settings.read_text_video else ("photo",)

    def read_text(self, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                  pause: threading.Event | None = None, wait: bool = False,
                  should_yield=lambda: False) -> TextReport:
        """The text pass: read the words in every indexed picture not read yet (``textpass.py``).

        Run it after ``index()``; it resumes where a previous pass stopped and does nothing
        when ``Settings.read_text`` is off.
        """
        if not self.settings.read_text:
            return TextReport()
        from indexer.ocr import TextReader, reader_version

        with self.writing(wait, cancel):
            with self._lock:
                if self._reader is None:
                    self._reader = TextReader(self.settings.threads)
            return TextPass(store=self.store, reader=self._reader, reader_id=reader_version(), kinds=self.text_kinds(),
                            on_progress=on_progress, cancel=cancel or threading.Event(),
                            pause=pause or threading.Event(), should_yield=should_yield).run()

    def text_pending(self) -> int:
        """Indexed pictures whose words have not been read yet (0 when reading text is off)."""
        from indexer.ocr import reader_version

        return self.store.text_pending_count(reader_version(), self.text_kinds()) if self.settings.read_text else 0

    def text_of(self, path: str) -> list[TextRow] | None:
        """The lines read in one file, or None when it has not been read (yet)."""
        row = self.store.file(path)
        if row is None:
            raise LibraryError(f"{display(path)} is not in this library")
        lines = self.store.text_of(row.id)
        return lines if lines or self.store.was_text_read(row.id) else None

    # searching --------------------------------------------------------------------------
    def update_settings(self, **changes: object) -> Settings:
        """Change and save settings. A new model needs a new (or empty) library."""
        new = self.settings.replace(**changes)
        if new.model != self.settings.model and self.model_id is not None and self.store.vector_count():
            raise LibraryError(f"this library's photos were indexed with another model; change it with "
                               f"`glimpse model use {new.model}` (Settings → Model in the app), which re-embeds "
                               "them in the background while search keeps working")
        with self.writing(wait=True):
            if new.model != self.settings.model and self.model_id is not None:  # nothing embedded yet
                self.store.switch_active("", {}, ("model", "dim", "model_spec"))  # the next model to load is it
                with self._lock:
                    self._ann = None
            if (new.model, new.precision, new.threads) != (self.settings.model, self.settings.precision,
                                                           self.settings.threads):
                with self._lock:
                    self._embedder = None  # reloaded on next use
            if self.settings.regions and not new.regions and self.model_id is not None:
                self.store.drop_regions()  # their space back; turning regions on again makes them anew
            with self._lock:
                self._searcher = None  # measured again for the new settings (templates, model)
                self.settings = new
            self._save_settings()
        return new

    def _save_settings(self) -> None:
        atomic.write_text(self.folder / "settings.json", self.settings.to_json())
        self._unsaved = False

    def set_query_bank(self, texts: list[str] | tuple[str, ...]) -> None:
        """Reference queries for hubness correction and reference captions (default: everyday subjects)."""
        with self._lock:
            self._bank_texts = tuple(texts)
            self._searcher = None

    def searcher(self) -> Searcher:
        """Search with the active model (made again when the model or the settings change)."""
        with self._lock:
            if self._searcher is None:
                self._searcher = Searcher(self.store, self.embedder, self.ann, lambda: self.settings,
                                          self._store_null, self._bank_texts)
            return self._searcher

    def search(self, query: Query) -> Results:
        """Photos and video moments for ``query``, most relevant first (``searching.py``)."""
        with self._lock:  # a model switch's flip waits: one search never mixes two models
            hits = self.searcher().search(query)
        return Results(order(hits, query.sort), no_good_matches=hits.no_good_matches)

    def prepare_search(self) -> None:
        """Load what a search needs (the index, the text tower, the calibration) by running one,
        so that the first search a person types answers at once. Not the reference query
        bank: only hubness correction and prompt-directional composition use it, both off by
        default, and encoding it took 2.6 s of a 4.6 s window start at 100k items. The
        tokenizer's rarely needed parts are loaded too: loading them later freezes every thread."""
        self.embedder.prepare_texts()
        self.search(Query("a photo", limit=1))

    def query_bank(self) -> tuple[tuple[str, ...], np.ndarray]:
        return self.searcher().query_bank()

    def query_vector(self, query: Query) -> np.ndarray:
        """The unit vector a query searches with (exposed for benchmarks and tools)."""
        return self.searcher().query_vector(query)

    def search_vector(self, vec, limit: int = 20, filters=None, min_score: float | None = None,
                      exclude: frozenset[int] = frozenset(), hubness: bool = True,
                      min_similarity: float | None = None, within: frozenset[int] | None = None,
                      regions: bool = True) -> list[Hit]:
        with self._lock:
            return self.searcher().search_vector(vec, limit, filters, min_score, exclude, hubness, min_similarity,
                                                 within, regions=regions)

    def _store_null(self, record: str) -> None:
        """Keep the nonsense bar for later processes, unless another process is writing (it is only a cache)."""
        try:
            with self.writing(wait=False):
                self.store.set_meta("null_margin", record)
        except LibraryBusy:
            pass

    def similar(self, path: str, limit: int = 20) -> list[Hit]:
        """More like this: neighbours of an indexed file's own vector."""
        row = self.store.file(path)
        if row is None or row.status != "ok":
            raise LibraryError(f"{display(path)} is not indexed")
        vecs = self.store.vectors_of(row.id)
        vec = sum(v for _, v, _ in vecs)
        vec = vec / max(float((vec ** 2).sum()) ** 0.5, 1e-12)
        return self.search_vector(vec, limit, None, 0.0, frozenset({row.id}), regions=False)  # whole to whole

    def duplicates(self, threshold: float = 0.95, k: int = 8) -> list[list[str]]:
        """Groups of near-duplicate photos (cosine >= ``threshold``), biggest first."""
        return duplicate_groups(self.store, fresh(self.ann, self.store), threshold, k)

    # status -----------------------------------------------------------------------------
    def status(self) -> Status:
        return library_status(self.store, str(self.folder), self.model_state(), self.text_pending())

    def file_info(self, path: str) -> FileRow | None:
        """What the library knows about one file (metadata for a preview)."""
        return self.store.file(path)

    def errors(self) -> list[FileRow]:
        return self.store.files(status="error")

    def retry_errors(self, wait: bool = False, cancel: threading.Event | None = None) -> int:
        """Mark failed files for another attempt on the next ``index()``."""
        with self.writing(wait, cancel):
            return self.store.mark_errors_for_retry()

    def thumbnail(self, hit: Hit) -> Path:
        """A cached JPEG thumbnail of a photo, or the poster frame of a video moment."""
        from indexer.thumbs import make_thumbnail, thumb_path

        row = self.store.file(hit.path)
        ts = hit.timestamp if hit.kind == "video" else None
        return make_thumbnail(hit.path, ts, thumb_path(self.folder / "thumbs", hit.path, row.mtime if row else None, ts))
