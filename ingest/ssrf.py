"""SSRF guard: refuse feed URLs whose host resolves to an internal address.

A feed registry is operator-editable and redirects are server-controlled, so a feed
URL (or any hop of its redirect chain) could point the poller at the loopback
interface, the LAN or a cloud metadata endpoint. We resolve the host ourselves and
refuse loopback, private, link-local, multicast, reserved and unspecified addresses
unless the operator listed the range in `ingest.allow_networks`.

Known limit (documented in docs/ingest.md): httpx resolves the name again when it
connects, so a DNS-rebinding server with a zero TTL could answer differently the
second time. Closing that needs connecting to the checked IP with SNI set to the
name, which httpx does not expose.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
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


async def check_url(url: str, allow: Sequence[IPNetwork]) -> list[IPAddress]:
    """Resolve the URL's host and raise SsrfRefused if any address is internal.

    Every resolved address must pass: a name with one public and one private
    address is refused, because the client may connect to either.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise SsrfRefused(f"refused {url!r}: only http and https URLs are fetched")
    host = parts.hostname
    if not host:
        raise SsrfRefused(f"refused {url!r}: no host name")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addrs: list[IPAddress] = [literal]
    else:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as err:
            raise SsrfRefused(f"refused {url!r}: bad port ({err})") from err
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as err:
            raise SsrfRefused(f"cannot resolve host {host!r}: {err.strerror}") from err
        addrs = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if ip not in addrs:
                addrs.append(ip)
    for addr in addrs:
        reason = check_address(addr, allow)
        if reason is not None:
            raise SsrfRefused(
                f"refused {url!r}: host {host} resolves to {addr} ({reason} address) "
                "which is not inside ingest.allow_networks"
            )
    return addrs
