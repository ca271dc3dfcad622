"""The pipeline-health dashboard, built with grafana-foundation-sdk (Grafana 11.4 models).

Panels come from dashboards/promql.py (the queries a real Prometheus answers in
tests/integration/observability); each has a unit, thresholds, a colour mode and a
description. The data source is the provisioned Prometheus (uid hw-prometheus).
`hybridwatch dashboards build` writes it to dashboards/json/pipeline-health.json.
"""

from __future__ import annotations

import json
from typing import Any

from dashboards.promql import PIPELINE, PromQuery

UID = "hw-pipeline-health"
FILE = "pipeline-health.json"
DATASOURCE_UID = "hw-prometheus"

# (amber, red) thresholds per query: where an operator should look, then act.
THRESHOLDS: dict[str, tuple[float, float]] = {
    "ingest_rate": (0.0, 0.0),  # informational: never red
    "feed_errors": (1, 3),
    "silent_sources": (1, 3),
    "consumer_lag": (1000, 10000),
    "indexing_rate": (0.0, 0.0),
    "indexing_latency": (1, 5),
    "alert_deliveries": (0.0, 0.0),
    "alert_failures": (1, 10),
    "dead_letters": (1, 10),
    "signals": (0.0, 0.0),
}


def _panel(q: PromQuery, index: int) -> Any:
    from grafana_foundation_sdk.builders.dashboard import FieldColor, ThresholdsConfig
    from grafana_foundation_sdk.builders.prometheus import Dataquery
    from grafana_foundation_sdk.builders.timeseries import Panel
    from grafana_foundation_sdk.models.dashboard import (
        DataSourceRef,
        FieldColorModeId,
        GridPos,
        Threshold,
        ThresholdsMode,
    )

    amber, red = THRESHOLDS[q.key]
    steps = [Threshold(value=None, color="green")]
    if red > 0:
        steps += [Threshold(value=amber, color="orange"), Threshold(value=red, color="red")]
    ds = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
    return (
        Panel()
        .id(index + 1)
        .title(q.title)
        .description(q.description)
        .datasource(ds)
        .unit(q.unit)
        .min(0)
        .thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
        .color_scheme(
            FieldColor().mode(
                FieldColorModeId.THRESHOLDS if red > 0 else FieldColorModeId.PALETTE_CLASSIC
            )
        )
        .grid_pos(GridPos(h=8, w=12, x=12 * (index % 2), y=8 * (index // 2)))
        .with_target(Dataquery().datasource(ds).expr(q.expr).legend_format(q.legend).ref_id("A"))
    )


def dashboard() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (a plain dict)."""
    from grafana_foundation_sdk.builders.dashboard import Dashboard
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    builder = (
        Dashboard("hybridwatch — pipeline health")
        .uid(UID)
        .tags(["hybridwatch", "generated"])
        .description("Ingest, feeds, consumer lag, indexing, alerts and dead letters.")
        .refresh("30s")
        .time("now-6h", "now")
        .editable()
    )
    for i, q in enumerate(PIPELINE):
        builder = builder.with_panel(_panel(q, i))
    out: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return out


def render() -> dict[str, str]:
    """{file name: JSON text} of the SDK-built dashboards."""
    return {FILE: json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"}
