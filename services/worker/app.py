"""Composition root of the Faust worker: the only place that builds its clients.

`build_worker(settings)` creates, once, at start-up: the detector suite, the metrics
registry, the Faust app with its topics (raw bytes: decoding is ours, so a poison
record reaches the dead-letter topic with its original bytes instead of crashing a
Faust deserializer), the changelog-backed state table and the one agent that feeds
batches of article records to the framework-free `BatchProcessor`.

The table store is `rocksdb://` (rocksdict) when configured and importable, else
`memory://` (state is then rebuilt from the changelog on every start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import weakref
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import faust
from faust.streams import _current_event

from detectors.pipeline import DetectorSuite
from hybridwatch.config import ConfigError, Settings
from hybridwatch.topics import Topics
from services.alerts.alerter import build_alerts
from services.alerts.subscriptions import all_subscriptions
from services.kafka.admin import ensure_topics, require_bootstrap
from services.metrics import Metrics
from services.worker.processor import BatchProcessor, Incoming

log = logging.getLogger(__name__)

STATE_TABLE = "detector-state"
EXIT_RESTART = 75
"""EX_TEMPFAIL: the worker asks its supervisor for a restart (stall, failed batch)."""
MAX_RECORD_BYTES = 16 * 1024 * 1024


def build_suite(settings: Settings) -> DetectorSuite:
    d = settings.detectors
    try:
        return DetectorSuite.from_config(d.enabled, d.options, d.flag_threshold)
    except ValueError as err:
        raise ConfigError(f"invalid detector configuration: {err}") from err


def table_store(url: str) -> str:
    if url.startswith("rocksdb"):
        try:
            import rocksdict  # noqa: F401
        except ImportError:
            log.warning(
                "worker.table_store=%s but rocksdict is not installed: using memory://", url
            )
            return "memory://"
    return url


@contextlib.contextmanager
def faust_scope(rec: Incoming) -> Iterator[None]:
    """Make `rec`'s Faust event current, so table writes go to its changelog partition."""
    token = _current_event.set(weakref.ref(rec.handle)) if rec.handle is not None else None
    try:
        yield
    finally:
        if token is not None:
            _current_event.reset(token)


class TableStore(MutableMapping[str, Any]):
    """The Faust table's local store, without the table's own changelog writes.

    StateCache writes here and the processor sends the same records to the changelog
    itself, awaiting each acknowledgement (services/worker/state.py explains why).
    Resolved lazily: Faust creates the store when the table starts.
    """

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getitem__(self, key: str) -> Any:
        return self._table.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._table.data[key] = value

    def __delitem__(self, key: str) -> None:
        del self._table.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.data)

    def __len__(self) -> int:
        return len(self._table.data)


@dataclass
class WorkerApp:
    settings: Settings
    app: faust.App
    processor: BatchProcessor
    metrics: Metrics
    topics: Topics

    def run(self, loglevel: str = "warning") -> int:
        """Run until SIGTERM/SIGINT (Faust's Worker installs the handlers)."""
        from faust.worker import Worker

        ensure_topics(self.settings.kafka)
        port = self.metrics.serve(self.settings.metrics.port)
        if port is not None:
            log.warning("metrics on http://0.0.0.0:%d/metrics", port)
        worker = Worker(self.app, loglevel=loglevel, redirect_stdouts=False, quiet=True)
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
        finally:
            self.metrics.close()
        return 0


def build_worker(settings: Settings, suite: DetectorSuite | None = None) -> WorkerApp:
    bootstrap = require_bootstrap(settings.kafka)
    suite = suite or build_suite(settings)
    metrics = Metrics.create()
    k, w = settings.kafka, settings.worker
    topics = Topics(k.topic_prefix)
    datadir = Path(settings.data_dir) / "worker"
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        w.app_id,
        broker=[f"kafka://{hp.strip()}" for hp in bootstrap.split(",")],
        store=table_store(w.table_store),
        datadir=str(datadir),
        web_enabled=w.web_port > 0,
        web_port=w.web_port or 6066,
        web_bind="127.0.0.1",
        topic_partitions=k.partitions,
        topic_replication_factor=k.replication,
        topic_disable_leader=True,
        broker_client_id=f"{k.client_id}-worker",
        broker_session_timeout=w.session_timeout,
        broker_heartbeat_interval=max(0.5, w.session_timeout / 5),
        broker_request_timeout=max(40.0, w.session_timeout + 5),
        consumer_auto_offset_reset="earliest",
        # the state table's changelog: JSON keys and values (our topics say raw explicitly)
        key_serializer="json",
        value_serializer="json",
        producer_acks=-1,
        producer_compression_type=None if k.compression == "none" else k.compression,
        # signals and changelog records leave in big batches: aiokafka's default batch is
        # 16 KiB, which split one worker batch's output into hundreds of requests
        producer_linger_ms=10,
        producer_max_batch_size=1024 * 1024,
        producer_max_request_size=MAX_RECORD_BYTES,
        stream_recovery_delay=1.0,
        table_standby_replicas=0,
        stream_buffer_maxsize=max(4096, w.batch_max * 4),
        broker_commit_every=max(w.batch_max, 1000),
        broker_commit_interval=1.0,
    )
    articles = app.topic(
        topics.articles,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=k.partitions,
        replicas=k.replication,
    )
    raw_out = {
        name: app.topic(name, key_serializer="raw", value_serializer="raw", replicas=k.replication)
        for name in (topics.signals, topics.alerts, topics.dead_letter)
    }
    table = app.Table(
        STATE_TABLE,
        default=None,
        key_type=str,
        partitions=k.partitions,
        # a batch's marker carries its writes (services/worker/state.py): allow big records
        extra_topic_configs={
            "max.message.bytes": str(MAX_RECORD_BYTES),
            "cleanup.policy": "compact",
        },
    )

    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Any) -> Any:
        return await raw_out[topic].send(key=key, value=value, headers=headers)

    def changelog(partition: int, key: str, value: Any) -> Any:
        # Table.send_changelog returns the record's future: it resolves when Kafka
        # acknowledged it (unlike the table's own buffered writes, see state.py)
        if value is None:
            return table.send_changelog(partition, key, None, value_serializer="raw")
        return table.send_changelog(partition, key, value)

    async def seek(topic: str, partition: int, offset: int) -> None:
        await app.consumer.seek(faust.types.TP(topic, partition), offset)

    processor = BatchProcessor(
        suite,
        TableStore(table),
        topics,
        send,
        changelog=changelog,
        seek=seek,
        scope=faust_scope,
        metrics=metrics,
        shards=w.state_shards,
        alerts_for=partial(build_alerts, all_subscriptions(settings)),
    )

    @app.agent(articles, name="detect", concurrency=1)
    async def detect(stream: Any) -> Any:
        async for events in stream.take_events(w.batch_max, within=w.batch_within):
            batch = [
                Incoming(
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                    e.message.key,
                    e.message.value,
                    e.message.headers,
                    handle=e,
                )
                for e in events
            ]
            try:
                await processor.process(batch)
            except asyncio.CancelledError:
                # stopping mid-batch: leave without acking (exit 0, nothing committed)
                log.warning("stopped during a batch; its articles will be processed again")
                logging.shutdown()
                os._exit(0)
            except BaseException:
                # Faust's take_events acks a batch even when its body raised (or was
                # cancelled), and the consumer would then commit offsets of articles
                # whose signals or state may not be durable. Exit at once instead:
                # the supervisor restarts the worker, which resumes from the last
                # committed offsets and the state's marker (docs/kafka.md).
                log.critical("batch failed; exiting for a restart", exc_info=True)
                logging.shutdown()
                os._exit(EXIT_RESTART)
            _update_lag(app, metrics, batch)

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, revoked: Any, **_: Any) -> None:
        processor.forget_partitions()

    @app.on_partitions_assigned.connect
    async def _assigned(sender: Any, assigned: Any, **_: Any) -> None:
        processor.forget_partitions()

    # a healthy worker with records waiting runs a batch well within a second; 15 s
    # without one (outside a rebalance) is a stall
    stall_after = max(15.0, 1.5 * w.session_timeout)

    @app.timer(interval=max(2.0, w.session_timeout / 2))
    async def _watchdog() -> None:
        await watchdog(app, processor, topics.articles, stall_after)

    del detect, _revoked, _assigned, _watchdog  # registered on the app
    return WorkerApp(settings, app, processor, metrics, topics)


async def watchdog(
    app: faust.App, processor: BatchProcessor, topic: str, stall_after: float
) -> None:
    """Work around Faust rebalance bugs that leave an agent idle with records waiting.

    faust-streaming has open issues where, after a rebalance, partitions stay paused or the
    agent is cancelled while waiting for its channel (robinhood/faust#678,
    faust-streaming/faust#532). If no batch ran for `stall_after` seconds while an owned
    articles partition has records past what we processed, resume every assigned
    partition and the flow control and, once per stall, seek the stuck partitions back to
    the first record not yet processed; if that does not help within twice that time, exit
    with status 75 so the supervisor (compose `restart:`, systemd, k8s) starts a fresh
    worker -- safe, because state and offsets recover from Kafka (docs/kafka.md).
    """
    now = time.monotonic()
    if app.rebalancing:
        # a rebalance that never ends is the same bug seen from the other side: the
        # agent cannot run, so give it the same time as a stall before asking for a restart
        processor.last_batch_at = now
        if processor.rebalancing_since is None:
            processor.rebalancing_since = now
        elif now - processor.rebalancing_since > 3 * stall_after:
            log.critical(
                "worker stuck in a rebalance for %.0fs: exiting for a restart",
                now - processor.rebalancing_since,
            )
            os._exit(EXIT_RESTART)
        return
    processor.rebalancing_since = None
    idle = time.monotonic() - processor.last_batch_at
    if idle < stall_after:
        return
    owned = [tp for tp in app.consumer.assignment() if tp.topic == topic]
    if not owned:
        return
    highwaters = await app.consumer.highwaters(*owned)
    first_missing: dict[Any, int] = {}
    for tp in owned:
        seen = processor.positions.get((tp.topic, tp.partition))
        if seen is None:
            # never processed here: only the committed offset says what is done. (Not
            # the fetch position: after a takeover Faust can fetch a partition's records
            # and lose them in its buffers, leaving the position at the end -- seen in
            # the scale-out test, where such a partition then sat idle for minutes.)
            committed = _committed_offsets(app).get(tp)
            seen = -1 if committed is None else committed - 1
        if highwaters.get(tp, 0) - 1 > seen:
            first_missing[tp] = seen + 1
    if not first_missing:
        return
    behind = {tp.partition: highwaters[tp] - off for tp, off in first_missing.items()}
    if idle < 3 * stall_after:
        log.warning(
            "worker stalled for %.0fs with records waiting (partition: records) %s; "
            "resuming partitions (Faust rebalance workaround)",
            idle,
            behind,
        )
        app.consumer.resume_partitions(app.consumer.assignment())
        app.flow_control.resume()
        if not processor.rewound:
            # records fetched but lost in Faust's buffers are not fetched again unless
            # the position moves back: rewind each stuck partition to what is done
            for tp, offset in first_missing.items():
                await app.consumer.seek(tp, offset)
            processor.rewound = True
        return
    log.critical(
        "worker stalled for %.0fs with records waiting %s: exiting for a restart", idle, behind
    )
    os._exit(EXIT_RESTART)


def _committed_offsets(app: faust.App) -> dict[Any, int]:
    """The consumer's last committed offsets (next offset to read) per partition.

    Faust keeps them in a private mapping and offers no public accessor; an empty
    answer (attribute renamed in a later Faust) makes the watchdog assume nothing was
    processed, which at worst asks for a restart that recovery makes safe.
    """
    offsets = getattr(app.consumer, "_committed_offset", None) or {}
    return {tp: int(o) for tp, o in dict(offsets).items() if o is not None}


def _update_lag(app: faust.App, metrics: Metrics, batch: list[Incoming]) -> None:
    last: dict[tuple[str, int], int] = {}
    for rec in batch:
        last[(rec.topic, rec.partition)] = max(rec.offset, last.get((rec.topic, rec.partition), -1))
    for (topic, partition), offset in last.items():
        try:
            hw = app.consumer.highwater(faust.types.TP(topic, partition))
        except Exception:  # not known yet right after a rebalance
            continue
        if hw is not None:
            metrics.consumer_lag.labels(topic=topic, partition=str(partition)).set(
                max(0, hw - offset - 1)
            )
