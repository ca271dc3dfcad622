"""Property-based fuzzing of feed parsing, normalisation, charset repair and canonical URLs.

No input may crash these functions with anything but their documented error, and each
call stays bounded in time (hypothesis' deadline) and size (outputs checked)."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

from hypothesis import example, given
from hypothesis import strategies as st

from hybridwatch.config import SourceConfig
from ingest.canonical import BadUrl, canonical_url
from ingest.charset import decode_feed
from ingest.normalise import EntryError, html_to_text, normalise
from ingest.parse import ParseError, parse_feed

SOURCE = SourceConfig(
    id="syn-fuzz", outlet="Fuzz", country="RS", language="sr", feed_url="https://f.example/rss"
)
FETCHED = datetime(2024, 1, 1, tzinfo=UTC)
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/rss+xml",
            "text/xml; charset=windows-1251",
            "application/xml; charset=utf-8",
            "text/html; charset=iso-8859-2",
            "text/xml; charset=bogus-charset",
            "application/atom+xml; charset=",
        ]
    ),
    st.text(max_size=60),
)
# text that a hostile or broken feed might carry: markup, entities, control chars, scripts
_CHARS = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
    st.sampled_from(list("<>&\"';/\\\r\n\t\x00\x0b")),
)
FEED_TEXT = st.lists(
    st.one_of(
        st.text(alphabet=_CHARS, max_size=40),
        st.sampled_from(
            [
                "&amp;",
                "&#0;",
                "&#x110000;",
                "]]>",
                "<script>alert(1)</script>",
                '<img src=x onerror="alert(1)">',
                "<b>",
                "<!--",
                "&lt;",
                "javascript:",
            ]
        ),
    ),
    max_size=8,
).map("".join)


def _rss(items: list[tuple[str, str, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link>"
        f"<description>{escape(d)}</description><pubDate>{escape(p)}</pubDate></item>"
        for t, link, d, p in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{body}</channel></rss>'.encode(
        "utf-8", "surrogatepass"
    )


ITEMS = st.lists(
    st.tuples(
        FEED_TEXT,
        st.one_of(st.just("https://f.example/a"), FEED_TEXT),
        FEED_TEXT,
        st.one_of(st.just("Sun, 30 Sep 2018 10:00:00 +0200"), st.text(max_size=40)),
    ),
    max_size=5,
)


def _parse_and_normalise(body: bytes, content_type: str | None) -> None:
    try:
        feed = parse_feed(body, content_type)
    except ParseError:
        return
    for entry in feed.entries:
        try:
            art = normalise(entry, SOURCE, FETCHED)
        except EntryError:
            continue
        assert art.url.startswith(("http://", "https://"))
        assert len(art.text) <= 200_000


@given(st.binary(max_size=4000), CONTENT_TYPES)
@example(b"\xef\xbb\xbf<rss", None)
@example(b"<?xml version='1.0' encoding='utf-16'?><rss/>", "text/xml")
@example(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><rss>&a;</rss>', None)
def test_any_bytes_parse_or_raise_parse_error(body: bytes, content_type: str | None) -> None:
    _parse_and_normalise(body, content_type)


def test_item_link_with_unclosed_ipv6_bracket_is_skipped_not_a_crash() -> None:
    """Fuzz finding: urlsplit's ValueError escaped canonical_url and normalise."""
    _parse_and_normalise(_rss([("t", "http://[::1", "d", "x")]), None)
    _parse_and_normalise(_rss([("t", "https://[fe80::1/a", "d", "x")]), None)


@given(ITEMS, CONTENT_TYPES)
def test_well_formed_feeds_with_hostile_text_parse_and_normalise(
    items: list[tuple[str, str, str, str]], content_type: str | None
) -> None:
    _parse_and_normalise(_rss(items), content_type)


@given(ITEMS, st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=8))
def test_truncated_or_spliced_feeds_never_crash(
    items: list[tuple[str, str, str, str]], cut: int, junk: bytes
) -> None:
    body = _rss(items)
    _parse_and_normalise(body[:cut] + junk + body[cut:], None)


@given(st.binary(max_size=3000), CONTENT_TYPES)
def test_charset_repair_always_yields_utf8(body: bytes, content_type: str | None) -> None:
    decoded = decode_feed(body, content_type)
    decoded.text_utf8.decode("utf-8")  # never raises
    assert len(decoded.text_utf8) <= 4 * len(body) + 64


@given(FEED_TEXT)
def test_html_to_text_removes_every_tag(markup: str) -> None:
    text = html_to_text(markup)
    assert "<script" not in text.lower() or "<script" in markup.lower()


@given(st.one_of(FEED_TEXT, st.from_regex(r"https?://[a-zA-Z0-9.:\[\]@%-]{0,30}/[^#]{0,40}")))
@example("http://[::1")
@example("https://a.example:99999/")
@example("http://xn--/")
@example("https://%/")
def test_canonical_url_returns_http_url_or_raises_bad_url(url: str) -> None:
    try:
        out = canonical_url(url, "https://base.example/dir/")
    except BadUrl:
        return
    assert out.startswith(("http://", "https://")) and "#" not in out
    assert canonical_url(out) == out  # idempotent
