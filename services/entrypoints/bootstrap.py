"""The composition root of every runtime: each client, store and suite is built here, once.

Part builders (one per part; every role uses these, nothing else constructs a client):

* `build_suite`            the detector suite (a bad `detectors.*` value -> ConfigError)
* `open_embedded_store`    the SQLite store in `data_dir` (embedded runtime, replay)
* `open_store`             the store named by `store.kind` (the one place that picks an adapter)
* `open_archive`           the article archive (`archive.dir`)
* `require_kafka`          the one "kafka.bootstrap required" check, naming the role
* `wait_for_engine`        open the engine store, waiting (bounded) while it is unreachable
* `kafka_consumer_clients` a role's manual-commit consumer + its dead-letter producer
* `kafka_publisher`        an acks=all idempotent publisher (ingest, replay)
* `kafka_dead_letter_clients` a group-less topic reader + a raw-record producer (dead-letters)
* `build_notifiers`, `build_alerter`, `open_alert_outbox`   the alerter and its channels
* `start_metrics`          the process's Prometheus registry, served on `metrics.port`
* `settle_heap`, `release_heap`  after start-up, what was built stays out of the cycle
                           collector until the role ends

Role builders (one per role) return the running parts of one command:
`build_embedded` (run), `build_replay_pipeline` (replay --to embedded), `build_worker`
(worker), `build_ingest` (ingest), `build_indexer` (indexer), `build_alert_delivery`
(alerter), `build_archiver` (archive); detect/eval use `build_suite`.

Heavy libraries (kafka-python, Faust, engine clients) are imported inside the builders, so
`hybridwatch detect` pays for none of them. Tests build the same graphs from a Settings
pointing at a temp dir.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hybridwatch.config import ConfigError, Settings, SourceConfig, load_sources
from services.retry import Backoff

if TYPE_CHECKING:
    from detectors.pipeline import DetectorSuite
    from ingest.archive import Archive
    from services.alerts.alerter import Alerter
    from services.alerts.notifier import Notifier
    from services.alerts.outbox import AlertOutbox
    from services.embedded.pipeline import EmbeddedPipeline
    from services.kafka.dead_letters import Reader
    from services.kafka.ports import Producer
    from services.kafka.producer import KafkaPublisher
    from services.metrics import Metrics
    from services.store.sqlite import SqliteStore
    from services.worker.app import WorkerApp

log = logging.getLogger(__name__)
_T = TypeVar("_T")

ALERTS_FILE = "alerts.jsonl"
ALERTER_DIR = "alerter"
"""The alerter's own folder under data_dir: its outbox and its alerts.jsonl."""


# --------------------------------------------------------------------------- parts


def settle_heap() -> int:
    """Move everything built so far out of the cycle collector's reach; how many objects.

    A long-running role calls it once its parts are built. The detector suite alone is
    ~175k container objects (claim index, lexicons, models) that live as long as the
    process; every full collection walked them all again, ~10 % of the suite's time on a
    long stream (bench/detect_bench.py's workload, measured with gc.callbacks). Frozen
    objects are still freed by reference counting, so only cycles among them would stay,
    and start-up objects are not garbage. Results are unchanged: the collector decides
    no detector output.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def release_heap() -> None:
    """Undo `settle_heap` when a role ends inside a longer-lived process (tests, the
    CLI's in-process callers): its objects become collectable again."""
    gc.unfreeze()


def build_suite(
    settings: Settings, extra_options: Mapping[str, Mapping[str, Any]] | None = None
) -> DetectorSuite:
    """The detector suite of `detectors.*`; `extra_options` are merged over the configured
    options (eval's leave-one-case-out). A bad value is a ConfigError naming the detector
    and the option, so every command ends with the clean configuration error (exit 2)."""
    from detectors.pipeline import DetectorSuite

    d = settings.detectors
    options: dict[str, dict[str, Any]] = {k: dict(v) for k, v in d.options.items()}
    for name, opts in (extra_options or {}).items():
        options.setdefault(name, {}).update(opts)
    try:
        return DetectorSuite.from_config(d.enabled, options, d.flag_threshold)
    except ValueError as err:  # DetectorConfigError names the detector and the option
        raise ConfigError(f"invalid detector configuration: {err}") from err


def open_embedded_store(settings: Settings) -> SqliteStore:
    """The embedded store in `data_dir`; ConfigError names the directory and the cause."""
    from services.store.sqlite import SqliteStore, StoreSchemaError

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


def open_store(settings: Settings, **options: Any) -> Any:
    """The Store named by `store.kind`: sqlite -> services.store.sqlite (a file in data_dir);
    elasticsearch / opensearch -> services.store.search_engine with the matching client.
    Each adapter is imported only when chosen; `options` go to the engine store
    (e.g. refresh_on_write). Call once at start-up: the store holds the process's client."""
    kind = settings.store.kind
    if kind == "sqlite":
        from services.store.sqlite import SqliteStore

        return SqliteStore.open(settings.data_dir)
    if kind in ("elasticsearch", "opensearch"):
        from services.store.search_engine import SearchEngineStore

        return SearchEngineStore.open(settings.store, **options)
    raise ConfigError(f"store.kind: {kind!r} is not one of sqlite, elasticsearch, opensearch")


def open_archive(settings: Settings) -> Archive:
    from ingest.archive import Archive, ArchiveError

    try:
        return Archive(settings.archive_dir)
    except ArchiveError as err:
        raise ConfigError(f"archive.dir: {err}") from err


def wait_for_engine(
    open_store: Callable[[], _T],
    url: str,
    role: str,
    wait_s: float,
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> _T:
    """`open_store()`, retried while the engine is unreachable, for at most `wait_s` seconds.

    A role started beside its engine (compose, a pod restart, a supervisor restarting it
    into an outage) should wait for it as it rides out an outage later on, instead of
    exiting at once. Anything but EngineUnavailable (a wrong engine, refused credentials,
    an untrusted certificate) is raised at once: waiting cannot fix configuration. After
    `wait_s` the last EngineUnavailable is raised with how long it waited.
    """
    from services.store.engine_client import EngineUnavailable

    deadline = clock() + wait_s
    failures = 0
    while True:
        try:
            return open_store()
        except EngineUnavailable as err:
            failures += 1
            left = deadline - clock()
            if left <= 0:
                raise EngineUnavailable(
                    f"{err}; {role} gave up after waiting {wait_s:.0f} s "
                    f"({failures} attempt{'s' if failures != 1 else ''})",
                    err.status,
                ) from err
            pause = min(backoff.delay(failures), left)
            log.warning(
                "%s: search engine at %s not reachable (attempt %d); retrying in %.1f s, "
                "giving up in %.0f s",
                role,
                url,
                failures,
                pause,
                left,
            )
            sleep(pause)


def require_kafka(settings: Settings, role: str) -> str:
    """The one "kafka.bootstrap required" check: returns the bootstrap list or raises a
    ConfigError naming the key, the role that needs it and how to set it."""
    from services.kafka.admin import require_bootstrap

    return require_bootstrap(settings.kafka, role)


def kafka_consumer_clients(
    settings: Settings, group_id: str, role: str, **consumer_options: Any
) -> tuple[Any, Any]:
    """`role`'s manual-commit consumer in `group_id` and its acks=all dead-letter producer."""
    from services.kafka.consuming import consumer_and_dlq_producer

    require_kafka(settings, f"the {role}")
    return consumer_and_dlq_producer(settings, group_id, role, **consumer_options)


def kafka_publisher(settings: Settings, role: str, metrics: Any = None) -> KafkaPublisher:
    from services.kafka.producer import KafkaPublisher

    require_kafka(settings, role)
    return KafkaPublisher.create(settings.kafka, metrics=metrics)


def kafka_dead_letter_clients(settings: Settings, role: str) -> tuple[Reader, Producer]:
    """A group-less reader of whole topics (nothing committed) and an acks=all idempotent
    producer of raw records: what `hybridwatch dead-letters` needs."""
    from services.kafka.consuming import record_producer, topic_reader

    require_kafka(settings, role)
    return topic_reader(settings, "dead-letters"), record_producer(settings, "dead-letters")


def build_notifiers(settings: Settings, directory: Path) -> list[Notifier]:
    """The built-in "console" subscription's notifiers (console line, `directory`/alerts.jsonl)."""
    from services.alerts.notifier import ConsoleNotifier, JsonlNotifier

    notifiers: list[Notifier] = []
    if settings.alerts.console:
        notifiers.append(ConsoleNotifier())
    if settings.alerts.jsonl:
        notifiers.append(JsonlNotifier(directory / ALERTS_FILE))
    return notifiers


def build_alerter(
    settings: Settings, outbox: Any, directory: Path, replay: bool = False
) -> Alerter:
    """The alerter with every subscription's channels; `replay`: alerts raised are marked
    as a replay of history (hybridwatch replay)."""
    from services.alerts.alerter import Alerter
    from services.alerts.subscriptions import all_subscriptions, build_channels

    return Alerter(
        all_subscriptions(settings),
        build_notifiers(settings, directory),
        outbox,
        replay=replay,
        channels=build_channels(settings),
    )


def open_alert_outbox(settings: Settings) -> tuple[AlertOutbox, Path]:
    """The production alerter's durable outbox in `<data_dir>/alerter/` (its own small
    SQLite file, the alerts table only), and that folder."""
    from services.alerts.outbox import AlertOutbox

    directory = Path(settings.data_dir) / ALERTER_DIR
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return AlertOutbox.open(directory), directory
    except (OSError, sqlite3.Error) as err:
        raise ConfigError(f"data_dir: cannot keep the alert outbox in {directory}: {err}") from err


def start_metrics(settings: Settings, role: str = "", group: str = "") -> Metrics:
    """This process's registry, served on `metrics.port` when set (0: a free port).
    `role`: hw_process_info{role}; `group`: the consumer group of hw_consumer_lag."""
    from services.metrics import Metrics

    metrics = Metrics.create(role, group)
    port = metrics.serve(settings.metrics.port)
    if port is not None:
        log.warning("metrics on http://0.0.0.0:%d/metrics", port)
    return metrics


# --------------------------------------------------------------------------- roles


@dataclass
class Embedded:
    """`hybridwatch run`: the embedded runtime's running parts."""

    settings: Settings
    sources: tuple[SourceConfig, ...]
    store: SqliteStore
    ingest_state: Any
    suite: DetectorSuite
    alerter: Alerter
    pipeline: EmbeddedPipeline
    poller: Any
    started_at: float = field(default_factory=time.time)
    banner: str | None = None
    """Shown on the live page (`runtime.demo` in /healthz): set by `run --demo`."""
    metrics: Metrics | None = None
    """Served on `metrics.port` when set (the API's /metrics has the coverage gauges)."""

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
            **({"demo": self.banner} if self.banner else {}),
        }

    def create_app(self) -> Any:
        from services.api.app import create_app
        from services.api.claims import links_from_suite

        return create_app(
            self.store,
            self.source_health,
            self.runtime_status,
            started_at=self.started_at,
            dead_letters=self.pipeline.dead_letters,
            flag_threshold=self.settings.detectors.flag_threshold,
            poll_intervals={s.id: s.interval for s in self.sources},
            claim_links=links_from_suite(self.suite),
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
                if self.metrics is not None:
                    self.metrics.close()
                self.ingest_state.close()
                self.store.close()
                if self.pipeline.archive is not None:
                    self.pipeline.archive.close()


def build_embedded(settings: Settings) -> Embedded:
    """`hybridwatch run`: store, ingest state, suite, alerter, pipeline, poller."""
    from ingest.poller import Poller
    from ingest.state import IngestState
    from services.claims.reload import ImportedClaims
    from services.embedded.pipeline import EmbeddedPipeline

    sources = load_sources(settings)
    suite = build_suite(settings)  # before opening files: a bad option fails fast
    data_dir = Path(settings.data_dir)
    with contextlib.ExitStack() as undo:  # closes what was opened if a later part fails
        store = open_embedded_store(settings)
        undo.callback(store.close)
        try:
            ingest_state = IngestState.open(data_dir)
        except (OSError, sqlite3.Error) as err:
            raise ConfigError(
                f"data_dir: cannot use {data_dir.resolve()} for ingest state: {err}"
            ) from err
        undo.callback(ingest_state.close)
        archive = open_archive(settings) if settings.archive.embedded else None
        alerter = build_alerter(settings, store, data_dir)
        claims = ImportedClaims(data_dir, suite.detectors)  # `claims import`, no restart
        claims.refresh()
        pipeline = EmbeddedPipeline(
            suite,
            store,
            alerter,
            alert_retry=settings.alerts.retry_seconds,
            archive=archive,
            before_batch=claims.refresh,
        )
        poller = Poller(settings, sources, ingest_state, pipeline.publish)
        metrics = start_metrics(settings, "run")
        metrics.watch_feeds(lambda: ingest_state.health(sources))
        metrics.watch_alerts(lambda: {"delivered": alerter.delivered, "failed": alerter.failed})
        metrics.watch_embedded(pipeline)
        undo.pop_all()
    return Embedded(
        settings, sources, store, ingest_state, suite, alerter, pipeline, poller, metrics=metrics
    )


@dataclass
class ReplayPipeline:
    """`hybridwatch replay --to embedded`: the embedded pipeline with replay alerts."""

    pipeline: EmbeddedPipeline
    alerter: Alerter
    store: SqliteStore

    def close(self) -> None:
        try:
            self.alerter.close()
        finally:
            self.store.close()


def build_replay_pipeline(settings: Settings) -> ReplayPipeline:
    from services.embedded.pipeline import EmbeddedPipeline

    suite = build_suite(settings)
    store = open_embedded_store(settings)
    alerter = build_alerter(settings, store, Path(settings.data_dir), replay=True)
    pipeline = EmbeddedPipeline(suite, store, alerter, alert_retry=settings.alerts.retry_seconds)
    return ReplayPipeline(pipeline, alerter, store)


def build_worker(settings: Settings) -> WorkerApp:
    """`hybridwatch worker`: the Faust app around the one suite (Faust imported here only,
    after the configuration checks)."""
    require_kafka(settings, "the worker")
    suite = build_suite(settings)
    from services.worker.app import build_worker as build_faust_worker

    return build_faust_worker(settings, suite=suite)


@dataclass
class Ingest:
    """`hybridwatch ingest`: the shared poller publishing to Kafka."""

    poller: Any
    publisher: Any
    state: Any
    metrics: Metrics

    async def aclose(self) -> None:
        try:
            await self.poller.aclose()
        finally:
            try:
                await self.publisher.aclose()
            finally:
                self.state.close()
                self.metrics.close()


def build_ingest(settings: Settings, publisher: Any = None, ensure: bool = True) -> Ingest:
    """`publisher`: a ready one (tests); `ensure=False` skips topic creation."""
    from ingest.poller import Poller
    from ingest.state import IngestState
    from services.kafka.admin import ensure_topics

    sources = load_sources(settings)
    require_kafka(settings, "ingest")
    if ensure:
        ensure_topics(settings.kafka)
    metrics = start_metrics(settings, "ingest")
    with contextlib.ExitStack() as undo:
        undo.callback(metrics.close)
        if publisher is None:
            publisher = kafka_publisher(settings, "ingest", metrics=metrics)
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        state = IngestState.open(data_dir)
        metrics.watch_feeds(lambda: state.health(sources))
        poller = Poller(settings, sources, state, publisher)
        undo.pop_all()
    return Ingest(poller, publisher, state, metrics)


@dataclass
class ConsumerRole:
    """A Kafka consumer loop (indexer, alerter, archive) and what to close after it.

    `loop` has `run(once) -> stats` and `stop()`; `closers` run in order on `close()`
    (consumer first, without committing, then the dead-letter producer, then the rest).
    """

    loop: Any
    closers: list[Callable[[], None]]

    def close(self) -> None:
        first: BaseException | None = None
        for close in self.closers:
            try:
                close()
            except Exception as err:  # close the rest, then report the first failure
                log.error("closing %r failed: %s", close, err)
                first = first or err
        if first is not None:
            raise first


def _consumer_closers(consumer: Any, producer: Any) -> list[Callable[[], None]]:
    return [lambda: consumer.close(autocommit=False), lambda: producer.close(timeout=30)]


def _loop_metrics(settings: Settings, role: str, group: str, loop: Any) -> Metrics:
    """A sink role's metrics: the loop's counters and dead letters, its write latency and
    its group's lag (from committed offsets, read by a client of its own at scrape)."""
    from services.kafka.security import kafka_python_options
    from services.metrics import GroupLagReader

    metrics = start_metrics(settings, role, group)
    loop.metrics = metrics
    metrics.watch_loop(lambda: loop.stats)
    metrics.time_sink(loop)
    assert settings.kafka.bootstrap  # require_kafka ran first
    lag = GroupLagReader(
        settings.kafka.bootstrap,
        group,
        loop.sink.topics(),
        client_options=kafka_python_options(settings.kafka),
    )
    metrics.watch_group_lag(lag)
    return metrics


def build_indexer(settings: Settings) -> ConsumerRole:
    """`hybridwatch indexer`: Kafka -> Elasticsearch/OpenSearch (one engine client)."""
    from hybridwatch.topics import Topics
    from services.indexer import Indexer
    from services.store.search_engine import SearchEngineStore

    if settings.store.kind not in ("elasticsearch", "opensearch"):
        raise ConfigError(
            f"store.kind: the indexer writes to a search engine, but store.kind is "
            f"{settings.store.kind!r}; set store.kind: opensearch or elasticsearch "
            "(HW_STORE_KIND) and store.url (HW_ES_URL)"
        )
    require_kafka(settings, "the indexer")
    cfg = settings.indexer
    with contextlib.ExitStack() as undo:
        store = wait_for_engine(
            lambda: SearchEngineStore.open(settings.store, refresh_on_write=False),
            settings.store.url or "",
            "the indexer",
            cfg.startup_wait,
            Backoff(1.0, cfg.max_backoff),
        )
        undo.callback(store.close)
        consumer, producer = kafka_consumer_clients(
            settings, cfg.group_id, "indexer", max_poll_records=cfg.batch_size
        )
        indexer = Indexer(consumer, producer, store, Topics(settings.kafka.topic_prefix), cfg)
        metrics = _loop_metrics(settings, "indexer", cfg.group_id, indexer.loop)
        undo.pop_all()
    return ConsumerRole(
        indexer, [*_consumer_closers(consumer, producer), store.close, metrics.close]
    )


def build_alert_delivery(settings: Settings) -> ConsumerRole:
    """`hybridwatch alerter`: Kafka (hw.alerts) -> the subscriptions' channels, through the
    local outbox in `<data_dir>/alerter/`."""
    from hybridwatch.topics import Topics
    from services.alerts.delivery import AlertDelivery

    require_kafka(settings, "the alerter")
    with contextlib.ExitStack() as undo:
        outbox, directory = open_alert_outbox(settings)
        undo.callback(outbox.close)
        alerter = build_alerter(settings, outbox, directory)
        undo.callback(alerter.close)
        consumer, producer = kafka_consumer_clients(settings, settings.alerts.group_id, "alerter")
        delivery = AlertDelivery(
            consumer,
            producer,
            outbox,
            alerter,
            Topics(settings.kafka.topic_prefix),
            retry_seconds=settings.alerts.retry_seconds,
        )
        metrics = _loop_metrics(settings, "alerter", settings.alerts.group_id, delivery.loop)
        metrics.watch_alerts(
            lambda: {
                "delivered": alerter.delivered,
                "failed": alerter.failed,
                "pending": delivery.sink.pending,
            }
        )
        undo.pop_all()
    return ConsumerRole(
        delivery,
        [*_consumer_closers(consumer, producer), alerter.close, outbox.close, metrics.close],
    )


def build_archiver(settings: Settings) -> ConsumerRole:
    """`hybridwatch archive`: Kafka (hw.articles) -> one gzip NDJSON per event day."""
    from hybridwatch.topics import Topics
    from services.kafka.archiver import ArchiveConsumer

    require_kafka(settings, "the archiver")
    with contextlib.ExitStack() as undo:
        archive = open_archive(settings)
        undo.callback(archive.close)
        consumer, producer = kafka_consumer_clients(settings, settings.archive.group_id, "archiver")
        loop = ArchiveConsumer(consumer, producer, archive, Topics(settings.kafka.topic_prefix))
        metrics = _loop_metrics(settings, "archive", settings.archive.group_id, loop.loop)
        undo.pop_all()
    return ConsumerRole(
        loop, [*_consumer_closers(consumer, producer), archive.close, metrics.close]
    )
