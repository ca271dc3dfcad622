"""Persistent ingest state: per-source health and validators, and the seen-store.

One SQLite file (`<data_dir>/ingest.sqlite3`, WAL mode) per process that ingests.
It survives restarts, which is what makes dedup and conditional GET work across
them. The poller is its only writer; `hybridwatch sources` and the API read it
concurrently (WAL lets readers run beside the writer).

The no-data-loss rule lives in the poller's call order, and this module makes it
atomic: `record_success` stores the newly published article ids *and* the new
validators (ETag, Last-Modified, content hash) in one transaction, and is only
called after `publish` returned. A crash in between leaves the old validators, so
the same items are fetched and published again (duplicates downstream are
harmless: ids are content hashes).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from hybridwatch.config import SourceConfig
from hybridwatch.events import format_time

HealthStatus = Literal["ok", "failing", "never-polled", "disabled"]
FILE_NAME = "ingest.sqlite3"
KEEP_REPORTS = 20
"""Poll reports kept (one per poll_once or run round; a 2,000-source report is ~0.5 MB)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY,
    outlet TEXT NOT NULL DEFAULT '',
    country TEXT NOT NULL DEFAULT '',
    feed_url TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    last_success TEXT,
    last_error TEXT,
    last_error_at TEXT,
    last_warning TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    unchanged_streak INTEGER NOT NULL DEFAULT 0,
    items_seen INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    next_poll TEXT
);
CREATE TABLE IF NOT EXISTS seen (
    article_id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    first_seen TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS poll_reports (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    finished TEXT NOT NULL,
    report TEXT NOT NULL
);
"""


def _ts(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class SourceHealth:
    """What an operator needs to know about one feed (shown by `hybridwatch sources` and the API)."""

    id: str
    outlet: str
    country: str
    feed_url: str
    status: HealthStatus
    last_success: str | None
    last_error: str | None
    last_error_at: str | None
    consecutive_failures: int
    items_seen: int
    """Distinct new articles this source contributed (published), all time."""
    last_status_code: int | None
    next_poll: str | None
    last_warning: str | None = None
    """Non-fatal problem of the last successful poll (lying charset, recovered ill-formed XML ...)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SourceState:
    """The poller's view of one source: validators and schedule inputs."""

    id: str
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    consecutive_failures: int = 0
    unchanged_streak: int = 0
    items_seen: int = 0
    next_poll: datetime | None = None


class IngestState:
    """SQLite-backed ingest state; safe to share between threads (one lock)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, data_dir: Path) -> IngestState:
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / FILE_NAME
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        return cls(conn, path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- configuration -----------------------------------------------------------

    def sync_sources(self, sources: Iterable[SourceConfig]) -> None:
        """Record the configured sources; a changed feed URL forgets its validators."""
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            for s in sources:
                row = self._conn.execute(
                    "SELECT feed_url FROM sources WHERE id = ?", (s.id,)
                ).fetchone()
                if row is None:
                    self._conn.execute(
                        "INSERT INTO sources (id, outlet, country, feed_url, enabled) VALUES (?, ?, ?, ?, ?)",
                        (s.id, s.outlet, s.country, s.feed_url, int(s.enabled)),
                    )
                    continue
                reset = row[0] != s.feed_url
                self._conn.execute(
                    "UPDATE sources SET outlet = ?, country = ?, feed_url = ?, enabled = ?"
                    + (", etag = NULL, last_modified = NULL, content_hash = NULL" if reset else "")
                    + " WHERE id = ?",
                    (s.outlet, s.country, s.feed_url, int(s.enabled), s.id),
                )

    def get(self, source_id: str) -> SourceState:
        with self._lock:
            row = self._conn.execute(
                "SELECT etag, last_modified, content_hash, consecutive_failures, unchanged_streak,"
                " items_seen, next_poll FROM sources WHERE id = ?",
                (source_id,),
            ).fetchone()
        if row is None:
            return SourceState(id=source_id)
        return SourceState(
            source_id, row[0], row[1], row[2], row[3], row[4], row[5], _parse_ts(row[6])
        )

    # -- seen-store ----------------------------------------------------------------

    def unseen(self, article_ids: Sequence[str]) -> set[str]:
        """The subset of `article_ids` never recorded as published."""
        ids = list(dict.fromkeys(article_ids))
        seen: set[str] = set()
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                seen.update(
                    r[0]
                    for r in self._conn.execute(
                        f"SELECT article_id FROM seen WHERE article_id IN ({marks})", chunk
                    )
                )
        return set(ids) - seen

    def seen_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM seen").fetchone()[0])

    # -- outcomes --------------------------------------------------------------------

    def record_success(
        self,
        source_id: str,
        *,
        at: datetime,
        next_poll: datetime,
        status_code: int | None,
        published_ids: Sequence[str] = (),
        validators: tuple[str | None, str | None, str | None] | None = None,
        changed: bool = True,
        warning: str | None = None,
        keep_warning: bool = False,
    ) -> None:
        """A poll succeeded and its new articles (if any) were published.

        `validators` (etag, last_modified, content_hash) replace the stored ones when
        given; None keeps them (a 304 or an unchanged body). `keep_warning` leaves the
        previous poll's warning in place (the body it describes did not change).
        Seen ids, validators and health are written in one transaction.
        """
        now = _ts(at)
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR IGNORE INTO seen (article_id, source_id, first_seen) VALUES (?, ?, ?)",
                [(a, source_id, now) for a in published_ids],
            )
            self._ensure_row(source_id)
            sets = [
                "last_success = ?",
                "consecutive_failures = 0",
                "last_status_code = ?",
                "next_poll = ?",
                "items_seen = items_seen + ?",
                "last_warning = " + ("last_warning" if keep_warning else "?"),
                "unchanged_streak = " + ("0" if changed else "unchanged_streak + 1"),
            ]
            params: list[Any] = [now, status_code, _ts(next_poll), len(published_ids)]
            if not keep_warning:
                params.append(warning)
            if validators is not None:
                sets += ["etag = ?", "last_modified = ?", "content_hash = ?"]
                params += list(validators)
            self._conn.execute(
                f"UPDATE sources SET {', '.join(sets)} WHERE id = ?", [*params, source_id]
            )

    def record_failure(
        self,
        source_id: str,
        *,
        at: datetime,
        error: str,
        next_poll: datetime,
        status_code: int | None = None,
    ) -> None:
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            self._ensure_row(source_id)
            self._conn.execute(
                "UPDATE sources SET last_error = ?, last_error_at = ?, last_status_code = ?,"
                " consecutive_failures = consecutive_failures + 1, next_poll = ? WHERE id = ?",
                (error, _ts(at), status_code, _ts(next_poll), source_id),
            )

    def _ensure_row(self, source_id: str) -> None:
        self._conn.execute("INSERT OR IGNORE INTO sources (id) VALUES (?)", (source_id,))

    def record_report(self, report: dict[str, Any], finished: datetime) -> None:
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            self._conn.execute(
                "INSERT INTO poll_reports (finished, report) VALUES (?, ?)",
                (_ts(finished), json.dumps(report, ensure_ascii=False)),
            )
            self._conn.execute(
                "DELETE FROM poll_reports WHERE seq <= (SELECT max(seq) FROM poll_reports) - ?",
                (KEEP_REPORTS,),
            )

    def last_report(self) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT report FROM poll_reports ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row[0])
        return data

    # -- health ------------------------------------------------------------------------

    def health(self, sources: Sequence[SourceConfig] | None = None) -> list[SourceHealth]:
        """One SourceHealth per known source.

        Without `sources`: every source this state file has seen. With `sources`
        (the configured registry): exactly those, in that order, merged with stored
        state - a configured source never polled shows as "never-polled".
        """
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, outlet, country, feed_url, enabled, last_success, last_error, last_error_at,"
                " consecutive_failures, items_seen, last_status_code, next_poll, last_warning"
                " FROM sources ORDER BY id"
            ).fetchall()
        by_id = {r[0]: r for r in rows}
        if sources is None:
            return [self._health(r, None) for r in rows]
        return [self._health(by_id.get(s.id), s) for s in sources]

    @staticmethod
    def _health(row: tuple[Any, ...] | None, config: SourceConfig | None) -> SourceHealth:
        if row is None:
            assert config is not None
            row = (config.id, "", "", "", 1, None, None, None, 0, 0, None, None, None)
        enabled = bool(row[4]) if config is None else config.enabled
        failures = int(row[8])
        status: HealthStatus
        if not enabled:
            status = "disabled"
        elif failures > 0:
            status = "failing"
        elif row[5]:
            status = "ok"
        else:
            status = "never-polled"
        return SourceHealth(
            id=row[0],
            outlet=config.outlet if config else row[1],
            country=config.country if config else row[2],
            feed_url=config.feed_url if config else row[3],
            status=status,
            last_success=row[5],
            last_error=row[6],
            last_error_at=row[7],
            consecutive_failures=failures,
            items_seen=int(row[9]),
            last_status_code=row[10],
            next_poll=row[11] if enabled else None,
            last_warning=row[12],
        )
