"""The shared sink loop and `hybridwatch dead-letters` on a real broker (no mocks of Kafka).

* a poison record reaches hw.dead-letter with its original bytes and headers, the
  reason, where it came from and the attempt count (through the real archiver);
* a transient write failure is retried with nothing committed meanwhile, then every
  record is written once and the offsets are committed (the group's committed offsets
  are read from the broker while the loop is backing off);
* a crash before the commit means the batch is read again by the next run: no loss;
* `hybridwatch dead-letters list|show|redrive` as real subprocesses: origin, attempts and
  reason; a redrive re-sends to the original topic with one attempt more, refuses a
  record already redriven and one past --max-attempts; a redriven record the sink can
  take is written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from hybridwatch.config import Settings
from hybridwatch.topics import ATTEMPT_HEADER, ERROR_HEADER, SCHEMA_HEADER, Topics
from services.entrypoints.bootstrap import build_archiver
from services.kafka.codec import SOURCE_HEADER, encode
from services.kafka.consuming import consumer_and_dlq_producer
from services.kafka.dead_letters import REDRIVE_HEADER
from services.kafka.ports import ConsumedRecord
from services.kafka.sink_loop import BaseSink, PermanentError, SinkLoop, TransientError
from tests.fixtures.kafka import consume_all, create_topics, kafka_settings, produce
from tests.fixtures.synthetic_articles import synthetic_articles

ROOT = Path(__file__).resolve().parents[3]


def _cli(config: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", *args, "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("HW_")},
    )
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _listed(config: Path, *filters: str) -> list[dict[str, Any]]:
    out = _cli(config, "dead-letters", "list", "--json", *filters).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int | None]:
    c = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=group,
                      enable_auto_commit=False)  # fmt: skip
    try:
        parts = sorted(c.partitions_for_topic(topic) or ())
        return {p: c.committed(TopicPartition(topic, p)) for p in parts}
    finally:
        c.close(autocommit=False)


def _settings(bootstrap: str, prefix: str, data: Path) -> Settings:
    return kafka_settings(
        bootstrap,
        prefix,
        data,
        archive__dir=str(data / "archive"),
        archive__group_id=f"archiver-{prefix}",
    )


def test_poison_records_reach_the_dead_letter_topic_with_reason_origin_and_attempt(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    create_topics(kafka_bootstrap, kafka_prefix, partitions=2)
    topics = Topics(kafka_prefix)
    good = [encode(a) for a in synthetic_articles(20, seed=5)]
    produce(kafka_bootstrap, topics.articles, [(r.key, r.value, r.headers) for r in good])
    produce(
        kafka_bootstrap,
        topics.articles,
        [
            (b"MK", b"{not json", [("trace-id", b"abc")]),
            (b"RS", b'{"schema_version": 1, "id": "x"}', [(SCHEMA_HEADER, b"1")]),
        ],
    )
    role = build_archiver(_settings(kafka_bootstrap, kafka_prefix, tmp_path))
    try:
        stats = role.loop.run(once=True)
    finally:
        role.close()
    assert (stats.records, stats.archived, stats.dead_letters) == (22, 20, 2)

    dead = {bytes(r.value): (r, dict(r.headers)) for r in consume_all(
        kafka_bootstrap, topics.dead_letter, min_count=2)}  # fmt: skip
    originals = {bytes(r.value): r for r in consume_all(kafka_bootstrap, topics.articles, 22)}
    assert set(dead) == {b"{not json", b'{"schema_version": 1, "id": "x"}'}
    for value, (record, headers) in dead.items():
        origin = originals[value]
        assert record.key == origin.key
        assert headers[SOURCE_HEADER].decode() == (
            f"{topics.articles}/{origin.partition}/{origin.offset}"
        )
        assert headers[ATTEMPT_HEADER] == b"1"
        assert headers[ERROR_HEADER].decode().startswith("undecodable record: ")
    assert dead[b"{not json"][1]["trace-id"] == b"abc"  # original headers kept
    assert b"invalid Article" in dead[b'{"schema_version": 1, "id": "x"}'][1][ERROR_HEADER]


class FlakySink(BaseSink):
    """Writes record values into a list; the first `down` writes fail (transient), and
    `crash` makes the first write raise an unexpected error instead."""

    name = "flaky"
    target = "flaky target"

    def __init__(self, topic: str, down: int = 0, crash: bool = False) -> None:
        self.topic = topic
        self.down = down
        self.crash = crash
        self.written: list[bytes] = []

    def topics(self) -> Sequence[str]:
        return [self.topic]

    def decode(self, record: ConsumedRecord) -> bytes:
        if record.value is None:
            raise PermanentError("empty record")
        return record.value

    def write(self, items: Sequence[bytes]) -> Mapping[int, PermanentError]:
        if self.crash:
            self.crash = False
            raise RuntimeError("the process dies here")
        if self.down:
            self.down -= 1
            raise TransientError("target down")
        self.written.extend(items)
        return {}


def _flaky_loop(
    settings: Settings, group: str, sink: FlakySink, sleep: Any = None
) -> tuple[SinkLoop[bytes], Any, Any]:
    consumer, producer = consumer_and_dlq_producer(settings, group, "flaky")
    loop = SinkLoop(
        consumer,
        producer,
        sink,
        dead_letter_topic=Topics(settings.kafka.topic_prefix).dead_letter,
        sleep=sleep,
    )
    return loop, consumer, producer


def test_a_transient_failure_is_retried_with_nothing_committed_until_the_write_succeeds(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    create_topics(kafka_bootstrap, kafka_prefix, partitions=2)
    topic = Topics(kafka_prefix).articles
    values = [f"record-{i}".encode() for i in range(300)]
    produce(kafka_bootstrap, topic, [(b"k%d" % (i % 5), v, []) for i, v in enumerate(values)])
    settings = _settings(kafka_bootstrap, kafka_prefix, tmp_path)
    group = f"flaky-{kafka_prefix}"
    seen_while_down: list[dict[int, int | None]] = []

    def look_at_the_broker(delay: float) -> None:  # the loop's back-off sleep
        seen_while_down.append(_committed(kafka_bootstrap, group, topic))

    sink = FlakySink(topic, down=3)
    loop, consumer, producer = _flaky_loop(settings, group, sink, sleep=look_at_the_broker)
    try:
        stats = loop.run(once=True)
    finally:
        consumer.close(autocommit=False)
        producer.close()
    assert len(seen_while_down) == 3
    assert all(v is None for seen in seen_while_down for v in seen.values()), seen_while_down
    assert sorted(sink.written) == sorted(values)  # every record, once
    assert stats.transient_failures == 3 and stats.dead_letters == 0
    committed = _committed(kafka_bootstrap, group, topic)
    assert sum(v or 0 for v in committed.values()) == len(values)


def test_a_crash_before_the_commit_means_the_next_run_reads_the_batch_again(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    create_topics(kafka_bootstrap, kafka_prefix, partitions=2)
    topic = Topics(kafka_prefix).articles
    values = [f"record-{i}".encode() for i in range(50)]
    produce(kafka_bootstrap, topic, [(b"k%d" % (i % 3), v, []) for i, v in enumerate(values)])
    settings = _settings(kafka_bootstrap, kafka_prefix, tmp_path)
    group = f"crash-{kafka_prefix}"

    crashing = FlakySink(topic, crash=True)
    loop, consumer, producer = _flaky_loop(settings, group, crashing)
    try:
        with pytest.raises(RuntimeError, match="dies here"):
            loop.run(once=True)
    finally:
        consumer.close(autocommit=False)
        producer.close()
    assert all(v is None for v in _committed(kafka_bootstrap, group, topic).values())

    survivor = FlakySink(topic)
    loop, consumer, producer = _flaky_loop(settings, group, survivor)
    try:
        loop.run(once=True)
    finally:
        consumer.close(autocommit=False)
        producer.close()
    assert sorted(survivor.written) == sorted(values)


def test_dead_letters_are_listed_shown_and_redriven_through_the_cli(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    create_topics(kafka_bootstrap, kafka_prefix)
    topics = Topics(kafka_prefix)
    _settings(kafka_bootstrap, kafka_prefix, tmp_path)  # writes the config file
    config = tmp_path / "hybridwatch.yaml"
    assert _cli(config, "dead-letters", "list").stdout.strip() == "no dead letters"

    # one poison record dead-lettered by the real archiver ...
    produce(kafka_bootstrap, topics.articles, [(b"MK", b"{poison", [("trace-id", b"t1")])])
    _cli(config, "archive", "--once")
    # ... and a valid article dead-lettered by a worker whose detector failed (its cause
    # since fixed): written as the worker writes it, original headers kept
    article = next(iter(synthetic_articles(1, seed=9)))
    rec = encode(article)
    produce(
        kafka_bootstrap,
        topics.dead_letter,
        [
            (
                rec.key,
                rec.value,
                [
                    (ERROR_HEADER, b"detector-error: RuntimeError: boom (article x)"),
                    (SOURCE_HEADER, f"{topics.articles}/0/999".encode()),
                    (ATTEMPT_HEADER, b"1"),
                    *rec.headers,
                ],
            )
        ],
    )

    listed = _listed(config)
    assert [(d["ref"], d["attempts"], d["redriven_to"]) for d in listed] == [
        ("0", 1, None),
        ("1", 1, None),
    ]
    assert listed[0]["origin"].startswith(f"{topics.articles}/")
    assert listed[0]["reason"].startswith("undecodable record: ")
    assert listed[1]["origin"] == f"{topics.articles}/0/999"
    assert [d["ref"] for d in _listed(config, "--reason", "DETECTOR")] == ["1"]

    shown = _cli(config, "dead-letters", "show", "0").stdout
    assert "attempts: 1" in shown and "undecodable record" in shown and "{poison" in shown
    assert "trace-id: t1" in shown
    bad = _cli(config, "dead-letters", "show", "7", expect=2)
    assert "no dead letter at 7" in bad.stderr

    # the fixed one: redriven to hw.articles, archived by the next run
    out = _cli(config, "dead-letters", "redrive", "1").stdout
    assert f"redriven 1 ({topics.articles}/0/999" in out
    summary = _cli(config, "archive", "--once").stdout.strip().splitlines()[-1]
    assert json.loads(summary.removeprefix("archive: "))["archived"] == 1
    again = _cli(config, "dead-letters", "redrive", "1", expect=1)
    assert "already redriven" in again.stderr

    # the poison one fails every time: attempts 1, 2, 3, then refused
    for attempt in (2, 3):
        poisoned = [d for d in _listed(config) if "undecodable" in d["reason"]]
        waiting = [d for d in poisoned if d["redriven_to"] is None]
        assert [d["attempts"] for d in waiting] == [attempt - 1]
        _cli(config, "dead-letters", "redrive", "--all", "--reason", "undecodable")
        _cli(config, "archive", "--once")
    copies = [r for r in consume_all(kafka_bootstrap, topics.articles, 3) if r.value == b"{poison"]
    assert [dict(r.headers).get(REDRIVE_HEADER) for r in copies] == [None, b"1", b"2"]
    assert all(dict(r.headers)["trace-id"] == b"t1" for r in copies)
    assert all(ERROR_HEADER not in dict(r.headers) for r in copies)

    last = [d for d in _listed(config) if d["redriven_to"] is None]
    assert [(d["attempts"], d["reason"][:20]) for d in last] == [(3, "undecodable record: ")]
    refused = _cli(config, "dead-letters", "redrive", last[0]["ref"], expect=1)
    assert "failed 3 time(s), the maximum is 3" in refused.stderr
    more = _cli(config, "dead-letters", "redrive", last[0]["ref"], "--max-attempts", "4",
                "--dry-run")  # fmt: skip
    assert "redriven" in more.stdout
    none = _cli(config, "dead-letters", "redrive", expect=2)
    assert "say which records" in none.stderr
