"""History from Kafka by time: `hybridwatch replay --source kafka --since D --until D`.

The articles topic is read from the offsets Kafka gives for the window's start
(`offsets_for_times`, on the records' timestamps: when they were produced, which is
never before an article's publication, so nothing published in the window is before
that offset; an hour of slack covers clock skew) up to the end offsets taken when the
replay starts. Articles are kept when their `published` day is in the window, and are
written into a temporary archive: it drops repeats by id (the live topic may hold an
article twice) and yields them in (published, id) order, so a replay from Kafka runs
exactly like a replay from the archive.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hybridwatch.config import ConfigError, Settings
from hybridwatch.events import Article, ContractError, decode
from hybridwatch.topics import Topics
from ingest.archive import Archive, day_of
from services.kafka.security import kafka_python_options

SLACK = timedelta(hours=1)
BATCH = 1000
POLL_MS = 500


@dataclass
class KafkaReadReport:
    topic: str
    records: int = 0
    in_window: int = 0
    archived: int = 0
    problems: list[str] = field(default_factory=list)


def _start_ms(since: date | None) -> int | None:
    if since is None:
        return None
    start = datetime(since.year, since.month, since.day, tzinfo=UTC) - SLACK
    return max(0, int(start.timestamp() * 1000))


def collect(
    settings: Settings,
    since: date | None,
    until: date | None,
    archive: Archive,
    progress: Any = None,
    timeout: float = 30.0,
) -> KafkaReadReport:
    """Articles of the window from the live articles topic into `archive`."""
    from kafka import KafkaConsumer, TopicPartition

    assert settings.kafka.bootstrap, "the command checks kafka.bootstrap first"
    topic = Topics(settings.kafka.topic_prefix).articles
    report = KafkaReadReport(topic)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap.split(","),
        client_id=f"{settings.kafka.client_id}-replay-source",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_python_options(settings.kafka),
    )
    try:
        deadline = time.monotonic() + timeout
        parts = consumer.partitions_for_topic(topic)
        while not parts:
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"replay --source kafka: the topic {topic} does not exist on "
                    f"{settings.kafka.bootstrap} (kafka.topic_prefix?)"
                )
            time.sleep(0.2)
            parts = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        start_ms = _start_ms(since)
        if start_ms is None:
            consumer.seek_to_beginning(*tps)
        else:
            found = consumer.offsets_for_times({tp: start_ms for tp in tps})
            for tp in tps:
                hit = found.get(tp)
                consumer.seek(tp, hit.offset if hit is not None else ends[tp])
        if progress is not None:
            progress.set_total(sum(max(0, ends[tp] - consumer.position(tp)) for tp in tps))
        batch: list[Article] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            polled = consumer.poll(timeout_ms=POLL_MS, max_records=BATCH)
            for tp, records in polled.items():
                for rec in records:
                    if rec.offset >= ends[tp]:
                        continue  # arrived after the replay started: not in this replay
                    report.records += 1
                    if progress is not None:
                        progress.advance(1)
                    try:
                        article = decode(Article, rec.value)
                    except ContractError as err:
                        if len(report.problems) < 50:
                            report.problems.append(f"{topic}[{tp.partition}]@{rec.offset}: {err}")
                        continue
                    day = day_of(article)
                    if (since and day < since) or (until and day > until):
                        continue
                    report.in_window += 1
                    batch.append(article)
            if len(batch) >= BATCH:
                report.archived += archive.append(batch)
                batch = []
        report.archived += archive.append(batch)
    finally:
        consumer.close()
    return report
