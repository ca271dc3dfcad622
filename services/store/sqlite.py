"""SQLite implementation of the Store port, used by the embedded runtime.

One file, `data_dir/hybridwatch.sqlite3`, in WAL mode so the API can read while the
pipeline writes. Events are stored as their JSON contract (the `doc` column) next to
the few columns we filter and sort on, so what comes out is exactly what went in.

Query semantics (the search-engine store must give the same answers; the parity
test in tests/integration compares them):

- Free text (`ArticleQuery.text`): parsed by services/store/textquery.py (shared with
  the engine store): the query is folded with `hybridwatch.textfold.fold` (lowercase
  ASCII-Latin, Cyrillic transliterated, diacritics removed) and read as clauses that
  must ALL match tokens of the folded article (`text_latn`, i.e. fold(title + text)):
  a word matches any of its inflected forms (case endings, Macedonian and Albanian
  definite suffixes), `pre*` a prefix, `"two words"` an exact phrase. So
  "Приштина", "Priština" and "pristina" are the same query, a Latin query finds a
  Cyrillic article and vice versa, and `referendum` finds "референдумот". A query
  with no terms (e.g. only punctuation) matches nothing.
- `country`: the article's *source* country (`article.source.country`), exact.
- `detector` / `narrative`: the article has at least one stored signal with that
  detector / narrative.
- `flagged_only`: the article's risk (services.store.base.article_risk over its stored
  signals) is at least `flag_threshold`. `triage`: the article or one of its signals
  has a verdict with that status ("none": no verdict at all).
- `since` / `until`: half-open window on `published`: since <= published < until.
- Ordering: `published` descending, then article `id` ascending; `limit`/`offset`
  apply after ordering. Each hit carries all of the article's stored signals,
  ordered by (detector, id).
- Signals (`SignalQuery`): every filter is exact (`severity="high"` means exactly
  high); `country` is the signal's country; the time window applies to
  `event_time` (half-open as above). Ordering: `event_time` descending, then `id`
  ascending.
- `count_signals(query, by)`: counts over all signals matching the query's filters
  (limit/offset ignored), grouped by `country`, `detector`, `narrative`, `severity`
  or `day` (UTC date of event_time, "YYYY-MM-DD"). Signals without a narrative are
  not counted under by="narrative".
- Writes are idempotent upserts keyed by event id: writing the same event twice
  leaves one row holding the latest version.

Beyond the port, the embedded runtime uses `write_batch` (articles, their signals,
new alerts and detector-state changes in ONE transaction, so a crash never leaves an
article without its signals) and the detector-state helpers; the alert outbox is
services/alerts/outbox.py on this file's connection (`store.alerts`, same transactions).
The connection is shared between the pipeline and the API's worker threads behind a
lock: SQLite serialises writers anyway and the embedded runtime is one process.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hybridwatch.events import Alert, Article, Signal
from hybridwatch.textfold import fold
from services.alerts.outbox import AlertOutbox
from services.store import textquery
from services.store.base import (
    DEFAULT_FLAG_THRESHOLD,
    ArticleHit,
    ArticleQuery,
    SignalQuery,
    SourceActivity,
    Triage,
    TriageQuery,
    risk_by_article,
)

DB_FILE = "hybridwatch.sqlite3"
SCHEMA_VERSION = 2
"""Bumped on any incompatible change of the tables below; a mismatch is refused on open."""
COUNT_KEYS = ("country", "detector", "narrative", "severity", "day")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    published_us INTEGER NOT NULL,
    country TEXT NOT NULL,
    source_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS article_docs (rowid INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published_us DESC, id);
CREATE INDEX IF NOT EXISTS articles_country ON articles (country, published_us DESC);
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5 (
    title, text, text_latn, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS signals (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    detector TEXT NOT NULL,
    country TEXT NOT NULL,
    narrative TEXT,
    severity TEXT NOT NULL,
    score REAL NOT NULL,
    event_time_us INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS signals_article ON signals (article_id);
CREATE INDEX IF NOT EXISTS signals_time ON signals (event_time_us DESC, id);
CREATE TABLE IF NOT EXISTS detector_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS triage (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    target_id TEXT NOT NULL,
    article_id TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS triage_article ON triage (article_id);
"""


def to_us(value: datetime) -> int:
    """Microseconds since the epoch: an exact, sortable integer for a UTC time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


def fts_query(text: str) -> str | None:
    """The FTS5 MATCH expression for a free-text query (None when it has no terms).

    Every token is quoted, so FTS5 operators typed by a user (OR, NEAR, -) are
    searched for as words instead of being interpreted or failing to parse.
    """
    clauses = textquery.parse(text)
    return textquery.fts5_match(clauses) if clauses else None


def _from_s(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


class StoreSchemaError(RuntimeError):
    """The database file was written by an incompatible version of this store."""


class SqliteStore:
    """The Store port on one SQLite file (see the module docstring for semantics)."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        self._closed = False
        self._writes = 0
        self._risk_cache: tuple[tuple[int, int], dict[str, float]] | None = None
        with self._lock:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is not None and row[0] != str(SCHEMA_VERSION):
                conn.close()
                raise StoreSchemaError(
                    f"the store {path or ':memory:'} has schema version {row[0]}, this hybridwatch "
                    f"uses {SCHEMA_VERSION}; move the file aside (or delete it) and replay or re-poll"
                )
            conn.executescript(_SCHEMA)
            self.alerts = AlertOutbox(conn, self._lock, path, owns_connection=False)
            """The alert outbox (table `alerts`), sharing this connection and transactions."""
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    @classmethod
    def open(cls, data_dir: Path) -> SqliteStore:
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DB_FILE
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        return cls(conn, path)

    @classmethod
    def memory(cls) -> SqliteStore:
        """An in-memory store for pure unit tests of code that needs a Store."""
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        return cls(conn)

    # -- transactions --------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._writes += 1

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            return list(self._conn.execute(sql, params).fetchall())

    # -- writes --------------------------------------------------------------

    @staticmethod
    def _upsert_articles(conn: sqlite3.Connection, articles: Iterable[Article]) -> None:
        for a in articles:
            row = conn.execute("SELECT rowid FROM articles WHERE id = ?", (a.id,)).fetchone()
            doc = a.to_json()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO articles (id, published_us, country, source_id) VALUES (?, ?, ?, ?)",
                    (a.id, to_us(a.published), a.source.country, a.source.id),
                )
                rowid = cur.lastrowid
                conn.execute("INSERT INTO article_docs (rowid, doc) VALUES (?, ?)", (rowid, doc))
            else:
                rowid = row[0]
                conn.execute(
                    "UPDATE articles SET published_us = ?, country = ?, source_id = ? WHERE rowid = ?",
                    (to_us(a.published), a.source.country, a.source.id, rowid),
                )
                conn.execute("UPDATE article_docs SET doc = ? WHERE rowid = ?", (doc, rowid))
                conn.execute("DELETE FROM articles_fts WHERE rowid = ?", (rowid,))
            conn.execute(
                "INSERT INTO articles_fts (rowid, title, text, text_latn) VALUES (?, ?, ?, ?)",
                # text_latn as the engine store indexes it (filled in when left empty)
                (rowid, fold(a.title), fold(a.text), fold(a.text_latn or a.title + "\n" + a.text)),
            )

    @staticmethod
    def _upsert_signals(conn: sqlite3.Connection, signals: Iterable[Signal]) -> None:
        conn.executemany(
            "INSERT INTO signals (id, article_id, detector, country, narrative, severity,"
            " score, event_time_us, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET article_id = excluded.article_id,"
            " detector = excluded.detector, country = excluded.country,"
            " narrative = excluded.narrative, severity = excluded.severity,"
            " score = excluded.score, event_time_us = excluded.event_time_us, doc = excluded.doc",
            [
                (
                    s.id,
                    s.article_id,
                    s.detector,
                    s.country,
                    s.narrative,
                    s.severity,
                    s.score,
                    to_us(s.event_time),
                    s.to_json(),
                )
                for s in signals
            ],
        )

    def put_articles(self, articles: Sequence[Article]) -> None:
        with self._tx() as conn:
            self._upsert_articles(conn, articles)

    def put_signals(self, signals: Sequence[Signal]) -> None:
        with self._tx() as conn:
            self._upsert_signals(conn, signals)

    def put_alerts(self, alerts: Sequence[Alert]) -> None:
        """Idempotent: an alert id already stored keeps its delivery record."""
        self.alerts.add_new(alerts)

    def add_new(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Store the alerts (committed when this returns); returns the ones not seen before."""
        return self.alerts.add_new(alerts)

    def write_batch(
        self,
        articles: Sequence[Article],
        signals: Sequence[Signal],
        alerts: Sequence[Alert] = (),
        state_changes: Mapping[str, Any] | None = None,
        state_deletes: Iterable[str] = (),
    ) -> list[Alert]:
        """Store a processed batch atomically and return the alerts not seen before.

        The batch's signals replace whatever signals were stored for these articles,
        so re-processing an article with changed rules leaves no stale signals. The
        alerts go into the outbox undelivered; `mark_delivered` records delivery.
        """
        with self._tx() as conn:
            self._upsert_articles(conn, articles)
            ids = [(a.id,) for a in articles]
            conn.executemany("DELETE FROM signals WHERE article_id = ?", ids)
            self._upsert_signals(conn, signals)
            new_alerts = AlertOutbox.insert_new(conn, alerts)
            if state_changes:
                conn.executemany(
                    "INSERT INTO detector_state (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [(k, json.dumps(v, sort_keys=True)) for k, v in state_changes.items()],
                )
            conn.executemany(
                "DELETE FROM detector_state WHERE key = ?", [(k,) for k in state_deletes]
            )
        return new_alerts

    # -- alert outbox ----------------------------------------------------------

    def pending_alerts(self) -> list[Alert]:
        """Alerts stored but not yet delivered (e.g. the process died in between)."""
        return self.alerts.pending_alerts()

    def mark_delivered(self, alert_ids: Sequence[str]) -> None:
        self.alerts.mark_delivered(alert_ids)

    def mark_channel(self, alert_ids: Sequence[str], channel: str) -> None:
        self.alerts.mark_channel(alert_ids, channel)

    def channels_taken(self, alert_ids: Sequence[str]) -> set[tuple[str, str]]:
        return self.alerts.channels_taken(alert_ids)

    def get_alerts(
        self,
        limit: int = 100,
        offset: int = 0,
        country: str | None = None,
        subscription: str | None = None,
    ) -> list[Alert]:
        return self.alerts.get_alerts(limit, offset, country, subscription)

    # -- detector state --------------------------------------------------------

    def load_state(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._read("SELECT key, value FROM detector_state")}

    # -- reads -----------------------------------------------------------------

    def _flagged_risks(self) -> dict[str, float]:
        """Risk of every article with a signal of non-zero score, cached until the next
        write by this store or any other connection to the file (`data_version`)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            key = (self._writes, int(self._conn.execute("PRAGMA data_version").fetchone()[0]))
            if self._risk_cache is not None and self._risk_cache[0] == key:
                return self._risk_cache[1]
            rows = self._conn.execute(
                "SELECT article_id, id, detector, score FROM signals WHERE score > 0"
            ).fetchall()
            risks = risk_by_article(rows)
            self._risk_cache = (key, risks)
            return risks

    def _article_where(self, query: ArticleQuery) -> tuple[list[str], list[Any]] | None:
        """WHERE conditions on `articles a` for the query; None when nothing can match."""
        where: list[str] = []
        params: list[Any] = []
        if query.text is not None and query.text.strip():
            match = fts_query(query.text)
            if match is None:
                return None
            where.append("a.rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)")
            params.append(match)
        if query.country:
            where.append("a.country = ?")
            params.append(query.country.upper())
        if query.since is not None:
            where.append("a.published_us >= ?")
            params.append(to_us(query.since))
        if query.until is not None:
            where.append("a.published_us < ?")
            params.append(to_us(query.until))
        sig: list[str] = []
        if query.detector:
            sig.append("s.detector = ?")
            params.append(query.detector)
        if query.narrative:
            sig.append("s.narrative = ?")
            params.append(query.narrative)
        if query.severity:
            sig.append("s.severity = ?")
            params.append(query.severity)
        if sig:
            cond = " AND ".join(["s.article_id = a.id", *sig])
            where.append(f"EXISTS (SELECT 1 FROM signals s WHERE {cond})")
        if query.flagged_only:
            ids = sorted(a for a, r in self._flagged_risks().items() if r >= query.flag_threshold)
            if not ids:
                return None
            where.append("a.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(ids))
        if query.triage == "none":
            where.append("a.id NOT IN (SELECT article_id FROM triage)")
        elif query.triage:
            where.append("a.id IN (SELECT article_id FROM triage WHERE status = ?)")
            params.append(query.triage)
        return where, params

    def search_articles(self, query: ArticleQuery) -> list[ArticleHit]:
        found = self._article_where(query)
        if found is None:
            return []
        where, params = found
        # Two steps: order and page on the narrow `articles` table, then load only the
        # page's documents from `article_docs`. Sorting rows that carry the JSON made
        # a query for a common word ~30x slower (bench/embedded_bench.py).
        sql = "SELECT a.rowid FROM articles a"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY a.published_us DESC, a.id ASC LIMIT ? OFFSET ?"
        params.extend([max(query.limit, 0), max(query.offset, 0)])
        rowids = [r[0] for r in self._read(sql, params)]
        if not rowids:
            return []
        marks = ",".join("?" * len(rowids))
        docs = dict(
            self._read(f"SELECT rowid, doc FROM article_docs WHERE rowid IN ({marks})", rowids)
        )
        articles = [Article.model_validate_json(docs[r]) for r in rowids if r in docs]
        return self._hits(articles, query.flag_threshold)

    def _hits(self, articles: Sequence[Article], flag_threshold: float) -> list[ArticleHit]:
        ids = [a.id for a in articles]
        by_article = self._signals_of(ids)
        verdicts = self._triage_of(ids)
        return [
            ArticleHit(
                a, tuple(by_article.get(a.id, ())), flag_threshold, tuple(verdicts.get(a.id, ()))
            )
            for a in articles
        ]

    def count_matching(self, query: ArticleQuery) -> int:
        found = self._article_where(query)
        if found is None:
            return 0
        where, params = found
        sql = "SELECT COUNT(*) FROM articles a"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return int(self._read(sql, params)[0][0])

    def _signals_of(self, article_ids: Sequence[str]) -> dict[str, list[Signal]]:
        out: dict[str, list[Signal]] = {}
        if not article_ids:
            return out
        marks = ",".join("?" * len(article_ids))
        rows = self._read(
            f"SELECT doc FROM signals WHERE article_id IN ({marks}) ORDER BY detector, id",
            list(article_ids),
        )
        for (doc,) in rows:
            s = Signal.model_validate_json(doc)
            out.setdefault(s.article_id, []).append(s)
        return out

    def get_article(
        self, article_id: str, flag_threshold: float = DEFAULT_FLAG_THRESHOLD
    ) -> ArticleHit | None:
        rows = self._read(
            "SELECT d.doc FROM articles a JOIN article_docs d ON d.rowid = a.rowid WHERE a.id = ?",
            (article_id,),
        )
        if not rows:
            return None
        return self._hits([Article.model_validate_json(rows[0][0])], flag_threshold)[0]

    # -- triage ------------------------------------------------------------------

    def put_triage(self, items: Sequence[Triage]) -> None:
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO triage (id, target, target_id, article_id, status, updated_us, doc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " status = excluded.status, article_id = excluded.article_id,"
                " updated_us = excluded.updated_us, doc = excluded.doc",
                [
                    (
                        t.id,
                        t.target,
                        t.target_id,
                        t.article_id,
                        t.status,
                        to_us(t.updated),
                        json.dumps(t.to_dict(), ensure_ascii=False, sort_keys=True),
                    )
                    for t in items
                ],
            )

    @staticmethod
    def _triage_where(query: TriageQuery) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("status", query.status),
            ("target", query.target),
            ("article_id", query.article_id),
        ):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(where)) if where else "", params

    def get_triage(self, query: TriageQuery) -> list[Triage]:
        where, params = self._triage_where(query)
        rows = self._read(
            f"SELECT doc FROM triage{where} ORDER BY updated_us DESC, id LIMIT ? OFFSET ?",
            [*params, max(query.limit, 0), max(query.offset, 0)],
        )
        return [Triage.from_dict(json.loads(r[0])) for r in rows]

    def count_triage(self, query: TriageQuery) -> int:
        where, params = self._triage_where(query)
        return int(self._read(f"SELECT COUNT(*) FROM triage{where}", params)[0][0])

    def _triage_of(self, article_ids: Sequence[str]) -> dict[str, list[Triage]]:
        out: dict[str, list[Triage]] = {}
        if not article_ids:
            return out
        marks = ",".join("?" * len(article_ids))
        rows = self._read(
            f"SELECT doc FROM triage WHERE article_id IN ({marks}) ORDER BY target, target_id",
            list(article_ids),
        )
        for (doc,) in rows:
            t = Triage.from_dict(json.loads(doc))
            out.setdefault(t.article_id, []).append(t)
        return out

    # -- coverage ----------------------------------------------------------------

    def source_activity(self, since: datetime | None = None) -> list[SourceActivity]:
        sql = (
            "SELECT source_id, country, COUNT(*), MIN(published_us), MAX(published_us)"
            " FROM articles"
        )
        params: list[Any] = []
        if since is not None:
            sql += " WHERE published_us >= ?"
            params.append(to_us(since))
        sql += " GROUP BY source_id, country ORDER BY source_id, country"
        return [
            SourceActivity(sid, country, int(n), _from_s(lo // 1_000_000), _from_s(hi // 1_000_000))
            for sid, country, n, lo, hi in self._read(sql, params)
        ]

    @staticmethod
    def _signal_where(query: SignalQuery) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("country", query.country.upper() if query.country else None),
            ("detector", query.detector),
            ("narrative", query.narrative),
            ("severity", query.severity),
            ("article_id", query.article_id),
        ):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if query.since is not None:
            where.append("event_time_us >= ?")
            params.append(to_us(query.since))
        if query.until is not None:
            where.append("event_time_us < ?")
            params.append(to_us(query.until))
        return (" WHERE " + " AND ".join(where)) if where else "", params

    def get_signals(self, query: SignalQuery) -> list[Signal]:
        where, params = self._signal_where(query)
        sql = f"SELECT doc FROM signals{where} ORDER BY event_time_us DESC, id ASC LIMIT ? OFFSET ?"
        params.extend([max(query.limit, 0), max(query.offset, 0)])
        return [Signal.model_validate_json(r[0]) for r in self._read(sql, params)]

    def count_signals(self, query: SignalQuery, by: str) -> dict[str, int]:
        if by not in COUNT_KEYS:
            raise ValueError(
                f"cannot count signals by {by!r} (choose one of {', '.join(COUNT_KEYS)})"
            )
        where, params = self._signal_where(query)
        if by == "day":
            key = "strftime('%Y-%m-%d', event_time_us / 1000000, 'unixepoch')"
        else:
            key = by
            if by == "narrative":
                where += (" AND " if where else " WHERE ") + "narrative IS NOT NULL"
        rows = self._read(
            f"SELECT {key}, COUNT(*) FROM signals{where} GROUP BY 1 ORDER BY 1", params
        )
        return {str(k): int(n) for k, n in rows}

    def count_articles(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM articles")[0][0])

    def count_alerts(self, country: str | None = None, subscription: str | None = None) -> int:
        where, params = [], []
        if country:
            where.append("json_extract(doc, '$.country') = ?")
            params.append(country.upper())
        if subscription:
            where.append("subscription_id = ?")
            params.append(subscription)
        sql = "SELECT COUNT(*) FROM alerts" + (" WHERE " + " AND ".join(where) if where else "")
        return int(self._read(sql, params)[0][0])

    def count_all_signals(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM signals")[0][0])

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.alerts.close()  # marks it closed; the connection is closed below
            try:
                self._conn.execute("PRAGMA optimize")
            finally:
                self._conn.close()
