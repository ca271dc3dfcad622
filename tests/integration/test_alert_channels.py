"""Alert channels against real servers on 127.0.0.1: an HTTP server (webhook, chat)
and an SMTP server (aiosmtpd). Retries are provoked by the servers' answers; the
channels' back-off sleeps are recorded instead of slept, so no test waits on a clock."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hybridwatch.config import ChatChannel, SmtpSettings, WebhookChannel
from hybridwatch.events import Alert
from services.alerts.channels import (
    ChatNotifier,
    DeliveryError,
    EmailNotifier,
    WebhookNotifier,
    digest_id,
)
from services.alerts.notifier import alert_line
from tests.fixtures.http import FeedServer, RecordedRequest, Route
from tests.fixtures.smtp import SmtpServer

pytestmark = pytest.mark.integration

WHEN = datetime(2018, 9, 30, 12, 0, tzinfo=UTC)


def _alert(n: int = 1, severity: str = "high", replay: bool = False) -> Alert:
    signals = (f"sig{n:03d}a", f"sig{n:03d}b")
    return Alert(
        id=Alert.make_id("mk-analysts", signals),
        subscription_id="mk-analysts",
        signals=signals,
        country="MK",
        severity=severity,  # type: ignore[arg-type]
        summary=f"Synthetic Outlet: 'Synthetic headline {n}' - narratives: x - https://e.org/{n}",
        event_time=WHEN,
        replay=replay,
    )


class _Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _headers(req: RecordedRequest) -> dict[str, str]:
    return {k.lower(): v for k, v in req.headers.items()}


def test_webhook_posts_the_alert_signed_with_the_secret(feed_server: FeedServer) -> None:
    url = feed_server.route("/hook", body=b"ok")
    hook = WebhookNotifier("mk-analysts", WebhookChannel(url=url, secret="s3cret"))
    alert = _alert()
    try:
        hook.send(alert)
    finally:
        hook.close()
    (req,) = feed_server.requests_for("/hook")
    assert req.method == "POST"
    body = json.loads(req.body)
    assert body == {"type": "alert", "alert": json.loads(json.dumps(alert.to_dict()))}
    h = _headers(req)
    expected = hmac.new(b"s3cret", req.body, hashlib.sha256).hexdigest()
    assert h["x-hybridwatch-signature"] == f"sha256={expected}"
    assert h["x-hybridwatch-delivery"] == alert.id and h["x-hybridwatch-event"] == "alert"
    assert h["content-type"] == "application/json"


def test_webhook_digest_lists_every_alert_once(feed_server: FeedServer) -> None:
    url = feed_server.route("/hook", body=b"ok")
    hook = WebhookNotifier("mk-analysts", WebhookChannel(url=url))
    alerts = [_alert(i, "critical" if i == 3 else "high") for i in range(5)]
    try:
        hook.send_digest(alerts)
    finally:
        hook.close()
    (req,) = feed_server.requests_for("/hook")
    body = json.loads(req.body)
    assert body["type"] == "digest" and body["count"] == 5 and body["severity"] == "critical"
    assert [a["id"] for a in body["alerts"]] == [a.id for a in alerts]
    assert "x-hybridwatch-signature" not in _headers(req)  # no secret configured
    assert _headers(req)["x-hybridwatch-delivery"] == digest_id(alerts)


def test_webhook_retries_server_errors_then_delivers(feed_server: FeedServer) -> None:
    answers = iter([Route(status=503), Route(status=429), Route(status=200, body=b"ok")])
    url = feed_server.route("/hook", handler=lambda req: next(answers))
    sleeps = _Sleeps()
    hook = WebhookNotifier(
        "mk-analysts", WebhookChannel(url=url), attempts=3, backoff=0.5, sleep=sleeps
    )
    try:
        hook.send(_alert())
    finally:
        hook.close()
    assert len(feed_server.requests_for("/hook")) == 3
    assert sleeps == [0.5, 1.0]


def test_webhook_refusal_is_not_retried_and_names_the_status(feed_server: FeedServer) -> None:
    url = feed_server.route("/hook", status=403, body=b"bad token")
    hook = WebhookNotifier("mk-analysts", WebhookChannel(url=url), attempts=3, sleep=_Sleeps())
    try:
        with pytest.raises(DeliveryError, match="HTTP 403") as caught:
            hook.send(_alert())
    finally:
        hook.close()
    assert "bad token" in str(caught.value)
    assert f"127.0.0.1:{feed_server.port}/..." in str(caught.value)
    assert "/hook" not in str(caught.value)  # paths carry tokens: never in messages
    assert len(feed_server.requests_for("/hook")) == 1


def test_webhook_to_a_closed_port_fails_after_its_attempts() -> None:
    from tests.fixtures.smtp import free_port

    url = f"http://127.0.0.1:{free_port()}/hook"
    sleeps = _Sleeps()
    hook = WebhookNotifier("x", WebhookChannel(url=url, timeout=5), attempts=2, sleep=sleeps)
    try:
        with pytest.raises(DeliveryError, match="after 2 attempt"):
            hook.send(_alert())
    finally:
        hook.close()
    assert sleeps == [0.5]


def test_chat_posts_a_text_line_and_digests(feed_server: FeedServer) -> None:
    url = feed_server.route("/chat", body=b"ok")
    chat = ChatNotifier("mk-analysts", ChatChannel(url=url))
    alerts = [_alert(i) for i in range(3)]
    try:
        chat.send(alerts[0])
        chat.send_digest(alerts)
    finally:
        chat.close()
    first, digest = (json.loads(r.body) for r in feed_server.requests_for("/chat"))
    assert first == {"text": alert_line(alerts[0])}
    assert digest["text"].startswith("3 alerts (worst: high)")
    assert all(alert_line(a) in digest["text"] for a in alerts)


def _smtp(port: int, **extra: object) -> SmtpSettings:
    base: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "hybridwatch@example.org",
        "timeout": 10,
    }
    base.update(extra)
    return SmtpSettings.model_validate(base)


def test_email_is_delivered_with_the_alert_id_as_message_id() -> None:
    with SmtpServer(users={"alerts": "pw"}) as server:
        mail = EmailNotifier(
            "mk-analysts",
            _smtp(server.port, username="alerts", password="pw"),
            ["analyst@example.org", "desk@example.org"],
        )
        alert = _alert(7, "critical", replay=True)
        mail.send(alert)
        (env,) = server.envelopes
        (msg,) = server.messages
    assert env.mail_from == "hybridwatch@example.org"
    assert env.rcpt_tos == ["analyst@example.org", "desk@example.org"]
    assert msg["Message-ID"] == f"<{alert.id}@hybridwatch>"
    assert msg["Subject"].startswith("[hybridwatch] CRITICAL MK [replay]: Synthetic Outlet")
    body = msg.get_content()
    assert alert.id in body and "sig007a" in body and "https://e.org/7" in body


def test_email_with_a_wrong_password_fails_clearly() -> None:
    with SmtpServer(users={"alerts": "pw"}) as server:
        mail = EmailNotifier(
            "x", _smtp(server.port, username="alerts", password="nope"), ["a@example.org"]
        )
        with pytest.raises(DeliveryError, match="SMTP 535"):
            mail.send(_alert())
        assert server.envelopes == []


def test_email_retries_a_temporary_refusal_but_not_a_permanent_one() -> None:
    sleeps = _Sleeps()
    with SmtpServer(transient_failures=1) as server:
        mail = EmailNotifier("x", _smtp(server.port), ["a@example.org"], sleep=sleeps)
        mail.send(_alert())
        assert server.attempts == 2 and len(server.envelopes) == 1
    assert sleeps == [1.0]
    with SmtpServer(reject=True) as server:
        mail = EmailNotifier("x", _smtp(server.port), ["a@example.org"], attempts=3, sleep=sleeps)
        with pytest.raises(DeliveryError, match="SMTP 550"):
            mail.send(_alert())
        assert server.attempts == 1


def test_email_digest_is_one_message() -> None:
    with SmtpServer() as server:
        mail = EmailNotifier("x", _smtp(server.port), ["a@example.org"])
        alerts = [_alert(i) for i in range(4)]
        mail.send_digest(alerts)
        (msg,) = server.messages
    assert msg["Subject"] == "[hybridwatch] 4 alerts, worst HIGH (digest)"
    assert msg["Message-ID"] == f"<{digest_id(alerts)}@hybridwatch>"
    assert all(a.summary in msg.get_content() for a in alerts)


def test_email_over_starttls_checks_the_server_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with SmtpServer(tls=server_tls) as server:
        trusted = ssl.create_default_context(cafile=str(cert))
        settings = _smtp(server.port, security="starttls")
        EmailNotifier("x", settings, ["a@example.org"], ssl_context=trusted).send(_alert())
        assert len(server.envelopes) == 1
        untrusted = EmailNotifier("x", settings, ["a@example.org"], attempts=1)
        with pytest.raises(DeliveryError, match=r"(?i)certificate"):
            untrusted.send(_alert(2))
        assert len(server.envelopes) == 1
