"""Signals -> Alerts, with de-duplication by alert id and an outbox for delivery.

No floods: at most one alert per article per subscription (it lists every qualifying
signal of the article), and its id is `Alert.make_id(subscription, signal ids)`, which
depends only on content, so re-processing or replaying the same article yields the
same id and the outbox (a table keyed by alert id) refuses it as already known.

No misses: alerts are written in the same transaction as the article and its signals
(`alerts_for` only builds them), delivered after commit, and marked delivered only
when every channel of their subscription took them; anything undelivered is retried
by the runtime every `alerts.retry_seconds` and on the next start. A channel that
already took an alert is not sent it again when another channel of the same
subscription failed, by this process or after a restart: each channel's delivery is
recorded in the outbox (`alert_channels`) as soon as the channel took it. The one
window left is a crash between a channel taking a message and that record being
committed; receivers drop such a repeat by the alert id (`X-Hybridwatch-Delivery`,
the e-mail Message-ID). A digest's id hashes the alerts it holds, so which alerts a
channel's digest holds is recorded too, before it is sent (`<channel>#digest:<id>`):
a digest that failed or was in flight at a crash is sent again as the very same digest,
same id, and its alerts never reach a receiver under a second key.

Flood control, per channel: at most `max_per_hour` messages in any rolling hour.
A batch that does not fit is not cut short: what exceeds the budget goes out as one
digest message, and when not even that fits the alerts wait in the outbox for a
later round. Nothing is dropped; a flood becomes a few digests. The clock here is
processing time on purpose: it paces messages to people and decides no signal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from hybridwatch.events import SEVERITY_ORDER, Alert, Article, Severity, Signal
from services.alerts.channels import digest_id
from services.alerts.notifier import Notifier

log = logging.getLogger(__name__)

DEFAULT_SUBSCRIPTION = "console"
DONE_MEMORY = 50_000
"""Completed alert ids remembered per process (about 5 MB at most)."""
DIGEST_INTENT = "#digest:"
"""`<subscription>/<channel>#digest:<digest id>`: the outbox's record that these alerts
were put in that digest of that channel (written before it is sent)."""


@dataclass(frozen=True)
class Subscription:
    """Which signals somebody wants to hear about. Empty filters mean "all"."""

    id: str
    min_severity: Severity = "high"
    countries: tuple[str, ...] = ()
    narratives: tuple[str, ...] = ()
    max_per_hour: int | None = None
    """Messages per channel per rolling hour (None: no limit, for local sinks)."""
    replays: bool = True
    """Deliver alerts raised while replaying history to this subscription's channels."""

    def wants(self, signal: Signal) -> bool:
        if SEVERITY_ORDER[signal.severity] < SEVERITY_ORDER[self.min_severity]:
            return False
        if self.countries and signal.country not in self.countries:
            return False
        return not (self.narratives and signal.narrative not in self.narratives)


class AlertOutbox(Protocol):
    def pending_alerts(self) -> list[Alert]: ...
    def mark_delivered(self, alert_ids: Sequence[str]) -> None: ...
    def mark_channel(self, alert_ids: Sequence[str], channel: str) -> None: ...
    def channels_taken(self, alert_ids: Sequence[str]) -> set[tuple[str, str]]: ...


def summarize(article: Article, signals: Sequence[Signal]) -> str:
    narratives = sorted({s.narrative for s in signals if s.narrative})
    detectors = sorted({s.detector for s in signals})
    what = (
        f"narratives: {', '.join(narratives)}"
        if narratives
        else f"detectors: {', '.join(detectors)}"
    )
    outlet = article.source.outlet or article.source.id
    title = article.title if len(article.title) <= 120 else article.title[:117] + "..."
    return f"{outlet}: {title!r} - {what} - {article.url}"


def build_alerts(
    subscriptions: Sequence[Subscription],
    article: Article,
    signals: Sequence[Signal],
    replay: bool = False,
) -> list[Alert]:
    """One alert per subscription that wants any of the article's signals.

    Pure and deterministic (the id hashes the subscription and the signal ids), so
    the embedded pipeline and the Kafka worker raise the very same alerts.
    """
    out: list[Alert] = []
    for sub in subscriptions:
        chosen = sorted((s for s in signals if sub.wants(s)), key=lambda s: s.id)
        if not chosen:
            continue
        ids = tuple(s.id for s in chosen)
        worst = max(chosen, key=lambda s: SEVERITY_ORDER[s.severity]).severity
        out.append(
            Alert(
                id=Alert.make_id(sub.id, ids),
                subscription_id=sub.id,
                signals=ids,
                country=article.source.country,
                severity=worst,
                summary=summarize(article, chosen),
                event_time=article.published,
                replay=replay,
            )
        )
    return out


class Alerter:
    """Builds alerts and delivers them to each subscription's channels.

    `notifiers` serve every subscription that has no entry in `channels` (the
    built-in "console" subscription: console line + JSONL file).
    """

    def __init__(
        self,
        subscriptions: Sequence[Subscription],
        notifiers: Sequence[Notifier],
        outbox: AlertOutbox,
        replay: bool = False,
        channels: Mapping[str, Sequence[Notifier]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.subscriptions = tuple(subscriptions)
        self.notifiers = tuple(notifiers)
        self.outbox = outbox
        self.replay = replay
        self.channels = {k: tuple(v) for k, v in (channels or {}).items()}
        self.delivered = 0
        self.failed = 0
        self.digests = 0
        self.held = 0
        self._subs = {s.id: s for s in self.subscriptions}
        self._clock = clock
        self._lock = threading.Lock()
        self._taken: set[tuple[str, str]] = set()
        """(alert id, channel) pairs delivered by this process, until the alert is done."""
        self._sent_at: dict[str, deque[float]] = {}
        """Per channel: when its messages of the last hour went out."""
        self._done: OrderedDict[str, None] = OrderedDict()
        """Ids of the alerts this process completed lately: a retry round may deliver a
        batch's alerts before the batch's own delivery call runs, which must not send
        them again."""

    def alerts_for(self, article: Article, signals: Sequence[Signal]) -> list[Alert]:
        """The alerts this article's signals deserve (pure; nothing is sent here)."""
        return build_alerts(self.subscriptions, article, signals, self.replay)

    def _targets(self, sub_id: str) -> tuple[Notifier, ...]:
        return self.channels.get(sub_id, self.notifiers)

    def deliver(self, alerts: Sequence[Alert]) -> int:
        """Send alerts to their subscription's channels; mark delivered the ones every
        channel took. Returns how many were marked (thread-safe: the runtime's retry
        round and its batch delivery may overlap)."""
        with self._lock:
            return self._deliver(alerts)

    def _deliver(self, alerts: Sequence[Alert]) -> int:
        alerts = [a for a in alerts if a.id not in self._done]
        if alerts:
            # what an earlier run (or round) recorded: those channels are not sent again
            self._taken.update(self.outbox.channels_taken([a.id for a in alerts]))
        digests = self._open_digests(alerts)
        queued_in_digest = {
            (a.id, key) for (key, _), (_, _, items) in digests.items() for a in items
        }
        queues: dict[str, tuple[Notifier, Subscription | None, list[Alert]]] = {}
        for alert in alerts:
            sub = self._subs.get(alert.subscription_id)
            if sub is None:
                # the subscription was removed from the configuration since
                log.warning(
                    "alert %s belongs to subscription %r, which is no longer configured: "
                    "sent to the default notifiers",
                    alert.id,
                    alert.subscription_id,
                )
            for n in self._targets(alert.subscription_id):
                key = f"{alert.subscription_id}/{n.name}"
                if (alert.id, key) in self._taken:
                    continue
                if alert.replay and sub is not None and not sub.replays:
                    self._taken.add((alert.id, key))  # by policy: a replay pages nobody
                    continue
                if (alert.id, key) in queued_in_digest:
                    continue  # goes out again as the digest it was put in
                queues.setdefault(key, (n, sub, []))[2].append(alert)
        down: set[str] = set()
        for (key, _), (notifier, sub, items) in digests.items():
            limit = sub.max_per_hour if sub else None
            if key in down:
                continue
            budget = self._budget(key, limit)
            if budget is not None and budget < 1:
                self.held += len(items)
                log.info("channel %s: hourly budget used up; a digest of %d waits", key, len(items))
                continue
            if not self._send_digest(key, notifier, limit, items):
                down.add(key)
        for key, (notifier, sub, items) in queues.items():
            if key not in down:
                self._send(key, notifier, sub.max_per_hour if sub else None, items)
        done: list[str] = []
        for alert in alerts:
            keys = [
                f"{alert.subscription_id}/{n.name}" for n in self._targets(alert.subscription_id)
            ]
            if all((alert.id, k) in self._taken for k in keys):
                done.append(alert.id)
                self._done[alert.id] = None
                if len(self._done) > DONE_MEMORY:
                    self._done.popitem(last=False)
            else:
                self.failed += 1
        if done:
            finished = set(done)  # forget their channels and digest records
            self._taken = {pair for pair in self._taken if pair[0] not in finished}
            self.outbox.mark_delivered(done)
            self.delivered += len(done)
        return len(done)

    def _open_digests(
        self, alerts: Sequence[Alert]
    ) -> dict[tuple[str, str], tuple[Notifier, Subscription | None, list[Alert]]]:
        """Digests recorded for a channel that has not taken them (it failed, or the
        process died while sending): (channel, digest id) -> the same alerts, when all
        of them are here; otherwise (not all pending any more) they go out as usual."""
        by_id = {a.id: a for a in alerts}
        groups: dict[tuple[str, str], list[Alert]] = {}
        for alert_id, mark in self._taken:
            if DIGEST_INTENT not in mark or alert_id not in by_id:
                continue
            key, did = mark.split(DIGEST_INTENT, 1)
            if (alert_id, key) not in self._taken:
                groups.setdefault((key, did), []).append(by_id[alert_id])
        out: dict[tuple[str, str], tuple[Notifier, Subscription | None, list[Alert]]] = {}
        for (key, did), members in groups.items():
            member_ids = {a.id for a in members}
            items = [a for a in alerts if a.id in member_ids]  # in delivery order
            notifier = next(
                (n for n in self._targets(items[0].subscription_id)
                 if f"{items[0].subscription_id}/{n.name}" == key),
                None,
            )  # fmt: skip
            if notifier is not None and digest_id(items) == did:
                out[(key, did)] = (notifier, self._subs.get(items[0].subscription_id), items)
        return out

    def _budget(self, key: str, limit: int | None) -> int | None:
        if limit is None:
            return None
        sent = self._sent_at.setdefault(key, deque())
        horizon = self._clock() - 3600.0
        while sent and sent[0] <= horizon:
            sent.popleft()
        return max(0, limit - len(sent))

    def _send(self, key: str, notifier: Notifier, limit: int | None, items: list[Alert]) -> None:
        budget = self._budget(key, limit)
        if budget is None or len(items) <= budget:
            singles, digest = items, []
        elif budget >= 1:
            singles, digest = items[: budget - 1], items[budget - 1 :]
        else:
            self.held += len(items)
            log.info("channel %s: hourly budget used up; %d alert(s) wait", key, len(items))
            return
        for alert in singles:
            try:
                notifier.send(alert)
            except Exception as err:  # one bad channel must not stop the others
                log.error("channel %s failed for alert %s: %s", key, alert.id, err)
                return  # it is down: the rest waits for the next round
            self._taken.add((alert.id, key))
            self._record(key, [alert.id])
            self._spent(key, limit)
        if digest:
            self._send_digest(key, notifier, limit, digest)

    def _send_digest(
        self, key: str, notifier: Notifier, limit: int | None, items: list[Alert]
    ) -> bool:
        ids = [a.id for a in items]
        intent = f"{key}{DIGEST_INTENT}{digest_id(items)}"
        if not all((i, intent) in self._taken for i in ids):
            self._record(intent, ids)  # before the send: a retry sends this very digest
            self._taken.update((i, intent) for i in ids)
        try:
            notifier.send_digest(items)
        except Exception as err:
            log.error("channel %s failed for a digest of %d alerts: %s", key, len(items), err)
            return False
        self._taken.update((i, key) for i in ids)
        self._record(key, ids)
        self._spent(key, limit)
        self.digests += 1
        return True

    def _record(self, key: str, alert_ids: list[str]) -> None:
        """Make a channel's delivery durable before anything else is sent."""
        try:
            self.outbox.mark_channel(alert_ids, key)
        except Exception as err:  # the send happened; memory still stops a repeat here
            log.error("channel %s: could not record delivery of %d alert(s): %s",
                      key, len(alert_ids), err)  # fmt: skip

    def _spent(self, key: str, limit: int | None) -> None:
        if limit is not None:
            self._sent_at.setdefault(key, deque()).append(self._clock())

    def deliver_pending(self) -> int:
        """Deliver what is stored but not yet out (a previous run, a channel that was
        down, alerts over their hourly budget)."""
        return self.deliver(self.outbox.pending_alerts())

    def close(self) -> None:
        closing = list(self.notifiers) + [n for ns in self.channels.values() for n in ns]
        for notifier in closing:
            notifier.close()
