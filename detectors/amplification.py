"""Coordinated amplification: one story pushed by many outlets within hours.

A near-duplicate story (MinHash over 3-word shingles of folded title + text,
estimated Jaccard >= `threshold`) published by at least `min_outlets` distinct
outlets within `window_hours` of each other is flagged on the article that
completes (or extends) the group; its evidence lists the other outlets and
articles. Earlier members are not re-flagged: detectors never rewrite the past.

Agency copy (Tanjug, Beta, MINA) is republished word for word by many outlets every
day, so amplification alone is context, not a verdict: it scores below the flag
threshold and needs another signal (a narrative, a watch-listed source) to flag.

The LSH index lives in the runtime's state so it survives restarts and is shared
by every runtime. Keys (CC = source country, s = event-time slot of length T):

  amplification:CC:meta            {"newest": epoch s, "slots": [s, ...], "heads": [id16, ...]}
  amplification:CC:s<s>:b<i>:<hex> "id16 id16 ..."  (one LSH band bucket; <= bucket_cap)
  amplification:CC:d:<id16>        "outlet<TAB>epoch<TAB>signature<TAB>id<TAB>title<TAB>url<TAB>prev"

Every value is small and written whole: per indexed article one new document, one
small bucket string per band and the meta. The documents of a slot form a chain
(`prev` is the id16 of the slot's previous document, the meta holds the newest),
so deleting a slot walks the chain and recomputes each document's bucket keys from
its signature: there is no per-slot manifest that would be re-serialised (tens of
KB) on every article.

Only the slot of the newest event time and the one before it are kept (the window
T always fits in two slots); older slots are deleted, so state holds about 2T of
stories per country whatever the stream length. An article more than one slot
older than the newest one seen in its country is still compared with what is kept
but is not indexed (documented choice: late items cannot resurrect deleted slots).
Everything is keyed by event time, so replay gives the same result.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from pydantic import Field, model_validator

from detectors import minhash
from detectors.base import Detector, DetectorOptions, State
from detectors.domains import normalise_host, registrable
from detectors.view import ArticleView
from hybridwatch.events import Evidence, Signal, format_time

SKETCH_CACHE = 4096
"""Sketches of recent texts kept in memory (about 1.3 MB): the exact-copy fast path."""
_SEP = "\t"
"""Field separator of a stored document. Documents and buckets are strings, not
lists or dicts: strings are not tracked by Python's cycle collector, whose full
passes over tens of thousands of small containers cost a quarter of the detector's
time, and they serialise to the changelog unchanged."""


class Match(NamedTuple):
    article_id: str
    outlet: str
    t: int
    sim: float
    title: str
    url: str


class AmplificationOptions(DetectorOptions):
    min_outlets: int = Field(default=3, ge=2)
    """Distinct outlets (this article's included) that make a coordinated group."""
    window_hours: float = Field(default=6.0, gt=0, le=24 * 14)
    threshold: float = Field(default=0.6, gt=0, le=1)
    """Estimated Jaccard similarity of shingle sets that counts as the same story."""
    num_perm: int = Field(default=64)
    bands: int = Field(default=8, ge=1)
    """LSH bands: one bucket key (one state read per live slot, one write) per band."""
    rows: int = Field(default=2, ge=1)
    """Signature rows per band (the first `rows` of each num_perm / bands block).
    8 bands of 2 rows find a pair at Jaccard 0.6 with probability 1 - (1 - 0.6**2)**8
    = 0.97 (0.5: 0.90) while writing half the buckets of 16 x 4; candidates are then
    verified on the whole signature, so the extra low-similarity candidates cost a
    comparison, not a false signal."""
    shingle_words: int = Field(default=3, ge=1, le=8)
    min_words: int = Field(default=8, ge=1)
    """Shorter title + text is not judged (too little to tell a story from a phrase)."""
    max_bytes: int = Field(default=2048, ge=256)
    """Only the first bytes of the folded title + text are shingled (leads carry the copy)."""
    bucket_cap: int = Field(default=64, ge=1)
    """Most recent entries kept per LSH bucket (bounds the state of viral stories)."""
    max_listed: int = Field(default=20, ge=1)
    """Matching articles listed in a signal's details."""
    max_candidates: int = Field(default=256, ge=1)
    """LSH candidates verified per article (bounds the cost of a viral story)."""

    @model_validator(mode="after")
    def _lsh_shape(self) -> AmplificationOptions:
        if self.num_perm & (self.num_perm - 1) or not 2 <= self.num_perm <= 1024:
            raise ValueError(f"num_perm must be a power of two in 2..1024, got {self.num_perm}")
        if self.num_perm % self.bands:
            raise ValueError(f"bands ({self.bands}) must divide num_perm ({self.num_perm})")
        if self.rows > self.num_perm // self.bands:
            raise ValueError(
                f"rows ({self.rows}) must be at most num_perm / bands ({self.num_perm // self.bands})"
            )
        return self


@lru_cache(maxsize=4096)
def outlet_key(domain: str, source_id: str) -> str:
    """Who published: the registrable domain (two feeds of one outlet are one outlet)."""
    if domain:
        label, suffix = registrable(normalise_host(domain))
        return f"{label}.{suffix}" if suffix else label
    return source_id


class AmplificationDetector(Detector):
    name = "amplification"
    stateful = True
    Options = AmplificationOptions

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        assert isinstance(options, AmplificationOptions)
        self.opts = options
        self.window_s = int(options.window_hours * 3600)
        self._sketches: dict[bytes, tuple[Any, bytes] | None] = {}
        self._band_tags = tuple(f":b{i}:" for i in range(options.bands))
        """Per band, the middle of its bucket keys (":b<i>:"), formatted once."""

    def prepare(self, articles: Sequence[ArticleView]) -> None:
        for v in articles:
            v.memo[self.name] = self._sketch(v)

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        o = self.opts
        a = article.article
        memo = article.memo
        sketch = memo[self.name] if self.name in memo else self._sketch(article)
        if sketch is None:
            return []
        sig, raw_sig = sketch
        tails = list(map(str.__add__, self._band_tags, minhash.band_keys(raw_sig, o.bands, o.rows)))
        cc = article.country
        prefix = f"{self.name}:{cc}:"
        t = int(a.published.timestamp())
        slot = t // self.window_s
        meta_key = prefix + "meta"
        meta = state.get(meta_key)
        if meta is not None and "heads" not in meta:
            _drop_legacy(state, prefix, meta)  # state written by the manifest layout
            meta = None
        if meta is None:
            meta = {"newest": t, "slots": [], "heads": []}
        slots: list[int] = list(meta["slots"])
        heads: list[str] = list(meta["heads"])
        own = a.id[:16]
        doc_key = prefix + "d:" + own
        self_outlet = outlet_key(a.source.domain, a.source.id)

        # 1. candidates from this slot and its neighbours (the window spans at most two)
        get = state.get
        keys = [
            head + tail
            for head in [f"{prefix}s{s}" for s in slots if slot - 1 <= s <= slot + 1]
            for tail in tails
        ]
        found = {k: get(k) for k in keys}  # _index re-uses this slot's buckets
        # distinct ids in first-seen order, all in C (a viral story's buckets repeat them)
        cands = list(dict.fromkeys(" ".join(filter(None, found.values())).split()))
        if own in cands:
            cands.remove(own)

        # 2. verify: same story, other outlet, inside the window (one numpy pass for all)
        # Most candidates are the same outlet's own look-alike stories: rejected on the
        # outlet field alone, before any split (the split of every candidate's whole
        # document was a third of this method's time).
        docs: list[list[str]] = []
        same_outlet = self_outlet + _SEP
        window = self.window_s
        for k in cands[: o.max_candidates]:
            raw = get(prefix + "d:" + k)
            if raw is None or raw.startswith(same_outlet):
                continue
            doc = raw.split(_SEP)
            if abs(int(doc[1]) - t) <= window:
                docs.append(doc)
        matches: list[Match] = []
        if docs:
            sims = minhash.similarities(sig, [d[2] for d in docs])
            matches = [
                Match(d[3], d[0], int(d[1]), sim, d[4], d[5])
                for d, sim in zip(docs, sims, strict=True)
                if sim >= o.threshold
            ]

        # 3. index this article (unless it is older than every kept slot or already in)
        newest = max(int(meta["newest"]), t)
        newest_slot = newest // self.window_s
        changed = newest != meta["newest"]
        if slot >= newest_slot - 1 and get(doc_key) is None:
            self._index(
                state, prefix, slot, slots, heads, doc_key, a, self_outlet, t, raw_sig, tails, found
            )
            changed = True
        # 4. drop slots that fell out of every window
        for old in [s for s in slots if s < newest_slot - 1]:
            i = slots.index(old)
            self._drop_slot(state, prefix, old, heads[i])
            del slots[i], heads[i]
            changed = True
        if changed:
            state[meta_key] = {"newest": newest, "slots": slots, "heads": heads}

        if len(matches) + 1 < o.min_outlets:
            return []
        outlets = sorted({m.outlet for m in matches} | {self_outlet})
        if len(outlets) < o.min_outlets:
            return []
        return [self._signal(article, outlets, matches)]

    def _sketch(self, article: ArticleView) -> tuple[Any, bytes] | None:
        """(signature, its bytes) of the folded title + text; None when too short to judge.

        Exact copies (agency text republished word for word) are the common case, so
        sketches are memoised in-process by a 128-bit digest of the hashed bytes: a
        pure function of the text, so this changes no result, only the cost.
        """
        o = self.opts
        # a character is at least one UTF-8 byte, so the text's first max_bytes
        # characters hold every byte kept (no copy of the rest of a long article)
        body = article.title.folded + " \n " + article.text.folded[: o.max_bytes]
        data = body.encode("utf-8")[: o.max_bytes]
        digest = hashlib.blake2b(data, digest_size=16).digest()
        cache = self._sketches
        if digest in cache:
            return cache[digest]
        words = minhash.byte_word_hashes(data)
        sketch: tuple[Any, bytes] | None = None
        if words.size >= o.min_words:
            sig = minhash.signature(minhash.shingle_hashes(words, o.shingle_words), o.num_perm)
            sketch = (sig, minhash.to_bytes(sig))
        if len(cache) >= SKETCH_CACHE:
            del cache[next(iter(cache))]  # oldest first: copies arrive within hours
        cache[digest] = sketch
        return sketch

    def _index(
        self,
        state: State,
        prefix: str,
        slot: int,
        slots: list[int],
        heads: list[str],
        doc_key: str,
        a: Any,
        outlet: str,
        t: int,
        raw_sig: bytes,
        tails: list[str],
        found: dict[str, str | None],
    ) -> None:
        own = a.id[:16]
        if slot in slots:
            i = slots.index(slot)
            prev = heads[i]
            heads[i] = own
        else:
            prev = ""
            i = bisect.bisect(slots, slot)
            slots.insert(i, slot)
            heads.insert(i, own)
        fields = (outlet, str(t), minhash.to_text(raw_sig), a.id, a.title[:200], a.url, prev)
        doc = _SEP.join(fields)
        if doc.count(_SEP) != len(fields) - 1:  # a field holds a tab (titles may)
            doc = _SEP.join([f.replace(_SEP, " ") for f in fields])
        state[doc_key] = doc
        cap = self.opts.bucket_cap
        head = f"{prefix}s{slot}"
        for tail in tails:
            key = head + tail
            bucket = found[key] if key in found else state.get(key)
            if bucket is None:
                state[key] = own
            else:
                ids = bucket + " " + own
                if ids.count(" ") >= cap:
                    ids = " ".join(ids.split()[-cap:])
                state[key] = ids

    def _drop_slot(self, state: State, prefix: str, slot: int, head_id: str) -> None:
        """Delete a slot: walk its chain of documents, popping each and its buckets."""
        o = self.opts
        head = f"{prefix}s{slot}"
        k = head_id
        while k:
            raw = state.pop(prefix + "d:" + k, None)
            if raw is None:
                break
            doc = raw.split(_SEP)
            raw_sig = minhash.from_text(doc[2])
            for tag, band in zip(
                self._band_tags, minhash.band_keys(raw_sig, o.bands, o.rows), strict=True
            ):
                state.pop(head + tag + band, None)
            k = doc[6]

    def _signal(self, article: ArticleView, outlets: list[str], matches: list[Match]) -> Signal:
        o = self.opts
        a = article.article
        n = len(outlets)
        severity = "high" if n >= 2 * o.min_outlets else "medium"
        score = min(0.45, 0.3 + 0.03 * (n - o.min_outlets))
        matches.sort(key=lambda m: (m.t, m.article_id))
        listed = [
            {
                "article_id": m.article_id,
                "outlet": m.outlet,
                "published": format_time(_utc(m.t)),
                "similarity": round(m.sim, 3),
                "title": m.title,
                "url": m.url,
            }
            for m in matches[: o.max_listed]
        ]
        rule = "amplification:near-duplicate"
        if a.title:
            ev = Evidence(field="title", start=0, end=len(a.title), text=a.title, rule=rule)
        else:
            end = min(len(a.text), 200)
            ev = Evidence(field="text", start=0, end=end, text=a.text[:end], rule=rule)
        return Signal(
            id=Signal.make_id(a.id, self.name, None),
            article_id=a.id,
            detector=self.name,
            country=article.country,
            severity=severity,
            score=round(score, 4),
            evidence=(ev,),
            event_time=a.published,
            details={
                "outlets": outlets,
                "outlet_count": n,
                "matches": listed,
                "matches_total": len(matches),
                "window_hours": o.window_hours,
                "min_outlets": o.min_outlets,
                "threshold": o.threshold,
                "note": "near-duplicate copies by distinct outlets inside the window; "
                "agency copy also does this, so it weighs in but never flags alone",
            },
        )


def _drop_legacy(state: State, prefix: str, meta: dict[str, Any]) -> None:
    """Delete a country's index written by the earlier layout (per-slot manifests of
    64 documents, `amplification:CC:m<slot>:<chunk>`), so an upgraded runtime starts a
    fresh index instead of misreading old documents or leaking their keys."""
    for slot in meta.get("slots", ()):
        for chunk in range(-(-int(meta.get("counts", {}).get(str(slot), 0)) // 64)):
            for k in state.pop(f"{prefix}m{slot}:{chunk}", None) or ():
                state.pop(k, None)
    state.pop(prefix + "meta", None)


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)
