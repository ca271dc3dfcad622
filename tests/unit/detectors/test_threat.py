"""Per-country threat level: weighted signal points over a sliding event-time window;
the detector reports level changes, the pure function serves the API."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from detectors.base import DetectorConfigError
from detectors.registry import build
from detectors.threat import ThreatDetector, level_for, signal_points, threat_levels
from detectors.view import ArticleView
from hybridwatch.events import Signal
from tests.unit.detectors._stateful import T0, article, narrative_signal


def _threat(**opts: Any) -> ThreatDetector:
    d = build("threat", opts)
    assert isinstance(d, ThreatDetector)
    return d


def _step(
    det: ThreatDetector,
    state: dict[str, Any],
    aid: str,
    at: Any,
    severity: str = "high",
    n: int = 1,
    country: str = "MK",
) -> list[Signal]:
    a = article(aid, at=at, country=country)
    sigs = [narrative_signal(a, f"n{i}", severity) for i in range(n)]
    return [s for s in det.refine(ArticleView(a), sigs, state) if s.detector == "threat"]


def test_levels_follow_thresholds() -> None:
    assert [level_for(p) for p in (0, 9.9, 10, 30, 80, 200, 1e6)] == [
        "low",
        "low",
        "guarded",
        "elevated",
        "high",
        "severe",
        "severe",
    ]


def test_reputation_weighs_less_and_threat_signals_nothing() -> None:
    assert signal_points("reputation", "medium") == pytest.approx(0.75)
    assert signal_points("threat", "critical") == 0.0
    assert signal_points("narrative", "high") == 8.0


def test_detector_reports_only_level_changes_with_score_zero() -> None:
    det, state = _threat(), {}
    out = [_step(det, state, f"t{i}", T0 + timedelta(minutes=i)) for i in range(5)]
    # 8 points per article: 8 low, 16 guarded, 24 guarded, 32 elevated, 40 elevated
    assert [len(o) for o in out] == [0, 1, 0, 1, 0]
    g, e = out[1][0], out[3][0]
    assert (g.details["previous_level"], g.details["level"]) == ("low", "guarded")
    assert (e.details["level"], e.severity, e.score) == ("elevated", "medium", 0.0)
    assert e.details["by_detector"] == {"narrative": 32.0}


def test_window_slides_with_event_time_and_the_level_decays() -> None:
    det, state = _threat(window_hours=24), {}
    for i in range(4):
        _step(det, state, f"u{i}", T0 + timedelta(minutes=i))
    [drop] = _step(det, state, "later", T0 + timedelta(hours=30), severity="low")
    assert (drop.details["previous_level"], drop.details["level"]) == ("elevated", "low")
    assert drop.details["points"] == 1.0


def test_state_is_bounded_by_window_over_bucket() -> None:
    det, state = _threat(window_hours=6, bucket_minutes=60), {}
    for i in range(100):
        _step(det, state, f"w{i}", T0 + timedelta(minutes=37 * i))
    assert len(state["threat:MK"]["buckets"]) <= 6
    assert json.loads(json.dumps(state)) == state


def test_countries_are_independent() -> None:
    det, state = _threat(), {}
    for i in range(4):
        _step(det, state, f"m{i}", T0, country="MK")
    assert state["threat:MK"]["level"] == "elevated"
    _step(det, state, "r0", T0, country="RS", severity="low")
    assert state["threat:RS"]["level"] == "low"


def test_threat_levels_from_stored_signal_dicts() -> None:
    a = article("api1", at=T0)
    stored = [narrative_signal(a, "n", "critical").to_dict() for _ in range(2)]  # 40 points
    old = narrative_signal(article("api0", at=T0 - timedelta(hours=30)), "n", "critical").to_dict()
    reports = threat_levels([*stored, old], as_of=T0 + timedelta(hours=1), countries=["RS"])
    assert reports["MK"].level == "elevated" and reports["MK"].signals == 2
    assert reports["RS"].level == "low" and reports["RS"].points == 0
    d = reports["MK"].to_dict()
    assert d["by_detector"] == {"narrative": 40.0} and d["as_of"].endswith("Z")


def test_threat_levels_agree_with_the_detector() -> None:
    det, state = _threat(), {}
    sigs: list[Signal] = []
    for i in range(6):
        a = article(f"z{i}", at=T0 + timedelta(minutes=5 * i))
        s = [narrative_signal(a, "n", "medium")]
        det.refine(ArticleView(a), s, state)
        sigs.extend(s)
    assert (
        threat_levels(sigs, as_of=T0 + timedelta(minutes=25))["MK"].level
        == state["threat:MK"]["level"]
    )


def test_thresholds_must_increase() -> None:
    with pytest.raises(DetectorConfigError, match="increase"):
        build("threat", {"thresholds": {"guarded": 10, "elevated": 5, "high": 80, "severe": 200}})
