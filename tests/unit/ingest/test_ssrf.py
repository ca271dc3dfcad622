"""SSRF guard: internal addresses are refused unless explicitly allowed."""

from __future__ import annotations

import ipaddress

import pytest

from ingest.ssrf import SsrfRefused, check_address, check_url, parse_networks


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "non-global"),
    ],
)
def test_internal_addresses_are_refused_with_the_reason(ip: str, reason: str) -> None:
    assert check_address(ipaddress.ip_address(ip), ()) == reason


def test_public_addresses_pass() -> None:
    assert check_address(ipaddress.ip_address("93.184.216.34"), ()) is None


def test_allow_networks_exempts_a_range() -> None:
    allow = parse_networks(["127.0.0.0/8"])
    assert check_address(ipaddress.ip_address("127.0.0.2"), allow) is None
    assert check_address(ipaddress.ip_address("10.0.0.1"), allow) == "private"


async def test_literal_loopback_url_is_refused_naming_the_setting() -> None:
    with pytest.raises(SsrfRefused, match=r"loopback.*ingest.allow_networks"):
        await check_url("http://127.0.0.1:8080/rss", ())


async def test_hostname_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(SsrfRefused, match="resolves to"):
        await check_url("http://localhost/feed", ())


async def test_non_http_scheme_is_refused() -> None:
    with pytest.raises(SsrfRefused, match="only http and https"):
        await check_url("file:///etc/passwd", ())
