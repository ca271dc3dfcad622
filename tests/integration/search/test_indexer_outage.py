"""Zero loss and zero duplicates across a 60 s search-engine outage mid-run.

Run once per engine (OpenSearch, Elasticsearch).
`hybridwatch indexer` runs as a real subprocess against a private engine node (so
stopping it disturbs no other test) while 100,000 synthetic articles stream into Kafka.
Once 10,000 are indexed the node is stopped, kept down for 60 s and started again on
the same data and port. The indexer must wait the outage out and carry on: in the end
every article is in the index exactly once, and the indexer's own counters (printed
when it is stopped) show that its bulk requests failed during the outage and were
retried.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hybridwatch.events import format_time, sha256_hex
from hybridwatch.textfold import fold
from hybridwatch.topics import SCHEMA_HEADER, Topics
from services.kafka.codec import TYPE_HEADER
from tests.fixtures.kafka import clean_env, create_topics
from tests.fixtures.search import ENGINES, EngineNode, start_engine_node
from tests.integration.search.synthetic import BASE, COUNTRIES, WORDS

pytestmark = [pytest.mark.integration, pytest.mark.search, pytest.mark.kafka]

N = 100_000
OUTAGE_S = 60.0
ROOT = Path(__file__).resolve().parents[3]


def _article_json(i: int) -> tuple[str, bytes]:
    """Synthetic article i as contract JSON, built directly (100k pydantic objects would
    only slow the test down; the indexer validates every record anyway)."""
    country = COUNTRIES[i % len(COUNTRIES)]
    url = f"https://synthetic.example/outage/{i}"
    published = BASE + timedelta(seconds=17 * i, microseconds=i % 1_000_000)
    title = f"Synthetic outage article {i} {WORDS[i % len(WORDS)]}"
    text = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(12))
    doc = {
        "schema_version": 1,
        "id": sha256_hex("url", url),
        "url": url,
        "title": title,
        "text": text,
        "published": format_time(published),
        "fetched": format_time(published + timedelta(seconds=30)),
        "language": "sr",
        "source": {
            "id": f"synthetic-{country.lower()}",
            "outlet": "Synthetic",
            "domain": "synthetic.example",
            "country": country,
            "tags": ["synthetic"],
        },
        "countries": [country],
        "text_latn": fold(title + "\n" + text),
    }
    return doc["id"], json.dumps(doc, ensure_ascii=False).encode()


def _produce_articles(bootstrap: str, topic: str, n: int) -> list[str]:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    ids: list[str] = []
    headers = [(SCHEMA_HEADER, b"1"), (TYPE_HEADER, b"Article")]
    try:
        futures = []
        for i in range(n):
            article_id, value = _article_json(i)
            futures.append(
                producer.send(
                    topic, key=COUNTRIES[i % len(COUNTRIES)].encode(), value=value, headers=headers
                )
            )
            ids.append(article_id)
        producer.flush(300)
        for f in futures:
            f.get(timeout=60)
    finally:
        producer.close()
    return ids


def _count(url: str, prefix: str) -> int:
    resp = httpx.get(f"{url}/{prefix}articles-*/_count", timeout=30)
    resp.raise_for_status()
    return int(resp.json()["count"])


def _all_ids(url: str, prefix: str) -> dict[str, int]:
    """Every document id in the article indices with how many documents carry it."""
    out: dict[str, int] = {}
    after: dict[str, Any] | None = None
    while True:
        comp: dict[str, Any] = {"size": 10_000, "sources": [{"id": {"terms": {"field": "id"}}}]}
        if after:
            comp["after"] = after
        body = {"size": 0, "aggs": {"ids": {"composite": comp}}}
        resp = httpx.post(f"{url}/{prefix}articles-*/_search", json=body, timeout=120)
        resp.raise_for_status()
        agg = resp.json()["aggregations"]["ids"]
        for b in agg["buckets"]:
            out[b["key"]["id"]] = out.get(b["key"]["id"], 0) + int(b["doc_count"])
        after = agg.get("after_key")
        if not agg["buckets"] or not after:
            return out


def _wait_for_count(
    url: str, prefix: str, at_least: int, proc: Any, log_path: Path, timeout: float
) -> int:
    """Poll the engine's article count until it reaches `at_least` (the indexer must live)."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, (
            f"indexer exited early:\n{log_path.read_text(errors='replace')[-3000:]}"
        )
        try:
            count = _count(url, prefix)
        except (httpx.HTTPStatusError, httpx.TransportError):
            count = 0  # no index yet
        if count >= at_least:
            return count
        assert time.monotonic() < deadline, (
            f"only {count} of {at_least} articles indexed after {timeout:.0f}s"
        )
        time.sleep(0.25)


@pytest.fixture(params=ENGINES)
def private_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    kind = str(request.param)
    node = start_engine_node(tmp_path_factory.mktemp(f"outage-{kind}"), kind=kind)
    yield node
    node.discard()


def test_no_article_is_lost_or_duplicated_across_a_60s_engine_outage(
    private_engine: EngineNode,
    kafka_bootstrap: str,
    kafka_prefix: str,
    index_prefix: str,
    tmp_path: Path,
) -> None:
    topics = Topics(kafka_prefix)
    create_topics(kafka_bootstrap, kafka_prefix, partitions=4)
    config = tmp_path / "indexer.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "kafka": {"bootstrap": kafka_bootstrap, "topic_prefix": kafka_prefix},
                "store": {
                    "kind": private_engine.kind,
                    "url": private_engine.url,
                    "index_prefix": index_prefix,
                },
                "indexer": {
                    "group_id": f"outage-{kafka_prefix}",
                    "batch_size": 1000,
                    "linger": 0.5,
                    "max_backoff": 4.0,
                },
            }
        ),
        encoding="utf-8",
    )
    t0 = time.monotonic()
    log_path = tmp_path / "indexer.log"
    produced: dict[str, Any] = {}

    def producer() -> None:
        try:
            produced["ids"] = _produce_articles(kafka_bootstrap, topics.articles, N)
            produced["seconds"] = time.monotonic() - t0
        except BaseException as err:  # reported by the main thread
            produced["error"] = err

    # The indexer runs from the start and the articles stream in while it runs, as in
    # production; the engine goes down while both are busy.
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.entrypoints.cli", "indexer", "--config", str(config)],
            cwd=ROOT,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=log,
        )
        thread = threading.Thread(target=producer, name="produce-100k")
        thread.start()
        try:
            indexed_before = _wait_for_count(
                private_engine.url, index_prefix, 10_000, proc, log_path, 300
            )
            down_at = time.monotonic()
            print(
                f"outage test: {indexed_before} indexed after {down_at - t0:.1f}s; stopping the engine"
            )
            private_engine.stop()
            with pytest.raises(httpx.TransportError):
                _count(private_engine.url, index_prefix)
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
            restarted = start_engine_node(private_engine.run_dir, kind=private_engine.kind)
            assert restarted.url == private_engine.url, "the node must come back on the same port"
            print(f"outage test: engine back after {time.monotonic() - down_at:.1f}s")

            thread.join(600)
            assert "error" not in produced, f"producing failed: {produced.get('error')!r}"
            print(
                f"outage test: all {N} articles were in Kafka {produced['seconds']:.1f}s after the start"
            )
            _wait_for_count(private_engine.url, index_prefix, N, proc, log_path, 400)
            print(f"outage test: {N} indexed {time.monotonic() - t0:.1f}s after the start")
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=120)
        finally:
            thread.join(600)
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
    log_text = log_path.read_text(errors="replace")
    assert proc.returncode == 0, f"indexer failed:\n{log_text[-3000:]}"
    expected = produced["ids"]
    assert len(set(expected)) == N
    stats = json.loads(out.decode().strip().splitlines()[-1].removeprefix("indexer: "))
    print(f"outage test: indexer counters {stats}")

    assert indexed_before < N, "the outage must happen in the middle of the run"
    assert stats["bulk_failures"] >= 1, f"the indexer never saw the outage: {stats}"
    assert stats["longest_outage_s"] >= OUTAGE_S * 0.8, stats
    assert "retry" in log_text and "search engine back after" in log_text
    assert stats["dead_letters"] == 0
    assert stats["records"] >= N

    httpx.post(
        f"{private_engine.url}/{index_prefix}articles-*/_refresh", timeout=60
    ).raise_for_status()
    counts = _all_ids(private_engine.url, index_prefix)
    assert _count(private_engine.url, index_prefix) == N
    assert set(counts) == set(expected), "lost or foreign articles"
    assert max(counts.values()) == 1, "an article is indexed twice"
