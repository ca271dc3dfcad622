"""The HTTP API on a real SqliteStore (in-process ASGI, no network)."""

from __future__ import annotations

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
HEALTH = [
    {"id": "syn-mk", "outlet": "Synthetic", "country": "MK", "status": "ok", "last_error": None},
    {"id": "syn-bad", "outlet": "Broken", "country": "RS", "status": "failing",
     "last_error": "HTTP 500 from http://127.0.0.1/feed"},
]  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore.open(tmp_path)
    cyr = article("https://e.org/cyr", "Референдум у Скопју", "Гласање", published=T0)
    lat = article(
        "https://e.org/lat", "Vlada u Beogradu", published=T0 + timedelta(days=1), country="RS"
    )
    s.put_articles([cyr, lat])
    s.put_signals([signal(cyr, narrative="referendum-fraud", severity="critical")])
    yield s
    s.close()


@pytest.fixture
def client(store: SqliteStore) -> TestClient:
    def health() -> list[dict[str, Any]]:
        return HEALTH

    return TestClient(create_app(store, health, lambda: {"queue_depth": 0}, started_at=0.0))


def test_healthz_reports_counts_and_version(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["counts"] == {"articles": 2, "signals": 1, "sources": 2, "sources_failing": 1}
    assert body["uptime_seconds"] > 0 and body["version"]
    assert body["runtime"] == {"queue_depth": 0}


def test_articles_search_crosses_scripts_and_filters(client: TestClient) -> None:
    r = client.get("/api/articles", params={"q": "referendum skopju"})
    assert r.status_code == 200
    (item,) = r.json()["items"]
    assert (
        item["url"] == "https://e.org/cyr" and item["signals"][0]["narrative"] == "referendum-fraud"
    )
    assert [
        i["url"] for i in client.get("/api/articles", params={"q": "Београду"}).json()["items"]
    ] == ["https://e.org/lat"]
    assert [i["url"] for i in client.get("/api/articles").json()["items"]] == [
        "https://e.org/lat",
        "https://e.org/cyr",
    ]
    flagged = client.get("/api/articles", params={"flagged": "true"}).json()["items"]
    assert [i["url"] for i in flagged] == ["https://e.org/cyr"]
    rs = client.get("/api/articles", params={"country": "rs"}).json()["items"]
    assert [i["source"]["country"] for i in rs] == ["RS"]
    day = client.get("/api/articles", params={"since": "2018-09-30", "until": "2018-09-30"}).json()
    assert [i["url"] for i in day["items"]] == ["https://e.org/cyr"]
    assert (
        client.get("/api/articles", params={"narrative": "referendum-fraud"}).json()["count"] == 1
    )
    assert client.get("/api/articles", params={"detector": "nope"}).json()["count"] == 0


def test_signals_filters(client: TestClient) -> None:
    items = client.get("/api/signals", params={"severity": "critical", "country": "MK"}).json()[
        "items"
    ]
    assert len(items) == 1 and items[0]["evidence"][0]["rule"] == "syn-rule"
    assert client.get("/api/signals", params={"country": "RS"}).json()["items"] == []
    assert client.get("/api/signals", params={"since": "2018-10-01T00:00:00Z"}).json()["count"] == 0


def test_bad_time_is_400_naming_the_parameter(client: TestClient) -> None:
    r = client.get("/api/articles", params={"since": "yesterday"})
    assert r.status_code == 400
    assert r.json()["error"].startswith("since: 'yesterday' is not a time")
    r = client.get("/api/signals", params={"until": "2018-13-45"})
    assert r.status_code == 400 and "until" in r.json()["error"]


def test_invalid_parameters_are_422_with_a_readable_message(client: TestClient) -> None:
    r = client.get("/api/articles", params={"limit": "5000"})
    assert r.status_code == 422
    assert r.json()["error"].startswith("limit: Input should be less than or equal to 1000")
    r = client.get("/api/signals", params={"severity": "urgent"})
    assert r.status_code == 422 and "severity" in r.json()["error"]
    r = client.get("/api/articles", params={"country": "Serbia"})
    assert r.status_code == 422 and "country" in r.json()["error"]


def test_sources_and_stats(client: TestClient) -> None:
    src = client.get("/api/sources").json()
    assert src["count"] == 2 and src["items"][1]["last_error"].startswith("HTTP 500")
    stats = client.get("/api/stats").json()
    assert stats["articles"] == 2
    assert stats["signals"]["country"] == {"MK": 1}
    assert stats["signals"]["narrative"] == {"referendum-fraud": 1}
    assert stats["signals"]["day"] == {"2018-09-30": 1}


def test_openapi_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/healthz", "/api/articles", "/api/signals", "/api/sources", "/api/stats"} <= set(paths)


def test_live_page_is_self_contained(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "/api/stats" in html and "/api/articles?flagged=true" in html
    # offline machine: no external scripts or styles
    assert "<script src" not in html and "https://" not in html and "<link" not in html


def test_healthz_says_degraded_when_the_runtime_is_unhealthy(store: SqliteStore) -> None:
    client = TestClient(create_app(store, list, lambda: {"healthy": False}))
    body = client.get("/healthz").json()
    assert body["status"] == "degraded" and body["runtime"] == {"healthy": False}
