"""The known-claim index: hashed character 4-grams and word stems of debunked claims.

Pure code (no file or network I/O): `build_index` turns claim texts into the bytes
of an index file, `ClaimIndex.from_bytes` reads them back and searches. The file
holds derived numbers only - hashed features, their idf weights, per-claim lists
of feature numbers - plus each claim's id, public URL and date, never its text.

Features, all on folded text (`hybridwatch.textfold`, so script, diacritics and case
do not matter) cut into words joined by single spaces (`token_stream`):

- **character 4-grams** (" nat", "nato", "ato " ...), hashed to `FEATURE_BITS` bits.
  An ASCII 4-gram is its four bytes read as a big-endian uint32, mixed by a
  multiplicative hash and cut to 20 bits, so a whole article's n-grams are hashed
  by a few numpy operations; other 4-grams take blake2b's first four bytes, then
  the same mix. Weights: binary tf x idf, L2-normalised; similarity = cosine.
- **word stems**: the first `STEM_CHARS` characters of every word (inflection
  changes the ending), hashed (blake2b); used for *coverage*, the idf-weighted
  share of the claim's stems the article contains. A cosine on 4-grams alone
  rewards shared frames ("X is doing everything to destroy Y"); coverage asks
  whether the claim's own content words (actors, objects) are there too.

Cutting to 20 bits merges some n-grams (the vocabulary of 12,000 claims is ~50,000
4-grams over a million buckets; an article's n-gram unknown to every claim lands on
a claim's bucket ~5 % of the time, a little noise in the cosine, none in the
coverage), makes the lookup one gather in a 4 MB table, and makes the mapping
many-to-one. It is
not encryption: the file holds no text, but someone who hashes every plausible
4-gram and stem could guess which ones a claim holds and piece fragments together.
What ships is what the training data's licence allows - derived numbers.

Search is exact and fast at database scale. A match needs both thresholds, so
candidates come from the word stems (an article has ~40, a 4-gram list would have
~250): per claim text only its rarest stems - enough that an article holding none
of them cannot reach the coverage threshold - are in the inverted lists (prefix
filtering), so the long lists of words like "the" are never walked. Candidates get
their exact coverage, the survivors their exact cosine. Before any of that a
Cauchy-Schwarz bound on the cosine (the article's n-grams unknown to the index
carry the highest idf) rules out most articles in languages no claim is written in.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from detectors.matcher import token_stream, token_streams

NGRAM = 4
FEATURE_BITS = 20
STEM_CHARS = 5
MIN_WORD = 2
CLAIM_CHARS = 400
"""Claim texts are cut to their first 400 characters (excerpts run to 7,000)."""
COVERAGE_FLOOR = 0.5
"""Stem lists are pruned (prefix filter) for coverage thresholds >= this; a lower one
walks every list (exact too, only slower)."""
FORMAT = 3
MAGIC = b"HWCLAIMS3\n"
_MIX = np.uint32(0x9E3779B1)
_SLACK = 1e-4
"""Margin for float rounding in every bound: a bound never rules out a real match."""

Array = Any  # numpy arrays (numpy's own generics add nothing mypy can check here)


class ClaimIndexError(ValueError):
    """An index file is not an index of this format, or is damaged."""


# --------------------------------------------------------------------------- features


def _mix(codes: Array) -> Array:
    mixed = codes.astype(np.uint32) * _MIX  # wraps modulo 2**32
    return mixed >> np.uint32(32 - FEATURE_BITS)


def _code(gram: str) -> int:
    if gram.isascii():
        return int.from_bytes(gram.encode("ascii"), "big")
    return int.from_bytes(hashlib.blake2b(gram.encode("utf-8"), digest_size=4).digest(), "big")


def stream_of(folded: str, limit: int) -> str:
    """The token stream (" w1 w2 ") of the first `limit` characters of folded text."""
    return token_stream(folded[:limit])


def gram_features(stream: str) -> Array:
    """Sorted distinct hashed 4-gram features (uint32) of a token stream."""
    if len(stream) < NGRAM:
        return np.zeros(0, dtype=np.uint32)
    if stream.isascii():
        raw = stream.encode("ascii")
        view = np.ndarray((len(raw) - NGRAM + 1,), dtype=">u4", buffer=raw, strides=(1,))
        return np.unique(_mix(view.astype(np.uint32)))
    grams = {stream[i : i + NGRAM] for i in range(len(stream) - NGRAM + 1)}
    return np.unique(_mix(np.array([_code(g) for g in grams], dtype=np.uint32)))


_MIX64 = np.uint64(0x9E3779B97F4A7C15)


def stem_code(word: str) -> int:
    """Hashed stem (first `STEM_CHARS` characters) of one folded word."""
    stem = word[:STEM_CHARS]
    if stem.isascii():
        x = int.from_bytes(stem.encode("ascii"), "big")
        return ((x * 0x9E3779B97F4A7C15) % (1 << 64)) >> 32
    return int.from_bytes(hashlib.blake2b(stem.encode("utf-8"), digest_size=4).digest(), "big")


def stem_features(stream: str) -> Array:
    """Sorted distinct hashed word stems (uint32) of a token stream."""
    if stream.isascii():
        return np.unique(_ascii_stems(stream.encode("ascii"))[0])
    codes = {stem_code(w) for w in stream.split() if len(w) >= MIN_WORD}
    return np.array(sorted(codes), dtype=np.uint32)


def _ascii_stems(raw: bytes) -> tuple[Array, Array]:
    """Hashed stems of the words of ASCII token-stream bytes, and each word's start.

    A word's first up-to-five bytes, read big-endian, are its stem's number (the
    same as `stem_code`), found for every word at once with an 8-byte strided view.
    """
    b = np.frombuffer(raw, dtype=np.uint8)
    if len(b) < 2:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64)
    word = b != 32
    starts = np.flatnonzero(word[1:] & ~word[:-1]) + 1
    ends = np.flatnonzero(word[:-1] & ~word[1:]) + 1
    if word[0]:
        starts = np.concatenate(([0], starts))
    if word[-1]:
        ends = np.append(ends, len(b))
    lens = ends - starts
    keep = lens >= MIN_WORD
    starts, lens = starts[keep], lens[keep]
    padded = raw + bytes(8)
    view = np.ndarray((len(raw),), dtype=">u8", buffer=padded, strides=(1,))
    first8 = view[starts].astype(np.uint64)
    shift = (8 * (8 - np.minimum(lens, STEM_CHARS))).astype(np.uint64)
    stems = (first8 >> shift) * _MIX64 >> np.uint64(32)
    return stems.astype(np.uint32), starts


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class ClaimText:
    """One text stating a claim: a title, a summary or an excerpt of a flagged article."""

    claim_id: str
    text: str
    kind: str = "text"
    url: str | None = None
    date: str | None = None
    source: str = ""


def _idf(df: Array, n_docs: int) -> Array:
    return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)


def _doc_freq(vocab: Array, docs: Sequence[Array]) -> Array:
    """For each vocabulary entry, in how many docs (sorted distinct arrays) it occurs."""
    if not docs:
        return np.zeros(len(vocab), dtype=np.int64)
    every = np.concatenate(docs)
    pos = vocab.searchsorted(every)
    end = np.append(vocab, np.uint32(0xFFFFFFFF))
    hit = end[pos] == every
    return np.bincount(pos[hit], minlength=len(vocab))


@dataclass
class _Vectors:
    claims: list[dict[str, Any]]
    vec_claim: list[int]
    vec_kind: list[str]
    grams: list[Array]
    stems: list[Array]


_Entry = tuple[str, Array, Array]  # kind, hashed 4-grams, hashed stems


def _vectors(texts: Iterable[ClaimText], previous: ClaimIndex | None = None) -> _Vectors:
    """Claims sorted by id, one vector per distinct text of a claim (order fixed).

    With `previous`, its claims whose id is not among `texts` are kept as they are
    (their hashed features; an index holds no text to recompute them from).
    """
    from hybridwatch.textfold import fold

    by_claim: dict[str, list[ClaimText]] = {}
    for t in texts:
        by_claim.setdefault(t.claim_id, []).append(t)
    meta: dict[str, dict[str, Any]] = {}
    entries: dict[str, list[_Entry]] = {}
    for cid, group in by_claim.items():
        group.sort(key=lambda t: (t.kind, t.text))
        meta[cid] = {
            "id": cid,
            "url": next((t.url for t in group if t.url), None),
            "date": next((t.date for t in group if t.date), None),
            "source": group[0].source,
        }
        entries[cid] = []
        for t in group:
            stream = stream_of(fold(t.text), CLAIM_CHARS)
            entries[cid].append((t.kind, gram_features(stream), stem_features(stream)))
    if previous is not None:
        for v in range(previous.n_vectors):
            claim = previous.claims[int(previous.vec_claim[v])]
            if claim["id"] in by_claim:
                continue
            meta.setdefault(claim["id"], dict(claim))
            grams = previous.feat_ids[
                previous.vec_feat[previous.vec_ptr[v] : previous.vec_ptr[v + 1]]
            ]
            entries.setdefault(claim["id"], []).append(
                (previous.kind_of(v), grams, previous.vector_stems(v))
            )
    out = _Vectors([], [], [], [], [])
    for cid in sorted(entries):
        seen: set[bytes] = set()
        start = len(out.grams)
        for kind, grams, stems in entries[cid]:
            key = grams.tobytes()
            if not len(grams) or key in seen:
                continue
            seen.add(key)
            out.vec_claim.append(len(out.claims))
            out.vec_kind.append(kind)
            out.grams.append(np.asarray(grams, dtype=np.uint32))
            out.stems.append(np.asarray(stems, dtype=np.uint32))
        if len(out.grams) > start:
            out.claims.append(meta[cid])
    return out


def build_index(
    texts: Iterable[ClaimText],
    background: Iterable[str] = (),
    metadata: Mapping[str, Any] | None = None,
    base: ClaimIndex | None = None,
    previous: ClaimIndex | None = None,
) -> bytes:
    """The bytes of an index file over `texts` (deterministic: same input, same bytes).

    Document frequencies count every claim vector plus the `background` texts
    (ordinary news, so n-grams and words common in any article weigh little).
    With `base` (an operator's import on top of the shipped index) the idf of each
    feature is the base index's, and features the base has never seen get its
    highest idf, so similarities on both indexes are on one scale. With `previous`
    (an earlier import), its claims stay unless `texts` holds the same claim id.
    """
    from hybridwatch.textfold import fold

    v = _vectors(texts, previous)
    gram_vocab = (
        np.unique(np.concatenate(v.grams)) if v.grams else np.zeros(0, dtype=np.uint32)
    ).astype(np.uint32)
    stem_vocab = (
        np.unique(np.concatenate(v.stems)) if v.stems else np.zeros(0, dtype=np.uint32)
    ).astype(np.uint32)
    if base is None:
        bg_grams: list[Array] = []
        bg_stems: list[Array] = []
        for text in background:
            stream = stream_of(fold(text), CLAIM_CHARS)
            bg_grams.append(gram_features(stream))
            bg_stems.append(stem_features(stream))
        n_docs = len(v.grams) + len(bg_grams)
        gram_idf = _idf(_doc_freq(gram_vocab, v.grams + bg_grams), n_docs)
        stem_idf = _idf(_doc_freq(stem_vocab, v.stems + bg_stems), n_docs)
        default_idf = float(np.float32(math.log(1.0 + n_docs) + 1.0))
        stem_default = default_idf
    else:
        gram_idf = base.idf_of(gram_vocab)
        stem_idf = base.stem_idf_of(stem_vocab)
        default_idf = base.default_idf
        stem_default = base.stem_default_idf
    arrays = {
        "feat_ids": gram_vocab,
        "feat_idf": gram_idf,
        "vec_ptr": _ptr([len(g) for g in v.grams]),
        "vec_feat": _rows(gram_vocab, v.grams),
        "stem_ids": stem_vocab,
        "stem_idf": stem_idf,
        "stem_ptr": _ptr([len(s) for s in v.stems]),
        "vec_stem": _rows(stem_vocab, v.stems),
        "vec_claim": np.array(v.vec_claim, dtype=np.int32),
    }
    kinds = sorted(set(v.vec_kind))
    arrays["vec_kind"] = np.array([kinds.index(k) for k in v.vec_kind], dtype=np.int8)
    header: dict[str, Any] = {
        "format": FORMAT,
        "params": {
            "ngram": NGRAM,
            "feature_bits": FEATURE_BITS,
            "stem_chars": STEM_CHARS,
            "claim_chars": CLAIM_CHARS,
        },
        "default_idf": default_idf,
        "stem_default_idf": stem_default,
        "kinds": kinds,
        "claims": v.claims,
        "metadata": dict(metadata or {}),
    }
    return dump(header, arrays)


def _ptr(lengths: Sequence[int]) -> Array:
    return np.concatenate(([0], np.cumsum(np.array(lengths, dtype=np.int64)))).astype(np.int64)


def _rows(vocab: Array, rows: Sequence[Array]) -> Array:
    if not rows:
        return np.zeros(0, dtype=np.int32)
    return vocab.searchsorted(np.concatenate(rows)).astype(np.int32)


# --------------------------------------------------------------------------- file format

_ARRAY_ORDER = (
    "feat_ids",
    "feat_idf",
    "vec_ptr",
    "vec_feat",
    "stem_ids",
    "stem_idf",
    "stem_ptr",
    "vec_stem",
    "vec_claim",
    "vec_kind",
)


def dump(header: Mapping[str, Any], arrays: Mapping[str, Array]) -> bytes:
    """MAGIC, one JSON header line, then the arrays little-endian; gzip with mtime 0.

    `version` is the sha256 prefix of everything else, so equal content means equal
    version and equal bytes.
    """
    layout = []
    blobs = []
    offset = 0
    for name in _ARRAY_ORDER:
        a = np.ascontiguousarray(arrays[name])
        a = a.astype(a.dtype.newbyteorder("<"))
        blob = a.tobytes()
        layout.append({"name": name, "dtype": a.dtype.str, "count": int(a.size), "offset": offset})
        blobs.append(blob)
        offset += len(blob)
    body = {**header, "arrays": layout}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8"))
    for blob in blobs:
        digest.update(blob)
    body["version"] = digest.hexdigest()[:16]
    head = json.dumps(body, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    raw = MAGIC + head.encode("ascii") + b"\n" + b"".join(blobs)
    return gzip.compress(raw, compresslevel=9, mtime=0)


def load_bytes(data: bytes) -> tuple[dict[str, Any], dict[str, Array]]:
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError) as err:
        raise ClaimIndexError(f"not a gzip file ({err})") from err
    if not raw.startswith(MAGIC):
        raise ClaimIndexError("not a claim index of format 3 (wrong magic bytes)")
    end = raw.find(b"\n", len(MAGIC))
    try:
        header = json.loads(raw[len(MAGIC) : end])
    except ValueError as err:
        raise ClaimIndexError(f"damaged header: {err}") from err
    base = end + 1
    arrays: dict[str, Array] = {}
    for spec in header["arrays"]:
        dtype = np.dtype(spec["dtype"])
        start = base + int(spec["offset"])
        stop = start + int(spec["count"]) * dtype.itemsize
        if stop > len(raw):
            raise ClaimIndexError(f"array {spec['name']} runs past the end of the file")
        arrays[spec["name"]] = np.frombuffer(
            raw, dtype=dtype, count=int(spec["count"]), offset=start
        )
    missing = [n for n in _ARRAY_ORDER if n not in arrays]
    if missing:
        raise ClaimIndexError(f"missing arrays: {', '.join(missing)}")
    return header, arrays


# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class Match:
    claim: int
    """Position in `ClaimIndex.claims`."""
    similarity: float
    """Cosine of the idf-weighted 4-gram sets."""
    coverage: float
    """idf-weighted share of the claim text's word stems found in the probe."""
    vector: int
    """Which of the claim's texts matched."""


def _gather(ptr: Array, rows: Array) -> tuple[Array, Array]:
    """Entry positions of CSR rows `rows` and, for each, which of `rows` it belongs to."""
    starts = ptr[rows]
    lens = ptr[rows + 1] - starts
    total = int(lens.sum())
    if not total:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), lens)
    at = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)
    return at, owner


_S32 = np.uint64(32)
_M32 = np.uint64(0xFFFFFFFF)


def _distinct(parts: list[Array]) -> Array:
    """Sorted distinct values of the concatenated uint64 arrays."""
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    keys = np.sort(np.concatenate(parts))
    if len(keys) < 2:
        return keys
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return keys[first]


def _member(sorted_ids: Array, values: Array) -> Array:
    """values[i] in sorted_ids, vectorised."""
    if not len(sorted_ids):
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(sorted_ids.searchsorted(values), len(sorted_ids) - 1)
    return np.asarray(sorted_ids[pos] == values)


class ClaimIndex:
    """A loaded index: claims, their feature vectors and the inverted lists.

    Candidate generation works on word stems, which are few per article (~40) and
    whose inverted lists are short: per claim text, only its rarest stems - enough
    that an article holding none of them cannot reach `coverage_floor` - are listed
    (prefix filtering). Candidates get their exact coverage, those passing get their
    exact 4-gram cosine. Both thresholds must hold, so every match found is exact
    and no match is missed (the tests compare with `brute_force`).
    """

    def __init__(
        self,
        header: Mapping[str, Any],
        arrays: Mapping[str, Array],
        coverage_floor: float = COVERAGE_FLOOR,
    ) -> None:
        if header.get("format") != FORMAT:
            raise ClaimIndexError(f"claim index format {header.get('format')!r}, expected {FORMAT}")
        params = header.get("params", {})
        if params.get("feature_bits") != FEATURE_BITS or params.get("ngram") != NGRAM:
            raise ClaimIndexError(f"claim index built with other feature parameters: {params}")
        self.header = dict(header)
        self.version: str = str(header["version"])
        self.metadata: dict[str, Any] = dict(header.get("metadata", {}))
        self.claims: tuple[dict[str, Any], ...] = tuple(header["claims"])
        self.kinds: tuple[str, ...] = tuple(header["kinds"])
        self.default_idf = float(header["default_idf"])
        self.stem_default_idf = float(header["stem_default_idf"])
        self.coverage_floor = coverage_floor
        a = {k: np.asarray(v) for k, v in arrays.items()}
        self.feat_ids = a["feat_ids"].astype(np.uint32)
        self.feat_idf = a["feat_idf"].astype(np.float64)
        self.vec_ptr = a["vec_ptr"].astype(np.int64)
        self.vec_feat = a["vec_feat"].astype(np.int64)
        self.stem_ids = a["stem_ids"].astype(np.uint32)
        self.stem_idf = a["stem_idf"].astype(np.float64)
        self.stem_ptr = a["stem_ptr"].astype(np.int64)
        self.vec_stem = a["vec_stem"].astype(np.int64)
        self.vec_claim = a["vec_claim"].astype(np.int64)
        self.vec_kind = a["vec_kind"].astype(np.int64)
        n_vec = len(self.vec_ptr) - 1
        if (
            len(self.vec_claim) != n_vec
            or len(self.stem_ptr) != n_vec + 1
            or (n_vec and int(self.vec_claim.max()) >= len(self.claims))
        ):
            raise ClaimIndexError("vectors and claims do not line up")
        if len(self.vec_feat) and int(self.vec_feat.max()) >= len(self.feat_ids):
            raise ClaimIndexError("a vector names a 4-gram outside the feature table")
        if len(self.vec_stem) and int(self.vec_stem.max()) >= len(self.stem_ids):
            raise ClaimIndexError("a vector names a stem outside the stem table")
        self.n_vectors = n_vec
        self._ids_end = np.append(self.feat_ids, np.uint32(0xFFFFFFFF))
        self._lookup = np.full(1 << FEATURE_BITS, -1, dtype=np.int32)
        """Hashed 4-gram -> feature-table row (-1: not in any claim); 4 MB, one gather
        per n-gram instead of a binary search."""
        self._lookup[self.feat_ids] = np.arange(len(self.feat_ids), dtype=np.int32)
        self.idf_sq = self.feat_idf * self.feat_idf
        self.default_sq = self.default_idf * self.default_idf
        self._vec_of = np.repeat(np.arange(n_vec, dtype=np.int64), np.diff(self.vec_ptr))
        norm_sq = np.bincount(self._vec_of, weights=self.idf_sq[self.vec_feat], minlength=n_vec)
        self.vec_norm = np.sqrt(np.maximum(norm_sq, 1e-12))
        # stems: total weight per vector, and the prefix (rarest stems) of each
        stem_vec = np.repeat(np.arange(n_vec, dtype=np.int64), np.diff(self.stem_ptr))
        self._stem_vec = stem_vec
        w = self.stem_idf[self.vec_stem]
        self.stem_total = np.maximum(np.bincount(stem_vec, weights=w, minlength=n_vec), 1e-12)
        order = np.lexsort((np.arange(len(w)), w, stem_vec))  # per vector, commonest first
        cum = np.cumsum(w[order])
        before = np.concatenate(([0.0], cum))[self.stem_ptr[:-1]]
        within = cum - np.repeat(before, np.diff(self.stem_ptr))
        vec_sorted = stem_vec[order]
        in_suffix = within < coverage_floor * (1.0 - 1e-9) * self.stem_total[vec_sorted]
        suffix = np.zeros(n_vec)
        np.maximum.at(suffix, vec_sorted[in_suffix], within[in_suffix])
        self.suffix_share = suffix / self.stem_total
        self._pre_ptr, self._pre_vec = self._postings(
            np.sort(order[~in_suffix]), self.vec_stem, stem_vec, len(self.stem_ids)
        )
        self.n_postings = len(self._pre_vec)
        self._all_stems: tuple[Array, Array] | None = None
        self._all_grams: tuple[Array, Array] | None = None

    @classmethod
    def from_bytes(cls, data: bytes, coverage_floor: float = COVERAGE_FLOOR) -> ClaimIndex:
        header, arrays = load_bytes(data)
        try:
            return cls(header, arrays, coverage_floor)
        except (KeyError, TypeError) as err:
            raise ClaimIndexError(f"damaged header: missing {err}") from err

    @staticmethod
    def _postings(entries: Array, feat: Array, vec_of: Array, n_feat: int) -> tuple[Array, Array]:
        """Feature-major lists (CSR) of the given vector entries, vectors ascending."""
        feats = feat[entries]
        vecs = vec_of[entries]
        order = np.lexsort((vecs, feats))
        ptr = np.concatenate(([0], np.cumsum(np.bincount(feats, minlength=n_feat))))
        return ptr.astype(np.int64), vecs[order]

    def idf_of(self, ids: Array) -> Array:
        """idf of hashed 4-gram features, the highest one for features never seen."""
        known = _member(self.feat_ids, ids)
        out = np.full(len(ids), self.default_idf, dtype=np.float32)
        out[known] = self.feat_idf[self.feat_ids.searchsorted(ids[known])]
        return out

    def stem_idf_of(self, ids: Array) -> Array:
        known = _member(self.stem_ids, ids)
        out = np.full(len(ids), self.stem_default_idf, dtype=np.float32)
        out[known] = self.stem_idf[self.stem_ids.searchsorted(ids[known])]
        return out

    def vector_stems(self, vec: int) -> Array:
        return self.stem_ids[self.vec_stem[self.stem_ptr[vec] : self.stem_ptr[vec + 1]]]

    def kind_of(self, vec: int) -> str:
        return self.kinds[int(self.vec_kind[vec])]

    # ----- search

    def search_features(
        self,
        grams: Array,
        stems: Array,
        top: int = 5,
        min_sim: float = 0.0,
        min_coverage: float = 0.0,
    ) -> list[Match]:
        """Up to `top` claims (best text each) with cosine >= min_sim (and > 0) and
        coverage >= min_coverage, best cosine first.

        `grams`, `stems`: sorted distinct hashed features of the probe
        (`gram_features`, `stem_features` of its token stream).
        """
        gkeys = np.asarray(grams, dtype=np.uint64)
        skeys = np.asarray(stems, dtype=np.uint64)
        return self._search_keys(gkeys, skeys, 1, top, min_sim, min_coverage)[0]

    def _search_keys(
        self, gkeys: Array, skeys: Array, n: int, top: int, min_sim: float, min_cov: float
    ) -> list[list[Match]]:
        """Search of `n` probes at once, without a Python step per probe.

        `gkeys` / `skeys`: sorted distinct uint64 keys probe << 32 | hashed 4-gram
        (stem). Each candidate's sums run over its own entries in a fixed order, so a
        probe gets the same floats alone or in any batch.
        """
        out: list[list[Match]] = [[] for _ in range(n)]
        if not self.n_vectors or not len(gkeys):
            return out
        gprobe = (gkeys >> _S32).astype(np.int64)
        gpos = self._lookup[(gkeys & _M32).astype(np.int64)]
        gknown = gpos >= 0
        kprobe, kfeat = gprobe[gknown], gpos[gknown].astype(np.int64)
        known_sq = np.bincount(kprobe, weights=self.idf_sq[kfeat], minlength=n)
        n_unknown = np.bincount(gprobe, minlength=n) - np.bincount(kprobe, minlength=n)
        p_sq = known_sq + n_unknown * self.default_sq
        alive = known_sq > 0.0
        bound = min_sim - _SLACK
        if bound > 0.0:  # Cauchy-Schwarz: cos <= |known part| / |probe|
            alive &= known_sq >= bound * bound * p_sq
        if not alive.any():
            return out
        sprobe = (skeys >> _S32).astype(np.int64)
        sh = (skeys & _M32).astype(np.uint32)
        spos = np.minimum(self.stem_ids.searchsorted(sh), max(len(self.stem_ids) - 1, 0))
        sel = (self.stem_ids[spos] == sh) & alive[sprobe] if len(self.stem_ids) else sh < 0
        s_probe, s_idx = sprobe[sel], spos[sel]
        if min_cov <= 0.0:  # every text sharing a 4-gram
            ka = alive[kprobe]
            ptr, vec_list = self._all_gram_lists()
            at, owner = _gather(ptr, kfeat[ka])
            pairs = np.unique(kprobe[ka][owner] * self.n_vectors + vec_list[at])
        else:
            ptr, vec_list = (
                (self._pre_ptr, self._pre_vec)
                if min_cov >= self.coverage_floor
                else self._all_stem_lists()
            )
            at, owner = _gather(ptr, s_idx)
            if not len(at):
                return out
            raw = s_probe[owner] * self.n_vectors + vec_list[at]
            order = np.argsort(raw, kind="stable")
            raw = raw[order]
            first = np.ones(len(raw), dtype=bool)
            first[1:] = raw[1:] != raw[:-1]
            starts = np.flatnonzero(first)
            pairs = raw[starts]
            partial = np.add.reduceat(self.stem_idf[s_idx[owner[order]]], starts)
            vecs = pairs % self.n_vectors
            pairs = pairs[
                partial / self.stem_total[vecs] + self.suffix_share[vecs] >= min_cov - _SLACK
            ]
        if not len(pairs):
            return out
        c_probe, c_vec = pairs // self.n_vectors, pairs % self.n_vectors
        cov = self._coverage(
            c_probe, c_vec, (s_probe.astype(np.uint64) << _S32) | s_idx.astype(np.uint64)
        )
        keep = cov >= min_cov
        c_probe, c_vec, cov = c_probe[keep], c_vec[keep], cov[keep]
        if not len(c_vec):
            return out
        at, owner = _gather(self.vec_ptr, c_vec)
        feats = self.vec_feat[at]
        key = (c_probe[owner].astype(np.uint64) << _S32) | feats.astype(np.uint64)
        hit = _member((kprobe.astype(np.uint64) << _S32) | kfeat.astype(np.uint64), key)
        dots = np.bincount(owner[hit], weights=self.idf_sq[feats[hit]], minlength=len(c_vec))
        sims = dots / (self.vec_norm[c_vec] * np.sqrt(p_sq[c_probe]))
        keep = (sims >= min_sim) & (sims > 0.0)
        c_probe, c_vec, sims, cov = c_probe[keep], c_vec[keep], sims[keep], cov[keep]
        claims = self.vec_claim[c_vec]
        order = np.lexsort((c_vec, claims, -sims, c_probe))
        seen: set[tuple[int, int]] = set()
        for i in order.tolist():
            j, c = int(c_probe[i]), int(claims[i])
            if (j, c) in seen or len(out[j]) >= top:
                continue
            seen.add((j, c))
            out[j].append(Match(c, float(sims[i]), float(cov[i]), int(c_vec[i])))
        return out

    def _coverage(self, c_probe: Array, c_vec: Array, probe_stems: Array) -> Array:
        """Exact coverage of each (probe, vector) pair; `probe_stems` sorted keys
        probe << 32 | stem index."""
        at, owner = _gather(self.stem_ptr, c_vec)
        st = self.vec_stem[at]
        key = (c_probe[owner].astype(np.uint64) << _S32) | st.astype(np.uint64)
        hit = _member(probe_stems, key)
        got = np.bincount(owner[hit], weights=self.stem_idf[st[hit]], minlength=len(c_vec))
        return np.asarray(got / self.stem_total[c_vec])

    def _all_stem_lists(self) -> tuple[Array, Array]:
        if self._all_stems is None:
            entries = np.arange(len(self.vec_stem))
            self._all_stems = self._postings(
                entries, self.vec_stem, self._stem_vec, len(self.stem_ids)
            )
        return self._all_stems

    def _all_gram_lists(self) -> tuple[Array, Array]:
        if self._all_grams is None:
            entries = np.arange(len(self.vec_feat))
            self._all_grams = self._postings(
                entries, self.vec_feat, self._vec_of, len(self.feat_ids)
            )
        return self._all_grams

    def brute_force(self, grams: Array, stems: Array) -> tuple[Array, Array]:
        """Cosine and coverage of the probe against every claim text, the naive way
        (one pass over every entry of every vector): the tests' oracle and the
        benchmark's baseline."""
        n = self.n_vectors
        if not n:
            return np.zeros(0), np.zeros(0)
        in_probe = np.zeros(len(self.feat_ids), dtype=bool)
        known: Array = np.zeros(0, dtype=np.int64)
        if len(grams):
            pos: Array = self.feat_ids.searchsorted(grams)
            known = pos[self._ids_end[pos] == grams]
            in_probe[known] = True
        p_sq = float(self.idf_sq[known].sum()) + (len(grams) - len(known)) * self.default_sq
        hit = in_probe[self.vec_feat]
        dots = np.bincount(self._vec_of[hit], weights=self.idf_sq[self.vec_feat[hit]], minlength=n)
        sims = dots / (self.vec_norm * math.sqrt(p_sq)) if p_sq > 0 else np.zeros(n)
        shit = _member(stems, self.stem_ids[self.vec_stem])
        got = np.bincount(
            self._stem_vec[shit], weights=self.stem_idf[self.vec_stem[shit]], minlength=n
        )
        return np.asarray(sims), np.asarray(got / self.stem_total)

    def search(
        self, folded: str, top: int = 5, min_sim: float = 0.0, min_coverage: float = 0.0
    ) -> list[Match]:
        """Search with one folded probe (title + lede)."""
        return self.search_many([folded], top, min_sim, min_coverage)[0]

    def search_many(
        self,
        probes: Sequence[str],
        top: int = 5,
        min_sim: float = 0.0,
        min_coverage: float = 0.0,
    ) -> list[list[Match]]:
        """`search` of every folded probe, all in one vectorised pass: the ASCII probes'
        n-grams and stems are cut from one buffer, then bounds, candidates, coverage
        and cosines are computed for the whole batch."""
        streams = token_streams(list(probes))
        gparts: list[Array] = []
        sparts: list[Array] = []
        batch = [i for i, st in enumerate(streams) if st.isascii() and len(st) >= NGRAM]
        for i, st in enumerate(streams):
            if not st.isascii():
                tag = np.uint64(i) << _S32
                gparts.append(gram_features(st).astype(np.uint64) | tag)
                sparts.append(stem_features(st).astype(np.uint64) | tag)
        if batch:
            raws = [streams[i].encode("ascii") for i in batch]
            buf = b"".join(raws)
            lens = np.array([len(r) for r in raws], dtype=np.int64)
            begins = np.cumsum(lens) - lens
            counts = lens - NGRAM + 1
            view = np.ndarray((len(buf) - NGRAM + 1,), dtype=">u4", buffer=buf, strides=(1,))
            starts = np.repeat(begins - (np.cumsum(counts) - counts), counts) + np.arange(
                int(counts.sum())
            )
            ids = np.array(batch, dtype=np.uint64)
            owner = np.repeat(ids, counts)
            gparts.append((owner << _S32) | _mix(view[starts].astype(np.uint32)).astype(np.uint64))
            stems, word_at = _ascii_stems(buf)
            sowner = ids[np.searchsorted(begins, word_at, side="right") - 1]
            sparts.append((sowner << _S32) | stems.astype(np.uint64))
        return self._search_keys(
            _distinct(gparts), _distinct(sparts), len(probes), top, min_sim, min_coverage
        )
