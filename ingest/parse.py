"""Bytes -> feed entries, with every way a feed can be broken turned into a clear error.

Order matters: the entity check (xmlsafety) runs on the raw bytes before any XML
parser; then the charset is settled (charset.py) and the document handed to
feedparser as UTF-8. feedparser's own HTML sanitising and relative-URI resolution
are switched off: we reduce HTML to plain text ourselves and resolve links against
the feed URL, which is both safer and several times faster.

Ill-formed XML policy: when expat fails and feedparser's lenient fallback still
recovers items, the items are kept and the source gets a warning naming the
position of the error (a feed whose last item is cut off should not lose the
others). Recovered fragments with neither a link nor a GUID (typically the item
cut off by a truncation) are dropped and counted in that warning. When nothing
usable is recovered it is a ParseError.
"""

from __future__ import annotations

import calendar
import time
import xml.sax
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from ingest.charset import decode_feed
from ingest.xmlsafety import UnsafeXml, check_xml

FeedEntry = Mapping[str, Any]
"""One item as feedparser returns it (a FeedParserDict; feedparser ships no types):
its values are strings, lists of dicts or time.struct_time, read with `.get`."""


class ParseError(Exception):
    """The body is not a usable RSS/Atom feed; the message says why and where."""


@dataclass(frozen=True)
class RawEntry:
    """One feed item before normalisation (HTML still in `title`/`content`)."""

    guid: str | None
    link: str | None
    title: str
    content: str
    published: datetime | None
    has_date: bool


@dataclass
class ParsedFeed:
    entries: list[RawEntry]
    version: str
    encoding: str
    title: str = ""
    warnings: list[str] = field(default_factory=list)


def _time(value: object) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _content(entry: FeedEntry) -> str:
    best = ""
    for part in entry.get("content") or ():
        value = part.get("value") or ""
        if len(value) > len(best):
            best = value
    summary = entry.get("summary") or ""
    return best if len(best) >= len(summary) else summary


def _entry(entry: FeedEntry) -> RawEntry:
    date_value = (
        entry.get("published_parsed") or entry.get("updated_parsed") or entry.get("created_parsed")
    )
    published = _time(date_value)
    has_date = bool(entry.get("published") or entry.get("updated") or entry.get("created"))
    link = entry.get("link")
    if not link:
        for candidate in entry.get("links") or ():
            if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
                link = candidate["href"]
                break
    guid = entry.get("id") or entry.get("guid")
    return RawEntry(
        guid=str(guid).strip() or None if guid else None,
        link=str(link).strip() or None if link else None,
        title=str(entry.get("title") or ""),
        content=str(_content(entry)),
        published=published,
        has_date=has_date,
    )


def _position(exc: BaseException) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        return f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}: {exc.getMessage()}"
    return str(exc) or type(exc).__name__


def parse_feed(body: bytes, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed body; raise ParseError (or its cause's message) when unusable."""
    if not body.strip():
        raise ParseError("empty body: the server sent no feed document")
    try:
        check_xml(body)
    except UnsafeXml as err:
        raise ParseError(str(err)) from err
    decoded = decode_feed(body, content_type)
    result = feedparser.parse(
        decoded.text_utf8,
        response_headers={"content-type": "application/xml; charset=utf-8"},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    warnings = list(decoded.warnings)
    entries = [_entry(e) for e in result.get("entries") or ()]
    version = str(result.get("version") or "")
    exc = result.get("bozo_exception") if result.get("bozo") else None
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if exc is not None:
        if isinstance(exc, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType):
            warnings.append(f"feedparser: {exc}")
        elif usable := [e for e in entries if e.link or e.guid]:
            dropped = len(entries) - len(usable)
            entries = usable
            warnings.append(
                f"ill-formed XML at {_position(exc)}; {len(entries)} item(s) recovered by the lenient parser"
                + (f", {dropped} fragment(s) without link or GUID dropped" if dropped else "")
            )
        else:
            hint = f" (server said Content-Type {media})" if media else ""
            raise ParseError(f"not a well-formed feed{hint}: XML error at {_position(exc)}")
    if not version and not entries:
        hint = f" (Content-Type {media})" if media else ""
        raise ParseError(f"not an RSS or Atom feed{hint}: no <rss>, <feed> or <rdf:RDF> root found")
    feed_title = str((result.get("feed") or {}).get("title") or "")
    return ParsedFeed(entries, version, decoded.encoding, feed_title, warnings)
