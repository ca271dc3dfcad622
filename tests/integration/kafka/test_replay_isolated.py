"""An isolated replay on a real broker: its own topics, fresh worker state, the original signals.

SYNTHETIC articles are archived, then `hybridwatch replay --to kafka` (isolated, the
default) publishes them into `<prefix>replay.<name>.articles`, never to the live
topics. A worker started with the variables the replay prints (its own topic prefix
and app id: fresh state) emits exactly the signals the detector suite gives over the
archive's order - the signals of the original run. Replaying the same window again
puts the same articles on the namespace's articles topic a second time and leaves the
set of signal ids unchanged; the namespace's indexer (own group, own index prefix)
then holds every article and signal exactly once, and the live indices nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from detectors.pipeline import DetectorSuite
from hybridwatch.config import load_settings
from hybridwatch.topics import Topics
from ingest.archive import Archive
from services.replay import kafka_namespace, namespace_env
from tests.fixtures.kafka import committed, consume_all, create_topics, settings_tree
from tests.fixtures.search import SearchEngine
from tests.fixtures.synthetic_articles import START, synthetic_articles
from tests.integration.kafka.helpers import signal_ids, start_worker, wait_until

ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "services.entrypoints.cli"]
DETECTORS = ["narrative", "amplification", "burst"]
"""The stateful detectors (and the narratives bursts count): what isolation protects."""


def _cli(config: Path, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", *args, "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("HW_")},
    )
    assert proc.returncode == 0, proc.stderr
    assert "HW_KAFKA__TOPIC_PREFIX=" in proc.stderr  # how to process the namespace
    line = proc.stdout.strip().splitlines()[-1]
    return dict(json.loads(line.removeprefix("replay: ")))


def test_kafka_replay_runs_in_its_own_namespace_and_repeats_give_the_same_signals(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path, search_engine: SearchEngine
) -> None:
    # runs on both engines (tests/fixtures/search.py): the namespace's indexer writes there
    search_url, search_kind = search_engine.url, search_engine.kind
    articles = [
        a.model_copy(update={"published": START + timedelta(minutes=10 * i)})
        for i, a in enumerate(synthetic_articles(160, seed=23))
    ]
    archive_dir = tmp_path / "archive"
    archive = Archive(archive_dir)
    archive.append(articles)
    archive.close()
    create_topics(kafka_bootstrap, kafka_prefix)  # the live topics: they must stay empty

    tree = settings_tree(
        kafka_bootstrap,
        kafka_prefix,
        tmp_path / "replayer",
        archive__dir=str(archive_dir),
        detectors__enabled=DETECTORS,
        store__kind=search_kind,
        store__url=search_url,
        store__index_prefix=f"live-{kafka_prefix.rstrip('.')}-",
    )
    config = tmp_path / "replayer.yaml"
    config.write_text(yaml.safe_dump(tree), encoding="utf-8")
    sent = _cli(config, "replay", "--to", "kafka")
    assert sent["namespace"] == "start_end" and sent["published"] == len(articles)
    ns = kafka_namespace(load_settings(config, environ={}), sent["namespace"])
    assert sent["topic_prefix"] == ns.kafka.topic_prefix == f"{kafka_prefix}replay.start_end."
    env = namespace_env(ns)
    assert env["HW_WORKER__APP_ID"] != tree["worker"]["app_id"]  # fresh state, own changelog

    ordered = sorted(articles, key=lambda a: (a.published, a.id))
    suite = DetectorSuite.from_config(DETECTORS)
    state: dict[str, Any] = {}
    expected = {s.id for d in suite.process_all(ordered, state) for s in d.signals}
    assert expected, "the synthetic stream must raise signals"

    topics = Topics(ns.kafka.topic_prefix)
    worker = start_worker(
        kafka_bootstrap,
        ns.kafka.topic_prefix,
        tmp_path,
        "ns-worker",
        worker__app_id=ns.worker.app_id,
        detectors__enabled=DETECTORS,
    )
    try:
        first = signal_ids(kafka_bootstrap, topics.signals, len(expected), timeout=300)
        assert set(first) == expected

        again = _cli(config, "replay", "--to", "kafka")  # the same window, the same articles
        assert again["published"] == len(articles)
        wait_until(
            lambda: (
                committed(kafka_bootstrap, ns.worker.app_id, topics.articles) >= 2 * len(articles)
            ),
            300,
            "the worker to process the repeated articles",
            worker,
        )
        second = signal_ids(kafka_bootstrap, topics.signals, len(first), timeout=60)
        assert set(second) == expected
        assert worker.alive(), worker.log_tail()
    finally:
        worker.stop()
    live = consume_all(kafka_bootstrap, Topics(kafka_prefix).articles, 0, timeout=20)
    assert live == []  # nothing reached the live stream

    # the namespace's indexer (its group, its index prefix): every document once,
    # although every article and its signals were published twice
    indexer = tmp_path / "ns-indexer.yaml"
    indexer.write_text(
        yaml.safe_dump(
            {
                **tree,
                "kafka": {**tree["kafka"], "topic_prefix": ns.kafka.topic_prefix},
                "store": {**tree["store"], "index_prefix": ns.store.index_prefix},
                "indexer": {"group_id": ns.indexer.group_id},
            }
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [*CLI, "indexer", "--once", "--config", str(indexer)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("HW_")},
    )
    assert done.returncode == 0, done.stderr
    assert _docs(search_url, f"{ns.store.index_prefix}articles-*") == len(articles)
    assert _docs(search_url, f"{ns.store.index_prefix}signals-*") == len(expected)
    live_prefix = tree["store"]["index_prefix"]  # the live indices: untouched
    assert _docs(search_url, f"{live_prefix}articles-*,{live_prefix}signals-*") == 0


def _docs(url: str, index: str) -> int:
    import httpx

    httpx.post(f"{url.rstrip('/')}/{index}/_refresh", timeout=60)
    r = httpx.post(f"{url.rstrip('/')}/{index}/_count", json={}, timeout=60)
    if r.status_code == 404:
        return 0
    r.raise_for_status()
    return int(r.json()["count"])


def test_replay_from_kafka_by_time_takes_the_window_from_the_live_topic(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    from services.store.base import SignalQuery
    from services.store.sqlite import SqliteStore
    from tests.integration.kafka.helpers import publish_articles

    # three days of SYNTHETIC articles on the live topic, some published twice
    articles = [
        a.model_copy(update={"published": START + timedelta(minutes=20 * i)})
        for i, a in enumerate(synthetic_articles(216, seed=31))
    ]
    create_topics(kafka_bootstrap, kafka_prefix)
    publish_articles(kafka_bootstrap, kafka_prefix, tmp_path / "pub", articles)
    publish_articles(kafka_bootstrap, kafka_prefix, tmp_path / "pub", articles[150:])
    tree = settings_tree(
        kafka_bootstrap, kafka_prefix, tmp_path / "data", detectors__enabled=DETECTORS
    )
    config = tmp_path / "from-kafka.yaml"
    config.write_text(yaml.safe_dump(tree), encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.entrypoints.cli",
            "replay",
            "--source",
            "kafka",
            "--to",
            "embedded",
            "--since",
            "2018-09-02",
            "--until",
            "2018-09-03",
            "--config",
            str(config),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("HW_")},
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1].removeprefix("replay: "))
    wanted = sorted(
        (a for a in articles if a.published.date().isoformat() >= "2018-09-02"),
        key=lambda a: (a.published, a.id),
    )
    assert summary["source"]["records"] == len(articles) + len(articles) - 150
    assert summary["articles"] == len(wanted)  # repeats dropped, days outside left out
    assert summary["namespace"] == "2018-09-02_2018-09-03"
    suite = DetectorSuite.from_config(DETECTORS)
    state: dict[str, Any] = {}
    expected = {s.id for d in suite.process_all(wanted, state) for s in d.signals}
    store = SqliteStore.open(Path(summary["data_dir"]))
    try:
        got = {s.id for s in store.get_signals(SignalQuery(limit=100_000))}
    finally:
        store.close()
    assert got == expected and expected


def test_isolated_kafka_replay_of_the_archive_equals_the_original_live_run(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    from tests.integration.kafka.helpers import publish_articles

    articles = [
        a.model_copy(update={"published": START + timedelta(minutes=15 * i)})
        for i, a in enumerate(synthetic_articles(150, seed=41))
    ]
    create_topics(kafka_bootstrap, kafka_prefix)
    archive_dir = tmp_path / "archive"
    tree = settings_tree(
        kafka_bootstrap,
        kafka_prefix,
        tmp_path / "live",
        archive__dir=str(archive_dir),
        archive__group_id=f"archiver-{kafka_prefix}",
        detectors__enabled=DETECTORS,
    )
    config = tmp_path / "live.yaml"
    config.write_text(yaml.safe_dump(tree), encoding="utf-8")

    # the original live run: articles on the live topic, a live worker, the archiver
    publish_articles(kafka_bootstrap, kafka_prefix, tmp_path / "pub", articles)
    live_topics = Topics(kafka_prefix)
    worker = start_worker(
        kafka_bootstrap, kafka_prefix, tmp_path, "live-worker", detectors__enabled=DETECTORS
    )
    try:
        wait_until(
            lambda: (
                committed(kafka_bootstrap, tree["worker"]["app_id"], live_topics.articles)
                >= len(articles)
            ),
            300,
            "the live worker to process the articles",
            worker,
        )
    finally:
        worker.stop()
    live_ids = set(signal_ids(kafka_bootstrap, live_topics.signals, 1, timeout=60))
    archived = subprocess.run(
        [*CLI, "archive", "--once", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("HW_")},
    )
    assert archived.returncode == 0, archived.stderr

    # the replay of that archive, isolated, through a worker of its own
    sent = _cli(config, "replay", "--to", "kafka", "--name", "again")
    assert sent["published"] == len(articles)
    ns = kafka_namespace(load_settings(config, environ={}), "again")
    ns_topics = Topics(ns.kafka.topic_prefix)
    worker = start_worker(
        kafka_bootstrap,
        ns.kafka.topic_prefix,
        tmp_path,
        "ns-worker",
        worker__app_id=ns.worker.app_id,
        detectors__enabled=DETECTORS,
    )
    try:
        wait_until(
            lambda: (
                committed(kafka_bootstrap, ns.worker.app_id, ns_topics.articles) >= len(articles)
            ),
            300,
            "the namespace worker to process the replay",
            worker,
        )
    finally:
        worker.stop()
    replayed_ids = set(signal_ids(kafka_bootstrap, ns_topics.signals, 1, timeout=60))
    assert live_ids and replayed_ids == live_ids
