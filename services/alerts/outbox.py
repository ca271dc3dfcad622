"""The alert outbox: every alert raised, keyed by id, until each of its channels took it.

One SQLite table, `alerts`. Two homes:

* the embedded runtime keeps it inside its store (services/store/sqlite.py), so alerts
  are written in the same transaction as the article and its signals (`insert_new` runs
  in the store's transaction on the store's connection);
* the production alerter (`hybridwatch alerter`) opens it alone: `AlertOutbox.open(dir)`
  is one small file, `<data_dir>/alerter/outbox.sqlite3`, with this table only — no
  article, signal, full-text or detector-state table.

Keyed by alert id (a content id), so an alert published twice, read again after a
restart or raised again by a replay is stored once and delivered once.

Earlier alerters kept the outbox in a whole store file (`hybridwatch.sqlite3`) in the
same folder; the first open of a new outbox copies that file's alerts (delivered or
not) over, so an upgrade neither forgets pending alerts nor sends delivered ones again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from hybridwatch.events import Alert

log = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.sqlite3"
LEGACY_FILE = "hybridwatch.sqlite3"
"""The whole-store file earlier alerters kept their outbox in (imported once)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    event_time_us INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    delivered_us INTEGER,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_pending ON alerts (delivered_us) WHERE delivered_us IS NULL;
CREATE TABLE IF NOT EXISTS alert_channels (
    alert_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    delivered_us INTEGER NOT NULL,
    PRIMARY KEY (alert_id, channel)
) WITHOUT ROWID;
"""
# alert_channels: which channel ("<subscription>/<channel>") took which alert, written
# as soon as the channel took it, so a restart after a partial failure (the webhook took
# an alert, the e-mail server was down) re-sends it to the e-mail only.


def _us(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


class DurableOutbox(Protocol):
    """What alert delivery needs of an outbox (AlertOutbox and SqliteStore have it)."""

    def add_new(self, alerts: Sequence[Alert]) -> list[Alert]: ...
    def pending_alerts(self) -> list[Alert]: ...
    def mark_delivered(self, alert_ids: Sequence[str]) -> None: ...
    def mark_channel(self, alert_ids: Sequence[str], channel: str) -> None: ...
    def channels_taken(self, alert_ids: Sequence[str]) -> set[tuple[str, str]]: ...


class OutboxClosed(RuntimeError):
    """The outbox (or the store holding it) was closed."""


class AlertOutbox:
    """The `alerts` table on a connection: its own file (`open`) or a store's (shared)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        lock: threading.RLock | None = None,
        path: Path | None = None,
        owns_connection: bool = True,
    ) -> None:
        self._conn = conn
        self._lock = lock or threading.RLock()
        self.path = path
        self._owns = owns_connection
        self._closed = False
        with self._lock:
            conn.executescript(SCHEMA)

    @classmethod
    def open(cls, directory: Path) -> AlertOutbox:
        """The outbox file in `directory` (created, with the legacy alerts imported once)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / OUTBOX_FILE
        fresh = not path.exists()
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at commit
        conn.execute("PRAGMA busy_timeout=10000")
        outbox = cls(conn, path=path)
        legacy = directory / LEGACY_FILE
        if fresh and legacy.exists():
            outbox._import(legacy)
        return outbox

    @classmethod
    def memory(cls) -> AlertOutbox:
        return cls(sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None))

    def _import(self, legacy: Path) -> None:
        try:
            src = sqlite3.connect(f"file:{legacy}?mode=ro", uri=True)
            try:
                rows = src.execute(
                    "SELECT id, subscription_id, event_time_us, created_us, delivered_us, doc"
                    " FROM alerts"
                ).fetchall()
            finally:
                src.close()
        except sqlite3.Error as err:
            log.warning("alert outbox: could not import alerts from %s: %s", legacy, err)
            return
        with self._tx() as conn:
            conn.executemany("INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?, ?, ?)", rows)
        pending = sum(1 for r in rows if r[4] is None)
        log.warning("alert outbox: imported %d alerts (%d undelivered) from %s into %s",
                    len(rows), pending, legacy, self.path)  # fmt: skip

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _check(self) -> None:
        if self._closed:
            where = f" {self.path}" if self.path else ""
            raise OutboxClosed(f"the alert outbox{where} is closed")

    # -- writes ------------------------------------------------------------------------

    @staticmethod
    def insert_new(conn: sqlite3.Connection, alerts: Iterable[Alert]) -> list[Alert]:
        """Insert the alerts not stored yet, in the caller's transaction; returns those."""
        now = _us(datetime.now(UTC))
        new: list[Alert] = []
        for a in alerts:
            cur = conn.execute(
                "INSERT OR IGNORE INTO alerts (id, subscription_id, event_time_us, created_us, doc)"
                " VALUES (?, ?, ?, ?, ?)",
                (a.id, a.subscription_id, _us(a.event_time), now, a.to_json()),
            )
            if cur.rowcount == 1:
                new.append(a)
        return new

    def add_new(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Store alerts durably (committed when this returns); returns the ones not seen
        before. An alert id already stored keeps its delivery record."""
        with self._tx() as conn:
            return self.insert_new(conn, alerts)

    def mark_delivered(self, alert_ids: Sequence[str]) -> None:
        now = _us(datetime.now(UTC))
        with self._tx() as conn:
            conn.executemany(
                "UPDATE alerts SET delivered_us = ? WHERE id = ?", [(now, i) for i in alert_ids]
            )

    def mark_channel(self, alert_ids: Sequence[str], channel: str) -> None:
        """Record that `channel` took these alerts (committed when this returns)."""
        now = _us(datetime.now(UTC))
        with self._tx() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO alert_channels VALUES (?, ?, ?)",
                [(i, channel, now) for i in alert_ids],
            )

    # -- reads -------------------------------------------------------------------------

    def channels_taken(self, alert_ids: Sequence[str]) -> set[tuple[str, str]]:
        """(alert id, channel) pairs already delivered, for these alerts."""
        out: set[tuple[str, str]] = set()
        ids = list(dict.fromkeys(alert_ids))
        for i in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                f"SELECT alert_id, channel FROM alert_channels WHERE alert_id IN ({marks})",
                chunk,
            )
            out.update((str(a), str(c)) for a, c in rows)
        return out

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            self._check()
            return list(self._conn.execute(sql, params).fetchall())

    def pending_alerts(self) -> list[Alert]:
        """Alerts stored but not yet delivered (e.g. the process died in between)."""
        rows = self._read(
            "SELECT doc FROM alerts WHERE delivered_us IS NULL ORDER BY created_us, id"
        )
        return [Alert.model_validate_json(str(r[0])) for r in rows]

    def get_alerts(
        self,
        limit: int = 100,
        offset: int = 0,
        country: str | None = None,
        subscription: str | None = None,
    ) -> list[Alert]:
        """Newest first (event time, then id); `country`, `subscription` filter exactly."""
        where: list[str] = []
        params: list[object] = []
        if country:
            where.append("json_extract(doc, '$.country') = ?")
            params.append(country.upper())
        if subscription:
            where.append("subscription_id = ?")
            params.append(subscription)
        sql = "SELECT doc FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY event_time_us DESC, id LIMIT ? OFFSET ?"
        rows = self._read(sql, (*params, max(limit, 0), max(offset, 0)))
        return [Alert.model_validate_json(str(r[0])) for r in rows]

    def count(self) -> int:
        return int(str(self._read("SELECT COUNT(*) FROM alerts")[0][0]))

    def close(self) -> None:
        """Close the file (a shared connection is closed by its store, not here)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._owns:
                self._conn.close()
