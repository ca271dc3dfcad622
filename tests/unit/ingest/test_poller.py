"""Poller pieces that need no network: dedup before normalisation, reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hybridwatch.config import SourceConfig
from hybridwatch.events import Article
from ingest.poller import PollReport, SourceOutcome, _prepare
from ingest.state import IngestState

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SRC = SourceConfig(
    id="hr", outlet="HR", country="HR", language="hr", feed_url="https://vijesti.example.hr/rss"
)
FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>synthetic</title>
<item><title>Stara vijest</title><link>https://vijesti.example.hr/stara</link></item>
<item><title>Nova vijest iz Zagreba</title><link>https://vijesti.example.hr/nova?utm_source=x</link></item>
<item><title>Ista nova vijest</title><link>https://vijesti.example.hr/nova</link></item>
<item><title>Bez identiteta</title><description>nema linka ni guida</description></item>
</channel></rss>"""


def test_known_items_are_skipped_duplicates_merged_and_unidentifiable_items_reported(
    tmp_path: Path,
) -> None:
    state = IngestState.open(tmp_path)
    try:
        state.record_success(
            "hr", at=NOW, next_poll=NOW, status_code=200,
            published_ids=[Article.make_id("https://vijesti.example.hr/stara")],
        )  # fmt: skip
        prepared = _prepare(FEED, "application/rss+xml", SRC, NOW, SRC.feed_url, state)
    finally:
        state.close()
    assert [a.title for a in prepared.articles] == ["Nova vijest iz Zagreba"]
    assert prepared.articles[0].countries == ("HR",)
    assert prepared.seen_before == 1
    assert len(prepared.rejected) == 1 and "Bez identiteta" in prepared.rejected[0]
    assert any("1 item(s) rejected" in w for w in prepared.warnings)


def test_report_totals_add_up_and_serialise() -> None:
    report = PollReport(
        NOW,
        NOW,
        [
            SourceOutcome("a", "new", 200, articles_new=3, articles_seen_before=7),
            SourceOutcome("b", "not-modified", 304),
            SourceOutcome("c", "error", 500, error="HTTP 500"),
        ],
    )
    data = report.to_dict()
    assert (
        data["sources_ok"],
        data["sources_failed"],
        data["articles_new"],
        data["articles_seen_before"],
    ) == (2, 1, 3, 7)
    assert data["outcomes"][2]["error"] == "HTTP 500"
    assert data["started"] == "2026-11-24T12:00:00Z"
