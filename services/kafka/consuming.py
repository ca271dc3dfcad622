"""What a plain (kafka-python) consumer role needs around its loop: its clients and a
clean stop on SIGTERM/SIGINT.

The loop itself (poll, decode, write, dead letters, commit, caught up) is
services/kafka/sink_loop.py, shared by the indexer, the alerter and the archiver.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from hybridwatch.config import Settings
from services.kafka.dead_letters import Reader
from services.kafka.ports import Producer
from services.kafka.security import kafka_python_options

if TYPE_CHECKING:
    from services.kafka.sink_loop import LoopConsumer

log = logging.getLogger(__name__)


class NoPartitions(RuntimeError):
    """No partition of the topics was assigned in time (do they exist?)."""


def consumer_and_dlq_producer(
    settings: Settings, group_id: str, role: str, **consumer_options: Any
) -> tuple[LoopConsumer, Producer]:
    """A manual-commit consumer in `group_id` and an idempotent acks=all producer for
    its dead letters, both named after `role` (created by a composition root at start-up)."""
    from kafka import KafkaConsumer

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
        **kafka_python_options(settings.kafka),
    )
    return consumer, record_producer(settings, f"{role}-dlq")


def record_producer(settings: Settings, role: str) -> Producer:
    """An idempotent acks=all producer of raw records (dead letters, redriven records)."""
    from kafka import KafkaProducer

    assert settings.kafka.bootstrap, "the command checks kafka.bootstrap first"
    producer: Producer = KafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap.split(","),
        client_id=f"{settings.kafka.client_id}-{role}",
        acks="all",
        enable_idempotence=True,
        **kafka_python_options(settings.kafka),
    )
    return producer


def topic_reader(settings: Settings, role: str) -> Reader:
    """A consumer in no group (nothing committed) that reads whole topics (dead letters)."""
    from kafka import KafkaConsumer

    assert settings.kafka.bootstrap, "the command checks kafka.bootstrap first"
    reader: Reader = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap.split(","),
        group_id=None,
        client_id=f"{settings.kafka.client_id}-{role}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_python_options(settings.kafka),
    )
    return reader


def stop_on_signals(stop: Callable[[], None]) -> None:
    """Call `stop` (a loop's "finish the batch, then return") on SIGTERM and SIGINT."""

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
