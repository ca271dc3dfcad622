"""faust-streaming behind one adapter: everything of Faust the worker uses, and every workaround.

The worker's own logic (services/worker/processor.py `BatchProcessor`, the state
layout in services/worker/state.py, the batch step in services/pipeline/step.py) knows
nothing of Faust. This module is the only one that imports it, and it holds:

* the app, its topics and the changelog-backed state table (`FaustRuntime`), with the
  table store choice (`table_store`) and the local-store view the state cache writes
  (`TableStore`);
* the partition scope of table writes (`faust_scope`);
* the exit policy (`exit_process`, `EXIT_RESTART`): a batch that failed, or a stall
  that did not heal, ends the process for the supervisor to restart;
* the stall watchdog (`StallWatchdog`), which reads the consumer's committed offsets
  (`committed_offsets`, private Faust API);
* the consumer-lag metric (`update_lag`).

Which faust-streaming bug each workaround answers, with its upstream issue, and what
would let it go: docs/kafka.md, "Faust quirks met and how they are handled". The
tested version is pinned in pyproject.toml; upgrading means re-running
tests/integration/kafka (scale-out kill -9, broker restart, parity) and re-checking
each entry of that table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import faust
from faust.streams import _current_event
from faust.types import TP

from hybridwatch.config import Settings
from hybridwatch.topics import Topics
from services.kafka.security import faust_credentials
from services.worker.processor import Incoming

if TYPE_CHECKING:
    from services.metrics import PipelineMetrics

log = logging.getLogger(__name__)

STATE_TABLE = "detector-state"
EXIT_RESTART = 75
"""EX_TEMPFAIL: the worker asks its supervisor for a restart (stall, failed batch)."""
MAX_RECORD_BYTES = 16 * 1024 * 1024
TESTED_FAUST_VERSION = "0.15.3"
"""The faust-streaming release the workarounds below were written and tested against."""

ExitFn = Callable[[int], NoReturn]


class Processor(Protocol):
    """What the adapter needs of the batch processor (services/worker/processor.py)."""

    positions: dict[tuple[str, int], int]
    last_batch_at: float

    async def process(self, batch: Sequence[Incoming]) -> Any: ...

    def forget_partitions(self) -> None: ...


# -- exit policy -------------------------------------------------------------------


def exit_process(code: int) -> NoReturn:
    """Leave now, without Faust's shutdown (which would ack the batch in flight).

    `os._exit`, not `sys.exit`: SystemExit would unwind through `take_events`, whose
    `finally:` acks the batch (docs/kafka.md). Restarting is safe by construction:
    state comes back from the changelog and the marker skips what was applied.
    """
    logging.shutdown()
    os._exit(code)


# -- table store and scope -----------------------------------------------------------


def table_store(url: str) -> str:
    """`rocksdb://` when rocksdict is importable, else `memory://` (rebuilt from the changelog)."""
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
    """Make `rec`'s Faust event current, so table writes go to its changelog partition.

    Faust picks the partition of a table write (and the RocksDB partition of a local
    store write) from the *current event*; inside `take_events` there is none for the
    batch as a whole, so the processor enters this per source partition.
    """
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


# -- consumer: committed offsets, lag ------------------------------------------------


def committed_offsets(consumer: Any) -> dict[TP, int]:
    """The consumer's last committed offsets (next offset to read) per partition.

    Faust keeps them in a private mapping and offers no public accessor; an empty
    answer (attribute renamed in a later Faust) makes the watchdog assume nothing was
    processed, which at worst asks for a restart that recovery makes safe.
    """
    offsets = getattr(consumer, "_committed_offset", None) or {}
    return {tp: int(o) for tp, o in dict(offsets).items() if o is not None}


def update_lag(consumer: Any, metrics: PipelineMetrics, batch: Sequence[Incoming]) -> None:
    """hw_consumer_lag per partition: high-water mark minus the batch's last offset."""
    last: dict[tuple[str, int], int] = {}
    for rec in batch:
        last[(rec.topic, rec.partition)] = max(rec.offset, last.get((rec.topic, rec.partition), -1))
    for (topic, partition), offset in last.items():
        try:
            hw = consumer.highwater(TP(topic, partition))
        except Exception:  # not known yet right after a rebalance
            continue
        if hw is not None:
            metrics.consumer_lag.labels(topic=topic, partition=str(partition)).set(
                max(0, hw - offset - 1)
            )


# -- stall watchdog --------------------------------------------------------------------


class StallWatchdog:
    """Work around Faust rebalance bugs that leave an agent idle with records waiting.

    faust-streaming has open issues where, after a rebalance, partitions stay paused,
    the agent is cancelled while waiting for its channel, or fetched records are lost
    in its buffers (docs/kafka.md lists them). If no batch ran for `stall_after`
    seconds while an owned articles partition has records past what was processed,
    `check` resumes every assigned partition and the flow control and, once per stall,
    seeks the stuck partitions back to the first record not yet processed; if that does
    not help within 3x `stall_after`, it exits with status 75 so the supervisor
    (compose `restart:`, systemd, k8s) starts a fresh worker. A rebalance that never
    ends (3x `stall_after`) takes the same exit.
    """

    def __init__(
        self,
        app: Any,
        progress: Processor,
        topic: str,
        stall_after: float,
        exit: ExitFn = exit_process,
    ) -> None:
        self.app = app
        self.progress = progress
        self.topic = topic
        self.stall_after = stall_after
        self._exit = exit
        self.rewound = False
        """The stuck partitions were already rewound in the current stall."""
        self.rebalancing_since: float | None = None
        """When the app entered the rebalance it is still in."""

    def batch_done(self) -> None:
        """A batch ran: a later stall is a new one (may rewind again)."""
        self.rewound = False

    async def check(self) -> None:
        app, progress = self.app, self.progress
        now = time.monotonic()
        if app.rebalancing:
            # a rebalance that never ends is the same bug seen from the other side: the
            # agent cannot run, so give it the same time as a stall before a restart
            progress.last_batch_at = now
            if self.rebalancing_since is None:
                self.rebalancing_since = now
            elif now - self.rebalancing_since > 3 * self.stall_after:
                log.critical(
                    "worker stuck in a rebalance for %.0fs: exiting for a restart",
                    now - self.rebalancing_since,
                )
                self._exit(EXIT_RESTART)
            return
        self.rebalancing_since = None
        idle = now - progress.last_batch_at
        if idle < self.stall_after:
            return
        consumer = app.consumer
        owned = [tp for tp in consumer.assignment() if tp.topic == self.topic]
        if not owned:
            return
        highwaters: Mapping[TP, int] = await consumer.highwaters(*owned)
        first_missing: dict[TP, int] = {}
        committed = committed_offsets(consumer)
        for tp in owned:
            seen = progress.positions.get((tp.topic, tp.partition))
            if seen is None:
                # never processed here: only the committed offset says what is done. (Not
                # the fetch position: after a takeover Faust can fetch a partition's
                # records and lose them in its buffers, leaving the position at the end --
                # seen in the scale-out test, where such a partition then sat idle.)
                done = committed.get(tp)
                seen = -1 if done is None else done - 1
            if highwaters.get(tp, 0) - 1 > seen:
                first_missing[tp] = seen + 1
        if not first_missing:
            return
        behind = {tp.partition: highwaters[tp] - off for tp, off in first_missing.items()}
        if idle < 3 * self.stall_after:
            log.warning(
                "worker stalled for %.0fs with records waiting (partition: records) %s; "
                "resuming partitions (Faust rebalance workaround)",
                idle,
                behind,
            )
            consumer.resume_partitions(consumer.assignment())
            app.flow_control.resume()
            if not self.rewound:
                # records fetched but lost in Faust's buffers are not fetched again unless
                # the position moves back: rewind each stuck partition to what is done
                for tp, offset in first_missing.items():
                    await consumer.seek(tp, offset)
                self.rewound = True
            return
        log.critical(
            "worker stalled for %.0fs with records waiting %s: exiting for a restart",
            idle,
            behind,
        )
        self._exit(EXIT_RESTART)


# -- the app ---------------------------------------------------------------------------


def faust_worker(app: Any, loglevel: str) -> Any:
    """Faust's Worker for `app`, without its terminal spinner.

    At a log level of WARNING or above, Faust's Worker adds a spinner handler at DEBUG and
    sets the ROOT logger to DEBUG so the spinner turns on every record; every
    logger.debug() of Faust, aiokafka and ours then builds a LogRecord that the console
    handler drops (~2 % of a worker's CPU; docs/kafka.md quirk 9). Without a spinner the
    root logger keeps the level asked for.
    """
    from faust.worker import Worker

    worker = Worker(app, loglevel=loglevel, redirect_stdouts=False, quiet=True)
    worker.spinner = None
    return worker


class FaustRuntime:
    """The Faust app of one worker: topics (raw bytes), the state table, the agent.

    Topics are raw bytes: decoding is ours, so a poison record reaches the dead-letter
    topic with its original bytes instead of crashing a Faust deserializer. Build it,
    give `store`, `send`, `changelog`, `seek` and `faust_scope` to the processor, then
    `attach(processor, metrics)` and `run()`.
    """

    def __init__(self, settings: Settings, bootstrap: str, topics: Topics) -> None:
        k, w = settings.kafka, settings.worker
        self.settings = settings
        self.topics = topics
        datadir = Path(settings.data_dir) / "worker"
        datadir.parent.mkdir(parents=True, exist_ok=True)
        self.app = faust.App(
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
            broker_credentials=faust_credentials(k),
            broker_session_timeout=w.session_timeout,
            broker_heartbeat_interval=max(0.5, w.session_timeout / 5),
            broker_request_timeout=max(40.0, w.session_timeout + 5),
            consumer_auto_offset_reset="earliest",
            # the state table's changelog: JSON keys and values (our topics say raw
            # explicitly; Table(key_serializer=...) is not accepted by faust-streaming)
            key_serializer="json",
            value_serializer="json",
            producer_acks=-1,
            producer_compression_type=None if k.compression == "none" else k.compression,
            # signals and changelog records leave in big batches: aiokafka's default
            # batch is 16 KiB, which split one worker batch's output into hundreds of
            # requests
            producer_linger_ms=10,
            producer_max_batch_size=1024 * 1024,
            producer_max_request_size=MAX_RECORD_BYTES,
            stream_recovery_delay=1.0,
            table_standby_replicas=0,
            stream_buffer_maxsize=max(4096, w.batch_max * 4),
            broker_commit_every=max(w.batch_max, 1000),
            broker_commit_interval=1.0,
        )
        self.articles = self.app.topic(
            topics.articles,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=k.partitions,
            replicas=k.replication,
        )
        self._raw_out = {
            name: self.app.topic(
                name, key_serializer="raw", value_serializer="raw", replicas=k.replication
            )
            for name in (topics.signals, topics.alerts, topics.dead_letter)
        }
        self.table = self.app.Table(
            STATE_TABLE,
            default=None,
            key_type=str,
            partitions=k.partitions,
            # a batch's delta/snapshot records can be big (services/worker/state.py)
            extra_topic_configs={
                "max.message.bytes": str(MAX_RECORD_BYTES),
                "cleanup.policy": "compact",
            },
        )
        self.store = TableStore(self.table)
        """The table's local store, for the processor's StateCache."""
        self.scope = faust_scope

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Any
    ) -> Awaitable[Any]:
        """Queue a record; the returned future resolves when Kafka acknowledged it."""
        fut: Awaitable[Any] = await self._raw_out[topic].send(key=key, value=value, headers=headers)
        return fut

    def changelog(self, partition: int, key: str, value: Any) -> Awaitable[Any]:
        """Send a state record to the table's changelog partition, past Faust's buffer.

        Table.send_changelog returns the record's future: it resolves when Kafka
        acknowledged it, unlike assigning to the table (buffered; docs/kafka.md).
        """
        if value is None:
            fut: Awaitable[Any] = self.table.send_changelog(
                partition, key, None, value_serializer="raw"
            )
        else:
            fut = self.table.send_changelog(partition, key, value)
        return fut

    async def seek(self, topic: str, partition: int, offset: int) -> None:
        await self.app.consumer.seek(TP(topic, partition), offset)

    def attach(self, processor: Processor, metrics: PipelineMetrics) -> None:
        """Register the agent, the rebalance hooks and the stall watchdog on the app."""
        app, w = self.app, self.settings.worker
        # a healthy worker with records waiting runs a batch well within a second; 15 s
        # without one (outside a rebalance) is a stall
        stall_after = max(15.0, 1.5 * w.session_timeout)
        watchdog = StallWatchdog(app, processor, self.topics.articles, stall_after)

        async def detect(stream: Any) -> None:
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
                    exit_process(0)
                except BaseException:
                    # take_events acks a batch in a `finally:` even when its body raised,
                    # and the consumer would then commit offsets of articles whose signals
                    # or state may not be durable. Exit at once instead (docs/kafka.md).
                    log.critical("batch failed; exiting for a restart", exc_info=True)
                    exit_process(EXIT_RESTART)
                watchdog.batch_done()
                update_lag(app.consumer, metrics, batch)

        async def forget(sender: Any, *args: Any, **kwargs: Any) -> None:
            # the next batch of each partition reloads its state and marker
            processor.forget_partitions()

        async def check_stall() -> None:
            await watchdog.check()

        app.agent(self.articles, name="detect", concurrency=1)(detect)
        # cast: mode types a receiver's `signal` argument with a forward reference
        # mypy cannot resolve, so no function matches its SignalHandlerT
        receiver: Any = forget
        app.on_partitions_revoked.connect(receiver)
        app.on_partitions_assigned.connect(receiver)
        app.timer(interval=max(2.0, w.session_timeout / 2))(check_stall)

    def run(self, loglevel: str = "warning") -> int:
        """Run until SIGTERM/SIGINT (Faust's Worker installs the handlers); the exit status."""
        worker = faust_worker(self.app, loglevel)
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0
