"""The default view's relevance bar: how far above its base a query's best match must stand to
count as more than what made-up words get on this library with this model.

The base is the query's 10th-percentile similarity over the library sample: what clearly
unrelated items score for it (a low percentile, so that a broad description matching most
of the library still has a base below its matches). A margin is how far a query's best
match stands above its base. Words that describe nothing score every picture about alike;
the nonsense probes (``prompts.NONSENSE_PROBES``) measure how far "about alike" goes, and
the bar is the margin that 95 % of them do not exceed, so it follows each model's own
similarity scale (chosen on five test models: bench/bench_retrieval.py).

The bar decides two things. Whether a query shows anything: its best match must clear the
bar. And which items it shows: those that clear the bar too — unless the query stands out
more than *every* probe did, which no made-up word on this library does; then it is real
words, and items down to ``CLEAR_SHARE`` of the bar are shown. On a model whose text tower
rates a one-attribute description ("a triangle") barely above nonsense, the full bar cut a
third of its matches (issue #38, tiny-clip-weak); no made-up phrase cleared every probe on
the five test models, so the lower floor shows nothing more for nonsense.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable

import numpy as np

from indexer.ann.index import AnnIndex
from indexer.model.prompts import NONSENSE_PROBES

# Chosen on tuning seeds of the three first test models (bench/bench_retrieval.py, docs/benchmarks.md):
# at the 90th percentile one nonsense query in 16 still showed 5-11 results; at the 95th at
# most 1, with partial-description mAP unchanged.
NULL_QUANTILE = 95.0
BASE_PERCENTILE = 10.0
# Tuning seeds of the five test models (bench/bench_retrieval.py): 0.0, 0.5 and 0.75 gave the
# same mAP and nonsense counts; the middle keeps a floor under a clearly real query's tail.
CLEAR_SHARE = 0.5


@dataclasses.dataclass(frozen=True)
class Floors:
    """The default view's similarity floors for one text query (raw cosines)."""

    best: float  # the best match must exceed this, or the query gets "No good matches"
    items: float  # each item shown must reach this


def base(sample: np.ndarray, vec: np.ndarray) -> float:
    """What clearly unrelated items score for ``vec``: a low percentile over the library sample."""
    return float(np.percentile(sample @ vec, BASE_PERCENTILE))


class NonsenseBar:
    """The nonsense margins of one library and model, measured once per library change.

    Encoding the probes costs the text encoder ~100 calls, so the values are kept in the
    library (``load``/``save``: the store's meta, under ``key``) for the next process: a CLI
    search pays it once per library change, not once per process.
    """

    def __init__(self, key: str, encode: Callable[[list[str]], np.ndarray],
                 load: Callable[[], str | None], save: Callable[[str], None]) -> None:
        self.key = json.dumps([key, len(NONSENSE_PROBES), NULL_QUANTILE, BASE_PERCENTILE, "clear"])
        self._encode, self._load, self._save = encode, load, save
        self._lock = threading.Lock()
        self._null: tuple[int, float, float] | None = None  # (library size, bar, every probe's best)
        self._probes: np.ndarray | None = None

    def floors(self, vec: np.ndarray, ann: AnnIndex, sample: np.ndarray) -> Floors | None:
        """The floors for this text query's results (None: library too small to tell)."""
        if len(ann) == 0 or len(sample) < 8:
            return None
        _, bar, clear = self.margins(ann, sample)
        low = base(sample, vec)
        best = float(ann.search(vec, 1)[1][0])
        return Floors(low + bar, low + (CLEAR_SHARE * bar if best > low + clear else bar))

    def margins(self, ann: AnnIndex, sample: np.ndarray) -> tuple[int, float, float]:
        """(library size, the bar, the largest probe margin), measured again when the library
        grew or shrank by more than 5 %."""
        with self._lock:
            n = len(ann)
            if self._null is None:
                self._null = self._stored()
            if self._null is None or abs(n - self._null[0]) > 0.05 * max(self._null[0], 1):
                if self._probes is None:
                    self._probes = self._encode(list(NONSENSE_PROBES))
                margins = [float(ann.search(v, 1)[1][0]) - base(sample, v) for v in self._probes]
                self._null = (n, float(np.percentile(margins, NULL_QUANTILE)), float(max(margins)))
                self._save(json.dumps({"key": self.key, "n": n, "margin": self._null[1], "clear": self._null[2]}))
            return self._null

    def _stored(self) -> tuple[int, float, float] | None:
        try:
            rec = json.loads(self._load() or "null")
        except ValueError:
            return None
        if not rec or rec.get("key") != self.key:
            return None
        return int(rec["n"]), float(rec["margin"]), float(rec["clear"])
