"""The Store port on Elasticsearch or OpenSearch (one class for both engines).

Query semantics are those of services/store/sqlite.py, point by point, so the API,
`hybridwatch search` and the dashboards' aggregations answer the same on both stores
(tests/integration/search/test_store_parity.py proves it on one data set):

- Free text: parsed by services/store/textquery.py into clauses (a word matches any
  of its inflected forms, `pre*` a prefix, `"a b"` a phrase) over the tokens of
  text_latn; the engine side is the `hw_folded` analyzer of services/store/templates,
  which folds and tokenises as SQLite FTS5 sees the folded text.
- Article filters on signals (detector, narrative, flagged_only) are answered from
  the signals indices: articles and signals arrive on different topics at different
  times, so no article document is ever rewritten to carry its signals. `flagged_only`
  computes each article's risk from its signals' stored scores (base.risk_by_article).
- Triage verdicts live in their own index (`<prefix>triage-all`), one document per
  target, never written by the indexer, never deleted by retention.
- Times are `date_nanos`, so microsecond timestamps order and compare exactly as in
  SQLite. Windows are half-open: since <= t < until.
- Ordering: published (or event_time) descending, then id ascending.

Writes go through `index_documents`, which reports per-document failures instead of
raising, so the indexer can retry what is retryable and dead-letter what the engine
rejects. The port's put_* methods raise on any failure.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hybridwatch.config import ConfigError, StoreSettings
from hybridwatch.events import Alert, Article, Signal, format_time
from hybridwatch.textfold import fold
from services.store import templates, textquery
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
from services.store.engine_client import (
    EngineClient,
    EngineError,
    EngineUnavailable,
    detect_engine,
    engine_tls,
    make_client,
    retryable_status,
)

log = logging.getLogger(__name__)

COUNT_KEYS = ("country", "detector", "narrative", "severity", "day")
TEXT_FIELDS = ("text_latn",)
"""`text_latn` is fold(title + "\n" + text), so it holds every folded token of both."""
MAX_ID_BYTES = 512
"""Both engines refuse a document id longer than this (and fail the whole bulk request)."""
_TERMS_CHUNK = 10_000
MIN_PARALLEL_CHUNK = 250
_PAGE = 1_000
RISK_CACHE_SECONDS = 5.0
"""How long the per-article risks behind `flagged_only` are reused: computing them reads
every signal with a score, and the page asks every few seconds. Writes through this
store clear it; the indexer's writes (another process) show within this delay."""


@dataclass(frozen=True)
class Doc:
    """One document to index: its kind (articles/signals/alerts), id, event time, JSON."""

    kind: str
    id: str
    when: datetime
    source: bytes


@dataclass
class BulkResult:
    """What happened to each document of one bulk request."""

    indexed: int = 0
    retry: list[tuple[Doc, str]] = field(default_factory=list)
    """Failed with 429/5xx: worth sending again."""
    rejected: list[tuple[Doc, str]] = field(default_factory=list)
    """Refused by the engine (mapping errors and other 4xx): never worth retrying."""


def doc_of(event: Article | Signal | Alert) -> Doc:
    if isinstance(event, Article):
        if not event.text_latn:
            # free-text search reads text_latn only; a producer that left it empty
            # would otherwise publish articles nobody can find
            event = event.model_copy(update={"text_latn": fold(event.title + "\n" + event.text)})
        return Doc("articles", event.id, event.published, event.to_json().encode())
    if isinstance(event, Signal):
        return Doc("signals", event.id, event.event_time, event.to_json().encode())
    return Doc("alerts", event.id, event.event_time, event.to_json().encode())


def _from_ms(value: float) -> datetime:
    """An aggregation's epoch-milliseconds value, floored to the second (as SQLite)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(value) // 1000)


def _time(value: datetime) -> str:
    """RFC 3339 with microseconds kept (date_nanos compares them exactly)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SearchEngineStore:
    """Store port over one engine client; see the module docstring for semantics."""

    def __init__(
        self,
        client: EngineClient,
        prefix: str = "hw-",
        refresh_on_write: bool = True,
        parallel_requests: int = 2,
    ) -> None:
        self.client = client
        # A large bulk is sent as this many concurrent requests: one shard indexes
        # concurrent requests on several write threads, so both cores of a small node
        # work (one request at a time leaves one idle). Created here, at start-up.
        self.parallel_requests = max(1, parallel_requests)
        self._pool = (
            ThreadPoolExecutor(self.parallel_requests, "hw-bulk")
            if self.parallel_requests > 1
            else None
        )
        self.engine = client.engine
        self.prefix = prefix
        self.refresh_on_write = refresh_on_write
        self.retention_policy_installed = False
        self.client_url: str | None = None
        self._risks: tuple[float, dict[str, float]] | None = None

    @classmethod
    def open(cls, settings: StoreSettings, refresh_on_write: bool = True) -> SearchEngineStore:
        """Check the server is the engine `settings.kind` names, create the client, install templates."""
        if not settings.url:
            raise ConfigError(
                f"store.url: required for store.kind {settings.kind!r} (e.g. http://127.0.0.1:9200; "
                "or set HW_ES_URL)"
            )
        password = settings.password.get_secret_value() if settings.password else None
        auth = (settings.username, password or "") if settings.username else None
        tls = engine_tls(settings)
        info = detect_engine(settings.url, auth, settings.verify_certs, tls)
        if info.engine != settings.kind:
            raise ConfigError(
                f"store.kind: {settings.kind!r} but the server at {settings.url} is "
                f"{info.engine} {info.version}; set store.kind: {info.engine} (HW_STORE_KIND={info.engine})"
            )
        client = make_client(
            settings.kind, settings.url, settings.username, password, settings.verify_certs, tls
        )
        store = cls(client, settings.index_prefix, refresh_on_write)
        store.client_url = settings.url
        store.ensure_templates()
        return store

    # -- set-up ------------------------------------------------------------------

    def ensure_templates(self) -> None:
        """Install (or update) index templates and the retention policy; idempotent."""
        name = f"{self.prefix}{templates.RETENTION_POLICY}"
        if self.engine == "elasticsearch":
            self.retention_policy_installed = self.client.put_retention_policy(
                name, templates.ilm_policy()
            )
            if not self.retention_policy_installed:
                log.info("Elasticsearch has no ILM module; retention policy not installed")
        else:
            self.retention_policy_installed = self.client.put_retention_policy(
                name, templates.ism_policy(self.prefix)
            )
            if not self.retention_policy_installed:
                log.info(
                    "OpenSearch has no index-management (ISM) plugin; retention policy not installed"
                )
        # an ILM policy name in a template is refused by a node without ILM
        policy = name if self.retention_policy_installed else None
        for tname, body in templates.index_templates(self.prefix, self.engine, policy).items():
            self.client.put_index_template(tname, body)

    def _pattern(self, kind: str) -> str:
        return templates.index_pattern(self.prefix, kind)

    def refresh(self) -> None:
        """Make everything written so far visible to searches."""
        self.client.refresh(",".join(self._pattern(k) for k in templates.KINDS))

    def drop_all(self) -> None:
        """Delete this prefix's indices and templates (tests and benchmarks only)."""
        names: list[str] = []
        for k in templates.KINDS:
            names.extend(self.client.indices(self._pattern(k)))
        self.client.delete_indices(names)
        for tname in templates.index_templates(self.prefix, self.engine):
            self.client.delete_index_template(tname)

    # -- writes ------------------------------------------------------------------

    def bulk_payload(self, docs: Sequence[Doc]) -> bytes:
        lines: list[bytes] = []
        for d in docs:
            index = templates.index_name(self.prefix, d.kind, d.when.astimezone(UTC))
            lines.append(json.dumps({"index": {"_index": index, "_id": d.id}}).encode())
            lines.append(d.source)
        lines.append(b"")
        return b"\n".join(lines)

    def index_documents(self, docs: Sequence[Doc], refresh: str | None = None) -> BulkResult:
        """One bulk request. Raises EngineUnavailable/EngineError when the request as a
        whole fails; per-document outcomes are in the result."""
        result = BulkResult()
        sendable: list[Doc] = []
        for d in docs:
            if len(d.id.encode()) > MAX_ID_BYTES:
                result.rejected.append(
                    (
                        d,
                        f"document id is {len(d.id.encode())} bytes; the engine allows {MAX_ID_BYTES}",
                    )
                )
            else:
                sendable.append(d)
        if not sendable:
            return result
        if self._pool is None or len(sendable) < 2 * MIN_PARALLEL_CHUNK:
            return self._bulk(sendable, refresh, result)
        n = min(self.parallel_requests, len(sendable) // MIN_PARALLEL_CHUNK)
        step = -(-len(sendable) // n)
        futures = [
            self._pool.submit(self._bulk, sendable[i : i + step], refresh, BulkResult())
            for i in range(0, len(sendable), step)
        ]
        errors: list[EngineError] = []
        for f in futures:
            try:
                part = f.result()
            except EngineError as err:  # wait for every part, then report
                errors.append(err)
                continue
            result.indexed += part.indexed
            result.retry.extend(part.retry)
            result.rejected.extend(part.rejected)
        if errors:
            # documents of the parts that succeeded are indexed; sending them again
            # on retry overwrites them (same ids), so the caller may retry the whole lot
            raise next((e for e in errors if isinstance(e, EngineUnavailable)), errors[0])
        return result

    def _bulk(self, sendable: Sequence[Doc], refresh: str | None, result: BulkResult) -> BulkResult:
        resp = self.client.bulk(self.bulk_payload(sendable), refresh=refresh)
        items = resp.get("items", [])
        if len(items) != len(sendable):
            raise EngineError(f"bulk answered {len(items)} items for {len(sendable)} documents")
        if not resp.get("errors"):
            result.indexed += len(sendable)
            return result
        for d, item in zip(sendable, items, strict=True):
            outcome = next(iter(item.values()))
            status = int(outcome.get("status", 0))
            if status < 300:
                result.indexed += 1
                continue
            err = outcome.get("error") or {}
            reason = f"HTTP {status} {err.get('type', '')}: {err.get('reason', '')}"
            caused = err.get("caused_by")
            if isinstance(caused, dict):
                reason += f" (caused by {caused.get('type', '')}: {caused.get('reason', '')})"
            if retryable_status(status):
                result.retry.append((d, reason))
            else:
                result.rejected.append((d, reason))
        return result

    def _put(self, events: Iterable[Article | Signal | Alert]) -> None:
        self._risks = None
        docs = [doc_of(e) for e in events]
        for start in range(0, len(docs), 2_000):
            chunk = docs[start : start + 2_000]
            result = self.index_documents(
                chunk, refresh="wait_for" if self.refresh_on_write else None
            )
            failed = result.retry + result.rejected
            if failed:
                doc, reason = failed[0]
                kind = EngineUnavailable if result.retry else EngineError
                raise kind(
                    f"{len(failed)} of {len(chunk)} {doc.kind} not stored; first: {doc.id}: {reason}"
                )

    def put_articles(self, articles: Sequence[Article]) -> None:
        self._put(articles)

    def put_signals(self, signals: Sequence[Signal]) -> None:
        self._put(signals)

    def put_alerts(self, alerts: Sequence[Alert]) -> None:
        self._put(alerts)

    # -- reads -------------------------------------------------------------------

    def _search_all(self, index: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.client.search(index, body)["hits"]["hits"])

    def _composite(
        self, index: str, query: dict[str, Any], source: dict[str, Any]
    ) -> dict[str, int]:
        """Exact group counts, paged through a composite aggregation."""
        out: dict[str, int] = {}
        after: dict[str, Any] | None = None
        while True:
            comp: dict[str, Any] = {"size": _PAGE, "sources": [{"k": source}]}
            if after:
                comp["after"] = after
            body = {
                "size": 0,
                "track_total_hits": False,
                "query": query,
                "aggs": {"g": {"composite": comp}},
            }
            agg = self.client.search(index, body).get("aggregations", {}).get("g", {})
            buckets = agg.get("buckets", [])
            for b in buckets:
                out[str(b["key"]["k"])] = int(b["doc_count"])
            after = agg.get("after_key")
            if not buckets or not after or len(buckets) < _PAGE:
                return out

    def _flagged_article_ids(self, query: ArticleQuery) -> list[str]:
        filters: list[dict[str, Any]] = []
        if query.detector:
            filters.append({"term": {"detector": query.detector}})
        if query.narrative:
            filters.append({"term": {"narrative": query.narrative}})
        if query.severity:
            filters.append({"term": {"severity": query.severity}})
        q = {"bool": {"filter": filters}} if filters else {"match_all": {}}
        return sorted(
            self._composite(self._pattern("signals"), q, {"terms": {"field": "article_id"}})
        )

    def _scan(
        self, index: str, query: dict[str, Any], fields: list[str]
    ) -> Iterable[dict[str, Any]]:
        """Every matching document's `fields`, paged with search_after on id."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": query,
                "sort": [{"id": "asc"}],
                "size": _PAGE * 10,
                "_source": fields,
                "track_total_hits": False,
            }
            if after is not None:
                body["search_after"] = after
            hits = self._search_all(index, body)
            for h in hits:
                yield h["_source"]
            if len(hits) < _PAGE * 10:
                return
            after = hits[-1]["sort"]

    def _flagged_risks(self) -> dict[str, float]:
        """Risk of every article with a signal of non-zero score (from `_source`, so
        scores are the exact doubles SQLite holds, not the float field); reused for
        RISK_CACHE_SECONDS."""
        now = time.monotonic()
        if self._risks is not None and now - self._risks[0] < RISK_CACHE_SECONDS:
            return self._risks[1]
        risks = self._compute_risks()
        self._risks = (now, risks)
        return risks

    def _compute_risks(self) -> dict[str, float]:
        rows = (
            (d["article_id"], d["id"], d["detector"], d["score"])
            for d in self._scan(
                self._pattern("signals"),
                {"bool": {"filter": [{"range": {"score": {"gt": 0}}}]}},
                ["article_id", "id", "detector", "score"],
            )
        )
        return risk_by_article(rows)

    def _triaged_article_ids(self, status: str | None) -> list[str]:
        q: dict[str, Any] = (
            {"bool": {"filter": [{"term": {"status": status}}]}} if status else {"match_all": {}}
        )
        return sorted(
            self._composite(self._pattern("triage"), q, {"terms": {"field": "article_id"}})
        )

    def _article_query(
        self, query: ArticleQuery
    ) -> tuple[dict[str, Any], list[list[str] | None]] | None:
        """The bool query and the id chunks to restrict it to (None: no restriction);
        None when nothing can match."""
        must: list[dict[str, Any]] = []
        if query.text is not None and query.text.strip():
            clauses = textquery.parse(query.text)
            if not clauses:
                return None
            must.extend(textquery.engine_clauses(clauses, TEXT_FIELDS[0]))
        filters: list[dict[str, Any]] = []
        must_not: list[dict[str, Any]] = []
        if query.country:
            filters.append({"term": {"source.country": query.country.upper()}})
        window: dict[str, str] = {}
        if query.since is not None:
            window["gte"] = _time(query.since)
        if query.until is not None:
            window["lt"] = _time(query.until)
        if window:
            filters.append({"range": {"published": window}})
        allowed: set[str] | None = None
        if query.detector or query.narrative or query.severity:
            allowed = set(self._flagged_article_ids(query))
        if query.flagged_only:
            risky = {a for a, r in self._flagged_risks().items() if r >= query.flag_threshold}
            allowed = risky if allowed is None else allowed & risky
        if query.triage == "none":
            triaged = self._triaged_article_ids(None)
            for i in range(0, len(triaged), _TERMS_CHUNK):
                must_not.append({"terms": {"id": triaged[i : i + _TERMS_CHUNK]}})
        elif query.triage:
            reviewed = set(self._triaged_article_ids(query.triage))
            allowed = reviewed if allowed is None else allowed & reviewed
        id_chunks: list[list[str] | None] = [None]
        if allowed is not None:
            if not allowed:
                return None
            ids = sorted(allowed)
            id_chunks = [ids[i : i + _TERMS_CHUNK] for i in range(0, len(ids), _TERMS_CHUNK)]
        bool_q: dict[str, Any] = {"must": must, "filter": filters}
        if must_not:
            bool_q["must_not"] = must_not
        return bool_q, id_chunks

    @staticmethod
    def _restricted(bool_q: dict[str, Any], chunk: list[str] | None) -> dict[str, Any]:
        if chunk is None:
            return {"bool": bool_q}
        return {"bool": {**bool_q, "filter": [*bool_q["filter"], {"terms": {"id": chunk}}]}}

    def search_articles(self, query: ArticleQuery) -> list[ArticleHit]:
        found = self._article_query(query)
        if found is None:
            return []
        bool_q, id_chunks = found
        limit, offset = max(query.limit, 0), max(query.offset, 0)
        sort = [{"published": {"order": "desc"}}, {"id": {"order": "asc"}}]
        rows: list[tuple[int, str, dict[str, Any]]] = []
        for chunk in id_chunks:
            body = {
                "query": self._restricted(bool_q, chunk),
                "sort": sort,
                "track_total_hits": False,
                # one chunk: the engine pages; several: each gives its first offset+limit, merged below
                "from": offset if len(id_chunks) == 1 else 0,
                "size": limit if len(id_chunks) == 1 else offset + limit,
            }
            for h in self._search_all(self._pattern("articles"), body):
                rows.append((int(h["sort"][0]), str(h["sort"][1]), h["_source"]))
        if len(id_chunks) > 1:
            rows.sort(key=lambda r: (-r[0], r[1]))
            rows = rows[offset : offset + limit]
        articles = [Article.model_validate(src) for _, _, src in rows]
        return self._hits(articles, query.flag_threshold)

    def count_matching(self, query: ArticleQuery) -> int:
        found = self._article_query(query)
        if found is None:
            return 0
        bool_q, id_chunks = found
        total = 0
        for chunk in id_chunks:  # chunks hold disjoint ids, so their counts add up
            body = {"query": self._restricted(bool_q, chunk), "size": 0, "track_total_hits": True}
            resp = self.client.search(self._pattern("articles"), body)
            total += int(resp["hits"]["total"]["value"])
        return total

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

    def get_article(
        self, article_id: str, flag_threshold: float = DEFAULT_FLAG_THRESHOLD
    ) -> ArticleHit | None:
        body = {
            "query": {"bool": {"filter": [{"term": {"id": article_id}}]}},
            "size": 1,
            "track_total_hits": False,
        }
        hits = self._search_all(self._pattern("articles"), body)
        if not hits:
            return None
        return self._hits([Article.model_validate(hits[0]["_source"])], flag_threshold)[0]

    # -- triage --------------------------------------------------------------------

    def put_triage(self, items: Sequence[Triage]) -> None:
        docs = [
            Doc("triage", t.id, t.updated, json.dumps(t.to_dict(), ensure_ascii=False).encode())
            for t in items
        ]
        if not docs:
            return
        # always wait: an analyst's verdict must show on the next page load
        result = self.index_documents(docs, refresh="wait_for")
        failed = result.retry + result.rejected
        if failed:
            _doc, reason = failed[0]
            kind = EngineUnavailable if result.retry else EngineError
            raise kind(f"{len(failed)} of {len(docs)} triage verdicts not stored; first: {reason}")

    @staticmethod
    def _triage_filter(query: TriageQuery) -> dict[str, Any]:
        filters = [
            {"term": {name: value}}
            for name, value in (
                ("status", query.status),
                ("target", query.target),
                ("article_id", query.article_id),
            )
            if value
        ]
        return {"bool": {"filter": filters}}

    def get_triage(self, query: TriageQuery) -> list[Triage]:
        body = {
            "query": self._triage_filter(query),
            "sort": [{"updated": {"order": "desc"}}, {"id": {"order": "asc"}}],
            "from": max(query.offset, 0),
            "size": max(query.limit, 0),
            "track_total_hits": False,
        }
        return [
            Triage.from_dict(h["_source"]) for h in self._search_all(self._pattern("triage"), body)
        ]

    def count_triage(self, query: TriageQuery) -> int:
        body = {"query": self._triage_filter(query), "size": 0, "track_total_hits": True}
        return int(self.client.search(self._pattern("triage"), body)["hits"]["total"]["value"])

    def _triage_of(self, article_ids: Sequence[str]) -> dict[str, list[Triage]]:
        out: dict[str, list[Triage]] = {}
        if not article_ids:
            return out
        body = {
            "query": {"bool": {"filter": [{"terms": {"article_id": list(article_ids)}}]}},
            "sort": [{"target": "asc"}, {"target_id": "asc"}],
            "size": 10_000,
            "track_total_hits": False,
        }
        for h in self._search_all(self._pattern("triage"), body):
            t = Triage.from_dict(h["_source"])
            out.setdefault(t.article_id, []).append(t)
        return out

    # -- coverage ------------------------------------------------------------------

    def source_activity(self, since: datetime | None = None) -> list[SourceActivity]:
        filters: list[dict[str, Any]] = []
        if since is not None:
            filters.append({"range": {"published": {"gte": _time(since)}}})
        out: list[SourceActivity] = []
        after: dict[str, Any] | None = None
        while True:
            comp: dict[str, Any] = {
                "size": _PAGE,
                "sources": [
                    {"s": {"terms": {"field": "source.id"}}},
                    {"c": {"terms": {"field": "source.country"}}},
                ],
            }
            if after:
                comp["after"] = after
            body = {
                "size": 0,
                "track_total_hits": False,
                "query": {"bool": {"filter": filters}},
                "aggs": {
                    "g": {
                        "composite": comp,
                        "aggs": {
                            "lo": {"min": {"field": "published"}},
                            "hi": {"max": {"field": "published"}},
                        },
                    }
                },
            }
            agg = self.client.search(self._pattern("articles"), body).get("aggregations", {})
            g = agg.get("g", {})
            buckets = g.get("buckets", [])
            for b in buckets:
                out.append(
                    SourceActivity(
                        str(b["key"]["s"]),
                        str(b["key"]["c"]),
                        int(b["doc_count"]),
                        _from_ms(b["lo"]["value"]),
                        _from_ms(b["hi"]["value"]),
                    )
                )
            after = g.get("after_key")
            if not buckets or not after or len(buckets) < _PAGE:
                return sorted(out, key=lambda a: (a.source_id, a.country))

    def _signals_of(self, article_ids: Sequence[str]) -> dict[str, list[Signal]]:
        out: dict[str, list[Signal]] = {}
        if not article_ids:
            return out
        body = {
            "query": {"bool": {"filter": [{"terms": {"article_id": list(article_ids)}}]}},
            "sort": [{"detector": "asc"}, {"id": "asc"}],
            "size": 10_000,
            "track_total_hits": False,
        }
        for h in self._search_all(self._pattern("signals"), body):
            s = Signal.model_validate(h["_source"])
            out.setdefault(s.article_id, []).append(s)
        return out

    @staticmethod
    def _signal_filter(query: SignalQuery) -> dict[str, Any]:
        filters: list[dict[str, Any]] = []
        for name, value in (
            ("country", query.country.upper() if query.country else None),
            ("detector", query.detector),
            ("narrative", query.narrative),
            ("severity", query.severity),
            ("article_id", query.article_id),
        ):
            if value:
                filters.append({"term": {name: value}})
        window: dict[str, str] = {}
        if query.since is not None:
            window["gte"] = _time(query.since)
        if query.until is not None:
            window["lt"] = _time(query.until)
        if window:
            filters.append({"range": {"event_time": window}})
        return {"bool": {"filter": filters}}

    def get_signals(self, query: SignalQuery) -> list[Signal]:
        body = {
            "query": self._signal_filter(query),
            "sort": [{"event_time": {"order": "desc"}}, {"id": {"order": "asc"}}],
            "from": max(query.offset, 0),
            "size": max(query.limit, 0),
            "track_total_hits": False,
        }
        return [
            Signal.model_validate(h["_source"])
            for h in self._search_all(self._pattern("signals"), body)
        ]

    def get_alerts(
        self,
        limit: int = 100,
        offset: int = 0,
        country: str | None = None,
        subscription: str | None = None,
    ) -> list[Alert]:
        filters: list[dict[str, Any]] = []
        if country:
            filters.append({"term": {"country": country.upper()}})
        if subscription:
            filters.append({"term": {"subscription_id": subscription}})
        body = {
            "query": {"bool": {"filter": filters}},
            "sort": [{"event_time": {"order": "desc"}}, {"id": {"order": "asc"}}],
            "from": max(offset, 0),
            "size": max(limit, 0),
            "track_total_hits": False,
        }
        return [
            Alert.model_validate(h["_source"])
            for h in self._search_all(self._pattern("alerts"), body)
        ]

    def count_signals(self, query: SignalQuery, by: str) -> dict[str, int]:
        """Exact counts (composite aggregation), keys sorted, as in SQLite."""
        if by not in COUNT_KEYS:
            raise ValueError(
                f"cannot count signals by {by!r} (choose one of {', '.join(COUNT_KEYS)})"
            )
        if by == "day":
            source: dict[str, Any] = {
                "date_histogram": {
                    "field": "event_time",
                    "calendar_interval": "1d",
                    "format": "yyyy-MM-dd",
                    "time_zone": "UTC",
                }
            }
        else:
            source = {"terms": {"field": by}}
        counts = self._composite(self._pattern("signals"), self._signal_filter(query), source)
        return dict(sorted(counts.items()))

    def count_articles(self) -> int:
        return self.client.count(self._pattern("articles"))

    def count_alerts(self, country: str | None = None, subscription: str | None = None) -> int:
        filters: list[dict[str, Any]] = []
        if country:
            filters.append({"term": {"country": country.upper()}})
        if subscription:
            filters.append({"term": {"subscription_id": subscription}})
        body = {"query": {"bool": {"filter": filters}}, "size": 0, "track_total_hits": True}
        return int(self.client.search(self._pattern("alerts"), body)["hits"]["total"]["value"])

    def count_signals_total(self) -> int:
        return self.client.count(self._pattern("signals"))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.client.close()


__all__ = [
    "BulkResult",
    "Doc",
    "EngineError",
    "EngineUnavailable",
    "SearchEngineStore",
    "doc_of",
    "format_time",
]
