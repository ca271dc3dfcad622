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

  amplification:CC:meta            {"newest": epoch s, "slots": [s, ...]}
  amplification:CC:s<s>:b<i>:<hex> [doc key, ...]  (one LSH band bucket; <= bucket_cap)
  amplification:CC:d:<id16>        {"id", "outlet", "t", "sig", "title", "url"}
  amplification:CC:m<s>            [keys created in slot s]  (for deleting the slot)

Only the slot of the newest event time and the one before it are kept (the window
T always fits in two slots); older slots are deleted with their manifest, so state
holds about 2T of stories per country whatever the stream length. An article more
than one slot older than the newest one seen in its country is still compared with
what is kept but is not indexed (documented choice: late items cannot resurrect
deleted slots). Everything is keyed by event time, so replay gives the same result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field, model_validator

from detectors import minhash
from detectors.base import Detector, DetectorOptions, State, register
from detectors.domains import normalise_host, registrable
from detectors.view import ArticleView
from hybridwatch.events import Evidence, Signal, format_time


class AmplificationOptions(DetectorOptions):
    min_outlets: int = Field(default=3, ge=2)
    """Distinct outlets (this article's included) that make a coordinated group."""
    window_hours: float = Field(default=6.0, gt=0, le=24 * 14)
    threshold: float = Field(default=0.6, gt=0, le=1)
    """Estimated Jaccard similarity of shingle sets that counts as the same story."""
    num_perm: int = Field(default=64)
    bands: int = Field(default=16, ge=1)
    shingle_words: int = Field(default=3, ge=1, le=8)
    min_words: int = Field(default=8, ge=1)
    """Shorter title + text is not judged (too little to tell a story from a phrase)."""
    max_bytes: int = Field(default=4096, ge=256)
    """Only the first bytes of the folded title + text are shingled (leads carry the copy)."""
    bucket_cap: int = Field(default=64, ge=1)
    """Most recent entries kept per LSH bucket (bounds the state of viral stories)."""
    max_listed: int = Field(default=20, ge=1)
    """Matching articles listed in a signal's details."""

    @model_validator(mode="after")
    def _lsh_shape(self) -> AmplificationOptions:
        if self.num_perm & (self.num_perm - 1) or not 2 <= self.num_perm <= 1024:
            raise ValueError(f"num_perm must be a power of two in 2..1024, got {self.num_perm}")
        if self.num_perm % self.bands:
            raise ValueError(f"bands ({self.bands}) must divide num_perm ({self.num_perm})")
        return self


def outlet_key(domain: str, source_id: str) -> str:
    """Who published: the registrable domain (two feeds of one outlet are one outlet)."""
    if domain:
        label, suffix = registrable(normalise_host(domain))
        return f"{label}.{suffix}" if suffix else label
    return source_id


@register
class AmplificationDetector(Detector):
    name = "amplification"
    stateful = True
    Options = AmplificationOptions

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        assert isinstance(options, AmplificationOptions)
        self.opts = options
        self.window_s = int(options.window_hours * 3600)

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        o = self.opts
        a = article.article
        body = article.title.folded + " \n " + article.text.folded
        words = minhash.word_hashes(body, o.max_bytes)
        if words.size < o.min_words:
            return []
        sig = minhash.signature(minhash.shingle_hashes(words, o.shingle_words), o.num_perm)
        bands = minhash.band_hashes(sig, o.bands)
        cc = article.country
        prefix = f"{self.name}:{cc}:"
        t = int(a.published.timestamp())
        slot = t // self.window_s
        meta_key = prefix + "meta"
        meta = state.get(meta_key) or {"newest": t, "slots": []}
        slots: list[int] = list(meta["slots"])
        doc_key = prefix + "d:" + a.id[:16]
        self_outlet = outlet_key(a.source.domain, a.source.id)

        # 1. candidates from this slot and its neighbours (the window spans at most two)
        seen: set[str] = {doc_key}
        cands: list[str] = []
        for s in (slot - 1, slot, slot + 1):
            if s not in slots:
                continue
            for i, band in enumerate(bands):
                for k in state.get(f"{prefix}s{s}:b{i}:{band}", ()):
                    if k not in seen:
                        seen.add(k)
                        cands.append(k)

        # 2. verify: same story, other outlet, inside the window
        matches: list[dict[str, Any]] = []
        for k in cands:
            doc = state.get(k)
            if doc is None or doc["outlet"] == self_outlet or abs(doc["t"] - t) > self.window_s:
                continue
            sim = minhash.similarity(sig, minhash.from_hex(doc["sig"]))
            if sim >= o.threshold:
                matches.append({**doc, "sim": sim})

        # 3. index this article (unless it is older than every kept slot)
        newest = max(int(meta["newest"]), t)
        newest_slot = newest // self.window_s
        if slot >= newest_slot - 1 and state.get(doc_key) is None:
            self._index(state, prefix, slot, slots, doc_key, a, self_outlet, t, sig, bands)
        # 4. drop slots that fell out of every window
        for old in [s for s in slots if s < newest_slot - 1]:
            for k in state.get(f"{prefix}m{old}", ()):
                state.pop(k, None)
            state.pop(f"{prefix}m{old}", None)
            slots.remove(old)
        state[meta_key] = {"newest": newest, "slots": sorted(slots)}

        outlets = sorted({m["outlet"] for m in matches} | {self_outlet})
        if len(outlets) < o.min_outlets:
            return []
        return [self._signal(article, outlets, matches)]

    def _index(
        self,
        state: State,
        prefix: str,
        slot: int,
        slots: list[int],
        doc_key: str,
        a: Any,
        outlet: str,
        t: int,
        sig: Any,
        bands: list[str],
    ) -> None:
        manifest_key = f"{prefix}m{slot}"
        manifest: list[str] = list(state.get(manifest_key) or ())
        if slot not in slots:
            slots.append(slot)
        state[doc_key] = {
            "id": a.id,
            "outlet": outlet,
            "t": t,
            "sig": minhash.to_hex(sig),
            "title": a.title[:200],
            "url": a.url,
        }
        manifest.append(doc_key)
        for i, band in enumerate(bands):
            key = f"{prefix}s{slot}:b{i}:{band}"
            bucket = state.get(key)
            if bucket is None:
                manifest.append(key)
                state[key] = [doc_key]
            else:
                state[key] = [*bucket[-(self.opts.bucket_cap - 1) :], doc_key]
        state[manifest_key] = manifest

    def _signal(
        self, article: ArticleView, outlets: list[str], matches: list[dict[str, Any]]
    ) -> Signal:
        o = self.opts
        a = article.article
        n = len(outlets)
        severity = "high" if n >= 2 * o.min_outlets else "medium"
        score = min(0.45, 0.3 + 0.03 * (n - o.min_outlets))
        matches.sort(key=lambda m: (m["t"], m["id"]))
        listed = [
            {
                "article_id": m["id"],
                "outlet": m["outlet"],
                "published": format_time(_utc(m["t"])),
                "similarity": round(m["sim"], 3),
                "title": m["title"],
                "url": m["url"],
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


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)
