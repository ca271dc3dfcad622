"""Events <-> Kafka records: JSON values, a schema-version header, a partitioning key.

Articles and signals are keyed by the *source country*, so everything one country
produces lands on one partition: per-country detector state (whose keys embed the
country) is then co-partitioned with the articles that update it, and per-country
order is Kafka's per-partition order. Decoding never raises anything but
ContractError, whose message says what is wrong, so the worker can dead-letter a
poison record with a readable reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from hybridwatch.events import SCHEMA_VERSION, Alert, Article, ContractError, Signal, decode
from hybridwatch.topics import ATTEMPT_HEADER, ERROR_HEADER, REPLAY_HEADER, SCHEMA_HEADER

TYPE_HEADER = "hw-type"
"""Which contract the value holds (Article, Signal, Alert): lets a generic consumer route."""
SOURCE_HEADER = "hw-source"
"""On a dead letter: topic/partition/offset of the original record."""

Headers = list[tuple[str, bytes]]
HeadersIn = Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None
"""Headers as a client hands them over: (name, value) pairs, a mapping, or none."""
E = TypeVar("E", Article, Signal, Alert)


@dataclass(frozen=True)
class Record:
    """One Kafka record as we produce it."""

    key: bytes
    value: bytes
    headers: Headers


def event_key(event: Article | Signal | Alert) -> bytes:
    if isinstance(event, Article):
        return event.source.country.encode("ascii")
    return event.country.encode("ascii")


def encode(event: Article | Signal | Alert, attempt: int = 1, replay: bool = False) -> Record:
    headers: Headers = [
        (SCHEMA_HEADER, str(event.schema_version).encode("ascii")),
        (TYPE_HEADER, type(event).__name__.encode("ascii")),
    ]
    if attempt > 1:
        headers.append((ATTEMPT_HEADER, str(attempt).encode("ascii")))
    if replay:
        headers.append((REPLAY_HEADER, b"1"))
    return Record(event_key(event), event.to_json().encode("utf-8"), headers)


def header_map(headers: HeadersIn) -> dict[str, bytes]:
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: (v if isinstance(v, bytes) else str(v).encode()) for k, v in items}


def decode_event(model: type[E], value: bytes | None, headers: HeadersIn = None) -> E:
    """Validate one record's value against a contract; ContractError says why it is not one."""
    h = header_map(headers)
    raw_version = h.get(SCHEMA_HEADER)
    if raw_version is not None:
        try:
            version = int(raw_version.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as err:
            raise ContractError(
                f"header {SCHEMA_HEADER} is not an integer: {raw_version!r}"
            ) from err
        if version != SCHEMA_VERSION:
            raise ContractError(
                f"unsupported {model.__name__} schema version {version} (this build reads {SCHEMA_VERSION})"
            )
    if value is None:
        raise ContractError(f"empty record: a {model.__name__} needs a JSON value")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ContractError(
            f"value is not UTF-8 at byte {err.start}: not a JSON {model.__name__}"
        ) from err
    return decode(model, text)


def dead_letter_headers(
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    attempt: int = 1,
    original: HeadersIn = None,
) -> Headers:
    """Headers of a dead letter: the reason, where it came from, how often it was tried."""
    out: Headers = [
        (ERROR_HEADER, reason.encode("utf-8")[:4000]),
        (SOURCE_HEADER, f"{topic}/{partition}/{offset}".encode()),
        (ATTEMPT_HEADER, str(attempt).encode("ascii")),
    ]
    for k, v in header_map(original).items():
        if k not in (ERROR_HEADER, SOURCE_HEADER, ATTEMPT_HEADER):
            out.append((k, v))
    return out


def is_replay(headers: HeadersIn) -> bool:
    """True for a record `hybridwatch replay` re-published (REPLAY_HEADER)."""
    return header_map(headers).get(REPLAY_HEADER) == b"1"
