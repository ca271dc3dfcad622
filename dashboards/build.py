"""Grafana dashboards as code.

`python dashboards/build.py` regenerates dashboards/json/*.json from the panel
definitions below; tests/unit/dashboards checks the committed JSON is current and
that every field a panel queries exists in the index templates. Panels query the
data sources provisioned in dashboards/provisioning/datasources (uids hw-signals,
hw-articles, hw-alerts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "json"
SIGNALS = {"type": "elasticsearch", "uid": "hw-signals"}
ARTICLES = {"type": "elasticsearch", "uid": "hw-articles"}
ALERTS = {"type": "elasticsearch", "uid": "hw-alerts"}
COUNTRY_FILTER = "country:$country AND severity:$severity"


def _terms(field: str, size: int = 10, pid: str = "2") -> dict[str, Any]:
    return {
        "id": pid,
        "type": "terms",
        "field": field,
        "settings": {"min_doc_count": "1", "order": "desc", "orderBy": "_count", "size": str(size)},
    }


def _histogram(field: str, pid: str = "3") -> dict[str, Any]:
    return {"id": pid, "type": "date_histogram", "field": field, "settings": {"interval": "auto"}}


def _count_target(
    query: str, buckets: list[dict[str, Any]], ds: dict[str, str], time_field: str
) -> dict[str, Any]:
    return {
        "refId": "A",
        "datasource": ds,
        "query": query,
        "metrics": [{"id": "1", "type": "count"}],
        "bucketAggs": buckets,
        "timeField": time_field,
    }


def _panel(
    pid: int,
    title: str,
    kind: str,
    grid: tuple[int, int, int, int],
    target: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    x, y, w, h = grid
    panel: dict[str, Any] = {
        "id": pid,
        "title": title,
        "type": kind,
        "datasource": target["datasource"],
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [target],
    }
    panel.update(extra)
    return panel


def _variables() -> list[dict[str, Any]]:
    def terms_var(name: str, field: str, label: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": SIGNALS,
            "query": json.dumps({"find": "terms", "field": field}),
            "includeAll": True,
            "multi": True,
            "allValue": "*",
            "current": {"text": "All", "value": "$__all"},
            "refresh": 2,
            "sort": 1,
        }

    return [
        terms_var("country", "country", "Country"),
        terms_var("severity", "severity", "Severity"),
    ]


def overview() -> dict[str, Any]:
    panels = [
        _panel(
            1,
            "Signals per country",
            "timeseries",
            (0, 0, 16, 8),
            _count_target(
                COUNTRY_FILTER,
                [_terms("country", 7), _histogram("event_time")],
                SIGNALS,
                "event_time",
            ),
            description="Signal volume in event time, split by the source country.",
        ),
        _panel(
            2,
            "Signals by severity",
            "piechart",
            (16, 0, 8, 8),
            _count_target(COUNTRY_FILTER, [_terms("severity", 4)], SIGNALS, "event_time"),
        ),
        _panel(
            3,
            "Top narratives",
            "barchart",
            (0, 8, 12, 9),
            _count_target(
                COUNTRY_FILTER + " AND detector:narrative",
                [_terms("narrative", 15)],
                SIGNALS,
                "event_time",
            ),
            description="Narrative packs that fired most in the selected window.",
        ),
        _panel(
            4,
            "Signals by detector",
            "barchart",
            (12, 8, 12, 9),
            _count_target(COUNTRY_FILTER, [_terms("detector", 10)], SIGNALS, "event_time"),
        ),
        _panel(
            5,
            "Latest high and critical signals",
            "table",
            (0, 17, 24, 10),
            {
                "refId": "A",
                "datasource": SIGNALS,
                "query": "country:$country AND severity:(high OR critical)",
                "metrics": [{"id": "1", "type": "raw_data", "settings": {"size": "100"}}],
                "bucketAggs": [],
                "timeField": "event_time",
            },
            description="Each row links the signal to its article; evidence spans explain the flag.",
        ),
        _panel(
            6,
            "Articles ingested per country",
            "timeseries",
            (0, 27, 24, 8),
            _count_target(
                "source.country:$country",
                [_terms("source.country", 7), _histogram("published")],
                ARTICLES,
                "published",
            ),
        ),
        _panel(
            7,
            "Alerts per subscription",
            "timeseries",
            (0, 35, 12, 8),
            _count_target(
                "country:$country AND severity:$severity",
                [_terms("subscription_id", 10), _histogram("event_time")],
                ALERTS,
                "event_time",
            ),
            description="Alerts raised per subscription in event time (replays included: "
            "filter replay:false for the live stream).",
        ),
        _panel(
            8,
            "Latest alerts",
            "table",
            (12, 35, 12, 8),
            {
                "refId": "A",
                "datasource": ALERTS,
                "query": "country:$country AND severity:$severity AND replay:false",
                "metrics": [{"id": "1", "type": "raw_data", "settings": {"size": "50"}}],
                "bucketAggs": [],
                "timeField": "event_time",
            },
            description="What subscribers were told: summary, severity, the signal ids.",
        ),
    ]
    return _dashboard("hw-overview", "hybridwatch — overview", panels)


def narrative_drilldown() -> dict[str, Any]:
    query = COUNTRY_FILTER + " AND detector:narrative AND narrative:$narrative"
    variables = [
        *_variables(),
        {
            "name": "narrative",
            "label": "Narrative",
            "type": "query",
            "datasource": SIGNALS,
            "query": json.dumps({"find": "terms", "field": "narrative"}),
            "includeAll": True,
            "multi": True,
            "allValue": "*",
            "current": {"text": "All", "value": "$__all"},
            "refresh": 2,
        },
    ]
    panels = [
        _panel(
            1,
            "Narrative volume by country",
            "timeseries",
            (0, 0, 24, 9),
            _count_target(
                query, [_terms("country", 7), _histogram("event_time")], SIGNALS, "event_time"
            ),
        ),
        _panel(
            2,
            "Evidence (latest matches)",
            "table",
            (0, 9, 24, 12),
            {
                "refId": "A",
                "datasource": SIGNALS,
                "query": query,
                "metrics": [{"id": "1", "type": "raw_data", "settings": {"size": "200"}}],
                "bucketAggs": [],
                "timeField": "event_time",
            },
        ),
        _panel(
            3,
            "Coordinated amplification and bursts",
            "timeseries",
            (0, 21, 24, 8),
            _count_target(
                "country:$country AND detector:(amplification OR burst)",
                [_terms("detector", 5), _histogram("event_time")],
                SIGNALS,
                "event_time",
            ),
        ),
    ]
    return _dashboard("hw-narratives", "hybridwatch — narrative drill-down", panels, variables)


def _dashboard(
    uid: str,
    title: str,
    panels: list[dict[str, Any]],
    variables: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["hybridwatch"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": variables if variables is not None else _variables()},
        "panels": panels,
    }


DASHBOARDS = {"overview.json": overview, "narratives.json": narrative_drilldown}


def render() -> dict[str, str]:
    return {
        name: json.dumps(fn(), indent=2, sort_keys=True) + "\n" for name, fn in DASHBOARDS.items()
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
