"""Configured subscriptions (`alerts.subscriptions`) -> Subscriptions and their channels.

Shared by every runtime's bootstrap, so a subscription means the same thing in the
embedded process and in the production alerter.
"""

from __future__ import annotations

from hybridwatch.config import Settings
from services.alerts.alerter import DEFAULT_SUBSCRIPTION, Subscription
from services.alerts.channels import ChatNotifier, EmailNotifier, WebhookNotifier
from services.alerts.notifier import Notifier


def all_subscriptions(settings: Settings) -> list[Subscription]:
    """The built-in "console" subscription, then the configured ones."""
    console = Subscription(DEFAULT_SUBSCRIPTION, settings.alerts.min_severity)
    return [console, *subscriptions_of(settings)]


def subscriptions_of(settings: Settings) -> list[Subscription]:
    return [
        Subscription(
            s.id,
            s.min_severity,
            countries=s.countries,
            narratives=s.narratives,
            max_per_hour=s.max_per_hour,
            replays=s.replays,
        )
        for s in settings.alerts.subscriptions
    ]


def build_channels(settings: Settings) -> dict[str, list[Notifier]]:
    """Each configured subscription's notifiers (clients are created here, at start-up)."""
    out: dict[str, list[Notifier]] = {}
    for s in settings.alerts.subscriptions:
        channels: list[Notifier] = []
        if s.webhook is not None:
            channels.append(WebhookNotifier(s.id, s.webhook))
        if s.chat is not None:
            channels.append(ChatNotifier(s.id, s.chat))
        if s.email:
            assert settings.alerts.smtp is not None  # checked when the settings loaded
            channels.append(EmailNotifier(s.id, settings.alerts.smtp, s.email))
        out[s.id] = channels
    return out
