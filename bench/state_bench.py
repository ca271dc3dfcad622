"""Stateful detectors over a long synthetic stream: is memory flat, and how fast is it?

Feeds N synthetic articles (default 1,000,000; all text is generated here, nothing
is real) through the suite the way the runtime does: one DetectorSuite, one state
dict that lives for the whole run. Event time advances at a steady rate (default one
article per 10 s across seven countries), stories are re-published by several
outlets within hours (so amplification's LSH index is busy), titles carry narrative
tags (so burst and threat count), and a flood of one narrative recurs.

Every --every articles it prints: articles done, state keys, state JSON bytes,
process RSS, and articles per CPU-second (one core) of that interval. Flat memory means the last
rows' keys/bytes/RSS stay within a small factor of the first rows' once the windows
have filled (the script prints that ratio at the end).

Baseline (same run, same articles): the suite with only the stateless source
checks (reputation + look-alike) and the tag-reading narrative stand-in. The ratio
stateful/baseline shows what the stateful half costs. With --full it also times
DetectorSuite.from_config() (every registered detector, the real narrative and
claim detectors included) on the first --full-n articles.

    .venv/bin/python bench/state_bench.py            # 1M articles: ~10-15 min on one core
    .venv/bin/python bench/state_bench.py --n 100000 --full
    .venv/bin/python bench/state_bench.py --n 40000 --full --full-n 10000 --text-bytes 3000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.base import Detector, DetectorOptions, State
from detectors.pipeline import DetectorSuite
from detectors.registry import build
from detectors.view import ArticleView
from hybridwatch.events import Article, Evidence, Signal, Source

COUNTRIES = ("RS", "MK", "BA", "XK", "ME", "AL", "HR")
NARRATIVES = ("election-fraud", "nato-aggression", "western-puppets", "eu-collapse")
STATEFUL = ("amplification", "burst", "calendar", "threat")
STATELESS = ("reputation", "lookalike")
CHUNK = 2000
"""Articles generated and timed at a time."""
DOMAINS = ["sputnikportal.rs", "informer.rs", "bbc-news.mk"] + [
    f"portal{i}.example" for i in range(60)
]


class TagNarrative(Detector):
    """Stand-in for the narrative detector: "[narrative] title" -> one narrative signal."""

    name = "narrative"

    def __init__(self) -> None:
        super().__init__(DetectorOptions())

    def detect(self, view: ArticleView, state: State) -> list[Signal]:
        a = view.article
        if not a.title.startswith("["):
            return []
        nar = a.title[1 : a.title.index("]")]
        return [
            Signal(
                id=Signal.make_id(a.id, self.name, nar),
                article_id=a.id,
                detector=self.name,
                country=a.source.country,
                narrative=nar,
                severity="medium",
                score=0.6,
                evidence=(
                    Evidence(
                        field="title",
                        start=0,
                        end=len(nar) + 2,
                        text=a.title[: len(nar) + 2],
                        rule="tag",
                    ),
                ),
                event_time=a.published,
            )
        ]


def synthetic(n: int, seed: int, step_s: float, text_bytes: int = 0) -> Iterator[Article]:
    """Generated news: stories live a few hours and are copied by several outlets.

    `text_bytes` > 0 pads every text with more generated words (the same for every copy
    of a story) up to about that many bytes, for article-sized inputs (~3 KB)."""
    rng = random.Random(seed)
    vocab = [f"w{rng.randrange(50_000)}" for _ in range(20_000)]
    t0 = datetime(2018, 9, 1, tzinfo=UTC)
    stories: dict[int, str] = {}
    for i in range(n):
        t = t0 + timedelta(seconds=i * step_s)
        story_id = i // 8 - rng.randrange(0, 40)  # a story is re-published for ~5 minutes of ids
        if story_id not in stories:
            srng = random.Random(story_id)
            stories[story_id] = " ".join(srng.choice(vocab) for _ in range(rng.randrange(30, 90)))
            if len(stories) > 200:
                stories.pop(min(stories))
        text = stories[story_id]
        if text_bytes and len(text) < text_bytes:
            prng = random.Random(story_id * 7 + 1)
            extra = [prng.choice(vocab) for _ in range((text_bytes - len(text)) // 6 + 1)]
            stories[story_id] = text = f"{text} {' '.join(extra)}"[:text_bytes]
        if rng.random() < 0.3:  # light edits by the copying outlet
            words = text.split()
            words[rng.randrange(len(words))] = rng.choice(vocab)
            text = " ".join(words)
        flood = (i // 5000) % 20 == 0 and i % 5000 < 300
        tag = ""
        if flood:
            tag = "[election-fraud] "
        elif rng.random() < 0.15:
            tag = f"[{rng.choice(NARRATIVES)}] "
        dom = rng.choice(DOMAINS)
        yield Article(
            id=f"bench{i:08d}",
            url=f"https://{dom}/a/{i}",
            title=f"{tag}Synthetic story {story_id}",
            text=text,
            published=t,
            fetched=t,
            source=Source(
                id=dom,
                outlet=dom,
                domain=dom,
                country="MK" if flood else COUNTRIES[rng.randrange(len(COUNTRIES))],
            ),
        )


class Recording(dict[str, Any]):
    """A state dict that counts what a persisting runtime would write (Faust: one
    changelog message per assignment; embedded: the changed keys of each batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.bytes = 0
        self.largest = 0

    def __setitem__(self, key: str, value: Any) -> None:
        size = len(json.dumps(value))
        self.count += 1
        self.bytes += size
        self.largest = max(self.largest, size)
        super().__setitem__(key, value)


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def timed(suite: DetectorSuite, articles: list[Article], state: dict[str, Any]) -> float:
    """CPU seconds of this process (not wall time): on a shared machine other jobs'
    load would otherwise show up as our slowness. Articles/s per core = n / this."""
    t = time.process_time()
    for a in articles:
        suite.process(a, state)
    return time.process_time() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="articles (default 1M, ~10-15 min)")
    ap.add_argument("--every", type=int, default=0, help="report interval (default n/10)")
    ap.add_argument("--step", type=float, default=10.0, help="event-time seconds per article")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--full", action="store_true", help="also time the full registered suite")
    ap.add_argument("--full-n", type=int, default=20_000)
    ap.add_argument(
        "--text-bytes", type=int, default=0, help="pad texts to about this size (e.g. 3000)"
    )
    args = ap.parse_args(argv)
    every = args.every or max(1, args.n // 10)

    stateful = DetectorSuite([TagNarrative(), *(build(n) for n in STATELESS + STATEFUL)])
    baseline = DetectorSuite([TagNarrative(), *(build(n) for n in STATELESS)])
    state: dict[str, Any] = {}
    base_state: dict[str, Any] = {}
    print(
        f"state bench: n={args.n:,} step={args.step}s detectors={[d.name for d in stateful.detectors]}"
    )
    print(
        f"{'articles':>10} {'keys':>8} {'state_MB':>9} {'rss_MB':>8} {'art/s':>8} {'base_art/s':>10} {'ratio':>6}"
    )
    rows: list[tuple[int, int, float, float]] = []
    t_state = t_base = 0.0
    done = 0
    batch: list[Article] = []
    gen = synthetic(args.n, args.seed, args.step, args.text_bytes)
    while done < args.n:
        n_int = min(every, args.n - done)
        ds = db = 0.0
        for start in range(0, n_int, CHUNK):  # small chunks: RSS shows state, not the batch
            batch = [a for _, a in zip(range(min(CHUNK, n_int - start)), gen, strict=False)]
            ds += timed(stateful, batch, state)
            db += timed(baseline, batch, base_state)
        del batch
        t_state += ds
        t_base += db
        done += n_int
        size = len(json.dumps(state)) / 1e6
        rows.append((done, len(state), size, rss_mb()))
        print(
            f"{done:>10,} {len(state):>8,} {size:>9.2f} {rows[-1][3]:>8.1f} "
            f"{n_int / ds:>8.0f} {n_int / db:>10.0f} {db / ds:>6.2f}",
            flush=True,
        )
    rate, base_rate = done / t_state, done / t_base
    print(
        f"stateful suite: {rate:,.0f} articles/s; baseline (stateless only): {base_rate:,.0f} articles/s; "
        f"ratio stateful/baseline throughput = {rate / base_rate:.2f}"
    )
    if len(rows) >= 4:
        # State is a sawtooth (slots fill, then are dropped), so compare peaks of halves.
        half = len(rows) // 2
        first, second = rows[:half], rows[half:]
        print(
            "flatness (peak of second half / peak of first half): "
            f"keys x{max(r[1] for r in second) / max(max(r[1] for r in first), 1):.2f}, "
            f"state bytes x{max(r[2] for r in second) / max(max(r[2] for r in first), 1e-9):.2f}, "
            f"rss x{max(r[3] for r in second) / max(r[3] for r in first):.2f}"
        )
    if args.full:
        full = DetectorSuite.from_config()
        sample = list(synthetic(args.full_n, args.seed + 1, args.step, args.text_bytes))
        dt_full = timed(full, sample, {})
        dt_base = timed(baseline, sample, {})
        writes = Recording()
        for a in sample:  # untimed: what the runtime would persist per article
            full.process(a, writes)
        print(
            f"state writes per article: {writes.count / args.full_n:.1f} assignments, "
            f"{writes.bytes / args.full_n:,.0f} JSON bytes (largest value {writes.largest:,} bytes)"
        )
        print(
            f"full registered suite {[d.name for d in full.detectors]}: "
            f"{args.full_n / dt_full:,.0f} articles/s on synthetic text "
            f"(baseline {args.full_n / dt_base:,.0f}/s, ratio {dt_base / dt_full:.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
