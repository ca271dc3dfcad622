"""Event contracts: deterministic ids, strict validation, readable errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hybridwatch.events import (
    SCHEMA_VERSION,
    Alert,
    Article,
    ContractError,
    Evidence,
    Signal,
    Source,
    decode,
    json_schemas,
)


def _article(**kw: object) -> Article:
    base: dict[str, object] = {
        "id": Article.make_id("https://example.mk/a"),
        "url": "https://example.mk/a",
        "title": "Синтетички наслов",
        "text": "Synthetic text.",
        "published": datetime(2018, 9, 30, 12, tzinfo=UTC),
        "fetched": datetime(2018, 9, 30, 12, 5, tzinfo=UTC),
        "source": Source(id="example-mk", outlet="Example", domain="example.mk", country="MK"),
    }
    base.update(kw)
    return Article.model_validate(base)


def test_article_id_is_sha256_of_canonical_url_and_stable() -> None:
    a = Article.make_id("https://example.mk/a")
    assert a == Article.make_id("https://example.mk/a")
    assert len(a) == 64
    assert a != Article.make_id("https://example.mk/b")


def test_article_id_falls_back_to_guid_and_differs_from_url_namespace() -> None:
    assert Article.make_id(None, "guid-1") != Article.make_id("guid-1")
    with pytest.raises(ValueError, match="canonical URL or a feed GUID"):
        Article.make_id(None, None)


def test_times_are_normalised_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    art = _article(published=datetime(2018, 9, 30, 14, tzinfo=plus2))
    assert art.published == datetime(2018, 9, 30, 12, tzinfo=UTC)
    assert art.to_dict()["published"].endswith("Z")


def test_naive_times_are_taken_as_utc() -> None:
    art = _article(published=datetime(2018, 9, 30, 12))
    assert art.published.tzinfo is not None
    assert art.published.utcoffset() == timedelta(0)


def test_events_are_frozen() -> None:
    art = _article()
    with pytest.raises(Exception, match="frozen"):
        art.title = "changed"  # type: ignore[misc]


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ContractError, match="surprise"):
        decode(Article, json.dumps({**_article().to_dict(), "surprise": 1}))


def test_invalid_country_names_the_field() -> None:
    raw = _article().to_dict()
    raw["source"]["country"] = "Macedonia"
    with pytest.raises(ContractError, match=r"source\.country.*ISO 3166-1"):
        decode(Article, json.dumps(raw))


def test_round_trip_through_json_is_identity() -> None:
    art = _article(countries=("rs", "MK"))
    assert art.countries == ("MK", "RS")
    assert decode(Article, art.to_json()) == art
    assert art.schema_version == SCHEMA_VERSION


def test_signal_score_must_be_in_unit_interval() -> None:
    with pytest.raises(ContractError, match="score"):
        decode(
            Signal,
            json.dumps(
                {
                    "id": "x",
                    "article_id": "a",
                    "detector": "narrative",
                    "country": "MK",
                    "severity": "high",
                    "score": 1.5,
                    "event_time": "2018-09-30T00:00:00Z",
                }
            ),
        )


def test_signal_and_alert_ids_depend_only_on_identity() -> None:
    s1 = Signal.make_id("a", "narrative", "referendum", "")
    assert s1 == Signal.make_id("a", "narrative", "referendum", "")
    assert s1 != Signal.make_id("a", "narrative", None, "")
    assert Alert.make_id("sub", ("b", "a")) == Alert.make_id("sub", ("a", "b"))


def test_evidence_field_is_constrained() -> None:
    with pytest.raises(Exception, match="field"):
        Evidence(field="body", start=0, end=1, text="x", rule="r")  # type: ignore[arg-type]


def test_json_schemas_cover_the_three_contracts() -> None:
    schemas = json_schemas()
    assert set(schemas) == {"Article", "Signal", "Alert"}
    assert "published" in schemas["Article"]["properties"]
    assert "evidence" in schemas["Signal"]["properties"]
    assert "replay" in schemas["Alert"]["properties"]
