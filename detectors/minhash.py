"""Stable MinHash over word shingles, vectorised with numpy.

Why not datasketch or Python's hash(): the LSH index lives in the runtime's state
(a Faust table in production) and outlives the process, so a signature computed
after a restart must equal one computed before it. Python's str hash is salted
per process, so everything here is plain integer arithmetic with fixed constants:

  * every word is hashed (a polynomial over its UTF-8 bytes modulo 2**64, all words
    of a text in one vectorised pass);
  * k consecutive word hashes are combined into a shingle hash and mixed;
  * the signature is a one-permutation MinHash (bins by the top bits, minimum per
    bin, densified), which costs one sort instead of num_perm hash passes.

A signature is a uint32 vector; `to_text`/`from_text` give a compact JSON form (base64).
"""

from __future__ import annotations

from binascii import a2b_base64, b2a_base64
from functools import lru_cache
from typing import Any

import numpy as np

U64 = np.uint64
_SHINGLE_MULT = tuple(
    U64(m) for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5)
)
_MIX = U64(0xBF58476D1CE4E5B9)
_S29, _S31, _S32 = U64(29), U64(31), U64(32)
_GOLD32 = np.uint32(0x9E3779B1)

_WORD_BYTES = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" + bytes(
    range(128, 256)
)
_ZERO_OUT = bytes(c if c in _WORD_BYTES else 0 for c in range(256))
"""Byte table: word bytes (ASCII letters, digits, any byte of a non-ASCII letter) stay,
everything else becomes 0, so words are the runs of non-zero bytes and separators add
nothing to a word's hash."""

_M64 = (1 << 64) - 1
_POLY = 0x100000001B3
"""Odd, so it has an inverse modulo 2**64."""
_POLY_INV = pow(_POLY, -1, 1 << 64)


@lru_cache(maxsize=4)
def _powers(n: int) -> tuple[Any, Any]:
    """POLY**i and POLY**-i modulo 2**64 for i < n (numpy uint64 arithmetic wraps)."""
    pw = [1] * n
    inv = [1] * n
    for i in range(1, n):
        pw[i] = pw[i - 1] * _POLY & _M64
        inv[i] = inv[i - 1] * _POLY_INV & _M64
    return np.array(pw, dtype=U64), np.array(inv, dtype=U64)


def word_hashes(text: str, max_bytes: int = 4096) -> Any:
    """Stable 64-bit hash of every word of already folded `text`, in order.

    A word's hash is the polynomial sum(byte_j * POLY**j) over its UTF-8 bytes,
    modulo 2**64. Every word is hashed at once from one prefix sum over the buffer:
    the prefix-sum difference over [s, e) is the word's polynomial shifted by
    POLY**s, which multiplying by POLY**-s undoes. That is about a dozen numpy calls
    whatever the length, instead of a Python-level CRC call per word (~25 us for a
    3 KB article). Plain integer arithmetic, no Python hash(): identical in every
    process. Shingles mix these hashes further, so the polynomial need not be strong.
    """
    return byte_word_hashes(text.encode("utf-8")[:max_bytes])


def byte_word_hashes(data: bytes) -> Any:
    """`word_hashes` of UTF-8 bytes already cut to length.

    Separator bytes are zeroed, so a word's polynomial is the sum of `byte * POLY**pos`
    from its first byte up to the next word's first byte (the separators between add
    nothing): one `add.reduceat` over the weighted bytes at the word starts, then a
    multiplication by POLY**-start. The sums wrap modulo 2**64 exactly as the
    definition does, so the hashes are the same whatever way they are summed.
    """
    raw = b"\0" + data.translate(_ZERO_OUT)  # a leading separator: every word has a start
    b = np.frombuffer(raw, dtype=np.uint8)
    word = b != 0
    starts = (word[1:] > word[:-1]).nonzero()[0]  # data index of each word's first byte
    if not starts.size:
        return np.empty(0, dtype=U64)
    n = len(data)
    pw, inv = _powers(1 << max(12, (n + 1).bit_length()))  # a handful of sizes, cached
    out: Any = _add_at(b[1:] * pw[:n], starts)
    out *= inv.take(starts)
    return out


_add_at = np.add.reduceat


def shingle_hashes(words: Any, k: int) -> Any:
    """Sorted hashes of every run of k consecutive words (fewer words: one shingle).

    Repeated shingles stay in: a repeat cannot change the minimum of its bin, and
    removing them would cost three more numpy calls per article.
    """
    n = int(words.size)
    if n == 0:
        return words
    if n < k:
        k = n
    m = n - k + 1
    acc = words[:m] * _SHINGLE_MULT[0]
    tmp = np.empty_like(acc)
    for i in range(1, k):
        acc += _mul(words[i : m + i], _SHINGLE_MULT[i % 4], out=tmp)
    acc ^= _shr(acc, _S29, out=tmp)
    acc *= _MIX
    acc ^= _shr(acc, _S32, out=tmp)
    acc.sort()
    return acc


_mul = np.multiply
_shr = np.right_shift
_all = np.logical_and.reduce


@lru_cache(maxsize=8)
def _bins(num_perm: int) -> tuple[Any, Any, Any]:
    shift = U64(64 - (num_perm.bit_length() - 1))
    bins = np.arange(num_perm, dtype=U64)
    return shift, bins, bins << shift


def signature(shingles: Any, num_perm: int) -> Any:
    """One-permutation MinHash signature (uint32[num_perm]) of sorted shingle hashes.

    The mixed shingle hash is the single permutation; its top log2(num_perm) bits pick
    a bin and the smallest hash in each bin is that bin's minimum, found for every bin
    at once with one binary search because the hashes are sorted. Empty bins (short
    texts) borrow the next non-empty bin's value, salted by distance ("densification"),
    so two equal sets still get equal signatures and the estimate stays unbiased.
    One sort instead of num_perm hash passes: the cost of near-duplicate search stays
    flat whatever num_perm is.
    """
    bits = num_perm.bit_length() - 1
    if num_perm != 1 << bits or not 1 <= bits <= 16:
        raise ValueError(f"num_perm must be a power of two between 2 and 65536, got {num_perm}")
    shift, bins, bounds = _bins(num_perm)
    vals = shingles.take(shingles.searchsorted(bounds), mode="clip")
    filled = (vals >> shift) == bins
    low = vals.astype(np.uint32)  # keeps the low 32 bits
    if _all(filled):
        return low
    # densify: each empty bin takes the next filled bin (circularly), salted by the gap
    pos = filled.nonzero()[0]
    order = _order(num_perm)
    nxt = pos.take(pos.searchsorted(order) % pos.size)
    gap = ((nxt - order) % num_perm).astype(np.uint32)
    out: Any = low.take(nxt) ^ (gap * _GOLD32)
    return out


@lru_cache(maxsize=8)
def _order(num_perm: int) -> Any:
    return np.arange(num_perm)


def to_bytes(sig: Any) -> bytes:
    """The signature as big-endian uint32 bytes (what band keys and `to_text` are made of)."""
    return bytes(sig.astype(">u4").tobytes())


def band_keys(raw: bytes, bands: int, rows: int) -> list[str]:
    """One hex key per band: the first `rows` values of each of `bands` equal blocks.

    Works on `to_bytes` output (plain bytes slicing, no numpy call), so a stored
    signature gives its bucket keys back cheaply when its slot is deleted.
    """
    step = 2 * (len(raw) // bands)
    width = 8 * rows
    text = raw.hex()  # one conversion, then slices of it (hex digits pair with bytes)
    return [text[i : i + width] for i in range(0, step * bands, step)]


def similarity(sig_a: Any, sig_b: Any) -> float:
    """Estimated Jaccard similarity: the share of equal signature slots."""
    return float(np.count_nonzero(sig_a == sig_b)) / float(sig_a.size)


def similarities(sig: Any, others: list[str]) -> list[float]:
    """Estimated Jaccard of `sig` with each `to_text` signature, in one vectorised pass."""
    mat = np.frombuffer(b"".join(map(a2b_base64, others)), dtype=">u4").reshape(len(others), -1)
    shares: list[float] = (np.count_nonzero(mat == sig, axis=1) / sig.size).tolist()
    return shares


def to_text(raw: bytes) -> str:
    """Compact JSON-safe form of `to_bytes` output (base64, no newline)."""
    return b2a_base64(raw, newline=False).decode("ascii")


def from_text(value: str) -> bytes:
    """`to_bytes` output back from `to_text`."""
    return a2b_base64(value)


def to_hex(sig: Any) -> str:
    return str(sig.astype(">u4").tobytes().hex())


def from_hex(value: str) -> Any:
    return np.frombuffer(bytes.fromhex(value), dtype=">u4").astype(np.uint32)
