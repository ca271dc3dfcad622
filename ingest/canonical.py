"""Canonical article URLs, the identity behind Article.id.

The same story reaches us with tracking parameters (utm_*, fbclid ...), upper-case
host names, default ports or a #fragment; all of those must give the same id or the
dedup store lets duplicates through. Only changes that never alter which page the
server returns are made: the path is kept byte for byte (a trailing slash can
matter), and the remaining query parameters are sorted so that their order does
not change the id.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok",
        "ref_src", "ref_url", "spm", "vero_id", "oly_anon_id", "oly_enc_id",
        "rb_clickid", "s_cid", "wt_mc", "cmpid", "ocid", "ncid", "sr_share",
        "at_medium", "at_campaign", "ito", "xtor",
    }
)  # fmt: skip
"""Query keys (lower-cased) that only identify the campaign or click, never the page."""

_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "at_", "__twitter_impression")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SPACE = re.compile(r"\s")


class BadUrl(ValueError):
    """The link is not an absolute http(s) URL even after resolving it."""


def is_tracking_param(key: str) -> bool:
    k = key.lower()
    return k in TRACKING_PARAMS or k.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str, base: str | None = None) -> str:
    """Canonical form of `url` (resolved against `base` when relative).

    Lower-cases scheme and host, drops default ports, user info, the fragment and
    tracking parameters, sorts the remaining query parameters. Raises BadUrl for
    anything that is not an absolute http(s) URL.
    """
    raw = _SPACE.sub(lambda m: "%20" if m.group() == " " else "", url.strip())
    try:
        if base:
            raw = urljoin(base, raw)
        parts = urlsplit(raw)
    except ValueError as err:  # e.g. "http://[::1": an unclosed IPv6 bracket
        raise BadUrl(f"not a parseable URL ({err}): {url!r}") from err
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise BadUrl(f"not an http(s) URL: {url!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BadUrl(f"URL has no host: {url!r}")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        host = host.lower()
    try:
        port = parts.port
    except ValueError as err:
        raise BadUrl(f"bad port in {url!r}") from err
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # Percent-encode non-ASCII so "/вести" and "/%D0%B2%D0%B5..." are one URL.
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~-._")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k)
    ]
    query.sort()
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def domain_of(url: str) -> str:
    """Host name without a leading "www." (the Source.domain convention)."""
    return (urlsplit(url).hostname or "").removeprefix("www.")
