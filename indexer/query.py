"""Turning what the user asked into one vector, and ANN neighbours into results.

* Text is encoded through a small prompt ensemble (the mean of a few templates,
  Radford et al. 2021, CLIP §3.1.4), which the tests show does not hurt and helps
  real models with short queries.
* Image + text is a composed query: the normalised weighted fusion of the image and
  text embeddings (WeiMoCIR, training-free composed image retrieval), with one
  ``strength`` weight given to the text.
* Negative terms subtract their embedding with a weight (``TEXT:weight``).
* Hits are grouped per photo and per video *moment*, so one video can return several
  distinct moments while neighbouring frames of one moment collapse into one result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexer.ann import AnnIndex
from indexer.decode import load_image
from indexer.store import Store

DEFAULT_NEGATIVE_WEIGHT = 0.5


@dataclasses.dataclass(frozen=True)
class Query:
    """A search request. Set ``text``, ``images`` or both (a composed query)."""

    text: str | None = None
    images: tuple[Path, ...] = ()
    minus: tuple[str, ...] = ()  # "TEXT" or "TEXT:weight"
    limit: int = 20
    kind: str = "all"  # "all" | "photo" | "video"
    strength: float = 0.5  # weight of the text in a composed query
    min_score: float | None = None

    def is_empty(self) -> bool:
        return not (self.text and self.text.strip()) and not self.images


@dataclasses.dataclass(frozen=True)
class Hit:
    """One search result: a photo, or a moment of a video."""

    path: str
    score: float
    kind: str
    timestamp: float | None = None
    start: float | None = None
    end: float | None = None
    file_id: int = 0
    width: int | None = None
    height: int | None = None
    taken_at: float | None = None
    camera: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def weighted(term: str, default: float = 1.0) -> tuple[str, float]:
    """``"dog:0.7"`` -> ("dog", 0.7); a colon not followed by a number is part of the text."""
    head, sep, tail = term.rpartition(":")
    if sep:
        try:
            return head, float(tail)
        except ValueError:
            pass
    return term, default


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def encode_text(embedder: Any, text: str, templates: Sequence[str]) -> np.ndarray:
    """Prompt ensemble: the normalised mean over templates."""
    prompts = [t.format(text) for t in (templates or ("{}",))]
    return _unit(embedder.encode_texts(prompts).mean(axis=0))


def encode_images(embedder: Any, paths: Sequence[Path]) -> np.ndarray:
    imgs = [load_image(Path(p), embedder.image_size).image for p in paths]
    return _unit(embedder.encode_images(imgs).mean(axis=0))


def compose(image_vec: np.ndarray, text_vec: np.ndarray, strength: float) -> np.ndarray:
    """WeiMoCIR-style fusion: (1 - s) * image + s * text, both unit vectors."""
    return _unit((1.0 - strength) * image_vec + strength * text_vec)


def query_vector(q: Query, embedder: Any, templates: Sequence[str]) -> np.ndarray:
    """The single unit vector a query searches with."""
    if q.is_empty():
        raise ValueError("empty query: give some text, an image, or both")
    parts = []
    if q.images:
        parts.append(encode_images(embedder, q.images))
    if q.text and q.text.strip():
        parts.append(encode_text(embedder, q.text.strip(), templates))
    vec = compose(parts[0], parts[1], q.strength) if len(parts) == 2 else parts[0]
    for term in q.minus:
        text, w = weighted(term, DEFAULT_NEGATIVE_WEIGHT)
        vec = vec - w * encode_text(embedder, text, templates)
    return _unit(vec)


def search_vector(vec: np.ndarray, store: Store, ann: AnnIndex, limit: int = 20, kind: str = "all",
                  min_score: float | None = None, exclude: frozenset[int] = frozenset()) -> list[Hit]:
    """Nearest photos and video moments to ``vec``, best first.

    Asks the ANN index for more candidates until ``limit`` distinct results survive
    grouping and filters, or the whole index has been seen.
    """
    k = max(limit * 4, 32)
    while True:
        ids, scores = ann.search(vec, k)
        hits = _group(ids, scores, store, kind, min_score, exclude)
        exhausted = len(ids) < k or (min_score is not None and len(scores) and scores[-1] < min_score)
        if len(hits) >= limit or exhausted:
            return hits[:limit]
        k *= 4


def _group(ids: np.ndarray, scores: np.ndarray, store: Store, kind: str, min_score: float | None,
           exclude: frozenset[int]) -> list[Hit]:
    rows = store.vector_rows([int(i) for i in ids])
    files = store.files_by_id({r[0] for r in rows.values()})
    best: dict[tuple[int, float | None], Hit] = {}
    for vid, score in zip(ids, scores, strict=True):
        row = rows.get(int(vid))
        if row is None or (min_score is not None and score < min_score):
            continue
        file_id, ts, start, end = row
        f = files.get(file_id)
        if f is None or (kind != "all" and f.kind != kind) or file_id in exclude:
            continue
        key = (file_id, start if f.kind == "video" else None)
        if key in best:
            continue  # ids arrive best first: the first frame seen is the moment's best
        best[key] = Hit(f.path, float(score), f.kind, ts, start, end, f.id, f.width, f.height, f.taken_at, f.camera)
    return sorted(best.values(), key=lambda h: -h.score)
