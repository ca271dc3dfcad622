"""`hybridwatch run --once` with a subscription that has every channel, against real
servers on 127.0.0.1: the feeds and the webhook/chat receivers on one HTTP server, the
mail on an SMTP server. The flagged MK article must reach each channel exactly once,
signed, and a second run must send nothing again."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from services.store.sqlite import SqliteStore
from tests.e2e.embedded_support import cli, serve_feeds, write_config
from tests.fixtures.http import FeedServer
from tests.fixtures.smtp import SmtpServer

pytestmark = pytest.mark.e2e


def test_subscription_channels_get_the_alert_once_each(tmp_path: Path) -> None:
    with FeedServer() as server, SmtpServer() as smtp:
        hook = server.route("/hook", body=b"ok")
        chat = server.route("/chat", body=b"ok")
        alerts = {
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp.port,
                "security": "none",
                "sender": "hybridwatch@example.org",
            },
            "subscriptions": [
                {
                    "id": "mk-desk",
                    "min_severity": "high",
                    "countries": ["MK"],
                    "webhook": {"url": hook, "secret": "synthetic-secret"},
                    "chat": {"url": chat},
                    "email": ["desk@example.org"],
                },
                {"id": "rs-desk", "countries": ["RS"], "chat": {"url": chat}},
            ],
        }
        config = write_config(tmp_path, serve_feeds(server), alerts=alerts)
        first = cli("run", "--once", "--config", str(config), cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        second = cli("run", "--once", "--config", str(config), cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        hooks = server.requests_for("/hook")
        chats = server.requests_for("/chat")
        mails = smtp.messages

    store = SqliteStore.open(tmp_path / "data")
    try:
        stored = store.get_alerts()
        assert store.pending_alerts() == []
    finally:
        store.close()
    (mk,) = [a for a in stored if a.subscription_id == "mk-desk"]
    assert mk.country == "MK"
    assert not [a for a in stored if a.subscription_id == "rs-desk"]  # nothing flagged in RS

    (req,) = hooks  # once, although the article was processed twice
    assert json.loads(req.body)["alert"]["id"] == mk.id
    headers = {k.lower(): v for k, v in req.headers.items()}
    mac = hmac.new(b"synthetic-secret", req.body, hashlib.sha256).hexdigest()
    assert headers["x-hybridwatch-signature"] == f"sha256={mac}"
    (chat_req,) = chats
    assert mk.id[:12] in json.loads(chat_req.body)["text"]
    (mail,) = mails
    assert mail["Message-ID"] == f"<{mk.id}@hybridwatch>" and mail["To"] == "desk@example.org"
    # the built-in console subscription still writes its JSONL line
    lines = (tmp_path / "data" / "alerts.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(x)["subscription_id"] for x in lines] == ["console"]
