"""The analysts' page in a real browser: Playwright for Python driving Debian's Chromium
against `hybridwatch run` fed by a local feed server (SYNTHETIC feeds).

One flow, as an analyst works: the page renders the flagged article with its evidence;
a filter narrows the list and lands in the URL; a search highlights the matches and the
evidence; the article view opens from the keyboard; a triage verdict is set; a new item
on the feed shows up as "N new" without reloading the page; the verdict survives a
restart of the runtime. Screenshots go to $HW_ARTIFACTS_DIR (default
.hybridwatch/artifacts)/browser/.

Chromium comes from the test tooling (`make browser-tools`: apt-get install chromium);
it is started with --no-sandbox --disable-gpu --disable-background-networking
--disable-component-update --no-first-run and a fresh user-data dir.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.embedded_support import (
    FEEDS,
    HYBRIDWATCH,
    ROOT,
    clean_env,
    free_port,
    serve_feeds,
    write_config,
)
from tests.fixtures.http import FeedServer

pytestmark = pytest.mark.e2e

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = (
    Path(os.environ.get("HW_ARTIFACTS_DIR", ROOT / ".hybridwatch" / "artifacts")) / "browser"
)
NEW_ITEM = """    <item>
      <title>Референдумот во Куманово беше местен, тврди порталот</title>
      <link>https://mk.example.org/vesti/referendum-kumanovo</link>
      <guid>https://mk.example.org/vesti/referendum-kumanovo</guid>
      <pubDate>Mon, 01 Oct 2018 08:00:00 +0200</pubDate>
      <description>Порталот тврди дека гласањето на референдумот било местено и дека НАТО агресијата продолжува.</description>
    </item>
  </channel>"""


CONTRAST_JS = """() => {
  const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                       return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const bg = (n) => { for (; n; n = n.parentElement) { const c = rgb(getComputedStyle(n).backgroundColor);
                        if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3); } return [255, 255, 255]; };
  const bad = [];
  for (const n of document.querySelectorAll("h1, .meta, h2, h3, .src, .sig, mark, td, label, button, .excerpt, .keys")) {
    if (!n.textContent.trim() || !n.offsetParent) continue;
    const f = lum(rgb(getComputedStyle(n).color).slice(0, 3)), b = lum(bg(n));
    const ratio = (Math.max(f, b) + 0.05) / (Math.min(f, b) + 0.05);
    if (ratio < 4.5) bad.push(`${n.tagName}.${n.className}: ${ratio.toFixed(2)}`);
  }
  return [...new Set(bad)];
}"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(
        "no Chromium on PATH: the test tooling installs it (make browser-tools, i.e. "
        "apt-get install chromium)"
    )


def wait_for(
    what: str, check: Callable[[], Any], proc: subprocess.Popen[str], limit: float = 180
) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"hybridwatch exited with {proc.returncode} while waiting for {what}"
            )
        try:
            result = check()
            if result:
                return result
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"gave up waiting for {what}")


def start(config: Path, cwd: Path, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*HYBRIDWATCH, "run", "--config", str(config)],
        cwd=cwd,
        env=clean_env(),
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh user-data dir
            executable_path=chromium(),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1366, "height": 900},
            # Playwright's wait_for_function runs its predicate with eval, which the page's
            # CSP forbids; tests/e2e/test_page_csp.py drives the page under its real CSP.
            bypass_csp=True,
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=False)
    return path


def test_an_analyst_filters_searches_triages_and_sees_new_items_live(
    tmp_path: Path, feed_server: FeedServer, browser_page: Any
) -> None:
    page = browser_page
    sources = serve_feeds(feed_server)
    for s in sources:
        s["interval"] = 30  # the new item is picked up on the next poll
    port = free_port()
    config = write_config(tmp_path, sources, port=port)
    text = config.read_text(encoding="utf-8").replace(
        "politeness_delay: 0", "politeness_delay: 0\n  min_interval: 5"
    )
    config.write_text(text, encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    proc = start(config, tmp_path, log)
    try:
        wait_for(
            "the feeds stored",
            lambda: httpx.get(f"{base}/healthz", timeout=5).json()["counts"]["articles"] >= 4,
            proc,
        )
        # 1. the page renders the flagged article with its evidence highlighted
        page.goto(base + "/")
        page.wait_for_selector(".article mark[title]")
        assert "articles" in page.inner_text("#meta")
        first = page.locator(".article").first
        assert "Струмица" in first.inner_text()
        shot(page, "workbench.png")
        low = page.evaluate(CONTRAST_JS)
        assert low == [], f"text below WCAG AA contrast (4.5:1): {low}"

        # 2. a filter narrows the list and lands in the URL
        page.uncheck("#f-flagged")
        page.wait_for_function("document.querySelectorAll('.article').length >= 4")
        page.select_option("#f-country", "RS")
        page.wait_for_function(
            "[...document.querySelectorAll('.article .src')].every(n => n.textContent.trim().startsWith('RS'))"
        )
        assert re.search(r"country=RS", page.url) and "flagged=0" in page.url
        assert page.locator(".article").count() >= 1

        # 3. search (the box, from the keyboard) highlights matches and evidence
        page.click("#clear")
        page.wait_for_function("!location.search.includes('country')")
        page.keyboard.press("/")
        page.keyboard.type("referendum")
        page.keyboard.press("Enter")
        page.wait_for_selector(".article mark.hit")
        assert "q=referendum" in page.url
        assert page.locator(".article").count() == 1  # the flagged MK article
        shot(page, "search.png")

        # 4. the article view from the keyboard: every signal, its rule, the evidence
        page.keyboard.press("Escape")  # leave the search box
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_selector("#detail .sigrow")
        assert page.locator("#detail .body mark[title]").count() >= 1
        assert "rules:" in page.inner_text("#detail")
        assert "article=" in page.url
        shot(page, "article.png")

        # 5. triage: confirm the article with a note
        form = page.locator("#detail .triage-form").first
        form.locator("input").fill("checked against the source")
        form.locator("button[data-status=confirmed]").click()
        page.wait_for_selector("#detail >> text=Triage: confirmed")
        page.keyboard.press("Escape")

        # 6. a new item on the feed appears as "N new" without reloading the page
        page.evaluate("window.__sameDocument = true")
        mk = (FEEDS / "mk-cyrillic.xml").read_text(encoding="utf-8")
        feed_server.route("/mk.xml", body=mk.replace("  </channel>", NEW_ITEM).encode())
        page.wait_for_selector("#newmark:visible", timeout=150_000)
        assert re.match(r"\d+ new", page.inner_text("#newmark"))
        page.click("#newmark")
        page.wait_for_selector(".article >> text=Куманово")
        assert page.evaluate("window.__sameDocument") is True
        shot(page, "live-new.png")
    finally:
        stop(proc)

    # 7. the verdict survives a restart of the runtime
    proc = start(config, tmp_path, log)
    try:
        wait_for(
            "the API back", lambda: httpx.get(f"{base}/healthz", timeout=5).status_code == 200, proc
        )
        api = httpx.get(f"{base}/api/articles?triage=confirmed&flagged=true", timeout=30).json()
        assert api["total"] == 1, api
        page.goto(base + "/?triage=confirmed")
        try:
            page.wait_for_selector(".article .tri")
        except Exception:
            shot(page, "triage-after-restart-FAILED.png")
            raise
        assert page.locator(".article").count() == 1
        assert "article: confirmed" in page.inner_text(".article .tri")
        shot(page, "triage-after-restart.png")
    finally:
        stop(proc)


def test_feed_text_is_never_markup(
    tmp_path: Path, feed_server: FeedServer, browser_page: Any
) -> None:
    """Hostile feed text (a script tag, an onerror image, a javascript: link) stays text."""
    hostile = (
        (FEEDS / "rs-latin.xml")
        .read_text(encoding="utf-8")
        .replace(
            "  </channel>",
            """    <item>
      <title>&lt;img src=x onerror="window.__pwned=1"&gt; referendum &lt;script&gt;window.__pwned=2&lt;/script&gt;</title>
      <link>javascript:window.__pwned=3</link>
      <guid>hostile-1</guid>
      <pubDate>Sun, 30 Sep 2018 10:00:00 +0200</pubDate>
      <description>&lt;b onmouseover="window.__pwned=4"&gt;NATO agresija&lt;/b&gt; referendum</description>
    </item>
  </channel>""",
        )
    )
    feed_server.route("/rs.xml", body=hostile.encode())
    sources = [s for s in serve_feeds(feed_server) if s["id"] in ("syn-mk",)]
    sources.append(
        {"id": "syn-rs", "outlet": "Synthetic RS", "country": "RS", "language": "sr",
         "feed_url": feed_server.url("/rs.xml")}
    )  # fmt: skip
    port = free_port()
    config = write_config(tmp_path, sources, port=port)
    base = f"http://127.0.0.1:{port}"
    proc = start(config, tmp_path, tmp_path / "run.log")
    try:
        wait_for(
            "the feeds stored",
            lambda: httpx.get(f"{base}/healthz", timeout=5).json()["counts"]["articles"] >= 3,
            proc,
        )
        page = browser_page
        page.goto(base + "/?flagged=0&q=referendum")
        page.wait_for_selector(".article")
        page.wait_for_timeout(500)
        assert page.evaluate("window.__pwned") is None
        assert page.locator(".article img, .article script, .article b").count() == 0
        assert page.evaluate("document.querySelectorAll('a[href^=\"javascript:\"]').length") == 0
        # an empty result says what to do next
        page.goto(base + "/?q=nonexistentword")
        page.wait_for_selector(".empty")
        assert "No articles match these filters" in page.inner_text(".empty")
        assert page.locator(".empty [data-clear]").count() == 1
    finally:
        stop(proc)
