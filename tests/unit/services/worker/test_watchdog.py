"""The stall watchdog's decision, on a stand-in for the Faust app (pure unit test)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NoReturn

import pytest
from faust.types import TP

from services.worker.faust_adapter import EXIT_RESTART, StallWatchdog
from services.worker.processor import Incoming

TOPIC = "t.articles"


class _Consumer:
    def __init__(self, highwaters: dict[TP, int], committed: dict[TP, int], position: int) -> None:
        self._highwaters = highwaters
        self._committed_offset = committed
        self._position = position
        self.resumed: list[Any] = []
        self.seeks: list[tuple[TP, int]] = []

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    def assignment(self) -> set[TP]:
        return set(self._highwaters)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self._highwaters[tp] for tp in tps}

    async def position(self, tp: TP) -> int:
        return self._position

    def resume_partitions(self, tps: Any) -> None:
        self.resumed.append(tps)


class _Flow:
    def __init__(self) -> None:
        self.resumed = 0

    def resume(self) -> None:
        self.resumed += 1


class _App:
    rebalancing = False

    def __init__(self, consumer: _Consumer) -> None:
        self.consumer = consumer
        self.flow_control = _Flow()


class _Progress:
    """What the watchdog reads of the batch processor."""

    def __init__(self, idle: float) -> None:
        self.positions: dict[tuple[str, int], int] = {}
        self.last_batch_at = time.monotonic() - idle

    async def process(self, batch: Sequence[Incoming]) -> None:
        raise AssertionError("the watchdog never processes")

    def forget_partitions(self) -> None:
        pass


class _Exited(Exception):
    pass


def _exit(code: int) -> NoReturn:
    raise _Exited(code)


def _watchdog(app: _App, progress: _Progress) -> StallWatchdog:
    return StallWatchdog(app, progress, TOPIC, stall_after=30, exit=_exit)


async def test_a_taken_over_partition_with_records_past_the_committed_offset_is_resumed() -> None:
    tp = TP(TOPIC, 2)
    # the fetch position is already at the end (records fetched, then lost in buffers):
    # only the committed offset shows that 300 records were never processed here
    consumer = _Consumer({tp: 319}, {tp: 19}, position=319)
    app = _App(consumer)
    dog = _watchdog(app, _Progress(idle=45))
    await dog.check()
    assert consumer.resumed and app.flow_control.resumed == 1
    # and rewound once to the first record not yet processed, so Faust fetches it again
    assert consumer.seeks == [(tp, 19)]
    await dog.check()
    assert consumer.seeks == [(tp, 19)]
    dog.batch_done()  # a batch ran: the next stall may rewind again
    await dog.check()
    assert consumer.seeks == [(tp, 19), (tp, 19)]


async def test_nothing_happens_when_every_owned_record_was_processed() -> None:
    tp = TP(TOPIC, 2)
    consumer = _Consumer({tp: 319}, {tp: 300}, position=319)
    progress = _Progress(idle=45)
    progress.positions[(TOPIC, 2)] = 318
    app = _App(consumer)
    await _watchdog(app, progress).check()
    assert not consumer.resumed and app.flow_control.resumed == 0


async def test_a_stall_that_outlasts_three_stall_times_exits_for_a_restart() -> None:
    tp = TP(TOPIC, 0)
    consumer = _Consumer({tp: 10}, {tp: 0}, position=10)
    with pytest.raises(_Exited) as exited:
        await _watchdog(_App(consumer), _Progress(idle=95)).check()
    assert exited.value.args == (EXIT_RESTART,)


async def test_a_rebalance_that_never_ends_exits_for_a_restart() -> None:
    app = _App(_Consumer({}, {}, position=0))
    app.rebalancing = True
    dog = _watchdog(app, _Progress(idle=0))
    await dog.check()  # the rebalance starts: only noted
    assert dog.rebalancing_since is not None
    dog.rebalancing_since -= 91
    with pytest.raises(_Exited):
        await dog.check()
