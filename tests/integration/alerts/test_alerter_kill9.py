"""`hybridwatch alerter` killed with SIGKILL in the middle of a delivery, twice, then run
to the end: no alert is lost, and no channel is sent an alert again that it already took.

Real processes and servers: the alerter subprocess reads hw.alerts from the shared Kafka
(a unique topic prefix), and delivers to one subscription with three channels, a webhook
and a chat incoming-webhook on a real local HTTP server and e-mail through a real local
SMTP server. The alerts are SYNTHETIC.

How "mid-delivery" is made exact: the receiver holds one chosen request open (it has
the message, the alerter waits for the answer) and the test kills the alerter then.

* run 1 is killed while the webhook holds its 5th alert: 4 alerts were taken by the
  webhook (and recorded in the outbox's per-channel table), none by chat or e-mail;
* run 2 starts by delivering what the outbox holds, channel by channel (the webhook's
  remaining alerts, the held one again among them), and is killed while chat holds its
  8th alert (e-mail, the last channel, still has none);
* run 3 runs until every channel has every alert (18: 12 published before run 1, 6
  more, one of them published twice, while run 3 is up), then is stopped with SIGTERM.

Expected, per channel and idempotency key (`X-Hybridwatch-Delivery`, the e-mail
Message-ID): every alert arrives; the one message a receiver held when the process died
arrives twice (the alerter cannot know it was taken: at-least-once, the receiver drops
the repeat by its key); nothing else arrives twice, so the state a killed process
recorded is what the next one reads. The outbox ends with nothing pending.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hybridwatch.events import Alert
from hybridwatch.topics import Topics
from services.alerts.outbox import AlertOutbox
from services.kafka.codec import encode
from tests.e2e.embedded_support import HYBRIDWATCH, clean_env
from tests.fixtures.http import FeedServer, RecordedRequest, Route
from tests.fixtures.kafka import create_topics, kafka_settings, produce
from tests.fixtures.smtp import SmtpServer

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2018, 9, 30, 12, 0, tzinfo=UTC)
SUBSCRIPTION = "ops-desk"
WAIT = 180.0
"""Seconds any one step may take before the test fails (never reached when healthy)."""


def _alert(i: int) -> Alert:
    signals = (f"synthetic-signal-{i:03d}",)
    return Alert(
        id=Alert.make_id(SUBSCRIPTION, signals),
        subscription_id=SUBSCRIPTION,
        signals=signals,
        country="MK",
        severity="high",
        summary=f"Synthetic Outlet: 'Synthetic headline {i}' - https://synthetic.example/{i}",
        event_time=T0 + timedelta(minutes=i),
    )


class Gate:
    """A receiver route that holds its `hold_at`-th request open until released: the
    request has arrived (recorded) but the sender has no answer yet."""

    def __init__(self, hold_at: int) -> None:
        self.hold_at = hold_at
        self.count = 0
        self.held: RecordedRequest | None = None
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Route:
        with self._lock:
            self.count += 1
            hold = self.count == self.hold_at
        if hold:
            self.held = request
            self.arrived.set()
            self.release.wait(WAIT)
        return Route(body=b"ok", content_type="text/plain")


class Alerter:
    """`hybridwatch alerter` (no --once) as a subprocess, output to a log file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self._out = log.open("a", encoding="utf-8")
        self.proc = subprocess.Popen(
            [*HYBRIDWATCH, "alerter", "--config", str(config)],
            cwd=ROOT,
            env=clean_env(),
            stdout=self._out,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._out.close()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self._out.close()
        return code

    def wait_for(self, what: str, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            assert self.proc.poll() is None, f"alerter exited:\n{self.tail()}"
            assert time.monotonic() < deadline, f"waited {WAIT:.0f} s for {what}\n{self.tail()}"
            time.sleep(0.1)

    def tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]


@pytest.fixture
def start_alerter() -> Iterator[Callable[[Path, Path], Alerter]]:
    """Starts alerter processes; whatever happens in the test, none outlives it."""
    started: list[Alerter] = []

    def start(config: Path, log: Path) -> Alerter:
        started.append(Alerter(config, log))
        return started[-1]

    yield start
    for run in started:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(timeout=30)
        run._out.close()


@pytest.fixture
def make_gate(feed_server: FeedServer) -> Iterator[Callable[[int], Gate]]:
    """Gates that are released before the HTTP server stops (it waits for its handlers)."""
    gates: list[Gate] = []

    def make(hold_at: int) -> Gate:
        gates.append(Gate(hold_at))
        return gates[-1]

    yield make
    for gate in gates:
        gate.release.set()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def test_an_alerter_killed_mid_delivery_resends_only_the_messages_in_flight(
    kafka_bootstrap: str,
    kafka_prefix: str,
    tmp_path: Path,
    feed_server: FeedServer,
    smtp: SmtpServer,
    start_alerter: Callable[[Path, Path], Alerter],
    make_gate: Callable[[int], Gate],
) -> None:
    webhook_gate, chat_gate = make_gate(5), make_gate(8)
    hook = feed_server.route("/hook", handler=webhook_gate)
    chat = feed_server.route("/chat", handler=chat_gate)
    create_topics(kafka_bootstrap, kafka_prefix, partitions=2)
    topics = Topics(kafka_prefix)
    data = tmp_path / "data"
    kafka_settings(
        kafka_bootstrap,
        kafka_prefix,
        data,
        alerts__console=False,
        alerts__jsonl=False,
        alerts__group_id=f"alerter-{kafka_prefix}",
        alerts__smtp={
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "sender": "alerts@synthetic.example",
        },
        alerts__subscriptions=[
            {
                "id": SUBSCRIPTION,
                "countries": ["MK"],
                "webhook": {"url": hook, "timeout": 60},
                "chat": {"url": chat, "timeout": 60},
                "email": ["desk@synthetic.example"],
                "max_per_hour": 1000,
            }
        ],
    )
    config = data / "hybridwatch.yaml"
    log = tmp_path / "alerter.log"
    first, later = [_alert(i) for i in range(12)], [_alert(i) for i in range(12, 18)]

    def publish(alerts: list[Alert]) -> None:
        produce(kafka_bootstrap, topics.alerts, [(r.key, r.value, r.headers) for r in map(encode, alerts)])  # fmt: skip

    def received(path: str) -> list[str]:
        return [r.headers["X-Hybridwatch-Delivery"] for r in feed_server.requests_for(path)]

    def mailed() -> list[str]:
        return [
            str(m["Message-ID"]).strip("<>").removesuffix("@hybridwatch") for m in smtp.messages
        ]

    publish(first)

    # run 1: killed while the webhook holds alert 5 (4 taken, none by chat or e-mail)
    run = start_alerter(config, log)
    run.wait_for("the webhook to hold its 5th alert", webhook_gate.arrived.is_set)
    run.kill9()
    webhook_gate.release.set()
    assert len(received("/hook")) == 5 and received("/chat") == [] and mailed() == []

    # run 2: resumes from the outbox; killed while chat holds alert 8
    run = start_alerter(config, log)
    run.wait_for("chat to hold its 8th alert", chat_gate.arrived.is_set)
    run.kill9()
    chat_gate.release.set()
    assert mailed() == []

    # run 3: to the end, with more alerts (one of them published twice) while it runs
    run = start_alerter(config, log)
    publish([*later, later[0]])
    want = {a.id for a in [*first, *later]}
    run.wait_for(
        "every channel to have every alert",
        lambda: want <= set(received("/hook")) and want <= set(received("/chat"))
        and want <= set(mailed()),
    )  # fmt: skip
    assert run.stop() == 0, run.tail()

    assert webhook_gate.held is not None and chat_gate.held is not None
    held = {
        "/hook": webhook_gate.held.headers["X-Hybridwatch-Delivery"],
        "/chat": chat_gate.held.headers["X-Hybridwatch-Delivery"],
    }
    for path in ("/hook", "/chat"):
        keys = Counter(received(path))
        assert set(keys) == want, f"{path}: lost or unexpected alerts"
        repeats = {k: n for k, n in keys.items() if n > 1}
        assert repeats == {held[path]: 2}, f"{path}: sent again beyond the one in flight"
    assert Counter(mailed()) == Counter(want), "e-mail: an alert lost or mailed twice"

    counters = json.loads(run.tail().strip().splitlines()[-1].removeprefix("alerter: "))
    assert counters["pending"] == 0
    outbox = AlertOutbox.open(data / "alerter")
    try:
        assert outbox.pending_alerts() == []
        assert outbox.count() == len(want)
    finally:
        outbox.close()


def test_a_digest_in_flight_at_a_kill_is_sent_again_as_the_same_digest(
    kafka_bootstrap: str,
    kafka_prefix: str,
    tmp_path: Path,
    feed_server: FeedServer,
    start_alerter: Callable[[Path, Path], Alerter],
    make_gate: Callable[[int], Gate],
) -> None:
    """Over its hourly budget the alerter sends a digest; killed while the receiver holds
    that digest, the next process sends the very same digest (same alerts, same key)
    before anything else, so no alert reaches the receiver under two keys."""
    gate = make_gate(4)  # budget 4: three single alerts, then the digest of the rest
    hook = feed_server.route("/hook", handler=gate)
    create_topics(kafka_bootstrap, kafka_prefix, partitions=1)
    topics = Topics(kafka_prefix)
    data = tmp_path / "data"
    kafka_settings(
        kafka_bootstrap,
        kafka_prefix,
        data,
        alerts__console=False,
        alerts__jsonl=False,
        alerts__group_id=f"alerter-{kafka_prefix}",
        alerts__subscriptions=[
            {
                "id": SUBSCRIPTION,
                "webhook": {"url": hook, "timeout": 60},
                "max_per_hour": 4,
            }
        ],
    )
    config, log = data / "hybridwatch.yaml", tmp_path / "alerter.log"
    first, later = [_alert(i) for i in range(10)], [_alert(i) for i in range(10, 12)]

    def publish(alerts: list[Alert]) -> None:
        produce(kafka_bootstrap, topics.alerts, [(r.key, r.value, r.headers) for r in map(encode, alerts)])  # fmt: skip

    def messages() -> list[tuple[str, list[str]]]:
        out = []
        for r in feed_server.requests_for("/hook"):
            body = json.loads(r.body)
            ids = [a["id"] for a in body["alerts"]] if body["type"] == "digest" else [body["alert"]["id"]]  # fmt: skip
            out.append((r.headers["X-Hybridwatch-Delivery"], ids))
        return out

    publish(first)
    run = start_alerter(config, log)
    run.wait_for("the webhook to hold the digest", gate.arrived.is_set)
    run.kill9()
    gate.release.set()
    assert gate.held is not None and json.loads(gate.held.body)["type"] == "digest"
    held_key = gate.held.headers["X-Hybridwatch-Delivery"]

    publish(later)
    run = start_alerter(config, log)

    def by_key() -> dict[str, list[str]]:
        return dict(messages())  # what a receiver keeps when it drops repeats by key

    def kept() -> Counter[str]:
        return Counter(i for ids in by_key().values() for i in ids)

    run.wait_for("the new process's first message", lambda: len(messages()) > 4)
    key, ids = messages()[4]
    assert key == held_key, f"the new process sent {len(ids)} alert(s) under a new key first"
    # the resent digest used 1 of the new process's budget of 4: the later alerts go singly
    want = {a.id for a in [*first, *later]}
    run.wait_for("the later alerts to reach the webhook", lambda: set(kept()) >= want)
    assert run.stop() == 0, run.tail()

    keys = Counter(key for key, _ in messages())
    assert {k: n for k, n in keys.items() if n > 1} == {held_key: 2}
    assert kept() == Counter(want), "an alert reached the receiver under two keys"
    assert [len(ids) for _, ids in messages()] == [1, 1, 1, 7, 7, 1, 1]
