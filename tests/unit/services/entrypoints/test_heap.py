"""settle_heap / release_heap: what a role built at start-up leaves the cycle collector's
reach while the role runs, and comes back when it ends (in-process callers, tests)."""

from __future__ import annotations

import gc

from services.entrypoints.bootstrap import release_heap, settle_heap


def test_settle_heap_freezes_what_was_built_and_release_heap_unfreezes_it() -> None:
    built = [[i] for i in range(1000)]  # lists: containers the collector always tracks
    try:
        frozen = settle_heap()
        assert frozen >= len(built)
        assert gc.get_freeze_count() == frozen
        # the collector's generations no longer hold them: a full pass skips them
        assert all(obj is not built[0] for obj in gc.get_objects())
    finally:
        release_heap()
    assert gc.get_freeze_count() == 0
    assert any(obj is built[0] for obj in gc.get_objects())


def test_frozen_objects_are_still_freed_by_reference_counting() -> None:
    import weakref

    class Part:
        pass

    part = Part()
    ref = weakref.ref(part)
    try:
        settle_heap()
        del part
        assert ref() is None
    finally:
        release_heap()
