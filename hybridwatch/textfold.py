"""Script and diacritic folding for matching and search.

Serbian and Macedonian are written in Cyrillic and Latin; Croatian, Bosnian and
Montenegrin use Latin with diacritics; Albanian uses ë and ç. Folding maps all of
them to one lowercase ASCII-Latin form so that a term written once matches every
spelling ("Приштина", "Priština", "Pristina" -> "pristina").

`fold` keeps a one-to-one character alignment where it can: every input character
becomes zero or more output characters and `fold_with_offsets` returns, for each
output character, the index of the input character it came from. Detectors use it
to turn a match in folded text back into an evidence span of the original text.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

# Serbian (Vuk Karadžić) and Macedonian Cyrillic to Gaj's Latin, then folded below.
_CYR_TO_LAT: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "dj", "е": "e", "ж": "z",
    "з": "z", "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n",
    "њ": "nj", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "c", "у": "u",
    "ф": "f", "х": "h", "ц": "c", "ч": "c", "џ": "dz", "ш": "s",
    # Macedonian-specific letters
    "ѓ": "gj", "ѕ": "dz", "ќ": "kj",
    # Russian/Bulgarian/Ukrainian letters that appear in quoted names and outlets
    "ё": "e", "й": "j", "щ": "sc", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "ju",
    "я": "ja", "є": "je", "і": "i", "ї": "ji", "ґ": "g",
}  # fmt: skip

# Latin letters whose folding is not a plain "strip the combining mark".
_LATIN_SPECIAL: dict[str, str] = {
    "đ": "dj", "ð": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "ı": "i",
    # typographic quotes and dashes fold to ASCII so phrases match across outlets
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"',
    "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2013": "-", "\u2014": "-", "\u00a0": " ",
}  # fmt: skip


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    low = ch.lower()
    if len(low) != 1:  # e.g. "İ".lower() is two code points
        low = ch
    mapped = _CYR_TO_LAT.get(low)
    if mapped is not None:
        return mapped
    mapped = _LATIN_SPECIAL.get(low)
    if mapped is not None:
        return mapped
    if low.isascii():
        return low
    decomposed = unicodedata.normalize("NFKD", low)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    # A precomposed Cyrillic letter (Macedonian ѐ ѝ as in "сѐ", Belarusian ў)
    # decomposes to a Cyrillic base that still needs transliterating.
    return "".join(_CYR_TO_LAT.get(c, c) for c in base)


_LUT_SIZE = 0x3000
"""Code points below this (Latin, Cyrillic, Greek, punctuation) are folded by table."""
_LUT_WIDTH = 3
"""Widest fold the table holds; wider ones (rare NFKD expansions) take the slow path."""


@lru_cache(maxsize=1)
def _first() -> Any:
    """The first folded code point per code point, contiguous (the common 1:1 case)."""
    import numpy as np

    return np.ascontiguousarray(_lut()[0][:, 0])


@lru_cache(maxsize=1)
def _lut() -> tuple[Any, Any]:
    """(codes, widths): per code point, its fold as up to 3 code points and its length."""
    import numpy as np

    codes = np.zeros((_LUT_SIZE, _LUT_WIDTH), dtype=np.uint32)
    widths = np.zeros(_LUT_SIZE, dtype=np.int64)
    for cp in range(_LUT_SIZE):
        ch = chr(cp)
        f = ch if 0xD800 <= cp <= 0xDFFF else _fold_char(ch)
        if len(f) > _LUT_WIDTH:
            widths[cp] = -1  # marks "use the slow path"
            continue
        widths[cp] = len(f)
        for j, c in enumerate(f):
            codes[cp, j] = ord(c)
    return codes, widths


def _fold_table(text: str) -> tuple[Any, Any] | None:
    """(code points, folded widths) of non-ASCII `text`, or None to take the slow path."""
    import numpy as np  # local: ASCII text never needs it

    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if int(cps.max()) >= _LUT_SIZE:
        return None
    w = _lut()[1][cps]
    if int(w.min()) < 0:
        return None
    return cps, w


def _fold_codes(cps: Any, w: Any) -> str:
    import numpy as np

    if bool((w == 1).all()):
        out = _first()[cps]
    else:
        keep = np.arange(_LUT_WIDTH)[None, :] < w[:, None]
        out = _lut()[0][cps][keep]
    folded: str = out.tobytes().decode("utf-32-le", "surrogatepass")
    return folded


def fold(text: str) -> str:
    """Lowercase ASCII-Latin form of `text` (Cyrillic transliterated, diacritics removed).

    Non-ASCII text is folded through a numpy lookup table: a per-character Python
    loop costs ~1.4 ms per 3 KB article, which capped the detector suite far below
    its throughput target. `_fold_with_offsets_reference` is what it must equal.
    """
    if text.isascii():
        return text.lower()
    table = _fold_table(text)
    if table is None:
        return _fold_with_offsets_reference(text)[0]
    return _fold_codes(*table)


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """Fold `text` and map every folded character back to its source index.

    The returned list has one entry per folded character plus a final sentinel equal
    to len(text), so a folded span [s, e) maps to the source span
    [offsets[s], offsets[e - 1] + 1).
    """
    if text.isascii():
        return text.lower(), [*range(len(text)), len(text)]
    table = _fold_table(text)
    if table is None:
        return _fold_with_offsets_reference(text)
    import numpy as np

    cps, w = table
    offsets: list[int] = np.repeat(np.arange(len(text)), w).tolist()
    offsets.append(len(text))
    return _fold_codes(cps, w), offsets


def _fold_with_offsets_reference(text: str) -> tuple[str, list[int]]:
    """The straightforward per-character fold that `fold_with_offsets` must equal."""
    out: list[str] = []
    offsets: list[int] = []
    for i, c in enumerate(text):
        f = _fold_char(c)
        out.append(f)
        offsets.extend([i] * len(f))
    offsets.append(len(text))
    return "".join(out), offsets


def source_span(offsets: list[int], start: int, end: int) -> tuple[int, int]:
    """Map a folded-text span [start, end) back to the original text."""
    if end <= start:
        return offsets[start], offsets[start]
    return offsets[start], offsets[end - 1] + 1


CYRILLIC_RANGE = ("\u0400", "\u04ff")


def cyrillic_share(text: str) -> float:
    """Share of letters that are Cyrillic (used to tell sr-Cyrl from sr-Latn)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    cyr = sum(1 for c in letters if CYRILLIC_RANGE[0] <= c <= CYRILLIC_RANGE[1])
    return cyr / len(letters)
