"""HTTP fetching of feeds: polite, bounded, and safe against hostile servers.

What a feed server can do to us and what stops it:

* point us at internal services (directly, via a redirect or by DNS rebinding) ->
  every hop goes through the SSRF guard (ssrf.py), and connections go only to the
  addresses it checked (guarded_connect.py); redirects are followed by hand, counted
  (`ingest.max_redirects`) and a loop is reported as a loop;
* send an endless or huge body, or a gzip bomb -> the body is streamed and both
  the bytes on the wire and the decompressed bytes are capped at
  `ingest.max_body_bytes`; decompression is done here with a bounded output per
  step, so memory never exceeds the cap by more than one network chunk;
* stall -> connect and read timeouts, plus a whole-response deadline
  (connect + 2 x read timeout) against servers that drip one byte at a time;
* be hammered by us -> at most `ingest.per_host_concurrency` requests in flight per
  host:port and at least `ingest.politeness_delay` seconds between two request
  starts to it, within a global `ingest.concurrency` limit.

Proxy environment variables are ignored (trust_env=False): through a proxy the
SSRF guard would check the wrong address.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

from hybridwatch.config import IngestSettings
from ingest.guarded_connect import guarded_transport
from ingest.ssrf import Resolver, SsrfRefused, check_url, parse_networks, resolve

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


class FetchError(Exception):
    """The feed could not be fetched; `kind` groups causes for metrics and tests."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status_code = status_code
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchResult:
    url: str
    """Final URL after redirects."""
    status_code: int
    not_modified: bool
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    redirects: int = 0


@dataclass(frozen=True)
class _Redirect:
    location: str
    status_code: int


class _Decoder:
    """Content-Encoding decoder with bounded output per call (gzip-bomb safe)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._raw_deflate_tried = False
        self._obj = self._new()

    def _new(self) -> zlib._Decompress | None:
        if self.encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.encoding == "deflate":
            return zlib.decompressobj(zlib.MAX_WBITS)
        return None

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decode `data`, producing at most `limit` bytes; more means 'too large'."""
        if self._obj is None:
            return data[:limit] if len(data) > limit else data
        out = bytearray()
        while data:
            try:
                chunk = self._obj.decompress(data, max(1, limit - len(out)))
            except zlib.error:
                if self.encoding == "deflate" and not self._raw_deflate_tried and not out:
                    # Some servers send raw deflate without the zlib header.
                    self._raw_deflate_tried = True
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise
            out += chunk
            if len(out) >= limit:
                return bytes(out)
            if self._obj.unconsumed_tail:
                data = self._obj.unconsumed_tail
                continue
            if self._obj.eof and self._obj.unused_data:  # concatenated gzip members
                data = self._obj.unused_data
                self._obj = self._new()
                assert self._obj is not None
                continue
            break
        return bytes(out)

    def finish(self) -> None:
        if self._obj is not None and not self._obj.eof:
            raise zlib.error("compressed stream ends early (truncated)")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def host_key(url: str) -> str:
    """Politeness key: host:port (so two servers on one IP are two hosts)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


class _HostSlot:
    def __init__(self, concurrency: int) -> None:
        self.sem = asyncio.Semaphore(concurrency)
        self.next_start = 0.0


class Fetcher:
    """One shared httpx client plus the per-host and global limits."""

    def __init__(
        self,
        settings: IngestSettings,
        resolver: Resolver = resolve,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`resolver` and `ssl_context` (default: system resolver, certifi's CAs) exist
        so tests can point a made-up name at a local server with its own certificate."""
        self.settings = settings
        self._allow = parse_networks(settings.allow_networks)
        self._resolver = resolver
        self._timeout = httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.connect_timeout + settings.read_timeout,
        )
        self._deadline = settings.connect_timeout + 2 * settings.read_timeout
        limits = httpx.Limits(
            max_connections=settings.concurrency + 8,
            max_keepalive_connections=min(settings.concurrency, 64),
        )
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=self._timeout,
            limits=limits,
            headers={
                "User-Agent": settings.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
            trust_env=False,
            # connects only to addresses the SSRF guard checked (DNS rebinding)
            transport=guarded_transport(self._allow, limits, resolver, ssl_context),
        )
        self._global = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, _HostSlot] = {}

    async def aclose(self) -> None:
        await self._client.aclose()

    @asynccontextmanager
    async def _slot(self, url: str) -> AsyncIterator[None]:
        """Per-host concurrency and politeness first, then the global limit."""
        key = host_key(url)
        slot = self._hosts.get(key)
        if slot is None:
            slot = self._hosts[key] = _HostSlot(self.settings.per_host_concurrency)
        async with slot.sem:
            loop = asyncio.get_running_loop()
            now = loop.time()
            start = max(now, slot.next_start)
            slot.next_start = start + self.settings.politeness_delay
            if start > now:
                await asyncio.sleep(start - now)
            async with self._global:
                yield

    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET a feed, following redirects by hand; raise FetchError on any failure."""
        visited: list[str] = []
        current = url
        for hop in range(self.settings.max_redirects + 1):
            if current in visited:
                chain = " -> ".join([*visited[visited.index(current) :], current])
                raise FetchError(f"redirect loop: {chain}", kind="redirect-loop")
            visited.append(current)
            try:
                await check_url(current, self._allow, self._resolver)
            except SsrfRefused as err:
                raise FetchError(str(err), kind="refused") from err
            async with self._slot(current):
                outcome = await self._request(current, etag, last_modified)
            if isinstance(outcome, _Redirect):
                current = outcome.location
                continue
            if hop:
                outcome = FetchResult(**{**outcome.__dict__, "redirects": hop})
            return outcome
        raise FetchError(
            f"too many redirects: more than ingest.max_redirects={self.settings.max_redirects} starting at {url}",
            kind="redirect-limit",
        )

    async def _request(
        self, url: str, etag: str | None, last_modified: str | None
    ) -> FetchResult | _Redirect:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        host = urlsplit(url).hostname or url
        s = self.settings
        try:
            async with asyncio.timeout(self._deadline):
                return await self._exchange(url, headers)
        except FetchError:
            raise
        except SsrfRefused as err:  # the connect-time check (ingest/guarded_connect.py)
            raise FetchError(str(err), kind="refused") from err
        except TimeoutError as err:
            raise FetchError(
                f"timeout: the response from {host} took longer than {self._deadline:g}s in total",
                kind="timeout",
            ) from err
        except httpx.ConnectTimeout as err:
            raise FetchError(
                f"connect timeout: {host} did not accept a connection within {s.connect_timeout:g}s",
                kind="timeout",
            ) from err
        except httpx.ReadTimeout as err:
            raise FetchError(
                f"read timeout: {host} sent nothing for {s.read_timeout:g}s", kind="timeout"
            ) from err
        except httpx.TimeoutException as err:
            raise FetchError(
                f"timeout talking to {host}: {type(err).__name__}", kind="timeout"
            ) from err
        except httpx.RemoteProtocolError as err:
            raise FetchError(
                f"truncated or malformed HTTP response from {host}: {err}", kind="protocol"
            ) from err
        except httpx.ConnectError as err:
            raise FetchError(f"cannot connect to {host}: {err}", kind="connect") from err
        except httpx.HTTPError as err:
            raise FetchError(
                f"HTTP transport error with {host}: {type(err).__name__}: {err}", kind="transport"
            ) from err

    async def _exchange(self, url: str, headers: dict[str, str]) -> FetchResult | _Redirect:
        cap = self.settings.max_body_bytes
        async with self._client.stream("GET", url, headers=headers) as resp:
            code = resp.status_code
            if code in REDIRECT_CODES:
                location = resp.headers.get("location")
                if not location:
                    raise FetchError(
                        f"HTTP {code} redirect from {url} without a Location header",
                        kind="http",
                        status_code=code,
                    )
                return _Redirect(urljoin(url, location.strip()), code)
            if code == 304:
                await resp.aread()  # empty; reading it keeps the connection reusable
                return FetchResult(
                    url,
                    code,
                    True,
                    b"",
                    resp.headers.get("content-type"),
                    resp.headers.get("etag"),
                    resp.headers.get("last-modified"),
                )
            if code != 200:
                reason = resp.reason_phrase or ""
                raise FetchError(
                    f"HTTP {code} {reason}".rstrip() + f" from {url}",
                    kind="http",
                    status_code=code,
                    retry_after=_retry_after(resp.headers.get("retry-after"))
                    if code in (429, 503)
                    else None,
                )
            declared = resp.headers.get("content-length")
            if declared and declared.strip().isdigit() and int(declared) > cap:
                raise FetchError(
                    f"body too large: Content-Length {int(declared)} bytes exceeds ingest.max_body_bytes={cap}",
                    kind="too-large",
                    status_code=code,
                )
            encoding = (
                resp.headers.get("content-encoding", "identity").strip().lower() or "identity"
            )
            if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
                raise FetchError(
                    f"unsupported Content-Encoding {encoding!r} from {url}",
                    kind="protocol",
                    status_code=code,
                )
            decoder = _Decoder(encoding)
            body = bytearray()
            wire = 0
            try:
                async for chunk in resp.aiter_raw():
                    wire += len(chunk)
                    if wire > cap:
                        raise FetchError(
                            f"body too large: more than ingest.max_body_bytes={cap} bytes on the wire (stopped reading)",
                            kind="too-large",
                            status_code=code,
                        )
                    body += decoder.feed(chunk, cap - len(body) + 1)
                    if len(body) > cap:
                        raise FetchError(
                            f"body too large: decompresses to more than ingest.max_body_bytes={cap} bytes "
                            f"({encoding}, {wire} bytes on the wire; stopped)",
                            kind="too-large",
                            status_code=code,
                        )
                decoder.finish()
            except zlib.error as err:
                raise FetchError(
                    f"corrupt {encoding} body from {url}: {err}", kind="protocol", status_code=code
                ) from err
            return FetchResult(
                url=url,
                status_code=code,
                not_modified=False,
                body=bytes(body),
                content_type=resp.headers.get("content-type"),
                etag=resp.headers.get("etag"),
                last_modified=resp.headers.get("last-modified"),
            )
