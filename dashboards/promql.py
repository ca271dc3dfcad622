"""The pipeline-health PromQL queries: one place for the dashboard's panels and the tests.

Every query here is run against a real Prometheus scraping real hybridwatch processes by
tests/integration/observability/test_prometheus_scrape.py, which requires each to return
series. Metric names: services/metrics.py and services/api/coverage.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromQuery:
    key: str
    title: str
    expr: str
    unit: str
    """Grafana unit id (reqps, short, s, ...)."""
    description: str
    legend: str = ""


PIPELINE: tuple[PromQuery, ...] = (
    PromQuery(
        "ingest_rate",
        "Ingest rate",
        'sum by (job) (rate(hw_articles_out_total{job="ingest"}[1m]))',
        "reqps",
        "Articles per second ingest published to Kafka (acknowledged by the brokers).",
        "{{job}}",
    ),
    PromQuery(
        "feed_errors",
        "Failing feeds per country",
        "max by (country) (hw_country_feeds_failing)",
        "short",
        "Feeds whose last polls failed, per country (ingest's poll state).",
        "{{country}}",
    ),
    PromQuery(
        "silent_sources",
        "Silent sources per country",
        "max by (country) (hw_country_sources_silent)",
        "short",
        "Sources with no new item for 3x their usual gap, per country (the API's coverage).",
        "{{country}}",
    ),
    PromQuery(
        "consumer_lag",
        "Consumer lag per group",
        "sum by (group) (hw_consumer_lag)",
        "short",
        "Records each consumer group still has to read (high-water mark minus position).",
        "{{group}}",
    ),
    PromQuery(
        "indexing_rate",
        "Indexing rate",
        'sum(rate(hw_sink_written_total{job="indexer"}[1m]))',
        "reqps",
        "Documents per second the indexer wrote to the search engine.",
        "indexed",
    ),
    PromQuery(
        "indexing_latency",
        "Bulk write latency (p95)",
        "histogram_quantile(0.95, sum by (le) "
        '(rate(hw_sink_write_seconds_bucket{job="indexer"}[5m])))',
        "s",
        "95th percentile duration of one bulk write of the indexer.",
        "p95",
    ),
    PromQuery(
        "alert_deliveries",
        "Alert deliveries",
        "sum(increase(hw_alerts_delivered_total[1h]))",
        "short",
        "Alerts delivered to every channel of their subscription in the last hour.",
        "delivered",
    ),
    PromQuery(
        "alert_failures",
        "Alert delivery failures",
        "sum(increase(hw_alerts_failed_total[1h]))",
        "short",
        "Channel deliveries that failed in the last hour (retried from the outbox).",
        "failed",
    ),
    PromQuery(
        "dead_letters",
        "Dead letters",
        "sum by (job, reason) (increase(hw_dead_letters_total[1h]))",
        "short",
        "Records sent to the dead-letter topic in the last hour, by process and reason.",
        "{{job}} {{reason}}",
    ),
    PromQuery(
        "signals",
        "Signals by detector",
        "sum by (detector) (rate(hw_signals_total[5m]))",
        "reqps",
        "Signals per second the workers emitted, per detector.",
        "{{detector}}",
    ),
)
