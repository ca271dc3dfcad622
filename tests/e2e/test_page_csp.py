"""The workbench page works under its real Content-Security-Policy, and that policy
stops script injected into it (services/api/security.py).

Chromium enforces the header: the page must render its articles with no CSP violation
reported, while an inline script or event handler added to the document is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.embedded_support import free_port, serve_feeds, write_config
from tests.e2e.test_page_browser import CHROMIUM_FLAGS, chromium, start, stop, wait_for
from tests.fixtures.http import FeedServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def strict_page(tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium(),
            headless=True,
            args=CHROMIUM_FLAGS,
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def test_page_renders_under_its_csp_and_injected_script_is_refused(
    tmp_path: Path, feed_server: FeedServer, strict_page: Any
) -> None:
    port = free_port()
    config = write_config(tmp_path, serve_feeds(feed_server), port=port)
    base = f"http://127.0.0.1:{port}"
    proc = start(config, tmp_path, tmp_path / "run.log")
    try:
        wait_for(
            "the feeds stored",
            lambda: httpx.get(f"{base}/healthz", timeout=5).json()["counts"]["articles"] >= 4,
            proc,
        )
        page = strict_page
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text))
        response = page.goto(base + "/?flagged=0")
        csp = response.headers["content-security-policy"]
        assert "script-src 'self' 'sha256-" in csp and "'unsafe-inline'" not in csp.split(";")[1]
        page.wait_for_selector(".article")  # the page's own script ran and rendered the list
        assert page.locator(".article").count() >= 4
        violations = [m for m in console if "Content Security Policy" in m]
        assert violations == []

        # what an injection would add: an inline handler and an inline script element
        page.evaluate(
            """() => {
              const img = document.createElement('div');
              img.innerHTML = '<img src="x:" onerror="window.__pwned = 1">';
              document.body.appendChild(img);
              const s = document.createElement('script');
              s.textContent = 'window.__pwned = 2';
              document.body.appendChild(s);
            }"""
        )
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.__pwned") is None
        assert any("Content Security Policy" in m for m in console)
    finally:
        stop(proc)
