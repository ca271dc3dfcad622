"""Alerter: thresholds, one alert per article per subscription, dedup, outbox delivery."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hybridwatch.events import Alert
from services.alerts.alerter import Alerter, Subscription
from services.alerts.notifier import ConsoleNotifier, JsonlNotifier, alert_line
from services.store.sqlite import SqliteStore
from tests.unit.services.factories import article, signal


class Recorder:
    name = "recorder"

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[Alert] = []
        self.fail = fail

    def send(self, alert: Alert) -> None:
        if self.fail:
            raise ConnectionError("channel down")
        self.sent.append(alert)

    def close(self) -> None:
        pass


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore.open(tmp_path)
    yield s
    s.close()


def test_only_signals_at_or_above_min_severity_alert(store: SqliteStore) -> None:
    alerter = Alerter([Subscription("console", "high")], [], store)
    a = article("https://example.org/a", "a")
    assert alerter.alerts_for(a, [signal(a, severity="medium")]) == []
    hi, crit = (
        signal(a, narrative="x", severity="high"),
        signal(a, narrative="y", severity="critical"),
    )
    (alert,) = alerter.alerts_for(a, [hi, crit, signal(a, narrative="z", severity="low")])
    assert set(alert.signals) == {hi.id, crit.id}
    assert alert.severity == "critical"
    assert alert.country == "MK" and alert.event_time == a.published
    assert alert.id == Alert.make_id("console", (hi.id, crit.id))
    assert "x" in alert.summary and a.url in alert.summary


def test_alert_ids_are_deterministic_across_processing_runs(store: SqliteStore) -> None:
    alerter = Alerter([Subscription("console", "low")], [], store)
    a = article("https://example.org/a", "a")
    sigs = [signal(a, narrative="x"), signal(a, narrative="y")]
    assert alerter.alerts_for(a, sigs) == alerter.alerts_for(a, list(reversed(sigs)))


def test_subscription_filters_by_country_and_narrative() -> None:
    sub = Subscription("mk-only", "low", countries=("MK",), narratives=("x",))
    mk, rs = article("https://e.org/1", "a"), article("https://e.org/2", "b", country="RS")
    assert sub.wants(signal(mk, narrative="x"))
    assert not sub.wants(signal(mk, narrative="y"))
    assert not sub.wants(signal(rs, narrative="x"))


def test_a_replayed_alert_is_not_delivered_twice(store: SqliteStore) -> None:
    rec = Recorder()
    alerter = Alerter([Subscription("console", "high")], [rec], store)
    a = article("https://example.org/a", "a")
    s = signal(a)
    alerts = alerter.alerts_for(a, [s])
    alerter.deliver(store.write_batch([a], [s], alerts))
    alerter.deliver(store.write_batch([a], [s], alerter.alerts_for(a, [s])))
    assert [x.id for x in rec.sent] == [alerts[0].id]


def test_undelivered_alerts_stay_pending_and_go_out_on_the_next_start(store: SqliteStore) -> None:
    a = article("https://example.org/a", "a")
    s = signal(a)
    down = Alerter([Subscription("console", "high")], [Recorder(fail=True)], store)
    new = store.write_batch([a], [s], down.alerts_for(a, [s]))
    assert down.deliver(new) == 0 and down.failed == 1
    rec = Recorder()
    restarted = Alerter([Subscription("console", "high")], [rec], store)
    assert restarted.deliver_pending() == 1
    assert [x.id for x in rec.sent] == [new[0].id]
    assert store.pending_alerts() == []


def test_console_line_is_readable_and_jsonl_appends_one_object_per_line(tmp_path: Path) -> None:
    alerter = Alerter([Subscription("console", "high")], [], SqliteStore.memory())
    a = article("https://example.org/a", "Референдум")
    (alert,) = alerter.alerts_for(a, [signal(a)])
    out = io.StringIO()
    ConsoleNotifier(out).send(alert)
    assert out.getvalue() == alert_line(alert) + "\n"
    assert out.getvalue().startswith("ALERT HIGH") and "MK" in out.getvalue()
    j = JsonlNotifier(tmp_path / "alerts.jsonl")
    j.send(alert)
    j.send(alert)
    j.close()
    lines = (tmp_path / "alerts.jsonl").read_text("utf-8").splitlines()
    assert [Alert.model_validate(json.loads(x)) for x in lines] == [alert, alert]


class Named(Recorder):
    def __init__(self, name: str, fail: bool = False) -> None:
        super().__init__(fail)
        self.name = name


def test_a_restart_after_a_partial_failure_sends_only_to_the_channel_that_failed(
    tmp_path: Path,
) -> None:
    from services.alerts.outbox import AlertOutbox

    outbox = AlertOutbox.open(tmp_path)
    a = article("https://example.org/a", "a")
    s = signal(a)
    sub = [Subscription("ops", "high")]
    webhook, mail_down = Named("webhook"), Named("email", fail=True)
    first = Alerter(sub, [], outbox, channels={"ops": [webhook, mail_down]})
    new = outbox.add_new(first.alerts_for(a, [s]))
    assert first.deliver(new) == 0  # the e-mail server is down
    assert [x.id for x in webhook.sent] == [new[0].id]
    outbox.close()

    # a new process (nothing in memory) on the same outbox file
    reopened = AlertOutbox.open(tmp_path)
    webhook2, mail = Named("webhook"), Named("email")
    restarted = Alerter(sub, [], reopened, channels={"ops": [webhook2, mail]})
    assert restarted.deliver_pending() == 1
    assert webhook2.sent == []  # it took the alert before the restart
    assert [x.id for x in mail.sent] == [new[0].id]
    assert reopened.pending_alerts() == []
    assert reopened.channels_taken([new[0].id]) == {
        (new[0].id, "ops/webhook"),
        (new[0].id, "ops/email"),
    }
