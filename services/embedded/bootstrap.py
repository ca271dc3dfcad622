"""Composition root of the embedded runtime: every client is created here, once.

`build(settings)` turns the frozen Settings into the running parts (store, ingest
state, detector suite, alerter, pipeline, poller, API app). Nothing else in the
runtime constructs a client, so tests can build the same graph from a Settings
pointing at a temp dir, and a later runtime can swap one part without touching
the others.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.pipeline import DetectorSuite
from hybridwatch.config import ConfigError, Settings, SourceConfig, load_sources
from ingest.archive import Archive, ArchiveError
from services.alerts.alerter import Alerter
from services.alerts.notifier import ConsoleNotifier, JsonlNotifier, Notifier
from services.alerts.subscriptions import all_subscriptions, build_channels
from services.embedded.pipeline import EmbeddedPipeline
from services.store.sqlite import SqliteStore, StoreSchemaError

log = logging.getLogger(__name__)

ALERTS_FILE = "alerts.jsonl"


@dataclass
class Embedded:
    settings: Settings
    sources: tuple[SourceConfig, ...]
    store: SqliteStore
    ingest_state: Any
    suite: DetectorSuite
    alerter: Alerter
    pipeline: EmbeddedPipeline
    poller: Any
    started_at: float = field(default_factory=time.time)

    def source_health(self) -> list[dict[str, Any]]:
        return [h.to_dict() for h in self.ingest_state.health(self.sources)]

    def runtime_status(self) -> dict[str, Any]:
        last = self.ingest_state.last_report() or {}
        return {
            "last_poll": {k: v for k, v in last.items() if k != "outcomes"} or None,
            "healthy": self.pipeline.running,
            "queue_depth": self.pipeline.queue_depth,
            "pipeline": self.pipeline.stats.to_dict(),
            "alerts": {
                "delivered": self.alerter.delivered,
                "failed": self.alerter.failed,
                "digests": self.alerter.digests,
                "held": self.alerter.held,
            },
            "detectors": [d.name for d in self.suite.detectors],
            "data_dir": str(self.settings.data_dir),
        }

    def create_app(self) -> Any:
        from services.api.app import create_app

        return create_app(
            self.store, self.source_health, self.runtime_status, started_at=self.started_at
        )

    async def aclose(self) -> None:
        """Stop in dependency order: poller, then drain the pipeline, then storage."""
        try:
            await self.poller.aclose()
        finally:
            try:
                await self.pipeline.drain_and_stop()
            finally:
                self.alerter.close()
                self.ingest_state.close()
                self.store.close()
                if self.pipeline.archive is not None:
                    self.pipeline.archive.close()


def build_suite(settings: Settings) -> DetectorSuite:
    d = settings.detectors
    try:
        return DetectorSuite.from_config(d.enabled, d.options, d.flag_threshold)
    except ValueError as err:  # DetectorConfigError names the detector and the option
        raise ConfigError(f"invalid detector configuration: {err}") from err


def build_alerter(
    settings: Settings, store: SqliteStore, data_dir: Path, replay: bool = False
) -> Alerter:
    """`replay`: alerts raised are marked as a replay of history (hybridwatch replay)."""
    notifiers: list[Notifier] = []
    if settings.alerts.console:
        notifiers.append(ConsoleNotifier())
    if settings.alerts.jsonl:
        notifiers.append(JsonlNotifier(data_dir / ALERTS_FILE))
    return Alerter(
        all_subscriptions(settings),
        notifiers,
        store,
        replay=replay,
        channels=build_channels(settings),
    )


def open_store(settings: Settings) -> SqliteStore:
    """The embedded store in `data_dir`; ConfigError names the directory and the cause."""
    data_dir = Path(settings.data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteStore.open(data_dir)
    except StoreSchemaError as err:
        raise ConfigError(f"data_dir: {err}") from err
    except (OSError, sqlite3.Error) as err:
        raise ConfigError(
            f"data_dir: cannot use {data_dir.resolve()} for the store: {err}"
        ) from err


def open_archive(settings: Settings) -> Archive:
    try:
        return Archive(settings.archive_dir)
    except ArchiveError as err:
        raise ConfigError(f"archive.dir: {err}") from err


def build(settings: Settings) -> Embedded:
    from ingest.poller import Poller
    from ingest.state import IngestState

    sources = load_sources(settings)
    suite = build_suite(settings)  # before opening files: a bad option fails fast
    data_dir = Path(settings.data_dir)
    store = open_store(settings)
    try:
        ingest_state = IngestState.open(data_dir)
    except (OSError, sqlite3.Error) as err:
        store.close()
        raise ConfigError(
            f"data_dir: cannot use {data_dir.resolve()} for ingest state: {err}"
        ) from err
    except BaseException:
        store.close()
        raise
    try:
        archive = open_archive(settings) if settings.archive.embedded else None
    except BaseException:
        ingest_state.close()
        store.close()
        raise
    alerter = build_alerter(settings, store, data_dir)
    pipeline = EmbeddedPipeline(
        suite, store, alerter, alert_retry=settings.alerts.retry_seconds, archive=archive
    )
    poller = Poller(settings, sources, ingest_state, pipeline.publish)
    return Embedded(settings, sources, store, ingest_state, suite, alerter, pipeline, poller)
