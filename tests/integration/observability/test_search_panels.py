"""Every search-engine panel of the committed dashboards (dashboards/json/overview.json,
narratives.json), translated as Grafana's data source does (grafana_es.py), runs against
the real search engine of `make services-up` loaded with a known dataset (SYNTHETIC
articles and the signals the detector suite emits for them), and returns the buckets
computed independently from that dataset."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from detectors.pipeline import DetectorSuite
from hybridwatch.events import Article, Signal
from services.store import templates
from tests.fixtures.synthetic_articles import synthetic_articles
from tests.integration.observability import grafana_es

ROOT = Path(__file__).resolve().parents[3]
UID_KIND = {"hw-signals": "signals", "hw-articles": "articles"}
ALL = {"country": "$__all", "severity": "$__all", "narrative": "$__all"}


def _targets() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name in ("overview.json", "narratives.json"):
        board = json.loads((ROOT / "dashboards" / "json" / name).read_text(encoding="utf-8"))
        for panel in board["panels"]:
            for t in panel["targets"]:
                if t["datasource"]["uid"] in UID_KIND:
                    out.append((f"{name}:{panel['title']}", t))
    return out


@pytest.fixture(scope="module")
def dataset() -> tuple[list[Article], list[Signal]]:
    articles = list(synthetic_articles(120, seed=14))
    suite = DetectorSuite.from_config()
    state: dict[str, Any] = {}
    signals = [s for a in articles for s in suite.process(a, state).signals]
    assert {s.detector for s in signals} >= {"narrative"}, "the dataset must produce signals"
    return articles, signals


def _doc(kind: str, event: Article | Signal) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(event.model_dump_json())
    return data


def _value(doc: dict[str, Any], field: str) -> Any:
    for part in field.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None  # type: ignore[assignment]
    return doc


def _matches(doc: dict[str, Any], query: str) -> bool:
    """The dashboards' query strings: `field:value`, `field:*`, `field:(a OR b)`, AND."""
    for clause in query.split(" AND "):
        field, _, want = clause.partition(":")
        got = _value(doc, field)
        if want == "*":
            if got is None:
                return False
        elif want.startswith("("):
            if str(got) not in {v.strip() for v in want.strip("()").split(" OR ")}:
                return False
        elif str(got).lower() != want.lower():
            return False
    return True


def _expected_terms(docs: list[dict[str, Any]], query: str, agg: dict[str, Any]) -> dict[str, int]:
    counts = Counter(
        str(_value(d, agg["field"])) for d in docs
        if _matches(d, query) and _value(d, agg["field"]) is not None
    )  # fmt: skip
    size = int(agg["settings"]["size"])
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) > size:  # ties at the cut-off may be broken either way by the engine
        cut = ranked[size - 1][1]
        return {k: v for k, v in ranked if v > cut}
    return dict(ranked)


@pytest.mark.parametrize(
    ("panel", "target"), _targets(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_search_panel_query_returns_the_expected_buckets(
    panel: str,
    target: dict[str, Any],
    engine_store: Any,
    index_prefix: str,
    dataset: tuple[list[Article], list[Signal]],
) -> None:
    articles, signals = dataset
    engine_store.put_articles(articles)
    engine_store.put_signals(signals)
    engine_store.refresh()
    kind = UID_KIND[target["datasource"]["uid"]]
    docs = [_doc(kind, e) for e in (signals if kind == "signals" else articles)]
    times = [e.event_time if kind == "signals" else e.published for e in  # type: ignore[union-attr]
             (signals if kind == "signals" else articles)]  # fmt: skip
    start = min(times) - timedelta(days=1)
    end = max(times) + timedelta(days=1)
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    body = grafana_es.request(target, ALL, start_ms, end_ms, "1d")
    resp = engine_store.client.search(templates.index_pattern(index_prefix, kind), body)
    query = grafana_es.substitute(target["query"], ALL)
    in_range = [d for d in docs if _matches(d, query)]

    if target["metrics"][0]["type"] == "raw_data":
        hits = resp["hits"]["hits"]
        assert len(hits) == min(500, len(in_range)), panel
        assert {h["_source"]["id"] for h in hits} <= {d["id"] for d in in_range}, panel
        return
    first = target["bucketAggs"][0]
    buckets = resp["aggregations"][first["id"]]["buckets"]
    got = {str(b["key"]): int(b["doc_count"]) for b in buckets}
    want = _expected_terms(docs, query, first)
    assert want, f"{panel}: the dataset gives this panel nothing to show"
    assert {k: got.get(k) for k in want} == want, panel
    if len(target["bucketAggs"]) > 1:  # the nested date histogram adds up to each term
        inner = target["bucketAggs"][1]["id"]
        for b in buckets:
            assert sum(h["doc_count"] for h in b[inner]["buckets"]) == b["doc_count"], panel
