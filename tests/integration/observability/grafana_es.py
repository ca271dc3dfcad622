"""A panel target of Grafana's Elasticsearch/OpenSearch data source, translated to the
search request the data source sends (its query builder's shape: a bool filter of the
time range and a `query_string` with `analyze_wildcard`, the bucket aggregations nested
in panel order with the metric inside). Test infrastructure, not a Grafana client.

Simplifications, stated: template variables are substituted the way Grafana does for
"All" (`$__all` -> `*`) or a single value; the date histogram's `auto` interval is given
explicitly (Grafana derives it from the panel width); metrics are `count` (doc_count) or
`raw_data` (a sorted hits page).
"""

from __future__ import annotations

from typing import Any


def substitute(query: str, variables: dict[str, str]) -> str:
    for name, value in variables.items():
        query = query.replace(f"${name}", "*" if value == "$__all" else value)
    return query


def request(
    target: dict[str, Any], variables: dict[str, str], start_ms: int, end_ms: int, interval: str
) -> dict[str, Any]:
    time_field = target["timeField"]
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
    if target["metrics"][0]["type"] == "raw_data":
        body["size"] = 500
        body["sort"] = [{time_field: {"order": "desc", "unmapped_type": "boolean"}}]
        return body
    aggs = body
    for agg in target["bucketAggs"]:
        s = agg.get("settings", {})
        if agg["type"] == "terms":
            spec: dict[str, Any] = {
                "terms": {
                    "field": agg["field"],
                    "size": int(s.get("size", "10")),
                    "order": {"_count": s.get("order", "desc")},
                    "min_doc_count": int(s.get("min_doc_count", "1")),
                }
            }
        elif agg["type"] == "date_histogram":
            spec = {
                "date_histogram": {
                    "field": agg["field"],
                    "fixed_interval": interval,
                    "min_doc_count": 0,
                    "extended_bounds": {"min": start_ms, "max": end_ms},
                    "format": "epoch_millis",
                }
            }
        else:
            raise AssertionError(f"bucket aggregation {agg['type']!r} is not translated")
        aggs.setdefault("aggs", {})[agg["id"]] = spec
        aggs = spec
    return body
