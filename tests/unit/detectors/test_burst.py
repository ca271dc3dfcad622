"""Burst: a narrative far above its adaptive baseline in one bucket fires, with the
counts that justify it; quiet or steady narratives do not; late events are tallied."""

from __future__ import annotations

import itertools
import json
import math
from datetime import timedelta
from typing import Any

import pytest

from detectors.base import DetectorConfigError
from detectors.burst import BurstDetector, advance, poisson_sf
from detectors.registry import build
from detectors.view import ArticleView
from hybridwatch.events import Signal
from tests.unit.detectors._stateful import T0, article, narrative_signal


def _burst(**opts: Any) -> BurstDetector:
    d = build("burst", opts)
    assert isinstance(d, BurstDetector)
    return d


def _feed(
    det: BurstDetector,
    state: dict[str, Any],
    n: int,
    start: Any,
    step: timedelta,
    narrative: str = "election-fraud",
    tag: str = "x",
) -> list[Signal]:
    fired: list[Signal] = []
    for i in range(n):
        a = article(f"{tag}{i}", at=start + step * i)
        out = det.refine(ArticleView(a), [narrative_signal(a, narrative)], state)
        fired.extend(s for s in out if s.detector == "burst")
    return fired


@pytest.mark.parametrize("lam", [0.3, 1.0, 4.5, 20.0])
def test_poisson_tail_matches_direct_sum(lam: float) -> None:
    for c in range(0, 40):
        direct = 1.0 - sum(math.exp(-lam) * lam**k / math.factorial(k) for k in range(c))
        assert poisson_sf(c, lam) == pytest.approx(max(direct, 0.0), rel=1e-6, abs=1e-12)


def test_poisson_far_tail_is_tiny_but_positive() -> None:
    p = poisson_sf(60, 1.0)
    assert 0.0 < p < 1e-60


def test_sudden_spike_fires_once_at_the_crossing_with_its_numbers() -> None:
    det, state = _burst(), {}
    quiet = _feed(det, state, 48, T0, timedelta(hours=1), tag="q")  # one per hour for two days
    assert quiet == []
    spike = _feed(det, state, 7, T0 + timedelta(hours=48, minutes=1), timedelta(minutes=5), tag="s")
    assert len(spike) == 1
    sig = spike[0]
    assert sig.narrative == "election-fraud" and sig.country == "MK"
    d = sig.details
    assert d["count"] >= d["floor"] and d["p_value"] < d["alpha"]
    assert d["expected"] < 2.0
    assert sig.evidence and sig.evidence[0].rule == "burst:election-fraud"


def test_a_growing_burst_fires_again_only_when_the_count_doubles() -> None:
    det, state = _burst(floor=3, alpha=0.01), {}
    fired = _feed(det, state, 30, T0, timedelta(seconds=30))
    counts = [s.details["count"] for s in fired]
    assert len(counts) >= 2
    assert all(b >= 2 * a for a, b in itertools.pairwise(counts))


def test_floor_holds_back_improbable_but_tiny_counts() -> None:
    det, state = _burst(floor=5, prior_rate=0.2, min_rate=0.2), {}
    assert _feed(det, state, 4, T0, timedelta(minutes=1)) == []
    assert len(_feed(det, state, 1, T0 + timedelta(minutes=5), timedelta(minutes=1), tag="y")) == 1


def test_baseline_adapts_to_a_steadily_busy_narrative() -> None:
    det, state = _burst(), {}
    fired = _feed(det, state, 6 * 72, T0, timedelta(minutes=10))  # six per hour for three days
    late_fires = [s for s in fired if s.event_time >= T0 + timedelta(hours=48)]
    assert late_fires == []
    assert state["burst:MK:election-fraud"]["mean"] > 4.0


def test_article_older_than_the_current_bucket_is_counted_as_late_not_in_the_bucket() -> None:
    det, state = _burst(), {}
    _feed(det, state, 3, T0 + timedelta(hours=5), timedelta(minutes=1))
    before = dict(state["burst:MK:election-fraud"])
    _feed(det, state, 1, T0, timedelta(minutes=1), tag="late")
    after = state["burst:MK:election-fraud"]
    assert after["c"] == before["c"] and after["late"] == before["late"] + 1


def test_state_is_small_json_per_country_and_narrative() -> None:
    det, state = _burst(), {}
    _feed(det, state, 200, T0, timedelta(minutes=7))
    _feed(det, state, 50, T0, timedelta(minutes=7), narrative="nato-aggression", tag="n")
    assert sorted(state) == ["burst:MK:election-fraud", "burst:MK:nato-aggression"]
    assert json.loads(json.dumps(state)) == state
    assert all(len(v) == 6 for v in state.values())


def test_empty_buckets_decay_the_baseline_in_closed_form() -> None:
    st = {"b": 10, "c": 4, "mean": 2.0, "n": 5, "fired": 0, "late": 0}
    out = advance(st, 13, 0.5)
    assert out["b"] == 13 and out["c"] == 0 and out["n"] == 8
    assert out["mean"] == pytest.approx((0.5 * 2.0 + 0.5 * 4) * 0.25)


def test_only_the_source_detectors_signals_are_counted() -> None:
    det, state = _burst(), {}
    a = article("o1")
    other = narrative_signal(a, "election-fraud").model_copy(update={"detector": "claims"})
    assert det.refine(ArticleView(a), [other], state) == [other]
    assert state == {}


def test_bad_options_are_rejected_at_load() -> None:
    with pytest.raises(DetectorConfigError, match="alpha"):
        build("burst", {"alpha": 2})
