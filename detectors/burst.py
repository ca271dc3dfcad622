"""Burst: a narrative suddenly far more frequent than usual in one country.

Second-phase detector: it counts the first phase's narrative signals per (source
country, narrative) in event-time buckets (default one hour) and compares the
current bucket's count with an adaptive baseline, an exponentially weighted moving
average (EWMA) of past bucket counts. Under the baseline rate lambda the count is
taken as Poisson; the burst fires when

    P(X >= count | lambda) < alpha   and   count >= floor

The floor keeps a quiet narrative's third mention from "bursting" against a
near-zero baseline. Within one bucket a burst fires once, then again each time
the count doubles, so a flood gives a handful of signals, not one per article.

State per key `burst:CC:<narrative>` is five numbers (current bucket, its count,
EWMA, buckets seen, count at last firing) plus a late counter, so it is bounded and
JSON; the runtime persists it, so the baseline survives a restart. Empty buckets
between two articles decay the EWMA in closed form, (1 - a)**gap.

Out-of-order events: an article older than the current bucket is not counted
(its bucket is closed and folded into the baseline already) and never fires; it is
tallied in `late` so the choice is visible. It depends only on input order, so
replay is deterministic.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from detectors.base import Detector, DetectorOptions, State
from detectors.view import ArticleView
from hybridwatch.events import Evidence, Signal, format_time


def poisson_sf(count: int, lam: float) -> float:
    """P(X >= count) for X ~ Poisson(lam), accurate in the far tail (no 1 - cdf there)."""
    if count <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    if count <= lam:
        # bulk of the distribution: 1 - cdf is well conditioned here
        term = math.exp(-lam)
        cdf = term
        for k in range(1, count):
            term *= lam / k
            cdf += term
        return max(0.0, 1.0 - cdf)
    # upper tail: sum pmf from `count` upwards; terms shrink geometrically once k > lam
    log_pmf = -lam + count * math.log(lam) - math.lgamma(count + 1)
    term = math.exp(log_pmf)
    total = term
    k = count
    while term > total * 1e-15 and k < count + 10_000:
        k += 1
        term *= lam / k
        total += term
    return min(1.0, total)


class BurstOptions(DetectorOptions):
    bucket_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    alpha: float = Field(default=1e-3, gt=0, lt=1)
    """Fire when the count is this improbable under the baseline."""
    floor: int = Field(default=5, ge=1)
    """Never fire below this many articles in the bucket."""
    ewma_alpha: float = Field(default=0.08, gt=0, le=1)
    """Weight of the newest closed bucket in the baseline (0.08 ~ a 24-bucket memory)."""
    prior_rate: float = Field(default=1.0, gt=0)
    """Baseline of a (country, narrative) never seen before, per bucket."""
    min_rate: float = Field(default=0.2, gt=0)
    """Lower bound of the baseline: quiet narratives do not make every mention a burst."""
    source_detector: str = "narrative"
    """Detector whose signals are counted."""


def new_state(bucket: int, prior: float) -> dict[str, Any]:
    return {"b": bucket, "c": 0, "mean": prior, "n": 0, "fired": 0, "late": 0}


def advance(st: dict[str, Any], bucket: int, ewma_alpha: float) -> dict[str, Any]:
    """Close buckets up to `bucket`: fold the current count, decay over empty ones."""
    gap = bucket - int(st["b"])
    if gap <= 0:
        return st
    mean = (1 - ewma_alpha) * float(st["mean"]) + ewma_alpha * int(st["c"])
    if gap > 1:
        mean *= (1 - ewma_alpha) ** min(gap - 1, 100_000)
    return {**st, "b": bucket, "c": 0, "mean": mean, "n": int(st["n"]) + gap, "fired": 0}


class BurstDetector(Detector):
    name = "burst"
    stateful = True
    after_signals = True
    refine_order = 10
    Options = BurstOptions

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        assert isinstance(options, BurstOptions)
        self.opts = options
        self.bucket_s = options.bucket_minutes * 60

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        return []  # second phase only: see refine()

    def refine(self, article: ArticleView, signals: list[Signal], state: State) -> list[Signal]:
        by_narrative: dict[str, list[Signal]] = {}
        for s in signals:
            if s.detector == self.opts.source_detector and s.narrative:
                by_narrative.setdefault(s.narrative, []).append(s)
        if not by_narrative:
            return signals
        out = list(signals)
        for narrative in sorted(by_narrative):
            sig = self._count(article, narrative, by_narrative[narrative], state)
            if sig is not None:
                out.append(sig)
        return out

    def _count(
        self, article: ArticleView, narrative: str, sources: list[Signal], state: State
    ) -> Signal | None:
        o = self.opts
        a = article.article
        key = f"{self.name}:{article.country}:{narrative}"
        bucket = int(a.published.timestamp()) // self.bucket_s
        st = state.get(key) or new_state(bucket, o.prior_rate)
        if bucket < int(st["b"]):
            state[key] = {**st, "late": int(st["late"]) + 1}
            return None
        st = advance(st, bucket, o.ewma_alpha)
        count = int(st["c"]) + 1
        lam = max(float(st["mean"]), o.min_rate)
        p = poisson_sf(count, lam)
        fired = int(st["fired"])
        fire = count >= o.floor and p < o.alpha and (fired == 0 or count >= 2 * fired)
        state[key] = {**st, "c": count, "fired": count if fire else fired}
        if not fire:
            return None
        start = datetime.fromtimestamp(bucket * self.bucket_s, tz=UTC)
        rule = f"burst:{narrative}"
        evidence = tuple(
            Evidence(field=e.field, start=e.start, end=e.end, text=e.text, rule=rule)
            for s in sources
            for e in s.evidence
        )[:3]
        return Signal(
            id=Signal.make_id(a.id, self.name, narrative, str(bucket)),
            article_id=a.id,
            detector=self.name,
            country=article.country,
            narrative=narrative,
            severity="high" if p < o.alpha / 100 else "medium",
            score=0.45 if p < o.alpha / 100 else 0.35,
            evidence=evidence,
            event_time=a.published,
            details={
                "bucket_start": format_time(start),
                "bucket_minutes": o.bucket_minutes,
                "count": count,
                "expected": round(lam, 4),
                "p_value": float(f"{p:.3g}"),
                "alpha": o.alpha,
                "floor": o.floor,
                "buckets_seen": int(st["n"]),
                "why": f"{count} articles on this narrative in one {o.bucket_minutes}-minute "
                f"bucket where about {lam:.2f} are usual (P = {p:.2g} < {o.alpha:g})",
            },
        )
