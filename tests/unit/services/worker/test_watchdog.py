"""The stall watchdog's decision, on a stand-in for the Faust app (pure unit test)."""

from __future__ import annotations

import time
from typing import Any

from faust.types import TP

from services.worker.app import watchdog
from services.worker.processor import BatchProcessor

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


def _idle_processor(seconds: float) -> BatchProcessor:
    proc = BatchProcessor.__new__(BatchProcessor)
    proc.positions = {}
    proc.rebalancing_since = None
    proc.rewound = False
    proc.last_batch_at = time.monotonic() - seconds
    return proc


async def test_a_taken_over_partition_with_records_past_the_committed_offset_is_resumed() -> None:
    tp = TP(TOPIC, 2)
    # the fetch position is already at the end (records fetched, then lost in buffers):
    # only the committed offset shows that 300 records were never processed here
    consumer = _Consumer({tp: 319}, {tp: 19}, position=319)
    app = _App(consumer)
    proc = _idle_processor(45)
    await watchdog(app, proc, TOPIC, stall_after=30)  # type: ignore[arg-type]
    assert consumer.resumed and app.flow_control.resumed == 1
    # and rewound once to the first record not yet processed, so Faust fetches it again
    assert consumer.seeks == [(tp, 19)]
    await watchdog(app, proc, TOPIC, stall_after=30)  # type: ignore[arg-type]
    assert consumer.seeks == [(tp, 19)]


async def test_nothing_happens_when_every_owned_record_was_processed() -> None:
    tp = TP(TOPIC, 2)
    consumer = _Consumer({tp: 319}, {tp: 300}, position=319)
    proc = _idle_processor(45)
    proc.positions[(TOPIC, 2)] = 318
    app = _App(consumer)
    await watchdog(app, proc, TOPIC, stall_after=30)  # type: ignore[arg-type]
    assert not consumer.resumed and app.flow_control.resumed == 0
