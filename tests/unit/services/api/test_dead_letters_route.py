"""GET /api/dead-letters lists the embedded runtime's dead-letter table (in-process ASGI)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from services.api.app import create_app
from services.store.dead_letters import DeadLetter, DeadLetterTable
from services.store.sqlite import SqliteStore
from tests.unit.services.factories import article


def test_dead_letters_are_listed_newest_first_with_their_attempts(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path)
    table = DeadLetterTable.beside(store.path)
    old, new = article("https://e.org/old", "old"), article("https://e.org/new", "new")
    table.put(
        [DeadLetter(old, "detector-error", "RuntimeError: a")], datetime(2026, 1, 1, tzinfo=UTC)
    )
    table.put(
        [DeadLetter(new, "detector-error", "RuntimeError: b")], datetime(2026, 1, 2, tzinfo=UTC)
    )
    table.put(
        [DeadLetter(old, "detector-error", "RuntimeError: c")], datetime(2026, 1, 3, tzinfo=UTC)
    )
    client = TestClient(create_app(store, lambda: [], dead_letters=table))
    body = client.get("/api/dead-letters").json()
    assert body["total"] == 2 and body["count"] == 2
    first, second = body["items"]
    assert (first["article_id"], first["attempts"], first["error"]) == (
        old.id,
        2,
        "RuntimeError: c",
    )
    assert (
        first["first_seen"] == "2026-01-01T00:00:00Z"
        and first["last_seen"] == "2026-01-03T00:00:00Z"
    )
    assert first["reason"] == "detector-error" and first["article"]["url"] == "https://e.org/old"
    assert second["article_id"] == new.id and second["attempts"] == 1
    assert (
        client.get("/api/dead-letters", params={"offset": 1}).json()["items"][0]["id"]
        == second["id"]
    )
    assert client.get("/api/dead-letters", params={"limit": 0}).status_code == 422
    table.close()
    store.close()


def test_a_runtime_without_a_dead_letter_table_says_where_they_are(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path)
    r = TestClient(create_app(store, lambda: [])).get("/api/dead-letters")
    assert r.status_code == 404 and "hw.dead-letter" in r.json()["error"]
    store.close()
