"""Kafka -> subscribers: the production alerter (`hybridwatch alerter`).

The worker raises alerts (services.alerts.alerter.build_alerts, the same rules as the
embedded runtime) and publishes them to the alerts topic; this loop delivers them.

No misses: a polled batch of alerts is first written to a local SQLite outbox
(`<data_dir>/alerter/`), and only then are the offsets committed; delivery runs from
the outbox, so an alert a channel could not take (down, over its hourly budget)
waits there and is retried every `alerts.retry_seconds` and at every start, however
long ago Kafka gave it to us.
No floods, no repeats: the outbox is keyed by alert id, so an alert the worker
published twice (a retry, a replay, a rebalance) is delivered once; the Alerter's
hourly budgets turn a surge into digests.
Poison records (not an Alert) go to the dead-letter topic with the reason.

A sink on the shared consumer loop (services/kafka/sink_loop.py): `write` is the outbox
write (durable when it returns; a failing SQLite write is transient and retried with
back-off, nothing committed meanwhile), the loop commits, then `committed` delivers
what the batch added, and `tick` runs the periodic retry of the outbox.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

from hybridwatch.events import Alert
from hybridwatch.topics import Topics
from services.alerts.alerter import Alerter
from services.alerts.outbox import DurableOutbox
from services.kafka.ports import ConsumedRecord, Producer
from services.kafka.sink_loop import (
    BaseSink,
    BatchLimits,
    LoopConsumer,
    PermanentError,
    SinkLoop,
    TransientError,
    decode_or_quarantine,
)

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class DeliveryStats:
    records: int = 0
    new_alerts: int = 0
    repeats: int = 0
    """Alerts already in the outbox (published twice, or read again after a restart)."""
    dead_letters: int = 0
    delivered: int = 0
    pending: int = 0
    """Alerts still undelivered when the run ended (they wait in the outbox)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


class OutboxSink(BaseSink):
    """Alert records -> the outbox (durable) -> after the commit, the channels."""

    name = "alerts"
    target = "alert outbox"

    def __init__(
        self,
        outbox: DurableOutbox,
        alerter: Alerter,
        topics: Topics,
        retry_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self.outbox = outbox
        self.alerter = alerter
        self._topics = topics
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._last_retry = clock()
        self._new: list[Alert] = []
        self.new_alerts = 0
        self.repeats = 0
        self.delivered = 0
        self.pending = 0

    def topics(self) -> Sequence[str]:
        return [self._topics.alerts]

    def decode(self, record: ConsumedRecord) -> Alert:
        return decode_or_quarantine(Alert, record)

    def write(self, items: Sequence[Alert]) -> Mapping[int, PermanentError]:
        try:
            new = self.outbox.add_new(items)  # durable before the commit
        except sqlite3.OperationalError as err:  # locked, disk full, I/O error
            raise TransientError(f"writing {len(items)} alerts failed: {err}",
                                 kind="outbox") from err  # fmt: skip
        self._new.extend(new)
        self.new_alerts += len(new)
        self.repeats += len(items) - len(new)
        return {}

    def started(self) -> None:
        self.delivered += self.alerter.deliver_pending()  # what a previous run left
        self._last_retry = self._clock()

    def committed(self) -> None:
        new, self._new = self._new, []
        if new:
            self.delivered += self.alerter.deliver(new)

    def tick(self) -> None:
        now = self._clock()
        if now - self._last_retry >= self.retry_seconds:
            self.delivered += self.alerter.deliver_pending()
            self._last_retry = now

    def finished(self, caught_up: bool) -> None:
        if caught_up:
            self.delivered += self.alerter.deliver_pending()
        self.pending = len(self.outbox.pending_alerts())


class AlertDelivery:
    """`hybridwatch alerter`: OutboxSink on the shared loop (built once, with its clients)."""

    def __init__(
        self,
        consumer: LoopConsumer,
        producer: Producer,
        outbox: DurableOutbox,
        alerter: Alerter,
        topics: Topics,
        retry_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.sink = OutboxSink(outbox, alerter, topics, retry_seconds, clock)
        self.loop = SinkLoop(
            consumer,
            producer,
            self.sink,
            dead_letter_topic=topics.dead_letter,
            limits=BatchLimits(size=BATCH),
            clock=clock,
            sleep=sleep,
        )

    def stop(self) -> None:
        self.loop.stop()

    @property
    def stats(self) -> DeliveryStats:
        s, k = self.loop.stats, self.sink
        return DeliveryStats(s.records, k.new_alerts, k.repeats, s.dead_letters, k.delivered,
                             k.pending)  # fmt: skip

    def run(self, once: bool = False) -> DeliveryStats:
        """Consume until stopped (once=True: until caught up, then deliver and return)."""
        self.loop.run(once=once)
        return self.stats
