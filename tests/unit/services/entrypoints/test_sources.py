"""`hybridwatch sources`: table and JSON lines from the registry plus the state file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.state import IngestState
from services.entrypoints.cli import main

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "hw.yaml"
    cfg.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "sources:\n"
        "  - {id: ok.rs, outlet: OK, country: RS, feed_url: 'https://ok.example.rs/rss'}\n"
        "  - {id: bad.mk, outlet: Bad, country: MK, feed_url: 'https://bad.example.mk/feed'}\n"
        "  - {id: new.al, outlet: New, country: AL, feed_url: 'https://new.example.al/feed'}\n",
        encoding="utf-8",
    )
    state = IngestState.open(tmp_path / "data")
    state.record_success(
        "ok.rs", at=T0, next_poll=T0, status_code=200, published_ids=["a", "b", "c"]
    )
    state.record_failure(
        "bad.mk",
        at=T0,
        error="HTTP 503 Service Unavailable from https://bad.example.mk/feed",
        next_poll=T0,
        status_code=503,
    )
    state.close()
    return cfg


def test_json_prints_one_health_object_per_configured_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path)
    assert main(["sources", "--config", str(cfg), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["status"], r["items_seen"]) for r in rows] == [
        ("ok.rs", "ok", 3), ("bad.mk", "failing", 0), ("new.al", "never-polled", 0),
    ]  # fmt: skip
    assert rows[1]["last_error"].startswith("HTTP 503")


def test_table_shows_status_and_error_per_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path)
    assert main(["sources", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    bad = next(line for line in out.splitlines() if line.startswith("bad.mk"))
    assert "failing" in bad and "HTTP 503" in bad
    assert "3 sources: 1 failing, 1 never-polled, 1 ok" in out
