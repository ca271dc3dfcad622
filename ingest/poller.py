"""The poller: fetch every due source, turn new items into Articles, publish, record.

Per source, in this order (the no-data-loss rule):

1. fetch with the stored validators (ETag / Last-Modified);
2. 304, or a body whose sha256 equals the stored content hash -> nothing to do;
3. parse + normalise (in a worker thread: CPU-bound, keeps timeouts honest);
4. drop ids already in the seen-store; `publish` the rest;
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
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from hybridwatch.config import Settings, SourceConfig
from hybridwatch.events import Article, format_time
from ingest import schedule
from ingest.fetch import Fetcher, FetchError
from ingest.normalise import EntryError, normalise, source_of
from ingest.parse import ParseError, parse_feed
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
    rejected: list[str]
    warnings: list[str]


def _prepare(body: bytes, content_type: str | None, source: SourceConfig, fetched: datetime, url: str) -> _Prepared:
    """Parse and normalise one feed body (runs in a worker thread)."""
    parsed = parse_feed(body, content_type)
    src_event = source_of(source)
    articles: list[Article] = []
    rejected: list[str] = []
    ids: set[str] = set()
    for entry in parsed.entries:
        try:
            article = normalise(entry, source, fetched, url, src_event)
        except (EntryError, ValueError) as err:
            rejected.append(str(err))
            continue
        if article.id not in ids:  # the same link twice in one feed
            ids.add(article.id)
            articles.append(article)
    warnings = list(parsed.warnings)
    if rejected:
        warnings.append(f"{len(rejected)} item(s) rejected: {rejected[0]}" + (" ..." if len(rejected) > 1 else ""))
    return _Prepared(articles, rejected, warnings)


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
        self._stopping = False
        self._in_flight: set[str] = set()
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
            report.sources_ok, report.sources_failed, report.articles_new,
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
            return self._fail(source, f"internal error: {type(err).__name__}: {err}", None, None, t0)
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
        delay = schedule.failure_delay(source.id, source.interval, failures, self.settings.ingest, retry_after)
        next_poll = schedule.next_time(now, delay)
        self.state.record_failure(source.id, at=now, error=error, next_poll=next_poll, status_code=status_code)
        log.warning("source %s failed (%d in a row): %s", source.id, failures, error)
        return SourceOutcome(
            source.id, "error", status_code=status_code, error=error,
            duration_ms=self._ms(t0), next_poll=format_time(next_poll),
        )

    async def _poll_source(self, source: SourceConfig, t0: float) -> SourceOutcome:
        st = self.state.get(source.id)
        try:
            result = await self.fetcher.fetch(source.feed_url, st.etag, st.last_modified)
        except FetchError as err:
            return self._fail(source, str(err), err.status_code, err.retry_after, t0)
        fetched = self._clock()
        if result.not_modified:
            return self._unchanged(source, st.unchanged_streak, "not-modified", result.status_code, t0)
        digest = hashlib.sha256(result.body).hexdigest()
        if st.content_hash == digest:
            return self._unchanged(source, st.unchanged_streak, "unchanged", result.status_code, t0)
        try:
            prepared = await asyncio.to_thread(
                _prepare, result.body, result.content_type, source, fetched, result.url
            )
        except ParseError as err:
            return self._fail(source, f"{err} (from {result.url})", result.status_code, None, t0)
        warning = "; ".join(prepared.warnings) or None
        fresh_ids = self.state.unseen([a.id for a in prepared.articles])
        new = [a for a in prepared.articles if a.id in fresh_ids]
        if new:
            if self._stopping:
                raise _Stopping
            try:
                await self.publish(new)
            except Exception as err:
                return self._fail(
                    source, f"publish failed for {len(new)} article(s): {type(err).__name__}: {err}",
                    result.status_code, None, t0,
                )
        validators = (result.etag, result.last_modified, digest)
        streak = 0 if new else st.unchanged_streak + 1
        now = self._clock()
        delay = schedule.success_delay(source.id, source.interval, streak, self.settings.ingest)
        next_poll = schedule.next_time(now, delay)
        self.state.record_success(
            source.id, at=now, next_poll=next_poll, status_code=result.status_code,
            published_ids=[a.id for a in new], validators=validators, changed=bool(new), warning=warning,
        )
        if warning:
            log.warning("source %s: %s", source.id, warning)
        return SourceOutcome(
            source.id, "new" if new else "no-new-items", status_code=result.status_code,
            articles_new=len(new), articles_seen_before=len(prepared.articles) - len(new),
            items_rejected=len(prepared.rejected), warning=warning,
            duration_ms=self._ms(t0), next_poll=format_time(next_poll),
        )

    def _unchanged(
        self, source: SourceConfig, streak: int, outcome: Outcome, code: int, t0: float
    ) -> SourceOutcome:
        now = self._clock()
        delay = schedule.success_delay(source.id, source.interval, streak + 1, self.settings.ingest)
        next_poll = schedule.next_time(now, delay)
        self.state.record_success(
            source.id, at=now, next_poll=next_poll, status_code=code, changed=False, keep_warning=True
        )
        return SourceOutcome(source.id, outcome, status_code=code, duration_ms=self._ms(t0), next_poll=format_time(next_poll))

    # -- forever ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Poll on the adaptive schedule until `stop` is set.

        On stop, no new poll starts; in-flight polls finish their fetch and parse,
        but a poll that has not yet called publish is abandoned (nothing recorded),
        and one inside publish is awaited so nothing is marked seen unpublished.
        """
        self._stopping = False
        tasks: dict[str, asyncio.Task[SourceOutcome]] = {}
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                now = self._clock()
                wake = None
                for s in self.sources:
                    if not s.enabled or s.id in tasks:
                        continue
                    due = self.state.get(s.id).next_poll
                    if due is None or due <= now:
                        tasks[s.id] = asyncio.create_task(self.poll_source(s), name=f"poll:{s.id}")
                    else:
                        delta = (due - now).total_seconds()
                        wake = delta if wake is None else min(wake, delta)
                waiters: set[asyncio.Future[Any]] = {stop_wait, *tasks.values()}
                timeout = None if wake is None else max(0.05, wake)
                done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for sid, task in list(tasks.items()):
                    if task.done():
                        del tasks[sid]
                        if not task.cancelled() and task.exception() is not None:
                            log.error("poll task %s crashed: %r", sid, task.exception())
        finally:
            self._stopping = True
            stop_wait.cancel()
            if tasks:
                await asyncio.gather(*tasks.values(), return_exceptions=True)
