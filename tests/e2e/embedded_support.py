"""Helpers for the embedded-runtime e2e tests: synthetic feeds, config files, CLI runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.fixtures.http import FeedServer

ROOT = Path(__file__).resolve().parents[2]
FEEDS = ROOT / "tests" / "fixtures" / "feeds" / "e2e"  # synthetic, see its README
_SCRIPT = Path(sys.executable).parent / "hybridwatch"
HYBRIDWATCH = (
    [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "services.entrypoints.cli"]
)
"""The installed console script (.venv/bin/hybridwatch), as an operator runs it."""

MK_ARTICLE_URL = "https://mk.example.org/vesti/referendum-strumica"
RS_ARTICLE_URL = "https://rs.example.net/vesti/pregovori-pristina"
ARTICLES_IN_GOOD_FEEDS = 4


def serve_feeds(server: FeedServer) -> list[dict[str, Any]]:
    """Program the feed server; return the sources registry pointing at it."""
    server.route("/mk.xml", body=(FEEDS / "mk-cyrillic.xml").read_bytes())
    server.route("/rs.xml", body=(FEEDS / "rs-latin.xml").read_bytes())
    server.route("/broken.xml", body=(FEEDS / "broken.xml").read_bytes())
    server.route("/boom.xml", status=500, body=b"internal error", content_type="text/plain")
    return [
        {"id": "syn-mk", "outlet": "Synthetic MK", "country": "MK", "language": "mk",
         "feed_url": server.url("/mk.xml")},
        {"id": "syn-rs", "outlet": "Synthetic RS", "country": "RS", "language": "sr",
         "feed_url": server.url("/rs.xml")},
        {"id": "syn-broken", "outlet": "Synthetic broken", "country": "BA",
         "feed_url": server.url("/broken.xml")},
        {"id": "syn-boom", "outlet": "Synthetic 500", "country": "ME",
         "feed_url": server.url("/boom.xml")},
    ]  # fmt: skip


def write_config(
    tmp_path: Path,
    sources: list[dict[str, Any]],
    port: int = 0,
    alerts: dict[str, Any] | None = None,
) -> Path:
    config = {
        "data_dir": str(tmp_path / "data"),
        "sources": sources,
        "ingest": {"allow_networks": ["127.0.0.0/8"], "politeness_delay": 0},
        "alerts": {"min_severity": "high", **(alerts or {})},
        "api": {"host": "127.0.0.1", "port": port},
    }
    path = tmp_path / "hybridwatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def clean_env() -> dict[str, str]:
    """The caller's environment without HW_* (make test exports HW_ES_URL etc.)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HW_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HYBRIDWATCH, *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def search_json(config: Path, *args: str) -> list[dict[str, Any]]:
    proc = cli("search", *args, "--json", "--config", str(config), cwd=config.parent)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_json_output(text: str) -> Any:
    """A JSON document, or JSON Lines, whichever the command printed."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
