"""`hybridwatch export stix` and `hybridwatch triage export` on an SQLite data_dir
(SYNTHETIC data)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from services.entrypoints.cli import main
from services.store.base import Triage
from services.store.sqlite import SqliteStore
from tests.unit.services.factories import article, signal


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    for name in [k for k in os.environ if k.startswith("HW_")]:
        monkeypatch.delenv(name)
    store = SqliteStore.open(tmp_path / "data")
    a = article("https://e.org/1", "Referendum", "Tekst", country="MK")
    b = article("https://e.org/2", "Vlada", "Tekst", country="RS")
    store.put_articles([a, b])
    store.put_signals([signal(a), signal(b, score=0.2)])
    store.put_triage([Triage("article", a.id, a.id, "confirmed", "", "", datetime.now(UTC))])
    store.close()
    path = tmp_path / "hw.yaml"
    path.write_text(
        yaml.safe_dump({"data_dir": str(tmp_path / "data"), "sources": []}), encoding="utf-8"
    )
    return path


def test_export_stix_writes_the_flagged_articles_of_the_window(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle.json"
    args = ["export", "stix", "--since", "2018-09-30", "--until", "2018-09-30"]
    assert main([*args, "--out", str(out), "--config", str(config)]) == 0
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert [o["name"] for o in bundle["objects"] if o["type"] == "report"] == ["Referendum"]
    assert main([*args, "--country", "RS", "--config", str(config)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert not [o for o in printed["objects"] if o["type"] == "report"]


def test_export_stix_names_a_bad_time_or_country(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "stix", "--since", "last week", "--config", str(config)]) == 2
    assert "--since: 'last week' is not a time" in capsys.readouterr().err
    assert main(["export", "stix", "--country", "Serbia", "--config", str(config)]) == 2
    assert "--country must be a two-letter code" in capsys.readouterr().err


def test_triage_export_writes_labelled_jsonl(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "labelled.jsonl"
    assert main(["triage", "export", "--out", str(out), "--config", str(config)]) == 0
    (record,) = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert record["label"] == "disinfo" and record["title"] == "Referendum"
    assert (
        main(
            ["triage", "export", "--out", str(tmp_path / "no" / "x.jsonl"), "--config", str(config)]
        )
        == 2
    )


@pytest.mark.parametrize(
    "argv", [["api", "--port", "0"], ["export", "stix"], ["triage", "export", "--out", "x.jsonl"]]
)
def test_an_unreachable_search_engine_is_one_clear_line(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import os
    import socket

    for name in [k for k in os.environ if k.startswith("HW_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "engine.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {"data_dir": str(tmp_path), "sources": [],
             "store": {"kind": "opensearch", "url": f"http://127.0.0.1:{port}"}}
        ),
        encoding="utf-8",
    )  # fmt: skip
    assert main([*argv, "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "cannot open the opensearch store" in err and "not reachable" in err
