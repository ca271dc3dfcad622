"""The shared sink loop's policies, with fakes for Kafka and the sink (pure unit tests).

The same policies against a real broker: tests/integration/kafka/test_sink_loop.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import pytest
from kafka.errors import (
    CommitFailedError,
    KafkaConnectionError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)

from hybridwatch.topics import ATTEMPT_HEADER, ERROR_HEADER
from services.kafka.codec import SOURCE_HEADER
from services.kafka.consuming import NoPartitions
from services.kafka.dead_letters import REDRIVE_HEADER
from services.kafka.ports import ConsumedRecord, Partition
from services.kafka.sink_loop import (
    BaseSink,
    BatchLimits,
    PermanentError,
    SinkLoop,
    TransientError,
)
from services.retry import Backoff

DLQ = "hw.dead-letter"


class TP(NamedTuple):
    topic: str
    partition: int


PART = TP("in", 0)


@dataclass
class Msg:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp: int = 0


def msgs(
    *values: bytes, start: int = 0, headers: list[tuple[str, bytes]] | None = None
) -> list[Msg]:
    return [Msg("in", 0, start + i, b"k", v, list(headers or [])) for i, v in enumerate(values)]


class FakeConsumer:
    def __init__(self, log: list[str], batches: list[list[Msg]], assigned: bool = True) -> None:
        self.log = log
        self.batches = batches
        self.assigned = assigned
        self.commit_error: Exception | None = None
        self.commit_errors: list[Exception] = []
        """Raised by the next commits, one each (a broker restart: several in a row)."""
        self.poll_errors: list[Exception] = []
        """Raised by the next polls, one each, before any record is returned."""
        self.topic_exists = True

    def subscribe(self, topics: Sequence[str]) -> None:
        self.log.append("subscribe")

    def poll(
        self, *, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[Partition, list[Msg]]:
        if self.poll_errors:
            raise self.poll_errors.pop(0)
        self.log.append("poll")
        return {PART: self.batches.pop(0)} if self.batches else {}

    def commit(self, offsets: Mapping[Partition, object] | None = None) -> None:
        if self.commit_errors:
            raise self.commit_errors.pop(0)
        if self.commit_error is not None:
            err, self.commit_error = self.commit_error, None
            raise err
        self.log.append("commit")

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return {0} if self.topic_exists else None

    def assignment(self) -> set[Partition]:
        return {PART} if self.assigned else set()

    def end_offsets(self, partitions: Sequence[Partition]) -> dict[Partition, int]:
        return dict.fromkeys(partitions, 1)

    def position(self, partition: Partition) -> int:
        return 0 if self.batches else 1

    def close(self, autocommit: bool = True) -> None:
        pass


class Future:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> object:
        if self.error is not None:
            raise self.error
        return None


class FakeProducer:
    def __init__(self, log: list[str], failures: int = 0) -> None:
        self.log = log
        self.failures = failures
        self.sent: list[tuple[str, bytes | None, dict[str, bytes]]] = []

    def send(
        self,
        topic: str,
        *,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Future:
        if self.failures:
            self.failures -= 1
            self.log.append("dead-letter-lost")
            return Future(RuntimeError("KafkaTimeoutError"))
        self.log.append("dead-letter")
        self.sent.append((topic, value, dict(headers or [])))
        return Future()

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


class FakeSink(BaseSink):
    """Writes values; b"poison" is undecodable, b"refuse" refused for good; `plan` is a list
    of what successive writes do: "down" (all transient), "partial" (first item written,
    the rest transient), "crash" (an unexpected exception), "ok"."""

    name = "fake"
    target = "fake target"

    def __init__(self, log: list[str], plan: list[str] | None = None) -> None:
        self.log = log
        self.plan = list(plan or [])
        self.written: list[bytes] = []

    def topics(self) -> Sequence[str]:
        return ["in"]

    def decode(self, record: ConsumedRecord) -> bytes:
        if record.value == b"poison":
            raise PermanentError("undecodable record: not JSON", kind="undecodable")
        assert record.value is not None
        return record.value

    def write(self, items: Sequence[bytes]) -> Mapping[int, PermanentError]:
        step = self.plan.pop(0) if self.plan else "ok"
        if step == "down":
            self.log.append("write-failed")
            raise TransientError("connection refused")
        if step == "crash":
            raise RuntimeError("a bug")
        refused = {
            i: PermanentError("refused: HTTP 400") for i, v in enumerate(items) if v == b"refuse"
        }
        keep = [v for i, v in enumerate(items) if i not in refused]
        if step == "partial":
            self.written.append(keep[0])
            self.log.append("write-partial")
            raise TransientError("2 items overloaded", retry=range(1, len(items)), rejected=refused)
        self.written.extend(keep)
        self.log.append(f"write:{len(keep)}")
        return refused

    def committed(self) -> None:
        self.log.append("committed-hook")

    def finished(self, caught_up: bool) -> None:
        self.log.append(f"finished:{caught_up}")


def make(
    batches: list[list[Msg]], plan: list[str] | None = None, dlq_failures: int = 0, **limits: float
) -> tuple[SinkLoop[bytes], list[str], FakeSink, FakeProducer, FakeConsumer, list[float]]:
    log: list[str] = []
    sink = FakeSink(log, plan)
    producer = FakeProducer(log, dlq_failures)
    consumer = FakeConsumer(log, batches)
    delays: list[float] = []
    loop = SinkLoop(
        consumer,
        producer,
        sink,
        dead_letter_topic=DLQ,
        limits=BatchLimits(size=int(limits.get("size", 100)), linger=limits.get("linger", 0.0)),
        backoff=Backoff(base=0.25, cap=limits.get("cap", 30.0)),
        sleep=delays.append,
    )
    return loop, log, sink, producer, consumer, delays


def test_a_poison_record_is_dead_lettered_with_reason_origin_and_attempt_before_the_commit() -> (
    None
):
    loop, log, sink, producer, _, _ = make([msgs(b"a", b"poison", b"c", start=40)])
    stats = loop.run(once=True)
    assert sink.written == [b"a", b"c"]
    assert log.index("dead-letter") < log.index("commit") < log.index("committed-hook")
    ((topic, value, headers),) = producer.sent
    assert (topic, value) == (DLQ, b"poison")
    assert headers[ERROR_HEADER] == b"undecodable record: not JSON"
    assert headers[SOURCE_HEADER] == b"in/0/41"
    assert headers[ATTEMPT_HEADER] == b"1"
    assert (stats.records, stats.written, stats.dead_letters, stats.commits) == (3, 2, 1, 1)


def test_a_redriven_record_that_fails_again_counts_one_attempt_more() -> None:
    loop, _, _, producer, _, _ = make([msgs(b"poison", headers=[(REDRIVE_HEADER, b"2")])])
    loop.run(once=True)
    assert producer.sent[0][2][ATTEMPT_HEADER] == b"3"


def test_a_transient_failure_is_retried_with_back_off_and_nothing_is_polled_or_committed_meanwhile() -> (
    None
):
    loop, log, sink, _, _, delays = make([msgs(b"a", b"b")], plan=["down", "down", "down"])
    stats = loop.run(once=True)
    first = log.index("write-failed")
    assert log[first : log.index("commit")] == ["write-failed"] * 3 + ["write:2"]
    assert sink.written == [b"a", b"b"]
    assert stats.transient_failures == 3 and len(delays) == 3
    assert 0.125 <= delays[0] <= 0.25 and 0.25 <= delays[1] <= 0.5 and 0.5 <= delays[2] <= 1.0


def test_back_off_is_capped() -> None:
    loop, _, _, _, _, delays = make([msgs(b"a")], plan=["down"] * 12, cap=4.0)
    loop.run(once=True)
    assert all(d <= 4.0 for d in delays) and max(delays) >= 2.0


def test_a_partial_transient_failure_retries_only_what_is_left_and_dead_letters_the_refused() -> (
    None
):
    loop, log, sink, producer, _, _ = make([msgs(b"a", b"refuse", b"c")], plan=["partial"])
    loop.run(once=True)
    assert sink.written == [b"a", b"c"]  # "a" once, "c" on the retry
    assert [v for _, v, _ in producer.sent] == [b"refuse"]
    assert log.index("dead-letter") < log.index("commit")


def test_records_refused_by_the_write_are_dead_lettered_and_the_rest_committed() -> None:
    loop, _, sink, producer, _, _ = make([msgs(b"a", b"refuse")])
    stats = loop.run(once=True)
    assert sink.written == [b"a"]
    assert producer.sent[0][2][ERROR_HEADER] == b"refused: HTTP 400"
    assert (stats.written, stats.dead_letters, stats.commits) == (1, 1, 1)


def test_the_commit_waits_until_kafka_acknowledged_every_dead_letter() -> None:
    loop, log, _, producer, _, delays = make([msgs(b"poison")], dlq_failures=2)
    stats = loop.run(once=True)
    assert log[: log.index("commit")].count("dead-letter-lost") == 2
    assert log.index("dead-letter") < log.index("commit")
    assert len(producer.sent) == 1 and len(delays) == 2 and stats.dead_letters == 1


def test_an_unexpected_error_propagates_and_leaves_the_batch_uncommitted() -> None:
    loop, log, _, _, _, _ = make([msgs(b"a")], plan=["crash"])
    with pytest.raises(RuntimeError, match="a bug"):
        loop.run(once=True)
    assert "commit" not in log


def test_a_stop_during_retries_leaves_the_batch_uncommitted() -> None:
    loop, log, _, _, _, delays = make([msgs(b"a")], plan=["down"] * 1000)

    def stop_after_three(d: float) -> None:
        delays.append(d)
        if len(delays) == 3:
            loop.stop()

    loop.sleep = stop_after_three
    loop.run()
    assert "commit" not in log and log[-1] == "finished:False"


@pytest.mark.parametrize(
    "error", [CommitFailedError("group rebalanced"), RebalanceInProgressError("rebalancing")]
)
def test_a_commit_refused_after_a_rebalance_is_counted_and_the_loop_goes_on(
    error: Exception,
) -> None:
    loop, _, sink, _, consumer, _ = make([msgs(b"a"), msgs(b"b", start=1)])
    consumer.commit_error = error
    stats = loop.run(once=True)
    assert sink.written == [b"a", b"b"]
    assert (stats.commit_failures, stats.commits) == (1, 1)


def test_a_commit_meeting_a_broker_restart_is_retried_until_it_succeeds() -> None:
    """The chaos run's finding: kafka-python's connection error from commit() ended the
    indexer. The batch is written, so the loop waits and commits again."""
    loop, log, sink, _, consumer, delays = make([msgs(b"a")])
    consumer.commit_errors = [KafkaConnectionError("111 ECONNREFUSED")] * 3
    stats = loop.run(once=True)
    assert sink.written == [b"a"]
    assert (stats.commits, stats.commit_failures, stats.transient_failures) == (1, 0, 3)
    # the loop's back-off, doubling, with jitter in [half, full] of each step
    assert [full / 2 <= d <= full for d, full in zip(delays, [0.25, 0.5, 1.0], strict=True)] == [
        True
    ] * 3
    assert log.count("commit") == 1 and log.index("commit") < log.index("committed-hook")


def test_a_poll_meeting_a_broker_restart_is_retried_and_nothing_is_lost() -> None:
    loop, _, sink, _, consumer, delays = make([msgs(b"a"), msgs(b"b", start=1)])
    consumer.poll_errors = [KafkaConnectionError("111 ECONNREFUSED")] * 2
    stats = loop.run(once=True)
    assert sink.written == [b"a", b"b"]
    assert stats.transient_failures == 2 and len(delays) == 2
    assert stats.commits == 2


def test_a_commit_error_that_retrying_cannot_fix_ends_the_loop() -> None:
    loop, _, _, _, consumer, _ = make([msgs(b"a")])
    error: KafkaError = UnknownMemberIdError("fenced")
    consumer.commit_errors = [error]
    with pytest.raises(UnknownMemberIdError):
        loop.run(once=True)


def test_a_full_batch_is_written_at_once_and_a_partial_one_when_the_loop_is_idle() -> None:
    loop, log, _, _, _, _ = make([msgs(b"a", b"b"), msgs(b"c", start=2)], size=2, linger=60)
    loop.run(once=True)
    assert [e for e in log if e.startswith("write") or e == "commit"] == [
        "write:2",
        "commit",
        "write:1",
        "commit",
    ]


def test_caught_up_ends_a_run_once_everything_is_committed() -> None:
    loop, log, _, _, _, _ = make([msgs(b"a")])
    loop.run(once=True)
    assert log[-1] == "finished:True"


def test_no_partition_ever_assigned_is_a_clear_error() -> None:
    loop, _, _, _, consumer, _ = make([])
    consumer.assigned = False
    ticks = iter(range(0, 10_000, 30))
    loop._clock = lambda: float(next(ticks))
    with pytest.raises(NoPartitions, match="does the topic exist"):
        loop.run(once=True)


def test_a_topic_that_never_shows_partitions_is_a_clear_error() -> None:
    loop, log, _, _, consumer, _ = make([])
    consumer.topic_exists = False
    ticks = iter(range(0, 10_000, 30))
    loop._clock = lambda: float(next(ticks))
    loop._nap = lambda seconds: None  # type: ignore[method-assign]
    with pytest.raises(NoPartitions, match="topic in has no partitions"):
        loop.run(once=True)
    assert "subscribe" not in log  # the group is never joined without the topic's metadata
