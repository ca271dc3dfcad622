"""Detector state on top of a Faust table: write overlays and the applied-offset marker.

Why an overlay: detectors do read-modify-write on a plain mapping. Writing straight
into the changelog-backed table would (a) leave half an article's updates behind when
a detector raises, and (b) publish state before the signals it explains are durable.
So each article works on an `Overlay` whose writes are folded into a per-partition
overlay on success, and the worker copies them into the table only after the batch's
signals were acknowledged by Kafka.

Why a marker: Faust commits consumer offsets and writes table changelogs
independently, so after a crash a worker may restore state that already contains the
effect of articles whose offsets were never committed. Re-applying them would double
count (a burst detector would see each article twice). The marker, one table entry per
source partition, holds the last applied offset *and* the batch's writes; it is
written before the individual keys, to the same changelog partition, so Kafka's
per-partition order guarantees: if a marker is durable, every earlier batch's keys
are too, and the newest batch's keys are in the marker itself (re-applied on
(re)assignment). Re-delivered records with offset <= marker.offset are skipped.
See docs/kafka.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

MARKER_PREFIX = "__hw_applied__/"
ABSENT: Any = object()
"""Sentinel: a key known not to exist (negative cache entry, or a pending delete)."""


def marker_key(topic: str, partition: int) -> str:
    return f"{MARKER_PREFIX}{topic}/{partition}"


def empty_marker() -> dict[str, Any]:
    return {"offset": -1, "writes": {}, "deletes": []}


class StateCache:
    """A read-through mirror of the state table for the partitions this process owns.

    Why: a Faust table decodes JSON on every read; the detectors read dozens of keys
    per article. This worker is the only writer of its partitions' keys, so a mirror
    filled on first read and updated on every write stays exact; it is cleared on
    every rebalance (the owned partitions change).
    """

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self.values: dict[str, Any] = {}

    def lookup(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            pass
        try:
            value = self.table[key]
        except KeyError:
            value = ABSENT
        if value is None:  # a tombstone restored from the changelog
            value = ABSENT
        self.values[key] = value
        return value

    def forget(self, keys: Iterator[str] | list[str] | set[str]) -> None:
        for k in keys:
            self.values.pop(k, None)

    def clear(self) -> None:
        self.values.clear()

    def apply(self, sets: Mapping[str, Any], dels: list[str]) -> None:
        """Write through: table (-> changelog) and mirror."""
        table, values = self.table, self.values
        for k, v in sets.items():
            table[k] = v
            values[k] = v
        for k in dels:
            if self.lookup(k) is not ABSENT:
                del table[k]
            values[k] = ABSENT


class Overlay(MutableMapping[str, Any]):
    """Writes and deletes recorded over a lower layer (another Overlay, else the cache).

    Values are handed out as stored, not copied: detectors assign what they changed
    (read-modify-write), as detectors/base.py requires.
    """

    def __init__(self, cache: StateCache, under: Overlay | None = None) -> None:
        self.cache = cache
        self.under = under
        self.writes: dict[str, Any] = {}
        self.read: set[str] = set()

    def _lookup(self, key: str) -> Any:
        v = self.writes.get(key, self)
        if v is not self:
            return v
        self.read.add(key)
        if self.under is not None:
            return self.under._lookup(key)
        return self.cache.lookup(key)

    def __getitem__(self, key: str) -> Any:
        v = self._lookup(key)
        if v is ABSENT:
            raise KeyError(key)
        return v

    def get(self, key: str, default: Any = None) -> Any:
        v = self._lookup(key)
        return default if v is ABSENT else v

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes[key] = value

    def __delitem__(self, key: str) -> None:
        if self._lookup(key) is ABSENT:
            raise KeyError(key)
        self.writes[key] = ABSENT

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not ABSENT

    def __iter__(self) -> Iterator[str]:
        # rare (no built-in detector iterates its state); correct but not fast
        keys = set(self._all_writes())
        for k in self.cache.table:
            if not k.startswith(MARKER_PREFIX):
                keys.add(k)
        return iter(sorted(k for k in keys if k in self))

    def _all_writes(self) -> dict[str, Any]:
        below = self.under._all_writes() if self.under is not None else {}
        return {**below, **self.writes}

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def fold_into(self, other: Overlay) -> None:
        other.writes.update(self.writes)

    def changes(self) -> tuple[dict[str, Any], list[str]]:
        """(key -> new value, deleted keys)."""
        sets = {k: v for k, v in self.writes.items() if v is not ABSENT}
        dels = [k for k, v in self.writes.items() if v is ABSENT]
        return sets, dels
