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

import copy
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

MARKER_PREFIX = "__hw_applied__/"
_DELETED: Any = object()


def marker_key(topic: str, partition: int) -> str:
    return f"{MARKER_PREFIX}{topic}/{partition}"


def empty_marker() -> dict[str, Any]:
    return {"offset": -1, "writes": {}, "deletes": []}


class Overlay(MutableMapping[str, Any]):
    """A mapping that records writes and deletes over a read-only base mapping."""

    def __init__(self, base: Mapping[str, Any]) -> None:
        self.base = base
        self.writes: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self.writes:
            value = self.writes[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        # a copy: a detector that mutates what it read must not change the base in place
        return copy.deepcopy(self.base[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.writes[key] = _DELETED

    def __contains__(self, key: object) -> bool:
        if key in self.writes:
            return self.writes[key] is not _DELETED
        return key in self.base

    def __iter__(self) -> Iterator[str]:
        seen = set()
        for k, v in self.writes.items():
            seen.add(k)
            if v is not _DELETED:
                yield k
        for k in self.base:
            if k not in seen and not k.startswith(MARKER_PREFIX):
                yield k

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def fold_into(self, other: Overlay) -> None:
        other.writes.update(self.writes)

    def changes(self) -> tuple[dict[str, Any], list[str]]:
        """(key -> new value, deleted keys)."""
        sets = {k: v for k, v in self.writes.items() if v is not _DELETED}
        dels = [k for k, v in self.writes.items() if v is _DELETED]
        return sets, dels


def apply_changes(table: MutableMapping[str, Any], sets: Mapping[str, Any], dels: list[str]) -> None:
    for k, v in sets.items():
        table[k] = v
    for k in dels:
        if k in table:
            del table[k]
