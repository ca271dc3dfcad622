"""`hybridwatch alerter` on a real broker: hw.alerts -> outbox -> a real webhook server.

Alerts are published to the topic as the worker publishes them (one twice, as a
retried producer would, plus one poison record); the first run is in-process (to
read its counters), the second is the real command in a subprocess with the same
data directory and consumer group.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from hybridwatch.events import Alert
from hybridwatch.topics import Topics
from services.alerts.alerter import Alerter
from services.alerts.delivery import AlertDelivery
from services.alerts.subscriptions import all_subscriptions, build_channels
from services.kafka.codec import encode
from services.store.sqlite import SqliteStore
from tests.fixtures.http import FeedServer
from tests.fixtures.kafka import consume_all, create_topics, kafka_settings

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2018, 9, 30, 12, 0, tzinfo=UTC)


def _alert(i: int) -> Alert:
    signals = (f"synthetic-signal-{i:03d}",)
    return Alert(
        id=Alert.make_id("mk-desk", signals),
        subscription_id="mk-desk",
        signals=signals,
        country="MK",
        severity="high",
        summary=f"Synthetic Outlet: 'Synthetic headline {i}' - narratives: x - https://e.org/{i}",
        event_time=T0 + timedelta(minutes=i),
    )


def _publish(bootstrap: str, topic: str, alerts: list[Alert], poison: bool = False) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all")
    try:
        for a in alerts:
            r = encode(a)
            producer.send(topic, key=r.key, value=r.value, headers=r.headers)
        if poison:
            producer.send(topic, key=b"MK", value=b"{not an alert")
        producer.flush()
    finally:
        producer.close()


def test_alerts_from_kafka_reach_the_webhook_once_with_a_digest_over_budget(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    create_topics(kafka_bootstrap, kafka_prefix)
    topics = Topics(kafka_prefix)
    hook = feed_server.route("/hook", body=b"ok")
    data = tmp_path / "data"
    settings = kafka_settings(
        kafka_bootstrap,
        kafka_prefix,
        data,
        alerts__console=False,
        alerts__group_id=f"alerter-{kafka_prefix}",
        alerts__subscriptions=[
            {"id": "mk-desk", "countries": ["MK"], "webhook": {"url": hook}, "max_per_hour": 4}
        ],
    )
    first = [_alert(i) for i in range(6)]
    _publish(kafka_bootstrap, topics.alerts, [*first, first[2]], poison=True)

    outbox = SqliteStore.open(data / "alerter")
    alerter = Alerter(all_subscriptions(settings), [], outbox, channels=build_channels(settings))
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap.split(","),
        group_id=settings.alerts.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        metadata_max_age_ms=5_000,
    )
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap.split(","), acks="all")
    try:
        stats = AlertDelivery(consumer, producer, outbox, alerter, topics).run(once=True)
    finally:
        consumer.close(autocommit=False)
        producer.close()
        alerter.close()
        outbox.close()
    assert (stats.records, stats.new_alerts, stats.repeats) == (8, 6, 1)
    assert (stats.dead_letters, stats.delivered, stats.pending) == (1, 6, 0)
    bodies = [json.loads(r.body) for r in feed_server.requests_for("/hook")]
    # budget 4: three alerts on their own, the other three in one digest
    assert [b["type"] for b in bodies] == ["alert", "alert", "alert", "digest"]
    sent = [b["alert"]["id"] for b in bodies[:3]] + [a["id"] for a in bodies[3]["alerts"]]
    assert sorted(sent) == sorted(a.id for a in first)
    (dead,) = consume_all(kafka_bootstrap, topics.dead_letter, 1)
    assert dead.value == b"{not an alert"
    assert b"undecodable" in dict(dead.headers)["hw-error"]

    # second run: the real command, same outbox and group; one new alert, one old repeat
    _publish(kafka_bootstrap, topics.alerts, [_alert(6), first[0]])
    proc = subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", "alerter", "--once",
         "--config", str(data / "hybridwatch.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("HW_")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    counters = json.loads(proc.stdout.strip().splitlines()[-1].removeprefix("alerter: "))
    assert (counters["records"], counters["new_alerts"], counters["repeats"]) == (2, 1, 1)
    bodies = [json.loads(r.body) for r in feed_server.requests_for("/hook")]
    assert len(bodies) == 5 and bodies[4]["alert"]["id"] == _alert(6).id
