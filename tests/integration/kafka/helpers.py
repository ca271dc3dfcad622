"""Shared by the Kafka integration tests: publish synthetic articles, run a worker, read signals."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detectors.pipeline import DetectorSuite
from hybridwatch.events import Article
from services.kafka.producer import KafkaPublisher
from tests.fixtures.kafka import WorkerProcess, consume_all, kafka_settings, settings_tree

STALL_EXIT = 75
"""Exit status of a worker whose stall watchdog wants a restart (services/worker/app.py)."""


def publish_articles(
    bootstrap: str, prefix: str, data_dir: Path, articles: Sequence[Article]
) -> None:
    settings = kafka_settings(bootstrap, prefix, data_dir)
    pub = KafkaPublisher.create(settings.kafka)
    try:
        asyncio.run(pub.publish(list(articles)))
    finally:
        pub.close()


def embedded_signal_ids(articles: Sequence[Article]) -> set[str]:
    """What the embedded runtime emits for the same input: the suite over one dict state."""
    suite = DetectorSuite.from_config()
    state: dict[str, Any] = {}
    ids: set[str] = set()
    for a in articles:
        ids.update(s.id for s in suite.process(a, state).signals)
    return ids


def signal_ids(bootstrap: str, topic: str, min_count: int, timeout: float = 180) -> list[str]:
    return [json.loads(m.value)["id"] for m in consume_all(bootstrap, topic, min_count, timeout)]


def start_worker(
    bootstrap: str, prefix: str, directory: Path, name: str, **overrides: Any
) -> WorkerProcess:
    tree = settings_tree(bootstrap, prefix, directory / name, **overrides)
    return WorkerProcess.write_config(tree, directory, name).start()


def wait_until(pred: Any, timeout: float, what: str, worker: WorkerProcess | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if worker is not None and not worker.alive():
            if worker.proc is not None and worker.proc.returncode == STALL_EXIT:
                # the worker's stall watchdog asked for a restart (Faust rebalance
                # workaround, docs/kafka.md): do what the production supervisor does
                worker.restarts += 1
                worker.start()
                continue
            raise AssertionError(f"worker died while waiting for {what}:\n{worker.log_tail()}")
        time.sleep(0.5)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what}"
        + (f"\n{worker.log_tail()}" if worker else "")
    )


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> str:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return ""


def metric_value(port: int, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of a metric's samples (optionally only those with the given labels); 0 if absent."""
    total = 0.0
    for line in scrape(port).splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric = head.split("{", 1)[0]
        if metric != name:
            continue
        if labels and not all(f'{k}="{v}"' in head for k, v in labels.items()):
            continue
        total += float(value)
    return total
