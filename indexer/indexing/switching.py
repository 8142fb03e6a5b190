"""Which model a library searches with, and a switch to another one, as kept in the store.

A switch is a few meta records (its target model, how to load it, its dimension), the
target's vectors beside the active ones, and one index folder per model. ``Library``
adds what lives in memory (the loaded encoders, the write lock); ``reembed.py`` is the
pass that fills in the target's vectors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

from indexer.ann.opening import SearchIndex, open_index
from indexer.store.opening import AnyStore

TARGET_KEYS = ("target_model", "target_spec", "target_dim")


@dataclasses.dataclass(frozen=True)
class ModelState:
    """Which model answers searches, and a switch to another one if it is under way."""

    active: str | None  # model id (name and weights fingerprint)
    active_spec: str  # how to load it (NAME:TAG, hf-hub:..., local-dir:...)
    target: str | None = None  # the model being switched to
    target_spec: str | None = None
    covered: int = 0  # indexed files the target has embedded
    total: int = 0  # indexed files
    space: tuple[tuple[str, int], ...] = ()  # (model id, bytes its vectors take), active first
    kept: tuple[str, ...] = ()  # earlier models whose vectors are kept until `prune`

    @property
    def left(self) -> int:
        """Indexed files the target has still to embed."""
        return self.total - self.covered if self.target else 0


class ModelRecords:
    """The switch's records in one library's store and folder."""

    def __init__(self, store: AnyStore, folder: Path) -> None:
        self.store, self.folder = store, folder

    def ann_dir(self, model: str) -> Path:
        """Each model's vectors have their own index (a switch builds the new one beside the old)."""
        return self.folder / "ann" / hashlib.sha1(model.encode()).hexdigest()[:12]

    @property
    def target(self) -> str | None:
        return self.store.get_meta("target_model")

    @property
    def target_spec(self) -> str | None:
        return self.store.get_meta("target_spec")

    def kept(self) -> list[str]:
        return json.loads(self.store.get_meta("kept_models") or "[]")

    def state(self, active_spec: str) -> ModelState:
        active, target = self.store.get_meta("model"), self.target
        covered, total = self.store.coverage(target) if target else (0, 0)
        space = self.store.model_bytes()
        order = [m for m in (active, target) if m] + sorted(m for m in space if m not in (active, target))
        return ModelState(active, self.store.get_meta("model_spec") or active_spec, target, self.target_spec,
                          covered, total, tuple((m, space.get(m, 0)) for m in order), tuple(self.kept()))

    def begin(self, model: str, spec: str, dim: int) -> None:
        """Record a switch to ``model``, abandoning one to another model first."""
        if self.target and self.target != model:
            self.forget(self.target)
        self.store.switch_active(self.store.model, {"target_model": model, "target_spec": spec,
                                                    "target_dim": str(dim)}, ())

    def forget(self, target: str) -> None:
        """Abandon the switch: its vectors (unless kept from before) and its index go."""
        if target not in self.kept():  # an earlier model's kept vectors stay for prune to decide
            self.store.drop_model(target)
        shutil.rmtree(self.ann_dir(target), ignore_errors=True)
        self.store.switch_active(self.store.model, {}, TARGET_KEYS)

    def target_index(self, target: str) -> tuple[SearchIndex, str, int]:
        """The target's index, built and saved before the flip (so the first search after it is fast)."""
        spec, dim = self.target_spec or "", int(self.store.get_meta("target_dim") or 0)
        ann = open_index(self.ann_dir(target), dim, self.store, target)
        ann.save()
        return ann, spec, dim

    def flip(self, target: str, spec: str, dim: int) -> None:
        """One transaction makes ``target`` the active model; the old one's vectors are kept."""
        kept = [m for m in [*self.kept(), self.store.get_meta("model")] if m and m != target]
        self.store.switch_active(target, {"model": target, "model_spec": spec, "dim": str(dim),
                                          "kept_models": json.dumps(kept)}, (*TARGET_KEYS, "null_margin"))

    def prune(self) -> int:
        """Drop the kept models' vectors and indexes; returns the vectors deleted."""
        dropped = 0
        for m in self.kept():
            dropped += self.store.drop_model(m)
            shutil.rmtree(self.ann_dir(m), ignore_errors=True)
        self.store.switch_active(self.store.model, {}, ("kept_models",))
        return dropped
