"""The indexer's loop with fakes for Kafka and the engine (pure unit tests).

The real thing is tested against real Kafka and OpenSearch in
tests/integration/search/; these pin down ordering rules that are hard to observe
there: commit strictly after the engine accepted the batch, no polling while a batch
is retried, back-off growth, dead letters before the commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from hybridwatch.config import IndexerSettings
from hybridwatch.events import Article, Source
from hybridwatch.topics import ERROR_HEADER, Topics
from services.indexer import Indexer
from services.kafka.ports import Partition
from services.store.engine_client import EngineUnavailable
from services.store.search_engine import BulkResult, Doc

TOPICS = Topics("hw.")


class TP(NamedTuple):
    topic: str
    partition: int


PART = TP(TOPICS.articles, 0)


@dataclass
class Msg:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp: int = 0


def article(i: int) -> Article:
    t = datetime(2018, 9, 1, tzinfo=UTC)
    return Article(
        id=f"a{i}",
        title=f"synthetic {i}",
        published=t,
        fetched=t,
        source=Source(id="s", country="MK"),
    )


class FakeConsumer:
    def __init__(self, log: list[str], batches: list[list[Msg]]) -> None:
        self.log = log
        self.batches = batches

    def subscribe(self, topics: Sequence[str]) -> None:
        self.log.append("subscribe")

    def poll(
        self, *, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[Partition, list[Msg]]:
        self.log.append("poll")
        if self.batches:
            return {PART: self.batches.pop(0)}
        return {}

    def commit(self, offsets: Mapping[Partition, object] | None = None) -> None:
        self.log.append("commit")

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return {0}

    def assignment(self) -> set[Partition]:
        return {PART}

    def end_offsets(self, partitions: Sequence[Partition]) -> dict[Partition, int]:
        return dict.fromkeys(partitions, 0)

    def position(self, partition: Partition) -> int:
        return 0 if self.batches else 1

    def close(self, autocommit: bool = True) -> None:
        pass


class FakeStore:
    def __init__(self, log: list[str], failures: int = 0, reject: set[str] | None = None) -> None:
        self.log = log
        self.failures = failures
        self.reject = reject or set()
        self.indexed: list[str] = []

    def index_documents(self, docs: Sequence[Doc]) -> BulkResult:
        if self.failures:
            self.failures -= 1
            self.log.append("bulk-failed")
            raise EngineUnavailable("bulk: search engine unreachable (ConnectionError)")
        self.log.append(f"bulk-ok:{len(docs)}")
        result = BulkResult()
        for d in docs:
            if d.id in self.reject:
                result.rejected.append((d, "HTTP 400 mapper_parsing_exception: failed to parse"))
            else:
                result.indexed += 1
                self.indexed.append(d.id)
        return result


class FakeFuture:
    def get(self, timeout: float | None = None) -> object:
        return None


class FakeProducer:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.sent: list[tuple[str, Any, Any, dict[str, bytes]]] = []

    def send(
        self,
        topic: str,
        *,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> FakeFuture:
        self.log.append("dead-letter")
        self.sent.append((topic, key, value, dict(headers or [])))
        return FakeFuture()

    def flush(self, timeout: float | None = None) -> None:
        self.log.append("dlq-flush")

    def close(self, timeout: float | None = None) -> None:
        pass


def make(
    batches: list[list[Msg]], failures: int = 0, reject: set[str] | None = None, **cfg: Any
) -> tuple[Indexer, list[str], FakeStore, FakeProducer, list[float]]:
    log: list[str] = []
    store = FakeStore(log, failures, reject)
    producer = FakeProducer(log)
    delays: list[float] = []
    settings = IndexerSettings(
        batch_size=cfg.pop("batch_size", 100), linger=0.01, max_backoff=cfg.pop("max_backoff", 30.0)
    )
    idx = Indexer(
        FakeConsumer(log, batches), producer, store, TOPICS, settings, sleep=delays.append
    )
    return idx, log, store, producer, delays


def msgs(n: int, start: int = 0) -> list[Msg]:
    return [
        Msg(TOPICS.articles, 0, start + i, b"MK", article(start + i).to_json().encode())
        for i in range(n)
    ]


def test_offsets_are_committed_only_after_the_bulk_succeeded_and_nothing_is_polled_meanwhile() -> (
    None
):
    idx, log, store, _, delays = make([msgs(5)], failures=3)
    idx.run(once=True)
    first_bulk = log.index("bulk-failed")
    commit = log.index("commit")
    assert log[first_bulk:commit] == ["bulk-failed", "bulk-failed", "bulk-failed", "bulk-ok:5"]
    assert store.indexed == [f"a{i}" for i in range(5)]
    assert idx.stats.bulk_failures == 3 and idx.stats.indexed == 5
    assert len(delays) == 3


def test_back_off_grows_exponentially_with_jitter_and_is_capped() -> None:
    idx, _, _, _, delays = make([msgs(1)], failures=12, max_backoff=4.0)
    idx.run(once=True)
    assert 0.125 <= delays[0] <= 0.25
    assert 0.25 <= delays[1] <= 0.5
    assert all(d <= 4.0 for d in delays)
    assert max(delays) >= 2.0  # reached the cap region


def test_refused_and_undecodable_records_are_dead_lettered_before_the_commit() -> None:
    batch = [*msgs(3), Msg(TOPICS.articles, 0, 3, b"MK", b"{oops")]
    idx, log, store, producer, _ = make([batch], reject={"a1"})
    idx.run(once=True)
    assert store.indexed == ["a0", "a2"]
    assert log.index("dlq-flush") < log.index("commit")
    reasons = {value: headers[ERROR_HEADER].decode() for _, _, value, headers in producer.sent}
    assert "mapper_parsing_exception" in reasons[batch[1].value]
    assert reasons[b"{oops"].startswith("undecodable record: invalid Article")
    assert all(topic == TOPICS.dead_letter for topic, *_ in producer.sent)
    assert idx.stats.dead_letters == 2


def test_a_stop_during_retries_leaves_the_batch_uncommitted() -> None:
    idx, log, _, _, delays = make([msgs(2)], failures=1000)

    def stop_after_three(d: float) -> None:
        delays.append(d)
        if len(delays) == 3:
            idx.stop()

    idx.loop.sleep = stop_after_three
    idx.run(once=False)
    assert "commit" not in log
    assert idx.stats.indexed == 0


def test_batches_are_cut_at_batch_size() -> None:
    idx, log, _, _, _ = make([msgs(4), msgs(4, start=4)], batch_size=4)
    idx.run(once=True)
    assert [e for e in log if e.startswith("bulk") or e == "commit"] == [
        "bulk-ok:4",
        "commit",
        "bulk-ok:4",
        "commit",
    ]
