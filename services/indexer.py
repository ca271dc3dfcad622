"""Kafka -> search engine: bulk-index articles, signals and alerts without loss or duplicates.

The guarantees and how they are kept:

* No duplicates: the document id is the event id and the index is chosen by event
  time, so a record delivered twice (a replay, a retry, a consumer restart) overwrites
  its own document.
* No loss: offsets are committed only after every record of the batch is either in
  the engine or in the dead-letter topic (acknowledged by Kafka). If the process dies
  or the engine is down, the uncommitted records are read again.
* Outages are waited out: a bulk request that fails as a whole (connection refused,
  timeout, 429, 5xx) is retried with capped exponential back-off and jitter, forever
  until it succeeds or the indexer is stopped. Documents that fail one by one with
  429/5xx are retried the same way.
* Back-pressure: while a batch is being retried nothing more is polled, so the
  indexer never holds more than one batch in memory however long the outage lasts.
* Nothing dropped silently: a record that is not a valid event, or that the engine
  refuses (mapping errors and other 4xx), goes to the dead-letter topic with its
  original bytes, its headers and the reason in the `hw-error` header.

The consumer polls with max.poll.interval.ms well above any expected outage; if an
outage outlasts it, the group rebalances and the batch is read again from the last
commit — more work, still no loss and no duplicates.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from hybridwatch.config import IndexerSettings
from hybridwatch.events import Alert, Article, ContractError, Signal
from hybridwatch.topics import Topics
from services.kafka.codec import decode_event
from services.kafka.consuming import NoPartitions, caught_up, send_dead_letters
from services.store.engine_client import EngineError, EngineUnavailable
from services.store.search_engine import Doc, SearchEngineStore

log = logging.getLogger(__name__)

BASE_BACKOFF = 0.25


class IndexerError(RuntimeError):
    """The indexer cannot do its job (e.g. its topics do not exist)."""


@dataclass
class IndexerStats:
    """Counters of one indexer run (printed as JSON at exit; also in metrics)."""

    records: int = 0
    indexed: int = 0
    dead_letters: int = 0
    bulk_requests: int = 0
    bulk_failures: int = 0
    """Bulk requests that failed as a whole (engine down, 429, 5xx) and were retried."""
    item_retries: int = 0
    """Documents retried after a per-document 429/5xx."""
    commits: int = 0
    longest_outage_s: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class _Pending:
    """One polled record on its way to the engine or the dead-letter topic."""

    msg: Any
    doc: Doc | None = None
    reason: str | None = None


@dataclass
class _Batch:
    items: list[_Pending] = field(default_factory=list)
    size_bytes: int = 0
    started: float = 0.0


class Indexer:
    """The consumer loop. Built once by `hybridwatch indexer` (or a test) with its clients."""

    def __init__(
        self,
        consumer: Any,
        producer: Any,
        store: SearchEngineStore,
        topics: Topics,
        settings: IndexerSettings,
        metrics: Any = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.store = store
        self.topics = topics
        self.settings = settings
        self.metrics = metrics
        self.rng = rng or random.Random(0)
        self._sleep = sleep
        self.stats = IndexerStats()
        self._stopping = False

    def stop(self) -> None:
        """Ask the loop to finish (from a signal handler); an unsent batch is not committed."""
        self._stopping = True

    # -- decoding ---------------------------------------------------------------------

    def _pending(self, msg: Any) -> _Pending:
        try:
            if msg.topic == self.topics.articles:
                a = decode_event(Article, msg.value, msg.headers)
                return _Pending(msg, Doc("articles", a.id, a.published, a.to_json().encode()))
            if msg.topic == self.topics.signals:
                s = decode_event(Signal, msg.value, msg.headers)
                return _Pending(msg, Doc("signals", s.id, s.event_time, s.to_json().encode()))
            if msg.topic == self.topics.alerts:
                al = decode_event(Alert, msg.value, msg.headers)
                return _Pending(msg, Doc("alerts", al.id, al.event_time, al.to_json().encode()))
            return _Pending(msg, reason=f"indexer does not index topic {msg.topic}")
        except ContractError as err:
            return _Pending(msg, reason=f"undecodable record: {err}")

    # -- the loop -----------------------------------------------------------------------

    def run(self, once: bool = False) -> IndexerStats:
        """Consume until stopped (or, with once=True, until caught up with the topics)."""
        self.consumer.subscribe([self.topics.articles, self.topics.signals, self.topics.alerts])
        started = time.monotonic()
        batch = _Batch()
        while not self._stopping:
            room = self.settings.batch_size - len(batch.items)
            polled = self.consumer.poll(timeout_ms=200, max_records=max(room, 1))
            for records in polled.values():
                for msg in records:
                    if not batch.items:
                        batch.started = time.monotonic()
                    p = self._pending(msg)
                    batch.items.append(p)
                    batch.size_bytes += len(msg.value or b"")
            self.stats.records += sum(len(r) for r in polled.values())
            full = (
                len(batch.items) >= self.settings.batch_size
                or batch.size_bytes >= self.settings.batch_bytes
            )
            late = bool(batch.items) and time.monotonic() - batch.started >= self.settings.linger
            idle = not polled
            if batch.items and (full or late or (idle and once)):
                if not self._flush(batch):
                    break  # stopped while retrying: leave the batch uncommitted
                batch = _Batch()
            elif idle and once and not batch.items and self._caught_up(started):
                break
        return self.stats

    def _caught_up(self, started: float) -> bool:
        topics = [self.topics.articles, self.topics.signals, self.topics.alerts]
        try:
            return caught_up(self.consumer, time.monotonic() - started, topics)
        except NoPartitions as err:
            raise IndexerError(str(err)) from err

    # -- one batch ----------------------------------------------------------------------

    def _flush(self, batch: _Batch) -> bool:
        """Index the batch, dead-letter what must be, then commit. False if stopped first."""
        if not self._index([p for p in batch.items if p.doc is not None]):
            return False
        dead = [p for p in batch.items if p.reason is not None]
        if dead:
            self._dead_letter(dead)
        self.consumer.commit()
        self.stats.commits += 1
        return True

    def _index(self, todo: list[_Pending]) -> bool:
        """Bulk-index `todo` until every document is indexed or marked refused (reason set).

        Returns False only when stopped before that.
        """
        failures = 0
        outage_started: float | None = None
        while todo:
            if self._stopping:
                return False
            self.stats.bulk_requests += 1
            try:
                result = self.store.index_documents([p.doc for p in todo if p.doc is not None])
            except EngineUnavailable as err:
                failures += 1
                self.stats.bulk_failures += 1
                outage_started = outage_started or time.monotonic()
                self._count_error("engine_unavailable")
                self._backoff(failures, f"bulk of {len(todo)} failed: {err}")
                continue
            except EngineError as err:
                # the request as a whole was refused (e.g. too large): halve it so one bad
                # document cannot block the partition; a lone refused document is dead-lettered
                if len(todo) == 1:
                    todo[0].reason = f"refused by the search engine: {err}"
                    return True
                half = len(todo) // 2
                log.warning("bulk of %d refused (%s); retrying as two halves", len(todo), err)
                return self._index(todo[:half]) and self._index(todo[half:])
            if outage_started is not None:
                took = time.monotonic() - outage_started
                self.stats.longest_outage_s = max(self.stats.longest_outage_s, took)
                log.warning("search engine back after %.1fs; bulk of %d succeeded", took, len(todo))
                outage_started = None
            self.stats.indexed += result.indexed
            by_doc = {id(p.doc): p for p in todo}
            for doc, reason in result.rejected:
                by_doc[id(doc)].reason = f"refused by the search engine: {reason}"
            retry = {id(doc) for doc, _ in result.retry}
            todo = [p for p in todo if id(p.doc) in retry]
            if todo:
                failures += 1
                self.stats.item_retries += len(todo)
                self._backoff(
                    failures, f"{len(todo)} documents failed with 429/5xx: {result.retry[0][1]}"
                )
        return True

    def _backoff(self, failures: int, why: str) -> None:
        delay = min(self.settings.max_backoff, BASE_BACKOFF * 2 ** min(failures - 1, 16))
        delay = (
            delay / 2 + self.rng.random() * delay / 2
        )  # jitter: several indexers do not march in step
        log.warning("retry %d in %.2fs: %s", failures, delay, why)
        self._sleep(delay)

    def _count_error(self, stage: str) -> None:
        if self.metrics is not None:
            self.metrics.errors.labels(stage=f"index:{stage}").inc()

    def _dead_letter(self, items: list[_Pending]) -> None:
        """Send records to the dead-letter topic and wait until Kafka has them all."""
        send_dead_letters(
            self.producer, self.topics.dead_letter, [(p.msg, p.reason or "unknown") for p in items]
        )
        if self.metrics is not None:
            for p in items:
                kind = "undecodable" if (p.reason or "").startswith("undecodable") else "refused"
                self.metrics.dead_letters.labels(reason=kind).inc()
        self.stats.dead_letters += len(items)
