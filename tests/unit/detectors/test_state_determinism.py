"""Determinism of the stateful suite: the same input gives the same signal ids, and
a run whose state is JSON round-tripped halfway (a restart under Faust) gives exactly
the signals of one uninterrupted in-memory run."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

from detectors.pipeline import DetectorSuite
from detectors.registry import build
from hybridwatch.events import Article
from tests.unit.detectors._stateful import FixedNarrative, article

STATEFUL = ("reputation", "lookalike", "amplification", "burst", "calendar", "threat")
NARRATIVES = ("referendum-illegitimacy", "election-fraud", "nato-aggression")
DOMAINS = (
    "sputnikportal.rs", "informer.rs", "bbc-news.mk", "portal-one.example", "portal-two.example",
    "portal-three.example", "portal-four.example", "daily-five.example", "weekly-six.example",
)  # fmt: skip


def synthetic_stream(n: int, seed: int = 7) -> list[Article]:
    """Made-up articles around the 2018 referendum: shared stories, tags, outlets, order."""
    rng = random.Random(seed)
    stories = [
        " ".join(f"story{s}word{w}" for w in range(40)) + f" synthetic story number {s}"
        for s in range(25)
    ]
    t = datetime(2018, 9, 25, tzinfo=UTC)
    out = []
    for i in range(n):
        burst = 250 <= i < 280  # a flood of one narrative in one country
        t += timedelta(minutes=1 if burst else rng.choice((1, 2, 5, 10, 20)))
        at = t - timedelta(hours=2) if rng.random() < 0.05 else t  # some late arrivals
        tag = f"[{rng.choice(NARRATIVES)}] " if rng.random() < 0.4 else ""
        tag = "[election-fraud] " if burst else tag
        story = rng.randrange(len(stories))
        dom = rng.choice(DOMAINS)
        out.append(
            article(
                f"art{i:05d}",
                title=f"{tag}Synthetic headline {story}",
                text=stories[story],
                at=at,
                country="MK" if burst else rng.choice(("MK", "RS", "MK", "BA")),
                source=dom.split(".")[0],
                domain=dom,
            )
        )
    return out


def suite() -> DetectorSuite:
    return DetectorSuite([FixedNarrative(), *(build(n) for n in STATEFUL)])


def run(articles: list[Article], state: MutableMapping[str, Any]) -> list[dict[str, Any]]:
    s = suite()
    return [s.process(a, state).to_dict() for a in articles]


def test_stream_exercises_every_stateful_detector() -> None:
    results = run(synthetic_stream(600), {})
    fired = {sig["detector"] for r in results for sig in r["signals"]}
    assert set(STATEFUL) - {"calendar"} <= fired
    raised = [sig for r in results for sig in r["signals"] if "calendar" in sig["details"]]
    assert raised


def test_same_input_gives_same_signal_ids() -> None:
    stream = synthetic_stream(400)
    a, b = run(stream, {}), run(stream, {})
    assert [s["id"] for r in a for s in r["signals"]] == [s["id"] for r in b for s in r["signals"]]
    assert a == b


def test_json_round_trip_of_state_mid_stream_changes_nothing() -> None:
    stream = synthetic_stream(600)
    uninterrupted = run(stream, {})
    state: dict[str, Any] = {}
    first = run(stream[:300], state)
    restored = json.loads(json.dumps(state))
    second = run(stream[300:], restored)
    assert first + second == uninterrupted


def test_state_keys_name_detector_and_country_and_values_are_plain_json() -> None:
    state: dict[str, Any] = {}
    run(synthetic_stream(300), state)
    assert state
    for key, value in state.items():
        det, country = key.split(":")[:2]
        assert det in STATEFUL and country in {"MK", "RS", "BA"}, key
        assert json.loads(json.dumps(value)) == value


def test_default_suite_registers_and_orders_the_stateful_detectors() -> None:
    full = DetectorSuite.from_config()
    names = {d.name for d in full.detectors}
    assert set(STATEFUL) <= names
    assert [d.name for d in full._second] == ["learned", "burst", "calendar", "threat"]
    res = full.process(synthetic_stream(1)[0], {})
    assert res.article_id == "art00000"


class JsonTable(MutableMapping[str, Any]):
    """Stand-in for a Faust table: values live serialised, so `get` returns a fresh copy
    and an in-place change that is not assigned back is lost (as in the changelog)."""

    def __init__(self) -> None:
        self.raw: dict[str, str] = {}

    def __getitem__(self, key: str) -> Any:
        return json.loads(self.raw[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self.raw[key] = json.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.raw[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)


def test_serialising_table_gives_the_same_signals_as_a_dict() -> None:
    stream = synthetic_stream(500)
    table = JsonTable()
    assert run(stream, table) == run(stream, {})
    assert table.raw
