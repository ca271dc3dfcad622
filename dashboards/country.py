"""(b) Country drill-down with the variables country, narrative, detector and outlet.
uid hw-country.

Signals carry no outlet (the Signal contract names the article, not its source), so the
outlet variable filters the article panels; country, narrative and detector filter the
signal panels. A narrative filter is applied only where the panel counts narrative
signals: with "All" Grafana sends `narrative:*`, which would hide every signal without a
narrative (burst, threat, look-alike...).
"""

from __future__ import annotations

from typing import Any

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

UID = "hw-country"
FILE = "country.json"
TITLE = "hybridwatch — country drill-down"
DEFAULT_COUNTRY = "MK"
CD = "country:$country AND detector:$detector"
CN = "country:$country AND detector:narrative AND narrative:$narrative"
OUTLETS = "source.country:$country AND source.outlet:$outlet"


def panels() -> list[PanelSpec]:
    return [
        PanelSpec(
            "Signals over time by detector",
            "Signals of the country per interval in event time, one series per detector.",
            "timeseries",
            (0, 0, 16, 9),
            Search(
                "signals",
                CD,
                (Bucket("terms", "detector", 10), Bucket("date_histogram", "event_time")),
            ),
            thresholds=((None, "green"), (20, "orange"), (100, "red")),
        ),
        PanelSpec(
            "Severity mix",
            "Signals of the country by severity over the time range (colours: low green, "
            "medium yellow, high orange, critical red).",
            "bargauge",
            (16, 0, 8, 9),
            Search("signals", CD, (Bucket("terms", "severity", 4),)),
            by_name_colours=SEVERITY_COLOURS,
        ),
        PanelSpec(
            "Narrative volume",
            "Narrative signals of the country per interval, one series per narrative "
            "(variable narrative).",
            "timeseries",
            (0, 9, 16, 9),
            Search(
                "signals",
                CN,
                (Bucket("terms", "narrative", 10), Bucket("date_histogram", "event_time")),
            ),
            thresholds=((None, "green"), (20, "orange"), (100, "red")),
        ),
        PanelSpec(
            "Top narratives",
            "The narratives that fired most in the country over the time range.",
            "bargauge",
            (16, 9, 8, 9),
            Search("signals", CN, (Bucket("terms", "narrative", 10),)),
            thresholds=((None, "green"), (20, "orange"), (100, "red")),
            colour_mode="thresholds",
        ),
        PanelSpec(
            "Articles per outlet",
            "Articles the country's selected outlets published per interval (variable outlet).",
            "timeseries",
            (0, 18, 16, 9),
            Search(
                "articles",
                OUTLETS,
                (Bucket("terms", "source.outlet", 10), Bucket("date_histogram", "published")),
            ),
            thresholds=((None, "green"), (200, "orange"), (1000, "red")),
        ),
        PanelSpec(
            "Alerts by severity",
            "Live alerts raised for the country per interval, one series per severity.",
            "timeseries",
            (16, 18, 8, 9),
            Search(
                "alerts",
                "country:$country AND replay:false",
                (Bucket("terms", "severity", 4), Bucket("date_histogram", "event_time")),
            ),
            by_name_colours=SEVERITY_COLOURS,
        ),
        PanelSpec(
            "Evidence",
            "The country's newest signals with their evidence (field, span, text, rule); the "
            "article_id links to the article in the API's workbench (variable `api`).",
            "table",
            (0, 27, 24, 11),
            Search("signals", CD, raw=200),
            unit="string",
            value_colours=SEVERITY_COLOURS,
            colour_field="Severity",
            links=article_links(),
            transformations=signal_table_transformations(),
        ),
        PanelSpec(
            "Latest articles from the selected outlets",
            "Newest articles of the selected outlets; the id opens the article (and all its "
            "signals) in the API's workbench.",
            "table",
            (0, 38, 24, 9),
            Search("articles", OUTLETS, raw=100),
            unit="string",
            links=(
                (
                    "id",
                    "Open the article with its evidence (workbench)",
                    "${api}/?article=${__data.fields.id}&flagged=0",
                ),
            ),
            transformations=(
                (
                    "organize",
                    {
                        "excludeByName": {
                            "text": True,
                            "text_latn": True,
                            "_id": True,
                            "_index": True,
                            "_type": True,
                            "highlight": True,
                            "sort": True,
                            "schema_version": True,
                        }
                    },
                ),
            ),
        ),
    ]


def dashboard(engine: str) -> dict[str, Any]:
    from grafana_foundation_sdk.builders.dashboard import Dashboard

    builder = (
        Dashboard(TITLE)
        .uid(UID)
        .tags(["hybridwatch", "generated"])
        .description("One country: signals by detector and severity, narratives, outlets, "
                     "evidence and alerts.")
        .timezone("utc")
        .refresh("1m")
        .time("now-7d", "now")
        .editable()
        .with_variable(terms_variable(engine, "country", "Country", "signals", "country",
                                      multi=False, default=DEFAULT_COUNTRY).include_all(False))
        .with_variable(terms_variable(engine, "narrative", "Narrative", "signals", "narrative",
                                      query="country:$country"))
        .with_variable(terms_variable(engine, "detector", "Detector", "signals", "detector",
                                      query="country:$country"))
        .with_variable(terms_variable(engine, "outlet", "Outlet", "articles", "source.outlet",
                                      query="source.country:$country"))
        .with_variable(api_variable())
    )  # fmt: skip
    for i, spec in enumerate(panels(), start=1):
        builder = builder.with_panel(panel(engine, i, spec))
    return to_dict(builder)
