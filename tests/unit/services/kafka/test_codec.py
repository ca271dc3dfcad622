"""Kafka record codec: keys, headers and readable ContractErrors (pure)."""

from __future__ import annotations

import pytest

from hybridwatch.events import Article, ContractError
from hybridwatch.topics import ATTEMPT_HEADER, ERROR_HEADER, SCHEMA_HEADER
from services.kafka.codec import TYPE_HEADER, dead_letter_headers, decode_event, encode
from tests.fixtures.synthetic_articles import synthetic_articles


def _article() -> Article:
    return next(iter(synthetic_articles(1, countries=("XK",))))


def test_article_round_trips_keyed_by_source_country_with_schema_and_type_headers() -> None:
    a = _article()
    rec = encode(a)
    assert rec.key == b"XK"
    assert dict(rec.headers) == {SCHEMA_HEADER: b"1", TYPE_HEADER: b"Article"}
    assert decode_event(Article, rec.value, rec.headers) == a


def test_a_retry_carries_its_attempt_number() -> None:
    assert dict(encode(_article(), attempt=3).headers)[ATTEMPT_HEADER] == b"3"


@pytest.mark.parametrize(
    ("value", "headers", "message"),
    [
        (None, [], "empty record"),
        (b"\xff\xfe", [], "not UTF-8 at byte 0"),
        (b"{}", [], "invalid Article: id: Field required"),
        (b"{}", [(SCHEMA_HEADER, b"2")], "unsupported Article schema version 2"),
        (b"{}", [(SCHEMA_HEADER, b"v1")], "is not an integer"),
    ],
)
def test_undecodable_records_raise_contract_errors_naming_the_problem(
    value: bytes | None, headers: list[tuple[str, bytes]], message: str
) -> None:
    with pytest.raises(ContractError, match=message):
        decode_event(Article, value, headers)


def test_dead_letter_headers_keep_the_original_headers_and_say_where_from() -> None:
    h = dict(
        dead_letter_headers("invalid-article: x", "hw.articles", 3, 42, 1, [(SCHEMA_HEADER, b"1")])
    )
    assert h[ERROR_HEADER] == b"invalid-article: x"
    assert h["hw-source"] == b"hw.articles/3/42"
    assert h[SCHEMA_HEADER] == b"1" and h[ATTEMPT_HEADER] == b"1"
