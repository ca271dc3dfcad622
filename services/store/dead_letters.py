"""The embedded runtime's dead letters: articles the detectors failed on, kept in SQLite.

The batch step (services/pipeline/step.py) turns an article whose detectors raise into
an `ArticleFailure` that changed no state; the Faust worker sends such an article to
the `hw.dead-letter` topic, the embedded runtime writes it here, and the API lists
them at `GET /api/dead-letters` (newest first). The article itself is stored as usual
(it is evidence; in production the indexer indexes it from `hw.articles` too), only
without signals.

The table `dead_letters` lives in the store's file (`hybridwatch.sqlite3`) but is
written through its own connection, by `put`, *before* the batch's transaction: a
crash in between leaves a dead letter whose batch is fetched and processed again, so
the same article fails again and its row is updated (`attempts` + 1), never lost.
The id is content-derived (article id + reason), so one article that keeps failing
is one row.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hybridwatch.events import Article, sha256_hex

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_us INTEGER NOT NULL,
    last_us INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_last ON dead_letters (last_us DESC, id);
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _time(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True)
class DeadLetter:
    """An article to quarantine, and why (`reason`: `detector-error`; `error`: the detail)."""

    article: Article
    reason: str
    error: str

    @property
    def id(self) -> str:
        return sha256_hex("dead-letter", self.article.id, self.reason)


@dataclass(frozen=True)
class StoredDeadLetter:
    id: str
    reason: str
    error: str
    attempts: int
    """How often the article failed (a batch fetched again after a crash counts again)."""
    first_seen: datetime
    last_seen: datetime
    article: Article

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "article_id": self.article.id,
            "reason": self.reason,
            "error": self.error,
            "attempts": self.attempts,
            "first_seen": self.first_seen.isoformat().replace("+00:00", "Z"),
            "last_seen": self.last_seen.isoformat().replace("+00:00", "Z"),
            "article": self.article.to_dict(),
        }


class DeadLetterTable:
    """The `dead_letters` table, on a connection of its own (thread-safe, like the store)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._closed = False
        with self._lock:
            conn.executescript(_SCHEMA)

    @classmethod
    def open(cls, path: Path) -> DeadLetterTable:
        """The table in the SQLite file `path` (the store's `hybridwatch.sqlite3`)."""
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        return cls(conn)

    @classmethod
    def memory(cls) -> DeadLetterTable:
        return cls(sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None))

    @classmethod
    def beside(cls, store_path: Path | None) -> DeadLetterTable:
        """In the store's file, or in memory for an in-memory store (unit tests)."""
        return cls.memory() if store_path is None else cls.open(store_path)

    def put(self, letters: Sequence[DeadLetter], now: datetime | None = None) -> None:
        """Record (or count again) each letter, durably, in one transaction."""
        if not letters:
            return
        at = _us(now or datetime.now(UTC))
        rows = [
            (d.id, d.article.id, d.reason, d.error, at, at, d.article.to_json()) for d in letters
        ]
        with self._lock:
            self._check_open()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO dead_letters"
                    " (id, article_id, reason, error, attempts, first_us, last_us, doc)"
                    " VALUES (?, ?, ?, ?, 1, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET error = excluded.error,"
                    " attempts = attempts + 1, last_us = excluded.last_us, doc = excluded.doc",
                    rows,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def recent(self, limit: int = 100, offset: int = 0) -> list[StoredDeadLetter]:
        """Newest (last failure) first, then by id."""
        with self._lock:
            self._check_open()
            rows = self._conn.execute(
                "SELECT id, reason, error, attempts, first_us, last_us, doc FROM dead_letters"
                " ORDER BY last_us DESC, id LIMIT ? OFFSET ?",
                (max(limit, 0), max(offset, 0)),
            ).fetchall()
        return [
            StoredDeadLetter(
                str(i),
                str(reason),
                str(error),
                int(attempts),
                _time(int(first)),
                _time(int(last)),
                Article.model_validate_json(doc),
            )
            for i, reason, error, attempts, first, last, doc in rows
        ]

    def count(self) -> int:
        with self._lock:
            self._check_open()
            return int(self._conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the dead-letter table is closed")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()
