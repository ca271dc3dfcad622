"""`dashboards deploy` against a replayed Grafana API exchange (tests/fixtures/grafana).

A small HTTP server on 127.0.0.1 answers the scripted responses in order and records
each request, so the client's real HTTP stack (grafana-client over niquests) runs; no
live Grafana is exercised here (none can be installed), which the README says.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from services.grafana.deploy import DeployError, connect, deploy

ROOT = Path(__file__).resolve().parents[4]
EXCHANGE = json.loads((ROOT / "tests/fixtures/grafana/exchange.json").read_text())
BOARDS = {
    p.name: p.read_text(encoding="utf-8")
    for p in sorted((ROOT / "dashboards/json/elasticsearch").glob("*.json"))
}
TOKEN = "glsa_test_token"


def _fill(value: Any, board: dict[str, Any]) -> Any:
    uid = board["uid"]
    slug = uid.replace("hw-", "")
    if value == "{dashboard}":
        return {**board, "id": 42, "version": 1}
    if isinstance(value, str):
        return (
            value.replace("{uid}", uid).replace("{slug}", slug).replace("{title}", board["title"])
        )
    if isinstance(value, dict):
        return {k: _fill(v, board) for k, v in value.items()}
    return value


class Replay:
    """Scripted (method, path, response) steps; records what the client sent."""

    def __init__(self, steps: list[tuple[str, str, dict[str, Any]]]) -> None:
        self.steps = list(steps)
        self.seen: list[dict[str, Any]] = []

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        self.seen.append(
            {
                "method": method,
                "path": path,
                "auth": headers.get("Authorization"),
                "json": json.loads(body) if body else None,
            }
        )
        if not self.steps:
            return 599, b'{"message": "unexpected request"}'
        want_method, want_path, response = self.steps.pop(0)
        if (method, path) != (want_method, want_path):
            msg = f"expected {want_method} {want_path}, got {method} {path}"
            return 599, json.dumps({"message": msg}).encode()
        return int(response["status"]), json.dumps(response["body"]).encode()


@pytest.fixture
def grafana() -> Iterator[tuple[str, list[Replay]]]:
    current: list[Replay] = []

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            status, payload = current[0].answer(
                self.command, self.path, self.headers, self.rfile.read(n) if n else b""
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", current
    finally:
        server.shutdown()
        server.server_close()


def _first_deploy_steps() -> list[tuple[str, str, dict[str, Any]]]:
    steps = [
        ("GET", "/api/frontend/settings", EXCHANGE["health"]),
        ("GET", "/api/folders/hybridwatch", EXCHANGE["folder_missing"]),
        ("POST", "/api/folders", EXCHANGE["folder_created"]),
    ]
    for text in BOARDS.values():
        board = json.loads(text)
        steps.append(("GET", f"/api/dashboards/uid/{board['uid']}", EXCHANGE["dashboard_missing"]))
        steps.append(("POST", "/api/dashboards/db", _fill(EXCHANGE["dashboard_saved"], board)))
    return steps


def test_a_first_deploy_creates_the_folder_and_every_dashboard_by_its_uid(
    grafana: tuple[str, list[Replay]],
) -> None:
    url, current = grafana
    replay = Replay(_first_deploy_steps())
    current.append(replay)
    done = deploy(connect(url, TOKEN), url, BOARDS, "hybridwatch test: deploy")
    assert replay.steps == []
    assert {d.action for d in done} == {"created"}
    assert [d.uid for d in done] == [json.loads(t)["uid"] for t in BOARDS.values()]
    assert all(r["auth"] == f"Bearer {TOKEN}" for r in replay.seen)
    assert replay.seen[2]["json"] == {"title": "hybridwatch", "uid": "hybridwatch"}
    saves = [r["json"] for r in replay.seen if r["path"] == "/api/dashboards/db"]
    assert len(saves) == len(BOARDS)
    for save, text in zip(saves, BOARDS.values(), strict=True):
        assert save["overwrite"] is True and save["folderUid"] == "hybridwatch"
        assert save["message"] == "hybridwatch test: deploy"
        assert save["dashboard"] == {**json.loads(text), "id": None}


def test_deploying_the_same_dashboards_again_saves_nothing(
    grafana: tuple[str, list[Replay]],
) -> None:
    url, current = grafana
    steps = [
        ("GET", "/api/frontend/settings", EXCHANGE["health"]),
        ("GET", "/api/folders/hybridwatch", EXCHANGE["folder_found"]),
    ]
    for text in BOARDS.values():
        board = json.loads(text)
        found = _fill(EXCHANGE["dashboard_found"], board)
        steps.append(("GET", f"/api/dashboards/uid/{board['uid']}", found))
    replay = Replay(steps)
    current.append(replay)
    done = deploy(connect(url, TOKEN), url, BOARDS, "again")
    assert replay.steps == []
    assert {d.action for d in done} == {"unchanged"}
    assert not [r for r in replay.seen if r["method"] == "POST"]


def test_a_changed_dashboard_is_overwritten_with_a_version_message(
    grafana: tuple[str, list[Replay]],
) -> None:
    url, current = grafana
    name, text = next(iter(BOARDS.items()))
    board = json.loads(text)
    older = {**board, "title": "an older title"}
    steps = [
        ("GET", "/api/frontend/settings", EXCHANGE["health"]),
        ("GET", "/api/folders/hybridwatch", EXCHANGE["folder_found"]),
        ("GET", f"/api/dashboards/uid/{board['uid']}", _fill(EXCHANGE["dashboard_found"], older)),
        ("POST", "/api/dashboards/db", _fill(EXCHANGE["dashboard_saved"], board)),
    ]
    replay = Replay(steps)
    current.append(replay)
    (done,) = deploy(connect(url, TOKEN), url, {name: text}, "hybridwatch 0.x")
    assert done.action == "updated"
    assert replay.seen[-1]["json"]["message"] == "hybridwatch 0.x"


def test_a_bad_token_is_a_clear_error_naming_the_status_and_what_to_use(
    grafana: tuple[str, list[Replay]],
) -> None:
    url, current = grafana
    current.append(Replay([("GET", "/api/frontend/settings", EXCHANGE["unauthorized"])]))
    with pytest.raises(DeployError, match=r"refused .*401.*service-account token"):
        deploy(connect(url, "wrong"), url, BOARDS, "m")


def test_a_token_that_may_not_save_stops_at_the_first_dashboard(
    grafana: tuple[str, list[Replay]],
) -> None:
    url, current = grafana
    board = json.loads(next(iter(BOARDS.values())))
    current.append(
        Replay(
            [
                ("GET", "/api/frontend/settings", EXCHANGE["health"]),
                ("GET", "/api/folders/hybridwatch", EXCHANGE["folder_found"]),
                ("GET", f"/api/dashboards/uid/{board['uid']}", EXCHANGE["dashboard_missing"]),
                ("POST", "/api/dashboards/db", EXCHANGE["forbidden"]),
            ]
        )
    )
    with pytest.raises(DeployError, match=rf"refused saving dashboard '{board['uid']}' \(403"):
        deploy(connect(url, TOKEN), url, BOARDS, "m")


def test_an_unreachable_grafana_is_named_with_its_url() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(DeployError, match=rf"cannot reach Grafana at {url}"):
        deploy(connect(url, TOKEN, timeout=2.0), url, BOARDS, "m")


def test_a_dashboard_without_a_uid_is_refused_by_name(grafana: tuple[str, list[Replay]]) -> None:
    url, current = grafana
    current.append(
        Replay(
            [
                ("GET", "/api/frontend/settings", EXCHANGE["health"]),
                ("GET", "/api/folders/hybridwatch", EXCHANGE["folder_found"]),
            ]
        )
    )
    with pytest.raises(DeployError, match=r"x\.json: the dashboard has no uid"):
        deploy(connect(url, TOKEN), url, {"x.json": '{"title": "t"}'}, "m")


def test_connect_refuses_a_missing_token_and_a_non_http_url() -> None:
    with pytest.raises(DeployError, match="HW_GRAFANA_TOKEN"):
        connect("http://127.0.0.1:3000", "")
    with pytest.raises(DeployError, match="http"):
        connect("ftp://grafana", TOKEN)
