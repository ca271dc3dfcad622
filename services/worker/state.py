"""Detector state on top of a Faust table: write overlays, delta records, the applied-offset marker.

Why overlays: detectors do read-modify-write on a plain mapping. Writing straight
into the changelog-backed table would (a) leave half an article's updates behind when
a detector raises, and (b) publish state before the signals it explains are durable.
So each article works on an overlay of the shared batch step
(services/pipeline/step.py) whose writes count only when the article succeeded, and
the worker commits the batch's changes here only after its signals were acknowledged
by Kafka.

Why a marker: Faust commits consumer offsets and writes table changelogs
independently, so after a crash a worker may restore state that already contains the
effect of articles whose offsets were never committed. Re-applying them would double
count (a burst detector would see each article twice). The marker, one table entry per
source partition, holds the last applied offset and the number `seq` of the newest
*delta record*; both are written to the same changelog partition, delta first, so
Kafka's per-partition order guarantees: if a marker is durable, so is every delta it
names. Re-delivered records with offset <= marker.offset are skipped.

Why deltas: rewriting every touched state shard per batch made the changelog cost grow
with the state (a batch touches nearly every shard), so throughput fell as state grew.
Now a batch writes one delta record (only the keys it changed) and the marker; the
shards are a *snapshot*, rewritten (only the dirty ones) once the deltas since the last
snapshot hold about as many keys as the state itself, so the changelog cost per
article stays proportional to what the article changed. State = snapshot shards +
deltas `snap+1 .. seq` replayed in order. See docs/kafka.md.

Why the worker sends these records itself and waits for each stage's acknowledgement
(instead of assigning to the Faust table): Faust sends table changes through a buffer
whose `flush()` gives up after 0.1 s without progress, and the consumer commits offsets
independently of it. Offsets could therefore be committed for articles whose state
never reached the changelog; a worker killed then came back with their effect lost
(the kill -9 test saw different signals). Now `commit` only writes the local store and
returns the records; the processor awaits their acknowledgement, stage by stage, before
the records' offsets may be committed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from services.pipeline.step import ABSENT as ABSENT

MARKER_PREFIX = "__hw_applied__/"


def marker_key(topic: str, partition: int) -> str:
    return f"{MARKER_PREFIX}{topic}/{partition}"


SHARD_PREFIX = "__hw_shard__/"
DELTA_PREFIX = "__hw_delta__/"


def delta_key(topic: str, partition: int, seq: int) -> str:
    return f"{DELTA_PREFIX}{topic}/{partition}/{seq}"


def shard_key(topic: str, partition: int, shard: int) -> str:
    return f"{SHARD_PREFIX}{topic}/{partition}/{shard}"


def shard_of(key: str, shards: int) -> int:
    """Stable across processes (unlike hash()): crc32 of the key."""
    return zlib.crc32(key.encode("utf-8")) % shards


class StateCache:
    """Detector state of one source partition: snapshot shards + delta records + marker.

    Table records of a partition (all in its changelog partition, see faust_scope):

    * `shard_key(t, p, i)`: the snapshot, keys grouped into `shards` records (crc32);
    * `delta_key(t, p, n)`: batch n's changes `{"writes": {...}, "deletes": [...]}`;
    * `marker_key(t, p)`: `{"offset", "seq", "snap"}`: state = shards + deltas
      snap+1..seq, and every record up to `offset` is applied.

    The mirror (`shards` dicts, filled on first read) is exact because this worker is
    the only writer of the partitions it owns; it is dropped on every rebalance.

    Crash safety of a snapshot: the batch's delta and marker (seq=n, snap=old) are
    written first, then the dirty shards (state as of n), then the marker with snap=n,
    then tombstones for the deltas old+1..n. A crash anywhere in between leaves a marker
    whose replay (deltas old+1..n over shards that are per key as of old..n) yields the
    state as of n, because replaying every change since `old` in order sets each
    changed key to its newest value whatever the shard held. A crash before the
    tombstones only leaves stale delta records behind (never read again).
    """

    def __init__(
        self,
        table: MutableMapping[str, Any],
        topic: str,
        partition: int,
        shards: int,
        snapshot_min_keys: int = 20_000,
        max_deltas: int = 1_000,
    ) -> None:
        self.table = table
        self.topic = topic
        self.partition = partition
        self.n = shards
        self.snapshot_min_keys = snapshot_min_keys
        self.max_deltas = max_deltas
        self.loaded: dict[int, dict[str, Any]] = {}
        self.flat: dict[str, Any] = {}
        """Every key of the loaded shards: one dict lookup per read, no crc32."""
        self.complete = False
        """All shards loaded: a key missing from `flat` does not exist."""
        self.dirty: set[int] = set()
        """Shards changed since the last snapshot (in the mirror, not yet in the table)."""
        self.offset = -1
        self.seq = 0
        self.snap = 0
        self.keys_since_snap = 0
        self.marker_key = marker_key(topic, partition)
        self._stages: list[list[tuple[str, Any]]] = [[]]

    # -- recovery ---------------------------------------------------------------

    def recover(self) -> None:
        """Load the marker and replay the deltas it names into the mirror (no table writes)."""
        try:
            marker = self.table[self.marker_key]
        except KeyError:
            marker = None
        if not isinstance(marker, dict) or "offset" not in marker:
            return
        self.offset = int(marker["offset"])
        if "seq" not in marker:
            # a marker of the earlier format carries its batch's writes itself
            self._apply_mirror(marker.get("writes") or {}, marker.get("deletes") or [])
            return
        self.seq = int(marker["seq"])
        self.snap = int(marker["snap"])
        for n in range(self.snap + 1, self.seq + 1):
            try:
                delta = self.table[delta_key(self.topic, self.partition, n)]
            except KeyError as err:
                raise RuntimeError(
                    f"changelog of {self.topic}/{self.partition} lacks delta {n} named by its "
                    f"marker (seq {self.seq}, snapshot {self.snap}): state cannot be rebuilt"
                ) from err
            writes = delta.get("writes") or {}
            self._apply_mirror(writes, delta.get("deletes") or [])
            self.keys_since_snap += len(writes)

    # -- reads --------------------------------------------------------------------

    def _shard(self, i: int) -> dict[str, Any]:
        data = self.loaded.get(i)
        if data is None:
            try:
                raw = self.table[shard_key(self.topic, self.partition, i)]
            except KeyError:
                raw = None
            data = dict(raw) if isinstance(raw, dict) else {}
            self.loaded[i] = data
            self.flat.update(data)
            self.complete = len(self.loaded) == self.n
        return data

    def lookup(self, key: str) -> Any:
        v = self.flat.get(key, ABSENT)
        if v is ABSENT and not self.complete:
            i = shard_of(key, self.n)
            if i not in self.loaded:
                self._shard(i)
                v = self.flat.get(key, ABSENT)
        return v

    def forget(self, keys: Iterable[str]) -> None:
        """Drop shards whose values a failed detector may have mutated in place.

        Only clean shards can be re-read from the table; a dirty shard's values are the
        deltas' own objects, which a later replay would restore, so it is kept.
        """
        for k in keys:
            i = shard_of(k, self.n)
            if i not in self.dirty and i in self.loaded:
                for gone in self.loaded.pop(i):
                    self.flat.pop(gone, None)
                self.complete = False

    def keys(self) -> Iterator[str]:
        for i in range(self.n):
            self._shard(i)
        yield from list(self.flat)

    @property
    def view(self) -> CacheView:
        """The partition's state as a read-only mapping (what the batch step reads)."""
        return CacheView(self)

    # -- writes -------------------------------------------------------------------

    def _apply_mirror(self, sets: Mapping[str, Any], dels: list[str]) -> None:
        flat = self.flat
        for k, v in sets.items():
            i = shard_of(k, self.n)
            self._shard(i)[k] = v
            flat[k] = v
            self.dirty.add(i)
        for k in dels:
            i = shard_of(k, self.n)
            if self._shard(i).pop(k, ABSENT) is not ABSENT:
                flat.pop(k, None)
                self.dirty.add(i)

    def commit(
        self, offset: int, sets: dict[str, Any], dels: list[str]
    ) -> list[list[tuple[str, Any]]]:
        """Record a batch: delta record, marker, and now and then a snapshot (see class doc).

        The records are written to `table` (the local store) at once and returned as
        ordered *stages* for the runtime to make durable in the changelog: every record
        of a stage must be acknowledged before the next stage is sent, because recovery
        is only correct if the changelog never holds a marker without what it names.
        A value of None is a deletion (a tombstone in the changelog).
        """
        self._stages = [[]]
        self._apply_mirror(sets, dels)
        self.seq += 1
        self.offset = offset
        self.keys_since_snap += len(sets)
        self._put(
            delta_key(self.topic, self.partition, self.seq), {"writes": sets, "deletes": dels}
        )
        self._barrier()
        self._write_marker()
        if self._snapshot_due():
            self._barrier()
            self._snapshot()
        return [stage for stage in self._stages if stage]

    def _put(self, key: str, value: Any) -> None:
        if value is None:
            self.table.pop(key, None)
        else:
            self.table[key] = value
        self._stages[-1].append((key, value))

    def _barrier(self) -> None:
        self._stages.append([])

    def _write_marker(self) -> None:
        self._put(self.marker_key, {"offset": self.offset, "seq": self.seq, "snap": self.snap})

    def _snapshot_due(self) -> bool:
        if self.seq - self.snap >= self.max_deltas:
            return True
        known = sum(len(d) for d in self.loaded.values())
        return self.keys_since_snap >= max(self.snapshot_min_keys, known)

    def _snapshot(self) -> None:
        """Write the dirty shards, move the marker's snapshot to `seq`, drop old deltas."""
        for i in sorted(self.dirty):
            # a copy: the record is serialised later, by the runtime's producer
            self._put(shard_key(self.topic, self.partition, i), dict(self.loaded[i]))
        self._barrier()
        old = self.snap
        self.snap = self.seq
        self._write_marker()
        self._barrier()
        for n in range(old + 1, self.seq + 1):
            self._put(delta_key(self.topic, self.partition, n), None)
        self.dirty.clear()
        self.keys_since_snap = 0


class CacheView(Mapping[str, Any]):
    """A `StateCache` as a read-only Mapping; `get(key, ABSENT)` is the fast path."""

    __slots__ = ("_cache",)

    def __init__(self, cache: StateCache) -> None:
        self._cache = cache

    def get(self, key: str, default: Any = None) -> Any:
        v = self._cache.lookup(key)
        return default if v is ABSENT else v

    def fast_get(self) -> Callable[[str, Any], Any]:
        """A `get` for one article's reads: once every shard is loaded the partition's
        flat dict answers alone (no shard to load on a miss), so its own `get` saves
        two Python calls per read - ~55 reads per article (services/pipeline/step.py).
        Ask again per article: `forget` may unload shards between articles."""
        cache = self._cache
        return cache.flat.get if cache.complete else self.get

    def __getitem__(self, key: str) -> Any:
        v = self._cache.lookup(key)
        if v is ABSENT:
            raise KeyError(key)
        return v

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._cache.lookup(key) is not ABSENT

    def __iter__(self) -> Iterator[str]:
        return self._cache.keys()

    def __len__(self) -> int:
        return sum(1 for _ in self)
