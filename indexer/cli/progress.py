"""The CLI's progress line: one line on stderr with a bar, rate and ETA, redrawn in place on a terminal."""

from __future__ import annotations

import sys
import time

from indexer.base.progress import Phase, Progress


class ProgressLine:
    """A one-line progress bar with rate and ETA on stderr (redrawn at most 10x a second)."""

    def __init__(self) -> None:
        self.last = 0.0
        self.phase: Phase | None = None
        self.tty = sys.stderr.isatty()

    def __call__(self, p: Progress) -> None:
        """One line per redraw; a new phase (one line serves every pass of a run) shows at once."""
        now = time.monotonic()
        new = p.phase is not self.phase
        if not new and p.phase not in (Phase.DONE, Phase.SAVING) and now - self.last < (0.1 if self.tty else 5.0):
            return
        self.last, self.phase = now, p.phase
        if p.phase is Phase.SCANNING:
            line = f"scanning… {p.done} files seen"
        elif p.phase is Phase.INDEXING:
            line = f"{_bar(p)}  {p.rate:.1f} files/s  {p.eta_text}  errors {p.errors}"
        elif p.phase.counted:
            line = f"{p.phase} {_bar(p)}  {p.rate:.1f}/s  {p.eta_text}"
        elif p.phase is Phase.SAVING:
            line = "saving index…"
        else:
            line = ""
        end = "\r" if self.tty and p.phase is not Phase.DONE else "\n"
        if line or self.tty:
            print(f"\x1b[2K{line}" if self.tty else line, end=end, file=sys.stderr, flush=True)


def _bar(p: Progress) -> str:
    pct = 100 * p.done / max(p.total, 1)
    return f"[{'#' * int(pct / 5):<20}] {p.done}/{p.total} {pct:3.0f}%"

