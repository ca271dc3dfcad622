"""Property-based fuzzing of the other trust boundaries: Kafka record decoding, config
loading, the API's query parsing; and escaping of feed text wherever it is shown
(API JSON for the page, chat messages, e-mail, STIX export)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hybridwatch.config import ConfigError, load_settings
from hybridwatch.events import Alert, Article, ContractError, Signal
from services.api.app import create_app
from services.kafka.codec import decode_event, encode
from services.store.base import ArticleHit
from services.store.sqlite import SqliteStore
from tests.unit.services.factories import article, signal

HOSTILE = st.sampled_from(
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "<!channel> <!here> <@U123> <https://evil.example|click>",
        "\r\nBcc: victim@example.org\r\n",
        '"}, "injected": {"',
        "\u2028\u2029\x00\x1b[31m",
        "javascript:alert(1)",
    ]
)
TEXT = st.lists(st.one_of(HOSTILE, st.text(max_size=30)), max_size=5).map("".join)


# -- Kafka records -----------------------------------------------------------------------
HEADERS = st.lists(
    st.tuples(st.sampled_from(["hw-schema", "hw-type", "x"]), st.binary(max_size=12)), max_size=3
)


@given(st.one_of(st.none(), st.binary(max_size=2000)), HEADERS)
@example(b'{"schema_version": 1}', [])
@example(b"[]", [("hw-schema", b"\xff")])
@example(b'{"id": "' + b"a" * 10 + b'"}', [("hw-schema", b"99999999999999999999")])
def test_any_record_decodes_or_raises_contract_error(
    value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    for model in (Article, Signal, Alert):
        try:
            decode_event(model, value, headers)
        except ContractError as err:
            assert str(err)


@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=20,
))  # fmt: skip
def test_any_json_value_decodes_or_raises_contract_error(doc: Any) -> None:
    raw = json.dumps(doc, allow_nan=True).encode()
    for model in (Article, Signal, Alert):
        with contextlib.suppress(ContractError):
            decode_event(model, raw)


@given(TEXT, TEXT)
def test_articles_round_trip_through_the_codec_with_any_text(title: str, text: str) -> None:
    a = article("https://e.org/x", title or "t", text)
    record = encode(a)
    assert decode_event(Article, record.value, record.headers) == a


# -- configuration -----------------------------------------------------------------------
YAML_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT)
KEYS = st.sampled_from(
    ["api", "kafka", "store", "ingest", "alerts", "data_dir", "sources", "port", "host",
     "auth", "security_protocol", "subscriptions", "bogus"]
)  # fmt: skip
TREE = st.recursive(
    YAML_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=15,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(TREE.map(lambda t: json.dumps(t)), st.text(max_size=300)))
@example("api: {port: 70000}")
@example("kafka: {security_protocol: SASL_SSL}")
@example("a: &a [*a]")
def test_any_config_file_loads_or_raises_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_settings(path, environ={})
    except ConfigError as err:
        assert str(err)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_any_config_bytes_load_or_raise_config_error(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(raw)
    with contextlib.suppress(ConfigError):
        load_settings(path, environ={})


def test_config_file_that_is_not_utf8_is_a_config_error_naming_the_offset(tmp_path: Path) -> None:
    """atheris finding: a non-UTF-8 byte escaped load_settings as UnicodeDecodeError."""
    path = tmp_path / "c.yaml"
    path.write_bytes(b"api: {port: 8686}\n# \x8c\n")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(bad byte at offset 20\)"):
        load_settings(path, environ={})


@pytest.mark.parametrize("text", ["1: 2\n", "&pi:\n"])
def test_config_file_with_a_non_name_top_level_key_is_a_config_error(
    tmp_path: Path, text: str
) -> None:
    """atheris finding: `&pi:` (a null key) escaped load_settings as TypeError."""
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="top-level keys are names"):
        load_settings(path, environ={})


@given(st.dictionaries(
    st.sampled_from(["HW_API__PORT", "HW_KAFKA__SASL_PASSWORD", "HW_API__AUTH",
                     "HW_DETECTORS__ENABLED", "HW_STORE_KIND", "HW_API__CORS_ORIGINS"]),
    st.text(max_size=40), max_size=4,
))  # fmt: skip
@example({"HW_KAFKA__SASL_PASSWORD": "hunter2-secret", "HW_API__PORT": "x"})
def test_any_environment_loads_or_raises_config_error(env: dict[str, str]) -> None:
    secret = env.get("HW_KAFKA__SASL_PASSWORD", "")
    try:
        shown = repr(load_settings(None, environ={"HW_CONFIG": "", **env}))
    except ConfigError as err:
        shown = str(err)
    elsewhere = [v for k, v in env.items() if k != "HW_KAFKA__SASL_PASSWORD"]
    if len(secret.strip()) >= 6 and not any(secret in v for v in elsewhere):
        assert secret not in shown  # a secret never shows in a repr or an error


# -- the API's query parsing -------------------------------------------------------------
@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = SqliteStore.open(tmp_path_factory.mktemp("fuzz-api"))
    a = article("https://e.org/a", "<script>alert(1)</script> naslov", '<img src=x onerror="x()">')
    store.put_articles([a])
    store.put_signals([signal(a)])
    app = create_app(store, lambda: [], None, started_at=0.0)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    store.close()


PARAMS = st.lists(
    st.tuples(
        st.sampled_from(["q", "country", "since", "until", "limit", "offset", "flagged",
                         "triage", "severity", "detector", "at", "article_id", "x"]),
        st.one_of(TEXT, st.sampled_from(["2018-09-30", "9999-99-99", "-1", "1e9", "RS", "true"])),
    ),
    max_size=4,
)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["/api/articles", "/api/signals", "/api/alerts", "/api/stats",
                     "/api/coverage", "/api/triage", "/api/export/stix"]),
    PARAMS,
)  # fmt: skip
@example("/api/articles", [("q", '"')])
@example("/api/articles", [("q", "*")])
@example("/api/articles", [("q", "\x00")])
def test_any_query_is_answered_without_a_server_error(
    api: TestClient, path: str, params: list[tuple[str, str]]
) -> None:
    r = api.get(path, params=params)
    assert r.status_code in (200, 400, 404, 422), (path, params, r.status_code, r.text[:300])
    if r.status_code != 200:
        assert r.json()["error"]


# -- escaping wherever feed text is shown ------------------------------------------------
def test_api_json_carries_feed_markup_as_inert_json_strings(api: TestClient) -> None:
    r = api.get("/api/articles")
    assert r.headers["content-type"].startswith("application/json")
    (item,) = r.json()["items"]
    assert item["title"].startswith("<script>")  # data, not markup: the page escapes it


def _alert(summary: str) -> Alert:
    return Alert(
        id="a" * 64, subscription_id="s", signals=("x",), country="RS", severity="high",
        summary=summary, event_time=datetime(2024, 1, 1, tzinfo=UTC),
    )  # fmt: skip


@given(TEXT)
def test_email_of_an_alert_stays_one_message_whatever_the_feed_text(title: str) -> None:
    from hybridwatch.config import SmtpSettings
    from services.alerts.alerter import summarize
    from services.alerts.channels import EmailNotifier

    a = article("https://e.org/m", title or "t")
    note = EmailNotifier("s", SmtpSettings(host="127.0.0.1", sender="hw@e.org"), ["a@e.org"])
    sent: list[Any] = []
    note._deliver = sent.append  # type: ignore[method-assign]
    note.send(_alert(summarize(a, [signal(a)])))
    (msg,) = sent
    head = msg.as_bytes().split(b"\n\n", 1)[0]
    assert msg.get_all("Bcc") is None and b"\nBcc:" not in head


@given(TEXT)
def test_chat_message_neutralises_mentions_and_links_from_feed_text(title: str) -> None:
    from hybridwatch.config import ChatChannel
    from services.alerts.alerter import summarize
    from services.alerts.channels import ChatNotifier

    a = article("https://e.org/c", title or "t")
    chat = ChatNotifier("s", ChatChannel(url="http://127.0.0.1:9/hook"))
    sent: list[bytes] = []
    chat._poster.post = lambda body, headers: sent.append(body)  # type: ignore[method-assign]
    chat.send(_alert(summarize(a, [signal(a)])))
    text = json.loads(sent[0])["text"]
    assert "<" not in text and ">" not in text  # no <!channel>, <@user>, <url|label>


def test_chat_message_with_a_channel_mention_in_the_title_pings_nobody() -> None:
    """Fuzz finding: a feed title '<!channel>' reached Slack as a mention of everyone."""
    from services.alerts.channels import chat_escape

    assert chat_escape("x <!channel> & <@U1> <https://e|y>") == (
        "x &lt;!channel&gt; &amp; &lt;@U1&gt; &lt;https://e|y&gt;"
    )


@given(TEXT)
def test_stix_export_round_trips_feed_text_as_json(title: str) -> None:
    from services.export.stix import bundle_json

    a = article("https://e.org/s", title or "t", title)
    hit = ArticleHit(a, (signal(a, severity="critical", score=0.99),))
    doc = json.loads(bundle_json([hit]))
    report = next(o for o in doc["objects"] if o["type"] == "report")
    assert report["name"].strip() == (title or "t").strip() or title in json.dumps(doc)
