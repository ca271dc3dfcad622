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

import codecs
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
_NOT_ONE = 0xFFFFFFFF
"""Entry of the one-to-one table for a code point that does not fold to one character."""


@lru_cache(maxsize=1)
def _lut() -> tuple[Any, Any]:
    """(codes, widths): per code point, its fold as up to 3 code points and its length."""
    import numpy as np

    codes = np.zeros((_LUT_SIZE, _LUT_WIDTH), dtype=np.uint32)
    widths = np.zeros(_LUT_SIZE, dtype=np.int64)
    for cp in range(_LUT_SIZE):
        f = _fold_cp(cp)
        if len(f) > _LUT_WIDTH:
            widths[cp] = -1  # marks "use the slow path"
            continue
        widths[cp] = len(f)
        for j, c in enumerate(f):
            codes[cp, j] = ord(c)
    return codes, widths


def _fold_cp(cp: int) -> str:
    return chr(cp) if 0xD800 <= cp <= 0xDFFF else _fold_char(chr(cp))


@lru_cache(maxsize=1)
def _one_to_one() -> Any:
    """Per code point its one-character fold, or `_NOT_ONE`; one extra `_NOT_ONE`
    entry at the end catches every code point >= `_LUT_SIZE` (indices are clipped)."""
    import numpy as np

    codes, widths = _lut()
    table = np.full(_LUT_SIZE + 1, _NOT_ONE, dtype=np.uint32)
    one = widths == 1
    table[:_LUT_SIZE][one] = codes[one, 0]
    return table


@lru_cache(maxsize=1)
def _expansions() -> dict[int, str]:
    """Code points folding to zero or several characters that a plain `str.replace`
    may pre-fold: each output character folds to itself one-to-one, so replacing
    the code point by its fold and then folding one-to-one gives the same text."""
    table = _one_to_one()
    out: dict[int, str] = {}
    _, widths = _lut()
    for cp in range(_LUT_SIZE):
        if widths[cp] in (0, 2, 3):
            f = _fold_cp(cp)
            if all(ord(c) < _LUT_SIZE and int(table[ord(c)]) == ord(c) for c in f):
                out[cp] = f
    return out


def _max(array: Any) -> Any:
    """`array.max()` without numpy's Python-level wrapper (a few µs per call)."""
    import numpy as np

    return np.maximum.reduce(array)


def _code_points(text: str) -> Any:
    import numpy as np

    return np.frombuffer(codecs.utf_32_le_encode(text, "surrogatepass")[0], dtype=np.uint32)


def fold(text: str) -> str:
    """Lowercase ASCII-Latin form of `text` (Cyrillic transliterated, diacritics removed).

    Non-ASCII text is folded through a numpy lookup table (a per-character Python
    loop costs ~1.4 ms per 3 KB article): one gather maps every code point that
    folds to one character; the few letters folding to two or none (Serbian and
    Macedonian љ њ џ ђ ѓ ќ ѕ, soft signs, combining marks) are first replaced by
    their fold with `str.replace`, which is far cheaper than a variable-width
    gather. `_fold_with_offsets_reference` is what it must equal.
    """
    return fold_aligned(text)[0]


def fold_aligned(text: str) -> tuple[str, bool]:
    """`fold(text)` and whether it is aligned: every character folded to exactly one,
    so folded index i comes from text index i and no offset map is needed (ASCII,
    and Latin text with diacritics, i.e. most articles).

    Text folding to ASCII (Latin with diacritics, Serbian and Macedonian Cyrillic:
    nearly every article) takes a narrow route: its UTF-16 code units index a
    64 Ki-entry byte table (no clipping, a quarter of the memory traffic) and the
    result is ASCII bytes, decoded with a copy. A unit whose fold is not one ASCII
    character is marked 0xFF; when the marked units are all letters with an ASCII
    expansion (љ њ џ ђ ѓ ќ ѕ), they are replaced first as in the wide route. Anything
    else (Greek, CJK, astral characters, whose surrogate units are marked too) takes
    the wide route, `_fold_aligned_wide`, so the result is the same either way.
    """
    if text.isascii():
        return text.lower(), True
    import numpy as np

    table = _ascii_table()
    units = np.frombuffer(codecs.utf_16_le_encode(text, "surrogatepass")[0], dtype=np.uint16)
    out = table.take(units)
    raw = out.tobytes()
    if b"\xff" not in raw:
        return raw.decode("ascii"), True
    expansions = _ascii_expansions()
    replaced = text
    for cp in sorted(set(units[out == 0xFF].tolist())):
        f = expansions.get(cp)
        if f is None:  # a fold that is not ASCII, or none we can pre-fold: wide route
            return _fold_aligned_wide(text)
        replaced = replaced.replace(chr(cp), f)
    units = np.frombuffer(codecs.utf_16_le_encode(replaced, "surrogatepass")[0], dtype=np.uint16)
    raw = table.take(units).tobytes()
    if b"\xff" in raw:
        return _fold_aligned_wide(text)
    return raw.decode("ascii"), False


@lru_cache(maxsize=1)
def _ascii_table() -> Any:
    """Per UTF-16 code unit: its one-to-one fold when that is one ASCII character, else
    0xFF (folds to several or none, folds outside ASCII, units >= `_LUT_SIZE`)."""
    import numpy as np

    codes, widths = _lut()
    table = np.full(1 << 16, 0xFF, dtype=np.uint8)
    one = (widths == 1) & (codes[:, 0] < 0x80)
    table[:_LUT_SIZE][one] = codes[one, 0]
    return table


@lru_cache(maxsize=1)
def _ascii_expansions() -> dict[int, str]:
    """The `_expansions` whose replacement text is ASCII."""
    return {cp: f for cp, f in _expansions().items() if f.isascii()}


def _fold_aligned_wide(text: str) -> tuple[str, bool]:
    """`fold_aligned` through the full code point table (any fold, any code point)."""
    table = _one_to_one()
    out = table.take(_code_points(text), mode="clip")
    aligned = int(_max(out)) != _NOT_ONE
    if not aligned:
        cps = _code_points(text)
        expansions = _expansions()
        for cp in sorted(set(cps[out == _NOT_ONE].tolist())):
            f = expansions.get(cp)
            if f is None:  # outside the table or an odd NFKD expansion: exact slow path
                return _fold_with_offsets_reference(text)[0], False
            text = text.replace(chr(cp), f)
        out = table.take(_code_points(text), mode="clip")
    folded: str = codecs.utf_32_le_decode(out.tobytes(), "surrogatepass", True)[0]
    return folded, aligned


def _widths(text: str) -> tuple[Any, Any] | None:
    """(code points, folded widths) of `text`, or None when it needs the slow path."""
    cps = _code_points(text)
    if int(_max(cps)) >= _LUT_SIZE:
        return None
    w = _lut()[1][cps]
    if int(w.min()) < 0:
        return None
    return cps, w


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """Fold `text` and map every folded character back to its source index.

    The returned list has one entry per folded character plus a final sentinel equal
    to len(text), so a folded span [s, e) maps to the source span
    [offsets[s], offsets[e - 1] + 1).
    """
    if text.isascii():
        return text.lower(), [*range(len(text)), len(text)]
    offsets = fold_offsets(text)
    if offsets is None:
        return _fold_with_offsets_reference(text)
    return fold(text), offsets.tolist()


def fold_offsets(text: str) -> Any:
    """`fold_with_offsets(text)[1]` as a numpy int64 array, or None for the slow path.

    Detectors only need two entries of it per evidence span, so they index the
    array instead of building a Python list of every character's offset.
    """
    import numpy as np

    if not text:
        return np.zeros(1, dtype=np.int64)
    table = _widths(text)
    if table is None:
        return None
    _, w = table
    return np.concatenate((np.repeat(np.arange(len(text)), w), [len(text)]))


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
