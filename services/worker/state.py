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

import zlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

MARKER_PREFIX = "__hw_applied__/"
ABSENT: Any = object()
"""Sentinel: a key known not to exist (negative cache entry, or a pending delete)."""


def marker_key(topic: str, partition: int) -> str:
    return f"{MARKER_PREFIX}{topic}/{partition}"


def empty_marker() -> dict[str, Any]:
    return {"offset": -1, "writes": {}, "deletes": []}


SHARD_PREFIX = "__hw_shard__/"


def shard_key(topic: str, partition: int, shard: int) -> str:
    return f"{SHARD_PREFIX}{topic}/{partition}/{shard}"


def shard_of(key: str, shards: int) -> int:
    """Stable across processes (unlike hash()): crc32 of the key."""
    return zlib.crc32(key.encode("utf-8")) % shards


class StateCache:
    """Detector state of one source partition, stored in the table as `shards` records.

    Why shards: the detectors touch dozens of keys per article; one changelog record
    per key made Faust's producer the bottleneck (~60 records per article). Keys are
    grouped into a fixed number of shard records per partition, so a batch writes at
    most `shards` records however many keys changed.

    The mirror (`shards` dicts, filled on first read) is exact because this worker is
    the only writer of the partitions it owns; it is dropped on every rebalance.
    """

    def __init__(
        self, table: MutableMapping[str, Any], topic: str, partition: int, shards: int
    ) -> None:
        self.table = table
        self.topic = topic
        self.partition = partition
        self.n = shards
        self.loaded: dict[int, dict[str, Any]] = {}

    def _shard(self, i: int) -> dict[str, Any]:
        data = self.loaded.get(i)
        if data is None:
            try:
                raw = self.table[shard_key(self.topic, self.partition, i)]
            except KeyError:
                raw = None
            data = dict(raw) if isinstance(raw, dict) else {}
            self.loaded[i] = data
        return data

    def lookup(self, key: str) -> Any:
        return self._shard(shard_of(key, self.n)).get(key, ABSENT)

    def forget(self, keys: Iterator[str] | list[str] | set[str]) -> None:
        for k in keys:
            self.loaded.pop(shard_of(k, self.n), None)

    def keys(self) -> Iterator[str]:
        for i in range(self.n):
            yield from self._shard(i)

    def apply(self, sets: Mapping[str, Any], dels: list[str]) -> None:
        """Update the mirror and write every touched shard to the table (-> changelog)."""
        touched: set[int] = set()
        for k, v in sets.items():
            i = shard_of(k, self.n)
            self._shard(i)[k] = v
            touched.add(i)
        for k in dels:
            i = shard_of(k, self.n)
            if self._shard(i).pop(k, ABSENT) is not ABSENT:
                touched.add(i)
        for i in sorted(touched):
            # a copy: the record is serialised later, by Faust's producer buffer
            self.table[shard_key(self.topic, self.partition, i)] = dict(self.loaded[i])


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
        keys = set(self._all_writes()) | set(self.cache.keys())
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
