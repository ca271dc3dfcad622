"""Per-country threat level over a sliding event-time window.

Analysts want one word per country ("MK: elevated") before they drill down. The
level is a step function of weighted signal points over the last `window_hours`
of event time:

  points(signal) = SEVERITY_POINTS[severity] * detector weight
  level = the highest of  guarded >= 10, elevated >= 30, high >= 80, severe >= 200
          that the window's points reach, else low

Severity points are low 1, medium 3, high 8, critical 20; reputation signals weigh
0.25 (a listed outlet publishing is context, not activity), the threat detector's
own signals 0. Points are bucketed (default one hour), so state per country is at
most window/bucket small entries and the window slides with event time.

Two ways in, same arithmetic:

* `ThreatDetector` (registered as "threat", last in the second phase) keeps the
  window in state key `threat:CC` and emits a `threat` signal (score 0, so it never
  flags an article) on the article that changes the country's level; its details
  hold the level, points and top contributors. The latest threat signal per country
  is therefore the current level, searchable like every other signal.
* `threat_levels(signals, as_of, ...)` is a pure function for the API: pass the
  signals of the last `window_hours` (dicts as stored, or Signal objects) and the
  time to evaluate at; it returns a ThreatReport per country, including countries
  whose level decayed because nothing happened since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from pydantic import Field, field_validator

from detectors.base import Detector, DetectorOptions, State
from detectors.view import ArticleView
from hybridwatch.events import Signal, format_time

LEVELS = ("low", "guarded", "elevated", "high", "severe")
SEVERITY_POINTS: dict[str, float] = {"low": 1.0, "medium": 3.0, "high": 8.0, "critical": 20.0}
LEVEL_SEVERITY: dict[str, str] = {
    "low": "low",
    "guarded": "low",
    "elevated": "medium",
    "high": "high",
    "severe": "critical",
}
DEFAULT_THRESHOLDS: dict[str, float] = {"guarded": 10, "elevated": 30, "high": 80, "severe": 200}
DEFAULT_WEIGHTS: dict[str, float] = {"reputation": 0.25, "threat": 0.0}


class ThreatOptions(DetectorOptions):
    window_hours: int = Field(default=24, ge=1, le=24 * 30)
    bucket_minutes: int = Field(default=60, ge=1, le=24 * 60)
    thresholds: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    """Points at which each level above `low` starts."""
    detector_weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    """Multiplier per detector (default 1)."""

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(LEVELS[1:]):
            raise ValueError(f"thresholds needs exactly the keys {', '.join(LEVELS[1:])}")
        ordered = [value[k] for k in LEVELS[1:]]
        if any(b <= a for a, b in pairwise(ordered)) or ordered[0] <= 0:
            raise ValueError("thresholds must be positive and increase from guarded to severe")
        return value


def level_for(points: float, thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS) -> str:
    level = "low"
    for name in LEVELS[1:]:
        if points >= thresholds[name]:
            level = name
    return level


def signal_points(
    detector: str, severity: str, weights: Mapping[str, float] = DEFAULT_WEIGHTS
) -> float:
    return SEVERITY_POINTS.get(severity, 0.0) * weights.get(detector, 1.0)


@dataclass
class ThreatReport:
    country: str
    level: str
    points: float
    signals: int
    window_start: datetime
    as_of: datetime
    by_detector: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "level": self.level,
            "points": round(self.points, 3),
            "signals": self.signals,
            "window_start": format_time(self.window_start),
            "as_of": format_time(self.as_of),
            "by_detector": {k: round(v, 3) for k, v in sorted(self.by_detector.items())},
        }


def _get(s: Signal | Mapping[str, Any], name: str) -> Any:
    return getattr(s, name) if isinstance(s, Signal) else s[name]


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def threat_levels(
    signals: Iterable[Signal | Mapping[str, Any]],
    as_of: datetime,
    window_hours: int = 24,
    thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    countries: Iterable[str] = (),
) -> dict[str, ThreatReport]:
    """Threat level per country from signals with event_time in (as_of - window, as_of].

    `signals` may be Signal objects or their stored dicts (keys country, detector,
    severity, event_time). Countries in `countries` are reported even with no signal.
    """
    as_of = _when(as_of)
    start = as_of - timedelta(hours=window_hours)
    reports: dict[str, ThreatReport] = {
        c: ThreatReport(c, "low", 0.0, 0, start, as_of) for c in countries
    }
    for s in signals:
        t = _when(_get(s, "event_time"))
        if not start < t <= as_of:
            continue
        c = str(_get(s, "country"))
        det = str(_get(s, "detector"))
        pts = signal_points(det, str(_get(s, "severity")), weights)
        r = reports.setdefault(c, ThreatReport(c, "low", 0.0, 0, start, as_of))
        r.points += pts
        r.signals += 1
        r.by_detector[det] = r.by_detector.get(det, 0.0) + pts
    for r in reports.values():
        r.level = level_for(r.points, thresholds)
    return dict(sorted(reports.items()))


def _clean(x: float) -> float:
    """Round running sums so adding and removing points leaves no float dust behind."""
    return round(x, 6)


class ThreatDetector(Detector):
    name = "threat"
    stateful = True
    after_signals = True
    refine_order = 30
    Options = ThreatOptions

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        assert isinstance(options, ThreatOptions)
        self.opts = options
        self.bucket_s = options.bucket_minutes * 60
        self.n_buckets = max(1, (options.window_hours * 3600) // self.bucket_s)

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        return []  # second phase only: see refine()

    @staticmethod
    def _bucket(buckets: list[list[Any]], bucket: int) -> dict[str, float]:
        """The points of `bucket`, inserted in order if new (late articles land mid-list)."""
        for i, (b, parts) in enumerate(buckets):
            if b == bucket:
                return parts  # type: ignore[no-any-return]
            if b > bucket:
                fresh: dict[str, float] = {}
                buckets.insert(i, [bucket, fresh])
                return fresh
        fresh = {}
        buckets.append([bucket, fresh])
        return fresh

    def refine(self, article: ArticleView, signals: list[Signal], state: State) -> list[Signal]:
        o = self.opts
        a = article.article
        cc = article.country
        key = f"{self.name}:{cc}"
        bucket = int(a.published.timestamp()) // self.bucket_s
        scoring = any(
            signal_points(s.detector, s.severity, o.detector_weights)
            for s in signals
            if s.detector != self.name
        )
        st = state.get(key)
        if st is None:
            if not scoring:
                return signals  # nothing to count and nothing to slide
            st = {"newest": None, "level": "low", "buckets": [], "sum": {}}
        elif not scoring and bucket <= int(st["newest"]):
            return signals  # the window does not move and no points arrive: no change
        newest = bucket if st["newest"] is None else max(int(st["newest"]), bucket)
        oldest_kept = newest - self.n_buckets + 1
        buckets: list[list[Any]] = st["buckets"]
        totals: dict[str, float] = st["sum"]
        # slide: drop buckets that left the window and take their points off the totals
        while buckets and int(buckets[0][0]) < oldest_kept:
            for det, pts in buckets.pop(0)[1].items():
                totals[det] = _clean(totals.get(det, 0.0) - pts)
        added = 0.0
        if bucket >= oldest_kept:  # a late article outside the window adds nothing
            parts = self._bucket(buckets, bucket)
            for s in signals:
                pts = signal_points(s.detector, s.severity, o.detector_weights)
                if pts and s.detector != self.name:
                    parts[s.detector] = _clean(parts.get(s.detector, 0.0) + pts)
                    totals[s.detector] = _clean(totals.get(s.detector, 0.0) + pts)
                    added += pts
            if not parts:
                buckets[:] = [b for b in buckets if b[0] != bucket]
        by_detector = {k: v for k, v in totals.items() if v > 0}
        points = _clean(sum(by_detector.values()))
        level = level_for(points, o.thresholds)
        previous = str(st["level"])
        state[key] = {"newest": newest, "level": level, "buckets": buckets, "sum": by_detector}
        if level == previous:
            return signals
        window_start = datetime.fromtimestamp(oldest_kept * self.bucket_s, tz=UTC)
        return [
            *signals,
            Signal(
                id=Signal.make_id(a.id, self.name, None, f"{previous}->{level}"),
                article_id=a.id,
                detector=self.name,
                country=cc,
                severity=LEVEL_SEVERITY[level],
                score=0.0,
                event_time=a.published,
                details={
                    "level": level,
                    "previous_level": previous,
                    "points": round(points, 3),
                    "added_by_article": round(added, 3),
                    "window_hours": o.window_hours,
                    "window_start": format_time(window_start),
                    "by_detector": {k: round(v, 3) for k, v in sorted(by_detector.items())},
                    "thresholds": dict(o.thresholds),
                    "note": "country threat level changed; score 0, it never flags an article",
                },
            ),
        ]
