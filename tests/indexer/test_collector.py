"""The collector settled after start-up: garbage collected once, the survivors out of later collections
(the window's longest freezes were full collections walking them; tests/desktop/test_responsive.py)."""

from __future__ import annotations

import gc
import weakref

from indexer.base import collector


class Node:
    pass


def test_settle_collects_start_ups_cycles_then_leaves_the_survivors_out_of_later_collections() -> None:
    cycle = Node()
    cycle.me = cycle
    gone = weakref.ref(cycle)
    del cycle
    alive = [Node() for _ in range(1000)]
    try:
        collector.settle()
        assert gone() is None  # a reference cycle left from start-up is not frozen in
        assert gc.get_freeze_count() >= len(alive)
        walked = {id(o) for o in gc.get_objects()}  # what a full collection walks
        assert not any(id(o) in walked for o in alive)
        late = Node()
        assert id(late) in {id(o) for o in gc.get_objects()}  # what comes after is collected as before
        collector.settle()  # again (a model switch): the earlier set is collected once more, then left out
        assert gc.get_freeze_count() >= len(alive) + 1
    finally:
        gc.unfreeze()
