"""The in-process pipeline: articles queue -> detectors -> SQLite -> alerts.

`publish` is what the poller calls. It enqueues the batch with a future and returns
only when the batch's articles, signals, alerts and detector-state changes are
committed in one SQLite transaction, so the poller (which marks items seen only
after publish returns) can never lose an article: a batch is either stored or,
when the process dies first, fetched again on the next start.

Detection is the batch step every runtime shares (services/pipeline/step.py): an
article whose detectors raise changes no detector state, goes to the dead-letter
table (services/store/dead_letters.py, listed at `/api/dead-letters`) and is stored
without signals, while the rest of the batch goes on -- exactly what the Faust
worker does with `hw.dead-letter`. The in-memory state takes the batch's changes
only after the batch was committed, so a batch that could not be stored is
re-processed later on the state it saw the first time.

The queue is bounded: a slow disk slows the poller down instead of growing memory.
Detection and the SQLite write run in a worker thread so the API stays responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.pipeline import DetectorSuite
from hybridwatch.events import Alert, Article
from ingest.archive import Archive
from services.alerts.alerter import Alerter
from services.pipeline.step import run_batch
from services.store.dead_letters import DeadLetter, DeadLetterTable
from services.store.sqlite import SqliteStore

log = logging.getLogger(__name__)


@dataclass
class PipelineStats:
    batches: int = 0
    articles: int = 0
    signals: int = 0
    flagged: int = 0
    alerts_new: int = 0
    detector_errors: int = 0
    write_errors: int = 0
    archive_errors: int = 0
    last_batch_at: float | None = None
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "articles": self.articles,
            "signals": self.signals,
            "flagged": self.flagged,
            "alerts_new": self.alerts_new,
            "detector_errors": self.detector_errors,
            "write_errors": self.write_errors,
            "archive_errors": self.archive_errors,
            "recent_errors": self.errors[-10:],
        }


@dataclass
class _Batch:
    articles: tuple[Article, ...]
    done: asyncio.Future[None]


class EmbeddedPipeline:
    def __init__(
        self,
        suite: DetectorSuite,
        store: SqliteStore,
        alerter: Alerter,
        queue_size: int = 16,
        alert_retry: float = 60.0,
        archive: Archive | None = None,
        dead_letters: DeadLetterTable | None = None,
        before_batch: Callable[[], object] | None = None,
    ) -> None:
        self.suite = suite
        self.before_batch = before_batch
        """Called in the worker thread before each batch (e.g. reload imported claims)."""
        self.store = store
        self.alerter = alerter
        self.alert_retry = alert_retry
        self.archive = archive
        """Every stored article also goes to the day files of `hybridwatch replay`."""
        self._retry_task: asyncio.Task[None] | None = None
        self._owns_dead_letters = dead_letters is None
        self.dead_letters = dead_letters or DeadLetterTable.beside(store.path)
        """Articles the detectors failed on (the table is in the store's file)."""
        self.state: dict[str, Any] = store.load_state()
        """Detector state as of the last stored batch."""
        self.stats = PipelineStats()
        self._queue: asyncio.Queue[_Batch | None] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and not self._closing

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        """Deliver alerts a previous run left undelivered, then start the worker."""
        await asyncio.to_thread(self.alerter.deliver_pending)
        self._task = asyncio.create_task(self._work(), name="hybridwatch-pipeline")
        self._retry_task = asyncio.create_task(self._retry_alerts(), name="hybridwatch-alerts")

    async def _retry_alerts(self) -> None:
        """Every `alert_retry` seconds: deliver what is still undelivered (a channel was
        down, or alerts waited for their hourly budget)."""
        while True:
            await asyncio.sleep(self.alert_retry)
            try:
                await asyncio.to_thread(self.alerter.deliver_pending)
            except Exception as err:  # the store is busy or gone: try again next round
                self._remember(f"retrying undelivered alerts failed: {err}")
                log.error("retrying undelivered alerts failed: %s", err)

    async def publish(self, articles: Sequence[Article]) -> None:
        """Return once the batch is durable in SQLite; raise if it could not be stored."""
        if not articles:
            return
        if self._closing or self._task is None or self._task.done():
            raise RuntimeError("the pipeline is not running (shutting down)")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Batch(tuple(articles), done))
        await done

    async def drain_and_stop(self) -> None:
        """Process everything queued, then stop the worker (idempotent)."""
        self._closing = True
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
            self._retry_task = None
        if self._task is not None:
            if not self._task.done():
                await self._queue.put(None)
                await self._task
            self._task = None
        if self._owns_dead_letters:
            self.dead_letters.close()

    async def _work(self) -> None:
        while True:
            batch = await self._queue.get()
            if batch is None:
                return
            try:
                new_alerts = await asyncio.to_thread(self._process, batch.articles)
            except Exception as err:  # the store failed: the poller will retry the batch
                self.stats.write_errors += 1
                self._remember(f"storing {len(batch.articles)} article(s) failed: {err}")
                log.error("storing a batch of %d article(s) failed: %s", len(batch.articles), err)
                if not batch.done.done():
                    batch.done.set_exception(err)
                continue
            if not batch.done.done():
                batch.done.set_result(None)
            if new_alerts:
                try:
                    await asyncio.to_thread(self.alerter.deliver, new_alerts)
                except Exception as err:  # stays in the outbox; retried on the next start
                    self._remember(f"delivering {len(new_alerts)} alert(s) failed: {err}")
                    log.error("delivering %d alert(s) failed: %s", len(new_alerts), err)

    def _process(self, articles: tuple[Article, ...]) -> list[Alert]:
        if self.before_batch is not None:
            try:
                self.before_batch()
            except Exception as err:  # e.g. a reload failed: detect with what is loaded
                self._remember(f"before-batch hook failed: {err}")
                log.error("before-batch hook failed: %s", err)
        result = run_batch(
            self.suite, self.alerter.subscriptions, articles, self.state, self.alerter.replay
        )
        failures = result.failures
        for failure in failures:
            # the article is stored without signals and quarantined; say loudly which one
            self.stats.detector_errors += 1
            article = failure.article
            msg = f"detectors failed on article {article.id} ({article.url}): {failure.detail}"
            self._remember(msg)
            log.error(msg, exc_info=failure.error)
        # dead letters first, durably: a crash before the batch's commit re-processes
        # the batch, the article fails again and its row is counted again, never lost
        self.dead_letters.put([DeadLetter(f.article, f.reason, f.detail) for f in failures])
        changes = result.state_changes
        signals = result.signals
        new_alerts = self.store.write_batch(
            articles, signals, result.alerts, changes.writes, changes.deletes
        )
        changes.apply_to(self.state)  # only now: the state matches what is stored
        flagged = sum(1 for d in result.detections if d.flagged)
        self.stats.batches += 1
        self.stats.articles += len(articles)
        self.stats.signals += len(signals)
        self.stats.flagged += flagged
        self.stats.alerts_new += len(new_alerts)
        self.stats.last_batch_at = time.time()
        if self.archive is not None:
            try:
                self.archive.append(articles)
            except Exception as err:  # stored in SQLite all the same: say so, go on
                self.stats.archive_errors += 1
                self._remember(f"archiving {len(articles)} article(s) failed: {err}")
                log.error("archiving a batch of %d article(s) failed: %s", len(articles), err)
        return new_alerts

    def _remember(self, message: str) -> None:
        self.stats.errors.append(message)
        del self.stats.errors[:-50]
