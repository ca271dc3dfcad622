"""Every search-engine panel of every committed dashboard runs on BOTH real engines.

For each engine (the `search_engine` fixture: the OpenSearch and the Elasticsearch of
`make services-up`), each dashboard of that engine's flavour (dashboards/json/<engine>/)
and each panel target on the signals, articles or alerts data source: the target is
translated as that engine's Grafana data source builds the request (grafana_es.py:
Grafana's Elasticsearch data source for Elasticsearch, the OpenSearch plugin for
OpenSearch), with the provisioned data source's time field and index pattern, the
dashboard's time range (absolute for the event watch, the dataset's span otherwise) and
several sets of variable values, and sent to the real engine loaded with a known
SYNTHETIC dataset: 120 synthetic articles, the signals the detector suite emits for them
and synthetic alerts made from the high and critical ones. Every bucket the engine
returns (terms, date-histogram buckets per term, filters) and every raw-data page is
compared with what Python computes from the same dataset; the threat-level table is also
put through the panel's groupBy transformation. Template-variable queries are run too.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from detectors.pipeline import DetectorSuite
from hybridwatch.config import StoreSettings
from hybridwatch.events import Alert, Article, Signal
from services.store import templates
from tests.fixtures.search import SearchEngine
from tests.fixtures.synthetic_articles import synthetic_articles
from tests.integration.observability import grafana_es

ROOT = Path(__file__).resolve().parents[3]
JSON = ROOT / "dashboards" / "json"
UID_KIND = {"hw-signals": "signals", "hw-articles": "articles", "hw-alerts": "alerts"}
FILES = ("overview.json", "country.json", "event-watch.json")
INTERVAL = "1h"
INTERVAL_MS = 3_600_000
Vars = dict[str, str | list[str]]

# Variable values per dashboard beyond its own defaults: single and multiple values, an
# outlet name with a space (Lucene escaping), narrower detectors and narratives.
EXTRA_CASES: dict[str, list[Vars]] = {
    "overview.json": [{"country": "MK"}, {"country": ["BA", "XK"]}],
    "country.json": [
        {"country": "BA", "outlet": "Synthetic 1", "detector": "narrative"},
        {"country": "XK", "outlet": ["Synthetic 0", "Synthetic 2"],
         "narrative": ["nato-aggression"], "detector": ["narrative", "threat"]},
    ],
    "event-watch.json": [{"country": "$__all", "narrative": "$__all"},
                         {"country": ["RS", "BA"], "narrative": ["nato-aggression"]}],
}  # fmt: skip


def _board(engine: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((JSON / engine / name).read_text(encoding="utf-8"))
    return data


def _defaults(board: dict[str, Any]) -> Vars:
    out: Vars = {}
    for var in board["templating"].get("list", []):
        value = var.get("current", {}).get("value")
        if value is not None:
            out[var["name"]] = value
    return out


def _cases() -> list[tuple[str, int, int]]:
    """(dashboard, panel index, variable case) for every search panel; the panel list is
    the same for both engines (tests/unit/dashboards checks the grids match)."""
    out = []
    for name in FILES:
        board = _board("elasticsearch", name)
        for i, panel in enumerate(board["panels"]):
            if any(
                t.get("datasource", {}).get("uid") in UID_KIND for t in panel.get("targets", [])
            ):
                out += [(name, i, c) for c in range(1 + len(EXTRA_CASES[name]))]
    return out


@dataclass(frozen=True)
class Loaded:
    engine: str
    client: Any
    prefix: str
    docs: dict[str, list[dict[str, Any]]]
    span: tuple[int, int]


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _synthetic_alerts(signals: list[Signal]) -> list[Alert]:
    alerts = []
    high = [s for s in signals if s.severity in ("high", "critical")]
    for i, s in enumerate(high):
        for sub in ("synthetic-analysts", f"synthetic-{s.country.lower()}"):
            alerts.append(
                Alert(
                    id=Alert.make_id(sub, (s.id,)),
                    subscription_id=sub,
                    signals=(s.id,),
                    country=s.country,
                    severity=s.severity,
                    summary=f"SYNTHETIC alert: {s.detector} {s.narrative or ''}".strip(),
                    event_time=s.event_time,
                    replay=i % 4 == 3,
                )
            )
    return alerts


def _doc(event: Article | Signal | Alert, t: datetime) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(event.model_dump_json())
    data["_ms"] = _ms(t)
    return data


@pytest.fixture(scope="module")
def loaded(search_engine: SearchEngine) -> Iterator[Loaded]:
    from services.store.search_engine import SearchEngineStore

    articles = list(synthetic_articles(120, seed=14))
    suite = DetectorSuite.from_config()
    state: dict[str, Any] = {}
    signals = [s for a in articles for s in suite.process(a, state).signals]
    alerts = _synthetic_alerts(signals)
    assert {s.detector for s in signals} >= {"narrative", "threat"}, "dataset too thin"
    assert any(a.replay for a in alerts) and any(not a.replay for a in alerts)
    prefix = f"hwt-{uuid.uuid4().hex[:10]}-"
    store = SearchEngineStore.open(
        StoreSettings(kind=search_engine.kind, url=search_engine.url, index_prefix=prefix)
    )
    try:
        store.put_articles(articles)
        store.put_signals(signals)
        store.put_alerts(alerts)
        store.refresh()
        times = [a.published for a in articles]
        yield Loaded(
            search_engine.kind,
            store.client,
            prefix,
            {
                "articles": [_doc(a, a.published) for a in articles],
                "signals": [_doc(s, s.event_time) for s in signals],
                "alerts": [_doc(a, a.event_time) for a in alerts],
            },
            (_ms(min(times) - timedelta(days=1)), _ms(max(times) + timedelta(days=1))),
        )
    finally:
        try:
            store.drop_all()
        finally:
            store.close()


def _datasource(engine: str, uid: str) -> dict[str, Any]:
    prov = ROOT / "dashboards" / "provisioning" / engine / "datasources" / "hybridwatch.yaml"
    sources = {d["uid"]: d for d in yaml.safe_load(prov.read_text(encoding="utf-8"))["datasources"]}
    return dict(sources[uid]["jsonData"])


def _index_and_time_field(loaded: Loaded, uid: str) -> tuple[str, str]:
    data = _datasource(loaded.engine, uid)
    pattern = data["database" if loaded.engine == "opensearch" else "index"]
    kind = UID_KIND[uid]
    assert pattern == templates.index_pattern("hw-", kind), pattern
    return templates.index_pattern(loaded.prefix, kind), str(data["timeField"])


def _range(board: dict[str, Any], loaded: Loaded) -> tuple[int, int]:
    start, end = board["time"]["from"], board["time"]["to"]
    if start.startswith("now"):
        return loaded.span
    return _iso_ms(start), _iso_ms(end)


def _iso_ms(text: str) -> int:
    return _ms(datetime.fromisoformat(text.replace("Z", "+00:00")))


# ---- the expected answer, computed in Python from the dataset ---------------------------


def _value(doc: dict[str, Any], field: str) -> Any:
    cur: Any = doc
    for part in field.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", r"\1", v)


def _clause(doc: dict[str, Any], clause: str) -> bool:
    fld, _, want = clause.partition(":")
    got = _value(doc, fld)
    if got is None:
        return False
    text = str(got).lower() if isinstance(got, bool) else str(got)
    if want == "*":
        return True
    if want.startswith("("):
        options = {_unescape(o.strip().strip('"')) for o in want[1:-1].split(" OR ")}
        return text in options
    return text == _unescape(want)


def _matches(doc: dict[str, Any], query: str) -> bool:
    """The dashboards' query strings after interpolation: clauses joined by AND, each
    `field:value`, `field:*` or `field:(a OR b)` / `field:("a" OR "b")`."""
    return all(_clause(doc, c) for c in query.split(" AND "))


def _top_terms(docs: list[dict[str, Any]], fld: str, size: int) -> dict[str, int]:
    counts = Counter(str(_value(d, fld)) for d in docs if _value(d, fld) is not None)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) > size:  # ties at the cut-off may be broken either way by the engine
        cut = ranked[size - 1][1]
        return {k: v for k, v in ranked if v > cut}
    return dict(ranked)


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def _group_by(rows: list[dict[str, Any]], options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Grafana's groupBy transformation for the calculations the dashboards use."""
    fields = options["fields"]
    key = next(f for f, o in fields.items() if o["operation"] == "groupby")
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = out.setdefault(str(row.get(key)), {})
        for f, o in fields.items():
            for calc in o.get("aggregations", []):
                name = f"{f} ({calc})"
                first = calc == "first" and name not in group
                if first or (calc == "firstNotNull" and group.get(name) is None):
                    group[name] = row.get(f)
    return out


# ---- the tests -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "index", "case"), _cases(), ids=lambda v: str(v))
def test_search_panel_returns_the_buckets_the_dataset_gives(
    name: str, index: int, case: int, loaded: Loaded
) -> None:
    board = _board(loaded.engine, name)
    panel = board["panels"][index]
    variables = _defaults(board)
    if case:
        variables.update(EXTRA_CASES[name][case - 1])
    start, end = _range(board, loaded)
    where = f"{loaded.engine}/{name}: {panel['title']!r} with {variables}"
    for target in panel["targets"]:
        uid = target["datasource"]["uid"]
        index_pattern, time_field = _index_and_time_field(loaded, uid)
        assert target["timeField"] == time_field, where
        body = grafana_es.request(
            loaded.engine, target, variables, time_field, start, end, INTERVAL
        )
        resp = loaded.client.search(index_pattern, body)
        query = grafana_es.substitute(target["query"], variables)
        docs = [
            d for d in loaded.docs[UID_KIND[uid]]
            if start <= d["_ms"] <= end and _matches(d, query)
        ]  # fmt: skip
        if case == 0:  # with its defaults every panel has something to show
            assert docs, f"{where}: the dataset gives this panel nothing to show"
        if target["metrics"][0]["type"] == "raw_data":
            _check_raw(panel, target, resp, docs, where)
        else:
            _check_buckets(target["bucketAggs"], resp["aggregations"], docs, start, end, where)


def _check_raw(
    panel: dict[str, Any],
    target: dict[str, Any],
    resp: dict[str, Any],
    docs: list[dict[str, Any]],
    where: str,
) -> None:
    size = int(target["metrics"][0]["settings"]["size"])
    hits = resp["hits"]["hits"]
    newest = sorted((d["_ms"] for d in docs), reverse=True)[:size]
    by_id = {d["id"]: d for d in docs}
    assert len(hits) == len(newest), where
    assert all(h["_source"]["id"] in by_id for h in hits), f"{where}: a hit the query excludes"
    assert [by_id[h["_source"]["id"]]["_ms"] for h in hits] == newest, f"{where}: not newest first"
    for h in hits:  # a table row shows the evidence that explains the flag
        src = h["_source"]
        if src.get("detector") == "narrative":
            assert src["evidence"] and all(e["rule"] and e["text"] for e in src["evidence"]), where
    group = [t for t in panel.get("transformations", []) if t["id"] == "groupBy"]
    if group:  # threat level per country: the newest threat signal's level
        rows = [_flatten(h["_source"]) for h in hits]
        got = {
            c: g["details.level (firstNotNull)"]
            for c, g in _group_by(rows, group[0]["options"]).items()
        }
        want: dict[str, str] = {}
        for d in sorted(docs, key=lambda d: d["_ms"]):
            want[d["country"]] = d["details"]["level"]
        assert want, f"{where}: the dataset gives this panel nothing to show"
        assert got == want, where


def _check_buckets(
    aggs: list[dict[str, Any]],
    result: dict[str, Any],
    docs: list[dict[str, Any]],
    start: int,
    end: int,
    where: str,
) -> None:
    agg, rest = aggs[0], aggs[1:]
    node = result[agg["id"]]
    if agg["type"] == "terms":
        want = _top_terms(docs, agg["field"], int(agg["settings"]["size"]))
        got = {str(b["key"]): b for b in node["buckets"]}
        assert {k: got[k]["doc_count"] if k in got else None for k in want} == want, where
        assert len(got) <= int(agg["settings"]["size"]), where
        for key, bucket in got.items():
            if rest:
                inner = [d for d in docs if str(_value(d, agg["field"])) == key]
                _check_buckets(rest, bucket, inner, start, end, f"{where} [{key}]")
    elif agg["type"] == "date_histogram":
        counts = Counter(d["_ms"] // INTERVAL_MS * INTERVAL_MS for d in docs)
        buckets = node["buckets"]
        per_hour = {int(b["key"]): b["doc_count"] for b in buckets if b["doc_count"]}
        assert per_hour == dict(counts), where
        keys = [int(b["key"]) for b in buckets]  # extended bounds: every interval of the range
        assert keys == list(range(start // INTERVAL_MS * INTERVAL_MS, end + 1, INTERVAL_MS)), where
        assert not rest, where
    elif agg["type"] == "filters":
        for f in agg["settings"]["filters"]:
            q = grafana_es.substitute(f["query"], {})
            want_n = sum(1 for d in docs if _matches(d, q))
            assert node["buckets"][f["label"]]["doc_count"] == want_n, f"{where} [{f['label']}]"
        assert sum(b["doc_count"] for b in node["buckets"].values()) <= len(docs), where
        assert not rest, where
    else:
        raise AssertionError(f"{where}: bucket aggregation {agg['type']!r} not checked")
    if not docs:
        return
    if agg["type"] != "filters":
        assert node["buckets"], f"{where}: the engine returned no bucket"


@pytest.mark.parametrize("name", FILES)
def test_template_variable_queries_list_the_values_of_the_dataset(
    name: str, loaded: Loaded
) -> None:
    board = _board(loaded.engine, name)
    variables = _defaults(board)
    start, end = _range(board, loaded)
    queried = [v for v in board["templating"].get("list", []) if v["type"] == "query"]
    assert queried, name
    for var in queried:
        find = json.loads(var["query"])
        index_pattern, time_field = _index_and_time_field(loaded, var["datasource"]["uid"])
        body = grafana_es.variable_request(find, variables, time_field, start, end)
        resp = loaded.client.search(index_pattern, body)
        got = {str(b["key"]) for b in resp["aggregations"]["1"]["buckets"]}
        query = grafana_es.substitute(find.get("query", ""), variables) if find.get("query") else ""
        want = {
            str(_value(d, find["field"]))
            for d in loaded.docs[UID_KIND[var["datasource"]["uid"]]]
            if start <= d["_ms"] <= end and _value(d, find["field"]) is not None
            and (not query or _matches(d, query))
        }  # fmt: skip
        assert want, f"{name}: ${var['name']} lists nothing"
        assert got == want, f"{loaded.engine}/{name}: ${var['name']}"


def test_the_dataset_exercises_every_kind_of_bucket_and_both_alert_streams(loaded: Loaded) -> None:
    kinds: dict[str, set[str]] = defaultdict(set)
    for name in FILES:
        for panel in _board(loaded.engine, name)["panels"]:
            for t in panel.get("targets", []):
                if t.get("datasource", {}).get("uid") in UID_KIND:
                    kinds[UID_KIND[t["datasource"]["uid"]]] |= {a["type"] for a in t["bucketAggs"]}
                    kinds["metrics"].add(t["metrics"][0]["type"])
    assert kinds["signals"] >= {"terms", "date_histogram", "filters"}
    assert {"articles", "alerts"} <= set(kinds)
    assert kinds["metrics"] == {"count", "raw_data"}
    assert {a["replay"] for a in loaded.docs["alerts"]} == {True, False}
