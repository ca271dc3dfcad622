"""`hybridwatch api` serves the same API and page over the search engine as the
embedded runtime does over SQLite, and triage written through it survives a restart.

A real process, a real OpenSearch node (the `search_url` fixture), real HTTP; the data
is SYNTHETIC (tests/integration/search/synthetic.py), loaded into both stores.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from hybridwatch.config import StoreSettings
from services.api.app import create_app
from services.store.search_engine import SearchEngineStore
from services.store.sqlite import SqliteStore
from tests.e2e.embedded_support import HYBRIDWATCH, clean_env, free_port
from tests.integration.search.synthetic import make_articles, make_signals

pytestmark = [pytest.mark.integration, pytest.mark.search]

PATHS = [
    "/api/articles?flagged=true&limit=20",
    "/api/articles?q=referendum&country=MK&limit=10",
    "/api/signals?severity=high&limit=5",
    "/api/stats",
    "/api/export/stix?since=2018-09-01&until=2018-09-02",
]


@pytest.fixture
def engine(search_url: str, search_kind: str) -> Iterator[SearchEngineStore]:
    settings = StoreSettings(
        kind=search_kind, url=search_url, index_prefix=f"hwa-{uuid.uuid4().hex[:10]}-"
    )
    store = SearchEngineStore.open(settings)
    store.client_url = search_url
    try:
        yield store
    finally:
        store.drop_all()
        store.close()


def start_api(config: Path, port: int, cwd: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*HYBRIDWATCH, "api", "--config", str(config), "--port", str(port)],
        cwd=cwd,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"hybridwatch api exited {proc.returncode}: {proc.stderr.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("hybridwatch api did not answer within 120 s")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_api_command_over_the_engine_matches_the_embedded_app(
    engine: SearchEngineStore, tmp_path: Path
) -> None:
    articles = make_articles(120)
    signals = make_signals(articles)
    sqlite = SqliteStore.open(tmp_path / "sqlite")
    for store in (sqlite, engine):
        store.put_articles(articles)
        store.put_signals(signals)
    engine.refresh()
    config = tmp_path / "hw.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "api"),
                "sources": [],
                "store": {
                    "kind": engine.engine,
                    "url": engine.client_url,
                    "index_prefix": engine.prefix,
                },
            }
        ),
        encoding="utf-8",
    )
    embedded = TestClient(create_app(sqlite, lambda: [], started_at=0.0))
    port = free_port()
    proc = start_api(config, port, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        page = httpx.get(base + "/", timeout=10)
        assert page.status_code == 200 and page.text == embedded.get("/").text
        for path in PATHS:
            want = embedded.get(path)
            got = httpx.get(base + path, timeout=30)
            assert got.status_code == want.status_code == 200, path
            assert got.json() == want.json(), path
        bad = httpx.get(base + "/api/articles?flaged=true", timeout=10)
        assert bad.status_code == 422 and bad.json()["error"].startswith("flaged: unknown")
        flagged = httpx.get(base + "/api/articles?flagged=true&limit=1", timeout=10).json()
        target = flagged["items"][0]["id"]
        r = httpx.post(
            base + "/api/triage",
            json={"article_id": target, "status": "confirmed", "note": "seen"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
    finally:
        stop(proc)
    # a restart of the API process: the verdict is in the engine's triage index
    proc = start_api(config, port, tmp_path)
    try:
        body: dict[str, Any] = httpx.get(base + "/api/articles?triage=confirmed", timeout=30).json()
        assert [i["id"] for i in body["items"]] == [target]
        assert body["items"][0]["triage"][0]["note"] == "seen"
    finally:
        stop(proc)
    # and `hybridwatch triage export` writes it as labelled data
    out = tmp_path / "labelled.jsonl"
    done = subprocess.run(
        [*HYBRIDWATCH, "triage", "export", "--out", str(out), "--config", str(config)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert (record["id"], record["label"]) == (target, "disinfo")
    sqlite.close()
