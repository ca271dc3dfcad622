"""Topic names of the pipeline in one place (Kafka topics or in-process queues)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str = "hw."

    @property
    def articles(self) -> str:
        return f"{self.prefix}articles"

    @property
    def signals(self) -> str:
        return f"{self.prefix}signals"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}alerts"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}dead-letter"

    def all(self) -> tuple[str, str, str, str]:
        return (self.articles, self.signals, self.alerts, self.dead_letter)


SCHEMA_HEADER = "hw-schema-version"
"""Kafka header carrying the contract's schema_version."""
ATTEMPT_HEADER = "hw-attempt"
ERROR_HEADER = "hw-error"
REPLAY_HEADER = "hw-replay"
"""b"1" on articles re-published by `hybridwatch replay`: their alerts carry replay=true."""
