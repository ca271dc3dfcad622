"""Stable MinHash over word shingles, vectorised with numpy.

Why not datasketch or Python's hash(): the LSH index lives in the runtime's state
(a Faust table in production) and outlives the process, so a signature computed
after a restart must equal one computed before it. Python's str hash is salted
per process, so everything here is plain integer arithmetic with fixed constants:

  * every word is hashed with CRC-32 over its UTF-8 bytes;
  * k consecutive word hashes are combined into a shingle hash and mixed;
  * the signature is a one-permutation MinHash (bins by the top bits, minimum per
    bin, densified), which costs one sort instead of num_perm hash passes.

A signature is a uint32 vector; `to_hex`/`from_hex` give a compact JSON form.
"""

from __future__ import annotations

import zlib
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
_SPACE_OUT = bytes(c if c in _WORD_BYTES else 0x20 for c in range(256))
"""Byte table: word bytes (ASCII letters, digits, any byte of a non-ASCII letter) stay,
everything else becomes a space, so bytes.split() yields the words."""


def word_hashes(text: str, max_bytes: int = 4096) -> Any:
    """Stable hash (CRC-32, as uint64) of every word of already folded `text`, in order.

    Splitting bytes and CRC-32 both run in C, so this costs a few microseconds; a
    32-bit word hash is plenty because shingles combine three words into 64 bits.
    """
    words = text.encode("utf-8")[:max_bytes].translate(_SPACE_OUT).split()
    return np.array(list(map(zlib.crc32, words)), dtype=U64)


def shingle_hashes(words: Any, k: int) -> Any:
    """Sorted distinct hashes of every run of k consecutive words (fewer words: one shingle)."""
    n = int(words.size)
    if n == 0:
        return words
    if n < k:
        k = n
    m = n - k + 1
    acc = words[:m] * _SHINGLE_MULT[0]
    for i in range(1, k):
        acc += words[i : m + i] * _SHINGLE_MULT[i % 4]
    acc ^= acc >> _S29
    acc *= _MIX
    acc ^= acc >> _S32
    acc.sort()
    if m > 1:
        keep = np.empty(m, dtype=bool)
        keep[0] = True
        np.not_equal(acc[1:], acc[:-1], out=keep[1:])
        acc = acc[keep]
    return acc


@lru_cache(maxsize=8)
def _bins(num_perm: int) -> tuple[Any, Any, Any]:
    shift = U64(64 - (num_perm.bit_length() - 1))
    bins = np.arange(num_perm, dtype=U64)
    return shift, bins, bins << shift


def signature(shingles: Any, num_perm: int) -> Any:
    """One-permutation MinHash signature (uint32[num_perm]) of sorted distinct shingle hashes.

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
    idx = np.searchsorted(shingles, bounds)
    n = shingles.size
    safe = np.minimum(idx, n - 1)
    vals = shingles[safe]
    filled = (vals >> shift) == bins
    low = vals.astype(np.uint32)  # keeps the low 32 bits
    if bool(filled.all()):
        return low
    # densify: each empty bin takes the next filled bin (circularly), salted by the gap
    pos = np.flatnonzero(filled)
    order = np.arange(num_perm)
    nxt_i = np.searchsorted(pos, order) % pos.size
    nxt = pos[nxt_i]
    gap = ((nxt - order) % num_perm).astype(np.uint32)
    out: Any = low[nxt] ^ (gap * _GOLD32)
    return out


def band_hashes(sig: Any, bands: int) -> list[str]:
    """One hex key per band: the band's rows written out (bands must divide the length)."""
    raw = sig.astype(">u4").tobytes()
    step = len(raw) // bands
    return [raw[i : i + step].hex() for i in range(0, len(raw), step)]


def similarity(sig_a: Any, sig_b: Any) -> float:
    """Estimated Jaccard similarity: the share of equal signature slots."""
    return float(np.count_nonzero(sig_a == sig_b)) / float(sig_a.size)


def similarities(sig: Any, others_hex: list[str]) -> list[float]:
    """Estimated Jaccard of `sig` with each hex-encoded signature, in one vectorised pass."""
    mat = np.frombuffer(bytes.fromhex("".join(others_hex)), dtype=">u4").reshape(
        len(others_hex), -1
    )
    shares: list[float] = (np.count_nonzero(mat == sig, axis=1) / sig.size).tolist()
    return shares


def to_hex(sig: Any) -> str:
    return str(sig.astype(">u4").tobytes().hex())


def from_hex(value: str) -> Any:
    return np.frombuffer(bytes.fromhex(value), dtype=">u4").astype(np.uint32)
