"""Builders for the stateful-detector tests: synthetic articles and narrative signals.

Everything here is synthetic (made-up outlets on example-style domains, invented
sentences); nothing is copied from the dev corpora.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from detectors.base import Detector, DetectorOptions, State
from detectors.view import ArticleView
from hybridwatch.events import Article, Evidence, Signal, Source

T0 = datetime(2018, 9, 1, 8, 0, tzinfo=UTC)

STORY = (
    "Synthetic report: the regional council met on Tuesday and approved a new budget "
    "for road repairs in the northern districts, after a long debate about the cost of "
    "asphalt, the schedule of works and the role of local contractors in the tender."
)


def article(
    aid: str,
    *,
    title: str = "Synthetic headline about a council budget",
    text: str = STORY,
    at: datetime = T0,
    country: str = "MK",
    source: str = "outlet-a",
    domain: str = "",
    outlet: str = "",
    url: str | None = None,
    countries: tuple[str, ...] = (),
) -> Article:
    dom = domain or f"{source}.example"
    return Article(
        id=aid,
        url=url if url is not None else f"https://www.{dom}/news/{aid}",
        title=title,
        text=text,
        published=at,
        fetched=at + timedelta(minutes=5),
        source=Source(id=source, outlet=outlet or source, domain=dom, country=country),
        countries=countries,
    )


def narrative_signal(a: Article, narrative: str, severity: str = "medium") -> Signal:
    """A narrative signal as the narrative detector would emit it (span over the title)."""
    end = min(len(a.title), 20)
    return Signal(
        id=Signal.make_id(a.id, "narrative", narrative),
        article_id=a.id,
        detector="narrative",
        country=a.source.country,
        narrative=narrative,
        severity=severity,  # type: ignore[arg-type]
        score=0.6,
        evidence=(Evidence(field="title", start=0, end=end, text=a.title[:end], rule="r1"),),
        event_time=a.published,
    )


class FixedNarrative(Detector):
    """Test double for the narrative detector: tags every article whose title contains
    a narrative id in brackets, e.g. "[election-fraud] ...". Not registered."""

    name = "narrative"

    def __init__(self) -> None:
        super().__init__(DetectorOptions())

    def detect(self, view: ArticleView, state: State) -> list[Signal]:
        a = view.article
        if a.title.startswith("[") and "]" in a.title:
            return [narrative_signal(a, a.title[1 : a.title.index("]")])]
        return []


def dump(signals: Any) -> list[dict[str, Any]]:
    return [s.to_dict() for s in signals]
