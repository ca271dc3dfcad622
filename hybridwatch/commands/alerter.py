"""`hybridwatch alerter`: Kafka (hw.alerts) -> the subscriptions' channels.

Composition root: creates the consumer, the dead-letter producer, the local outbox
(SQLite in `<data_dir>/alerter/`) and every channel's client once, then runs
services.alerts.delivery.AlertDelivery until SIGTERM/SIGINT, or with --once until
caught up and delivered. Prints the run's counters as one JSON line on exit.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from hybridwatch.config import ConfigError, Settings

log = logging.getLogger(__name__)

ALERTER_DIR = "alerter"


def main(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.kafka.bootstrap:
        raise ConfigError(
            "kafka.bootstrap: required by the alerter (or set HW_KAFKA_BOOTSTRAP=host:port)"
        )

    from kafka import KafkaConsumer, KafkaProducer

    from hybridwatch.topics import Topics
    from services.alerts.alerter import Alerter
    from services.alerts.delivery import AlertDelivery
    from services.alerts.notifier import ConsoleNotifier, JsonlNotifier, Notifier
    from services.alerts.subscriptions import all_subscriptions, build_channels
    from services.kafka.consuming import NoPartitions
    from services.store.sqlite import SqliteStore

    directory = Path(settings.data_dir) / ALERTER_DIR
    try:
        directory.mkdir(parents=True, exist_ok=True)
        outbox = SqliteStore.open(directory)
    except OSError as err:
        raise ConfigError(f"data_dir: cannot keep the alert outbox in {directory}: {err}") from err
    notifiers: list[Notifier] = []
    if settings.alerts.console:
        notifiers.append(ConsoleNotifier())
    if settings.alerts.jsonl:
        notifiers.append(JsonlNotifier(directory / "alerts.jsonl"))
    alerter = Alerter(
        all_subscriptions(settings), notifiers, outbox, channels=build_channels(settings)
    )
    bootstrap = settings.kafka.bootstrap.split(",")
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=settings.alerts.group_id,
        client_id=f"{settings.kafka.client_id}-alerter",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=30 * 60 * 1000,
        metadata_max_age_ms=5_000,
    )
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=f"{settings.kafka.client_id}-alerter-dlq",
        acks="all",
        enable_idempotence=True,
    )
    delivery = AlertDelivery(
        consumer,
        producer,
        outbox,
        alerter,
        Topics(settings.kafka.topic_prefix),
        retry_seconds=settings.alerts.retry_seconds,
    )

    def _stop(signum: int, frame: FrameType | None) -> None:
        delivery.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        stats = delivery.run(once=args.once)
    except NoPartitions as err:
        print(f"hybridwatch alerter: {err}", file=sys.stderr)
        return 1
    finally:
        consumer.close(autocommit=False)
        producer.close(timeout=30)
        alerter.close()
        outbox.close()
    print(f"alerter: {stats.to_json()}", file=sys.stdout, flush=True)
    return 0
