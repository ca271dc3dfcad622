"""`hybridwatch alerter`: Kafka (hw.alerts) -> the subscriptions' channels.

Composition root: creates the consumer, the dead-letter producer, the local outbox
(SQLite in `<data_dir>/alerter/`) and every channel's client once, then runs
services.alerts.delivery.AlertDelivery until SIGTERM/SIGINT, or with --once until
caught up and delivered. Prints the run's counters as one JSON line on exit.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hybridwatch.config import ConfigError, Settings

log = logging.getLogger(__name__)

ALERTER_DIR = "alerter"


def main(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.kafka.bootstrap:
        raise ConfigError(
            "kafka.bootstrap: required by the alerter (or set HW_KAFKA_BOOTSTRAP=host:port)"
        )

    from hybridwatch.topics import Topics
    from services.alerts.alerter import Alerter
    from services.alerts.delivery import AlertDelivery
    from services.alerts.notifier import ConsoleNotifier, JsonlNotifier, Notifier
    from services.alerts.subscriptions import all_subscriptions, build_channels
    from services.kafka.consuming import (
        NoPartitions,
        consumer_and_dlq_producer,
        stop_on_signals,
    )
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
    consumer, producer = consumer_and_dlq_producer(settings, settings.alerts.group_id, "alerter")
    delivery = AlertDelivery(
        consumer,
        producer,
        outbox,
        alerter,
        Topics(settings.kafka.topic_prefix),
        retry_seconds=settings.alerts.retry_seconds,
    )

    stop_on_signals(delivery.stop)
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
