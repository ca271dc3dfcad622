"""Adaptive polling: when to poll a source next.

* A healthy feed is polled every `interval` seconds (its registry value), clamped to
  [ingest.min_interval, ingest.max_interval].
* A feed that keeps returning nothing new (304, same body, or no new items) slows
  down: after 3 unchanged polls the interval doubles per further unchanged poll,
  up to 8x, never beyond max_interval. One poll with new items resets it.
* A failing feed backs off exponentially from the interval: 1x, 2x, 4x ... capped
  at ingest.max_backoff, honouring a longer Retry-After from the server.
* A deterministic jitter of up to 10% (from the source id) spreads sources with
  equal intervals so they do not all hit the network in the same second.

Pure functions of their inputs: the poller passes the clock in.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from hybridwatch.config import IngestSettings

SLOWDOWN_AFTER = 3
MAX_SLOWDOWN = 8
JITTER = 0.10


def _jitter(source_id: str) -> float:
    """A stable fraction in [0, JITTER) for this source."""
    digest = hashlib.sha256(source_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 * JITTER


def base_interval(interval: int, settings: IngestSettings) -> float:
    return float(min(max(interval, settings.min_interval), settings.max_interval))


def success_delay(
    source_id: str, interval: int, unchanged_streak: int, settings: IngestSettings
) -> float:
    """Seconds until the next poll after a successful one."""
    base = base_interval(interval, settings)
    factor = 1
    if unchanged_streak >= SLOWDOWN_AFTER:
        factor = min(MAX_SLOWDOWN, 2 ** (unchanged_streak - SLOWDOWN_AFTER + 1))
    delay = min(base * factor, float(max(settings.max_interval, base)))
    return delay * (1 + _jitter(source_id))


def failure_delay(
    source_id: str,
    interval: int,
    consecutive_failures: int,
    settings: IngestSettings,
    retry_after: float | None = None,
) -> float:
    """Seconds until the next attempt after `consecutive_failures` failures in a row (>= 1)."""
    base = base_interval(interval, settings)
    exponent = max(0, consecutive_failures - 1)
    delay = min(base * 2.0 ** min(exponent, 16), float(settings.max_backoff))
    if retry_after is not None:
        delay = max(delay, min(retry_after, float(settings.max_backoff)))
    return delay * (1 + _jitter(source_id))


def next_time(now: datetime, delay: float) -> datetime:
    return now + timedelta(seconds=delay)
