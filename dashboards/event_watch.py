"""(c) Event watch: narrative volume around a chosen event of the calendar, with the
calendar's event days and sensitivity windows as annotations. uid hw-event-watch.

The default time range is the sensitivity window of the 30 September 2018 North Macedonia
name referendum (detectors/data/calendar.yaml: 30 days before to 10 days after) and the
variables default to its country and narratives; the "Event calendar" panel links every
event to this dashboard on its own window, countries and narratives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dashboards import calendar
from dashboards.common import (
    SEVERITY_COLOURS,
    Bucket,
    PanelSpec,
    Search,
    api_variable,
    article_links,
    panel,
    signal_table_transformations,
    terms_variable,
    to_dict,
)

UID = "hw-event-watch"
FILE = "event-watch.json"
TITLE = "hybridwatch — event watch"
C = "country:$country"
N = "detector:narrative AND country:$country AND narrative:$narrative"


def panels() -> list[PanelSpec]:
    return [
        PanelSpec(
            "Narrative volume around the event",
            "Narrative signals per interval in event time, one series per narrative, for the "
            "chosen countries and narratives; the calendar annotations mark the event days.",
            "timeseries",
            (0, 0, 24, 10),
            Search(
                "signals",
                N,
                (Bucket("terms", "narrative", 10), Bucket("date_histogram", "event_time")),
            ),
            thresholds=((None, "green"), (20, "orange"), (100, "red")),
        ),
        PanelSpec(
            "Signals by severity around the event",
            "All signals of the chosen countries per interval, one series per severity "
            "(the calendar detector raises related signals one level inside the window).",
            "timeseries",
            (0, 10, 12, 9),
            Search(
                "signals",
                C,
                (Bucket("terms", "severity", 4), Bucket("date_histogram", "event_time")),
            ),
            by_name_colours=SEVERITY_COLOURS,
        ),
        PanelSpec(
            "Articles from the event's countries",
            "Articles published per interval by outlets of the chosen countries (the volume "
            "the narrative counts compare against).",
            "timeseries",
            (12, 10, 12, 9),
            Search(
                "articles",
                "source.country:$country",
                (Bucket("terms", "source.country", 7), Bucket("date_histogram", "published")),
            ),
            thresholds=((None, "green"), (500, "orange"), (2000, "red")),
        ),
        PanelSpec(
            "Top narratives in the window",
            "Narratives that fired most in the chosen countries over the whole time range.",
            "bargauge",
            (0, 19, 8, 10),
            Search("signals", f"detector:narrative AND {C}", (Bucket("terms", "narrative", 10),)),
            thresholds=((None, "green"), (20, "orange"), (100, "red")),
            colour_mode="thresholds",
        ),
        PanelSpec(
            "High and critical narrative signals in the window",
            "The newest high and critical narrative signals with their evidence; the "
            "article_id links to the article in the API's workbench (variable `api`).",
            "table",
            (8, 19, 16, 10),
            Search("signals", f"{N} AND severity:(high OR critical)", raw=100),
            unit="string",
            value_colours=SEVERITY_COLOURS,
            colour_field="Severity",
            links=article_links(),
            transformations=signal_table_transformations(),
        ),
    ]


def _calendar_panel(pid: int) -> Any:
    from grafana_foundation_sdk.builders import text
    from grafana_foundation_sdk.builders.dashboard import FieldColor, ThresholdsConfig
    from grafana_foundation_sdk.models.dashboard import (
        FieldColorModeId,
        GridPos,
        Threshold,
        ThresholdsMode,
    )
    from grafana_foundation_sdk.models.text import TextMode

    return (
        text.Panel()
        .id(pid)
        .title("Event calendar")
        .description(
            "Every event of detectors/data/calendar.yaml; the event name opens this dashboard "
            "on its sensitivity window with its countries and narratives."
        )
        .grid_pos(GridPos(h=12, w=24, x=0, y=29))
        .unit("none")
        .thresholds(
            ThresholdsConfig()
            .mode(ThresholdsMode.ABSOLUTE)
            .steps([Threshold(value=None, color="green")])
        )
        .color_scheme(FieldColor().mode(FieldColorModeId.FIXED).fixed_color("text"))
        .mode(TextMode.MARKDOWN)
        .content(calendar.markdown(UID))
    )


def dashboard(engine: str) -> dict[str, Any]:
    from grafana_foundation_sdk.builders.dashboard import Dashboard

    e = calendar.default_event()
    w = calendar.event_window(e)
    start = datetime.fromtimestamp(w.start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = datetime.fromtimestamp(w.end, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    builder = (
        Dashboard(TITLE)
        .uid(UID)
        .tags(["hybridwatch", "generated"])
        .description(f"Narrative volume around a calendar event; default: {e.name} ({e.date}).")
        .timezone("utc")
        .time(start, end)
        .editable()
        .with_variable(
            terms_variable(
                engine, "country", "Country", "signals", "country", default=None
            ).current(_option(list(e.countries)))
        )
        .with_variable(
            terms_variable(engine, "narrative", "Narrative", "signals", "narrative").current(
                _option(list(e.narratives))
            )
        )
        .with_variable(api_variable())
    )
    for annotation in calendar.annotation_queries():
        builder = builder.annotation(annotation)
    specs = panels()
    for i, spec in enumerate(specs, start=1):
        builder = builder.with_panel(panel(engine, i, spec))
    builder = builder.with_panel(_calendar_panel(len(specs) + 1))
    return to_dict(builder)


def _option(values: list[str]) -> Any:
    from grafana_foundation_sdk.models.dashboard import VariableOption

    return VariableOption(selected=True, text=values, value=values)
