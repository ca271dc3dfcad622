"""Pieces every plain (kafka-python) consumer loop needs: its clients, dead letters,
"caught up" and a clean stop on SIGTERM/SIGINT.

Used by the indexer, the alerter and the archiver: a record that
is not a valid event is sent to the dead-letter topic with its original bytes and the
reason, and Kafka's acknowledgement is awaited before the batch's offsets are committed.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from hybridwatch.config import Settings
from services.kafka.codec import dead_letter_headers

log = logging.getLogger(__name__)

ASSIGN_TIMEOUT = 60.0
"""Seconds a consumer may wait for a partition before the topic is declared missing."""


class NoPartitions(RuntimeError):
    """No partition of the topics was assigned in time (do they exist?)."""


def send_dead_letters(producer: Any, topic: str, items: Sequence[tuple[Any, str]]) -> None:
    """Send (record, reason) pairs to `topic` and wait until Kafka has them all."""
    futures = []
    for m, reason in items:
        log.error("dead-letter %s/%d/%d: %s", m.topic, m.partition, m.offset, reason)
        headers = dead_letter_headers(reason, m.topic, m.partition, m.offset, original=m.headers)
        futures.append(producer.send(topic, key=m.key, value=m.value, headers=headers))
    producer.flush()
    for f in futures:
        f.get(timeout=60)  # raises if Kafka did not take it: then nothing is committed


def caught_up(consumer: Any, waited: float, topics: Sequence[str]) -> bool:
    """True when every assigned partition is read to its end.

    `waited`: seconds since the loop started; past ASSIGN_TIMEOUT with nothing assigned
    raises NoPartitions naming the topics.
    """
    assigned = consumer.assignment()
    if not assigned:
        if waited > ASSIGN_TIMEOUT:
            raise NoPartitions(
                f"no partition of {', '.join(topics)} was assigned within "
                f"{ASSIGN_TIMEOUT:.0f}s: does the topic exist (hybridwatch topics)?"
            )
        return False
    ends = consumer.end_offsets(list(assigned))
    return all(consumer.position(tp) >= ends[tp] for tp in assigned)


def consumer_and_dlq_producer(
    settings: Settings, group_id: str, role: str, **consumer_options: Any
) -> tuple[Any, Any]:
    """A manual-commit consumer in `group_id` and an idempotent acks=all producer for
    its dead letters, both named after `role` (created by a composition root at start-up)."""
    from kafka import KafkaConsumer, KafkaProducer

    assert settings.kafka.bootstrap, "the command checks kafka.bootstrap first"
    bootstrap = settings.kafka.bootstrap.split(",")
    options: dict[str, Any] = {
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_interval_ms": 30 * 60 * 1000,
        # a topic created moments before start-up may have no metadata yet when the group
        # is joined; kafka-python only notices it (and rebalances) on the next metadata
        # refresh, 5 minutes by default, so refresh often
        "metadata_max_age_ms": 5_000,
        **consumer_options,
    }
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=f"{settings.kafka.client_id}-{role}",
        **options,
    )
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=f"{settings.kafka.client_id}-{role}-dlq",
        acks="all",
        enable_idempotence=True,
    )
    return consumer, producer


def stop_on_signals(stop: Callable[[], None]) -> None:
    """Call `stop` (a loop's "finish the batch, then return") on SIGTERM and SIGINT."""

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
