"""StateCache: snapshot shards + delta records rebuild exactly the state that was written."""

from __future__ import annotations

import random
from typing import Any

from services.worker.state import ABSENT, StateCache, delta_key, marker_key

TOPIC = "t.articles"
SHARDS = 8


def _contents(cache: StateCache) -> dict[str, Any]:
    keys = list(cache.keys())
    return {k: cache.lookup(k) for k in keys}


def _recovered(table: dict[str, Any]) -> dict[str, Any]:
    cache = StateCache(table, TOPIC, 0, SHARDS)
    cache.recover()
    return _contents(cache)


def test_recovery_after_any_batch_equals_the_state_written_so_far() -> None:
    rng = random.Random(7)
    table: dict[str, Any] = {}
    live = StateCache(table, TOPIC, 0, SHARDS, snapshot_min_keys=10, max_deltas=5)
    reference: dict[str, Any] = {}
    for batch in range(60):
        sets = {f"k{rng.randrange(40)}": rng.randrange(1000) for _ in range(rng.randrange(1, 8))}
        dels = [k for k in (f"k{rng.randrange(40)}" for _ in range(2)) if k in reference]
        dels = [k for k in dict.fromkeys(dels) if k not in sets]
        reference.update(sets)
        for k in dels:
            reference.pop(k)
        live.commit(batch, sets, dels)
        assert _recovered(table) == reference, f"after batch {batch}"
        assert _contents(live) == reference
    assert live.snap > 0, "the small thresholds should have forced snapshots"
    # deltas folded into a snapshot were deleted: only those after it remain
    deltas = sorted(int(k.rsplit("/", 1)[1]) for k in table if k.startswith("__hw_delta__/"))
    assert deltas == list(range(live.snap + 1, live.seq + 1))


def test_a_marker_naming_a_missing_delta_is_a_clear_error() -> None:
    table: dict[str, Any] = {marker_key(TOPIC, 0): {"offset": 9, "seq": 2, "snap": 0}}
    table[delta_key(TOPIC, 0, 1)] = {"writes": {"a": 1}, "deletes": []}
    cache = StateCache(table, TOPIC, 0, SHARDS)
    try:
        cache.recover()
    except RuntimeError as err:
        assert "lacks delta 2" in str(err) and f"{TOPIC}/0" in str(err)
    else:
        raise AssertionError("recover() accepted a changelog without the delta its marker names")


def test_forgotten_clean_shards_are_re_read_from_the_table() -> None:
    table: dict[str, Any] = {}
    cache = StateCache(table, TOPIC, 0, SHARDS, max_deltas=1)
    cache.commit(0, {"a": [1]}, [])  # snapshot right away: the shard is clean
    assert not cache.dirty
    cache.lookup("a").append(2)  # a failing detector mutated the value in place
    # what the changelog holds is the serialised value, still [1]
    table[next(k for k in table if k.startswith("__hw_shard__/"))] = {"a": [1]}
    cache.forget({"a"})
    assert cache.lookup("a") == [1]
    assert cache.lookup("missing") is ABSENT


def test_an_articles_reads_through_a_complete_cache_equal_the_caches_own_answers() -> None:
    from services.pipeline.step import ArticleState

    table: dict[str, Any] = {}
    writer = StateCache(table, TOPIC, 0, SHARDS, max_deltas=1)
    writer.commit(0, {f"k{i}": i for i in range(50)}, [])
    cache = StateCache(table, TOPIC, 0, SHARDS)
    cache.recover()
    view = cache.view
    slow = ArticleState(view, {})
    assert slow.get("k3") == 3 and slow.get("nope") is None
    list(cache.keys())  # every shard loaded: the flat dict alone answers
    assert cache.complete and view.fast_get() == cache.flat.get
    fast = ArticleState(view, {})
    assert [fast.get(f"k{i}") for i in range(50)] == list(range(50))
    assert fast.get("nope") is None and "nope" not in fast
    cache.forget({"k1"})  # a failed article: shards unloaded, lookups reload them
    assert not cache.complete and view.fast_get() == view.get
    assert ArticleState(view, {}).get("k1") == 1
