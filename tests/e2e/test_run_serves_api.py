"""`hybridwatch run` serves the API and the live page, and stops cleanly on a signal.

A real process, a real local feed server, real HTTP: poll /healthz until ready, wait
until the pipeline stored the feeds, query the API, send SIGTERM (or SIGINT), and
check exit 0 and that everything is still in the store afterwards.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.store.base import ArticleQuery
from services.store.sqlite import SqliteStore
from tests.e2e.embedded_support import (
    ARTICLES_IN_GOOD_FEEDS,
    FEEDS,
    HYBRIDWATCH,
    MK_ARTICLE_URL,
    clean_env,
    free_port,
    serve_feeds,
    write_config,
)
from tests.fixtures.http import FeedServer

pytestmark = pytest.mark.e2e

READY_LIMIT = 180.0
"""Upper bound for start-up on a loaded machine; a hang guard, not a speed assertion."""


def wait_for(what: str, check: Callable[[], Any], proc: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + READY_LIMIT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"hybridwatch exited with {proc.returncode} while waiting for {what}"
            )
        try:
            result = check()
            if result:
                return result
        except httpx.HTTPError as err:
            last = err
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what} (last error: {last!r})")


@pytest.fixture
def running(
    tmp_path: Path, feed_server: FeedServer
) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    port = free_port()
    config = write_config(tmp_path, serve_feeds(feed_server), port=port)
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        [*HYBRIDWATCH, "run", "--config", str(config)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc, f"http://127.0.0.1:{port}", tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_serves_the_api_and_stops_cleanly_on_a_signal(
    running: tuple[subprocess.Popen[str], str, Path], sig: signal.Signals
) -> None:
    proc, base, tmp_path = running
    with httpx.Client(base_url=base, timeout=30) as http:
        health = wait_for("/healthz", lambda: http.get("/healthz").json(), proc)
        assert health["status"] == "ok" and health["version"]

        def all_stored() -> bool:
            return http.get("/healthz").json()["counts"]["articles"] >= ARTICLES_IN_GOOD_FEEDS

        wait_for("the feeds to be stored", all_stored, proc)

        found = http.get("/api/articles", params={"q": "strumica"}).json()
        assert [a["url"] for a in found["items"]] == [MK_ARTICLE_URL]
        flagged = http.get("/api/articles", params={"flagged": "true", "country": "MK"}).json()
        assert flagged["items"][0]["signals"][0]["evidence"]

        signals = http.get("/api/signals", params={"narrative": "nato-aggression"}).json()
        assert signals["count"] >= 1 and signals["items"][0]["country"] == "MK"

        def sources_polled() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = http.get("/api/sources").json()["items"]
            return items if all(s["status"] != "never-polled" for s in items) else None

        by_id = {s["id"]: s for s in wait_for("every source polled", sources_polled, proc)}
        assert by_id["syn-mk"]["status"] == "ok"
        assert by_id["syn-broken"]["status"] == "failing" and by_id["syn-broken"]["last_error"]

        stats = http.get("/api/stats").json()
        assert stats["signals"]["country"].get("MK", 0) >= 1

        alerts = http.get("/api/alerts", params={"country": "mk"}).json()
        assert alerts["count"] == 1 and alerts["items"][0]["subscription_id"] == "console"
        assert http.get("/api/alerts", params={"subscription": "nobody"}).json()["count"] == 0

        bad = http.get("/api/articles", params={"until": "tomorrow"})
        assert bad.status_code == 400 and bad.json()["error"].startswith("until:")

        openapi = http.get("/openapi.json").json()
        assert "/api/articles" in openapi["paths"] and "/api/sources" in openapi["paths"]
        page = http.get("/")
        assert page.status_code == 200 and "hybridwatch live" in page.text
        assert 'id="alerts"' in page.text and "/api/alerts" in page.text

    proc.send_signal(sig)
    assert proc.wait(timeout=READY_LIMIT) == 0
    log = (tmp_path / "run.log").read_text("utf-8")
    assert f"stopped on {sig.name}" in log
    assert "Traceback" not in log

    store = SqliteStore.open(tmp_path / "data")
    try:
        assert store.count_articles() == ARTICLES_IN_GOOD_FEEDS
        assert [h.article.url for h in store.search_articles(ArticleQuery(text="струмица"))] == [
            MK_ARTICLE_URL
        ]
        assert store.pending_alerts() == []
    finally:
        store.close()


def test_port_in_use_is_a_clear_error(tmp_path: Path, feed_server: FeedServer) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = write_config(tmp_path, serve_feeds(feed_server), port=port)
        proc = subprocess.run(
            [*HYBRIDWATCH, "run", "--config", str(config)],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=READY_LIMIT,
            check=False,
        )
    assert proc.returncode == 1
    assert f"cannot serve the API on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_poll_cut_short_by_shutdown_is_fetched_again_on_the_next_start(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Nothing fetched is lost: stopping mid-poll exits 0, the next run gets the feed."""
    sources = serve_feeds(feed_server)
    body = (FEEDS / "rs-latin.xml").read_bytes()
    slow_url = feed_server.route("/slow.xml", body=body, delay=120.0)
    sources = [s for s in sources if s["id"] == "syn-mk"] + [
        {"id": "syn-slow", "outlet": "Slow", "country": "RS", "feed_url": slow_url}
    ]
    config = write_config(tmp_path, sources, port=free_port())
    proc = subprocess.Popen(
        [*HYBRIDWATCH, "run", "--no-api", "--config", str(config)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            "the slow feed to be requested", lambda: feed_server.requests_for("/slow.xml"), proc
        )
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=READY_LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr

    feed_server.route("/slow.xml", body=body)  # the outlet answers promptly now
    again = subprocess.run(
        [*HYBRIDWATCH, "run", "--once", "--config", str(config)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=READY_LIMIT,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    store = SqliteStore.open(tmp_path / "data")
    try:
        urls = {h.article.url for h in store.search_articles(ArticleQuery(limit=50))}
    finally:
        store.close()
    assert "https://rs.example.net/vesti/pregovori-pristina" in urls
    assert MK_ARTICLE_URL in urls
