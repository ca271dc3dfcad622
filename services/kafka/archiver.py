"""Kafka -> archive: every article of `hw.articles` into the day files of ingest/archive.py.

A sink on the shared consumer loop (services/kafka/sink_loop.py): the loop commits
offsets only after `write` returned, and `Archive.append` fsyncs before it returns, so a
crash means reading some records again, which the archive's id index turns into no-ops:
nothing lost, nothing twice. Records that are not Articles go to the dead-letter topic.
A write that fails with an OSError (disk full, a file system gone read-only) is
transient: the loop backs off and appends again (a repeat left in a day file by the
failed attempt is dropped by the reader), without polling or committing meanwhile.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hybridwatch.config import Settings
from hybridwatch.events import Article
from hybridwatch.topics import Topics
from ingest.archive import Archive
from services.kafka.ports import ConsumedRecord, Producer
from services.kafka.security import kafka_python_options
from services.kafka.sink_loop import (
    BaseSink,
    BatchLimits,
    LoopConsumer,
    PermanentError,
    SinkLoop,
    TransientError,
    decode_or_quarantine,
)

BATCH = 2000
"""Records per poll and per append (one gzip member per day and batch)."""


@dataclass
class ArchiveStats:
    records: int = 0
    archived: int = 0
    repeats: int = 0
    dead_letters: int = 0
    commits: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


class ArchiveSink(BaseSink):
    name = "archive"
    target = "archive"

    def __init__(self, archive: Archive, topics: Topics) -> None:
        self.archive = archive
        self._topics = topics
        self.archived = 0
        self.repeats = 0
        self.progress: Any = None
        """services.progress.Progress of a catch-up (`archive --once`), or None."""

    def topics(self) -> Sequence[str]:
        return [self._topics.articles]

    def decode(self, record: ConsumedRecord) -> Article:
        return decode_or_quarantine(Article, record)

    def write(self, items: Sequence[Article]) -> Mapping[int, PermanentError]:
        try:
            new = self.archive.append(items)  # fsynced before it returns
        except OSError as err:
            raise TransientError(f"appending {len(items)} articles failed: {err}",
                                 kind="archive_io") from err  # fmt: skip
        self.archived += new
        self.repeats += len(items) - new
        if self.progress is not None:
            self.progress.advance(len(items))
        return {}


def backlog(settings: Settings, group_id: str, topic: str) -> int:
    """Records of `topic` the group has not committed yet (what a catch-up will read)."""
    from kafka import KafkaConsumer, TopicPartition

    assert settings.kafka.bootstrap, "the command checks kafka.bootstrap first"
    c = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap.split(","),
        group_id=group_id,
        enable_auto_commit=False,
        client_id=f"{settings.kafka.client_id}-archiver-backlog",
        **kafka_python_options(settings.kafka),
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        if not tps:
            return 0
        ends = c.end_offsets(tps)
        starts = c.beginning_offsets(tps)
        return sum(max(0, ends[tp] - (c.committed(tp) or starts[tp])) for tp in tps)
    finally:
        c.close(autocommit=False)


class ArchiveConsumer:
    """`hybridwatch archive`: ArchiveSink on the shared loop (built once, with its clients)."""

    def __init__(
        self,
        consumer: LoopConsumer,
        producer: Producer,
        archive: Archive,
        topics: Topics,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.sink = ArchiveSink(archive, topics)
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
    def stats(self) -> ArchiveStats:
        s = self.loop.stats
        return ArchiveStats(s.records, self.sink.archived, self.sink.repeats, s.dead_letters,
                            s.commits)  # fmt: skip

    def run(self, once: bool = False) -> ArchiveStats:
        """Consume until stopped (once=True: until caught up with the topic)."""
        self.loop.run(once=once)
        return self.stats
