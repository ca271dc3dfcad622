"""One checkpointed consumer loop for every Kafka sink (indexer, archiver, alert delivery).

    poll -> decode -> sink.write(batch) -> dead letters (acknowledged) -> commit -> caught up?

A sink says how to turn a record into something it can write (`decode`) and how to
write a batch of those durably (`write`); the loop owns everything else, identically for
every sink:

* **Commit only after the write.** Offsets are committed after `write` returned (the
  batch is durable in the sink) and every dead letter of the batch was acknowledged by
  Kafka. A crash anywhere before the commit means the batch is read again; sinks are
  idempotent (ids from content), so that is more work, never a loss or a duplicate.
* **Two kinds of failure, two exception types.**
  `TransientError` — the write failed and may succeed later (target down, overloaded,
  disk full): the loop waits (capped exponential back-off with jitter) and writes again,
  forever, until it succeeds or the loop is stopped. Nothing is polled and nothing is
  committed meanwhile, so memory stays at one batch however long the outage.
  `PermanentError` — this one record can never be written (not a valid event, refused
  by the target): it goes to the dead-letter topic and the loop goes on with the rest.
  `decode` raises it for a poison record; `write` returns it per record.
  Anything else a sink raises is a bug or a crash: it propagates and nothing of the batch
  is committed.
* **Dead letters** carry the original key, value and headers plus `hw-error` (the
  reason), `hw-source` (topic/partition/offset) and `hw-attempt` (how often the record
  was processed: 1 + the times `hybridwatch dead-letters redrive` re-sent it). Sending
  them is retried like a transient write; the commit waits for their acknowledgement.
* **Caught up**: with `once=True`, `run` returns when nothing is pending and every
  assigned partition is read to its end (for tests, replays and cron-style runs).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Generic, Protocol, TypeVar

from kafka.errors import CommitFailedError, KafkaError, RebalanceInProgressError

from hybridwatch.events import ContractError
from services.kafka.codec import E, dead_letter_headers, decode_event
from services.kafka.consuming import NoPartitions
from services.kafka.dead_letters import attempt_of
from services.kafka.ports import ConsumedRecord, Consumer, Producer, SendFuture
from services.retry import Backoff

log = logging.getLogger(__name__)

T = TypeVar("T")

ASSIGN_TIMEOUT = 60.0
"""Seconds a consumer may wait for a partition before the topics are declared missing."""
SEND_TIMEOUT = 60.0
"""Seconds to wait for Kafka's acknowledgement of one dead letter."""


class TransientError(Exception):
    """The write failed and may succeed later: retried with back-off, nothing committed.

    `retry`: indices (into the batch given to `write`) still to write, when part of it
    succeeded (None: all of it). `rejected`: records of the same attempt refused for
    good (dead-lettered once the batch is done). `kind`: a short label for metrics.
    """

    def __init__(
        self,
        message: str,
        *,
        retry: Sequence[int] | None = None,
        rejected: Mapping[int, PermanentError] | None = None,
        kind: str = "transient",
    ) -> None:
        super().__init__(message)
        self.retry = None if retry is None else list(retry)
        self.rejected = dict(rejected or {})
        self.kind = kind


class PermanentError(Exception):
    """This record can never be written: it goes to the dead-letter topic, the loop goes on.

    The message is the reason in the dead letter's `hw-error` header; `kind` labels the
    `hw_dead_letters{reason}` metric (`undecodable`, `refused`, ...).
    """

    def __init__(self, message: str, *, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


def decode_or_quarantine(model: type[E], record: ConsumedRecord) -> E:
    """A record as the event contract `model`; one that is not is poison for the
    dead-letter topic (the decode step every event sink shares)."""
    try:
        return decode_event(model, record.value, record.headers)
    except ContractError as err:
        raise PermanentError(f"undecodable record: {err}", kind="undecodable") from err


class Sink(Protocol[T]):
    """What a consumer needs to plug into the loop (see `BaseSink` for the optional hooks)."""

    @property
    def name(self) -> str:
        """Short label for metrics and logs (`index`, `archive`, `alerts`)."""
        ...

    @property
    def target(self) -> str:
        """What the sink writes to, for log lines ("search engine back after 61.2s")."""
        ...

    def topics(self) -> Sequence[str]: ...

    def decode(self, record: ConsumedRecord) -> T:
        """The record as the sink writes it; raise PermanentError for a poison record."""
        ...

    def write(self, items: Sequence[T]) -> Mapping[int, PermanentError]:
        """Write `items` durably; return the ones refused for good, by index.

        Raise TransientError when (part of) the write may succeed later.
        """
        ...

    def started(self) -> None:
        """Called once before the first poll."""
        ...

    def committed(self) -> None:
        """Called after each commit (e.g. deliver what the batch made durable)."""
        ...

    def tick(self) -> None:
        """Called after every poll, also an empty one (periodic work)."""
        ...

    def finished(self, caught_up: bool) -> None:
        """Called when the loop ends (`caught_up`: it ended because `once` was reached)."""
        ...


class BaseSink:
    """No-op hooks, so a sink defines only `decode` and `write` (and its names)."""

    def started(self) -> None:
        return None

    def committed(self) -> None:
        return None

    def tick(self) -> None:
        return None

    def finished(self, caught_up: bool) -> None:
        return None


class LoopConsumer(Consumer, Protocol):
    """The consumer calls the loop makes (kafka-python's KafkaConsumer has them)."""

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        """The topic's partition ids, fetching metadata when the client has none yet."""
        ...


class LabelledCounter(Protocol):
    def labels(self, **labels: str) -> _Counter: ...


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class LoopMetrics(Protocol):
    """The metrics the loop records (services.metrics.Metrics has them)."""

    @property
    def errors(self) -> LabelledCounter: ...
    @property
    def dead_letters(self) -> LabelledCounter: ...


@dataclass(frozen=True)
class BatchLimits:
    """When a batch is written: `size` records, `size_bytes` bytes of values, or `linger`
    seconds after its first record (0: after every poll that returned records)."""

    size: int = 500
    size_bytes: int = 8 * 1024 * 1024
    linger: float = 0.0


@dataclass
class LoopStats:
    """Counters of one run of the loop (the sinks add their own)."""

    records: int = 0
    written: int = 0
    dead_letters: int = 0
    commits: int = 0
    transient_failures: int = 0
    """Writes (and dead-letter sends) that failed and were retried."""
    commit_failures: int = 0
    """Commits refused after a rebalance (the batch is read again: idempotent)."""
    longest_outage_s: float = 0.0

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass
class _Entry(Generic[T]):
    record: ConsumedRecord
    item: T | None = None
    error: PermanentError | None = None


@dataclass
class _Batch(Generic[T]):
    entries: list[_Entry[T]] = field(default_factory=list)
    size_bytes: int = 0
    started: float = 0.0


class SinkLoop(Generic[T]):
    """The consumer loop around one sink. Built once by a composition root (or a test)."""

    def __init__(
        self,
        consumer: LoopConsumer,
        producer: Producer,
        sink: Sink[T],
        *,
        dead_letter_topic: str,
        limits: BatchLimits | None = None,
        backoff: Backoff | None = None,
        metrics: LoopMetrics | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll_timeout_ms: int = 200,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.sink = sink
        self.dead_letter_topic = dead_letter_topic
        self.limits = limits or BatchLimits()
        self.backoff = backoff or Backoff(0.25)
        self.metrics = metrics
        self.rng = rng or random.Random(0)
        self._stopping = False
        self.sleep: Callable[[float], object] = sleep or self._nap
        """Waits out a back-off; the default returns soon after the loop is stopped."""
        self._clock = clock
        self.poll_timeout_ms = poll_timeout_ms
        self.stats = LoopStats()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Finish: a batch being retried is left uncommitted. Safe from a signal handler:
        it only sets a flag (no lock a handler could deadlock on)."""
        self._stopping = True

    def _nap(self, seconds: float) -> None:
        """Sleep `seconds` in short slices, returning early once stopped."""
        deadline = time.monotonic() + seconds
        while not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.2))

    # -- the loop ---------------------------------------------------------------------

    def run(self, once: bool = False) -> LoopStats:
        """Consume until stopped (once=True: until caught up with the topics).

        Raises NoPartitions when no partition of the topics is assigned within
        ASSIGN_TIMEOUT (they do not exist).
        """
        topics = list(self.sink.topics())
        self.sink.started()
        self._await_topics(topics, once)
        self.consumer.subscribe(topics)
        started = self._clock()
        batch: _Batch[T] = _Batch()
        reached_end = False
        poll_failures = 0
        while not self.stopping:
            room = self.limits.size - len(batch.entries)
            try:
                polled = self.consumer.poll(
                    timeout_ms=self.poll_timeout_ms, max_records=max(room, 1)
                )
            except KafkaError as err:  # the batch in hand stays as it is
                poll_failures += 1
                self._wait_for_broker(err, poll_failures, "poll")
                continue
            poll_failures = 0
            count = 0
            for records in polled.values():
                for record in records:
                    if not batch.entries:
                        batch.started = self._clock()
                    batch.entries.append(self._decode(record))
                    batch.size_bytes += len(record.value or b"")
                    count += 1
            self.stats.records += count
            if batch.entries and self._due(batch, idle=count == 0, once=once):
                if not self._flush(batch):
                    break  # stopped while retrying: the batch stays uncommitted
                batch = _Batch()
            self.sink.tick()
            if (
                once
                and count == 0
                and not batch.entries
                and self._caught_up(self._clock() - started, topics)
            ):
                reached_end = True
                break
        self.sink.finished(reached_end)
        return self.stats

    def _await_topics(self, topics: Sequence[str], once: bool) -> None:
        """Wait until the client's metadata has every topic's partitions, then subscribe.

        Joining the group before that lets the group leader assign nothing ("No partition
        metadata for topic"), and kafka-python did not always rejoin once the metadata
        arrived: a consumer started right after its topics were created sometimes sat
        with no partition. With --once a missing topic is an error after ASSIGN_TIMEOUT;
        a long-running consumer keeps waiting (the topics may be created after it).
        """
        started = warned = self._clock()
        while not self.stopping:
            missing = [t for t in topics if not self.consumer.partitions_for_topic(t)]
            if not missing:
                return
            now = self._clock()
            if now - started > ASSIGN_TIMEOUT:
                if once:
                    raise NoPartitions(
                        f"topic {', '.join(missing)} has no partitions after "
                        f"{ASSIGN_TIMEOUT:.0f}s: does it exist (hybridwatch topics)?"
                    )
                if now - warned > ASSIGN_TIMEOUT:
                    log.warning(
                        "%s: still waiting for topic %s", self.sink.name, ", ".join(missing)
                    )
                    warned = now
            self._nap(0.5)

    def _due(self, batch: _Batch[T], idle: bool, once: bool) -> bool:
        full = len(batch.entries) >= self.limits.size or batch.size_bytes >= self.limits.size_bytes
        late = self._clock() - batch.started >= self.limits.linger
        return full or late or (idle and once)

    def _decode(self, record: ConsumedRecord) -> _Entry[T]:
        try:
            return _Entry(record, item=self.sink.decode(record))
        except PermanentError as err:
            return _Entry(record, error=err)

    def _caught_up(self, waited: float, topics: Sequence[str]) -> bool:
        assigned = self.consumer.assignment()
        if not assigned:
            if waited > ASSIGN_TIMEOUT:
                raise NoPartitions(
                    f"no partition of {', '.join(topics)} was assigned within "
                    f"{ASSIGN_TIMEOUT:.0f}s: does the topic exist (hybridwatch topics)?"
                )
            return False
        parts = list(assigned)
        ends = self.consumer.end_offsets(parts)
        return all(self.consumer.position(tp) >= ends[tp] for tp in parts)

    # -- one batch ----------------------------------------------------------------------

    def _flush(self, batch: _Batch[T]) -> bool:
        """Write, dead-letter, commit. False when stopped before the batch was done."""
        todo = [e for e in batch.entries if e.error is None]
        if todo and not self._write(todo):
            return False
        dead = [e for e in batch.entries if e.error is not None]
        if dead and not self._dead_letter(dead):
            return False
        self.stats.written += sum(1 for e in todo if e.error is None)
        failures = 0
        while True:
            try:
                self.consumer.commit()
                break
            except (CommitFailedError, RebalanceInProgressError) as err:
                # the group rebalanced (or is rebalancing: kafka-python >= 2.2 raises the
                # latter) while we wrote: the batch's owner reads it again, and re-writing
                # it is idempotent
                self.stats.commit_failures += 1
                self._count_error("commit_failed")
                log.warning("%s: commit refused after a rebalance (%s); the batch is read again",
                            self.sink.name, err)  # fmt: skip
                return True
            except KafkaError as err:  # the batch is written: commit again once it can
                failures += 1
                self._wait_for_broker(err, failures, "commit")
                if self.stopping:
                    # leaving uncommitted is safe: the batch is read again and re-written
                    return True
        self.stats.commits += 1
        self.sink.committed()
        return True

    def _write(self, entries: list[_Entry[T]]) -> bool:
        """Write until every entry is written or refused (entry.error). False if stopped."""
        todo = entries
        failures = 0
        outage_started: float | None = None
        while todo:
            if self.stopping:
                return False
            items = [e.item for e in todo if e.item is not None]
            assert len(items) == len(todo), "only decoded entries are written"
            try:
                refused = self.sink.write(items)
            except TransientError as err:
                failures += 1
                self.stats.transient_failures += 1
                if outage_started is None:
                    outage_started = self._clock()
                self._count_error(err.kind)
                for i, why in err.rejected.items():
                    todo[i].error = why
                retry = range(len(todo)) if err.retry is None else err.retry
                todo = [todo[i] for i in retry if todo[i].error is None]
                self._wait(failures, f"{self.sink.target}: {err}")
                continue
            for i, why in refused.items():
                todo[i].error = why
            if outage_started is not None:
                took = self._clock() - outage_started
                self.stats.longest_outage_s = max(self.stats.longest_outage_s, took)
                log.warning("%s back after %.1fs; write of %d succeeded",
                            self.sink.target, took, len(todo))  # fmt: skip
            return True
        return True

    def _wait_for_broker(self, err: KafkaError, failures: int, call: str) -> None:
        """Back off after a retriable Kafka error from `call` (poll or commit): a broker
        restart or a moving group coordinator, waited out as a write waits out an engine
        outage (found by the chaos run, docs/security.md). One that retrying cannot help
        (not `retriable`) ends the loop."""
        if not err.retriable:
            raise err
        self.stats.transient_failures += 1
        self._count_error(f"{call}_unavailable")
        self._wait(failures, f"{self.sink.name}: {call} failed ({err!r})")

    def _wait(self, failures: int, why: str) -> None:
        delay = self.backoff.delay(failures, self.rng)
        log.warning("retry %d in %.2fs: %s", failures, delay, why)
        self.sleep(delay)

    def _dead_letter(self, entries: list[_Entry[T]]) -> bool:
        """Send the entries to the dead-letter topic; True once Kafka acknowledged them all."""
        todo = entries
        failures = 0
        while todo:
            if self.stopping and failures:
                return False
            futures: list[tuple[_Entry[T], SendFuture]] = []
            for e in todo:
                m, reason = e.record, str(e.error)
                log.error("dead-letter %s/%d/%d: %s", m.topic, m.partition, m.offset, reason)
                headers = dead_letter_headers(
                    reason, m.topic, m.partition, m.offset, attempt_of(m.headers), m.headers
                )
                futures.append(
                    (e, self.producer.send(
                        self.dead_letter_topic, key=m.key, value=m.value, headers=headers
                    ))
                )  # fmt: skip
            self.producer.flush()
            failed: list[_Entry[T]] = []
            problem: Exception | None = None
            for e, fut in futures:
                try:
                    fut.get(timeout=SEND_TIMEOUT)
                except Exception as err:  # not acknowledged: sent again, nothing committed
                    failed.append(e)
                    problem = problem or err
            if failed:
                failures += 1
                self.stats.transient_failures += 1
                self._count_error("dead_letter_send")
                self._wait(failures, f"{len(failed)} dead letters not acknowledged: {problem!r}")
            todo = failed
        self.stats.dead_letters += len(entries)
        if self.metrics is not None:
            for e in entries:
                kind = e.error.kind if e.error is not None else "unknown"
                self.metrics.dead_letters.labels(reason=kind).inc()
        return True

    def _count_error(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.errors.labels(stage=f"{self.sink.name}:{kind}").inc()
