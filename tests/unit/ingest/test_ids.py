"""Article ids: sha256 of the canonical URL, else of the feed GUID (events.Article.make_id)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hybridwatch.config import SourceConfig
from hybridwatch.events import Article
from ingest.normalise import EntryError, article_id_and_url, normalise
from ingest.parse import RawEntry

FEED = "https://vesti.example.rs/rss"
SOURCE = SourceConfig(id="vesti", outlet="Vesti", country="RS", language="sr", feed_url=FEED)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _entry(link: str | None, guid: str | None = None, title: str = "Naslov") -> RawEntry:
    return RawEntry(guid=guid, link=link, title=title, content="", published=None, has_date=False)


def test_same_story_with_tracking_parameters_gets_one_id() -> None:
    a, _ = article_id_and_url(_entry("https://vesti.example.rs/x?utm_source=rss"), FEED)
    b, _ = article_id_and_url(_entry("https://VESTI.example.rs/x?fbclid=1#top"), FEED)
    assert a == b == Article.make_id("https://vesti.example.rs/x")


def test_url_wins_over_guid_so_two_feeds_of_one_outlet_agree() -> None:
    a, _ = article_id_and_url(_entry("https://vesti.example.rs/x", guid="feed-a-17"), FEED)
    b, _ = article_id_and_url(_entry("https://vesti.example.rs/x", guid="feed-b-99"), FEED)
    assert a == b


def test_guid_is_the_identity_when_there_is_no_link() -> None:
    article_id, url = article_id_and_url(_entry(None, guid="urn:example:1"), FEED)
    assert url == ""
    assert article_id == Article.make_id(None, "urn:example:1")


def test_permalink_guid_serves_as_url_when_link_is_missing() -> None:
    article_id, url = article_id_and_url(
        _entry(None, guid="https://vesti.example.rs/y?utm_term=z"), FEED
    )
    assert url == "https://vesti.example.rs/y"
    assert article_id == Article.make_id("https://vesti.example.rs/y")


def test_entry_without_link_or_guid_is_an_error_naming_the_item() -> None:
    with pytest.raises(EntryError, match="Bez identiteta"):
        article_id_and_url(_entry(None, None, title="Bez identiteta"), FEED)


def test_ids_do_not_depend_on_fetch_time() -> None:
    entry = _entry("https://vesti.example.rs/z")
    first = normalise(entry, SOURCE, NOW)
    later = normalise(entry, SOURCE, datetime(2027, 1, 1, tzinfo=UTC))
    assert first.id == later.id
