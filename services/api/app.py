"""FastAPI app factory for the embedded runtime (and any Store implementation).

Everything the app talks to is passed in (`create_app(store, health_provider, ...)`);
the composition root creates the clients, nothing here does at import time. Route
handlers are plain `def`s, so FastAPI runs them in its thread pool and a slow query
never blocks the event loop the pipeline shares with the server.

Errors are for humans: a bad parameter gives 422 with `error` naming the parameter
and the reason, and so does a parameter the endpoint does not know (a typo such as
`?flaged=true` must not silently return everything) or one given twice; a time that
does not parse gives 400 naming the parameter.

The same app serves the embedded runtime (`hybridwatch run`, SQLite) and production
(`hybridwatch api`, the search engine): everything goes through the Store port.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any, Literal, Protocol

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from hybridwatch import __version__
from services.api import coverage as cov
from services.api.timeparse import TimeParseError, parse_optional
from services.store.base import (
    DEFAULT_FLAG_THRESHOLD,
    ArticleQuery,
    SignalQuery,
    Store,
    Triage,
    TriageQuery,
)

HealthProvider = Callable[[], list[dict[str, Any]]]
StatusProvider = Callable[[], dict[str, Any]]


class DeadLetterSource(Protocol):
    """The embedded runtime's dead letters (services/store/dead_letters.py)."""

    def recent(self, limit: int = 100, offset: int = 0) -> Sequence[Any]: ...

    def count(self) -> int: ...


Country = Annotated[
    str | None,
    Query(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 code, e.g. RS or MK"),
]
Since = Annotated[str | None, Query(description="RFC 3339 time or YYYY-MM-DD (inclusive)")]
Until = Annotated[
    str | None, Query(description="RFC 3339 time (exclusive) or YYYY-MM-DD (whole day included)")
]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
SeverityParam = Annotated[Literal["low", "medium", "high", "critical"] | None, Query()]
TriageStatus = Literal["confirmed", "false_positive", "needs_review"]
TriageFilter = Annotated[
    Literal["confirmed", "false_positive", "needs_review", "none"] | None,
    Query(description="triage status of the article or one of its signals; none: not triaged"),
]
STIX_MAX_ARTICLES = 10_000


def _query_names(dependant: Any) -> set[str]:
    names = {str(f.alias) for f in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


class StrictQueryRoute(APIRoute):
    """A route that refuses query parameters it does not declare, and repeated ones,
    with the same 422 shape as any other invalid parameter."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self.include_in_schema:  # the page: its query string is the page's own state
            return handler
        known = _query_names(self.dependant)

        async def strict(request: Request) -> Response:
            errors: list[dict[str, Any]] = []
            seen: set[str] = set()
            for name, value in request.query_params.multi_items():
                if name not in known:
                    expected = ", ".join(sorted(known)) or "none"
                    errors.append(
                        {
                            "loc": ("query", name),
                            "msg": f"unknown parameter (this endpoint takes: {expected})",
                            "type": "extra_forbidden",
                            "input": value,
                        }
                    )
                elif name in seen:
                    errors.append(
                        {
                            "loc": ("query", name),
                            "msg": "given more than once",
                            "type": "duplicate",
                            "input": value,
                        }
                    )
                seen.add(name)
            if errors:
                raise RequestValidationError(errors)
            return await handler(request)

        return strict


class TriageIn(BaseModel):
    """An analyst's verdict: on the article, or on one of its signals (`signal_id`)."""

    model_config = ConfigDict(extra="forbid")
    article_id: str = Field(min_length=1, max_length=512)
    signal_id: str | None = Field(default=None, min_length=1, max_length=512)
    status: TriageStatus
    note: str = Field(default="", max_length=4000)
    analyst: str = Field(default="", max_length=200)


def _claim_link(claim_id: str, links: Callable[[str], str | None] | None) -> str | None:
    """The claim's link from the index, else the id itself when it is a URL (EUvsDisinfo
    case ids are their case pages)."""
    found = links(claim_id) if links is not None else None
    if found:
        return found
    return claim_id if claim_id.startswith(("http://", "https://")) else None


def _page(total: int, offset: int, limit: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    nxt = offset + len(items)
    return {
        "total": total,
        "count": len(items),
        "offset": offset,
        "limit": limit,
        "next_offset": nxt if nxt < total else None,
        "items": items,
    }


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    try:
        return (
            parse_optional(since, name="since"),
            parse_optional(until, name="until", upper=True),
        )
    except TimeParseError as err:
        raise HTTPException(status_code=400, detail=str(err)) from None


def _live_page() -> str:
    return resources.files("services.api").joinpath("static/live.html").read_text("utf-8")


def create_app(
    store: Store,
    health_provider: HealthProvider,
    status_provider: StatusProvider | None = None,
    *,
    started_at: float | None = None,
    version: str = __version__,
    dead_letters: DeadLetterSource | None = None,
    flag_threshold: float = DEFAULT_FLAG_THRESHOLD,
    poll_intervals: Mapping[str, int] | None = None,
    clock: Callable[[], datetime] | None = None,
    claim_links: Callable[[str], str | None] | None = None,
) -> FastAPI:
    """`flag_threshold`: detectors.flag_threshold (an article is flagged at this risk);
    `poll_intervals`: configured seconds between polls per source id (coverage);
    `clock`: the current time (tests; coverage and triage timestamps);
    `claim_links`: claim id -> link of a known claim (services/api/claims.py)."""
    started = time.time() if started_at is None else started_at
    now = clock or (lambda: datetime.now(UTC))
    intervals = dict(poll_intervals or {})
    app = FastAPI(
        title="hybridwatch",
        version=version,
        description="Western Balkans disinformation and hybrid-threat signals: articles, "
        "signals with their evidence, triage, coverage gaps, STIX 2.1 export.",
    )
    app.router.route_class = StrictQueryRoute

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ()) if p not in ("query", "path", "body")]
            got = e.get("input")
            shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
            problems.append(f"{'.'.join(loc) or 'request'}: {e.get('msg')}{shown}")
        return JSONResponse(
            status_code=422,
            content={"error": "; ".join(problems), "detail": exc.errors()},
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"error": exc.detail})

    @app.get("/healthz", tags=["ops"], summary="Liveness, counts and uptime")
    def healthz() -> dict[str, Any]:
        """`status` is "degraded" when the runtime reports itself unhealthy (e.g. the
        pipeline worker stopped); HTTP stays 200 so the body is always readable."""
        sources = health_provider()
        failing = [s["id"] for s in sources if s.get("status") == "failing"]
        runtime = status_provider() if status_provider is not None else None
        healthy = runtime is None or bool(runtime.get("healthy", True))
        body: dict[str, Any] = {
            "status": "ok" if healthy else "degraded",
            "version": version,
            "uptime_seconds": round(time.time() - started, 3),
            "counts": {
                "articles": store.count_articles(),
                "signals": sum(store.count_signals(SignalQuery(), "severity").values()),
                "sources": len(sources),
                "sources_failing": len(failing),
            },
        }
        if runtime is not None:
            body["runtime"] = runtime
        return body

    def _article_query(
        q: str | None,
        country: str | None,
        detector: str | None,
        narrative: str | None,
        since: str | None,
        until: str | None,
        flagged: bool,
        triage: str | None,
        limit: int = 50,
        offset: int = 0,
        severity: str | None = None,
    ) -> ArticleQuery:
        t0, t1 = _window(since, until)
        return ArticleQuery(
            text=q,
            country=country.upper() if country else None,
            detector=detector,
            narrative=narrative,
            severity=severity,
            since=t0,
            until=t1,
            flagged_only=flagged,
            flag_threshold=flag_threshold,
            triage=triage,
            limit=limit,
            offset=offset,
        )

    @app.get("/api/articles", tags=["data"], summary="Search articles (either script)")
    def articles(
        q: Annotated[
            str | None,
            Query(
                max_length=500,
                description="free text: words match inflected forms in either script; "
                'pre* is a prefix; "a b" a phrase',
            ),
        ] = None,
        country: Country = None,
        detector: str | None = None,
        narrative: str | None = None,
        since: Since = None,
        until: Until = None,
        flagged: Annotated[
            bool, Query(description="only articles whose risk reaches the flag threshold")
        ] = False,
        triage: TriageFilter = None,
        severity: Annotated[
            SeverityParam, Query(description="has a signal of exactly this severity")
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Newest first. Every article carries `risk`, `flagged`, its `signals` (rule,
        score, evidence spans) and its `triage` verdicts; `total` counts all matches."""
        query = _article_query(
            q, country, detector, narrative, since, until, flagged, triage, limit, offset, severity
        )
        hits = store.search_articles(query)
        return _page(store.count_matching(query), offset, limit, [h.to_dict() for h in hits])

    @app.get("/api/articles/{article_id}", tags=["data"], summary="One article, all its signals")
    def article(article_id: str) -> dict[str, Any]:
        hit = store.get_article(article_id, flag_threshold)
        if hit is None:
            raise HTTPException(status_code=404, detail=f"article_id: no article {article_id!r}")
        body = hit.to_dict()
        claims = sorted(
            {str(s.details["claim_id"]) for s in hit.signals if s.details.get("claim_id")}
        )
        body["claim_links"] = {c: _claim_link(c, claim_links) for c in claims}
        return body

    @app.get("/api/signals", tags=["data"], summary="Signals with their evidence, newest first")
    def signals(
        country: Country = None,
        detector: str | None = None,
        narrative: str | None = None,
        severity: SeverityParam = None,
        article_id: str | None = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        t0, t1 = _window(since, until)
        query = SignalQuery(
            country=country.upper() if country else None,
            detector=detector,
            narrative=narrative,
            severity=severity,
            article_id=article_id,
            since=t0,
            until=t1,
            limit=limit,
            offset=offset,
        )
        found = store.get_signals(query)
        total = sum(store.count_signals(query, "severity").values())
        return _page(total, offset, limit, [s.to_dict() for s in found])

    @app.get("/api/alerts", tags=["data"], summary="Alerts raised, newest first")
    def alerts(
        country: Country = None,
        subscription: str | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        found = store.get_alerts(limit, offset, country=country, subscription=subscription)
        total = store.count_alerts(country=country, subscription=subscription)
        return _page(total, offset, limit, [a.to_dict() for a in found])

    @app.get("/api/dead-letters", tags=["ops"], summary="Articles the detectors failed on")
    def dead_letter_list(limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
        """Newest failure first: the article, the reason and error, how often it failed.

        Such an article is stored without signals and changed no detector state."""
        if dead_letters is None:
            raise HTTPException(
                status_code=404,
                detail="this runtime keeps no dead-letter table (the Kafka runtime's dead "
                "letters are on the hw.dead-letter topic)",
            )
        found = dead_letters.recent(limit, offset)
        return {
            "count": len(found),
            "total": dead_letters.count(),
            "offset": offset,
            "items": [d.to_dict() for d in found],
        }

    @app.get("/api/sources", tags=["ops"], summary="Source health (last success, errors)")
    def sources() -> dict[str, Any]:
        items = health_provider()
        return {"count": len(items), "items": items}

    @app.get("/api/stats", tags=["data"], summary="Signal counts for the live page")
    def stats(
        country: Country = None,
        detector: str | None = None,
        narrative: str | None = None,
        since: Since = None,
        until: Until = None,
    ) -> dict[str, Any]:
        t0, t1 = _window(since, until)
        query = SignalQuery(
            country=country.upper() if country else None,
            detector=detector,
            narrative=narrative,
            since=t0,
            until=t1,
        )
        by = ("country", "detector", "narrative", "severity", "day")
        return {
            "articles": store.count_articles(),
            "signals": {key: store.count_signals(query, key) for key in by},
        }

    @app.post("/api/triage", tags=["triage"], summary="Mark an article or a signal")
    def triage_post(body: TriageIn) -> dict[str, Any]:
        """Stores the verdict (one per target: marking again replaces it) in the store's
        own triage table/index, which article writes and replays never touch."""
        hit = store.get_article(body.article_id, flag_threshold)
        if hit is None:
            raise HTTPException(
                status_code=404, detail=f"article_id: no article {body.article_id!r}"
            )
        if body.signal_id is not None and body.signal_id not in {s.id for s in hit.signals}:
            raise HTTPException(
                status_code=404,
                detail=f"signal_id: article {body.article_id!r} has no signal {body.signal_id!r}",
            )
        verdict = Triage(
            target="signal" if body.signal_id else "article",
            target_id=body.signal_id or body.article_id,
            article_id=body.article_id,
            status=body.status,
            note=body.note,
            analyst=body.analyst,
            updated=now(),
        )
        store.put_triage([verdict])
        return verdict.to_dict()

    @app.get("/api/triage", tags=["triage"], summary="Triage verdicts, newest first")
    def triage_list(
        status: Annotated[TriageStatus | None, Query()] = None,
        target: Annotated[Literal["article", "signal"] | None, Query()] = None,
        article_id: str | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        query = TriageQuery(
            status=status, target=target, article_id=article_id, limit=limit, offset=offset
        )
        items = [t.to_dict() for t in store.get_triage(query)]
        return _page(store.count_triage(query), offset, limit, items)

    def _coverage(at: str | None) -> tuple[datetime, list[cov.SourceCoverage]]:
        try:
            when = parse_optional(at, name="at") or now()
        except TimeParseError as err:
            raise HTTPException(status_code=400, detail=str(err)) from None
        recent = {a.source_id: a for a in store.source_activity(when - cov.LOOKBACK)}
        # a source with nothing inside the look-back window still shows its last item
        for a in store.source_activity(None):
            if a.source_id not in recent:
                recent[a.source_id] = replace(a, articles=1, first=a.last)
        return when, cov.assess(list(recent.values()), health_provider(), intervals, when)

    @app.get("/api/coverage", tags=["ops"], summary="Silent and failing sources per country")
    def coverage(
        country: Country = None,
        at: Annotated[
            str | None, Query(description="judge silence at this time (default: now)")
        ] = None,
    ) -> dict[str, Any]:
        """Per source: last item, usual interval, silent/failing; per country: which
        sources are silent and which failing (see services/api/coverage.py)."""
        when, sources = _coverage(at)
        if country:
            sources = [s for s in sources if s.country == country.upper()]
        return {
            "at": when.isoformat().replace("+00:00", "Z"),
            "silent_factor": cov.SILENT_FACTOR,
            "countries": cov.by_country(sources),
            "items": [s.to_dict() for s in sources],
        }

    @app.get("/metrics", tags=["ops"], summary="Prometheus coverage gauges")
    def metrics() -> PlainTextResponse:
        _, sources = _coverage(None)
        return PlainTextResponse(
            cov.metrics_text(sources), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.get("/api/export/stix", tags=["export"], summary="Flagged articles as a STIX 2.1 bundle")
    def export_stix(
        since: Since = None,
        until: Until = None,
        country: Country = None,
    ) -> Response:
        from services.export.stix import bundle_json

        query = _article_query(None, country, None, None, since, until, True, None)
        hits = collect_hits(store, query, STIX_MAX_ARTICLES)
        return Response(bundle_json(hits), media_type="application/stix+json;version=2.1")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def live() -> HTMLResponse:
        return HTMLResponse(_live_page())

    return app


def collect_hits(store: Store, query: ArticleQuery, most: int) -> list[Any]:
    """Every article matching the query (paged), at most `most`."""
    out: list[Any] = []
    page = 500
    while len(out) < most:
        batch = store.search_articles(replace(query, limit=page, offset=len(out)))
        out.extend(batch)
        if len(batch) < page:
            break
    return out[:most]
