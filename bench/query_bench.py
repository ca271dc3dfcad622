#!/usr/bin/env python3
"""Free-text query cost: inflected-form expansion against an exact word, on both stores.

A quoted word ("referendum") matches that token only, as every word did before the
inflection-aware syntax; the bare word expands to its ~60 forms (services/store/
textquery.py). SYNTHETIC articles (tests/integration/search/synthetic.py) whose few
words occur in nearly every article: the worst case for a query. Times are one
search page of 50 plus its total, averaged. The engine part runs when HW_ES_URL is set
(an index prefix of its own, dropped afterwards).

    .venv/bin/python bench/query_bench.py [--n 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.store.base import ArticleQuery
from services.store.sqlite import SqliteStore
from tests.integration.search.synthetic import make_articles

QUERIES = ['"referendum"', "referendum", '"referendum" "vlada"', "referendum vlada"]


def timed(store: Any, text: str, n: int) -> float:
    q = ArticleQuery(text=text, limit=50)
    store.search_articles(q)
    store.count_matching(q)
    t0 = time.perf_counter()
    for _ in range(n):
        store.search_articles(q)
        store.count_matching(q)
    return (time.perf_counter() - t0) / n * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    articles = make_articles(args.n, words=120)
    print(f"load average before: {os.getloadavg()[0]:.1f}; {args.n} synthetic articles")
    with tempfile.TemporaryDirectory() as d:
        store = SqliteStore.open(Path(d))
        for i in range(0, len(articles), 2000):
            store.put_articles(articles[i : i + 2000])
        for text in QUERIES:
            print(f"sqlite  {text:24s} {timed(store, text, args.repeat):7.1f} ms")
        store.close()
    url = os.environ.get("HW_ES_URL")
    if url:
        from hybridwatch.config import StoreSettings
        from services.store.search_engine import SearchEngineStore

        kind = os.environ.get("HW_STORE_KIND", "opensearch")
        settings = StoreSettings(kind=kind, url=url, index_prefix=f"hwq-{uuid.uuid4().hex[:8]}-")  # type: ignore[arg-type]
        engine = SearchEngineStore.open(settings)
        try:
            engine.put_articles(articles)
            engine.refresh()
            for text in QUERIES:
                print(f"engine  {text:24s} {timed(engine, text, args.repeat):7.1f} ms")
        finally:
            engine.drop_all()
            engine.close()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
