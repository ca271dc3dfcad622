"""Authentication, roles, limits and security headers around the API app.

`secure_app(app, settings)` wraps the FastAPI app (services/api/app.py) in one ASGI
middleware, added after every route exists; the app itself knows nothing of it.
Per request, in this order:

1. Body size: a Content-Length over `api.max_body_bytes` is refused with 413 before
   anything is read; a chunked body is counted as it arrives and cut off at the limit.
2. Authentication: `Authorization: Bearer <token>`, checked against the hashed token
   store (services/auth/tokens.py) on every request, so a revocation is immediate.
   Missing or unknown token: 401 with `WWW-Authenticate: Bearer`. Tokens are never
   taken from the query string (URLs end up in logs) and never logged.
3. Role: each route needs a role (`ROUTE_ROLES`); a route missing from that table
   needs admin, so a new endpoint is never open by accident (tests enumerate the
   app's routes against the table). Too low a role: 403.
4. Rate: a token bucket per token (per client address for requests without a valid
   token, so guessing tokens is slowed too): 429 with `Retry-After` in seconds.

When is authentication off? `api.auth: open`, or `auto` while the token store holds no
active token AND the API is bound to loopback AND the request came in over loopback.
Bound elsewhere without tokens, `auto` refuses every request (and says so loudly at
start); `open` serves them (and warns loudly).

Every response gets nosniff, frame denial, no-referrer and a Content-Security-Policy.
JSON gets `default-src 'none'`; an HTML page gets `script-src 'self'` plus the SHA-256
of each inline `<script>` the server itself sent, so the page's own script runs but no
injected script, inline event handler or `javascript:` URL can (the browser checks).
CORS headers only for `api.cors_origins` (none by default).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import math
import re
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from services.auth.tokens import RANK, TokenInfo, TokenStore, allows

if TYPE_CHECKING:
    from fastapi import FastAPI

    from hybridwatch.config import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC = None
"""Role of a route anyone may call: only the page's HTML (it holds no data)."""

ROUTE_ROLES: dict[tuple[str, str], str | None] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/healthz"): "analyst",
    ("GET", "/api/articles"): "analyst",
    ("GET", "/api/articles/{article_id}"): "analyst",
    ("GET", "/api/signals"): "analyst",
    ("GET", "/api/alerts"): "analyst",
    ("GET", "/api/stats"): "analyst",
    ("GET", "/api/coverage"): "analyst",
    ("GET", "/api/triage"): "analyst",
    ("POST", "/api/triage"): "analyst",
    ("GET", "/api/export/stix"): "analyst",
    ("GET", "/openapi.json"): "analyst",
    ("GET", "/docs"): "analyst",
    ("GET", "/docs/oauth2-redirect"): "analyst",
    ("GET", "/redoc"): "analyst",
    ("GET", "/api/sources"): "operator",
    ("GET", "/api/dead-letters"): "operator",
    ("GET", "/metrics"): "operator",
}
"""(method, route path) -> the least role that may call it. Unlisted routes need admin."""
DEFAULT_ROLE = "admin"
UNKNOWN_PATH_ROLE = "analyst"
"""A path no route matches (404 after authentication: no route enumeration without a token)."""

JSON_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_PATHS = ("/docs", "/redoc")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)
_LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def required_role(method: str, path: str) -> str | None:
    method = "GET" if method == "HEAD" else method
    if (method, path) in ROUTE_ROLES:
        return ROUTE_ROLES[(method, path)]
    return DEFAULT_ROLE


def page_csp(html: bytes, docs: bool = False) -> str:
    """The page's policy: its own inline scripts by hash, nothing else inline."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()}'"
        for m in _INLINE_SCRIPT.finditer(html)
    )
    cdn = " https://cdn.jsdelivr.net" if docs else ""
    return (
        f"default-src 'self'; script-src 'self'{cdn} {hashes}".rstrip()
        + f"; style-src 'self' 'unsafe-inline'{cdn}; img-src 'self' data:"
        + (" https://fastapi.tiangolo.com" if docs else "")
        + "; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """Token buckets: `per_minute` sustained, `burst` at once, per key."""

    per_minute: int
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    max_keys: int = 100_000

    def take(self, key: str) -> float:
        """0 when allowed; else the seconds until a request would be."""
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                if len(self._buckets) >= self.max_keys:  # bounded memory under key floods
                    self._buckets.clear()
                b = self._buckets[key] = _Bucket(float(self.burst), now)
            b.tokens = min(float(self.burst), b.tokens + (now - b.stamp) * rate)
            b.stamp = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / rate


@dataclass(frozen=True)
class Policy:
    mode: str  # auto | tokens | open
    bound_host: str
    max_body_bytes: int
    tokens: TokenStore
    limiter: RateLimiter


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, policy: Policy, routes: Iterable[Any]) -> None:
        self.app = app
        self.policy = policy
        self.routes = routes
        self._csp_cache: dict[bytes, str] = {}

    # -- route and identity ------------------------------------------------------------
    def _route(self, scope: Scope) -> tuple[str | None, bool]:
        """(role needed, whether a route matched the path)."""
        from starlette.routing import Match

        partial: str | None = None
        found = False
        for route in self.routes:
            match, _ = route.matches(scope)
            path = getattr(route, "path", None)
            if match == Match.FULL and path is not None:
                return required_role(scope["method"], path), True
            if match == Match.PARTIAL and path is not None and not found:
                found = True
                methods = sorted(getattr(route, "methods", None) or {"GET"})
                partial = min(
                    (required_role(m, path) for m in methods),
                    key=lambda r: -1 if r is None else RANK[r],
                )
        if found:
            return partial, True
        return UNKNOWN_PATH_ROLE, False

    def _open(self, scope: Scope) -> bool:
        p = self.policy
        if p.mode == "open":
            return True
        if p.mode == "tokens" or p.tokens.active_count() > 0:
            return False
        server = scope.get("server") or (None, None)
        return is_loopback(p.bound_host) and is_loopback(server[0])

    @staticmethod
    def _bearer(scope: Scope) -> str | None:
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                raw = bytes(value).decode("latin-1").strip()
                scheme, _, token = raw.partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    return str(token.strip())
                return ""
        return None

    # -- responses -----------------------------------------------------------------------
    def _headers(
        self, path: str, content_type: bytes, body: bytes | None
    ) -> list[tuple[bytes, bytes]]:
        if content_type.startswith(b"text/html") and body is not None:
            docs = path in DOCS_PATHS
            csp = self._csp_cache.get(body) if not docs else None
            if csp is None:
                csp = page_csp(body, docs)
                if not docs and len(self._csp_cache) < 16:
                    self._csp_cache[body] = csp
        else:
            csp = JSON_CSP
        return [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]

    async def _error(
        self, send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        body = json.dumps({"error": message}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *(extra or []),
            *self._headers("", b"application/json", None),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # -- the ASGI entry ------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        p = self.policy
        path: str = scope.get("path", "")
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    await self._error(send, 400, "content-length: not a number")
                    return
                if size > p.max_body_bytes:
                    await self._error(
                        send, 413, f"request body: {size} bytes, the limit is {p.max_body_bytes}"
                    )
                    return

        needed, _ = self._route(scope)
        client = (scope.get("client") or ("?", 0))[0]
        who: TokenInfo | None = None
        if needed is not None and not self._open(scope):
            token = self._bearer(scope)
            who = p.tokens.verify(token) if token else None
            if who is None:
                wait = p.limiter.take(f"addr:{client}")
                if wait > 0:
                    await self._too_many(send, wait)
                    return
                if token is None:
                    challenge, why = b'Bearer realm="hybridwatch"', "a bearer token is required"
                else:
                    challenge = b'Bearer realm="hybridwatch", error="invalid_token"'
                    why = "the bearer token is unknown, malformed or revoked"
                await self._error(send, 401, why, [(b"www-authenticate", challenge)])
                return
            if not allows(who.role, needed):
                await self._error(
                    send,
                    403,
                    f"this endpoint needs the {needed} role; token {who.id} is {who.role}",
                )
                return
            key = f"token:{who.id}"
        else:
            key = f"addr:{client}"
        wait = p.limiter.take(key)
        if wait > 0:
            await self._too_many(send, wait)
            return
        if who is not None:
            scope.setdefault("state", {})["token"] = who

        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > p.max_body_bytes:
                    # answer now; the app sees a client that went away, its reply is dropped
                    refused = True
                    await self._error(
                        send, 413, f"request body: over the limit of {p.max_body_bytes} bytes"
                    )
                    return {"type": "http.disconnect"}
            return message

        started: Message | None = None
        html: list[bytes] = []

        async def secured_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    started = message  # held until the body is complete (its CSP hashes it)
                    return
                headers += self._headers(path, ctype, None)
                if needed is not None:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
                await send(message)
            elif message["type"] == "http.response.body" and started is not None:
                html.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(html)
                headers = [
                    (k, v)
                    for k, v in started.get("headers") or []
                    if k.lower() != b"content-length"
                ]
                headers.append((b"content-length", str(len(body)).encode()))
                headers += self._headers(path, b"text/html", body)
                await send({**started, "headers": headers})
                await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        try:
            await self.app(scope, limited_receive, secured_send)
        except Exception:
            if not refused:
                raise

    async def _too_many(self, send: Send, wait: float) -> None:
        await self._error(
            send,
            429,
            "too many requests: rate limit reached, retry later",
            [(b"retry-after", str(max(1, math.ceil(wait))).encode())],
        )


def secure_app(
    app: FastAPI, settings: Settings, *, tokens: TokenStore | None = None, out: TextIO | None = None
) -> FastAPI:
    """Wrap `app` (a FastAPI app with all its routes) with authentication, limits and
    headers from `settings.api`; returns the app (the middleware is added to it)."""
    api = settings.api
    store = tokens or TokenStore.open(Path(settings.data_dir), api.tokens_file)
    policy = Policy(
        mode=api.auth,
        bound_host=api.host,
        max_body_bytes=api.max_body_bytes,
        tokens=store,
        limiter=RateLimiter(api.rate_per_minute, api.rate_burst),
    )
    if api.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(api.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(SecurityMiddleware, policy=policy, routes=app.router.routes)
    warning = startup_warning(api.auth, api.host, store.active_count())
    if warning:
        print(warning, file=out or sys.stderr)
    return app


def startup_warning(mode: str, host: str, active_tokens: int) -> str | None:
    if is_loopback(host):
        return None
    bar = "!" * 78
    if mode == "open":
        return (
            f"{bar}\nhybridwatch: WARNING: the API is bound to {host} with api.auth: open — "
            f"ANYONE who reaches this address reads and triages everything.\n"
            f"Create tokens (`hybridwatch token create`) and set api.auth: tokens.\n{bar}"
        )
    if active_tokens == 0:
        return (
            f"{bar}\nhybridwatch: WARNING: the API is bound to {host} but the token store "
            f"holds no token: EVERY request is refused (401).\nCreate one with "
            f"`hybridwatch token create --name NAME --role analyst`.\n{bar}"
        )
    return None
