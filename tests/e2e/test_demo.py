"""`hybridwatch run --demo`: the bundled synthetic archive brings the product alive offline.

Real processes, real HTTP. The demo polls nothing (no source, no network), replays the
bundled articles through the embedded pipeline into `<data_dir>/demo`, and must raise
every kind of signal it was written to show. The detectors improve concurrently, so
the tests assert which KINDS of signal appear, never how many.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.store.base import SignalQuery
from services.store.sqlite import SqliteStore
from tests.e2e.embedded_support import HYBRIDWATCH, clean_env, cli, free_port

pytestmark = pytest.mark.e2e

SIGNAL_KINDS = {"narrative", "amplification", "burst", "lookalike", "claims"}
READY_LIMIT = 180.0
"""Hang guard on a loaded machine, not a speed assertion."""


def _config(tmp_path: Path, port: int = 0) -> Path:
    config = {
        "data_dir": str(tmp_path / "data"),
        "api": {"host": "127.0.0.1", "port": port},
        # a subscription that would page someone: the demo must never reach it
        "alerts": {
            "subscriptions": [
                {"id": "ops", "webhook": {"url": "http://127.0.0.1:9/hook"}, "replays": True}
            ]
        },
    }
    path = tmp_path / "hybridwatch.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_demo_once_raises_every_signal_kind_into_its_own_folder(tmp_path: Path) -> None:
    config = _config(tmp_path)
    done = cli("run", "--demo", "--once", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "SYNTHETIC" in done.stderr
    demo = tmp_path / "data" / "demo"
    assert (demo / "SYNTHETIC-DEMO").is_file()
    assert not (tmp_path / "data" / "hybridwatch.sqlite3").exists()  # the real store untouched
    store = SqliteStore.open(demo)
    try:
        kinds = store.count_signals(SignalQuery(), by="detector")
        assert set(kinds) >= SIGNAL_KINDS, f"missing: {SIGNAL_KINDS - set(kinds)}"
        countries = store.count_signals(SignalQuery(), by="country")
        assert {"MK", "RS"} <= set(countries)
        assert store.count_articles() > 2000
        assert store.count_alerts() > 0
        assert store.count_alerts(subscription="ops") == 0  # nobody is paged by a demo
    finally:
        store.close()
    # a second run starts afresh: same articles, same signal count (ids from content)
    again = cli("run", "--demo", "--once", "--config", str(config), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    store = SqliteStore.open(demo)
    try:
        assert store.count_signals(SignalQuery(), by="detector") == kinds
    finally:
        store.close()


def test_demo_refuses_to_wipe_a_folder_it_did_not_create(tmp_path: Path) -> None:
    config = _config(tmp_path)
    foreign = tmp_path / "data" / "demo"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    done = cli("run", "--demo", "--once", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2
    assert "not a hybridwatch demo folder" in done.stderr
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "mine"


def _wait(what: str, check: Any, proc: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + READY_LIMIT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"hybridwatch exited with {proc.returncode} waiting for {what}")
        try:
            result = check()
            if result:
                return result
        except httpx.HTTPError as err:
            last = err
        time.sleep(0.3)
    raise AssertionError(f"gave up waiting for {what} (last error: {last!r})")


def test_demo_serves_a_live_page_labelled_synthetic_with_alerts_and_search(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = _config(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        [*HYBRIDWATCH, "run", "--demo", "--config", str(config)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def alive() -> dict[str, Any] | None:
            health = httpx.get(f"{base}/healthz", timeout=5).json()
            return health if health["counts"]["signals"] > 0 else None

        health = _wait("signals on the API", alive, proc)
        assert "SYNTHETIC" in health["runtime"]["demo"]
        page = httpx.get(f"{base}/", timeout=5).text
        assert 'id="demo"' in page
        _wait(
            "an alert",
            lambda: httpx.get(f"{base}/api/alerts", timeout=5).json()["items"],
            proc,
        )
        # search finds Cyrillic articles from a Latin query (folding), in the demo's store
        hits = _wait(
            "search results",
            lambda: httpx.get(
                f"{base}/api/articles", params={"q": "referendum", "country": "MK"}, timeout=5
            ).json()["items"],
            proc,
        )
        assert all(h["url"].split("/")[2].endswith(".example") for h in hits)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
