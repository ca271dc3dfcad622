"""Decide a feed's character encoding ourselves, because servers lie about it.

feedparser trusts the HTTP charset over the bytes, so a UTF-8 feed served as
`charset=windows-1251` turns into mojibake without any error. The rules here, in
order:

1. a byte-order mark wins;
2. bytes that decode as strict UTF-8 and contain multi-byte sequences are UTF-8
   (legacy 8-bit text essentially never forms valid UTF-8 by accident) - whatever
   the header or the XML declaration claim;
3. otherwise the HTTP charset, then the XML declaration, if it is a known codec
   that decodes the bytes and the result does not score clearly worse than a
   regional alternative (windows-1250/1251, ISO-8859-2/5);
4. otherwise the best-scoring regional code page.

Any disagreement with what the server declared becomes a warning on the source.
The result is re-encoded as UTF-8 with a matching XML declaration, so the XML
parser downstream never second-guesses it.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

_XML_DECL_ENC = re.compile(rb"""^(\s*<\?xml\b[^>]*?\bencoding\s*=\s*)(["'])([A-Za-z0-9._:-]+)\2""")
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
REGIONAL = ("windows-1250", "windows-1251", "iso-8859-2", "iso-8859-5")
_REGIONAL_LETTERS = frozenset(
    "čćžšđČĆŽŠĐëçËÇ" + "".join(chr(c) for c in range(0x0410, 0x0450)) + "ђјљњћџѓќѕЂЈЉЊЋЏЃЌЅ"
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass
class Decoded:
    text_utf8: bytes
    encoding: str
    warnings: list[str] = field(default_factory=list)


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return m.group(1).lower() if m else None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def score(text: str) -> float:
    """Plausibility of decoded regional text: letters we expect minus likely mojibake."""
    good = bad = 0.0
    for ch in text:
        if ch < "\x80":
            continue
        if ch in _REGIONAL_LETTERS:
            good += 1
        elif "\x80" <= ch <= "\x9f" or ch == "\ufffd" or "\u2500" <= ch <= "\u259f":
            bad += 2
        elif ch.isalpha():
            bad += 0.5
    return good - bad


def _with_utf8_declaration(data: bytes) -> bytes:
    m = _XML_DECL_ENC.match(data)
    if m is None:
        return data
    return data[: m.start(3)] + b"utf-8" + data[m.end(3) :]


def decode_feed(body: bytes, content_type: str | None) -> Decoded:
    """Decode `body` by the rules above and return it as UTF-8 bytes."""
    for bom, enc in _BOMS:
        if body.startswith(bom):
            text = body[len(bom) :].decode(enc, errors="replace")
            return Decoded(_with_utf8_declaration(text.encode("utf-8")), enc)
    warnings: list[str] = []
    from_header = header_charset(content_type)
    m = _XML_DECL_ENC.match(body)
    from_decl = m.group(3).decode("ascii").lower() if m else None
    declared = [
        (where, name)
        for where, name in (("HTTP header", from_header), ("XML declaration", from_decl))
        if name
    ]
    try:
        body.decode("utf-8")
        utf8_ok = True
    except UnicodeDecodeError:
        utf8_ok = False
    if utf8_ok:
        for where, name in declared:
            codec = _codec(name)
            if codec not in ("utf-8", "ascii") and not body.isascii():
                warnings.append(
                    f"charset {name!r} in the {where} is wrong: the body is valid UTF-8, decoded as UTF-8"
                )
                break
        return Decoded(_with_utf8_declaration(body), "utf-8", warnings)
    candidates: list[tuple[str, str]] = []
    for where, name in declared:
        codec = _codec(name)
        if codec is None:
            warnings.append(f"unknown charset {name!r} in the {where}, ignored")
        elif codec == "utf-8":
            warnings.append(
                f"charset {name!r} in the {where} is wrong: the body is not valid UTF-8"
            )
        else:
            candidates.append((where, codec))
    best_regional = max(REGIONAL, key=lambda enc: score(body.decode(enc, errors="replace")))
    regional_text = body.decode(best_regional, errors="replace")
    for where, codec in candidates:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            warnings.append(f"charset {codec!r} in the {where} cannot decode the body")
            continue
        if codec == best_regional or score(text) >= score(regional_text) - 3:
            return Decoded(_with_utf8_declaration(text.encode("utf-8")), codec, warnings)
        warnings.append(
            f"charset {codec!r} in the {where} gives garbled text; {best_regional} fits better"
        )
        break
    if not candidates:
        warnings.append(f"no usable charset declared; guessed {best_regional}")
    return Decoded(_with_utf8_declaration(regional_text.encode("utf-8")), best_regional, warnings)
