"""`hybridwatch indexer`: Kafka (hw.articles, hw.signals, hw.alerts) -> Elasticsearch/OpenSearch.

Composition root: creates the consumer, the dead-letter producer and the store (one
engine client) once, then runs services.indexer.Indexer until SIGTERM/SIGINT, or with
--once until caught up. Prints the run's counters as one JSON line on exit.
"""

from __future__ import annotations

import argparse
import logging
import sys

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

    from hybridwatch.topics import Topics
    from services.indexer import Indexer, IndexerError
    from services.kafka.consuming import consumer_and_dlq_producer, stop_on_signals
    from services.metrics import Metrics
    from services.store.search_engine import SearchEngineStore

    cfg = settings.indexer
    store = SearchEngineStore.open(settings.store, refresh_on_write=False)
    consumer, producer = consumer_and_dlq_producer(
        settings, cfg.group_id, "indexer", max_poll_records=cfg.batch_size
    )
    metrics = Metrics.create()
    port = metrics.serve(settings.metrics.port)
    if port is not None:
        log.warning("metrics on http://0.0.0.0:%d/metrics", port)
    indexer = Indexer(
        consumer, producer, store, Topics(settings.kafka.topic_prefix), cfg, metrics=metrics
    )

    stop_on_signals(indexer.stop)
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
