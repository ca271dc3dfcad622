"""services/metrics.py: what a process's /metrics shows, with the shared names and labels."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import generate_latest

from services.kafka.sink_loop import LoopStats
from services.metrics import Metrics, TimedSink


@dataclass
class Row:
    id: str
    country: str
    status: str
    consecutive_failures: int
    items_seen: int
    last_success: str | None


def _text(m: Metrics) -> str:
    return generate_latest(m.registry).decode()


def test_feed_health_is_exposed_per_source_and_counted_per_country() -> None:
    m = Metrics.create("ingest")
    rows = [
        Row("rs-a", "RS", "ok", 0, 12, "2026-01-01T00:00:00Z"),
        Row("rs-b", "RS", "failing", 4, 3, None),
        Row("hr-a", "HR", "failing", 1, 0, None),
        Row("hr-off", "HR", "disabled", 0, 0, None),
    ]
    m.watch_feeds(lambda: rows)
    text = _text(m)
    assert 'hw_process_info{role="ingest"} 1.0' in text
    assert 'hw_feed_failing{country="RS",source="rs-b"} 1.0' in text
    assert 'hw_feed_consecutive_failures{country="RS",source="rs-b"} 4.0' in text
    assert 'hw_feed_items_seen_total{country="RS",source="rs-a"} 12.0' in text
    assert 'hw_country_feeds{country="HR"} 1.0' in text  # the disabled feed is not counted
    assert 'hw_country_feeds_failing{country="HR"} 1.0' in text
    assert 'hw_country_feeds_failing{country="RS"} 1.0' in text
    assert 'source="hr-off"' not in text


def test_lag_series_carry_the_process_group_and_refresh_at_each_scrape() -> None:
    m = Metrics.create("indexer", group="hybridwatch-indexer")
    lag = {("hw.articles", 0): 7, ("hw.signals", 1): 2}
    m.watch_group_lag(lambda: dict(lag))
    text = _text(m)
    assert (
        'hw_consumer_lag{group="hybridwatch-indexer",partition="0",topic="hw.articles"} 7.0' in text
    )
    lag[("hw.articles", 0)] = 0
    assert 'partition="0",topic="hw.articles"} 0.0' in _text(m)


def test_worker_lag_gauge_gets_the_group_without_the_caller_naming_it() -> None:
    m = Metrics.create("worker", group="hybridwatch")
    m.consumer_lag.labels(topic="hw.articles", partition="3").set(5)
    assert 'hw_consumer_lag{group="hybridwatch",partition="3",topic="hw.articles"} 5.0' in _text(m)


def test_a_failing_lag_refresh_does_not_break_the_scrape() -> None:
    m = Metrics.create("archive", group="g")

    def broken() -> dict[tuple[str, int], int]:
        raise ConnectionError("broker down")

    m.watch_group_lag(broken)
    assert 'hw_process_info{role="archive"}' in _text(m)


def test_sink_loop_counters_alert_counts_and_timed_writes_are_exposed() -> None:
    m = Metrics.create("alerter", group="hybridwatch-alerter")
    stats = LoopStats(records=10, written=9, dead_letters=1, commits=3)
    m.watch_loop(lambda: stats)
    m.watch_alerts(lambda: {"delivered": 4, "failed": 2, "pending": 1})

    class Sink:
        name = "alerts"

        def write(self, items: list[int]) -> dict[int, str]:
            return {}

    class Loop:
        sink: object = Sink()

    loop = Loop()
    m.time_sink(loop)
    assert isinstance(loop.sink, TimedSink) and loop.sink.name == "alerts"
    loop.sink.write([1, 2])
    text = _text(m)
    assert "hw_sink_records_total 10.0" in text and "hw_sink_written_total 9.0" in text
    assert "hw_alerts_delivered_total 4.0" in text and "hw_alerts_failed_total 2.0" in text
    assert "hw_alerts_pending 1.0" in text
    assert "hw_sink_write_seconds_count 1.0" in text


def test_embedded_run_exposes_its_pipeline_counters_under_the_shared_names() -> None:
    from services.embedded.pipeline import PipelineStats

    class Pipeline:
        stats = PipelineStats(articles=5, detector_errors=1)
        queue_depth = 2

    m = Metrics.create("run")
    m.watch_embedded(Pipeline())
    text = _text(m)
    assert "hw_articles_out_total 5.0" in text
    assert 'hw_errors_total{stage="detect"} 1.0' in text
    assert "hw_embedded_queue_depth 2.0" in text
