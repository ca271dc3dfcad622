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
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from hybridwatch.events import Alert, ContractError
from hybridwatch.topics import Topics
from services.alerts.alerter import Alerter
from services.kafka.codec import decode_event
from services.kafka.consuming import caught_up, send_dead_letters
from services.store.sqlite import SqliteStore

log = logging.getLogger(__name__)


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


class AlertDelivery:
    """The consumer loop; built once by `hybridwatch alerter` (or a test) with its clients."""

    def __init__(
        self,
        consumer: Any,
        producer: Any,
        outbox: SqliteStore,
        alerter: Alerter,
        topics: Topics,
        retry_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.outbox = outbox
        self.alerter = alerter
        self.topics = topics
        self.retry_seconds = retry_seconds
        self._clock = clock
        self.stats = DeliveryStats()
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    def run(self, once: bool = False) -> DeliveryStats:
        """Consume until stopped (once=True: until caught up, then deliver and return)."""
        self.stats.delivered += self.alerter.deliver_pending()  # what a previous run left
        self.consumer.subscribe([self.topics.alerts])
        started = last_retry = self._clock()
        while not self._stopping:
            polled = self.consumer.poll(timeout_ms=200, max_records=500)
            records = [m for batch in polled.values() for m in batch]
            if records:
                self._take(records)
            now = self._clock()
            if now - last_retry >= self.retry_seconds:
                self.stats.delivered += self.alerter.deliver_pending()
                last_retry = now
            if (
                once
                and not records
                and caught_up(self.consumer, now - started, [self.topics.alerts])
            ):
                break
        self.stats.delivered += self.alerter.deliver_pending() if once else 0
        self.stats.pending = len(self.outbox.pending_alerts())
        return self.stats

    def _take(self, records: list[Any]) -> None:
        self.stats.records += len(records)
        alerts: list[Alert] = []
        dead: list[tuple[Any, str]] = []
        for m in records:
            try:
                alerts.append(decode_event(Alert, m.value, m.headers))
            except ContractError as err:
                dead.append((m, f"undecodable record: {err}"))
        new = self.outbox.write_batch([], [], alerts)  # durable before the commit
        self.stats.new_alerts += len(new)
        self.stats.repeats += len(alerts) - len(new)
        if dead:
            send_dead_letters(self.producer, self.topics.dead_letter, dead)
            self.stats.dead_letters += len(dead)
        self.consumer.commit()
        if new:
            self.stats.delivered += self.alerter.deliver(new)
