"""Short garbage-collector pauses in the processes that live long: the window and the resident search.

Why: CPython's full collection walks every object it tracks while holding the GIL, so every
thread stops for it, the window's too. In the responsive-window test (a 2,000-photo library
indexed while searches run) the window's longest freezes, 108-138 ms on the AMX Xeon against
the test's 100 ms bound, came with full collections in the indexing thread (in the run traced:
68 ms over the ~72,000 objects alive once the model was loaded). Nearly all of those objects
are made at start-up (modules, classes, the model's runtime) and live as long as the process.
``gc.freeze()`` moves them out of the collector's reach, so a later full collection walks only
what came after; reference counting still frees everything as before, and only reference cycles
among the frozen objects would stay (there is one collection just before, so none are garbage).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect once, then leave everything alive now out of later collections.

    Call when start-up is over (the model loaded); calling again (after a model switch) lets the
    earlier objects be collected once more, then leaves the new set out.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
