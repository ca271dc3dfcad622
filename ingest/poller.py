"""The poller: fetch every due source, turn new items into Articles, publish, record.

Per source, in this order (the no-data-loss rule):

1. fetch with the stored validators (ETag / Last-Modified);
2. 304, or a body whose sha256 equals the stored content hash -> nothing to do;
3. parse, derive ids, drop ids already in the seen-store, normalise the rest
   (in a worker thread: CPU-bound, keeps the event loop and timeouts honest);
4. `publish` the new articles;
5. only after `publish` returned: store the ids as seen and the new validators,
   in one transaction (IngestState.record_success).

If publish raises, the source records the error and nothing advances, so the next
poll refetches (no conditional headers can hide the items: the old validators
are still stored) and publishes the same items again. A broken source (any
FetchError / ParseError / bug) only ever affects itself: it gets a clear error
and an exponential back-off, the others carry on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from hybridwatch.config import Settings, SourceConfig
from hybridwatch.events import Article, format_time
from ingest import schedule
from ingest.fetch import Fetcher, FetchError, FetchResult
from ingest.normalise import EntryError, article_id_and_url, normalise, source_of
from ingest.parse import ParseError, RawEntry, parse_feed
from ingest.state import IngestState

log = logging.getLogger(__name__)

Outcome = Literal["new", "no-new-items", "not-modified", "unchanged", "error", "abandoned"]


class Publish(Protocol):
    async def __call__(self, articles: Sequence[Article]) -> None:
        """Raise on failure; on a normal return the articles are durable downstream."""


@dataclass(frozen=True)
class SourceOutcome:
    source_id: str
    outcome: Outcome
    status_code: int | None = None
    articles_new: int = 0
    articles_seen_before: int = 0
    items_rejected: int = 0
    error: str | None = None
    warning: str | None = None
    duration_ms: int = 0
    next_poll: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PollReport:
    started: datetime
    finished: datetime
    outcomes: list[SourceOutcome] = field(default_factory=list)

    @property
    def sources_ok(self) -> int:
        return sum(1 for o in self.outcomes if o.outcome not in ("error", "abandoned"))

    @property
    def sources_failed(self) -> int:
        return sum(1 for o in self.outcomes if o.outcome == "error")

    @property
    def articles_new(self) -> int:
        return sum(o.articles_new for o in self.outcomes)

    @property
    def articles_seen_before(self) -> int:
        return sum(o.articles_seen_before for o in self.outcomes)

    def outcome(self, source_id: str) -> SourceOutcome:
        for o in self.outcomes:
            if o.source_id == source_id:
                return o
        raise KeyError(source_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "started": format_time(self.started),
            "finished": format_time(self.finished),
            "sources_ok": self.sources_ok,
            "sources_failed": self.sources_failed,
            "articles_new": self.articles_new,
            "articles_seen_before": self.articles_seen_before,
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


@dataclass(frozen=True)
class _Prepared:
    articles: list[Article]
    """New articles only (not in the seen-store), in feed order."""
    seen_before: int
    rejected: list[str]
    warnings: list[str]


def _prepare(
    body: bytes,
    content_type: str | None,
    source: SourceConfig,
    fetched: datetime,
    url: str,
    state: IngestState,
) -> _Prepared:
    """Parse one feed body, drop known items by id, normalise the rest (worker thread).

    Ids come from the canonical URL / GUID alone, so the seen-store is consulted
    before the expensive steps (HTML to text, language, folding): in the steady
    state almost every item of a changed feed is already known.
    """
    parsed = parse_feed(body, content_type)
    rejected: list[str] = []
    identified: dict[str, RawEntry] = {}
    for entry in parsed.entries:
        try:
            article_id, _ = article_id_and_url(entry, url)
        except EntryError as err:
            rejected.append(str(err))
            continue
        identified.setdefault(article_id, entry)  # the same link twice in one feed
    fresh = state.unseen(list(identified))
    src_event = source_of(source)
    articles: list[Article] = []
    for article_id, entry in identified.items():
        if article_id not in fresh:
            continue
        try:
            articles.append(normalise(entry, source, fetched, url, src_event))
        except (EntryError, ValueError) as err:
            rejected.append(str(err))
    warnings = list(parsed.warnings)
    if rejected:
        warnings.append(
            f"{len(rejected)} item(s) rejected: {rejected[0]}"
            + (" ..." if len(rejected) > 1 else "")
        )
    return _Prepared(articles, len(identified) - len(fresh), rejected, warnings)


_WORKER_STATES: dict[str, IngestState] = {}


def _warm_worker() -> None:
    """Process-pool initializer: load the language model once per worker."""
    from ingest.language import detect_language

    detect_language("warm up the language model in this worker process", "sr")


def _prepare_in_worker(
    body: bytes,
    content_type: str | None,
    source: SourceConfig,
    fetched: datetime,
    url: str,
    data_dir: str,
) -> _Prepared:
    """`_prepare` in a worker process, reading the seen-store through its own connection.

    SQLite WAL lets this reader run beside the poller's writer; it sees every
    commit made before the poll started, which is all the dedup needs.
    """
    state = _WORKER_STATES.get(data_dir)
    if state is None:
        state = _WORKER_STATES[data_dir] = IngestState.open(Path(data_dir))
    return _prepare(body, content_type, source, fetched, url, state)


class _Stopping(Exception):
    """Raised inside a source task when the poller stops before publish."""


class Poller:
    """Polls the configured sources; see the module docstring for the guarantees."""

    def __init__(
        self,
        settings: Settings,
        sources: Sequence[SourceConfig],
        state: IngestState,
        publish: Publish,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.sources = tuple(sources)
        self.state = state
        self.publish = publish
        self._clock = clock or (lambda: datetime.now(UTC))
        self._fetcher: Fetcher | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._stopping = False
        self._in_flight: set[str] = set()
        self.on_round: Callable[[PollReport], None] | None = None
        """Called by `run` with the report of every round (the first one: every due source)."""
        self.state.sync_sources(self.sources)

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:  # created on first use, inside the running loop
            self._fetcher = Fetcher(self.settings.ingest)
        return self._fetcher

    async def aclose(self) -> None:
        if self._fetcher is not None:
            await self._fetcher.aclose()
            self._fetcher = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def _prepare(
        self, result: FetchResult, source: SourceConfig, fetched: datetime
    ) -> _Prepared:
        """Parse+normalise in a thread, or in the process pool when ingest.parse_processes > 0."""
        workers = self.settings.ingest.parse_processes
        if workers == 0:
            return await asyncio.to_thread(
                _prepare, result.body, result.content_type, source, fetched, result.url, self.state
            )
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_worker,
            )
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._pool,
                _prepare_in_worker,
                result.body,
                result.content_type,
                source,
                fetched,
                result.url,
                str(self.state.path.parent),
            )
        except BrokenProcessPool:
            self._pool = (
                None  # a worker died (e.g. killed for memory): start a fresh pool next time
            )
            raise

    # -- one pass -------------------------------------------------------------------

    async def poll_once(self) -> PollReport:
        """Poll every enabled source once (limits apply), publish new articles."""
        return await self._poll([s for s in self.sources if s.enabled])

    async def _poll(self, sources: Sequence[SourceConfig]) -> PollReport:
        started = self._clock()
        outcomes = await asyncio.gather(*(self.poll_source(s) for s in sources))
        report = PollReport(started, self._clock(), list(outcomes))
        self.state.record_report(report.to_dict(), report.finished)
        log.info(
            "poll: %d sources ok, %d failed, %d new articles",
            report.sources_ok,
            report.sources_failed,
            report.articles_new,
        )
        return report

    async def poll_source(self, source: SourceConfig) -> SourceOutcome:
        """Poll one source; never raises (except cancellation)."""
        t0 = time.perf_counter()
        self._in_flight.add(source.id)
        try:
            return await self._poll_source(source, t0)
        except _Stopping:
            return SourceOutcome(source.id, "abandoned", duration_ms=self._ms(t0))
        except Exception as err:  # a bug for one feed must not stop the others
            log.exception("unexpected error polling %s", source.id)
            return self._fail(
                source, f"internal error: {type(err).__name__}: {err}", None, None, t0
            )
        finally:
            self._in_flight.discard(source.id)

    @staticmethod
    def _ms(t0: float) -> int:
        return int((time.perf_counter() - t0) * 1000)

    def _fail(
        self,
        source: SourceConfig,
        error: str,
        status_code: int | None,
        retry_after: float | None,
        t0: float,
    ) -> SourceOutcome:
        now = self._clock()
        failures = self.state.get(source.id).consecutive_failures + 1
        delay = schedule.failure_delay(
            source.id, source.interval, failures, self.settings.ingest, retry_after
        )
        next_poll = schedule.next_time(now, delay)
        self.state.record_failure(
            source.id, at=now, error=error, next_poll=next_poll, status_code=status_code
        )
        log.warning("source %s failed (%d in a row): %s", source.id, failures, error)
        return SourceOutcome(
            source.id,
            "error",
            status_code=status_code,
            error=error,
            duration_ms=self._ms(t0),
            next_poll=format_time(next_poll),
        )

    async def _poll_source(self, source: SourceConfig, t0: float) -> SourceOutcome:
        st = self.state.get(source.id)
        try:
            result = await self.fetcher.fetch(source.feed_url, st.etag, st.last_modified)
        except FetchError as err:
            return self._fail(source, str(err), err.status_code, err.retry_after, t0)
        fetched = self._clock()
        if result.not_modified:
            return self._unchanged(
                source, st.unchanged_streak, "not-modified", result.status_code, t0
            )
        digest = hashlib.sha256(result.body).hexdigest()
        if st.content_hash == digest:
            return self._unchanged(source, st.unchanged_streak, "unchanged", result.status_code, t0)
        try:
            prepared = await self._prepare(result, source, fetched)
        except ParseError as err:
            return self._fail(source, f"{err} (from {result.url})", result.status_code, None, t0)
        warning = "; ".join(prepared.warnings) or None
        new = prepared.articles
        if new:
            if self._stopping:
                raise _Stopping
            try:
                await self.publish(new)
            except Exception as err:
                return self._fail(
                    source,
                    f"publish failed for {len(new)} article(s): {type(err).__name__}: {err}",
                    result.status_code,
                    None,
                    t0,
                )
        validators = (result.etag, result.last_modified, digest)
        streak = 0 if new else st.unchanged_streak + 1
        now = self._clock()
        delay = schedule.success_delay(source.id, source.interval, streak, self.settings.ingest)
        next_poll = schedule.next_time(now, delay)
        self.state.record_success(
            source.id,
            at=now,
            next_poll=next_poll,
            status_code=result.status_code,
            published_ids=[a.id for a in new],
            validators=validators,
            changed=bool(new),
            warning=warning,
        )
        if warning:
            log.warning("source %s: %s", source.id, warning)
        return SourceOutcome(
            source.id,
            "new" if new else "no-new-items",
            status_code=result.status_code,
            articles_new=len(new),
            articles_seen_before=prepared.seen_before,
            items_rejected=len(prepared.rejected),
            warning=warning,
            duration_ms=self._ms(t0),
            next_poll=format_time(next_poll),
        )

    def _unchanged(
        self, source: SourceConfig, streak: int, outcome: Outcome, code: int, t0: float
    ) -> SourceOutcome:
        now = self._clock()
        delay = schedule.success_delay(source.id, source.interval, streak + 1, self.settings.ingest)
        next_poll = schedule.next_time(now, delay)
        self.state.record_success(
            source.id,
            at=now,
            next_poll=next_poll,
            status_code=code,
            changed=False,
            keep_warning=True,
        )
        return SourceOutcome(
            source.id,
            outcome,
            status_code=code,
            duration_ms=self._ms(t0),
            next_poll=format_time(next_poll),
        )

    # -- forever ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Poll on the adaptive schedule until `stop` is set.

        On stop, no new poll starts; in-flight polls finish their fetch and parse,
        but a poll that has not yet called publish is abandoned (nothing recorded),
        and one inside publish is awaited so nothing is marked seen unpublished.
        Health is persisted per source as each poll ends; a PollReport is persisted
        whenever the set of in-flight polls drains (one "round").
        """
        self._stopping = False
        tasks: dict[str, asyncio.Task[SourceOutcome]] = {}
        due: dict[str, datetime | None] = {
            s.id: self.state.get(s.id).next_poll for s in self.sources if s.enabled
        }
        by_id = {s.id: s for s in self.sources}
        round_outcomes: list[SourceOutcome] = []
        round_started = self._clock()
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                now = self._clock()
                wake: float | None = None
                for sid, when in due.items():
                    if sid in tasks:
                        continue
                    if when is None or when <= now:
                        if not tasks and not round_outcomes:
                            round_started = now
                        tasks[sid] = asyncio.create_task(
                            self.poll_source(by_id[sid]), name=f"poll:{sid}"
                        )
                    else:
                        delta = (when - now).total_seconds()
                        wake = delta if wake is None else min(wake, delta)
                waiters: set[asyncio.Future[Any]] = {stop_wait, *tasks.values()}
                timeout = None if wake is None else max(0.05, wake)
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for sid, task in list(tasks.items()):
                    if not task.done():
                        continue
                    del tasks[sid]
                    due[sid] = self.state.get(sid).next_poll
                    if not task.cancelled() and task.exception() is None:
                        round_outcomes.append(task.result())
                    elif not task.cancelled():
                        log.error("poll task %s crashed: %r", sid, task.exception())
                if not tasks and round_outcomes:
                    report = PollReport(round_started, self._clock(), round_outcomes)
                    self.state.record_report(report.to_dict(), report.finished)
                    round_outcomes = []
                    if self.on_round is not None:
                        self.on_round(report)
        finally:
            self._stopping = True
            stop_wait.cancel()
            if tasks:
                await asyncio.gather(*tasks.values(), return_exceptions=True)
