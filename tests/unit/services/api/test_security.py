"""Authentication, roles, limits and headers of the API (services/api/security.py).

Every route of the real app is enumerated, so a route added later is covered (and
must be classified in ROUTE_ROLES, or it needs admin)."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hybridwatch.config import ApiSettings, Settings
from services.api.app import create_app
from services.api.security import (
    DEFAULT_ROLE,
    PUBLIC,
    ROUTE_ROLES,
    RateLimiter,
    is_loopback,
    secure_app,
    startup_warning,
)
from services.auth.tokens import RANK, ROLES, TokenStore
from services.store.sqlite import SqliteStore
from tests.unit.services.factories import article


def _settings(tmp_path: Path, **api: Any) -> Settings:
    return Settings(data_dir=tmp_path, api=ApiSettings(**api))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore.open(tmp_path)
    s.put_articles([article("https://e.org/a", "Naslov", "Tekst")])
    yield s
    s.close()


def _app(store: SqliteStore, settings: Settings) -> Any:
    app = create_app(store, lambda: [], lambda: {"healthy": True}, started_at=0.0)
    return secure_app(app, settings, out=io.StringIO())


@pytest.fixture
def tokens(tmp_path: Path) -> dict[str, str]:
    ts = TokenStore.open(tmp_path)
    out: dict[str, str] = {role: ts.create(f"t-{role}", role)[0] for role in ROLES}
    ts.close()
    return out


@pytest.fixture
def client(store: SqliteStore, tmp_path: Path, tokens: dict[str, str]) -> TestClient:
    return TestClient(_app(store, _settings(tmp_path, auth="tokens")))


def _endpoints(app: Any) -> list[tuple[str, str, str]]:
    """(method, route path, a concrete URL) of every route of the app."""
    out = []
    for route in app.routes:
        path = getattr(route, "path", None)
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD" or path is None:
                continue
            out.append((method, path, re.sub(r"\{[^}]+\}", "x", path)))
    return out


def _call(client: TestClient, method: str, url: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    body = {"article_id": "x", "status": "confirmed"} if method == "POST" else None
    return client.request(method, url, headers=headers, json=body)


def test_every_route_is_classified_in_the_role_table(client: TestClient) -> None:
    unclassified = [(m, p) for m, p, _ in _endpoints(client.app) if (m, p) not in ROUTE_ROLES]
    assert not unclassified, (
        f"add these routes to services/api/security.py ROUTE_ROLES: {unclassified}"
    )


def test_every_protected_route_answers_401_without_or_with_a_bad_token(client: TestClient) -> None:
    endpoints = _endpoints(client.app)
    assert len(endpoints) >= 15
    for method, path, url in endpoints:
        if ROUTE_ROLES.get((method, path), DEFAULT_ROLE) is PUBLIC:
            continue
        r = _call(client, method, url, None)
        assert r.status_code == 401, (method, url, r.status_code)
        assert r.headers["www-authenticate"].startswith("Bearer")
        bad = _call(client, method, url, "hw_" + "A" * 43)
        assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]


def test_every_route_answers_403_below_its_role_and_serves_its_role(
    client: TestClient, tokens: dict[str, str]
) -> None:
    for method, path, url in _endpoints(client.app):
        needed = ROUTE_ROLES.get((method, path), DEFAULT_ROLE)
        if needed is PUBLIC:
            assert _call(client, method, url, None).status_code == 200
            continue
        for role in ROLES:
            r = _call(client, method, url, tokens[role])
            if RANK[role] < RANK[needed]:
                assert r.status_code == 403, (method, url, role)
                assert f"needs the {needed} role" in r.json()["error"]
            else:
                assert r.status_code not in (401, 403), (method, url, role, r.text)


def test_a_route_missing_from_the_table_needs_admin(
    store: SqliteStore, tmp_path: Path, tokens: dict[str, str]
) -> None:
    app = create_app(store, lambda: [], None, started_at=0.0)

    @app.get("/api/new-thing")
    def new_thing() -> dict[str, str]:
        return {"ok": "yes"}

    client = TestClient(secure_app(app, _settings(tmp_path, auth="tokens"), out=io.StringIO()))
    assert _call(client, "GET", "/api/new-thing", tokens["operator"]).status_code == 403
    assert _call(client, "GET", "/api/new-thing", tokens["admin"]).status_code == 200


def test_unknown_paths_need_a_token_before_they_say_404(
    client: TestClient, tokens: dict[str, str]
) -> None:
    assert client.get("/api/nope").status_code == 401
    assert _call(client, "GET", "/api/nope", tokens["analyst"]).status_code == 404


def test_revoking_a_token_takes_effect_on_the_next_request(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    assert _call(client, "GET", "/api/articles", tokens["analyst"]).status_code == 200
    ts = TokenStore.open(tmp_path)
    (info,) = [t for t in ts.list() if t.name == "t-analyst"]
    ts.revoke(info.id)
    assert _call(client, "GET", "/api/articles", tokens["analyst"]).status_code == 401


def test_token_in_query_string_is_not_accepted(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/api/articles", params={"access_token": tokens["admin"]}).status_code == 401


def test_auto_mode_is_open_only_on_loopback_without_tokens(
    store: SqliteStore, tmp_path: Path
) -> None:
    app = _app(store, _settings(tmp_path, auth="auto", host="127.0.0.1"))
    assert TestClient(app, base_url="http://127.0.0.1").get("/api/articles").status_code == 200
    # the same app reached over a non-loopback address refuses
    assert TestClient(app, base_url="http://10.1.2.3").get("/api/articles").status_code == 401


def test_auto_mode_bound_beyond_loopback_without_tokens_refuses_and_warns(
    store: SqliteStore, tmp_path: Path
) -> None:
    out = io.StringIO()
    app = create_app(store, lambda: [], None, started_at=0.0)
    secure_app(app, _settings(tmp_path, auth="auto", host="0.0.0.0"), out=out)
    assert "WARNING" in out.getvalue() and "EVERY request is refused" in out.getvalue()
    assert TestClient(app, base_url="http://127.0.0.1").get("/api/articles").status_code == 401


def test_auto_mode_requires_tokens_once_one_exists(
    store: SqliteStore, tmp_path: Path, tokens: dict[str, str]
) -> None:
    app = _app(store, _settings(tmp_path, auth="auto", host="127.0.0.1"))
    c = TestClient(app, base_url="http://127.0.0.1")
    assert c.get("/api/articles").status_code == 401
    assert _call(c, "GET", "/api/articles", tokens["analyst"]).status_code == 200


def test_open_mode_beyond_loopback_warns_loudly() -> None:
    warning = startup_warning("open", "0.0.0.0", 0)
    assert warning is not None and "ANYONE" in warning
    assert startup_warning("open", "127.0.0.1", 0) is None
    assert startup_warning("auto", "::1", 0) is None
    assert startup_warning("tokens", "10.0.0.1", 2) is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("10.0.0.1", False), ("", False),
     ("example.org", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_rate_limit_answers_429_with_retry_after(
    store: SqliteStore, tmp_path: Path, tokens: dict[str, str]
) -> None:
    app = _app(store, _settings(tmp_path, auth="tokens", rate_per_minute=60, rate_burst=3))
    c = TestClient(app)
    codes = [_call(c, "GET", "/healthz", tokens["analyst"]).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = _call(c, "GET", "/healthz", tokens["analyst"])
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 2
    # another token has its own budget
    assert _call(c, "GET", "/healthz", tokens["admin"]).status_code == 200


def test_failed_authentication_is_rate_limited_per_client_address(
    store: SqliteStore, tmp_path: Path, tokens: dict[str, str]
) -> None:
    app = _app(store, _settings(tmp_path, auth="tokens", rate_per_minute=60, rate_burst=2))
    c = TestClient(app)
    codes = [_call(c, "GET", "/healthz", "hw_" + "B" * 43).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    lim = RateLimiter(per_minute=60, burst=1, clock=lambda: now[0])
    assert lim.take("k") == 0 and lim.take("k") == pytest.approx(1.0)
    now[0] = 1.0
    assert lim.take("k") == 0


def test_oversized_body_is_refused_with_413(
    client: TestClient, tokens: dict[str, str], tmp_path: Path, store: SqliteStore
) -> None:
    big = {"article_id": "x", "status": "confirmed", "note": "n" * 70_000}
    r = client.post(
        "/api/triage", json=big, headers={"Authorization": f"Bearer {tokens['analyst']}"}
    )
    assert r.status_code == 413 and "limit is 65536" in r.json()["error"]

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 1000

    r = client.post(
        "/api/triage",
        content=chunks(),
        headers={
            "Authorization": f"Bearer {tokens['analyst']}",
            "Content-Type": "application/json",
        },
    )
    assert r.status_code == 413


def test_cors_is_off_by_default_and_on_for_configured_origins(
    client: TestClient, tokens: dict[str, str], store: SqliteStore, tmp_path: Path
) -> None:
    hdr = {"Authorization": f"Bearer {tokens['analyst']}", "Origin": "https://evil.example"}
    r = client.get("/api/articles", headers=hdr)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = client.options(
        "/api/articles",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in pre.headers
    app = _app(store, _settings(tmp_path, auth="tokens", cors_origins=("https://ok.example",)))
    c = TestClient(app)
    ok = c.get("/api/articles", headers={**hdr, "Origin": "https://ok.example"})
    assert ok.headers["access-control-allow-origin"] == "https://ok.example"
    bad = c.get("/api/articles", headers=hdr)
    assert "access-control-allow-origin" not in bad.headers


def test_page_csp_allows_only_the_pages_own_inline_script_by_hash(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    for m in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", r.text, re.S):
        digest = base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert int(r.headers["content-length"]) == len(r.content)


def test_json_responses_carry_a_deny_all_csp_and_no_store(
    client: TestClient, tokens: dict[str, str]
) -> None:
    r = _call(client, "GET", "/api/articles", tokens["analyst"])
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_tokens_never_reach_the_log_or_error_bodies(
    client: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    caplog.set_level("DEBUG")
    bodies = [_call(client, "GET", "/api/sources", tokens["analyst"]).text]
    bodies.append(_call(client, "GET", "/api/articles", tokens["analyst"] + "x").text)
    seen = caplog.text + capsys.readouterr().err + "".join(bodies)
    for token in tokens.values():
        assert token not in seen and token[3:20] not in seen
