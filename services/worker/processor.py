"""One batch of article records -> signals, dead letters and detector-state updates.

Framework-free on purpose: it knows nothing of Faust. The Faust adapter
(services/worker/faust_adapter.py) turns its events into `Incoming` and its producer,
table and consumer into the callables given here, so this ordering logic -- the part
that decides whether a crash can lose or double-count anything -- is unit-testable
without a broker. The order per batch is:

1. per source partition, in offset order: skip records at or below the partition's
   applied-offset marker (re-deliveries); decode (poison -> dead letter); run the
   shared batch step (services/pipeline/step.py: a failing article -> dead letter,
   no state change of it kept);
2. send every signal and dead letter and wait until Kafka acknowledged all of them
   (failed sends are retried with the attempt count in a header);
3. only then write, per partition, a delta record (the batch's changed keys) and the
   marker (last offset + delta number) into the local store -- now and then a snapshot
   of the dirty state shards (services/worker/state.py) -- and send them to the
   changelog, waiting for Kafka's acknowledgement of each stage before the next.

The caller acks the records (lets the consumer commit offsets) after `process` returns,
and must not ack them if it raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from detectors.pipeline import DetectorSuite
from hybridwatch.events import Article, ContractError
from hybridwatch.topics import ATTEMPT_HEADER, Topics
from services.alerts.alerter import Subscription
from services.kafka.codec import (
    Headers,
    Record,
    dead_letter_headers,
    decode_event,
    encode,
    is_replay,
)
from services.pipeline.step import ArticleFailure, Outcome, StateChanges, run_batch
from services.retry import Backoff, async_attempts
from services.worker.state import StateCache

if TYPE_CHECKING:
    from services.metrics import PipelineMetrics

log = logging.getLogger(__name__)

TRACE_BATCHES = os.environ.get("HYBRIDWATCH_TRACE_BATCHES") == "1"
"""Log every batch's partition, offsets and marker (a diagnostic switch: the scale-out
test turns it on so a failed run leaves the worker's view of each batch behind)."""

SeekFn = Callable[[str, int, int], Awaitable[Any]]
"""seek(topic, partition, offset): fetch the partition again from `offset`."""
GAP_CONFIRMATIONS = 3

ChangelogFn = Callable[[int, str, Any], Awaitable[Any]]
"""changelog(partition, key, value or None) -> resolves when Kafka acknowledged the record."""


SendFn = Callable[[str, bytes | None, bytes | None, Headers], Awaitable[Awaitable[Any]]]
"""send(topic, key, value, headers) -> awaitable that resolves when Kafka acknowledged it."""
ScopeFn = Callable[["Incoming"], contextlib.AbstractContextManager[Any]]


@dataclass(frozen=True)
class Incoming:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any = None
    handle: Any = None
    """The runtime's own event object: opaque here, only `scope` uses it."""


@dataclass
class BatchReport:
    processed: int = 0
    skipped: int = 0
    dead: int = 0
    signals: int = 0
    alerts: int = 0
    last_offsets: dict[int, int] = field(default_factory=dict)
    rewound: dict[int, int] = field(default_factory=dict)
    """Partitions rewound to an offset because records before it never arrived."""


@dataclass
class _Out:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers
    signal: tuple[str, str] | None = None  # (detector, country) for metrics
    dead_reason: str | None = None


class _Ran(NamedTuple):
    outs: list[_Out]
    changes: StateChanges


@contextlib.contextmanager
def _no_scope(_: Incoming) -> Iterator[None]:
    yield


class BatchProcessor:
    def __init__(
        self,
        suite: DetectorSuite,
        table: MutableMapping[str, Any],
        topics: Topics,
        send: SendFn,
        changelog: ChangelogFn | None = None,
        seek: SeekFn | None = None,
        scope: ScopeFn = _no_scope,
        metrics: PipelineMetrics | None = None,
        max_send_attempts: int = 5,
        send_backoff: float = 0.5,
        shards: int = 16,
        snapshot_min_keys: int = 20_000,
        max_deltas: int = 1_000,
        subscriptions: Sequence[Subscription] = (),
    ) -> None:
        self.suite = suite
        self.subscriptions = tuple(subscriptions)
        """Their alerts go to the alerts topic (services.alerts.alerter.build_alerts)."""
        self.table = table
        self.topics = topics
        self._send = send
        self._changelog = changelog
        self._seek = seek
        self._gaps: dict[tuple[str, int], tuple[tuple[int, int], int]] = {}
        self._scope = scope
        self.metrics = metrics
        self.max_send_attempts = max_send_attempts
        self.send_backoff = send_backoff
        self.shards = shards
        self.snapshot_min_keys = snapshot_min_keys
        self.max_deltas = max_deltas
        self._caches: dict[tuple[str, int], StateCache] = {}
        self.positions: dict[tuple[str, int], int] = {}
        """Highest offset seen per source partition (processed or skipped)."""
        self.last_batch_at = time.monotonic()
        """When the last batch finished (the runtime's stall watchdog reads it)."""

    def forget_partitions(self) -> None:
        """Call on rebalance: the next batch of each partition reloads and re-applies its marker."""
        self._caches.clear()

    async def process(self, batch: Sequence[Incoming]) -> BatchReport:
        report = BatchReport()
        groups: dict[tuple[str, int], list[Incoming]] = {}
        for rec in batch:
            groups.setdefault((rec.topic, rec.partition), []).append(rec)
        outs: list[_Out] = []
        rewinds: list[tuple[str, int, int]] = []
        commits: list[tuple[Incoming, StateCache, int, StateChanges]] = []
        for (topic, partition), recs in groups.items():
            recs.sort(key=lambda r: r.offset)
            with self._scope(recs[-1]):
                cache = self._caches.get((topic, partition))
                if cache is None:
                    cache = StateCache(
                        self.table,
                        topic,
                        partition,
                        self.shards,
                        snapshot_min_keys=self.snapshot_min_keys,
                        max_deltas=self.max_deltas,
                    )
                    # the marker names the deltas not yet folded into the shard snapshot
                    cache.recover()
                    self._caches[(topic, partition)] = cache
                    log.info(
                        "state of %s/%d recovered: applied up to offset %d (delta %d, snapshot %d)",
                        topic,
                        partition,
                        cache.offset,
                        cache.seq,
                        cache.snap,
                    )
                applied = cache.offset
                last = applied
                todo: list[Incoming] = []
                for rec in recs:
                    if rec.offset <= applied:
                        report.skipped += 1
                        if self.metrics is not None:
                            self.metrics.duplicates.inc()
                        continue
                    if rec.offset > last + 1 and self._is_lost(rec, last + 1):
                        rewinds.append((topic, partition, last + 1))
                        report.rewound[partition] = last + 1
                        break
                    last = max(last, rec.offset)
                    if self.metrics is not None:
                        self.metrics.articles_in.inc()
                    todo.append(rec)
                ran = self._run(todo, cache, report)
                outs.extend(ran.outs)
                # what the watchdog may count as handled: not records past a rewind
                handled = last if partition in report.rewound else max(last, recs[-1].offset)
                self.positions[(topic, partition)] = max(
                    handled, self.positions.get((topic, partition), -1)
                )
                if TRACE_BATCHES:
                    log.info(
                        "batch %s/%d offsets %d..%d applied=%d last=%d",
                        topic,
                        partition,
                        recs[0].offset,
                        recs[-1].offset,
                        applied,
                        last,
                    )
                if last > applied:
                    commits.append((recs[-1], cache, last, ran.changes))
                    report.last_offsets[partition] = last
        await self._deliver(outs)
        persisting = []
        for rec, cache, last, changes in commits:
            with self._scope(rec):
                # delta, marker (+ snapshot) into the local store: see state.py
                stages = cache.commit(last, changes.writes, list(changes.deletes))
            persisting.append(self._persist(rec, stages))
        await asyncio.gather(*persisting)
        if self._seek is not None:
            for topic, partition, offset in rewinds:
                await self._seek(topic, partition, offset)
        self.last_batch_at = time.monotonic()
        if self.metrics is not None:
            self.metrics.articles_out.inc(report.processed)
            for o in outs:
                if o.signal is not None:
                    self.metrics.signals.labels(detector=o.signal[0], country=o.signal[1]).inc()
                if o.dead_reason is not None:
                    self.metrics.dead_letters.labels(reason=o.dead_reason).inc()
        return report

    async def _persist(self, rec: Incoming, stages: list[list[tuple[str, Any]]]) -> None:
        """Make one partition's state records durable, stage after stage, in order.

        A failure raises: the caller must not let the batch's offsets be committed
        (the Faust adapter exits for a restart instead: faust_adapter.exit_process).
        """
        if self._changelog is None:
            return  # no changelog: the table itself is the durable store (unit tests)
        for stage in stages:
            with self._scope(rec):
                pending = [self._changelog(rec.partition, k, v) for k, v in stage]
            await asyncio.gather(*pending)

    def _is_lost(self, rec: Incoming, expected: int) -> bool:
        """A record arrived after a hole in its partition's offsets: lost on our side?

        Offsets of the articles topic are contiguous (no transactions, no compaction),
        but faust-streaming can ack records its `take_events` never yielded (seen in the
        scale-out test: offsets 60 and 61 of a partition skipped, acked and committed).
        Processing on would advance the marker over them for good. So the partition is
        rewound to the first missing offset instead. A hole the broker itself has
        (transaction markers, compaction) comes back the same after each rewind: after
        `GAP_CONFIRMATIONS` identical sightings it is accepted and logged. (So is the
        first offset of a partition whose older records retention already deleted: a
        partition without state expects offset 0 first.)
        """
        if self._seek is None:
            return False
        # only the latest hole per partition is remembered: bounded by the partitions
        tp, hole = (rec.topic, rec.partition), (expected, rec.offset)
        last_hole, seen = self._gaps.get(tp, (hole, 0))
        seen = seen + 1 if last_hole == hole else 1
        self._gaps[tp] = (hole, seen)
        if self.metrics is not None:
            self.metrics.errors.labels(stage="offset-gap").inc()
        if seen > GAP_CONFIRMATIONS:
            log.warning(
                "%s/%d: offsets %d..%d are missing from the log itself; continuing at %d",
                rec.topic,
                rec.partition,
                expected,
                rec.offset - 1,
                rec.offset,
            )
            return False
        log.warning(
            "%s/%d: records %d..%d were never delivered to the worker (offset %d arrived "
            "next); rewinding the partition to %d",
            rec.topic,
            rec.partition,
            expected,
            rec.offset - 1,
            rec.offset,
            expected,
        )
        return True

    def _run(self, recs: list[Incoming], cache: StateCache, report: BatchReport) -> _Ran:
        """One partition's records in offset order: decode, then the shared batch step."""
        decoded: list[tuple[Incoming, Article | _Out]] = []
        for rec in recs:
            try:
                decoded.append((rec, decode_event(Article, rec.value, rec.headers)))
            except ContractError as err:
                report.dead += 1
                decoded.append((rec, self._dead(rec, "invalid-article", str(err))))
        articles = [(rec, a) for rec, a in decoded if isinstance(a, Article)]
        result = run_batch(
            self.suite,
            self.subscriptions,
            [a for _, a in articles],
            cache.view,
            # re-published history: its alerts say so
            replay=[is_replay(rec.headers) for rec, _ in articles],
            # a failed detector may have mutated values in place: re-read them
            forget=cache.forget,
        )
        outcomes = iter(result.outcomes)
        outs: list[_Out] = []
        for rec, item in decoded:
            if isinstance(item, _Out):
                outs.append(item)
            else:
                outs.extend(self._outputs(rec, next(outcomes), report))
        return _Ran(outs, result.state_changes)

    def _outputs(self, rec: Incoming, outcome: Outcome, report: BatchReport) -> list[_Out]:
        if isinstance(outcome, ArticleFailure):
            log.error(
                "detector failure on article %s (%s/%d@%d)",
                outcome.article.id,
                rec.topic,
                rec.partition,
                rec.offset,
                exc_info=outcome.error,
            )
            report.dead += 1
            return [self._dead(rec, outcome.reason, outcome.detail)]
        report.processed += 1
        out: list[_Out] = []
        for sig in outcome.detection.signals:
            r: Record = encode(sig)
            out.append(
                _Out(
                    self.topics.signals,
                    r.key,
                    r.value,
                    r.headers,
                    signal=(sig.detector, sig.country),
                )
            )
        report.signals += len(out)
        for alert in outcome.alerts:
            a: Record = encode(alert)
            out.append(_Out(self.topics.alerts, a.key, a.value, a.headers))
            report.alerts += 1
        return out

    def _dead(self, rec: Incoming, reason: str, detail: str) -> _Out:
        log.warning(
            "dead letter from %s/%d@%d: %s: %s",
            rec.topic,
            rec.partition,
            rec.offset,
            reason,
            detail,
        )
        headers = dead_letter_headers(
            f"{reason}: {detail}", rec.topic, rec.partition, rec.offset, 1, rec.headers
        )
        return _Out(self.topics.dead_letter, rec.key, rec.value, headers, dead_reason=reason)

    async def _deliver(self, outs: list[_Out]) -> None:
        pending = outs
        errors: list[BaseException] = []
        backoff = Backoff(self.send_backoff, cap=30.0)
        async for attempt in async_attempts(self.max_send_attempts, backoff):
            if attempt > 1:
                # what is re-sent carries its attempt number (the dead-letter tool reads it)
                pending = [
                    _Out(
                        o.topic,
                        o.key,
                        o.value,
                        _with_attempt(o.headers, attempt),
                        o.signal,
                        o.dead_reason,
                    )
                    for o in pending
                ]
            futures = [await self._send(o.topic, o.key, o.value, o.headers) for o in pending]
            results = await asyncio.gather(*futures, return_exceptions=True)
            failed = [
                o for o, res in zip(pending, results, strict=True) if isinstance(res, BaseException)
            ]
            if not failed:
                return
            errors = [r for r in results if isinstance(r, BaseException)]
            if self.metrics is not None:
                self.metrics.errors.labels(stage="emit").inc(len(failed))
            log.warning(
                "%d sends failed (attempt %d): %r; retrying", len(failed), attempt, errors[0]
            )
            pending = failed
        raise RuntimeError(
            f"{len(pending)} signals/dead letters not acknowledged after "
            f"{self.max_send_attempts} attempts: {errors[0]!r}"
        )


def _with_attempt(headers: Headers, attempt: int) -> Headers:
    return [(k, v) for k, v in headers if k != ATTEMPT_HEADER] + [
        (ATTEMPT_HEADER, str(attempt).encode())
    ]
