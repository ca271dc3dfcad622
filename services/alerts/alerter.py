"""Signals -> Alerts, with de-duplication by alert id and an outbox for delivery.

No floods: at most one alert per article per subscription (it lists every qualifying
signal of the article), and its id is `Alert.make_id(subscription, signal ids)`, which
depends only on content, so re-processing or replaying the same article yields the
same id and the outbox (a table keyed by alert id) refuses it as already known.

No misses: alerts are written in the same transaction as the article and its signals
(`alerts_for` only builds them), delivered after commit, and marked delivered only
when every notifier accepted them; anything undelivered is retried on the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hybridwatch.events import SEVERITY_ORDER, Alert, Article, Severity, Signal
from services.alerts.notifier import Notifier

log = logging.getLogger(__name__)

DEFAULT_SUBSCRIPTION = "console"


@dataclass(frozen=True)
class Subscription:
    """Which signals somebody wants to hear about. Empty filters mean "all"."""

    id: str
    min_severity: Severity = "high"
    countries: tuple[str, ...] = ()
    narratives: tuple[str, ...] = ()

    def wants(self, signal: Signal) -> bool:
        if SEVERITY_ORDER[signal.severity] < SEVERITY_ORDER[self.min_severity]:
            return False
        if self.countries and signal.country not in self.countries:
            return False
        return not (self.narratives and signal.narrative not in self.narratives)


class AlertOutbox(Protocol):
    def pending_alerts(self) -> list[Alert]: ...
    def mark_delivered(self, alert_ids: Sequence[str]) -> None: ...


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


class Alerter:
    def __init__(
        self,
        subscriptions: Sequence[Subscription],
        notifiers: Sequence[Notifier],
        outbox: AlertOutbox,
        replay: bool = False,
    ) -> None:
        self.subscriptions = tuple(subscriptions)
        self.notifiers = tuple(notifiers)
        self.outbox = outbox
        self.replay = replay
        self.delivered = 0
        self.failed = 0

    def alerts_for(self, article: Article, signals: Sequence[Signal]) -> list[Alert]:
        """The alerts this article's signals deserve (pure; nothing is sent here)."""
        out: list[Alert] = []
        for sub in self.subscriptions:
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
                    replay=self.replay,
                )
            )
        return out

    def deliver(self, alerts: Sequence[Alert]) -> int:
        """Send alerts to every notifier; mark delivered those that all accepted."""
        done: list[str] = []
        for alert in alerts:
            ok = True
            for notifier in self.notifiers:
                try:
                    notifier.send(alert)
                except Exception as err:  # one bad channel must not stop the others
                    ok = False
                    log.error("notifier %s failed for alert %s: %s", notifier.name, alert.id, err)
            if ok:
                done.append(alert.id)
            else:
                self.failed += 1
        if done:
            self.outbox.mark_delivered(done)
            self.delivered += len(done)
        return len(done)

    def deliver_pending(self) -> int:
        """Deliver what a previous run stored but did not get out."""
        return self.deliver(self.outbox.pending_alerts())

    def close(self) -> None:
        for notifier in self.notifiers:
            notifier.close()
