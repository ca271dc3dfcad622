"""What the project uses of a Kafka client, as small Protocols.

kafka-python ships no type information, so its `KafkaConsumer`, `KafkaProducer` and
`ConsumerRecord` are `Any` to mypy. Code that takes a client takes one of these
Protocols instead: the type checker then sees every call we make on a client (a typo
or a wrong argument is an error, not a runtime surprise), and a test can pass a small
fake without subclassing kafka-python. kafka-python's classes satisfy them
structurally; only the methods the project calls are listed (extend them when you
call a new one). Arguments after the topic are keyword-only: every caller names them,
and it lets a fake use its own order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Any, Protocol

Headers = Sequence[tuple[str, bytes]]
"""Record headers as kafka-python gives and takes them: (name, value) pairs."""


class Partition(Protocol):
    """A topic partition (kafka-python's `TopicPartition` named tuple)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...


class ConsumedRecord(Protocol):
    """One record read from Kafka (kafka-python's `ConsumerRecord`)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int:
        """Milliseconds since the epoch (create or log-append time, per the topic)."""
        ...

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Headers | None: ...


class SendFuture(Protocol):
    """The acknowledgement of one sent record (kafka-python's `FutureRecordMetadata`)."""

    def get(self, timeout: float | None = None) -> object:
        """Block until the broker acknowledged the record; raise if it did not."""
        ...


class Producer(Protocol):
    """A Kafka producer (kafka-python's `KafkaProducer`)."""

    def send(
        self,
        topic: str,
        *,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: Headers | None = None,
    ) -> SendFuture: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


class Consumer(Protocol):
    """A Kafka consumer in a group (kafka-python's `KafkaConsumer`), committed by hand."""

    def subscribe(self, topics: Sequence[str]) -> None: ...

    def poll(
        self, *, timeout_ms: int = 0, max_records: int | None = None
    ) -> Mapping[Partition, Sequence[ConsumedRecord]]: ...

    def commit(self, offsets: Mapping[Partition, object] | None = None) -> None:
        """Commit `offsets` (kafka-python's OffsetAndMetadata values), or the positions
        of everything polled so far when None."""
        ...

    def assignment(self) -> Set[Partition]: ...

    def end_offsets(self, partitions: Sequence[Partition]) -> Mapping[Partition, int]: ...

    def position(self, partition: Partition) -> int: ...

    def close(self, autocommit: bool = True) -> None: ...


class Admin(Protocol):
    """A Kafka admin client (kafka-python's `KafkaAdminClient`)."""

    def list_topics(self) -> list[str]: ...

    def create_topics(self, new_topics: Sequence[object], timeout_ms: int | None = None) -> object:
        """`new_topics`: kafka-python `NewTopic`s; raises TopicAlreadyExistsError."""
        ...

    def describe_topics(self, topics: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """One metadata dict per topic, as the broker's JSON-like response has it
        (keys topic, error_code, partitions, ...)."""
        ...

    def close(self) -> None: ...
