"""The event calendar (detectors/data/calendar.yaml) as Grafana annotations and links.

grafana-foundation-sdk 11.4 models an annotation query as a data source plus either the
built-in Grafana store's tag target or a PromQL `expr`; an Elasticsearch / OpenSearch
annotation (query, timeField, textField) does not survive its models. So the calendar
annotations are PromQL over the provisioned Prometheus (uid hw-prometheus) that needs no
metric at all: per event, a constant series labelled with the event id that exists only
while Prometheus's evaluation time lies inside the event (days or sensitivity window):

    (label_replace(vector(1), "event", "<id>", "", "")
       and on() (vector(time()) >= START) and on() (vector(time()) < END))

OR-ed over every event. Built from the calendar file each build, so a new event in the
YAML makes the committed dashboards stale until `hybridwatch dashboards build` runs;
tests/unit/dashboards/test_calendar_annotations.py evaluates the expressions with
promtool (Prometheus's own engine) on event days and quiet days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from detectors.reference_data import CalendarEvent, load_calendar

PROMETHEUS_UID = "hw-prometheus"
DEFAULT_EVENT = "mk-name-referendum-2018"


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class Span:
    event: CalendarEvent
    start: int
    """Epoch seconds, inclusive."""
    end: int
    """Epoch seconds, exclusive."""


def event_days(e: CalendarEvent) -> Span:
    return Span(e, _epoch(e.date), _epoch(e.last_day + timedelta(days=1)))


def event_window(e: CalendarEvent) -> Span:
    """The window in which the calendar detector raises related signals (whole UTC days)."""
    return Span(
        e,
        _epoch(e.date - timedelta(days=e.days_before)),
        _epoch(e.last_day + timedelta(days=e.days_after + 1)),
    )


def events() -> tuple[CalendarEvent, ...]:
    return tuple(sorted(load_calendar().events, key=lambda e: (e.date, e.id)))


def default_event() -> CalendarEvent:
    for e in events():
        if e.id == DEFAULT_EVENT:
            return e
    raise LookupError(f"detectors/data/calendar.yaml: no event {DEFAULT_EVENT!r}")


def promql(spans: list[Span]) -> str:
    parts = [
        f'(label_replace(vector(1), "event", "{s.event.id}", "", "") and on() '
        f"(vector(time()) >= {s.start}) and on() (vector(time()) < {s.end}))"
        for s in spans
    ]
    return " or ".join(parts)


def annotation_queries() -> list[Any]:
    """Annotation queries: the event days (red) and their sensitivity windows (orange)."""
    from grafana_foundation_sdk.builders.dashboard import AnnotationQuery
    from grafana_foundation_sdk.models.dashboard import DataSourceRef

    ds = DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)
    evs = events()
    return [
        AnnotationQuery()
        .name("Calendar: event days")
        .datasource(ds)
        .enable(True)
        .icon_color("red")
        .expr(promql([event_days(e) for e in evs])),
        AnnotationQuery()
        .name("Calendar: sensitivity windows")
        .datasource(ds)
        .enable(False)
        .icon_color("orange")
        .expr(promql([event_window(e) for e in evs])),
    ]


def watch_url(uid: str, e: CalendarEvent) -> str:
    w = event_window(e)
    params = [f"from={w.start * 1000}", f"to={w.end * 1000 - 1}"]
    params += [f"var-country={c}" for c in e.countries]
    params += [f"var-narrative={n}" for n in e.narratives] or ["var-narrative=%24__all"]
    return f"/d/{uid}?" + "&".join(params)


def markdown(uid: str) -> str:
    """The calendar as a table, each event linking to the event watch on its window."""
    lines = [
        "| date | event | countries | narratives | window |",
        "|---|---|---|---|---|",
    ]
    for e in events():
        w = event_window(e)
        first = datetime.fromtimestamp(w.start, UTC).date()
        last = datetime.fromtimestamp(w.end, UTC).date() - timedelta(days=1)
        day = e.date.isoformat() + (f" – {e.last_day.isoformat()}" if e.end_date else "")
        lines.append(
            f"| {day} | [{e.name}]({watch_url(uid, e)}) | {', '.join(e.countries)} | "
            f"{', '.join(e.narratives) or 'all'} | {first} – {last} |"
        )
    return "\n".join(lines) + "\n"
