"""One ETA for all the work a run has left (#37): indexing, then every pass after it.

Why: each pass knows its own rate and ETA, but a person waits for the picture search *and*
the text search; "ETA 0:40" during indexing followed by "ETA 47:12" for reading text is two
surprises. A ``Schedule`` wraps a run's progress callback and gives each report ``eta_all``:
the current pass's ETA plus, for each pass still to come, its pending files over its rate.

Rates: this run's once a pass has done a few files; before that, the last run's on this
computer (``pass-rates.json`` in the model cache: rates belong to the computer, not the
library); for reading text on a first run, the rate the OCR engine choice measured on its
probe picture (signs, so pessimistic for photos). A pass with no rate at all leaves
``eta_all`` unknown rather than guessed. Not counted: the regions pass (it covers only photos
indexed before regions were turned on; new photos get theirs while indexed), which has no
cheap count.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from indexer.base import atomic
from indexer.base.progress import AfterPass, Phase, Progress, ProgressFn
from indexer.media import ocr_engine

log = logging.getLogger(__name__)
RATES_FILE = "pass-rates.json"
MIN_DONE = 8  # files a pass must have done before its own rate is trusted (and kept)


@dataclasses.dataclass
class Schedule:
    """A progress callback that adds ``eta_all`` and forwards to ``forward``."""

    after: Sequence[AfterPass]  # the passes after indexing, in their order (Library.passes())
    cache: Path  # where rates are kept (the model cache of this computer)
    forward: ProgressFn | None

    def __post_init__(self) -> None:
        self.pending = {a.phase: a.pending() for a in self.after if a.pending is not None}
        self.rates = self._kept()
        self._measured: dict[str, float] = {}

    def __call__(self, p: Progress) -> None:
        if p.phase.counted and p.done >= MIN_DONE and p.rate > 0:
            self._measured[p.phase] = p.rate
        if p.phase is Phase.DONE and self._measured:
            self._keep()
        if self.forward is not None:
            self.forward(dataclasses.replace(p, eta_all=self.eta_all(p)))

    def eta_all(self, p: Progress) -> float | None:
        """Seconds until the passes after ``p``'s are done too; None when one has no rate yet."""
        order = [a.phase for a in self.after]
        if p.phase in order:
            later = order[order.index(p.phase) + 1:]
        elif p.phase in (Phase.SCANNING, Phase.INDEXING):
            later = order
        else:
            return None
        left = p.eta if p.phase.counted else 0.0
        if left is None:
            return None
        new = p.total if p.phase is Phase.INDEXING else 0  # every picture this run indexes is read after it
        for phase in later:
            files = self.pending.get(phase, 0) + (new if phase is Phase.TEXT else 0)
            rate = self._measured.get(phase) or self.rates.get(phase)
            if files and not rate:
                return None
            left += files / rate if files else 0.0
        return left

    def _kept(self) -> dict[str, float]:
        try:
            rates = {str(k): float(v) for k, v in json.loads((self.cache / RATES_FILE).read_text()).items()}
        except (OSError, ValueError, AttributeError):
            rates = {}
        if Phase.TEXT not in rates and (probe := ocr_engine.recorded_rate(self.cache)):
            rates[Phase.TEXT] = probe
        return rates

    def _keep(self) -> None:
        try:
            kept = {**self.rates, **self._measured}
            self.cache.mkdir(parents=True, exist_ok=True)
            atomic.write_text(self.cache / RATES_FILE, json.dumps(kept, indent=2), fsync=False)
        except OSError as e:  # a read-only cache: the next run estimates later, nothing else lost
            log.info("cannot keep pass rates in %s: %s", self.cache, e)
