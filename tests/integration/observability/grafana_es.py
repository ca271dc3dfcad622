"""A panel target of Grafana's search-engine data sources, translated to the search request
the data source sends. Test infrastructure, not a Grafana client.

Two translators, one per engine flavour of the dashboards (dashboards/common.py):

* ``elasticsearch``: Grafana's built-in Elasticsearch data source (its Go query builder):
  date histograms with ``fixed_interval``;
* ``opensearch``: the ``grafana-opensearch-datasource`` plugin (pkg/opensearch
  lucene_handler.go / client): the same shape, date histograms with the legacy
  ``interval`` key.

Shared by both: a bool filter of the time range on the data source's configured time
field (the provisioning file's ``timeField``) plus a ``query_string`` with
``analyze_wildcard``; bucket aggregations nested in panel order (terms with size,
``{"_count": order}`` and ``min_doc_count``; date histograms with ``min_doc_count`` 0,
``extended_bounds`` of the range and ``epoch_millis`` keys; filters as labelled
``query_string`` filters) and the count metric as the bucket's doc_count; a Raw Data
metric as a page of hits sorted by the time field then ``_doc``, newest first, with
``docvalue_fields`` and the time field in a standard format.

Template variables are interpolated as Grafana does for these data sources (the
``lucene`` format): "All" -> the variable's allValue (``*``) unescaped, one value ->
Lucene-escaped, several -> ``("a" OR "b")`` with each value escaped.

Stated simplification: the ``auto`` interval is passed in (Grafana derives it from the
panel width and the range).
"""

from __future__ import annotations

import re
from typing import Any

_LUCENE_SPECIAL = re.compile(r'([!*+\-=<>\s&|()\[\]{}^~?:\\/"])')


def lucene_escape(value: str) -> str:
    return _LUCENE_SPECIAL.sub(r"\\\1", value)


def format_value(value: str | list[str], all_value: str = "*") -> str:
    if value == "$__all" or value == ["$__all"]:
        return all_value
    if isinstance(value, str):
        return lucene_escape(value)
    return "(" + " OR ".join(f'"{lucene_escape(v)}"' for v in value) + ")"


def substitute(query: str, variables: dict[str, str | list[str]]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise AssertionError(f"query {query!r} names ${name}, which the test does not set")
        return format_value(variables[name])

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, query)


def request(
    engine: str,
    target: dict[str, Any],
    variables: dict[str, str | list[str]],
    time_field: str,
    start_ms: int,
    end_ms: int,
    interval: str,
) -> dict[str, Any]:
    if engine not in ("elasticsearch", "opensearch"):
        raise AssertionError(f"no translator for engine {engine!r}")
    body: dict[str, Any] = {
        "size": 0,
        "query": {
            "bool": {
                "filter": [
                    {"range": {time_field: {"gte": start_ms, "lte": end_ms,
                                            "format": "epoch_millis"}}},
                    {"query_string": {"analyze_wildcard": True,
                                      "query": substitute(target["query"], variables)}},
                ]
            }
        },
    }  # fmt: skip
    metric = target["metrics"][0]
    if metric["type"] == "raw_data":
        body["size"] = int(metric.get("settings", {}).get("size", "500"))
        body["sort"] = [
            {time_field: {"order": "desc", "unmapped_type": "boolean"}},
            {"_doc": {"order": "desc"}},
        ]
        body["script_fields"] = {}
        body["docvalue_fields"] = [time_field]
        body["fields"] = [{"field": time_field, "format": "strict_date_optional_time_nanos"}]
        return body
    if metric["type"] != "count":
        raise AssertionError(f"metric {metric['type']!r} is not translated")
    level = body
    for agg in target["bucketAggs"]:
        s = agg.get("settings", {})
        if agg["type"] == "terms":
            spec: dict[str, Any] = {
                "terms": {
                    "field": agg["field"],
                    "size": int(s.get("size", "500")) or 500,
                    "order": {s.get("orderBy", "_count"): s.get("order", "desc")},
                    "min_doc_count": int(s.get("min_doc_count", "1")),
                }
            }
        elif agg["type"] == "date_histogram":
            key = "interval" if engine == "opensearch" else "fixed_interval"
            spec = {
                "date_histogram": {
                    "field": agg["field"] or time_field,
                    key: interval if s.get("interval", "auto") == "auto" else s["interval"],
                    "min_doc_count": int(s.get("min_doc_count", "0")),
                    "extended_bounds": {"min": start_ms, "max": end_ms},
                    "format": "epoch_millis",
                }
            }
        elif agg["type"] == "filters":
            spec = {
                "filters": {
                    "filters": {
                        (f.get("label") or f["query"]): {
                            "query_string": {
                                "query": substitute(f["query"], variables),
                                "analyze_wildcard": True,
                            }
                        }
                        for f in s.get("filters", [])
                    }
                }
            }
        else:
            raise AssertionError(f"bucket aggregation {agg['type']!r} is not translated")
        level.setdefault("aggs", {})[agg["id"]] = spec
        level = spec
    return body


def variable_request(
    find: dict[str, Any],
    variables: dict[str, str | list[str]],
    time_field: str,
    start_ms: int,
    end_ms: int,
) -> dict[str, Any]:
    """A `{"find": "terms", "field": F, "query": Q}` template-variable query."""
    if find.get("find") != "terms":
        raise AssertionError(f"variable query {find} is not translated")
    filters: list[dict[str, Any]] = [
        {"range": {time_field: {"gte": start_ms, "lte": end_ms, "format": "epoch_millis"}}}
    ]
    if find.get("query"):
        filters.append(
            {"query_string": {"analyze_wildcard": True,
                              "query": substitute(find["query"], variables)}}
        )  # fmt: skip
    return {
        "size": 0,
        "query": {"bool": {"filter": filters}},
        "aggs": {"1": {"terms": {"field": find["field"], "size": 500,
                                 "order": {"_key": "asc"}}}},
    }  # fmt: skip
