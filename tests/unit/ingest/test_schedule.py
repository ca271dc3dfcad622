"""Adaptive polling intervals and back-off."""

from __future__ import annotations

from hybridwatch.config import IngestSettings
from ingest.schedule import JITTER, failure_delay, success_delay

S = IngestSettings(min_interval=60, max_interval=6 * 3600, max_backoff=3600)


def test_healthy_feed_is_polled_at_its_interval_plus_small_jitter() -> None:
    d = success_delay("rts.rs", 900, 0, S)
    assert 900 <= d < 900 * (1 + JITTER)


def test_jitter_is_deterministic_per_source() -> None:
    assert success_delay("a", 900, 0, S) == success_delay("a", 900, 0, S)
    assert success_delay("a", 900, 0, S) != success_delay("b", 900, 0, S)


def test_feeds_that_rarely_change_slow_down_up_to_eight_times() -> None:
    delays = [
        success_delay("x", 900, streak, S) / success_delay("x", 900, 0, S) for streak in range(8)
    ]
    assert delays[:3] == [1, 1, 1]
    assert delays[3:] == [2, 4, 8, 8, 8]


def test_failures_back_off_exponentially_up_to_the_cap() -> None:
    ratios = [failure_delay("x", 300, n, S) / failure_delay("x", 300, 1, S) for n in (1, 2, 3)]
    assert ratios == [1, 2, 4]
    assert failure_delay("x", 300, 30, S) <= 3600 * (1 + JITTER)


def test_retry_after_is_honoured_when_longer() -> None:
    assert failure_delay("x", 300, 1, S, retry_after=3000) >= 3000


def test_interval_is_clamped_to_settings() -> None:
    fast = IngestSettings(min_interval=120)
    assert success_delay("x", 30, 0, fast) >= 120
