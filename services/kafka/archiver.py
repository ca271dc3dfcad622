"""Kafka -> archive: every article of `hw.articles` into the day files of ingest/archive.py.

Offsets are committed only after the batch is written and fsynced, so a crash means
reading some records again, which the archive's id index turns into no-ops: nothing
lost, nothing twice. Records that are not Articles go to the dead-letter topic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from hybridwatch.events import Article, ContractError
from hybridwatch.topics import Topics
from ingest.archive import Archive
from services.kafka.codec import decode_event
from services.kafka.consuming import caught_up, send_dead_letters


@dataclass
class ArchiveStats:
    records: int = 0
    archived: int = 0
    repeats: int = 0
    dead_letters: int = 0
    commits: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


class ArchiveConsumer:
    """The consumer loop; built once by `hybridwatch archive` (or a test) with its clients."""

    def __init__(
        self,
        consumer: Any,
        producer: Any,
        archive: Archive,
        topics: Topics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.archive = archive
        self.topics = topics
        self._clock = clock
        self.stats = ArchiveStats()
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    def run(self, once: bool = False) -> ArchiveStats:
        """Consume until stopped (once=True: until caught up with the topic)."""
        self.consumer.subscribe([self.topics.articles])
        started = self._clock()
        while not self._stopping:
            polled = self.consumer.poll(timeout_ms=200, max_records=2000)
            records = [m for batch in polled.values() for m in batch]
            if records:
                self._take(records)
            elif once and caught_up(self.consumer, self._clock() - started, [self.topics.articles]):
                break
        return self.stats

    def _take(self, records: list[Any]) -> None:
        self.stats.records += len(records)
        articles: list[Article] = []
        dead: list[tuple[Any, str]] = []
        for m in records:
            try:
                articles.append(decode_event(Article, m.value, m.headers))
            except ContractError as err:
                dead.append((m, f"undecodable record: {err}"))
        new = self.archive.append(articles)  # fsynced before the commit
        self.stats.archived += new
        self.stats.repeats += len(articles) - new
        if dead:
            send_dead_letters(self.producer, self.topics.dead_letter, dead)
            self.stats.dead_letters += len(dead)
        self.consumer.commit()
        self.stats.commits += 1
