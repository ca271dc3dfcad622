"""Subscription channels: routing, per-channel bookkeeping, hourly budgets and digests.

The notifiers here are in-memory recorders (pure unit tests of the Alerter's rules);
the real channels are tested against real servers in
tests/integration/test_alert_channels.py. The clock is a counter the test advances.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from hybridwatch.config import ConfigError, load_settings
from hybridwatch.events import Alert, Article, Signal
from services.alerts.alerter import Alerter, Subscription
from services.store.sqlite import SqliteStore
from tests.unit.services.factories import article, signal


class Channel:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.messages: list[list[str]] = []  # alert ids per message sent

    def send(self, alert: Alert) -> None:
        if self.fail:
            raise ConnectionError(f"{self.name} down")
        self.messages.append([alert.id])

    def send_digest(self, alerts: Sequence[Alert]) -> None:
        if self.fail:
            raise ConnectionError(f"{self.name} down")
        self.messages.append([a.id for a in alerts])

    def close(self) -> None:
        pass

    @property
    def alert_ids(self) -> list[str]:
        return [i for m in self.messages for i in m]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore.open(tmp_path)
    yield s
    s.close()


def _flagged(n: int, country: str = "MK") -> list[tuple[Article, Signal]]:
    out = []
    for i in range(n):
        a = article(f"https://example.org/{country}/{i}", f"headline {i}", country=country)
        out.append((a, signal(a, narrative="x", severity="high")))
    return out


def _raise(
    alerter: Alerter, store: SqliteStore, items: list[tuple[Article, Signal]]
) -> list[Alert]:
    alerts = [al for a, s in items for al in alerter.alerts_for(a, [s])]
    return store.write_batch([a for a, _ in items], [s for _, s in items], alerts)


def test_each_subscription_reaches_only_its_own_channels(store: SqliteStore) -> None:
    console, hook, mail = Channel("console"), Channel("webhook"), Channel("email")
    alerter = Alerter(
        [Subscription("console", "high"), Subscription("mk", "high", countries=("MK",))],
        [console],
        store,
        channels={"mk": [hook, mail]},
    )
    new = _raise(alerter, store, _flagged(2) + _flagged(1, country="RS"))
    assert alerter.deliver(new) == len(new) == 5  # 3 console alerts + 2 for "mk"
    mk_ids = [a.id for a in new if a.subscription_id == "mk"]
    assert hook.alert_ids == mail.alert_ids == mk_ids
    assert console.alert_ids == [a.id for a in new if a.subscription_id == "console"]
    assert store.pending_alerts() == []


def test_over_budget_the_rest_of_a_batch_goes_out_as_one_digest(store: SqliteStore) -> None:
    hook = Channel("webhook")
    sub = Subscription("mk", "high", max_per_hour=4)
    alerter = Alerter([sub], [], store, channels={"mk": [hook]}, clock=Clock())
    new = _raise(alerter, store, _flagged(10))
    assert alerter.deliver(new) == 10
    ids = [a.id for a in new]
    assert hook.messages == [[ids[0]], [ids[1]], [ids[2]], ids[3:]]  # 4 messages: the budget
    assert alerter.digests == 1 and store.pending_alerts() == []


def test_with_the_budget_spent_alerts_wait_and_go_out_after_the_hour(
    store: SqliteStore,
) -> None:
    hook, clock = Channel("webhook"), Clock()
    alerter = Alerter(
        [Subscription("mk", "high", max_per_hour=2)],
        [],
        store,
        channels={"mk": [hook]},
        clock=clock,
    )
    first = _raise(alerter, store, _flagged(2))
    assert alerter.deliver(first) == 2
    later = _raise(alerter, store, _flagged(5)[2:])
    assert alerter.deliver(later) == 0  # nothing fits: held, not dropped
    assert len(store.pending_alerts()) == 3 and alerter.held == 3
    clock.now += 1800
    assert alerter.deliver_pending() == 0  # still inside the hour of the first two
    clock.now += 1801
    assert alerter.deliver_pending() == 3
    single, digest = hook.messages[2:]  # two fit: one alert, then a digest of the rest
    assert len(single) == 1 and sorted(single + digest) == sorted(a.id for a in later)
    assert store.pending_alerts() == []


def test_a_failed_channel_gets_the_alert_again_but_the_others_do_not(store: SqliteStore) -> None:
    hook, mail = Channel("webhook"), Channel("email", fail=True)
    alerter = Alerter([Subscription("mk", "high")], [], store, channels={"mk": [hook, mail]})
    new = _raise(alerter, store, _flagged(2))
    assert alerter.deliver(new) == 0  # e-mail is down: not delivered yet
    assert len(hook.messages) == 2
    assert sorted(a.id for a in store.pending_alerts()) == sorted(a.id for a in new)
    mail.fail = False
    assert alerter.deliver_pending() == 2
    assert len(hook.messages) == 2  # not sent twice by this process
    assert sorted(mail.alert_ids) == sorted(a.id for a in new)
    assert store.pending_alerts() == []


def test_a_channel_that_fails_stops_for_the_round(store: SqliteStore) -> None:
    mail = Channel("email", fail=True)
    calls: list[str] = []
    original = mail.send

    def counting(alert: Alert) -> None:
        calls.append(alert.id)
        original(alert)

    mail.send = counting  # type: ignore[method-assign]
    alerter = Alerter([Subscription("mk", "high")], [], store, channels={"mk": [mail]})
    alerter.deliver(_raise(alerter, store, _flagged(5)))
    assert len(calls) == 1  # one timeout, not five


def test_replayed_alerts_page_nobody_unless_the_subscription_asks(store: SqliteStore) -> None:
    quiet, loud = Channel("webhook"), Channel("chat")
    subs = [Subscription("quiet", "high", replays=False), Subscription("loud", "high")]
    alerter = Alerter(subs, [], store, replay=True, channels={"quiet": [quiet], "loud": [loud]})
    new = _raise(alerter, store, _flagged(2))
    assert all(a.replay for a in new)
    assert alerter.deliver(new) == 4  # all done: the quiet ones by policy
    assert quiet.messages == [] and len(loud.messages) == 2


def test_alerts_of_a_removed_subscription_go_to_the_default_notifiers(store: SqliteStore) -> None:
    console = Channel("console")
    old = Alerter([Subscription("gone", "high")], [], store, channels={"gone": [Channel("x")]})
    new = _raise(old, store, _flagged(1))
    restarted = Alerter([Subscription("console", "high")], [console], store)
    assert restarted.deliver_pending() == 1
    assert console.alert_ids == [new[0].id]


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ({"subscriptions": [{"id": "a", "email": ["x@example.org"]}]}, "need alerts.smtp"),
        ({"subscriptions": [{"id": "a"}]}, "no channel"),
        (
            {"subscriptions": [{"id": "console", "chat": {"url": "https://c.example/h"}}]},
            "used twice",
        ),
        (
            {"subscriptions": [{"id": "a", "countries": ["mk"], "chat": {"url": "https://c/h"}}]},
            "two capital letters",
        ),
        ({"subscriptions": [{"id": "a", "webhook": {"url": "file:///etc/passwd"}}]}, "http(s) URL"),
        ({"subscriptions": [{"id": "a", "email": ["not-an-address"]}]}, "not an e-mail address"),
        ({"smtp": {"host": "mail.example.org", "sender": "nobody"}}, "alerts.smtp.sender"),
    ],
)
def test_bad_subscription_config_names_the_problem(alerts: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="alerts") as caught:
        load_settings(None, {}, {"alerts": alerts})
    assert message in str(caught.value)


def test_smtp_password_comes_from_the_environment_and_is_hidden(tmp_path: Path) -> None:
    config = tmp_path / "hybridwatch.yaml"
    config.write_text(
        "alerts:\n"
        "  smtp: {host: mail.example.org, sender: hw@example.org}\n"
        "  subscriptions: [{id: desk, email: [desk@example.org]}]\n",
        encoding="utf-8",
    )
    settings = load_settings(config, {"HW_ALERTS__SMTP__PASSWORD": "s3cret"})
    smtp = settings.alerts.smtp
    assert smtp is not None and smtp.password is not None
    assert smtp.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_a_retry_round_that_ran_first_does_not_make_the_batch_send_twice(
    store: SqliteStore,
) -> None:
    hook = Channel("webhook")
    alerter = Alerter([Subscription("mk", "high")], [], store, channels={"mk": [hook]})
    new = _raise(alerter, store, _flagged(3))
    assert alerter.deliver_pending() == 3  # the periodic retry got there first
    assert alerter.deliver(new) == 0  # the batch's own call: nothing left to do
    assert len(hook.messages) == 3
