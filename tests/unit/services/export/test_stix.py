"""STIX 2.1 export: a bundle stix2-validator accepts, DISARM ids, stable ids (SYNTHETIC data)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from stix2validator import ValidationOptions, validate_instance

from services.export.stix import DISARM, bundle_json, stix_id
from services.store.base import ArticleHit
from tests.unit.services.factories import article, signal

T = datetime(2018, 9, 28, 9, tzinfo=UTC)


def hits() -> list[ArticleHit]:
    a = article("https://e.org/a", "Copy of a story", "Same words", published=T)
    b = article("https://e.org/b", "No url at all", "Text", published=T, country="RS")
    b = b.model_copy(update={"url": ""})
    amp = signal(
        a,
        detector="amplification",
        narrative=None,
        score=0.6,
        details={"outlets": ["Synthetic Outlet", "Other Outlet", "Third Outlet"]},
    )
    return [ArticleHit(a, (amp, signal(a))), ArticleHit(b, (signal(b, detector="lookalike"),))]


def test_the_bundle_validates_as_stix_2_1() -> None:
    bundle = json.loads(bundle_json(hits()))
    result = validate_instance(bundle, ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]
    assert bundle["type"] == "bundle"


def test_amplification_maps_to_cross_posting_and_lists_the_other_outlets() -> None:
    objs = json.loads(bundle_json(hits()))["objects"]
    by_id = {o["id"]: o for o in objs}
    report = next(o for o in objs if o["type"] == "report" and o["name"] == "Copy of a story")
    names = {by_id[r]["name"] for r in report["object_refs"] if r.startswith("identity--")}
    assert names == {"Synthetic Outlet", "Other Outlet", "Third Outlet"}
    refs = {
        by_id[r]["external_references"][0]["external_id"]
        for r in report["object_refs"]
        if r.startswith("attack-pattern--")
    }
    assert refs == {DISARM["amplification"][0], DISARM["narrative"][0]} == {"T0119", "T0003"}
    uses = [o for o in objs if o["type"] == "relationship"]
    assert {(by_id[u["source_ref"]]["name"], u["relationship_type"]) for u in uses} == {
        ("referendum-fraud", "uses")
    }


def test_ids_and_bytes_are_stable_across_exports() -> None:
    assert bundle_json(hits()) == bundle_json(list(reversed(hits())))
    assert stix_id("campaign", "narrative", "x") == stix_id("campaign", "narrative", "x")


def test_an_article_without_url_has_no_observed_data_but_a_report() -> None:
    objs = json.loads(bundle_json(hits()))["objects"]
    report = next(o for o in objs if o["type"] == "report" and o["name"] == "No url at all")
    assert not any(r.startswith("observed-data--") for r in report["object_refs"])
    assert report["confidence"] == 80
