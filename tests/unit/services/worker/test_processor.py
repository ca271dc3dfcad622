"""BatchProcessor ordering rules, with an in-memory table and sender (pure unit tests).

The integration tests (tests/integration/kafka/) prove the same against real Kafka
and Faust; these pin the crash-consistency rules down precisely and fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from detectors.base import Detector, State
from detectors.pipeline import DetectorSuite
from detectors.view import ArticleView
from hybridwatch.events import Signal
from hybridwatch.topics import ATTEMPT_HEADER, ERROR_HEADER, Topics
from services.kafka.codec import encode
from services.worker.processor import BatchProcessor, Incoming
from services.worker.state import StateCache, delta_key, marker_key, shard_key, shard_of
from tests.fixtures.synthetic_articles import synthetic_articles

TOPICS = Topics("t.")
SHARDS = 16


def _value(table: dict[str, Any], key: str, partition: int = 0) -> Any:
    """A detector key's value as a restarted worker rebuilds it: shards + marker's deltas."""
    cache = StateCache(table, TOPICS.articles, partition, SHARDS)
    cache.recover()
    return cache.lookup(key)


class CountingDetector(Detector):
    """Stateful: signals every article with the running per-country count in its id key."""

    name: ClassVar[str] = "counting"
    stateful: ClassVar[bool] = True

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        a = article.article
        key = f"counting:{a.source.country}"
        n = int(state.get(key, 0)) + 1
        state[key] = n
        if "explode" in a.title:
            raise RuntimeError("detector bug")
        return [
            Signal(
                id=Signal.make_id(a.id, self.name, None, str(n)),
                article_id=a.id,
                detector=self.name,
                country=a.source.country,
                severity="low",
                score=0.1,
                event_time=a.published,
            )
        ]


class Sink:
    def __init__(self, fail_first: int = 0) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        self.fail_first = fail_first

    async def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Any) -> Any:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail_first > 0:
            self.fail_first -= 1
            fut.set_exception(ConnectionError("broker gone"))
        else:
            self.sent.append((topic, key, value, list(headers)))
            fut.set_result(None)
        return fut


def _suite() -> DetectorSuite:
    return DetectorSuite([CountingDetector(CountingDetector.Options())])


def _records(n: int, start_offset: int = 0, partition: int = 0) -> list[Incoming]:
    out = []
    for i, a in enumerate(synthetic_articles(n, countries=("MK",))):
        r = encode(a)
        out.append(
            Incoming(TOPICS.articles, partition, start_offset + i, r.key, r.value, r.headers)
        )
    return out


def _signal_ids(sink: Sink) -> list[bytes | None]:
    return [v for t, _, v, _ in sink.sent if t == TOPICS.signals]


async def test_redelivered_records_are_skipped_so_state_is_not_double_counted() -> None:
    table: dict[str, Any] = {}
    sink = Sink()
    proc = BatchProcessor(_suite(), table, TOPICS, sink.send, send_backoff=0, shards=SHARDS)
    recs = _records(5)
    await proc.process(recs)
    first = _signal_ids(sink)
    report = await proc.process(recs[2:])  # consumer offsets lagged behind the changelog
    assert report.skipped == 3
    assert _signal_ids(sink) == first
    assert _value(table, "counting:MK") == 5
    assert table[marker_key(TOPICS.articles, 0)]["offset"] == 4


async def test_a_batch_writes_only_a_delta_and_the_marker_until_a_snapshot_is_due() -> None:
    table: dict[str, Any] = {}
    proc = BatchProcessor(_suite(), table, TOPICS, Sink().send, send_backoff=0, shards=SHARDS)
    await proc.process(_records(3))
    await proc.process(_records(2, start_offset=3))
    assert table[marker_key(TOPICS.articles, 0)] == {"offset": 4, "seq": 2, "snap": 0}
    assert table[delta_key(TOPICS.articles, 0, 2)] == {"writes": {"counting:MK": 5}, "deletes": []}
    assert not any(k.startswith("__hw_shard__/") for k in table)
    assert _value(table, "counting:MK") == 5


async def test_a_snapshot_writes_the_shards_and_drops_the_deltas_it_covers() -> None:
    table: dict[str, Any] = {}
    proc = BatchProcessor(
        _suite(), table, TOPICS, Sink().send, send_backoff=0, shards=SHARDS, max_deltas=3
    )
    for i in range(4):
        await proc.process(_records(1, start_offset=i))
    assert table[marker_key(TOPICS.articles, 0)] == {"offset": 3, "seq": 4, "snap": 3}
    assert table[shard_key(TOPICS.articles, 0, shard_of("counting:MK", SHARDS))] == {
        "counting:MK": 3
    }
    assert sorted(k for k in table if k.startswith("__hw_delta__/")) == [
        delta_key(TOPICS.articles, 0, 4)
    ]
    assert _value(table, "counting:MK") == 4


async def test_a_crash_in_the_middle_of_a_snapshot_recovers_the_same_state() -> None:
    table: dict[str, Any] = {}
    proc = BatchProcessor(
        _suite(), table, TOPICS, Sink().send, send_backoff=0, shards=SHARDS, max_deltas=100
    )
    for i in range(3):
        await proc.process(_records(1, start_offset=i))
    # the crash: the snapshot's shard reached the changelog, its marker and tombstones did not
    table[shard_key(TOPICS.articles, 0, shard_of("counting:MK", SHARDS))] = {"counting:MK": 3}
    assert table[marker_key(TOPICS.articles, 0)]["snap"] == 0
    sink = Sink()
    restarted = BatchProcessor(_suite(), table, TOPICS, sink.send, send_backoff=0, shards=SHARDS)
    report = await restarted.process(_records(5))  # re-delivered 0..2, new 3..4
    assert report.skipped == 3
    assert _value(table, "counting:MK") == 5


async def test_a_marker_of_the_earlier_format_is_still_recovered() -> None:
    table: dict[str, Any] = {
        shard_key(TOPICS.articles, 0, shard_of("counting:MK", SHARDS)): {"counting:MK": 1},
        marker_key(TOPICS.articles, 0): {
            "offset": 2,
            "writes": {"counting:MK": 3},
            "deletes": [],
        },
    }
    proc = BatchProcessor(_suite(), table, TOPICS, Sink().send, send_backoff=0, shards=SHARDS)
    report = await proc.process(_records(4))
    assert report.skipped == 3 and report.processed == 1
    assert _value(table, "counting:MK") == 4


async def test_poison_and_detector_errors_go_to_dead_letter_and_processing_goes_on() -> None:
    table: dict[str, Any] = {}
    sink = Sink()
    proc = BatchProcessor(_suite(), table, TOPICS, sink.send, send_backoff=0, shards=SHARDS)
    good = _records(2)
    boom = next(iter(synthetic_articles(1, seed=99, countries=("MK",))))
    boom = boom.model_copy(update={"title": "please explode"})
    r = encode(boom)
    batch: Sequence[Incoming] = [
        good[0],
        Incoming(TOPICS.articles, 0, 1, b"MK", b"\xff not json", []),
        Incoming(TOPICS.articles, 0, 2, r.key, r.value, r.headers),
        Incoming(TOPICS.articles, 0, 3, good[1].key, good[1].value, good[1].headers),
    ]
    report = await proc.process(batch)
    assert report.dead == 2 and report.processed == 2
    dead = [(v, dict(h)) for t, _, v, h in sink.sent if t == TOPICS.dead_letter]
    assert dead[0][0] == b"\xff not json"
    assert dead[0][1][ERROR_HEADER].startswith(b"invalid-article: value is not UTF-8")
    assert dead[1][1][ERROR_HEADER].startswith(b"detector-error: RuntimeError: detector bug")
    # the failing article's state writes were discarded: only the two good ones counted
    assert _value(table, "counting:MK") == 2


async def test_failed_sends_are_retried_with_an_attempt_header() -> None:
    sink = Sink(fail_first=1)
    proc = BatchProcessor(_suite(), {}, TOPICS, sink.send, send_backoff=0)
    await proc.process(_records(1))
    assert len(_signal_ids(sink)) == 1
    assert dict(sink.sent[0][3])[ATTEMPT_HEADER] == b"2"


async def test_state_is_not_written_when_signals_are_never_acknowledged() -> None:
    table: dict[str, Any] = {}
    proc = BatchProcessor(
        _suite(), table, TOPICS, Sink(fail_first=100).send, max_send_attempts=2, send_backoff=0
    )
    with pytest.raises(RuntimeError, match="not acknowledged after 2 attempts"):
        await proc.process(_records(2))
    assert table == {}


class Changelog:
    """A changelog that records what was sent and what was acknowledged, in order."""

    def __init__(self, fail_key_prefix: str | None = None) -> None:
        self.log: list[tuple[str, str]] = []
        self.fail_key_prefix = fail_key_prefix
        self.durable: dict[str, Any] = {}

    def send(self, partition: int, key: str, value: Any) -> Any:
        self.log.append(("sent", key))

        async def ack() -> None:
            await asyncio.sleep(0)
            if self.fail_key_prefix and key.startswith(self.fail_key_prefix):
                raise ConnectionError("changelog partition unavailable")
            self.log.append(("acked", key))
            if value is None:
                self.durable.pop(key, None)
            else:
                self.durable[key] = value

        return ack()


async def test_the_marker_is_sent_only_after_the_delta_it_names_was_acknowledged() -> None:
    changelog = Changelog()
    proc = BatchProcessor(
        _suite(), {}, TOPICS, Sink().send, changelog=changelog.send, shards=SHARDS, max_deltas=2
    )
    await proc.process(_records(2))
    await proc.process(_records(1, start_offset=2))  # this batch also snapshots
    marker = marker_key(TOPICS.articles, 0)
    sent_markers = [
        i for i, (what, k) in enumerate(changelog.log) if what == "sent" and k == marker
    ]
    for i in sent_markers:
        # everything sent before a marker was acknowledged before it was sent
        sent_before = {k for what, k in changelog.log[:i] if what == "sent"}
        acked_before = {k for what, k in changelog.log[:i] if what == "acked"}
        assert sent_before <= acked_before
    assert len(sent_markers) == 3  # batch 1, batch 2, and the snapshot's marker
    # what the changelog holds rebuilds the state on its own
    assert _value(changelog.durable, "counting:MK") == 3


async def test_a_changelog_failure_fails_the_batch_so_its_offsets_are_not_committed() -> None:
    changelog = Changelog(fail_key_prefix="__hw_delta__/")
    sink = Sink()
    proc = BatchProcessor(_suite(), {}, TOPICS, sink.send, changelog=changelog.send, shards=SHARDS)
    with pytest.raises(ConnectionError):
        await proc.process(_records(2))
    # the signals went out (a rerun re-emits the same ids), the marker never did
    assert len(_signal_ids(sink)) == 2
    assert marker_key(TOPICS.articles, 0) not in changelog.durable
    assert ("sent", marker_key(TOPICS.articles, 0)) not in changelog.log


class Seeks:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    async def seek(self, topic: str, partition: int, offset: int) -> None:
        self.calls.append((topic, partition, offset))


async def test_records_the_runtime_never_delivered_are_fetched_again_not_skipped() -> None:
    recs = _records(8)
    seeks = Seeks()
    sink = Sink()
    table: dict[str, Any] = {}
    proc = BatchProcessor(_suite(), table, TOPICS, sink.send, seek=seeks.seek, shards=SHARDS)
    await proc.process(recs[:3])
    # offsets 3 and 4 vanished inside the consumer; 5..7 arrive next
    report = await proc.process(recs[5:])
    assert seeks.calls == [(TOPICS.articles, 0, 3)] and report.rewound == {0: 3}
    assert table[marker_key(TOPICS.articles, 0)]["offset"] == 2  # nothing past the hole
    # the rewound fetch delivers 3.. again: everything is processed once, in order
    await proc.process(recs[3:])
    assert _value(table, "counting:MK") == 8
    reference = Sink()
    await BatchProcessor(_suite(), {}, TOPICS, reference.send, shards=SHARDS).process(recs)
    assert sorted(_signal_ids(sink)) == sorted(_signal_ids(reference))  # type: ignore[type-var]


async def test_a_hole_the_log_itself_has_is_accepted_after_repeated_rewinds() -> None:
    recs = _records(6)
    seeks = Seeks()
    table: dict[str, Any] = {}
    proc = BatchProcessor(_suite(), table, TOPICS, Sink().send, seek=seeks.seek, shards=SHARDS)
    await proc.process(recs[:2])
    for _ in range(3):  # the broker returns offset 4 after 1 every time (e.g. a txn marker)
        await proc.process(recs[4:])
    assert len(seeks.calls) == 3
    report = await proc.process(recs[4:])
    assert report.rewound == {} and report.processed == 2
    assert table[marker_key(TOPICS.articles, 0)]["offset"] == 5


async def test_alerts_follow_their_articles_signals_to_the_alerts_topic() -> None:
    from hybridwatch.events import Alert
    from services.alerts.alerter import Subscription

    sink = Sink()
    subs = [Subscription("all", "low"), Subscription("rs-only", "low", countries=("RS",))]
    proc = BatchProcessor(
        _suite(),
        {},
        TOPICS,
        sink.send,
        send_backoff=0,
        subscriptions=subs,
    )
    recs = _records(3)
    replayed = recs[2]
    recs[2] = Incoming(
        replayed.topic,
        replayed.partition,
        replayed.offset,
        replayed.key,
        replayed.value,
        [*replayed.headers, ("hw-replay", b"1")],
    )
    report = await proc.process(recs)
    assert report.signals == 3 and report.alerts == 3  # the MK articles: "all" only
    topics = [t for t, *_ in sink.sent]
    assert topics == [TOPICS.signals, TOPICS.alerts] * 3  # each alert right after its signal
    alerts = [Alert.model_validate_json(v or b"") for t, _, v, _ in sink.sent if t == TOPICS.alerts]
    signals = [Signal.model_validate_json(v or b"") for v in _signal_ids(sink)]
    assert [a.signals for a in alerts] == [(s.id,) for s in signals]
    assert {a.subscription_id for a in alerts} == {"all"}
    assert [a.replay for a in alerts] == [False, False, True]  # the re-published one says so
