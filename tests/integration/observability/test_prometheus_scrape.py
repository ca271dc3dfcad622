"""A real Prometheus scrapes every hybridwatch process, and the pipeline-health queries of
the dashboard (dashboards/promql.py) return series.

Processes, all real subprocesses: ingest (polling a SYNTHETIC feed served on 127.0.0.1 and
a feed that answers 500), worker, indexer (into the real search engine), alerter, archive,
api (over that engine) and the embedded `run`; Kafka and the engine are the real servers
of `make services-up` (or the session's private ones). Prometheus is Debian's binary,
scraping each every second with deploy/prometheus/rules.yml loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dashboards.promql import PIPELINE
from hybridwatch.topics import Topics
from tests.fixtures.http import FeedServer
from tests.fixtures.kafka import create_topics, produce, settings_tree
from tests.fixtures.synthetic_articles import synthetic_articles
from tests.integration.kafka.helpers import free_port, publish_articles
from tests.integration.observability.prometheus import ROOT, Prometheus, Role, wait_for

FEED = ROOT / "tests" / "fixtures" / "feeds" / "hr-latin.xml"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
KAFKA_ROLES = ("ingest", "worker", "indexer", "alerter", "archive")


def _sources(feed_server: FeedServer) -> list[dict[str, Any]]:
    hr = feed_server.route("/hr.xml", body=FEED.read_bytes(), content_type="application/rss+xml")
    ba = feed_server.route("/ba.xml", status=500)
    return [
        {"id": "hr-synthetic", "outlet": "Synthetic HR", "country": "HR", "language": "hr",
         "feed_url": hr},
        {"id": "ba-broken", "outlet": "Broken BA", "country": "BA", "language": "bs",
         "feed_url": ba},
    ]  # fmt: skip


def _config(tmp: Path, role: str, tree: dict[str, Any]) -> Path:
    path = tmp / f"{role}.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


def test_prometheus_scrapes_every_process_and_the_pipeline_queries_return_series(
    kafka_bootstrap: str,
    kafka_prefix: str,
    search_url: str,
    search_kind: str,
    index_prefix: str,
    feed_server: FeedServer,
    tmp_path: Path,
) -> None:
    create_topics(kafka_bootstrap, kafka_prefix)
    sources = _sources(feed_server)
    common = {
        "sources": sources,
        "ingest__allow_networks": ["127.0.0.0/8"],
        "ingest__politeness_delay": 0.0,
        "store__kind": search_kind,
        "store__url": search_url,
        "store__index_prefix": index_prefix,
    }
    ports = {role: free_port() for role in (*KAFKA_ROLES, "api", "run")}
    roles: list[Role] = []
    for role in KAFKA_ROLES:
        tree = settings_tree(
            kafka_bootstrap, kafka_prefix, tmp_path / role, metrics__port=ports[role], **common
        )
        args = ("--loglevel", "info") if role == "worker" else ()
        roles.append(Role(role, _config(tmp_path, role, tree), tmp_path / f"{role}.log", *args))
    api_tree = settings_tree(kafka_bootstrap, kafka_prefix, tmp_path / "api", **common)
    roles.append(
        Role("api", _config(tmp_path, "api", api_tree), tmp_path / "api.log",
             "--host", "127.0.0.1", "--port", str(ports["api"]))
    )  # fmt: skip
    run_tree = settings_tree(
        kafka_bootstrap, kafka_prefix, tmp_path / "run", metrics__port=ports["run"],
        **{**common, "store__kind": "sqlite"},
    )  # fmt: skip
    roles.append(Role("run", _config(tmp_path, "run", run_tree), tmp_path / "run.log", "--no-api"))
    # SYNTHETIC articles the detectors flag (signals), beside what ingest publishes, and a
    # record no consumer can decode: the worker and the archive dead-letter it
    publish_articles(kafka_bootstrap, kafka_prefix, tmp_path, list(synthetic_articles(40, seed=8)))
    produce(kafka_bootstrap, Topics(kafka_prefix).articles, [(b"HR", b"{broken", [])])

    prom = Prometheus(
        tmp_path / "prometheus",
        free_port(),
        {role: f"127.0.0.1:{port}" for role, port in ports.items()},
        RULES,
    )
    try:
        for r in roles:
            r.start()
        prom.start()
        wait_for(
            lambda: set(prom.targets().values()) == {"up"} and len(prom.targets()) == 7,
            180,
            "every process to be scraped (up)",
            [lambda: str(prom.targets()), prom.tail],
            roles,
        )
        running = {s["metric"]["role"] for s in prom.query("hw_process_info")}
        assert running == {*KAFKA_ROLES, "run"}

        def ready() -> bool:
            written = prom.query('sum(hw_sink_written_total{job="indexer"})')
            dead = prom.query('sum(hw_dead_letters_total{job="worker"})')
            signals = prom.query("sum(hw_signals_total)")
            return all(r and float(r[0]["value"][1]) > 0 for r in (written, dead, signals))

        wait_for(ready, 240, "articles indexed and a dead letter counted", [prom.tail], roles)

        empty: dict[str, str] = {}

        def all_return_series() -> bool:
            empty.clear()
            for q in PIPELINE:
                if not prom.query(q.expr):
                    empty[q.key] = q.expr
            return not empty

        wait_for(all_return_series, 60, "every pipeline query to return series",
                 [lambda: f"empty: {empty}"], roles)  # fmt: skip

        by_country = {
            s["metric"]["country"]: float(s["value"][1])
            for s in prom.query("max by (country) (hw_country_feeds_failing)")
        }
        assert set(by_country) == {"HR", "BA"}
        wait_for(
            lambda: (
                float(prom.query('max(hw_country_feeds_failing{country="BA"})')[0]["value"][1]) == 1
            ),
            60,
            "the broken BA feed to count as failing",
            [prom.tail],
            roles,
        )
        assert float(prom.query('max(hw_country_feeds_failing{country="HR"})')[0]["value"][1]) == 0
        groups = {s["metric"]["group"] for s in prom.query("sum by (group) (hw_consumer_lag)")}
        assert {"hybridwatch-indexer", "hybridwatch-alerter", "hybridwatch-archiver"} <= groups
        reasons = prom.query('hw_dead_letters_total{job="worker"}')
        assert {s["metric"]["reason"] for s in reasons} == {"invalid-article"}
        silent = prom.query("max by (country) (hw_country_sources_silent)")
        assert {"HR", "BA"} <= {s["metric"]["country"] for s in silent}  # + the synthetic ones

        rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
        assert len(rules) == 11
        assert all(r["health"] == "ok" for r in rules), [
            (r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"
        ]
    finally:
        prom.stop()
        for r in roles:
            r.stop()
