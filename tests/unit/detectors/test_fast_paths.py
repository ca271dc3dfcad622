"""Fast paths of the detector suite give exactly what their plain definitions give.

Each optimised route (narrow-table folding, reduceat word hashing, hex-slice band
keys, the host look-up shortcut) is checked against a straightforward reference
on inputs chosen to reach its branches and fallbacks.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np
import pytest

from detectors import domains, minhash
from detectors.domains import _build_hosts, article_hosts
from detectors.learned_features import TOKEN
from detectors.learned_features import words as learned_words
from hybridwatch.events import Article, Source
from hybridwatch.textfold import (
    _fold_aligned_wide,
    _fold_with_offsets_reference,
    fold_aligned,
)

_M64 = (1 << 64) - 1
_WORD_BYTES = set(b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") | set(
    range(128, 256)
)


def _reference_word_hashes(data: bytes) -> list[int]:
    """The documented definition: per run of word bytes, sum(byte_j * POLY**j) mod 2**64."""
    out: list[int] = []
    word: list[int] = []
    for c in [*data, 0]:
        if c in _WORD_BYTES:
            word.append(c)
        elif word:
            out.append(sum(b * pow(minhash._POLY, j, 1 << 64) for j, b in enumerate(word)) & _M64)
            word = []
    return out


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b" ",
        b"a",
        b"alpha",
        b"  alpha",
        b"alpha  ",
        b"ab cd,ef;;gh",
        "nova škola u Нишу".encode(),
        bytes(range(256)),
        b"x" * 5000,
        b"q " * 2100,
    ],
)
def test_word_hashes_equal_the_polynomial_definition(data: bytes) -> None:
    got = minhash.byte_word_hashes(data)
    assert got.dtype == np.uint64
    assert [int(x) for x in got] == _reference_word_hashes(data)


def test_word_hashes_equal_the_definition_on_random_bytes() -> None:
    rng = random.Random(5)
    alphabet = b"ab \n.,_-09z\x80\xc3\xa9"
    for _ in range(300):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        assert [int(x) for x in minhash.byte_word_hashes(data)] == _reference_word_hashes(data)


def _reference_shingles(words: list[int], k: int) -> list[int]:
    if not words:
        return []
    k = min(k, len(words))
    mult = [int(m) for m in minhash._SHINGLE_MULT]
    out = []
    for i in range(len(words) - k + 1):
        acc = sum(words[i + j] * mult[j % 4] for j in range(k)) & _M64
        acc ^= acc >> 29
        acc = acc * int(minhash._MIX) & _M64
        acc ^= acc >> 32
        out.append(acc)
    return sorted(out)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 40])
def test_shingle_hashes_equal_the_definition(k: int, n: int) -> None:
    words = minhash.word_hashes(" ".join(f"w{i % 7}x{i}" for i in range(n)))
    got = minhash.shingle_hashes(words, k)
    assert [int(x) for x in got] == _reference_shingles([int(w) for w in words], k)


def _reference_signature(shingles: list[int], num_perm: int) -> list[int]:
    """Bin by the top bits, minimum per bin, empty bins take the next filled one salted."""
    shift = 64 - (num_perm.bit_length() - 1)
    mins: list[int | None] = [None] * num_perm
    for h in shingles:
        b = h >> shift
        m = mins[b]
        if m is None or h < m:
            mins[b] = h
    filled = [i for i, m in enumerate(mins) if m is not None]
    out = []
    for i, m in enumerate(mins):
        if m is not None:
            out.append(m & 0xFFFFFFFF)
            continue
        nxt = next((j for j in filled if j >= i), filled[0])
        low = mins[nxt]
        assert low is not None
        out.append((low & 0xFFFFFFFF) ^ (((nxt - i) % num_perm) * 0x9E3779B1 & 0xFFFFFFFF))
    return out


@pytest.mark.parametrize("num_perm", [2, 16, 64, 128])
@pytest.mark.parametrize("n_words", [1, 3, 10, 60, 400])
def test_signature_equals_the_one_permutation_definition(num_perm: int, n_words: int) -> None:
    words = minhash.word_hashes(" ".join(f"w{i % 13}v{i}" for i in range(n_words)))
    shingles = minhash.shingle_hashes(words, 3)
    got = minhash.signature(shingles, num_perm)
    assert got.dtype == np.uint32
    assert [int(x) for x in got] == _reference_signature([int(x) for x in shingles], num_perm)


@pytest.mark.parametrize(("bands", "rows"), [(8, 2), (8, 8), (1, 1), (64, 1), (2, 32)])
def test_band_keys_are_the_hex_of_each_bands_first_rows(bands: int, rows: int) -> None:
    sig = minhash.signature(
        minhash.shingle_hashes(minhash.word_hashes("one two three four"), 3), 64
    )
    raw = minhash.to_bytes(sig)
    step = len(raw) // bands
    expected = [raw[i : i + 4 * rows].hex() for i in range(0, step * bands, step)]
    assert minhash.band_keys(raw, bands, rows) == expected


FOLD_SAMPLES = [
    "Priština, Đoković, čćžšđ ČĆŽŠĐ",  # Latin with diacritics: narrow and aligned
    "Shqipëria dhe Çamëria",  # Latin-1 only
    "Влада Србије у Приштини",  # Cyrillic without expansions
    "Љубљана, Њујорк, џемпер, Ђоковић, Ѓорче, Ќе, Ѕвезда",  # ASCII expansions
    "сѐ ѝ ў",  # precomposed Cyrillic
    "Σίσυφος και ΣΟΦΟΣ",  # Greek: folds outside ASCII, wide route
    "中文 and Ниш",  # CJK: beyond the table
    "emoji 😀 Ниш ђ",  # astral: surrogate units take the wide route
    "lone \ud800 surrogate ђ",
    "combining e\u0301 and ﬁ ligature",
    "İstanbul ß Æ œ ø ł",
    "quotes \u201cx\u201d \u2013 dash\u00a0nbsp «y»",
    "ǅ ǈ ǋ № ½ Ⓐ ｱ",
]


@pytest.mark.parametrize("text", FOLD_SAMPLES)
def test_fold_aligned_equals_the_reference_and_the_wide_route(text: str) -> None:
    folded, aligned = fold_aligned(text)
    ref, offsets = _fold_with_offsets_reference(text)
    assert folded == ref
    if aligned:  # aligned promises index i comes from index i (False may be conservative)
        assert offsets[:-1] == list(range(len(text)))
    assert (folded, aligned) == _fold_aligned_wide(text)


def test_fold_aligned_equals_the_wide_route_on_random_text() -> None:
    rng = random.Random(11)
    alphabet = "abcČčĆćŽžŠšĐđљњџђћѓќѕЉЊЏЂЋЃЌЅабвгдежзийклмнопрстуфхцчшщъыьэюяëçΣσς中😀İß\u0301ﬁ "
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        assert fold_aligned(text) == _fold_aligned_wide(text)
        assert fold_aligned(text)[0] == _fold_with_offsets_reference(text)[0]


def _article(url: str, domain: str) -> Article:
    t = datetime(2024, 1, 1, tzinfo=UTC)
    return Article(
        id=f"id-{url}-{domain}",
        url=url,
        title="t",
        text="x",
        published=t,
        fetched=t,
        source=Source(id="s", domain=domain, country="RS"),
    )


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://example.org/1", "site.example"),  # domain nowhere in the URL: shortcut
        ("https://example.org/a/site.example/b", "site.example"),  # domain in the path
        ("https://example.org/?ref=site.example", "site.example"),  # domain in the query
        ("https://www.site.example/x", "site.example"),  # same host: no second ref
        ("https://news.site.example/x", "site.example"),
        ("https://example.org", "site.example"),  # no path at all
        ("//example.org/x", "other.example"),
        ("https://example.org/x", ""),
    ],
)
def test_article_hosts_equal_building_them_from_the_whole_url(url: str, domain: str) -> None:
    assert article_hosts(_article(url, domain)) == _build_hosts(url, domain)


def test_article_hosts_of_a_batch_asked_twice_in_turn_equal_the_definition() -> None:
    # the suite asks for every article of a batch (reputation), then again (look-alike)
    batch = [
        _article(f"https://host{i % 7}.example/{i}?ref=site{i % 3}.example", f"site{i % 3}.example")
        for i in range(300)
    ]
    first = [article_hosts(a) for a in batch]
    second = [article_hosts(a) for a in batch]
    assert first == second == [_build_hosts(a.url, a.source.domain) for a in batch]


def test_article_hosts_remember_a_bounded_number_of_articles() -> None:
    for i in range(domains.RECENT_ARTICLES + 50):
        article_hosts(_article(f"https://example.org/{i}", "site.example"))
    assert len(domains._RECENT) <= domains.RECENT_ARTICLES


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nato bombed serbia in 1999",
        "A-b_c  d\te\nf\x00g.h,i;j:k!l?m(n)o[p]q{r}s'u\"v/w\\x|y~z`0@1#2$3%4^5&6*7+8=9<>",
        "mixed ascii and šđčćž and кириллица 12",
        "\x7f\x1f \x0b\x0c\x1c\x1d\x1e\x85\xa0 tail",
    ],
)
def test_learned_words_equal_the_token_regex(text: str) -> None:
    assert learned_words(text) == TOKEN.findall(text)


def test_learned_words_equal_the_token_regex_on_random_text() -> None:
    rng = random.Random(11)
    alphabet = [chr(c) for c in range(128)] + list("šđžäöüßкирил€“”\u2028\u00a0")
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        assert learned_words(text) == TOKEN.findall(text)
        ascii_only = text.encode("ascii", "ignore").decode()
        assert learned_words(ascii_only) == TOKEN.findall(ascii_only)
