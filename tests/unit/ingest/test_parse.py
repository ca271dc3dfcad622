"""Parsing feed bodies: RSS, Atom, broken documents and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.parse import ParseError, parse_feed

FEEDS = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"


def test_rss_items_come_with_links_guids_and_utc_dates() -> None:
    feed = parse_feed(
        (FEEDS / "rs-cyrillic.xml").read_bytes(), "application/rss+xml; charset=utf-8"
    )
    assert feed.version == "rss20"
    assert [e.guid for e in feed.entries] == ["rs-0001", "rs-0002", "rs-0003"]
    assert feed.entries[0].published == datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    assert feed.entries[2].published is None
    assert "<p>" in feed.entries[1].content  # content:encoded, still HTML here
    assert feed.warnings == []


def test_atom_entries_parse_with_alternate_links() -> None:
    feed = parse_feed((FEEDS / "mk-atom.xml").read_bytes(), "application/atom+xml")
    assert feed.version.startswith("atom")
    assert feed.entries[0].link == "https://vesti.example.mk/ekonomija/budzet"
    assert feed.entries[1].guid == "urn:example:mk-0002"


def test_ill_formed_xml_keeps_recovered_items_with_a_warning_naming_the_position() -> None:
    feed = parse_feed((FEEDS / "me-illformed.xml").read_bytes(), "application/rss+xml")
    assert feed.entries[0].title == "Prva vijest iz Podgorice"
    assert any("ill-formed XML at line" in w and "recovered" in w for w in feed.warnings)


def test_truncated_document_without_a_complete_item_is_an_error_with_position() -> None:
    body = (FEEDS / "hr-latin.xml").read_bytes()[:300]
    with pytest.raises(ParseError, match=r"line \d+, column \d+"):
        parse_feed(body, "application/rss+xml")


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "application/rss+xml", "empty body"),
        (b"   \n", None, "empty body"),
        (b'{"items": []}', "application/json", "not a well-formed feed"),
    ],
)
def test_non_feeds_are_clear_errors(body: bytes, content_type: str | None, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_feed(body, content_type)


def test_html_page_is_not_a_feed_and_says_what_the_server_sent() -> None:
    with pytest.raises(ParseError, match=r"not an RSS or Atom feed \(Content-Type text/html\)"):
        parse_feed((FEEDS / "not-a-feed.html").read_bytes(), "text/html; charset=utf-8")


def test_lying_charset_feed_is_parsed_with_correct_letters_and_a_warning() -> None:
    feed = parse_feed(
        (FEEDS / "ba-cp1250-declared-utf8.xml").read_bytes(), "application/rss+xml; charset=utf-8"
    )
    assert feed.entries[0].title == "Vijeće ministara u Sarajevu: šta čeka građane"
    assert feed.encoding == "windows-1250"
    assert feed.warnings
