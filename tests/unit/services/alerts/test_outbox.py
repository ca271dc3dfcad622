"""The alert outbox on its own file (production alerter) and inside the embedded store."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hybridwatch.events import Alert
from services.alerts.outbox import LEGACY_FILE, OUTBOX_FILE, AlertOutbox, OutboxClosed

T0 = datetime(2018, 9, 30, 12, 0, tzinfo=UTC)


def alert(i: int, country: str = "MK") -> Alert:
    signals = (f"synthetic-signal-{i:03d}",)
    return Alert(
        id=Alert.make_id("desk", signals),
        subscription_id="desk",
        signals=signals,
        country=country,
        severity="high",
        summary=f"synthetic {i}",
        event_time=T0 + timedelta(minutes=i),
    )


def test_an_alert_is_stored_once_and_pending_until_marked_delivered(tmp_path: Path) -> None:
    outbox = AlertOutbox.open(tmp_path)
    try:
        assert [a.id for a in outbox.add_new([alert(1), alert(2)])] == [alert(1).id, alert(2).id]
        assert outbox.add_new([alert(2), alert(3)]) == [alert(3)]
        outbox.mark_delivered([alert(1).id])
        assert {a.id for a in outbox.pending_alerts()} == {alert(2).id, alert(3).id}
        assert [a.id for a in outbox.get_alerts(limit=1)] == [alert(3).id]
    finally:
        outbox.close()
    reopened = AlertOutbox.open(tmp_path)
    try:
        assert outbox.path == tmp_path / OUTBOX_FILE
        assert {a.id for a in reopened.pending_alerts()} == {alert(2).id, alert(3).id}
    finally:
        reopened.close()


def test_the_outbox_file_holds_the_alert_tables_only(tmp_path: Path) -> None:
    AlertOutbox.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / OUTBOX_FILE)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert names == {"alerts", "alert_channels"}


def test_the_first_open_imports_the_alerts_of_an_earlier_whole_store_outbox(
    tmp_path: Path,
) -> None:
    legacy = sqlite3.connect(tmp_path / LEGACY_FILE)
    legacy_outbox = AlertOutbox(legacy)
    legacy_outbox.add_new([alert(1), alert(2)])
    legacy_outbox.mark_delivered([alert(1).id])
    legacy.execute("CREATE TABLE articles (id TEXT)")  # the rest of the old store file
    legacy.close()

    outbox = AlertOutbox.open(tmp_path)
    try:
        assert [a.id for a in outbox.pending_alerts()] == [alert(2).id]
        assert outbox.add_new([alert(1)]) == []  # delivered before the upgrade: not again
        outbox.mark_delivered([alert(2).id])
    finally:
        outbox.close()
    again = AlertOutbox.open(tmp_path)  # imported once: later opens leave it alone
    try:
        assert again.pending_alerts() == [] and again.count() == 2
    finally:
        again.close()


def test_a_closed_outbox_says_so() -> None:
    outbox = AlertOutbox.memory()
    outbox.close()
    with pytest.raises(OutboxClosed, match="closed"):
        outbox.pending_alerts()
