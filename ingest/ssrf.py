"""SSRF guard: refuse feed URLs whose host resolves to an internal address.

A feed registry is operator-editable and redirects are server-controlled, so a feed
URL (or any hop of its redirect chain) could point the poller at the loopback
interface, the LAN or a cloud metadata endpoint. We resolve the host ourselves and
refuse loopback, private, link-local, multicast, reserved and unspecified addresses
unless the operator listed the range in `ingest.allow_networks`.

The check runs twice: `check_url` before a request (a clear error naming the URL,
also for redirect targets), and `checked_addresses` again inside the connection
itself (ingest/guarded_connect.py), which connects to the very address it checked.
The second check is what stops DNS rebinding: a name with a zero TTL that answers
with a public address to the first lookup and 127.0.0.1 to the next one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SsrfRefused(Exception):
    """The URL points at an address the poller must not contact."""


def parse_networks(cidrs: Sequence[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def forbidden_reason(addr: IPAddress) -> str | None:
    """Why `addr` is internal ("loopback", "private" ...), or None if it is public."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return forbidden_reason(addr.ipv4_mapped)
    checks = (
        ("unspecified", addr.is_unspecified),
        ("loopback", addr.is_loopback),
        ("link-local", addr.is_link_local),
        ("multicast", addr.is_multicast),
        ("private", addr.is_private),
        ("reserved", addr.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return name
    if not addr.is_global:  # e.g. 100.64.0.0/10 carrier-grade NAT
        return "non-global"
    return None


def check_address(addr: IPAddress, allow: Sequence[IPNetwork]) -> str | None:
    """Reason to refuse `addr`, or None when it is public or explicitly allowed."""
    reason = forbidden_reason(addr)
    if reason is None:
        return None
    if any(addr.version == net.version and addr in net for net in allow):
        return None
    return reason


Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""(host, port) -> every address the name resolves to, in the resolver's order."""


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The system resolver's addresses for `host` (distinct, in its order)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise SsrfRefused(f"cannot resolve host {host!r}: {err.strerror}") from err
    addrs: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addrs:
            addrs.append(ip)
    return addrs


async def checked_addresses(
    host: str, port: int, allow: Sequence[IPNetwork], resolver: Resolver = resolve, what: str = ""
) -> list[IPAddress]:
    """The addresses of `host` if every one of them may be contacted, else SsrfRefused.

    Every resolved address must pass: a name with one public and one private
    address is refused, because a client may connect to either.
    """
    try:
        addrs: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        addrs = await resolver(host, port)
    if not addrs:
        raise SsrfRefused(f"refused {what or host}: host {host} resolves to no address")
    for addr in addrs:
        reason = check_address(addr, allow)
        if reason is not None:
            raise SsrfRefused(
                f"refused {what or host}: host {host} resolves to {addr} ({reason} address) "
                "which is not inside ingest.allow_networks"
            )
    return addrs


async def check_url(
    url: str, allow: Sequence[IPNetwork], resolver: Resolver = resolve
) -> list[IPAddress]:
    """Resolve the URL's host and raise SsrfRefused if any address is internal."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise SsrfRefused(f"refused {url!r}: only http and https URLs are fetched")
    host = parts.hostname
    if not host:
        raise SsrfRefused(f"refused {url!r}: no host name")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:
        raise SsrfRefused(f"refused {url!r}: bad port ({err})") from err
    return await checked_addresses(host, port, allow, resolver, repr(url))
