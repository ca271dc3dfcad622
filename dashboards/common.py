"""Shared pieces of the search-engine dashboards, built with grafana-foundation-sdk.

A panel is described once as a `PanelSpec` (what it asks the search engine: a `Search`
with its query string and bucket aggregations, how it looks: unit, thresholds, colours,
description) and rendered for either engine:

* ``elasticsearch`` -> Grafana's built-in ``elasticsearch`` data source type;
* ``opensearch`` -> the ``grafana-opensearch-datasource`` plugin, whose Lucene query model
  is the same target shape plus ``queryType: "lucene"`` (the plugin defaults to it, we
  write it out) and whose data source settings name the index ``database`` with a
  ``flavor`` (dashboards/provisioning/opensearch/datasources/hybridwatch.yaml).

The data-source uids are the same in both flavours (hw-signals, hw-articles, hw-alerts,
hw-prometheus), so a panel differs between engines only in its data source
``type`` and that ``queryType``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

ENGINES: tuple[str, ...] = ("elasticsearch", "opensearch")
DEFAULT_ENGINES = ENGINES
"""`hybridwatch dashboards build` without --engine writes both flavours."""
DATASOURCE_TYPE: dict[str, str] = {
    "elasticsearch": "elasticsearch",
    "opensearch": "grafana-opensearch-datasource",
}
KIND_UID: dict[str, str] = {
    "signals": "hw-signals",
    "articles": "hw-articles",
    "alerts": "hw-alerts",
}
UID_KIND: dict[str, str] = {v: k for k, v in KIND_UID.items()}
TIME_FIELD: dict[str, str] = {
    "signals": "event_time",
    "articles": "published",
    "alerts": "event_time",
}

SEVERITY_COLOURS: dict[str, str] = {
    "low": "green",
    "medium": "yellow",
    "high": "orange",
    "critical": "red",
}
LEVEL_COLOURS: dict[str, str] = {
    "low": "green",
    "guarded": "blue",
    "elevated": "yellow",
    "high": "orange",
    "severe": "red",
}
"""Threat levels of detectors/threat.py, lowest first."""
API_VARIABLE = "api"
DEFAULT_API = "http://localhost:8686"

Viz = Literal["timeseries", "bargauge", "table", "stat"]


class DashboardSpecError(ValueError):
    """A panel definition Grafana could not use; the message names the panel."""


def check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise DashboardSpecError(
            f"--engine: unknown search engine {engine!r} (expected one of {', '.join(ENGINES)})"
        )
    return engine


@dataclass(frozen=True)
class Bucket:
    """One bucket aggregation of Grafana's query editor, in panel order."""

    type: Literal["terms", "date_histogram", "filters"]
    field: str = ""
    size: int = 10
    filters: tuple[tuple[str, str], ...] = ()
    """(label, query string) of a filters aggregation."""


@dataclass(frozen=True)
class Search:
    """What a panel asks the search engine: index kind, query string, aggregations.

    `raw` > 0 makes it a Raw Data query (the newest `raw` documents, no aggregation)."""

    kind: Literal["signals", "articles", "alerts"]
    query: str
    buckets: tuple[Bucket, ...] = ()
    raw: int = 0


@dataclass(frozen=True)
class PanelSpec:
    title: str
    description: str
    viz: Viz
    grid: tuple[int, int, int, int]
    """x, y, w, h on Grafana's 24-column grid."""
    search: Search
    unit: str = "short"
    thresholds: tuple[tuple[float | None, str], ...] = ((None, "green"),)
    """(value, colour) steps; the first value is None (the base)."""
    colour_mode: str = "palette-classic"
    by_name_colours: dict[str, str] = field(default_factory=dict)
    """Fixed colour per series / row name (severities, threat levels)."""
    value_colours: dict[str, str] = field(default_factory=dict)
    """Value mappings: a cell text -> colour (table cells coloured by value)."""
    colour_field: str = ""
    """The table column whose cell background shows the mapped colour."""
    links: tuple[tuple[str, str, str], ...] = ()
    """(field, title, url) data links on one field of a table."""
    transformations: tuple[tuple[str, dict[str, Any]], ...] = ()


def datasource(engine: str, kind: str) -> Any:
    from grafana_foundation_sdk.models.dashboard import DataSourceRef

    return DataSourceRef(type_val=DATASOURCE_TYPE[check_engine(engine)], uid=KIND_UID[kind])


def target(engine: str, search: Search, ref: str = "A") -> Any:
    """The panel query as Grafana's Elasticsearch / OpenSearch query editor saves it."""
    from grafana_foundation_sdk.builders import elasticsearch as es
    from grafana_foundation_sdk.models.elasticsearch import TermsOrder

    query = (
        es.Dataquery()
        .ref_id(ref)
        .datasource(datasource(engine, search.kind))
        .query(search.query)
        .time_field(TIME_FIELD[search.kind])
    )
    if engine == "opensearch":
        query = query.query_type("lucene")
    if search.raw:
        if search.buckets:
            raise DashboardSpecError(f"{search}: a raw-data query takes no bucket aggregation")
        return query.metrics(
            [es.RawData().id("1").settings(es.ElasticsearchRawDataSettings().size(str(search.raw)))]
        ).bucket_aggs([])
    if not search.buckets:
        raise DashboardSpecError(f"{search}: a count query needs a bucket aggregation")
    aggs: list[Any] = []
    for i, b in enumerate(search.buckets, start=2):
        if b.type == "terms":
            aggs.append(
                es.Terms()
                .id(str(i))
                .field(b.field)
                .settings(
                    es.ElasticsearchTermsSettings()
                    .size(str(b.size))
                    .order(TermsOrder.DESC)
                    .order_by("_count")
                    .min_doc_count("1")
                )
            )
        elif b.type == "date_histogram":
            aggs.append(
                es.DateHistogram()
                .id(str(i))
                .field(b.field)
                .settings(
                    es.ElasticsearchDateHistogramSettings().interval("auto").min_doc_count("0")
                )
            )
        else:
            aggs.append(
                es.Filters()
                .id(str(i))
                .settings(
                    es.ElasticsearchFiltersSettings().filters(
                        [es.Filter().label(label).query(q) for label, q in b.filters]
                    )
                )
            )
    return query.metrics([es.Count().id("1")]).bucket_aggs(aggs)


def panel(engine: str, pid: int, spec: PanelSpec) -> Any:
    """The panel builder: visualisation, query, unit, thresholds, colours, description."""
    from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
    from grafana_foundation_sdk.builders.dashboard import FieldColor, ThresholdsConfig
    from grafana_foundation_sdk.models.dashboard import (
        DataTransformerConfig,
        DynamicConfigValue,
        FieldColorModeId,
        GridPos,
        Threshold,
        ThresholdsMode,
        ValueMap,
        ValueMappingResult,
    )

    if not spec.description:
        raise DashboardSpecError(f"panel {spec.title!r}: a description is required")
    builders: dict[str, Any] = {
        "timeseries": timeseries.Panel,
        "bargauge": bargauge.Panel,
        "table": table.Panel,
        "stat": stat.Panel,
    }
    x, y, w, h = spec.grid
    p = (
        builders[spec.viz]()
        .id(pid)
        .title(spec.title)
        .description(spec.description)
        .datasource(datasource(engine, spec.search.kind))
        .grid_pos(GridPos(h=h, w=w, x=x, y=y))
        .unit(spec.unit)
        .thresholds(
            ThresholdsConfig()
            .mode(ThresholdsMode.ABSOLUTE)
            .steps([Threshold(value=v, color=c) for v, c in spec.thresholds])
        )
        .color_scheme(FieldColor().mode(FieldColorModeId(spec.colour_mode)))
        .with_target(target(engine, spec.search))
    )
    if spec.viz == "timeseries":
        p = p.min(0)
    for name, colour in spec.by_name_colours.items():
        p = p.override_by_name(
            name,
            [DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})],
        )
    if spec.value_colours:
        p = p.mappings(
            [
                ValueMap(
                    options={
                        v: ValueMappingResult(color=c, index=i)
                        for i, (v, c) in enumerate(spec.value_colours.items())
                    }
                )
            ]
        )
    if spec.colour_field:
        p = p.override_by_name(
            spec.colour_field,
            [DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"})],
        )
    by_field: dict[str, list[dict[str, object]]] = {}
    for fld, title, url in spec.links:
        by_field.setdefault(fld, []).append({"title": title, "url": url, "targetBlank": True})
    for fld, links in by_field.items():
        p = p.override_by_name(fld, [DynamicConfigValue(id_val="links", value=links)])
    for tid, options in spec.transformations:
        p = p.with_transformation(DataTransformerConfig(id_val=tid, options=options))
    return p


def to_dict(builder: Any) -> dict[str, Any]:
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    out: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return out


def api_variable() -> Any:
    """The API's base URL, used by the article links (the workbench page's article view)."""
    from grafana_foundation_sdk.builders.dashboard import TextBoxVariable
    from grafana_foundation_sdk.models.dashboard import VariableOption

    return (
        TextBoxVariable(API_VARIABLE)
        .label("API base URL")
        .description("Where analysts open an article: the hybridwatch API / workbench page.")
        .default_value(DEFAULT_API)
        .current(VariableOption(selected=True, text=DEFAULT_API, value=DEFAULT_API))
    )


def terms_variable(
    engine: str,
    name: str,
    label: str,
    kind: str,
    fld: str,
    *,
    query: str = "",
    multi: bool = True,
    default: str | None = None,
) -> Any:
    """A query variable listing the values of a keyword field (Grafana's `terms` find)."""
    from grafana_foundation_sdk.builders.dashboard import QueryVariable
    from grafana_foundation_sdk.models.dashboard import (
        VariableOption,
        VariableRefresh,
        VariableSort,
    )

    find: dict[str, object] = {"find": "terms", "field": fld}
    if query:
        find["query"] = query
    current = (
        VariableOption(selected=True, text=default, value=default)
        if default is not None
        else VariableOption(selected=True, text="All", value="$__all")
    )
    return (
        QueryVariable(name)
        .label(label)
        .datasource(datasource(engine, kind))
        .query(json.dumps(find, sort_keys=True))
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(True)
        .all_value("*")
        .current(current)
    )


SIGNAL_COLUMNS = {
    "event_time": "Event time",
    "country": "Country",
    "severity": "Severity",
    "detector": "Detector",
    "narrative": "Narrative",
    "score": "Score",
    "evidence": "Evidence (field, span, text, rule)",
    "article_id": "article_id",
}


def signal_table_transformations() -> tuple[tuple[str, dict[str, Any]], ...]:
    """Show the columns analysts read (evidence included), in that order."""
    order = {name: i for i, name in enumerate(SIGNAL_COLUMNS)}
    return (
        (
            "organize",
            {
                "indexByName": order,
                "renameByName": {k: v for k, v in SIGNAL_COLUMNS.items() if k != v},
                "excludeByName": {"_id": True, "_index": True, "_type": True, "details": True,
                                  "schema_version": True, "id": True, "highlight": True,
                                  "sort": True},
            },
        ),
    )  # fmt: skip


def article_links() -> tuple[tuple[str, str, str], ...]:
    """Data links from a signal row to its article in the API (page view and JSON)."""
    return (
        (
            "article_id",
            "Open the article with its evidence (workbench)",
            "${" + API_VARIABLE + "}/?article=${__data.fields.article_id}&flagged=0",
        ),
        (
            "article_id",
            "Article JSON (GET /api/articles/{id})",
            "${" + API_VARIABLE + "}/api/articles/${__data.fields.article_id}",
        ),
    )
