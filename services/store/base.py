"""The store port: what the API, the CLI and the runtimes need from a store.

Implemented by SQLite (embedded) and by the search engine (Elasticsearch or
OpenSearch). Both must give the same answers for the same data (tests/integration
checks it). Writes are idempotent: the document id is the event id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hybridwatch.events import Alert, Article, Signal


@dataclass(frozen=True)
class ArticleQuery:
    text: str | None = None
    """Free text; matched on title, text and the script-folded text_latn."""
    country: str | None = None
    """Source country (ISO alpha-2)."""
    detector: str | None = None
    narrative: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    flagged_only: bool = False
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
class ArticleHit:
    article: Article
    signals: tuple[Signal, ...]

    def to_dict(self) -> dict[str, Any]:
        d = self.article.to_dict()
        d["signals"] = [s.to_dict() for s in self.signals]
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
    def close(self) -> None: ...
