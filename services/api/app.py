"""FastAPI app factory for the embedded runtime (and any Store implementation).

Everything the app talks to is passed in (`create_app(store, health_provider, ...)`);
the composition root creates the clients, nothing here does at import time. Route
handlers are plain `def`s, so FastAPI runs them in its thread pool and a slow query
never blocks the event loop the pipeline shares with the server.

Errors are for humans: a bad parameter gives 422 with `error` naming the parameter
and the reason; a time that does not parse gives 400 naming the parameter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from importlib import resources
from typing import Annotated, Any, Literal, Protocol

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from hybridwatch import __version__
from services.api.timeparse import TimeParseError, parse_optional
from services.store.base import ArticleQuery, SignalQuery, Store

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
) -> FastAPI:
    started = time.time() if started_at is None else started_at
    app = FastAPI(
        title="hybridwatch",
        version=version,
        description="Western Balkans disinformation and hybrid-threat signals: articles, "
        "signals with their evidence, source health.",
    )

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

    @app.get("/api/articles", tags=["data"], summary="Search articles (either script)")
    def articles(
        q: Annotated[str | None, Query(description="free text; Cyrillic and Latin match")] = None,
        country: Country = None,
        detector: str | None = None,
        narrative: str | None = None,
        since: Since = None,
        until: Until = None,
        flagged: bool = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        t0, t1 = _window(since, until)
        hits = store.search_articles(
            ArticleQuery(
                text=q,
                country=country.upper() if country else None,
                detector=detector,
                narrative=narrative,
                since=t0,
                until=t1,
                flagged_only=flagged,
                limit=limit,
                offset=offset,
            )
        )
        return {"count": len(hits), "offset": offset, "items": [h.to_dict() for h in hits]}

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
        found = store.get_signals(
            SignalQuery(
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
        )
        return {"count": len(found), "offset": offset, "items": [s.to_dict() for s in found]}

    @app.get("/api/alerts", tags=["data"], summary="Alerts raised, newest first")
    def alerts(
        country: Country = None,
        subscription: str | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        found = store.get_alerts(limit, offset, country=country, subscription=subscription)
        return {"count": len(found), "offset": offset, "items": [a.to_dict() for a in found]}

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

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def live() -> HTMLResponse:
        return HTMLResponse(_live_page())

    return app
