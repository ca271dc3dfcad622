"""Synthetic events for service unit tests (invented text, not real articles)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hybridwatch.events import Article, Evidence, Signal, Source
from hybridwatch.textfold import fold


def article(
    url: str,
    title: str,
    text: str = "",
    *,
    published: datetime = datetime(2018, 9, 30, 12, tzinfo=UTC),
    country: str = "MK",
    outlet: str = "Synthetic Outlet",
) -> Article:
    return Article(
        id=Article.make_id(url),
        url=url,
        title=title,
        text=text,
        published=published,
        fetched=datetime(2018, 9, 30, 13, tzinfo=UTC),
        language="und",
        source=Source(
            id=f"syn-{country.lower()}", outlet=outlet, domain="example.org", country=country
        ),
        text_latn=fold(f"{title} {text}"),
    )


def signal(
    a: Article,
    detector: str = "narrative",
    narrative: str | None = "referendum-fraud",
    severity: str = "high",
    score: float = 0.8,
    **extra: Any,
) -> Signal:
    end = min(len(a.title), 8)
    return Signal(
        id=Signal.make_id(a.id, detector, narrative),
        article_id=a.id,
        detector=detector,
        country=a.source.country,
        narrative=narrative,
        severity=severity,  # type: ignore[arg-type]
        score=score,
        evidence=(Evidence(field="title", start=0, end=end, text=a.title[:end], rule="syn-rule"),),
        event_time=a.published,
        **extra,
    )
