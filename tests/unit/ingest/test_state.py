"""The persistent ingest state: seen-store, validators, health, reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hybridwatch.config import SourceConfig
from ingest.state import FILE_NAME, IngestState

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SRC = SourceConfig(
    id="rts.rs", outlet="RTS", country="RS", language="sr", feed_url="https://www.rts.rs/rss/vesti"
)
OFF = SourceConfig(
    id="off", outlet="Off", country="HR", feed_url="https://example.hr/rss", enabled=False
)


def test_open_creates_the_file_in_wal_mode(tmp_path: Path) -> None:
    state = IngestState.open(tmp_path / "deep" / "dir")
    try:
        assert (tmp_path / "deep" / "dir" / FILE_NAME).exists()
        assert state._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        state.close()


def test_seen_ids_and_validators_survive_a_restart(tmp_path: Path) -> None:
    state = IngestState.open(tmp_path)
    state.sync_sources([SRC])
    state.record_success(
        SRC.id,
        at=T0,
        next_poll=T0 + timedelta(minutes=15),
        status_code=200,
        published_ids=["a", "b"],
        validators=('"etag-1"', "Mon, 23 Nov 2026 10:00:00 GMT", "hash-1"),
    )
    state.close()
    state = IngestState.open(tmp_path)
    try:
        assert state.unseen(["a", "b", "c"]) == {"c"}
        st = state.get(SRC.id)
        assert (st.etag, st.last_modified, st.content_hash) == (
            '"etag-1"',
            "Mon, 23 Nov 2026 10:00:00 GMT",
            "hash-1",
        )
        assert st.items_seen == 2
    finally:
        state.close()


def test_failure_keeps_validators_and_counts_consecutive_failures(tmp_path: Path) -> None:
    state = IngestState.open(tmp_path)
    state.sync_sources([SRC])
    state.record_success(
        SRC.id, at=T0, next_poll=T0, status_code=200, validators=("e1", None, "h1")
    )
    for i in range(3):
        state.record_failure(
            SRC.id,
            at=T0 + timedelta(minutes=i),
            error="HTTP 500 from x",
            next_poll=T0,
            status_code=500,
        )
    st = state.get(SRC.id)
    assert st.etag == "e1" and st.content_hash == "h1"
    [h] = state.health([SRC])
    assert h.status == "failing" and h.consecutive_failures == 3
    assert h.last_error == "HTTP 500 from x" and h.last_status_code == 500
    assert h.last_error_at == "2026-11-24T12:02:00Z"
    state.record_success(
        SRC.id, at=T0 + timedelta(hours=1), next_poll=T0, status_code=304, changed=False
    )
    [h] = state.health([SRC])
    assert (
        h.status == "ok"
        and h.consecutive_failures == 0
        and h.last_success == "2026-11-24T13:00:00Z"
    )
    state.close()


def test_health_lists_configured_sources_including_never_polled_and_disabled(
    tmp_path: Path,
) -> None:
    state = IngestState.open(tmp_path)
    fresh = SourceConfig(
        id="new.mk", outlet="New", country="MK", feed_url="https://new.example.mk/feed"
    )
    try:
        health = state.health([SRC, fresh, OFF])
        assert [(h.id, h.status) for h in health] == [
            ("rts.rs", "never-polled"),
            ("new.mk", "never-polled"),
            ("off", "disabled"),
        ]
        assert health[1].to_dict()["feed_url"] == "https://new.example.mk/feed"
        assert set(health[0].to_dict()) >= {
            "id",
            "outlet",
            "country",
            "feed_url",
            "status",
            "last_success",
            "last_error",
            "last_error_at",
            "consecutive_failures",
            "items_seen",
            "last_status_code",
            "next_poll",
        }
    finally:
        state.close()


def test_changed_feed_url_forgets_old_validators(tmp_path: Path) -> None:
    state = IngestState.open(tmp_path)
    state.sync_sources([SRC])
    state.record_success(
        SRC.id, at=T0, next_poll=T0, status_code=200, validators=("e1", "lm", "h1")
    )
    state.sync_sources([SRC.model_copy(update={"feed_url": "https://www.rts.rs/rss/novi"})])
    st = state.get(SRC.id)
    assert (st.etag, st.last_modified, st.content_hash) == (None, None, None)
    state.close()


def test_unchanged_polls_keep_the_previous_warning_and_count_the_streak(tmp_path: Path) -> None:
    state = IngestState.open(tmp_path)
    state.record_success(
        SRC.id, at=T0, next_poll=T0, status_code=200, published_ids=["x"], warning="charset lie"
    )
    state.record_success(
        SRC.id, at=T0, next_poll=T0, status_code=304, changed=False, keep_warning=True
    )
    state.record_success(
        SRC.id, at=T0, next_poll=T0, status_code=304, changed=False, keep_warning=True
    )
    assert state.get(SRC.id).unchanged_streak == 2
    assert state.health()[0].last_warning == "charset lie"
    state.close()


def test_poll_reports_are_persisted(tmp_path: Path) -> None:
    state = IngestState.open(tmp_path)
    state.record_report({"sources_ok": 3, "articles_new": 7}, T0)
    state.close()
    state = IngestState.open(tmp_path)
    assert state.last_report() == {"sources_ok": 3, "articles_new": 7}
    state.close()
