"""Features of the learned detector, shared by training and run time.

Why a featurizer of our own instead of scikit-learn's HashingVectorizer: the same
function must produce the same feature indices when `hybridwatch train` fits the
model and when a runtime scores an article, and at run time it has to cost tens of
microseconds. Tokens come from the folded text (hybridwatch.textfold: script,
diacritics and case folded), so Cyrillic and Latin spellings share features; each
distinct token is hashed once with CRC-32 (deterministic across processes, unlike
Python's `hash`) and cached; bigram indices are combined from the two token hashes
with integer arithmetic in numpy.

Feature values are binary (a feature is present or not) and the vector is
L2-normalised, so a linear model's score is `sum(w[present]) / sqrt(n_present)`.
Only the first `MAX_CHARS` characters of an article are read (title and lede): a
claim is stated there, the training claims are one or two sentences, and the cap
bounds the cost (halving it from 3,000 characters took ~45 % off the detector).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

N_BITS = 20
MAX_CHARS = 1500
TOKEN = re.compile(r"[a-z0-9]+")
_NOT_TOKEN = str.maketrans({c: " " for c in range(128) if not re.fullmatch(TOKEN, chr(c))})
"""Every ASCII character outside [a-z0-9] -> space."""


def words(folded: str) -> list[str]:
    """`TOKEN.findall(folded)`, the same list: on ASCII text (almost every folded text)
    a C-level translate + split, ~1/3 cheaper than the regex."""
    if folded.isascii():
        return folded.translate(_NOT_TOKEN).split()
    return TOKEN.findall(folded)


_BIGRAM_SALT = np.uint64(0x9E3779B97F4A7C15)
_CACHE_LIMIT = 400_000
"""Tokens whose hash the Featurizer remembers before it starts afresh. At the bound the
cache holds ~52 MB (tracemalloc, 400k tokens of 4-16 characters): this is the ~53 MB a
worker grows after warm-up in the 1M soak (README "Reliability and security"), and the
drop near the end of the run is the cache being cleared -- bounded, not a leak."""

ENGLISH_MARKERS = frozenset(
    [
        "the",
        "of",
        "and",
        "is",
        "that",
        "for",
        "with",
        "by",
        "was",
        "are",
        "from",
        "has",
        "have",
        "will",
        "this",
        "an",
        "not",
        "which",
        "their",
        "they",
        "were",
        "been",
        "who",
        "would",
        "its",
        "it",
        "be",
        "at",
        "as",
        "after",
        "than",
        "into",
        "about",
        "his",
        "her",
        "our",
        "we",
        "you",
        "there",
        "what",
        "when",
        "said",
        "can",
        "could",
        "should",
    ]
)
"""Frequent English function words that are not also frequent words of the region's
languages after folding ("to", "on", "i", "a", "no" and "me" are left out on purpose)."""

BCMS_MARKERS = frozenset(
    " ".join(
        (
            "je i u na da se za od su sa koji koja koje kao iz po ali bi te ili sto sta ce ne",
            "biti bio bila nije jos samo vec kada gdje gde prema zbog nakon pred takodje",
        )
    ).split()
)
"""Frequent function words of Serbian, Croatian, Bosnian and Montenegrin, folded."""
MK_MARKERS = frozenset(
    ["vo", "so", "ke", "koj", "kon", "ova", "toa", "od", "deka", "bese", "sme", "ste", "nie", "tie"]
)
"""Frequent function words of Macedonian, folded (some are shared with bcms)."""
SQ_MARKERS = frozenset(
    [
        "dhe",
        "te",
        "ne",
        "per",
        "nga",
        "qe",
        "ka",
        "nje",
        "edhe",
        "si",
        "por",
        "jane",
        "eshte",
        "kane",
        "kete",
        "ky",
        "kjo",
        "mbi",
        "keto",
    ]
)
"""Frequent function words of Albanian, folded."""
REGIONAL_MARKERS = BCMS_MARKERS | MK_MARKERS | SQ_MARKERS
"""Frequent function words of sr/hr/bs/cnr, mk and sq, folded."""
GATE_WORDS = 200
"""Words (from the start: title and lede) counted to decide the language."""
_EN, _REG, _SR, _MK, _SQ = 1, 2, 4, 8, 16
_MASK: dict[str, int] = {}
for _w in ENGLISH_MARKERS | REGIONAL_MARKERS:
    _MASK[_w] = (
        (_EN if _w in ENGLISH_MARKERS else 0)
        | (_REG if _w in REGIONAL_MARKERS else 0)
        | (_SR if _w in BCMS_MARKERS and _w not in MK_MARKERS else 0)
        | (_MK if _w in MK_MARKERS else 0)
        | (_SQ if _w in SQ_MARKERS else 0)
    )


@dataclass(frozen=True)
class Language:
    """What the function words of a text's first GATE_WORDS words say."""

    english: bool
    """More English function words than regional ones."""
    regional: str | None
    """"sr" (any of sr/hr/bs/cnr), "mk" or "sq" by the most function words of its own;
    None when no group has any or two tie (the concept lexicon then tries them all)."""
    markers: int
    """Function words of either side found."""


def read_language(words: Sequence[str]) -> Language:
    """One pass over the first GATE_WORDS words (a C-level Counter of marker masks).

    Cheap, needs no model, and never looks at the declared language (feeds and batch
    files often get it wrong).
    """
    masks = Counter(map(_MASK.get, words[:GATE_WORDS]))
    en = reg = sr = mk = sq = 0
    for mask, n in masks.items():
        if mask is None:
            continue
        en += n if mask & _EN else 0
        reg += n if mask & _REG else 0
        sr += n if mask & _SR else 0
        mk += n if mask & _MK else 0
        sq += n if mask & _SQ else 0
    ranked = sorted(((sr, "sr"), (mk, "mk"), (sq, "sq")), reverse=True)
    regional = None if ranked[0][0] == 0 or ranked[0][0] == ranked[1][0] else ranked[0][1]
    return Language(en > reg, regional, en + reg)


def is_english(tokens: Sequence[str]) -> bool:
    """Does the text read as English rather than a language of the region?"""
    return read_language(tokens).english


def regional_language(tokens: Sequence[str]) -> str | None:
    """The regional lexicon group to read the text with (see `Language.regional`)."""
    return read_language(tokens).regional


@dataclass(frozen=True)
class Tokens:
    """The folded text's tokens (within MAX_CHARS) and their feature hashes."""

    words: list[str]
    hashes: npt.NDArray[np.uint64]


class Featurizer:
    """Folded text -> sorted unique feature indices (word unigrams and bigrams)."""

    def __init__(self, n_bits: int = N_BITS) -> None:
        if not 8 <= n_bits <= 26:
            raise ValueError(f"n_bits must be in 8..26, got {n_bits}")
        self.n_bits = n_bits
        self.mask = np.uint64((1 << n_bits) - 1)
        self._cache: dict[str, int] = {}

    def token_hash(self, token: str) -> int:
        h = self._cache.get(token)
        if h is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            h = zlib.crc32(token.encode("utf-8"))
            self._cache[token] = h
        return h

    def tokens(self, folded: str) -> Tokens:
        return self.hashed(TOKEN.findall(folded[:MAX_CHARS]))

    def hashed(self, words: list[str]) -> Tokens:
        cache = self._cache
        get = cache.get
        hashes = [get(w) for w in words]
        if None in hashes:
            hashes = [self.token_hash(w) for w in words]
        return Tokens(words, np.array(hashes, dtype=np.uint64))

    def indices(self, tokens: Tokens) -> npt.NDArray[np.int64]:
        """Sorted unique feature indices: every unigram and every adjacent bigram."""
        h = tokens.hashes
        if h.size == 0:
            return np.empty(0, dtype=np.int64)
        uni = h & self.mask
        with np.errstate(over="ignore"):
            bi = ((h[:-1] * _BIGRAM_SALT) ^ (h[1:] + np.uint64(1))) & self.mask
        return np.unique(np.concatenate([uni, bi])).astype(np.int64)

    def bigram_index(self, a: str, b: str) -> int:
        ha = np.uint64(self.token_hash(a))
        hb = np.uint64(self.token_hash(b))
        with np.errstate(over="ignore"):
            return int(((ha * _BIGRAM_SALT) ^ (hb + np.uint64(1))) & self.mask)

    def unigram_index(self, a: str) -> int:
        return int(np.uint64(self.token_hash(a)) & self.mask)
