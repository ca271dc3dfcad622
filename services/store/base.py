"""The store port: what the API, the CLI and the runtimes need from a store.

Implemented by SQLite (embedded) and by the search engine (Elasticsearch or
OpenSearch). Both must give the same answers for the same data (tests/integration
checks it). Writes are idempotent: the document id is the event id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from detectors.scoring import combine_risk
from hybridwatch.events import Alert, Article, Signal

DEFAULT_FLAG_THRESHOLD = 0.5
"""`detectors.flag_threshold`'s default: an article whose risk reaches it is flagged."""

TRIAGE_STATUSES = ("confirmed", "false_positive", "needs_review")


def article_risk(signals: Sequence[Signal]) -> float:
    """The article's risk from its stored signals, in the stores' order (detector, id).

    The same noisy-OR the pipeline uses (detectors.scoring), computed over the
    signals in a fixed order so both stores give the same float to the last bit.
    """
    return combine_risk(sorted(signals, key=lambda s: (s.detector, s.id)))


class _Scored(NamedTuple):
    id: str
    detector: str
    score: float


def risk_by_article(rows: Iterable[tuple[str, str, str, float]]) -> dict[str, float]:
    """Risk per article from (article_id, signal id, detector, score) rows.

    Equal to `article_risk` of each article's signals (a signal whose score is 0
    multiplies by exactly 1.0, so rows may leave those out)."""
    grouped: dict[str, list[_Scored]] = {}
    for article_id, sid, detector, score in rows:
        grouped.setdefault(article_id, []).append(_Scored(sid, detector, float(score)))
    return {
        a: combine_risk(sorted(items, key=lambda s: (s.detector, s.id)))  # type: ignore[arg-type]
        for a, items in grouped.items()
    }


@dataclass(frozen=True)
class ArticleQuery:
    text: str | None = None
    """Free text (syntax: services/store/textquery.py): words match their inflected
    forms in either script, `pre*` is a prefix, "quoted words" a phrase."""
    country: str | None = None
    """Source country (ISO alpha-2)."""
    detector: str | None = None
    narrative: str | None = None
    severity: str | None = None
    """The article has a stored signal of exactly this severity (as SignalQuery)."""
    since: datetime | None = None
    until: datetime | None = None
    flagged_only: bool = False
    """Only articles whose risk (`article_risk`) is at least `flag_threshold`."""
    flag_threshold: float = DEFAULT_FLAG_THRESHOLD
    triage: str | None = None
    """Only articles with this triage status (one of TRIAGE_STATUSES, on the article
    or on one of its signals), or "none": articles nobody has triaged."""
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class SignalQuery:
    country: str | None = None
    detector: str | None = None
    narrative: str | None = None
    severity: str | None = None
    article_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class Triage:
    """An analyst's verdict on an article or one signal; one per target (the latest).

    `id` comes from the target (`make_id`), so marking the same target again replaces
    the verdict, in both stores, and replaying articles never touches it.
    """

    target: str
    """"article" or "signal"."""
    target_id: str
    article_id: str
    status: str
    note: str
    analyst: str
    updated: datetime

    @property
    def id(self) -> str:
        return self.make_id(self.target, self.target_id)

    @staticmethod
    def make_id(target: str, target_id: str) -> str:
        from hybridwatch.events import sha256_hex

        return sha256_hex("triage", target, target_id)

    def to_dict(self) -> dict[str, Any]:
        from hybridwatch.events import format_time

        return {
            "id": self.id,
            "target": self.target,
            "target_id": self.target_id,
            "article_id": self.article_id,
            "status": self.status,
            "note": self.note,
            "analyst": self.analyst,
            "updated": format_time(self.updated),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Triage:
        from hybridwatch.events import _utc

        updated = d["updated"]
        if isinstance(updated, str):
            updated = datetime.fromisoformat(updated.replace("Z", "+00:00"))
        return cls(
            target=str(d["target"]),
            target_id=str(d["target_id"]),
            article_id=str(d["article_id"]),
            status=str(d["status"]),
            note=str(d.get("note") or ""),
            analyst=str(d.get("analyst") or ""),
            updated=_utc(updated),
        )


@dataclass(frozen=True)
class TriageQuery:
    status: str | None = None
    target: str | None = None
    article_id: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class SourceActivity:
    """What the store saw of one source: how many articles, first and last published."""

    source_id: str
    country: str
    articles: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class ArticleHit:
    article: Article
    signals: tuple[Signal, ...]
    flag_threshold: float = DEFAULT_FLAG_THRESHOLD
    triage: tuple[Triage, ...] = ()
    """Verdicts on the article and on its signals."""

    @property
    def risk(self) -> float:
        return article_risk(self.signals)

    @property
    def flagged(self) -> bool:
        return self.risk >= self.flag_threshold

    def to_dict(self) -> dict[str, Any]:
        d = self.article.to_dict()
        d["risk"] = round(self.risk, 6)
        d["flagged"] = self.flagged
        d["signals"] = [s.to_dict() for s in self.signals]
        d["triage"] = [t.to_dict() for t in self.triage]
        return d


class Store(Protocol):
    def put_articles(self, articles: Sequence[Article]) -> None: ...
    def put_signals(self, signals: Sequence[Signal]) -> None: ...
    def put_alerts(self, alerts: Sequence[Alert]) -> None: ...
    def search_articles(self, query: ArticleQuery) -> list[ArticleHit]:
        """Newest first (published desc, then id)."""
        ...

    def get_signals(self, query: SignalQuery) -> list[Signal]:
        """Newest first (event_time desc, then id)."""
        ...

    def count_signals(self, query: SignalQuery, by: str) -> dict[str, int]:
        """Signal counts grouped by one of: country, detector, narrative, severity, day."""
        ...

    def get_alerts(
        self,
        limit: int = 100,
        offset: int = 0,
        country: str | None = None,
        subscription: str | None = None,
    ) -> list[Alert]:
        """Newest first (event_time desc, then id)."""
        ...

    def count_articles(self) -> int: ...
    def count_matching(self, query: ArticleQuery) -> int:
        """How many articles match the query (limit and offset ignored)."""
        ...

    def get_article(
        self, article_id: str, flag_threshold: float = DEFAULT_FLAG_THRESHOLD
    ) -> ArticleHit | None: ...
    def count_alerts(self, country: str | None = None, subscription: str | None = None) -> int: ...
    def put_triage(self, items: Sequence[Triage]) -> None:
        """Upsert by triage id (one verdict per target); never touched by article writes."""
        ...

    def get_triage(self, query: TriageQuery) -> list[Triage]:
        """Newest first (updated desc, then id)."""
        ...

    def count_triage(self, query: TriageQuery) -> int: ...
    def source_activity(self, since: datetime | None = None) -> list[SourceActivity]:
        """Per source id (sorted): article count and first/last `published` since `since`."""
        ...

    def close(self) -> None: ...
