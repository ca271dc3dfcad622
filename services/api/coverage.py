"""Coverage gaps: which sources went silent or are failing, per country.

A quiet day and a gap in coverage look the same on a count chart. This module tells
them apart per source, from what the store holds (so it answers the same on SQLite
and on the search engine) plus the sources' poll health where the process has it:

- `last_item`: the newest `published` time among the source's stored articles;
- `expected_interval_s`: the source's usual gap between items, the mean gap over the
  look-back window ((last - first) / (n - 1)), never below its poll interval;
- `silent`: no new item for more than `SILENT_FACTOR` x the expected interval (a
  source with fewer than 2 items in the window has no usual gap: it is silent when
  its last item is older than the window itself, or it never had one);
- `failing`: the poller reports consecutive failures (health status "failing").

Prometheus gauges (`metrics_text`) give operators the same numbers per source and
per country.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hybridwatch.events import format_time
from services.store.base import SourceActivity

SILENT_FACTOR = 3.0
LOOKBACK = timedelta(days=30)


@dataclass(frozen=True)
class SourceCoverage:
    id: str
    country: str
    outlet: str
    articles: int
    last_item: datetime | None
    expected_interval_s: float | None
    silent_for_s: float | None
    silent: bool
    failing: bool
    health: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "country": self.country,
            "outlet": self.outlet,
            "articles": self.articles,
            "last_item": format_time(self.last_item) if self.last_item else None,
            "expected_interval_s": self.expected_interval_s,
            "silent_for_s": self.silent_for_s,
            "silent": self.silent,
            "failing": self.failing,
            "health": self.health,
        }


def assess(
    activity: Sequence[SourceActivity],
    health: Sequence[Mapping[str, Any]],
    poll_intervals: Mapping[str, int],
    now: datetime,
    *,
    lookback: timedelta = LOOKBACK,
    factor: float = SILENT_FACTOR,
) -> list[SourceCoverage]:
    """One entry per source known to the store, the poller or the configuration."""
    by_id: dict[str, SourceActivity] = {}
    for a in activity:  # a source that changed country: keep its busiest entry
        if a.source_id not in by_id or a.articles > by_id[a.source_id].articles:
            by_id[a.source_id] = a
    meta = {str(h["id"]): h for h in health}
    ids = sorted(set(by_id) | set(meta) | set(poll_intervals))
    out: list[SourceCoverage] = []
    for sid in ids:
        act = by_id.get(sid)
        h = meta.get(sid, {})
        status = str(h.get("status") or "unknown")
        poll = float(poll_intervals.get(sid, 0))
        expected: float | None = None
        if act is not None and act.articles >= 2:
            expected = max((act.last - act.first).total_seconds() / (act.articles - 1), poll)
        last = act.last if act is not None else None
        silent_for = (now - last).total_seconds() if last is not None else None
        if status == "disabled":
            silent = False
        elif silent_for is None:
            silent = True
        elif expected is not None:
            silent = silent_for > factor * expected
        else:
            silent = silent_for > lookback.total_seconds()
        out.append(
            SourceCoverage(
                id=sid,
                country=str(h.get("country") or (act.country if act else "")),
                outlet=str(h.get("outlet") or ""),
                articles=act.articles if act else 0,
                last_item=last,
                expected_interval_s=round(expected, 3) if expected is not None else None,
                silent_for_s=round(silent_for, 3) if silent_for is not None else None,
                silent=silent,
                failing=status == "failing",
                health=status,
            )
        )
    return out


def by_country(sources: Iterable[SourceCoverage]) -> dict[str, dict[str, Any]]:
    """Per country: how many sources, which are silent, which are failing."""
    out: dict[str, dict[str, Any]] = {}
    for s in sources:
        c = out.setdefault(s.country or "??", {"sources": 0, "silent": [], "failing": []})
        c["sources"] += 1
        if s.silent:
            c["silent"].append(s.id)
        if s.failing:
            c["failing"].append(s.id)
    return dict(sorted(out.items()))


def metrics_text(sources: Sequence[SourceCoverage]) -> str:
    """Prometheus exposition of the coverage gauges (computed at scrape time)."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    r = CollectorRegistry(auto_describe=True)
    silent = Gauge(
        "hw_source_silent",
        "1 when the source has been silent too long",
        ["source", "country"],
        registry=r,
    )
    age = Gauge(
        "hw_source_seconds_since_last_item",
        "Seconds since the source's newest stored item",
        ["source", "country"],
        registry=r,
    )
    expected = Gauge(
        "hw_source_expected_interval_seconds",
        "The source's usual gap between items",
        ["source", "country"],
        registry=r,
    )
    c_silent = Gauge(
        "hw_country_sources_silent", "Silent sources per country", ["country"], registry=r
    )
    c_failing = Gauge(
        "hw_country_sources_failing", "Failing sources per country", ["country"], registry=r
    )
    c_total = Gauge("hw_country_sources", "Known sources per country", ["country"], registry=r)
    for s in sources:
        silent.labels(s.id, s.country).set(1.0 if s.silent else 0.0)
        if s.silent_for_s is not None:
            age.labels(s.id, s.country).set(s.silent_for_s)
        if s.expected_interval_s is not None:
            expected.labels(s.id, s.country).set(s.expected_interval_s)
    for country, c in by_country(sources).items():
        c_total.labels(country).set(c["sources"])
        c_silent.labels(country).set(len(c["silent"]))
        c_failing.labels(country).set(len(c["failing"]))
    return generate_latest(r).decode("utf-8")
