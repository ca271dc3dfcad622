"""RawEntry -> Article: canonical URL and id, plain text, language, countries, times.

Time policy (event time drives windows downstream, so it must be honest):
* `published` is the entry's published/updated date converted to UTC;
* an entry without a usable date gets the fetch time and `published_estimated=True`;
* a date more than FUTURE_TOLERANCE after the fetch time (mis-set server clocks,
  time-zone bugs, scheduled posts leaking) is clamped to the fetch time and also
  marked estimated, so a bogus future date cannot open a window in the future.

`text_latn` is `fold(title + "\n" + text)`: the folded form used for matching and
search covers the headline too. Detectors that need evidence offsets fold the
original field themselves with `fold_with_offsets`.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

from selectolax.lexbor import LexborHTMLParser

from hybridwatch.config import SourceConfig
from hybridwatch.events import Article, Source
from hybridwatch.textfold import fold
from ingest.canonical import BadUrl, canonical_url, domain_of
from ingest.countries import countries_in_folded
from ingest.language import detect_language
from ingest.parse import RawEntry

FUTURE_TOLERANCE = timedelta(days=1)
MAX_TEXT_CHARS = 100_000
"""Longer item bodies are cut (with a warning upstream); feeds are summaries."""

_BLOCK_TAGS = re.compile(
    r"<\s*(?:br|/p|/div|/li|/h[1-6]|/tr|/blockquote|/section|/article|p|li|h[1-6])\b[^>]*>",
    re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_MAYBE_MARKUP = re.compile(r"[<&]")


class EntryError(ValueError):
    """The entry cannot become an Article (e.g. neither a link nor a GUID)."""


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: scripts/styles dropped, blocks become lines."""
    if not markup:
        return ""
    if not _MAYBE_MARKUP.search(markup):
        return _tidy(markup)
    if "<" not in markup:
        return _tidy(html.unescape(markup))
    tree = LexborHTMLParser(_BLOCK_TAGS.sub(lambda m: m.group(0) + "\n", markup))
    for node in tree.css("script, style, noscript, template, iframe"):
        node.decompose()
    root = tree.body or tree.root
    text = root.text(deep=True, separator="") if root is not None else ""
    return _tidy(text)


def _tidy(text: str) -> str:
    text = _SPACES.sub(" ", text)
    return _NEWLINES.sub("\n", text).strip()


def source_of(config: SourceConfig) -> Source:
    return Source(
        id=config.id,
        outlet=config.outlet,
        domain=config.domain,
        country=config.country,
        tags=tuple(config.tags),
    )


def article_id_and_url(entry: RawEntry, feed_url: str) -> tuple[str, str]:
    """(Article.id, canonical URL or "") for an entry; EntryError if it has no identity."""
    url = ""
    if entry.link:
        try:
            url = canonical_url(entry.link, base=feed_url)
        except BadUrl:
            url = ""
    if not url and entry.guid and entry.guid.startswith(("http://", "https://")):
        try:
            url = canonical_url(entry.guid)
        except BadUrl:
            url = ""
    if not url and not entry.guid:
        raise EntryError(f"item {entry.title[:60]!r} has neither a usable link nor a GUID")
    return Article.make_id(url or None, entry.guid), url


def publication_time(entry: RawEntry, fetched: datetime) -> tuple[datetime, bool]:
    """(published, estimated) by the time policy in the module docstring."""
    if entry.published is None:
        return fetched, True
    if entry.published > fetched + FUTURE_TOLERANCE:
        return fetched, True
    return entry.published, False


def normalise(
    entry: RawEntry,
    source: SourceConfig,
    fetched: datetime,
    feed_url: str | None = None,
    source_event: Source | None = None,
) -> Article:
    """Build the Article for one entry; raises EntryError when it has no identity."""
    article_id, url = article_id_and_url(entry, feed_url or source.feed_url)
    title = html_to_text(entry.title).replace("\n", " ")
    text = html_to_text(entry.content)[:MAX_TEXT_CHARS]
    published, estimated = publication_time(entry, fetched)
    combined = f"{title}\n{text}" if text else title
    folded = fold(combined)
    return Article(
        id=article_id,
        url=url,
        title=title,
        text=text,
        published=published,
        published_estimated=estimated,
        fetched=fetched,
        language=detect_language(combined, source.language),
        source=source_event or source_of(source),
        countries=countries_in_folded(folded),
        text_latn=folded,
    )


__all__ = ["EntryError", "domain_of", "html_to_text", "normalise", "publication_time", "source_of"]
