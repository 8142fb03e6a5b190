"""Search quality by query type: Glimpse's defaults against a plain cosine app, same library.

Shared by ``tests/indexer/test_retrieval.py`` (fails when a default loses to the plain
baseline) and ``bench/bench_retrieval.py`` (the table in docs/benchmarks.md).

A library is built from scenes of ``tests/world.py`` on a seed the models never saw:
photos (composed-retrieval targets with their hard distractors) and multi-scene videos.
The *plain app* is what a straightforward tool does: brute-force cosine over every stored
vector (video frames included), composed query = normalised sum of the image and text
vectors, no calibration, no cutoff. *Glimpse default* is ``Library.search(Query(...))``
with nothing changed.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from tests import semantics, world

NONSENSE = ("zxqv blorp", "qwpoe rtyu mnbv", "flarn gix wubbo", "vrrk snee plo", "ooqa zem trulp",
            "kib kib dorrow", "hmpf xalto", "prebble wint zo")
LIMIT = 50


@dataclasses.dataclass
class Case:
    """A built library and the ground truth to score it with."""

    lib: object
    folder: Path
    photos: dict[str, world.Scene]  # path -> scene
    videos: dict[str, list[world.VideoScene]]  # path -> segments
    clips: dict[str, list[world.VideoScene]]  # short clips (2-5 s): path -> segments
    triplets: list[tuple[world.Triplet, Path]]  # with the reference image file (not in the library)
    rng: random.Random


def build(tmp: Path, model_spec: str, seed: int, n_triplets: int = 24, n_videos: int = 6, upscale: int = 1,
          reference_shots: bool = False, n_clips: int = 6, library: str | None = None, **settings: object) -> Case:
    """``n_clips``: short clips of 2-5 s (one event, or two in a row), as phones record;
    ``upscale``: the gallery photos saved that many times larger (so a tiny model makes regions of them);
    ``reference_shots``: another shot of each composed query's reference photo in the library
    (``semantics.composed_gallery``); ``library``: where it lives (default: a folder in ``tmp``);
    ``settings``: the library's, other than the defaults."""
    from indexer import Library

    rng = random.Random(seed)
    trips, gallery, images = semantics.composed_gallery(seed, n_triplets, reference_shots)
    folder = tmp / "media"
    (folder / "photos").mkdir(parents=True)
    photos = {}
    for i, (scene, img) in enumerate(zip(gallery, images, strict=True)):
        p = folder / "photos" / f"p{i:04d}.png"
        img.resize((img.width * upscale, img.height * upscale), Image.Resampling.BICUBIC).save(p)
        photos[str(p)] = scene
    refs = []
    for i, t in enumerate(trips):
        p = tmp / "queries" / f"ref{i:03d}.png"
        p.parent.mkdir(exist_ok=True)
        world.render(t.reference, size=128, seed=seed + 5 + i).save(p)
        refs.append((t, p))
    used = {s.key() for s in gallery}
    videos = {}
    for v in range(n_videos):
        scenes = []
        while len(scenes) < 3:
            s = world.random_scene(rng)
            if s.key() not in used:
                used.add(s.key())
                scenes.append(s)
        p = folder / "videos" / f"v{v:02d}.mp4"
        videos[str(p)] = world.write_video(p, scenes, [8, 8, 8], fps=5, size=(128, 128), seed=seed + v)
    clips = {}
    for c in range(n_clips if n_videos else 0):
        events = 1 + c % 2
        scenes = []
        while len(scenes) < events:
            s = world.random_scene(rng)
            if s.key() not in used:
                used.add(s.key())
                scenes.append(s)
        seconds = [rng.choice((2.0, 3.0, 4.0, 5.0))] if events == 1 else [rng.choice((1.5, 2.0, 2.5))] * 2
        p = folder / "clips" / f"c{c:02d}.mp4"
        clips[str(p)] = world.write_video(p, scenes, seconds, fps=10, size=(128, 128), seed=seed + 100 + c)
    lib = Library.open(library or tmp / "lib", model=model_spec, **{"precision": "fp32", **settings})
    lib.index([folder])
    return Case(lib, folder, photos, videos, clips, refs, rng)


# the plain app ------------------------------------------------------------------------------------
class Plain:
    """Brute-force cosine over every stored vector; results are (path, timestamp) best first."""

    def __init__(self, case: Case) -> None:
        store = case.lib.store
        rows = store.files(status="ok")
        self.items: list[tuple[str, float | None]] = []
        vecs = []
        for f in rows:
            for _, vec, ts in store.vectors_of(f.id):
                self.items.append((f.path, ts))
                vecs.append(vec)
        self.vecs = np.stack(vecs)
        self.kind = {f.path: f.kind for f in rows}
        self.emb = case.lib.embedder

    def text(self, text: str) -> np.ndarray:
        return self.emb.encode_texts([text])[0]

    def image(self, path: Path) -> np.ndarray:
        from PIL import Image

        return self.emb.encode_images([Image.open(path).convert("RGB")])[0]

    def stand_out(self, vec: np.ndarray) -> float:
        """How far the best match stands above what clearly unrelated items score (10th percentile)."""
        scores = self.vecs @ (vec / np.linalg.norm(vec))
        return float(scores.max() - np.percentile(scores, 10))

    def search(self, vec: np.ndarray, kind: str | None = None, limit: int = LIMIT) -> list[tuple[str, float | None]]:
        order = np.argsort(-(self.vecs @ (vec / np.linalg.norm(vec))))
        out, seen = [], set()
        for i in order:
            path, ts = self.items[i]
            if kind and self.kind[path] != kind:
                continue
            key = (path, None if ts is None else round(ts))
            if key in seen or (ts is None and path in {p for p, _ in out}):
                continue
            seen.add(key)
            out.append((path, ts))
            if len(out) >= limit:
                break
        return out


OVERRIDES: dict[str, object] = {}  # Query fields to try instead of the defaults (bench tuning only)


def glimpse(case: Case, cutoff: bool = True, **kw) -> list[tuple[str, float | None]]:
    from indexer import Filters, Query

    kind = kw.pop("kind", None)
    extra = {k: v for k, v in OVERRIDES.items() if k != "strength" or kw.get("images")}
    q = Query(limit=LIMIT, filters=Filters(kind or "all"), min_score=None if cutoff else 0.0, **{**kw, **extra})
    return [(h.path, h.timestamp) for h in case.lib.search(q)]


# metrics ----------------------------------------------------------------------------------------------
def average_precision(ranked: list[str], relevant: set[str]) -> float:
    hits, total = 0, 0.0
    for i, p in enumerate(ranked, start=1):
        if p in relevant:
            hits += 1
            total += hits / i
    return total / max(len(relevant), 1)


def _matches(scene: world.Scene, attrs: dict[str, str]) -> bool:
    return all(getattr(scene, a) == v for a, v in attrs.items())


def in_segment(case: Case, path: str, ts: float | None, ok: Callable[[world.VideoScene], bool], slack: float = 2.0) -> bool:
    segments = case.videos.get(path) or case.clips.get(path)
    if segments is None or ts is None:
        return False
    return any(ok(seg) and seg.start - slack <= ts <= seg.end + slack for seg in segments)


def evaluate(case: Case, seed: int, n: int = 30) -> dict[str, dict[str, float]]:
    """{metric: {"plain": x, "default": y, "no cutoff": z}} on queries drawn with ``seed``."""
    rng = random.Random(seed)
    plain = Plain(case)
    photo_paths = list(case.photos)
    out: dict[str, dict[str, float]] = {}

    def put(metric: str, values: dict[str, list[float]]) -> None:
        out[metric] = {k: float(np.mean(v)) if v else float("nan") for k, v in values.items()}

    # exact descriptions of a photo whose full caption is unique in the library
    captions = {}
    for p, s in case.photos.items():
        captions.setdefault(world.caption(s), []).append(p)
    unique = [(c, ps[0]) for c, ps in captions.items() if len(ps) == 1]
    r: dict[str, list[float]] = {"plain": [], "default": []}
    for text, target in rng.sample(unique, min(n, len(unique))):
        r["plain"].append(plain.search(plain.text(text), "photo", 1)[0][0] == target)
        got = glimpse(case, text=text, kind="photo")
        r["default"].append(bool(got) and got[0][0] == target)
    put("exact text R@1", r)

    # partial descriptions: one or two attributes; every photo that has them is relevant
    r = {"plain": [], "default": [], "no cutoff": []}
    stands_out = []  # whether the query's best match stands out more than any made-up words' does
    nonsense_top = max(plain.stand_out(plain.text(t)) for t in NONSENSE)
    for _ in range(n):
        s = case.photos[rng.choice(photo_paths)]
        attrs = {a: getattr(s, a) for a in rng.sample(world.ATTRIBUTES, rng.randint(1, 2))}
        text = world.caption(s, list(attrs))
        relevant = {p for p, sc in case.photos.items() if _matches(sc, attrs)}
        r["plain"].append(average_precision([p for p, _ in plain.search(plain.text(text), "photo")], relevant))
        r["default"].append(average_precision([p for p, _ in glimpse(case, text=text, kind="photo")], relevant))
        r["no cutoff"].append(average_precision([p for p, _ in glimpse(case, False, text=text, kind="photo")],
                                                relevant))
        stands_out.append(plain.stand_out(plain.text(text)) > nonsense_top)
    put("partial text mAP", r)
    put("partial text mAP, told from nonsense", {k: [x for x, ok in zip(v, stands_out, strict=True) if ok]
                                                 for k, v in r.items()})

    # composed: reference photo (not in the library) + the change -> the target
    out["composed R@1"] = composed(case, plain)

    # photo -> photo: another render of a library scene finds it
    r = {"plain": [], "default": []}
    for i, p in enumerate(rng.sample(photo_paths, min(n, len(photo_paths)))):
        q = case.folder.parent / "queries" / f"dup{i:03d}.png"
        world.perturb(world.render(case.photos[p], 128, seed=seed * 7 + i), seed=i).save(q)
        r["plain"].append(plain.search(plain.image(q), "photo", 1)[0][0] == p)
        got = glimpse(case, images=(str(q),), kind="photo")
        r["default"].append(bool(got) and got[0][0] == p)
    put("photo→photo R@1", r)

    # video moments by partial and by exact description, and by a still of the moment
    r5 = {"plain": [], "default": []}
    r1 = {"plain": [], "default": []}
    still = {"plain": [], "default": []}
    for v, segs in case.videos.items():
        for k, seg in enumerate(segs):
            attrs = {a: getattr(seg.scene, a) for a in rng.sample(world.ATTRIBUTES, 2)}

            def ok(sg: world.VideoScene, attrs: dict[str, str] = attrs) -> bool:
                return _matches(sg.scene, attrs)
            text = world.caption(seg.scene, list(attrs))
            r5["plain"].append(any(in_segment(case, p, ts, ok) for p, ts in plain.search(plain.text(text), "video", 5)))
            r5["default"].append(any(in_segment(case, p, ts, ok) for p, ts in glimpse(case, text=text, kind="video")[:5]))
            exact = world.caption(seg.scene)

            def same(sg: world.VideoScene, seg: world.VideoScene = seg) -> bool:
                return sg is seg
            top = plain.search(plain.text(exact), "video", 1)
            r1["plain"].append(in_segment(case, *top[0], same, 0.5) if top else False)
            top = glimpse(case, text=exact, kind="video")[:1]
            r1["default"].append(in_segment(case, *top[0], same, 0.5) if top else False)
            frame = _grab(Path(v), (seg.start + seg.end) / 2, case.folder.parent / "queries" / f"still_{Path(v).stem}_{k}.png")
            top = plain.search(plain.image(frame), None, 1)
            still["plain"].append(top[0][0] == v and in_segment(case, *top[0], same, 0.5))
            top = glimpse(case, images=(str(frame),))[:1]
            still["default"].append(bool(top) and top[0][0] == v and in_segment(case, *top[0], same, 0.5))
    put("video partial hit@5", r5)
    put("video exact hit@1", r1)
    put("still→moment hit@1", still)
    out.update(_short_clips(case, plain, seed))

    # nonsense: how many results the default view shows (the plain app shows everything)
    counts = [len(glimpse(case, text=t)) for t in NONSENSE]
    put("nonsense results", {"plain": [LIMIT] * len(NONSENSE), "default": counts})
    out["nonsense max results"] = {"plain": float(LIMIT), "default": float(max(counts))}
    return out


def _short_clips(case: Case, plain: Plain, seed: int) -> dict[str, dict[str, float]]:
    """Short clips: a still from the clip finds the clip (at its event) first; an event's exact
    description finds that event first. Slack 0.5 s: on a 2 s clip the moment must be right."""
    still: dict[str, list[float]] = {"plain": [], "default": []}
    words: dict[str, list[float]] = {"plain": [], "default": []}
    for v, segs in case.clips.items():
        for k, seg in enumerate(segs):
            def same(sg: world.VideoScene, seg: world.VideoScene = seg) -> bool:
                return sg is seg
            ts = seg.start + (seg.end - seg.start) * 0.5
            frame = _grab(Path(v), ts, case.folder.parent / "queries" / f"clip_{Path(v).stem}_{k}.png")
            top = plain.search(plain.image(frame), None, 1)
            still["plain"].append(top[0][0] == v and in_segment(case, *top[0], same, 0.5))
            top = glimpse(case, images=(str(frame),))[:1]
            still["default"].append(bool(top) and top[0][0] == v and in_segment(case, *top[0], same, 0.5))
            exact = world.caption(seg.scene)
            top = plain.search(plain.text(exact), "video", 1)
            words["plain"].append(bool(top) and top[0][0] == v and in_segment(case, *top[0], same, 0.5))
            top = glimpse(case, text=exact, kind="video")[:1]
            words["default"].append(bool(top) and top[0][0] == v and in_segment(case, *top[0], same, 0.5))
    if not still["plain"]:
        return {}
    return {"short clip still→moment hit@1": {k: float(np.mean(v)) for k, v in still.items()},
            "short clip event hit@1": {k: float(np.mean(v)) for k, v in words.items()}}


def composed(case: Case, plain: Plain | None = None) -> dict[str, float]:
    """Composed R@1: the reference photo (a file outside the library) + the change -> the target."""
    plain = plain or Plain(case)
    index = {s.key(): p for p, s in case.photos.items()}
    r: dict[str, list[bool]] = {"plain": [], "default": []}
    for t, ref in case.triplets:
        target = index[t.target.key()]
        vec = plain.image(ref) + plain.text(t.text)
        r["plain"].append(plain.search(vec, "photo", 1)[0][0] == target)
        got = glimpse(case, text=t.text, images=(str(ref),), kind="photo")
        r["default"].append(bool(got) and got[0][0] == target)
    return {k: float(np.mean(v)) for k, v in r.items()}


def _grab(video: Path, ts: float, out: Path) -> Path:
    """The frame at ``ts`` as a picture file, as a person would screenshot a paused video."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_MSEC, ts * 1000)
    ok, bgr = cap.read()
    cap.release()
    assert ok, video
    cv2.imwrite(str(out), bgr)
    return out
