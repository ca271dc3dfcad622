"""A digest that did not go out (the channel failed, or the process died while sending
it) is sent again as the very same digest - same alerts, same digest id - however many
alerts arrived meanwhile, so a receiver that already got it drops the repeat by its key
and never sees those alerts under a second key.

In-memory recorder channels (pure unit tests of the Alerter's rules); the real process
killed mid-digest is tests/integration/alerts/test_alerter_kill9.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hybridwatch.events import Alert
from services.alerts.alerter import Alerter, Subscription
from services.alerts.outbox import AlertOutbox
from tests.unit.services.factories import article, signal


class Channel:
    """Records every message it is asked to send; `digests_fail` makes digests raise."""

    name = "webhook"

    def __init__(self, digests_fail: bool = False) -> None:
        self.digests_fail = digests_fail
        self.asked: list[list[str]] = []
        self.taken: list[list[str]] = []

    def send(self, alert: Alert) -> None:
        self.asked.append([alert.id])
        self.taken.append([alert.id])

    def send_digest(self, alerts: Sequence[Alert]) -> None:
        self.asked.append([a.id for a in alerts])
        if self.digests_fail:
            raise ConnectionError("webhook down")
        self.taken.append([a.id for a in alerts])

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SUB = Subscription("mk", "high", max_per_hour=4)


def _alerts(alerter: Alerter, first: int, n: int) -> list[Alert]:
    out: list[Alert] = []
    for i in range(first, first + n):
        a = article(f"https://example.org/mk/{i}", f"synthetic headline {i}", country="MK")
        out.extend(alerter.alerts_for(a, [signal(a, narrative="x", severity="high")]))
    return out


def test_a_failed_digest_goes_out_again_unchanged_before_newer_alerts(tmp_path: Path) -> None:
    outbox = AlertOutbox.open(tmp_path)
    hook, clock = Channel(digests_fail=True), Clock()
    alerter = Alerter([SUB], [], outbox, channels={"mk": [hook]}, clock=clock)
    first = outbox.add_new(_alerts(alerter, 0, 10))
    assert alerter.deliver(first) == 3  # three singles; the digest of seven failed
    failed = sorted(hook.asked[-1])
    assert len(failed) == 7

    hook.digests_fail = False
    later = outbox.add_new(_alerts(alerter, 10, 3))
    clock.now += 3601  # a fresh hour: room for the digest and the newer alerts singly
    assert alerter.deliver_pending() == 10
    resent, *singles = hook.taken[3:]
    assert sorted(resent) == failed  # the same alerts: the same digest id
    assert sorted(singles) == sorted([a.id] for a in later)  # each on its own
    assert outbox.pending_alerts() == []
    outbox.close()


def test_a_new_process_sends_the_digest_the_last_one_could_not_finish(tmp_path: Path) -> None:
    outbox = AlertOutbox.open(tmp_path)
    hook = Channel(digests_fail=True)
    dying = Alerter([SUB], [], outbox, channels={"mk": [hook]}, clock=Clock())
    dying.deliver(outbox.add_new(_alerts(dying, 0, 10)))
    unfinished = sorted(hook.asked[-1])
    outbox.close()

    reopened = AlertOutbox.open(tmp_path)  # nothing in memory: only the outbox file
    hook2 = Channel()
    restarted = Alerter([SUB], [], reopened, channels={"mk": [hook2]}, clock=Clock())
    reopened.add_new(_alerts(restarted, 10, 2))
    assert restarted.deliver_pending() == 9  # the digest of seven and the two newer alerts
    assert sorted(hook2.taken[0]) == unfinished  # first, and the same alerts
    assert [len(m) for m in hook2.taken] == [7, 1, 1]
    assert sorted(i for m in hook2.taken for i in m) == sorted(
        a.id for a in _alerts(restarted, 3, 9)
    )
    assert reopened.pending_alerts() == []
    reopened.close()
