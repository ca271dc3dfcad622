"""Charset decisions: the bytes win over lying headers and declarations."""

from __future__ import annotations

from ingest.charset import decode_feed

DOC = '<?xml version="1.0" encoding="{enc}"?><rss><title>{text}</title></rss>'


def _title(data: bytes) -> str:
    text = data.decode("utf-8")
    return text[text.index("<title>") + 7 : text.index("</title>")]


def test_utf8_body_served_with_a_wrong_header_charset_is_read_as_utf8_with_a_warning() -> None:
    body = DOC.format(enc="utf-8", text="Вучић Vučić").encode("utf-8")
    decoded = decode_feed(body, "text/xml; charset=windows-1251")
    assert _title(decoded.text_utf8) == "Вучић Vučić"
    assert decoded.encoding == "utf-8"
    assert "windows-1251" in decoded.warnings[0] and "wrong" in decoded.warnings[0]


def test_windows_1250_body_claiming_utf8_is_recovered() -> None:
    body = DOC.format(enc="utf-8", text="Šta će đaci").encode("cp1250")
    decoded = decode_feed(body, "application/rss+xml")
    assert _title(decoded.text_utf8) == "Šta će đaci"
    assert decoded.encoding == "windows-1250"
    assert any("not valid UTF-8" in w for w in decoded.warnings)


def test_windows_1251_body_labelled_1250_is_recovered() -> None:
    body = DOC.format(enc="windows-1250", text="Вучић у Београду").encode("cp1251")
    decoded = decode_feed(body, None)
    assert _title(decoded.text_utf8) == "Вучић у Београду"
    assert decoded.encoding == "windows-1251"
    assert decoded.warnings


def test_correctly_declared_legacy_charset_is_used_silently() -> None:
    body = DOC.format(enc="windows-1251", text="Вучић у Београду").encode("cp1251")
    decoded = decode_feed(body, "text/xml")
    assert _title(decoded.text_utf8) == "Вучић у Београду"
    assert decoded.warnings == []


def test_declaration_is_rewritten_to_utf8_for_the_parser() -> None:
    body = DOC.format(enc="iso-8859-2", text="Šabac").encode("iso-8859-2")
    assert b'encoding="utf-8"' in decode_feed(body, None).text_utf8
