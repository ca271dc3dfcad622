"""Entity declarations are refused before any XML parser runs."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from ingest.parse import ParseError, parse_feed
from ingest.xmlsafety import UnsafeXml, check_xml

FEEDS = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"


def test_billion_laughs_is_refused_with_bounded_memory() -> None:
    body = (FEEDS / "billion-laughs.xml").read_bytes()
    tracemalloc.start()
    try:
        with pytest.raises(ParseError, match="entity expansion"):
            parse_feed(body, "application/rss+xml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Expanded, the document would be ~3 GB; refusing it costs about the body's size.
    assert peak < 1_000_000


def test_external_entity_is_refused() -> None:
    with pytest.raises(UnsafeXml, match="XXE"):
        check_xml((FEEDS / "xxe.xml").read_bytes())


def test_entity_hidden_after_markup_in_the_internal_subset_is_still_found() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE r [<!ATTLIST a b "<c>"><!ENTITY x SYSTEM "file:///etc/hosts">]><r/>'
    with pytest.raises(UnsafeXml):
        check_xml(body)


def test_utf16_document_with_entities_is_refused() -> None:
    body = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>'.encode(
        "utf-16"
    )
    with pytest.raises(UnsafeXml):
        check_xml(body)


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss/>',
        b'<!DOCTYPE rss [<!ENTITY nbsp "&#160;">]><rss/>',
        b"<rss><channel><description><![CDATA[<!DOCTYPE html><html></html>]]></description></channel></rss>",
    ],
)
def test_harmless_doctypes_pass(body: bytes) -> None:
    check_xml(body)
