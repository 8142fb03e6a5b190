"""The default view's relevance bar: how far above its base a query's best match must stand to
count as more than what made-up words get on this library with this model.

The base is the query's 10th-percentile similarity over the library sample: what clearly
unrelated items score for it (a low percentile, so that a broad description matching most
of the library still has a base below its matches). A margin is how far a query's best
match stands above its base. Words that describe nothing score every picture about alike;
the nonsense probes (``prompts.NONSENSE_PROBES``) measure how far "about alike" goes, and
the bar is the margin that 95 % of them do not exceed, so it follows each model's own
similarity scale (chosen on three test models: bench/bench_retrieval.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import numpy as np

from indexer.ann.index import AnnIndex
from indexer.model.prompts import NONSENSE_PROBES

# Chosen on tuning seeds of the three test models (bench/bench_retrieval.py, docs/benchmarks.md):
# at the 90th percentile one nonsense query in 16 still showed 5-11 results; at the 95th at
# most 1, with partial-description mAP unchanged.
NULL_QUANTILE = 95.0
BASE_PERCENTILE = 10.0


def base(sample: np.ndarray, vec: np.ndarray) -> float:
    """What clearly unrelated items score for ``vec``: a low percentile over the library sample."""
    return float(np.percentile(sample @ vec, BASE_PERCENTILE))


class NonsenseBar:
    """The nonsense margin of one library and model, measured once per library change.

    Encoding the probes costs the text encoder ~100 calls, so the value is kept in the
    library (``load``/``save``: the store's meta, under ``key``) for the next process: a CLI
    search pays it once per library change, not once per process.
    """

    def __init__(self, key: str, encode: Callable[[list[str]], np.ndarray],
                 load: Callable[[], str | None], save: Callable[[str], None]) -> None:
        self.key = json.dumps([key, len(NONSENSE_PROBES), NULL_QUANTILE, BASE_PERCENTILE])
        self._encode, self._load, self._save = encode, load, save
        self._lock = threading.Lock()
        self._null: tuple[int, float] | None = None  # (library size, margin)
        self._probes: np.ndarray | None = None

    def floor(self, vec: np.ndarray, ann: AnnIndex, sample: np.ndarray) -> float | None:
        """The least similarity a result of this text query needs (None: library too small to tell)."""
        if len(ann) == 0 or len(sample) < 8:
            return None
        return base(sample, vec) + self.margin(ann, sample)

    def margin(self, ann: AnnIndex, sample: np.ndarray) -> float:
        with self._lock:
            n = len(ann)
            if self._null is None:
                self._null = self._stored()
            if self._null is None or abs(n - self._null[0]) > 0.05 * max(self._null[0], 1):
                if self._probes is None:
                    self._probes = self._encode(list(NONSENSE_PROBES))
                margins = [float(ann.search(v, 1)[1][0]) - base(sample, v) for v in self._probes]
                self._null = (n, float(np.percentile(margins, NULL_QUANTILE)))
                self._save(json.dumps({"key": self.key, "n": self._null[0], "margin": self._null[1]}))
            return self._null[1]

    def _stored(self) -> tuple[int, float] | None:
        try:
            rec = json.loads(self._load() or "null")
        except ValueError:
            return None
        if not rec or rec.get("key") != self.key:
            return None
        return int(rec["n"]), float(rec["margin"])
