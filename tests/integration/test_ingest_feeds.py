"""The poller against a real HTTP server on 127.0.0.1 serving real feed files.

Good feeds, broken feeds and hostile feeds are served side by side; the tests
assert what was published, what the health of every source says, and that one
broken feed never stops the others. No wall-clock thresholds: timeouts are
provoked with server delays longer than the configured read timeout.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import itertools
import ssl
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from hybridwatch.config import IngestSettings, Settings, SourceConfig
from hybridwatch.events import Article
from ingest.fetch import Fetcher, FetchError
from ingest.poller import Poller
from ingest.ssrf import IPAddress
from ingest.state import IngestState
from tests.fixtures.http import FeedServer, RecordedRequest, Route

pytestmark = pytest.mark.integration

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
LOCAL = ("127.0.0.0/8",)


def _feed(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def _settings(**ingest: object) -> Settings:
    base: dict[str, object] = {
        "allow_networks": LOCAL,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "politeness_delay": 0.0,
        "max_redirects": 3,
    }
    base.update(ingest)
    return Settings(ingest=IngestSettings.model_validate(base))


class Collector:
    """A Publish that keeps what it got (and can be told to fail)."""

    def __init__(self) -> None:
        self.batches: list[list[Article]] = []
        self.fail_with: Exception | None = None

    async def __call__(self, articles: Sequence[Article]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.batches.append(list(articles))

    @property
    def articles(self) -> list[Article]:
        return [a for batch in self.batches for a in batch]


def _src(sid: str, url: str, country: str = "RS", language: str = "sr") -> SourceConfig:
    return SourceConfig(
        id=sid, outlet=sid.upper(), country=country, language=language, feed_url=url
    )


@pytest.fixture
def state(tmp_path: Path):
    st = IngestState.open(tmp_path / "data")
    yield st
    st.close()


async def _poll(
    settings: Settings, sources: list[SourceConfig], state: IngestState, publish: Collector
):
    poller = Poller(settings, sources, state, publish)
    try:
        return await poller.poll_once()
    finally:
        await poller.aclose()


async def test_broken_feeds_never_stop_the_good_ones(
    feed_server: FeedServer, state: IngestState
) -> None:
    s = feed_server
    rs = _feed("rs-cyrillic.xml")
    sources = [
        _src("rs", s.route("/rs.xml", body=rs)),
        _src(
            "mk",
            s.route("/mk.xml", body=_feed("mk-atom.xml"), content_type="application/atom+xml"),
            "MK",
            "mk",
        ),
        _src("hr-gzip", s.route("/hr.xml", body=_feed("hr-latin.xml"), gzip=True), "HR", "hr"),
        _src(
            "xk",
            s.route(
                "/xk.xml",
                body=_feed("sq-kosovo.xml"),
                content_type="text/xml; charset=windows-1251",
            ),
            "XK",
            "sq",
        ),
        _src(
            "ba-cp1250", s.route("/ba.xml", body=_feed("ba-cp1250-declared-utf8.xml")), "BA", "bs"
        ),
        _src("me-illformed", s.route("/me.xml", body=_feed("me-illformed.xml")), "ME", "cnr"),
        _src("http-500", s.route("/500", status=500, body=b"oops", content_type="text/plain")),
        _src("timeout", s.route("/slow", body=rs, delay=5.0)),
        _src("laughs", s.route("/laughs.xml", body=_feed("billion-laughs.xml"))),
        _src("xxe", s.route("/xxe.xml", body=_feed("xxe.xml"))),
        _src(
            "html",
            s.route(
                "/page", body=_feed("not-a-feed.html"), content_type="text/html; charset=utf-8"
            ),
        ),
        _src("oversized", s.route("/huge", stream_bytes=3 * 2**20)),
        _src("gzip-bomb", s.route("/bomb", body=b"<rss>" + b" " * (8 * 2**20), gzip=True)),
        _src("cut-transfer", s.route("/cut", body=rs, truncate_at=400)),
        _src("cut-document", s.route("/cutdoc", body=rs[:330])),
        _src("loop", s.route("/loop-a", status=302, location="/loop-b")),
    ]
    s.route("/loop-b", status=301, location=s.url("/loop-a"))
    publish = Collector()
    report = await _poll(_settings(max_body_bytes=2 * 2**20), sources, state, publish)

    assert len(report.outcomes) == len(sources)  # every source reported, nothing crashed
    outcome = {o.source_id: o for o in report.outcomes}
    for good in ("rs", "mk", "hr-gzip", "xk", "ba-cp1250", "me-illformed"):
        assert outcome[good].outcome == "new", (good, outcome[good])
    expected_errors = {
        "http-500": "HTTP 500",
        "timeout": "read timeout",
        "laughs": "entity expansion",
        "xxe": "external entities",
        "html": "not an RSS or Atom feed (Content-Type text/html)",
        "oversized": "body too large",
        "gzip-bomb": "decompresses to more than",
        "cut-transfer": "truncated or malformed HTTP response",
        "cut-document": "not a well-formed feed",
        "loop": "redirect loop",
    }
    for sid, message in expected_errors.items():
        assert outcome[sid].outcome == "error", (sid, outcome[sid])
        assert message in (outcome[sid].error or ""), (sid, outcome[sid].error)
    assert report.sources_ok == 6 and report.sources_failed == len(expected_errors)

    by_title = {a.title: a for a in publish.articles}
    assert len(publish.articles) == report.articles_new == 3 + 2 + 2 + 1 + 1 + 2
    rs_article = by_title["Влада Србије у Београду о сарадњи са Црном Гором"]
    assert rs_article.url == "https://vesti.example.rs/politika/vlada-srbije"
    assert rs_article.language == "sr-Cyrl" and rs_article.countries == ("ME", "RS")
    assert rs_article.text_latn.startswith("vlada srbije u beogradu")
    assert "track()" not in rs_article.text
    assert by_title["Вест без датума о времену у Нишу"].published_estimated
    assert by_title["Najava iz budućnosti"].published_estimated  # 2100 clamped to fetch time
    assert by_title["Vijeće ministara u Sarajevu: šta čeka građane"].language == "bs"
    assert by_title["Kryeministri takoi ambasadorin në Prishtinë"].language == "sq"
    assert by_title["Владата во Скопје ќе одлучува за буџетот"].language == "mk"
    assert by_title["Prva vijest iz Podgorice"].source.country == "ME"

    health = {h.id: h for h in state.health(sources)}
    assert (
        health["rs"].status == "ok"
        and health["rs"].items_seen == 3
        and health["rs"].last_status_code == 200
    )
    assert health["ba-cp1250"].status == "ok" and "not valid UTF-8" in (
        health["ba-cp1250"].last_warning or ""
    )
    assert health["xk"].status == "ok" and "windows-1251" in (health["xk"].last_warning or "")
    assert health["me-illformed"].status == "ok" and "ill-formed XML" in (
        health["me-illformed"].last_warning or ""
    )
    for sid in expected_errors:
        h = health[sid]
        assert (
            h.status == "failing" and h.consecutive_failures == 1 and h.last_error and h.next_poll
        ), h
    assert health["http-500"].last_status_code == 500
    assert state.last_report() == report.to_dict()

    # Second pass: failures count up (back-off), good feeds publish nothing twice.
    again = await _poll(_settings(max_body_bytes=2 * 2**20), sources, state, publish)
    assert again.articles_new == 0
    assert {
        h.id: h.consecutive_failures for h in state.health(sources) if h.status == "failing"
    } == dict.fromkeys(expected_errors, 2)
    assert (health_after := {h.id: h for h in state.health(sources)})[
        "http-500"
    ].next_poll > health["http-500"].next_poll
    assert health_after["rs"].items_seen == 3


async def test_conditional_get_sends_validators_and_304_publishes_nothing(
    feed_server: FeedServer, state: IngestState
) -> None:
    url = feed_server.route(
        "/rss",
        body=_feed("hr-latin.xml"),
        etag='"v1"',
        last_modified="Mon, 23 Nov 2026 10:00:00 GMT",
    )
    sources = [_src("hr", url, "HR", "hr")]
    publish = Collector()
    first = await _poll(_settings(), sources, state, publish)
    second = await _poll(_settings(), sources, state, publish)
    assert first.articles_new == 2
    assert (
        second.outcome("hr").outcome == "not-modified" and second.outcome("hr").status_code == 304
    )
    sent = feed_server.requests_for("/rss")[1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Mon, 23 Nov 2026 10:00:00 GMT"
    assert len(publish.articles) == 2


async def test_same_body_without_validators_is_skipped_by_content_hash(
    feed_server: FeedServer, state: IngestState
) -> None:
    url = feed_server.route("/rss", body=_feed("sq-kosovo.xml"))
    publish = Collector()
    await _poll(_settings(), [_src("xk", url, "XK", "sq")], state, publish)
    second = await _poll(_settings(), [_src("xk", url, "XK", "sq")], state, publish)
    assert second.outcome("xk").outcome == "unchanged"
    assert len(publish.articles) == 1


async def test_changed_feed_publishes_only_the_new_item(
    feed_server: FeedServer, state: IngestState
) -> None:
    body = _feed("sq-kosovo.xml")
    url = feed_server.route("/rss", body=body, etag='"v1"')
    publish = Collector()
    await _poll(_settings(), [_src("xk", url, "XK", "sq")], state, publish)
    extra = (
        b"<item><title>Lajm i ri nga Tirana</title><link>https://lajme.example.com/i-ri</link>"
        b"<pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate></item>\n</channel>"
    )
    feed_server.route("/rss", body=body.replace(b"</channel>", extra), etag='"v2"')
    report = await _poll(_settings(), [_src("xk", url, "XK", "sq")], state, publish)
    assert report.outcome("xk").articles_new == 1 and report.outcome("xk").articles_seen_before == 1
    assert [a.title for a in publish.batches[-1]] == ["Lajm i ri nga Tirana"]
    assert publish.batches[-1][0].countries == ("AL",)


async def test_failed_publish_advances_nothing_so_a_304_cannot_hide_items(
    feed_server: FeedServer, state: IngestState
) -> None:
    url = feed_server.route("/rss", body=_feed("rs-cyrillic.xml"), etag='"v1"')
    sources = [_src("rs", url)]
    publish = Collector()
    publish.fail_with = ConnectionError("broker unreachable")
    failed = await _poll(_settings(), sources, state, publish)
    assert failed.outcome("rs").outcome == "error"
    assert "publish failed for 3 article(s): ConnectionError: broker unreachable" in (
        failed.outcome("rs").error or ""
    )
    [h] = state.health(sources)
    assert h.status == "failing" and h.items_seen == 0
    assert state.get("rs").etag is None and state.get("rs").content_hash is None

    publish.fail_with = None
    ok = await _poll(_settings(), sources, state, publish)
    second_request: RecordedRequest = feed_server.requests_for("/rss")[1]
    assert "If-None-Match" not in second_request.headers  # validators did not advance
    assert ok.outcome("rs").articles_new == 3 and len(publish.articles) == 3
    assert state.get("rs").etag == '"v1"'


async def test_redirects_are_followed_up_to_the_limit(
    feed_server: FeedServer, state: IngestState
) -> None:
    s = feed_server
    s.route("/final", body=_feed("sq-kosovo.xml"))
    s.route("/r1", status=301, location="/final")
    chain = [f"/c{i}" for i in range(5)]
    for a, b in itertools.pairwise(chain):
        s.route(a, status=302, location=b)
    s.route(chain[-1], status=302, location="/final")
    sources = [
        _src("one-hop", s.url("/r1"), "XK", "sq"),
        _src("too-many", s.url("/c0"), "XK", "sq"),
    ]
    report = await _poll(_settings(max_redirects=3), sources, state, Collector())
    assert report.outcome("one-hop").outcome == "new"
    assert report.outcome("too-many").outcome == "error"
    assert "too many redirects" in (report.outcome("too-many").error or "")


async def test_loopback_feed_is_refused_without_allow_networks(
    feed_server: FeedServer, state: IngestState
) -> None:
    url = feed_server.route("/rss", body=_feed("sq-kosovo.xml"))
    report = await _poll(_settings(allow_networks=()), [_src("local", url)], state, Collector())
    assert report.outcome("local").outcome == "error"
    assert "loopback" in (report.outcome("local").error or "")
    assert feed_server.requests_for("/rss") == []  # never contacted


async def test_redirect_to_an_internal_address_is_refused(
    feed_server: FeedServer, state: IngestState
) -> None:
    # 127.0.0.1 is allowed for the test server itself; the redirect goes to 10.0.0.1.
    url = feed_server.route("/r", status=302, location="http://10.0.0.1/latest.xml")
    report = await _poll(_settings(), [_src("evil", url)], state, Collector())
    assert "10.0.0.1 (private address)" in (report.outcome("evil").error or "")


class _Rebinding:
    """A resolver for one made-up name that answers like a DNS-rebinding server:
    a public address to the first lookup, then the loopback address."""

    def __init__(self, first: str = "8.8.8.8", then: str = "127.0.0.1") -> None:
        self.answers = [first]
        self.then = then
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        answer = self.answers.pop(0) if self.answers else self.then
        return [ipaddress.ip_address(answer)]


async def test_dns_rebinding_to_loopback_is_refused_at_connect(feed_server: FeedServer) -> None:
    feed_server.route("/rss", body=_feed("sq-kosovo.xml"))
    resolver = _Rebinding()
    fetcher = Fetcher(_settings(allow_networks=()).ingest, resolver)
    try:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(f"http://rebind.test:{feed_server.port}/rss")
    finally:
        await fetcher.aclose()
    assert caught.value.kind == "refused"
    assert "127.0.0.1 (loopback address)" in str(caught.value)
    assert resolver.lookups == ["rebind.test", "rebind.test"]  # the guard, then the connect
    assert feed_server.requests_for("/rss") == []  # the loopback server was never contacted


async def test_connection_goes_to_the_checked_address_with_the_name_as_host(
    feed_server: FeedServer,
) -> None:
    url = f"http://feeds.test:{feed_server.port}/rss"
    feed_server.route("/rss", body=_feed("sq-kosovo.xml"))
    resolver = _Rebinding(first="127.0.0.1")
    fetcher = Fetcher(_settings().ingest, resolver)  # 127.0.0.0/8 allowed
    try:
        result = await fetcher.fetch(url)
    finally:
        await fetcher.aclose()
    assert result.status_code == 200 and result.body == _feed("sq-kosovo.xml")
    (req,) = feed_server.requests_for("/rss")
    assert {k.lower(): v for k, v in req.headers.items()}[
        "host"
    ] == f"feeds.test:{feed_server.port}"


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for `name` (openssl CLI)."""
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize("cert_name", ["feeds.test", "other.test"])
async def test_https_to_the_checked_address_verifies_the_url_host_name(
    tmp_path: Path, cert_name: str
) -> None:
    # The connection goes to 127.0.0.1, but TLS must still check the certificate
    # against the URL's host (SNI + hostname verification): a certificate for
    # another name is refused.
    cert, key = _certificate(tmp_path, cert_name)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    with FeedServer(tls=server_tls) as server:
        server.route("/rss", body=_feed("sq-kosovo.xml"))
        fetcher = Fetcher(_settings().ingest, _Rebinding(first="127.0.0.1"), client_tls)
        try:
            if cert_name == "feeds.test":
                result = await fetcher.fetch(f"https://feeds.test:{server.port}/rss")
                assert result.status_code == 200 and result.body == _feed("sq-kosovo.xml")
            else:
                with pytest.raises(FetchError) as caught:
                    await fetcher.fetch(f"https://feeds.test:{server.port}/rss")
                assert caught.value.kind == "connect"
                assert "certificate" in str(caught.value).lower()
                assert server.requests_for("/rss") == []
        finally:
            await fetcher.aclose()


async def test_run_polls_then_stops_cleanly(feed_server: FeedServer, state: IngestState) -> None:
    url = feed_server.route("/rss", body=_feed("mk-atom.xml"))
    got = asyncio.Event()
    publish = Collector()

    async def signalling(articles: Sequence[Article]) -> None:
        await publish(articles)
        got.set()

    poller = Poller(_settings(), [_src("mk", url, "MK", "mk")], state, signalling)
    stop = asyncio.Event()
    runner = asyncio.create_task(poller.run(stop))
    await asyncio.wait_for(got.wait(), timeout=60)
    stop.set()
    await asyncio.wait_for(runner, timeout=60)
    await poller.aclose()
    assert len(publish.articles) == 2
    assert state.health()[0].status == "ok"


async def test_stop_during_fetch_abandons_the_poll_before_publish(
    feed_server: FeedServer, state: IngestState
) -> None:
    url = feed_server.route("/rss", body=_feed("rs-cyrillic.xml"), delay=0.3)
    publish = Collector()
    poller = Poller(_settings(read_timeout=5.0), [_src("rs", url)], state, publish)
    stop = asyncio.Event()
    runner = asyncio.create_task(poller.run(stop))
    while not feed_server.requests_for("/rss"):
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(runner, timeout=60)
    await poller.aclose()
    assert publish.articles == []
    assert state.seen_count() == 0
    assert state.get("rs").content_hash is None  # nothing advanced; next run refetches


def test_route_fields_can_be_combined() -> None:
    route = Route(body=gzip.compress(b"x"), status=200)
    assert route.status == 200 and route.handler is None


async def test_parse_in_worker_processes_dedups_against_the_same_seen_store(
    feed_server: FeedServer, state: IngestState
) -> None:
    body = _feed("rs-cyrillic.xml")
    url = feed_server.route("/rss", body=body)
    publish = Collector()
    settings = _settings(parse_processes=1)
    poller = Poller(settings, [_src("rs", url)], state, publish)
    try:
        first = await poller.poll_once()
        # Same items plus whitespace: a new body hash, so it is parsed again in the worker.
        feed_server.route("/rss", body=body + b"\n")
        second = await poller.poll_once()
    finally:
        await poller.aclose()
    assert first.outcome("rs").articles_new == 3
    assert second.outcome("rs").outcome == "no-new-items"
    assert second.outcome("rs").articles_seen_before == 3
    assert len(publish.articles) == 3
