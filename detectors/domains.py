"""Host names of an article: extraction, registrable label, evidence span in the URL.

Reputation and look-alike detectors both judge an article by where it came from:
the host in its URL (what a reader sees) and, failing that, the source's
configured domain. Evidence must slice a field of the article, so the host is
located inside `article.url` and reported as a span of that field.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import lru_cache

from hybridwatch.events import Article, Evidence

# Second-level public suffixes used by the outlets we watch (a full public-suffix list
# would be I/O or a dependency; these cover the Western Balkans and the usual suspects).
PUBLIC_SUFFIXES_2 = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk",
        "com.mk", "org.mk", "net.mk", "edu.mk", "gov.mk", "inf.mk",
        "co.rs", "org.rs", "in.rs", "edu.rs", "gov.rs",
        "co.me", "net.me", "org.me", "its.me", "gov.me",
        "com.ba", "org.ba", "net.ba", "gov.ba", "co.ba",
        "com.al", "org.al", "net.al", "gov.al", "edu.al",
        "com.hr", "from.hr", "iz.hr",
        "com.ru", "com.ua", "com.tr", "com.cn", "co.at", "com.au",
    }
)  # fmt: skip


def normalise_host(host: str) -> str:
    """Lowercase, strip port, trailing dot and a leading www.; decode IDN (xn--) labels."""
    h = host.strip().lower().rstrip(".")
    if "@" in h:
        h = h.rsplit("@", 1)[1]
    if h.startswith("[") or not h:
        return h
    h = h.split(":", 1)[0]
    if "xn--" in h:
        labels = []
        for label in h.split("."):
            if label.startswith("xn--"):
                # undecodable punycode stays as written; it is still comparable
                with contextlib.suppress(UnicodeError):
                    label = label.encode("ascii").decode("idna")
            labels.append(label)
        h = ".".join(labels)
    if h.startswith("www."):
        h = h[4:]
    return h


def registrable(host: str) -> tuple[str, str]:
    """(label, suffix) of the registrable domain: 'news.bbc-news.com.mk' -> ('bbc-news', 'com.mk')."""
    parts = host.split(".")
    if len(parts) < 2:
        return host, ""
    if len(parts) >= 3 and ".".join(parts[-2:]) in PUBLIC_SUFFIXES_2:
        return parts[-3], ".".join(parts[-2:])
    return parts[-2], parts[-1]


def under(host: str, domain: str) -> bool:
    """True when host is domain itself or one of its subdomains."""
    return host == domain or host.endswith("." + domain)


@dataclass(frozen=True)
class HostRef:
    """A host an article came from and where it sits in the article's URL, if it does."""

    host: str
    """Normalised (lowercase, IDN-decoded, no www.)."""
    origin: str
    """'url' or 'source.domain'."""
    url_span: tuple[int, int] | None
    """Span of the host as written in article.url, or None when the URL does not hold it."""


def url_evidence(ref: HostRef, url: str, rule: str) -> tuple[Evidence, ...]:
    """Evidence pointing at the host inside the article URL, or none when the host
    (e.g. the source's configured domain) does not appear in the URL at all."""
    if ref.url_span is None:
        return ()
    s, e = ref.url_span
    return (Evidence(field="url", start=s, end=e, text=url[s:e], rule=rule),)


def _span_in_url(url: str, raw_host: str) -> tuple[int, int] | None:
    if not url or not raw_host:
        return None
    i = url.lower().find(raw_host.lower())
    if i < 0:
        return None
    return i, i + len(raw_host)


def url_host(url: str) -> str:
    """The host as written in `url` (no userinfo, no port); '' when there is none.

    A few string operations instead of urllib.parse.urlsplit, which costs ~10 us and
    runs for every article in two detectors.
    """
    i = url.find("://")
    rest = url[i + 3 :] if i >= 0 else (url[2:] if url.startswith("//") else "")
    if not rest:
        return ""
    for sep in "/?#":
        j = rest.find(sep)
        if j >= 0:
            rest = rest[:j]
    rest = rest.rsplit("@", 1)[-1]
    if rest.startswith("["):
        return rest.split("]", 1)[0] + "]"
    return rest.split(":", 1)[0]


def article_hosts(article: Article) -> tuple[HostRef, ...]:
    """The URL host first (what readers see), then source.domain when it differs.

    Every article has its own URL, so the result is cached on the URL's head (scheme
    and host, which fix every span found there) and the source domain: a few hundred
    sources give a few hundred entries instead of one miss per article. Only when the
    source domain is not in the head is the whole URL searched.
    """
    url = article.url
    domain = article.source.domain
    key = id(article)
    hit = _RECENT.get(key)
    if hit is not None and hit[0] is article and hit[1] == url and hit[2] == domain:
        return hit[3]  # reputation and lookalike ask about the same articles in turn
    refs = _article_hosts(url, domain)
    if len(_RECENT) >= RECENT_ARTICLES:
        del _RECENT[next(iter(_RECENT))]  # oldest first
    _RECENT[key] = (article, url, domain, refs)
    return refs


RECENT_ARTICLES = 1024
"""Articles whose hosts are remembered: more than a batch, because the suite runs
reputation over the whole batch, then look-alike over it (a single last-article slot
missed every time)."""
_RECENT: dict[int, tuple[Article, str, str, tuple[HostRef, ...]]] = {}
"""id(article) -> (article, url, domain, refs); the entry holds the article, so its id
cannot be recycled while cached (an Article is immutable once built; identity plus the
two fields guard the hit anyway)."""


def _article_hosts(url: str, domain: str) -> tuple[HostRef, ...]:
    i = url.find("://")
    j = len(url)
    if i >= 0:
        for sep in "/?#":
            k = url.find(sep, i + 3)
            if 0 <= k < j:
                j = k
    refs = _hosts(url[:j], domain)
    if j < len(url) and any(r.url_span is None for r in refs):
        # A span may lie further in the URL. The common case: only the source domain
        # has none and it is nowhere in the URL either, so the whole URL would give
        # the same refs (the URL host is in the head); one search tells, instead of
        # re-building them uncached for every article of such a source.
        dom = domain.strip()
        if (
            refs[-1].origin == "source.domain"
            and all(r.url_span is not None for r in refs[:-1])
            and _span_in_url(url, dom) is None
        ):
            return refs
        return _build_hosts(url, domain)
    return refs


@lru_cache(maxsize=2048)
def _hosts(url: str, domain: str) -> tuple[HostRef, ...]:
    return _build_hosts(url, domain)


def _build_hosts(url: str, domain: str) -> tuple[HostRef, ...]:
    refs: list[HostRef] = []
    raw = url_host(url) if url else ""
    if raw:
        refs.append(HostRef(normalise_host(raw), "url", _span_in_url(url, raw)))
    dom = domain.strip()
    if dom:
        host = normalise_host(dom)
        if not any(r.host == host for r in refs):
            refs.append(HostRef(host, "source.domain", _span_in_url(url, dom)))
    return tuple(refs)
