"""What the library's parts share: the store, the write lock, the settings and the models in memory.

Lock order, one way only: the write lock (``writing``, one writer per library across
threads and processes) is taken first, ``lock`` (this process's view of the models,
index and settings) inside it, never the other way round; and no model is loaded while
``lock`` is held, so a search never waits for a model to load (``tests/indexer/test_library.py``
checks both). A search takes ``lock`` only, never ``writing``.
"""

from __future__ import annotations

import logging
import threading

from indexer.ann.opening import SearchIndex, open_index
from indexer.base import atomic
from indexer.base.config import Settings
from indexer.base.errors import ModelMismatch
from indexer.base.isolation import Direct, Guard, Isolated
from indexer.base.location import Location
from indexer.indexing.inflight import InFlight
from indexer.indexing.switching import ModelRecords
from indexer.model.calibrated import Deciding
from indexer.model.encoder import Encoder
from indexer.store.opening import open_store, write_lock

log = logging.getLogger(__name__)


class Core:
    """A library's shared state. ``generation`` changes whenever the model or the settings do, so
    the parts that cache something made from them (the searcher) know to make it again."""

    def __init__(self, location: Location, settings: Settings, isolated: bool = False) -> None:
        self.location = location
        self.folder = folder = location.folder
        self.settings = settings
        self.store = open_store(location)
        self.models = ModelRecords(self.store, folder)
        self.writing = write_lock(location)
        self.lock = threading.RLock()
        self.generation = 0
        self._loading = threading.Lock()  # one model load at a time, outside ``lock``
        self._unsaved = False  # settings given to open() that wait for the model to prove them
        self._embedder: Encoder | None = None
        self._target: Encoder | None = None  # a switch's target model, loaded by its first use
        self._ann: SearchIndex | None = None
        # How files are decoded (base/isolation.py): the passes journalled (the CLI, started again after a
        # crash) or in worker processes (the app); thumbnails, previews and example pictures likewise.
        self.inflight = InFlight(folder)
        decoders = ("indexer.indexing.pictures", "indexer.media.thumbs")
        self.isolated = isolated
        self.guard: Guard = Isolated(settings.decode_workers, preload=decoders) if isolated else self.inflight
        self.looks: Guard = Isolated(2, preload=decoders) if isolated else Direct()  # two: thumbnails come in two threads

    def recover(self) -> dict[str, str]:
        """Under the write lock, before a pass: the files a crashed run was decoding that crash their decoder
        again (in a worker), set aside — known ones as error rows now, new ones by the pipeline (the dict)."""
        crashed = self.inflight.after_a_crash()
        for path, why in crashed.items():
            row = self.store.file(path)
            if row is not None:
                self.store.set_aside(row.id, why)
        return crashed

    def close_guards(self) -> None:
        for guard in (self.guard, self.looks, self.inflight):
            guard.close()

    def start_with(self, settings: Settings, saved: Settings) -> None:
        """The settings this process opens the library with; those that differ from the saved ones are
        saved only once the model they name has loaded and fits (``embedder``)."""
        self.settings, self._unsaved = settings, settings != saved

    @property
    def model_id(self) -> str | None:
        return self.store.get_meta("model")

    def load_encoder(self, spec: str) -> Encoder:
        """A model with this library's precision and threads (imported lazily: torch is heavy)."""
        from indexer.model.openclip import Embedder

        # The app (isolated) decides an int8 image tower in a child process: deciding holds the GIL
        # for up to 0.8 s (test_responsive), a frozen window (calibrated.py).
        return Embedder(spec, self.settings.threads, self.settings.precision, export_apart=True,
                        calibrate=Deciding.APART if self.isolated else Deciding.HERE)

    @property
    def embedder(self) -> Encoder:
        """The active model, loaded on first use; refuses a model other than the library's."""
        if (emb := self._embedder) is not None:
            return emb
        with self._loading:
            if self._embedder is not None:
                return self._embedder
            emb = self.load_encoder(self.settings.model)
            recorded = self.model_id
            spec = self.store.get_meta("model_spec")
            if recorded not in (None, emb.id) and spec and spec != self.settings.model and not self._unsaved:
                # another process's switch flipped after this one read its settings: the library's model it is
                with self.lock:
                    self.settings = self.settings.replace(model=spec)
                emb = self.load_encoder(self.settings.model)
            if recorded is None:
                self.store.switch_active(emb.id, {"model": emb.id, "dim": str(emb.dim),
                                                  "model_spec": self.settings.model}, ())
            elif recorded != emb.id:
                raise ModelMismatch(
                    f"this library uses model '{recorded}', not '{emb.id}'. To change it, run "
                    f"`glimpse model use {self.settings.model}` (or Settings → Model in the app): "
                    "search keeps working while the library is re-embedded.")
            with self.lock:
                self._embedder = emb
            if self._unsaved:  # the model loaded and fits: now the settings that named it are valid
                self.save_settings()
            return emb

    def target_embedder(self) -> Encoder:
        """A model switch's target model, loaded once, outside ``lock``. The target is read from the
        store each time: another process may have abandoned this switch and started another."""
        target = self.models.target
        if (emb := self._target) is not None and emb.id == target:
            return emb
        with self._loading:
            if self._target is None or self._target.id != target:
                emb = self.load_encoder(self.models.target_spec)
                with self.lock:
                    self._target = emb
            return self._target

    @property
    def ann(self) -> SearchIndex:
        if self._ann is None and self.model_id is None:
            self.embedder  # noqa: B018 - records the library's model and its dimension
        with self.lock:
            if self._ann is None:
                model = self.store.model
                self._ann = open_index(self.models.ann_dir(model), int(self.store.get_meta("dim")), self.store, model)
            return self._ann

    def follow(self) -> None:
        """Another process (``glimpse model use`` beside a running watcher or app) may have made another
        model active since this one loaded its own: read before every write and search, so nothing is
        embedded with, or searched by, a model the library no longer uses."""
        with self.lock:  # the active model, and what is made from it, change together
            if not self.store.follow_active():
                return
            spec = self.store.get_meta("model_spec")
            target = self._target
            self._embedder = target if target is not None and target.id == self.store.model else None
            self._target = self._ann = None
            if spec and spec != self.settings.model:
                self.settings = self.settings.replace(model=spec)
            self.generation += 1
        log.info("the library now uses %s (switched by another process)", spec or self.store.model)

    def changed(self, *, embedder: bool = False, ann: bool = False) -> None:
        """Settings or the model changed: drop what was made from them (the caller holds ``lock``)."""
        if embedder:
            self._embedder = None
        if ann:
            self._ann = None
        self.generation += 1

    def adopt_target(self, ann: SearchIndex, spec: str) -> None:
        """A switch's flip: the target model and its index become the active ones (the caller holds ``lock``)."""
        self._embedder, self._target, self._ann = self._target, None, ann
        self.settings = self.settings.replace(model=spec)
        self.generation += 1
        self.save_settings()

    def set_target(self, emb: Encoder | None) -> None:
        """A switch's target model as loaded by its start, or none (the switch ended)."""
        with self.lock:
            self._target = emb

    @property
    def loaded_ann(self) -> SearchIndex | None:
        """The index if this process opened it (closing saves it), else None."""
        return self._ann

    def save_settings(self) -> None:
        atomic.write_text(self.folder / "settings.json", self.settings.to_json())
        if self.location.server:  # what every computer of a server library shares
            self.store.set_meta("settings", self.settings.shared_json())
        self._unsaved = False
