"""One retry helper for every hand-written retry loop: attempts with capped exponential
back-off, an injectable sleep (tests record delays instead of waiting) and optional
jitter from a seeded RNG (consumers do not retry in step; a test gets the same delays).

The loops it serves retry *part* of a batch (only the records Kafka did not acknowledge)
or tell transient from permanent failures, so the helper does not call a function for
them: it yields attempt numbers and sleeps between them, and the loop body decides
what is retried, when to stop early (`return` / `break`) and what to raise at the end.

    for attempt in attempts(5, Backoff(0.5), sleep=time.sleep):
        failed = send(pending, attempt)
        if not failed:
            return
        pending = failed
    raise PublishError(...)

Why not tenacity: its decorator retries a whole call, which fits neither the partial
retries nor the injectable sleeps the tests rely on, and this is 40 lines.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt n+1 after n failures: `base * 2**(n-1)`, at most `cap`;
    with an RNG, a uniformly random delay in [half, full] of that (jitter)."""

    base: float = 0.5
    cap: float = 30.0

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError(f"back-off must not be negative, got base={self.base} cap={self.cap}")

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        full = min(self.cap, self.base * 2.0 ** min(max(failures, 1) - 1, 32))
        return full if rng is None else full / 2 + rng.random() * full / 2


def attempts(
    max_attempts: int,
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Iterator[int]:
    """Yield 1..max_attempts (at least 1), sleeping `backoff.delay(n)` before attempt n+1."""
    for attempt in range(1, max(1, max_attempts) + 1):
        if attempt > 1:
            sleep(backoff.delay(attempt - 1, rng))
        yield attempt


async def async_attempts(
    max_attempts: int,
    backoff: Backoff,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> AsyncIterator[int]:
    """`attempts` for asyncio code: the pause between attempts does not block the loop."""
    for attempt in range(1, max(1, max_attempts) + 1):
        if attempt > 1:
            await sleep(backoff.delay(attempt - 1, rng))
        yield attempt
