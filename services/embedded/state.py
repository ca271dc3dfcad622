"""Detector state for the embedded runtime: a dict that remembers what changed.

Detectors get a plain mutable mapping. Wrapping it lets the pipeline persist only the
keys a batch touched, in the same SQLite transaction as the batch's articles, so the
stored state always matches the stored articles, also after a crash.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any


class TrackedState(MutableMapping[str, Any]):
    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(initial or {})
        self._dirty: set[str] = set()
        self._deleted: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        # Reads are not changes: detectors read-modify-write whole values
        # (`state[k] = new`, see docs/design-notes.md "Detector state") because a Faust
        # table, too, persists only on assignment. An in-place mutation of a nested
        # value would be lost on restart in production as well as here.
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._dirty.add(key)
        self._deleted.discard(key)

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._dirty.discard(key)
        self._deleted.add(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def take_changes(self) -> tuple[dict[str, Any], set[str]]:
        """(changed keys with their values, deleted keys) since the last call."""
        changed = {k: self._data[k] for k in self._dirty if k in self._data}
        deleted = set(self._deleted)
        self._dirty.clear()
        self._deleted.clear()
        return changed, deleted

    def snapshot(self) -> dict[str, Any]:
        return dict(self._data)

    def restore_changes(self, changed: dict[str, Any], deleted: set[str]) -> None:
        """Put back changes whose write failed so the next write includes them."""
        self._dirty |= {k for k in changed if k in self._data}
        self._deleted |= {k for k in deleted if k not in self._data}
