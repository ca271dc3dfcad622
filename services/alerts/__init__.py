"""Alerting: turn signals into de-duplicated Alert events and hand them to notifiers.

The embedded runtime has one subscription ("console") and two notifiers (console and
a JSONL file). More channels (webhook, e-mail, chat) are more `Notifier`s; filtered
per-user subscriptions are more `Subscription`s: both are additive.
"""
