"""Prometheus metrics of every hybridwatch process (ingest, worker, indexer, ...).

One registry per process, created by the composition root (`Metrics.create(role)`), never
at import time, so tests can build several independent ones. `serve(port)` exposes it on
/metrics over HTTP when `metrics.port` is configured (0 picks a free port, handy in tests).

Names and labels are shared by every process (docs/observability.md lists them): a series
carries `country`, `source`, `detector`, `group`, `topic`, `partition` where they apply;
which process it came from is `hw_process_info{role}` and Prometheus's `job` label.

Counters kept by the runtimes themselves (the sink loops' stats, the alerter's deliveries,
the poller's feed health) are read at scrape time by collectors (`watch_*`), so the code
that runs the pipeline needs no metric calls; `on_scrape` hooks refresh gauges (consumer
lag from the group's committed offsets) before the registry is read.

Code that records metrics takes `PipelineMetrics` (a Protocol `Metrics` satisfies), not
the concrete class: it sees only counters and gauges, and a test can pass a fake.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

ROLES = ("ingest", "worker", "indexer", "alerter", "archive", "api", "run")
"""The processes that expose metrics (the `role` label of hw_process_info)."""


class Count(Protocol):
    """A counter (prometheus_client's Counter or one of its label children)."""

    def inc(self, amount: float = 1) -> None: ...


class Level(Protocol):
    """A gauge (prometheus_client's Gauge or one of its label children)."""

    def set(self, value: float) -> None: ...


class LabelledCount(Protocol):
    def labels(self, **labels: str) -> Count: ...


class LabelledLevel(Protocol):
    def labels(self, **labels: str) -> Level: ...


class PipelineMetrics(Protocol):
    """The metrics a pipeline stage records (read-only view of `Metrics`)."""

    @property
    def articles_in(self) -> Count: ...
    @property
    def articles_out(self) -> Count: ...
    @property
    def signals(self) -> LabelledCount:
        """Labels: detector, country."""
        ...

    @property
    def consumer_lag(self) -> LabelledLevel:
        """Labels: topic, partition."""
        ...

    @property
    def errors(self) -> LabelledCount:
        """Labels: stage."""
        ...

    @property
    def dead_letters(self) -> LabelledCount:
        """Labels: reason."""
        ...

    @property
    def duplicates(self) -> Count: ...


class GroupLag:
    """hw_consumer_lag with the process's consumer group bound once: callers pass only
    `topic` and `partition` (the worker's Faust adapter does), every series has `group`."""

    def __init__(self, gauge: Gauge, group: str) -> None:
        self.gauge = gauge
        self.group = group

    def labels(self, **labels: str) -> Level:
        return self.gauge.labels(group=self.group, **labels)

    def clear(self) -> None:
        self.gauge.clear()


class _Hooks(Collector):
    """Registered first, so the hooks run before any gauge they refresh is read."""

    def __init__(self) -> None:
        self.hooks: list[Callable[[], None]] = []

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        for hook in list(self.hooks):
            try:
                hook()
            except Exception as err:  # a failed refresh must not break the whole scrape
                log.warning("metrics refresh %r failed: %s", hook, err)
        return []


class _Collect(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]], names: Sequence[str]) -> None:
        self._collect = collect
        self._names = names

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(n, "") for n in self._names]

    def collect(self) -> Iterable[Metric]:
        return list(self._collect())


@dataclass
class Metrics:
    registry: CollectorRegistry
    articles_in: Counter
    articles_out: Counter
    signals: Counter
    consumer_lag: GroupLag
    errors: Counter
    dead_letters: Counter
    duplicates: Counter
    role: str = ""
    server: WSGIServer | None = None
    port: int | None = None
    _hooks: _Hooks = field(default_factory=_Hooks)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def create(cls, role: str = "", group: str = "") -> Metrics:
        """`role`: one of ROLES (hw_process_info); `group`: the process's consumer group."""
        r = CollectorRegistry(auto_describe=True)
        hooks = _Hooks()
        r.register(hooks)
        if role:
            info = Gauge("hw_process_info", "1 per hybridwatch process", ["role"], registry=r)
            info.labels(role=role).set(1)
        return cls(
            role=role,
            _hooks=hooks,
            registry=r,
            articles_in=Counter("hw_articles_in", "Articles consumed by this process", registry=r),
            articles_out=Counter(
                "hw_articles_out",
                "Articles published (ingest) or fully processed (worker)",
                registry=r,
            ),
            signals=Counter("hw_signals", "Signals emitted", ["detector", "country"], registry=r),
            consumer_lag=GroupLag(
                Gauge(
                    "hw_consumer_lag",
                    "Records behind the partition's high-water mark",
                    ["group", "topic", "partition"],
                    registry=r,
                ),
                group,
            ),
            errors=Counter("hw_errors", "Errors by pipeline stage", ["stage"], registry=r),
            dead_letters=Counter(
                "hw_dead_letters", "Records sent to the dead-letter topic", ["reason"], registry=r
            ),
            duplicates=Counter(
                "hw_redelivered_skipped",
                "Re-delivered articles skipped because their offset was already applied",
                registry=r,
            ),
        )

    def on_scrape(self, hook: Callable[[], None]) -> None:
        """Run `hook` at every scrape, before the registry's metrics are read."""
        self._hooks.hooks.append(hook)

    def watch(self, collect: Callable[[], Iterable[Metric]], names: Sequence[str]) -> None:
        """Expose what `collect()` yields at each scrape (`names`: the families it yields)."""
        self.registry.register(_Collect(collect, names))

    def watch_loop(self, stats: Callable[[], Any]) -> None:
        """A Kafka sink loop's counters (services/kafka/sink_loop.LoopStats), read at scrape."""
        self.watch(lambda: loop_families(stats()), LOOP_FAMILIES)

    def watch_feeds(self, health: Callable[[], Sequence[Any]]) -> None:
        """Per-source feed health (ingest.state.SourceHealth rows), read at scrape."""
        self.watch(lambda: feed_families(health()), FEED_FAMILIES)

    def watch_alerts(self, counts: Callable[[], Mapping[str, float]]) -> None:
        """The alerter's deliveries: `counts()` -> {"delivered": n, "failed": n, ...}."""
        self.watch(lambda: alert_families(counts()), ALERT_FAMILIES)

    def time_sink(self, loop: Any) -> None:
        """Time every write of a sink loop's sink: hw_sink_write_seconds (bulk latency)."""
        from prometheus_client import Histogram

        hist = Histogram(
            "hw_sink_write_seconds",
            "Duration of one batch write of the sink (bulk index, archive append, outbox)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        loop.sink = TimedSink(loop.sink, hist.observe)

    def watch_embedded(self, pipeline: Any) -> None:
        """`hybridwatch run`: the embedded pipeline keeps its own counters; expose those
        under the shared names (hw_articles_out, hw_errors{stage}) instead of ours."""
        self.registry.unregister(self.articles_out)
        self.registry.unregister(self.errors)
        self.watch(lambda: embedded_families(pipeline), EMBEDDED_FAMILIES)

    def watch_group_lag(self, lag: Callable[[], Mapping[tuple[str, int], int]]) -> None:
        """Refresh hw_consumer_lag{group,topic,partition} from `lag()` at each scrape."""

        def refresh() -> None:
            values = lag()
            self.consumer_lag.clear()
            for (topic, partition), behind in values.items():
                self.consumer_lag.labels(topic=topic, partition=str(partition)).set(behind)

        self.on_scrape(refresh)
        closer = getattr(lag, "close", None)
        if closer is not None:
            self._closers.append(closer)

    def serve(self, port: int | None, addr: str = "0.0.0.0") -> int | None:
        """Start the /metrics HTTP endpoint; returns the bound port (None when disabled)."""
        if port is None:
            return None
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        self.server = server
        self.port = int(server.server_address[1])
        return self.port

    def close(self) -> None:
        for close in self._closers:
            try:
                close()
            except Exception as err:  # closing the endpoint matters more
                log.warning("closing %r failed: %s", close, err)
        self._closers.clear()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _satisfies(metrics: Metrics) -> PipelineMetrics:
    return metrics  # mypy checks here that Metrics is a PipelineMetrics


# --------------------------------------------------------------------------- collectors

LOOP_FAMILIES = (
    "hw_sink_records",
    "hw_sink_written",
    "hw_sink_commits",
    "hw_sink_transient_failures",
    "hw_sink_longest_outage_seconds",
)


def loop_families(stats: Any) -> Iterator[Metric]:
    """A sink loop's LoopStats as counters (indexer, alerter, archive)."""
    for name, attr, doc in (
        ("hw_sink_records", "records", "Records consumed by the sink loop"),
        ("hw_sink_written", "written", "Records written by the sink (index, archive, outbox)"),
        ("hw_sink_commits", "commits", "Offset commits of the sink loop"),
        ("hw_sink_transient_failures", "transient_failures", "Writes retried after a failure"),
    ):
        yield CounterMetricFamily(name, doc, value=float(getattr(stats, attr)))
    yield GaugeMetricFamily(
        "hw_sink_longest_outage_seconds",
        "Longest time the sink's target was unreachable in this run",
        value=float(stats.longest_outage_s),
    )


FEED_FAMILIES = (
    "hw_feed_failing",
    "hw_feed_consecutive_failures",
    "hw_feed_items_seen",
    "hw_feed_seconds_since_success",
    "hw_country_feeds",
    "hw_country_feeds_failing",
)


def _age(stamp: str | None, now: float) -> float | None:
    if not stamp:
        return None
    from datetime import datetime

    try:
        return max(0.0, now - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def feed_families(rows: Sequence[Any], now: float | None = None) -> Iterator[Metric]:
    """Per-source poll health and per-country counts of feeds and failing feeds."""
    now = time.time() if now is None else now
    labels = ["source", "country"]
    failing = GaugeMetricFamily("hw_feed_failing", "1 while the feed's polls fail", labels=labels)
    streak = GaugeMetricFamily(
        "hw_feed_consecutive_failures", "Failed polls in a row", labels=labels
    )
    seen = CounterMetricFamily("hw_feed_items_seen", "Feed items seen", labels=labels)
    since = GaugeMetricFamily(
        "hw_feed_seconds_since_success", "Seconds since the last successful poll", labels=labels
    )
    per_country: dict[str, list[int]] = {}
    for h in rows:
        if h.status == "disabled":
            continue
        key = [h.id, h.country]
        is_failing = h.status == "failing"
        failing.add_metric(key, 1.0 if is_failing else 0.0)
        streak.add_metric(key, float(h.consecutive_failures))
        seen.add_metric(key, float(h.items_seen))
        age = _age(h.last_success, now)
        if age is not None:
            since.add_metric(key, age)
        c = per_country.setdefault(h.country, [0, 0])
        c[0] += 1
        c[1] += int(is_failing)
    total = GaugeMetricFamily("hw_country_feeds", "Polled feeds per country", labels=["country"])
    bad = GaugeMetricFamily(
        "hw_country_feeds_failing", "Failing feeds per country", labels=["country"]
    )
    for country, (n, n_failing) in sorted(per_country.items()):
        total.add_metric([country], float(n))
        bad.add_metric([country], float(n_failing))
    yield from (failing, streak, seen, since, total, bad)


ALERT_FAMILIES = ("hw_alerts_delivered", "hw_alerts_failed", "hw_alerts_pending")


def alert_families(counts: Mapping[str, float]) -> Iterator[Metric]:
    yield CounterMetricFamily(
        "hw_alerts_delivered",
        "Alerts delivered to every channel of their subscription",
        value=float(counts.get("delivered", 0)),
    )
    yield CounterMetricFamily(
        "hw_alerts_failed",
        "Alert deliveries that failed on a channel (retried later)",
        value=float(counts.get("failed", 0)),
    )
    yield GaugeMetricFamily(
        "hw_alerts_pending",
        "Alerts waiting in the outbox for delivery",
        value=float(counts.get("pending", 0)),
    )


EMBEDDED_FAMILIES = ("hw_articles_out", "hw_errors", "hw_embedded_queue_depth")


def embedded_families(pipeline: Any) -> Iterator[Metric]:
    """`hybridwatch run`'s pipeline counters (services/embedded PipelineStats)."""
    st = pipeline.stats
    yield CounterMetricFamily(
        "hw_articles_out", "Articles fully processed", value=float(st.articles)
    )
    errors = CounterMetricFamily("hw_errors", "Errors by pipeline stage", labels=["stage"])
    for stage, n in (
        ("detect", st.detector_errors),
        ("write", st.write_errors),
        ("archive", st.archive_errors),
    ):
        errors.add_metric([stage], float(n))
    yield errors
    yield GaugeMetricFamily(
        "hw_embedded_queue_depth",
        "Articles waiting for the embedded pipeline",
        value=float(pipeline.queue_depth),
    )


class TimedSink:
    """A sink whose `write` is timed; everything else is the wrapped sink's."""

    def __init__(self, sink: Any, observe: Callable[[float], None]) -> None:
        self._sink = sink
        self._observe = observe

    def write(self, items: Sequence[Any]) -> Any:
        start = time.perf_counter()
        try:
            return self._sink.write(items)
        finally:
            self._observe(time.perf_counter() - start)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sink, name)


class GroupLagReader:
    """Lag of a consumer group from its committed offsets (what a restart would resume
    from) and the partitions' end offsets, read with a client of its own (never the
    role's consumer, which is not thread-safe); at most once per `every` seconds."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topics: Sequence[str],
        every: float = 5.0,
        client_options: Mapping[str, Any] | None = None,
    ):
        self.bootstrap = bootstrap
        # connection security (services.kafka.security.kafka_python_options), like every
        # other kafka-python client of the role; empty for PLAINTEXT
        self._client_options = dict(client_options or {})
        self.group = group
        self.topics = tuple(topics)
        self.every = every
        self._lock = threading.Lock()
        self._client: Any = None
        self._at = -1e18
        self._last: dict[tuple[str, int], int] = {}

    def __call__(self) -> Mapping[tuple[str, int], int]:
        with self._lock:
            if time.monotonic() - self._at < self.every:
                return self._last
            from kafka import KafkaConsumer, TopicPartition

            if self._client is None:
                self._client = KafkaConsumer(
                    bootstrap_servers=self.bootstrap.split(","),
                    group_id=self.group,
                    enable_auto_commit=False,
                    client_id=f"{self.group}-lag",
                    **self._client_options,
                )
            c = self._client
            tps = [
                TopicPartition(t, p)
                for t in self.topics
                for p in sorted(c.partitions_for_topic(t) or ())
            ]
            ends = c.end_offsets(tps) if tps else {}
            starts = c.beginning_offsets(tps) if tps else {}
            out: dict[tuple[str, int], int] = {}
            for tp in tps:
                committed = c.committed(tp)
                out[(tp.topic, tp.partition)] = max(0, ends[tp] - (committed or starts[tp]))
            self._last, self._at = out, time.monotonic()
            return out

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close(autocommit=False)
                self._client = None
