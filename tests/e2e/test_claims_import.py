"""`hybridwatch claims import` as an operator runs it, and a running `hybridwatch run`
picking the imported claims up without a restart (real process, real feed server)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.embedded_support import HYBRIDWATCH, clean_env, cli, free_port
from tests.fixtures.http import FeedServer

pytestmark = pytest.mark.e2e

# synthetic claims and articles, written for these tests (invented, not real cases)
CLAIM = "Vakcine protiv gripa sadrže mikročipove za praćenje građana"
RESTATED = "Вакцине против грипа садрже микрочипове за праћење грађана, тврди портал."
LIMIT = 180.0
"""Hang guard on a loaded machine, not a speed assertion."""


def _config(tmp_path: Path, sources: list[dict[str, Any]], port: int = 0) -> Path:
    config = {
        "data_dir": str(tmp_path / "data"),
        "sources": sources,
        "ingest": {"allow_networks": ["127.0.0.0/8"], "politeness_delay": 0, "min_interval": 1},
        "api": {"host": "127.0.0.1", "port": port},
    }
    path = tmp_path / "hybridwatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _claims_csv(path: Path) -> Path:
    path.write_text(
        "ref,claim,link,verdict\n"
        f'fc-1,"{CLAIM}",https://factcheck.example/fc-1,false\n'
        "fc-2,,https://factcheck.example/fc-2,false\n"
        'fc-3,"Ministarstvo je objavilo broj vakcinisanih u martu",https://factcheck.example/3,true\n',
        encoding="utf-8",
    )
    return path


def test_import_reports_rows_imported_and_skipped_and_detect_uses_them(tmp_path: Path) -> None:
    config = _config(tmp_path, [])
    src = _claims_csv(tmp_path / "fc.csv")
    args = ["claims", "import", str(src), "--map", "id=ref,text=claim,url=link,label=verdict"]
    proc = cli(*args, "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "imported 1 claim(s)" in proc.stdout and "2 row(s) skipped" in proc.stdout
    assert f"{src}:3: skipped: claim text is empty" in proc.stderr
    assert f"{src}:4: skipped: label 'true' marks it as not a false claim" in proc.stderr
    assert (tmp_path / "data" / "claims" / "imported.bin.gz").is_file()

    again = cli(*args, "--json", "--config", str(config), cwd=tmp_path)
    report = json.loads(again.stdout)
    assert (report["imported"], report["new"], report["replaced"], report["skipped"]) == (
        1,
        0,
        1,
        2,
    )
    assert [r["line"] for r in report["skipped_rows"]] == [3, 4]

    article = {"id": "a1", "title": "", "text": RESTATED, "country": "RS"}
    (tmp_path / "in.jsonl").write_text(json.dumps(article, ensure_ascii=False) + "\n", "utf-8")
    out = cli("detect", "-i", str(tmp_path / "in.jsonl"), "--config", str(config), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (result,) = [json.loads(line) for line in out.stdout.splitlines()]
    (claim,) = [s for s in result["signals"] if s["detector"] == "claims"]
    assert claim["details"]["claim_id"] == "fc-1" and claim["details"]["index"] == "imported"
    assert claim["details"]["claim_url"] == "https://factcheck.example/fc-1"
    for ev in claim["evidence"]:
        assert RESTATED[ev["start"] : ev["end"]] == ev["text"]


def test_import_of_a_file_with_only_bad_rows_exits_1_and_a_bad_map_exits_2(tmp_path: Path) -> None:
    config = _config(tmp_path, [])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\nnot json\n', encoding="utf-8")
    proc = cli("claims", "import", str(bad), "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 1
    assert f"{bad}:1: skipped: no claim text" in proc.stderr
    assert f"{bad}:2: skipped: not JSON" in proc.stderr
    proc = cli(
        "claims", "import", str(bad), "--map", "body=x", "--config", str(config), cwd=tmp_path
    )
    assert proc.returncode == 2 and "'body' is not a claim field" in proc.stderr


def _rss(items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>{u}</link><guid>{u}</guid>"
        f"<pubDate>Mon, 01 Oct 2018 08:15:00 +0200</pubDate><description>{d}</description></item>"
        for t, u, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Synthetic</title><link>https://fc.example.org/</link><description>synthetic"
        f"</description>{body}</channel></rss>"
    ).encode()


def _wait(what: str, check: Any, proc: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"hybridwatch exited with {proc.returncode} waiting for {what}"
        try:
            found = check()
            if found:
                return found
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"gave up waiting for {what}")


def test_running_pipeline_picks_up_an_import_without_restart(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    ordinary = ("Žetva kukuruza počela ranije", "https://fc.example.org/zetva", "Rod je dobar.")
    claim_item = ("Вести", "https://fc.example.org/cipovi", RESTATED)
    feed_server.route("/feed.xml", body=_rss([ordinary]))
    port = free_port()
    source = {"id": "syn-fc", "outlet": "Synthetic", "country": "RS", "language": "sr",
              "interval": 30, "feed_url": feed_server.url("/feed.xml")}  # fmt: skip
    config = _config(tmp_path, [source], port=port)
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        [*HYBRIDWATCH, "run", "--config", str(config)],
        cwd=tmp_path, env=clean_env(), stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        _wait("the first article", lambda: http.get("/api/articles").json()["count"] >= 1, proc)
        src = _claims_csv(tmp_path / "fc.csv")
        imp = cli("claims", "import", str(src), "--map", "id=ref,text=claim,url=link,label=verdict",
                  "--config", str(config), cwd=tmp_path)  # fmt: skip
        assert imp.returncode == 0, imp.stderr
        feed_server.route("/feed.xml", body=_rss([ordinary, claim_item]))

        def claim_signal() -> list[dict[str, Any]]:
            items = http.get("/api/signals", params={"detector": "claims"}).json()["items"]
            return [s for s in items if s["details"].get("claim_id") == "fc-1"]

        (sig,) = _wait("a signal of the imported claim", claim_signal, proc)
        assert sig["details"]["index"] == "imported"
        assert sig["evidence"] and all(e["text"] in RESTATED for e in sig["evidence"])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert "imported claim(s) in use" in (tmp_path / "run.log").read_text(encoding="utf-8")
