"""The durable publisher: events to Kafka, returning only once the brokers acknowledged them.

This is the `publish` callable the ingest poller is given. The poller advances a
feed's seen-state only after `publish` returned, so returning early (before the
broker has the articles) could lose them, and swallowing an error would too. Hence:

* acks=all + idempotence: a record counts as written only when every in-sync replica
  has it, and producer retries cannot duplicate or reorder it;
* every record's future is awaited; records that failed are sent again (with the
  attempt count in the ATTEMPT_HEADER) with back-off, and if some still fail after
  `max_attempts` the call raises PublishError naming how many and why. The poller
  then records the error and re-fetches the same items on its next poll;
* compression and linger/batch settings trade a few ms of latency for throughput.

kafka-python's producer is synchronous (a background I/O thread with futures), so the
async entry point runs the blocking wait in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError

from hybridwatch.config import KafkaSettings
from hybridwatch.events import Alert, Article, Signal
from hybridwatch.topics import Topics
from services.kafka.admin import require_bootstrap
from services.kafka.codec import encode
from services.kafka.ports import Producer, SendFuture
from services.kafka.security import kafka_python_options
from services.metrics import PipelineMetrics
from services.retry import Backoff, attempts

log = logging.getLogger(__name__)

Event = Article | Signal | Alert


class PublishError(RuntimeError):
    """Some events were not acknowledged by Kafka; nothing may be marked as done."""


class KafkaPublisher:
    def __init__(
        self,
        producer: Producer,
        topics: Topics,
        max_attempts: int = 5,
        backoff: float = 0.5,
        ack_timeout: float = 60.0,
        metrics: PipelineMetrics | None = None,
    ) -> None:
        self._producer = producer
        self.topics = topics
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.ack_timeout = ack_timeout
        self._metrics = metrics
        self._lock = threading.Lock()

    @classmethod
    def create(
        cls,
        settings: KafkaSettings,
        metrics: PipelineMetrics | None = None,
        delivery_timeout_ms: int = 120_000,
        max_block_ms: int = 60_000,
        max_attempts: int = 5,
        backoff: float = 0.5,
        ack_timeout: float | None = None,
    ) -> KafkaPublisher:
        """Connect a producer (called once at start-up by a composition root).

        `delivery_timeout_ms` bounds the producer's own retries of one record;
        `max_block_ms` how long `send` may wait for metadata (e.g. broker down);
        `ack_timeout` (default: the delivery timeout + 5 s) how long one publish
        waits for acknowledgements.
        """
        bootstrap = require_bootstrap(settings)
        producer = KafkaProducer(
            bootstrap_servers=bootstrap.split(","),
            client_id=f"{settings.client_id}-producer",
            acks="all",
            enable_idempotence=True,
            compression_type=None if settings.compression == "none" else settings.compression,
            linger_ms=settings.linger_ms,
            batch_size=256 * 1024,
            retries=2**31 - 1,
            delivery_timeout_ms=delivery_timeout_ms,
            request_timeout_ms=max(
                1000, min(30_000, delivery_timeout_ms - settings.linger_ms - 100)
            ),
            max_block_ms=max_block_ms,
            max_in_flight_requests_per_connection=5,
            retry_backoff_ms=200,
            reconnect_backoff_max_ms=2000,
            **kafka_python_options(settings),
        )
        return cls(
            producer,
            Topics(settings.topic_prefix),
            max_attempts=max_attempts,
            backoff=backoff,
            ack_timeout=delivery_timeout_ms / 1000 + 5 if ack_timeout is None else ack_timeout,
            metrics=metrics,
        )

    def topic_for(self, event: Event) -> str:
        if isinstance(event, Article):
            return self.topics.articles
        if isinstance(event, Signal):
            return self.topics.signals
        return self.topics.alerts

    async def __call__(self, articles: Sequence[Article]) -> None:
        """The poller's publish: returns only when every article is acknowledged."""
        await self.publish(articles)

    async def publish(self, events: Sequence[Event]) -> None:
        if events:
            await asyncio.to_thread(self.publish_sync, events)

    def publish_sync(self, events: Sequence[Event], replay: bool = False) -> None:
        """Publish and wait for every acknowledgement (`replay`: mark the records as a
        replay of archived history, REPLAY_HEADER)."""
        with self._lock:
            pending = list(events)
            last_error: BaseException | None = None
            for attempt in attempts(self.max_attempts, Backoff(self.backoff)):
                futures: list[tuple[Event, SendFuture | None]] = []
                for ev in pending:
                    rec = encode(ev, attempt, replay)
                    fut: SendFuture | None
                    try:
                        fut = self._producer.send(
                            self.topic_for(ev), key=rec.key, value=rec.value, headers=rec.headers
                        )
                    except KafkaError as err:  # e.g. buffer full / metadata timeout
                        last_error = err
                        fut = None
                    futures.append((ev, fut))
                self._producer.flush(timeout=self.ack_timeout)
                failed: list[Event] = []
                for ev, fut in futures:
                    if fut is None:
                        failed.append(ev)
                        continue
                    try:
                        fut.get(timeout=self.ack_timeout)
                    except Exception as err:  # KafkaError or timeout: retried below
                        last_error = err
                        failed.append(ev)
                acked = len(pending) - len(failed)
                if self._metrics is not None and acked:
                    self._metrics.articles_out.inc(acked)
                if not failed:
                    return
                if self._metrics is not None:
                    self._metrics.errors.labels(stage="publish").inc(len(failed))
                log.warning(
                    "Kafka did not acknowledge %d of %d events (attempt %d/%d): %s",
                    len(failed),
                    len(pending),
                    attempt,
                    self.max_attempts,
                    last_error,
                )
                pending = failed
            raise PublishError(
                f"{len(pending)} events not acknowledged by Kafka after {self.max_attempts} "
                f"attempts (first: {type(pending[0]).__name__} {pending[0].id}): {last_error}"
            )

    def close(self, timeout: float = 30.0) -> None:
        self._producer.close(timeout=timeout)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)
