"""Prometheus metrics of every hybridwatch process (ingest, worker, indexer, ...).

One registry per process, created by the composition root (`Metrics.create`), never at
import time, so tests can build several independent ones. `serve(port)` exposes it on
/metrics over HTTP when `metrics.port` is configured (0 picks a free port, handy in tests).

Code that records metrics takes `PipelineMetrics` (a Protocol `Metrics` satisfies), not
the concrete class: it sees only counters and gauges, and a test can pass a fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


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


@dataclass
class Metrics:
    registry: CollectorRegistry
    articles_in: Counter
    articles_out: Counter
    signals: Counter
    consumer_lag: Gauge
    errors: Counter
    dead_letters: Counter
    duplicates: Counter
    server: WSGIServer | None = None
    port: int | None = None

    @classmethod
    def create(cls) -> Metrics:
        r = CollectorRegistry(auto_describe=True)
        return cls(
            registry=r,
            articles_in=Counter("hw_articles_in", "Articles consumed by this process", registry=r),
            articles_out=Counter(
                "hw_articles_out",
                "Articles published (ingest) or fully processed (worker)",
                registry=r,
            ),
            signals=Counter("hw_signals", "Signals emitted", ["detector", "country"], registry=r),
            consumer_lag=Gauge(
                "hw_consumer_lag",
                "Records behind the partition's high-water mark",
                ["topic", "partition"],
                registry=r,
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

    def serve(self, port: int | None, addr: str = "0.0.0.0") -> int | None:
        """Start the /metrics HTTP endpoint; returns the bound port (None when disabled)."""
        if port is None:
            return None
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        self.server = server
        self.port = int(server.server_address[1])
        return self.port

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _satisfies(metrics: Metrics) -> PipelineMetrics:
    return metrics  # mypy checks here that Metrics is a PipelineMetrics
