"""`hybridwatch indexer`: Kafka (hw.articles, hw.signals, hw.alerts) -> Elasticsearch/OpenSearch.

Composition root: creates the consumer, the dead-letter producer and the store (one
engine client) once, then runs services.indexer.Indexer until SIGTERM/SIGINT, or with
--once until caught up. Prints the run's counters as one JSON line on exit.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from hybridwatch.config import ConfigError, Settings

log = logging.getLogger(__name__)


def main(args: argparse.Namespace, settings: Settings) -> int:
    if settings.store.kind not in ("elasticsearch", "opensearch"):
        raise ConfigError(
            f"store.kind: the indexer writes to a search engine, but store.kind is {settings.store.kind!r}; "
            "set store.kind: opensearch or elasticsearch (HW_STORE_KIND) and store.url (HW_ES_URL)"
        )
    if not settings.kafka.bootstrap:
        raise ConfigError(
            "kafka.bootstrap: required by the indexer (or set HW_KAFKA_BOOTSTRAP=host:port)"
        )

    from kafka import KafkaConsumer, KafkaProducer

    from hybridwatch.topics import Topics
    from services.indexer import Indexer, IndexerError
    from services.metrics import Metrics
    from services.store.search_engine import SearchEngineStore

    bootstrap = settings.kafka.bootstrap.split(",")
    cfg = settings.indexer
    store = SearchEngineStore.open(settings.store, refresh_on_write=False)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=cfg.group_id,
        client_id=f"{settings.kafka.client_id}-indexer",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=cfg.batch_size,
        max_poll_interval_ms=30 * 60 * 1000,
        # a topic created moments before start-up may have no metadata yet when the group
        # is joined; kafka-python only notices it (and rebalances) on the next metadata
        # refresh, 5 minutes by default, so refresh often
        metadata_max_age_ms=5_000,
    )
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=f"{settings.kafka.client_id}-indexer-dlq",
        acks="all",
        enable_idempotence=True,
    )
    metrics = Metrics.create()
    port = metrics.serve(settings.metrics.port)
    if port is not None:
        log.warning("metrics on http://0.0.0.0:%d/metrics", port)
    indexer = Indexer(
        consumer, producer, store, Topics(settings.kafka.topic_prefix), cfg, metrics=metrics
    )

    def _stop(signum: int, frame: FrameType | None) -> None:
        indexer.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        stats = indexer.run(once=args.once)
    except IndexerError as err:
        print(f"hybridwatch indexer: {err}", file=sys.stderr)
        return 1
    finally:
        consumer.close(autocommit=False)
        producer.close(timeout=30)
        store.close()
        metrics.close()
    print(f"indexer: {stats.to_json()}", file=sys.stdout, flush=True)
    return 0
