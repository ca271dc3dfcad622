"""services/retry.py: attempt numbers, back-off delays, early stop, jitter, async."""

from __future__ import annotations

import asyncio
import random

import pytest

from services.retry import Backoff, async_attempts, attempts


def test_delays_double_from_the_base_up_to_the_cap() -> None:
    slept: list[float] = []
    assert list(attempts(6, Backoff(0.5, cap=3.0), sleep=slept.append)) == [1, 2, 3, 4, 5, 6]
    assert slept == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_no_sleep_after_the_last_attempt_or_after_an_early_stop() -> None:
    slept: list[float] = []
    for attempt in attempts(5, Backoff(1.0), sleep=slept.append):
        if attempt == 2:
            break
    assert slept == [1.0]


def test_at_least_one_attempt_even_when_configured_with_none() -> None:
    assert list(attempts(0, Backoff(), sleep=lambda s: None)) == [1]


def test_jitter_stays_between_half_and_full_delay_and_repeats_with_the_seed() -> None:
    b = Backoff(1.0, cap=8.0)
    first = [b.delay(n, random.Random(7)) for n in range(1, 6)]
    again = [b.delay(n, random.Random(7)) for n in range(1, 6)]
    assert first == again
    for n, d in enumerate(first, 1):
        full = min(8.0, 2.0 ** (n - 1))
        assert full / 2 <= d <= full


def test_a_negative_backoff_is_refused_naming_the_values() -> None:
    with pytest.raises(ValueError, match="base=-1"):
        Backoff(-1)


def test_async_attempts_await_the_pause() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def run() -> list[int]:
        return [a async for a in async_attempts(3, Backoff(0.25), sleep=sleep)]

    assert asyncio.run(run()) == [1, 2, 3]
    assert slept == [0.25, 0.5]
