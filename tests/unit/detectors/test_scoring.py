"""Article risk from signals (detectors/scoring.py) and the suite's flag decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from detectors.pipeline import DetectorSuite
from detectors.scoring import DETECTOR_WEIGHTS, combine_risk
from hybridwatch.events import Signal
from tests.unit.detectors.conftest import make_article

T = datetime(2018, 9, 30, tzinfo=UTC)


def sig(score: float, detector: str = "narrative", key: str = "") -> Signal:
    return Signal(
        id=Signal.make_id("a", detector, None, key or str(score)),
        article_id="a",
        detector=detector,
        country="MK",
        severity="low",
        score=score,
        event_time=T,
    )


def test_no_signal_means_no_risk() -> None:
    assert combine_risk([]) == 0.0


def test_one_strong_signal_is_enough_and_weak_ones_add_up() -> None:
    assert combine_risk([sig(0.75, "claims")]) == pytest.approx(0.75)
    assert combine_risk([sig(0.3, "claims")]) < 0.5
    pair = [sig(0.3, "claims", key="a"), sig(0.3, "claims", key="b")]
    assert combine_risk(pair) == pytest.approx(0.51)


def test_narrative_hits_count_at_their_dev_chosen_weight() -> None:
    assert combine_risk([sig(0.75)]) == pytest.approx(0.75 * DETECTOR_WEIGHTS["narrative"])
    assert combine_risk([sig(0.9)]) >= 0.5


def test_adding_a_signal_never_lowers_risk() -> None:
    base = [sig(0.4, key="a")]
    for extra in (0.0, 0.1, 0.9):
        assert combine_risk([*base, sig(extra, key="b")]) >= combine_risk(base)


def test_detector_weights_scale_scores_and_threat_counts_nothing() -> None:
    assert combine_risk([sig(0.8, detector="threat")]) == 0.0
    assert combine_risk([sig(0.8, detector="reputation")]) == pytest.approx(0.4)
    assert combine_risk([sig(0.8, detector="x")], weights={"x": 0.5}) == pytest.approx(0.4)


def test_risk_stays_in_unit_interval() -> None:
    r = combine_risk([sig(1.0, key=str(i)) for i in range(5)])
    assert 0.0 <= r <= 1.0


def test_suite_flags_by_threshold() -> None:
    art = make_article("NATO aggression against Yugoslavia in 1999 was a crime.")
    low = DetectorSuite.from_config(["narrative"], flag_threshold=0.5).process(art, {})
    high = DetectorSuite.from_config(["narrative"], flag_threshold=0.99).process(art, {})
    assert low.risk == high.risk > 0.5
    assert low.flagged and not high.flagged
