"""The analysts' workbench API on a real SqliteStore: risk and flags, strict parameters,
totals, inflection-aware search, triage, coverage, STIX export (SYNTHETIC data)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.store.sqlite import SqliteStore
from tests.unit.services.factories import article, signal

T0 = datetime(2018, 9, 30, 12, tzinfo=UTC)
NOW = datetime(2018, 10, 2, 12, tzinfo=UTC)
HEALTH = [
    {"id": "syn-mk", "outlet": "Synthetic MK", "country": "MK", "status": "ok"},
    {"id": "syn-rs", "outlet": "Synthetic RS", "country": "RS", "status": "failing"},
    {"id": "syn-al", "outlet": "Synthetic AL", "country": "AL", "status": "ok"},
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore.open(tmp_path)
    risky = article("https://e.org/mk1", "Референдумот е закажан", "Владата вели.", published=T0)
    weak = article(
        "https://e.org/rs1",
        "O referendumu",
        "Vlada",
        published=T0 + timedelta(hours=1),
        country="RS",
    )
    quiet = article(
        "https://e.org/al1",
        "Referendumit",
        "Qeveria",
        published=T0 + timedelta(hours=2),
        country="AL",
    )
    plain = article("https://e.org/mk2", "Vreme", "Sunce", published=T0 - timedelta(days=1))
    s.put_articles([risky, weak, quiet, plain])
    s.put_signals(
        [
            signal(risky, score=0.9),
            signal(weak, detector="threat", narrative=None, severity="low", score=0.9),
            signal(quiet, detector="burst", narrative="referendum-fraud", score=0.3),
            signal(
                quiet, detector="claims", narrative=None, score=0.3, details={"claim_id": "c-1"}
            ),
        ]
    )
    yield s
    s.close()


@pytest.fixture
def client(store: SqliteStore) -> TestClient:
    return TestClient(
        create_app(
            store,
            lambda: HEALTH,
            started_at=0.0,
            poll_intervals={"syn-mk": 900, "syn-rs": 900, "syn-al": 900},
            clock=lambda: NOW,
        )
    )


def urls(body: dict[str, Any]) -> list[str]:
    return [i["url"] for i in body["items"]]


def _risk(item: dict[str, Any]) -> float:
    """What the pipeline's scoring gives for the item's signals (weights may be retuned)."""
    from detectors.scoring import combine_risk
    from hybridwatch.events import Signal

    return combine_risk([Signal.model_validate(s) for s in item["signals"]])


def test_articles_carry_risk_flagged_and_signals(client: TestClient) -> None:
    items = {i["url"]: i for i in client.get("/api/articles").json()["items"]}
    for item in items.values():
        assert item["risk"] == pytest.approx(_risk(item), abs=1e-6)
        assert item["flagged"] is (item["risk"] >= 0.5)
    assert items["https://e.org/mk1"]["flagged"] is True
    # the per-country threat signal weighs 0: it never flags an article
    assert (
        items["https://e.org/rs1"]["risk"] == 0.0 and items["https://e.org/rs1"]["flagged"] is False
    )
    # two weak signals combine (noisy-OR): 1 - 0.7 * 0.7 = 0.51
    assert items["https://e.org/al1"]["risk"] == pytest.approx(0.51)
    assert (
        items["https://e.org/mk2"]["signals"] == []
        and items["https://e.org/mk2"]["flagged"] is False
    )


def test_flagged_true_returns_only_flagged_articles(client: TestClient) -> None:
    body = client.get("/api/articles", params={"flagged": "true"}).json()
    assert urls(body) == ["https://e.org/al1", "https://e.org/mk1"]
    assert body["total"] == 2 and all(i["flagged"] for i in body["items"])


def test_the_flag_threshold_comes_from_the_configuration(store: SqliteStore) -> None:
    items = {
        i["url"]: i
        for i in TestClient(create_app(store, list)).get("/api/articles").json()["items"]
    }
    between = (items["https://e.org/mk1"]["risk"] + items["https://e.org/al1"]["risk"]) / 2
    strict = TestClient(create_app(store, list, flag_threshold=between))
    assert urls(strict.get("/api/articles", params={"flagged": "true"}).json()) == [
        "https://e.org/mk1"
    ]


def test_unknown_parameters_are_422_naming_them(client: TestClient) -> None:
    r = client.get("/api/articles", params={"flaged": "true"})
    assert r.status_code == 422
    assert r.json()["error"].startswith("flaged: unknown parameter (this endpoint takes: ")
    assert "flagged" in r.json()["error"]
    r = client.get("/api/signals?country=MK&country=RS")
    assert r.status_code == 422 and r.json()["error"].startswith("country: given more than once")
    r = client.get("/api/stats", params={"limit": "5"})
    assert r.status_code == 422 and "limit: unknown parameter" in r.json()["error"]


def test_the_page_takes_its_own_query_string(client: TestClient) -> None:
    r = client.get("/?country=MK&q=referendum&flagged=0&article=abc")
    assert r.status_code == 200 and "hybridwatch live" in r.text


def test_malformed_parameters_are_422_naming_them(client: TestClient) -> None:
    r = client.get("/api/articles", params={"flagged": "maybe"})
    assert r.status_code == 422 and r.json()["error"].startswith("flagged:")
    r = client.get("/api/articles", params={"triage": "ok"})
    assert r.status_code == 422 and r.json()["error"].startswith("triage:")
    r = client.get("/api/articles", params={"offset": "-1"})
    assert r.status_code == 422 and r.json()["error"].startswith("offset:")


def test_lists_page_with_a_total(client: TestClient) -> None:
    first = client.get("/api/articles", params={"limit": 3}).json()
    assert (first["total"], first["count"], first["next_offset"]) == (4, 3, 3)
    rest = client.get("/api/articles", params={"limit": 3, "offset": 3}).json()
    assert (rest["count"], rest["next_offset"]) == (1, None)
    assert set(urls(first)) | set(urls(rest)) == {
        "https://e.org/mk1", "https://e.org/rs1", "https://e.org/al1", "https://e.org/mk2"
    }  # fmt: skip
    sig = client.get("/api/signals", params={"limit": 1}).json()
    assert sig["total"] == 4 and sig["next_offset"] == 1
    assert client.get("/api/alerts").json()["total"] == 0


def test_a_stem_finds_inflected_forms_in_both_scripts(client: TestClient) -> None:
    # Macedonian definite "референдумот", Serbian locative "referendumu", Albanian "referendumit"
    found = urls(client.get("/api/articles", params={"q": "referendum"}).json())
    assert found == ["https://e.org/al1", "https://e.org/rs1", "https://e.org/mk1"]
    assert urls(client.get("/api/articles", params={"q": "референдум"}).json()) == found
    assert urls(client.get("/api/articles", params={"q": "referend*"}).json()) == found
    assert urls(client.get("/api/articles", params={"q": "Referendumot"}).json()) == found
    assert urls(client.get("/api/articles", params={"q": '"referendumot e"'}).json()) == [
        "https://e.org/mk1"
    ]
    assert urls(client.get("/api/articles", params={"q": '"e referendumot"'}).json()) == []


def test_one_article_with_all_its_signals(client: TestClient) -> None:
    body = client.get(f"/api/articles/{_id(client, 'https://e.org/al1')}").json()
    assert [s["detector"] for s in body["signals"]] == ["burst", "claims"]
    r = client.get("/api/articles/nope")
    assert r.status_code == 404 and r.json()["error"] == "article_id: no article 'nope'"


def _id(client: TestClient, url: str) -> str:
    for item in client.get("/api/articles").json()["items"]:
        if item["url"] == url:
            return str(item["id"])
    raise AssertionError(url)


def test_triage_marks_articles_and_signals_and_filters(client: TestClient, tmp_path: Path) -> None:
    mk, al = _id(client, "https://e.org/mk1"), _id(client, "https://e.org/al1")
    r = client.post("/api/triage", json={"article_id": mk, "status": "confirmed", "note": "echt"})
    assert r.status_code == 200 and r.json()["target"] == "article"
    sig = client.get(f"/api/articles/{al}").json()["signals"][0]["id"]
    r = client.post(
        "/api/triage",
        json={"article_id": al, "signal_id": sig, "status": "false_positive", "analyst": "a1"},
    )
    assert r.status_code == 200 and r.json()["target"] == "signal"
    # marking again replaces the verdict (one per target)
    client.post("/api/triage", json={"article_id": mk, "status": "needs_review", "note": "hmm"})
    listed = client.get("/api/triage").json()
    assert listed["total"] == 2
    assert {(t["target"], t["status"]) for t in listed["items"]} == {
        ("article", "needs_review"), ("signal", "false_positive")
    }  # fmt: skip
    assert urls(client.get("/api/articles", params={"triage": "needs_review"}).json()) == [
        "https://e.org/mk1"
    ]
    assert urls(client.get("/api/articles", params={"triage": "false_positive"}).json()) == [
        "https://e.org/al1"
    ]
    assert len(urls(client.get("/api/articles", params={"triage": "none"}).json())) == 2
    shown = client.get(f"/api/articles/{mk}").json()["triage"]
    assert [(t["status"], t["note"]) for t in shown] == [("needs_review", "hmm")]


def test_triage_refuses_unknown_targets_and_statuses(client: TestClient) -> None:
    mk = _id(client, "https://e.org/mk1")
    r = client.post("/api/triage", json={"article_id": "nope", "status": "confirmed"})
    assert r.status_code == 404 and r.json()["error"].startswith("article_id: no article")
    r = client.post("/api/triage", json={"article_id": mk, "signal_id": "x", "status": "confirmed"})
    assert r.status_code == 404 and r.json()["error"].startswith("signal_id:")
    r = client.post("/api/triage", json={"article_id": mk, "status": "fine"})
    assert r.status_code == 422 and r.json()["error"].startswith("status:")
    r = client.post("/api/triage", json={"article_id": mk, "status": "confirmed", "x": 1})
    assert r.status_code == 422 and r.json()["error"].startswith("x:")


def test_triage_survives_a_restart_and_a_replay(tmp_path: Path) -> None:
    a = article("https://e.org/x", "Referendum")
    s = SqliteStore.open(tmp_path)
    s.put_articles([a])
    s.put_signals([signal(a)])
    TestClient(create_app(s, list)).post(
        "/api/triage", json={"article_id": a.id, "status": "confirmed", "note": "n"}
    )
    s.close()
    s = SqliteStore.open(tmp_path)
    s.write_batch([a], [signal(a)])  # the article processed again (replay)
    hit = s.get_article(a.id)
    assert hit is not None and [t.status for t in hit.triage] == ["confirmed"]
    s.close()


def test_coverage_names_silent_and_failing_sources_per_country(client: TestClient) -> None:
    body = client.get("/api/coverage").json()
    assert body["at"] == "2018-10-02T12:00:00Z"
    items = {i["id"]: i for i in body["items"]}
    # one item each for RS and AL, 1.9-2 days ago: older than nothing in the window
    assert items["syn-rs"]["failing"] is True
    # MK: two items a day apart -> usual gap 1 day; silent after 3 days, not yet
    assert items["syn-mk"]["expected_interval_s"] == 86400.0
    assert items["syn-mk"]["silent"] is False
    assert body["countries"]["RS"]["failing"] == ["syn-rs"]
    later = client.get("/api/coverage", params={"at": "2018-10-05T00:00:00Z"}).json()
    assert later["countries"]["MK"]["silent"] == ["syn-mk"]
    only = client.get("/api/coverage", params={"country": "al"}).json()
    assert [i["id"] for i in only["items"]] == ["syn-al"]
    assert client.get("/api/coverage", params={"at": "soon"}).status_code == 400


def test_metrics_expose_coverage_gauges(client: TestClient) -> None:
    text = client.get("/metrics").text
    assert 'hw_country_sources_failing{country="RS"} 1.0' in text
    assert 'hw_source_silent{country="MK",source="syn-mk"} 0.0' in text
    assert "hw_source_seconds_since_last_item" in text


def test_stix_export_is_a_valid_deterministic_bundle(client: TestClient) -> None:
    from stix2validator import ValidationOptions, validate_instance

    r = client.get("/api/export/stix", params={"since": "2018-09-30", "until": "2018-09-30"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/stix+json")
    bundle = r.json()
    result = validate_instance(bundle, ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]
    reports = [o for o in bundle["objects"] if o["type"] == "report"]
    assert sorted(o["name"] for o in reports) == ["Referendumit", "Референдумот е закажан"]
    patterns = {
        o["external_references"][0]["external_id"]
        for o in bundle["objects"]
        if o["type"] == "attack-pattern"
    }
    assert patterns == {"T0003", "T0023", "T0049"}  # narrative, claims, burst
    assert any(
        o["type"] == "campaign" and o["name"] == "referendum-fraud" for o in bundle["objects"]
    )
    assert any(o["type"] == "note" and "c-1" in o["abstract"] for o in bundle["objects"])
    again = client.get("/api/export/stix", params={"since": "2018-09-30", "until": "2018-09-30"})
    assert again.text == r.text
    assert (
        json.loads(client.get("/api/export/stix", params={"country": "RS"}).text)["objects"][0][
            "type"
        ]
        == "identity"
    )


def test_the_article_view_links_the_matched_known_claim(store: SqliteStore) -> None:
    plain = TestClient(create_app(store, list))
    al = _id(plain, "https://e.org/al1")
    assert plain.get(f"/api/articles/{al}").json()["claim_links"] == {"c-1": None}
    linked = TestClient(
        create_app(store, list, claim_links={"c-1": "https://claims.example/c-1"}.get)
    )
    assert linked.get(f"/api/articles/{al}").json()["claim_links"] == {
        "c-1": "https://claims.example/c-1"
    }


def test_claim_links_come_from_the_claims_detector_of_a_suite() -> None:
    from services.api.claims import links_from_suite

    class Index:
        claims = ({"id": "c-1", "url": "https://claims.example/c-1"}, {"id": "c-2"})

    class Claims:
        name = "claims"
        indexes = (("shipped", Index()),)

    class Suite:
        detectors = (Claims(),)

    links = links_from_suite(Suite())
    assert links is not None and links("c-1") == "https://claims.example/c-1"
    assert links("c-2") is None
