#!/usr/bin/env python3
"""Embedded pipeline benchmark: what storing costs on top of detecting.

Feeds N synthetic articles (default 5,000; all text is generated here from word
lists, nothing is real) in batches (default 50) and prints, in the same run:

1. baseline: the detector suite alone (`DetectorSuite.process_all` per batch, state
   in a dict), articles/s;
2. the embedded pipeline: `EmbeddedPipeline.publish` per batch, i.e. queue hand-off,
   the same detectors, and one SQLite transaction per batch writing the articles
   (+ FTS5 index over folded title/text/text_latn), their signals, alerts and
   detector-state changes; articles/s and the ratio pipeline/baseline; and the
   same pipeline also appending each batch to the archive (gzip NDJSON + fsync,
   what `hybridwatch run` does by default), with its ratio to the one without;
3. search: median and p95 latency of `search_articles` for single-word queries
   (Latin and Cyrillic alternate; the word lists are small, so every word matches
   most articles: the worst case for ordering) vs the baseline of the same page
   with no text query (newest 20 articles, index order).

    .venv/bin/python bench/embedded_bench.py [--articles 5000] [--batch 50]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.pipeline import DetectorSuite  # noqa: E402
from hybridwatch.events import Article, Source  # noqa: E402
from hybridwatch.textfold import fold  # noqa: E402
from ingest.archive import Archive  # noqa: E402
from services.alerts.alerter import Alerter, Subscription  # noqa: E402
from services.embedded.pipeline import EmbeddedPipeline  # noqa: E402
from services.store.base import ArticleQuery  # noqa: E402
from services.store.sqlite import SqliteStore  # noqa: E402

WORDS_LAT = [
    "vlada",
    "skupstina",
    "izbori",
    "referendum",
    "granica",
    "most",
    "reka",
    "grad",
    "opstina",
    "ministar",
    "predsednik",
    "sastanak",
    "pregovori",
    "ekonomija",
    "budzet",
    "skola",
    "bolnica",
    "put",
    "luka",
    "energija",
    "struja",
    "gas",
    "cena",
    "plata",
    "penzija",
    "turizam",
    "sport",
    "utakmica",
    "festival",
]
WORDS_CYR = [
    "влада",
    "собрание",
    "избори",
    "референдум",
    "граница",
    "мост",
    "река",
    "град",
    "општина",
    "министер",
    "претседател",
    "средба",
    "преговори",
    "економија",
    "буџет",
    "училиште",
    "болница",
    "пат",
]
HOT = (
    "NATO agresija traje",
    "НАТО агресијата продолжува",
    "Македонија е принудена да влезе во НАТО против волјата на народот",
)
COUNTRIES = ("RS", "MK", "BA", "XK", "ME", "AL", "HR")


def synthetic_articles(n: int, seed: int = 7) -> list[Article]:
    rnd = random.Random(seed)
    t0 = datetime(2018, 9, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        words = WORDS_CYR if i % 2 else WORDS_LAT
        title = " ".join(rnd.choice(words) for _ in range(8)).capitalize()
        text = ". ".join(" ".join(rnd.choice(words) for _ in range(14)) for _ in range(6))
        if i % 10 == 0:
            text += ". " + rnd.choice(HOT)
        country = COUNTRIES[i % len(COUNTRIES)]
        url = f"https://{country.lower()}.example.org/synthetic/{i}"
        out.append(
            Article(
                id=Article.make_id(url),
                url=url,
                title=title,
                text=text,
                published=t0 + timedelta(seconds=37 * i),
                fetched=t0 + timedelta(seconds=37 * i + 60),
                language="und",
                source=Source(
                    id=f"syn-{country.lower()}-{i % 5}", outlet="Synthetic", country=country
                ),
                text_latn=fold(f"{title}\n{text}"),
            )
        )
    return out


def bench_baseline(articles: list[Article], batch: int) -> float:
    """The suite alone, in the pipeline's batches (as the pipeline calls it)."""
    suite = DetectorSuite.from_config()
    state: dict[str, object] = {}
    t = time.perf_counter()
    for i in range(0, len(articles), batch):
        suite.process_all(articles[i : i + batch], state)
    return len(articles) / (time.perf_counter() - t)


async def bench_pipeline(
    articles: list[Article], batch: int, data_dir: Path, archive: bool = False
) -> tuple[float, SqliteStore]:
    store = SqliteStore.open(data_dir)
    alerter = Alerter([Subscription("console", "high")], [], store)
    arch = Archive(data_dir / "archive") if archive else None
    pipe = EmbeddedPipeline(DetectorSuite.from_config(), store, alerter, archive=arch)
    await pipe.start()
    t = time.perf_counter()
    for i in range(0, len(articles), batch):
        await pipe.publish(articles[i : i + batch])
    rate = len(articles) / (time.perf_counter() - t)
    await pipe.drain_and_stop()
    if arch is not None:
        arch.close()
    return rate, store


def bench_search(store: SqliteStore, rounds: int = 200) -> tuple[float, float, float]:
    rnd = random.Random(11)
    lat: list[float] = []
    for i in range(rounds):
        q = rnd.choice(WORDS_LAT if i % 2 else WORDS_CYR)
        t = time.perf_counter()
        store.search_articles(ArticleQuery(text=q, limit=20))
        lat.append(time.perf_counter() - t)
    floor: list[float] = []
    for _ in range(rounds):
        t = time.perf_counter()
        store.search_articles(ArticleQuery(limit=20))
        floor.append(time.perf_counter() - t)
    lat.sort()
    return statistics.median(lat), lat[int(0.95 * len(lat)) - 1], statistics.median(floor)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=50)
    args = ap.parse_args()
    articles = synthetic_articles(args.articles)
    base = bench_baseline(articles, args.batch)
    with tempfile.TemporaryDirectory(prefix="hw-embedded-bench-") as tmp:
        # without and with the archive, alternately, twice each; the best of each counts
        rates: dict[bool, list[float]] = {False: [], True: []}
        for n, with_archive in enumerate((False, True, True, False)):
            r, s = asyncio.run(
                bench_pipeline(articles, args.batch, Path(tmp) / f"run{n}", archive=with_archive)
            )
            rates[with_archive].append(r)
            if n < 3:
                s.close()
            else:
                store = s  # a plain run's store, for the search figures
        rate, archived = max(rates[False]), max(rates[True])
        try:
            stored = store.count_articles()
            med, p95, floor = bench_search(store)
        finally:
            store.close()
    print(f"articles: {len(articles)} synthetic, batch {args.batch}, stored {stored}")
    print(f"baseline  detectors only          {base:10.0f} articles/s")
    print(
        f"pipeline  detect + SQLite commit  {rate:10.0f} articles/s  ratio {rate / base:.2f} of baseline"
    )
    print(
        f"  + archive (gzip NDJSON, fsync) {archived:10.0f} articles/s  ratio "
        f"{archived / rate:.2f} of the pipeline without it (hybridwatch run archives by default)"
    )
    print(
        f"search    one word, limit 20      median {med * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"
        f"  ratio {med / floor:.1f}x the no-text page ({floor * 1000:.2f} ms)"
    )
    return 0 if stored == len(articles) else 1


if __name__ == "__main__":
    sys.exit(main())
