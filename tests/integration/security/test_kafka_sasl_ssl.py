"""The pipeline over a secured broker: ingest -> worker -> indexer on SASL_SSL + SCRAM-SHA-512.

The test tooling starts a private KRaft broker with `deploy/local/kafka.sh start --secure`:
a throw-away CA and server certificate made with openssl, a SASL_SSL listener beside the
PLAINTEXT one, and a SCRAM-SHA-512 user whose random password sits in a file. Every
hybridwatch client is given the SASL_SSL bootstrap and the `kafka.*` security settings
(password by file, CA file): topic creation (kafka-python admin), `hybridwatch ingest`
(kafka-python producer), `hybridwatch worker` (Faust/aiokafka consumer, producer and
changelog), `hybridwatch indexer` (kafka-python consumer) into the real OpenSearch. A
wrong password is refused, and the password never appears in any process's output.
The feed is SYNTHETIC (tests/fixtures/feeds/hr-latin.xml) on a real local HTTP server.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hybridwatch.config import Settings, load_settings
from hybridwatch.topics import Topics
from services.entrypoints.ingest import run_ingest
from services.kafka.admin import ensure_topics
from services.kafka.security import kafka_python_options
from tests.fixtures.http import FeedServer
from tests.fixtures.kafka import (
    LocalKafka,
    WorkerProcess,
    clean_env,
    committed,
    consume_all,
    require_java,
)

ROOT = Path(__file__).resolve().parents[3]
FEED = ROOT / "tests" / "fixtures" / "feeds" / "hr-latin.xml"


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    require_java()
    kafka = LocalKafka(tmp_path_factory.mktemp("secure-kafka"), secure=True)
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


def _tree(kafka: LocalKafka, data_dir: Path, feed_url: str, search_url: str, kind: str,
          **kafka_overrides: Any) -> dict[str, Any]:  # fmt: skip
    started = kafka.started
    prefix = f"sec{os.getpid()}."
    return {
        "data_dir": str(data_dir),
        "kafka": {
            "bootstrap": started["HW_KAFKA_SECURE_BOOTSTRAP"],
            "topic_prefix": prefix,
            "partitions": 2,
            "replication": 1,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": started["HW_KAFKA_SASL_USERNAME"],
            "sasl_password_file": started["HW_KAFKA_SASL_PASSWORD_FILE"],
            "ssl_cafile": started["HW_KAFKA_CAFILE"],
            **kafka_overrides,
        },
        "worker": {"app_id": f"hw-sec-{os.getpid()}", "web_port": 0, "batch_within": 0.05},
        "ingest": {"allow_networks": ["127.0.0.0/8"], "politeness_delay": 0.0},
        "sources": [
            {
                "id": "hr-synthetic",
                "outlet": "Synthetic HR",
                "country": "HR",
                "language": "hr",
                "feed_url": feed_url,
            },
        ],
        "store": {"kind": kind, "url": search_url, "index_prefix": f"sec{os.getpid()}-"},
        "indexer": {"group_id": f"hw-sec-indexer-{os.getpid()}"},
    }


def _settings(tree: dict[str, Any], path: Path) -> Settings:
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return load_settings(path, environ={})


def _count(url: str, index: str) -> int:
    httpx.post(f"{url.rstrip('/')}/{index}/_refresh", timeout=60)
    r = httpx.post(f"{url.rstrip('/')}/{index}/_count", json={}, timeout=60)
    return 0 if r.status_code == 404 else int(r.json()["count"])


def test_ingest_worker_and_indexer_run_over_sasl_ssl_with_scram(
    secure_kafka: LocalKafka,
    tmp_path: Path,
    feed_server: FeedServer,
    search_url: str,
    search_kind: str,
) -> None:
    url = feed_server.route("/hr.xml", body=FEED.read_bytes(), content_type="application/rss+xml")
    tree = _tree(secure_kafka, tmp_path / "data", url, search_url, search_kind)
    config = tmp_path / "hybridwatch.yaml"
    settings = _settings(tree, config)
    password = Path(tree["kafka"]["sasl_password_file"]).read_text().strip()
    topics = Topics(settings.kafka.topic_prefix)

    ensure_topics(settings.kafka)  # the admin client over SASL_SSL
    assert asyncio.run(run_ingest(settings, once=True)) == 0
    secured = kafka_python_options(settings.kafka)
    articles = consume_all(settings.kafka.bootstrap, topics.articles, 1, **secured)
    assert articles, "ingest published nothing over SASL_SSL"
    ids = {json.loads(m.value)["id"] for m in articles}

    worker = WorkerProcess.write_config(tree, tmp_path, "worker").start()
    try:
        deadline = time.monotonic() + 240
        group, bootstrap = settings.worker.app_id, settings.kafka.bootstrap
        while committed(bootstrap, group, topics.articles, **secured) < len(articles):
            assert worker.alive(), worker.log_tail()
            assert time.monotonic() < deadline, "worker did not process the articles\n" + (
                worker.log_tail()
            )
            time.sleep(1)
    finally:
        worker.stop()
    signals = {
        json.loads(m.value)["id"]
        for m in consume_all(settings.kafka.bootstrap, topics.signals, **secured)
    }

    done = subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", "indexer", "--once", "--config",
         str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, env=clean_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    prefix = tree["store"]["index_prefix"]
    assert _count(search_url, f"{prefix}articles-*") == len(ids)
    assert _count(search_url, f"{prefix}signals-*") == len(signals)

    logs = worker.log_path.read_text(errors="replace") + done.stdout + done.stderr
    assert password not in logs


def test_a_wrong_scram_password_is_refused(
    secure_kafka: LocalKafka, tmp_path: Path, search_url: str, search_kind: str
) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n", encoding="utf-8")
    tree = _tree(
        secure_kafka, tmp_path / "data", "http://127.0.0.1:9/feed.xml", search_url,
        search_kind, sasl_password_file=str(wrong),
    )  # fmt: skip
    settings = _settings(tree, tmp_path / "hybridwatch.yaml")
    from kafka import KafkaAdminClient

    with pytest.raises(Exception) as caught:  # kafka-python raises its own error types
        KafkaAdminClient(
            bootstrap_servers=settings.kafka.bootstrap.split(","),
            request_timeout_ms=5000,
            **kafka_python_options(settings.kafka),
        )
    assert "not-the-password" not in str(caught.value)
