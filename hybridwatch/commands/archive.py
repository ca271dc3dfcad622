"""`hybridwatch archive`: Kafka (hw.articles) -> the article archive (one gzip NDJSON per day).

Composition root: creates the consumer, the dead-letter producer and the archive once,
then runs services.kafka.archiver.ArchiveConsumer until SIGTERM/SIGINT, or with --once
until caught up. Prints the run's counters as one JSON line on exit.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from hybridwatch.config import ConfigError, Settings


def main(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.kafka.bootstrap:
        raise ConfigError(
            "kafka.bootstrap: required by the archiver (or set HW_KAFKA_BOOTSTRAP=host:port)"
        )

    from kafka import KafkaConsumer, KafkaProducer

    from hybridwatch.topics import Topics
    from ingest.archive import Archive, ArchiveError
    from services.kafka.archiver import ArchiveConsumer
    from services.kafka.consuming import NoPartitions

    try:
        archive = Archive(settings.archive_dir)
    except ArchiveError as err:
        raise ConfigError(f"archive.dir: {err}") from err
    bootstrap = settings.kafka.bootstrap.split(",")
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=settings.archive.group_id,
        client_id=f"{settings.kafka.client_id}-archiver",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=30 * 60 * 1000,
        metadata_max_age_ms=5_000,
    )
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=f"{settings.kafka.client_id}-archiver-dlq",
        acks="all",
        enable_idempotence=True,
    )
    loop = ArchiveConsumer(consumer, producer, archive, Topics(settings.kafka.topic_prefix))

    def _stop(signum: int, frame: FrameType | None) -> None:
        loop.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
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
