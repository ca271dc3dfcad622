"""kafka-python's clients fit the Protocols in services/kafka/ports.py.

kafka-python ships no types, so mypy cannot check that its classes satisfy the
Protocols the project is typed against; these tests compare the signatures instead,
so a kafka-python upgrade that renames or reorders an argument we use fails here and
not in production.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.producer.future import FutureRecordMetadata
from kafka.structs import TopicPartition

from services.kafka import ports

P = inspect.Parameter


def _methods(protocol: type) -> list[str]:
    return [
        name
        for name, member in vars(protocol).items()
        if inspect.isfunction(member) and not name.startswith("_")
    ]


def _properties(protocol: type) -> list[str]:
    return [name for name, member in vars(protocol).items() if isinstance(member, property)]


def _incompatibilities(declared: Callable[..., object], actual: Callable[..., object]) -> list[str]:
    """Why a call written against `declared` could fail on `actual` (empty: it cannot)."""
    want = list(inspect.signature(declared).parameters.values())[1:]  # without self
    have = list(inspect.signature(actual).parameters.values())[1:]
    have_by_name = {p.name: p for p in have}
    takes_kwargs = any(p.kind is P.VAR_KEYWORD for p in have)
    problems: list[str] = []
    for i, p in enumerate(want):
        positional = p.kind is P.POSITIONAL_OR_KEYWORD
        if positional and (i >= len(have) or have[i].name != p.name or have[i].kind is not p.kind):
            problems.append(f"positional argument {i + 1} is not {p.name!r}")
            continue
        q = have_by_name.get(p.name)
        if q is None or q.kind not in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY):
            if not takes_kwargs:
                problems.append(f"no keyword argument {p.name!r}")
            continue
        if p.default is not P.empty and q.default is P.empty:
            problems.append(f"{p.name!r} is optional in the Protocol but required here")
    declared_names = {p.name for p in want}
    for q in have:
        required = q.default is P.empty and q.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD)
        if required and q.name not in declared_names:
            problems.append(f"extra required argument {q.name!r}")
    return problems


@pytest.mark.parametrize(
    ("protocol", "implementation"),
    [
        (ports.Producer, KafkaProducer),
        (ports.Consumer, KafkaConsumer),
        (ports.Admin, KafkaAdminClient),
        (ports.SendFuture, FutureRecordMetadata),
    ],
    ids=lambda x: x.__name__,
)
def test_kafka_python_client_methods_accept_every_call_the_protocol_allows(
    protocol: type, implementation: type
) -> None:
    methods = _methods(protocol)
    assert methods, f"{protocol.__name__} lists no methods"
    problems = {
        name: _incompatibilities(getattr(protocol, name), getattr(implementation, name))
        for name in methods
        if hasattr(implementation, name)
    }
    missing = [name for name in methods if not hasattr(implementation, name)]
    assert not missing, f"{implementation.__name__} lacks {missing}"
    assert not {k: v for k, v in problems.items() if v}, problems


@pytest.mark.parametrize(
    ("protocol", "implementation"),
    [(ports.ConsumedRecord, ConsumerRecord), (ports.Partition, TopicPartition)],
    ids=lambda x: x.__name__,
)
def test_kafka_python_records_have_every_field_the_protocol_reads(
    protocol: type, implementation: type
) -> None:
    fields = getattr(implementation, "_fields", ())  # a named tuple's field names
    missing = [name for name in _properties(protocol) if name not in fields]
    assert not missing, f"{implementation.__name__} lacks {missing}"


def test_signature_check_reports_a_renamed_or_reordered_argument() -> None:
    class Declared:
        def send(self, topic: str, *, value: bytes | None = None) -> None: ...

    class Renamed:
        def send(self, name: str, value: bytes | None = None) -> None: ...

    class NeedsMore:
        def send(self, topic: str, value: bytes | None = None, *, acks: int) -> None: ...

    assert "positional argument 1 is not 'topic'" in _incompatibilities(Declared.send, Renamed.send)
    assert _incompatibilities(Declared.send, NeedsMore.send) == ["extra required argument 'acks'"]
