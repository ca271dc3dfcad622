"""Topic creation: the pipeline's topics with the configured partitions and replication.

Idempotent: existing topics are kept, but a topic whose partition count differs from
the configuration is an error, not a warning: the worker's changelog-backed tables
are co-partitioned with hw.articles, and Faust refuses (or silently mis-restores)
state when the counts disagree.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from hybridwatch.config import ConfigError, KafkaSettings
from hybridwatch.topics import Topics
from services.kafka.ports import Admin
from services.kafka.security import kafka_python_options

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    configs: dict[str, str]


def topic_specs(settings: KafkaSettings) -> list[TopicSpec]:
    t = Topics(settings.topic_prefix)
    rf = settings.replication
    base = {"min.insync.replicas": str(min(2, rf)) if rf > 1 else "1"}
    return [
        TopicSpec(t.articles, settings.partitions, rf, {**base, "retention.ms": str(30 * DAY_MS)}),
        TopicSpec(t.signals, settings.partitions, rf, {**base, "retention.ms": str(30 * DAY_MS)}),
        TopicSpec(t.alerts, settings.partitions, rf, {**base, "retention.ms": str(90 * DAY_MS)}),
        # dead letters wait for a human: keep them long, one partition keeps them in order
        TopicSpec(t.dead_letter, 1, rf, {**base, "retention.ms": str(365 * DAY_MS)}),
    ]


def require_bootstrap(settings: KafkaSettings, role: str | None = None) -> str:
    """The one "kafka.bootstrap required" check (services/entrypoints/bootstrap.py calls it
    with the role that needs Kafka; the Kafka clients call it as a last guard)."""
    if not settings.bootstrap:
        needed = f"required by {role}" if role else "not set"
        raise ConfigError(
            f"kafka.bootstrap: {needed} (set HW_KAFKA_BOOTSTRAP=host:port, "
            "or run `make services-up`, which writes .hybridwatch/services.env)"
        )
    return settings.bootstrap


def ensure_topics(settings: KafkaSettings, timeout: float = 60.0) -> dict[str, str]:
    """Create missing topics; return {name: "created" | "exists"}. Raises on mismatch."""
    bootstrap = require_bootstrap(settings)
    admin = _admin(bootstrap, settings.client_id, timeout, kafka_python_options(settings))
    try:
        specs = topic_specs(settings)
        existing = set(admin.list_topics())
        result: dict[str, str] = {}
        missing = [s for s in specs if s.name not in existing]
        for spec in missing:
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            spec.name, spec.partitions, spec.replication, topic_configs=spec.configs
                        )
                    ],
                    timeout_ms=int(timeout * 1000),
                )
                result[spec.name] = "created"
            except TopicAlreadyExistsError:  # a concurrent creator won the race
                result[spec.name] = "exists"
        for spec in specs:
            result.setdefault(spec.name, "exists")
        _verify_partitions(admin, specs, timeout)
        return result
    finally:
        admin.close()


def _verify_partitions(admin: Admin, specs: list[TopicSpec], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, dict[str, Any]] = {
            str(d.get("topic") or d.get("name")): d
            for d in admin.describe_topics([s.name for s in specs])
        }
        pending: list[str] = []
        for spec in specs:
            d = described.get(spec.name)
            if d is None or d.get("error_code", 0) != 0:
                pending.append(spec.name)
                continue
            n = len(d["partitions"])
            if n != spec.partitions:
                raise ConfigError(
                    f"topic {spec.name} has {n} partitions but kafka.partitions is {spec.partitions}: "
                    "the worker's tables must be co-partitioned with it; use a new topic_prefix "
                    "or recreate the topic"
                )
        if not pending:
            return
        if time.monotonic() > deadline:
            raise KafkaError(f"topics {pending} were created but not visible after {timeout:.0f}s")
        time.sleep(0.2)


def _admin(
    bootstrap: str, client_id: str, timeout: float, security: dict[str, Any] | None = None
) -> Admin:
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin: Admin = KafkaAdminClient(
                bootstrap_servers=bootstrap.split(","),
                client_id=f"{client_id}-admin",
                request_timeout_ms=int(min(timeout, 30) * 1000),
                **(security or {}),
            )
            return admin
        except KafkaError as err:
            if time.monotonic() > deadline:
                raise KafkaError(f"cannot reach Kafka at {bootstrap}: {err}") from err
            log.warning("Kafka at %s not reachable yet (%s); retrying", bootstrap, err)
            time.sleep(1.0)
