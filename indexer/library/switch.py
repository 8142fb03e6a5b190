"""Changing a library's model while search keeps working: start, the re-embedding pass, the flip,
abandoning a switch, and pruning what earlier models left (``indexing/switching.py`` keeps the records)."""

from __future__ import annotations

import logging
import threading

from indexer.base.progress import ProgressFn
from indexer.indexing.reembed import ReembedPass, ReembedReport
from indexer.indexing.switching import ModelState
from indexer.library.core import Core
from indexer.model.encoder import Encoder

log = logging.getLogger(__name__)


class ModelSwitch:
    """A library's model switch. Write lock first, library lock inside (``core.py``); models load outside both."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def state(self) -> ModelState:
        return self._core.models.state(self._core.settings.model)

    @property
    def under_way(self) -> bool:
        return self._core.models.target is not None

    def start(self, spec: str, wait: bool = False, cancel: threading.Event | None = None) -> ModelState:
        """Start changing the library's model to ``spec``; search keeps using the active model.

        The new model is loaded (exported once) now; ``reembed()`` then embeds every file with
        it in the background and makes it the active model when it covers the library.
        Asking for the active model again abandons a switch under way.
        """
        core = self._core
        core.embedder  # noqa: B018 - the active model is recorded before a second one is added
        emb = core.load_encoder(spec)
        if emb.id == core.model_id:
            self.cancel(wait, cancel)
            return self.state()
        with core.writing(wait, cancel):
            core.models.begin(emb.id, spec, emb.dim)
            core.set_target(emb)
        return self.state()

    def cancel(self, wait: bool = False, cancel: threading.Event | None = None) -> bool:
        """Abandon a switch: its vectors are dropped and the library is exactly as before it."""
        core = self._core
        with core.writing(wait, cancel):
            target = core.models.target
            if target is None:
                return False
            core.models.forget(target)
            core.set_target(None)
            core.ann.catch_up(core.store)
            core.ann.save()
        return True

    def reembed(self, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                pause: threading.Event | None = None, wait: bool = False,
                should_yield=lambda: False) -> ReembedReport | None:
        """A switch's background pass; when the new model covers every file it becomes the active one.

        Resumable: each pass embeds what is still missing. None when no switch is under way.
        """
        core = self._core
        with core.writing(wait, cancel):
            target = core.models.target
            if target is None:
                return None
            core.recover()
            report = ReembedPass(store=core.store, embedder=core.target_embedder(), model=target,
                                 settings=core.settings, guard=core.guard, on_progress=on_progress,
                                 cancel=cancel or threading.Event(),
                                 pause=pause or threading.Event(), should_yield=should_yield).run()
            if report.remaining == 0 and not report.cancelled:
                self._flip(target)
        return report

    def encoders_for_indexing(self) -> tuple[tuple[str, Encoder], ...]:
        """During a switch, the target model for indexing to embed new files with too. If it cannot
        be loaded now, indexing goes on with the active model: the switch's pass embeds them later."""
        core = self._core
        target = core.models.target
        if target is None:
            return ()
        try:
            return ((target, core.target_embedder()),)
        except Exception as e:  # noqa: BLE001 - the switch reports it; indexing must not stop for it
            log.warning("indexing without the new model %s: %s", core.models.target_spec, e)
            return ()

    def _flip(self, target: str) -> None:
        """The target covers the library: its index is built first, then one transaction makes it active."""
        core = self._core
        core.target_embedder()  # loaded before the lock is taken (normally it already is)
        ann, spec, dim = core.models.target_index(target)
        with core.lock:  # no search runs half on the old model, half on the new
            core.models.flip(target, spec, dim)
            core.adopt_target(ann, spec)

    def prune(self, wait: bool = False, cancel: threading.Event | None = None) -> tuple[int, int]:
        """Delete the vectors earlier models left behind: (vectors deleted, bytes the library file shrank by)."""
        core = self._core
        with core.writing(wait, cancel):
            if not core.models.kept():
                return 0, 0
            before = core.store.size_bytes()
            dropped = core.models.prune()
            core.ann.catch_up(core.store)
            core.ann.save()
            core.store.compact()
            return dropped, max(0, before - core.store.size_bytes())
