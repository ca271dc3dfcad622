"""(a) Western Balkans overview: threat level per country, signals over time by country and
by severity, top narratives, the latest high and critical signals (evidence, a link to the
article in the API) and the alerts subscribers received. uid hw-overview."""

from __future__ import annotations

from typing import Any

from dashboards.common import (
    LEVEL_COLOURS,
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

UID = "hw-overview"
FILE = "overview.json"
TITLE = "hybridwatch — Western Balkans overview"
C = "country:$country"
HIGH = "severity:(high OR critical)"


def panels() -> list[PanelSpec]:
    return [
        PanelSpec(
            "Threat level per country",
            "Current threat level of each country: the newest `threat` signal per country "
            "(detectors/threat.py: weighted signal points over 24 h of event time; low, "
            "guarded, elevated, high, severe).",
            "table",
            (0, 0, 8, 9),
            Search("signals", f"detector:threat AND {C}", raw=500),
            unit="string",
            colour_mode="thresholds",
            value_colours=LEVEL_COLOURS,
            colour_field="Threat level",
            transformations=(
                (
                    "groupBy",
                    {
                        "fields": {
                            "country": {"aggregations": [], "operation": "groupby"},
                            "details.level": {
                                "aggregations": ["firstNotNull"],
                                "operation": "aggregate",
                            },
                            "event_time": {"aggregations": ["first"], "operation": "aggregate"},
                        }
                    },
                ),
                (
                    "organize",
                    {
                        "renameByName": {
                            "country": "Country",
                            "details.level (firstNotNull)": "Threat level",
                            "event_time (first)": "Since",
                        }
                    },
                ),
            ),
        ),
        PanelSpec(
            "Signals over time by country",
            "Signals per interval in event time, one series per source country.",
            "timeseries",
            (8, 0, 16, 9),
            Search(
                "signals",
                C,
                (Bucket("terms", "country", 7), Bucket("date_histogram", "event_time")),
            ),
            thresholds=((None, "green"), (50, "orange"), (200, "red")),
        ),
        PanelSpec(
            "Signals over time by severity",
            "Signals per interval in event time, one series per severity (colours: low green, "
            "medium yellow, high orange, critical red).",
            "timeseries",
            (0, 9, 16, 9),
            Search(
                "signals",
                C,
                (Bucket("terms", "severity", 4), Bucket("date_histogram", "event_time")),
            ),
            by_name_colours=SEVERITY_COLOURS,
        ),
        PanelSpec(
            "High and critical share",
            "Signals of the window split into high+critical and low+medium (a filters "
            "aggregation); amber from 10 and red from 50 high+critical signals.",
            "stat",
            (16, 9, 8, 9),
            Search(
                "signals",
                C,
                (
                    Bucket(
                        "filters",
                        filters=(
                            ("high+critical", HIGH),
                            ("low+medium", "severity:(low OR medium)"),
                        ),
                    ),
                ),
            ),
            thresholds=((None, "green"), (10, "orange"), (50, "red")),
            colour_mode="thresholds",
        ),
        PanelSpec(
            "Top narratives",
            "The narrative packs that fired most in the window (narrative detector signals).",
            "bargauge",
            (0, 18, 12, 9),
            Search("signals", f"detector:narrative AND {C}", (Bucket("terms", "narrative", 10),)),
            thresholds=((None, "green"), (20, "orange"), (100, "red")),
            colour_mode="thresholds",
        ),
        PanelSpec(
            "Signals by detector",
            "Which detectors fired in the window (narrative, learned, claims, burst, "
            "amplification, lookalike, reputation, threat...).",
            "bargauge",
            (12, 18, 12, 9),
            Search("signals", C, (Bucket("terms", "detector", 10),)),
            thresholds=((None, "green"), (50, "orange"), (200, "red")),
            colour_mode="thresholds",
        ),
        PanelSpec(
            "Latest high and critical signals",
            "The newest high and critical signals with their evidence (field, span, text and "
            "the rule that fired); the article_id links to the article in the API's "
            "workbench (variable `api`).",
            "table",
            (0, 27, 24, 11),
            Search("signals", f"{C} AND {HIGH}", raw=100),
            unit="string",
            value_colours=SEVERITY_COLOURS,
            colour_field="Severity",
            links=article_links(),
            transformations=signal_table_transformations(),
        ),
        PanelSpec(
            "Alerts per subscription",
            "Alerts raised per subscription in event time, live only (replay:false).",
            "timeseries",
            (0, 38, 12, 8),
            Search(
                "alerts",
                f"{C} AND replay:false",
                (Bucket("terms", "subscription_id", 10), Bucket("date_histogram", "event_time")),
            ),
            thresholds=((None, "green"), (20, "orange"), (100, "red")),
        ),
        PanelSpec(
            "Latest alerts",
            "What subscribers were told: summary, severity and the signal ids (live only).",
            "table",
            (12, 38, 12, 8),
            Search("alerts", f"{C} AND replay:false", raw=50),
            unit="string",
            value_colours=SEVERITY_COLOURS,
            colour_field="severity",
        ),
    ]


def dashboard(engine: str) -> dict[str, Any]:
    from grafana_foundation_sdk.builders.dashboard import Dashboard

    builder = (
        Dashboard(TITLE)
        .uid(UID)
        .tags(["hybridwatch", "generated"])
        .description("Threat level, signals, narratives, evidence and alerts per country.")
        .timezone("utc")
        .refresh("1m")
        .time("now-7d", "now")
        .editable()
        .with_variable(terms_variable(engine, "country", "Country", "signals", "country"))
        .with_variable(api_variable())
    )
    for i, spec in enumerate(panels(), start=1):
        builder = builder.with_panel(panel(engine, i, spec))
    return to_dict(builder)
