"""`hybridwatch worker` on real Kafka: signals for articles, dead letters for poison."""

from __future__ import annotations

import json
from pathlib import Path

from hybridwatch.events import Signal
from hybridwatch.topics import ERROR_HEADER, SCHEMA_HEADER, Topics
from services.kafka.codec import SOURCE_HEADER, encode
from tests.fixtures.kafka import consume_all, create_topics, produce
from tests.fixtures.synthetic_articles import synthetic_articles
from tests.integration.kafka.helpers import embedded_signal_ids, start_worker, wait_until


def test_worker_emits_signals_and_dead_letters_poison_and_keeps_going(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    topics = Topics(kafka_prefix)
    create_topics(kafka_bootstrap, kafka_prefix)
    articles = list(synthetic_articles(60, seed=11))
    before, after = articles[:30], articles[30:]
    bad_schema = encode(articles[0])
    poison = [
        (b"RS", b"\x00\x01 not json at all", []),
        (
            b"MK",
            json.dumps({"id": "x", "title": "no source, no time"}).encode(),
            [(SCHEMA_HEADER, b"1")],
        ),
        (b"BA", bad_schema.value, [(SCHEMA_HEADER, b"99")]),
    ]
    records = [(r.key, r.value, r.headers) for r in map(encode, before)] + poison
    records += [(r.key, r.value, r.headers) for r in map(encode, after)]
    produce(kafka_bootstrap, topics.articles, records)

    # rocksdb:// (rocksdict) where installed; the worker falls back to memory:// otherwise
    worker = start_worker(
        kafka_bootstrap, kafka_prefix, tmp_path, "w1", worker__table_store="rocksdb://"
    )
    try:
        expected = embedded_signal_ids(articles)
        assert expected, "the synthetic stream must trigger some detectors"
        got: list[str] = []

        def done() -> bool:
            got[:] = [
                json.loads(m.value)["id"] for m in consume_all(kafka_bootstrap, topics.signals)
            ]
            return set(got) >= expected

        wait_until(done, 180, "signals of the 60 good articles", worker)
        assert set(got) == expected
        for m in consume_all(kafka_bootstrap, topics.signals, len(expected)):
            sig = Signal.model_validate_json(m.value)
            assert m.key == sig.country.encode()
            assert dict(m.headers)[SCHEMA_HEADER] == b"1"

        dead = consume_all(kafka_bootstrap, topics.dead_letter, 3, timeout=60)
        # original bytes, one dead letter per poison record (order across partitions is free)
        by_value = {d.value: dict(d.headers)[ERROR_HEADER].decode() for d in dead}
        assert sorted(by_value) == sorted(p[1] for p in poison) and len(dead) == 3
        assert by_value[poison[0][1]].startswith("invalid-article: invalid Article: ")
        assert "source" in by_value[poison[1][1]] and "published" in by_value[poison[1][1]]
        assert "unsupported Article schema version 99" in by_value[poison[2][1]]
        assert all(
            dict(d.headers)[SOURCE_HEADER].startswith(topics.articles.encode()) for d in dead
        )
        assert worker.alive(), worker.log_tail()
    finally:
        worker.stop()
