"""Dead letters: attempts, selection, redrive policy and markers (pure; fakes for Kafka).

Through the real CLI against a real broker: tests/integration/kafka/test_sink_loop.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import pytest

from hybridwatch.topics import ATTEMPT_HEADER, ERROR_HEADER
from services.kafka.codec import SOURCE_HEADER
from services.kafka.dead_letters import (
    REDRIVE_HEADER,
    REDRIVEN_HEADER,
    DeadLetterError,
    Selection,
    attempt_of,
    describe,
    parse_ref,
    read_all,
    redrive,
    table,
)

DLQ = "hw.dead-letter"


class TP(NamedTuple):
    topic: str
    partition: int


@dataclass
class Rec:
    offset: int
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    key: bytes | None = b"MK"
    topic: str = DLQ
    partition: int = 0
    timestamp: int = 1_538_308_800_000


def letter(offset: int, origin: str, reason: str, redrives: int | None = None) -> Rec:
    headers = [(ERROR_HEADER, reason.encode()), (SOURCE_HEADER, origin.encode()),
               (ATTEMPT_HEADER, b"1"), ("hw-schema-version", b"1")]  # fmt: skip
    if redrives is not None:
        headers.append((REDRIVE_HEADER, str(redrives).encode()))
    return Rec(offset, b'{"id": "%d"}' % offset, headers)


class FakeReader:
    def __init__(self, records: list[Rec]) -> None:
        self.records = records
        self.pos = 0

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return {0} if topic == DLQ else None

    def assign(self, partitions: Sequence[TP]) -> None:
        pass

    def seek_to_beginning(self, *partitions: TP) -> None:
        self.pos = 0

    def poll(self, *, timeout_ms: int = 0, max_records: int | None = None) -> dict[TP, list[Rec]]:
        out, self.pos = self.records[self.pos :], len(self.records)
        return {TP(DLQ, 0): out} if out else {}

    def end_offsets(self, partitions: Sequence[TP]) -> dict[TP, int]:
        return dict.fromkeys(partitions, len(self.records))

    def position(self, partition: TP) -> int:
        return self.pos

    def close(self, autocommit: bool = True) -> None:
        pass


class Meta(NamedTuple):
    topic: str
    partition: int
    offset: int


class Future:
    def __init__(self, meta: Meta | None, error: Exception | None = None) -> None:
        self.meta, self.error = meta, error

    def get(self, timeout: float | None = None) -> object:
        if self.error:
            raise self.error
        return self.meta


class FakeProducer:
    def __init__(self, fail_topic: str | None = None) -> None:
        self.sent: list[tuple[str, bytes | None, dict[str, bytes]]] = []
        self.fail_topic = fail_topic

    def send(self, topic: str, *, value: bytes | None = None, key: bytes | None = None,
             headers: Sequence[tuple[str, bytes]] | None = None) -> Future:  # fmt: skip
        if topic == self.fail_topic:
            return Future(None, RuntimeError("KafkaTimeoutError"))
        self.sent.append((topic, value, dict(headers or [])))
        return Future(Meta(topic, 2, 100 + len(self.sent)))

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


def read(records: list[Rec]) -> list:  # type: ignore[type-arg]
    return read_all(FakeReader(records), DLQ, make_partition=TP)  # type: ignore[arg-type]


def test_attempts_count_the_redrives_a_record_carries() -> None:
    assert attempt_of(None) == 1
    assert attempt_of([(REDRIVE_HEADER, b"2")]) == 3
    assert attempt_of([(REDRIVE_HEADER, b"two")]) == 1  # malformed: never blocks a record


def test_a_dead_letter_says_its_origin_attempts_and_reason() -> None:
    (d,) = read([letter(0, "hw.articles/3/42", "invalid-article: x", redrives=1)])
    assert (str(d.origin), d.attempts, d.reason, d.ref) == (
        "hw.articles/3/42",
        2,
        "invalid-article: x",
        "0",
    )
    assert d.original_headers() == [("hw-schema-version", b"1")]
    assert "hw.articles/3/42" in table([d]) and "attempts: 2" in describe(d)


def test_a_bad_or_unknown_ref_is_a_clear_error() -> None:
    assert parse_ref("0:12") == (0, 12) and parse_ref("7") == (0, 7)
    with pytest.raises(DeadLetterError, match="expected an offset"):
        parse_ref("twelve")
    letters = read([letter(0, "hw.articles/0/1", "x")])
    with pytest.raises(DeadLetterError, match="no dead letter at 5"):
        Selection(refs=("5",)).apply(letters)


def test_filters_select_by_origin_topic_and_reason() -> None:
    letters = read([
        letter(0, "hw.articles/0/1", "invalid-article: x"),
        letter(1, "hw.signals/0/1", "refused by the search engine: HTTP 400"),
    ])  # fmt: skip
    assert [d.ref for d in Selection(origin_topic="hw.signals").apply(letters)] == ["1"]
    assert [d.ref for d in Selection(reason="INVALID").apply(letters)] == ["0"]


def test_redrive_re_sends_to_the_origin_with_one_attempt_more_and_marks_the_letter() -> None:
    letters = read([letter(0, "hw.articles/3/42", "x", redrives=1)])
    producer = FakeProducer()
    report = redrive(producer, letters, DLQ)
    (copy, marker) = producer.sent
    assert copy[0] == "hw.articles" and copy[1] == b'{"id": "0"}'
    assert copy[2] == {"hw-schema-version": b"1", REDRIVE_HEADER: b"2"}
    assert marker[0] == DLQ and marker[2][REDRIVEN_HEADER] == b"0/0"
    assert [to for _, to in report.sent] == ["hw.articles/2/101"]
    # read back with the marker: shown as redriven, refused the second time
    records = [letter(0, "hw.articles/3/42", "x", redrives=1),
               Rec(1, b"", [(k, v) for k, v in marker[2].items()], key=None)]  # fmt: skip
    (d,) = read(records)
    assert d.redriven_to == "hw.articles/2/101"
    again = redrive(FakeProducer(), [d], DLQ)
    assert not again.sent and "already redriven" in again.refused[0][1]
    assert redrive(FakeProducer(), [d], DLQ, again=True).sent


def test_a_record_past_max_attempts_is_refused_with_the_reason() -> None:
    letters = read([letter(0, "hw.articles/0/1", "detector-error: boom", redrives=2)])
    producer = FakeProducer()
    report = redrive(producer, letters, DLQ, max_attempts=3)
    assert producer.sent == []
    (why,) = [w for _, w in report.refused]
    assert "failed 3 time(s), the maximum is 3" in why and "detector-error: boom" in why
    assert redrive(FakeProducer(), letters, DLQ, max_attempts=4).sent


def test_a_letter_without_origin_or_a_copy_kafka_refused_is_reported() -> None:
    no_origin = Rec(0, b"x", [(ERROR_HEADER, b"why")])
    letters = read([no_origin, letter(1, "hw.articles/0/1", "x")])
    report = redrive(FakeProducer(fail_topic="hw.articles"), letters, DLQ)
    reasons = [w for _, w in report.refused]
    assert "original topic is unknown" in reasons[0] and "did not take the copy" in reasons[1]


def test_a_dry_run_sends_nothing() -> None:
    producer = FakeProducer()
    report = redrive(producer, read([letter(0, "hw.articles/0/1", "x")]), DLQ, dry_run=True)
    assert producer.sent == [] and len(report.sent) == 1


def test_a_missing_dead_letter_topic_is_a_clear_error() -> None:
    with pytest.raises(DeadLetterError, match="does not exist"):
        read_all(FakeReader([]), "other", make_partition=TP)  # type: ignore[arg-type]
