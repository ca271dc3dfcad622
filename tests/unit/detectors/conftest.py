"""Helpers shared by the detector unit tests: build articles the way the runtime does."""

from __future__ import annotations

from datetime import UTC, datetime

from hybridwatch.events import Article, Source

PUBLISHED = datetime(2018, 9, 30, 12, 0, tzinfo=UTC)


def make_article(text: str, title: str = "", country: str = "MK", aid: str = "a1") -> Article:
    """A synthetic article with fixed times, so signal ids are deterministic."""
    return Article(
        id=aid,
        title=title,
        text=text,
        published=PUBLISHED,
        fetched=PUBLISHED,
        source=Source(id="synthetic", country=country),
    )
