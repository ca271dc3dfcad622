"""The Notifier port and the two local notifiers (console line, JSONL file).

Subscription channels (webhook, chat, e-mail) are in channels.py.

A notifier delivers one alert somewhere. It raises on failure so the alert stays in
the outbox and is delivered again on the next start (at-least-once; the alert id lets
a receiver drop a repeat).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TextIO

from hybridwatch.events import Alert, format_time


class Notifier(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...

    def send_digest(self, alerts: Sequence[Alert]) -> None:
        """Several alerts as one message (flood control); local sinks write each."""
        ...

    def close(self) -> None: ...


def alert_line(alert: Alert) -> str:
    """One readable console line: when, how bad, where, what."""
    replay = " [replay]" if alert.replay else ""
    return (
        f"ALERT {alert.severity.upper():8} {alert.country} {format_time(alert.event_time)}"
        f"{replay} {alert.summary} (alert {alert.id[:12]}, {len(alert.signals)} signal(s))"
    )


class ConsoleNotifier:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, alert: Alert) -> None:
        stream = self._stream or sys.stdout
        print(alert_line(alert), file=stream, flush=True)

    def send_digest(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            self.send(alert)

    def close(self) -> None:
        return None


class JsonlNotifier:
    """Appends one Alert JSON per line; fsynced so a delivered alert is on disk."""

    name = "jsonl"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fh = self.path.open("a", encoding="utf-8")

    def send(self, alert: Alert) -> None:
        line = json.dumps(alert.to_dict(), ensure_ascii=False, sort_keys=True)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def send_digest(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            self.send(alert)

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()
