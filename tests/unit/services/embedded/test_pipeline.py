"""EmbeddedPipeline: publish returns only when durable; state survives restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detectors.base import Detector, DetectorOptions, State
from detectors.pipeline import DetectorSuite
from detectors.view import ArticleView
from hybridwatch.events import Signal
from services.alerts.alerter import Alerter, Subscription
from services.embedded.pipeline import EmbeddedPipeline
from services.store.base import ArticleQuery, SignalQuery
from services.store.dead_letters import DeadLetterTable
from services.store.sqlite import SqliteStore
from tests.unit.services.factories import article


class CountingDetector(Detector):
    """Test double: flags titles containing 'alarm' and counts articles per country."""

    name = "counting"
    stateful = True

    def __init__(self) -> None:
        super().__init__(DetectorOptions())

    def detect(self, view: ArticleView, state: State) -> list[Signal]:
        key = f"counting:{view.country}"
        state[key] = state.get(key, 0) + 1
        if "boom" in view.article.title:
            raise RuntimeError("detector bug")
        if "alarm" not in view.title.folded:
            return []
        a = view.article
        return [
            Signal(
                id=Signal.make_id(a.id, self.name, None),
                article_id=a.id,
                detector=self.name,
                country=a.source.country,
                severity="high",
                score=0.9,
                event_time=a.published,
            )
        ]


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, alert: Any) -> None:
        self.sent.append(alert)

    def send_digest(self, alerts: Any) -> None:
        self.sent.extend(alerts)

    def close(self) -> None:
        pass


def make(tmp_path: Path) -> tuple[EmbeddedPipeline, SqliteStore, Recorder]:
    store = SqliteStore.open(tmp_path)
    rec = Recorder()
    alerter = Alerter([Subscription("console", "high")], [rec], store)
    return EmbeddedPipeline(DetectorSuite([CountingDetector()]), store, alerter), store, rec


async def test_publish_returns_after_articles_signals_and_alerts_are_stored(tmp_path: Path) -> None:
    pipe, store, rec = make(tmp_path)
    await pipe.start()
    calm, loud = article("https://e.org/1", "calm"), article("https://e.org/2", "ALARM raised")
    await pipe.publish([calm, loud])
    # durable now, before the pipeline is stopped
    assert store.count_articles() == 2
    assert [s.article_id for s in store.get_signals(SignalQuery())] == [loud.id]
    await pipe.drain_and_stop()
    assert len(rec.sent) == 1 and store.pending_alerts() == []
    store.close()


async def test_detector_state_survives_a_restart(tmp_path: Path) -> None:
    pipe, store, _ = make(tmp_path)
    await pipe.start()
    await pipe.publish([article("https://e.org/1", "a"), article("https://e.org/2", "b")])
    await pipe.drain_and_stop()
    store.close()
    pipe2, store2, _ = make(tmp_path)
    assert pipe2.state.get("counting:MK") == 2
    await pipe2.start()
    await pipe2.publish([article("https://e.org/3", "c")])
    await pipe2.drain_and_stop()
    assert store2.load_state() == {"counting:MK": 3}
    store2.close()


async def test_a_failing_article_is_stored_without_signals_quarantined_and_changes_no_state(
    tmp_path: Path,
) -> None:
    pipe, store, _ = make(tmp_path)
    await pipe.start()
    bad = article("https://e.org/bad", "boom")
    ok = article("https://e.org/ok", "alarm")
    await pipe.publish([bad, ok])
    await pipe.drain_and_stop()
    assert store.count_articles() == 2  # the failing article is evidence too
    assert [s.article_id for s in store.get_signals(SignalQuery())] == [ok.id]
    # the detector counted "boom" before raising: that write was rolled back
    assert pipe.state == {"counting:MK": 1} and store.load_state() == {"counting:MK": 1}
    assert pipe.stats.detector_errors == 1
    assert bad.id in pipe.stats.errors[0] and "detector bug" in pipe.stats.errors[0]
    table = DeadLetterTable.beside(store.path)  # durable: a fresh connection reads it
    (letter,) = table.recent()
    assert letter.article == bad and letter.reason == "detector-error"
    assert letter.error == f"RuntimeError: detector bug (article {bad.id})"
    table.close()
    store.close()


async def test_a_batch_that_could_not_be_stored_leaves_the_state_for_its_retry(
    tmp_path: Path,
) -> None:
    pipe, store, _ = make(tmp_path)
    await pipe.start()
    batch = [article("https://e.org/1", "alarm"), article("https://e.org/2", "b")]
    write = store.write_batch

    def fail_once(*args: Any, **kwargs: Any) -> Any:
        store.write_batch = write  # type: ignore[method-assign]
        raise OSError("disk full")

    store.write_batch = fail_once  # type: ignore[method-assign]
    with pytest.raises(OSError, match="disk full"):
        await pipe.publish(batch)
    assert pipe.state == {}  # nothing counted for a batch that is not stored
    await pipe.publish(batch)  # the poller's retry
    await pipe.drain_and_stop()
    assert store.load_state() == {"counting:MK": 2}
    store.close()


async def test_publish_raises_when_the_batch_cannot_be_stored(tmp_path: Path) -> None:
    pipe, store, _ = make(tmp_path)
    await pipe.start()
    store.close()  # every write now fails
    with pytest.raises(RuntimeError, match="closed"):
        await pipe.publish([article("https://e.org/1", "a")])
    assert pipe.stats.write_errors == 1
    await pipe.drain_and_stop()


async def test_publish_after_shutdown_is_refused(tmp_path: Path) -> None:
    pipe, store, _ = make(tmp_path)
    await pipe.start()
    await pipe.drain_and_stop()
    with pytest.raises(RuntimeError, match="not running"):
        await pipe.publish([article("https://e.org/1", "a")])
    assert store.search_articles(ArticleQuery()) == []
    store.close()
