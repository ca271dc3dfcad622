"""Delivery channels for subscriptions: webhook, chat (incoming webhook) and e-mail.

Each is a `Notifier`: `send` delivers one alert, `send_digest` several as one message
(flood control, services/alerts/alerter.py). A channel retries transient failures a
few times with a short back-off (connection errors, timeouts, HTTP 429/5xx, SMTP
4xx) and then raises, so the alert stays in the outbox and is tried again on the
next retry round or start: at-least-once. Receivers can drop repeats by the alert
id (the `X-Hybridwatch-Delivery` header, the e-mail `Message-ID`).

Clients are created by the constructor (at start-up, by the runtime's bootstrap),
never at import time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import httpx

from hybridwatch.config import ChatChannel, SmtpSettings, WebhookChannel
from hybridwatch.events import SEVERITY_ORDER, Alert, format_time
from services.alerts.notifier import alert_line
from services.retry import Backoff, attempts

log = logging.getLogger(__name__)

USER_AGENT = "hybridwatch-alerts/1"
DIGEST_LINES = 50
"""Alerts listed one per line in a chat or e-mail digest (the count is always given)."""


class DeliveryError(Exception):
    """A channel refused or failed to take an alert; the message says which and why."""


def digest_id(alerts: Sequence[Alert]) -> str:
    """A content id for a digest: the same alerts always give the same id."""
    return hashlib.sha256(" ".join(sorted(a.id for a in alerts)).encode()).hexdigest()


def worst(alerts: Sequence[Alert]) -> str:
    return max(alerts, key=lambda a: SEVERITY_ORDER[a.severity]).severity


def digest_text(alerts: Sequence[Alert]) -> str:
    lines = [f"{len(alerts)} alerts (worst: {worst(alerts)}), hourly message budget reached:"]
    lines += [alert_line(a) for a in alerts[:DIGEST_LINES]]
    if len(alerts) > DIGEST_LINES:
        lines.append(f"... and {len(alerts) - DIGEST_LINES} more")
    return "\n".join(lines)


def redact(url: str) -> str:
    """The URL without path and query: chat and webhook URLs often carry their token in
    the path (https://hooks.slack.com/services/T0/B0/XXXX), which must not reach logs."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/..."


class _HttpPoster:
    """POST with retries of transient failures; raises DeliveryError at the end."""

    def __init__(
        self,
        url: str,
        timeout: float,
        attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._sleep = sleep
        self._client = httpx.Client(
            timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False
        )

    def post(self, body: bytes, headers: dict[str, str]) -> None:
        headers = {"Content-Type": "application/json", **headers}
        problem = ""
        for attempt in attempts(self.attempts, Backoff(self.backoff), self._sleep):  # noqa: B007 (reported after the loop)
            try:
                resp = self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as err:
                problem = f"{type(err).__name__}: {str(err).replace(self.url, redact(self.url))}"
            else:
                if resp.status_code < 300:
                    return
                problem = f"HTTP {resp.status_code} {resp.text[:200]!r}"
                if resp.status_code != 429 and resp.status_code < 500:
                    break  # the receiver refuses this request: retrying will not help
        raise DeliveryError(f"POST {redact(self.url)} failed after {attempt} attempt(s): {problem}")

    def close(self) -> None:
        self._client.close()


class WebhookNotifier:
    """The alert as JSON; `X-Hybridwatch-Signature: sha256=<hex>` is the HMAC-SHA256 of
    the exact body with the channel's secret, so a receiver can check who sent it."""

    def __init__(
        self,
        subscription: str,
        channel: WebhookChannel,
        *,
        attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = f"webhook:{subscription}"
        self._secret = channel.secret.get_secret_value().encode() if channel.secret else None
        self._poster = _HttpPoster(channel.url, channel.timeout, attempts, backoff, sleep)

    def _post(self, payload: dict[str, Any], event: str, delivery: str) -> None:
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
        headers = {"X-Hybridwatch-Event": event, "X-Hybridwatch-Delivery": delivery}
        if self._secret is not None:
            mac = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
            headers["X-Hybridwatch-Signature"] = f"sha256={mac}"
        self._poster.post(body, headers)

    def send(self, alert: Alert) -> None:
        self._post({"type": "alert", "alert": alert.to_dict()}, "alert", alert.id)

    def send_digest(self, alerts: Sequence[Alert]) -> None:
        payload = {
            "type": "digest",
            "count": len(alerts),
            "severity": worst(alerts),
            "alerts": [a.to_dict() for a in alerts],
        }
        self._post(payload, "digest", digest_id(alerts))

    def close(self) -> None:
        self._poster.close()


def chat_escape(text: str) -> str:
    """Feed text in a chat message stays text: Slack-style control sequences (`<!channel>`
    pings everyone, `<@U1>` a person, `<https://x|label>` a disguised link) are written
    with &lt; &gt; &amp;, the escaping Slack documents for message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ChatNotifier:
    """Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): {"text": ...}."""

    def __init__(
        self,
        subscription: str,
        channel: ChatChannel,
        *,
        attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = f"chat:{subscription}"
        self._poster = _HttpPoster(channel.url, channel.timeout, attempts, backoff, sleep)

    def _text(self, text: str, delivery: str) -> None:
        body = json.dumps({"text": chat_escape(text)}, ensure_ascii=False).encode("utf-8")
        self._poster.post(body, {"X-Hybridwatch-Delivery": delivery})

    def send(self, alert: Alert) -> None:
        self._text(alert_line(alert), alert.id)

    def send_digest(self, alerts: Sequence[Alert]) -> None:
        self._text(digest_text(alerts), digest_id(alerts))

    def close(self) -> None:
        self._poster.close()


class EmailNotifier:
    """One plain-text e-mail per alert (or per digest) to the subscription's recipients.

    A connection per message: alerts are rare and mail servers drop idle sessions.
    """

    def __init__(
        self,
        subscription: str,
        smtp: SmtpSettings,
        recipients: Sequence[str],
        attempts: int = 2,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = f"email:{subscription}"
        self.smtp = smtp
        self.recipients = tuple(recipients)
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._sleep = sleep
        self._ssl = ssl_context or ssl.create_default_context()

    def _message(self, subject: str, body: str, ident: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.smtp.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Subject"] = subject
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = f"<{ident}@hybridwatch>"
        msg.set_content(body)
        return msg

    def send(self, alert: Alert) -> None:
        replay = " [replay]" if alert.replay else ""
        subject = f"[hybridwatch] {alert.severity.upper()} {alert.country}{replay}: {alert.summary}"
        body = "\n".join(
            [
                alert_line(alert),
                "",
                alert.summary,
                "",
                f"event time: {format_time(alert.event_time)}",
                f"signals: {', '.join(alert.signals)}",
                f"alert id: {alert.id}",
            ]
        )
        self._deliver(self._message(subject[:200], body, alert.id))

    def send_digest(self, alerts: Sequence[Alert]) -> None:
        subject = f"[hybridwatch] {len(alerts)} alerts, worst {worst(alerts).upper()} (digest)"
        self._deliver(self._message(subject, digest_text(alerts), digest_id(alerts)))

    def _deliver(self, msg: EmailMessage) -> None:
        problem = ""
        for attempt in attempts(self.attempts, Backoff(self.backoff), self._sleep):  # noqa: B007 (reported after the loop)
            try:
                self._send_once(msg)
                return
            except smtplib.SMTPResponseException as err:
                problem = f"SMTP {err.smtp_code} {err.smtp_error!r}"
                if not 400 <= err.smtp_code < 500:
                    break  # permanent (5xx): the server will not take it
            except smtplib.SMTPRecipientsRefused as err:
                problem = f"recipients refused: {err.recipients}"
                break
            except (smtplib.SMTPException, OSError) as err:
                problem = f"{type(err).__name__}: {err}"
        s = self.smtp
        raise DeliveryError(
            f"e-mail via {s.host}:{s.port} to {', '.join(self.recipients)} failed after "
            f"{attempt} attempt(s): {problem}"
        )

    def _send_once(self, msg: EmailMessage) -> None:
        s = self.smtp
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._ssl)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with client:
            if s.security == "starttls":
                client.starttls(context=self._ssl)
            if s.username:
                password = s.password.get_secret_value() if s.password else ""
                client.login(s.username, password)
            client.send_message(msg, from_addr=s.sender, to_addrs=list(self.recipients))

    def close(self) -> None:
        return None
