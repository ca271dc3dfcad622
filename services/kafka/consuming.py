"""Pieces every plain (kafka-python) consumer loop needs: dead letters and "caught up".

Used by the alerter and the archiver (and shaped like the indexer's own): a record that
is not a valid event is sent to the dead-letter topic with its original bytes and the
reason, and Kafka's acknowledgement is awaited before the batch's offsets are committed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

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
