"""`hybridwatch replay`: argument errors, a missing archive, pacing (no Kafka needed here;
the real-broker replay is tests/integration/kafka/test_archive_replay.py)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import pytest

from hybridwatch.config import load_settings
from services.entrypoints.replay import _batches, _Pacer, main
from tests.fixtures.synthetic_articles import START, synthetic_articles


def _args(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {"since": None, "until": None, "to": "embedded", "rate": 0.0}
    base.update(kw)
    return argparse.Namespace(**base)


STATEFUL = {"enabled": ["narrative", "amplification", "burst"]}
"""Replay is about order and state: the detectors that keep state (and what they count)."""


def _settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_settings(None, {}, {"data_dir": str(tmp_path / "data"), "detectors": STATEFUL})


def test_bad_dates_exit_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(since="last week"), _settings(tmp_path)) == 2
    assert "2018-09-30" in capsys.readouterr().err
    assert main(_args(since="2018-10-02", until="2018-10-01"), _settings(tmp_path)) == 2
    assert "is after" in capsys.readouterr().err


def test_no_archive_exits_1_and_says_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(), _settings(tmp_path)) == 1
    assert str(tmp_path / "data" / "archive") in capsys.readouterr().err


def test_replay_to_embedded_runs_every_archived_article_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingest.archive import Archive

    settings = _settings(tmp_path)
    arts = [
        a.model_copy(update={"published": START + timedelta(hours=5 * i)})
        for i, a in enumerate(synthetic_articles(30, seed=2))
    ]
    archive = Archive(settings.archive_dir)
    archive.append(arts)
    archive.close()
    assert main(_args(until="2018-09-03"), settings) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert '"articles": 15' in out and '"target": "embedded"' in out  # days 1-3: 5 a day


def test_batches_keep_order_and_size() -> None:
    items = list(synthetic_articles(7))
    assert [len(b) for b in _batches(iter(items), 3)] == [3, 3, 1]
    assert [a for b in _batches(iter(items), 3) for a in b] == items


def test_pacer_sleeps_to_hold_the_rate() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    pacer = _Pacer(rate=10.0, clock=lambda: now[0], sleep=sleep)
    batch = list(synthetic_articles(5))
    pacer.after(batch)  # 5 articles at 10/s: 0.5 s ahead of the clock
    now[0] += 0.1
    pacer.after(batch)  # 10 articles should take 1 s; 0.6 s have passed
    assert slept == pytest.approx([0.5, 0.4])
    unpaced = _Pacer(rate=0.0, clock=lambda: now[0], sleep=sleep)
    unpaced.after(batch)
    assert len(slept) == 2


def _archived(settings, n: int = 30):  # type: ignore[no-untyped-def]
    from ingest.archive import Archive

    arts = [
        a.model_copy(update={"published": START + timedelta(hours=5 * i)})
        for i, a in enumerate(synthetic_articles(n, seed=2))
    ]
    archive = Archive(settings.archive_dir)
    archive.append(arts)
    archive.close()
    return arts


def _signal_ids(folder: Path) -> set[str]:
    from services.store.base import SignalQuery
    from services.store.sqlite import SqliteStore

    store = SqliteStore.open(folder)
    try:
        return {s.id for s in store.get_signals(SignalQuery(limit=100_000))}
    finally:
        store.close()


def test_replay_is_isolated_by_default_and_identical_when_repeated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(
        None,
        {},
        {
            "data_dir": str(tmp_path / "data"),
            "detectors": STATEFUL,
            "alerts": {
                "min_severity": "low",
                "subscriptions": [
                    {"id": "ops", "webhook": {"url": "http://127.0.0.1:9/h"}, "replays": True}
                ],
            },
        },
    )
    _archived(settings)
    runs = []
    for _ in range(2):
        assert main(_args(until="2018-09-03"), settings) == 0
        out = capsys.readouterr().out.strip().splitlines()[-1]
        assert '"namespace": "start_2018-09-03"' in out
        folder = tmp_path / "data" / "replays" / "start_2018-09-03"
        runs.append(_signal_ids(folder))
    assert runs[0] and runs[0] == runs[1]
    # the live store was never opened, and nobody was paged
    assert not (tmp_path / "data" / "hybridwatch.sqlite3").exists()
    from services.store.sqlite import SqliteStore

    store = SqliteStore.open(folder)
    try:
        assert store.count_alerts(subscription="ops") == 0
    finally:
        store.close()


def test_replay_target_live_runs_on_the_configured_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    _archived(settings)
    assert main(_args(target="live", name=None), settings) == 0
    assert '"namespace": "live"' in capsys.readouterr().out
    assert _signal_ids(tmp_path / "data")
    assert not (tmp_path / "data" / "replays").exists()


def test_replay_name_must_be_a_safe_namespace_and_a_foreign_folder_is_never_wiped(
    tmp_path: Path,
) -> None:
    from hybridwatch.config import ConfigError

    settings = _settings(tmp_path)
    _archived(settings, 3)
    with pytest.raises(ConfigError, match="not a namespace name"):
        main(_args(name="../../etc"), settings)
    foreign = tmp_path / "data" / "replays" / "mine"
    foreign.mkdir(parents=True)
    (foreign / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a replay namespace"):
        main(_args(name="mine"), settings)
    assert (foreign / "keep.txt").exists()
