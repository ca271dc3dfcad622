"""The page works when the API requires a bearer token: the analyst types the token into
the token box, it is kept in sessionStorage and sent as `Authorization: Bearer` on every
API call, under the page's real Content-Security-Policy (no inline handler involved).

The token is an analyst's: everything the page shows but source health (operator role)
works with it, and the source panel says it needs an operator token instead of turning
the whole page into a problem banner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.embedded_support import cli, free_port, serve_feeds, write_config
from tests.e2e.test_page_browser import start, stop, wait_for
from tests.e2e.test_page_csp import strict_page  # noqa: F401  (fixture)
from tests.fixtures.http import FeedServer

pytestmark = pytest.mark.e2e


def test_page_loads_articles_once_a_token_is_entered_when_the_api_requires_one(
    tmp_path: Path,
    feed_server: FeedServer,
    strict_page: Any,  # noqa: F811
) -> None:
    port = free_port()
    config = write_config(tmp_path, serve_feeds(feed_server), port=port)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["api"]["auth"] = "tokens"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    created = cli(
        "token", "create", "--config", str(config), "--name", "e2e", "--role", "analyst",
        cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    proc = start(config, tmp_path, tmp_path / "run.log")
    try:
        wait_for(
            "the feeds stored",
            lambda: (
                httpx.get(f"{base}/healthz", headers=auth, timeout=5).json()["counts"]["articles"]
                >= 4
            ),
            proc,
        )
        assert httpx.get(f"{base}/api/articles", timeout=5).status_code == 401
        page = strict_page
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text))
        page.goto(base + "/?flagged=0")
        page.wait_for_selector("#problem", state="visible")  # 401 without a token
        assert page.locator(".article").count() == 0

        page.fill("#token", token)
        page.click("#tokenbox button")
        page.wait_for_selector(".article")
        assert page.locator(".article").count() >= 4
        assert page.evaluate("() => sessionStorage.getItem('hybridwatch.token')") == token
        assert not page.locator("#problem").is_visible()
        page.wait_for_selector("#sources >> text=needs an operator token")

        page.reload()  # the token survives a reload of the tab
        page.wait_for_selector(".article")
        assert [m for m in console if "Content Security Policy" in m] == []
    finally:
        stop(proc)
