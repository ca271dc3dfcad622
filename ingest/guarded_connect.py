"""Connections that go only where the SSRF guard allowed: the DNS-rebinding fix.

httpx hands the host name to its network backend, which resolves it again when it
connects. A hostile name with a zero TTL can answer the guard's lookup with a
public address and the connect-time lookup with 127.0.0.1 (DNS rebinding). So the
backend here resolves once, checks every address (ingest/ssrf.py) and connects to
a checked address itself. TLS is unaffected: httpcore starts TLS on the returned
stream with the request's host name for SNI and certificate checks, not with the
address we connected to.

httpx does not take a network backend as a parameter, so `guarded_transport`
builds httpx's own transport and gives it an httpcore pool that has one (httpcore's
public `network_backend` argument); everything else about the transport (request
and exception mapping, streaming) stays httpx's.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Sequence

import httpcore
import httpx

from ingest.ssrf import IPNetwork, Resolver, SsrfRefused, checked_addresses, resolve


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check every address, connect to a checked one (in resolver order)."""

    def __init__(
        self,
        allow: Sequence[IPNetwork],
        resolver: Resolver = resolve,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allow = tuple(allow)
        self._resolver = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addrs = await checked_addresses(
            host, port, self._allow, self._resolver, f"connection to {host}:{port}"
        )
        error: Exception | None = None
        for addr in addrs:
            try:
                return await self._inner.connect_tcp(
                    str(addr),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                error = err  # try the name's next address, as a resolver-driven client would
        assert error is not None  # addrs is never empty
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise SsrfRefused(f"refused unix socket {path!r}: feeds are fetched over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    allow: Sequence[IPNetwork],
    limits: httpx.Limits,
    resolver: Resolver = resolve,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncHTTPTransport:
    """httpx's transport (HTTP/1.1, no proxy, no environment) over a `GuardedBackend`."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=False,
        network_backend=GuardedBackend(allow, resolver),
    )
    return transport
