"""Refuse XML that declares entities before it reaches any XML parser.

"Billion laughs" (nested entity expansion) and external entities (XXE) both need an
`<!ENTITY ...>` declaration in the document's DTD. Real RSS and Atom feeds never
declare entities (the old RSS 0.91 DOCTYPE only references an external DTD, which
no parser here fetches), so any entity declaration is refused, except the harmless `<!ENTITY nbsp "&#160;">`
form (a name for one character reference) that some RSS 0.91 feeds carry. The check is a
regular-expression scan of the DOCTYPE(s), linear in the body size (the body is
already capped), and never expands anything: a billion-laughs document is rejected long before
feedparser or expat see it.
"""

from __future__ import annotations

import codecs
import re


class UnsafeXml(Exception):
    """The document declares entities or otherwise could make the parser blow up."""


_ENTITY = re.compile(r"<!ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)
# `<!ENTITY nbsp "&#160;">`: a name for one character reference. Old RSS 0.91 feeds
# declare HTML entities this way; such a declaration cannot nest or reach outside.
_SAFE_ENTITY = re.compile(
    r"""<!ENTITY\s+[A-Za-z_][\w.-]*\s+(["'])&#(?:x[0-9A-Fa-f]{1,6}|[0-9]{1,7});\1\s*>"""
)
_SUBSET_END = re.compile(r"\]\s*>")

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _prolog_text(body: bytes) -> str:
    """The document start as text, decoded just well enough to find markup."""
    for bom, enc in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(enc, errors="replace")
    if body[:4] in (b"<\x00?\x00", b"\x00<\x00?"):  # UTF-16 without a BOM
        return body.decode("utf-16-le" if body[0] == 0x3C else "utf-16-be", errors="replace")
    # Every ASCII-compatible encoding (UTF-8, windows-125x, ISO-8859-x) keeps '<' and
    # letters as single bytes, which is all the scan needs.
    return body.decode("latin-1")


def check_xml(body: bytes) -> None:
    """Raise UnsafeXml if the document declares entities (billion laughs, XXE).

    Every DOCTYPE is inspected (not only the first), together with its internal
    subset `[ ... ]`, so markup tricks inside the subset cannot hide a declaration.
    """
    text = _prolog_text(body)
    for m in _DOCTYPE.finditer(text):
        gt = text.find(">", m.end())
        bracket = text.find("[", m.end())
        if bracket != -1 and (gt == -1 or bracket < gt):
            close = _SUBSET_END.search(text, bracket)
            end = close.end() if close else len(text)
        else:
            end = gt if gt != -1 else len(text)
        unsafe = [
            e
            for e in _ENTITY.finditer(text, m.start(), end)
            if not _SAFE_ENTITY.match(text, e.start())
        ]
        if unsafe:
            line = text.count("\n", 0, m.start()) + 1
            raise UnsafeXml(
                f"document declares XML entities in its DOCTYPE (line {line}); refused to "
                "protect against entity expansion (billion laughs) and external entities (XXE)"
            )
