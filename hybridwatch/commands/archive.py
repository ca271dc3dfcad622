"""`hybridwatch archive`: Kafka (hw.articles) -> the article archive (one gzip NDJSON per day).

Composition root: creates the consumer, the dead-letter producer and the archive once,
then runs services.kafka.archiver.ArchiveConsumer until SIGTERM/SIGINT, or with --once
until caught up. Prints the run's counters as one JSON line on exit.
"""

from __future__ import annotations

import argparse
import sys

from hybridwatch.config import ConfigError, Settings


def main(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.kafka.bootstrap:
        raise ConfigError(
            "kafka.bootstrap: required by the archiver (or set HW_KAFKA_BOOTSTRAP=host:port)"
        )

    from hybridwatch.topics import Topics
    from ingest.archive import Archive, ArchiveError
    from services.kafka.archiver import ArchiveConsumer
    from services.kafka.consuming import (
        NoPartitions,
        consumer_and_dlq_producer,
        stop_on_signals,
    )

    try:
        archive = Archive(settings.archive_dir)
    except ArchiveError as err:
        raise ConfigError(f"archive.dir: {err}") from err
    consumer, producer = consumer_and_dlq_producer(settings, settings.archive.group_id, "archiver")
    loop = ArchiveConsumer(consumer, producer, archive, Topics(settings.kafka.topic_prefix))

    stop_on_signals(loop.stop)
    try:
        stats = loop.run(once=args.once)
    except NoPartitions as err:
        print(f"hybridwatch archive: {err}", file=sys.stderr)
        return 1
    finally:
        consumer.close(autocommit=False)
        producer.close(timeout=30)
        archive.close()
    print(f"archive: {stats.to_json()}", file=sys.stdout, flush=True)
    return 0
