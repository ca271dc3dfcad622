"""`hybridwatch ingest` publishing to real Kafka: durable, keyed by country, never silent.

The feed is served by a real HTTP server on 127.0.0.1 (tests/fixtures/http.py) with
the SYNTHETIC feed file tests/fixtures/feeds/hr-latin.xml.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from hybridwatch.config import Settings
from hybridwatch.events import Article
from hybridwatch.topics import SCHEMA_HEADER, Topics
from services.entrypoints.ingest import run_ingest
from services.kafka.codec import TYPE_HEADER
from services.kafka.producer import KafkaPublisher, PublishError
from tests.fixtures.http import FeedServer
from tests.fixtures.kafka import LocalKafka, consume_all, create_topics, kafka_settings
from tests.fixtures.synthetic_articles import synthetic_articles

FEED = Path(__file__).resolve().parents[2] / "fixtures" / "feeds" / "hr-latin.xml"


def _ingest_settings(bootstrap: str, prefix: str, data_dir: Path, feed_url: str) -> Settings:
    return kafka_settings(
        bootstrap,
        prefix,
        data_dir,
        ingest__allow_networks=["127.0.0.0/8"],
        ingest__politeness_delay=0.0,
        sources=[
            {
                "id": "hr-synthetic",
                "outlet": "Synthetic HR",
                "country": "HR",
                "language": "hr",
                "feed_url": feed_url,
            }
        ],
    )


def test_publisher_writes_articles_keyed_by_country_with_schema_header(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    create_topics(kafka_bootstrap, kafka_prefix)
    articles = list(synthetic_articles(40, seed=5))
    settings = kafka_settings(kafka_bootstrap, kafka_prefix, tmp_path)
    pub = KafkaPublisher.create(settings.kafka)
    try:
        asyncio.run(pub.publish(articles))
    finally:
        pub.close()
    got = consume_all(kafka_bootstrap, Topics(kafka_prefix).articles, 40)
    assert sorted(Article.model_validate_json(m.value).id for m in got) == sorted(
        a.id for a in articles
    )
    partitions_of: dict[bytes, set[int]] = {}
    for m in got:
        art = Article.model_validate_json(m.value)
        assert m.key == art.source.country.encode()
        assert dict(m.headers)[SCHEMA_HEADER] == b"1" and dict(m.headers)[TYPE_HEADER] == b"Article"
        partitions_of.setdefault(m.key, set()).add(m.partition)
    # co-partitioning: one country, one partition
    assert all(len(p) == 1 for p in partitions_of.values())


def test_ingest_advances_seen_state_only_after_the_broker_acknowledged(
    private_kafka: LocalKafka, kafka_prefix: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    bootstrap = private_kafka.bootstrap
    create_topics(bootstrap, kafka_prefix)
    url = feed_server.route("/hr.xml", body=FEED.read_bytes(), content_type="application/rss+xml")
    settings = _ingest_settings(bootstrap, kafka_prefix, tmp_path / "data", url)
    topic = Topics(kafka_prefix).articles

    failing = KafkaPublisher.create(
        settings.kafka, delivery_timeout_ms=3000, max_block_ms=3000, max_attempts=2, backoff=0.1
    )
    private_kafka.stop()  # the broker goes down: publish must fail loudly, nothing marked seen
    assert asyncio.run(run_ingest(settings, once=True, publisher=failing, ensure=False)) == 1

    private_kafka.start()  # same ports and data: the poller must publish the same items now
    assert asyncio.run(run_ingest(settings, once=True)) == 0
    first = consume_all(bootstrap, topic, 1)
    ids = [json.loads(m.value)["id"] for m in first]
    assert ids and len(ids) == len(set(ids))
    assert all(m.key == b"HR" for m in first)

    # a third poll finds everything seen: nothing is published twice
    assert asyncio.run(run_ingest(settings, once=True)) == 0
    assert len(consume_all(bootstrap, topic, len(ids))) == len(ids)


def test_publish_raises_publish_error_naming_the_failure_when_kafka_is_unreachable(
    private_kafka: LocalKafka, kafka_prefix: str, tmp_path: Path
) -> None:
    create_topics(private_kafka.bootstrap, kafka_prefix)
    settings = kafka_settings(private_kafka.bootstrap, kafka_prefix, tmp_path)
    pub = KafkaPublisher.create(
        settings.kafka, delivery_timeout_ms=2000, max_block_ms=2000, max_attempts=2, backoff=0.1
    )
    private_kafka.stop()
    try:
        article = next(iter(synthetic_articles(1)))
        try:
            asyncio.run(pub.publish([article]))
        except PublishError as err:
            assert "1 events not acknowledged by Kafka after 2 attempts" in str(err)
            assert article.id in str(err)
        else:
            raise AssertionError("publish to an unreachable broker returned normally")
    finally:
        pub.close(timeout=1)
