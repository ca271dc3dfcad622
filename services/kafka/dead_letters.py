"""The dead-letter topic: what is in it, and sending records back (`hybridwatch dead-letters`).

A dead letter is the original record (key, value, headers) plus `hw-error` (why),
`hw-source` (topic/partition/offset it came from) and `hw-attempt` (how often it was
processed). The number of attempts is carried by the record itself: `redrive` re-sends
it to its original topic with `hw-redrive: n` (n = the attempts so far), so if it fails
again its next dead letter says attempt n + 1, whichever consumer dead-letters it (the
worker and the sink loop both keep the original headers). A dead letter that already
failed `max_attempts` times is refused: the cause has to be fixed first.

Redriving is recorded in the dead-letter topic itself: after the re-sent record was
acknowledged, a *marker* (empty value, header `hw-redriven` = partition/offset of the
dead letter, `hw-redriven-to` = where the copy landed) is appended. `list` shows a
dead letter with a marker as redriven, and `redrive` skips it unless asked again
(`again=True`), so running the same redrive twice sends nothing twice. A crash between
the re-send and the marker can re-send a record once more; every sink is idempotent
(ids from content), so that is a repeat, never a duplicate.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from hybridwatch.topics import ATTEMPT_HEADER, ERROR_HEADER
from services.kafka.codec import SOURCE_HEADER, header_map
from services.kafka.ports import ConsumedRecord, Headers, Partition, Producer, SendFuture

REDRIVE_HEADER = "hw-redrive"
"""On a record re-sent from the dead-letter topic: how often it had been processed."""
REDRIVEN_HEADER = "hw-redriven"
"""On a marker in the dead-letter topic: partition/offset of the dead letter re-sent."""
REDRIVEN_TO_HEADER = "hw-redriven-to"
"""On a marker: topic/partition/offset of the re-sent copy."""
DEFAULT_MAX_ATTEMPTS = 3
"""Processing attempts after which `redrive` refuses a dead letter."""
READ_TIMEOUT = 60.0
SEND_TIMEOUT = 60.0

_DEAD_LETTER_HEADERS = (ERROR_HEADER, SOURCE_HEADER, ATTEMPT_HEADER, REDRIVE_HEADER)
_REF = re.compile(r"^(?:(\d+):)?(\d+)$")


class DeadLetterError(RuntimeError):
    """Bad input or an unreadable dead-letter topic; the message says what and where."""


def attempt_of(headers: Headers | Mapping[str, bytes] | None) -> int:
    """Which processing attempt a record is: 1, or 1 + the attempts its redrive header
    carries. A malformed header counts as a first attempt (never blocks a record)."""
    raw = header_map(headers).get(REDRIVE_HEADER)
    if raw is None:
        return 1
    try:
        return max(0, int(raw.decode("ascii"))) + 1
    except (UnicodeDecodeError, ValueError):
        return 1


@dataclass(frozen=True)
class Origin:
    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True)
class DeadLetter:
    """One record of the dead-letter topic (markers excluded)."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    reason: str
    origin: Origin | None
    attempts: int
    redriven_to: str | None = None
    """Where a redrive sent the record (from a marker), None when never redriven."""

    @property
    def ref(self) -> str:
        """How the CLI names it: the offset (partition 0), else partition:offset."""
        return str(self.offset) if self.partition == 0 else f"{self.partition}:{self.offset}"

    def when(self) -> str:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers the record had at its origin (dead-letter bookkeeping removed)."""
        return [(k, v) for k, v in self.headers if k not in _DEAD_LETTER_HEADERS]

    def to_dict(self, value: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            "ref": self.ref,
            "partition": self.partition,
            "offset": self.offset,
            "time": self.when(),
            "origin": str(self.origin) if self.origin else None,
            "attempts": self.attempts,
            "reason": self.reason,
            "key": _text(self.key),
            "bytes": len(self.value or b""),
            "redriven_to": self.redriven_to,
        }
        if value:
            out["headers"] = {k: _text(v) for k, v in self.headers}
            out["value"] = _text(self.value)
        return out


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return repr(raw)


def _origin(raw: bytes | None) -> Origin | None:
    if raw is None:
        return None
    try:
        topic, partition, offset = raw.decode("utf-8").rsplit("/", 2)
        return Origin(topic, int(partition), int(offset))
    except ValueError:  # also UnicodeDecodeError
        return None


@dataclass(frozen=True)
class Marker:
    """A redrive marker: the dead letter `ref` was re-sent to `to`."""

    ref: str
    to: str


def parse(record: ConsumedRecord) -> DeadLetter | Marker:
    """A dead letter, or a redrive marker."""
    h = header_map(record.headers)
    marked = h.get(REDRIVEN_HEADER)
    if marked is not None:
        partition, _, offset = marked.decode("ascii", "replace").partition("/")
        to = (h.get(REDRIVEN_TO_HEADER) or b"?").decode("utf-8", "replace")
        return Marker(offset if partition == "0" else f"{partition}:{offset}", to)
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=record.key,
        value=record.value,
        headers=tuple((k, v) for k, v in (record.headers or ())),
        reason=(h.get(ERROR_HEADER) or b"(no reason recorded)").decode("utf-8", "replace"),
        origin=_origin(h.get(SOURCE_HEADER)),
        attempts=attempt_of(h),
    )


class Reader(Protocol):
    """A group-less consumer that reads a topic from its beginning (kafka-python's
    KafkaConsumer satisfies it)."""

    def partitions_for_topic(self, topic: str) -> set[int] | None: ...
    def assign(self, partitions: Sequence[Partition]) -> None: ...
    def seek_to_beginning(self, *partitions: Partition) -> None: ...
    def poll(
        self, *, timeout_ms: int = 0, max_records: int | None = None
    ) -> Mapping[Partition, Sequence[ConsumedRecord]]: ...
    def end_offsets(self, partitions: Sequence[Partition]) -> Mapping[Partition, int]: ...
    def position(self, partition: Partition) -> int: ...
    def close(self, autocommit: bool = True) -> None: ...


def read_all(
    reader: Reader,
    topic: str,
    make_partition: type[Partition] | None = None,
    timeout: float = READ_TIMEOUT,
) -> list[DeadLetter]:
    """Every dead letter of `topic` in (partition, offset) order, with redrive markers applied."""
    if make_partition is None:
        from kafka import TopicPartition

        make_partition = TopicPartition
    parts = reader.partitions_for_topic(topic)
    if not parts:
        raise DeadLetterError(
            f"the dead-letter topic {topic} does not exist (hybridwatch topics creates it)"
        )
    tps: list[Partition] = [make_partition(topic, p) for p in sorted(parts)]  # type: ignore[call-arg]
    reader.assign(tps)
    reader.seek_to_beginning(*tps)
    ends = reader.end_offsets(tps)
    letters: list[DeadLetter] = []
    marks: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while any(reader.position(tp) < ends[tp] for tp in tps):
        if time.monotonic() > deadline:
            raise DeadLetterError(f"reading {topic} did not reach its end within {timeout:.0f}s")
        for records in reader.poll(timeout_ms=500, max_records=5000).values():
            for record in records:
                item = parse(record)
                if isinstance(item, Marker):
                    marks[item.ref] = item.to
                else:
                    letters.append(item)
    letters.sort(key=lambda d: (d.partition, d.offset))
    return [replace(d, redriven_to=marks[d.ref]) if d.ref in marks else d for d in letters]


def parse_ref(raw: str) -> tuple[int, int]:
    """`N` (partition 0) or `P:N` -> (partition, offset); DeadLetterError otherwise."""
    m = _REF.match(raw.strip())
    if m is None:
        raise DeadLetterError(
            f"dead letter {raw!r}: expected an offset (e.g. 12) or partition:offset (e.g. 0:12)"
        )
    return int(m.group(1) or 0), int(m.group(2))


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command works on; empty fields select everything."""

    refs: tuple[str, ...] = ()
    origin_topic: str | None = None
    reason: str | None = None
    """Case-insensitive substring of the reason."""
    include_redriven: bool = True

    def apply(self, letters: Iterable[DeadLetter]) -> list[DeadLetter]:
        wanted = {parse_ref(r) for r in self.refs}
        out = []
        for d in letters:
            if wanted and (d.partition, d.offset) not in wanted:
                continue
            if self.origin_topic and (d.origin is None or d.origin.topic != self.origin_topic):
                continue
            if self.reason and self.reason.lower() not in d.reason.lower():
                continue
            if not self.include_redriven and d.redriven_to is not None:
                continue
            out.append(d)
        found = {(d.partition, d.offset) for d in out}
        missing = sorted(wanted - found - {(d.partition, d.offset) for d in letters})
        if missing:
            names = ", ".join(str(o) if p == 0 else f"{p}:{o}" for p, o in missing)
            raise DeadLetterError(
                f"no dead letter at {names} (see `hybridwatch dead-letters list`)"
            )
        return out


def table(letters: Sequence[DeadLetter], width: int = 72) -> str:
    """A plain-text listing: one line per dead letter."""
    if not letters:
        return "no dead letters"
    rows = [("REF", "TIME", "ORIGIN", "ATTEMPTS", "STATUS", "REASON")]
    for d in letters:
        reason = d.reason if len(d.reason) <= width else d.reason[: width - 3] + "..."
        status = f"redriven -> {d.redriven_to}" if d.redriven_to else "waiting"
        rows.append((d.ref, d.when(), str(d.origin or "?"), str(d.attempts), status, reason))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5]
        for r in rows
    )


def describe(d: DeadLetter) -> str:
    """Everything about one dead letter (`show`): reason, origin, attempts, headers, value."""
    lines = [
        f"dead letter {d.ref} (partition {d.partition}, offset {d.offset}) at {d.when()}",
        f"origin:   {d.origin or '? (no hw-source header)'}",
        f"attempts: {d.attempts}",
        f"status:   {'redriven -> ' + d.redriven_to if d.redriven_to else 'waiting'}",
        f"reason:   {d.reason}",
        f"key:      {_text(d.key)}",
        "headers:",
        *(f"  {k}: {_text(v)}" for k, v in d.headers),
        f"value ({len(d.value or b'')} bytes):",
    ]
    text = _text(d.value)
    if text is not None:
        with contextlib.suppress(ValueError):  # not JSON: shown as it is
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    lines.append(text if text is not None else "(none)")
    return "\n".join(lines)


@dataclass
class RedriveReport:
    sent: list[tuple[DeadLetter, str]] = field(default_factory=list)
    """(dead letter, where its copy landed: topic/partition/offset)."""
    refused: list[tuple[DeadLetter, str]] = field(default_factory=list)
    """(dead letter, why it was not re-sent)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "sent": [{"ref": d.ref, "origin": str(d.origin), "to": to} for d, to in self.sent],
            "refused": [{"ref": d.ref, "why": why} for d, why in self.refused],
        }


def redrive(
    producer: Producer,
    letters: Sequence[DeadLetter],
    dead_letter_topic: str,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    again: bool = False,
    dry_run: bool = False,
) -> RedriveReport:
    """Re-send `letters` to their original topics (the redrive header counts the attempts),
    then mark each in the dead-letter topic. Refuses, with the reason, a letter with no
    origin, one already redriven (unless `again`) and one that failed `max_attempts` times."""
    if max_attempts < 1:
        raise DeadLetterError(f"--max-attempts must be at least 1 (got {max_attempts})")
    report = RedriveReport()
    chosen: list[DeadLetter] = []
    for d in letters:
        if d.origin is None:
            report.refused.append((d, "no hw-source header: its original topic is unknown"))
        elif d.redriven_to is not None and not again:
            report.refused.append(
                (d, f"already redriven to {d.redriven_to} (use --again to send it once more)")
            )
        elif d.attempts >= max_attempts:
            report.refused.append(
                (
                    d,
                    f"failed {d.attempts} time(s), the maximum is {max_attempts}: fix the cause "
                    f"(reason: {d.reason[:200]}) or raise --max-attempts",
                )
            )
        else:
            chosen.append(d)
    if dry_run:
        report.sent = [(d, f"{d.origin.topic} (dry run)") for d in chosen if d.origin]
        return report
    copies: list[tuple[DeadLetter, SendFuture]] = []
    for d in chosen:
        assert d.origin is not None
        headers = [*d.original_headers(), (REDRIVE_HEADER, str(d.attempts).encode("ascii"))]
        copies.append((d, producer.send(d.origin.topic, key=d.key, value=d.value, headers=headers)))
    producer.flush()
    marks: list[SendFuture] = []
    for d, fut in copies:
        try:
            meta = fut.get(timeout=SEND_TIMEOUT)
        except Exception as err:
            report.refused.append((d, f"Kafka did not take the copy: {err!r}"))
            continue
        to = _landed(meta, d)
        report.sent.append((d, to))
        marker = [
            (REDRIVEN_HEADER, f"{d.partition}/{d.offset}".encode("ascii")),
            (REDRIVEN_TO_HEADER, to.encode("utf-8")),
        ]
        marks.append(producer.send(dead_letter_topic, key=None, value=b"", headers=marker))
    producer.flush()
    for fut in marks:
        fut.get(timeout=SEND_TIMEOUT)  # a lost marker only means "not shown as redriven"
    return report


def _landed(meta: object, d: DeadLetter) -> str:
    topic = getattr(meta, "topic", None) or (d.origin.topic if d.origin else "?")
    partition = getattr(meta, "partition", "?")
    offset = getattr(meta, "offset", "?")
    return f"{topic}/{partition}/{offset}"
