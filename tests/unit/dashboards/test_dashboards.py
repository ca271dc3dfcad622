"""Every dashboard of both engine flavours: built with grafana-foundation-sdk, committed
current, round-trips through the SDK's models, every panel complete (unit, thresholds,
colour, description), queries only mapped fields through the data source its engine's
provisioning file defines, stable uids."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards import build, calendar, country, event_watch, overview, pipeline
from dashboards.common import DATASOURCE_TYPE, ENGINES, UID_KIND, DashboardSpecError, check_engine
from services.api.security import ROUTE_ROLES
from services.store.templates import MAPPINGS

ROOT = Path(__file__).resolve().parents[3]
JSON = ROOT / "dashboards" / "json"
PROVISIONING = ROOT / "dashboards" / "provisioning"
UIDS = {
    overview.FILE: "hw-overview",
    country.FILE: "hw-country",
    event_watch.FILE: "hw-event-watch",
    pipeline.FILE: "hw-pipeline-health",
}


def _fields(mapping: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, spec in mapping.get("properties", {}).items():
        out.add(prefix + name)
        out |= _fields(spec, f"{prefix}{name}.")
    return out


def _board(engine: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((JSON / engine / name).read_text(encoding="utf-8"))
    return data


def _boards() -> list[tuple[str, str, dict[str, Any]]]:
    return [(e, n, _board(e, n)) for e in ENGINES for n in build.FILES]


def _panels() -> list[tuple[str, str, dict[str, Any]]]:
    return [(e, n, p) for e, n, b in _boards() for p in b["panels"]]


def _search_targets() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    return [
        (e, n, p, t)
        for e, n, p in _panels()
        for t in p.get("targets", [])
        if t.get("datasource", {}).get("uid") in UID_KIND
    ]


def _provisioned(engine: str) -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(
        (PROVISIONING / engine / "datasources" / "hybridwatch.yaml").read_text(encoding="utf-8")
    )
    return {ds["uid"]: ds for ds in doc["datasources"]}


@pytest.mark.parametrize("engine", ENGINES)
def test_committed_json_is_what_the_generators_write(engine: str) -> None:
    rendered = build.render(engine)
    assert sorted(rendered) == sorted(build.FILES)
    assert sorted(p.name for p in (JSON / engine).glob("*.json")) == sorted(build.FILES)
    for name, text in rendered.items():
        assert (JSON / engine / name).read_text(encoding="utf-8") == text, (
            f"dashboards/json/{engine}/{name} is stale: run hybridwatch dashboards build"
        )


@pytest.mark.parametrize(("engine", "name"), [(e, n) for e in ENGINES for n in build.FILES])
def test_every_dashboard_round_trips_through_the_sdk_models_unchanged(
    engine: str, name: str
) -> None:
    committed = _board(engine, name)
    model = Dashboard.from_json(committed)
    assert json.loads(json.dumps(model, cls=JSONEncoder)) == committed
    assert model.uid == UIDS[name]


def test_uids_are_stable_and_the_same_for_both_engines() -> None:
    for engine in ENGINES:
        assert {n: _board(engine, n)["uid"] for n in build.FILES} == UIDS


def test_every_panel_of_every_dashboard_has_unit_thresholds_colour_and_description() -> None:
    panels = _panels()
    assert len(panels) >= 2 * 30
    for engine, name, panel in panels:
        where = f"{engine}/{name}: {panel['title']!r}"
        defaults = panel["fieldConfig"]["defaults"]
        assert panel.get("description", "").strip(), f"{where}: no description"
        assert defaults.get("unit"), f"{where}: no unit"
        steps = defaults.get("thresholds", {}).get("steps", [])
        assert steps and steps[0]["value"] is None and all(s["color"] for s in steps), where
        values = [s["value"] for s in steps[1:]]
        assert values == sorted(values), f"{where}: thresholds out of order"
        assert defaults.get("color", {}).get("mode"), f"{where}: no colour mode"


def test_search_panels_use_the_engine_data_source_type_and_its_query_model() -> None:
    targets = _search_targets()
    assert {e for e, *_ in targets} == set(ENGINES)
    for engine, name, panel, target in targets:
        want = DATASOURCE_TYPE[engine]
        assert panel["datasource"]["type"] == want, f"{engine}/{name}: {panel['title']}"
        assert target["datasource"]["type"] == want
        if engine == "opensearch":
            assert target["queryType"] == "lucene"
        else:
            assert "queryType" not in target


@pytest.mark.parametrize("engine", ENGINES)
def test_every_panel_data_source_is_provisioned_for_its_engine(engine: str) -> None:
    provisioned = _provisioned(engine)
    for name in build.FILES:
        board = _board(engine, name)
        refs = [p["datasource"] for p in board["panels"] if "datasource" in p]
        refs += [v["datasource"] for v in board["templating"].get("list", []) if "datasource" in v]
        refs += [a["datasource"] for a in board.get("annotations", {}).get("list", [])
                 if a["datasource"].get("uid") != "-- Grafana --"]  # fmt: skip
        for ref in refs:
            assert ref["uid"] in provisioned, f"{engine}/{name}: {ref}"
            assert provisioned[ref["uid"]]["type"] == ref["type"], f"{engine}/{name}: {ref}"


@pytest.mark.parametrize("engine", ENGINES)
def test_provisioned_search_data_sources_read_the_indices_the_indexer_writes(engine: str) -> None:
    provisioned = _provisioned(engine)
    index_key = "database" if engine == "opensearch" else "index"
    for uid, kind in UID_KIND.items():
        data = provisioned[uid]["jsonData"]
        assert data[index_key] == f"hw-{kind}-*"
        assert data["timeField"] in _fields(MAPPINGS[kind])
        if engine == "opensearch":
            assert data["flavor"] == "opensearch"


@pytest.mark.parametrize(
    ("engine", "name", "panel", "target"),
    _search_targets(),
    ids=lambda v: v if isinstance(v, str) else v.get("title", ""),
)
def test_search_panels_query_only_mapped_fields(
    engine: str, name: str, panel: dict[str, Any], target: dict[str, Any]
) -> None:
    fields = _fields(MAPPINGS[UID_KIND[target["datasource"]["uid"]]])
    used = {agg["field"] for agg in target["bucketAggs"] if "field" in agg}
    used.add(target["timeField"])
    queries = [target["query"]]
    for agg in target["bucketAggs"]:
        queries += [f["query"] for f in agg.get("settings", {}).get("filters", [])]
    for q in queries:
        used |= set(re.findall(r"([a-z_.]+):", q))
    assert used <= fields, f"{name} / {panel['title']}: unmapped {sorted(used - fields)}"


def test_template_variables_query_mapped_fields_of_their_index() -> None:
    for engine, name, board in _boards():
        for var in board["templating"].get("list", []):
            if var["type"] != "query":
                continue
            find = json.loads(var["query"])
            fields = _fields(MAPPINGS[UID_KIND[var["datasource"]["uid"]]])
            assert find["field"] in fields, f"{engine}/{name}: {var['name']}"
            used = set(re.findall(r"([a-z_.]+):", find.get("query", "")))
            assert used <= fields, f"{engine}/{name}: {var['name']}"


def test_country_drilldown_has_the_four_variables() -> None:
    names = [v["name"] for v in _board("elasticsearch", country.FILE)["templating"]["list"]]
    assert {"country", "narrative", "detector", "outlet"} <= set(names)


def test_signal_tables_link_to_the_api_article_view_and_show_evidence() -> None:
    assert ("GET", "/api/articles/{article_id}") in ROUTE_ROLES
    tables = [
        (n, p) for e, n, p in _panels()
        if p["type"] == "table" and p["targets"][0]["datasource"]["uid"] == "hw-signals"
        and "threat" not in p["targets"][0]["query"]
    ]  # fmt: skip
    assert {n for n, _ in tables} == {overview.FILE, country.FILE, event_watch.FILE}
    for name, panel in tables:
        links = [
            link["url"]
            for o in panel["fieldConfig"]["overrides"]
            if o["matcher"]["options"] == "article_id"
            for prop in o["properties"]
            if prop["id"] == "links"
            for link in prop["value"]
        ]
        assert "${api}/api/articles/${__data.fields.article_id}" in links, name
        assert "${api}/?article=${__data.fields.article_id}&flagged=0" in links, name
        organize = next(t for t in panel["transformations"] if t["id"] == "organize")
        assert "evidence" in organize["options"]["indexByName"], name


def test_event_watch_defaults_to_the_referendum_window_with_calendar_annotations() -> None:
    board = _board("opensearch", event_watch.FILE)
    e = calendar.default_event()
    assert e.date.isoformat() == "2018-09-30"
    w = calendar.event_window(e)
    assert board["time"] == {"from": "2018-08-31T00:00:00Z", "to": "2018-10-11T00:00:00Z"}
    assert w.end - w.start == (30 + 1 + 10) * 86400
    exprs = {a["name"]: a["expr"] for a in board["annotations"]["list"] if "expr" in a}
    days = exprs["Calendar: event days"]
    for ev in calendar.events():
        s = calendar.event_days(ev)
        assert f'"event", "{ev.id}"' in days
        assert f">= {s.start}) and on() (vector(time()) < {s.end})" in days
    country_var = next(v for v in board["templating"].get("list", []) if v["name"] == "country")
    assert country_var["current"]["value"] == ["MK"]
    content = next(p for p in board["panels"] if p["type"] == "text")["options"]["content"]
    assert content.count("/d/hw-event-watch?") == len(calendar.events())


def test_an_unknown_engine_is_named_in_the_error() -> None:
    with pytest.raises(DashboardSpecError, match=r"--engine: unknown search engine 'solr'"):
        check_engine("solr")
