"""Turning what the user asked into one query vector.

* Text goes through a small prompt ensemble (the mean over a few templates, Radford
  et al. 2021, CLIP §3.1.4); ``bench/bench_query.py`` measures whether it helps.
* Image + text is a composed query ("this photo, but in winter"), training-free:
  - ``fusion``: the normalised weighted sum (1 - s)·image + s·text (WeiMoCIR);
  - ``pdv``: image + λ·(text(modification) − text(reference caption)), a prompt
    directional vector (PDV), where the reference caption is given or derived by
    scoring a caption bank against the image; λ = s.
  One ``strength`` s in 0..1 is exposed to users for both.
* Several weighted positive and negative texts and images (``TEXT:weight``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from indexer.base.filters import Filters
from indexer.base.isolation import Crashed, Direct, Guard
from indexer.media.decode import DecodeError, load_image
from indexer.model.encoder import Encoder

DEFAULT_NEGATIVE_WEIGHT = 0.5
DIRECT: Guard = Direct()  # example pictures decoded in this process unless a caller guards them
METHODS = ("fusion", "pdv")
DEFAULT_METHOD = "fusion"


@dataclasses.dataclass(frozen=True)
class Query:
    """A search request. Set ``text``, ``images`` or both (a composed query)."""

    text: str | None = None
    _: dataclasses.KW_ONLY  # the rest by name: a query is never built from a long positional list
    images: tuple[Path | str, ...] = ()  # "FILE" or "FILE:weight"
    minus: tuple[str, ...] = ()  # negative texts, "TEXT" or "TEXT:weight"
    limit: int = 20
    kind: str = "all"  # shorthand for filters.kind
    strength: float = 0.5  # weight of the text in a composed query
    min_score: float | None = None  # on the calibrated 0..1 relevance
    also: tuple[str, ...] = ()  # more positive texts, "TEXT:weight"
    minus_images: tuple[Path | str, ...] = ()
    filters: Filters = Filters()
    method: str = DEFAULT_METHOD  # composed queries: "fusion" | "pdv"
    reference_caption: str | None = None  # pdv: what the example image shows
    hubness: bool = True
    text_only: bool = False  # only the words read in pictures, no picture search (textsearch.py)
    sort: str = "relevance"  # "relevance" | "newest" | "oldest" (ordering.py): the same results, reordered

    def is_empty(self) -> bool:
        return not (self.text and self.text.strip()) and not self.images and not self.also

    def effective_filters(self) -> Filters:
        return self.filters if self.kind == "all" else dataclasses.replace(self.filters, kind=self.kind)

    def to_json(self) -> str:
        """The query as JSON (recent and saved searches are kept in the library)."""
        raw = dataclasses.asdict(self)
        raw["images"] = [str(p) for p in self.images]
        raw["minus_images"] = [str(p) for p in self.minus_images]
        return json.dumps(raw, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Query:
        """A query written by ``to_json`` (fields a newer Glimpse added are ignored)."""
        raw = json.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        filters = Filters(**{k: tuple(v) if isinstance(v, list) else v for k, v in (raw.pop("filters", None) or {}).items()
                             if k in {f.name for f in dataclasses.fields(Filters)}})
        kept = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in names}
        return cls(**kept, filters=filters)

    def describe(self) -> str:
        """One line for a menu: the words, the example images' names, the filters that are set."""
        parts = [self.text] if self.text else []
        parts += [f"[{Path(str(p)).name}]" for p in self.images]
        parts += [f"not {m}" for m in self.minus]
        if self.effective_filters().is_set():
            parts.append("(filtered)")
        return " ".join(parts) or "(empty)"


def weighted(term: str | Path, default: float = 1.0) -> tuple[str, float]:
    """``"dog:0.7"`` -> ("dog", 0.7); a colon not followed by a number is part of the text."""
    term = str(term)
    head, sep, tail = term.rpartition(":")
    if sep and head:
        try:
            return head, float(tail)
        except ValueError:
            pass
    return term, default


def unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def encode_text(embedder: Encoder, text: str, templates: Sequence[str]) -> np.ndarray:
    """Prompt ensemble: the normalised mean over templates."""
    return encode_texts(embedder, [text], templates)[0]


def encode_texts(embedder: Encoder, texts: Sequence[str], templates: Sequence[str]) -> np.ndarray:
    """Several texts through the prompt ensemble in one batch (one encoder call)."""
    templates = templates or ("{}",)
    vecs = embedder.encode_texts([t.format(x) for x in texts for t in templates])
    means = vecs.reshape(len(texts), len(templates), -1).mean(axis=1)
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)


def encode_image_files(embedder: Encoder, paths: Sequence[Path | str], guard: Guard) -> list[np.ndarray]:
    """Example pictures embedded, each decoded under ``guard`` (in the app: in a worker process)."""
    return list(embedder.encode_images([guarded_example(guard, Path(p), embedder.image_size) for p in paths]))


def guarded_example(guard: Guard, path: Path, size: int):
    """``example_image`` under ``guard``: a picture that crashes its decoder is an error like any other."""
    try:
        return guard.run(path, example_image, size)
    except Crashed as e:
        raise ValueError(f"cannot use {path} as an example: it {e.reason(set_aside=False)}") from e


def example_image(path: Path, size: int):
    """An example picture of a query; ValueError naming it if it cannot be one (the CLI says it in one line)."""
    if not path.is_file():
        raise ValueError(f"no such picture: {path}")
    try:
        return load_image(path, size).image
    except DecodeError as e:
        raise ValueError(f"cannot use {path} as an example: {e}") from e


def compose(image_vec: np.ndarray, text_vec: np.ndarray, strength: float,
            spread: Callable[[np.ndarray], float] | None = None) -> np.ndarray:
    """Score fusion in a calibrated space: ``(1 - s) * z_image + s * z_text``.

    Each modality's similarities are measured in its own spread over the library
    (``spread(vec)``: the standard deviation of the library sample's scores for that
    vector). Image-to-image similarities vary several times more than text-to-image ones
    on CLIP-family models, by a factor that differs per model (the modality gap), so a
    plain weighted sum means "mostly the image" on one model and "mostly the words" on
    another. Dividing by the spread gives each side a z-score; since a query's mean
    score is the same for every item, ranking by the weighted z-scores is ranking by the
    dot product with this one vector, so the ANN index serves it unchanged. Without
    ``spread`` (no library yet) it is WeiMoCIR's plain weighted sum.
    """
    wi, wt = composition_weights(image_vec, text_vec, strength, spread)
    return unit(wi * image_vec + wt * text_vec)


def composition_weights(image_vec: np.ndarray, text_vec: np.ndarray, strength: float,
            spread: Callable[[np.ndarray], float] | None = None) -> tuple[float, float]:
    """The image's and the words' weights in ``compose``."""
    wi, wt = 1.0 - strength, strength
    if spread is not None:
        wi, wt = wi / max(spread(image_vec), 1e-6), wt / max(spread(text_vec), 1e-6)
    return wi, wt


def compose_pdv(image_vec: np.ndarray, text_vec: np.ndarray, reference_vec: np.ndarray, strength: float) -> np.ndarray:
    """PDV: move the image along the direction from its caption to the requested change."""
    return unit(image_vec + strength * (text_vec - reference_vec))


def derive_caption(image_vec: np.ndarray, bank: Sequence[str], bank_vecs: np.ndarray) -> str:
    """The caption from ``bank`` that best describes the image."""
    return bank[int(np.argmax(bank_vecs @ image_vec))]


def _weighted_mean(vecs: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    return unit(sum(w * v for v, w in zip(vecs, weights, strict=True)))


@dataclasses.dataclass(frozen=True)
class QueryVector:
    """The unit vector a query searches with; for a composed query also its two weighted parts
    (``image``, ``words``: what each contributes to an item's score, for "why it matched")."""

    vec: np.ndarray
    image: np.ndarray | None = None
    words: np.ndarray | None = None


def query_vector(q: Query, embedder: Encoder, templates: Sequence[str],
                 caption_bank: tuple[Sequence[str], np.ndarray] | None = None,
                 spread: Callable[[np.ndarray], float] | None = None, guard: Guard = DIRECT) -> np.ndarray:
    """The single unit vector a query searches with."""
    return query_parts(q, embedder, templates, caption_bank, spread, guard).vec


def query_parts(q: Query, embedder: Encoder, templates: Sequence[str],
                caption_bank: tuple[Sequence[str], np.ndarray] | None = None,
                spread: Callable[[np.ndarray], float] | None = None, guard: Guard = DIRECT) -> QueryVector:
    """``query_vector`` with a composed query's weighted image and words parts; example pictures are
    decoded under ``guard``."""
    if q.is_empty():
        raise ValueError("empty query: give some text, an image, or both")
    img = txt = None
    parts: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
    if q.images:
        files, weights = zip(*(weighted(p) for p in q.images), strict=True)
        img = _weighted_mean(encode_image_files(embedder, files, guard), weights)
    texts = ([(q.text.strip(), 1.0)] if q.text and q.text.strip() else []) + [weighted(t) for t in q.also]
    if texts:
        txt = _weighted_mean([encode_text(embedder, t, templates) for t, _ in texts], [w for _, w in texts])
    if img is not None and txt is not None:
        if q.method == "pdv":
            ref = q.reference_caption
            if ref is None and caption_bank is not None:
                ref = derive_caption(img, caption_bank[0], caption_bank[1])
            ref_vec = encode_text(embedder, ref, templates) if ref else np.zeros_like(img)
            vec = compose_pdv(img, txt, ref_vec, q.strength)
            parts = (img, q.strength * (txt - ref_vec))
        else:
            wi, wt = composition_weights(img, txt, q.strength, spread)
            vec, parts = unit(wi * img + wt * txt), (wi * img, wt * txt)
    else:
        vec = img if img is not None else txt
    for term in q.minus:
        text, w = weighted(term, DEFAULT_NEGATIVE_WEIGHT)
        vec = vec - w * encode_text(embedder, text, templates)
    for p in q.minus_images:
        path, w = weighted(p, DEFAULT_NEGATIVE_WEIGHT)
        vec = vec - w * encode_image_files(embedder, [path], guard)[0]
    return QueryVector(unit(vec), *parts)
