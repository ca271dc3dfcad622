"""Kafka -> search engine: bulk-index articles, signals and alerts without loss or duplicates.

A sink on the shared consumer loop (services/kafka/sink_loop.py), which polls, batches,
dead-letters, retries, commits and detects "caught up"; this module only turns records
into documents and bulk-indexes them, saying which failures are transient (the engine
is down, 429, 5xx: the loop backs off and writes again) and which permanent (the record
is not an event or the engine refuses the document: dead-lettered).

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from hybridwatch.config import IndexerSettings
from hybridwatch.events import Alert, Article, ContractError, Signal
from hybridwatch.topics import Topics
from services.kafka.codec import decode_event
from services.kafka.consuming import NoPartitions
from services.kafka.ports import ConsumedRecord, Producer
from services.kafka.sink_loop import (
    BaseSink,
    BatchLimits,
    LoopConsumer,
    LoopMetrics,
    PermanentError,
    SinkLoop,
    TransientError,
)
from services.retry import Backoff
from services.store.engine_client import EngineError, EngineUnavailable
from services.store.search_engine import BulkResult, Doc

log = logging.getLogger(__name__)

BASE_BACKOFF = 0.25


class IndexerError(RuntimeError):
    """The indexer cannot do its job (e.g. its topics do not exist)."""


class BulkIndex(Protocol):
    """What the sink needs of the search-engine store (SearchEngineStore has it)."""

    def index_documents(self, docs: Sequence[Doc]) -> BulkResult: ...


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
    commit_failures: int = 0
    longest_outage_s: float = 0.0

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


class IndexSink(BaseSink):
    """Records -> documents (id = event id, index by event time) -> bulk requests."""

    name = "index"
    target = "search engine"

    def __init__(self, store: BulkIndex, topics: Topics) -> None:
        self.store = store
        self._topics = topics
        self.indexed = 0
        self.bulk_requests = 0
        self.bulk_failures = 0
        self.item_retries = 0

    def topics(self) -> Sequence[str]:
        return [self._topics.articles, self._topics.signals, self._topics.alerts]

    def decode(self, record: ConsumedRecord) -> Doc:
        try:
            if record.topic == self._topics.articles:
                a = decode_event(Article, record.value, record.headers)
                return Doc("articles", a.id, a.published, a.to_json().encode())
            if record.topic == self._topics.signals:
                s = decode_event(Signal, record.value, record.headers)
                return Doc("signals", s.id, s.event_time, s.to_json().encode())
            if record.topic == self._topics.alerts:
                al = decode_event(Alert, record.value, record.headers)
                return Doc("alerts", al.id, al.event_time, al.to_json().encode())
        except ContractError as err:
            raise PermanentError(f"undecodable record: {err}", kind="undecodable") from err
        raise PermanentError(f"indexer does not index topic {record.topic}", kind="undecodable")

    def write(self, items: Sequence[Doc]) -> Mapping[int, PermanentError]:
        """One bulk request (or halves of it, see below); TransientError lists what to retry."""
        self.bulk_requests += 1
        try:
            result = self.store.index_documents(items)
        except EngineUnavailable as err:
            self.bulk_failures += 1
            raise TransientError(
                f"bulk of {len(items)} failed: {err}", kind="engine_unavailable"
            ) from err
        except EngineError as err:
            # the request as a whole was refused (e.g. too large): halve it so one bad
            # document cannot block the partition; a lone refused document is dead-lettered
            if len(items) == 1:
                return {0: PermanentError(f"refused by the search engine: {err}")}
            return self._halves(items, err)
        self.indexed += result.indexed
        index = {id(d): i for i, d in enumerate(items)}
        refused = {
            index[id(doc)]: PermanentError(f"refused by the search engine: {reason}")
            for doc, reason in result.rejected
        }
        if result.retry:
            self.item_retries += len(result.retry)
            raise TransientError(
                f"{len(result.retry)} documents failed with 429/5xx: {result.retry[0][1]}",
                retry=[index[id(doc)] for doc, _ in result.retry],
                rejected=refused,
                kind="item_retry",
            )
        return refused

    def _halves(self, items: Sequence[Doc], err: EngineError) -> Mapping[int, PermanentError]:
        log.warning("bulk of %d refused (%s); retrying as two halves", len(items), err)
        half = len(items) // 2
        refused: dict[int, PermanentError] = {}
        for base, part in ((0, items[:half]), (half, items[half:])):
            try:
                refused.update({base + i: e for i, e in self.write(part).items()})
            except TransientError as t:
                # the rest of this half and the whole second half are still to write
                retry = [base + i for i in (t.retry if t.retry is not None else range(len(part)))]
                if base == 0:
                    retry += list(range(half, len(items)))
                rejected = {**refused, **{base + i: e for i, e in t.rejected.items()}}
                raise TransientError(str(t), retry=retry, rejected=rejected, kind=t.kind) from t
        return refused


class Indexer:
    """The indexer: IndexSink on the shared loop. Built once by `hybridwatch indexer`."""

    def __init__(
        self,
        consumer: LoopConsumer,
        producer: Producer,
        store: BulkIndex,
        topics: Topics,
        settings: IndexerSettings,
        metrics: LoopMetrics | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.sink = IndexSink(store, topics)
        self.loop = SinkLoop(
            consumer,
            producer,
            self.sink,
            dead_letter_topic=topics.dead_letter,
            limits=BatchLimits(settings.batch_size, settings.batch_bytes, settings.linger),
            backoff=Backoff(BASE_BACKOFF, settings.max_backoff),
            metrics=metrics,
            rng=rng,
            sleep=sleep,
        )

    def stop(self) -> None:
        """Finish (from a signal handler); a batch not yet written is not committed."""
        self.loop.stop()

    @property
    def stats(self) -> IndexerStats:
        s, k = self.loop.stats, self.sink
        return IndexerStats(
            records=s.records,
            indexed=k.indexed,
            dead_letters=s.dead_letters,
            bulk_requests=k.bulk_requests,
            bulk_failures=k.bulk_failures,
            item_retries=k.item_retries,
            commits=s.commits,
            commit_failures=s.commit_failures,
            longest_outage_s=s.longest_outage_s,
        )

    def run(self, once: bool = False) -> IndexerStats:
        """Consume until stopped (or, with once=True, until caught up with the topics)."""
        try:
            self.loop.run(once=once)
        except NoPartitions as err:
            raise IndexerError(str(err)) from err
        return self.stats
