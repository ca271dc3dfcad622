"""Open the store named by `settings.store.kind` (the one place that picks an adapter).

sqlite -> services.store.sqlite (embedded, a file in data_dir); elasticsearch /
opensearch -> services.store.search_engine with the matching client library. Each
adapter is imported only when chosen, so the embedded runtime never imports an
engine client. Call once at start-up: the store holds the process's one client.
"""

from __future__ import annotations

from typing import Any

from hybridwatch.config import ConfigError, Settings


def open_store(settings: Settings, **options: Any) -> Any:
    """The Store for this process. `options` go to the engine store (e.g. refresh_on_write)."""
    kind = settings.store.kind
    if kind == "sqlite":
        from services.store.sqlite import SqliteStore

        return SqliteStore.open(settings.data_dir)
    if kind in ("elasticsearch", "opensearch"):
        from services.store.search_engine import SearchEngineStore

        return SearchEngineStore.open(settings.store, **options)
    raise ConfigError(f"store.kind: {kind!r} is not one of sqlite, elasticsearch, opensearch")
