"""Serving the API and page over any configured store (`hybridwatch api`).

Production analysts get the same app `hybridwatch run` serves, over the search
engine the indexer fills: `build_app(settings, store)` wires create_app with the
configuration's flag threshold and poll intervals, and with source health read from
this machine's ingest state (`<data_dir>/ingest.sqlite3`, written by `hybridwatch
ingest`) when there is one, else the configured sources with health "unknown".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from hybridwatch.config import Settings, SourceConfig, load_sources
from services.api.app import create_app
from services.api.claims import links_from_index_file
from services.api.security import secure_app


def configured_health(
    data_dir: Path, sources: Sequence[SourceConfig]
) -> Callable[[], list[dict[str, Any]]]:
    from ingest.state import FILE_NAME, IngestState

    path = Path(data_dir) / FILE_NAME

    def provider() -> list[dict[str, Any]]:
        if path.exists():
            state = IngestState.open(Path(data_dir))
            try:
                return [h.to_dict() for h in state.health(sources)]
            finally:
                state.close()
        return [
            {
                "id": s.id,
                "outlet": s.outlet,
                "country": s.country,
                "feed_url": s.feed_url,
                "status": "unknown" if s.enabled else "disabled",
                "last_error": None,
            }
            for s in sources
        ]

    return provider


def build_app(settings: Settings, store: Any) -> FastAPI:
    sources = load_sources(settings)
    kind = settings.store.kind
    app = create_app(
        store,
        configured_health(Path(settings.data_dir), sources),
        lambda: {"healthy": True, "store": kind},
        flag_threshold=settings.detectors.flag_threshold,
        poll_intervals={s.id: s.interval for s in sources},
        claim_links=links_from_index_file(),
    )
    return secure_app(app, settings)  # tokens, roles, limits, headers (docs/security.md)


def serve(app: FastAPI, host: str, port: int) -> None:
    """Blocks until SIGINT/SIGTERM (uvicorn's own signal handling)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
